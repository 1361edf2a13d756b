//! `Assets`: every input file of a run decoded once, before any job is prepared, so that
//! jobs sharing a background or product do not decode it again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbaImage;
use rayon::prelude::*;

use super::RenderError;
use crate::media::{self, AudioPcm, Limits, MediaError, VideoClip};
use crate::plan::Plan;
use crate::preset::{PresetKind, PresetSet};
use crate::template::{BackgroundSource, Pool, Template};

type Loaded<T> = Result<Arc<T>, Arc<MediaError>>;

/// Every input of a run, decoded once and shared by the jobs that use it.
#[derive(Default)]
pub struct Assets {
    images: HashMap<PathBuf, Loaded<RgbaImage>>,
    pub(super) clips: HashMap<PathBuf, Loaded<VideoClip>>,
    pub(super) music: HashMap<(PathBuf, u32, u16), Loaded<AudioPcm>>,
}

impl Assets {
    /// Decodes what the planned jobs need. A file that fails to decode fails only the jobs
    /// that use it, with the error kept here.
    pub fn load(t: &Template, plan: &Plan, presets: &PresetSet, limits: &Limits) -> Assets {
        let mut want_images: Vec<PathBuf> = Vec::new();
        let mut want_clips: Vec<(PathBuf, f64)> = Vec::new();
        let mut want_music: Vec<(PathBuf, u32, u16)> = Vec::new();
        let (mut max_w, mut max_h) = (1u32, 1u32);
        for job in &plan.jobs {
            let Some(region) = t.regions.iter().find(|r| r.code == job.region) else {
                continue;
            };
            max_w = max_w.max(job.width);
            max_h = max_h.max(job.height);
            let mut backgrounds = job.choices.uses(t, Pool::Background);
            if t.scenes
                .iter()
                .any(|s| s.listed(Pool::Background).is_some_and(Vec::is_empty))
            {
                backgrounds.push(job.choices.background);
            }
            for b in backgrounds {
                match &t.background_for(region, b).source {
                    BackgroundSource::Image(p) => want_images.push(p.clone()),
                    BackgroundSource::Video { path, start, .. } => {
                        want_clips.push((path.clone(), *start))
                    }
                    _ => {}
                }
            }
            for i in job.choices.uses(t, Pool::Product) {
                want_images.push(t.product_for(region, i).source.clone());
            }
            if let Some(logo) = job
                .choices
                .end_card
                .and_then(|i| t.end_cards[i].logo.as_ref())
            {
                want_images.push(logo.clone());
            }
            if let (Some(i), PresetKind::Video) = (job.choices.audio, job.kind) {
                if let Some(spec) = presets.get(&job.preset).and_then(|p| p.audio.as_ref()) {
                    want_music.extend(
                        t.audio_for(region, i)
                            .files()
                            .map(|p| (p.clone(), spec.sample_rate, spec.channels)),
                    );
                }
            }
        }
        want_images.sort();
        want_images.dedup();
        want_clips.sort_by(|a, b| a.0.cmp(&b.0));
        want_clips.dedup_by(|a, b| a.0 == b.0);
        want_music.sort();
        want_music.dedup();

        // Decoders are independent, so load them side by side.
        let images = want_images
            .into_par_iter()
            .map(|p| {
                let r = media::load_image(&p, limits)
                    .map(Arc::new)
                    .map_err(Arc::new);
                (p, r)
            })
            .collect();
        // Clips are decoded at least as large as the largest canvas' longer side so cover-fit
        // never has to upscale what the source had.
        let side = max_w.max(max_h);
        let clip_len = t.duration.max(t.poster_time + 1.0 / t.fps as f64);
        let clips = want_clips
            .into_par_iter()
            .map(|(p, start)| {
                let r = VideoClip::open(&p, start, clip_len, t.fps, side, side, limits)
                    .map(Arc::new)
                    .map_err(Arc::new);
                (p, r)
            })
            .collect();
        let music = want_music
            .into_par_iter()
            .map(|(p, sr, ch)| {
                let r = AudioPcm::load(&p, sr, ch).map(Arc::new).map_err(Arc::new);
                ((p, sr, ch), r)
            })
            .collect();
        Assets {
            images,
            clips,
            music,
        }
    }

    pub(super) fn image(
        &self,
        p: &Path,
        pool: &'static str,
        option: &str,
    ) -> Result<Arc<RgbaImage>, RenderError> {
        match self.images.get(p) {
            Some(Ok(img)) => Ok(img.clone()),
            Some(Err(e)) => Err(RenderError::Media {
                pool,
                option: option.into(),
                source: e.clone(),
            }),
            None => unreachable!("Assets::load covers every planned image"),
        }
    }
}
