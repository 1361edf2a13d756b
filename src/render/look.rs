//! The *look* of an `[[effects]]` option: colour (grade, white balance, `.cube` LUT), blur,
//! sharpening, vignette and film grain.
//!
//! A `Look` is prepared once per scene and applied at four points of the composition:
//!
//! - `apply_layer` — colour, on each picture layer at its source size (still background,
//!   video frame, product), never on captions, so brand colours in text stay exact;
//! - `apply_background` — `blur.target = "background"`, on the fitted background before the
//!   product is composed, so the product stays sharp;
//! - `apply_picture` — `blur.target = "frame"` and sharpening, on background + product; a
//!   still backdrop gets it once per job. Captions come after, so they stay legible and
//!   free of sharpening halos;
//! - `apply_frame` — vignette and grain, per frame and over the captions too, as a lens and
//!   film would.
//!
//! Everything is integer or table-driven per pixel and runs over rows with rayon: these run
//! on every frame of a video at 1080×1920 (figures in benches/BENCHMARKS.md).

use std::borrow::Cow;
use std::sync::OnceLock;

use image::RgbaImage;
use rayon::prelude::*;

use super::ops;
use crate::template::{BlurTarget, Effects, Grade, Grain, Lut, Sharpen, Vignette};

/// Colour between the grade and the LUT keeps 4 extra bits (1/16 of a level), so a graded
/// and LUT-mapped pixel is rounded once.
const ONE: i32 = 255 * 16;

/// Gains and kernel weights are fixed point with this many fraction bits.
const SHIFT: u32 = 12;
const UNIT: u32 = 1 << SHIFT;

/// Grain at `amount = 1` moves a mid-grey pixel by up to this many levels.
const GRAIN_LEVELS: f32 = 32.0;

/// Above this standard deviation a blur runs on a copy scaled down to it (see
/// `gaussian_blur`).
const DIRECT_SIGMA: f32 = 1.0;

/// One effects option prepared for rendering. `None` from `new` means it changes nothing.
pub struct Look {
    colour: Option<Colour>,
    /// Blur radius as a fraction of the shorter side.
    blur: Option<(f32, BlurTarget)>,
    sharpen: Option<Sharpen>,
    vignette: Option<Vignette>,
    /// The vignette's gains for the canvas this look draws on, made by the first frame that
    /// needs them. Owned here, not in a process-wide cache, so nothing outlives the run or
    /// is shared between runs (a library user may render many templates in one process);
    /// making them again per job costs a few milliseconds against a whole video's frames.
    vignette_gains: OnceLock<Gains>,
    grain: Option<Grain>,
}

/// Per-pixel gains for one canvas size.
struct Gains {
    width: u32,
    height: u32,
    gains: Vec<u16>,
}

impl Look {
    pub fn new(e: &Effects) -> Option<Look> {
        let grade = e.grade.as_ref().filter(|g| **g != Grade::default());
        let lut = e.lut.as_deref().filter(|_| e.lut_strength > 0.0);
        let look = Look {
            colour: (grade.is_some() || lut.is_some())
                .then(|| Colour::new(grade, lut.map(|l| (l, e.lut_strength)))),
            blur: e
                .blur
                .as_ref()
                .filter(|b| b.radius > 0.0)
                .map(|b| (b.radius, b.target)),
            sharpen: e.sharpen.clone().filter(|s| s.amount > 0.0),
            vignette: e.vignette.clone().filter(|v| v.strength > 0.0),
            vignette_gains: OnceLock::new(),
            grain: e.grain.clone().filter(|g| g.amount > 0.0),
        };
        let any = look.colour.is_some()
            || look.blur.is_some()
            || look.sharpen.is_some()
            || look.vignette.is_some()
            || look.grain.is_some();
        any.then_some(look)
    }

    /// Whether `apply_layer` does anything (lets a caller skip copying a shared frame).
    pub(crate) fn changes_colour(&self) -> bool {
        self.colour.is_some()
    }

    /// Grade, white balance and LUT on a straight-alpha layer; alpha is untouched.
    pub fn apply_layer(&self, img: &mut RgbaImage) {
        if let Some(c) = &self.colour {
            c.apply(img);
        }
    }

    /// The background-only blur, on the opaque background at canvas size.
    pub fn apply_background(&self, img: &mut RgbaImage) {
        if let Some((r, BlurTarget::Background)) = self.blur {
            blur_radius(img, r);
        }
    }

