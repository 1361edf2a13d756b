//! TLS for the PostgreSQL backend, with rustls (pure Rust, `ring` provider: nothing to install
//! beside the binary).
//!
//! The URL's libpq parameters decide it:
//!
//! | `sslmode` | TLS | the server's certificate is checked against |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it, else plain TCP | nothing; with `sslrootcert`, that CA and the host name |
//! | `require`, `verify-full` | always (refused otherwise) | `sslrootcert`'s CA, else the system's trusted CAs; and the host name |
//! | `verify-ca` | always | `sslrootcert`'s CA, else the system's; not the host name |
//!
//! `require` is deliberately stricter than in libpq, where it encrypts without checking who
//! answers: a shared library is written over networks we do not control, and an unchecked
//! certificate stops eavesdropping but not a man in the middle, who would see the password
//! and every hash. A server with a private CA is reached with `sslrootcert=/path/to/ca.pem`;
//! `verify-ca` is for a certificate that does not name the host the URL uses (connecting by
//! IP address, say). `prefer` without a CA stays unchecked, as in libpq, so existing URLs keep
//! working against servers with self-signed certificates (Debian's default) — and get
//! encrypted where they were plain before.
//!
//! The postgres crate parses neither `sslrootcert` nor the `verify-*` modes, so
//! [`split_url`] takes them out of the URL before `Config::from_str` sees it; what messages
//! show is still the whole URL (password elided).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres::config::SslMode;
use postgres::Config;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::dedup::DedupError;

/// Where trusted CAs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Roots {
    /// `sslrootcert=FILE`: PEM, one or more certificates.
    File(PathBuf),
    /// The operating system's store (`/etc/ssl/certs`, or `SSL_CERT_FILE` / `SSL_CERT_DIR`),
    /// so a company CA installed there is trusted as it is by every other client.
    System,
}

/// How the server's certificate is checked once TLS is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Check {
    /// Not at all (`prefer` without a CA).
    Nothing,
    /// Its chain ends at a trusted CA (`verify-ca`).
    Chain(Roots),
    /// That, and it names the host of the URL.
    ChainAndHost(Roots),
}

/// What a URL asks for, resolved against the postgres crate's `sslmode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tls {
    /// As the connection sees it (`verify-*` are `Require` here).
    pub(super) mode: SslMode,
    pub(super) check: Check,
    /// The `sslmode` as written, for messages.
    shown_mode: String,
}

/// The TLS parameters the postgres crate cannot parse, taken out of a URL.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct TlsParams {
    /// The last `sslmode=` of the URL (libpq: the last one wins), decoded.
    sslmode: Option<String>,
    sslrootcert: Option<PathBuf>,
}

/// `url` without `sslrootcert` and without a `verify-ca` / `verify-full` `sslmode` (both
/// unknown to `Config::from_str`), and what they said. Any other `sslmode` is left for
/// `Config` to parse, so a wrong value is its usual `BadUrl`.
pub(super) fn split_url(url: &str) -> (String, TlsParams) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), TlsParams::default());
    };
    let mut params = TlsParams::default();
    let mut kept: Vec<&str> = Vec::new();
    for kv in query.split('&') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "sslrootcert" => params.sslrootcert = Some(PathBuf::from(percent_decode(v))),
            "sslmode" => params.sslmode = Some(percent_decode(v)),
            _ => kept.push(kv),
        }
    }
    let mut out = base.to_string();
    let keep_mode = params
        .sslmode
        .as_deref()
        .filter(|m| !matches!(*m, "verify-ca" | "verify-full"))
        .map(|m| format!("sslmode={m}"));
    kept.extend(keep_mode.as_deref());
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    (out, params)
}

/// `%XX` escapes decoded, as libpq and the postgres crate decode URL parameters (a path with
/// spaces, say). A malformed escape stays as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TlsParams {
    /// The TLS to use, given the `Config` parsed from [`split_url`]'s URL; sets `Require` on
    /// it for the `verify-*` modes.
    pub(super) fn resolve(&self, config: &mut Config) -> Tls {
        let verify = self.sslmode.as_deref().and_then(|m| match m {
            "verify-ca" => Some(false),
            "verify-full" => Some(true),
            _ => None,
        });
        if verify.is_some() {
            config.ssl_mode(SslMode::Require);
        }
        let mode = config.get_ssl_mode();
        let roots = match &self.sslrootcert {
            Some(f) => Roots::File(f.clone()),
            None => Roots::System,
        };
        let check = match (mode, verify) {
            (SslMode::Disable, _) => Check::Nothing,
            (_, Some(false)) => Check::Chain(roots),
            (SslMode::Prefer, None) if self.sslrootcert.is_none() => Check::Nothing,
            _ => Check::ChainAndHost(roots),
        };
        let shown_mode = self.sslmode.clone().unwrap_or_else(|| "prefer".to_string());
        Tls {
            mode,
            check,
            shown_mode,
        }
    }
}

