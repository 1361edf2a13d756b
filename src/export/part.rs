//! A shard's part directory (`factory render --shard I/N --out PART`): its outputs and
//! manifest as on one machine, plus `part.json` (which shard of which plan) and, per output,
//! what the duplicate gate needs (`.part/FILE.json`: fingerprint and layer boxes), so that
//! `factory merge` gates the whole batch without decoding or rendering anything again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io, write_atomic, ExportError};
use crate::dedup::Fingerprint;
use crate::plan::shard::Shard;
use crate::render::NormBox;

pub(crate) const PART_FILE: &str = "part.json";
/// Per-output gate data; hidden like `.removed`, since it is not for users.
pub(crate) const GATE_DIR: &str = ".part";
/// Bumped when a field's meaning changes; merge refuses parts of another schema.
pub const PART_SCHEMA: u32 = 1;

/// Which shard of which plan a part directory holds: merge re-plans from these and checks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartInfo {
    pub schema: u32,
    pub shard: Shard,
    pub factory_version: String,
    /// The template as the shard's command line named it, and where that was.
    pub template: PathBuf,
    pub template_abs: PathBuf,
    pub template_sha256: String,
    pub presets_dir: Option<PathBuf>,
    pub presets: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    pub max_variants: Option<usize>,
    pub allow_outside_root: bool,
    pub allow_fallback: bool,
    /// `--rules-dir` of the shards' lint: merge lints with the same packs, so its manifest
    /// lists the same findings. Absent from parts written before it existed.
    #[serde(default)]
    pub rules_dir: Option<PathBuf>,
    /// Jobs in the whole plan, and the output files this shard owns.
    pub plan_jobs: usize,
    pub owned: Vec<String>,
}

/// What the gate needs of one output, from the shard that rendered it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GateData {
    pub variant_id: String,
    pub sha256: String,
    pub product_box: Option<NormBox>,
    pub text_boxes: Vec<NormBox>,
    /// `None` when fingerprinting failed; the merge's gate then decodes the file and
    /// reports why, as a single run would.
    pub fingerprint: Option<Fingerprint>,
}

pub(crate) fn write_info(dir: &Path, info: &PartInfo) -> Result<(), ExportError> {
    let json = serde_json::to_vec_pretty(info).expect("part info serialises");
    write_atomic(&dir.join(PART_FILE), &json)
}

pub(crate) fn read_info(dir: &Path) -> Result<PartInfo, ExportError> {
    let path = dir.join(PART_FILE);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let info: PartInfo = serde_json::from_str(&text).map_err(|e| ExportError::Manifest {
        path: path.clone(),
        message: format!("not a part description: {e}"),
    })?;
    if info.schema != PART_SCHEMA {
        return Err(ExportError::Manifest {
            path,
            message: format!(
                "part schema {} (this factory reads {PART_SCHEMA}): render the shard again \
                 with this version",
                info.schema
            ),
        });
    }
    Ok(info)
}

fn gate_path(dir: &Path, file: &str) -> PathBuf {
    dir.join(GATE_DIR)
        .join(format!("{}.json", file.replace('/', "__")))
}

pub(crate) fn write_gate_data(dir: &Path, file: &str, data: &GateData) -> Result<(), ExportError> {
    let json = serde_json::to_vec(data).expect("gate data serialises");
    write_atomic(&gate_path(dir, file), &json)
}

pub(crate) fn read_gate_data(dir: &Path, file: &str) -> Result<GateData, ExportError> {
    let path = gate_path(dir, file);
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    serde_json::from_str(&text).map_err(|e| ExportError::Manifest {
        path,
        message: format!("damaged gate data: {e}"),
    })
}
