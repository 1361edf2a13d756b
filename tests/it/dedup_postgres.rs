//! The library on PostgreSQL (issue #17): the same operations give the same answers as on
//! SQLite, many writer processes lose nothing, a render holds back a duplicate of what a
//! shared library holds, and a bad URL is a clear error that never shows the password.
//!
//! Every test here needs the test server (`scripts/pg-test-server.sh`, started by
//! `make test`), so each is `#[ignore]`d for a bare `cargo test` and fails — not passes —
//! when run without `FACTORY_TEST_PG_URL`.

use std::path::{Path, PathBuf};

use creative_factory::dedup::fingerprint::{Fingerprint, Masks};
use creative_factory::dedup::{
    score, AssetRef, Candidate, Composition, DedupError, GateConfig, Library, MediaKind,
};

use crate::support::dedup::*;
use crate::support::pg::{other_ca, server_ca, server_url, with_database, TestDb};
use crate::support::project::{manifest, stderr, Project};

fn fp(path: &Path) -> Fingerprint {
    Fingerprint::compute(path, &Masks::default()).unwrap()
}

fn composition(bg_sha: &str, product_sha: Option<&str>) -> Composition {
    Composition {
        template: "t".into(),
        preset: "p".into(),
        region: Some("US".into()),
        kind: MediaKind::Image,
        duration: 0.0,
        background: AssetRef {
            id: "bg".into(),
            sha256: bg_sha.into(),
        },
        product: product_sha.map(|s| AssetRef {
            id: "product".into(),
            sha256: s.into(),
        }),
        copy: "Buy now".into(),
        audio: None,
        effects: String::new(),
        structure: "bg+product+caption/1-shot".into(),
        product_box: Some([0.1, 0.2, 0.3, 0.4]),
        text_boxes: vec![[0.0, 0.8, 1.0, 0.2]],
        modules: Default::default(),
    }
}