impl Tls {
    /// The connector for `config.connect`, `None` for `sslmode=disable`. Reads the CA file or
    /// the system's store now, so a bad one is named before any connection is tried.
    pub(super) fn connector(&self, shown: &Path) -> Result<Option<MakeRustlsConnect>, DedupError> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match &self.check {
            Check::Nothing => Arc::new(Unchecked(provider.clone())),
            Check::Chain(roots) => Arc::new(ChainOnly(webpki(roots, &provider, shown)?)),
            Check::ChainAndHost(roots) => webpki(roots, &provider, shown)?,
        };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| DedupError::TlsRoots {
                path: shown.to_path_buf(),
                roots: "rustls".into(),
                detail: format!("cannot set up TLS: {e}"),
                source: Some(Box::new(e)),
            })?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Some(MakeRustlsConnect::new(config)))
    }

    /// What was asked of the server, appended to a TLS failure `e` so the fix is at hand.
    pub(super) fn explain(&self, e: &postgres::Error) -> String {
        let mode = &self.shown_mode;
        let cause = std::error::Error::source(e).map(|c| c.to_string());
        if cause.as_deref() == Some(NO_TLS) {
            return format!(
                "sslmode={mode} refuses a server that does not offer TLS: turn on ssl in its \
                 postgresql.conf"
            );
        }
        match &self.check {
            Check::Nothing => format!("sslmode={mode}, the certificate is not checked"),
            Check::Chain(r) => format!(
                "sslmode={mode}: the server's certificate must be signed by {}",
                roots_name(r)
            ),
            Check::ChainAndHost(r) => format!(
                "sslmode={mode}: the server's certificate must be signed by {} and name the URL's host{}",
                roots_name(r),
                if *r == Roots::System {
                    "; for a server with its own CA add sslrootcert=/path/to/ca.pem"
                } else {
                    ""
                }
            ),
        }
    }
}

fn roots_name(r: &Roots) -> String {
    match r {
        Roots::File(f) => format!("the CA in sslrootcert {}", f.display()),
        Roots::System => "a CA the system trusts".into(),
    }
}

/// A postgres error is a TLS failure when its kind says so; the kind is not public, its
/// display is (tokio-postgres `Kind::Tls`).
pub(super) fn is_tls_error(e: &postgres::Error) -> bool {
    e.to_string() == "error performing TLS handshake"
}

/// tokio-postgres' cause when `sslmode=require` meets a server that answers the TLS request
/// with "no".
const NO_TLS: &str = "server does not support TLS";

fn webpki(
    roots: &Roots,
    provider: &Arc<CryptoProvider>,
    shown: &Path,
) -> Result<Arc<WebPkiServerVerifier>, DedupError> {
    let store = load_roots(roots, shown)?;
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|e| DedupError::TlsRoots {
            path: shown.to_path_buf(),
            roots: roots_label(roots),
            detail: e.to_string(),
            source: Some(Box::new(e)),
        })
}

fn roots_label(r: &Roots) -> String {
    match r {
        Roots::File(f) => format!("sslrootcert {}", f.display()),
        Roots::System => "the system's trusted CAs".into(),
    }
}

