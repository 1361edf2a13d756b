//! PDQ perceptual hash (Meta, 2019), written from the published reference algorithm:
//! luma → two passes of a Jarosz box ("tent") filter sized for a 64×64 target → decimate to
//! 64×64 → the 16×16 low-frequency corner of a 2D DCT (skipping the DC row/column) →
//! threshold at the median. Bit layout and hex form follow the reference so that hashes can
//! be compared with other PDQ implementations.
//!
//! The full-size path is used for every stored hash (the design's "one PDQ function"): it is
//! bit-compatible with the reference, which matters more than the ~20 ms it costs on a
//! 1080×1920 frame.

use image::RgbaImage;

/// 256-bit PDQ hash, reference byte order (byte 0 prints first in hex).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash256(pub [u8; 32]);

impl Hash256 {
    /// Always inlined, so that a caller compiled with POPCNT (`rules::min_distance`) counts
    /// with it.
    #[inline(always)]
    pub fn hamming(&self, other: &Hash256) -> u32 {
        let a = self.words();
        let b = other.words();
        (0..4).map(|i| (a[i] ^ b[i]).count_ones()).sum()
    }

    /// Four machine words, the form the library's popcount scan works on.
    #[inline(always)]
    pub(crate) fn words(&self) -> [u64; 4] {
        let mut w = [0u64; 4];
        for (i, chunk) in self.0.chunks_exact(8).enumerate() {
            w[i] = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
        }
        w
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Hash256> {
        let v = hex::decode(s).ok()?;
        Some(Hash256(v.try_into().ok()?))
    }

    pub(crate) fn from_slice(b: &[u8]) -> Option<Hash256> {
        Some(Hash256(b.try_into().ok()?))
    }
}

/// As its hex string, the form people compare and tools print.
impl serde::Serialize for Hash256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Hash256, D::Error> {
        let hex: String = serde::Deserialize::deserialize(d)?;
        Hash256::from_hex(&hex)
            .ok_or_else(|| serde::de::Error::custom(format!("not a 256-bit hex hash: {hex:?}")))
    }
}

impl std::fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash256({})", self.to_hex())
    }
}

/// PDQ's own match threshold: the reference recommends Hamming ≤ 31 of 256 bits.
pub const MATCH_DISTANCE: u32 = 31;
/// Frames below this quality (flat, nearly featureless) hash unreliably; vPDQ drops them.
pub const MIN_QUALITY: u8 = 50;

/// A hash with the reference quality metric (0–100, gradient energy of the 64×64 buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdqHash {
    pub hash: Hash256,
    pub quality: u8,
}

/// The eight rotations/flips of one image, derived from its DCT so an image is filtered once.
#[derive(Debug, Clone)]
pub struct Dihedral {
    /// Index 0 is the image as given; the rest are rot90, rot180, rot270, flip-x, flip-y,
    /// transpose and anti-transpose, in no contractual order.
    pub hashes: [Hash256; 8],
    pub quality: u8,
}

impl Dihedral {
    /// Smallest distance from any orientation of `self` to `other`.
    pub fn min_distance(&self, other: &Hash256) -> u32 {
        self.hashes
            .iter()
            .map(|h| h.hamming(other))
            .min()
            .unwrap_or(256)
    }
}

const BUF: usize = 64;
const OUT: usize = 16;

fn dct_matrix() -> &'static [[f32; BUF]; OUT] {
    use std::sync::OnceLock;
    static M: OnceLock<[[f32; BUF]; OUT]> = OnceLock::new();
    M.get_or_init(|| {
        // As in the reference: computed in double, stored as float, row i is frequency i+1
        // (the DC term carries brightness, which PDQ deliberately ignores).
        let scale = (2.0f64 / BUF as f64).sqrt();
        let mut m = [[0f32; BUF]; OUT];
        for (i, row) in m.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (scale
                    * ((std::f64::consts::PI / 2.0 / BUF as f64)
                        * (i + 1) as f64
                        * (2 * j + 1) as f64)
                        .cos()) as f32;
            }
        }
        m
    })
}

/// Hash of an RGBA image exactly as given (no border trimming).
pub fn hash(img: &RgbaImage) -> PdqHash {
    let (dct, quality) = dct16(img);
    PdqHash {
        hash: threshold(&dct),
        quality,
    }
}

/// Hashes of all eight orientations.
pub fn hash_dihedral(img: &RgbaImage) -> Dihedral {
    let (dct, quality) = dct16(img);
    dihedral(&dct, quality)
}

fn dihedral(dct: &[f32; OUT * OUT], quality: u8) -> Dihedral {
    let mut hashes = [Hash256([0; 32]); 8];
    // A transposed orientation holds the values of an untransposed one (rows' and columns'
    // negations swapped), so it has that one's median.
    let mut medians = [0f32; 4];
    let mut k = 0;
    for transpose in [false, true] {
        for (signs, (neg_rows, neg_cols)) in
            [(false, false), (false, true), (true, false), (true, true)]
                .into_iter()
                .enumerate()
        {
            let mut d = [0f32; OUT * OUT];
            for i in 0..OUT {
                for j in 0..OUT {
                    let (si, sj) = if transpose { (j, i) } else { (i, j) };
                    let mut v = dct[si * OUT + sj];
                    // Mirroring an axis multiplies odd frequencies (even 0-based index, since
                    // index 0 is frequency 1) by −1.
                    if neg_rows && i % 2 == 0 {
                        v = -v;
                    }
                    if neg_cols && j % 2 == 0 {
                        v = -v;
                    }
                    d[i * OUT + j] = v;
                }
            }
            let median = match transpose {
                false => {
                    medians[signs] = median(&d);
                    medians[signs]
                }
                // (rows, columns) negated here are (columns, rows) negated before.
                true => medians[[0, 2, 1, 3][signs]],
            };
            hashes[k] = threshold_at(&d, median);
            k += 1;
        }
    }
    Dihedral { hashes, quality }
}

