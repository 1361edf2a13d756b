//! Which input files one output is made of, with their sha256, so the manifest can tell an
//! auditor which footage, music and pictures went into each file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{AssetHashes, Job};
use crate::preset::{Preset, PresetKind};
use crate::template::{default_copy_locale, locale_lookup, Pool, Template};

/// One input of one output: its path (relative to the template's directory when inside
/// it, as the template wrote it) and the sha256 of its bytes, hashed once per run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
}

/// The files the job's choices use, in pool order (backgrounds, products, effects' LUTs,
/// then for videos music, voice-over, sound effects, end-card logo), each once. A
/// background a preset replaces (`white_background`) is left out: it is not in the file.
pub fn job_inputs(
    t: &Template,
    job: &Job,
    preset: Option<&Preset>,
    hashes: &AssetHashes,
) -> Vec<InputFile> {
    job_input_paths(t, job, preset)
        .into_iter()
        .map(|p| InputFile {
            path: shown(&t.root, &p),
            sha256: hashes.get(&p).to_string(),
        })
        .collect()
}

/// The canonical paths behind [`job_inputs`].
pub fn job_input_paths(t: &Template, job: &Job, preset: Option<&Preset>) -> Vec<PathBuf> {
    let Some(region) = t.region(&job.region) else {
        return Vec::new();
    };
    // Only what the preset shows of the variant is in the file (`plan::shown`).
    let choices = match preset {
        Some(p) => super::shown(&job.choices, p),
        None => job.choices.clone(),
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    if !preset.is_some_and(|p| p.rules.white_background) {
        for i in choices.uses(t, Pool::Background) {
            paths.extend(t.background_for(region, i).source.path().cloned());
        }
    }
    for i in choices.uses(t, Pool::Product) {
        paths.push(t.product_for(region, i).source.clone());
    }
    for i in choices.uses(t, Pool::Effects) {
        paths.extend(
            t.effects_for(region, i)
                .lut
                .as_ref()
                .map(|l| l.path.clone()),
        );
    }
    if job.kind == PresetKind::Video {
        if let Some(i) = choices.audio {
            let a = t.audio_for(region, i);
            paths.extend(a.source.clone());
            let voice = locale_lookup(&a.voiceover, region).ok().or_else(|| {
                // The renderer's fallback: the default locale's voice when allowed.
                t.allow_fallback
                    .then(|| default_copy_locale(&a.voiceover))
                    .flatten()
                    .and_then(|l| a.voiceover.get(l))
            });
            paths.extend(voice.cloned());
            paths.extend(a.sfx.iter().map(|s| s.source.clone()));
        }
        if let Some(i) = choices.end_card {
            paths.extend(t.end_cards[i].logo.clone());
        }
    }
    paths.extend(shown_fonts(t, job, &choices, region));
    let mut seen = std::collections::HashSet::new();
    paths.retain(|p| seen.insert(p.clone()));
    paths
}

/// The template's own font files (`[[font]]`) the output's text may be drawn with: those
/// whose family a shown subtitle, badge or (video) end card names. Named counts, not only
/// the face a fallback chain reaches for today's copy: a licence is checked for every font
/// the output is allowed to use, so a copy edit cannot put an unlicensed font on screen.
fn shown_fonts<'t>(
    t: &'t Template,
    job: &Job,
    choices: &super::Choices,
    region: &'t crate::template::Region,
) -> impl Iterator<Item = PathBuf> + 't {
    let mut lists: Vec<&[String]> = Vec::new();
    if !t.fonts.is_empty() {
        for i in choices.uses(t, Pool::Subtitle) {
            lists.push(&t.subtitle_for(region, i).fonts);
        }
        for i in choices.uses(t, Pool::Badge) {
            lists.push(&t.badges[i].fonts);
        }
        if job.kind == PresetKind::Video {
            if let Some(i) = choices.end_card {
                lists.push(&t.end_cards[i].fonts);
            }
        }
    }
    t.fonts
        .iter()
        .filter(move |f| {
            lists.iter().any(|l| {
                l.iter()
                    .any(|n| f.families.iter().any(|fam| fam.eq_ignore_ascii_case(n)))
            })
        })
        .map(|f| f.path.clone())
}

/// Relative to the template's directory when inside it (so manifests do not depend on
/// where the project sits), else absolute. Both are canonical already (validation
/// resolves them), so no file system call per job.
fn shown(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}
