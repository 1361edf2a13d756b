//! The gate inside `factory render`: what the engine composed → `Composition`, staged files
//! → verdicts, verdicts → hold or export, exported outputs → the library.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::plan::{AssetHashes, Choices, Job};
use crate::preset::{Preset, PresetKind};
use crate::render::NormBox;
use crate::template::{BackgroundSource, DedupPolicy, Pool, Region, Template};

use super::{
    Candidate, Composition, DedupError, Fingerprint, GateConfig, Library, MediaKind, Verdict,
    VerdictKind,
};

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// What one job is made of, from the template alone (no pixels): the exact signal for the
/// four dimensions. Boxes are filled in by the renderer when it knows them.
pub fn composition(t: &Template, job: &Job, preset: &Preset, hashes: &AssetHashes) -> Composition {
    let region = t
        .regions
        .iter()
        .find(|r| r.code == job.region)
        .expect("planned regions exist");
    composition_of(t, &job.choices, region, preset, hashes)
}

/// [`composition`] of a combination of options before it is a job: what the planner's
/// `distinct` and `pairwise` strategies compare.
pub fn composition_of(
    t: &Template,
    choices: &Choices,
    region: &Region,
    preset: &Preset,
    hashes: &AssetHashes,
) -> Composition {
    let job_kind = preset.kind;
    let job_duration = if preset.kind == PresetKind::Video {
        t.duration
    } else {
        0.0
    };
    // With scenes, each dimension is the set of what the scenes show, in template order: a
    // variant that only plays the same scenes in another order repeats every dimension,
    // which is what the platform rule says of reordered segments.
    let backgrounds = choices.uses(t, Pool::Background);
    let backgrounds = if backgrounds.is_empty() {
        vec![choices.background]
    } else {
        backgrounds
    };
    let mut bg_kind = "flat";
    let mut bg_ids = Vec::new();
    let mut bg_shas = Vec::new();
    for i in backgrounds {
        let bg = t.background_for(region, i);
        let (kind, sha) = match &bg.source {
            BackgroundSource::Image(p) => ("still", hashes.get(p).to_string()),
            BackgroundSource::Video { path, .. } => ("footage", hashes.get(path).to_string()),
            other => ("flat", digest(&format!("{other:?}"))),
        };
        if kind == "footage" || (kind == "still" && bg_kind == "flat") {
            bg_kind = kind;
        }
        bg_ids.push(bg.id.clone());
        bg_shas.push(sha);
    }
    let (mut bg_id, mut bg_sha) = (
        bg_ids.join("+"),
        if bg_shas.len() == 1 {
            bg_shas.remove(0)
        } else {
            digest(&bg_shas.join(","))
        },
    );
    // Preset rules replace what the template chose (Amazon's white background, no text), so
    // the composition records what was really drawn.
    if preset.rules.white_background {
        bg_id = "white".into();
        bg_sha = digest("white background");
    }
    let products = choices.uses(t, Pool::Product);
    let product = (!products.is_empty()).then(|| {
        let ps: Vec<_> = products.iter().map(|&i| t.product_for(region, i)).collect();
        let shas: Vec<String> = ps
            .iter()
            .map(|p| hashes.get(&p.source).to_string())
            .collect();
        let sha = if shas.len() == 1 {
            shas[0].clone()
        } else {
            digest(&shas.join(","))
        };
        super::AssetRef {
            id: ps
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join("+"),
            sha256: sha,
        }
    });
    let subtitles = choices.uses(t, Pool::Subtitle);
    let copy = if preset.rules.no_text {
        String::new()
    } else {
        let mut lines: Vec<&str> = Vec::new();
        for i in subtitles {
            let s = t.subtitle_for(region, i);
            // The renderer's lookup, so `--allow-fallback` copy is what gets compared.
            let mut notes = Vec::new();
            if let Ok(c) = crate::render::copy_or_fallback(t, &s.text, region, &mut notes) {
                lines.push(c);
            }
            for l in &s.lines {
                if let Ok(c) = crate::render::copy_or_fallback(t, &l.text, region, &mut notes) {
                    lines.push(c);
                }
            }
            if let Ok(cues) = crate::template::locale_lookup(&s.captions, region) {
                lines.extend(cues.iter().map(|c| c.text.as_str()));
            }
        }
        lines.join("\n")
    };
    let audio = choices.audio.map(|i| {
        let a = t.audio_for(region, i);
        let sha = match &a.source {
            Some(p) => hashes.get(p).to_string(),
            None => digest("silence"),
        };
        super::AssetRef {
            id: a.id.clone(),
            sha256: sha,
        }
    });
    let kind = match job_kind {
        PresetKind::Video => MediaKind::Video,
        PresetKind::Image => MediaKind::Image,
    };
    // "Video type" in the platform's sense: how the creative is built, not what it shows.
    let shots = t.scenes.len().max(1)
        + usize::from(choices.end_card.is_some() && job_kind == PresetKind::Video);
    let structure = format!(
        "{}:bg-{bg_kind}{}{}/{shots}-shot",
        kind.as_str(),
        if product.is_some() { "+product" } else { "" },
        if copy.is_empty() { "" } else { "+caption" }
    );
    Composition {
        template: t.name.clone(),
        preset: preset.id.clone(),
        region: Some(region.code.clone()),
        kind,
        duration: job_duration,
        background: super::AssetRef {
            id: bg_id,
            sha256: bg_sha,
        },
        product,
        copy,
        audio,
        effects: choices
            .uses(t, Pool::Effects)
            .iter()
            .map(|&i| t.effects_for(region, i).id.clone())
            .collect::<Vec<_>>()
            .join("+"),
        structure,
        product_box: None,
        text_boxes: Vec::new(),
    }
}

