//! Layout → pixels: glyph coverage (ab_glyph, anti-aliased), outline by dilation, shadow
//! by offset + blur, background box, composited into a tight straight-alpha image.

use ab_glyph::{Font, FontRef, Glyph, GlyphId, OutlinedGlyph, PxScaleFactor};
use image::RgbaImage;
use rustybuzz::ttf_parser;

use super::layout::Layout;
use super::{TextError, TextStyle};
use crate::color::Rgba;

/// Axis-aligned box in block pixels (y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BoxF {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl BoxF {
    fn empty() -> BoxF {
        BoxF {
            x0: f32::MAX,
            y0: f32::MAX,
            x1: f32::MIN,
            y1: f32::MIN,
        }
    }
    fn is_empty(&self) -> bool {
        self.x0 > self.x1 || self.y0 > self.y1
    }
    fn union(self, o: BoxF) -> BoxF {
        if o.is_empty() {
            return self;
        }
        BoxF {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }
    fn grow(self, d: f32) -> BoxF {
        if self.is_empty() {
            return self;
        }
        BoxF {
            x0: self.x0 - d,
            y0: self.y0 - d,
            x1: self.x1 + d,
            y1: self.y1 + d,
        }
    }
    fn shift(self, dx: f32, dy: f32) -> BoxF {
        if self.is_empty() {
            return self;
        }
        BoxF {
            x0: self.x0 + dx,
            y0: self.y0 + dy,
            x1: self.x1 + dx,
            y1: self.y1 + dy,
        }
    }
}

/// Where everything of a rendered block lies, before rasterizing: used to check the fit
/// without drawing a pixel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extent {
    /// The whole image: ink + outline + shadow + background box, snapped to pixels.
    pub image: BoxF,
    pub background: Option<BoxF>,
}

impl Extent {
    pub(crate) fn width(&self) -> u32 {
        (self.image.x1 - self.image.x0).max(0.0) as u32
    }
    pub(crate) fn height(&self) -> u32 {
        (self.image.y1 - self.image.y0).max(0.0) as u32
    }
}

/// Radius of the two box-blur passes that approximate a blur of `blur` px.
fn blur_radius(blur: f32) -> usize {
    (blur / 2.0).ceil().max(0.0) as usize
}

pub(crate) fn extent(layout: &Layout, style: &TextStyle) -> Result<Extent, TextError> {
    let mut ink = BoxF::empty();
    for (fi, face) in layout.faces.iter().enumerate() {
        let tf = ttf_parser::Face::parse(face.data(), face.index())
            .map_err(|e| TextError::bad_font(face.path().display().to_string(), e))?;
        let s = layout.size_px / face.units_per_em();
        for g in layout.glyphs.iter().filter(|g| g.font == fi) {
            if let Some(bb) = tf.glyph_bounding_box(ttf_parser::GlyphId(g.glyph_id)) {
                ink = ink.union(BoxF {
                    x0: g.x + f32::from(bb.x_min) * s,
                    x1: g.x + f32::from(bb.x_max) * s,
                    y0: g.y - f32::from(bb.y_max) * s,
                    y1: g.y - f32::from(bb.y_min) * s,
                });
            }
        }
    }
    // One pixel of anti-aliasing fringe around the ink.
    let outline_w = style.outline.map_or(0.0, |(_, w)| w.max(0.0));
    let drawn = ink.grow(1.0 + outline_w.ceil());
    let mut image = drawn;
    if let Some((_, (dx, dy), blur)) = style.shadow {
        let r = blur_radius(blur) as f32 * 2.0;
        image = image.union(drawn.shift(dx.round(), dy.round()).grow(r));
    }
    let background = style.background.map(|(_, pad)| {
        BoxF {
            x0: 0.0,
            y0: 0.0,
            x1: layout.width,
            y1: layout.height,
        }
        .grow(pad.max(0.0))
    });
    if let Some(bg) = background {
        image = image.union(bg);
    }
    if image.is_empty() {
        image = BoxF {
            x0: 0.0,
            y0: 0.0,
            x1: 0.0,
            y1: 0.0,
        };
    }
    image = BoxF {
        x0: image.x0.floor(),
        y0: image.y0.floor(),
        x1: image.x1.ceil(),
        y1: image.y1.ceil(),
    };
    Ok(Extent { image, background })
}

