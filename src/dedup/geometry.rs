//! Keypoint geometry: ORB-style oriented FAST corners (imageproc) over a small pyramid,
//! steered BRIEF descriptors with a fixed sampling pattern, Lowe's ratio test, and RANSAC
//! for a similarity transform. The inlier count says "same content" where PDQ cannot:
//! crops, small rotations, letterbox/pillarbox, large overlays.
//!
//! Costs ~40–80 ms per image on one core, so the gate runs it only on candidates that the
//! cheap hash scan or the composition retrieved.

use image::{GrayImage, RgbaImage};
use imageproc::corners::Corner;

/// Long side of the working image. Both sides are normalised to it, which removes most of
/// the scale difference before the pyramid has to.
const WORK_SIDE: u32 = 512;
const LEVELS: usize = 4;
const LEVEL_SCALE: f32 = 1.25;
const KEYPOINTS: usize = 700;
/// Regions per side over which each level's keypoint budget is spread.
const GRID: u32 = 6;
const PATCH_RADIUS: i32 = 15;
/// Edge margin: a rotated 15-px patch reaches 15·√2 ≈ 21.2 px.
const EDGE: u32 = 23;
const ANGLE_BINS: usize = 32;
const MAX_DESC_DISTANCE: u32 = 64;
const RATIO: f32 = 0.8;
const RANSAC_ITERS: usize = 600;
const RANSAC_PX: f32 = 6.0;

/// Keypoints and descriptors of one image (or one video key frame).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Features {
    /// Size of the working image the points are expressed in.
    pub width: u32,
    pub height: u32,
    pub points: Vec<(f32, f32)>,
    pub descriptors: Vec<[u64; 4]>,
    /// The working image reduced to `THUMB_SIDE` on its long side, to see *where* two
    /// pictures the keypoints align differ (`scene::differences`, issue #13).
    #[serde(default)]
    pub thumb: Thumb,
}

/// Long side of `Features::thumb`. 96 px puts 8×8 pixels in each cell of `scene`'s 12×12
/// grid, and costs 9 KB a square still in the library, next to the ~28 KB of keypoints.
pub const THUMB_SIDE: u32 = 96;

/// Long side of a video second's thumbnail (`FrameHash::thumb`): 64 px keep 5×3 pixels in
/// each cell of `scene`'s grid over a 16:9 frame, and a 60-s clip 140 KB in the library.
pub const SECOND_THUMB_SIDE: u32 = 64;

/// A small grey picture (row-major luma; empty when not measured, as in libraries written
/// before it was kept).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Thumb {
    pub width: u32,
    pub height: u32,
    pub luma: Vec<u8>,
}

impl Thumb {
    /// `base` reduced to `THUMB_SIDE` on its long side (area-weighted).
    fn of(base: &GrayImage) -> Thumb {
        let (w, h) = working_size_at(base.width(), base.height(), THUMB_SIDE);
        Thumb::from(resize_gray(base, w, h))
    }

    /// `img` as a grey picture `side` pixels on its long side.
    pub(crate) fn of_frame(img: &RgbaImage, side: u32) -> Thumb {
        Thumb::from(working_gray_at(img, side))
    }

    /// Width and height (u16 LE) then the pixels; `None` for an empty thumbnail.
    pub(crate) fn to_bytes(&self) -> Option<Vec<u8>> {
        let (w, h) = (
            u16::try_from(self.width).ok()?,
            u16::try_from(self.height).ok()?,
        );
        (!self.is_empty()).then(|| {
            let mut v = Vec::with_capacity(4 + self.luma.len());
            v.extend_from_slice(&w.to_le_bytes());
            v.extend_from_slice(&h.to_le_bytes());
            v.extend_from_slice(&self.luma);
            v
        })
    }

    /// The inverse of `to_bytes`; empty when the bytes are not a thumbnail.
    pub(crate) fn from_bytes(b: &[u8]) -> Thumb {
        let Some((head, luma)) = b.split_at_checked(4) else {
            return Thumb::default();
        };
        let (w, h) = (
            u16::from_le_bytes([head[0], head[1]]) as u32,
            u16::from_le_bytes([head[2], head[3]]) as u32,
        );
        if luma.len() != (w * h) as usize {
            return Thumb::default();
        }
        Thumb {
            width: w,
            height: h,
            luma: luma.to_vec(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.luma.is_empty()
    }
}

impl From<GrayImage> for Thumb {
    fn from(g: GrayImage) -> Thumb {
        Thumb {
            width: g.width(),
            height: g.height(),
            luma: g.into_raw(),
        }
    }
}

/// Outcome of matching a new image against an old one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoMatch {
    /// Correspondences consistent with one similarity transform.
    pub inliers: u32,
    /// Correspondences that passed the ratio test.
    pub matches: u32,
    pub scale: f32,
    pub angle_deg: f32,
    /// Inlier positions in the new image, normalised to 0–1, to attribute them to regions
    /// (e.g. the product box).
    pub inlier_points: Vec<(f32, f32)>,
    /// The new image matched the old one mirrored left–right.
    pub mirrored: bool,
    /// The fitted transform, to carry positions between the frames (`None` under 3 inliers).
    pub fit: Option<Fit>,
}

/// The similarity RANSAC found, with what surrounds it: the whole-frame stretch undone
/// before fitting and the mirroring, so positions map between the two frames as seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// `z_new = a·z_old + b` (complex), in pixels of the new working frame after `stretch`.
    a: (f32, f32),
    b: (f32, f32),
    /// Factors applied to the new frame's pixels before fitting ((1, 1) unless the
    /// unstretched fit won).
    stretch: (f32, f32),
    new_size: (f32, f32),
    old_size: (f32, f32),
    mirrored: bool,
}

impl Fit {
    /// The fit of a picture to itself, `w`×`h` working pixels on both sides.
    #[cfg(test)]
    pub(crate) fn identity(w: f32, h: f32) -> Fit {
        Fit {
            a: (1.0, 0.0),
            b: (0.0, 0.0),
            stretch: (1.0, 1.0),
            new_size: (w, h),
            old_size: (w, h),
            mirrored: false,
        }
    }

    /// A position in the new frame (normalised 0–1) → the same content's position in the
    /// old frame (normalised; outside 0–1 where the new frame shows what the old did not).
    pub fn to_old(&self, (u, v): (f32, f32)) -> (f32, f32) {
        let u = if self.mirrored { 1.0 - u } else { u };
        let wx = u * self.new_size.0 * self.stretch.0 - self.b.0;
        let wy = v * self.new_size.1 * self.stretch.1 - self.b.1;
        let (ar, ai) = self.a;
        let d = (ar * ar + ai * ai).max(1e-12);
        let ox = (wx * ar + wy * ai) / d;
        let oy = (wy * ar - wx * ai) / d;
        (ox / self.old_size.0, oy / self.old_size.1)
    }
}

