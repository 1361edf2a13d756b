//! Pixel operations the compositor is built from. Canvases are straight-alpha RGBA8 and,
//! for the final frame, opaque; overlays are kept premultiplied so blending is one
//! multiply-add per channel.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions};
use image::{Rgba as Px, RgbaImage};
use rayon::prelude::*;

use crate::template::{Fit, Rgba};

pub(crate) use crate::media::{resize, resize_no_alpha};

/// `resize_opaque` into an existing buffer (every pixel is written).
pub(crate) fn resize_opaque_into(
    src: &RgbaImage,
    dst: &mut RgbaImage,
    crop: Option<(f64, f64, f64, f64)>,
) {
    let (sw, sh) = (src.width() as f64, src.height() as f64);
    let window = crop.unwrap_or((0.0, 0.0, sw, sh));
    // Two taps each way hold up to halving; beyond that (a large photo fitted once) the
    // resizer's wider filter keeps fine detail from aliasing.
    let (dw, dh) = (dst.width() as f64, dst.height() as f64);
    if sw >= 2.0 && sh >= 2.0 && window.2 <= 2.0 * dw && window.3 <= 2.0 * dh {
        super::bilinear::resample(src, dst, window);
        return;
    }
    let mut opts = ResizeOptions::new()
        .resize_alg(ResizeAlg::Interpolation(FilterType::Bilinear))
        .use_alpha(false);
    if let Some((x, y, cw, ch)) = crop {
        opts = opts.crop(x, y, cw, ch);
    }
    crate::media::with_resizer(|r| {
        r.resize(src, dst, &opts)
            .expect("RGBA8 to RGBA8 resize cannot fail on sizes ≥ 1")
    });
}

/// Cover-fits an opaque frame (video) with `resize_opaque`; other fits as `fit`.
pub(crate) fn fit_opaque(src: &RgbaImage, w: u32, h: u32, fit: Fit, pad: Rgba) -> RgbaImage {
    let mut dst = RgbaImage::new(w.max(1), h.max(1));
    fit_opaque_into(src, &mut dst, fit, pad);
    dst
}

/// `fit_opaque` into an existing buffer of the canvas' size.
pub(crate) fn fit_opaque_into(src: &RgbaImage, dst: &mut RgbaImage, fit: Fit, pad: Rgba) {
    let (w, h) = dst.dimensions();
    match fit {
        Fit::Cover => {
            let (cw, ch, x, y) = cover_crop(src, w, h);
            resize_opaque_into(src, dst, Some((x, y, cw, ch)));
        }
        _ => *dst = self::fit(src, w, h, fit, pad),
    }
}

/// The centred crop (w, h, x, y) of `src` with the canvas' aspect ratio.
fn cover_crop(src: &RgbaImage, w: u32, h: u32) -> (f64, f64, f64, f64) {
    let (sw, sh) = (src.width() as f64, src.height() as f64);
    let target = w as f64 / h as f64;
    let (cw, ch) = if sw / sh > target {
        (sh * target, sh)
    } else {
        (sw, sw / target)
    };
    (cw, ch, (sw - cw) / 2.0, (sh - ch) / 2.0)
}

pub(crate) fn solid(w: u32, h: u32, c: Rgba) -> RgbaImage {
    RgbaImage::from_pixel(w, h, Px(c.0))
}

/// Linear gradient; `angle` 0 = top→bottom, 90 = left→right.
pub(crate) fn gradient(w: u32, h: u32, from: Rgba, to: Rgba, angle: f32) -> RgbaImage {
    let (s, c) = (angle.to_radians().sin(), angle.to_radians().cos());
    // Project every pixel on the direction vector and normalise over the canvas' extent.
    let corners = [
        (0.0, 0.0),
        (w as f32, 0.0),
        (0.0, h as f32),
        (w as f32, h as f32),
    ];
    let proj = |x: f32, y: f32| x * s + y * c;
    let lo = corners
        .iter()
        .map(|&(x, y)| proj(x, y))
        .fold(f32::MAX, f32::min);
    let hi = corners
        .iter()
        .map(|&(x, y)| proj(x, y))
        .fold(f32::MIN, f32::max);
    let span = (hi - lo).max(1e-3);
    let mut img = RgbaImage::new(w, h);
    img.par_chunks_mut(w as usize * 4)
        .enumerate()
        .for_each(|(y, row)| {
            for x in 0..w as usize {
                let t = (proj(x as f32 + 0.5, y as f32 + 0.5) - lo) / span;
                for k in 0..4 {
                    row[x * 4 + k] =
                        (from.0[k] as f32 + (to.0[k] as f32 - from.0[k] as f32) * t).round() as u8;
                }
            }
        });
    img
}

