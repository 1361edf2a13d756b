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
pub mod rules;
pub mod video;

use std::path::PathBuf;

pub use composition::{AssetRef, Candidate, Composition};
pub use fingerprint::{Fingerprint, MediaKind};
pub use library::{Library, LibraryEntry};
pub use rules::{
    plan_warnings, score, Dimension, GateConfig, Match, PlanWarning, Rule, Verdict, VerdictKind,
};

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
    #[error("library {path}: no entry matches {key:?} (give a stored path, a sha256 or a numeric id; see `factory library list`)")]
    NotInLibrary { path: PathBuf, key: String },
}
