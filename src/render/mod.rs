//! Render stage: one planned job → a `Scene` (every layer resolved and laid out for the
//! preset's canvas) → composed RGBA frames, in order.
//!
//! A scene is prepared once per job; what does not move is composed once (the *plate*:
//! background, product, grade), so a still-background video costs one composition plus a
//! copy per frame. Captions are drawn after the grade so brand colours stay exact.

pub mod captions;
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
use crate::template::{Animation, Anchor, BackgroundSource, Direction, Fit, Grade, Region, Rgba, Subtitle, Template, VPos};
use crate::text::{Align, FontBook, TextCache, TextError, TextStyle};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{pool} `{option}`: {source}")]
    Media { pool: &'static str, option: String, source: Arc<MediaError> },
    #[error("subtitle `{option}` ({locale}): {source}")]
    Text { option: String, locale: String, source: TextError },
    #[error("subtitle `{option}` has no copy for region {region} (locale `{locale}`; tried {tried}); it has: {have}")]
    MissingCopy { option: String, region: String, locale: String, tried: String, have: String },
    #[error("audio `{option}` has no voice-over for region {region} (locale `{locale}`; tried {tried})")]
    MissingVoiceover { option: String, region: String, locale: String, tried: String },
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
            let Some(region) = t.regions.iter().find(|r| r.code == job.region) else { continue };
            max_w = max_w.max(job.width);
            max_h = max_h.max(job.height);
            match &t.background_for(region, job.choices.background).source {
                BackgroundSource::Image(p) => want_images.push(p.clone()),
                BackgroundSource::Video { path, start, .. } => want_clips.push((path.clone(), *start)),
                _ => {}
            }
            if let Some(i) = job.choices.product {
                want_images.push(t.product_for(region, i).source.clone());
            }
            if let (Some(i), PresetKind::Video) = (job.choices.audio, job.kind) {
                if let Some(spec) = presets.get(&job.preset).and_then(|p| p.audio.as_ref()) {
                    want_music.extend(t.audio_for(region, i).files().map(|p| (p.clone(), spec.sample_rate, spec.channels)));
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
                let r = media::load_image(&p, limits).map(Arc::new).map_err(Arc::new);
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
                let r = VideoClip::open(&p, start, clip_len, t.fps, side, side, limits).map(Arc::new).map_err(Arc::new);
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
        Assets { images, clips, music }
    }

    fn image(&self, p: &Path, pool: &'static str, option: &str) -> Result<Arc<RgbaImage>, RenderError> {
        match self.images.get(p) {
            Some(Ok(img)) => Ok(img.clone()),
            Some(Err(e)) => Err(RenderError::Media { pool, option: option.into(), source: e.clone() }),
            None => unreachable!("Assets::load covers every planned image"),
        }
    }
}

/// The copy of a subtitle for a region: its locale, then the region's fallbacks, then the
/// bare language (`es-MX` → `es`).
pub fn copy_for<'a>(texts: &'a BTreeMap<String, String>, region: &Region) -> Result<&'a str, Vec<String>> {
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
                let note = format!("copy fallback: `{loc}` copy used for {} (no {} copy; --allow-fallback)", region.code, region.locale);
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
    /// Background, product and grade composed once.
    Plate(RgbaImage),
    Clip { clip: Arc<VideoClip>, fit: Fit, pad: Rgba, looped: bool },
}

/// Normalised rectangle (x, y, w, h) in 0..=1 of the canvas.
pub type NormBox = [f32; 4];

pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Frames to encode (1 for image presets).
    pub frames: u32,
    /// For image presets: the frame of the timeline the still is taken from.
    pub poster_frame: u32,
    backdrop: Backdrop,
    product: Option<Placed>,
    texts: Vec<TextLayer>,
    grade: Option<Grade>,
    fade_in: u32,
    fade_out: u32,
    /// Where the product was drawn, for the duplicate scorer.
    pub product_box: Option<NormBox>,
    pub text_boxes: Vec<NormBox>,
    /// Font families the captions were drawn with, in order of first use.
    pub fonts: Vec<String>,
    /// Preset rules the renderer applied (e.g. "white background"), for the manifest.
    pub rules_applied: Vec<String>,
}

