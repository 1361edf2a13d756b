//! `Assets`: every input file of a run decoded once, before any job is prepared, so that
//! jobs sharing a background or product do not decode it again — except background clips
//! too large for the clip cache, which each job streams (`ClipFrames`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use image::RgbaImage;
use rayon::prelude::*;

use super::RenderError;
use crate::cache::Bounded;
use crate::media::{self, AudioPcm, ClipStream, Limits, MediaError, VideoClip};
use crate::plan::Plan;
use crate::preset::{PresetKind, PresetSet};
use crate::template::{BackgroundSource, Pool, Template};

type Loaded<T> = Result<Arc<T>, Arc<MediaError>>;

/// A background clip as the run holds it: decoded whole (it fitted in the clip cache), or
/// only checked, to be streamed by every job that shows it.
pub(super) enum Clip {
    Whole(VideoClip),
    Streamed,
}

/// How clips are opened, the same for every clip of a run: the timeline's length, its
/// frame rate, and the side the frames must fit inside.
#[derive(Default, Clone, Copy)]
struct ClipParams {
    len: f64,
    fps: u32,
    side: u32,
}

/// Every input of a run, decoded once and shared by the jobs that use it.
pub(crate) struct Assets {
    images: HashMap<PathBuf, Loaded<RgbaImage>>,
    /// By file and start offset (its bits): two options may show one file from different
    /// points.
    clips: HashMap<(PathBuf, u64), Loaded<Clip>>,
    clip_params: ClipParams,
    pub(super) music: HashMap<(PathBuf, u32, u16), Loaded<AudioPcm>>,
    /// Products already scaled, shadowed and graded for a preset and region, shared by the
    /// jobs that differ only in copy, sound or background (most of a batch).
    products: Bounded<ProductKey, super::segment::PlacedProduct>,
    /// Backgrounds drawn or fitted to a canvas, before any look or product: shared by the
    /// jobs that differ only in copy, product or sound. A gradient drawn and a photo fitted
    /// per job were 18 % of a catalog batch's CPU with the gate off (`perf`, 2026-12-05).
    backdrops: Bounded<BackdropKey, RgbaImage>,
    /// Still backdrops with their product drawn at rest, shared by the stills that differ
    /// only in copy (`baked_still`).
    baked: Bounded<BakedKey, Baked>,
}

/// A fitted backdrop and a placed product by identity (the `Arc`s' addresses) and where the
/// product goes. The value holds both `Arc`s, so no address is reused while its entry lives.
pub(super) type BakedKey = (usize, usize, i64, i64);

pub(super) struct Baked {
    img: Arc<RgbaImage>,
    /// The backdrop and the product it was made from, held so that neither address is
    /// reused by another picture while the entry's key names it.
    sources: (Arc<RgbaImage>, Arc<RgbaImage>),
}

impl Baked {
    /// The plate and its product, not the backdrop: that is shared by every entry of a
    /// background and canvas, and counting it in each left room for four 1080×1440 plates,
    /// fewer than one variant's presets use at once.
    fn bytes(&self) -> usize {
        self.img.as_raw().len() + self.sources.1.as_raw().len()
    }
}

/// Preset, region, product option, effects option (its look grades the layer).
pub(super) type ProductKey = (String, String, usize, Option<usize>);

/// Region, background option (`None`: the preset's white background), canvas width and
/// height. The region is in the key because its overrides may replace the option.
pub(super) type BackdropKey = (String, Option<usize>, u32, u32);

/// Bytes of fitted backgrounds kept at once: the catalog's 4 backgrounds on an 800×800 and
/// a 1080×1440 preset are 35 MiB; a template with more backgrounds × presets than fit
/// starts over, which costs a fit per job at worst, as before the cache.
const BACKDROP_CACHE_BYTES: usize = 48 << 20;

