//! Stickers (price tags, bursts, ribbons, pills) and the end card: shapes drawn with
//! anti-aliased coverage, copy shaped through the shared text cache, composed once per job
//! and only transformed per frame.

use std::sync::Arc;

use image::RgbaImage;
use rayon::prelude::*;

use super::{motion, ops, Area, RenderError};
use crate::template::{Animation, Badge, BadgeShape, Direction, EndCard, Region, Rgba};
use crate::text::{Align, FontBook, TextCache, TextRaster, TextStyle};

/// A badge ready to draw: straight-alpha image (for scaling) and its premultiplied copy.
pub(crate) struct Sticker {
    straight: RgbaImage,
    premul: RgbaImage,
    pub x: i64,
    pub y: i64,
    /// Timeline frames [start, end) during which it shows.
    pub start: u32,
    pub end: u32,
    fps: f32,
    animation: Animation,
}

/// Seconds a sticker takes to pop in or fade out.
const STICKER_IN: f32 = 0.35;

impl Sticker {
    pub(crate) fn width(&self) -> u32 {
        self.premul.width()
    }

    /// The badge as drawn at rest (premultiplied).
    pub(crate) fn image(&self) -> &RgbaImage {
        &self.premul
    }

    pub(crate) fn height(&self) -> u32 {
        self.premul.height()
    }

    pub(crate) fn draw(&self, canvas: &mut RgbaImage, tf: u32, still: bool) {
        if tf < self.start || tf >= self.end {
            return;
        }
        if still || self.animation == Animation::None {
            ops::blend(canvas, &self.premul, self.x, self.y, 1.0);
            return;
        }
        let t = ((tf - self.start) as f32 + 0.5) / self.fps;
        let left = (self.end - tf) as f32 / self.fps;
        let p_in = (t / STICKER_IN).min(1.0);
        let p_out = (left / STICKER_IN).min(1.0);
        match self.animation {
            Animation::Pop => {
                let s = motion::ease_out_back(p_in).max(0.02);
                ops::blend_scaled(
                    canvas,
                    &self.straight,
                    &self.premul,
                    self.x,
                    self.y,
                    s,
                    p_in * p_out,
                );
            }
            Animation::Slide => {
                let dy = ((1.0 - motion::ease_out_cubic(p_in)) * 0.3 * self.height() as f32).round()
                    as i64;
                ops::blend(canvas, &self.premul, self.x, self.y + dy, p_in.min(p_out));
            }
            _ => ops::blend(canvas, &self.premul, self.x, self.y, p_in.min(p_out)),
        }
    }
}

/// Anti-aliased coverage (0..=255) of `inside` over a `w`×`h` raster, 4×4 samples a pixel.
fn coverage(w: u32, h: u32, inside: impl Fn(f32, f32) -> bool + Sync) -> Vec<u8> {
    let mut out = vec![0u8; (w * h) as usize];
    out.par_chunks_mut(w as usize)
        .enumerate()
        .for_each(|(y, row)| {
            for (x, v) in row.iter_mut().enumerate() {
                let mut n = 0u32;
                for sy in 0..4 {
                    for sx in 0..4 {
                        if inside(
                            x as f32 + (sx as f32 + 0.5) / 4.0,
                            y as f32 + (sy as f32 + 0.5) / 4.0,
                        ) {
                            n += 1;
                        }
                    }
                }
                *v = (n * 255 / 16) as u8;
            }
        });
    out
}

fn rounded_rect(w: f32, h: f32, r: f32) -> impl Fn(f32, f32) -> bool + Sync {
    move |x, y| {
        let dx = (r - x).max(x - (w - r)).max(0.0);
        let dy = (r - y).max(y - (h - r)).max(0.0);
        dx * dx + dy * dy <= r * r
    }
}

