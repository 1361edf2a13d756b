//! Where two stills agree, once keypoint geometry says they share content (issue #13).
//!
//! Inliers say that the new still shows the old one's content; they do not say that it shows
//! *only* that. Files from elsewhere carry no composition, so two cases looked like "the same
//! picture after an edit" to the gate although the platform rule calls them "scene repeats"
//! (similar, not a duplicate):
//!
//! - a new subject (product, person) over a reused background: the background's keypoints
//!   agree, and a large compact region holds keypoints of its own with no inlier among them;
//! - the old picture inset small into another scene: its footprint in the new frame is small
//!   and the rest of the frame is a scene with keypoints of its own (not flat padding).
//!
//! Text and logos change a picture the same way a new subject does, and the rule still calls
//! a change of text or logo alone a duplicate. They are told apart by shape (thin bands,
//! small size) and by being graphics: flat fills with sharp edges, measured on the query
//! side only (`flatness`).
//!
//! Where the subject lies is read from pixels when both sides have a thumbnail (a 96-px
//! grey picture kept with the keypoints, `geometry::Thumb`; `differences`): the new frame
//! is compared with the old picture where the keypoint fit puts it. Keypoints alone (the
//! cells that hold corners but no inlier) see a subject only where it has corners, and
//! background inliers reaching into it broke it up: 58 % of the harness's new subjects
//! were found that way, 98 % from pixels (BENCHMARKS.md, *Duplicate gate*). Libraries
//! written before the thumbnail was kept still get the keypoint regions.
//!
//! Everything here works on a `GRID`×`GRID` grid over the new frame.

use image::RgbaImage;
use serde::Serialize;

use super::geometry::{Features, Fit, GeoMatch, Thumb};

/// Cells per side. 12 puts ~5 keypoints in a cell (700 per still), and a subject a third of
/// the frame wide spans 4 cells, of which 2–3 lie wholly inside it.
pub const GRID: usize = 12;

/// A 3×3 neighbourhood whose luma spans at most this many levels is flat. Graphics (logos,
/// caption fills) keep their flat fills through scaling and JPEG; photographed surfaces vary
/// by more (grain, shading).
const FLAT_RANGE: u8 = 2;

/// Share of flat pixels (0–255) per cell of the still as the gate measures it (≤ 512 px a
/// side), row by row. Query side only: it is never stored.
pub fn flatness(img: &RgbaImage) -> Vec<u8> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w < 3 || h < 3 {
        return Vec::new();
    }
    let luma: Vec<u8> = img
        .pixels()
        .map(|p| ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8) as u8)
        .collect();
    let mut flat = vec![0u32; GRID * GRID];
    let mut total = vec![0u32; GRID * GRID];
    for y in 1..h - 1 {
        let cy = (y * GRID / h).min(GRID - 1);
        for x in 1..w - 1 {
            let (mut lo, mut hi) = (255u8, 0u8);
            for row in [y - 1, y, y + 1] {
                for &v in &luma[row * w + x - 1..row * w + x + 2] {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
            let c = cy * GRID + (x * GRID / w).min(GRID - 1);
            total[c] += 1;
            if hi - lo <= FLAT_RANGE {
                flat[c] += 1;
            }
        }
    }
    flat.iter()
        .zip(&total)
        .map(|(f, t)| (f * 255 / (*t).max(1)) as u8)
        .collect()
}

/// What the agreement between a new still and an old one leaves out.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Split {
    /// The old picture covers only `coverage` (0–1) of the new frame, and the rest of the
    /// frame is a scene of its own (`outside_points` keypoints there).
    Inset { coverage: f32, outside_points: u32 },
    /// The backgrounds agree but the box `[x, y, w, h]` (normalised), `share` of the frame,
    /// holds `points` keypoints and no inlier where `expected` would be found if it showed
    /// the old picture.
    NewSubject {
        region: [f32; 4],
        share: f32,
        points: u32,
        expected: f32,
        /// Share of the frame away from the region that agrees pixel for pixel with the old
        /// picture, when thumbnails found it (`None`: keypoints alone did).
        agree: Option<f32>,
        /// The region's grid cells (row-major), to match its keypoints alone.
        #[serde(skip)]
        cells: Vec<usize>,
    },
}

impl Split {
    /// "in the centre", "at the top left"…, from where the region lies.
    pub fn place(&self) -> &'static str {
        let Split::NewSubject { region, .. } = self else {
            return "";
        };
        let (cx, cy) = (region[0] + region[2] / 2.0, region[1] + region[3] / 2.0);
        let col = (cx * 3.0).clamp(0.0, 2.0) as usize;
        let row = (cy * 3.0).clamp(0.0, 2.0) as usize;
        [
            ["at the top left", "at the top", "at the top right"],
            ["on the left", "in the centre", "on the right"],
            ["at the bottom left", "at the bottom", "at the bottom right"],
        ][row][col]
    }
}