impl GeoMatch {
    /// Inliers whose new-side point lies in the normalised box `[x, y, w, h]`.
    pub(crate) fn inliers_in(&self, b: [f32; 4]) -> u32 {
        self.inlier_points
            .iter()
            .filter(|(x, y)| *x >= b[0] && *x <= b[0] + b[2] && *y >= b[1] && *y <= b[1] + b[3])
            .count() as u32
    }
}

/// 256 point pairs (512 offsets), pre-rotated for each orientation bin.
type Pattern = [[(i32, i32); 512]; ANGLE_BINS];

fn pattern() -> &'static Pattern {
    use std::sync::OnceLock;
    static P: OnceLock<Box<Pattern>> = OnceLock::new();
    P.get_or_init(|| {
        // Fixed seed: descriptors stored in the library must stay comparable across runs and
        // builds, so the test pattern is part of the format (like ORB's published pattern).
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || (super::xorshift64(&mut s) >> 11) as f64 / (1u64 << 53) as f64;
        let mut gauss = || {
            let u1 = next().max(1e-12);
            let u2 = next();
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        };
        let sigma = PATCH_RADIUS as f64 * 2.0 / 5.0;
        let mut base = Vec::with_capacity(512);
        while base.len() < 512 {
            let x = gauss() * sigma;
            let y = gauss() * sigma;
            if x.abs() <= PATCH_RADIUS as f64 && y.abs() <= PATCH_RADIUS as f64 {
                base.push((x, y));
            }
        }
        let mut out = Box::new([[(0, 0); 512]; ANGLE_BINS]);
        for (bin, row) in out.iter_mut().enumerate() {
            let a = bin as f64 * 2.0 * std::f64::consts::PI / ANGLE_BINS as f64;
            let (sn, cs) = a.sin_cos();
            for (k, (x, y)) in base.iter().enumerate() {
                row[k] = (
                    (cs * x - sn * y).round() as i32,
                    (sn * x + cs * y).round() as i32,
                );
            }
        }
        out
    })
}

/// Extracts features from an RGBA frame.
pub fn extract(img: &RgbaImage) -> Features {
    extract_gray(&working_gray(img))
}

/// The grey image keypoints are found in: the frame scaled to `WORK_SIDE` on its long side,
/// then converted to grey. Scaling the colour frame first (fast_image_resize's AVX2
/// convolution with the triangle filter `image`'s resize used) converts a quarter of the
/// pixels or fewer: converting the full frame and resizing it with `image` (scalar, rounding
/// through libm) was a quarter of a catalog batch's CPU. Both steps are linear, so the
/// order changes only rounding; `benches/dedup_eval.rs` measured the same recall and no false
/// positives (BENCHMARKS.md, *Duplicate gate*). `to_luma8` (the colour-space-aware cast,
/// Rec. 709 weights) is the conversion the stored features were made with.
fn working_gray(img: &RgbaImage) -> GrayImage {
    working_gray_at(img, WORK_SIDE)
}

/// `working_gray` with `side` pixels on the long side.
pub(crate) fn working_gray_at(img: &RgbaImage, side: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (ww, hh) = working_size_at(w, h, side);
    let small = if (ww, hh) == (w, h) {
        img.clone()
    } else {
        crate::media::resize_no_alpha(img, ww, hh)
    };
    luma8(&small)
}

/// image 0.25's `to_luma8` of an sRGB `RgbaImage`, byte for byte (`tests::
/// luma8_is_images_to_luma8`, every colour): each channel `v as f32 * (1 / 255)` times the
/// Y row of the sRGB→XYZ matrix moxcms derives for image (D65), summed red, green, blue,
/// then `(l * 255).round()`, saturated. image runs it through 256-pixel float buffers and
/// libm's `roundf` (0.2 % of a catalog batch's samples, `perf`, 2026-12-06, for grey
/// pictures of 24 products); here the products by each channel value are three tables
/// and the rounding is integer.
pub(crate) fn luma8(img: &RgbaImage) -> GrayImage {
    use std::sync::OnceLock;
    static TABLES: OnceLock<[[f32; 256]; 3]> = OnceLock::new();
    let t = TABLES.get_or_init(|| {
        // moxcms 0.8 `ColorPrimaries::BT_709.transform_to_xyz(Chromaticity::D65).v[1]`.
        let coef = [0x3e59_c05b, 0x3f37_15fc, 0x3d93_cf75].map(f32::from_bits);
        let mut t = [[0f32; 256]; 3];
        for (table, k) in t.iter_mut().zip(coef) {
            for (v, out) in table.iter_mut().enumerate() {
                *out = v as f32 * (1.0 / 255.0) * k;
            }
        }
        t
    });
    let out: Vec<u8> = img
        .as_raw()
        .chunks_exact(4)
        .map(|p| {
            let l = (t[0][usize::from(p[0])] + t[1][usize::from(p[1])]) + t[2][usize::from(p[2])];
            let v = l * 255.0;
            // `round` (half away from zero) of a non-negative value: the fraction above the
            // truncation is exact in f32.
            let whole = v as i32;
            let up = i32::from(v - whole as f32 >= 0.5);
            (whole + up).clamp(0, 255) as u8
        })
        .collect();
    GrayImage::from_raw(img.width(), img.height(), out).expect("one byte a pixel")
}

fn working_size_at(w: u32, h: u32, side: u32) -> (u32, u32) {
    let s = side as f32 / w.max(h) as f32;
    (
        ((w as f32 * s).round() as u32).max(1),
        ((h as f32 * s).round() as u32).max(1),
    )
}

/// `(extract(img), extract_mirrored(img))` from one working image.
pub(crate) fn extract_both(img: &RgbaImage) -> (Features, Features) {
    extract_both_budget(img, KEYPOINTS, WORK_SIDE)
}

/// `extract_both` keeping about `budget` keypoints on each side, from a working image of
/// `side` pixels on its long side.
fn extract_both_budget(img: &RgbaImage, budget: usize, side: u32) -> (Features, Features) {
    let gray = working_gray_at(img, side);
    let mirrored = image::imageops::flip_horizontal(&gray);
    (
        extract_gray_budget(&gray, budget),
        extract_gray_budget(&mirrored, budget),
    )
}

