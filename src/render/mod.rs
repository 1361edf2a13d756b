//! Render stage: one planned job → a `Creative` (every layer resolved and laid out for the
//! preset's canvas) → composed RGBA frames, in order.
//!
//! A creative is prepared once per job; what does not move is composed once (the *plate*:
//! background, product, grade), so a still-background video costs one composition plus a
//! copy per frame. Captions are drawn after the grade so brand colours stay exact.

mod badge;
mod bilinear;
mod blend_row;
pub mod captions;
pub mod look;
pub mod motion;
pub mod ops;
pub mod sound;

pub use sound::{soundtrack, Soundtrack};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbaImage;
use rayon::prelude::*;

use crate::media::{self, AudioPcm, Limits, MediaError, VideoClip};
use crate::plan::{Job, Plan};
use crate::preset::{Preset, PresetKind, PresetSet, SafeZone};
use crate::template::{
    Anchor, Animation, BackgroundSource, Direction, Fit, Idle, KenBurns, Keyframe, Pool, Region,
    Rgba, Subtitle, Template, Transition, TransitionKind, VPos,
};
use crate::text::{Align, FontBook, TextCache, TextError, TextStyle};
use motion::Pose;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{pool} `{option}`: {source}")]
    Media {
        pool: &'static str,
        option: String,
        source: Arc<MediaError>,
    },
    #[error("subtitle `{option}` ({locale}): {source}")]
    Text {
        option: String,
        locale: String,
        source: TextError,
    },
    #[error("subtitle `{option}` has no copy for region {region} (locale `{locale}`; tried {tried}); it has: {have}")]
    MissingCopy {
        option: String,
        region: String,
        locale: String,
        tried: String,
        have: String,
    },
    #[error(
        "audio `{option}` has no voice-over for region {region} (locale `{locale}`; tried {tried})"
    )]
    MissingVoiceover {
        option: String,
        region: String,
        locale: String,
        tried: String,
    },
}

type Loaded<T> = Result<Arc<T>, Arc<MediaError>>;

/// Every input of a run, decoded once and shared by the jobs that use it.
#[derive(Default)]
pub struct Assets {
    images: HashMap<PathBuf, Loaded<RgbaImage>>,
    clips: HashMap<PathBuf, Loaded<VideoClip>>,
    music: HashMap<(PathBuf, u32, u16), Loaded<AudioPcm>>,
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

    fn image(
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

/// The copy of a subtitle for a region: its locale, then the region's fallbacks, then the
/// bare language (`es-MX` → `es`).
pub fn copy_for<'a>(
    texts: &'a BTreeMap<String, String>,
    region: &Region,
) -> Result<&'a str, Vec<String>> {
    crate::template::locale_lookup(texts, region).map(String::as_str)
}

/// `copy_for`, then — only with `--allow-fallback` — the template's default copy, noting in
/// the manifest which locale stood in.
pub fn copy_or_fallback<'a>(
    t: &Template,
    texts: &'a BTreeMap<String, String>,
    region: &Region,
    notes: &mut Vec<String>,
) -> Result<&'a str, Vec<String>> {
    match copy_for(texts, region) {
        Ok(s) => Ok(s),
        Err(tried) if t.allow_fallback => match crate::template::default_copy_locale(texts) {
            Some(loc) => {
                let note = format!(
                    "copy fallback: `{loc}` copy used for {} (no {} copy; --allow-fallback)",
                    region.code, region.locale
                );
                if !notes.contains(&note) {
                    notes.push(note);
                }
                Ok(texts[loc].as_str())
            }
            None => Err(tried),
        },
        Err(tried) => Err(tried),
    }
}

/// A premultiplied layer at a canvas position.
#[derive(Clone)]
struct Placed {
    img: RgbaImage,
    x: i64,
    y: i64,
}

/// A caption with its time and animation (rasterized once; see `captions.rs`).
struct TextLayer {
    caption: captions::Caption,
}

enum Backdrop {
    /// Background (and, when it does not move, the product) composed and graded once.
    Plate(RgbaImage),
    Clip {
        clip: Arc<VideoClip>,
        fit: Fit,
        pad: Rgba,
        looped: bool,
    },
}

/// Ken Burns over a backdrop fitted at the largest zoom, so every window is a downscale.
struct BackdropMotion {
    kb: KenBurns,
    max_zoom: f32,
}

/// The product with what it needs to move: its straight-alpha image (with shadow) for
/// per-frame scaling and rotation, and its path.
struct ProductLayer {
    placed: Placed,
    straight: RgbaImage,
    keyframes: Vec<Keyframe>,
    idle: Option<Idle>,
    parallax: f32,
}

