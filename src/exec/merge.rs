//! `factory merge`: the outputs of shard part directories taken into one batch. Each job's
//! file is adopted from the part that owns it — copied to staging, verified and checked
//! against the sha256 its shard recorded — and then goes through the same duplicate gate,
//! publishing and manifest as a single-machine run, so the result is the same batch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::error::{JobError, JobFailure, Stage};
use super::{Extra, JobResult};
use crate::export::part::{self, PartInfo};
use crate::export::rerun::Previous;
use crate::export::{self, ExportError, ManifestRow, Status};
use crate::plan::shard::Shard;
use crate::plan::Job;

/// The parts being merged, as the executor's workers read them.
#[derive(Debug, Default)]
pub struct Parts {
    /// Output file → the part directory holding it and its row there.
    rows: HashMap<String, (PathBuf, ManifestRow)>,
    /// Plan position → owning shard index.
    owner: Vec<u32>,
    count: u32,
    /// Shard index → its part directory, for the shards present.
    dirs: HashMap<u32, PathBuf>,
}

/// Why a set of part directories cannot be merged at all.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("no part directories given")]
    Empty,
    #[error("{} and {} both hold shard {shard}", a.display(), b.display())]
    Twice {
        shard: Shard,
        a: PathBuf,
        b: PathBuf,
    },
    #[error(
        "{} is shard {theirs} of another batch than {} (shard {ours}): {what} differs",
        dir.display(),
        first.display()
    )]
    Mismatch {
        dir: PathBuf,
        first: PathBuf,
        theirs: Shard,
        ours: Shard,
        what: &'static str,
    },
    #[error(
        "{}: shard {shard}'s outputs are not the ones the plan gives it ({what}); the part was \
         made from another plan — render it again",
        dir.display()
    )]
    OtherPlan {
        dir: PathBuf,
        shard: Shard,
        what: String,
    },
}

/// Reads every part's description and checks they are shards of one batch.
pub fn read_parts(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, PartInfo)>, MergeError> {
    let mut out: Vec<(PathBuf, PartInfo)> = Vec::new();
    for d in dirs {
        let info = part::read_info(d)?;
        if let Some((first, f)) = out.first() {
            let what = if f.template_sha256 != info.template_sha256 {
                Some("the template's sha256")
            } else if f.shard.count != info.shard.count {
                Some("the shard count")
            } else if f.factory_version != info.factory_version {
                Some("the factory version")
            } else if (&f.presets, &f.regions, f.max_variants, f.allow_fallback)
                != (
                    &info.presets,
                    &info.regions,
                    info.max_variants,
                    info.allow_fallback,
                )
            {
                Some("--presets, --regions, --max-variants or --allow-fallback")
            } else {
                None
            };
            if let Some(what) = what {
                return Err(MergeError::Mismatch {
                    dir: d.clone(),
                    first: first.clone(),
                    theirs: info.shard,
                    ours: f.shard,
                    what,
                });
            }
        }
        if let Some((a, _)) = out.iter().find(|(_, i)| i.shard == info.shard) {
            return Err(MergeError::Twice {
                shard: info.shard,
                a: a.clone(),
                b: d.clone(),
            });
        }
        out.push((d.clone(), info));
    }
    if out.is_empty() {
        return Err(MergeError::Empty);
    }
    Ok(out)
}

impl Parts {
    /// The parts' rows, checked against the plan's assignment (`owner`, by plan position).
    pub fn load(
        parts: &[(PathBuf, PartInfo)],
        jobs: &[Job],
        owner: Vec<u32>,
    ) -> Result<Parts, MergeError> {
        let count = parts.first().map_or(1, |(_, i)| i.shard.count);
        let mut p = Parts {
            owner,
            count,
            ..Parts::default()
        };
        for (dir, info) in parts {
            let mine: Vec<&str> = jobs
                .iter()
                .enumerate()
                .filter(|(k, _)| p.owner[*k] == info.shard.index)
                .map(|(_, j)| j.file.as_str())
                .collect();
            if mine != info.owned.iter().map(String::as_str).collect::<Vec<_>>() {
                return Err(MergeError::OtherPlan {
                    dir: dir.clone(),
                    shard: info.shard,
                    what: format!(
                        "{} outputs, the plan gives it {}",
                        info.owned.len(),
                        mine.len()
                    ),
                });
            }
            for row in Previous::read(dir)?.rows {
                if row.same_output_as.is_some() {
                    continue;
                }
                p.rows.insert(row.file.clone(), (dir.clone(), row));
            }
            p.dirs.insert(info.shard.index, dir.clone());
        }
        Ok(p)
    }