    /// Whole-picture blur, then sharpening, on background + product before captions.
    pub fn apply_picture(&self, img: &mut RgbaImage) {
        if let Some((r, BlurTarget::Frame)) = self.blur {
            blur_radius(img, r);
        }
        if let Some(s) = &self.sharpen {
            sharpen(img, s);
        }
    }

    /// Vignette and grain on the finished frame (captions included). `frame` is the timeline
    /// frame: grain depends only on it and the seed.
    /// Whether `apply_frame` depends on the frame's number (grain is seeded by it), not only
    /// on the picture: such frames differ with their place in the video.
    pub(crate) fn depends_on_frame(&self) -> bool {
        self.grain.is_some()
    }

    pub fn apply_frame(&self, img: &mut RgbaImage, frame: u32) {
        if let Some(v) = &self.vignette {
            let (w, h) = img.dimensions();
            let made = self.vignette_gains.get_or_init(|| Gains {
                width: w,
                height: h,
                gains: vignette_map(w, h, v),
            });
            // A look is prepared per job, whose frames share one size; another size would
            // be a caller reusing it, which stays correct, only slower.
            let gains = if (made.width, made.height) == (w, h) {
                Cow::Borrowed(&made.gains)
            } else {
                Cow::Owned(vignette_map(w, h, v))
            };
            vignette(img, &gains);
        }
        if let Some(g) = &self.grain {
            grain(img, g, frame);
        }
    }
}

/// Grade and LUT folded into tables: three per-channel curves (brightness, contrast, white
/// balance), an integer saturation step, then the LUT.
struct Colour {
    /// Input level → graded level in 1/16 steps (0..=ONE).
    curves: [[u16; 256]; 3],
    /// Chroma gain × 256; 256 skips the step.
    saturation: i32,
    lut: Option<LutTable>,
}

/// Channel gains for white balance, normalised so a grey keeps its luma: temperature trades
/// red against blue, tint trades green against red and blue.
fn white_balance(temperature: f32, tint: f32) -> [f32; 3] {
    let g = [
        1.0 + 0.25 * temperature,
        1.0 - 0.25 * tint,
        1.0 - 0.25 * temperature,
    ];
    let luma = 0.2126 * g[0] + 0.7152 * g[1] + 0.0722 * g[2];
    g.map(|x| x / luma)
}

impl Colour {
    fn new(grade: Option<&Grade>, lut: Option<(&Lut, f32)>) -> Colour {
        let g = grade.cloned().unwrap_or_default();
        let gains = white_balance(g.temperature, g.tint);
        let mut curves = [[0u16; 256]; 3];
        for (curve, gain) in curves.iter_mut().zip(gains) {
            for (i, v) in curve.iter_mut().enumerate() {
                let x =
                    ((i as f32 / 255.0 + g.brightness - 0.5) * g.contrast + 0.5).clamp(0.0, 1.0);
                *v = ((x * gain).clamp(0.0, 1.0) * ONE as f32).round() as u16;
            }
        }
        Colour {
            curves,
            saturation: (g.saturation * 256.0).round() as i32,
            lut: lut.map(|(l, s)| LutTable::new(l, s)),
        }
    }

    fn apply(&self, img: &mut RgbaImage) {
        let stride = img.width() as usize * 4;
        if self.saturation == 256 && self.lut.is_none() {
            // Per-channel only: one table read per channel.
            let bytes = self.curves.map(|c| c.map(|v| ((v + 8) >> 4) as u8));
            img.par_chunks_mut(stride.max(4)).for_each(|row| {
                for p in row.chunks_exact_mut(4) {
                    for k in 0..3 {
                        p[k] = bytes[k][p[k] as usize];
                    }
                }
            });
            return;
        }
        img.par_chunks_mut(stride.max(4)).for_each(|row| {
            for p in row.chunks_exact_mut(4) {
                let mut c = [
                    self.curves[0][p[0] as usize] as i32,
                    self.curves[1][p[1] as usize] as i32,
                    self.curves[2][p[2] as usize] as i32,
                ];
                if self.saturation != 256 {
                    // Rec.709 luma weights in 1/4096.
                    let y = (871 * c[0] + 2929 * c[1] + 296 * c[2] + 2048) >> 12;
                    c = c.map(|v| (y + (((v - y) * self.saturation + 128) >> 8)).clamp(0, ONE));
                }
                if let Some(l) = &self.lut {
                    c = l.map(c);
                }
                for k in 0..3 {
                    p[k] = ((c[k] + 8) >> 4).clamp(0, 255) as u8;
                }
            }
        });
    }
}

