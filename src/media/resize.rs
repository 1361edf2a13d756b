//! Convolution resizing of RGBA8 pictures (fast_image_resize, AVX2 where the CPU has it):
//! the renderer's layers and the gate's sampled frames both go through it.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{RgbImage, RgbaImage};

/// Resizes `src` (or the `crop` rectangle of it, in source pixels) to exactly `w`×`h`.
pub(crate) fn resize(
    src: &RgbaImage,
    w: u32,
    h: u32,
    crop: Option<(f64, f64, f64, f64)>,
) -> RgbaImage {
    // Alpha-aware resizing (premultiply, resize, divide) keeps cut-out edges free of dark
    // fringes.
    resize_with(src, w, h, crop, true)
}

/// `resize` for pictures known to be opaque: skipping the alpha round trip is cheaper. A
/// full convolution (unlike `resize_opaque`), so large downscales do not alias.
pub(crate) fn resize_no_alpha(src: &RgbaImage, w: u32, h: u32) -> RgbaImage {
    resize_with(src, w, h, None, false)
}

/// `resize_no_alpha` for a picture the caller knows to be opaque, else `resize`: weighing
/// an opaque picture by its alpha changes nothing but costs a pass over every pixel.
pub(crate) fn resize_as(src: &RgbaImage, w: u32, h: u32, opaque: bool) -> RgbaImage {
    resize_with(src, w, h, None, !opaque)
}

fn resize_with(
    src: &RgbaImage,
    w: u32,
    h: u32,
    crop: Option<(f64, f64, f64, f64)>,
    alpha: bool,
) -> RgbaImage {
    let mut dst = RgbaImage::new(w.max(1), h.max(1));
    let mut opts = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .use_alpha(alpha);
    if let Some((x, y, cw, ch)) = crop {
        opts = opts.crop(x, y, cw, ch);
    }
    with_resizer(|r| {
        r.resize(src, &mut dst, &opts)
            .expect("RGBA8 to RGBA8 resize cannot fail on sizes ≥ 1")
    });
    dst
}

/// One `Resizer` per thread, for every resize of the crate: it keeps its scratch buffers
/// between calls, which a new one allocates and clears each time (1 % of a catalog batch's
/// CPU, `perf` 2026-12-06; the per-frame backdrop resample would fault in a fresh one).
pub(crate) fn with_resizer<T>(f: impl FnOnce(&mut Resizer) -> T) -> T {
    thread_local! {
        static RESIZER: std::cell::RefCell<Resizer> = std::cell::RefCell::new(Resizer::new());
    }
    RESIZER.with(|r| f(&mut r.borrow_mut()))
}

/// Resizes an RGB picture (no alpha: nothing to weigh) to exactly `w`×`h`, with the same
/// filter as `resize`.
pub(crate) fn resize_rgb(src: &RgbImage, w: u32, h: u32) -> RgbImage {
    let mut dst = RgbImage::new(w.max(1), h.max(1));
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    with_resizer(|r| {
        r.resize(src, &mut dst, &opts)
            .expect("RGB8 to RGB8 resize cannot fail on sizes ≥ 1")
    });
    dst
}

/// `src` averaged over blocks of `k`×`k` pixels, each channel rounded to the nearest level;
/// a last block cut short by the edge averages the pixels it has. Made for opaque pictures
/// (alpha is averaged like the colours, not weighed).
///
/// A still reduced to ≤ 512 px, from which its review-page thumbnail is resized and then
/// its hash plane (`dedup::fingerprint::hash_plane`) is reduced again: one pass over the
/// still for both, where a bilinear resize to 512 px for the gate (8 % of a 576-image
/// catalog batch's CPU, `perf` 2026-12-06) and another to 320 px for the thumbnail (5 %)
/// each read it whole.
pub(crate) fn box_reduce(src: &RgbaImage, k: u32) -> RgbaImage {
    // Sums of `k` rows of 8-bit channels stay within 16 bits up to 257 rows; a still's
    // factor is at most 40 (20,000 px, the decode limit, over 512).
    assert!(
        (1..=257).contains(&k),
        "box_reduce: factor {k} out of 1..=257"
    );
    let (w, h, k) = (src.width() as usize, src.height() as usize, k as usize);
    let (ow, oh) = (w.div_ceil(k), h.div_ceil(k));
    let raw = src.as_raw();
    let mut out = vec![0u8; ow * oh * 4];
    let mut acc = vec![0u16; w * 4];
    for (band, o) in out.chunks_exact_mut(ow * 4).enumerate() {
        let mut rows = (band * k)..((band + 1) * k).min(h);
        let n = rows.len();
        let row = |r: usize| &raw[r * w * 4..(r + 1) * w * 4];
        if k == 2 && n == 2 {
            halve_rows(row(band * 2), row(band * 2 + 1), o);
            continue;
        }
        // The band's first row is copied in rather than added to a cleared sum: clearing
        // wrote as many bytes per still as it reads.
        let first = rows.next().expect("a band has at least one row");
        for (a, &v) in acc.iter_mut().zip(row(first)) {
            *a = u16::from(v);
        }
        for r in rows {
            for (a, &v) in acc.iter_mut().zip(row(r)) {
                *a += u16::from(v);
            }
        }
        // Literal factors for whole bands, so that the divisions below are by constants:
        // by a run-time count they made this pass five times slower.
        match (k, n == k) {
            (2, true) => block_means(&acc, 2, 2, o),
            (3, true) => thirds(&acc, o),
            (4, true) => block_means(&acc, 4, 4, o),
            _ => block_means(&acc, k, n, o),
        }
    }
    RgbaImage::from_raw(ow as u32, oh as u32, out).expect("ow×oh RGBA")
}