    /// Shards with no part among those merged.
    pub fn missing(&self) -> Vec<Shard> {
        (0..self.count)
            .filter(|i| !self.dirs.contains_key(i))
            .map(|index| Shard {
                index,
                count: self.count,
            })
            .collect()
    }

    fn shard_of(&self, job: &Job) -> Shard {
        Shard {
            index: self.owner.get(job.index).copied().unwrap_or(0),
            count: self.count,
        }
    }
}

/// A job's output taken from its shard's part into `staged`, with what the shard learned.
pub(super) fn adopt(job: &Job, parts: &Parts, staged: &Path, out: &Path) -> JobResult {
    let shard = parts.shard_of(job);
    let fail = |f: JobFailure| JobError::new(job, Stage::Prepare, f);
    let Some(dir) = parts.dirs.get(&shard.index) else {
        return Err(fail(JobFailure::PartMissing { shard }));
    };
    let row = match parts.rows.get(&job.file) {
        Some((_, row)) if row.variant_id == job.variant_id => row,
        _ => {
            return Err(fail(JobFailure::NotInPart {
                shard,
                dir: dir.clone(),
            }))
        }
    };
    if row.status != Status::Exported {
        return Err(JobError::new(
            job,
            Stage::Prepare,
            JobFailure::FailedInPart {
                shard,
                dir: dir.clone(),
                error: row
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("{:?}", row.status).to_lowercase()),
                kind: row.error_kind.unwrap_or(super::ErrorKind::Internal),
            },
        ));
    }
    let from = dir.join(&row.file);
    std::fs::copy(&from, staged).map_err(|source| {
        fail(JobFailure::Export(ExportError::Io {
            path: from.clone(),
            source,
        }))
    })?;
    let fps = match row.duration > 0.0 {
        true => (row.frames as f64 / row.duration).round().max(1.0) as u32,
        false => 1,
    };
    let verified = export::verify(staged, job, row.frames as u32, fps)
        .map_err(|e| JobError::new(job, Stage::Verify, e))?;
    if verified.sha256 != row.sha256 {
        return Err(JobError::new(
            job,
            Stage::Verify,
            JobFailure::Export(ExportError::Verify {
                file: job.file.clone(),
                message: format!(
                    "its copy in {} has sha256 {}, its shard recorded {}: the part was changed \
                     after it was made",
                    dir.display(),
                    verified.sha256,
                    row.sha256
                ),
            }),
        ));
    }
    // Best effort, as in a run: the page's build makes one that is missing.
    let _ = crate::report::adopt_thumbnail(out, dir, &verified.sha256);
    let gate = part::read_gate_data(dir, &job.file).map_err(|e| fail(JobFailure::Export(e)))?;
    let fingerprint = gate.fingerprint.map(|mut f| {
        // The merge's gate names files by their staged path, as a single run's does.
        f.path = staged.to_path_buf();
        f
    });
    Ok((
        staged.to_path_buf(),
        verified,
        Extra {
            rules_applied: row.rules_applied.clone(),
            fonts: row.fonts.clone(),
            scenes: row.scenes.clone(),
            fingerprint,
            product_box: gate.product_box,
            text_boxes: gate.text_boxes,
            loudness_lufs: row.loudness_lufs,
            true_peak_dbtp: row.true_peak_dbtp,
            encode: row.encode,
            frames_reused: row.frames_reused,
            gate_cpu: std::time::Duration::ZERO,
        },
    ))
}