impl ProductLayer {
    fn moves(&self, backdrop_moves: bool) -> bool {
        !self.keyframes.is_empty()
            || self.idle.is_some()
            || (self.parallax != 0.0 && backdrop_moves)
    }
}

/// One scene of the job, laid out for the preset's canvas. A video without `[[scene]]` is
/// one segment spanning the whole timeline.
struct Segment {
    /// Timeline frames [start, end).
    start: u32,
    end: u32,
    /// How it enters: kind, length, easing.
    transition: Transition,
    backdrop: Backdrop,
    motion: Option<BackdropMotion>,
    product: Option<ProductLayer>,
    /// The plate already holds the product and the look's picture-wide parts.
    plate_done: bool,
    texts: Vec<TextLayer>,
    stickers: Vec<badge::Sticker>,
    look: Option<look::Look>,
}

/// Normalised rectangle (x, y, w, h) in 0..=1 of the canvas.
pub type NormBox = [f32; 4];

/// The prepared composition of one output: its segments in play order and the video-wide
/// fades. (Not the template's `[[scene]]`: each of those becomes one `Segment`.)
pub struct Creative {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Frames to encode (1 for image presets).
    pub frames: u32,
    /// For image presets: the frame of the timeline the still is taken from.
    pub poster_frame: u32,
    segments: Vec<Segment>,
    fade_in: u32,
    fade_out: u32,
    /// Where the product was drawn, for the duplicate scorer.
    pub product_box: Option<NormBox>,
    pub text_boxes: Vec<NormBox>,
    /// Font families the captions were drawn with, in order of first use.
    pub fonts: Vec<String>,
    /// Preset rules the renderer applied (e.g. "white background"), for the manifest.
    pub rules_applied: Vec<String>,
    /// Scene ids in play order with their start and end in seconds, for the manifest.
    pub scenes: Vec<(String, f64, f64)>,
}

struct Area {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
}

fn safe_area(p: &Preset, dir: &Direction) -> Area {
    let z: SafeZone = if *dir == Direction::Rtl {
        p.safe_zone_rtl
    } else {
        p.safe_zone
    };
    let w = p.width.saturating_sub(z.left + z.right).max(p.width / 4);
    let h = p.height.saturating_sub(z.top + z.bottom).max(p.height / 4);
    Area {
        x: z.left.min(p.width - w),
        y: z.top.min(p.height - h),
        w,
        h,
    }
}

/// What every segment of a job shares while it is prepared.
struct Ctx<'a> {
    t: &'a Template,
    job: &'a Job,
    preset: &'a Preset,
    region: &'a Region,
    assets: &'a Assets,
    fonts: &'a FontBook,
    text_cache: &'a TextCache,
    area: Area,
    is_video: bool,
}

/// What a segment reports back for the manifest and the duplicate scorer.
#[derive(Default)]
struct Report {
    rules_applied: Vec<String>,
    product_box: Option<NormBox>,
    text_boxes: Vec<NormBox>,
    fonts: Vec<String>,
}

impl Report {
    fn note(&mut self, s: impl Into<String>) {
        let s = s.into();
        if !self.rules_applied.contains(&s) {
            self.rules_applied.push(s);
        }
    }
}