/// A single-channel coverage map, 0..=1.
struct Mask {
    w: usize,
    h: usize,
    v: Vec<f32>,
}

impl Mask {
    fn new(w: usize, h: usize) -> Mask {
        Mask {
            w,
            h,
            v: vec![0.0; w * h],
        }
    }
}

pub(crate) fn rasterize(
    layout: &Layout,
    style: &TextStyle,
    ext: &Extent,
) -> Result<RgbaImage, TextError> {
    let (w, h) = (ext.width() as usize, ext.height() as usize);
    let (ox, oy) = (-ext.image.x0, -ext.image.y0);
    let (coverage, mut acc) = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    let mut fill = Mask {
        w,
        h,
        v: zeroed(coverage, w * h),
    };

    for (fi, face) in layout.faces.iter().enumerate() {
        let font = FontRef::try_from_slice_and_index(face.data(), face.index())
            .map_err(|e| TextError::bad_font(face.path().display().to_string(), e))?;
        // Scale by the em, not by ab_glyph's PxScale (which maps ascent−descent to pixels):
        // shaping advances are per em, and outlines must match them.
        let s = layout.size_px / face.units_per_em();
        let sf = PxScaleFactor {
            horizontal: s,
            vertical: s,
        };
        for g in layout.glyphs.iter().filter(|g| g.font == fi) {
            let Some(outline) = font.outline(GlyphId(g.glyph_id)) else {
                // No outline is normal for spaces; for a colour-bitmap glyph (CBDT/sbix
                // emoji) it would silently drop a visible character, so say so instead.
                if has_bitmap(face.data(), face.index(), g.glyph_id) {
                    return Err(TextError::unusable_font(
                        face.path().display().to_string(),
                        format!(
                            "glyph {} for {:?} is a colour bitmap (emoji font); only outline fonts can be drawn",
                            g.glyph_id,
                            layout.text[g.cluster..].chars().next().unwrap_or(' ')
                        ),
                    ));
                }
                continue;
            };
            let glyph = Glyph {
                id: GlyphId(g.glyph_id),
                scale: ab_glyph::PxScale::from(layout.size_px),
                position: ab_glyph::point(g.x + ox, g.y + oy),
            };
            let og = OutlinedGlyph::new(glyph, outline, sf);
            let b = og.px_bounds();
            let (bx, by) = (b.min.x as i64, b.min.y as i64);
            og.draw(|x, y, c| {
                let (px, py) = (bx + i64::from(x), by + i64::from(y));
                if px >= 0 && py >= 0 && (px as usize) < w && (py as usize) < h {
                    let v = &mut fill.v[py as usize * w + px as usize];
                    *v = (*v + c).min(1.0);
                }
            });
        }
    }

    let outline = style
        .outline
        .filter(|(_, ow)| *ow > 0.0)
        .map(|(c, ow)| (c, dilate(&fill, ow)));
    let shadow = style.shadow.map(|(c, (dx, dy), blur)| {
        let src = outline.as_ref().map_or(&fill, |(_, m)| m);
        let mut m = shifted(src, dx.round() as i64, dy.round() as i64);
        let r = blur_radius(blur);
        if r > 0 {
            box_blur(&mut m, r);
            box_blur(&mut m, r);
        }
        (c, m)
    });

    // Premultiplied float accumulation, straight alpha on output.
    acc = zeroed(acc, w * h);
    if let (Some((color, _)), Some(bg)) = (style.background, ext.background) {
        let x0 = (bg.x0 + ox).round().max(0.0) as usize;
        let y0 = (bg.y0 + oy).round().max(0.0) as usize;
        let x1 = ((bg.x1 + ox).round() as usize).min(w);
        let y1 = ((bg.y1 + oy).round() as usize).min(h);
        for y in y0..y1 {
            for px in &mut acc[y * w + x0..y * w + x1] {
                over(px, color, 1.0);
            }
        }
    }
    if let Some((c, m)) = &shadow {
        layer(&mut acc, m, *c);
    }
    if let Some((c, m)) = &outline {
        layer(&mut acc, m, *c);
    }
    layer(&mut acc, &fill, style.color);

    let mut img = RgbaImage::new(w as u32, h as u32);
    for (px, a) in img.pixels_mut().zip(&acc) {
        let alpha = a[3];
        if alpha > 0.0 {
            let un = |v: f32| round_u8((v / alpha) * 255.0);
            px.0 = [un(a[0]), un(a[1]), un(a[2]), round_u8(alpha * 255.0)];
        }
    }
    if acc.len() <= SCRATCH_KEPT {
        SCRATCH.with(|s| *s.borrow_mut() = (fill.v, acc));
    }
    Ok(img)
}

