//! Packed RGBA pixels weighed by their alpha over a flat backdrop, in place: premultiplying
//! (`render::ops::premultiply`, a black backdrop, the alpha kept), flattening a still with
//! transparency on white for JPEG (`encode::still`) and a cut-out over mid grey
//! (`dedup::product`, both made opaque) are the one formula.

/// Each colour byte `c` of the packed RGBA `run` becomes `(c·a + B·(255 − a) + 127) / 255`,
/// the pixel over grey `B`, rounded; the alpha becomes 255 when `OPAQUE`, else is kept.
/// Four pixels at a time in SSE2 (every x86-64 has it), the rest one at a time: the scalar
/// loop, which the compiler does not vectorise (the alpha is each pixel's fourth byte), took
/// 2.8–3.4 ns a pixel, SSE2 0.6 ns (`perf`, 2026-12-06). The sum is at most 255² + 127 =
/// 65,152 for any `B`, so it fits 16-bit lanes, where `/ 255` is `(x + 1 + (x >> 8)) >> 8`
/// (exact below 65,535).
pub(crate) fn over_backdrop<const B: u8, const OPAQUE: bool>(run: &mut [u8]) {
    let mut rest = run;
    #[cfg(target_arch = "x86_64")]
    {
        let whole = rest.len() / 16 * 16;
        let (simd, tail) = rest.split_at_mut(whole);
        over_backdrop_sse2::<B, OPAQUE>(simd);
        rest = tail;
    }
    for p in rest.chunks_exact_mut(4) {
        let a = u16::from(p[3]);
        let backdrop = u16::from(B) * (255 - a) + 127;
        for c in &mut p[..3] {
            let x = u16::from(*c) * a + backdrop;
            *c = ((x + 1 + (x >> 8)) >> 8) as u8;
        }
        if OPAQUE {
            p[3] = 255;
        }
    }
}

/// `over_backdrop` of whole 16-byte groups, lane by lane the same arithmetic.
#[cfg(target_arch = "x86_64")]
fn over_backdrop_sse2<const B: u8, const OPAQUE: bool>(px: &mut [u8]) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86_64; loads and stores are unaligned, 16 bytes inside `px`,
    // whose length is a multiple of 16 (the caller's split).
    unsafe {
        let zero = _mm_setzero_si128();
        let one = _mm_set1_epi16(1);
        let c255 = _mm_set1_epi16(255);
        let c127 = _mm_set1_epi16(127);
        let grey = _mm_set1_epi16(i16::from(B));
        let alpha = _mm_set1_epi32(0xff00_0000u32 as i32);
        let blend = |v: __m128i| {
            // Each pixel's alpha in all four of its 16-bit lanes.
            let a = _mm_shufflehi_epi16::<0xff>(_mm_shufflelo_epi16::<0xff>(v));
            let backdrop = _mm_add_epi16(_mm_mullo_epi16(grey, _mm_sub_epi16(c255, a)), c127);
            let x = _mm_add_epi16(_mm_mullo_epi16(v, a), backdrop);
            _mm_srli_epi16::<8>(_mm_add_epi16(_mm_add_epi16(x, one), _mm_srli_epi16::<8>(x)))
        };
        for chunk in px.chunks_exact_mut(16) {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let colours = _mm_packus_epi16(
                blend(_mm_unpacklo_epi8(v, zero)),
                blend(_mm_unpackhi_epi8(v, zero)),
            );
            let out = match OPAQUE {
                true => _mm_or_si128(colours, alpha),
                false => _mm_or_si128(_mm_andnot_si128(alpha, colours), _mm_and_si128(alpha, v)),
            };
            _mm_storeu_si128(chunk.as_mut_ptr().cast(), out);
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every colour value under every alpha, over black, mid grey and white, kept alpha or
    /// opaque, on a pixel count that leaves a scalar tail: the exact rounded division.
    #[test]
    fn every_value_and_alpha_over_each_backdrop() {
        fn check<const B: u8, const OPAQUE: bool>() {
            let src: Vec<u8> = (0..256 * 256 + 3)
                .flat_map(|i: u32| {
                    let (c, a) = ((i % 256) as u8, (i / 256 % 256) as u8);
                    [c, 255 - c, c.wrapping_mul(7), a]
                })
                .collect();
            let mut got = src.clone();
            super::over_backdrop::<B, OPAQUE>(&mut got);
            for (s, g) in src.chunks_exact(4).zip(got.chunks_exact(4)) {
                let a = u32::from(s[3]);
                let want =
                    |c: u8| ((u32::from(c) * a + u32::from(B) * (255 - a) + 127) / 255) as u8;
                let alpha = if OPAQUE { 255 } else { s[3] };
                assert_eq!(
                    g,
                    [want(s[0]), want(s[1]), want(s[2]), alpha],
                    "{s:?} over {B}"
                );
            }
        }
        check::<0, false>();
        check::<128, true>();
        check::<255, true>();
        check::<255, false>();
    }
}