/// `box_reduce` by 2 of one band of two whole rows (`a`, `b`) into `out`: eight pixels at a
/// time in SSE2 (part of every x86-64), the rest by the general path's `block_means`. The general path
/// took 0.84 ns a pixel, four times a copy's (its means are not vectorised), and halving is
/// what 800- and 1000-px main images and their 400- and 500-px planes take: 5 % of a
/// main-image batch's CPU (`perf`, 2026-12-06). SSE2 takes 0.18 ns. The same bytes
/// (`tests::box_reduce_is_the_rounded_mean_of_each_block`, on an odd width and height).
fn halve_rows(a: &[u8], b: &[u8], out: &mut [u8]) {
    // SAFETY: SSE2 is part of the x86-64 baseline; the function reads whole 32-byte groups
    // of `a` and `b` and writes 16 bytes of `out` for each.
    #[cfg(target_arch = "x86_64")]
    let done = unsafe { halve_rows_sse2(a, b, out) };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    let from = done * 8;
    let rest: Vec<u16> = a[from..]
        .iter()
        .zip(&b[from..])
        .map(|(&x, &y)| u16::from(x) + u16::from(y))
        .collect();
    block_means(&rest, 2, 2, &mut out[done * 4..]);
}

/// The output pixels `halve_rows` gets from whole groups of eight input pixels: each
/// output channel is `(a₀ + a₁ + b₀ + b₁ + 2) >> 2`, in 16-bit lanes (at most 1,022).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
unsafe fn halve_rows_sse2(a: &[u8], b: &[u8], out: &mut [u8]) -> usize {
    use std::arch::x86_64::*;
    let zero = _mm_setzero_si128();
    let two = _mm_set1_epi16(2);
    let groups = (a.len() / 32).min(out.len() / 16);
    for g in 0..groups {
        let load = |row: &[u8], at: usize| _mm_loadu_si128(row.as_ptr().add(g * 32 + at).cast());
        let (a0, a1, b0, b1) = (load(a, 0), load(a, 16), load(b, 0), load(b, 16));
        // Two rows added: pixels 0–1, 2–3, 4–5 and 6–7 of the group, 16 bits a channel.
        let lo = |x: __m128i, y: __m128i| {
            _mm_add_epi16(_mm_unpacklo_epi8(x, zero), _mm_unpacklo_epi8(y, zero))
        };
        let hi = |x: __m128i, y: __m128i| {
            _mm_add_epi16(_mm_unpackhi_epi8(x, zero), _mm_unpackhi_epi8(y, zero))
        };
        let (s01, s23, s45, s67) = (lo(a0, b0), hi(a0, b0), lo(a1, b1), hi(a1, b1));
        // Neighbours added: [0+1, 2+3] and [4+5, 6+7], then rounded down by 4.
        let pair = |x: __m128i, y: __m128i| {
            let s = _mm_add_epi16(_mm_unpacklo_epi64(x, y), _mm_unpackhi_epi64(x, y));
            _mm_srli_epi16::<2>(_mm_add_epi16(s, two))
        };
        let means = _mm_packus_epi16(pair(s01, s23), pair(s45, s67));
        _mm_storeu_si128(out.as_mut_ptr().add(g * 16).cast(), means);
    }
    groups * 4
}

