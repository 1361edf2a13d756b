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

use rustc_hash::FxHashMap;
use std::path::PathBuf;

use image::{GrayImage, RgbaImage};

use super::geometry::{self, Features};
use super::pdq::Dihedral;

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

/// Two product files that PDQ calls the same picture in some orientation — the rule the
/// gate applies to whole outputs (`pdq::MATCH_DISTANCE`) — show the same product: a
/// re-saved, renamed, recoloured or mirrored copy. Measured on the catalog benchmark's 24
/// cut-outs (12 recoloured and mirrored copies of each of two), copies lie 0–30 bits apart
/// and the two families 112–126.
const SAME_PICTURE: u32 = super::pdq::MATCH_DISTANCE;

/// How two product files answered "same product?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProductMatch {
    /// PDQ calls the two cut-outs the same picture, this many bits apart.
    SamePicture(u32),
    /// Keypoint inliers between the two files (`product_inliers` or more: the same product).
    Inliers(u32),
}

impl ProductMatch {
    /// Whether the two files show the same product.
    pub(crate) fn same_product(self, min_inliers: u32) -> bool {
        match self {
            ProductMatch::SamePicture(_) => true,
            ProductMatch::Inliers(n) => n >= min_inliers,
        }
    }

    /// The evidence a verdict cites for it.
    pub(crate) fn evidence(self) -> String {
        match self {
            ProductMatch::SamePicture(d) => {
                format!("character: the two product files are the same picture (PDQ distance {d})")
            }
            ProductMatch::Inliers(n) => {
                format!("character: the two product files match by {n} keypoint inliers")
            }
        }
    }
}

/// Product files by sha256, what was measured of them, and the answer for each pair asked.
///
/// The maps hash with FxHash: the pair bound asks `knows` and `answered` of every new
/// output against every earlier output's product, and SipHash over two 64-character keys
/// for each was 0.7 % of a 2,400-image catalog batch's CPU (`perf`, 2026-12-06). The keys
/// are the template's own files' sha256s, nothing an outsider chooses.
///
/// A pair is first compared by PDQ: copies it calls the same picture need no keypoints.
/// Keypoints are measured only for files some pair needs them for. On the catalog
/// benchmark (24 products: recoloured and mirrored copies of two cut-outs), with the gate
/// asking only for the pairs `evaluate` reaches, this cut "same product?" from 48 keypoint
/// extractions and 276 matchings — 0.30–0.38 CPU-s, half the gate's cost in a 576-image
/// batch — to 24 PDQ hashes and the keypoints of 14 files for 28 pairs (BENCHMARKS.md,
/// *Main images at catalog scale*, seventh round).
#[derive(Default)]
pub(crate) struct ProductMemo {
    files: FxHashMap<String, PathBuf>,
    /// Files the renderer has already decoded, by sha256: read again, the batch's product
    /// files were 8 % of the gate's CPU on a 576-image catalog (`perf`, 2026-12-06). The
    /// same decoder, so the same pixels.
    pixels: FxHashMap<String, std::sync::Arc<RgbaImage>>,
    /// The cut-out's PDQ hashes over grey; `None`: unreadable, or too flat for PDQ to say.
    looks: FxHashMap<String, Option<Dihedral>>,
    /// The cut-out over grey at the keypoints' working size, kept from the PDQ pass so that
    /// a file that needs keypoints is not decoded again (64 KiB a product).
    grays: FxHashMap<String, GrayImage>,
    /// Keypoints, and those of the mirror image (only a pair's lesser sha256 needs them).
    /// `None`: the file could not be read or has too little texture; outputs showing it are
    /// then compared on their own keypoints.
    keypoints: FxHashMap<String, Option<Features>>,
    mirrored: FxHashMap<String, Features>,
    /// By the lesser sha256, then the greater: looked up without building a key, since
    /// a pair of outputs whose backgrounds differ asks (most of the 165,600 pairs of a
    /// 576-image catalog batch), and a key allocated two `String`s each time. `None`: the
    /// pair cannot be measured.
    pairs: FxHashMap<String, FxHashMap<String, Option<ProductMatch>>>,
}

impl ProductMemo {
    /// The product files a batch uses, by the sha256 its compositions name them with.
    pub(crate) fn new(files: HashMap<String, PathBuf>) -> ProductMemo {
        ProductMemo {
            files: files.into_iter().collect(),
            ..ProductMemo::default()
        }
    }

    /// The pixels of product files the caller has decoded already (`pixels`).
    pub(crate) fn with_pixels(
        mut self,
        pixels: HashMap<String, std::sync::Arc<RgbaImage>>,
    ) -> Self {
        self.pixels = pixels.into_iter().collect();
        self
    }