/// Bytes of placed products kept at once. A catalog run shows thousands of products, each
/// up to a canvas in size: the cache holds what nearby jobs share, not the batch. Variants
/// come background by background, so each product comes back once per background: at
/// 48 MiB a 12-product catalog on Tmall, Xiaohongshu and Amazon (~98 MB of placed products)
/// started over every background and placed products 234 times instead of 36 — their
/// shadows were 11 % of the batch's CPU (`perf`, 2026-12-05). At 128 MiB it holds that
/// catalog whole; one with more products × presets starts over as before, a placement per
/// product and background at worst. At 32 entries a 12-product catalog on three presets
/// held ~100 MB more than a 3-product one (`benches/catalog.py` memory run): the bound is
/// in bytes. At 128 MiB a 24-product catalog on Tmall and Amazon (141 MB: an Amazon
/// product fills 88 % of 1000×1000) placed 72 times for 48 keys, 10 % of its CPU (`perf
/// probe`, 2026-12-06); 256 MiB holds it, and is what a run may hold at worst.
const PRODUCT_CACHE_BYTES: usize = 256 << 20;

/// Bytes of baked still backdrops (with the product each holds: `Baked::bytes`) kept at once. Variants come
/// copy fastest, so the stills that share a backdrop and product are rendered one after
/// another: a few entries per worker are what is reused.
const BAKED_CACHE_BYTES: usize = 64 << 20;

impl Default for Assets {
    fn default() -> Self {
        Assets {
            images: HashMap::new(),
            clips: HashMap::new(),
            clip_params: ClipParams::default(),
            music: HashMap::new(),
            products: Bounded::new(PRODUCT_CACHE_BYTES, super::segment::PlacedProduct::bytes),
            backdrops: Bounded::new(BACKDROP_CACHE_BYTES, |img| img.as_raw().len()),
            baked: Bounded::new(BAKED_CACHE_BYTES, Baked::bytes),
        }
    }
}

/// A background clip's frames for one segment of one job.
pub(super) enum ClipFrames {
    Whole(Arc<Clip>),
    /// This segment's own decoder. In a `Mutex` because frames are drawn through `&self`;
    /// only the job's renderer thread ever locks it.
    /// Boxed: a stream is far larger than a pointer.
    Streamed(Box<Mutex<ClipStream>>),
}

impl ClipFrames {
    /// Runs `draw` on the clip frame shown `local` frames into the segment: looped, or
    /// held on the last frame once the clip ends.
    pub(super) fn with_frame<R>(
        &self,
        local: u32,
        looped: bool,
        draw: impl FnOnce(&RgbaImage) -> R,
    ) -> Result<R, MediaError> {
        let wrap = |n: usize| {
            let n = n.max(1);
            if looped {
                local as usize % n
            } else {
                (local as usize).min(n - 1)
            }
        };
        match self {
            ClipFrames::Whole(c) => match &**c {
                Clip::Whole(clip) => Ok(draw(clip.frame(wrap(clip.len())))),
                Clip::Streamed => unreachable!("ClipFrames::Whole holds a decoded clip"),
            },
            ClipFrames::Streamed(s) => {
                // A panic while drawing fails the job anyway; the stream is still usable.
                let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
                // The length is known once the stream has reached the clip's end.
                let mut k = s.len().map_or(local as usize, wrap);
                if s.frame(k)?.is_none() {
                    k = wrap(s.len().expect("known once the clip has ended"));
                }
                let img = s.frame(k)?.expect("a frame within the clip");
                Ok(draw(img))
            }
        }
    }
}

/// Placed products and fitted backgrounds one preparation of a template's outputs made, for
/// the next one: `factory render` lints the layout of every output first, which prepares
/// each of them, and the run then takes over what the lint placed instead of placing it
/// again (its products' shadows were 7 % of a catalog batch's CPU, and the two caches held
/// side by side ~100 MB; `perf`, 2026-12-05). Only valid for the same loaded template.
#[derive(Default, Clone)]
pub struct Warm {
    products: Vec<(ProductKey, Arc<super::segment::PlacedProduct>)>,
    backdrops: Vec<(BackdropKey, Arc<RgbaImage>)>,
}