/// Prepares one job's creative: every layer decoded, fitted, shaped and placed.
pub fn prepare(
    t: &Template,
    job: &Job,
    preset: &Preset,
    region: &Region,
    assets: &Assets,
    fonts: &FontBook,
    text_cache: &TextCache,
) -> Result<Creative, RenderError> {
    let (w, h) = (preset.width, preset.height);
    let fps = t.fps;
    let is_video = preset.kind == PresetKind::Video;
    let timeline = (t.duration * fps as f64).round().max(1.0) as u32;
    let frames = if is_video { timeline } else { 1 };
    let poster_frame = if is_video {
        0
    } else {
        ((t.poster_time * fps as f64).round() as u32).min(timeline - 1)
    };
    let cx = Ctx {
        t,
        job,
        preset,
        region,
        assets,
        fonts,
        text_cache,
        area: safe_area(preset, &region.direction),
        is_video,
    };
    let to_frame = |secs: f64| ((secs * fps as f64).round() as u32).min(timeline);

    // (scene index or none, start frame, end frame, transition in), in play order.
    let mut spans: Vec<(Option<usize>, u32, u32)> = Vec::new();
    let mut scene_times = Vec::new();
    if t.scenes.is_empty() {
        spans.push((None, 0, timeline));
    } else {
        let order = &job.choices.order;
        let starts = t.scene_starts(order);
        for (k, &s) in order.iter().enumerate() {
            let end = if k + 1 == order.len() {
                timeline
            } else {
                to_frame(starts[k + 1])
            };
            spans.push((Some(s), to_frame(starts[k]), end));
            scene_times.push((
                t.scenes[s].id.clone(),
                starts[k],
                starts[k] + t.scenes[s].duration,
            ));
        }
    }
    let end_card = job
        .choices
        .end_card
        .filter(|_| is_video)
        .map(|i| &t.end_cards[i]);
    let card_start = end_card.map(|e| timeline.saturating_sub(to_frame(e.duration)).max(1));
    if let Some(cs) = card_start {
        // The card covers the last seconds: scenes that would only start under it are dropped.
        spans.retain(|s| s.1 < cs);
        if let Some(last) = spans.last_mut() {
            last.2 = cs;
        }
    }

    let mut report = Report::default();
    let holds = |k: usize, f: u32| {
        let (_, start, end) = spans[k];
        (start..end.max(start + 1)).contains(&f) || (k + 1 == spans.len() && f >= end)
    };
    let mut poster_frame = poster_frame;
    if !is_video && preset.rules.min_product_fill.is_some() {
        // A main image must show the product: when the poster moment falls in a scene
        // without one, the still comes from the first scene (in play order) that has it.
        let shows_product = |k: usize| match spans[k].0 {
            Some(s) => job.choices.in_scene(t, s, Pool::Product).is_some(),
            None => job.choices.product.is_some(),
        };
        if let Some(k) = (0..spans.len())
            .find(|&k| holds(k, poster_frame))
            .filter(|&k| !shows_product(k))
        {
            if let Some(j) = (0..spans.len()).find(|&j| shows_product(j)) {
                let (scene, start, end) = spans[j];
                poster_frame = start + (end - start) / 2;
                let name = |s: Option<usize>| s.map(|s| t.scenes[s].id.clone()).unwrap_or_default();
                report.note(format!(
                    "still taken from scene `{}`: scene `{}` at poster_time shows no product",
                    name(scene),
                    name(spans[k].0)
                ));
            }
        }
    }
    let mut segments = Vec::new();
    for (k, &(scene, start, end)) in spans.iter().enumerate() {
        // A still needs only the segment its poster frame falls in.
        if !is_video && !holds(k, poster_frame) {
            continue;
        }
        let transition = match scene {
            Some(s) if k > 0 => t.scenes[s].transition.clone(),
            _ => Transition::CUT,
        };
        segments.push(prepare_segment(
            &cx,
            scene,
            start,
            end,
            transition,
            &mut report,
        )?);
    }
    if let (Some(e), Some(cs)) = (end_card, card_start) {
        let mut notes = Vec::new();
        let mut copy = |m| {
            if BTreeMap::is_empty(m) {
                None
            } else {
                copy_or_fallback(t, m, region, &mut notes).ok()
            }
        };
        let texts = [copy(&e.headline), copy(&e.price), copy(&e.cta)];
        for n in notes {
            report.note(n);
        }
        let logo = match &e.logo {
            Some(p) => Some(assets.image(p, "end_card", &e.id)?),
            None => None,
        };
        let card = badge::end_card(
            e,
            texts,
            logo.as_deref(),
            region,
            (w, h),
            &cx.area,
            fonts,
            text_cache,
        )?;
        segments.push(Segment {
            start: cs,
            end: timeline,
            transition: e.transition.clone(),
            backdrop: Backdrop::Plate(card),
            motion: None,
            product: None,
            plate_done: true,
            texts: Vec::new(),
            stickers: Vec::new(),
            look: None,
        });
        scene_times.push((
            format!("end_card:{}", e.id),
            cs as f64 / fps as f64,
            t.duration,
        ));
    }

    // Fades belong to the video: the effects of the first and the last scene decide.
    let (mut fade_in, mut fade_out) = (0, 0);
    if is_video {
        let effects_of = |scene: Option<usize>| match scene {
            Some(s) => job.choices.in_scene(t, s, Pool::Effects),
            None => job.choices.effects,
        };
        if let Some(e) = spans.first().and_then(|s| effects_of(s.0)) {
            fade_in = (t.effects_for(region, e).fade_in * fps as f64).round() as u32;
        }
        if let Some(e) = spans.last().and_then(|s| effects_of(s.0)) {
            fade_out = (t.effects_for(region, e).fade_out * fps as f64).round() as u32;
        }
    }

    let mut seen = std::collections::HashSet::new();
    report.fonts.retain(|f| seen.insert(f.clone()));
    Ok(Creative {
        width: w,
        height: h,
        fps,
        frames,
        poster_frame,
        segments,
        fade_in,
        fade_out,
        product_box: report.product_box,
        text_boxes: report.text_boxes,
        fonts: report.fonts,
        rules_applied: report.rules_applied,
        scenes: scene_times,
    })
}