/// `block_means(acc, 3, 3, out)`: two output pixels at a time in SSE2, the rest as there.
/// 1080-px-wide stills (Xiaohongshu's 1080×1440 covers) reduce by 3, and their means were
/// most of `box_reduce`'s 5 % of a three-preset catalog batch (`perf`, 2026-12-06); a 1080×1440
/// still now reduces in 0.39 ms, was 0.59 (min of 50). The same
/// bytes (`tests::box_reduce_is_the_rounded_mean_of_each_block`).
fn thirds(acc: &[u16], out: &mut [u8]) {
    // SAFETY: SSE2 is part of the x86-64 baseline; the function reads whole groups of six
    // pixels' sums (48 bytes) of `acc` and writes 8 bytes of `out` for each.
    #[cfg(target_arch = "x86_64")]
    let done = unsafe { thirds_sse2(acc, out) };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    block_means(&acc[done * 12..], 3, 3, &mut out[done * 4..]);
}

/// Sums of nine (at most 2,295) rounded by `(s + 4) · 7282 >> 16`, which equals
/// `(s + 4) / 9` for every sum up to 2,299.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
unsafe fn thirds_sse2(acc: &[u16], out: &mut [u8]) -> usize {
    use std::arch::x86_64::*;
    let four = _mm_set1_epi16(4);
    let ninth = _mm_set1_epi16(7282);
    let groups = (acc.len() / 24).min(out.len() / 8);
    for g in 0..groups {
        let at = acc.as_ptr().add(g * 24);
        // Pixels 0–1, 2–3 and 4–5 of the group, four channel sums each.
        let (v0, v1, v2) = (
            _mm_loadu_si128(at.cast()),
            _mm_loadu_si128(at.add(8).cast()),
            _mm_loadu_si128(at.add(16).cast()),
        );
        let high = |v: __m128i| _mm_srli_si128::<8>(v);
        // [0, 3] + [1, 4] + [2, 5]: the two blocks of three.
        let s = _mm_add_epi16(
            _mm_add_epi16(
                _mm_unpacklo_epi64(v0, high(v1)),
                _mm_unpacklo_epi64(high(v0), v2),
            ),
            _mm_unpacklo_epi64(v1, high(v2)),
        );
        let means = _mm_mulhi_epu16(_mm_add_epi16(s, four), ninth);
        _mm_storel_epi64(
            out.as_mut_ptr().add(g * 8).cast(),
            _mm_packus_epi16(means, means),
        );
    }
    groups * 2
}

/// `out`'s pixels the rounded means of blocks of `k` pixels of `acc` (channel sums over
/// `rows` rows), fewer in the last block.
#[inline(always)]
fn block_means(acc: &[u16], k: usize, rows: usize, out: &mut [u8]) {
    let mean = |block: &[u16], o: &mut [u8], n: u32| {
        let mut s = [0u32; 4];
        for p in block.chunks_exact(4) {
            for c in 0..4 {
                s[c] += u32::from(p[c]);
            }
        }
        for c in 0..4 {
            o[c] = ((s[c] + n / 2) / n) as u8;
        }
    };
    let whole = acc.chunks_exact(4 * k);
    let rest = whole.remainder();
    let n = (k * rows) as u32;
    for (o, block) in out.chunks_exact_mut(4).zip(whole) {
        mean(block, o, n);
    }
    if !rest.is_empty() {
        let at = acc.len() / (4 * k) * 4;
        mean(rest, &mut out[at..at + 4], (rest.len() / 4 * rows) as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pixel is the rounded mean of its block, ragged edges included, for the factors
    /// with their own code and one without.
    #[test]
    fn box_reduce_is_the_rounded_mean_of_each_block() {
        let img = crate::media::noise_rgba(103, 71);
        for k in [1u32, 2, 3, 4, 5] {
            let got = box_reduce(&img, k);
            assert_eq!(got.dimensions(), (103u32.div_ceil(k), 71u32.div_ceil(k)));
            for (bx, by, p) in got.enumerate_pixels() {
                let mut s = [0u32; 4];
                let mut n = 0;
                for y in by * k..((by + 1) * k).min(71) {
                    for x in bx * k..((bx + 1) * k).min(103) {
                        let q = img.get_pixel(x, y);
                        for c in 0..4 {
                            s[c] += q[c] as u32;
                        }
                        n += 1;
                    }
                }
                let want: Vec<u8> = s.iter().map(|v| ((v + n / 2) / n) as u8).collect();
                assert_eq!(p.0.to_vec(), want, "k {k} block {bx},{by}");
            }
        }
    }
}