/// A frame's luma as PDQ reads it, one `f32` per pixel. A still's several hashes (whole,
/// trimmed, masked, cropped) are all made from one plane: converting the RGBA frame (and
/// copying it for each mask and crop) again for each cost more than the hashing itself.
/// The per-pixel formula is the one `hash` applies, so hashes are bit-identical.
#[derive(Clone)]
pub(crate) struct Luma {
    pub width: usize,
    pub height: usize,
    data: Vec<f32>,
}

/// The luma of a pixel; also what a masked box is filled with (mid grey).
fn luma_px(p: [u8; 4]) -> f32 {
    0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
}

/// `luma_px` of every RGBA pixel of `raw` into `out`. Eight pixels at a time with AVX2 where
/// the CPU has it: the pixel-by-pixel conversion was 3 % of a catalog batch's CPU (`perf`,
/// 2026-12-06). The same single-precision products and sums in the same order (no fused
/// multiply-add), so the same values (`tests::luma_eight_at_a_time_equals_the_formula`).
fn luma_into(raw: &[u8], out: &mut [f32]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the feature was detected at run time just above.
            done = unsafe { luma_avx2(raw, out) };
        }
    }
    for (o, p) in out[done..].iter_mut().zip(raw[done * 4..].chunks_exact(4)) {
        *o = luma_px([p[0], p[1], p[2], p[3]]);
    }
}

/// The whole groups of eight pixels of `luma_into`; returns how many pixels it wrote.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn luma_avx2(raw: &[u8], out: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let n = (raw.len() / 4).min(out.len()) / 8 * 8;
    let (kr, kg, kb) = (
        _mm256_set1_ps(0.299),
        _mm256_set1_ps(0.587),
        _mm256_set1_ps(0.114),
    );
    let byte = _mm256_set1_epi32(0xff);
    for i in (0..n).step_by(8) {
        // SAFETY: `i + 8 ≤ n` pixels, so 32 bytes from `4 i` and 8 floats from `i` are in
        // bounds; unaligned loads and stores.
        let v = _mm256_loadu_si256(raw.as_ptr().add(i * 4) as *const __m256i);
        let r = _mm256_cvtepi32_ps(_mm256_and_si256(v, byte));
        let g = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32::<8>(v), byte));
        let b = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32::<16>(v), byte));
        let y = _mm256_add_ps(
            _mm256_add_ps(_mm256_mul_ps(kr, r), _mm256_mul_ps(kg, g)),
            _mm256_mul_ps(kb, b),
        );
        _mm256_storeu_ps(out.as_mut_ptr().add(i), y);
    }
    n
}

impl Luma {
    pub(crate) fn of(img: &RgbaImage) -> Luma {
        let raw = img.as_raw();
        let mut data = vec![0f32; raw.len() / 4];
        luma_into(raw, &mut data);
        Luma {
            width: img.width() as usize,
            height: img.height() as usize,
            data,
        }
    }

    /// The whole plane, read in place.
    pub(crate) fn view(&self) -> View<'_> {
        View {
            data: &self.data,
            stride: self.width,
            x: 0,
            y: 0,
            width: self.width,
            height: self.height,
        }
    }

    /// The rectangle `(x, y, w, h)`, clamped to the plane as `image::imageops::crop_imm` does.
    pub(crate) fn crop(&self, x: u32, y: u32, w: u32, h: u32) -> Luma {
        self.view().crop(x, y, w, h).copied()
    }

    /// Pixel rectangles `[x0, x1) × [y0, y1)` painted mid grey `(128, 128, 128)`: the plane
    /// `Across::masked_hash` hashes without painting it.
    #[cfg(test)]
    pub(crate) fn masked(&self, rects: &[(u32, u32, u32, u32)]) -> Luma {
        let mut out = self.clone();
        let grey = luma_px([128, 128, 128, 255]);
        for &(x0, y0, x1, y1) in rects {
            let (x1, y1) = (
                (x1 as usize).min(self.width),
                (y1 as usize).min(self.height),
            );
            for r in (y0 as usize)..y1 {
                if (x0 as usize) < x1 {
                    out.data[r * self.width + x0 as usize..r * self.width + x1].fill(grey);
                }
            }
        }
        out
    }

    /// The centred `cw`×`ch` window of the plane turned by `theta` radians about its centre
    /// (bilinear; black where the turn uncovers the corners). Only the window is computed:
    /// the caller hashes nothing else.
    pub(crate) fn turned_window(&self, theta: f32, cw: usize, ch: usize) -> Luma {
        let (w, h) = (self.width, self.height);
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let (sin, cos) = theta.sin_cos();
        let (x0, y0) = ((w - cw.min(w)) / 2, (h - ch.min(h)) / 2);
        let at = |x: isize, y: isize| -> f32 {
            if x < 0 || y < 0 || x >= w as isize || y >= h as isize {
                0.0
            } else {
                self.data[y as usize * w + x as usize]
            }
        };
        let mut data = Vec::with_capacity(cw * ch);
        for oy in 0..ch {
            let dy = (y0 + oy) as f32 + 0.5 - cy;
            for ox in 0..cw {
                let dx = (x0 + ox) as f32 + 0.5 - cx;
                let sx = cos * dx + sin * dy + cx - 0.5;
                let sy = -sin * dx + cos * dy + cy - 0.5;
                let (fx, fy) = (sx.floor(), sy.floor());
                let (ax, ay) = (sx - fx, sy - fy);
                let (ix, iy) = (fx as isize, fy as isize);
                let top = at(ix, iy) * (1.0 - ax) + at(ix + 1, iy) * ax;
                let bottom = at(ix, iy + 1) * (1.0 - ax) + at(ix + 1, iy + 1) * ax;
                data.push(top * (1.0 - ay) + bottom * ay);
            }
        }
        Luma {
            width: cw,
            height: ch,
            data,
        }
    }

    pub(crate) fn hash(&self) -> PdqHash {
        self.view().hash()
    }

    #[cfg(test)]
    pub(crate) fn hash_dihedral(&self) -> Dihedral {
        self.view().hash_dihedral()
    }
}