/// A filled shape of `fill` at `w`×`h`, straight alpha.
pub(crate) fn shape(shape: BadgeShape, w: u32, h: u32, fill: Rgba) -> RgbaImage {
    let (fw, fh) = (w as f32, h as f32);
    let cov = match shape {
        BadgeShape::Tag => coverage(w, h, rounded_rect(fw, fh, fh * 0.18)),
        BadgeShape::Pill => coverage(w, h, rounded_rect(fw, fh, fh / 2.0)),
        BadgeShape::Circle => coverage(w, h, move |x, y| {
            let (dx, dy) = (x - fw / 2.0, y - fh / 2.0);
            (dx * dx) / (fw * fw / 4.0) + (dy * dy) / (fh * fh / 4.0) <= 1.0
        }),
        BadgeShape::Burst => coverage(w, h, move |x, y| {
            // 16 spikes: the radius runs linearly between the outer tip and the inner notch.
            const SPIKES: f32 = 16.0;
            let (dx, dy) = ((x - fw / 2.0) / (fw / 2.0), (y - fh / 2.0) / (fh / 2.0));
            let a = dy.atan2(dx).rem_euclid(std::f32::consts::TAU) / std::f32::consts::TAU * SPIKES;
            let f = (a.fract() - 0.5).abs() * 2.0;
            let r = 0.80 + 0.20 * f;
            dx * dx + dy * dy <= r * r
        }),
        BadgeShape::Ribbon => coverage(w, h, move |x, y| {
            // A band with swallow-tail notches at both ends.
            let notch = fh * 0.35;
            let mid = (y - fh / 2.0).abs() / (fh / 2.0);
            let inset = notch * (1.0 - mid);
            x >= inset && x <= fw - inset && y >= 0.0 && y <= fh
        }),
    };
    let mut img = RgbaImage::new(w, h);
    for (p, c) in img.pixels_mut().zip(cov) {
        p.0 = [
            fill.0[0],
            fill.0[1],
            fill.0[2],
            (c as u32 * fill.0[3] as u32 / 255) as u8,
        ];
    }
    img
}

/// Source-over of straight-alpha `over` onto straight-alpha `dst` at (x, y).
fn over_straight(dst: &mut RgbaImage, over: &RgbaImage, x: i64, y: i64) {
    let mut pre = ops::premultiply(dst.clone());
    ops::blend(&mut pre, &ops::premultiply(over.clone()), x, y, 1.0);
    *dst = ops::unpremultiply(pre);
}

#[allow(clippy::too_many_arguments)]
fn text_block(
    cache: &TextCache,
    fonts: &FontBook,
    families: &[String],
    text: &str,
    region: &Region,
    color: Rgba,
    size_px: f32,
    max_w: u32,
    max_h: u32,
) -> Result<Arc<TextRaster>, crate::text::TextError> {
    let style = TextStyle {
        families: families.to_vec(),
        size_px,
        min_size_px: size_px / 3.0,
        color,
        outline: None,
        shadow: None,
        background: None,
        align: Align::Center,
        line_height: 1.1,
    };
    cache.get_or_render(
        fonts,
        text,
        &region.locale,
        Some(region.direction.clone()),
        &style,
        max_w.max(1),
        max_h.max(1),
    )
}