    /// No product files: the batch shows no product, so no output asks "same product?".
    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Whether `sha256` names a file this memo can compare.
    pub(crate) fn knows(&self, sha256: &str) -> bool {
        self.files.contains_key(sha256)
    }

    fn ordered<'s>(a: &'s str, b: &'s str) -> (&'s str, &'s str) {
        if a <= b {
            (a, b)
        } else {
            (b, a)
        }
    }

    /// The answer for a pair already compared: `Some(None)` when it could not be measured,
    /// `None` when it was not asked yet. Measures nothing, so the gate can bound what a pair
    /// of outputs may be before deciding whether to ask.
    pub(crate) fn answered(&self, new: &str, old: &str) -> Option<Option<ProductMatch>> {
        let (first, second) = Self::ordered(new, old);
        self.pairs.get(first).and_then(|m| m.get(second)).copied()
    }

    /// Whether the product files `new` and `old` show the same product, and how that was
    /// found; `None` when neither PDQ nor keypoints can measure them. Each pair is measured
    /// once, in the order of their sha256 (the lesser one mirrored for keypoints), so the
    /// answer does not depend on which output came first.
    pub(crate) fn compare(&mut self, new: &str, old: &str) -> Option<ProductMatch> {
        if let Some(known) = self.answered(new, old) {
            return known;
        }
        let (first, second) = Self::ordered(new, old);
        let answer = self.measure_pair(first, second);
        self.pairs
            .entry(first.to_string())
            .or_default()
            .insert(second.to_string(), answer);
        answer
    }

    fn measure_pair(&mut self, first: &str, second: &str) -> Option<ProductMatch> {
        if !self.knows(first) || !self.knows(second) {
            return None;
        }
        self.look(first);
        self.look(second);
        if let (Some(Some(a)), Some(Some(b))) = (self.looks.get(first), self.looks.get(second)) {
            let d = a.min_distance(&b.hashes[0]);
            if d <= SAME_PICTURE {
                return Some(ProductMatch::SamePicture(d));
            }
        }
        self.measure(first, true);
        self.measure(second, false);
        let a = self.keypoints.get(first)?.as_ref()?;
        let b = self.keypoints.get(second)?.as_ref()?;
        let am = self.mirrored.get(first)?;
        Some(ProductMatch::Inliers(
            geometry::match_either(a, am, b).inliers,
        ))
    }

    /// The file's PDQ hashes over grey, and its grey picture for keypoints, measured once.
    fn look(&mut self, sha256: &str) {
        if self.looks.contains_key(sha256) {
            return;
        }
        let grey = match self.pixels.get(sha256) {
            Some(img) => Some(on_grey(img)),
            None => self
                .files
                .get(sha256)
                .and_then(|path| super::fingerprint::load_still(path).ok())
                .map(|img| on_grey(&img)),
        };
        let pdq = grey
            .as_ref()
            .map(|g| super::pdq::hash_dihedral(&super::fingerprint::hash_plane(g)))
            .filter(|d| d.quality >= super::pdq::MIN_QUALITY);
        if let Some(g) = &grey {
            self.grays
                .insert(sha256.to_string(), geometry::working_gray_at(g, SIDE));
        }
        self.looks.insert(sha256.to_string(), pdq);
    }

    /// The file's keypoints (and those of its mirror image when `mirrored`), measured once
    /// from the grey picture `look` kept.
    fn measure(&mut self, sha256: &str, mirrored: bool) {
        let Some(gray) = self.grays.get(sha256) else {
            return;
        };
        if !self.keypoints.contains_key(sha256) {
            let kp = geometry::extract_gray_budget(gray, KEYPOINTS);
            let kp = (kp.descriptors.len() >= 2).then_some(kp);
            self.keypoints.insert(sha256.to_string(), kp);
        }
        if mirrored && !self.mirrored.contains_key(sha256) {
            let flipped = image::imageops::flip_horizontal(gray);
            self.mirrored.insert(
                sha256.to_string(),
                geometry::extract_gray_budget(&flipped, KEYPOINTS),
            );
        }
    }
}