fn dct16(img: &RgbaImage) -> ([f32; OUT * OUT], u8) {
    Luma::of(img).view().dct()
}

/// The 16×16 DCT of the 64×64 samples. Each output is the reference's sum, term by term in
/// the same order; the loops run along a row of outputs at once so that the compiler adds
/// several outputs per instruction, which it cannot do along one output's sum without
/// reordering it. The two sums written one output at a time were 2.6 % of a 576-image
/// catalog batch's CPU with the gate on (`perf`, 2026-12-06); the values are the same to
/// the bit (`tests::dct_row_at_a_time_equals_one_output_at_a_time`).
fn dct16_samples(b64: &[[f32; BUF]; BUF]) -> ([f32; OUT * OUT], u8) {
    (dct16_only(b64), quality_metric(b64))
}

/// `dct16_samples` without the quality, which a masked hash does not report (measuring it
/// anyway was 0.3 % of a catalog batch's samples, `perf`, 2026-12-06).
fn dct16_only(b64: &[[f32; BUF]; BUF]) -> [f32; OUT * OUT] {
    let m = dct_matrix();
    let mut inter = [[0f32; BUF]; OUT];
    for (row, mi) in inter.iter_mut().zip(m) {
        for (&w, b) in mi.iter().zip(b64) {
            for (acc, &v) in row.iter_mut().zip(b) {
                *acc += w * v;
            }
        }
    }
    let mt = dct_matrix_transposed();
    let mut out = [0f32; OUT * OUT];
    for (o, row) in out.chunks_exact_mut(OUT).zip(&inter) {
        for (&v, mk) in row.iter().zip(mt) {
            for (acc, &w) in o.iter_mut().zip(mk) {
                *acc += v * w;
            }
        }
    }
    out
}

/// `dct_matrix` with rows and columns swapped: entry `[k][j]` is `dct_matrix()[j][k]`.
fn dct_matrix_transposed() -> &'static [[f32; OUT]; BUF] {
    use std::sync::OnceLock;
    static T: OnceLock<[[f32; OUT]; BUF]> = OnceLock::new();
    T.get_or_init(|| {
        let m = dct_matrix();
        let mut t = [[0f32; OUT]; BUF];
        for (k, row) in t.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = m[j][k];
            }
        }
        t
    })
}

fn window(old: usize) -> usize {
    old.div_ceil(2 * BUF)
}

/// One box-filter pass with a window that shrinks at the ends, as in the reference, so that
/// edges are averaged over the pixels that exist rather than padded.
#[cfg(test)] // the reference's loop: the oracle `jarosz_samples` is held to
fn box_1d(input: &[f32], start: usize, out: &mut [f32], len: usize, stride: usize, win: usize) {
    let half = (win + 2) / 2;
    let p1 = half - 1;
    let p2 = win - half + 1;
    let oi_off = p1 * stride;
    let li_off = p2 * stride;
    let mut sum = 0f32;
    let mut n = 0f32;
    let p1_end = start + oi_off;
    let mut ri = start;
    while ri < p1_end {
        sum += input[ri];
        n += 1.0;
        ri += stride;
    }
    let p2_end = start + win * stride;
    let mut ri = p1_end;
    while ri < p2_end {
        sum += input[ri];
        n += 1.0;
        out[ri - oi_off] = sum / n;
        ri += stride;
    }
    let p3_end = start + len * stride;
    let mut ri = p2_end;
    while ri < p3_end {
        let oi = ri - oi_off;
        sum += input[ri];
        sum -= input[oi - li_off];
        out[oi] = sum / n;
        ri += stride;
    }
    let mut oi = start + (len - half + 1) * stride;
    while oi < p3_end {
        sum -= input[oi - li_off];
        n -= 1.0;
        out[oi] = sum / n;
        oi += stride;
    }
}