/// A LUT in the form the pixel loop wants: per input level, the grid cell and the position in
/// it; the grid as fixed-point colours.
struct LutTable {
    n: usize,
    /// Per channel and input value 0..=ONE: (offset of the cell's corner in `grid`, already
    /// times the axis stride; position inside the cell in 0..=256).
    axes: [Vec<(u32, u16)>; 3],
    /// Output colours in 1/16 levels, padded to 4 for alignment.
    grid: Vec<[i16; 4]>,
    /// Mix with the input colour × 256.
    strength: i32,
    /// Per tetrahedron (see `map`): the two corners its path passes, as grid offsets.
    corners: [(usize, usize); 8],
}

/// The six tetrahedra of a cube cell, indexed by `(fr > fg) << 2 | (fg > fb) << 1 | (fr > fb)`
/// (two indexes cannot occur): the channels in falling order of their fractions.
const ORDER: [[usize; 3]; 8] = [
    [2, 1, 0],
    [2, 1, 0],
    [1, 2, 0],
    [1, 0, 2],
    [2, 0, 1],
    [0, 2, 1],
    [0, 1, 2],
    [0, 1, 2],
];

impl LutTable {
    fn new(l: &Lut, strength: f32) -> LutTable {
        let n = l.size;
        let axes = [0usize, 1, 2].map(|c| {
            let stride = n.pow(c as u32);
            let span = l.domain_max[c] - l.domain_min[c];
            (0..=ONE)
                .map(|v| {
                    let t = ((v as f32 / ONE as f32 - l.domain_min[c]) / span).clamp(0.0, 1.0)
                        * (n - 1) as f32;
                    // The last cell also serves the top edge, at position 256.
                    let i = (t.floor() as usize).min(n - 2);
                    ((i * stride) as u32, ((t - i as f32) * 256.0).round() as u16)
                })
                .collect()
        });
        let q = |x: f32| (x.clamp(0.0, 1.0) * ONE as f32).round() as i16;
        let grid = l
            .table
            .iter()
            .map(|e| [q(e[0]), q(e[1]), q(e[2]), 0])
            .collect();
        // Walking from the cell's origin along the axes in falling order of fraction.
        let step = [1, n, n * n];
        let corners = ORDER.map(|o| (step[o[0]], step[o[0]] + step[o[1]]));
        LutTable {
            n,
            axes,
            grid,
            strength: (strength * 256.0).round() as i32,
            corners,
        }
    }

    /// Tetrahedral interpolation: four grid reads instead of trilinear's eight, and exact for
    /// the grey axis.
    #[inline]
    fn map(&self, c: [i32; 3]) -> [i32; 3] {
        let (n, nn) = (self.n, self.n * self.n);
        let (r, g, b) = (
            self.axes[0][c[0] as usize],
            self.axes[1][c[1] as usize],
            self.axes[2][c[2] as usize],
        );
        let base = (r.0 + g.0 + b.0) as usize;
        let f = [r.1 as i32, g.1 as i32, b.1 as i32];
        // The cube splits along its diagonal into six tetrahedra; the order of the three
        // fractions says which one holds the point. Table lookups instead of branches: the
        // order changes from pixel to pixel and would defeat branch prediction.
        let t =
            ((f[0] > f[1]) as usize) << 2 | ((f[1] > f[2]) as usize) << 1 | (f[0] > f[2]) as usize;
        let o = ORDER[t];
        let (f1, f2, f3) = (f[o[0]], f[o[1]], f[o[2]]);
        let (a, bb) = self.corners[t];
        let (c0, ca, cb, c1) = (
            self.grid[base],
            self.grid[base + a],
            self.grid[base + bb],
            self.grid[base + 1 + n + nn],
        );
        let mut out = [0i32; 3];
        for k in 0..3 {
            let (c0, ca, cb, c1) = (c0[k] as i32, ca[k] as i32, cb[k] as i32, c1[k] as i32);
            let v = (c0 * 256 + f1 * (ca - c0) + f2 * (cb - ca) + f3 * (c1 - cb) + 128) >> 8;
            out[k] = c[k] + (((v - c[k]) * self.strength + 128) >> 8);
        }
        out
    }
}

