//! The gate inside `factory render`: what the engine composed → `Composition`, staged files
//! → verdicts, verdicts → hold or export, exported outputs → the library.

use std::path::{Path, PathBuf};

use crate::template::{DedupPolicy, Template};

use super::{
    Candidate, Composition, DedupError, Fingerprint, GateConfig, Library, Verdict, VerdictKind,
};

/// One staged output offered to the gate.
pub(crate) struct Offer {
    pub staged: PathBuf,
    pub variant_n: u32,
    pub variant_id: String,
    pub composition: Composition,
    pub product_box: Option<[f32; 4]>,
    pub text_boxes: Vec<[f32; 4]>,
    /// Measured by the renderer from its own frames (a still's keypoints deferred until a
    /// rule asks); `None` = decode the staged file.
    pub fingerprint: Option<Fingerprint>,
    /// Licences of what it shows, recorded in the library when it is exported.
    pub licences: Vec<super::AssetLicence>,
}

/// The gate's word on one offer.
pub(crate) struct Decision {
    pub verdict: Option<Verdict>,
    /// Not exported (policy `reject` and a duplicate).
    pub hold: bool,
    /// Scoring could not run on this file; it is exported unscored and the reason recorded.
    pub note: Option<String>,
    fingerprint: Option<Fingerprint>,
    candidate: Candidate,
}

impl Decision {
    /// `None` when the file could not be scored.
    pub(crate) fn kind(&self) -> Option<VerdictKind> {
        self.verdict.as_ref().map(|v| v.verdict)
    }
}

pub fn config(t: &Template) -> GateConfig {
    GateConfig {
        max_age_days: t.dedup.exempt_after_days,
        ..GateConfig::default()
    }
}

/// An offer with its fingerprint measured (or the reason it could not be), ready to score.
pub(crate) struct Prepared {
    candidate: Candidate,
    fingerprint: Result<Fingerprint, DedupError>,
}

impl Prepared {
    /// The output's fingerprint with every measurement made, if it could be made (a shard
    /// hands it to `factory merge`, whose gate may need what this one deferred).
    pub(crate) fn completed_fingerprint(&self) -> Option<Fingerprint> {
        self.fingerprint
            .as_ref()
            .ok()
            .map(|f| f.clone().completed())
    }
}

impl Offer {
    /// Fingerprints the staged file where the renderer did not (stills): this decodes the
    /// file, the costly part of scoring, so workers call it in parallel.
    pub(crate) fn prepare(self, cfg: &GateConfig) -> Prepared {
        let mut comp = self.composition;
        comp.product_box = self.product_box;
        comp.text_boxes = self.text_boxes;
        let candidate = Candidate {
            path: self.staged,
            variant_id: Some(self.variant_id),
            variant_n: Some(self.variant_n),
            composition: Some(comp),
            created_at: cfg.now,
            licences: self.licences,
        };
        let fingerprint = match self.fingerprint {
            Some(fp) => Ok(fp),
            None => candidate.fingerprint(),
        };
        Prepared {
            candidate,
            fingerprint,
        }
    }
}

/// The gate over one batch, one output at a time, in variant order (lower variant number
/// wins): the caller offers outputs in that order and may publish each as it is decided.
pub(crate) struct BatchGate<'a> {
    scorer: super::rules::Scorer<'a>,
    policy: DedupPolicy,
}

impl<'a> BatchGate<'a> {
    /// `product_files`: the batch's product files by sha256 (`AssetHashes::product_files`);
    /// `product_pixels`: those of them the renderer has decoded, by sha256.
    pub(crate) fn new(
        library: Option<&'a Library>,
        cfg: &'a GateConfig,
        policy: DedupPolicy,
        product_files: std::collections::HashMap<String, PathBuf>,
        product_pixels: std::collections::HashMap<String, std::sync::Arc<image::RgbaImage>>,
    ) -> Result<Self, DedupError> {
        Ok(BatchGate {
            scorer: super::rules::Scorer::new(library, cfg)?
                .with_product_files(product_files)
                .with_product_pixels(product_pixels)
                .top_only(),
            policy,
        })
    }

    /// An output kept from an earlier run: later outputs are compared with it, and it keeps
    /// the verdict it was exported with.
    pub(crate) fn admit(&mut self, p: &Prepared) {
        if let Ok(fp) = &p.fingerprint {
            self.scorer.admit(&p.candidate, fp);
        }
    }

    pub(crate) fn decide(&mut self, p: Prepared) -> Result<Decision, DedupError> {
        let fp = match p.fingerprint {
            Ok(fp) => fp,
            Err(e) => {
                return Ok(Decision {
                    verdict: None,
                    hold: false,
                    note: Some(format!("not scored: {e}")),
                    fingerprint: None,
                    candidate: p.candidate,
                })
            }
        };
        let v = self.scorer.score(&p.candidate, &fp)?;
        Ok(Decision {
            hold: self.policy == DedupPolicy::Reject && v.verdict == VerdictKind::Duplicate,
            verdict: Some(v),
            note: None,
            fingerprint: Some(fp.settle()),
            candidate: p.candidate,
        })
    }
}

/// Records an exported output in the library under its final path.
pub(crate) fn remember(
    library: &Library,
    d: &Decision,
    final_path: &Path,
) -> Result<(), DedupError> {
    let Some(fp) = &d.fingerprint else {
        return Ok(());
    };
    let mut fp = fp.clone();
    fp.path = final_path.to_path_buf();
    let mut c = d.candidate.clone();
    c.path = final_path.to_path_buf();
    library.add_candidate(&c, &fp)?;
    Ok(())
}