/// One staged output offered to the gate.
pub struct Offer {
    pub job_index: usize,
    pub staged: PathBuf,
    pub variant_n: u32,
    pub variant_id: String,
    pub composition: Composition,
    pub product_box: Option<NormBox>,
    pub text_boxes: Vec<NormBox>,
    /// Measured by the renderer from its own frames; `None` = decode the staged file.
    pub fingerprint: Option<Fingerprint>,
    /// Licences of what it shows, recorded in the library when it is exported.
    pub licences: Vec<super::AssetLicence>,
}

/// The gate's word on one offer.
pub struct Decision {
    pub job_index: usize,
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
    pub fn kind(&self) -> Option<VerdictKind> {
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
pub struct Prepared {
    pub job_index: usize,
    candidate: Candidate,
    fingerprint: Result<Fingerprint, DedupError>,
}

impl Prepared {
    /// The output's fingerprint, if it could be made (a shard hands it to `factory merge`).
    pub fn fingerprint(&self) -> Option<&Fingerprint> {
        self.fingerprint.as_ref().ok()
    }
}

impl Offer {
    /// Fingerprints the staged file where the renderer did not (stills): this decodes the
    /// file, the costly part of scoring, so workers call it in parallel.
    pub fn prepare(self, cfg: &GateConfig) -> Prepared {
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
            job_index: self.job_index,
            candidate,
            fingerprint,
        }
    }
}

/// The gate over one batch, one output at a time, in variant order (lower variant number
/// wins): the caller offers outputs in that order and may publish each as it is decided.
pub struct BatchGate<'a> {
    scorer: super::rules::Scorer<'a>,
    policy: DedupPolicy,
}

impl<'a> BatchGate<'a> {
    pub fn new(
        library: Option<&'a Library>,
        cfg: &'a GateConfig,
        policy: DedupPolicy,
    ) -> Result<Self, DedupError> {
        Ok(BatchGate {
            scorer: super::rules::Scorer::new(library, cfg)?,
            policy,
        })
    }

    /// An output kept from an earlier run: later outputs are compared with it, and it keeps
    /// the verdict it was exported with.
    pub fn admit(&mut self, p: &Prepared) {
        if let Ok(fp) = &p.fingerprint {
            self.scorer.admit(&p.candidate, fp);
        }
    }

    pub fn decide(&mut self, p: Prepared) -> Result<Decision, DedupError> {
        let fp = match p.fingerprint {
            Ok(fp) => fp,
            Err(e) => {
                return Ok(Decision {
                    job_index: p.job_index,
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
            job_index: p.job_index,
            hold: self.policy == DedupPolicy::Reject && v.verdict == VerdictKind::Duplicate,
            verdict: Some(v),
            note: None,
            fingerprint: Some(fp),
            candidate: p.candidate,
        })
    }
}

/// Scores every offer against the library and the batch (lower variant number wins).
pub fn decide(
    offers: Vec<Offer>,
    library: Option<&Library>,
    cfg: &GateConfig,
    policy: DedupPolicy,
) -> Result<Vec<Decision>, DedupError> {
    let mut prepared: Vec<Prepared> = offers.into_par_iter().map(|o| o.prepare(cfg)).collect();
    prepared.sort_by(|a, b| {
        super::rules::scoring_key(&a.candidate)
            .cmp(&super::rules::scoring_key(&b.candidate))
            .then(a.job_index.cmp(&b.job_index))
    });
    let mut gate = BatchGate::new(library, cfg, policy)?;
    let mut out = prepared
        .into_iter()
        .map(|p| gate.decide(p))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|d| d.job_index);
    Ok(out)
}

/// Records an exported output in the library under its final path.
pub fn remember(library: &Library, d: &Decision, final_path: &Path) -> Result<(), DedupError> {
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
