//! What a run into an existing output directory keeps, redoes and moves aside.
//!
//! The manifest is the done-list (Av1an's idea, written atomically): it is rewritten after
//! every output is published, so after a crash or `kill -9` it lists exactly the finished
//! outputs, and the next run reuses each one whose variant id is unchanged and whose file still
//! has the sha256 recorded for it. Outputs of the run's scope (its presets and regions) that
//! left the plan are moved to `OUT/.removed/<UTC time>/`, never deleted: an operator may still
//! want last week's winner. Rows outside the scope (another `--presets` or `--regions` subset)
//! are kept as they are, so the manifest always describes the whole directory.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io, lock, ExportError, ManifestRow, Status};

/// Where outputs that left the plan (or were replaced by a failed or held-back render) go.
pub(crate) const REMOVED_DIR: &str = ".removed";

/// The run that last wrote a manifest: who, when, with what, and what it did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub factory_version: String,
    /// sha256 of the template file as read.
    pub template_sha256: String,
    pub host: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub started: String,
    /// `None` while the run is in progress (or if it was killed).
    pub finished: Option<String>,
    pub rendered: usize,
    pub reused: usize,
    pub removed: usize,
    pub failed: usize,
    pub rejected: usize,
    pub skipped: usize,
    /// The library the run scored against and recorded its outputs in (a path, or a
    /// `postgres://` URL with its password redacted), so `factory review` and `factory report`
    /// find it without being told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// CPU seconds the run used, on every thread (set when it finishes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// The duplicate gate's part of `cpu_seconds`: hashing, keypoints, scoring, recording in
    /// the library (`None` with the gate off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate_cpu_seconds: Option<f64>,
}

impl RunRecord {
    pub(crate) fn begin(template_sha256: String) -> RunRecord {
        RunRecord {
            factory_version: env!("CARGO_PKG_VERSION").to_string(),
            template_sha256,
            host: lock::host_name(),
            started: crate::clock::format_utc(crate::clock::unix_now()),
            finished: None,
            rendered: 0,
            reused: 0,
            removed: 0,
            failed: 0,
            rejected: 0,
            skipped: 0,
            library: None,
            cpu_seconds: None,
            gate_cpu_seconds: None,
        }
    }
}

#[derive(Deserialize)]
struct ManifestIn {
    #[serde(default)]
    template: String,
    #[serde(default)]
    template_version: u32,
    #[serde(default)]
    run: Option<RunRecord>,
    outputs: Vec<ManifestRow>,
}

/// The manifest an earlier run left in `OUT`.
#[derive(Debug, Default)]
pub struct Previous {
    /// The template's name and version as the manifest names them.
    pub template: String,
    pub template_version: u32,
    pub run: Option<RunRecord>,
    pub rows: Vec<ManifestRow>,
}

impl Previous {
    /// Reads `OUT/manifest.json`; no manifest is an empty directory's `Previous`. A manifest
    /// that cannot be read is an error: guessing would re-render or delete the wrong files.
    pub fn read(out: &Path) -> Result<Previous, ExportError> {
        let path = out.join("manifest.json");
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Previous::default()),
            Err(e) => return Err(io(&path)(e)),
        };
        let m: ManifestIn = serde_json::from_slice(&bytes).map_err(|e| ExportError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(Previous {
            template: m.template,
            template_version: m.template_version,
            run: m.run,
            rows: m.outputs,
        })
    }

    /// The row of each file's own render (not the rows of variants it also serves).
    pub(crate) fn by_file(&self) -> HashMap<&str, &ManifestRow> {
        self.rows
            .iter()
            .filter(|r| r.same_output_as.is_none())
            .map(|r| (r.file.as_str(), r))
            .collect()
    }
}

/// Why an earlier output can stand for this run's job without rendering it again, or `None`.
/// The variant id hashes everything the output is made of (options, asset contents, preset,
/// timeline, renderer version); the rest of the stamp inside the file (template name and
/// version, tracking, the AI label, factory version) is compared too, and the file must still
/// be the one recorded.
pub(crate) fn reusable(
    old: &ManifestRow,
    new: &ManifestRow,
    old_run: Option<&RunRecord>,
    out: &Path,
) -> Option<&'static str> {
    let same_factory = old_run.is_some_and(|r| r.factory_version == env!("CARGO_PKG_VERSION"));
    let same = same_factory
        && old.variant_id == new.variant_id
        && old.template == new.template
        && old.template_version == new.template_version
        && old.preset == new.preset
        && old.region == new.region
        && old.locale == new.locale
        && old.tracking_url == new.tracking_url
        && old.tracking == new.tracking
        // Not in the variant id: marking an asset `ai_generated` changes no pixel, only the
        // label the file must carry.
        && old.ai_generated == new.ai_generated
        // Nor the visible label: a rule pack that starts or stops asking for one changes it.
        && old.ai_label == new.ai_label;
    if !same {
        return None;
    }
    match old.status {
        Status::Exported => {
            let sha = crate::plan::sha256_file(&out.join(&old.file)).ok()?;
            (sha == old.sha256).then_some("unchanged: same variant, file verified by sha256")
        }
        // Held back before and made of the same things: it would be held back again.
        Status::Rejected => Some("unchanged: held back as a duplicate by an earlier run"),
        Status::Failed | Status::Skipped => None,
    }
}

/// Moves `OUT/file` into `OUT/.removed/<stamp>/file`; `None` if there was no such file.
pub(crate) fn move_aside(
    out: &Path,
    file: &str,
    stamp: &str,
) -> Result<Option<PathBuf>, ExportError> {
    let from = out.join(file);
    if fs::symlink_metadata(&from).is_err() {
        return Ok(None);
    }
    let to = out.join(REMOVED_DIR).join(stamp).join(file);
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    fs::rename(&from, &to).map_err(io(&from))?;
    Ok(Some(to))
}

/// A directory name for this run's removals: the UTC start time, sortable.
pub(crate) fn removal_stamp(unix: i64) -> String {
    crate::clock::format_utc(unix).replace([':', '-'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_that_is_not_json_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("manifest.json"), b"{\"outputs\": [").unwrap();
        let e = Previous::read(d.path()).unwrap_err().to_string();
        assert!(e.contains("manifest.json: cannot be read"), "{e}");
        assert!(e.contains("--force"), "{e}");
    }

    #[test]
    fn moved_aside_keeps_the_relative_path() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("US")).unwrap();
        fs::write(d.path().join("US/a.jpg"), b"x").unwrap();
        let to = move_aside(d.path(), "US/a.jpg", "20261202T120000Z")
            .unwrap()
            .unwrap();
        assert_eq!(to, d.path().join(".removed/20261202T120000Z/US/a.jpg"));
        assert!(!d.path().join("US/a.jpg").exists());
        assert!(move_aside(d.path(), "US/a.jpg", "x").unwrap().is_none());
    }
}