/// Blur whose radius is a fraction of the shorter side; the radius spans about two
/// standard deviations.
fn blur_radius(img: &mut RgbaImage, radius: f32) {
    let short = img.width().min(img.height()) as f32;
    gaussian_blur(img, radius * short / 2.0);
}

/// Gaussian blur with standard deviation `sigma` pixels. A wider blur runs on a copy scaled
/// down until σ is `DIRECT_SIGMA` px and is scaled back up: a Gaussian that wide holds no
/// detail the smaller grid cannot, and it costs a fraction of a full-size kernel.
fn gaussian_blur(img: &mut RgbaImage, sigma: f32) {
    let (w, h) = img.dimensions();
    if sigma < 0.3 || w < 2 || h < 2 {
        return;
    }
    if sigma <= DIRECT_SIGMA {
        convolve(img, w as usize, h as usize, 4, &kernel(sigma));
        return;
    }
    let k = sigma / DIRECT_SIGMA;
    let (sw, sh) = (
        ((w as f32 / k).round() as u32).max(2),
        ((h as f32 / k).round() as u32).max(2),
    );
    let mut small = ops::resize_no_alpha(img, sw, sh);
    convolve(
        &mut small,
        sw as usize,
        sh as usize,
        4,
        &kernel(sigma * sw as f32 / w as f32),
    );
    *img = ops::resize_no_alpha(&small, w, h);
}

/// A normalised Gaussian in `UNIT` fixed point (the weights sum to exactly `UNIT`, so flat
/// areas stay exactly flat), out to 3σ.
fn kernel(sigma: f32) -> Vec<u32> {
    let r = (3.0 * sigma).ceil().max(1.0) as i32;
    let f: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = f.iter().sum();
    let mut k: Vec<u32> = f
        .iter()
        .map(|x| (x / total * UNIT as f32).round() as u32)
        .collect();
    let sum: u32 = k.iter().sum();
    k[r as usize] = (k[r as usize] + UNIT).saturating_sub(sum);
    k
}

/// Separable convolution of `ch` interleaved 8-bit channels, edges clamped. Each pass is one
/// multiply-add sweep over a whole row per tap, which the compiler vectorises.
fn convolve(buf: &mut [u8], w: usize, h: usize, ch: usize, kern: &[u32]) {
    let r = kern.len() / 2;
    let stride = w * ch;
    let round = |acc: &[u32], out: &mut [u8]| {
        for (o, a) in out.iter_mut().zip(acc) {
            *o = ((a + UNIT / 2) >> SHIFT).min(255) as u8;
        }
    };
    let mut tmp = vec![0u8; buf.len()];
    tmp.par_chunks_mut(stride)
        .zip(buf.par_chunks(stride))
        .for_each_init(
            || (vec![0u8; (w + 2 * r) * ch], vec![0u32; stride]),
            |(pad, acc), (out, row)| {
                for i in 0..r {
                    pad[i * ch..(i + 1) * ch].copy_from_slice(&row[..ch]);
                    pad[(r + w + i) * ch..(r + w + i + 1) * ch]
                        .copy_from_slice(&row[stride - ch..]);
                }
                pad[r * ch..(r + w) * ch].copy_from_slice(row);
                acc.fill(0);
                for (k, &wt) in kern.iter().enumerate() {
                    for (a, &s) in acc.iter_mut().zip(&pad[k * ch..k * ch + stride]) {
                        *a += wt * s as u32;
                    }
                }
                round(acc, out);
            },
        );
    buf.par_chunks_mut(stride).enumerate().for_each_init(
        || vec![0u32; stride],
        |acc, (y, out)| {
            acc.fill(0);
            for (k, &wt) in kern.iter().enumerate() {
                let sy = (y + k).saturating_sub(r).min(h - 1);
                for (a, &s) in acc.iter_mut().zip(&tmp[sy * stride..(sy + 1) * stride]) {
                    *a += wt * s as u32;
                }
            }
            round(acc, out);
        },
    );
}

/// Rec.709 luma of an 8-bit pixel, in levels.
#[inline]
fn luma(p: &[u8]) -> i32 {
    (54 * p[0] as i32 + 183 * p[1] as i32 + 19 * p[2] as i32 + 128) >> 8
}