/// The plane after the reference's Jarosz filter — two box passes along rows,
/// then along columns, each window shrinking at the edges (`box_1d`) — at the 64×64 points
/// the DCT reads, and nowhere else. The passes are linear and separable, so each point is a
/// weighted sum of its neighbours under one composite kernel per axis (`Taps`): rows are
/// filtered at the 64 sample columns, then those at the 64 sample rows. Filtering the whole
/// plane four times to read one pixel in 64 was 20 % of a 588-image catalog batch's CPU
/// with the gate on (`perf`, 2026-12-05; BENCHMARKS.md, *Main images at catalog scale*).
/// The sums are the reference's in another order: values agree to ~1e-4 (`tests::
/// samples_equal_the_filtered_plane`), and a hash may differ from the reference's by a bit
/// where a coefficient sits on the median, as rounding already made it (`tests/it/
/// dedup_pdq.rs`).
fn jarosz_samples(plane: &View) -> [[f32; BUF]; BUF] {
    Across::of(plane).samples()
}

/// A rectangle of a luma plane, read where it lies: a still's trimmed frame and its centre
/// crops are hashed without copying them out (the copies were 1.6 % of a catalog batch's
/// CPU, `perf` 2026-12-06).
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    data: &'a [f32],
    stride: usize,
    x: usize,
    y: usize,
    pub width: usize,
    pub height: usize,
}

impl<'a> View<'a> {
    /// The rectangle `(x, y, w, h)` of this view, clamped as `Luma::crop` clamps.
    pub(crate) fn crop(&self, x: u32, y: u32, w: u32, h: u32) -> View<'a> {
        let (x, y) = ((x as usize).min(self.width), (y as usize).min(self.height));
        View {
            x: self.x + x,
            y: self.y + y,
            width: (w as usize).min(self.width - x),
            height: (h as usize).min(self.height - y),
            ..*self
        }
    }

    /// A copy of the rectangle as a plane of its own.
    pub(crate) fn copied(&self) -> Luma {
        let mut data = Vec::with_capacity(self.width * self.height);
        for r in 0..self.height {
            data.extend_from_slice(self.row(r));
        }
        Luma {
            width: self.width,
            height: self.height,
            data,
        }
    }

    fn row(&self, r: usize) -> &'a [f32] {
        let s = (self.y + r) * self.stride + self.x;
        &self.data[s..s + self.width]
    }

    pub(crate) fn hash(&self) -> PdqHash {
        let (dct, quality) = self.dct();
        PdqHash {
            hash: threshold(&dct),
            quality,
        }
    }

    pub(crate) fn hash_dihedral(&self) -> Dihedral {
        let (dct, quality) = self.dct();
        dihedral(&dct, quality)
    }

    fn dct(&self) -> ([f32; OUT * OUT], u8) {
        if self.width == 0 || self.height == 0 {
            return ([0.0; OUT * OUT], 0);
        }
        dct16_samples(&jarosz_samples(self))
    }
}

/// The first half of `jarosz_samples`: every row a sample row reads, filtered at the 64
/// sample columns. Kept, it serves the same plane with boxes painted over (`masked_hash`).
pub(crate) struct Across {
    cols: Taps,
    rows: Taps,
    first: usize,
    values: Vec<[f32; BUF]>,
}

impl Across {
    pub(crate) fn of(plane: &View) -> Across {
        let (w, h) = (plane.width, plane.height);
        let cols = Taps::new(w, window(w), |oj| ((oj * 2 + 1) * w) / (BUF * 2));
        let rows = Taps::new(h, window(h), |oi| ((oi * 2 + 1) * h) / (BUF * 2));
        // Only rows some sample row reads.
        let (first, last) = (
            rows.start[0],
            rows.start[BUF - 1] + rows.weights[BUF - 1].len(),
        );
        let mut values = vec![[0f32; BUF]; last - first];
        for (q, out) in values.chunks_mut(4).enumerate() {
            let y = first + 4 * q;
            let rows = quad(out.len(), |i| plane.row(y + i));
            cols.filter_rows(rows, out, |_| true);
        }
        Across {
            cols,
            rows,
            first,
            values,
        }
    }

    fn samples(&self) -> [[f32; BUF]; BUF] {
        down_columns(&self.rows, self.first, &self.values)
    }

    /// The eight orientations' hashes of the plane this was made of.
    pub(crate) fn dihedral(&self) -> Dihedral {
        let (dct, quality) = dct16_samples(&self.samples());
        dihedral(&dct, quality)
    }

