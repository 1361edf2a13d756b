//! Export stage: staged file → verified → renamed into the output directory; manifest
//! rows → `manifest.json` / `manifest.csv` written atomically.
//!
//! Outputs are encoded into `OUT/.staging-…` (same file system, so the final `rename` is
//! atomic) and only a file that has been opened again and matched the job's expectations is
//! moved. A crash leaves at worst a staging directory, which the next run removes.

pub mod lock;
pub mod part;
pub mod rerun;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::encode::{self, Probe, StreamKind};
use crate::plan::Job;
use crate::preset::PresetKind;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot be read back: {source}")]
    Probe {
        path: PathBuf,
        source: encode::EncodeError,
    },
    #[error("{file}: verification failed: {message}")]
    Verify { file: String, message: String },
    #[error(
        "{path}: cannot be read as this program's manifest ({message}), so it is unknown which \
         outputs are finished; fix or remove it, or run with --force to render everything again"
    )]
    Manifest { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where `job` is written inside the staging directory `dir` (flat: one file per job).
pub(crate) fn staged_path(dir: &Path, job: &Job) -> PathBuf {
    let name = job.file.replace('/', "__");
    dir.join(format!("{:05}-{name}", job.index))
}

/// A private directory inside the output directory for files being written.
pub(crate) struct Staging {
    dir: PathBuf,
    /// Held for as long as the run may write into the output directory.
    _lock: lock::OutLock,
}

impl Staging {
    /// Takes `out`'s writer lock, removes staging directories that earlier, interrupted runs
    /// of this program left behind, and creates `OUT/.staging-PID` marked as this run's.
    pub(crate) fn create(out: &Path) -> Result<Staging, ExportError> {
        let lock = lock::OutLock::acquire(out)?;
        lock::remove_stale_staging(out, &lock);
        let dir = out.join(format!("{}{}", lock::STAGING_PREFIX, std::process::id()));
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        lock::mark_staging(&dir).map_err(io(&dir))?;
        Ok(Staging { dir, _lock: lock })
    }

    /// Where a job is encoded to before it is verified.
    pub(crate) fn path_for(&self, job: &Job) -> PathBuf {
        staged_path(&self.dir, job)
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// What a staged file turned out to be.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Verified {
    pub bytes: u64,
    pub sha256: String,
    pub frames: u64,
    pub duration: f64,
}

/// Opens the staged file again and checks streams, size, duration and frame count against
/// the job.
pub(crate) fn verify(
    staged: &Path,
    job: &Job,
    expected_frames: u32,
    fps: u32,
) -> Result<Verified, ExportError> {
    if job.kind == PresetKind::Image && is_jpeg_name(&job.file) {
        return verify_jpeg(staged, job);
    }
    let probe: Probe = encode::probe(staged).map_err(|source| ExportError::Probe {
        path: staged.to_path_buf(),
        source,
    })?;
    let fail = |message: String| ExportError::Verify {
        file: job.file.clone(),
        message,
    };
    let video = probe
        .streams
        .iter()
        .find(|s| s.kind == StreamKind::Video)
        .ok_or_else(|| fail("no picture stream".into()))?;
    if (video.width, video.height) != (job.width, job.height) {
        return Err(fail(format!(
            "size is {}×{}, expected {}×{}",
            video.width, video.height, job.width, job.height
        )));
    }
    let mut duration = 0.0;
    if job.kind == PresetKind::Video {
        if video.codec != "h264" {
            return Err(fail(format!(
                "video codec is {}, expected h264",
                video.codec
            )));
        }
        if video.frames != expected_frames as u64 {
            return Err(fail(format!(
                "{} frames, expected {expected_frames}",
                video.frames
            )));
        }
        if !probe.streams.iter().any(|s| s.kind == StreamKind::Audio) {
            return Err(fail("no audio stream (platforms require one)".into()));
        }
        duration = probe.duration;
        let want = expected_frames as f64 / fps as f64;
        // The container's duration includes the audio priming and the last frame's length;
        // a tenth of a second either way is what players show as the same length.
        if (duration - want).abs() > 0.1 {
            return Err(fail(format!(
                "duration {duration:.3} s, expected {want:.3} s"
            )));
        }
    }
    let sha256 = crate::plan::sha256_file(staged).map_err(io(staged))?;
    Ok(Verified {
        bytes: probe.bytes,
        sha256,
        frames: video.frames,
        duration,
    })
}

fn is_jpeg_name(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    lower.ends_with(".jpg") || lower.ends_with(".jpeg")
}

/// `verify` of a JPEG still: its bytes read once, checked whole and of the job's size
/// (`encode::read_back_jpeg`), and hashed.
fn verify_jpeg(staged: &Path, job: &Job) -> Result<Verified, ExportError> {
    use sha2::{Digest, Sha256};
    let data = fs::read(staged).map_err(io(staged))?;
    let (width, height) =
        encode::read_back_jpeg(staged, &data).map_err(|source| ExportError::Probe {
            path: staged.to_path_buf(),
            source,
        })?;
    if (width, height) != (job.width, job.height) {
        return Err(ExportError::Verify {
            file: job.file.clone(),
            message: format!(
                "size is {width}×{height}, expected {}×{}",
                job.width, job.height
            ),
        });
    }
    Ok(Verified {
        bytes: data.len() as u64,
        sha256: hex::encode(Sha256::digest(&data)),
        frames: 1,
        duration: 0.0,
    })
}

/// Publishing a verified staged file, but the rename: its bytes on disk and its directory
/// made. Returns where it goes (`OUT/job.file`).
pub(crate) fn ready_to_publish(
    staged: &Path,
    out: &Path,
    job: &Job,
) -> Result<PathBuf, ExportError> {
    let dest = out.join(&job.file);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    fs::File::open(staged)
        .and_then(|f| f.sync_all())
        .map_err(io(staged))?;
    Ok(dest)
}

/// Moves a staged file made ready by `ready_to_publish` into place, atomically replacing an
/// older one.
pub(crate) fn put_in_place(staged: &Path, dest: &Path) -> Result<(), ExportError> {
    fs::rename(staged, dest).map_err(io(dest))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Exported,
    /// Held back by the duplicate gate.
    Rejected,
    Failed,
    /// Not attempted (`--fail-fast` stopped the run).
    Skipped,
}

/// What kind of failure stopped a job, so that scripts can tell an input to fix from a disk
/// to free or an encoder to report, without parsing the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// An input (asset, font, copy, preset) must be fixed; running again will not help.
    BadInput,
    /// A decode limit refused an input: shrink it or raise the limit.
    ResourceLimit,
    /// FFmpeg, libx264 or an image encoder failed, or its output did not verify.
    Encoder,
    /// The file system failed: disk full, permissions, I/O errors.
    Io,
    /// The engine broke its own invariants, or the run was cancelled (`--fail-fast`).
    Internal,
}

/// How a video output was encoded (`ManifestRow::encode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodeMode {
    Full,
    Stitched,
}