/// Everything a library answers about one scripted history, in a form to compare across
/// backends (ids included: both number entries from 1 in insertion order).
fn exercise(lib: &Library, files: &[PathBuf], copies: &[PathBuf]) -> Vec<String> {
    let mut seen = Vec::new();
    let cfg = GateConfig::default();
    let fps: Vec<Fingerprint> = files.iter().map(|p| fp(p)).collect();
    let a = lib
        .add(
            &fps[0],
            Some("v-a"),
            Some(&composition("bg1", Some("pr1"))),
            Some(1_700_000_000),
        )
        .unwrap();
    let b = lib
        .add(&fps[1], None, Some(&composition("bg2", None)), None)
        .unwrap();
    let c = lib
        .add(&fps[2], Some("v-c"), None, Some(cfg.now - 400 * 86_400))
        .unwrap();
    // Re-adding the same bytes keeps one entry, updates the path and keeps the variant id.
    let again = lib.add(&fps[0], None, None, None).unwrap();
    seen.push(format!("ids {a} {b} {c} again={again}"));
    for e in lib.list().unwrap() {
        seen.push(format!(
            "entry #{} {} {} {}x{} {:?} created={} retired={} frames={} comp={:?}",
            e.id,
            e.path.file_name().unwrap().to_string_lossy(),
            e.kind.as_str(),
            e.width,
            e.height,
            e.variant_id,
            e.created_at == 1_700_000_000,
            e.retired,
            e.frames,
            e.composition
                .as_ref()
                .map(|c| (&c.background.sha256, c.product_box)),
        ));
    }
    // Bit-exact hashes and features.
    for (id, f) in [(a, &fps[0]), (b, &fps[1])] {
        let frames = lib.frames(id).unwrap();
        assert_eq!(frames.len(), f.frames.len());
        for (s, o) in frames.iter().zip(&f.frames) {
            assert_eq!(s.hash, o.hash());
            assert_eq!(s.quality, o.quality);
            assert_eq!(s.t, o.t);
            assert_eq!(s.crops, o.crops);
            assert_eq!(s.scene, o.scene);
            assert_eq!(s.textless, o.textless);
        }
        assert_eq!(lib.features(id).unwrap().unwrap(), f.features);
    }
    // Found by id, sha256 (any case) and path.
    let by = |k: &str| lib.find(k).map(|e| e.id).map_err(|e| e.to_string());
    seen.push(format!(
        "find {:?} {:?} {:?}",
        by(&b.to_string()),
        by(&fps[1].sha256.to_uppercase()),
        by(files[2].to_str().unwrap()).is_ok()
    ));
    let missing = lib.find("nothing-like-this").unwrap_err();
    assert!(
        matches!(missing, DedupError::NotInLibrary { .. }),
        "{missing}"
    );
    // Exact retrieval by asset, and the recency window.
    let q = composition("bg1", Some("pr-other"));
    seen.push(format!(
        "sharing bg1 {:?}",
        lib.sharing_assets(&q, 0).unwrap()
    ));
    let q = composition("bg-other", Some("pr1"));
    seen.push(format!(
        "sharing pr1 {:?}",
        lib.sharing_assets(&q, 0).unwrap()
    ));
    let q = composition("bg2", None);
    seen.push(format!(
        "sharing bg2 recent {:?}",
        lib.sharing_assets(&q, cfg.now - 86_400).unwrap()
    ));
    seen.push(format!(
        "index all={} recent={}",
        lib.index(0).unwrap().len(),
        lib.index(cfg.now - 180 * 86_400).unwrap().len()
    ));
    // The gate against the library: copies of a (1.7e9 is older than 180 days: exempt), b
    // (recent: duplicate) and c (400 days: exempt).
    let cands: Vec<Candidate> = copies.iter().map(Candidate::file).collect();
    let v = score(&cands, Some(lib), &cfg).unwrap();
    seen.push(format!(
        "verdicts {:?}",
        v.iter().map(|v| v.verdict).collect::<Vec<_>>()
    ));
    let retired = lib.retire(&b.to_string()).unwrap();
    assert!(retired.retired);
    let v = score(&cands[1..2], Some(lib), &cfg).unwrap();
    seen.push(format!("after retire {:?}", v[0].verdict));
    seen.push(format!(
        "index after retire {}",
        lib.index(0).unwrap().len()
    ));
    let gone = lib.forget(files[2].to_str().unwrap()).unwrap();
    seen.push(format!("forgot #{}", gone.id));
    seen.push(format!(
        "left {:?}",
        lib.list().unwrap().iter().map(|e| e.id).collect::<Vec<_>>()
    ));
    seen
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn the_same_history_gives_the_same_answers_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = (0..3)
        .map(|i| write_scene(dir.path(), &format!("s{i}.png"), 40 + i, 320, 240))
        .collect();
    let copies: Vec<PathBuf> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let c = dir.path().join(format!("copy{i}.jpg"));
            ffmpeg(&["-i", f.to_str().unwrap(), "-q:v", "6", c.to_str().unwrap()]);
            c
        })
        .collect();
    let sqlite = exercise(
        &Library::open(&dir.path().join("lib.sqlite")).unwrap(),
        &files,
        &copies,
    );
    let db = TestDb::new("same");
    let pg = Library::open(Path::new(&db.url)).unwrap();
    assert!(pg.is_postgres());
    let postgres = exercise(&pg, &files, &copies);
    assert_eq!(sqlite, postgres);
    // And what it says is what the SQLite tests expect.
    assert!(
        sqlite.contains(&"verdicts [Distinct, Duplicate, Distinct]".to_string()),
        "{sqlite:#?}"
    );
    assert!(sqlite.contains(&"after retire Distinct".to_string()));
    // Reopening finds the same library (the schema is not made twice).
    drop(pg);
    let pg = Library::open(Path::new(&db.url)).unwrap();
    assert_eq!(pg.list().unwrap().len(), 2);
    let versions: i64 = db
        .client()
        .query_one("SELECT count(*) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(versions, 1);
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn a_library_written_by_a_newer_build_is_refused() {
    let db = TestDb::new("newer");
    drop(Library::open(Path::new(&db.url)).unwrap());
    db.client()
        .batch_execute("INSERT INTO schema_version (version) VALUES (99)")
        .unwrap();
    let e = Library::open(Path::new(&db.url)).err().expect("refused");
    assert!(
        matches!(e, DedupError::SchemaTooNew { found: 99, .. }),
        "{e}"
    );
}

/// Eight `factory library add` processes, started together on a database nobody has
/// opened yet (so they also race the migration), each adding its own files plus one file
/// every process adds: every file is there once, with all its hashes.
#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn concurrent_writer_processes_lose_nothing() {
    const PROCS: usize = 8;
    const EACH: usize = 6;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new("writers");
    let shared = write_scene(dir.path(), "shared.png", 999, 160, 120);
    let mut all = vec![shared.clone()];
    let children: Vec<_> = (0..PROCS)
        .map(|p| {
            let files: Vec<PathBuf> = (0..EACH)
                .map(|i| {
                    write_scene(
                        dir.path(),
                        &format!("p{p}-{i}.png"),
                        (1000 + p * 100 + i) as u64,
                        160,
                        120,
                    )
                })
                .collect();
            all.extend(files.iter().cloned());
            factory()
                .args(["library", "add", "--library", &db.url])
                .args(&files)
                .arg(&shared)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let lib = Library::open(Path::new(&db.url)).unwrap();
    let entries = lib.list().unwrap();
    assert_eq!(entries.len(), 1 + PROCS * EACH);
    let mut want: Vec<String> = all.iter().map(|p| fp(p).sha256).collect();
    want.sort();
    let mut got: Vec<String> = entries.iter().map(|e| e.sha256.clone()).collect();
    got.sort();
    assert_eq!(got, want);
    // Each still: its frame hash and two crop hashes; nothing half-written.
    assert_eq!(lib.index(0).unwrap().len(), entries.len() * 3);
    for e in &entries {
        assert_eq!(e.frames, 1, "{e:?}");
        assert!(lib.features(e.id).unwrap().is_some());
    }
}

/// Threads of one process, each with its own connection, adding the same files in
/// different orders: one entry per file.
#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn writers_adding_the_same_files_at_once_make_one_entry_each() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new("same_files");
    let fps: Vec<Fingerprint> = (0..12)
        .map(|i| {
            fp(&write_scene(
                dir.path(),
                &format!("s{i}.png"),
                300 + i,
                160,
                120,
            ))
        })
        .collect();
    drop(Library::open(Path::new(&db.url)).unwrap());
    std::thread::scope(|s| {
        for t in 0..4 {
            let (fps, url) = (&fps, &db.url);
            s.spawn(move || {
                let lib = Library::open(Path::new(url)).unwrap();
                for k in 0..fps.len() {
                    lib.add(&fps[(k + t * 3) % fps.len()], None, None, None)
                        .unwrap();
                }
            });
        }
    });
    let lib = Library::open(Path::new(&db.url)).unwrap();
    assert_eq!(lib.list().unwrap().len(), 12);
    assert_eq!(lib.index(0).unwrap().len(), 12 * 3);
}

const RENDER_TEMPLATE: &str = r##"
[template]
name = "shared"
kind = "image"

[output]
presets = ["tiny-image"]
regions = ["US"]

[[background]]
id = "photo"
image = "assets/photo.png"

[dedup]
policy = "reject"
library = "LIBRARY"
"##;

/// Renders the one-variant template twice into two new output directories (`TAG-1`,
/// `TAG-2`) with the library at `library`; returns both runs' statuses and the second run's
/// stderr.
fn render_twice(p: &Project, library: &str, tag: &str) -> (String, String, String) {
    p.write("t.toml", &RENDER_TEMPLATE.replace("LIBRARY", library));
    let status = |out: &str| {
        let o = p.factory(&["render", "t.toml", "--out", out, "--progress", "plain"]);
        let m = manifest(&p.path(out));
        let s = m["outputs"][0]["status"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        (s, stderr(&o))
    };
    let (first, _) = status(&format!("{tag}-1"));
    let (second, err) = status(&format!("{tag}-2"));
    (first, second, err)
}

/// As on SQLite (`dedup_cli`): keypoints the render did not need are measured from the file
/// when a query first needs them, and kept in the shared library.
#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn keypoints_a_render_deferred_are_measured_on_first_need_and_kept_in_postgres() {
    let p = Project::new();
    let db = TestDb::new("deferred");
    crate::dedup_cli::render_then_catch_a_cropped_turned_copy(&p, &db.url, &|| {
        db.client()
            .query_one("SELECT COUNT(*) FROM features", &[])
            .unwrap()
            .get(0)
    });
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn a_render_holds_back_a_duplicate_of_the_shared_library_as_with_sqlite() {
    let p = Project::new();
    let sqlite = render_twice(&p, "lib.sqlite", "sqlite");
    let db = TestDb::new("render");
    let pg = render_twice(&p, &db.url, "postgres");
    assert_eq!(
        (sqlite.0.as_str(), sqlite.1.as_str()),
        ("exported", "rejected"),
        "{}",
        sqlite.2
    );
    assert_eq!(
        (pg.0.as_str(), pg.1.as_str()),
        ("exported", "rejected"),
        "{}",
        pg.2
    );
    // The progress line names the library without its password.
    assert!(!pg.2.contains("factory-test-pw"), "{}", pg.2);
    let lib = Library::open(Path::new(&db.url)).unwrap();
    assert_eq!(lib.list().unwrap().len(), 1);
    assert!(lib.list().unwrap()[0].composition.is_some());
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn a_bad_url_is_a_clear_error_that_never_shows_the_password() {
    let url = server_url();
    let secret = "Sup3r-Secret-pw";
    // Wrong password for the right user.
    let wrong_pw = {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (userinfo, host) = rest.rsplit_once('@').unwrap();
        let user = userinfo.split(':').next().unwrap();
        format!("{scheme}://{user}:{secret}@{host}")
    };
    // A port nobody listens on.
    let refused = format!("postgres://factory:{secret}@127.0.0.1:1/factory_test");
    for (bad, says) in [
        (&wrong_pw, "password authentication failed"),
        (&refused, "Connection refused"),
    ] {
        let e = Library::open(Path::new(bad)).err().expect("refused");
        let text = e.to_string();
        assert!(matches!(e, DedupError::Unreachable { .. }), "{text}");
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("factory:***@"), "{text}");
        assert!(text.contains(says), "{text}");
        // From the binary: exit 2, the redacted URL, no password anywhere.
        let o = factory()
            .args(["library", "list", "--library", bad])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains(secret), "{err}");
        assert!(
            err.contains("cannot connect to library postgres://factory:***@"),
            "{err}"
        );
    }
    // The right password but no such database.
    let e = Library::open(Path::new(&with_database(&url, "no_such_database")))
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(
        text.contains("database \"no_such_database\" does not exist"),
        "{text}"
    );
    assert!(!text.contains(&password(&url)), "{text}");
    // Not a URL PostgreSQL understands.
    let e = Library::open(Path::new("postgres://factory:pw@host:notaport/db"))
        .err()
        .expect("refused");
    assert!(matches!(e, DedupError::BadUrl { .. }), "{e}");
    assert!(!e.to_string().contains(":pw@"), "{e}");
}

/// The password of a URL of the form scheme://user:password@host…
fn password(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let userinfo = rest.rsplit_once('@').unwrap().0;
    userinfo.split_once(':').unwrap().1.to_string()
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn the_password_may_come_from_pgpassword() {
    let url = server_url();
    let pw = password(&url);
    let db = TestDb::new("pgpassword");
    let bare = db.url.replace(&format!(":{pw}@"), "@");
    assert!(!bare.contains(&pw));
    let dir = tempfile::tempdir().unwrap();
    let a = write_scene(dir.path(), "a.png", 7, 160, 120);
    let o = factory()
        .env("PGPASSWORD", &pw)
        .args(["library", "add", "--library", &bare])
        .arg(&a)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        Library::open(Path::new(&db.url))
            .unwrap()
            .list()
            .unwrap()
            .len(),
        1
    );
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn a_postgres_url_in_the_template_is_not_taken_for_a_path() {
    let p = Project::new();
    let db = TestDb::new("validate");
    p.write("t.toml", &RENDER_TEMPLATE.replace("LIBRARY", &db.url));
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// A table lock held by another session (a migration, an operator's maintenance) stops a
/// run's preflight after its short wait, like a held SQLite write lock.
#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn the_preflight_gives_up_on_a_held_lock_after_its_wait() {
    let db = TestDb::new("locked");
    drop(Library::open(Path::new(&db.url)).unwrap());
    let mut holder = db.client();
    let mut tx = holder.transaction().unwrap();
    tx.batch_execute("LOCK TABLE files IN EXCLUSIVE MODE")
        .unwrap();
    let t0 = std::time::Instant::now();
    let e = Library::preflight(Path::new(&db.url), std::time::Duration::from_secs(1))
        .err()
        .expect("refused");
    assert!(
        matches!(e, DedupError::Locked { waited_secs: 1, .. }),
        "{e}"
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    tx.rollback().unwrap();
    Library::preflight(Path::new(&db.url), std::time::Duration::from_secs(1)).unwrap();
}

// TLS (issue #17 follow-up). The test server has ssl on with a certificate for 127.0.0.1 and
// localhost signed by its own CA (`server_ca`), and accepts plain TCP too.

/// The test database's URL with libpq parameters `query`.
fn tls_url(db: &TestDb, query: &str) -> String {
    format!("{}?{query}", db.url)
}

/// How messages show `url`: its password elided.
fn shown(url: &str) -> String {
    url.replace(&format!(":{}@", password(url)), ":***@")
}

/// `Library::open`'s error for `url`, and what `factory library list` says of it (exit 2).
fn refused(url: &str) -> (DedupError, String) {
    let e = Library::open(Path::new(url)).err().expect("refused");
    let o = factory()
        .args(["library", "list", "--library", url])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains(&password(url)), "{err}");
    assert!(!e.to_string().contains(&password(url)), "{e}");
    (e, err)
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn with_the_servers_ca_the_connection_is_encrypted_and_the_library_works() {
    let db = TestDb::new("tls");
    let ca = server_ca();
    let url = tls_url(&db, &format!("sslmode=require&sslrootcert={ca}"));
    let lib = Library::open(Path::new(&url)).unwrap();
    assert!(lib.is_encrypted().unwrap());
    assert_eq!(lib.path(), Path::new(&shown(&url)));
    // A round trip: add, find, and a re-encoded copy held back as a duplicate.
    let dir = tempfile::tempdir().unwrap();
    let a = write_scene(dir.path(), "a.png", 17, 320, 240);
    let copy = dir.path().join("copy.jpg");
    ffmpeg(&[
        "-i",
        a.to_str().unwrap(),
        "-q:v",
        "6",
        copy.to_str().unwrap(),
    ]);
    let fa = fp(&a);
    let id = lib.add(&fa, Some("v-a"), None, None).unwrap();
    assert_eq!(lib.find(&fa.sha256).unwrap().id, id);
    let v = score(
        &[Candidate::file(&copy)],
        Some(&lib),
        &GateConfig::default(),
    )
    .unwrap();
    assert_eq!(format!("{:?}", v[0].verdict), "Duplicate");
    drop(lib);
    // Every mode that encrypts, with and without the CA.
    for query in [
        format!("sslmode=verify-full&sslrootcert={ca}"),
        format!("sslmode=verify-ca&sslrootcert={ca}"),
        format!("sslrootcert={ca}"),
        "sslmode=prefer".to_string(),
        String::new(),
    ] {
        let url = if query.is_empty() {
            db.url.clone()
        } else {
            tls_url(&db, &query)
        };
        let lib = Library::open(Path::new(&url)).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(lib.is_encrypted().unwrap(), "{url}");
        assert_eq!(lib.list().unwrap().len(), 1, "{url}");
    }
    // The binary, as a batch job runs it.
    let o = factory()
        .args(["library", "list", "--library", &url])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("#1 "), "{out}");
    assert!(
        out.contains(&format!("{}  1 frames  v-a", a.display())),
        "{out}"
    );
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn a_certificate_from_another_ca_is_refused_naming_the_url_and_the_problem() {
    let db = TestDb::new("tls_wrong_ca");
    let other = other_ca();
    for (query, mode) in [
        (format!("sslmode=require&sslrootcert={other}"), "require"),
        (
            format!("sslmode=verify-ca&sslrootcert={other}"),
            "verify-ca",
        ),
        // A CA given is a CA checked, under the default `prefer` too.
        (format!("sslrootcert={other}"), "prefer"),
    ] {
        let url = tls_url(&db, &query);
        let (e, err) = refused(&url);
        assert!(matches!(e, DedupError::Unreachable { .. }), "{e}");
        let name = if mode == "verify-ca" {
            ""
        } else {
            " and name the URL's host"
        };
        let says = format!(
            "cannot connect to library {}: error performing TLS handshake: invalid peer certificate: \
             UnknownIssuer (sslmode={mode}: the server's certificate must be signed by the CA in \
             sslrootcert {other}{name}); check that the server is running",
            shown(&url)
        );
        assert!(e.to_string().starts_with(&says), "{e}\n{says}");
        assert!(err.starts_with(&format!("error: {says}")), "{err}");
    }
    // `require` without a CA checks against the system's CAs, which do not know the test CA.
    let url = tls_url(&db, "sslmode=require");
    let (e, err) = refused(&url);
    let says = format!(
        "cannot connect to library {}: error performing TLS handshake: invalid peer certificate: \
         UnknownIssuer (sslmode=require: the server's certificate must be signed by a CA the \
         system trusts and name the URL's host; for a server with its own CA add \
         sslrootcert=/path/to/ca.pem); check",
        shown(&url)
    );
    assert!(e.to_string().starts_with(&says), "{e}");
    assert!(err.starts_with(&format!("error: {says}")), "{err}");
}

/// The certificate names 127.0.0.1 and localhost; reached as `db.invalid` (at 127.0.0.1 by
/// `hostaddr`) it is good for `verify-ca`, not for `verify-full` or `require`.
#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn verify_ca_skips_the_host_name_and_verify_full_checks_it() {
    let db = TestDb::new("tls_name");
    let ca = server_ca();
    let elsewhere = db.url.replace("@127.0.0.1:", "@db.invalid:");
    assert_ne!(elsewhere, db.url);
    let url =
        |mode: &str| format!("{elsewhere}?hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={ca}");
    let lib = Library::open(Path::new(&url("verify-ca"))).unwrap();
    assert!(lib.is_encrypted().unwrap());
    for mode in ["verify-full", "require"] {
        let (e, _) = refused(&url(mode));
        let says = format!(
            "cannot connect to library {}: error performing TLS handshake: invalid peer certificate: \
             certificate not valid for name \"db.invalid\"; certificate is only valid for ",
            shown(&url(mode))
        );
        assert!(e.to_string().starts_with(&says), "{e}");
    }
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn sslmode_disable_connects_in_plain_text() {
    let db = TestDb::new("tls_disable");
    // libpq ignores sslrootcert without TLS; so does factory, even for a file not there.
    for query in [
        "sslmode=disable".to_string(),
        format!("sslmode=disable&sslrootcert={}", server_ca()),
        "sslmode=disable&sslrootcert=/nonexistent/ca.pem".to_string(),
    ] {
        let url = tls_url(&db, &query);
        let lib = Library::open(Path::new(&url)).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(!lib.is_encrypted().unwrap(), "{url}");
        lib.check().unwrap();
    }
}

#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn an_unusable_sslrootcert_is_named() {
    let db = TestDb::new("tls_ca_file");
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-ca.pem");
    let url = tls_url(
        &db,
        &format!("sslmode=require&sslrootcert={}", missing.display()),
    );
    let (e, err) = refused(&url);
    assert!(matches!(e, DedupError::TlsRoots { .. }), "{e}");
    let says = format!(
        "library {}: cannot use sslrootcert {} to check the server's certificate: cannot read it: \
         No such file or directory (os error 2)",
        shown(&url),
        missing.display()
    );
    assert_eq!(e.to_string(), says);
    assert!(err.starts_with(&format!("error: {says}\n")), "{err}");
    // A file that holds no certificate (a key, say).
    let not_pem = dir.path().join("key.pem");
    std::fs::write(
        &not_pem,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let url = tls_url(&db, &format!("sslrootcert={}", not_pem.display()));
    let (e, _) = refused(&url);
    assert_eq!(
        e.to_string(),
        format!(
            "library {}: cannot use sslrootcert {} to check the server's certificate: it holds \
             no PEM certificate (expected the CA that signed the server's certificate, as \
             -----BEGIN CERTIFICATE----- …)",
            shown(&url),
            not_pem.display()
        )
    );
}

/// Licences (`factory library expiring`) are stored and read back the same on both
/// backends, and adding the same bytes again replaces them rather than adding more.
#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn licences_read_back_the_same_as_on_sqlite() {
    use creative_factory::dedup::AssetLicence;
    let dir = tempfile::tempdir().unwrap();
    let file = write_scene(dir.path(), "a.png", 3, 96, 96);
    let licence = |id: &str, asset: &str, expires: &str| AssetLicence {
        asset: asset.into(),
        holder: "Holder".into(),
        id: id.into(),
        expires: Some(expires.into()),
    };
    let run = |lib: &Library| {
        let mut c = Candidate::file(&file);
        c.variant_id = Some("v-a".into());
        c.licences = vec![
            licence("L-7", "media/song.m4a", "2026-12-31"),
            licence("S-1", "media/bg.jpg", "2027-06-30"),
        ];
        lib.add_candidate(&c, &fp(&file)).unwrap();
        let listed = |until: &str| -> Vec<(String, String, String)> {
            lib.expiring(until)
                .unwrap()
                .into_iter()
                .map(|e| {
                    (
                        e.variant_id.unwrap(),
                        e.licence.id,
                        e.licence.expires.unwrap(),
                    )
                })
                .collect()
        };
        let before = (listed("2027-01-31"), listed("2027-12-31"));
        // Re-rendered with the song's licence renewed: the old record goes.
        c.licences = vec![licence("L-8", "media/song.m4a", "2028-01-01")];
        lib.add_candidate(&c, &fp(&file)).unwrap();
        (before, listed("2027-12-31"))
    };
    let sqlite = run(&Library::open(&dir.path().join("lib.sqlite")).unwrap());
    let db = TestDb::new("licences");
    let pg = run(&Library::open(Path::new(&db.url)).unwrap());
    assert_eq!(sqlite, pg);
    let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        sqlite,
        (
            (
                vec![t("v-a", "L-7", "2026-12-31")],
                vec![t("v-a", "L-7", "2026-12-31"), t("v-a", "S-1", "2027-06-30")]
            ),
            vec![]
        )
    );
}

/// Imported platform results (`factory results`) are stored and read back the same on both
/// backends; importing the same report range again replaces its rows rather than adding.
#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn results_read_back_the_same_as_on_sqlite() {
    use creative_factory::dedup::ResultRow;
    let dir = tempfile::tempdir().unwrap();
    let run = |lib: &Library| {
        let row = |ad_id: &str, clicks: i64| ResultRow {
            platform: "meta".into(),
            ad_id: ad_id.into(),
            date_start: "2026-11-01".into(),
            date_end: "2026-11-30".into(),
            ad_name: "v-a".into(),
            variant_id: Some("v-a".into()),
            impressions: 10_000,
            clicks,
            conversions: 3.5,
            spend: 12.5,
            revenue: 80.25,
            currency: "USD".into(),
            source: "export.csv".into(),
            imported_at: 1_700_000_000,
        };
        let first = lib
            .put_results(&[row("120200", 120), row("120201", 7)])
            .unwrap();
        let again = lib.put_results(&[row("120200", 125)]).unwrap();
        let stored: Vec<(String, i64, f64, f64)> = lib
            .results()
            .unwrap()
            .into_iter()
            .map(|r| (r.ad_id, r.clicks, r.conversions, r.revenue))
            .collect();
        (stored, first, again)
    };
    let sqlite = run(&Library::open(&dir.path().join("lib.sqlite")).unwrap());
    let db = TestDb::new("results");
    let pg = run(&Library::open(Path::new(&db.url)).unwrap());
    assert_eq!(sqlite, pg);
    assert_eq!(
        sqlite,
        (
            vec![
                ("120200".to_string(), 125, 3.5, 80.25),
                ("120201".to_string(), 7, 3.5, 80.25)
            ],
            2,
            0
        )
    );
}