/// Grey resize for the pyramid levels and the thumbnail (fast_image_resize, triangle
/// filter), through the crate's one resizer per thread.
fn resize_gray(src: &GrayImage, w: u32, h: u32) -> GrayImage {
    use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions};
    let mut dst = GrayImage::new(w.max(1), h.max(1));
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    crate::media::with_resizer(|r| r.resize(src, &mut dst, &opts))
        .expect("U8 to U8 resize cannot fail on sizes ≥ 1");
    dst
}

/// Keypoints over a pyramid of the working image `base`.
fn extract_gray(base: &GrayImage) -> Features {
    extract_gray_budget(base, KEYPOINTS)
}

/// `extract_gray` keeping about `budget` keypoints.
pub(crate) fn extract_gray_budget(base: &GrayImage, budget: usize) -> Features {
    let (ww, hh) = base.dimensions();
    let mut feats = Features {
        width: ww,
        height: hh,
        ..Default::default()
    };
    let mut level_img = base.clone();
    let mut level_scale = 1.0f32;
    let weights: Vec<f32> = (0..LEVELS)
        .map(|l| LEVEL_SCALE.powi(-(l as i32) * 2))
        .collect();
    let wsum: f32 = weights.iter().sum();
    for (l, wgt) in weights.iter().enumerate() {
        if l > 0 {
            level_scale *= LEVEL_SCALE;
            let nw = (ww as f32 / level_scale).round() as u32;
            let nh = (hh as f32 / level_scale).round() as u32;
            level_img = resize_gray(&level_img, nw, nh);
        }
        let (lw, lh) = level_img.dimensions();
        if lw < 2 * EDGE + 16 || lh < 2 * EDGE + 16 {
            break;
        }
        let target = ((budget as f32) * wgt / wsum).ceil() as usize;
        describe_level(&level_img, target, level_scale, &mut feats);
    }
    feats.thumb = Thumb::of(base);
    feats
}

/// imageproc's `gaussian_blur_f32(img, 2.0)` — the smoothing the stored descriptors were
/// made with — computed row by row: the same kernel, the same f32 operations in the same
/// order per pixel (so the same bytes; a unit test compares them), but over whole rows the
/// compiler vectorises, where imageproc's generic per-pixel loop was 12 % of a catalog
/// batch's CPU.
fn blur_sigma_2(img: &GrayImage) -> GrayImage {
    const SIGMA: f32 = 2.0;
    let radius = (2.0 * SIGMA).ceil() as usize;
    let gauss = |x: f32| {
        ((2.0 * std::f32::consts::PI).sqrt() * SIGMA).recip()
            * (-x.powi(2) / (2.0 * SIGMA.powi(2))).exp()
    };
    let mut kernel = vec![0f32; 2 * radius + 1];
    for i in 0..=radius {
        kernel[radius + i] = gauss(i as f32);
        kernel[radius - i] = gauss(i as f32);
    }
    let sum: f32 = kernel.iter().sum();
    kernel.iter_mut().for_each(|k| *k /= sum);
    // imageproc's `Clamp<f32> for u8` (truncation inside the range, 0 below, 255 above),
    // as clamp-then-truncate over a whole row, which vectorises: its branches one value at
    // a time were most of the blur's time (`perf annotate`, 2026-12-06). The sums are of
    // bytes and positive weights, never NaN, where the two forms would differ.
    let clamp_row = |out: &mut [u8], sums: &[f32]| {
        for (o, &v) in out.iter_mut().zip(sums) {
            // SAFETY: the value is clamped to 0..=255 first, so it converts exactly.
            *o = unsafe { v.clamp(0.0, 255.0).to_int_unchecked::<i32>() } as u8;
        }
    };
    let (w, h) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let r = radius as isize;
    let mut horiz = vec![0u8; w * h];
    let mut padded = vec![0f32; w + 2 * radius];
    // Tap by tap along the whole row, as the vertical pass below: each pixel still sums its
    // taps in kernel order from zero, and the row loop vectorises, where a pixel's own
    // nine-tap loop did not (the blur took 5 ns a pixel, a quarter of finding a product's
    // keypoints, 2026-12-06).
    let mut row_acc = vec![0f32; w];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        // The row, its first and last pixel repeated `radius` times beyond each end.
        padded[..radius].fill(f32::from(row[0]));
        padded[radius + w..].fill(f32::from(row[w - 1]));
        for (v, &p) in padded[radius..radius + w].iter_mut().zip(row) {
            *v = f32::from(p);
        }
        row_acc.fill(0.0);
        for (i, k) in kernel.iter().enumerate() {
            for (a, &p) in row_acc.iter_mut().zip(&padded[i..i + w]) {
                *a += p * k;
            }
        }
        clamp_row(&mut horiz[y * w..(y + 1) * w], &row_acc);
    }
    let mut out = vec![0u8; w * h];
    let mut acc = vec![0f32; w];
    for y in 0..h {
        acc.fill(0.0);
        for (i, k) in kernel.iter().enumerate() {
            let sy = (y as isize + i as isize - r).clamp(0, h as isize - 1) as usize;
            for (a, &p) in acc.iter_mut().zip(&horiz[sy * w..(sy + 1) * w]) {
                *a += f32::from(p) * k;
            }
        }
        clamp_row(&mut out[y * w..(y + 1) * w], &acc);
    }
    GrayImage::from_raw(w as u32, h as u32, out).expect("w×h bytes")
}

