//! The per-frame background resample: a crop window of an opaque picture to the canvas with
//! 2×2 bilinear taps (Ken Burns windows, video backgrounds scaled to cover). It was a third of
//! the compositor's own time through fast_image_resize, which runs two full-frame passes
//! through an intermediate image; here each output row blends two source rows into a short
//! scratch row (in L1) and then gathers the columns, four output pixels per AVX2 step.
//!
//! Weights are 6-bit (positions rounded to 1/64 pixel), which lets a single `pmaddubsw` do
//! both taps of all four channels; the error is a 1/128-pixel shift, well under what the eye
//! or the encoder keeps. The scalar path computes the same bytes (tested), for CPUs without
//! AVX2 and for the row tails.

use image::RgbaImage;

/// Taps weigh in 64ths.
const ONE: u16 = 64;

/// Source column (or row) and weight of the second tap for each output position, mapping
/// pixel centres: `src = start + (i + 0.5) · len / n − 0.5`, clamped to the picture.
fn taps(start: f64, len: f64, n: u32, size: u32) -> Vec<(u32, u8)> {
    let last = size.saturating_sub(1) as f64;
    let step = len / n as f64;
    (0..n)
        .map(|i| {
            let s = (start + (i as f64 + 0.5) * step - 0.5).clamp(0.0, last);
            let mut k = s.floor() as u32;
            let mut f = ((s - k as f64) * ONE as f64).round() as u16;
            if f == ONE {
                k += 1;
                f = 0;
            }
            // The second tap must exist: at the last pixel, weigh it fully from the one before.
            if k + 1 >= size && size >= 2 {
                k = size - 2;
                f = ONE;
            }
            (k, f as u8)
        })
        .collect()
}

/// Fills `dst` from the `crop` window (x, y, w, h in source pixels) of `src`. `src` must be
/// at least 2×2; alpha is carried like the colours.
pub(crate) fn resample(src: &RgbaImage, dst: &mut RgbaImage, crop: (f64, f64, f64, f64)) {
    let (sw, sh) = src.dimensions();
    let (dw, dh) = dst.dimensions();
    assert!(sw >= 2 && sh >= 2, "bilinear needs two taps each way");
    let cols = taps(crop.0, crop.2, dw, sw);
    let rows = taps(crop.1, crop.3, dh, sh);
    let first = cols.first().map_or(0, |c| c.0) as usize;
    let span = cols.last().map_or(0, |c| c.0 as usize + 2) - first;
    // Column taps relative to the scratch row, and their weights as byte pairs.
    let rel: Vec<u32> = cols.iter().map(|c| (c.0 as usize - first) as u32).collect();
    let weights: Vec<[u8; 8]> = cols.iter().map(|c| pair_weights(c.1)).collect();
    let stride = sw as usize * 4;
    let raw = src.as_raw();
    let mut scratch = vec![0u8; span * 4 + 8];
    for (out, &(ry, fy)) in dst.chunks_exact_mut(dw as usize * 4).zip(&rows) {
        let a = &raw[ry as usize * stride + first * 4..][..span * 4];
        let b = &raw[(ry as usize + 1) * stride + first * 4..][..span * 4];
        lerp_rows(&mut scratch[..span * 4], a, b, fy);
        gather(out, &scratch, &rel, &weights);
    }
}

/// Both taps' weights for all four channels, laid out as the AVX2 step multiplies them.
fn pair_weights(f: u8) -> [u8; 8] {
    let g = ONE as u8 - f;
    [g, f, g, f, g, f, g, f]
}

/// `a` and `b` blended by `f`/64, byte by byte (LLVM vectorises this loop).
fn lerp_rows(out: &mut [u8], a: &[u8], b: &[u8], f: u8) {
    let (w0, w1) = (ONE - f as u16, f as u16);
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = ((x as u16 * w0 + y as u16 * w1 + ONE / 2) >> 6) as u8;
    }
}

/// One output row from the blended scratch row: pixel `i` mixes scratch pixels `rel[i]` and
/// `rel[i] + 1` by `weights[i]`.
fn gather(out: &mut [u8], scratch: &[u8], rel: &[u32], weights: &[[u8; 8]]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present; `avx2::gather` reads 8 bytes at each `rel[i] * 4`, inside
            // `scratch` (span + 2 pixels long, with 8 spare bytes).
            done = unsafe { avx2::gather(out, scratch, rel, weights) };
        }
    }
    gather_scalar(
        &mut out[done * 4..],
        scratch,
        &rel[done..],
        &weights[done..],
    );
}