/// Review decisions are a history on both backends: appended in order, a note kept or absent,
/// a decision other than approved/rejected refused by the table itself.
#[test]
#[ignore = "needs FACTORY_TEST_PG_URL: run make test"]
fn reviews_read_back_the_same_as_on_sqlite() {
    use creative_factory::dedup::library::ReviewRow;
    let dir = tempfile::tempdir().unwrap();
    let run = |lib: &Library| {
        let row = |file: &str, decision: &str, note: Option<&str>| ReviewRow {
            template: "coffee-launch".into(),
            variant_id: "0a1b2c3d4e5f6071".into(),
            file: file.into(),
            sha256: "ab".repeat(32),
            decision: decision.into(),
            reviewer: "dana".into(),
            at: "2026-12-04T16:00:00Z".into(),
            note: note.map(str::to_string),
        };
        lib.put_reviews(&[
            row("US/a.mp4", "approved", Some("ok for launch")),
            row("US/b.mp4", "rejected", None),
        ])
        .unwrap();
        lib.put_reviews(&[row("US/b.mp4", "approved", None)])
            .unwrap();
        let refused = lib.put_reviews(&[row("US/c.mp4", "maybe", None)]).is_err();
        (lib.reviews().unwrap(), refused)
    };
    let sqlite = run(&Library::open(&dir.path().join("lib.sqlite")).unwrap());
    let db = TestDb::new("reviews");
    let pg = run(&Library::open(Path::new(&db.url)).unwrap());
    assert_eq!(sqlite, pg);
    let brief: Vec<(&str, &str, Option<&str>)> = sqlite
        .0
        .iter()
        .map(|r| (r.file.as_str(), r.decision.as_str(), r.note.as_deref()))
        .collect();
    assert_eq!(
        brief,
        [
            ("US/a.mp4", "approved", Some("ok for launch")),
            ("US/b.mp4", "rejected", None),
            ("US/b.mp4", "approved", None),
        ]
    );
    assert!(
        sqlite.1,
        "a decision that is neither approved nor rejected is refused"
    );
}
