//! One row of the premultiplied source-over blend, the compositor's inner loop: every product,
//! caption, badge and sticker goes through it on every frame. The AVX2 version does eight
//! pixels at a time in 16-bit lanes and gives the scalar version's bytes exactly (tested over
//! every alpha × destination value), so output never depends on the CPU it ran on.

/// Blends the premultiplied `over` pixels onto `dst` (same length, RGBA8) at opacity `op`
/// (0..=256, 256 = as is): `d = s·op + d·(255 − a·op)/255`, rounded, per channel.
pub(crate) fn blend_row(dst: &mut [u8], over: &[u8], op: u32) {
    debug_assert_eq!(dst.len(), over.len());
    debug_assert!(op <= 256);
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present (checked just above).
            let done = unsafe { avx2::blend_row(dst, over, op as u16) };
            scalar(&mut dst[done..], &over[done..], op);
            return;
        }
    }
    scalar(dst, over, op);
}

fn scalar(dst: &mut [u8], over: &[u8], op: u32) {
    for (d, s) in dst.chunks_exact_mut(4).zip(over.chunks_exact(4)) {
        let sa = (s[3] as u32 * op) >> 8;
        if sa == 0 {
            continue;
        }
        let inv = 255 - sa;
        for k in 0..3 {
            let sc = (s[k] as u32 * op) >> 8;
            d[k] = (sc + div255(d[k] as u32 * inv)).min(255) as u8;
        }
        d[3] = (sa + div255(d[3] as u32 * inv)).min(255) as u8;
    }
}

/// `x / 255` rounded to nearest, for `x ≤ 255 · 255`.
#[inline]
fn div255(x: u32) -> u32 {
    let t = x + 128;
    (t + (t >> 8)) >> 8
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Blends whole groups of eight pixels and returns how many bytes it covered; the caller
    /// finishes the tail.
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn blend_row(dst: &mut [u8], over: &[u8], op: u16) -> usize {
        let n = dst.len().min(over.len()) / 32 * 32;
        let zero = _mm256_setzero_si256();
        let opv = _mm256_set1_epi16(op as i16);
        let c255 = _mm256_set1_epi16(255);
        let c128 = _mm256_set1_epi16(128);
        // Copies each pixel's alpha (16-bit lane 3 of 4) over its four lanes.
        let alpha = _mm256_setr_epi8(
            6, 7, 6, 7, 6, 7, 6, 7, 14, 15, 14, 15, 14, 15, 14, 15, //
            6, 7, 6, 7, 6, 7, 6, 7, 14, 15, 14, 15, 14, 15, 14, 15,
        );
        let alpha_bytes = _mm256_set1_epi32(0xff00_0000u32 as i32);
        let mut i = 0;
        while i < n {
            let sp = over.as_ptr().add(i) as *const __m256i;
            let dp = dst.as_mut_ptr().add(i) as *mut __m256i;
            let s = _mm256_loadu_si256(sp);
            // Eight transparent pixels leave the row as it is (product margins, text gaps).
            if _mm256_testz_si256(s, alpha_bytes) != 0 {
                i += 32;
                continue;
            }
            let d = _mm256_loadu_si256(dp);
            let half = |s: __m256i, d: __m256i| {
                let sc = _mm256_srli_epi16(_mm256_mullo_epi16(s, opv), 8);
                let a = _mm256_shuffle_epi8(sc, alpha);
                let x = _mm256_mullo_epi16(d, _mm256_sub_epi16(c255, a));
                let t = _mm256_add_epi16(x, c128);
                let q = _mm256_srli_epi16(_mm256_add_epi16(t, _mm256_srli_epi16(t, 8)), 8);
                let out = _mm256_add_epi16(sc, q);
                // A pixel whose alpha is 0 after opacity is skipped, as in `scalar`.
                _mm256_blendv_epi8(out, d, _mm256_cmpeq_epi16(a, zero))
            };
            let lo = half(_mm256_unpacklo_epi8(s, zero), _mm256_unpacklo_epi8(d, zero));
            let hi = half(_mm256_unpackhi_epi8(s, zero), _mm256_unpackhi_epi8(d, zero));
            // Saturating pack: the scalar version's `min(255)`.
            _mm256_storeu_si256(dp, _mm256_packus_epi16(lo, hi));
            i += 32;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div255_rounds_like_division() {
        for x in 0..=255 * 255u32 {
            assert_eq!(div255(x), (x * 2 + 255) / 510, "{x}");
        }
    }

    #[test]
    fn simd_matches_scalar_for_every_alpha_and_destination() {
        // Source: every alpha with premultiplied colours, plus a few that are not (a bright
        // colour at low alpha) to pin the saturation; destination: every value.
        let mut over = Vec::new();
        for a in 0..=255u32 {
            over.extend_from_slice(&[(a * 3 / 4) as u8, a as u8, (a / 2) as u8, a as u8]);
        }
        over.extend_from_slice(&[255, 200, 10, 3, 250, 0, 0, 0]);
        let n = over.len() / 4;
        for op in [256, 200, 128, 1, 0] {
            for base in 0..=255u32 {
                let dst: Vec<u8> = (0..n as u32)
                    .flat_map(|i| {
                        let v = ((base + i * 37) % 256) as u8;
                        [v, 255 - v, v / 3, 255]
                    })
                    .collect();
                let mut a = dst.clone();
                let mut b = dst.clone();
                blend_row(&mut a, &over, op);
                scalar(&mut b, &over, op);
                assert_eq!(a, b, "op {op}, base {base}");
            }
        }
    }
}