/// Unsharp mask on luminance only: sharpening each channel would fringe edges with colour.
fn sharpen(img: &mut RgbaImage, s: &Sharpen) {
    let (w, h) = img.dimensions();
    let sigma = (s.radius * w as f32 / 1080.0).max(0.3);
    let mut y = vec![0u8; (w * h) as usize];
    y.par_chunks_mut(w as usize)
        .zip(img.par_chunks(w as usize * 4))
        .for_each(|(y, row)| {
            for (y, p) in y.iter_mut().zip(row.chunks_exact(4)) {
                *y = luma(p) as u8;
            }
        });
    let mut soft = y.clone();
    convolve(&mut soft, w as usize, h as usize, 1, &kernel(sigma));
    let amount = (s.amount * 256.0).round() as i32;
    let stride = w as usize * 4;
    img.par_chunks_mut(stride)
        .zip(y.par_chunks(w as usize))
        .zip(soft.par_chunks(w as usize))
        .for_each(|((row, y), soft)| {
            for ((p, &y), &s) in row.chunks_exact_mut(4).zip(y).zip(soft) {
                let d = ((y as i32 - s as i32) * amount + 128) >> 8;
                for c in &mut p[..3] {
                    *c = (*c as i32 + d).clamp(0, 255) as u8;
                }
            }
        });
}

/// Vignette gain at a normalised distance from the centre (1 = the frame's corners): full
/// brightness inside `radius·(1 − softness)`, `1 − strength` beyond `radius·(1 + softness)`,
/// a smoothstep between.
pub(crate) fn vignette_gain(v: &Vignette, d: f32) -> f32 {
    let (e0, e1) = (v.radius * (1.0 - v.softness), v.radius * (1.0 + v.softness));
    let t = if e1 - e0 < 1e-6 {
        if d < v.radius {
            0.0
        } else {
            1.0
        }
    } else {
        ((d - e0) / (e1 - e0)).clamp(0.0, 1.0)
    };
    1.0 - v.strength * t * t * (3.0 - 2.0 * t)
}

/// The vignette's per-pixel gains for a `w`×`h` canvas.
fn vignette_map(w: u32, h: u32, v: &Vignette) -> Vec<u16> {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let mut gains = vec![0u16; (w * h) as usize];
    gains
        .par_chunks_mut(w as usize)
        .enumerate()
        .for_each(|(y, row)| {
            let dy = (y as f32 + 0.5 - cy) / cy;
            for (x, g) in row.iter_mut().enumerate() {
                let dx = (x as f32 + 0.5 - cx) / cx;
                let d = ((dx * dx + dy * dy) / 2.0).sqrt();
                *g = (vignette_gain(v, d) * UNIT as f32).round() as u16;
            }
        });
    gains
}

fn vignette(img: &mut RgbaImage, map: &[u16]) {
    let w = img.width();
    img.par_chunks_mut(w as usize * 4)
        .zip(map.par_chunks(w as usize))
        .for_each(|(row, gains)| {
            for (p, &g) in row.chunks_exact_mut(4).zip(gains) {
                for c in &mut p[..3] {
                    *c = ((*c as u32 * g as u32 + UNIT / 2) >> SHIFT) as u8;
                }
            }
        });
}