/// The badge's image (straight alpha), its copy centred in the shape.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sticker(
    b: &Badge,
    copy: Option<&str>,
    region: &Region,
    canvas: (u32, u32),
    area: &Area,
    timing: (u32, u32, u32),
    fonts: &FontBook,
    cache: &TextCache,
) -> Result<Sticker, RenderError> {
    let bw = (b.size * canvas.0 as f32).round().max(8.0) as u32;
    let bh = match b.shape {
        BadgeShape::Tag => bw * 9 / 20,
        BadgeShape::Pill => bw * 7 / 20,
        BadgeShape::Circle | BadgeShape::Burst => bw,
        BadgeShape::Ribbon => bw / 4,
    }
    .max(4);
    let mut img = shape(b.shape, bw, bh, b.fill);
    if let Some(copy) = copy.filter(|c| !c.trim().is_empty()) {
        // Text fits the shape's inner box: circles and bursts lose their rim.
        let (iw, ih) = match b.shape {
            BadgeShape::Circle | BadgeShape::Burst => (bw as f32 * 0.62, bh as f32 * 0.5),
            BadgeShape::Ribbon => (bw as f32 * 0.7, bh as f32 * 0.8),
            _ => (bw as f32 * 0.84, bh as f32 * 0.72),
        };
        let size = (ih * 0.55).min(iw * 0.4);
        let raster = text_block(
            cache,
            fonts,
            &b.fonts,
            copy,
            region,
            b.text_color,
            size,
            iw as u32,
            ih as u32,
        )
        .map_err(|source| RenderError::Text {
            option: format!("badge {}", b.id),
            locale: region.locale.clone(),
            source,
        })?;
        let (tw, th) = raster.image.dimensions();
        over_straight(
            &mut img,
            &raster.image,
            (bw as i64 - tw as i64) / 2,
            (bh as i64 - th as i64) / 2,
        );
    }
    let rotation = if b.shape == BadgeShape::Ribbon && b.rotation == 0.0 {
        45.0
    } else {
        b.rotation
    };
    let mut anchor = b.anchor;
    let mut offset = b.offset;
    if region.direction == Direction::Rtl {
        anchor = anchor.mirrored();
        offset.0 = -offset.0;
        // A ribbon leans the other way in a mirrored layout.
    }
    let rotation = if region.direction == Direction::Rtl && b.shape == BadgeShape::Ribbon {
        -rotation
    } else {
        rotation
    };
    let straight = ops::rotate(&img, rotation);
    let (fx, fy) = anchor.fractions();
    let margin = (area.w.min(area.h) as f32 * 0.03) as i64;
    let free_w = area.w as i64 - straight.width() as i64 - 2 * margin;
    let free_h = area.h as i64 - straight.height() as i64 - 2 * margin;
    let x = area.x as i64
        + margin
        + (free_w as f32 * fx).round() as i64
        + (offset.0 * canvas.0 as f32).round() as i64;
    let y = area.y as i64
        + margin
        + (free_h as f32 * fy).round() as i64
        + (offset.1 * canvas.1 as f32).round() as i64;
    let (start, end, fps) = timing;
    Ok(Sticker {
        premul: ops::premultiply(straight.clone()),
        straight,
        x,
        y,
        start,
        end,
        fps: fps.max(1) as f32,
        animation: b.animation,
    })
}

/// Ink height of a glyph as a share of the font size, at its smallest among what a label
/// writes: Latin capitals (~0.70 em in Noto Sans / DejaVu Sans) are shorter than CJK
/// ideographs (~0.88 em), so sizing by it gives every script at least the asked height.
const LABEL_INK_PER_EM: f32 = 0.70;

/// The visible AI label: `text` in white on a dark rounded box, its letters at least
/// `height` × the shorter canvas side tall, in the bottom corner of the safe area that reading
/// starts from (left, or right in a right-to-left layout), over the whole output.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ai_label(
    text: &str,
    height: f32,
    families: &[String],
    region: &Region,
    canvas: (u32, u32),
    area: &Area,
    frames: u32,
    fonts: &FontBook,
    cache: &TextCache,
) -> Result<Sticker, crate::text::TextError> {
    let letters = height * canvas.0.min(canvas.1) as f32;
    let size = (letters / LABEL_INK_PER_EM).ceil();
    let style = TextStyle {
        families: families.to_vec(),
        size_px: size,
        // Never shrunk: a label too small to read is no label. Too wide for the safe area
        // wraps instead.
        min_size_px: size,
        color: Rgba([255, 255, 255, 255]),
        outline: None,
        shadow: None,
        background: None,
        align: Align::Start,
        line_height: 1.1,
    };
    let raster = cache.get_or_render(
        fonts,
        text,
        &region.locale,
        Some(region.direction.clone()),
        &style,
        area.w.max(1),
        area.h.max(1),
    )?;
    let pad = (size * 0.3).ceil() as u32;
    let (tw, th) = raster.image.dimensions();
    let (bw, bh) = (tw + 2 * pad, th + 2 * pad);
    let mut img = shape(BadgeShape::Pill, bw, bh, Rgba([0, 0, 0, 150]));
    over_straight(&mut img, &raster.image, pad as i64, pad as i64);
    let margin = (canvas.0.min(canvas.1) as f32 * 0.02).round() as i64;
    let x = if region.direction == Direction::Rtl {
        (area.x + area.w) as i64 - bw as i64 - margin
    } else {
        area.x as i64 + margin
    };
    let y = (area.y + area.h) as i64 - bh as i64 - margin;
    Ok(Sticker {
        premul: ops::premultiply(img.clone()),
        straight: img,
        x,
        y,
        start: 0,
        end: frames.max(1),
        fps: 1.0,
        animation: Animation::None,
    })
}