/// A cut-out over mid grey: its silhouette and texture are what the keypoints see, the same
/// for every output it is placed in.
fn on_grey(img: &RgbaImage) -> RgbaImage {
    let mut out = img.clone();
    crate::media::over_backdrop::<128, true>(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every alpha over every value: transparent is mid grey, opaque is the colour, and in
    /// between the rounded blend; the result is opaque.
    #[test]
    fn on_grey_blends_over_mid_grey() {
        // Every value in every channel under every alpha.
        let img = RgbaImage::from_fn(256, 256, |a, v| {
            image::Rgba([v as u8, 255 - v as u8, (v as u8).wrapping_mul(7), a as u8])
        });
        // And a size whose last pixels are not a whole group of four (the scalar tail).
        let odd = image::imageops::crop_imm(&img, 0, 0, 253, 255).to_image();
        for img in [&img, &odd] {
            for (src, out) in img.pixels().zip(on_grey(img).pixels()) {
                let a = u32::from(src[3]);
                for c in 0..3 {
                    let want = (u32::from(src[c]) * a + 128 * (255 - a) + 127) / 255;
                    assert_eq!(u32::from(out[c]), want, "{src:?}");
                }
                assert_eq!(out[3], 255);
            }
        }
        let grey = on_grey(&img);
        assert_eq!(
            grey.get_pixel(0, 77).0,
            [128, 128, 128, 255],
            "transparent is mid grey"
        );
        assert_eq!(
            grey.get_pixel(255, 77).0,
            [77, 178, 27, 255],
            "opaque keeps its colour"
        );
    }

    /// The picture at `from` turned by `degrees` about its centre: the same product, in a
    /// picture PDQ tells apart from the first (it undoes quarter turns and flips only).
    fn turned(from: &std::path::Path, to: &std::path::Path, degrees: f32) {
        let img = image::open(from).unwrap().to_rgba8();
        imageproc::geometric_transformations::rotate_about_center(
            &img,
            degrees.to_radians(),
            imageproc::geometric_transformations::Interpolation::Bilinear,
            image::Rgba([0, 0, 0, 0]),
        )
        .save(to)
        .unwrap();
    }

    /// The demo's cut-outs (samples/LICENSES.md).
    fn sample(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("samples/product/{name}"))
    }

    #[test]
    fn copies_pdq_calls_the_same_picture_need_no_keypoints_and_others_are_matched_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = |n: &str| dir.path().join(n);
        std::fs::copy(sample("coffee-cup.png"), path("a.png")).unwrap();
        // Recoloured: red and blue swapped.
        let mut b = image::open(path("a.png")).unwrap().to_rgba8();
        b.pixels_mut().for_each(|p| p.0.swap(0, 2));
        b.save(path("b.png")).unwrap();
        turned(&path("a.png"), &path("s.png"), 30.0);
        std::fs::copy(sample("badge.png"), path("c.png")).unwrap();
        let files = |names: &[&str]| {
            names
                .iter()
                .map(|n| (n.to_uppercase(), path(&format!("{n}.png"))))
                .collect::<HashMap<_, _>>()
        };
        let mut m = ProductMemo::new(files(&["a", "b", "s", "c"]));
        // A recoloured copy: the same picture to PDQ, settled without keypoints.
        let copy = m.compare("B", "A").unwrap();
        assert!(
            matches!(copy, ProductMatch::SamePicture(d) if d <= SAME_PICTURE),
            "{copy:?}"
        );
        assert!(copy.same_product(12));
        assert!(m.keypoints.is_empty(), "no keypoints measured for a copy");
        // The same product turned: PDQ tells the pictures apart, keypoints find the product.
        let shrunk = m.compare("S", "A").unwrap();
        assert!(
            matches!(shrunk, ProductMatch::Inliers(n) if n >= 12),
            "{shrunk:?}"
        );
        // An unrelated product: keypoints say no. Only the files a pair needed keypoints for
        // were measured, and only the lesser sha256 of a pair mirrored.
        let other = m.compare("C", "A").unwrap();
        assert!(
            matches!(other, ProductMatch::Inliers(n) if n < 12),
            "{other:?}"
        );
        assert!(!other.same_product(12));
        assert_eq!(m.compare("A", "C"), Some(other), "either order, one answer");
        assert_eq!(m.pairs.values().map(|m| m.len()).sum::<usize>(), 3);
        assert!(!m.keypoints.contains_key("B"), "B was settled by PDQ");
        assert_eq!(
            m.mirrored.keys().collect::<std::collections::BTreeSet<_>>(),
            ["A".to_string()].iter().collect(),
            "A, the lesser of (A, C) and (A, S)"
        );
        assert!(m.knows("A") && !m.knows("D"));
        assert_eq!(m.compare("D", "A"), None, "a file the batch does not use");
        // The answers do not depend on the order the questions come in.
        let mut again = ProductMemo::new(files(&["a", "b", "s", "c"]));
        assert_eq!(again.compare("C", "A"), Some(other));
        assert_eq!(again.compare("A", "S"), Some(shrunk));
        assert_eq!(again.compare("A", "B"), Some(copy));
    }
}