impl std::fmt::Debug for Warm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warm")
            .field("products", &self.products.len())
            .field("backdrops", &self.backdrops.len())
            .finish()
    }
}

impl Assets {
    /// What this preparation placed and fitted, for the next one (`Warm`).
    pub(crate) fn into_warm(self) -> Warm {
        Warm {
            products: self.products.into_entries(),
            backdrops: self.backdrops.into_entries(),
        }
    }

    /// Takes over what an earlier preparation of the same template placed and fitted.
    pub(crate) fn warmed(self, warm: Warm) -> Assets {
        self.products.extend(warm.products);
        self.backdrops.extend(warm.backdrops);
        self
    }

    /// The product placed for `key`, made by `place` on first use.
    pub(super) fn placed_product(
        &self,
        key: ProductKey,
        place: impl FnOnce() -> super::segment::PlacedProduct,
    ) -> Arc<super::segment::PlacedProduct> {
        self.products
            .get_or_make(key, || Ok::<_, std::convert::Infallible>(place()))
            .unwrap_or_else(|never| match never {})
    }

    /// The background for `key` drawn or fitted to its canvas, made by `make` on first use.
    pub(super) fn fitted_backdrop(
        &self,
        key: BackdropKey,
        make: impl FnOnce() -> Result<RgbaImage, RenderError>,
    ) -> Result<Arc<RgbaImage>, RenderError> {
        self.backdrops.get_or_make(key, make)
    }

    /// `backdrop` with `product` blended over it at (`x`, `y`), made once for the stills
    /// that show both (the same operation on the same pixels as drawing the product over
    /// each still's frame, so the same bytes). Drawing it per still was 3 % of a main-image
    /// batch's CPU (`blend_row`, `perf` 2026-12-06); each still now copies the baked plate
    /// where it copied the backdrop.
    pub(super) fn baked_still(
        &self,
        backdrop: &Arc<RgbaImage>,
        product: &Arc<RgbaImage>,
        (x, y): (i64, i64),
    ) -> Arc<RgbaImage> {
        let key = (
            Arc::as_ptr(backdrop) as usize,
            Arc::as_ptr(product) as usize,
            x,
            y,
        );
        let baked = self
            .baked
            .get_or_make(key, || {
                let mut img = (**backdrop).clone();
                super::ops::blend(&mut img, product, x, y, 1.0);
                Ok::<_, std::convert::Infallible>(Baked {
                    img: Arc::new(img),
                    sources: (backdrop.clone(), product.clone()),
                })
            })
            .unwrap_or_else(|never| match never {});
        baked.img.clone()
    }