struct Area {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
}

fn safe_area(p: &Preset, dir: &Direction) -> Area {
    let z: SafeZone = if *dir == Direction::Rtl { p.safe_zone_rtl } else { p.safe_zone };
    let w = p.width.saturating_sub(z.left + z.right).max(p.width / 4);
    let h = p.height.saturating_sub(z.top + z.bottom).max(p.height / 4);
    Area { x: z.left.min(p.width - w), y: z.top.min(p.height - h), w, h }
}

/// Prepares one job's scene: every layer decoded, fitted, shaped and placed.
pub fn prepare(
    t: &Template,
    job: &Job,
    preset: &Preset,
    region: &Region,
    assets: &Assets,
    fonts: &FontBook,
    text_cache: &TextCache,
) -> Result<Scene, RenderError> {
    let (w, h) = (preset.width, preset.height);
    let rules = &preset.rules;
    let mut rules_applied = Vec::new();
    let area = safe_area(preset, &region.direction);
    let fps = t.fps;
    let is_video = preset.kind == PresetKind::Video;
    let timeline = (t.duration * fps as f64).round().max(1.0) as u32;
    let frames = if is_video { timeline } else { 1 };
    let poster_frame = if is_video { 0 } else { ((t.poster_time * fps as f64).round() as u32).min(timeline - 1) };

    // Background.
    let bg = t.background_for(region, job.choices.background);
    let mut backdrop = if rules.white_background {
        rules_applied.push("white background".to_string());
        Backdrop::Plate(ops::solid(w, h, Rgba::WHITE))
    } else {
        match &bg.source {
            BackgroundSource::Color(c) => Backdrop::Plate(ops::solid(w, h, Rgba([c.0[0], c.0[1], c.0[2], 255]))),
            BackgroundSource::Gradient { from, to, angle } => Backdrop::Plate(ops::gradient(w, h, *from, *to, *angle)),
            BackgroundSource::Image(p) => {
                let img = assets.image(p, "background", &bg.id)?;
                Backdrop::Plate(ops::fit(&img, w, h, bg.fit, bg.pad))
            }
            BackgroundSource::Video { path, looped, .. } => {
                let clip = match assets.clips.get(path) {
                    Some(Ok(c)) => c.clone(),
                    Some(Err(e)) => return Err(RenderError::Media { pool: "background", option: bg.id.clone(), source: e.clone() }),
                    None => unreachable!("Assets::load covers every planned clip"),
                };
                Backdrop::Clip { clip, fit: bg.fit, pad: bg.pad, looped: *looped }
            }
        }
    };

    // Product.
    let mut product = None;
    let mut product_box = None;
    if let Some(pi) = job.choices.product {
        let p = t.product_for(region, pi);
        let src = assets.image(&p.source, "product", &p.id)?;
        // Cut-outs often carry transparent margins; size by what is visible.
        let src = match ops::alpha_bounds(&src) {
            Some((x, y, bw, bh)) if (bw, bh) != src.dimensions() => image::imageops::crop_imm(&*src, x, y, bw, bh).to_image(),
            _ => (*src).clone(),
        };
        let (pw, ph) = (src.width() as f32, src.height() as f32);
        let (mut scale, mut anchor, mut offset, mut rotation, mut shadow) = (p.scale, p.anchor, p.offset, p.rotation, p.shadow.clone());
        let mut box_area = Area { x: area.x, y: area.y, w: area.w, h: area.h };
        if let Some(fill) = rules.min_product_fill {
            // The platform measures the product against the whole frame: centre it, upright,
            // without a shadow that would tint the white background.
            scale = scale.max((fill + 0.03).min(0.98));
            anchor = Anchor::Center;
            offset = (0.0, 0.0);
            rotation = 0.0;
            shadow = None;
            box_area = Area { x: 0, y: 0, w, h };
            rules_applied.push(format!("product fills ≥ {:.0} %", fill * 100.0));
        }
        if region.direction == Direction::Rtl {
            anchor = anchor.mirrored();
            offset.0 = -offset.0;
        }
        let s = (scale * box_area.w as f32 / pw).min(scale * box_area.h as f32 / ph);
        let (tw, th) = (((pw * s).round() as u32).max(1), ((ph * s).round() as u32).max(1));
        let mut scaled = ops::rotate(&ops::resize(&src, tw, th, None), rotation);
        // The grade is a look on the picture; applying it to each layer once (rather than to
        // every composed frame) is the same for opaque pixels and far cheaper over video.
        if let Some(g) = job.choices.effects.and_then(|ei| t.effects_for(region, ei).grade.as_ref()).filter(|_| !rules.white_background) {
            ops::grade(&mut scaled, g);
        }
        let (fx, fy) = anchor.fractions();
        let px = box_area.x as f32 + (box_area.w as f32 - scaled.width() as f32) * fx + offset.0 * w as f32;
        let py = box_area.y as f32 + (box_area.h as f32 - scaled.height() as f32) * fy + offset.1 * h as f32;
        let (px, py) = (px.round() as i64, py.round() as i64);
        product_box = Some([
            px as f32 / w as f32,
            py as f32 / h as f32,
            scaled.width() as f32 / w as f32,
            scaled.height() as f32 / h as f32,
        ]);
        let short = w.min(h) as f32;
        let layer = match shadow {
            Some(sh) => with_shadow(&scaled, sh.color, (sh.offset.0 * short, sh.offset.1 * short), sh.blur * short),
            None => Placed { img: ops::premultiply(scaled), x: 0, y: 0 },
        };
        product = Some(Placed { img: layer.img, x: px + layer.x, y: py + layer.y });
    }

    // Captions.
    let mut texts = Vec::new();
    let mut text_boxes = Vec::new();
    let mut fonts_used: Vec<String> = Vec::new();
    if let Some(si) = job.choices.subtitle {
        if rules.no_text {
            rules_applied.push("no text".to_string());
        } else {
            let sub = t.subtitle_for(region, si);
            let missing = |have: Vec<String>, tried: Vec<String>| RenderError::MissingCopy {
                option: sub.id.clone(),
                region: region.code.clone(),
                locale: region.locale.clone(),
                tried: tried.join(", "),
                have: have.join(", "),
            };
            let frame = |secs: f64| ((secs * fps as f64).round() as u32).min(timeline);
            /// (copy, karaoke marks, first frame, end frame)
            type Timed<'a> = (&'a str, &'a [(usize, f64)], u32, u32);
            let mut lines: Vec<Timed> = Vec::new();
            if !sub.text.is_empty() {
                let text = copy_or_fallback(t, &sub.text, region, &mut rules_applied).map_err(|tried| missing(sub.text.keys().cloned().collect(), tried))?;
                lines.push((text, &[], 0, timeline));
            }
            for l in &sub.lines {
                let text = copy_or_fallback(t, &l.text, region, &mut rules_applied).map_err(|tried| missing(l.text.keys().cloned().collect(), tried))?;
                lines.push((text, &[], frame(l.start), frame(l.end)));
            }
            if !sub.captions.is_empty() {
                // Each locale keeps its own cue timings: the region's file decides when.
                let cues = captions::for_region(&sub.captions, region).map_err(|tried| missing(sub.captions.keys().cloned().collect(), tried))?;
                for c in cues {
                    lines.push((&c.text, &c.marks, frame(c.start), frame(c.end)));
                }
            }
            for (text, marks, start, end) in lines {
                if start >= end {
                    // Shorter than a frame, or after the end of the video.
                    continue;
                }
                let timing = captions::Timing { start, end, fps, marks };
                let caption = place_text(sub, text, &timing, region, w, &area, fonts, text_cache)?;
                text_boxes.push([
                    caption.x as f32 / w as f32,
                    caption.y as f32 / h as f32,
                    caption.width() as f32 / w as f32,
                    caption.height() as f32 / h as f32,
                ]);
                // The raster's own layout says which families its runs fell back to.
                fonts_used.extend(caption.families());
                texts.push(TextLayer { caption });
            }
        }
    }

    // Effects.
    let (mut grade, mut fade_in, mut fade_out) = (None, 0, 0);
    if let Some(ei) = job.choices.effects {
        let e = t.effects_for(region, ei);
        grade = e.grade.clone();
        if rules.white_background && grade.is_some() {
            grade = None;
            rules_applied.push("grade skipped (white background must stay RGB 255)".to_string());
        }
        if is_video {
            fade_in = (e.fade_in * fps as f64).round() as u32;
            fade_out = (e.fade_out * fps as f64).round() as u32;
        }
    }

    // A still backdrop gets the grade and the product baked in once.
    if let Backdrop::Plate(plate) = &mut backdrop {
        if let Some(g) = &grade {
            ops::grade(plate, g);
        }
        if let Some(p) = &product {
            ops::blend(plate, &p.img, p.x, p.y, 1.0);
        }
    }

    Ok(Scene {
        width: w,
        height: h,
        fps,
        frames,
        poster_frame,
        backdrop,
        product,
        texts,
        grade,
        fade_in,
        fade_out,
        product_box,
        text_boxes,
        fonts: {
            let mut seen = std::collections::HashSet::new();
            fonts_used.retain(|f| seen.insert(f.clone()));
            fonts_used
        },
        rules_applied,
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
    Placed { img: canvas, x: -left, y: -top }
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
        outline: sub.outline.as_ref().map(|o| (o.color, o.width * size / 48.0)),
        shadow: sub.shadow.as_ref().map(|s| (s.color, (s.offset.0 * size, s.offset.1 * size), s.blur * size)),
        background: sub.background.as_ref().map(|b| (b.color, b.padding * size)),
        align: Align::Center,
        line_height: 1.25,
    };
    let max_w = (area.w as f32 * 0.92) as u32;
    let max_h = (area.h as f32 * 0.4) as u32;
    // The same caption recurs across variants and presets of a batch: shape it once.
    let render = |style: &TextStyle| {
        cache
            .get_or_render(fonts, text, &region.locale, Some(region.direction.clone()), style, max_w, max_h)
            .map_err(|source| RenderError::Text { option: sub.id.clone(), locale: region.locale.clone(), source })
    };
    let raster = render(&style)?;
    // Karaoke draws sung words from a second block in the highlight colour: colour does not
    // change the layout, so the two blocks line up pixel for pixel.
    let highlight = match sub.animation {
        Animation::Karaoke => Some(render(&TextStyle { color: sub.highlight, ..style.clone() })?),
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
    Ok(captions::Caption::new(raster.clone(), highlight, x, y, timing, sub.animation, sub.animation_time))
}

impl Scene {
    fn timeline_frame(&self, i: u32) -> u32 {
        if self.frames == 1 {
            self.poster_frame
        } else {
            i
        }
    }

    /// Background and product at frame `i`, graded: the frame before any caption.
    pub fn clean_plate(&self, i: u32) -> RgbaImage {
        let tf = self.timeline_frame(i);
        match &self.backdrop {
            Backdrop::Plate(p) => p.clone(),
            Backdrop::Clip { clip, fit, pad, looped } => {
                let n = clip.len().max(1) as u32;
                let k = if *looped { tf % n } else { tf.min(n - 1) };
                let src = clip.frame(k as usize);
                // Grading the source frame before it is scaled up touches far fewer pixels.
                let mut f = match &self.grade {
                    Some(g) => {
                        let mut graded = src.clone();
                        ops::grade(&mut graded, g);
                        ops::fit(&graded, self.width, self.height, *fit, *pad)
                    }
                    None => ops::fit(src, self.width, self.height, *fit, *pad),
                };
                if let Some(p) = &self.product {
                    ops::blend(&mut f, &p.img, p.x, p.y, 1.0);
                }
                f
            }
        }
    }

    /// The finished frame `i` (0-based among the frames to encode).
    pub fn frame(&self, i: u32) -> RgbaImage {
        let tf = self.timeline_frame(i);
        let mut f = self.clean_plate(i);
        for t in &self.texts {
            t.caption.draw(&mut f, tf, self.frames == 1);
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
                ops::darken(&mut f, k);
            }
        }
        f
    }
}