/// One segment: the options its scene (or the variant, without scenes) picked, laid out.
fn prepare_segment(
    cx: &Ctx<'_>,
    scene: Option<usize>,
    start: u32,
    end: u32,
    transition: Transition,
    report: &mut Report,
) -> Result<Segment, RenderError> {
    let Ctx {
        t,
        job,
        preset,
        region,
        assets,
        fonts,
        text_cache,
        is_video,
        ..
    } = *cx;
    let area = &cx.area;
    let (w, h) = (preset.width, preset.height);
    let rules = &preset.rules;
    let fps = t.fps;
    let pick = |pool: Pool| match scene {
        Some(s) => job.choices.in_scene(t, s, pool),
        None => job.choices.get(pool),
    };

    // Background.
    let bg = t.background_for(
        region,
        pick(Pool::Background).unwrap_or(job.choices.background),
    );
    let motion = bg
        .motion
        .clone()
        .filter(|_| !rules.white_background && is_video)
        .map(|kb| BackdropMotion {
            max_zoom: kb.zoom.0.max(kb.zoom.1).max(1.0),
            kb,
        });
    // A moving backdrop is fitted at its largest zoom so every frame's window downscales.
    let (bw, bh) = match &motion {
        Some(m) => (
            ((w as f32 * m.max_zoom).ceil() as u32),
            ((h as f32 * m.max_zoom).ceil() as u32),
        ),
        None => (w, h),
    };
    let mut backdrop = if rules.white_background {
        report.note("white background");
        Backdrop::Plate(ops::solid(w, h, Rgba::WHITE))
    } else {
        match &bg.source {
            BackgroundSource::Color(c) => {
                Backdrop::Plate(ops::solid(bw, bh, Rgba([c.0[0], c.0[1], c.0[2], 255])))
            }
            BackgroundSource::Gradient { from, to, angle } => {
                Backdrop::Plate(ops::gradient(bw, bh, *from, *to, *angle))
            }
            BackgroundSource::Image(p) => {
                let img = assets.image(p, "background", &bg.id)?;
                Backdrop::Plate(ops::fit(&img, bw, bh, bg.fit, bg.pad))
            }
            BackgroundSource::Video { path, looped, .. } => {
                let clip = match assets.clips.get(path) {
                    Some(Ok(c)) => c.clone(),
                    Some(Err(e)) => {
                        return Err(RenderError::Media {
                            pool: "background",
                            option: bg.id.clone(),
                            source: e.clone(),
                        })
                    }
                    None => unreachable!("Assets::load covers every planned clip"),
                };
                Backdrop::Clip {
                    clip,
                    fit: bg.fit,
                    pad: bg.pad,
                    looped: *looped,
                }
            }
        }
    };

    // Effects: the look is prepared once per segment; a white background must stay RGB 255,
    // so it gets none.
    let effects = pick(Pool::Effects).map(|ei| t.effects_for(region, ei));
    let look = effects.and_then(look::Look::new);
    let look = if rules.white_background && look.is_some() {
        report.note("look skipped (white background must stay RGB 255)");
        None
    } else {
        look
    };

    // Product.
    let mut product = None;
    if let Some(pi) = pick(Pool::Product) {
        let p = t.product_for(region, pi);
        let src = assets.image(&p.source, "product", &p.id)?;
        // Cut-outs often carry transparent margins; size by what is visible.
        let src = match ops::alpha_bounds(&src) {
            Some((x, y, bw, bh)) if (bw, bh) != src.dimensions() => {
                image::imageops::crop_imm(&*src, x, y, bw, bh).to_image()
            }
            _ => (*src).clone(),
        };
        let (pw, ph) = (src.width() as f32, src.height() as f32);
        let (mut scale, mut anchor, mut offset, mut rotation, mut shadow) =
            (p.scale, p.anchor, p.offset, p.rotation, p.shadow.clone());
        let mut box_area = Area {
            x: area.x,
            y: area.y,
            w: area.w,
            h: area.h,
        };
        let mut animated = is_video;
        if let Some(fill) = rules.min_product_fill {
            // The platform measures the product against the whole frame: centre it, upright,
            // without a shadow that would tint the white background.
            scale = scale.max((fill + 0.03).min(0.98));
            anchor = Anchor::Center;
            offset = (0.0, 0.0);
            rotation = 0.0;
            shadow = None;
            animated = false;
            box_area = Area { x: 0, y: 0, w, h };
            report.note(format!("product fills ≥ {:.0} %", fill * 100.0));
        }
        if region.direction == Direction::Rtl {
            anchor = anchor.mirrored();
            offset.0 = -offset.0;
        }
        let s = (scale * box_area.w as f32 / pw).min(scale * box_area.h as f32 / ph);
        let (tw, th) = (
            ((pw * s).round() as u32).max(1),
            ((ph * s).round() as u32).max(1),
        );
        let mut scaled = ops::rotate(&ops::resize(&src, tw, th, None), rotation);
        // The grade is a look on the picture; applying it to each layer once (rather than to
        // every composed frame) is the same for opaque pixels and far cheaper over video.
        if let Some(l) = &look {
            l.apply_layer(&mut scaled);
        }
        let (fx, fy) = anchor.fractions();
        let px = box_area.x as f32
            + (box_area.w as f32 - scaled.width() as f32) * fx
            + offset.0 * w as f32;
        let py = box_area.y as f32
            + (box_area.h as f32 - scaled.height() as f32) * fy
            + offset.1 * h as f32;
        let (px, py) = (px.round() as i64, py.round() as i64);
        report.product_box.get_or_insert([
            px as f32 / w as f32,
            py as f32 / h as f32,
            scaled.width() as f32 / w as f32,
            scaled.height() as f32 / h as f32,
        ]);
        let short = w.min(h) as f32;
        let layer = match shadow {
            Some(sh) => with_shadow(
                &scaled,
                sh.color,
                (sh.offset.0 * short, sh.offset.1 * short),
                sh.blur * short,
            ),
            None => Placed {
                img: ops::premultiply(scaled),
                x: 0,
                y: 0,
            },
        };
        let mut keyframes = if animated {
            p.keyframes.clone()
        } else {
            Vec::new()
        };
        if region.direction == Direction::Rtl {
            // Mirrored layouts enter from the mirrored side.
            for k in &mut keyframes {
                k.offset.0 = -k.offset.0;
            }
        }
        let straight =
            if animated && (!keyframes.is_empty() || p.idle.is_some() || p.parallax != 0.0) {
                ops::unpremultiply(layer.img.clone())
            } else {
                RgbaImage::new(1, 1)
            };
        product = Some(ProductLayer {
            placed: Placed {
                img: layer.img,
                x: px + layer.x,
                y: py + layer.y,
            },
            straight,
            keyframes,
            idle: p.idle.clone().filter(|_| animated),
            parallax: if animated { p.parallax } else { 0.0 },
        });
    }

    // Captions: timings are relative to the segment.
    let mut texts = Vec::new();
    if let Some(si) = pick(Pool::Subtitle) {
        if rules.no_text {
            report.note("no text");
        } else {
            let sub = t.subtitle_for(region, si);
            let missing = |have: Vec<String>, tried: Vec<String>| RenderError::MissingCopy {
                option: sub.id.clone(),
                region: region.code.clone(),
                locale: region.locale.clone(),
                tried: tried.join(", "),
                have: have.join(", "),
            };
            let frame = |secs: f64| (start + (secs * fps as f64).round() as u32).min(end);
            /// (copy, karaoke marks, first frame, end frame)
            type Timed<'a> = (&'a str, &'a [(usize, f64)], u32, u32);
            let mut lines: Vec<Timed> = Vec::new();
            if !sub.text.is_empty() {
                let text = copy_or_fallback(t, &sub.text, region, &mut report.rules_applied)
                    .map_err(|tried| missing(sub.text.keys().cloned().collect(), tried))?;
                lines.push((text, &[], start, end));
            }
            for l in &sub.lines {
                let text = copy_or_fallback(t, &l.text, region, &mut report.rules_applied)
                    .map_err(|tried| missing(l.text.keys().cloned().collect(), tried))?;
                lines.push((text, &[], frame(l.start), frame(l.end)));
            }
            if !sub.captions.is_empty() {
                // Each locale keeps its own cue timings: the region's file decides when.
                let cues = crate::template::locale_lookup(&sub.captions, region)
                    .map_err(|tried| missing(sub.captions.keys().cloned().collect(), tried))?;
                for c in cues {
                    lines.push((&c.text, &c.marks, frame(c.start), frame(c.end)));
                }
            }
            for (text, marks, first, last) in lines {
                if first >= last {
                    // Shorter than a frame, or after the end of the scene.
                    continue;
                }
                // Karaoke marks are seconds on the caption file's timeline, which starts with
                // its scene.
                let timing = captions::Timing {
                    start: first,
                    end: last,
                    fps,
                    marks,
                };
                let caption = place_text(sub, text, &timing, region, w, area, fonts, text_cache)?;
                report.text_boxes.push([
                    caption.x as f32 / w as f32,
                    caption.y as f32 / h as f32,
                    caption.width() as f32 / w as f32,
                    caption.height() as f32 / h as f32,
                ]);
                // The raster's own layout says which families its runs fell back to.
                report.fonts.extend(caption.families());
                texts.push(TextLayer { caption });
            }
        }
    }

    // Stickers and badges.
    let mut stickers = Vec::new();
    if let Some(bi) = pick(Pool::Badge) {
        let b = &t.badges[bi];
        if rules.no_text {
            report.note("no badge (no text/logos)");
        } else {
            let copy = if b.text.is_empty() {
                None
            } else {
                Some(
                    copy_or_fallback(t, &b.text, region, &mut report.rules_applied).map_err(
                        |tried| RenderError::MissingCopy {
                            option: b.id.clone(),
                            region: region.code.clone(),
                            locale: region.locale.clone(),
                            tried: tried.join(", "),
                            have: b.text.keys().cloned().collect::<Vec<_>>().join(", "),
                        },
                    )?,
                )
            };
            let first = (start + (b.start * fps as f64).round() as u32).min(end);
            let last = b
                .end
                .map(|e| (start + (e * fps as f64).round() as u32).min(end))
                .unwrap_or(end);
            let (first, last) = if is_video {
                (first, last)
            } else {
                (start, end.max(start + 1))
            };
            if first < last {
                let s = badge::sticker(
                    b,
                    copy,
                    region,
                    (w, h),
                    area,
                    (first, last, fps),
                    fonts,
                    text_cache,
                )?;
                report.text_boxes.push([
                    s.x as f32 / w as f32,
                    s.y as f32 / h as f32,
                    s.width() as f32 / w as f32,
                    s.height() as f32 / h as f32,
                ]);
                stickers.push(s);
            }
        }
    }

    // A still backdrop gets the look's static parts once; when nothing on it moves, the
    // product and the picture-wide parts (frame blur, sharpening) are baked in too.
    let mut plate_done = false;
    if let Backdrop::Plate(plate) = &mut backdrop {
        if let Some(l) = &look {
            l.apply_layer(plate);
            l.apply_background(plate);
        }
        if motion.is_none() && product.as_ref().is_none_or(|p| !p.moves(false)) {
            if let Some(p) = &product {
                ops::blend(plate, &p.placed.img, p.placed.x, p.placed.y, 1.0);
            }
            if let Some(l) = &look {
                l.apply_picture(plate);
            }
            plate_done = true;
        }
    }

    Ok(Segment {
        start,
        end,
        transition,
        backdrop,
        motion,
        product,
        plate_done,
        texts,
        stickers,
        look,
    })
}

