//! Render stage: one planned job → a `Creative` (every layer resolved and laid out for the
//! preset's canvas) → composed RGBA frames, in order.
//!
//! A creative is prepared once per job; what does not move is composed once (the *plate*:
//! background, product, grade), so a still-background video costs one composition plus a
//! copy per frame. Captions are drawn after the grade so brand colours stay exact.

mod assets;
mod badge;
mod bilinear;
mod blend_row;
pub(crate) mod captions;
pub mod look;
pub(crate) mod motion;
pub mod ops;
mod segment;
pub(crate) mod sound;

pub(crate) use assets::Assets;
pub use assets::Warm;
pub(crate) use sound::{soundtrack, Soundtrack};

use std::collections::BTreeMap;
use std::sync::Arc;

use image::RgbaImage;

use crate::media::MediaError;
use crate::plan::Job;
use crate::preset::{Preset, PresetKind, SafeZone};
use crate::template::{Direction, Pool, Region, Template, Transition, TransitionKind};
use crate::text::{FontBook, TextCache, TextError};
use segment::{prepare_segment, Segment};

#[derive(Debug, thiserror::Error)]
pub(crate) enum RenderError {
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

/// Normalised rectangle (x, y, w, h) in 0..=1 of the canvas.
pub(crate) type NormBox = [f32; 4];

/// What a caption or badge is, for the layout lint: whose it is, its copy, and the colours
/// that decide whether it can be read.
#[derive(Debug, Clone)]
pub(crate) struct OverlayInfo {
    /// `Pool::Subtitle` or `Pool::Badge`.
    pub pool: Pool,
    pub option: String,
    /// The copy shown (empty for a badge without text).
    pub copy: String,
    /// The text's colour.
    pub color: crate::template::Rgba,
    /// An outline drawn around the glyphs, which the text is read against where it has one.
    pub outline: Option<crate::template::Rgba>,
    /// What the text sits on inside its own block: a caption's box, a badge's fill.
    pub underlay: Option<crate::template::Rgba>,
}

/// A caption or badge as the job draws it.
#[derive(Debug, Clone)]
pub(crate) struct Overlay {
    pub info: OverlayInfo,
    /// Canvas pixels (x, y, w, h) of its visible pixels at rest (alpha above 8/255).
    pub rect: [i64; 4],
    /// Timeline frames [start, end) it shows.
    pub start: u32,
    pub end: u32,
}

/// A layer's alpha where it is drawn on the canvas.
#[derive(Debug, Clone)]
pub(crate) struct Mask {
    pub x: i64,
    pub y: i64,
    pub width: u32,
    pub height: u32,
    pub alpha: Vec<u8>,
}

impl Mask {
    fn of(img: &RgbaImage, x: i64, y: i64) -> Mask {
        Mask {
            x,
            y,
            width: img.width(),
            height: img.height(),
            alpha: img.pixels().map(|p| p.0[3]).collect(),
        }
    }

    /// Alpha at canvas pixel (x, y); 0 outside the layer.
    pub(crate) fn at(&self, x: i64, y: i64) -> u8 {
        let (lx, ly) = (x - self.x, y - self.y);
        if lx < 0 || ly < 0 || lx >= self.width as i64 || ly >= self.height as i64 {
            return 0;
        }
        self.alpha[(ly * self.width as i64 + lx) as usize]
    }
}

/// One segment's overlays and product, as the layout lint sees them.
pub(crate) struct SegmentLayout<'a> {
    pub overlays: Vec<Overlay>,
    pub product: Option<&'a Mask>,
}

/// The prepared composition of one output: its segments in play order and the video-wide
/// fades. (Not the template's `[[scene]]`: each of those becomes one `Segment`.)
pub(crate) struct Creative {
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
    /// Drawn over every frame, after the fades: the visible AI label.
    labels: Vec<badge::Sticker>,
}