/// imageproc's `oriented_fast(img, None, n, edge, Some(seed))` (0.25) without the
/// orientations: the same threshold, from the same seeded sample of FAST scores, and the same
/// corners in the same order (`tests::fast_corners_are_imageprocs`). imageproc measures the
/// orientation of all `n` corners (a 31×31 intensity centroid each, two passes, one of them
/// down columns), and `describe_level` keeps a sixth of them: measured for those alone
/// (`centroid_angle`), describing a level costs a third less (`perf`, 2026-12-06: 3.4 → 2.2 %
/// of a catalog batch's samples; the centroids had been the gate's largest single part).
fn fast_corners(img: &GrayImage, n: usize, edge: u32, seed: u64) -> Vec<Corner> {
    use rand::distributions::{Distribution, Uniform};
    use rand::SeedableRng;
    const SAMPLES: usize = 1000;
    let (w, h) = img.dimensions();
    if w <= 2 * edge || h <= 2 * edge {
        return Vec::new();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (xs, ys) = (Uniform::new(edge, w - edge), Uniform::new(edge, h - edge));
    let mut scores: Vec<u8> = (0..SAMPLES.min((w * h) as usize))
        .map(|_| {
            let (x, y) = (xs.sample(&mut rng), ys.sample(&mut rng));
            fast9_score(img, 0, x, y)
        })
        .collect();
    scores.sort_unstable();
    let fraction = n as f32 / (w * h) as f32;
    let at = ((SAMPLES as f32 * (1.0 - fraction)) as usize).min(scores.len() - 1);
    let threshold = scores[at];
    let mut corners = Vec::new();
    let mut found = |x: u32, y: u32| {
        if let Some((c, circle)) = circle(img, x, y).filter(|(c, p)| fast9(*c, p, threshold)) {
            let score = bisect_score(c, &circle, threshold);
            corners.push(Corner::new(x, y, f32::from(score)));
        }
    };
    for y in edge..h - edge {
        let mut x = edge;
        // Sixteen pixels' compass points at once, the full test only where they pass: one
        // pixel at a time, with its bounds and branches, the scan took 6 ns a pixel and was
        // the larger part of finding a product's keypoints (2026-12-06). The same pixels, in
        // the same order (`tests::compass_sixteen_at_a_time_equals_one_at_a_time`).
        #[cfg(target_arch = "x86_64")]
        while edge >= 3 && x + 16 <= w - edge {
            let mut pass = compass16(img, threshold, x, y);
            while pass != 0 {
                found(x + pass.trailing_zeros(), y);
                pass &= pass - 1;
            }
            x += 16;
        }
        for x in x..w - edge {
            found(x, y);
        }
    }
    // Stable, as imageproc's: equal scores keep the scan order.
    corners.sort_by(|a, b| b.score.total_cmp(&a.score));
    corners.truncate(n);
    corners
}

/// The centre and the sixteen circle pixels FAST reads about (`x`, `y`); `None` within 3
/// pixels of an edge, where imageproc finds no corner. Read once, they serve every
/// threshold a score's bisection probes: read again for each probe, as imageproc does,
/// they were a third of finding a product's keypoints (2026-12-06).
fn circle(img: &GrayImage, x: u32, y: u32) -> Option<(i16, [i16; 16])> {
    let (w, h) = img.dimensions();
    if x < 3 || y < 3 || x + 3 >= w || y + 3 >= h {
        return None;
    }
    let (w, x, y) = (w as usize, x as usize, y as usize);
    let rows: [&[u8]; 7] = std::array::from_fn(|i| &img.as_raw()[(y + i - 3) * w..][..w]);
    let at = |dx: isize, dy: isize| i16::from(rows[(3 + dy) as usize][(x as isize + dx) as usize]);
    // The compass points sit at circle positions 0, 4, 8 and 12 as imageproc's test reads
    // them, which is not the order of imageproc's own circle diagram; kept, so that the
    // same corners are found.
    Some((
        at(0, 0),
        [
            at(0, -3),
            at(1, -3),
            at(2, -2),
            at(3, -1),
            at(0, 3),
            at(3, 1),
            at(2, 2),
            at(1, 3),
            at(3, 0),
            at(-1, 3),
            at(-2, 2),
            at(-3, 1),
            at(-3, 0),
            at(-3, -1),
            at(-2, -2),
            at(-1, -3),
        ],
    ))
}

/// imageproc's FAST-9 test at threshold `t` of a circle already read (`circle`): two
/// neighbouring compass points, then nine contiguous circle pixels (wrapping around), all
/// brighter than the centre + `t` or all darker than the centre − `t` — the compass points
/// first, as imageproc, then a run of nine in the circle's bits. Inlined into the
/// bisection, which calls it eight times a corner.
#[inline(always)]
fn fast9(c: i16, circle: &[i16; 16], t: u8) -> bool {
    let (low, high) = (c - i16::from(t), c + i16::from(t));
    let (p0, p4, p8, p12) = (circle[0], circle[4], circle[8], circle[12]);
    // Two neighbouring compass points past the threshold (imageproc's pairs 0–4, 4–8, 8–12
    // and 12–0): one of 0 and 8 and one of 4 and 12.
    let above = (p0 > high || p8 > high) && (p4 > high || p12 > high);
    let below = (p0 < low || p8 < low) && (p4 < low || p12 < low);
    if !above && !below {
        return false;
    }
    let (mut brighter, mut darker) = (0u32, 0u32);
    for (i, &v) in circle.iter().enumerate() {
        brighter |= u32::from(v > high) << i;
        darker |= u32::from(v < low) << i;
    }
    (above && has_run_of_nine(brighter)) || (below && has_run_of_nine(darker))
}

/// Which of the sixteen pixels from (`x`, `y`) pass `fast9`'s compass test at `t` (bit
/// `i` for `x + i`), in SSE2 (part of every x86_64). Saturating `c ± t` at 0 and 255
/// decides as the 16-bit sums do: no pixel is above 255 or below 0.
#[cfg(target_arch = "x86_64")]
fn compass16(img: &GrayImage, t: u8, x: u32, y: u32) -> u32 {
    use std::arch::x86_64::*;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (x, y) = (x as usize, y as usize);
    let raw = img.as_raw();
    assert!(
        x >= 3 && y >= 3 && x + 19 <= w && y + 3 < h,
        "compass16 at ({x}, {y}) in {w}×{h}"
    );
    // SAFETY: SSE2 is part of x86_64; every load reads 16 bytes from `raw[y·w + x − 3]` up
    // to `raw[(y + 3)·w + x + 15]`, inside `raw` by the assertion.
    unsafe {
        let at = |off: usize| _mm_loadu_si128(raw.as_ptr().add(off).cast());
        let c = at(y * w + x);
        let (p0, p4) = (at((y - 3) * w + x), at((y + 3) * w + x));
        let (p8, p12) = (at(y * w + x + 3), at(y * w + x - 3));
        let tv = _mm_set1_epi8(t as i8);
        let (high, low) = (_mm_adds_epu8(c, tv), _mm_subs_epu8(c, tv));
        let zero = _mm_setzero_si128();
        // All ones where `p` is not above `high` (not below `low`).
        let not_above = |p| _mm_cmpeq_epi8(_mm_subs_epu8(p, high), zero);
        let not_below = |p| _mm_cmpeq_epi8(_mm_subs_epu8(low, p), zero);
        let no_above = _mm_or_si128(
            _mm_and_si128(not_above(p0), not_above(p8)),
            _mm_and_si128(not_above(p4), not_above(p12)),
        );
        let no_below = _mm_or_si128(
            _mm_and_si128(not_below(p0), not_below(p8)),
            _mm_and_si128(not_below(p4), not_below(p12)),
        );
        !(_mm_movemask_epi8(_mm_and_si128(no_above, no_below)) as u32) & 0xffff
    }
}

/// Nine contiguous bits of the 16-bit circle mask `m`, wrapping around: the mask twice
/// over, and a bit that starts nine set bits.
fn has_run_of_nine(m: u32) -> bool {
    let twice = m | m << 16;
    (1..9).fold(twice, |run, k| run & twice >> k) != 0
}

/// imageproc's `fast_corner_score` for FAST-9: the largest threshold in `t`..=255 at which
/// (`x`, `y`) is still a corner (`t` if none), by the same bisection. Finding it directly
/// (the weakest of the best pair and the best nine-pixel arc) was three times slower: most
/// probes stop at the compass points.
fn fast9_score(img: &GrayImage, t: u8, x: u32, y: u32) -> u8 {
    circle(img, x, y).map_or(t, |(c, circle)| bisect_score(c, &circle, t))
}

/// `fast9_score` of a circle already read.
fn bisect_score(c: i16, circle: &[i16; 16], t: u8) -> u8 {
    let (mut max, mut min) = (255u8, t);
    loop {
        if max == min {
            return max;
        }
        let mean = ((u16::from(max) + u16::from(min)) / 2) as u8;
        let probe = if max == min + 1 { max } else { mean };
        if fast9(c, circle, probe) {
            min = probe;
        } else {
            max = probe - 1;
        }
    }
}

/// imageproc's intensity-centroid orientation of the patch of `radius` about (`x`, `y`),
/// clipped at the image's edges (its weights then start from the clipped edge, as there).
fn centroid_angle(img: &GrayImage, x: u32, y: u32, radius: u32) -> f32 {
    let (w, h) = img.dimensions();
    let (x0, y0) = (x.saturating_sub(radius), y.saturating_sub(radius));
    let (x1, y1) = ((x + radius + 1).min(w), (y + radius + 1).min(h));
    let r = radius as i32;
    let (mut mx, mut my) = (0i32, 0i32);
    for (j, yy) in (y0..y1).enumerate() {
        let row = &img.as_raw()[(yy * w + x0) as usize..(yy * w + x1) as usize];
        let mut sum = 0i32;
        for (i, &p) in row.iter().enumerate() {
            mx += (i as i32 - r) * i32::from(p);
            sum += i32::from(p);
        }
        my += (r - j as i32) * sum;
    }
    -(my as f32).atan2(mx as f32)
}

fn describe_level(img: &GrayImage, target: usize, scale: f32, out: &mut Features) {
    // Over-detect, then keep the strongest corner per 5-px cell: imageproc's oriented FAST
    // has no non-maximum suppression, and clustered corners waste the budget on one edge.
    let corners = fast_corners(img, target * 6, EDGE, 0x0dd_ba11);
    let cell = 5u32;
    let gw = img.width() / cell + 1;
    let mut best: std::collections::HashMap<u32, (f32, usize)> = Default::default();
    for (i, c) in corners.iter().enumerate() {
        let key = (c.y / cell) * gw + c.x / cell;
        let e = best.entry(key).or_insert((f32::MIN, i));
        if c.score > e.0 {
            *e = (c.score, i);
        }
    }
    // Spread the budget over a coarse grid, strongest first within each region: a big
    // caption or logo (high-contrast glyph edges, the strongest corners in the frame) must
    // not take every keypoint, or the picture it covers a fifth of is no longer described.
    let (gx, gy) = (GRID, GRID);
    let region = |i: usize| {
        let c = &corners[i];
        let rx = (c.x * gx / img.width()).min(gx - 1);
        let ry = (c.y * gy / img.height()).min(gy - 1);
        (ry * gx + rx) as usize
    };
    let mut by_region: Vec<Vec<usize>> = vec![Vec::new(); (gx * gy) as usize];
    for (_, i) in best.values() {
        by_region[region(*i)].push(*i);
    }
    let by_score = |a: &usize, b: &usize| {
        corners[*b]
            .score
            .total_cmp(&corners[*a].score)
            .then(a.cmp(b))
    };
    for r in by_region.iter_mut() {
        r.sort_by(by_score);
    }
    // Round-robin over regions, rank by rank; within a rank the strongest go first so that a
    // truncated last round still keeps the best of it.
    let mut kept: Vec<usize> = Vec::with_capacity(target);
    let mut rank = 0;
    while kept.len() < target {
        let mut round: Vec<usize> = by_region
            .iter()
            .filter_map(|r| r.get(rank).copied())
            .collect();
        if round.is_empty() {
            break;
        }
        round.sort_by(by_score);
        kept.extend(round.into_iter().take(target - kept.len()));
        rank += 1;
    }
    let smooth = blur_sigma_2(img);
    let pat = pattern();
    for i in kept {
        let c = &corners[i];
        // imageproc's centroid angle turns the same way as the pattern rotation above in image
        // coordinates (checked by the quarter-turn test), so it is used as is.
        let angle = centroid_angle(img, c.x, c.y, PATCH_RADIUS as u32);
        let bin = (((angle / (2.0 * std::f32::consts::PI)) * ANGLE_BINS as f32).round() as i64)
            .rem_euclid(ANGLE_BINS as i64) as usize;
        // Test points as offsets into the raw plane: `get_pixel`'s two-axis bounds checks
        // for 512 points a keypoint were a sixth of finding a product's keypoints
        // (2026-12-06). A corner is `EDGE` from every side, beyond the pattern's reach.
        let (cx, cy, w) = (c.x as isize, c.y as isize, img.width() as isize);
        let (raw, centre) = (smooth.as_raw(), cy * w + cx);
        let px = |(x, y): (i32, i32)| raw[(centre + y as isize * w + x as isize) as usize];
        let mut d = [0u64; 4];
        for k in 0..256 {
            // Without a branch: each test is a coin toss the predictor cannot learn.
            d[k / 64] |= u64::from(px(pat[bin][2 * k]) < px(pat[bin][2 * k + 1])) << (k % 64);
        }
        out.points.push((c.x as f32 * scale, c.y as f32 * scale));
        out.descriptors.push(d);
    }
}

/// The nearest and second-nearest descriptor distances in `olds` and the nearest's index
/// (the first on ties). This brute-force scan is most of the gate's keypoint matching: the
/// crate is built for baseline x86-64, where `count_ones` is a bit-twiddling sequence, so
/// the same loop is compiled again with the POPCNT instruction and picked at run time (same
/// integers, same result — `tests::nearest_two_dispatch_equals_portable`). Measured with the
/// gate's lazy matching (`rules.rs`) on `benches/catalog.py`: keypoint matching fell from
/// 15.2 % to 3.4 % of the batch's CPU (BENCHMARKS.md, *Main images at catalog scale*).
fn nearest_two(q: &[u64; 4], olds: &[[u64; 4]]) -> (u32, u32, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the feature was detected at run time just above.
            return unsafe { nearest_two_popcnt(q, olds) };
        }
    }
    nearest_two_portable(q, olds)
}