fn with_shadow(img: &RgbaImage, color: Rgba, offset: (f32, f32), blur: f32) -> Placed {
    let r = blur.round().max(0.0) as u32;
    let (dx, dy) = (offset.0.round() as i64, offset.1.round() as i64);
    let margin = (3 * r) as i64;
    let left = margin + (-dx).max(0);
    let top = margin + (-dy).max(0);
    let cw = img.width() as i64 + 2 * margin + dx.abs();
    let ch = img.height() as i64 + 2 * margin + dy.abs();
    let mut alpha = vec![0u8; (cw * ch) as usize];
    for (x, y, p) in img.enumerate_pixels() {
        let (sx, sy) = (x as i64 + left + dx, y as i64 + top + dy);
        alpha[(sy * cw + sx) as usize] = p.0[3];
    }
    ops::blur_alpha(&mut alpha, cw as usize, ch as usize, r as usize);
    let mut canvas = RgbaImage::new(cw as u32, ch as u32);
    for (i, p) in canvas.pixels_mut().enumerate() {
        let a = (alpha[i] as u32 * color.0[3] as u32 / 255) as u8;
        p.0 = [color.0[0], color.0[1], color.0[2], a];
    }
    let mut canvas = ops::premultiply(canvas);
    ops::blend(&mut canvas, &ops::premultiply(img.clone()), left, top, 1.0);
    Placed {
        img: canvas,
        x: -left,
        y: -top,
    }
}