/// One row of the manifest: one planned output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestRow {
    pub file: String,
    pub status: Status,
    pub variant: u32,
    pub variant_id: String,
    pub template: String,
    pub template_version: u32,
    pub preset: String,
    pub platform: String,
    pub kind: PresetKind,
    pub region: String,
    pub locale: String,
    pub modules: BTreeMap<String, String>,
    pub width: u32,
    pub height: u32,
    pub duration: f64,
    pub frames: u64,
    pub bytes: u64,
    pub sha256: String,
    pub tracking_url: Option<String>,
    pub tracking: BTreeMap<String, String>,
    pub rules_applied: Vec<String>,
    /// Font families the captions were drawn with.
    pub fonts: Vec<String>,
    /// Scenes in play order with their start and end in seconds (videos with `[[scene]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scenes: Vec<SceneSpan>,
    /// Integrated loudness (ITU-R BS.1770-4) of the soundtrack as the MP4 holds it (measured
    /// after AAC coding), LUFS; `None` for stills and silent soundtracks.
    pub loudness_lufs: Option<f64>,
    /// True peak (BS.1770-4 Annex 2) of the soundtrack after AAC coding, dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// How a video was encoded: `full` (every frame through one encoder) or `stitched`
    /// (scene segments coded once per run and joined without re-encoding; issue #14).
    /// Absent for stills and in manifests written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode: Option<EncodeMode>,
    /// Of a video's frames, how many came from segments an earlier output of the plan shows
    /// too (0 for a full encode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames_reused: Option<u32>,
    /// Duplicate-gate verdict (`distinct`, `similar`, `duplicate`) when scored.
    pub dedup: Option<crate::dedup::VerdictKind>,
    pub dedup_reason: Option<String>,
    pub error: Option<String>,
    /// Set with `error`.
    #[serde(default)]
    pub error_kind: Option<ErrorKind>,
    /// The input files this output was made from, each with its sha256 (`plan::job_inputs`).
    /// Absent from manifests written before it existed; a rerun still reads them.
    #[serde(default)]
    pub inputs: Vec<crate::plan::InputFile>,
    /// Set on a variant that shows nothing this preset draws apart from another: the
    /// variant id whose render `file` is (`plan::Job::same_output`). The row's status,
    /// sha256 and verdict are that render's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_output_as: Option<String>,
    /// Lint warnings on the copy of this row's variant in its region (whether or not the
    /// preset draws it: the copy goes with the variant into ad text and reports), as
    /// `RULE: "PHRASE" (FILE:LINE:COLUMN)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lint: Vec<String>,
    /// The ad text uploaded with this output (`title`, `description`, `headline`,
    /// `long_headline` of its subtitle option, in its region's locale).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ad_text: BTreeMap<String, String>,
    /// The first day a licence of what this output shows ends (`YYYY-MM-DD`): pull the ad
    /// by then. Absent when none of its assets has a dated licence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence_expires: Option<String>,
    /// The output shows an `ai_generated` asset and carries the GB 45438-2025 label
    /// (`plan::ai_generated`). Manifests written before the key read as `false`.
    #[serde(default)]
    pub ai_generated: bool,
    /// The visible label drawn on it (a rule pack's `[ai_label]` text), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_label: Option<String>,
    /// A person's decision on this output (`factory review`), kept while the output is
    /// reused; a new render of the variant starts without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
}