    /// The hash of `plane` (the one this was made of) with the pixel rectangles `[x0, x1) ×
    /// [y0, y1)` painted mid grey, as `Luma::masked` paints them. Only the sample columns
    /// whose taps reach into a rectangle, on the rows it covers, are filtered again; every
    /// other value is the unmasked plane's, computed from the same pixels in the same order,
    /// so the hash is bit for bit that of the painted copy (`tests::
    /// views_and_masks_hash_as_their_copies`). Its quality is not measured.
    pub(crate) fn masked_hash(&self, plane: &View, rects: &[(u32, u32, u32, u32)]) -> Hash256 {
        let (w, h) = (plane.width, plane.height);
        if w == 0 || h == 0 {
            return threshold(&[0.0; OUT * OUT]);
        }
        let grey = luma_px([128, 128, 128, 255]);
        let rects: Vec<(usize, usize, usize, usize)> = rects
            .iter()
            .map(|&(x0, y0, x1, y1)| {
                let (x1, y1) = ((x1 as usize).min(w), (y1 as usize).min(h));
                (x0 as usize, y0 as usize, x1, y1)
            })
            .filter(|&(x0, y0, x1, y1)| x0 < x1 && y0 < y1)
            .collect();
        let mut values = self.values.clone();
        let reaches = |j: usize, spans: &[(usize, usize)]| {
            let (s, n) = (self.cols.start[j], self.cols.weights[j].len());
            spans.iter().any(|&(x0, x1)| s < x1 && x0 < s + n)
        };
        // Four rows at a time as in `of`: a row no box covers is filtered again from its
        // own pixels, which gives the values it has.
        let mut bufs = [vec![0f32; w], vec![0f32; w], vec![0f32; w], vec![0f32; w]];
        // The spans each row's boxes cover, and all of the group's, in buffers kept across
        // groups: allocated per group they were a fifth of this function's time.
        let mut spans: [Vec<(usize, usize)>; 4] = Default::default();
        let mut all: Vec<(usize, usize)> = Vec::new();
        for (q, out) in values.chunks_mut(4).enumerate() {
            let y = self.first + 4 * q;
            let spans = &mut spans[..out.len()];
            for (i, row) in spans.iter_mut().enumerate() {
                row.clear();
                row.extend(
                    rects
                        .iter()
                        .filter(|r| (r.1..r.3).contains(&(y + i)))
                        .map(|r| (r.0, r.2)),
                );
            }
            if spans.iter().all(Vec::is_empty) {
                continue;
            }
            for ((i, buf), spans) in bufs.iter_mut().enumerate().zip(spans.iter()) {
                buf.copy_from_slice(plane.row(y + i));
                for &(x0, x1) in spans {
                    buf[x0..x1].fill(grey);
                }
            }
            all.clear();
            spans.iter().for_each(|row| all.extend_from_slice(row));
            let rows = quad(out.len(), |i| &bufs[i][..]);
            self.cols.filter_rows(rows, out, |j| reaches(j, &all));
        }
        threshold(&dct16_only(&down_columns(&self.rows, self.first, &values)))
    }
}

/// The second half of `jarosz_samples`: the filtered rows (`values`, from row `first` on)
/// filtered down the columns at the 64 sample rows.
fn down_columns(rows: &Taps, first: usize, values: &[[f32; BUF]]) -> [[f32; BUF]; BUF] {
    // Each sample is its sum over the taps in tap order, as `Taps::apply` makes it; run
    // along a row of 64 samples at once, which the compiler does several at a time.
    let mut b64 = [[0f32; BUF]; BUF];
    for (i, out) in b64.iter_mut().enumerate() {
        let s = rows.start[i] - first;
        for (t, &wt) in rows.weights[i].iter().enumerate() {
            for (o, &v) in out.iter_mut().zip(&values[s + t]) {
                *o += wt * v;
            }
        }
    }
    b64
}

/// Rows `0..n` of a group of one to four (`row(i)`), the last repeated to make four: the
/// row passes filter four rows at a time (`Taps::apply4`), and a short last group costs the
/// sums it drops rather than a second, one-row loop.
fn quad<'a>(n: usize, row: impl Fn(usize) -> &'a [f32]) -> [&'a [f32]; 4] {
    [0, 1, 2, 3].map(|i| row(i.min(n - 1)))
}

/// For each of the 64 sample positions along an axis of `n` pixels, the weights by which
/// two box passes of window `win` make the filtered value there from the pixels around it
/// (`2 × win − 1` of them, fewer at the edges).
struct Taps {
    start: [usize; BUF],
    weights: Vec<Vec<f32>>,
}

impl Taps {
    fn new(n: usize, win: usize, at: impl Fn(usize) -> usize) -> Taps {
        // One box pass as a matrix row: output `i` averages pixels [i − p2 + 1, i + p1]
        // clipped to the axis (`box_1d`'s shrinking window).
        let half = (win + 2) / 2;
        let (p1, p2) = (half - 1, win - half + 1);
        let reach = |i: usize| (i.saturating_sub(p2 - 1), (i + p1).min(n - 1));
        let mut t = Taps {
            start: [0; BUF],
            weights: Vec::with_capacity(BUF),
        };
        for k in 0..BUF {
            let s = at(k);
            // The first pass's outputs that the second one averages at `s`.
            let (lo, hi) = reach(s);
            let (first, last) = (reach(lo).0, reach(hi).1);
            let mut wts = vec![0f64; last - first + 1];
            for m in lo..=hi {
                let (a, b) = reach(m);
                let share = 1.0 / ((hi - lo + 1) * (b - a + 1)) as f64;
                for w in &mut wts[a - first..=b - first] {
                    *w += share;
                }
            }
            t.start[k] = first;
            t.weights.push(wts.into_iter().map(|v| v as f32).collect());
        }
        t
    }