#[allow(clippy::too_many_arguments)]
fn place_text(
    sub: &Subtitle,
    text: &str,
    timing: &captions::Timing<'_>,
    region: &Region,
    canvas_w: u32,
    area: &Area,
    fonts: &FontBook,
    cache: &TextCache,
) -> Result<captions::Caption, RenderError> {
    let size = sub.size * canvas_w as f32;
    let style = TextStyle {
        families: sub.fonts.clone(),
        size_px: size,
        min_size_px: (sub.min_size * canvas_w as f32).min(size),
        color: sub.color,
        outline: sub
            .outline
            .as_ref()
            .map(|o| (o.color, o.width * size / 48.0)),
        shadow: sub.shadow.as_ref().map(|s| {
            (
                s.color,
                (s.offset.0 * size, s.offset.1 * size),
                s.blur * size,
            )
        }),
        background: sub.background.as_ref().map(|b| (b.color, b.padding * size)),
        align: Align::Center,
        line_height: 1.25,
    };
    let max_w = (area.w as f32 * 0.92) as u32;
    let max_h = (area.h as f32 * 0.4) as u32;
    // The same caption recurs across variants and presets of a batch: shape it once.
    let render = |style: &TextStyle| {
        cache
            .get_or_render(
                fonts,
                text,
                &region.locale,
                Some(region.direction.clone()),
                style,
                max_w,
                max_h,
            )
            .map_err(|source| RenderError::Text {
                option: sub.id.clone(),
                locale: region.locale.clone(),
                source,
            })
    };
    let raster = render(&style)?;
    // Karaoke draws sung words from a second block in the highlight colour: colour does not
    // change the layout, so the two blocks line up pixel for pixel.
    let highlight = match sub.animation {
        Animation::Karaoke => Some(render(&TextStyle {
            color: sub.highlight,
            ..style.clone()
        })?),
        _ => None,
    };
    let img = &raster.image;
    let margin = (area.h as f32 * 0.04) as i64;
    let x = area.x as i64 + (area.w as i64 - img.width() as i64) / 2;
    let y = match sub.position {
        VPos::Top => area.y as i64 + margin,
        VPos::Center => area.y as i64 + (area.h as i64 - img.height() as i64) / 2,
        VPos::Bottom => area.y as i64 + area.h as i64 - img.height() as i64 - margin,
    };
    Ok(captions::Caption::new(
        raster.clone(),
        highlight,
        x,
        y,
        timing,
        sub.animation,
        sub.animation_time,
    ))
}