/// Thresholds; each one's measured reason is in `Default`.
#[derive(Debug, Clone)]
pub struct SplitConfig {
    /// Largest share of the new frame the old picture may cover to be an inset.
    pub inset_coverage: f32,
    /// Fewest keypoints outside the footprint for the rest of the frame to be a scene.
    pub inset_points: u32,
    /// Smallest region (bounding box, share of the frame) that can be a new subject.
    pub subject_share: f32,
    /// Fewest inliers the region's keypoints would have given at the frame's inlier rate.
    pub subject_expected: f32,
    /// Smallest share of a region's bounding box that has no inlier.
    pub subject_fill: f32,
    /// Smallest share of the keypoint-bearing cells around the region that hold inliers.
    pub ring_agree: f32,
    /// Mean flat share (0–1) from which a region is a graphic (logo, text fill).
    pub graphic_flat: f32,
    /// Longest side ratio of a region's box; longer is a line of text.
    pub band_ratio: f32,
    /// Fewest keypoints in a region for it to be a subject of its own.
    pub subject_points: u32,
    /// By thumbnails: a cell differs when at least this share of its pixels does…
    pub pixel_cell: f32,
    /// …and the correlation of its levels with the old ones is under this.
    pub pixel_corr: f32,
    /// A cell agrees when at most this share of its pixels differs.
    pub pixel_agree: f32,
    /// Fewest differing cells in a new subject.
    pub pixel_cells: usize,
    /// Smallest share of its box's cells that differ.
    pub pixel_fill: f32,
    /// Smallest share of the cells away from it that agree.
    pub pixel_rest: f32,
    /// Longest axis ratio of its cells (weighted by how much of each differs); longer is
    /// a line of text.
    pub pixel_band: f32,
    /// Mean flat share from which it is a graphic.
    pub pixel_graphic_flat: f32,
}

impl SplitConfig {
    /// Whether a cell wholly inside the old frame differs from what the old picture showed
    /// there (`pixel_cell`, `pixel_corr`): new subjects, and video seconds that do not
    /// agree (`video::seconds_agreeing`).
    pub fn cell_differs(&self, c: &CellDiff) -> bool {
        c.differs >= self.pixel_cell && c.corr < self.pixel_corr
    }
}

impl Default for SplitConfig {
    /// Chosen on `benches/dedup_eval.rs`'s grid dump (`DEDUP_EVAL_DUMP`, 2026-12-04 22:04 UTC:
    /// 660 copies of 30 library pictures under 22 edits, 60 new subjects over them, 60
    /// insets), by replaying `analyse` offline over every combination of these thresholds
    /// and keeping the one that moved the most new subjects while no edit lost more than one
    /// copy in 30. Regions of cells without inliers turn up in edited copies too (the ratio
    /// test keeps only part of the true pairs, so a cell of 3–5 keypoints often has none):
    /// among those over 12 % of the frame they held 15–461 keypoints and filled 50–100 % of
    /// their box (the largest: big captions, kept out by the band and flatness tests), the
    /// new subjects' 39–656. No one figure separates them; together these moved 32 of the
    /// 59 retrieved new subjects (54 %) and 1 of 659 edited copies (a small caption).
    fn default() -> Self {
        SplitConfig {
            // Letterboxed 9:16 copies cover 37–58 % of the frame, insets 19–26 %.
            inset_coverage: 0.40,
            // Letterbox and padding cells hold no keypoint at all (30 of 30 copies: 0); a
            // real scene around an inset held 30–595. The motion-blurred clock photo (0)
            // cannot be told from padding by keypoints and stays a duplicate.
            inset_points: 20,
            subject_share: 0.12,
            subject_points: 120,
            subject_expected: 8.0,
            subject_fill: 0.85,
            // New subjects' surroundings: 30–100 % of cells hold inliers; lower than that
            // and the whole frame disagrees (a heavy edit, not a pasted subject).
            ring_agree: 0.3,
            // Pasted logos and caption fills: ≥ 0.36 of their cells' pixels are flat; the
            // photographed subjects 0.00–0.30.
            graphic_flat: 0.35,
            // Lines of text: h/7 captions give boxes 4–9 cells wide and 1–2 high.
            band_ratio: 3.0,
            // The thumbnail thresholds: chosen on the grid dump of 2026-12-06 04:04 UTC (the
            // same cases, the pixels of each cell added) as the combination that moved the
            // most new subjects (59 of 60) with no edited copy moved at all (0 of 660); 252
            // combinations reached ≥ 58 with none. Without the correlation test, grey and
            // chroma-subsampled copies of saturated products and big captions moved.
            pixel_cell: 0.1,
            pixel_corr: 0.8,
            pixel_agree: 0.2,
            // The big logo (45 % of the width, shapes over the picture) covered ≤ 14
            // differing cells; subjects (12–25 % of the frame) ≥ 16. A non-flat logo over
            // more than ~11 % of the frame would be taken for a subject.
            pixel_cells: 16,
            pixel_fill: 0.4,
            pixel_rest: 0.7,
            // Lines of text came out at 4.2–11.3, subjects at 1.0–2.2.
            pixel_band: 3.0,
            // Subjects cut from the motion-blurred clock photo are 0.37–0.59 flat: the
            // keypoint regions' 0.35 would call them graphics.
            pixel_graphic_flat: 0.6,
        }
    }
}

