//! What the template's files are under: the licences of its media and the font files it
//! brings. Kept apart from `model` (the creative's options) because they describe files,
//! not choices.

use std::path::PathBuf;

/// A `[[font]]` file and the family names read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectFont {
    /// Canonical.
    pub path: PathBuf,
    pub families: Vec<String>,
}

/// Who may use an asset, where and until when.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Licence {
    pub holder: String,
    pub id: String,
    /// The last day it covers, `YYYY-MM-DD`; `None` = no end.
    pub expires: Option<String>,
    /// Region codes it covers; empty = every region.
    pub regions: Vec<String>,
    pub usage: Option<String>,
    /// `FILE:LINE` of the record, for messages.
    pub written_at: String,
}