impl Segment {
    /// Progress through the segment at timeline frame `tf`, 0..=1.
    fn progress(&self, tf: u32) -> f32 {
        let len = (self.end - self.start).max(1) as f32;
        ((tf.saturating_sub(self.start)) as f32 / len).clamp(0.0, 1.0)
    }

    /// Background and product at timeline frame `tf`, graded — the frame before any caption —
    /// written over `out` (canvas-sized), so the executor can recycle frame buffers.
    fn clean_plate_into(&self, tf: u32, out: &mut RgbaImage, fps: u32) {
        let (w, h) = out.dimensions();
        let local = tf.saturating_sub(self.start);
        let (zoom, pan) = match &self.motion {
            Some(m) => motion::ken_burns_at(&m.kb, self.progress(tf)),
            None => (1.0, (0.0, 0.0)),
        };
        let window = |img: &RgbaImage, out: &mut RgbaImage| {
            ops::resize_opaque_into(
                img,
                out,
                Some(motion::view_window(img.dimensions(), zoom, pan)),
            )
        };
        match &self.backdrop {
            Backdrop::Plate(p) if self.motion.is_some() => window(p, out),
            Backdrop::Plate(p) => out.copy_from_slice(p),
            Backdrop::Clip {
                clip,
                fit,
                pad,
                looped,
            } => {
                let n = clip.len().max(1) as u32;
                let k = if *looped { local % n } else { local.min(n - 1) };
                let src = clip.frame(k as usize);
                // Grading the source frame before it is scaled up touches far fewer pixels.
                let graded = self.look.as_ref().filter(|l| l.changes_colour()).map(|l| {
                    let mut graded = src.clone();
                    l.apply_layer(&mut graded);
                    graded
                });
                let src = graded.as_ref().unwrap_or(src);
                match &self.motion {
                    Some(m) => {
                        let (bw, bh) = (
                            (w as f32 * m.max_zoom).ceil() as u32,
                            (h as f32 * m.max_zoom).ceil() as u32,
                        );
                        window(&ops::fit_opaque(src, bw, bh, *fit, *pad), out);
                    }
                    None => ops::fit_opaque_into(src, out, *fit, *pad),
                }
                if let Some(l) = &self.look {
                    l.apply_background(out);
                }
            }
        }
        if self.plate_done {
            return;
        }
        if let Some(p) = &self.product {
            let mut pose = motion::pose_at(
                &p.keyframes,
                p.idle.as_ref(),
                local as f32 / fps.max(1) as f32,
            );
            if p.parallax != 0.0 {
                // The picture moves against the view: a layer nearer the viewer moves more.
                pose.offset.0 -= pan.0 * zoom * p.parallax;
                pose.offset.1 -= pan.1 * zoom * p.parallax;
            }
            draw_posed(out, p, pose);
        }
        if let Some(l) = &self.look {
            l.apply_picture(out);
        }
    }