/// The figures behind `split`, for the evaluation harness and the reasons.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Share of the new frame the old picture covers.
    pub coverage: f32,
    /// Keypoints in cells wholly outside the footprint.
    pub outside_points: u32,
    /// Inliers per keypoint over the footprint.
    pub inlier_rate: f32,
    /// Each region of cells with keypoints and no inlier: box, share, points, expected,
    /// fill, ring agreement, flat share.
    pub regions: Vec<Region>,
    /// Per cell (row-major): share inside the footprint, keypoints, inliers.
    pub cover: Vec<f32>,
    pub points: Vec<u32>,
    pub inliers: Vec<u32>,
    /// Per cell: `differences` (empty without thumbnails).
    pub pixels: Vec<CellDiff>,
    /// Each group of cells that differ by `pixels`, as `regions` (`ring`: the share of the
    /// cells away from it that agree).
    pub pixel_regions: Vec<Region>,
}

#[derive(Debug, Clone, Default)]
pub struct Region {
    pub bbox: [usize; 4],
    pub cells: Vec<usize>,
    pub points: u32,
    pub expected: f32,
    pub fill: f32,
    pub ring: f32,
    pub flat: f32,
    /// Why it is not a new subject, or `None` when it is.
    pub rejected: Option<&'static str>,
}

impl Region {
    fn share(&self) -> f32 {
        ((self.bbox[2] - self.bbox[0] + 1) * (self.bbox[3] - self.bbox[1] + 1)) as f32
            / (GRID * GRID) as f32
    }
}

/// A thumbnail pixel whose luma, once the new picture's tones are mapped onto the old one's,
/// lies further than this from every old value within `REACH` differs. Set once, not tuned:
/// the cell thresholds in `SplitConfig::default` were chosen with it fixed.
pub const PIXEL_DIFFERS: f32 = 20.0;

/// How far (old thumbnail pixels) around where the fit puts a new pixel the old values it
/// may match lie. A whole pixel let busy backgrounds (grass, gravel) take in a subject's
/// plain surfaces: 49 of the harness's 60 new subjects found, against 59 at half a pixel
/// (grid dumps, 2026-12-06).
const REACH: f32 = 0.5;

