//! `factory export OUT --approved DEST`: the approved outputs, and a manifest of just them,
//! in a new upload folder that appears whole or not at all.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::export::rerun::Previous;
use crate::export::{self, Decision, ExportError, ManifestRow, Status};

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{out}: no manifest.json, so there is no batch to export (run `factory render` first)"
    )]
    NoManifest { out: PathBuf },
    #[error("{out}: no output is approved; record decisions with `factory review` first")]
    NoneApproved { out: PathBuf },
    #[error("{dest}: already exists; an upload folder is written new, never mixed with another")]
    Exists { dest: PathBuf },
    #[error("refusing to export {} approved output(s) to {dest}, nothing was copied:{list}", .count)]
    Refused {
        dest: PathBuf,
        count: usize,
        /// One line per refused output: `\n  FILE: why`.
        list: String,
        refusals: Vec<(String, String)>,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UploadError + '_ {
    move |source| UploadError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What was exported.
#[derive(Debug, Clone)]
pub struct Exported {
    pub files: Vec<String>,
    pub bytes: u64,
}

/// Why an approved row may not go to the platforms, or `None`.
fn refusal(out: &Path, r: &ManifestRow, today: &str) -> Option<String> {
    match r.status {
        Status::Failed | Status::Skipped => {
            let kind = r
                .error_kind
                .and_then(|k| serde_json::to_value(k).ok())
                .and_then(|v| v.as_str().map(|s| format!("{s}: ")))
                .unwrap_or_default();
            return Some(format!(
                "it failed its checks ({kind}{})",
                r.error.as_deref().unwrap_or("no file was made")
            ));
        }
        Status::Rejected => {
            return Some(format!(
                "it is a duplicate the gate held back ({})",
                r.dedup_reason.as_deref().unwrap_or("no reason recorded")
            ))
        }
        Status::Exported => {}
    }
    if let Some(d) = r.licence_expires.as_deref().filter(|d| *d < today) {
        return Some(format!("a licence of what it shows ended on {d}"));
    }
    match crate::plan::sha256_file(&out.join(&r.file)) {
        Ok(sha) if sha == r.sha256 => None,
        Ok(_) => {
            Some("the file changed since it was rendered (sha256 differs from the manifest)".into())
        }
        Err(e) => Some(format!("the file cannot be read ({e})")),
    }
}

/// Copies the approved outputs of `out` into the new folder `dest` with their manifest.
/// Refuses, naming each output and why, if any approved output failed its checks, was held
/// back as a duplicate, shows an ended licence or no longer matches its manifest row.
pub fn export_approved(out: &Path, dest: &Path, today: &str) -> Result<Exported, UploadError> {
    if !out.join("manifest.json").is_file() {
        return Err(UploadError::NoManifest {
            out: out.to_path_buf(),
        });
    }
    if fs::symlink_metadata(dest).is_ok() {
        return Err(UploadError::Exists {
            dest: dest.to_path_buf(),
        });
    }
    let prev = Previous::read(out)?;
    let chosen: Vec<&ManifestRow> = prev
        .rows
        .iter()
        .filter(|r| r.review.as_ref().map(|v| v.decision) == Some(Decision::Approved))
        .collect();
    if chosen.is_empty() {
        return Err(UploadError::NoneApproved {
            out: out.to_path_buf(),
        });
    }
    let refusals: Vec<(String, String)> = chosen
        .iter()
        .filter(|r| r.same_output_as.is_none())
        .filter_map(|r| refusal(out, r, today).map(|why| (r.file.clone(), why)))
        .collect();
    if !refusals.is_empty() {
        let mut list = String::new();
        for (f, why) in &refusals {
            let _ = write!(list, "\n  {f}: {why}");
        }
        return Err(UploadError::Refused {
            dest: dest.to_path_buf(),
            count: refusals.len(),
            list,
            refusals,
        });
    }
    // Built beside DEST under a temporary name and renamed: an uploader watching DEST's
    // parent never sees half a folder.
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".factory-export-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    let mut files = Vec::new();
    let mut bytes = 0;
    for r in chosen.iter().filter(|r| r.same_output_as.is_none()) {
        let to = tmp.path().join(&r.file);
        if let Some(p) = to.parent() {
            fs::create_dir_all(p).map_err(io(p))?;
        }
        bytes += fs::copy(out.join(&r.file), &to).map_err(io(&to))?;
        fs::File::open(&to)
            .and_then(|f| f.sync_all())
            .map_err(io(&to))?;
        files.push(r.file.clone());
    }
    let rows: Vec<ManifestRow> = chosen.into_iter().cloned().collect();
    export::write_manifest(
        tmp.path(),
        &prev.template,
        prev.template_version,
        prev.run.as_ref(),
        &rows,
    )?;
    let kept = tmp.keep();
    fs::rename(&kept, dest).map_err(|e| {
        let _ = fs::remove_dir_all(&kept);
        io(dest)(e)
    })?;
    Ok(Exported { files, bytes })
}