/// Approved or rejected, by whom and when (`factory review`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub decision: Decision,
    /// The reviewer's user name (`FACTORY_REVIEWER`, else `USER`/`USERNAME`).
    pub by: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    /// As the manifest and the library write it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }
}

impl ManifestRow {
    /// The row of a variant served by this row's file.
    pub(crate) fn for_same_output(&self, v: &crate::plan::SameOutput) -> ManifestRow {
        ManifestRow {
            variant: v.variant_n,
            variant_id: v.variant_id.clone(),
            modules: v.modules.clone(),
            tracking: v.tracking.clone(),
            tracking_url: v.tracking_url.clone(),
            same_output_as: Some(self.variant_id.clone()),
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SceneSpan {
    pub id: String,
    pub start: f64,
    pub end: f64,
}

/// Writes `path` through a temporary file beside it and a rename: a reader sees the old
/// content or the new, never half.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    Staged::write(path, bytes)?.commit()
}

/// Files written and synced beside where they go, put in place by `commit` (one rename
/// each): what must appear together is prepared first, so that the moment between the first
/// and the last rename is as short as it can be.
#[derive(Default)]
pub(crate) struct Staged(Vec<(PathBuf, tempfile::NamedTempFile)>);

impl Staged {
    pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<Staged, ExportError> {
        let mut s = Staged::default();
        s.add(path, bytes)?;
        Ok(s)
    }

    pub(crate) fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
        tmp.write_all(bytes).map_err(io(path))?;
        tmp.as_file().sync_all().map_err(io(path))?;
        self.0.push((path.to_path_buf(), tmp));
        Ok(())
    }

    pub(crate) fn commit(self) -> Result<(), ExportError> {
        for (path, tmp) in self.0 {
            tmp.persist(&path).map_err(|e| ExportError::Io {
                path: path.clone(),
                source: e.error,
            })?;
        }
        Ok(())
    }
}

/// A unit variant's name as the JSON manifest spells it, so both manifests agree.
fn serde_name(v: impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// The row's ad text for the `i`th of `preset::AD_TEXT_FIELDS`, empty when it has none.
fn ad(r: &ManifestRow, i: usize) -> String {
    r.ad_text
        .get(crate::preset::AD_TEXT_FIELDS[i])
        .cloned()
        .unwrap_or_default()
}

fn csv_bytes(rows: &[ManifestRow]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "file",
        "status",
        "variant",
        "variant_id",
        "template",
        "template_version",
        "preset",
        "platform",
        "kind",
        "region",
        "locale",
        "modules",
        "width",
        "height",
        "duration",
        "frames",
        "bytes",
        "sha256",
        "tracking_url",
        "dedup",
        "dedup_reason",
        "error",
        "loudness_lufs",
        "true_peak_dbtp",
        // Last, like every column added after the first release, so that readers that go
        // by position keep working.
        "error_kind",
        // `path=sha256;path=sha256`, like `modules`: one cell per row keeps the file
        // one-row-per-output for spreadsheets.
        "inputs",
        "same_output_as",
        // `RULE: "PHRASE" (FILE:LINE:COLUMN)` joined with `; `.
        "lint",
        "licence_expires",
        "ai_generated",
        "ai_label",
        // `approved`/`rejected`, then who, when (UTC) and the note.
        "review",
        "review_by",
        "review_at",
        "review_note",
        // The ad text uploaded with the output (`[[subtitle]] title`, …), one column per
        // field, so an upload sheet can be filled from the CSV alone.
        "ad_title",
        "ad_description",
        "ad_headline",
        "ad_long_headline",
    ];
    debug_assert_eq!(
        crate::preset::AD_TEXT_FIELDS.map(|f| format!("ad_{f}")),
        header[header.len() - 4..]
    );
    w.write_record(header)
        .expect("writing to a Vec cannot fail");
    for r in rows {
        let modules = r
            .modules
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";");
        let kind = match r.kind {
            PresetKind::Video => "video",
            PresetKind::Image => "image",
        };
        let status = serde_name(r.status);
        w.write_record([
            r.file.clone(),
            status,
            r.variant.to_string(),
            r.variant_id.clone(),
            r.template.clone(),
            r.template_version.to_string(),
            r.preset.clone(),
            r.platform.clone(),
            kind.to_string(),
            r.region.clone(),
            r.locale.clone(),
            modules,
            r.width.to_string(),
            r.height.to_string(),
            format!("{:.3}", r.duration),
            r.frames.to_string(),
            r.bytes.to_string(),
            r.sha256.clone(),
            r.tracking_url.clone().unwrap_or_default(),
            r.dedup.map(serde_name).unwrap_or_default(),
            r.dedup_reason.clone().unwrap_or_default(),
            r.error.clone().unwrap_or_default(),
            r.loudness_lufs
                .map(|l| format!("{l:.1}"))
                .unwrap_or_default(),
            r.true_peak_dbtp
                .map(|p| format!("{p:.1}"))
                .unwrap_or_default(),
            r.error_kind.map(serde_name).unwrap_or_default(),
            r.inputs
                .iter()
                .map(|i| format!("{}={}", i.path, i.sha256))
                .collect::<Vec<_>>()
                .join(";"),
            r.same_output_as.clone().unwrap_or_default(),
            r.lint.join("; "),
            r.licence_expires.clone().unwrap_or_default(),
            r.ai_generated.to_string(),
            r.ai_label.clone().unwrap_or_default(),
            r.review
                .as_ref()
                .map(|v| serde_name(v.decision))
                .unwrap_or_default(),
            r.review.as_ref().map(|v| v.by.clone()).unwrap_or_default(),
            r.review.as_ref().map(|v| v.at.clone()).unwrap_or_default(),
            r.review
                .as_ref()
                .and_then(|v| v.note.clone())
                .unwrap_or_default(),
            ad(r, 0),
            ad(r, 1),
            ad(r, 2),
            ad(r, 3),
        ])
        .expect("writing to a Vec cannot fail");
    }
    w.into_inner().expect("flushing a Vec cannot fail")
}