thread_local! {
    /// The fill coverage and the premultiplied accumulator of the last caption this thread
    /// rasterised, kept for the next: each is megabytes for a 1080-wide caption, so a fresh
    /// allocation was an `mmap`, page faults on first touch and an `munmap` whose TLB
    /// shoot-down stalls the other threads — 35 % of `factory lint`'s time on 1,000 captions
    /// (`perf`), the pixels being the same.
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<[f32; 4]>)> =
        std::cell::RefCell::default();
}

/// Pixels of scratch kept per thread (32 MiB of accumulator): a poster-sized headline is
/// rare enough to allocate for itself.
const SCRATCH_KEPT: usize = 2 << 20;

/// `v` holding `n` zeros, reusing its allocation.
fn zeroed<T: Default + Clone>(mut v: Vec<T>, n: usize) -> Vec<T> {
    v.clear();
    v.resize(n, T::default());
    v
}

/// `v.round().clamp(0.0, 255.0) as u8`, exactly, without the `roundf` call the baseline
/// x86-64 target makes for `f32::round` (11 % of `factory lint`'s time on 1,000 captions,
/// `perf`): for 0 ≤ v < 2²³, `v - trunc(v)` is exact, so comparing it with ½ rounds half away
/// from zero as `round` does.
fn round_u8(v: f32) -> u8 {
    let v = v.clamp(0.0, 255.0);
    let i = v as u32;
    (if v - i as f32 >= 0.5 { i + 1 } else { i }).min(255) as u8
}

fn has_bitmap(data: &[u8], index: u32, gid: u16) -> bool {
    ttf_parser::Face::parse(data, index).ok().is_some_and(|f| {
        f.glyph_raster_image(ttf_parser::GlyphId(gid), u16::MAX)
            .is_some()
    })
}

fn over(dst: &mut [f32; 4], c: Rgba, cov: f32) {
    let a = f32::from(c.0[3]) / 255.0 * cov;
    if a <= 0.0 {
        return;
    }
    let k = 1.0 - a;
    for (d, &s) in dst.iter_mut().zip(&c.0[..3]) {
        *d = f32::from(s) / 255.0 * a + *d * k;
    }
    dst[3] = a + dst[3] * k;
}

fn layer(acc: &mut [[f32; 4]], m: &Mask, c: Rgba) {
    for (px, &cov) in acc.iter_mut().zip(&m.v) {
        if cov > 0.0 {
            over(px, c, cov);
        }
    }
}