/// Fits a picture onto a `w`×`h` canvas.
pub fn fit(src: &RgbaImage, w: u32, h: u32, fit: Fit, pad: Rgba) -> RgbaImage {
    let (sw, sh) = (src.width() as f64, src.height() as f64);
    match fit {
        Fit::Cover => {
            // Crop the source to the canvas' aspect ratio, centred, then scale.
            let target = w as f64 / h as f64;
            let (cw, ch) = if sw / sh > target {
                (sh * target, sh)
            } else {
                (sw, sw / target)
            };
            resize(src, w, h, Some(((sw - cw) / 2.0, (sh - ch) / 2.0, cw, ch)))
        }
        Fit::Contain | Fit::BlurPad => {
            let scale = (w as f64 / sw).min(h as f64 / sh);
            let (fw, fh) = (
                ((sw * scale).round() as u32).clamp(1, w),
                ((sh * scale).round() as u32).clamp(1, h),
            );
            let mut canvas = if fit == Fit::Contain {
                solid(w, h, pad)
            } else {
                blurred_cover(src, w, h)
            };
            let inner = premultiply(resize(src, fw, fh, None));
            blend(
                &mut canvas,
                &inner,
                ((w - fw) / 2) as i64,
                ((h - fh) / 2) as i64,
                1.0,
            );
            canvas
        }
    }
}

/// A soft, slightly darkened covering copy: downscale hard, then upscale. Far cheaper than a
/// Gaussian of the same radius and indistinguishable as a backdrop.
fn blurred_cover(src: &RgbaImage, w: u32, h: u32) -> RgbaImage {
    let small = fit(
        src,
        (w / 24).max(2),
        (h / 24).max(2),
        Fit::Cover,
        Rgba::BLACK,
    );
    let mut big = resize(&small, w, h, None);
    big.par_chunks_mut(4)
        .with_min_len(PIXELS_PER_TASK)
        .for_each(|p| {
            for c in &mut p[..3] {
                *c = (*c as u16 * 200 / 255) as u8;
            }
            p[3] = 255;
        });
    big
}

/// Pixels one rayon task takes in the per-pixel passes: split per pixel, a caption-sized
/// image spent more time in rayon's joins than in the arithmetic (7.5 % of `factory lint`'s
/// time on 1,000 captions, `perf`); a frame still splits into ~128 tasks.
const PIXELS_PER_TASK: usize = 16 * 1024;

/// Each colour weighed by its pixel's alpha, rounded: `media::over_backdrop` over black,
/// the alpha kept (`tests::premultiply_sse2_equals_the_scalar_formula_for_every_value`).
pub fn premultiply(mut img: RgbaImage) -> RgbaImage {
    img.par_chunks_mut(4 * PIXELS_PER_TASK)
        .for_each(crate::media::over_backdrop::<0, false>);
    img
}

/// Back to straight alpha (a premultiplied layer that must be resized or rotated again).
pub(crate) fn unpremultiply(mut img: RgbaImage) -> RgbaImage {
    img.par_chunks_mut(4)
        .with_min_len(PIXELS_PER_TASK)
        .for_each(|p| {
            let a = p[3] as u32;
            if a > 0 && a < 255 {
                for c in &mut p[..3] {
                    *c = ((*c as u32 * 255 + a / 2) / a).min(255) as u8;
                }
            }
        });
    img
}