/// A still that is a plate other stills share with its own copy drawn over it
/// (`Creative::over_plate`): what lets the encoder reuse the plate's untouched rows.
pub(crate) struct OverPlate {
    pub plate: Arc<RgbaImage>,
    /// Rows the copy may have changed; every other row equals the plate's.
    pub rows: Vec<std::ops::Range<u32>>,
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
    /// Only what `Creative::layout` reports is prepared: no backdrop is drawn or decoded
    /// (`prepare_layout`).
    layout_only: bool,
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

/// What every job of a run draws from: the template, its decoded assets, the fonts and the
/// shaped-text cache.
#[derive(Clone, Copy)]
pub(crate) struct Sources<'a> {
    pub t: &'a Template,
    pub assets: &'a Assets,
    pub fonts: &'a FontBook,
    pub text_cache: &'a TextCache,
}

/// Prepares one job's creative: every layer decoded, fitted, shaped and placed.
pub(crate) fn prepare(
    src: Sources,
    job: &Job,
    preset: &Preset,
    region: &Region,
) -> Result<Creative, RenderError> {
    prepare_as(src, job, preset, region, false)
}

/// `prepare` for the layout lint: captions, badges and the product are laid out exactly as
/// `prepare` lays them out, but no background is drawn, fitted or decoded — most of the
/// cost of a job that differs from the last only in its copy. The result answers `layout`
/// and `plate_instant`; it cannot draw (`plate`, frames).
pub(crate) fn prepare_layout(
    src: Sources,
    job: &Job,
    preset: &Preset,
    region: &Region,
) -> Result<Creative, RenderError> {
    prepare_as(src, job, preset, region, true)
}

fn prepare_as(
    src: Sources,
    job: &Job,
    preset: &Preset,
    region: &Region,
    layout_only: bool,
) -> Result<Creative, RenderError> {
    let Sources {
        t,
        assets,
        fonts,
        text_cache,
    } = src;
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
        layout_only,
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
                crate::template::copy_or_fallback(t, m, region, &mut notes).ok()
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
        segments.push(Segment::still(cs, timeline, e.transition.clone(), card));
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
        labels: Vec::new(),
    })
}

