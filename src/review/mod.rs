//! A person's decisions on a rendered batch (`factory review`) and the upload folder of what
//! was approved (`factory export --approved`, `upload.rs`).
//!
//! Decisions live in the manifest (`ManifestRow::review`), so they travel with the batch,
//! survive reruns that reuse the output, and show on the review page; and, when the batch
//! has a library, they are appended to its `reviews` history (who decided what, when, on
//! which bytes) — written first, so a decision the library refused is nowhere rather than
//! half recorded. A decision is about a file: variants served by one file
//! (`same_output_as`) share it.

pub mod upload;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::export::rerun::Previous;
use crate::export::{self, lock, Decision, ExportError, ManifestRow, Review, Status};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(
        "{out}: recording the decisions in the library {library}: {source}; nothing was recorded"
    )]
    Library {
        out: PathBuf,
        library: String,
        // Boxed: a library error is large, and every review result carries its size.
        #[source]
        source: Box<crate::dedup::DedupError>,
    },
    #[error(
        "{out}: no manifest.json, so there is no batch to review (run `factory render` first)"
    )]
    NoManifest { out: PathBuf },
    #[error(
        "{out}: \"{token}\" is no output of this batch (give a variant number, a variant id or \
         a file name from manifest.json)"
    )]
    Unknown { out: PathBuf, token: String },
    #[error("{out}: {file} is both approved and rejected; give each output one decision")]
    Both { out: PathBuf, file: String },
    #[error("nothing to record: give --approve, --reject or --approve-all-distinct")]
    Nothing,
}

/// What to decide.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    /// Variant numbers, variant ids or file names (with or without the region folder).
    pub approve: Vec<String>,
    pub reject: Vec<String>,
    /// Approve every exported output the gate did not call similar or a duplicate.
    pub approve_all_distinct: bool,
    pub note: Option<String>,
}

/// What `record` changed.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub approved: Vec<String>,
    pub rejected: Vec<String>,
}

/// The reviewer's name: `FACTORY_REVIEWER`, else the login name (`USER`, `USERNAME`).
pub fn reviewer(env: impl Fn(&str) -> Option<String>) -> String {
    ["FACTORY_REVIEWER", "USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| env(k).filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// The files a token names: a variant number (every file of that variant), a variant id, or
/// a file name (`REGION/NAME.ext` or `NAME.ext` in any region).
fn files_of(rows: &[ManifestRow], token: &str) -> BTreeSet<String> {
    let t = token.trim();
    let by_number = t.parse::<u32>().ok();
    rows.iter()
        .filter(|r| {
            Some(r.variant) == by_number
                || r.variant_id == t
                || r.file == t
                || r.file.rsplit('/').next() == Some(t)
        })
        .map(|r| r.file.clone())
        .collect()
}

/// Records decisions in `OUT/manifest.json` (and the region packs) under the output
/// directory's lock, then rebuilds the review page.
pub fn record(
    out: &Path,
    d: &Decisions,
    by: &str,
    at: &str,
    today: &str,
    library: Option<&crate::dedup::Library>,
) -> Result<Recorded, ReviewError> {
    if d.approve.is_empty() && d.reject.is_empty() && !d.approve_all_distinct {
        return Err(ReviewError::Nothing);
    }
    if !out.join("manifest.json").is_file() {
        return Err(ReviewError::NoManifest {
            out: out.to_path_buf(),
        });
    }
    // A render writing this directory would rewrite the manifest without our decisions.
    let _lock = lock::OutLock::acquire(out)?;
    let mut prev = Previous::read(out)?;
    let pick = |tokens: &[String]| -> Result<BTreeSet<String>, ReviewError> {
        let mut files = BTreeSet::new();
        for t in tokens {
            let found = files_of(&prev.rows, t);
            if found.is_empty() {
                return Err(ReviewError::Unknown {
                    out: out.to_path_buf(),
                    token: t.clone(),
                });
            }
            files.extend(found);
        }
        Ok(files)
    };
    let mut approve = pick(&d.approve)?;
    let reject = pick(&d.reject)?;
    if d.approve_all_distinct {
        approve.extend(
            prev.rows
                .iter()
                .filter(|r| {
                    r.status == Status::Exported
                        && !matches!(
                            r.dedup,
                            Some(
                                crate::dedup::VerdictKind::Similar
                                    | crate::dedup::VerdictKind::Duplicate
                            )
                        )
                        && !reject.contains(&r.file)
                })
                .map(|r| r.file.clone()),
        );
    }
    if let Some(f) = approve.intersection(&reject).next() {
        return Err(ReviewError::Both {
            out: out.to_path_buf(),
            file: f.clone(),
        });
    }
    let review = |decision| Review {
        decision,
        by: by.to_string(),
        at: at.to_string(),
        note: d.note.clone().filter(|n| !n.is_empty()),
    };
    for r in &mut prev.rows {
        if approve.contains(&r.file) {
            r.review = Some(review(Decision::Approved));
        } else if reject.contains(&r.file) {
            r.review = Some(review(Decision::Rejected));
        }
    }
    if let Some(lib) = library {
        let rows: Vec<crate::dedup::library::ReviewRow> = prev
            .rows
            .iter()
            .filter(|r| approve.contains(&r.file) || reject.contains(&r.file))
            .filter_map(|r| {
                let rv = r.review.as_ref()?;
                Some(crate::dedup::library::ReviewRow {
                    template: r.template.clone(),
                    variant_id: r.variant_id.clone(),
                    file: r.file.clone(),
                    sha256: r.sha256.clone(),
                    decision: rv.decision.as_str().to_string(),
                    reviewer: rv.by.clone(),
                    at: rv.at.clone(),
                    note: rv.note.clone(),
                })
            })
            .collect();
        lib.put_reviews(&rows)
            .map_err(|source| ReviewError::Library {
                out: out.to_path_buf(),
                library: crate::dedup::library::redact_url(&lib.path().to_string_lossy()),
                source: Box::new(source),
            })?;
    }
    export::write_manifests(
        out,
        &prev.template,
        prev.template_version,
        prev.run.as_ref(),
        &prev.rows,
    )?;
    crate::report::build(out, today)?;
    Ok(Recorded {
        approved: approve.into_iter().collect(),
        rejected: reject.into_iter().collect(),
    })
}