/// Source-over blend of a premultiplied overlay at (x, y), clipped to the canvas, with an
/// extra opacity in 0..=1.
pub fn blend(canvas: &mut RgbaImage, over: &RgbaImage, x: i64, y: i64, opacity: f32) {
    let (cw, ch) = (canvas.width() as i64, canvas.height() as i64);
    let (ow, oh) = (over.width() as i64, over.height() as i64);
    let x0 = x.max(0);
    let y0 = y.max(0);
    let x1 = (x + ow).min(cw);
    let y1 = (y + oh).min(ch);
    if x0 >= x1 || y0 >= y1 || opacity <= 0.0 {
        return;
    }
    let op = (opacity.clamp(0.0, 1.0) * 256.0) as u32;
    let stride = cw as usize * 4;
    let ostride = ow as usize * 4;
    let over_raw: &[u8] = over.as_raw();
    let (cols, ox) = ((x0 as usize * 4)..(x1 as usize * 4), (x0 - x) as usize * 4);
    // Row by row on this thread: a video frame is composed while x264 keeps both cores busy,
    // where handing rows to rayon cost more in thread hand-offs than it saved.
    for cy in y0..y1 {
        let oy = (cy - y) as usize;
        let row = &mut (**canvas)[cy as usize * stride..][cols.clone()];
        let orow = &over_raw[oy * ostride + ox..][..row.len()];
        super::blend_row::blend_row(row, orow, op);
    }
}

/// Blends a layer scaled by `scale` about its centre, whose top-left at scale 1 is (x, y):
/// the straight-alpha copy is resized (the resizer weights by alpha itself) and
/// premultiplied; at scale 1 the premultiplied copy is blended as it is.
pub(crate) fn blend_scaled(
    canvas: &mut RgbaImage,
    straight: &RgbaImage,
    premul: &RgbaImage,
    x: i64,
    y: i64,
    scale: f32,
    opacity: f32,
) {
    if (scale - 1.0).abs() < 0.005 {
        blend(canvas, premul, x, y, opacity);
        return;
    }
    let (w, h) = (straight.width() as f32, straight.height() as f32);
    let (sw, sh) = (
        ((w * scale).round() as u32).max(1),
        ((h * scale).round() as u32).max(1),
    );
    let scaled = premultiply(resize(straight, sw, sh, None));
    let x = x + ((w - sw as f32) / 2.0).round() as i64;
    let y = y + ((h - sh as f32) / 2.0).round() as i64;
    blend(canvas, &scaled, x, y, opacity);
}

/// Multiplies colour towards black (fades).
pub(crate) fn darken(img: &mut RgbaImage, factor: f32) {
    let f = (factor.clamp(0.0, 1.0) * 256.0) as u32;
    img.chunks_exact_mut(4).for_each(|p| {
        for c in &mut p[..3] {
            *c = ((*c as u32 * f) >> 8) as u8;
        }
    });
}