#[inline(always)]
fn nearest_two_portable(q: &[u64; 4], olds: &[[u64; 4]]) -> (u32, u32, usize) {
    let (mut b1, mut b2, mut bi) = (u32::MAX, u32::MAX, 0usize);
    for (j, dold) in olds.iter().enumerate() {
        let d = hamming(q, dold);
        if d < b1 {
            b2 = b1;
            b1 = d;
            bi = j;
        } else if d < b2 {
            b2 = d;
        }
    }
    (b1, b2, bi)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn nearest_two_popcnt(q: &[u64; 4], olds: &[[u64; 4]]) -> (u32, u32, usize) {
    nearest_two_portable(q, olds)
}

#[inline(always)]
pub(crate) fn hamming(a: &[u64; 4], b: &[u64; 4]) -> u32 {
    (a[0] ^ b[0]).count_ones()
        + (a[1] ^ b[1]).count_ones()
        + (a[2] ^ b[2]).count_ones()
        + (a[3] ^ b[3]).count_ones()
}

/// Features of the image mirrored left–right. Steered BRIEF is invariant to rotation, not
/// to reflection, so a mirrored re-upload is matched through these (query side only; the
/// library keeps one set per file).
pub fn extract_mirrored(img: &RgbaImage) -> Features {
    extract_gray(&image::imageops::flip_horizontal(&working_gray(img)))
}

/// The better of matching `new` and its mirror image `new_mirrored` against `old`; inlier
/// points are reported in `new`'s own (unmirrored) coordinates.
pub fn match_either(new: &Features, new_mirrored: &Features, old: &Features) -> GeoMatch {
    let direct = match_features(new, old);
    if new_mirrored.descriptors.is_empty() {
        return direct;
    }
    let mut m = match_features(new_mirrored, old);
    if m.inliers <= direct.inliers {
        return direct;
    }
    for p in &mut m.inlier_points {
        p.0 = 1.0 - p.0;
    }
    m.mirrored = true;
    if let Some(f) = &mut m.fit {
        f.mirrored = true;
    }
    m
}

/// Matches `new` against `old` and fits a similarity transform old → new.
pub fn match_features(new: &Features, old: &Features) -> GeoMatch {
    let mut pairs: Vec<Pair> = Vec::new();
    if old.descriptors.len() < 2 {
        return GeoMatch::default();
    }
    for (i, dn) in new.descriptors.iter().enumerate() {
        let (b1, b2, bi) = nearest_two(dn, &old.descriptors);
        if b1 <= MAX_DESC_DISTANCE && (b1 as f32) < RATIO * b2 as f32 {
            pairs.push((old.points[bi], new.points[i]));
        }
    }
    let mut result = GeoMatch {
        matches: pairs.len() as u32,
        ..Default::default()
    };
    let mut best = ransac(&pairs);
    let mut stretch = (1.0f32, 1.0f32);
    let mut unstretched_fit: Option<Vec<Pair>> = None;
    // A stretched copy (new aspect ratio, same picture) is no similarity of its source.
    // Undo a whole-frame stretch by mapping the new points onto the old frame's shape, and
    // keep that fit when it explains more matches. Normalised positions are the same in
    // both frames, so the inlier points below need no change.
    let (ar_new, ar_old) = (
        new.width as f32 / new.height.max(1) as f32,
        old.width as f32 / old.height.max(1) as f32,
    );
    if (ar_new / ar_old - 1.0).abs() > 0.03 {
        let (sx, sy) = (
            old.width as f32 / new.width.max(1) as f32,
            old.height as f32 / new.height.max(1) as f32,
        );
        let unstretched: Vec<_> = pairs
            .iter()
            .map(|(o, n)| (*o, (n.0 * sx, n.1 * sy)))
            .collect();
        let b = ransac(&unstretched);
        if b.0 > best.0 {
            best = b;
            stretch = (sx, sy);
            unstretched_fit = Some(unstretched);
        }
    }
    let fitted: &[Pair] = unstretched_fit.as_deref().unwrap_or(&pairs);
    if best.0 < 3 {
        return result;
    }
    let t = best.1;
    result.inliers = best.0;
    result.scale = (t.0 * t.0 + t.1 * t.1).sqrt();
    result.angle_deg = t.1.atan2(t.0).to_degrees();
    result.fit = Some(Fit {
        a: (t.0, t.1),
        b: (t.2, t.3),
        stretch,
        new_size: (new.width.max(1) as f32, new.height.max(1) as f32),
        old_size: (old.width.max(1) as f32, old.height.max(1) as f32),
        mirrored: false,
    });
    result.inlier_points = pairs
        .iter()
        .zip(fitted)
        .filter(|(_, f)| residual(&t, f) < RANSAC_PX)
        .map(|((_, n), _)| (n.0 / new.width as f32, n.1 / new.height as f32))
        .collect();
    result
}

type Transform = (f32, f32, f32, f32);
type Pair = ((f32, f32), (f32, f32));

/// The similarity consistent with the most pairs (deterministic sampling) and their count.
fn ransac(pairs: &[Pair]) -> (u32, Transform) {
    let mut best: (u32, Transform) = (0, (1.0, 0.0, 0.0, 0.0));
    if pairs.len() < 3 {
        return best;
    }
    let mut rng: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    for _ in 0..RANSAC_ITERS {
        let i = next(pairs.len());
        let j = next(pairs.len());
        if i == j {
            continue;
        }
        let Some(t) = similarity(pairs[i], pairs[j]) else {
            continue;
        };
        let n = pairs.iter().filter(|p| residual(&t, p) < RANSAC_PX).count() as u32;
        if n > best.0 {
            best = (n, t);
        }
    }
    best
}

/// z' = a·z + b in complex form: (a_re, a_im, b_re, b_im). Rejects degenerate samples and
/// implausible scales (a crop or a fit changes scale by far less than 5×).
fn similarity(p: Pair, q: Pair) -> Option<Transform> {
    let (z0, w0) = p;
    let (z1, w1) = q;
    let dz = (z1.0 - z0.0, z1.1 - z0.1);
    let dw = (w1.0 - w0.0, w1.1 - w0.1);
    let den = dz.0 * dz.0 + dz.1 * dz.1;
    if den < 100.0 {
        return None;
    }
    let ar = (dw.0 * dz.0 + dw.1 * dz.1) / den;
    let ai = (dw.1 * dz.0 - dw.0 * dz.1) / den;
    let s = (ar * ar + ai * ai).sqrt();
    if !(0.2..=5.0).contains(&s) {
        return None;
    }
    let br = w0.0 - (ar * z0.0 - ai * z0.1);
    let bi = w0.1 - (ar * z0.1 + ai * z0.0);
    Some((ar, ai, br, bi))
}

fn residual(t: &Transform, p: &Pair) -> f32 {
    let (z, w) = p;
    let x = t.0 * z.0 - t.1 * z.1 + t.2;
    let y = t.0 * z.1 + t.1 * z.0 + t.3;
    ((x - w.0).powi(2) + (y - w.1).powi(2)).sqrt()
}

/// Marks the thumbnail trailer at the end of an encoded `Features`.
const THUMB_MAGIC: &[u8; 4] = b"THB1";

/// `width`, `height` (u32 LE), then 40 bytes per keypoint (x, y as f32, the descriptor as
/// 4 u64), then, when there is one, the thumbnail: its pixels, a pad byte if needed, its
/// width and height (u16 LE) and `THUMB_MAGIC`. The pad keeps the trailer's length off a
/// multiple of 40, so a blob without one (a library written before, or an older binary
/// reading this one's) is told apart by length alone: older binaries see no keypoints
/// rather than misreading pixels as keypoints.
pub fn encode(f: &Features) -> Vec<u8> {
    let thumb = f.thumb.luma.len() + 8;
    let mut v = Vec::with_capacity(8 + f.points.len() * 40 + thumb + 1);
    v.extend_from_slice(&f.width.to_le_bytes());
    v.extend_from_slice(&f.height.to_le_bytes());
    for ((x, y), d) in f.points.iter().zip(&f.descriptors) {
        v.extend_from_slice(&x.to_le_bytes());
        v.extend_from_slice(&y.to_le_bytes());
        for w in d {
            v.extend_from_slice(&w.to_le_bytes());
        }
    }
    let t = &f.thumb;
    if !t.is_empty() && t.width <= u16::MAX as u32 && t.height <= u16::MAX as u32 {
        v.extend_from_slice(&t.luma);
        if thumb.is_multiple_of(40) {
            v.push(0);
        }
        v.extend_from_slice(&(t.width as u16).to_le_bytes());
        v.extend_from_slice(&(t.height as u16).to_le_bytes());
        v.extend_from_slice(THUMB_MAGIC);
    }
    v
}

pub fn decode(b: &[u8]) -> Option<Features> {
    let (b, thumb) = split_thumb(b)?;
    if b.len() < 8 || !(b.len() - 8).is_multiple_of(40) {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let f32_at = |i: usize| f32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    let mut f = Features {
        width: u32_at(0),
        height: u32_at(4),
        thumb,
        ..Default::default()
    };
    for rec in (8..b.len()).step_by(40) {
        f.points.push((f32_at(rec), f32_at(rec + 4)));
        f.descriptors.push([
            u64_at(rec + 8),
            u64_at(rec + 16),
            u64_at(rec + 24),
            u64_at(rec + 32),
        ]);
    }
    Some(f)
}

/// The keypoint part of an encoded `Features` and its thumbnail (empty when it has none);
/// `None` when the blob is neither shape.
fn split_thumb(b: &[u8]) -> Option<(&[u8], Thumb)> {
    if b.len() >= 8 && (b.len() - 8).is_multiple_of(40) {
        return Some((b, Thumb::default()));
    }
    let n = b.len();
    if n < 16 || &b[n - 4..] != THUMB_MAGIC {
        return None;
    }
    let width = u16::from_le_bytes([b[n - 8], b[n - 7]]) as usize;
    let height = u16::from_le_bytes([b[n - 6], b[n - 5]]) as usize;
    let pixels = width * height;
    // Without the pad byte, then with it: exactly one leaves whole keypoint records.
    (0..2).find_map(|pad| {
        let start = n.checked_sub(8 + pad + pixels)?;
        (start >= 8 && (start - 8).is_multiple_of(40)).then(|| {
            (
                &b[..start],
                Thumb {
                    width: width as u32,
                    height: height as u32,
                    luma: b[start..start + pixels].to_vec(),
                },
            )
        })
    })
}

#[cfg(test)]
mod tests {
    /// `luma8` gives image's `to_luma8` bytes for every colour.
    #[test]
    fn luma8_is_images_to_luma8() {
        // Every colour once, with alphas that must not matter.
        let img = RgbaImage::from_fn(4096, 4096, |x, y| {
            let i = y * 4096 + x;
            image::Rgba([i as u8, (i >> 8) as u8, (i >> 16) as u8, (i * 7) as u8])
        });
        let want = image::DynamicImage::ImageRgba8(img.clone()).to_luma8();
        let got = luma8(&img);
        if let Some(i) = got
            .as_raw()
            .iter()
            .zip(want.as_raw())
            .position(|(a, b)| a != b)
        {
            panic!(
                "colour {:?}: {} where image gives {}",
                &img.as_raw()[4 * i..4 * i + 3],
                got.as_raw()[i],
                want.as_raw()[i]
            );
        }
    }

    /// `compass16` passes exactly the pixels `fast9`'s compass test passes, at every
    /// threshold, on a picture with runs of 0 and 255 (where `c ± t` saturates) and noise.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn compass_sixteen_at_a_time_equals_one_at_a_time() {
        let mut seed = 0x51_7cc1_b727_220au64;
        let img = GrayImage::from_fn(41, 11, |x, _| {
            let v = crate::dedup::xorshift64(&mut seed) as u8;
            image::Luma([match x % 7 {
                0 => 0,
                1 => 255,
                _ => v,
            }])
        });
        let at = |x: u32, y: u32| i16::from(img.get_pixel(x, y)[0]);
        for t in 0..=255u8 {
            for y in 3..8 {
                for x in 3..=22 {
                    let bits = compass16(&img, t, x, y);
                    for i in 0..16 {
                        let (cx, c) = (x + i, at(x + i, y));
                        let (low, high) = (c - i16::from(t), c + i16::from(t));
                        let p = [at(cx, y - 3), at(cx, y + 3), at(cx + 3, y), at(cx - 3, y)];
                        let above = (p[0] > high || p[2] > high) && (p[1] > high || p[3] > high);
                        let below = (p[0] < low || p[2] < low) && (p[1] < low || p[3] < low);
                        assert_eq!(bits >> i & 1 == 1, above || below, "t {t} at ({cx}, {y})");
                    }
                }
            }
        }
    }

    /// `has_run_of_nine` finds nine contiguous set bits, wrapping around, in every one of
    /// the 65,536 circle masks exactly where counting runs bit by bit does.
    #[test]
    fn run_of_nine_in_every_circle_mask() {
        for m in 0..=u16::MAX {
            let bit = |i: usize| m >> (i % 16) & 1 == 1;
            let counted = (0..16).any(|start| (start..start + 9).all(bit));
            assert_eq!(has_run_of_nine(u32::from(m)), counted, "{m:016b}");
        }
    }

    /// `fast_corners` and `centroid_angle` find what imageproc's `oriented_fast` does, corner
    /// for corner, score for score and angle for angle, on photos and on the catalog's
    /// products (the gate's own inputs), at the budgets the gate asks for.
    #[test]
    fn fast_corners_are_imageprocs() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let photos = [
            "samples/bg/space.jpg",
            "samples/bg/brick.jpg",
            "samples/product/coffee-cup.png",
            "samples/product/badge.png",
        ];
        let mut checked = 0;
        for p in photos {
            let img = image::open(root.join(p)).unwrap().to_luma8();
            for side in [256u32, 141] {
                let g = resize_gray(&img, side, side);
                for n in [1200usize, 300] {
                    let theirs =
                        imageproc::corners::oriented_fast(&g, None, n, EDGE, Some(0x0dd_ba11));
                    let ours = fast_corners(&g, n, EDGE, 0x0dd_ba11);
                    assert_eq!(ours.len(), theirs.len(), "{p} at {side} px, {n}");
                    for (a, b) in ours.iter().zip(&theirs) {
                        assert_eq!(
                            (a.x, a.y, a.score),
                            (b.corner.x, b.corner.y, b.corner.score)
                        );
                        let angle = centroid_angle(&g, a.x, a.y, PATCH_RADIUS as u32);
                        assert_eq!(
                            angle.to_bits(),
                            b.orientation.to_bits(),
                            "{p} ({}, {})",
                            a.x,
                            a.y
                        );
                    }
                    checked += ours.len();
                }
            }
        }
        assert!(checked > 2000, "{checked} corners compared");
        // The direct score is the bisection's, at every pixel and a few thresholds.
        let g = resize_gray(
            &image::open(root.join("samples/bg/brick.jpg"))
                .unwrap()
                .to_luma8(),
            96,
            96,
        );
        for t in [0u8, 1, 9, 40, 200] {
            for y in 0..96 {
                for x in 0..96 {
                    let theirs = imageproc::corners::fast_corner_score(
                        &g,
                        t,
                        x,
                        y,
                        imageproc::corners::Fast::Nine,
                    );
                    assert_eq!(fast9_score(&g, t, x, y), theirs, "({x}, {y}) from {t}");
                }
            }
        }
    }

    use super::*;

    #[test]
    fn row_blur_equals_imageprocs_gaussian_byte_for_byte() {
        // Sizes below, at and above the kernel's width (imageproc has a separate path there).
        for (w, h, seed) in [(512u32, 384u32, 1u32), (9, 9, 2), (5, 40, 3), (37, 3, 4)] {
            let img = GrayImage::from_fn(w, h, |x, y| {
                let v = (x.wrapping_mul(2654435761u32.wrapping_add(seed))
                    ^ y.wrapping_mul(40503)
                    ^ seed)
                    .wrapping_mul(2246822519);
                image::Luma([(v >> 13) as u8])
            });
            assert_eq!(
                blur_sigma_2(&img).as_raw(),
                imageproc::filter::gaussian_blur_f32(&img, 2.0).as_raw(),
                "{w}×{h}"
            );
        }
    }

    /// The run-time-dispatched scan must give the portable loop's exact answer, ties
    /// included (the first nearest index wins), or verdicts would depend on the CPU.
    #[test]
    fn nearest_two_dispatch_equals_portable() {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || crate::dedup::xorshift64(&mut s);
        let mut olds: Vec<[u64; 4]> = (0..700).map(|_| [next(), next(), next(), next()]).collect();
        // Duplicates and near-duplicates, so ties and small distances occur.
        for k in 0..50 {
            olds[k * 7 + 3] = olds[k * 11 % 700];
            olds[k * 13 % 700][2] ^= 1 << (k % 64);
        }
        for i in 0..300 {
            let q = if i % 3 == 0 {
                olds[i * 2 % 700]
            } else {
                [next(), next(), next(), next()]
            };
            assert_eq!(nearest_two(&q, &olds), nearest_two_portable(&q, &olds));
        }
        assert_eq!(nearest_two(&[0; 4], &[]), (u32::MAX, u32::MAX, 0));
    }

    /// Blobs from libraries written before the thumbnail was kept still read, without one;
    /// new blobs read back whole, whatever the thumbnail's size (the pad byte's two cases);
    /// and a reader that knows only keypoints (an older binary) finds none in a new blob
    /// rather than pixels read as keypoints.
    #[test]
    fn keypoints_and_thumbnail_survive_the_blob_and_old_blobs_still_read() {
        let points = |n: usize| Features {
            width: 512,
            height: 384,
            points: (0..n).map(|i| (i as f32, 2.0 * i as f32)).collect(),
            descriptors: (0..n as u64).map(|i| [i, !i, i << 3, 7]).collect(),
            thumb: Thumb::default(),
        };
        let old = encode(&points(5));
        assert_eq!(old.len(), 8 + 5 * 40);
        assert_eq!(decode(&old), Some(points(5)));
        // 96×72 + 8 is not a multiple of 40; 8×4 + 8 is (the pad byte).
        for (w, h) in [(96u32, 72u32), (8, 4), (1, 1)] {
            for n in [0, 1, 3] {
                let f = Features {
                    thumb: Thumb {
                        width: w,
                        height: h,
                        luma: (0..w * h).map(|i| (i * 7 % 251) as u8).collect(),
                    },
                    ..points(n)
                };
                let blob = encode(&f);
                assert_eq!(decode(&blob).as_ref(), Some(&f), "{w}×{h}, {n} keypoints");
                assert!(
                    !(blob.len() - 8).is_multiple_of(40),
                    "{w}×{h}, {n} keypoints"
                );
            }
        }
        assert_eq!(decode(&old[..old.len() - 3]), None);

        // A video second's thumbnail, as its frame row keeps it.
        let t = Thumb {
            width: 64,
            height: 36,
            luma: (0..64 * 36).map(|i| (i % 256) as u8).collect(),
        };
        assert_eq!(Thumb::from_bytes(&t.to_bytes().unwrap()), t);
        assert_eq!(Thumb::default().to_bytes(), None);
        assert!(Thumb::from_bytes(&t.to_bytes().unwrap()[..100]).is_empty());
    }
}
