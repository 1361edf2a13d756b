//! What a job is made of, from the template alone (no pixels): the `Composition` the
//! duplicate gate judges and the designs (`distinct`, `pairwise`) compare. It lives in the
//! plan because it is a function of a plan's choices; `dedup` only reads the value, so the
//! gate and the planner judge with the same rule without the two modules importing each other.

use sha2::{Digest, Sha256};

use super::{AssetHashes, Choices, Job};
use crate::dedup::{AssetRef, Composition, MediaKind};
use crate::preset::{Preset, PresetKind};
use crate::template::{BackgroundSource, Pool, Region, Template};

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
        AssetRef {
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
            if let Ok(c) = crate::template::copy_or_fallback(t, &s.text, region, &mut notes) {
                lines.push(c);
            }
            for l in &s.lines {
                if let Ok(c) = crate::template::copy_or_fallback(t, &l.text, region, &mut notes) {
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
        AssetRef {
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
        background: AssetRef {
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
        modules: choices.ids(t),
    }
}