/// Bounding box (x, y, w, h) of pixels with alpha above a small threshold.
pub(crate) fn alpha_bounds(img: &RgbaImage) -> Option<(u32, u32, u32, u32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if p.0[3] > 8 {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    (x0 != u32::MAX).then(|| (x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// Rotates clockwise by `deg` about the centre on a canvas grown to hold every corner.
pub(crate) fn rotate(img: &RgbaImage, deg: f32) -> RgbaImage {
    if deg.abs() < 0.01 {
        return img.clone();
    }
    let (w, h) = (img.width() as f32, img.height() as f32);
    let r = deg.to_radians();
    let (s, c) = (r.sin().abs(), r.cos().abs());
    let (nw, nh) = ((w * c + h * s).ceil() as u32, (w * s + h * c).ceil() as u32);
    let mut grown = RgbaImage::new(nw, nh);
    image::imageops::overlay(
        &mut grown,
        img,
        ((nw as f32 - w) / 2.0) as i64,
        ((nh as f32 - h) / 2.0) as i64,
    );
    imageproc::geometric_transformations::rotate_about_center(
        &grown,
        r,
        imageproc::geometric_transformations::Interpolation::Bilinear,
        Px([0, 0, 0, 0]),
    )
}

/// Box blur of the alpha channel, used for soft drop shadows; three passes approximate a
/// Gaussian.
pub(crate) fn blur_alpha(alpha: &mut [u8], w: usize, h: usize, radius: usize) {
    if radius == 0 || w == 0 || h == 0 {
        return;
    }
    let mut tmp = vec![0u8; alpha.len()];
    let mean = Mean::new(2 * radius + 1);
    for _ in 0..3 {
        box_rows(alpha, &mut tmp, w, radius, &mean);
        box_columns(&tmp, alpha, w, h, radius, &mean);
    }
}

/// `sum / win` for the sums of at most `win` bytes, as a multiply and shift where that is
/// exact: the reciprocal's error times the largest sum (255 × `win`) stays under the
/// smallest distance `1 / win` from a quotient to the next integer while 255 × win² < 2⁴⁰.
struct Mean {
    win: u32,
    reciprocal: Option<u64>,
}

impl Mean {
    fn new(win: usize) -> Mean {
        let win = win as u32;
        Mean {
            win,
            reciprocal: (win < 1 << 16).then(|| (1u64 << 40).div_ceil(u64::from(win))),
        }
    }

    #[inline(always)]
    fn of(&self, sum: u32) -> u8 {
        match self.reciprocal {
            Some(m) => ((u64::from(sum) * m) >> 40) as u8,
            None => (sum / self.win) as u8,
        }
    }
}

/// One box pass along each row (zero beyond the ends, always divided by the whole window).
fn box_rows(src: &[u8], dst: &mut [u8], w: usize, r: usize, mean: &Mean) {
    for (row, out) in src.chunks_exact(w).zip(dst.chunks_exact_mut(w)) {
        let mut sum: u32 = row[..=r.min(w - 1)].iter().map(|&v| u32::from(v)).sum();
        for i in 0..w {
            out[i] = mean.of(sum);
            if i + r + 1 < w {
                sum += u32::from(row[i + r + 1]);
            }
            if i >= r {
                sum -= u32::from(row[i - r]);
            }
        }
    }
}

/// `box_rows` down the columns, a row at a time with a running sum per column: walking each
/// column down the image read a byte per row of memory and was 3 % of a catalog batch's CPU
/// (`perf`, 2026-12-06). The same integer sums, so the same bytes (`tests::
/// box_passes_equal_the_per_line_pass`).
fn box_columns(src: &[u8], dst: &mut [u8], w: usize, h: usize, r: usize, mean: &Mean) {
    let mut sums = vec![0u32; w];
    let row = |y: usize| &src[y * w..(y + 1) * w];
    for y in 0..=r.min(h - 1) {
        for (s, &v) in sums.iter_mut().zip(row(y)) {
            *s += u32::from(v);
        }
    }
    for y in 0..h {
        for (o, &s) in dst[y * w..(y + 1) * w].iter_mut().zip(&sums) {
            *o = mean.of(s);
        }
        if y + r + 1 < h {
            for (s, &v) in sums.iter_mut().zip(row(y + r + 1)) {
                *s += u32::from(v);
            }
        }
        if y >= r {
            for (s, &v) in sums.iter_mut().zip(row(y - r)) {
                *s -= u32::from(v);
            }
        }
    }
}

/// The pass as it was written first, one line at a time: the oracle `box_rows` and
/// `box_columns` are held to.
#[cfg(test)]
fn box_pass(src: &[u8], dst: &mut [u8], w: usize, h: usize, r: usize, horizontal: bool) {
    let (outer, inner) = if horizontal { (h, w) } else { (w, h) };
    let idx = |o: usize, i: usize| if horizontal { o * w + i } else { i * w + o };
    let win = (2 * r + 1) as u32;
    for o in 0..outer {
        let mut sum: u32 = 0;
        for i in 0..=r.min(inner - 1) {
            sum += src[idx(o, i)] as u32;
        }
        for i in 0..inner {
            dst[idx(o, i)] = (sum / win) as u8;
            if i + r + 1 < inner {
                sum += src[idx(o, i + r + 1)] as u32;
            }
            if i >= r {
                sum -= src[idx(o, i - r)] as u32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every colour value under every alpha, on an odd number of pixels so that the scalar
    /// tail runs too.
    #[test]
    fn premultiply_sse2_equals_the_scalar_formula_for_every_value() {
        let img = RgbaImage::from_fn(257, 257, |x, y| {
            let (c, a) = (x.min(255) as u8, y.min(255) as u8);
            image::Rgba([c, 255 - c, c / 2, a])
        });
        let got = premultiply(img.clone());
        for (a, b) in img.pixels().zip(got.pixels()) {
            let al = a.0[3] as u32;
            let want = [0, 1, 2].map(|c| ((a.0[c] as u32 * al + 127) / 255) as u8);
            assert_eq!(b.0, [want[0], want[1], want[2], a.0[3]], "{:?}", a.0);
        }
    }

    #[test]
    fn premultiply_weighs_every_pixel_by_its_alpha() {
        let img = crate::media::noise_rgba(301, 211);
        let got = premultiply(img.clone());
        for (a, b) in img.pixels().zip(got.pixels()) {
            let al = a.0[3] as u32;
            let want = [0, 1, 2].map(|c| ((a.0[c] as u32 * al + 127) / 255) as u8);
            assert_eq!(&b.0[..3], &want[..]);
            assert_eq!(b.0[3], a.0[3]);
        }
    }

    #[test]
    fn box_passes_equal_the_per_line_pass() {
        let (w, h) = (97usize, 61usize);
        let mut seed = 11u32;
        let src: Vec<u8> = (0..w * h)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            })
            .collect();
        for r in [1usize, 2, 12, 40, 60, 200] {
            let mean = Mean::new(2 * r + 1);
            let (mut want, mut got) = (vec![0u8; w * h], vec![0u8; w * h]);
            box_pass(&src, &mut want, w, h, r, true);
            box_rows(&src, &mut got, w, r, &mean);
            assert_eq!(want, got, "rows, radius {r}");
            box_pass(&src, &mut want, w, h, r, false);
            box_columns(&src, &mut got, w, h, r, &mean);
            assert_eq!(want, got, "columns, radius {r}");
        }
        // The reciprocal is exact for every sum a window can hold.
        for win in [1u32, 3, 25, 255, 1001, 65_535] {
            let m = Mean::new(win as usize);
            for sum in (0..=255 * win).step_by(1 + win as usize / 7) {
                assert_eq!(u32::from(m.of(sum)), sum / win, "{sum} / {win}");
            }
            assert_eq!(u32::from(m.of(255 * win)), 255);
        }
    }

    #[test]
    fn cover_fills_and_contain_pads() {
        let src = RgbaImage::from_pixel(40, 20, Px([200, 10, 10, 255]));
        let cov = fit(&src, 10, 20, Fit::Cover, Rgba::BLACK);
        assert_eq!(cov.dimensions(), (10, 20));
        assert!(cov.pixels().all(|p| p.0[0] > 190));
        let con = fit(&src, 10, 20, Fit::Contain, Rgba([0, 0, 255, 255]));
        assert_eq!(
            con.get_pixel(5, 0).0,
            [0, 0, 255, 255],
            "top bar is the pad colour"
        );
        assert!(con.get_pixel(5, 10).0[0] > 190, "middle holds the picture");
    }

    #[test]
    fn blend_respects_alpha_and_clips() {
        let mut canvas = solid(4, 4, Rgba([0, 0, 0, 255]));
        let over = premultiply(RgbaImage::from_pixel(2, 2, Px([255, 255, 255, 128])));
        blend(&mut canvas, &over, 3, 3, 1.0);
        assert_eq!(canvas.get_pixel(0, 0).0, [0, 0, 0, 255]);
        let p = canvas.get_pixel(3, 3).0;
        assert!(
            (126..=130).contains(&p[0]),
            "half-transparent white over black is mid grey: {p:?}"
        );
    }

    #[test]
    fn gradient_runs_from_first_to_second_colour() {
        let g = gradient(
            2,
            100,
            Rgba([0, 0, 0, 255]),
            Rgba([255, 255, 255, 255]),
            0.0,
        );
        assert!(g.get_pixel(0, 0).0[0] < 5);
        assert!(g.get_pixel(0, 99).0[0] > 250);
    }

    #[test]
    fn rotation_grows_canvas() {
        let img = RgbaImage::from_pixel(10, 10, Px([255, 0, 0, 255]));
        let r = rotate(&img, 45.0);
        assert!(r.width() >= 14 && r.height() >= 14);
    }
}