fn gather_scalar(out: &mut [u8], scratch: &[u8], rel: &[u32], weights: &[[u8; 8]]) {
    for ((o, &r), w) in out.chunks_exact_mut(4).zip(rel).zip(weights) {
        let p = &scratch[r as usize * 4..r as usize * 4 + 8];
        for c in 0..4 {
            let v = p[c] as u16 * w[0] as u16 + p[c + 4] as u16 * w[1] as u16 + ONE / 2;
            o[c] = (v >> 6) as u8;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Whole groups of four output pixels; returns how many pixels it wrote.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn gather(
        out: &mut [u8],
        scratch: &[u8],
        rel: &[u32],
        weights: &[[u8; 8]],
    ) -> usize {
        let n = rel.len().min(out.len() / 4) / 4 * 4;
        // [r0 g0 b0 a0 r1 g1 b1 a1] → [r0 r1 g0 g1 b0 b1 a0 a1] in every 8-byte group.
        let pair = _mm256_setr_epi8(
            0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15, //
            0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15,
        );
        let half = _mm256_set1_epi16(32);
        let base = scratch.as_ptr();
        let mut i = 0;
        while i < n {
            let load = |k: usize| {
                (base.add(*rel.get_unchecked(i + k) as usize * 4) as *const i64).read_unaligned()
            };
            let px = _mm256_set_epi64x(load(3), load(2), load(1), load(0));
            let wv = _mm256_loadu_si256(weights.as_ptr().add(i) as *const __m256i);
            let sums = _mm256_maddubs_epi16(_mm256_shuffle_epi8(px, pair), wv);
            let v = _mm256_srli_epi16(_mm256_add_epi16(sums, half), 6);
            // Bytes of pixels 0,1 sit in the low lane and 2,3 in the high one.
            let packed = _mm256_packus_epi16(v, v);
            let ordered = _mm256_permute4x64_epi64(packed, 0b00_00_10_00);
            _mm_storeu_si128(
                out.as_mut_ptr().add(i * 4) as *mut __m128i,
                _mm256_castsi256_si128(ordered),
            );
            i += 4;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(w: u32, h: u32, seed: u32) -> RgbaImage {
        let mut s = seed;
        RgbaImage::from_fn(w, h, |_, _| {
            let mut px = [0u8; 4];
            for c in &mut px {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *c = (s >> 24) as u8;
            }
            image::Rgba(px)
        })
    }

    #[test]
    fn simd_and_scalar_gather_agree() {
        let src = noise(203, 3, 7);
        let scratch = {
            let mut v = src.as_raw()[..203 * 4].to_vec();
            v.extend_from_slice(&[0; 8]);
            v
        };
        let cols = taps(3.3, 170.6, 161, 203);
        let rel: Vec<u32> = cols.iter().map(|c| c.0 - cols[0].0).collect();
        let weights: Vec<[u8; 8]> = cols.iter().map(|c| pair_weights(c.1)).collect();
        let scratch = &scratch[cols[0].0 as usize * 4..];
        let mut a = vec![0u8; 161 * 4];
        let mut b = a.clone();
        gather(&mut a, scratch, &rel, &weights);
        gather_scalar(&mut b, scratch, &rel, &weights);
        assert_eq!(a, b);
    }

    #[test]
    fn whole_picture_at_its_own_size_is_unchanged() {
        let src = noise(37, 21, 3);
        let mut dst = RgbaImage::new(37, 21);
        resample(&src, &mut dst, (0.0, 0.0, 37.0, 21.0));
        assert_eq!(dst, src);
        // A whole-pixel shift is a plain copy too.
        let mut dst = RgbaImage::new(30, 20);
        resample(&src, &mut dst, (5.0, 1.0, 30.0, 20.0));
        assert_eq!(dst.get_pixel(0, 0), src.get_pixel(5, 1));
        assert_eq!(dst.get_pixel(29, 19), src.get_pixel(34, 20));
    }

    #[test]
    fn matches_fast_image_resize_on_a_smooth_picture() {
        // A Ken Burns window (zoomed 1.2, off-centre) and an upscale of a small crop, as a
        // video background gets: within two code values of the previous resampler.
        let src = RgbaImage::from_fn(240, 400, |x, y| {
            let v = |k: f32| (127.5 + 127.0 * (k).sin()) as u8;
            image::Rgba([
                v(x as f32 / 17.0),
                v(y as f32 / 23.0),
                v((x + y) as f32 / 31.0),
                255,
            ])
        });
        for (crop, (w, h)) in [
            ((13.7, 21.2, 200.0, 333.3), (166, 278)),
            ((40.0, 60.0, 30.0, 50.0), (180, 300)),
        ] {
            let mut ours = RgbaImage::new(w, h);
            resample(&src, &mut ours, crop);
            let mut theirs = RgbaImage::new(w, h);
            let opts = fast_image_resize::ResizeOptions::new()
                .resize_alg(fast_image_resize::ResizeAlg::Interpolation(
                    fast_image_resize::FilterType::Bilinear,
                ))
                .use_alpha(false)
                .crop(crop.0, crop.1, crop.2, crop.3);
            fast_image_resize::Resizer::new()
                .resize(&src, &mut theirs, &opts)
                .unwrap();
            let worst = ours
                .as_raw()
                .iter()
                .zip(theirs.as_raw())
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(worst <= 2, "{crop:?}: differs by up to {worst}");
        }
    }
}
