//! "Same product under another name", decided once per pair of product files.
//!
//! Between two composed stills whose backgrounds differ, the product dimension repeats when
//! the two product files show the same thing (a re-saved, renamed or recoloured copy). That
//! is a property of the two files, not of the outputs: every output showing them would ask
//! it again. Asked of the cut-outs themselves (over a flat grey, so no background takes
//! part), it is answered once per pair, and the outputs need no keypoints of their own —
//! extracting them for every still was a quarter of a catalog batch's CPU (BENCHMARKS.md,
//! *Main images at catalog scale*).

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbaImage;

use super::geometry::{self, Features};

/// Keypoints kept per product file, and the long side of the picture they are found in
/// (whole frames: 700 at 512 px). Matching every pair of a catalog's products is quadratic
/// in their number, the brute-force matching quadratic in keypoints, and finding them
/// linear in pixels. Measured on the catalog benchmark's 24 products (12 recoloured and
/// mirrored copies of each of two cut-outs; 552 ordered pairs; release build, 2026-12-06):
///
/// | keypoints, side | finding (24 × 2) | matching all pairs | copies: fewest inliers | other products: most |
/// |---|---:|---:|---:|---:|
/// | 700, 512 px | 0.72 s | 1.16 s | 342 | **12** (= `product_inliers`: a false "same product") |
/// | 200, 512 px | 0.53 s | 0.14 s | 93 | 10 |
/// | 200, 320 px | 0.27 s | 0.15 s | 101 | 12 |
/// | 200, 256 px | 0.18 s | 0.13 s | 76 | 10 |
/// | 120, 256 px | 0.18 s | 0.08 s | 49 | 14 |
///
/// At 200 keypoints in 256 px, copies keep six times the 12 inliers that mean "same
/// product" while unrelated cut-outs stay under it, for a sixth of the cost.
const KEYPOINTS: usize = 200;
const SIDE: u32 = 256;

/// Product files by sha256, their keypoints once measured, and the inliers of each pair.
#[derive(Default)]
pub(crate) struct ProductMemo {
    files: HashMap<String, PathBuf>,
    /// `None`: the file could not be read or has too little texture; outputs showing it are
    /// then compared on their own keypoints.
    keypoints: HashMap<String, Option<(Features, Features)>>,
    /// By the lesser sha256, then the greater: looked up without building a key, since
    /// a pair of outputs whose backgrounds differ asks (most of the 165,600 pairs of a
    /// 576-image catalog batch), and a key allocated two `String`s each time.
    pairs: HashMap<String, HashMap<String, u32>>,
}

impl ProductMemo {
    /// The product files a batch uses, by the sha256 its compositions name them with.
    pub(crate) fn new(files: HashMap<String, PathBuf>) -> ProductMemo {
        ProductMemo {
            files,
            ..ProductMemo::default()
        }
    }

    /// No product files: the batch shows no product, so no output asks "same product?".
    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Whether `sha256` names a file this memo can compare.
    pub(crate) fn knows(&self, sha256: &str) -> bool {
        self.files.contains_key(sha256)
    }

    /// Keypoint inliers between the product files `new` and `old` (one of them also
    /// mirrored, as whole frames are compared), or `None` when either cannot be measured.
    /// Whether two files show the same product does not depend on which output came first:
    /// each pair is matched once, in the order of their sha256 (the lesser one mirrored),
    /// which halved the matching of a catalog's products (2.3 % of a 576-image batch's CPU,
    /// `perf`, 2026-12-06) and makes the answer the same in any batch order.
    pub(crate) fn inliers(&mut self, new: &str, old: &str) -> Option<u32> {
        let (first, second) = if new <= old { (new, old) } else { (old, new) };
        if let Some(n) = self.pairs.get(first).and_then(|m| m.get(second)) {
            return Some(*n);
        }
        self.measure(first);
        self.measure(second);
        let (a, am) = self.keypoints.get(first)?.as_ref()?;
        let (b, _) = self.keypoints.get(second)?.as_ref()?;
        let n = geometry::match_either(a, am, b).inliers;
        self.pairs
            .entry(first.to_string())
            .or_default()
            .insert(second.to_string(), n);
        Some(n)
    }

    fn measure(&mut self, sha256: &str) {
        if self.keypoints.contains_key(sha256) {
            return;
        }
        let kp = self.files.get(sha256).and_then(|path| {
            let img = super::fingerprint::load_still(path).ok()?;
            let both = geometry::extract_both_budget(&on_grey(&img), KEYPOINTS, SIDE);
            (both.0.descriptors.len() >= 2).then_some(both)
        });
        self.keypoints.insert(sha256.to_string(), kp);
    }
}

/// A cut-out over mid grey: its silhouette and texture are what the keypoints see, the same
/// for every output it is placed in.
fn on_grey(img: &RgbaImage) -> RgbaImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        let a = p[3] as u32;
        for c in 0..3 {
            p[c] = ((p[c] as u32 * a + 128 * (255 - a) + 127) / 255) as u8;
        }
        p[3] = 255;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured disc on a transparent canvas, optionally recoloured.
    fn cutout(path: &std::path::Path, shift: u8) {
        let img = RgbaImage::from_fn(300, 300, |x, y| {
            let (dx, dy) = (x as i32 - 150, y as i32 - 150);
            if dx * dx + dy * dy > 130 * 130 {
                return image::Rgba([0, 0, 0, 0]);
            }
            let v = (((x * 7) ^ (y * 13)) % 251) as u8;
            image::Rgba([v.wrapping_add(shift), v / 2, 255 - v, 255])
        });
        img.save(path).unwrap();
    }

    #[test]
    fn a_recoloured_copy_matches_an_unrelated_texture_does_not_and_pairs_are_measured_once() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
        cutout(&a, 0);
        cutout(&b, 40);
        let noise = dir.path().join("c.png");
        RgbaImage::from_fn(300, 300, |x, y| {
            let v = ((x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503)) >> 7) as u8;
            image::Rgba([v, v.rotate_left(3), v ^ 0x5a, 255])
        })
        .save(&noise)
        .unwrap();
        let mut m = ProductMemo::new(HashMap::from([
            ("A".to_string(), a),
            ("B".to_string(), b),
            ("C".to_string(), noise),
        ]));
        let same = m.inliers("B", "A").unwrap();
        assert!(same >= 12, "recoloured copy: {same} inliers");
        let other = m.inliers("C", "A").unwrap();
        assert!(other < 12, "unrelated: {other} inliers");
        assert!(m.knows("A") && !m.knows("D"));
        assert_eq!(m.inliers("D", "A"), None, "a file the batch does not use");
        assert_eq!(m.inliers("A", "B"), Some(same), "either order, one answer");
        assert_eq!(m.pairs.values().map(HashMap::len).sum::<usize>(), 2);
    }
}
