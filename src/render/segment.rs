//! Segments: one `[[scene]]` of a job (or the whole timeline without scenes) laid out for
//! the canvas, and how a segment composes a frame.

use std::sync::Arc;

use image::RgbaImage;

use super::assets::ClipFrames;
use super::motion::{self, Pose};
use super::{badge, captions, look, ops, Area, Ctx, RenderError, Report};
use crate::template::{
    copy_or_fallback, Anchor, Animation, BackgroundSource, Direction, Fit, Idle, KenBurns,
    Keyframe, Pool, Region, Rgba, Subtitle, Transition, VPos,
};
use crate::text::{Align, FontBook, TextCache, TextStyle};

/// A premultiplied layer at a canvas position.
#[derive(Clone)]
struct Placed {
    img: Arc<RgbaImage>,
    x: i64,
    y: i64,
}

/// A caption with its time and animation (rasterized once; see `captions.rs`).
struct TextLayer {
    caption: captions::Caption,
    info: super::OverlayInfo,
}

enum Backdrop {
    /// Background (and, for a video when it does not move, the product) composed and graded
    /// once; shared with the run's other jobs (`Assets::fitted_backdrop`) until a look or
    /// product is drawn into it.
    Plate(Arc<RgbaImage>),
    /// Not drawn (`prepare_layout`); `moving`: a clip, whose frames differ.
    Skipped { moving: bool },
    Clip {
        clip: ClipFrames,
        /// The background option, named by errors while streaming.
        option: String,
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
    straight: Arc<RgbaImage>,
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
pub(super) struct Segment {
    /// Timeline frames [start, end).
    pub(super) start: u32,
    pub(super) end: u32,
    /// How it enters: kind, length, easing.
    pub(super) transition: Transition,
    backdrop: Backdrop,
    motion: Option<BackdropMotion>,
    product: Option<ProductLayer>,
    /// The plate already holds the product and the look's picture-wide parts.
    plate_done: bool,
    texts: Vec<TextLayer>,
    stickers: Vec<(badge::Sticker, super::OverlayInfo)>,
    look: Option<look::Look>,
    /// The product's own pixels (no shadow) where they rest, for the layout lint.
    product_mask: Option<Arc<super::Mask>>,
}

/// A product as a preset and region show it at rest — scaled, turned, graded, shadowed —
/// which no caption, sound or background changes: placed once per run for the jobs that
/// share it (`Assets::placed_product`).
pub(super) struct PlacedProduct {
    placed: Placed,
    /// Straight alpha, for per-frame scaling; only when the product moves (else 1×1).
    straight: Arc<RgbaImage>,
    mask: Arc<super::Mask>,
    product_box: super::NormBox,
}

impl PlacedProduct {
    /// What it holds in memory, for the cache's budget.
    pub(super) fn bytes(&self) -> usize {
        self.placed.img.as_raw().len() + self.straight.as_raw().len() + self.mask.alpha.len()
    }
}

/// One segment: the options its scene (or the variant, without scenes) picked, laid out.
pub(super) fn prepare_segment(
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
    let bg_index = pick(Pool::Background).unwrap_or(job.choices.background);
    let bg = t.background_for(region, bg_index);
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
    let mut backdrop = if cx.layout_only {
        Backdrop::Skipped {
            moving: !rules.white_background && matches!(bg.source, BackgroundSource::Video { .. }),
        }
    } else if rules.white_background {
        report.note("white background");
        let key = (region.code.clone(), None, w, h);
        Backdrop::Plate(assets.fitted_backdrop(key, || Ok(ops::solid(w, h, Rgba::WHITE)))?)
    } else {
        let key = (region.code.clone(), Some(bg_index), bw, bh);
        match &bg.source {
            BackgroundSource::Color(c) => Backdrop::Plate(assets.fitted_backdrop(key, || {
                Ok(ops::solid(bw, bh, Rgba([c.0[0], c.0[1], c.0[2], 255])))
            })?),
            BackgroundSource::Gradient { from, to, angle } => Backdrop::Plate(
                assets.fitted_backdrop(key, || Ok(ops::gradient(bw, bh, *from, *to, *angle)))?,
            ),
            BackgroundSource::Image(p) => Backdrop::Plate(assets.fitted_backdrop(key, || {
                let img = assets.image(p, "background", &bg.id)?;
                Ok(ops::fit(&img, bw, bh, bg.fit, bg.pad))
            })?),
            BackgroundSource::Video {
                path,
                looped,
                start,
            } => {
                let clip = assets.clip(path, *start, &bg.id)?;
                Backdrop::Clip {
                    clip,
                    option: bg.id.clone(),
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
    let mut product_mask = None;
    if let Some(pi) = pick(Pool::Product) {
        let p = t.product_for(region, pi);
        let src = assets.image(&p.source, "product", &p.id)?;
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
        let moves = animated && (!p.keyframes.is_empty() || p.idle.is_some() || p.parallax != 0.0);
        let key = (
            preset.id.clone(),
            region.code.clone(),
            pi,
            pick(Pool::Effects),
        );
        let placed = assets.placed_product(key, || {
            // Cut-outs often carry transparent margins; size by what is visible.
            let src = match ops::alpha_bounds(&src) {
                Some((x, y, bw, bh)) if (bw, bh) != src.dimensions() => {
                    image::imageops::crop_imm(&*src, x, y, bw, bh).to_image()
                }
                _ => (*src).clone(),
            };
            let (pw, ph) = (src.width() as f32, src.height() as f32);
            let s = (scale * box_area.w as f32 / pw).min(scale * box_area.h as f32 / ph);
            let (tw, th) = (
                ((pw * s).round() as u32).max(1),
                ((ph * s).round() as u32).max(1),
            );
            let mut scaled = ops::rotate(&ops::resize(&src, tw, th, None), rotation);
            // The grade is a look on the picture; applying it to each layer once (rather than
            // to every composed frame) is the same for opaque pixels and far cheaper over video.
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
            let product_box = [
                px as f32 / w as f32,
                py as f32 / h as f32,
                scaled.width() as f32 / w as f32,
                scaled.height() as f32 / h as f32,
            ];
            let mask = Arc::new(super::Mask::of(&scaled, px, py));
            let short = w.min(h) as f32;
            let layer = match shadow {
                Some(sh) => with_shadow(
                    &scaled,
                    sh.color,
                    (sh.offset.0 * short, sh.offset.1 * short),
                    sh.blur * short,
                ),
                None => Placed {
                    img: Arc::new(ops::premultiply(scaled)),
                    x: 0,
                    y: 0,
                },
            };
            let straight = if moves {
                Arc::new(ops::unpremultiply((*layer.img).clone()))
            } else {
                Arc::new(RgbaImage::new(1, 1))
            };
            PlacedProduct {
                placed: Placed {
                    img: layer.img,
                    x: px + layer.x,
                    y: py + layer.y,
                },
                straight,
                mask,
                product_box,
            }
        });
        report.product_box.get_or_insert(placed.product_box);
        product_mask = Some(placed.mask.clone());
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
        product = Some(ProductLayer {
            placed: placed.placed.clone(),
            straight: placed.straight.clone(),
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
                let info = super::OverlayInfo {
                    pool: Pool::Subtitle,
                    option: sub.id.clone(),
                    copy: text.to_string(),
                    color: sub.color,
                    outline: sub.outline.as_ref().map(|o| o.color),
                    underlay: sub.background.as_ref().map(|b| b.color),
                };
                texts.push(TextLayer { caption, info });
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
                let info = super::OverlayInfo {
                    pool: Pool::Badge,
                    option: b.id.clone(),
                    copy: copy.unwrap_or_default().to_string(),
                    color: b.text_color,
                    outline: None,
                    underlay: Some(b.fill),
                };
                stickers.push((s, info));
            }
        }
    }

    // A still backdrop gets the look's static parts once; when nothing on it moves, the
    // product and the picture-wide parts (frame blur, sharpening) are baked in too.
    //
    // A still is drawn once: without a look, its backdrop and product are baked once for
    // the stills that share them (`Assets::baked_still`); with one, the look makes the
    // backdrop the job's own, and its product and look are drawn over the frame instead
    // (`clean_plate_into`). Either way the same operations in the same order on the same
    // pixels.
    let mut plate_done = false;
    if let (Backdrop::Plate(plate), Some(p), None, None, false) =
        (&mut backdrop, &product, &look, &motion, is_video)
    {
        if !p.moves(false) {
            *plate = assets.baked_still(plate, &p.placed.img, (p.placed.x, p.placed.y));
            plate_done = true;
        }
    }
    if let Backdrop::Plate(plate) = &mut backdrop {
        if let Some(l) = &look {
            let plate = Arc::make_mut(plate);
            l.apply_layer(plate);
            l.apply_background(plate);
        }
        if is_video && motion.is_none() && product.as_ref().is_none_or(|p| !p.moves(false)) {
            let plate = Arc::make_mut(plate);
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
        product_mask,
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
        img: Arc::new(canvas),
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
    /// A finished picture held from `start` to `end` (the end card): nothing on it moves.
    pub(super) fn still(
        start: u32,
        end: u32,
        transition: Transition,
        picture: RgbaImage,
    ) -> Segment {
        Segment {
            start,
            end,
            transition,
            backdrop: Backdrop::Plate(Arc::new(picture)),
            motion: None,
            product: None,
            plate_done: true,
            texts: Vec::new(),
            stickers: Vec::new(),
            look: None,
            product_mask: None,
        }
    }

    /// Whether a frame's pixels depend on its timeline frame rather than only on its place
    /// in the segment (captions, badges, Ken Burns and clips count from the segment's start;
    /// film grain is seeded by the timeline frame).
    pub(super) fn positional(&self) -> bool {
        self.look.as_ref().is_some_and(|l| l.depends_on_frame())
    }

    /// Whether every frame of the segment has the same plate.
    pub(super) fn still_plate(&self) -> bool {
        let moving_backdrop = match &self.backdrop {
            Backdrop::Plate(_) => false,
            Backdrop::Skipped { moving } => *moving,
            Backdrop::Clip { .. } => true,
        };
        !moving_backdrop
            && self.motion.is_none()
            && self.product.as_ref().is_none_or(|p| !p.moves(false))
    }

    /// Progress through the segment at timeline frame `tf`, 0..=1.
    fn progress(&self, tf: u32) -> f32 {
        let len = (self.end - self.start).max(1) as f32;
        ((tf.saturating_sub(self.start)) as f32 / len).clamp(0.0, 1.0)
    }

    /// Background and product at timeline frame `tf`, graded — the frame before any caption —
    /// written over `out` (canvas-sized), so the executor can recycle frame buffers. Fails
    /// only when a streamed clip cannot be decoded.
    pub(super) fn clean_plate_into(
        &self,
        tf: u32,
        out: &mut RgbaImage,
        fps: u32,
    ) -> Result<(), RenderError> {
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
            Backdrop::Skipped { .. } => {
                unreachable!("a creative prepared for its layout is never drawn")
            }
            Backdrop::Clip {
                clip,
                option,
                fit,
                pad,
                looped,
            } => {
                clip.with_frame(local, *looped, |src| {
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
                })
                .map_err(|e| RenderError::Media {
                    pool: "background",
                    option: option.clone(),
                    source: Arc::new(e),
                })?;
                if let Some(l) = &self.look {
                    l.apply_background(out);
                }
            }
        }
        if self.plate_done {
            return Ok(());
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
        Ok(())
    }

    pub(super) fn render_into(
        &self,
        tf: u32,
        out: &mut RgbaImage,
        fps: u32,
        still: bool,
    ) -> Result<(), RenderError> {
        self.clean_plate_into(tf, out, fps)?;
        for t in &self.texts {
            t.caption.draw(out, tf, still);
        }
        for (s, _) in &self.stickers {
            s.draw(out, tf, still);
        }
        // Vignette and grain sit over the captions, as a lens and film would.
        if let Some(l) = &self.look {
            l.apply_frame(out, tf);
        }
        Ok(())
    }
}

/// A caption or badge over a still: its top row, height, and frames [start, end).
pub(super) type Drawn = (i64, u32, u32, u32);

impl Segment {
    /// For a still at timeline frame `tf` drawn as its baked plate with copy over it (no
    /// look, no motion: `render_into` copies the plate, then blends the captions and badges
    /// at rest): the plate, and each caption's and badge's top, height and frames.
    pub(super) fn over_plate(&self, tf: u32) -> Option<(Arc<RgbaImage>, Vec<Drawn>)> {
        let Backdrop::Plate(plate) = &self.backdrop else {
            return None;
        };
        if !self.plate_done || self.motion.is_some() || self.look.is_some() || tf < self.start {
            return None;
        }
        let drawn = self
            .layers()
            .map(|(_, img, _, y, start, end)| (y, img.height(), start, end));
        Some((plate.clone(), drawn.collect()))
    }

    /// The captions, then the badges, as drawn at rest: what each is, its picture, where
    /// (x, y) and its frames [start, end).
    fn layers(
        &self,
    ) -> impl Iterator<Item = (&super::OverlayInfo, &RgbaImage, i64, i64, u32, u32)> {
        let captions = self.texts.iter().map(|t| {
            let c = &t.caption;
            (&t.info, c.image(), c.x, c.y, c.start, c.end)
        });
        let badges = self
            .stickers
            .iter()
            .map(|(s, info)| (info, s.image(), s.x, s.y, s.start, s.end));
        captions.chain(badges)
    }

    /// The captions and badges as laid out, each with its frames and the box of its visible
    /// pixels, and the product's resting mask: what the layout lint measures.
    pub(super) fn overlays(&self) -> (Vec<super::Overlay>, Option<&super::Mask>) {
        let overlays = self
            .layers()
            .filter_map(|(info, img, x, y, start, end)| {
                let (bx, by, bw, bh) = ops::alpha_bounds(img)?;
                Some(super::Overlay {
                    info: info.clone(),
                    rect: [x + bx as i64, y + by as i64, bw as i64, bh as i64],
                    start,
                    end,
                })
            })
            .collect();
        (overlays, self.product_mask.as_deref())
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
        (*p.straight).clone()
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
