//! Duplicate gate: fingerprints, similarity, platform rules, the persistent library.
//!
//! Flow: `fingerprint` (PDQ per still or per sampled second, border-trimmed, plus masked
//! variants the composition makes possible) → retrieval by Hamming scan (`library`) →
//! keypoint geometry only on retrieved candidates (`geometry`) → the platform rules
//! (`rules`), which turn measurements and known compositions into a `Verdict`.

pub(crate) mod composition;
pub mod fingerprint;
pub mod gate;
pub mod geometry;
pub mod library;
pub mod pdq;
mod product;
pub mod rules;
pub mod scene;
mod spill;
pub mod video;

use std::path::PathBuf;

pub use composition::{AssetLicence, AssetRef, Candidate, Composition};
pub use fingerprint::{Fingerprint, MediaKind};
pub use library::{Expiring, Library, LibraryEntry, ResultRow};
pub use rules::{
    composition_reason, composition_rule, plan_warnings, score, Dimension, GateConfig, Match,
    PlanWarning, Rule, Verdict, VerdictKind,
};

/// Why an existing file is not a library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotLibrary {
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("it is not an SQLite database")]
    NotSqlite,
    #[error("it is not a regular file")]
    NotAFile,
}

#[derive(Debug, thiserror::Error)]
pub enum DedupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot decode image: {message}")]
    Image { path: PathBuf, message: String },
    #[error("{path}: cannot decode video: {source}")]
    Video {
        path: PathBuf,
        source: crate::media::MediaError,
    },
    #[error("{path}: no usable frames (every sampled frame is too flat to hash, quality < {min_quality})")]
    NoFrames { path: PathBuf, min_quality: u8 },
    #[error("{path}: unsupported file type (expected an image: jpg, png, webp; or a video: mp4, mov, webm, mkv)")]
    Unsupported { path: PathBuf },
    #[error("library {path}: {source}")]
    Library {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("library {path}: schema version {found} is newer than this build understands ({supported}); upgrade factory")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// The file exists but is no library (empty, another kind of file): refused rather than
    /// replaced, because an empty library silently makes every output "distinct".
    #[error("library {path} is not a factory library: {why}; to start a new library on purpose, remove the file or point `[dedup] library` (or `--library`) at a path that does not exist yet")]
    NotALibrary { path: PathBuf, why: NotLibrary },
    #[error("library {path} is damaged ({detail}); restore it from a backup, or start a new library on purpose by removing the file or pointing `[dedup] library` (or `--library`) at a path that does not exist yet")]
    Damaged {
        path: PathBuf,
        detail: String,
        #[source]
        source: Option<rusqlite::Error>,
    },
    /// Another process held the write lock for longer than we waited.
    #[error("library {path} is locked: another process holds its write lock and did not release it within {waited_secs} s; let that process finish (or stop it) and run again")]
    Locked {
        path: PathBuf,
        waited_secs: u64,
        /// The SQLite or PostgreSQL error that said so.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `path` is the URL with its password elided, here and in every PostgreSQL error.
    /// `detail` is the server's message (`postgres::Error` shows only its kind).
    #[error("library {path}: {detail}")]
    Postgres {
        path: PathBuf,
        detail: String,
        #[source]
        source: postgres::Error,
    },
    #[error("library {path}: not a usable PostgreSQL URL: {detail} (expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")]
    BadUrl {
        path: PathBuf,
        detail: String,
        #[source]
        source: postgres::Error,
    },
    #[error("cannot connect to library {path}: {detail}; check that the server is running and that the URL's host, port, user, password and database are right (the database must exist: factory creates only its tables)")]
    Unreachable {
        path: PathBuf,
        detail: String,
        #[source]
        source: postgres::Error,
    },
    /// The CAs to check a PostgreSQL server's certificate against cannot be used: the
    /// `sslrootcert` file (unreadable, no PEM certificate in it) or the system's store.
    /// `roots` names which.
    #[error("library {path}: cannot use {roots} to check the server's certificate: {detail}")]
    TlsRoots {
        path: PathBuf,
        roots: String,
        detail: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("library {path}: no entry matches {key:?} (give a stored path, a sha256 or a numeric id; see `factory library list`)")]
    NotInLibrary { path: PathBuf, key: String },
}

/// Marsaglia's xorshift64 step (13, 7, 17): the fixed keypoint test pattern is drawn from it
/// (`geometry`), and tests draw reproducible inputs from it.
pub(crate) fn xorshift64(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