    /// `apply` at `k` of four rows at once: each value is its own sum in tap order, the
    /// same bits, but four independent sums share each tap's weight and loop, where one
    /// sum's chain of dependent additions left the core waiting. One row at a time, the
    /// row pass was 3.7 % of a 576-image catalog batch's CPU with the gate on (`perf`,
    /// 2026-12-06; `tests::rows_four_at_a_time_equal_one_at_a_time`).
    fn apply4(&self, k: usize, rows: [&[f32]; 4]) -> [f32; 4] {
        let s = self.start[k];
        let mut acc = [0f32; 4];
        for (t, &wt) in self.weights[k].iter().enumerate() {
            for (a, row) in acc.iter_mut().zip(&rows) {
                *a += wt * row[s + t];
            }
        }
        acc
    }

    /// `out`, one to four rows, filtered at each sample column `wanted` takes: `rows` as
    /// `quad` makes them, the sums of the rows past `out`'s dropped.
    fn filter_rows(
        &self,
        rows: [&[f32]; 4],
        out: &mut [[f32; BUF]],
        wanted: impl Fn(usize) -> bool,
    ) {
        for j in (0..BUF).filter(|&j| wanted(j)) {
            for (o, v) in out.iter_mut().zip(self.apply4(j, rows)) {
                o[j] = v;
            }
        }
    }

    #[cfg(test)]
    fn apply(&self, k: usize, px: impl Fn(usize) -> f32) -> f32 {
        let s = self.start[k];
        self.weights[k]
            .iter()
            .enumerate()
            .map(|(t, w)| w * px(s + t))
            .sum()
    }
}

fn quality_metric(b: &[[f32; BUF]; BUF]) -> u8 {
    let mut g = 0f32;
    for (row, next) in b.iter().zip(b.iter().skip(1)) {
        for (u, v) in row.iter().zip(next.iter()) {
            g += ((u - v) / 255.0).abs();
        }
    }
    for row in b.iter() {
        for j in 0..BUF - 1 {
            g += ((row[j] - row[j + 1]) / 255.0).abs();
        }
    }
    ((g / 90.0 * 100.0) as u32).min(100) as u8
}

fn threshold(d: &[f32; OUT * OUT]) -> Hash256 {
    threshold_at(d, median(d))
}

/// The reference's Torben median: the lower middle element for an even count. Selected,
/// not sorted: the same element of the same total order, and sorting the 256 values, for
/// each of a still's 8 orientations and masked hashes, was 0.9 % of a catalog batch's
/// samples (`perf`, 2026-12-06).
fn median(d: &[f32; OUT * OUT]) -> f32 {
    let mut values = *d;
    *values
        .select_nth_unstable_by((OUT * OUT).div_ceil(2) - 1, |a, b| a.total_cmp(b))
        .1
}

/// The hash of `d`: a bit for each value above `median`.
fn threshold_at(d: &[f32; OUT * OUT], median: f32) -> Hash256 {
    let mut h = [0u8; 32];
    for i in 0..32 {
        let mut byte = 0u8;
        for j in 0..8 {
            if d[i * 8 + j] > median {
                byte |= 1 << j;
            }
        }
        h[31 - i] = byte;
    }
    Hash256(h)
}

/// Crops uniform bars (letterbox, pillarbox, flat frames around a picture) so a 9:16 pad
/// of a 16:9 picture hashes like the picture. A bar is a run of edge rows/columns whose
/// pixels stay within a tolerance of the edge colour; at most 40 % is removed per side,
/// and an image that is uniform everywhere is returned as is.
pub(crate) fn trim_borders(img: &RgbaImage) -> RgbaImage {
    let (x, y, w, h) = border_box(img);
    if (x, y, w, h) == (0, 0, img.width(), img.height()) {
        return img.clone();
    }
    image::imageops::crop_imm(img, x, y, w, h).to_image()
}

/// The content rectangle `(x, y, w, h)` left after removing uniform bars.
pub fn border_box(img: &RgbaImage) -> (u32, u32, u32, u32) {
    let (w, h) = img.dimensions();
    if w < 16 || h < 16 {
        return (0, 0, w, h);
    }
    let luma = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0;
        (299 * p[0] as i32 + 587 * p[1] as i32 + 114 * p[2] as i32) / 1000
    };
    // JPEG/H.264 ringing near the picture edge makes bars slightly noisy: a line counts as
    // bar when ≥ 98 % of its pixels are within ±14 of the bar's colour.
    const TOL: i32 = 14;
    let line_is_bar = |pixels: &mut dyn Iterator<Item = i32>, reference: i32, len: u32| {
        let off = pixels.filter(|v| (v - reference).abs() > TOL).count() as u32;
        off * 50 <= len
    };
    let edge_ref = |vals: Vec<i32>| {
        let mut v = vals;
        v.sort_unstable();
        v[v.len() / 2]
    };
    let top_ref = edge_ref((0..w).map(|x| luma(x, 0)).collect());
    let bot_ref = edge_ref((0..w).map(|x| luma(x, h - 1)).collect());
    let left_ref = edge_ref((0..h).map(|y| luma(0, y)).collect());
    let right_ref = edge_ref((0..h).map(|y| luma(w - 1, y)).collect());
    let max_v = h * 2 / 5;
    let max_h = w * 2 / 5;
    let mut top = 0;
    while top < max_v && line_is_bar(&mut (0..w).map(|x| luma(x, top)), top_ref, w) {
        top += 1;
    }
    let mut bottom = 0;
    while bottom < max_v && line_is_bar(&mut (0..w).map(|x| luma(x, h - 1 - bottom)), bot_ref, w) {
        bottom += 1;
    }
    let mut left = 0;
    while left < max_h && line_is_bar(&mut (0..h).map(|y| luma(left, y)), left_ref, h) {
        left += 1;
    }
    let mut right = 0;
    while right < max_h && line_is_bar(&mut (0..h).map(|y| luma(w - 1 - right, y)), right_ref, h) {
        right += 1;
    }
    // A couple of bar-coloured lines are normal picture content (a sky, a white product
    // shot edge); only treat it as a bar when it is a visible band.
    let min_band_v = (h / 50).max(4);
    let min_band_h = (w / 50).max(4);
    let top = if top >= min_band_v { top } else { 0 };
    let bottom = if bottom >= min_band_v { bottom } else { 0 };
    let left = if left >= min_band_h { left } else { 0 };
    let right = if right >= min_band_h { right } else { 0 };
    if top + bottom >= h - 8 || left + right >= w - 8 {
        return (0, 0, w, h);
    }
    (left, top, w - left - right, h - top - bottom)
}