/// Per grid cell of the new frame (row-major), the share of its thumbnail pixels that differ
/// from the old picture where `fit` puts them, or −1 for a cell not wholly inside the old
/// frame. `None` when either side has no thumbnail (a library written before they were kept).
///
/// Edits change tones over the whole frame (brightness, contrast, gamma, grey, sepia): the
/// new luma is compared after the tone map fitted from the pairs themselves (`tone_map`).
/// Alignment is a similarity fitted to keypoints: a new pixel differs only from the whole
/// range of the old values within `REACH` of where the fit puts it. Colour edits that
/// change luma unevenly (grey by other weights than ours, chroma subsampling of saturated
/// shapes) shift flat fills by different amounts; the correlation per cell tells those
/// (structure kept) from new content (structure not kept).
pub fn differences(new: &Thumb, old: &Thumb, fit: &Fit) -> Option<Vec<CellDiff>> {
    if new.is_empty() || old.is_empty() {
        return None;
    }
    let (nw, nh) = (new.width as usize, new.height as usize);
    let (ow, oh) = (old.width as usize, old.height as usize);
    let at = |x: isize, y: isize| {
        old.luma[y.clamp(0, oh as isize - 1) as usize * ow + x.clamp(0, ow as isize - 1) as usize]
            as f32
    };
    let bilinear = |x: f32, y: f32| {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as isize, y0 as isize);
        let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
        let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
        top * (1.0 - fy) + bottom * fy
    };
    let cell_of = |i: usize| {
        let (x, y) = (i % nw, i / nw);
        (y * GRID / nh).min(GRID - 1) * GRID + (x * GRID / nw).min(GRID - 1)
    };
    // Per new pixel inside the old frame: its luma, and the old range around its place.
    let mut pairs: Vec<(usize, u8, f32, f32, f32)> = Vec::with_capacity(nw * nh);
    let mut whole = [true; GRID * GRID];
    for y in 0..nh {
        for x in 0..nw {
            let (u, v) = fit.to_old(((x as f32 + 0.5) / nw as f32, (y as f32 + 0.5) / nh as f32));
            if !(0.0..=1.0).contains(&u) || !(0.0..=1.0).contains(&v) {
                whole[cell_of(y * nw + x)] = false;
                continue;
            }
            let (ox, oy) = (u * ow as f32 - 0.5, v * oh as f32 - 0.5);
            let (mut lo, mut hi) = (f32::MAX, f32::MIN);
            for dy in [-REACH, 0.0, REACH] {
                for dx in [-REACH, 0.0, REACH] {
                    let o = bilinear(ox + dx, oy + dy);
                    lo = lo.min(o);
                    hi = hi.max(o);
                }
            }
            pairs.push((y * nw + x, new.luma[y * nw + x], bilinear(ox, oy), lo, hi));
        }
    }
    if pairs.is_empty() {
        return Some(vec![
            CellDiff {
                differs: -1.0,
                corr: 0.0
            };
            GRID * GRID
        ]);
    }
    let gap = |t: f32, lo: f32, hi: f32| (lo - t).max(t - hi).max(0.0);
    let tone = tone_map(&pairs.iter().map(|p| (p.1, p.2)).collect::<Vec<_>>());
    let mut differs = vec![0u32; GRID * GRID];
    // Per cell: count, Σn, Σo, Σn², Σo², Σno of the tone-mapped new and the old levels.
    let mut moments = vec![[0f64; 6]; GRID * GRID];
    for &(i, n, o, lo, hi) in &pairs {
        let c = cell_of(i);
        let t = tone[n as usize];
        if gap(t, lo, hi) > PIXEL_DIFFERS {
            differs[c] += 1;
        }
        let (t, o) = (t as f64, o as f64);
        let m = &mut moments[c];
        m[0] += 1.0;
        m[1] += t;
        m[2] += o;
        m[3] += t * t;
        m[4] += o * o;
        m[5] += t * o;
    }
    Some(
        (0..GRID * GRID)
            .map(|c| {
                let [k, sn, so, snn, soo, sno] = moments[c];
                if !whole[c] || k == 0.0 {
                    return CellDiff {
                        differs: -1.0,
                        corr: 0.0,
                    };
                }
                let vn = (snn / k - (sn / k).powi(2)).max(0.0);
                let vo = (soo / k - (so / k).powi(2)).max(0.0);
                let corr = match (vn > FLAT_VARIANCE, vo > FLAT_VARIANCE) {
                    (true, true) => (sno / k - sn * so / (k * k)) / (vn * vo).sqrt(),
                    (false, false) => 1.0,
                    _ => 0.0,
                };
                CellDiff {
                    differs: differs[c] as f32 / k as f32,
                    corr: corr as f32,
                }
            })
            .collect(),
    )
}

/// Below this variance (levels², a standard deviation of 3) a cell's content is flat, and
/// its correlation is not measured: two flat cells agree whatever their levels (a colour
/// the old picture showed, turned grey by other weights), a flat and a textured one do not.
const FLAT_VARIANCE: f64 = 9.0;

/// How one grid cell of the new frame compares with the old picture (`differences`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CellDiff {
    /// Share of its pixels that differ (−1: the cell is not wholly inside the old frame).
    pub differs: f32,
    /// Correlation of its tone-mapped levels with the old ones there.
    pub corr: f32,
}