    /// Decodes what the planned jobs need. A file that fails to decode fails only the jobs
    /// that use it, with the error kept here.
    pub(crate) fn load(t: &Template, plan: &Plan, presets: &PresetSet, limits: &Limits) -> Assets {
        let mut want_images: Vec<PathBuf> = Vec::new();
        let mut want_clips: Vec<(PathBuf, f64)> = Vec::new();
        let mut want_music: Vec<(PathBuf, u32, u16)> = Vec::new();
        let (mut max_w, mut max_h) = (1u32, 1u32);
        for job in &plan.jobs {
            let Some(region) = t.region(&job.region) else {
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
        want_clips.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        want_clips.dedup_by(|a, b| a.0 == b.0 && a.1.to_bits() == b.1.to_bits());
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
        // never has to upscale what the source had. The canvases are those of every preset
        // the template lists, not of the jobs this run renders: the decoded size shows in the
        // pixels, and a rerun of a few outputs, a `--presets` subset or a shard must give the
        // same bytes as the whole batch.
        let template_side = t
            .output
            .presets
            .iter()
            .filter_map(|id| presets.get(id))
            .map(|p| p.width.max(p.height))
            .max()
            .unwrap_or(0);
        let clip_params = ClipParams {
            len: t.duration.max(t.poster_time + 1.0 / t.fps as f64),
            fps: t.fps,
            side: template_side.max(max_w).max(max_h),
        };
        let clips = load_clips(want_clips, clip_params, limits);
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
            clip_params,
            music,
            ..Assets::default()
        }
    }

    /// The frames of the clip `path` from `start`, for one segment: the shared decoded clip,
    /// or a stream of its own.
    pub(super) fn clip(
        &self,
        path: &Path,
        start: f64,
        option: &str,
    ) -> Result<ClipFrames, RenderError> {
        let media = |source: Arc<MediaError>| RenderError::Media {
            pool: "background",
            option: option.into(),
            source,
        };
        match self.clips.get(&(path.to_path_buf(), start.to_bits())) {
            Some(Ok(c)) => match &**c {
                Clip::Whole(_) => Ok(ClipFrames::Whole(c.clone())),
                Clip::Streamed => {
                    let ClipParams { len, fps, side } = self.clip_params;
                    ClipStream::open(path, start, len, fps, side, side)
                        .map(|s| ClipFrames::Streamed(Box::new(Mutex::new(s))))
                        .map_err(|e| media(Arc::new(e)))
                }
            },
            Some(Err(e)) => Err(media(e.clone())),
            None => unreachable!("Assets::load covers every planned clip"),
        }
    }

    /// The picture decoded from `p`, when the planned jobs use it and it decoded.
    pub(crate) fn decoded(&self, p: &Path) -> Option<Arc<RgbaImage>> {
        self.images.get(p)?.as_ref().ok().cloned()
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

/// Opens every clip and decides, by size, which are decoded whole and shared: the smallest
/// first, while their worst-case RGBA (every output frame distinct) fits in
/// `limits.clip_cache_bytes`. The rest are streamed by each job that shows them; their first
/// frame is decoded here so that a broken file fails its jobs before any work.
///
/// Decoding once is what pays for a small clip many jobs share (the demo's 79 MiB clip, 24
/// jobs: each job would decode and convert it again); a long clip decoded whole is what
/// made memory grow with the clip's length (600 frames of 1080×1920 are 4.6 GiB).
fn load_clips(
    want: Vec<(PathBuf, f64)>,
    params: ClipParams,
    limits: &Limits,
) -> HashMap<(PathBuf, u64), Loaded<Clip>> {
    let ClipParams { len, fps, side } = params;
    let probed: Vec<((PathBuf, f64), Result<ClipStream, MediaError>)> = want
        .into_par_iter()
        .map(|(p, start)| {
            let r = ClipStream::open(&p, start, len, fps, side, side);
            ((p, start), r)
        })
        .collect();
    let mut by_size: Vec<(usize, f64)> = probed
        .iter()
        .enumerate()
        .filter_map(|(i, (_, r))| r.as_ref().ok().map(|s| (i, s.whole_bytes())))
        .collect();
    by_size.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut whole = vec![false; probed.len()];
    let mut used = 0.0;
    let budget = limits.clip_cache_bytes.min(limits.max_clip_bytes) as f64;
    for (i, bytes) in by_size {
        if used + bytes <= budget {
            used += bytes;
            whole[i] = true;
        }
    }
    probed
        .into_par_iter()
        .zip(whole)
        .map(|(((p, start), r), whole)| {
            let r = r.and_then(|mut s| {
                if whole {
                    VideoClip::open(&p, start, len, fps, side, side, limits).map(Clip::Whole)
                } else {
                    s.frame(0).map(|_| Clip::Streamed)
                }
            });
            ((p, start.to_bits()), r.map(Arc::new).map_err(Arc::new))
        })
        .collect()
}