#[derive(Serialize)]
struct ManifestFile<'a> {
    template: &'a str,
    template_version: u32,
    render_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<&'a rerun::RunRecord>,
    outputs: &'a [ManifestRow],
}

/// Writes `manifest.json` and `manifest.csv` into `dir` (atomically: a reader sees the old
/// manifest or the new one, never half of one).
pub(crate) fn write_manifest(
    dir: &Path,
    template: &str,
    version: u32,
    run: Option<&rerun::RunRecord>,
    rows: &[ManifestRow],
) -> Result<(), ExportError> {
    let mut staged = Staged::default();
    stage_manifest(&mut staged, dir, template, version, run, rows)?;
    staged.commit()
}

fn stage_manifest(
    staged: &mut Staged,
    dir: &Path,
    template: &str,
    version: u32,
    run: Option<&rerun::RunRecord>,
    rows: &[ManifestRow],
) -> Result<(), ExportError> {
    let doc = ManifestFile {
        template,
        template_version: version,
        render_version: crate::RENDER_VERSION,
        run,
        outputs: rows,
    };
    let json = serde_json::to_vec_pretty(&doc).expect("manifest rows always serialise");
    staged.add(&dir.join("manifest.json"), &json)?;
    staged.add(&dir.join("manifest.csv"), &csv_bytes(rows))
}