/// The old level expected at each new level: `o = a + b·(n/255)^γ`, the shape of the
/// edits tools make (brightness, contrast, gamma; grey and sepia keep luma), with γ
/// chosen from `GAMMAS` and `a`, `b` fitted by least squares, then three times more to the
/// `TONE_KEEP` share of the pairs the previous fit explains best, so that a subject pasted over
/// part of the frame (its levels unrelated to what lies beneath) does not bend it. A free
/// per-level map learnt "a bright new level is a dark old one" wherever only a bright
/// subject over a dark scene had that level; a cubic bent towards the subject's levels
/// where no background pixel had them (both seen on the harness's grid dumps).
fn tone_map(pairs: &[(u8, f32)]) -> [f32; 256] {
    const TONE_KEEP: f32 = 0.7;
    const GAMMAS: [f32; 14] = [
        0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.4, 1.6, 1.8, 2.0, 2.5,
    ];
    let mut best = (f32::INFINITY, [0f32; 256]);
    for g in GAMMAS {
        let curve: [f32; 256] = std::array::from_fn(|n| (n as f32 / 255.0).powf(g));
        // Least squares of o on curve[n] over the pairs `keep` accepts.
        let fit = |keep: &dyn Fn(u8, f32) -> bool| {
            let (mut k, mut sx, mut sy, mut sxx, mut sxy) = (0f64, 0f64, 0f64, 0f64, 0f64);
            for &(n, o) in pairs.iter().filter(|&&(n, o)| keep(n, o)) {
                let x = curve[n as usize] as f64;
                k += 1.0;
                sx += x;
                sy += o as f64;
                sxx += x * x;
                sxy += x * o as f64;
            }
            let var = sxx * k - sx * sx;
            let b = if var.abs() < 1e-9 {
                0.0
            } else {
                (sxy * k - sx * sy) / var
            };
            let a = (sy - b * sx) / k.max(1.0);
            (a as f32, b as f32)
        };
        let mut ab = fit(&|_, _| true);
        let mut cut = f32::INFINITY;
        for _ in 0..3 {
            let mut res: Vec<f32> = pairs
                .iter()
                .map(|&(n, o)| (ab.0 + ab.1 * curve[n as usize] - o).abs())
                .collect();
            let k = ((res.len() as f32 * TONE_KEEP) as usize).min(res.len().saturating_sub(1));
            cut = *res.select_nth_unstable_by(k, f32::total_cmp).1;
            let prev = ab;
            ab = fit(&|n, o| (prev.0 + prev.1 * curve[n as usize] - o).abs() <= cut);
        }
        if cut < best.0 {
            best = (cut, std::array::from_fn(|n| ab.0 + ab.1 * curve[n]));
        }
    }
    best.1
}