/// Grey-scale dilation by a disc of radius `r` px: the outline's coverage is the fill's
/// coverage reachable within `r`, with a soft rim so the stroke edge stays anti-aliased.
///
/// Scattered from the glyph edges only: a pixel whose four neighbours are fully covered
/// adds nothing its neighbours' discs do not, and glyph interiors are most of the ink.
fn dilate(src: &Mask, r: f32) -> Mask {
    // Coverage summed from overlapping contours lands a hair under 1.0 inside glyphs.
    const FULL: f32 = 0.998;
    let ri = r.ceil() as i64 + 1;
    let (w, h) = (src.w as i64, src.h as i64);
    let mut offsets = Vec::new();
    for dy in -ri..=ri {
        for dx in -ri..=ri {
            let d = ((dx * dx + dy * dy) as f32).sqrt();
            let wgt = (r + 0.5 - d).clamp(0.0, 1.0);
            if wgt > 0.0 {
                offsets.push((dx, dy, dy * w + dx, wgt));
            }
        }
    }
    let full =
        |x: i64, y: i64| x >= 0 && y >= 0 && x < w && y < h && src.v[(y * w + x) as usize] >= FULL;
    let mut out = Mask::new(src.w, src.h);
    for y in 0..h {
        for x in 0..w {
            let here = y * w + x;
            let c = src.v[here as usize];
            if c <= 0.0 {
                continue;
            }
            if c >= FULL && full(x - 1, y) && full(x + 1, y) && full(x, y - 1) && full(x, y + 1) {
                let o = &mut out.v[here as usize];
                *o = o.max(c);
                continue;
            }
            let inside = x >= ri && y >= ri && x + ri < w && y + ri < h;
            for &(dx, dy, lin, wgt) in &offsets {
                if inside || (x + dx >= 0 && y + dy >= 0 && x + dx < w && y + dy < h) {
                    let o = &mut out.v[(here + lin) as usize];
                    *o = o.max(c * wgt);
                }
            }
        }
    }
    out
}

fn shifted(src: &Mask, dx: i64, dy: i64) -> Mask {
    let mut out = Mask::new(src.w, src.h);
    let (w, h) = (src.w as i64, src.h as i64);
    for y in 0..h {
        let sy = y - dy;
        if sy < 0 || sy >= h {
            continue;
        }
        for x in 0..w {
            let sx = x - dx;
            if sx >= 0 && sx < w {
                out.v[(y * w + x) as usize] = src.v[(sy * w + sx) as usize];
            }
        }
    }
    out
}

/// Separable running-sum box blur; two passes approximate a Gaussian.
fn box_blur(m: &mut Mask, r: usize) {
    let (w, h) = (m.w, m.h);
    let norm = 1.0 / (2 * r + 1) as f32;
    let mut line = Vec::new();
    for y in 0..h {
        line.clear();
        line.extend_from_slice(&m.v[y * w..(y + 1) * w]);
        blur_line(&line, &mut m.v[y * w..(y + 1) * w], r, norm);
    }
    let mut col = vec![0.0; h];
    let mut out = vec![0.0; h];
    for x in 0..w {
        for (y, c) in col.iter_mut().enumerate() {
            *c = m.v[y * w + x];
        }
        blur_line(&col, &mut out, r, norm);
        for (y, o) in out.iter().enumerate() {
            m.v[y * w + x] = *o;
        }
    }
}

fn blur_line(src: &[f32], dst: &mut [f32], r: usize, norm: f32) {
    let n = src.len();
    // Running sum of src[i-r ..= i+r], zeros outside.
    let mut sum: f32 = src[..(r + 1).min(n)].iter().sum();
    for i in 0..n {
        dst[i] = sum * norm;
        if i + r + 1 < n {
            sum += src[i + r + 1];
        }
        if i >= r {
            sum -= src[i - r];
        }
    }
}

#[cfg(test)]
mod round_tests {
    use super::*;

    #[test]
    fn round_u8_is_round_then_clamp() {
        let mut v = -3.0f32;
        while v < 260.0 {
            for x in [
                v,
                f32::from_bits(v.to_bits() + 1),
                f32::from_bits(v.to_bits().wrapping_sub(1)),
            ] {
                assert_eq!(round_u8(x), x.round().clamp(0.0, 255.0) as u8, "{x}");
            }
            v += 0.125;
        }
        assert_eq!(round_u8(0.49999997), 0);
        assert_eq!(round_u8(f32::NAN), f32::NAN.round().clamp(0.0, 255.0) as u8);
    }
}
