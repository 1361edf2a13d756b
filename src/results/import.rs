//! Joining export rows to variants and storing them.
//!
//! A row belongs to a variant when a variant id the library knows appears in its ad name or
//! URL parameters (`utm_content=…` or anywhere as a 16-hex-digit token), or when its ad name
//! contains the file name (with or without extension) of an output the library recorded.
//! Every file is parsed before anything is stored, so a bad file stores nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::parse::{self, Export, ExportRow};
use super::ResultsError;
use crate::dedup::{Library, ResultRow};

/// A row that matched no variant: stored (a later import, after the outputs entered the
/// library, joins it) and listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unmatched {
    pub file: PathBuf,
    pub line: usize,
    pub platform: String,
    pub ad_id: String,
    pub ad_name: String,
    pub impressions: i64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ImportSummary {
    /// Rows read (after totals were left out).
    pub rows: usize,
    /// Rows whose key was not in the library before.
    pub new: usize,
    /// Rows that replaced a row with the same key (a re-import).
    pub replaced: usize,
    pub matched: usize,
    pub totals_skipped: usize,
    pub unmatched: Vec<Unmatched>,
    /// Per file: the platform it was read as.
    pub files: Vec<(PathBuf, String)>,
}

/// What the library knows to join on.
pub(crate) struct Joiner {
    ids: std::collections::HashSet<String>,
    /// Output file name (and stem) → variant id, longest names first.
    names: Vec<(String, String)>,
}

impl Joiner {
    pub(crate) fn from_library(lib: &Library) -> Result<Joiner, ResultsError> {
        let entries = lib.list()?;
        let mut ids = std::collections::HashSet::new();
        let mut names = Vec::new();
        for e in entries {
            let Some(v) = e.variant_id else { continue };
            ids.insert(v.to_lowercase());
            if let Some(f) = e.path.file_name().and_then(|f| f.to_str()) {
                names.push((f.to_lowercase(), v.clone()));
            }
            if let Some(s) = e.path.file_stem().and_then(|f| f.to_str()) {
                names.push((s.to_lowercase(), v.clone()));
            }
        }
        names.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.cmp(b)));
        names.dedup();
        Ok(Joiner { ids, names })
    }

    /// The variant id of a row, if any.
    pub(crate) fn variant_of(&self, row: &ExportRow) -> Option<String> {
        let url_content = row
            .url
            .split(['&', '?', '#'])
            .find_map(|kv| kv.strip_prefix("utm_content="))
            .map(|v| v.to_lowercase());
        if let Some(v) = url_content.filter(|v| self.ids.contains(v)) {
            return Some(v);
        }
        for text in [&row.ad_name, &row.url] {
            for tok in text.split(|c: char| !c.is_ascii_hexdigit()) {
                let t = tok.to_lowercase();
                if t.len() == 16 && self.ids.contains(&t) {
                    return Some(t);
                }
            }
        }
        let name = row.ad_name.to_lowercase();
        self.names
            .iter()
            .find(|(n, _)| n.len() >= 4 && name.contains(n.as_str()))
            .map(|(_, v)| v.to_lowercase())
    }
}

/// Reads every file, joins its rows and stores them in one transaction per file set.
pub fn import(lib: &Library, files: &[PathBuf]) -> Result<ImportSummary, ResultsError> {
    let exports: Vec<(PathBuf, Export)> = files
        .iter()
        .map(|f| parse::read(f).map(|e| (f.clone(), e)))
        .collect::<Result<_, _>>()?;
    let joiner = Joiner::from_library(lib)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut summary = ImportSummary::default();
    // The same key twice within one import (two overlapping files) is one row: the later file
    // wins, as a re-import would.
    let mut rows: Vec<ResultRow> = Vec::new();
    let mut at: HashMap<(String, String, String, String), usize> = HashMap::new();
    for (path, e) in &exports {
        summary
            .files
            .push((path.clone(), e.platform.as_str().to_string()));
        summary.totals_skipped += e.totals_skipped;
        for r in &e.rows {
            let variant_id = joiner.variant_of(r);
            if variant_id.is_none() {
                summary.unmatched.push(Unmatched {
                    file: path.clone(),
                    line: r.line,
                    platform: e.platform.as_str().into(),
                    ad_id: r.ad_id.clone(),
                    ad_name: r.ad_name.clone(),
                    impressions: r.impressions,
                });
            }
            let row = stored(path, e.platform.as_str(), r, variant_id, now);
            let key = (
                row.platform.clone(),
                row.ad_id.clone(),
                row.date_start.clone(),
                row.date_end.clone(),
            );
            match at.get(&key) {
                Some(&i) => rows[i] = row,
                None => {
                    at.insert(key, rows.len());
                    rows.push(row);
                }
            }
        }
    }
    summary.rows = rows.len();
    summary.matched = rows.iter().filter(|r| r.variant_id.is_some()).count();
    summary.new = lib.put_results(&rows)?;
    summary.replaced = summary.rows - summary.new;
    Ok(summary)
}

fn stored(
    path: &Path,
    platform: &str,
    r: &ExportRow,
    variant_id: Option<String>,
    now: i64,
) -> ResultRow {
    ResultRow {
        platform: platform.into(),
        ad_id: r.ad_id.clone(),
        date_start: r.date_start.clone(),
        date_end: r.date_end.clone(),
        ad_name: r.ad_name.clone(),
        variant_id,
        impressions: r.impressions,
        clicks: r.clicks,
        conversions: r.conversions,
        spend: r.spend,
        revenue: r.revenue,
        currency: r.currency.clone(),
        source: path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        imported_at: now,
    }
}