impl Creative {
    /// Every segment's captions, badges and product as laid out (the end card, a finished
    /// picture, has none).
    pub(crate) fn layout(&self) -> Vec<SegmentLayout<'_>> {
        self.segments
            .iter()
            .map(|s| {
                let (overlays, product) = s.overlays();
                SegmentLayout { overlays, product }
            })
            .collect()
    }

    /// The first timeline frame whose plate is the same picture as `tf`'s: the start of its
    /// segment when nothing behind the text moves there (a still or gradient background, a
    /// product at rest), else `tf` itself.
    pub(crate) fn plate_instant(&self, tf: u32) -> u32 {
        match self.segments.iter().rposition(|s| s.start <= tf) {
            Some(k) if self.segments[k].still_plate() => self.segments[k].start,
            _ => tf,
        }
    }

    /// Background and product at timeline frame `tf` as the frame shows them before any
    /// caption or badge is drawn (graded; without fades and transitions).
    pub(crate) fn plate(&self, tf: u32) -> Result<RgbaImage, RenderError> {
        let k = self
            .segments
            .iter()
            .rposition(|s| s.start <= tf)
            .unwrap_or(0);
        let mut out = RgbaImage::new(self.width, self.height);
        self.segments[k].clean_plate_into(tf, &mut out, self.fps)?;
        Ok(out)
    }

    /// Adds the visible label an output showing generated content carries where a rule pack
    /// asks for it (GB 45438-2025 explicit label): `text` at least `height` × the shorter
    /// side tall, in the safe area, on every frame.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_ai_label(
        &mut self,
        text: &str,
        height: f32,
        families: &[String],
        preset: &Preset,
        region: &Region,
        fonts: &FontBook,
        cache: &TextCache,
    ) -> Result<(), RenderError> {
        let area = safe_area(preset, &region.direction);
        let sticker = badge::ai_label(
            text,
            height,
            families,
            region,
            (self.width, self.height),
            &area,
            self.frames.max(self.poster_frame + 1),
            fonts,
            cache,
        )
        .map_err(|source| RenderError::Text {
            option: "the AI label of the rule pack".into(),
            locale: region.locale.clone(),
            source,
        })?;
        let (w, h) = (self.width as f32, self.height as f32);
        self.text_boxes.push([
            sticker.x as f32 / w,
            sticker.y as f32 / h,
            sticker.width() as f32 / w,
            sticker.height() as f32 / h,
        ]);
        self.rules_applied
            .push(format!("visible AI label \"{text}\""));
        self.labels.push(sticker);
        Ok(())
    }

    /// The composition as frame ranges, for stitching (`plan::stitch`): segments, the
    /// windows where two of them are mixed, fades, which segments draw by timeline frame,
    /// and whether a label covers every frame.
    pub(crate) fn timing(&self) -> crate::plan::stitch::Timing {
        let windows = (1..self.segments.len())
            .filter_map(|j| {
                let s = &self.segments[j];
                let n = (s.transition.duration * self.fps as f64).round() as u32;
                (n > 0 && s.transition.kind != TransitionKind::Cut).then(|| {
                    let from = s.start.saturating_sub(n / 2);
                    (from, from + n)
                })
            })
            .collect();
        crate::plan::stitch::Timing {
            segments: self.segments.iter().map(|s| (s.start, s.end)).collect(),
            windows,
            fade_in: self.fade_in,
            fade_out: self.fade_out,
            positional: self.segments.iter().map(Segment::positional).collect(),
            labelled: !self.labels.is_empty(),
        }
    }

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

    /// The segment showing timeline frame `tf`.
    fn segment_at(&self, tf: u32) -> usize {
        self.segments
            .iter()
            .rposition(|s| s.start <= tf)
            .unwrap_or(0)
    }

    /// For a still drawn as a baked plate with its own copy over it (no look, no motion):
    /// the plate, and the rows `frame_into` may draw over it. Every other row of the frame is
    /// the plate's, which the encoder then takes from the stills before (`encode::JpegPlates`).
    pub(crate) fn over_plate(&self) -> Option<OverPlate> {
        if self.frames != 1 {
            return None;
        }
        let tf = self.timeline_frame(0);
        let (plate, mut drawn) = self.segments[self.segment_at(tf)].over_plate(tf)?;
        drawn.extend(
            self.labels
                .iter()
                .map(|l| (l.y, l.height(), l.start, l.end)),
        );
        let rows = drawn
            .into_iter()
            .filter(|&(_, _, start, end)| start <= tf && tf < end)
            .filter_map(|(y, h, _, _)| {
                let top = y.clamp(0, i64::from(self.height)) as u32;
                let bottom = (y + i64::from(h)).clamp(0, i64::from(self.height)) as u32;
                (top < bottom).then_some(top..bottom)
            })
            .collect();
        Some(OverPlate { plate, rows })
    }

    /// The finished frame `i` (0-based among the frames to encode) written over `out`, which
    /// must be the canvas' size: every pixel is replaced, so a recycled buffer needs no
    /// clearing. Fails only when a streamed background clip cannot be decoded (the clips are
    /// decoded as frames are asked for, in increasing order for best speed).
    pub(crate) fn frame_into(&self, i: u32, out: &mut RgbaImage) -> Result<(), RenderError> {
        assert_eq!(
            out.dimensions(),
            (self.width, self.height),
            "frame buffer of the canvas' size"
        );
        let tf = self.timeline_frame(i);
        let still = self.frames == 1;
        let fps = self.fps;
        let k = self.segment_at(tf);
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
                a.render_into(tf, &mut old, fps, false)?;
                b.render_into(tf, out, fps, false)?;
                *out = motion::transition(&b.transition.kind, &old, out, p);
            }
            None => self.segments[k].render_into(tf, out, fps, still)?,
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
        for l in &self.labels {
            l.draw(out, tf, true);
        }
        Ok(())
    }
}