fn load_roots(roots: &Roots, shown: &Path) -> Result<RootCertStore, DedupError> {
    let fail = |detail: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
        DedupError::TlsRoots {
            path: shown.to_path_buf(),
            roots: roots_label(roots),
            detail,
            source,
        }
    };
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(f) => {
            let pem = std::fs::read(f)
                .map_err(|e| fail(format!("cannot read it: {e}"), Some(Box::new(e))))?;
            for (n, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
                let cert = cert.map_err(|e| {
                    fail(
                        format!("certificate {} is not valid PEM: {e}", n + 1),
                        Some(Box::new(e)),
                    )
                })?;
                store.add(cert).map_err(|e| {
                    fail(
                        format!("certificate {} is not usable: {e}", n + 1),
                        Some(Box::new(e)),
                    )
                })?;
            }
            if store.is_empty() {
                return Err(fail(
                    "it holds no PEM certificate (expected the CA that signed the server's certificate, \
                     as -----BEGIN CERTIFICATE----- …)"
                        .into(),
                    None,
                ));
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            // Unparsable entries are skipped, as other clients skip them; only an empty
            // store is an error.
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(fail(
                    format!(
                        "none found{why}; install ca-certificates, or give the server's CA as \
                         sslrootcert=/path/to/ca.pem"
                    ),
                    None,
                ));
            }
        }
    }
    Ok(store)
}

/// `prefer` without a CA: the handshake's own signatures are still verified (so the session
/// is bound to the certificate presented), but not who presented it.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: webpki's whole check except the name. Its name check comes after the chain
/// check, so a name error means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn resolve(url: &str) -> (String, Tls) {
        let (bare, params) = split_url(url);
        let mut config = Config::from_str(&bare).expect("parses");
        let tls = params.resolve(&mut config);
        (bare, tls)
    }

    #[test]
    fn the_modes_and_what_they_check() {
        let file = |f: &str| Roots::File(PathBuf::from(f));
        let cases = [
            ("postgres://u@h/db", SslMode::Prefer, Check::Nothing),
            (
                "postgres://u@h/db?sslmode=disable&sslrootcert=/ca.pem",
                SslMode::Disable,
                Check::Nothing,
            ),
            (
                "postgres://u@h/db?sslrootcert=/ca.pem",
                SslMode::Prefer,
                Check::ChainAndHost(file("/ca.pem")),
            ),
            (
                "postgres://u@h/db?sslmode=require",
                SslMode::Require,
                Check::ChainAndHost(Roots::System),
            ),
            (
                "postgres://u@h/db?sslmode=require&sslrootcert=/a%20b/ca.pem",
                SslMode::Require,
                Check::ChainAndHost(file("/a b/ca.pem")),
            ),
            (
                "postgres://u@h/db?sslmode=verify-full",
                SslMode::Require,
                Check::ChainAndHost(Roots::System),
            ),
            (
                "postgres://u@h/db?sslrootcert=/ca.pem&sslmode=verify-ca",
                SslMode::Require,
                Check::Chain(file("/ca.pem")),
            ),
            // libpq: the last one wins.
            (
                "postgres://u@h/db?sslmode=verify-ca&sslmode=disable",
                SslMode::Disable,
                Check::Nothing,
            ),
        ];
        for (url, mode, check) in cases {
            let (_, tls) = resolve(url);
            assert_eq!((tls.mode, &tls.check), (mode, &check), "{url}");
        }
    }

    #[test]
    fn the_crate_sees_the_url_without_what_it_cannot_parse() {
        assert_eq!(
            split_url(
                "postgres://u:p@h:5/db?sslrootcert=/ca.pem&application_name=x&sslmode=verify-full"
            )
            .0,
            "postgres://u:p@h:5/db?application_name=x"
        );
        assert_eq!(
            split_url("postgres://u@h/db?sslrootcert=/ca.pem&sslmode=require").0,
            "postgres://u@h/db?sslmode=require"
        );
        assert_eq!(split_url("postgres://u@h/db").0, "postgres://u@h/db");
        assert_eq!(
            split_url("postgres://u@h/db?sslrootcert=x").0,
            "postgres://u@h/db"
        );
        // A mode nobody knows is left for Config to refuse.
        let (bare, _) = split_url("postgres://u@h/db?sslmode=allow");
        assert!(Config::from_str(&bare).is_err());
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("%2Fetc%2Fca.pem"), "/etc/ca.pem");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let shown = Path::new("postgres://u@h/db");
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = load_roots(&Roots::File(missing.clone()), shown).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "library postgres://u@h/db: cannot use sslrootcert {} to check the server's certificate: \
                 cannot read it: No such file or directory (os error 2)",
                missing.display()
            )
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = load_roots(&Roots::File(empty.clone()), shown).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("sslrootcert {} to check", empty.display())),
            "{e}"
        );
        assert!(e.to_string().contains("it holds no PEM certificate"), "{e}");
    }
}