    fn render_into(&self, tf: u32, out: &mut RgbaImage, fps: u32, still: bool) {
        self.clean_plate_into(tf, out, fps);
        for t in &self.texts {
            t.caption.draw(out, tf, still);
        }
        for s in &self.stickers {
            s.draw(out, tf, still);
        }
        // Vignette and grain sit over the captions, as a lens and film would.
        if let Some(l) = &self.look {
            l.apply_frame(out, tf);
        }
    }
}

/// The product at a pose: moved, scaled about its centre, turned and faded.
fn draw_posed(canvas: &mut RgbaImage, p: &ProductLayer, pose: Pose) {
    let (w, h) = (canvas.width() as f32, canvas.height() as f32);
    let dx = (pose.offset.0 * w).round() as i64;
    let dy = (pose.offset.1 * h).round() as i64;
    if (pose.scale - 1.0).abs() < 0.002 && pose.rotation.abs() < 0.05 {
        ops::blend(
            canvas,
            &p.placed.img,
            p.placed.x + dx,
            p.placed.y + dy,
            pose.opacity,
        );
        return;
    }
    if pose.scale <= 0.001 || pose.opacity <= 0.0 {
        return;
    }
    let (pw, ph) = p.straight.dimensions();
    let (sw, sh) = (
        ((pw as f32 * pose.scale).round() as u32).max(1),
        ((ph as f32 * pose.scale).round() as u32).max(1),
    );
    let scaled = if (sw, sh) == (pw, ph) {
        p.straight.clone()
    } else {
        ops::resize(&p.straight, sw, sh, None)
    };
    let turned = ops::premultiply(ops::rotate(&scaled, pose.rotation));
    let cx = p.placed.x as f32 + pw as f32 / 2.0;
    let cy = p.placed.y as f32 + ph as f32 / 2.0;
    let x = (cx - turned.width() as f32 / 2.0).round() as i64 + dx;
    let y = (cy - turned.height() as f32 / 2.0).round() as i64 + dy;
    ops::blend(canvas, &turned, x, y, pose.opacity);
}

impl Creative {
    fn timeline_frame(&self, i: u32) -> u32 {
        if self.frames == 1 {
            self.poster_frame
        } else {
            i
        }
    }

    /// The transition into segment `j` covering timeline frame `tf`, if any: the window is
    /// centred on the cut.
    fn transition_at(&self, j: usize, tf: u32) -> Option<f32> {
        let s = self.segments.get(j).filter(|_| j > 0)?;
        let n = (s.transition.duration * self.fps as f64).round() as u32;
        if n == 0 || s.transition.kind == TransitionKind::Cut {
            return None;
        }
        let from = s.start.saturating_sub(n / 2);
        (from..from + n).contains(&tf).then(|| {
            motion::ease(
                s.transition.easing,
                (tf - from) as f32 / n as f32 + 0.5 / n as f32,
            )
        })
    }

    /// The finished frame `i` (0-based among the frames to encode).
    pub fn frame(&self, i: u32) -> RgbaImage {
        let mut f = RgbaImage::new(self.width, self.height);
        self.frame_into(i, &mut f);
        f
    }

    /// Frame `i` written over `out`, which must be the canvas' size: every pixel is replaced,
    /// so a recycled buffer needs no clearing.
    pub fn frame_into(&self, i: u32, out: &mut RgbaImage) {
        assert_eq!(
            out.dimensions(),
            (self.width, self.height),
            "frame buffer of the canvas' size"
        );
        let tf = self.timeline_frame(i);
        let still = self.frames == 1;
        let fps = self.fps;
        let k = self
            .segments
            .iter()
            .rposition(|s| s.start <= tf)
            .unwrap_or(0);
        let blend = if still {
            None
        } else {
            [k, k + 1]
                .into_iter()
                .find_map(|j| self.transition_at(j, tf).map(|p| (j, p)))
        };
        match blend {
            Some((j, p)) => {
                let (a, b) = (&self.segments[j - 1], &self.segments[j]);
                let mut old = RgbaImage::new(self.width, self.height);
                a.render_into(tf, &mut old, fps, false);
                b.render_into(tf, out, fps, false);
                *out = motion::transition(&b.transition.kind, &old, out, p);
            }
            None => self.segments[k].render_into(tf, out, fps, still),
        }
        if self.frames > 1 {
            let mut k = 1.0f32;
            if self.fade_in > 0 && i < self.fade_in {
                k = k.min(i as f32 / self.fade_in as f32);
            }
            if self.fade_out > 0 && i + self.fade_out >= self.frames {
                k = k.min((self.frames - 1 - i) as f32 / self.fade_out as f32);
            }
            if k < 1.0 {
                ops::darken(out, k);
            }
        }
    }
}