/// The top-level manifest plus one per region pack (`OUT/REGION/manifest.json`) whose file
/// paths are relative to the pack.
pub(crate) fn write_manifests(
    out: &Path,
    template: &str,
    version: u32,
    run: Option<&rerun::RunRecord>,
    rows: &[ManifestRow],
) -> Result<(), ExportError> {
    let mut regions: Vec<&str> = rows.iter().map(|r| r.region.as_str()).collect();
    regions.sort();
    regions.dedup();
    stage_manifests_for(out, template, version, run, rows, &regions)?.commit()
}

/// The top-level manifest and the packs of `regions` only (what changes when outputs of
/// those regions are published), written and synced but not yet in place.
pub(crate) fn stage_manifests_for(
    out: &Path,
    template: &str,
    version: u32,
    run: Option<&rerun::RunRecord>,
    rows: &[ManifestRow],
    regions: &[&str],
) -> Result<Staged, ExportError> {
    let mut staged = Staged::default();
    stage_manifest(&mut staged, out, template, version, run, rows)?;
    for &region in regions {
        let prefix = format!("{region}/");
        let pack: Vec<ManifestRow> = rows
            .iter()
            .filter(|r| r.region == region)
            .map(|r| {
                let mut r = r.clone();
                r.file = r.file.strip_prefix(&prefix).unwrap_or(&r.file).to_string();
                r
            })
            .collect();
        stage_manifest(
            &mut staged,
            &out.join(region),
            template,
            version,
            run,
            &pack,
        )?;
    }
    Ok(staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("manifest.json");
        write_atomic(&p, b"old").unwrap();
        write_atomic(&p, b"new content").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new content");
        let leftovers: Vec<_> = fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(
            leftovers.len(),
            1,
            "no temporary file is left next to the manifest"
        );
    }

    #[test]
    fn staging_removes_dead_runs_leftovers() {
        let d = tempfile::tempdir().unwrap();
        let stale = d.path().join(".staging-999999999");
        fs::create_dir_all(&stale).unwrap();
        lock::mark_staging(&stale).unwrap();
        fs::write(stale.join("half.mp4"), b"partial").unwrap();
        let s = Staging::create(d.path()).unwrap();
        assert!(!stale.exists());
        let dir = s.dir().to_path_buf();
        assert!(dir.exists());
        drop(s);
        assert!(!dir.exists());
    }
}