/// A 32-bit integer hash with good avalanche (lowbias32): grain must not show patterns.
#[inline]
fn mix(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// Triangular noise in -255..=255 from two bytes of a hash: closer to film grain's bell
/// shape than uniform noise, at no extra cost.
#[inline]
fn tri(h: u32) -> i32 {
    (h & 0xff) as i32 + ((h >> 8) & 0xff) as i32 - 255
}

/// Monochrome grain, strongest in the mid-tones so blacks and whites are not lifted into
/// grey. Value noise on a grid of `size` pixels (at 1080 px width); per-pixel noise at the
/// default size.
fn grain(img: &mut RgbaImage, g: &Grain, frame: u32) {
    let (w, _) = img.dimensions();
    let amp: Vec<i32> = (0..256)
        .map(|l| {
            let x = l as f32 / 255.0;
            let weight = 0.35 + 0.65 * 4.0 * x * (1.0 - x);
            (g.amount * GRAIN_LEVELS * weight * 65536.0 / 255.0).round() as i32
        })
        .collect();
    let key =
        mix(mix(g.seed as u32 ^ mix((g.seed >> 32) as u32)) ^ frame.wrapping_mul(0x9e37_79b9));
    let cell = g.size * w as f32 / 1080.0;
    let add = |p: &mut [u8], n: i32| {
        let d = (n * amp[luma(p) as usize] + (1 << 15)) >> 16;
        for c in &mut p[..3] {
            *c = (*c as i32 + d).clamp(0, 255) as u8;
        }
    };
    let row_key = |y: u32| mix(key ^ y.wrapping_mul(0x85eb_ca6b));
    let at = |rk: u32, x: u32| tri(mix(rk ^ x.wrapping_mul(0xc2b2_ae35)));
    img.par_chunks_mut(w as usize * 4)
        .enumerate()
        .for_each_init(Vec::new, |cells: &mut Vec<f32>, (y, row)| {
            if cell < 1.5 {
                let rk = row_key(y as u32);
                // One hash feeds two neighbouring pixels (16 bits each).
                for (x, pair) in row.chunks_mut(8).enumerate() {
                    let h = mix(rk ^ (x as u32).wrapping_mul(0xc2b2_ae35));
                    let (a, b) = pair.split_at_mut(4);
                    add(a, tri(h));
                    if b.len() == 4 {
                        add(b, tri(h >> 16));
                    }
                }
                return;
            }
            let fy = y as f32 / cell;
            let (y0, ty) = (fy as u32, fy.fract());
            let (r0, r1) = (row_key(y0), row_key(y0 + 1));
            cells.clear();
            cells.extend((0..(w as f32 / cell) as u32 + 2).map(|cx| {
                let (a, b) = (at(r0, cx) as f32, at(r1, cx) as f32);
                a + (b - a) * ty
            }));
            for (x, p) in row.chunks_exact_mut(4).enumerate() {
                let fx = x as f32 / cell;
                let (x0, tx) = (fx as usize, fx.fract());
                // Bilinear mixing of independent values lowers their spread by about 1/1.5.
                let n = (cells[x0] + (cells[x0 + 1] - cells[x0]) * tx) * 1.5;
                add(p, n as i32);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Blur;
    use image::Rgba;
    use std::sync::Arc;

    fn effects() -> Effects {
        Effects {
            id: "t".into(),
            ..Effects::default()
        }
    }

    fn with_lut(lut: Lut, strength: f32) -> Look {
        Look::new(&Effects {
            lut: Some(Arc::new(lut)),
            lut_strength: strength,
            ..effects()
        })
        .unwrap()
    }

    /// Every 8-bit level on each axis at least once, mixed.
    fn colours() -> RgbaImage {
        RgbaImage::from_fn(256, 64, |x, y| {
            Rgba([
                x as u8,
                (y * 4 + x / 64) as u8,
                (255 - x as u8).wrapping_mul(3),
                255,
            ])
        })
    }

    fn max_diff(a: &RgbaImage, b: &RgbaImage) -> u8 {
        a.as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap()
    }

    #[test]
    fn nothing_to_do_is_no_look() {
        assert!(Look::new(&effects()).is_none());
        assert!(
            Look::new(&Effects {
                grade: Some(Grade::default()),
                ..effects()
            })
            .is_none(),
            "an identity grade"
        );
    }

    #[test]
    fn identity_lut_keeps_pixels_within_one_level() {
        for n in [2, 17, 33] {
            let mut img = colours();
            with_lut(Lut::identity(n), 1.0).apply_layer(&mut img);
            assert!(max_diff(&img, &colours()) <= 1, "size {n}");
        }
    }

    #[test]
    fn lut_maps_colours_and_strength_mixes() {
        // Swap red and blue: pure red becomes pure blue.
        let mut swap = Lut::identity(9);
        for e in &mut swap.table {
            e.swap(0, 2);
        }
        let red = || RgbaImage::from_pixel(2, 2, Rgba([255, 0, 0, 200]));
        let mut img = red();
        with_lut(swap.clone(), 1.0).apply_layer(&mut img);
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 255, 200], "alpha untouched");
        let mut half = red();
        with_lut(swap, 0.5).apply_layer(&mut half);
        let p = half.get_pixel(0, 0).0;
        assert!(
            p[0].abs_diff(128) <= 1 && p[2].abs_diff(128) <= 1 && p[1] == 0,
            "{p:?}"
        );
    }

    #[test]
    fn lut_domain_scales_the_input() {
        // An identity grid over 0..=2: input 1.0 sits halfway up the grid, so it maps to 0.5.
        let lut = Lut {
            domain_max: [2.0; 3],
            ..Lut::identity(5)
        };
        let mut img = RgbaImage::from_pixel(1, 1, Rgba([200, 255, 0, 255]));
        with_lut(lut, 1.0).apply_layer(&mut img);
        let p = img.get_pixel(0, 0).0;
        assert!(
            p[0].abs_diff(100) <= 1 && p[1].abs_diff(128) <= 1 && p[2] == 0,
            "{p:?}"
        );
    }

    #[test]
    fn tetrahedral_follows_a_per_channel_curve_exactly() {
        // A gamma curve per channel: any correct interpolation reduces to 1D linear
        // interpolation between grid points.
        let mut lut = Lut::identity(17);
        for e in &mut lut.table {
            *e = e.map(|x| x.powf(1.0 / 2.2));
        }
        let mut img = colours();
        with_lut(lut, 1.0).apply_layer(&mut img);
        for (a, b) in colours().as_raw().chunks(4).zip(img.as_raw().chunks(4)) {
            for c in 0..3 {
                let t = a[c] as f32 / 255.0 * 16.0;
                let (i, f) = (t.floor().min(15.0), t - t.floor().min(15.0));
                let g = |k: f32| (k / 16.0).powf(1.0 / 2.2);
                let want = (g(i) + (g(i + 1.0) - g(i)) * f) * 255.0;
                assert!(
                    (b[c] as f32 - want).abs() <= 1.0,
                    "{} → {} (want {want})",
                    a[c],
                    b[c]
                );
            }
        }
    }

    #[test]
    fn temperature_warms_and_tint_turns_magenta_keeping_grey_luma() {
        let grey = || RgbaImage::from_pixel(1, 1, Rgba([128, 128, 128, 255]));
        let graded = |g: Grade| {
            let mut img = grey();
            Look::new(&Effects {
                grade: Some(g),
                ..effects()
            })
            .unwrap()
            .apply_layer(&mut img);
            img.get_pixel(0, 0).0
        };
        let warm = graded(Grade {
            temperature: 0.5,
            ..Grade::default()
        });
        assert!(warm[0] > 138 && warm[2] < 118, "{warm:?}");
        let cool = graded(Grade {
            temperature: -0.5,
            ..Grade::default()
        });
        assert!(cool[0] < 120 && cool[2] > 136, "{cool:?}");
        let magenta = graded(Grade {
            tint: 0.5,
            ..Grade::default()
        });
        assert!(
            magenta[1] < 125 && magenta[0] > 136 && magenta[2] > 136,
            "{magenta:?}"
        );
        for p in [warm, cool, magenta] {
            assert!(luma(&p).abs_diff(128) <= 1, "luma kept: {p:?}");
        }
        let flat = graded(Grade {
            saturation: 0.0,
            brightness: 0.1,
            ..Grade::default()
        });
        assert!(
            flat[0] == flat[1] && flat[1] == flat[2] && flat[0].abs_diff(154) <= 1,
            "{flat:?}"
        );
    }

    #[test]
    fn blur_keeps_flat_areas_flat_and_softens_detail() {
        for sigma in [1.0, 2.5, 12.0] {
            let mut flat = RgbaImage::from_pixel(90, 160, Rgba([40, 120, 200, 255]));
            gaussian_blur(&mut flat, sigma);
            assert!(
                flat.pixels().all(|p| p.0 == [40, 120, 200, 255]),
                "σ {sigma}: edges do not darken"
            );
            let checker = RgbaImage::from_fn(90, 160, |x, y| {
                if (x / 2 + y / 2) % 2 == 0 {
                    Rgba([255; 4])
                } else {
                    Rgba([0, 0, 0, 255])
                }
            });
            let mut b = checker.clone();
            gaussian_blur(&mut b, sigma);
            // Away from the borders, where clamping repeats the edge's pattern.
            let spread = b
                .enumerate_pixels()
                .filter(|(x, y, _)| (12..78).contains(x) && (12..148).contains(y))
                .map(|(_, _, p)| p.0[0].abs_diff(128) as u32)
                .max()
                .unwrap();
            assert!(spread < 40, "σ {sigma}: fine checks average out ({spread})");
        }
        let k = kernel(1.7);
        assert_eq!(k.iter().sum::<u32>(), UNIT);
    }

    #[test]
    fn background_and_frame_blur_apply_at_their_stage() {
        let noisy = || {
            RgbaImage::from_fn(64, 64, |x, y| {
                Rgba([((x * 37 + y * 91) % 256) as u8, 90, 90, 255])
            })
        };
        let look = |target| {
            Look::new(&Effects {
                blur: Some(Blur {
                    radius: 0.05,
                    target,
                }),
                ..effects()
            })
            .unwrap()
        };
        let (bg, frame) = (look(BlurTarget::Background), look(BlurTarget::Frame));
        let mut img = noisy();
        bg.apply_picture(&mut img);
        assert_eq!(
            img,
            noisy(),
            "a background blur leaves the composed picture alone"
        );
        bg.apply_background(&mut img);
        assert_ne!(img, noisy());
        let mut img = noisy();
        frame.apply_background(&mut img);
        assert_eq!(img, noisy());
        frame.apply_picture(&mut img);
        assert_ne!(img, noisy());
    }

    #[test]
    fn vignette_darkens_corners_by_the_documented_gain() {
        let v = Vignette {
            strength: 0.6,
            radius: 0.75,
            softness: 0.5,
        };
        let mut img = RgbaImage::from_pixel(100, 160, Rgba([200, 200, 200, 255]));
        Look::new(&Effects {
            vignette: Some(v.clone()),
            ..effects()
        })
        .unwrap()
        .apply_frame(&mut img, 0);
        assert_eq!(img.get_pixel(50, 80).0[0], 200);
        let corner = img.get_pixel(0, 0).0[0] as f32;
        let d = (((0.5f32 - 50.0) / 50.0).powi(2) + ((0.5f32 - 80.0) / 80.0).powi(2)).sqrt()
            / 2f32.sqrt();
        let want = 200.0 * vignette_gain(&v, d);
        assert!((corner - want).abs() <= 1.5, "{corner} vs {want}");
        assert!((vignette_gain(&v, 1.0) - (1.0 - 0.6 * 0.9259)).abs() < 1e-3);
        let hard = Vignette { softness: 0.0, ..v };
        assert_eq!(vignette_gain(&hard, 0.74), 1.0);
        assert!((vignette_gain(&hard, 0.76) - 0.4).abs() < 1e-6);
    }

    #[test]
    fn grain_is_seeded_by_frame_and_unbiased() {
        for size in [1.0, 3.0] {
            let look = |seed| {
                Look::new(&Effects {
                    grain: Some(Grain {
                        amount: 0.5,
                        seed,
                        size,
                    }),
                    ..effects()
                })
                .unwrap()
            };
            let grey = || RgbaImage::from_pixel(108, 192, Rgba([128, 128, 128, 255]));
            let run = |seed, frame| {
                let mut img = grey();
                look(seed).apply_frame(&mut img, frame);
                img
            };
            assert_eq!(run(7, 3), run(7, 3), "same seed and frame");
            assert!(max_diff(&run(7, 3), &run(7, 4)) > 10, "next frame differs");
            assert_ne!(run(7, 3), run(8, 3), "seed matters");
            let img = run(7, 3);
            let mean = img.pixels().map(|p| p.0[1] as f64).sum::<f64>() / (108.0 * 192.0);
            assert!((mean - 128.0).abs() < 0.6, "size {size}: mean {mean}");
            assert!(
                img.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]),
                "monochrome"
            );
        }
    }

    #[test]
    fn sharpen_steepens_edges_and_leaves_flat_areas() {
        let step = || {
            RgbaImage::from_fn(40, 8, |x, _| {
                if x < 20 {
                    Rgba([80, 80, 80, 255])
                } else {
                    Rgba([160, 160, 160, 255])
                }
            })
        };
        let mut img = step();
        Look::new(&Effects {
            sharpen: Some(Sharpen {
                amount: 1.0,
                radius: 30.0,
            }),
            ..effects()
        })
        .unwrap()
        .apply_picture(&mut img);
        assert!(
            img.get_pixel(19, 4).0[0] < 75 && img.get_pixel(20, 4).0[0] > 165,
            "overshoot at the edge"
        );
        assert_eq!(img.get_pixel(2, 4).0[0], 80);
        assert_eq!(img.get_pixel(38, 4).0[0], 160);
    }
}
