//! The A/B loop (issue #15): platform results read back into the library (`parse`,
//! `import`), per-variant rates and per-module-option effects with intervals (`stats`,
//! `report`), SVG plots of both (`plot`), and the next round's combinations (`next`).
//!
//! Results are stored in the library (`results` table, schema v3) next to the compositions,
//! whose `modules` map says which option of each pool a variant used.

pub mod import;
pub mod next;
pub mod parse;
pub mod plot;
pub mod report;
pub mod stats;

use std::path::PathBuf;

use crate::dedup::DedupError;

pub use import::{import, ImportSummary, Unmatched};
pub use next::{next, rewrite, NextOptions, NextPick, NextPlan};
pub use report::{report, Report, ReportOptions};

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: not a Meta, TikTok or Google Ads export this build knows (first line: {first_line:?}); expected headers such as `Ad name`, `Impressions`, `Amount spent (USD)` / `Cost` / `Impr.`")]
    UnknownLayout { path: PathBuf, first_line: String },
    #[error(transparent)]
    Library(#[from] DedupError),
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// Writing a plot (the error names the file).
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
}