/// The end card composed on an opaque canvas: logo, headline, price and a CTA button,
/// stacked in the safe area.
#[allow(clippy::too_many_arguments)]
pub(crate) fn end_card(
    e: &EndCard,
    copy: [Option<&str>; 3],
    logo: Option<&RgbaImage>,
    region: &Region,
    canvas: (u32, u32),
    area: &Area,
    fonts: &FontBook,
    cache: &TextCache,
) -> Result<RgbaImage, RenderError> {
    let (w, h) = canvas;
    let mut card = ops::solid(
        w,
        h,
        Rgba([e.background.0[0], e.background.0[1], e.background.0[2], 255]),
    );
    let err = |what: &str, source| RenderError::Text {
        option: format!("end card {} {what}", e.id),
        locale: region.locale.clone(),
        source,
    };
    let inner_w = (area.w as f32 * 0.86) as u32;
    let mut blocks: Vec<RgbaImage> = Vec::new();
    if let Some(l) = logo {
        let lw = (area.w as f32 * 0.45).min(l.width() as f32 * 4.0);
        let s = (lw / l.width() as f32).min(area.h as f32 * 0.25 / l.height() as f32);
        blocks.push(ops::resize(
            l,
            ((l.width() as f32 * s) as u32).max(1),
            ((l.height() as f32 * s) as u32).max(1),
            None,
        ));
    }
    let unit = w.min(h) as f32;
    let [headline, price, cta] = copy;
    // Headline and price: plain text in the card's colour, the price larger.
    for (what, text, size, max_h) in [
        ("headline", headline, 0.07, 0.2),
        ("price", price, 0.12, 0.18),
    ] {
        if let Some(t) = text {
            let r = text_block(
                cache,
                fonts,
                &e.fonts,
                t,
                region,
                e.text_color,
                unit * size,
                inner_w,
                (area.h as f32 * max_h) as u32,
            )
            .map_err(|s| err(what, s))?;
            blocks.push(r.image.clone());
        }
    }
    if let Some(t) = cta {
        let r = text_block(
            cache,
            fonts,
            &e.fonts,
            t,
            region,
            Rgba::WHITE,
            unit * 0.06,
            (inner_w as f32 * 0.8) as u32,
            (area.h as f32 * 0.12) as u32,
        )
        .map_err(|s| err("cta", s))?;
        let (tw, th) = r.image.dimensions();
        let (bw, bh) = (tw + (unit * 0.08) as u32, th + (unit * 0.05) as u32);
        let mut button = shape(BadgeShape::Pill, bw, bh, e.cta_color);
        over_straight(
            &mut button,
            &r.image,
            ((bw - tw) / 2) as i64,
            ((bh - th) / 2) as i64,
        );
        blocks.push(button);
    }
    let gap = (unit * 0.04) as i64;
    let total: i64 = blocks.iter().map(|b| b.height() as i64).sum::<i64>()
        + gap * (blocks.len() as i64 - 1).max(0);
    let mut y = area.y as i64 + (area.h as i64 - total) / 2;
    for b in blocks {
        let x = area.x as i64 + (area.w as i64 - b.width() as i64) / 2;
        let bh = b.height() as i64;
        ops::blend(&mut card, &ops::premultiply(b), x, y, 1.0);
        y += bh + gap;
    }
    Ok(card)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_cover_what_they_should() {
        let red = Rgba([255, 0, 0, 255]);
        let c = shape(BadgeShape::Circle, 100, 100, red);
        assert_eq!(c.get_pixel(50, 50).0[3], 255);
        assert_eq!(c.get_pixel(2, 2).0[3], 0);
        let b = shape(BadgeShape::Burst, 100, 100, red);
        assert_eq!(b.get_pixel(50, 50).0[3], 255);
        assert_eq!(b.get_pixel(1, 1).0[3], 0);
        let pill = shape(BadgeShape::Pill, 200, 50, red);
        assert_eq!(pill.get_pixel(100, 25).0[3], 255);
        assert_eq!(pill.get_pixel(0, 0).0[3], 0);
        // Anti-aliased: the rim has partial coverage.
        assert!(c.pixels().any(|p| p.0[3] > 0 && p.0[3] < 255));
    }
}