/// The first reason whose test holds: why a region is not a new subject.
fn first_reason(tests: &[(bool, &'static str)]) -> Option<&'static str> {
    tests.iter().find(|t| t.0).map(|t| t.1)
}

/// The 4-connected groups of grid cells `cand` accepts, each with its bounding box
/// `[x0, y0, x1, y1]` in cells.
fn groups(cand: impl Fn(usize) -> bool) -> Vec<(Vec<usize>, [usize; 4])> {
    let n_cells = GRID * GRID;
    let mut seen = vec![false; n_cells];
    let mut out = Vec::new();
    for start in 0..n_cells {
        if seen[start] || !cand(start) {
            continue;
        }
        let mut stack = vec![start];
        seen[start] = true;
        let mut cells = Vec::new();
        while let Some(c) = stack.pop() {
            cells.push(c);
            let (x, y) = (c % GRID, c / GRID);
            let next = [
                (x > 0).then(|| c - 1),
                (x + 1 < GRID).then(|| c + 1),
                (y > 0).then(|| c - GRID),
                (y + 1 < GRID).then(|| c + GRID),
            ];
            for n in next.into_iter().flatten() {
                if !seen[n] && cand(n) {
                    seen[n] = true;
                    stack.push(n);
                }
            }
        }
        let xs = cells.iter().map(|c| c % GRID);
        let ys = cells.iter().map(|c| c / GRID);
        let bbox = [
            xs.clone().min().unwrap_or(0),
            ys.clone().min().unwrap_or(0),
            xs.max().unwrap_or(0),
            ys.max().unwrap_or(0),
        ];
        out.push((cells, bbox));
    }
    out
}

/// The ratio of the long to the short axis of `cells`, weighted by `weight` (second
/// moments; a cell counts as a square of side 1). A line of text spreads along one row of
/// cells and comes out at 4–11; a subject at 1–2.2 (`SplitConfig::default`).
fn elongation(cells: &[usize], weight: impl Fn(usize) -> f32) -> f32 {
    let (mut w, mut mx, mut my) = (0f32, 0f32, 0f32);
    for &c in cells {
        let k = weight(c).max(1e-6);
        w += k;
        mx += k * (c % GRID) as f32;
        my += k * (c / GRID) as f32;
    }
    let (mx, my) = (mx / w, my / w);
    let (mut sxx, mut syy, mut sxy) = (1.0 / 12.0, 1.0 / 12.0, 0f32);
    for &c in cells {
        let k = weight(c).max(1e-6) / w;
        let (dx, dy) = ((c % GRID) as f32 - mx, (c / GRID) as f32 - my);
        sxx += k * dx * dx;
        syy += k * dy * dy;
        sxy += k * dx * dy;
    }
    let mid = (sxx + syy) / 2.0;
    let d = (((sxx - syy) / 2.0).powi(2) + sxy * sxy).sqrt();
    ((mid + d) / (mid - d).max(1e-9)).sqrt()
}

/// Whether cell `c` lies in the box `[x0, y0, x1, y1]` grown by `grow` cells on each side.
fn in_box(c: usize, b: [usize; 4], grow: usize) -> bool {
    let (x, y) = (c % GRID, c / GRID);
    x + grow >= b[0] && x <= b[2] + grow && y + grow >= b[1] && y <= b[3] + grow
}

fn cell(u: f32, v: f32) -> Option<usize> {
    if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
        return None;
    }
    let cx = ((u * GRID as f32) as usize).min(GRID - 1);
    let cy = ((v * GRID as f32) as usize).min(GRID - 1);
    Some(cy * GRID + cx)
}

/// Measures where `g` (the new still `new`, or its mirror image `new_mirrored` when that is
/// what matched, against an old still) agrees. `flat` is the new still's `flatness` (empty:
/// no graphic test).
pub fn analyse(
    new: &Features,
    new_mirrored: &Features,
    old: &Features,
    g: &GeoMatch,
    flat: &[u8],
    cfg: &SplitConfig,
) -> Analysis {
    let mut a = Analysis::default();
    let Some(fit) = g.fit else {
        return a;
    };
    a.pixels = differences(&new.thumb, &old.thumb, &fit).unwrap_or_default();
    let n_cells = GRID * GRID;
    // Footprint: the share of each cell whose content lies inside the old frame (4×4 samples).
    let mut cover = vec![0f32; n_cells];
    for (c, cv) in cover.iter_mut().enumerate() {
        let (cx, cy) = ((c % GRID) as f32, (c / GRID) as f32);
        let mut inside = 0;
        for sy in 0..4 {
            for sx in 0..4 {
                let u = (cx + (sx as f32 + 0.5) / 4.0) / GRID as f32;
                let v = (cy + (sy as f32 + 0.5) / 4.0) / GRID as f32;
                let (ox, oy) = fit.to_old((u, v));
                if (0.0..=1.0).contains(&ox) && (0.0..=1.0).contains(&oy) {
                    inside += 1;
                }
            }
        }
        *cv = inside as f32 / 16.0;
    }
    a.coverage = cover.iter().sum::<f32>() / n_cells as f32;
    // The keypoints the fit was made with (the mirrored set when the mirror image matched),
    // at their places in the new frame as shown.
    let (kp, flip) = if g.mirrored && !new_mirrored.points.is_empty() {
        (new_mirrored, true)
    } else {
        (new, false)
    };
    let (w, h) = (kp.width.max(1) as f32, kp.height.max(1) as f32);
    let places: Vec<(f32, f32)> = kp
        .points
        .iter()
        .map(|(x, y)| {
            let u = x / w;
            (if flip { 1.0 - u } else { u }, y / h)
        })
        .collect();
    let mut points = vec![0u32; n_cells];
    for &(u, v) in &places {
        if let Some(c) = cell(u, v) {
            points[c] += 1;
        }
    }
    let mut inliers = vec![0u32; n_cells];
    for (u, v) in &g.inlier_points {
        if let Some(c) = cell(*u, *v) {
            inliers[c] += 1;
        }
    }
    a.outside_points = (0..n_cells)
        .filter(|&c| cover[c] == 0.0)
        .map(|c| points[c])
        .sum();
    let inside: Vec<usize> = (0..n_cells).filter(|&c| cover[c] >= 1.0).collect();
    let sum = |v: &[u32]| inside.iter().map(|&c| v[c]).sum::<u32>();
    a.inlier_rate = sum(&inliers) as f32 / sum(&points).max(1) as f32;

    // Regions: 4-connected cells wholly inside the footprint with keypoints and no inlier.
    let cand = |c: usize| cover[c] >= 1.0 && points[c] > 0 && inliers[c] == 0;
    let flat_share = |cells: &[usize]| {
        if flat.len() == n_cells {
            cells.iter().map(|&c| flat[c] as f32 / 255.0).sum::<f32>() / cells.len() as f32
        } else {
            0.0
        }
    };
    let band = |b: [usize; 4]| {
        let (bw, bh) = ((b[2] - b[0] + 1) as f32, (b[3] - b[1] + 1) as f32);
        bw.max(bh) / bw.min(bh) > cfg.band_ratio
    };
    let rate = a.inlier_rate;
    let region = |bbox, fill, ring, cells: &[usize]| {
        let pts: u32 = cells.iter().map(|&c| points[c]).sum();
        Region {
            bbox,
            cells: Vec::new(),
            points: pts,
            expected: rate * pts as f32,
            fill,
            ring,
            flat: flat_share(cells),
            rejected: None,
        }
    };
    for (cells, bbox) in groups(cand) {
        // Flat parts of a subject have no keypoints: count cells without inliers in the box.
        let box_cells: Vec<usize> = (0..n_cells).filter(|&c| in_box(c, bbox, 0)).collect();
        let quiet = box_cells.iter().filter(|&&c| inliers[c] == 0).count();
        // The ring: keypoint-bearing cells that touch the box from outside.
        let ring: Vec<usize> = (0..n_cells)
            .filter(|&c| {
                !in_box(c, bbox, 0) && in_box(c, bbox, 1) && points[c] > 0 && cover[c] > 0.0
            })
            .collect();
        let ring_agree =
            ring.iter().filter(|&&c| inliers[c] > 0).count() as f32 / ring.len().max(1) as f32;
        let fill = quiet as f32 / box_cells.len() as f32;
        let mut r = region(bbox, fill, ring_agree, &cells);
        r.rejected = first_reason(&[
            (
                r.share() < cfg.subject_share || r.points < cfg.subject_points,
                "small",
            ),
            (band(bbox), "band"),
            (r.expected < cfg.subject_expected, "few points"),
            (r.fill < cfg.subject_fill, "scattered"),
            (cells.len() * 2 > inside.len(), "most of the footprint"),
            (r.ring < cfg.ring_agree, "surroundings disagree"),
            (r.flat >= cfg.graphic_flat, "graphic"),
        ]);
        a.regions.push(Region { cells, ..r });
    }

    // The same from the thumbnails: groups of cells whose pixels differ from the old
    // picture and whose structure does not follow it.
    let px = &a.pixels;
    let whole: Vec<usize> = (0..px.len()).filter(|&c| px[c].differs >= 0.0).collect();
    let differs = |c: usize| px.get(c).is_some_and(|p| cfg.cell_differs(p));
    for (cells, bbox) in groups(differs) {
        let box_cells: Vec<usize> = (0..n_cells).filter(|&c| in_box(c, bbox, 0)).collect();
        let filled = box_cells.iter().filter(|&&c| differs(c)).count();
        // Everything away from the region (beyond a cell's margin) must agree.
        let rest: Vec<usize> = whole
            .iter()
            .copied()
            .filter(|&c| !in_box(c, bbox, 1))
            .collect();
        let agree = rest
            .iter()
            .filter(|&&c| px[c].differs <= cfg.pixel_agree)
            .count() as f32
            / rest.len().max(1) as f32;
        let fill = filled as f32 / box_cells.len() as f32;
        let mut r = region(bbox, fill, agree, &cells);
        r.rejected = first_reason(&[
            (cells.len() < cfg.pixel_cells, "small"),
            (
                elongation(&cells, |c| px[c].differs) > cfg.pixel_band,
                "band",
            ),
            (r.fill < cfg.pixel_fill, "scattered"),
            (cells.len() * 2 > whole.len(), "most of the footprint"),
            (r.ring < cfg.pixel_rest, "surroundings disagree"),
            (r.flat >= cfg.pixel_graphic_flat, "graphic"),
        ]);
        a.pixel_regions.push(Region { cells, ..r });
    }
    a.cover = cover;
    a.points = points;
    a.inliers = inliers;
    a
}

/// The split, if the agreement leaves one out (see the module's text).
pub fn split(
    new: &Features,
    new_mirrored: &Features,
    old: &Features,
    g: &GeoMatch,
    flat: &[u8],
    cfg: &SplitConfig,
) -> Option<Split> {
    let a = analyse(new, new_mirrored, old, g, flat, cfg);
    if g.fit.is_some() && a.coverage <= cfg.inset_coverage && a.outside_points >= cfg.inset_points {
        return Some(Split::Inset {
            coverage: a.coverage,
            outside_points: a.outside_points,
        });
    }
    // The thumbnails see the region whole where they are there; keypoints alone see only
    // where it holds corners (libraries written before thumbnails were kept).
    let regions = if a.pixels.is_empty() {
        &a.regions
    } else {
        &a.pixel_regions
    };
    let best = regions
        .iter()
        .filter(|r| r.rejected.is_none())
        .max_by_key(|r| r.points)?;
    let g = GRID as f32;
    Some(Split::NewSubject {
        region: [
            best.bbox[0] as f32 / g,
            best.bbox[1] as f32 / g,
            (best.bbox[2] - best.bbox[0] + 1) as f32 / g,
            (best.bbox[3] - best.bbox[1] + 1) as f32 / g,
        ],
        share: best.share(),
        points: best.points,
        expected: best.expected,
        agree: (!a.pixels.is_empty()).then_some(best.ring),
        cells: best.cells.clone(),
    })
}

/// The keypoints of `f` in the grid cells `cells`, to match a region alone, leaving out
/// those at `except` (normalised places: the whole frame's inliers, which a region found
/// by pixels takes in along its edges; they match the old picture where it already lies).
pub fn features_in(f: &Features, cells: &[usize], except: &[(f32, f32)]) -> Features {
    let (w, h) = (f.width.max(1) as f32, f.height.max(1) as f32);
    let mut out = Features {
        width: f.width,
        height: f.height,
        ..Default::default()
    };
    // Within 2 px: a mirrored match reports its inliers flipped back, a pixel off the
    // unmirrored keypoints' own places.
    let near = |(u, v): (f32, f32)| {
        except
            .iter()
            .any(|&(x, y)| ((x - u) * w).abs() <= 2.0 && ((y - v) * h).abs() <= 2.0)
    };
    for (p, d) in f.points.iter().zip(&f.descriptors) {
        let at = (p.0 / w, p.1 / h);
        if cell(at.0, at.1).is_some_and(|c| cells.contains(&c)) && !near(at) {
            out.points.push(*p);
            out.descriptors.push(*d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A busy 96×96 picture: smooth waves with a hashed grain, as a photo at that size.
    pub(super) fn picture(seed: u32) -> Thumb {
        let luma = (0..96 * 96u32)
            .map(|i| {
                let (x, y) = ((i % 96) as f32, (i / 96) as f32);
                let s = seed as f32;
                let wave = 128.0
                    + 60.0 * (x / (9.0 + s)).sin() * (y / (13.0 + s)).cos()
                    + 40.0 * ((x + y) / (7.0 + s)).sin();
                let grain = (i.wrapping_mul(2654435761).wrapping_add(seed) >> 29) as f32;
                (wave + grain).clamp(0.0, 255.0) as u8
            })
            .collect();
        Thumb {
            width: 96,
            height: 96,
            luma,
        }
    }

    /// A brighter, higher-gamma copy (an edit) agrees everywhere; the same copy with
    /// another picture pasted over its centre differs exactly there.
    #[test]
    fn a_tone_edit_agrees_everywhere_and_a_pasted_subject_differs_where_it_lies() {
        let old = picture(1);
        let gamma = |v: u8| (255.0 * (v as f32 / 255.0).powf(1.0 / 1.6)) as u8;
        let mut edited = old.clone();
        edited.luma.iter_mut().for_each(|v| *v = gamma(*v));
        let fit = Fit::identity(96.0, 96.0);
        let cells = differences(&edited, &old, &fit).unwrap();
        assert!(
            cells.iter().all(|c| c.differs < 0.05 && c.corr > 0.9),
            "{cells:?}"
        );

        // The pasted picture covers cells 4–7 on both axes (pixels 32–63).
        let other = picture(9);
        let mut pasted = edited.clone();
        for y in 32..64 {
            for x in 32..64 {
                pasted.luma[y * 96 + x] = other.luma[(95 - x) * 96 + y];
            }
        }
        let cells = differences(&pasted, &old, &fit).unwrap();
        for (c, d) in cells.iter().enumerate() {
            let (x, y) = (c % GRID, c / GRID);
            if (4..8).contains(&x) && (4..8).contains(&y) {
                assert!(d.differs >= 0.1 && d.corr < 0.8, "cell {x},{y}: {d:?}");
            } else if !(3..9).contains(&x) || !(3..9).contains(&y) {
                assert!(d.differs < 0.05, "cell {x},{y}: {d:?}");
            }
        }
        // No thumbnail on one side (a library written before they were kept): no measure.
        assert_eq!(differences(&pasted, &Thumb::default(), &fit), None);
    }

    #[test]
    fn a_line_of_cells_is_elongated_and_a_block_is_not() {
        let row: Vec<usize> = (5 * GRID..6 * GRID).collect();
        assert!(elongation(&row, |_| 1.0) > 10.0);
        let block: Vec<usize> = (3..8)
            .flat_map(|y| (4..9).map(move |x| y * GRID + x))
            .collect();
        assert!((elongation(&block, |_| 1.0) - 1.0).abs() < 1e-3);
        // Two rows of text whose second row differs only a little stay a line.
        let text: Vec<usize> = (4 * GRID..6 * GRID).collect();
        assert!(elongation(&text, |c| if c < 5 * GRID { 0.1 } else { 0.6 }) > 4.0);
    }
}