/// Trimmed-frame PDQ with all orientations: the query-side form of a still image.
pub fn fingerprint(img: &RgbaImage) -> Dihedral {
    hash_dihedral(&trim_borders(img))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's filter, pass by pass over the whole plane, read at the 64×64 points.
    fn reference_samples(luma: &[f32], w: usize, h: usize) -> [[f32; BUF]; BUF] {
        let mut plane = luma.to_vec();
        let mut tmp = vec![0f32; w * h];
        for _ in 0..2 {
            for r in 0..h {
                box_1d(&plane, r * w, &mut tmp, w, 1, window(w));
            }
            for c in 0..w {
                box_1d(&tmp, c, &mut plane, h, w, window(h));
            }
        }
        let mut b64 = [[0f32; BUF]; BUF];
        for (oi, row) in b64.iter_mut().enumerate() {
            let ii = ((oi * 2 + 1) * h) / (BUF * 2);
            for (oj, v) in row.iter_mut().enumerate() {
                *v = plane[ii * w + ((oj * 2 + 1) * w) / (BUF * 2)];
            }
        }
        b64
    }

    /// The reference's median: sort all 256 values, take the lower middle one.
    fn threshold_sorted(d: &[f32; OUT * OUT]) -> Hash256 {
        let mut sorted = *d;
        sorted.sort_by(|a, b| a.total_cmp(b));
        threshold_at(d, sorted[(OUT * OUT).div_ceil(2) - 1])
    }

    /// Each of the eight orientations is thresholded at its own values' median, whether
    /// selected or reused from the untransposed orientation with the same values: on spread
    /// values, on values with many ties (signed zeros among them), and on a real picture.
    #[test]
    fn dihedral_thresholds_each_orientation_at_its_median() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || crate::dedup::xorshift64(&mut x);
        let spread: [f32; OUT * OUT] = std::array::from_fn(|_| (next() % 2001) as f32 - 1000.0);
        let ties: [f32; OUT * OUT] = std::array::from_fn(|_| match next() % 5 {
            0 => 0.0,
            1 => -0.0,
            n => n as f32 - 3.0,
        });
        let img = RgbaImage::from_fn(97, 61, |x, y| {
            image::Rgba([(x * 5 + y) as u8, (x * y) as u8, (y * 3) as u8, 255])
        });
        let (picture, _) = dct16_samples(&jarosz_samples(&Luma::of(&img).view()));
        for dct in [spread, ties, picture] {
            let got = dihedral(&dct, 100).hashes;
            let mut k = 0;
            for transpose in [false, true] {
                for (neg_rows, neg_cols) in
                    [(false, false), (false, true), (true, false), (true, true)]
                {
                    let d: [f32; OUT * OUT] = std::array::from_fn(|n| {
                        let (i, j) = (n / OUT, n % OUT);
                        let (si, sj) = if transpose { (j, i) } else { (i, j) };
                        let flip = (neg_rows && i % 2 == 0) != (neg_cols && j % 2 == 0);
                        if flip {
                            -dct[si * OUT + sj]
                        } else {
                            dct[si * OUT + sj]
                        }
                    });
                    assert_eq!(got[k], threshold_sorted(&d), "orientation {k}");
                    k += 1;
                }
            }
        }
    }

    /// Sampling the filtered plane directly gives the reference's values, at every window
    /// size PDQ uses (1 for small frames to 24 for a 3,000-px side), square or not.
    #[test]
    fn samples_equal_the_filtered_plane() {
        for (w, h) in [
            (1, 3),
            (5, 7),
            (64, 64),
            (257, 131),
            (2000, 40),
            (512, 384),
            (3000, 17),
        ] {
            let luma: Vec<f32> = (0..w * h)
                .map(|i| ((i * 7919 + 13) % 251) as f32 * 1.016)
                .collect();
            let want = reference_samples(&luma, w, h);
            let plane = Luma {
                width: w,
                height: h,
                data: luma.clone(),
            };
            let got = jarosz_samples(&plane.view());
            for (i, (a, b)) in want.iter().flatten().zip(got.iter().flatten()).enumerate() {
                assert!((a - b).abs() < 2e-3, "{w}×{h} at {i}: {a} vs {b}");
            }
        }
    }

    /// Hashing a view, or the kept row pass with boxes painted over, gives the bits and
    /// quality of hashing the copied crop or painted plane.
    #[test]
    fn views_and_masks_hash_as_their_copies() {
        let (w, h) = (517usize, 389usize);
        let img = RgbaImage::from_fn(w as u32, h as u32, |x, y| {
            let v = ((x * 7919 + y * 104_729 + (x * y) % 97) % 251) as u8;
            image::Rgba([v, v.wrapping_mul(3), 255 - v, 255])
        });
        let luma = Luma::of(&img);
        for (x, y, cw, ch) in [
            (0, 0, 517, 389),
            (12, 30, 400, 300),
            (51, 38, 465, 350),
            (500, 0, 40, 9),
        ] {
            let (a, b) = (luma.view().crop(x, y, cw, ch), luma.crop(x, y, cw, ch));
            assert_eq!((a.width, a.height), (b.width, b.height));
            let (da, db) = (a.hash_dihedral(), b.hash_dihedral());
            assert_eq!(
                (da.hashes, da.quality),
                (db.hashes, db.quality),
                "crop {x},{y} {cw}×{ch}"
            );
            let inner = a.crop(3, 5, cw / 2, ch / 2);
            let copied = b.crop(3, 5, cw / 2, ch / 2);
            assert_eq!(inner.hash().hash, copied.hash().hash);
        }
        let across = Across::of(&luma.view());
        for rects in [
            vec![(100, 80, 300, 260)],
            vec![(0, 0, 517, 40), (20, 350, 200, 389), (480, 100, 600, 500)],
            vec![(10, 10, 10, 50)],
            vec![(0, 0, 517, 389)],
        ] {
            let (a, b) = (
                across.masked_hash(&luma.view(), &rects),
                luma.masked(&rects).hash(),
            );
            assert_eq!(a, b.hash, "{rects:?}");
        }
    }

    /// The row pass four rows at a time and the column pass a row of samples at a time
    /// make the bits `Taps::apply` makes one value at a time, on planes whose height leaves
    /// every remainder of four.
    #[test]
    fn rows_four_at_a_time_equal_one_at_a_time() {
        for (w, h) in [(400usize, 400usize), (333, 401), (517, 302), (90, 67)] {
            let data: Vec<f32> = (0..w * h)
                .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 8) as f32 / 65_793.0)
                .collect();
            let luma = Luma {
                width: w,
                height: h,
                data,
            };
            let view = luma.view();
            let across = Across::of(&view);
            for (k, got) in across.values.iter().enumerate() {
                let row = view.row(across.first + k);
                let want: Vec<u32> = (0..BUF)
                    .map(|j| across.cols.apply(j, |x| row[x]).to_bits())
                    .collect();
                assert_eq!(got.map(f32::to_bits).to_vec(), want, "{w}×{h} row {k}");
            }
            let b64 = down_columns(&across.rows, across.first, &across.values);
            for (i, got) in b64.iter().enumerate() {
                let want: Vec<u32> = (0..BUF)
                    .map(|j| {
                        across
                            .rows
                            .apply(i, |y| across.values[y - across.first][j])
                            .to_bits()
                    })
                    .collect();
                assert_eq!(
                    got.map(f32::to_bits).to_vec(),
                    want,
                    "{w}×{h} sample row {i}"
                );
            }
        }
    }

    #[test]
    fn dct_row_at_a_time_equals_one_output_at_a_time() {
        let m = dct_matrix();
        for seed in 0..20u32 {
            let mut b = [[0f32; BUF]; BUF];
            for (i, row) in b.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    let x = (i as u32 * 64 + j as u32).wrapping_mul(2_654_435_761)
                        ^ seed.wrapping_mul(40_503);
                    *v = (x % 25_500) as f32 / 100.0;
                }
            }
            let mut inter = [[0f32; BUF]; OUT];
            for i in 0..OUT {
                for j in 0..BUF {
                    let mut s = 0f32;
                    for k in 0..BUF {
                        s += m[i][k] * b[k][j];
                    }
                    inter[i][j] = s;
                }
            }
            let mut want = [0f32; OUT * OUT];
            for i in 0..OUT {
                for j in 0..OUT {
                    let mut s = 0f32;
                    for k in 0..BUF {
                        s += inter[i][k] * m[j][k];
                    }
                    want[i * OUT + j] = s;
                }
            }
            let (got, _) = dct16_samples(&b);
            assert_eq!(got.map(f32::to_bits), want.map(f32::to_bits), "seed {seed}");
        }
    }

    #[test]
    fn luma_eight_at_a_time_equals_the_formula() {
        for (w, h) in [(1u32, 1u32), (7, 3), (9, 9), (517, 389)] {
            let img = crate::media::noise_rgba(w, h);
            let want: Vec<u32> = img.pixels().map(|p| luma_px(p.0).to_bits()).collect();
            let got: Vec<u32> = Luma::of(&img).data.iter().map(|v| v.to_bits()).collect();
            assert_eq!(want, got, "{w}×{h}");
        }
        let all = RgbaImage::from_fn(256, 3, |x, y| {
            image::Rgba([
                x as u8,
                (x as u8).wrapping_add(y as u8 * 85),
                255 - x as u8,
                0,
            ])
        });
        let want: Vec<u32> = all.pixels().map(|p| luma_px(p.0).to_bits()).collect();
        assert_eq!(
            want,
            Luma::of(&all)
                .data
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        );
    }
}
