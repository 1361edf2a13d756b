//! The platform duplicate rules (Kuaishou's published policy, which the others resemble) and
//! the gate that applies them to a batch and the library.
//!
//! Four dimensions are compared — character/product, scene/background, video type, creative
//! content — each exactly when both sides carry a composition (same asset sha256, same
//! structure, same copy) and perceptually otherwise (product-masked scene hash, keypoint
//! inliers inside the product box, copy similarity, ordered frame coverage). A new output is
//! a duplicate when character+scene, type+creative or any three repeat; when only audio, only
//! text/logo, or only scale/rotation/brightness differ; or when more than 30 % of its
//! seconds reuse earlier footage. Older (default 180 days) and retired entries are exempt.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dedup::composition::{Candidate, Composition};
use crate::dedup::fingerprint::{Fingerprint, MediaKind};
use crate::dedup::geometry::{self, Features, GeoMatch};
use crate::dedup::library::Library;
use crate::dedup::pdq::{Hash256, MATCH_DISTANCE};
use crate::dedup::product::{ProductMatch, ProductMemo};
use crate::dedup::scene::{self, Split, SplitConfig};
use crate::dedup::spill::{Kept, KeypointSpill, Seconds};
use crate::dedup::video::{self, BagMatch};
use crate::dedup::DedupError;

mod composition;

use composition::{compare_compositions, CompDiff};
pub use composition::{composition_reason, composition_rule, copy_similarity, plan_warnings};

#[derive(Debug, Clone)]
pub struct GateConfig {
    /// PDQ Hamming distance at or below which two frames are the same picture.
    pub max_distance: u32,
    /// Up to this distance a still is reported as similar (a warning).
    pub similar_distance: u32,
    /// Whole-frame keypoint inliers that mean "same content" (crop, rotation, letterbox).
    /// Measured on 870 unrelated photo/composite pairs, mirrored and unstretched fits
    /// included: max 18, p99 14, median 6 (`benches/dedup_eval.rs`).
    pub min_inliers: u32,
    /// Inliers inside the product box that mean "same product".
    pub product_inliers: u32,
    /// Reused share of the new video's seconds above which it is a duplicate (platform: 30 %).
    pub segment_duplicate: f32,
    /// From this share up, a warning.
    pub segment_similar: f32,
    /// q and c (%) from which two videos are the same footage.
    pub video_match_pct: f32,
    /// Copy similarity (0–1) from which two captions are the same creative content.
    pub copy_similarity: f32,
    /// Ordered coverage (0–1) from which two videos tell the same storyline.
    pub storyline_share: f32,
    /// Entries created more than this many days before `now` are exempt.
    pub max_age_days: u32,
    /// Nearest library/batch files (by hash) on which keypoint geometry also runs.
    pub geometry_candidates: usize,
    /// Compare two composed outputs only when they target the same preset (platform).
    pub same_preset_only: bool,
    pub now: i64,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_distance: MATCH_DISTANCE,
            similar_distance: 45,
            min_inliers: 30,
            product_inliers: 12,
            segment_duplicate: 0.30,
            segment_similar: 0.25,
            video_match_pct: 90.0,
            copy_similarity: 0.8,
            storyline_share: 0.5,
            max_age_days: 180,
            geometry_candidates: 16,
            same_preset_only: true,
            now: crate::clock::unix_now(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Character,
    Scene,
    Type,
    Creative,
}

impl Dimension {
    fn label(self) -> &'static str {
        match self {
            Dimension::Character => "character/product",
            Dimension::Scene => "scene/background",
            Dimension::Type => "video type",
            Dimension::Creative => "creative content",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Byte-identical file.
    SameFile,
    /// Every module identical (a re-render of the same variant).
    SameComposition,
    OnlyAudio,
    OnlyText,
    /// Same picture after scaling, rotation, brightness, re-encode, mirror, crop…
    VisualEdit,
    ReusedSegments,
    CharacterScene,
    TypeCreative,
    ThreeDimensions,
    /// Warning: 25–30 % of seconds reused.
    SimilarSegments,
    /// Warning: hash distance just above the match threshold.
    NearVisual,
    /// Warning: two dimensions repeat, not a combination the platform names.
    TwoDimensions,
    /// Warning, pixels only: the same background with a different subject over part of it
    /// (the scene repeats; character and creative content do not).
    NewSubject,
    /// Warning, pixels only: the old picture appears small inside another scene.
    Inset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Distinct,
    Similar,
    Duplicate,
}

impl std::fmt::Display for VerdictKind {
    /// As serde spells it, so progress lines and the manifest agree.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VerdictKind::Distinct => "distinct",
            VerdictKind::Similar => "similar",
            VerdictKind::Duplicate => "duplicate",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub file: PathBuf,
    pub variant_id: Option<String>,
    /// "library" or "batch".
    pub source: &'static str,
    pub verdict: VerdictKind,
    /// Smallest PDQ distance over frames (and orientations).
    pub visual_distance: Option<u32>,
    /// Videos: % of the new video's frames found in the old one.
    pub q: Option<f32>,
    /// Videos: % of the old video's frames found in the new one.
    pub c: Option<f32>,
    /// Videos: share (0–1) of the new video's seconds reusing old footage.
    pub reused_share: Option<f32>,
    pub inliers: Option<u32>,
    pub dimensions: Vec<Dimension>,
    pub rule: Rule,
    /// How each repeated dimension was established ("scene: same background asset beach").
    pub evidence: Vec<String>,
    /// Pixels only: what the keypoint agreement leaves out (`NewSubject`, `Inset`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub file: PathBuf,
    pub variant_id: Option<String>,
    pub verdict: VerdictKind,
    /// Strongest first.
    pub matches: Vec<Match>,
    pub reason: String,
}

/// A planned variant that would be a duplicate by its composition alone.
#[derive(Debug, Clone, Serialize)]
pub struct PlanWarning {
    pub variant_id: String,
    pub duplicate_of: String,
    pub rule: Rule,
    pub dimensions: Vec<Dimension>,
    pub reason: String,
}

/// One side of a comparison that already exists (library entry or earlier candidate).
struct Old {
    file: PathBuf,
    variant_id: Option<String>,
    source: &'static str,
    sha256: String,
    kind: MediaKind,
    width: u32,
    height: u32,
    duration: f64,
    composition: Option<Composition>,
    hashes: Vec<Hash256>,
    /// Retrieval-only crop hashes (stills).
    crops: Vec<Hash256>,
    scene: Vec<Hash256>,
    textless: Vec<Hash256>,
    features: Option<Kept>,
    /// Videos from elsewhere (no composition): each hashed second's time and thumbnail
    /// (`video::seconds_agreeing`), spilled like the keypoints when from the batch.
    seconds: Option<Kept<Seconds>>,
}

impl Old {
    fn from_fingerprint(fp: &Fingerprint, c: &Candidate, spill: &mut KeypointSpill) -> Old {
        Old {
            file: fp.path.clone(),
            variant_id: c.variant_id.clone(),
            source: "batch",
            sha256: fp.sha256.clone(),
            kind: fp.kind,
            width: fp.width,
            height: fp.height,
            duration: fp.duration,
            composition: c.composition.clone(),
            hashes: fp.hashes(),
            crops: fp
                .frames
                .iter()
                .flat_map(|f| f.crops.iter().copied())
                .collect(),
            scene: fp.frames.iter().filter_map(|f| f.scene).collect(),
            textless: fp.frames.iter().filter_map(|f| f.textless).collect(),
            features: fp.measured_features().map(|f| spill.keep(f)),
            // A composed output is compared by its composition: its seconds' thumbnails
            // would only fill the spill file.
            seconds: match (fp.kind, &c.composition) {
                (MediaKind::Video, None) => {
                    let seconds: Seconds =
                        fp.frames.iter().map(|f| (f.t, f.thumb.clone())).collect();
                    Some(spill.keep(&seconds))
                }
                _ => None,
            },
        }
    }

    fn from_library(lib: &Library, id: i64) -> Result<Option<Old>, DedupError> {
        let Some(e) = lib.entry(id)? else {
            return Ok(None);
        };
        let frames = lib.frames(id)?;
        Ok(Some(Old {
            file: e.path,
            variant_id: e.variant_id,
            source: "library",
            sha256: e.sha256,
            kind: e.kind,
            width: e.width,
            height: e.height,
            duration: e.duration,
            composition: e.composition,
            hashes: frames.iter().map(|f| f.hash).collect(),
            crops: frames
                .iter()
                .flat_map(|f| f.crops.iter().copied())
                .collect(),
            scene: frames.iter().filter_map(|f| f.scene).collect(),
            textless: frames.iter().filter_map(|f| f.textless).collect(),
            // Read (or measured) only if a comparison needs them (`Scorer::score`).
            features: None,
            seconds: match e.kind {
                MediaKind::Video => Some(Kept::Held(
                    frames.into_iter().map(|f| (f.t, f.thumb)).collect(),
                )),
                _ => None,
            },
        }))
    }
}

/// The least Hamming distance between any of `new` and any of `old`. The gate computes it
/// for every pair of a batch's outputs (their orientations and crops); the crate is built
/// for baseline x86-64, where `count_ones` is a bit-twiddling sequence, so the loop is also
/// compiled with POPCNT and picked at run time, as `geometry::nearest_two` is (same integers:
/// `tests::min_distance_dispatch_equals_portable`). It was 0.7 % of a catalog batch's CPU
/// and a tenth of the gate's (`perf`, 2026-12-06).
fn min_distance(new: &[Hash256], old: &[Hash256]) -> Option<u32> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the feature was detected at run time just above.
            return unsafe { min_distance_popcnt(new, old) };
        }
    }
    min_distance_portable(new, old)
}

#[inline(always)]
fn min_distance_portable(new: &[Hash256], old: &[Hash256]) -> Option<u32> {
    new.iter()
        .flat_map(|n| old.iter().map(move |o| n.hamming(o)))
        .min()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn min_distance_popcnt(new: &[Hash256], old: &[Hash256]) -> Option<u32> {
    min_distance_portable(new, old)
}

/// Each earlier output's distance to `queries` over its hashes and crops, `(k, d)`, and over
/// its hashes alone (`direct`); 256 where a side has none. One loop over the `Brief`s,
/// compiled again with POPCNT and picked once per new output rather than per pair.
fn distances(
    queries: &[Hash256],
    briefs: &[Brief],
    earlier: &[Old],
) -> (Vec<(usize, u32)>, Vec<u32>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the feature was detected at run time just above.
            return unsafe { distances_popcnt(queries, briefs, earlier) };
        }
    }
    distances_portable(queries, briefs, earlier)
}

#[inline(always)]
fn distances_portable(
    queries: &[Hash256],
    briefs: &[Brief],
    earlier: &[Old],
) -> (Vec<(usize, u32)>, Vec<u32>) {
    let mut direct = Vec::with_capacity(briefs.len());
    let dist = briefs
        .iter()
        .zip(earlier)
        .enumerate()
        .map(|(k, (b, o))| {
            let d = b.hashes.min_distance(queries, &o.hashes).unwrap_or(256);
            direct.push(d);
            (
                k,
                d.min(b.crops.min_distance(queries, &o.crops).unwrap_or(256)),
            )
        })
        .collect();
    (dist, direct)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn distances_popcnt(
    queries: &[Hash256],
    briefs: &[Brief],
    earlier: &[Old],
) -> (Vec<(usize, u32)>, Vec<u32>) {
    distances_portable(queries, briefs, earlier)
}

struct Measured {
    visual_distance: Option<u32>,
    bag: Option<BagMatch>,
    geo: Option<GeoMatch>,
}

fn preset_mismatch(new: Option<&Composition>, old: Option<&Composition>, cfg: &GateConfig) -> bool {
    cfg.same_preset_only
        && matches!((new, old), (Some(a), Some(b)) if a.preset != b.preset || (a.region.is_some() && b.region.is_some() && a.region != b.region))
}

/// What two sides' compositions settle before any pixel is compared, and whether keypoint
/// geometry still has something to decide.
struct Facts {
    both_composed: bool,
    comp_diff: Option<CompDiff>,
    shared_background: bool,
    product_box: Option<[f32; 4]>,
    /// How the two product files answered "same product?", when they were asked.
    file_match: Option<ProductMatch>,
    geometry_decides: bool,
}

impl Facts {
    fn of(
        fp: &Fingerprint,
        cand: &Candidate,
        old: &Old,
        products: &mut ProductMemo,
        cfg: &GateConfig,
    ) -> Facts {
        let both_composed = cand.composition.is_some() && old.composition.is_some();
        let comp_diff = match (&cand.composition, &old.composition) {
            (Some(nc), Some(oc)) => Some(compare_compositions(nc, oc, cfg)),
            _ => None,
        };
        let shared_background = matches!((&cand.composition, &old.composition),
            (Some(a), Some(b)) if a.background.sha256 == b.background.sha256);
        let product_box = cand.composition.as_ref().and_then(|c| c.product_box);
        // Pairs `evaluate` does not compare ask nothing of pixels: no product files matched,
        // no keypoints read or measured for them.
        let comparable = fp.kind == old.kind
            && !preset_mismatch(cand.composition.as_ref(), old.composition.as_ref(), cfg);
        let composed_stills = fp.kind == MediaKind::Image && both_composed;
        // Between two composed stills, pixels decide one thing only: whether the product box
        // holds the other's product when the backgrounds differ and the compositions do not
        // already say the product repeats. The two product files answer that (`product`);
        // the outputs' own keypoints only where a side's product is not one file the batch
        // has (several products, or an entry from another template).
        let ask_product = comparable
            && composed_stills
            && !shared_background
            && product_box.is_some()
            && !comp_diff
                .as_ref()
                .is_some_and(|d| d.dims.iter().any(|(dim, _)| *dim == Dimension::Character));
        let shas = |c: &Option<Composition>| {
            c.as_ref()
                .and_then(|c| c.product.as_ref())
                .map(|p| p.sha256.clone())
        };
        let file_match = match (ask_product, shas(&cand.composition), shas(&old.composition)) {
            (true, Some(a), Some(b)) if products.knows(&a) && products.knows(&b) => {
                products.compare(&a, &b)
            }
            _ => None,
        };
        Facts {
            both_composed,
            comp_diff,
            shared_background,
            product_box,
            file_match,
            geometry_decides: comparable
                && (!composed_stills || (ask_product && file_match.is_none())),
        }
    }
}

fn evaluate(
    fp: &Fingerprint,
    cand: &Candidate,
    old: &Old,
    facts: Facts,
    old_features: Option<&Features>,
    old_seconds: Option<&Seconds>,
    cfg: &GateConfig,
) -> Option<Match> {
    if fp.kind != old.kind
        || preset_mismatch(cand.composition.as_ref(), old.composition.as_ref(), cfg)
    {
        return None;
    }
    let mut m = Measured {
        visual_distance: None,
        bag: None,
        geo: None,
    };
    let mut evidence: Vec<String> = Vec::new();
    let base = |rule: Rule,
                verdict: VerdictKind,
                dims: Vec<Dimension>,
                m: &Measured,
                evidence: Vec<String>| Match {
        file: old.file.clone(),
        variant_id: old.variant_id.clone(),
        source: old.source,
        verdict,
        visual_distance: m.visual_distance,
        q: m.bag.map(|b| (b.q * 10.0).round() / 10.0),
        c: m.bag.map(|b| (b.c * 10.0).round() / 10.0),
        reused_share: m.bag.map(|b| (b.reused_share * 1000.0).round() / 1000.0),
        inliers: m.geo.as_ref().map(|g| g.inliers),
        dimensions: dims,
        rule,
        evidence,
        split: None,
    };
    // Identical bytes say "same file" — unless the compositions explain the sameness better
    // (a still whose variants differ only in a soundtrack it cannot carry).
    let comp_only_audio = facts.comp_diff.as_ref().is_some_and(|d| d.only_audio);
    if fp.sha256 == old.sha256 && !comp_only_audio {
        m.visual_distance = Some(0);
        return Some(base(
            Rule::SameFile,
            VerdictKind::Duplicate,
            vec![],
            &m,
            vec!["same sha256".into()],
        ));
    }

    // Measurements.
    let orientations: Vec<Hash256> = fp.frames.iter().flat_map(|f| f.orientations).collect();
    m.visual_distance = min_distance(&orientations, &old.hashes);
    let Facts {
        both_composed,
        comp_diff,
        shared_background,
        product_box,
        file_match,
        geometry_decides,
    } = facts;
    // Between two composed stills the reasons then cite the PDQ distance alone: keypoints are
    // measured only where they decide, not to quote a figure.
    if let (true, Some(of)) = (geometry_decides, old_features) {
        let d = fp.detail();
        m.geo = Some(geometry::match_either(d.features, d.features_mirrored, of));
    }
    if fp.kind == MediaKind::Video {
        // Key frames that agree by keypoints vouch for the seconds whose hashes are close
        // but not close enough (a corner logo, a turn between two steps; issue #13). Only
        // where pixels are all there is: between two composed outputs a shared background
        // gives the key frames their inliers, and the compositions already say what repeats.
        let vouching = m
            .geo
            .as_ref()
            .filter(|g| !both_composed && g.inliers >= cfg.min_inliers);
        let verified = vouching.map(|g| video::Verified {
            angle_deg: g.angle_deg,
        });
        // Seconds whose hashes drift under the edit (a zoom into a soft, low-contrast shot)
        // are compared pixel for pixel where the key frames' fit puts them.
        let agreed = match (vouching.and_then(|g| g.fit), old_seconds) {
            (Some(fit), Some(seconds)) => video::seconds_agreeing(&fp.frames, seconds, &fit),
            _ => Vec::new(),
        };
        m.bag = Some(video::compare_verified(
            &fp.frames,
            &old.hashes,
            verified,
            &agreed,
        ));
    }
    let inliers = m.geo.as_ref().map(|g| g.inliers).unwrap_or(0);
    let visual_match = match fp.kind {
        // Between two composed outputs, keypoints shared by a common background must not
        // make the whole picture "the same": there the composition decides the dimensions,
        // and only a whole-frame hash match counts as looking the same.
        MediaKind::Image if both_composed => {
            m.visual_distance.is_some_and(|d| d <= cfg.max_distance)
        }
        MediaKind::Image => {
            m.visual_distance.is_some_and(|d| d <= cfg.max_distance) || inliers >= cfg.min_inliers
        }
        MediaKind::Video => m
            .bag
            .is_some_and(|b| b.q >= cfg.video_match_pct && b.c >= cfg.video_match_pct),
    };
    // Files from elsewhere (no composition on one side): agreement over part of the frame is
    // not the same picture when the rest shows something new (issue #13, `scene`).
    let split = match (&m.geo, old_features) {
        (Some(g), Some(of))
            if visual_match
                && fp.kind == MediaKind::Image
                && !both_composed
                && g.inliers >= cfg.min_inliers =>
        {
            scene_split(fp, g, of, cfg)
        }
        _ => None,
    };
    let visual_match = visual_match && split.is_none();
    if let Some(d) = m.visual_distance {
        evidence.push(format!("PDQ distance {d}"));
    }
    if let Some(b) = &m.bag {
        evidence.push(format!(
            "q {:.0} %, c {:.0} %, reused {:.0} % of seconds, in order {:.0} %",
            b.q,
            b.c,
            b.reused_share * 100.0,
            b.ordered * 100.0
        ));
        if b.turned_deg != 0.0 {
            evidence.push(format!("frames match turned back {:.0}°", b.turned_deg));
        }
        if let Some(c) = b.corner {
            evidence.push(format!("frames match with the {c} corner painted over"));
        }
        if b.verified_seconds > 0 {
            evidence.push(format!(
                "{} s matched by hashes within {} bits, the key frames agreeing by keypoints",
                b.verified_seconds,
                video::VERIFIED_DISTANCE
            ));
        }
        if b.pixel_seconds > 0 {
            evidence.push(format!(
                "{} s matched pixel for pixel where the key frames' keypoints put them",
                b.pixel_seconds
            ));
        }
    }
    if let Some(g) = &m.geo {
        evidence.push(geo_evidence(g));
    }

    // Dimensions: exact when both compositions are known, perceptual otherwise.
    let mut dims: BTreeSet<Dimension> = BTreeSet::new();
    let mut only_audio = false;
    let mut only_text = false;
    let mut identical = false;
    if let Some(d) = comp_diff {
        for (dim, ev) in d.dims {
            dims.insert(dim);
            evidence.push(ev);
        }
        only_audio = d.only_audio;
        only_text = d.only_text;
        identical = d.identical;
    }
    // Perceptual dimensions also apply between composed outputs: the same background or
    // product saved under another name (another sha256) looks the same.
    // Keypoints inside the product box are the product's only when the backgrounds differ:
    // a cut-out leaves the background visible inside its box, so over a shared background
    // they would "find" the product in any variant.
    if let (false, Some(g), Some(b)) = (shared_background, &m.geo, product_box) {
        let n = g.inliers_in(b);
        if n >= cfg.product_inliers && dims.insert(Dimension::Character) {
            evidence.push(format!(
                "character: {n} keypoint inliers inside the product box"
            ));
        }
    }
    if let Some(pm) = file_match {
        if pm.same_product(cfg.product_inliers) && dims.insert(Dimension::Character) {
            evidence.push(pm.evidence());
        }
    }
    let new_scene: Vec<Hash256> = fp.frames.iter().filter_map(|f| f.scene).collect();
    if let Some(d) = min_distance(&new_scene, &old.scene) {
        if d <= cfg.max_distance && dims.insert(Dimension::Scene) {
            evidence.push(format!("scene: product-masked frames at PDQ distance {d}"));
        }
    }
    if !both_composed {
        if visual_match {
            dims.insert(Dimension::Character);
            dims.insert(Dimension::Scene);
        }
        if let (Some(s), Some(g)) = (&split, &m.geo) {
            dims.insert(Dimension::Scene);
            evidence.push(match s {
                Split::NewSubject {
                    agree: Some(agree),
                    share,
                    ..
                } => format!(
                    "scene: {} keypoint inliers on the background, and {:.0} % of the frame away from the new subject agrees pixel for pixel; character: {:.0} % of the frame {} differs",
                    g.inliers,
                    agree * 100.0,
                    share * 100.0,
                    s.place()
                ),
                Split::NewSubject { points, .. } => format!(
                    "scene: {} keypoint inliers on the background; character: none of {points} keypoints in the new subject's region",
                    g.inliers
                ),
                Split::Inset { outside_points, .. } => format!(
                    "scene: {} keypoint inliers inside the inset; {outside_points} keypoints of another scene around it",
                    g.inliers
                ),
            });
        }
        // Type: same kind of output, same shape and (for video) about the same length.
        let ar_new = fp.width as f32 / fp.height.max(1) as f32;
        let ar_old = old.width as f32 / old.height.max(1) as f32;
        let dur_ok = fp.kind == MediaKind::Image
            || (fp.duration - old.duration).abs() <= 0.15 * old.duration.max(1.0);
        if (ar_new / ar_old - 1.0).abs() < 0.03 && dur_ok {
            dims.insert(Dimension::Type);
            evidence.push("type: same kind, aspect and length".into());
        }
        // Creative: same storyline (shots in the same order), or the same still.
        let story = match &m.bag {
            Some(b) => b.ordered >= cfg.storyline_share,
            None => visual_match,
        };
        if story {
            dims.insert(Dimension::Creative);
            evidence.push(
                if m.bag.is_some() {
                    "creative: same shots in the same order"
                } else {
                    "creative: same picture"
                }
                .into(),
            );
        }
    }
    // Text-only difference, perceptually: equal once the text boxes are hidden (also catches
    // a renamed copy of the same background and product under new text).
    // For a video every sampled second must match so: one shared scene out of three is reused
    // footage (the segment rule's business), not a copy that differs only in its text.
    let new_tl: Vec<Hash256> = fp.frames.iter().filter_map(|f| f.textless).collect();
    if let Some(d) = min_distance(&new_tl, &old.textless) {
        let matched = new_tl
            .iter()
            .filter(|n| {
                old.textless
                    .iter()
                    .any(|o| n.hamming(o) <= cfg.max_distance)
            })
            .count();
        let all_seconds =
            fp.kind == MediaKind::Image || matched as f32 >= 0.9 * new_tl.len() as f32;
        if d <= cfg.max_distance && all_seconds && !visual_match && !only_text {
            only_text = true;
            evidence.push(format!("text boxes masked: PDQ distance {d}"));
        }
    }
    let dims_v: Vec<Dimension> = dims.iter().copied().collect();
    let has = |d: Dimension| dims.contains(&d);
    let dup = |rule| {
        Some(base(
            rule,
            VerdictKind::Duplicate,
            dims_v.clone(),
            &m,
            evidence.clone(),
        ))
    };

    if identical {
        return dup(Rule::SameComposition);
    }
    if only_audio {
        return dup(Rule::OnlyAudio);
    }
    if only_text {
        return dup(Rule::OnlyText);
    }
    if visual_match {
        return dup(Rule::VisualEdit);
    }
    if let Some(b) = &m.bag {
        if b.reused_share > cfg.segment_duplicate {
            return dup(Rule::ReusedSegments);
        }
    }
    if has(Dimension::Character) && has(Dimension::Scene) {
        return dup(Rule::CharacterScene);
    }
    if has(Dimension::Type) && has(Dimension::Creative) {
        return dup(Rule::TypeCreative);
    }
    if dims.len() >= 3 {
        return dup(Rule::ThreeDimensions);
    }
    let similar = |rule| {
        Some(base(
            rule,
            VerdictKind::Similar,
            dims_v.clone(),
            &m,
            evidence.clone(),
        ))
    };
    if let Some(b) = &m.bag {
        if b.reused_share >= cfg.segment_similar {
            return similar(Rule::SimilarSegments);
        }
    }
    if let Some(s) = split {
        let rule = match s {
            Split::NewSubject { .. } => Rule::NewSubject,
            Split::Inset { .. } => Rule::Inset,
        };
        return similar(rule).map(|x| Match {
            split: Some(s),
            ..x
        });
    }
    if fp.kind == MediaKind::Image && m.visual_distance.is_some_and(|d| d <= cfg.similar_distance) {
        return similar(Rule::NearVisual);
    }
    // Two dimensions other than the named pairs: a platform may still group them.
    if dims.len() == 2 && !(has(Dimension::Type) && cand.composition.is_none()) {
        return similar(Rule::TwoDimensions);
    }
    None
}

/// What the keypoint agreement `g` between `fp` and an old still (`of`) leaves out, unless
/// the region it leaves out is itself the old picture's content moved elsewhere (the same
/// product placed anew: character and scene repeat, a duplicate as before).
fn scene_split(fp: &Fingerprint, g: &GeoMatch, of: &Features, cfg: &GateConfig) -> Option<Split> {
    let d = fp.detail();
    let s = scene::split(
        d.features,
        d.features_mirrored,
        of,
        g,
        d.flatness,
        &SplitConfig::default(),
    )?;
    if let Split::NewSubject { cells, .. } = &s {
        let inside = scene::features_in(d.features, cells, &g.inlier_points);
        if geometry::match_features(&inside, of).inliers >= cfg.product_inliers {
            return None;
        }
    }
    Some(s)
}

fn geo_evidence(g: &GeoMatch) -> String {
    format!(
        "{} keypoint inliers (scale {:.2}, rotation {:.1}°{})",
        g.inliers,
        g.scale,
        g.angle_deg,
        if g.mirrored { ", mirrored" } else { "" }
    )
}

fn describe(m: &Match) -> String {
    let f = m.file.display();
    let dims: Vec<&str> = m.dimensions.iter().map(|d| d.label()).collect();
    match m.rule {
        Rule::SameFile => format!("byte-identical to {f}; export it once"),
        Rule::SameComposition => format!("made of exactly the same modules as {f}; change the background or the product"),
        Rule::OnlyAudio => format!(
            "differs from {f} only in audio, which platforms treat as the same creative; change the background, the product or the footage — a new soundtrack is not enough"
        ),
        Rule::OnlyText => format!(
            "differs from {f} only in on-screen text/logo; change the background or the product; changing only the caption is not enough"
        ),
        Rule::VisualEdit => format!(
            "looks like {f} after scaling, cropping, rotation, brightness or re-encoding ({}); such edits do not make a new creative — change the background or the product",
            figures(m)
        ),
        Rule::ReusedSegments => format!(
            "{:.0} % of its seconds reuse footage of {f} (platform limit 30 %); replace shots until at most 25 % is reused",
            m.reused_share.unwrap_or(0.0) * 100.0
        ),
        Rule::CharacterScene => format!(
            "same character/product on the same scene/background as {f}; change the background or the product; changing only the caption is not enough"
        ),
        Rule::TypeCreative => format!(
            "same video type and the same creative content as {f}; change the storyline (another hook/copy or shot order) or use another template structure"
        ),
        Rule::ThreeDimensions => format!(
            "repeats {} of {f} (three or more of four dimensions); change at least two of them",
            dims.join(", ")
        ),
        Rule::SimilarSegments => format!(
            "{:.0} % of its seconds reuse footage of {f}, close to the 30 % limit; replace a shot to be safe",
            m.reused_share.unwrap_or(0.0) * 100.0
        ),
        Rule::NearVisual => format!("looks close to {f} ({}); a platform may group them", figures(m)),
        Rule::TwoDimensions => format!(
            "repeats {} of {f}; one more repeated dimension would make it a duplicate",
            dims.join(" and ")
        ),
        Rule::NewSubject => match &m.split {
            Some(s @ Split::NewSubject { share, .. }) => format!(
                "same background as {f}, different subject {} {:.0} % of the frame ({}); a repeated scene alone is similar, not a duplicate — keep the new subject, and change the caption or the structure too if the platform groups them",
                s.place(),
                share * 100.0,
                figures(m)
            ),
            _ => format!("same background as {f}, different subject; a repeated scene alone is similar, not a duplicate"),
        },
        Rule::Inset => match &m.split {
            Some(Split::Inset { coverage, .. }) => format!(
                "shows {f} as a small inset ({:.0} % of the frame) inside another scene ({}); reusing a picture as a detail is similar, not a duplicate",
                coverage * 100.0,
                figures(m)
            ),
            _ => format!("shows {f} as a small inset inside another scene; similar, not a duplicate"),
        },
    }
}

fn figures(m: &Match) -> String {
    let mut v = Vec::new();
    if let Some(d) = m.visual_distance {
        v.push(format!("PDQ distance {d}"));
    }
    if let (Some(q), Some(c)) = (m.q, m.c) {
        v.push(format!("q {q:.0} %, c {c:.0} %"));
    }
    if let Some(i) = m.inliers {
        v.push(format!("{i} keypoint inliers"));
    }
    v.join(", ")
}

fn rank(m: &Match) -> (std::cmp::Reverse<VerdictKind>, u32) {
    (
        std::cmp::Reverse(m.verdict),
        m.visual_distance.unwrap_or(256),
    )
}

/// Scores each candidate against the library (if any) and against the candidates that come
/// before it in variant order. Verdicts are returned in input order. The library is only
/// read; adding the kept outputs is the caller's decision (`Library::add`).
pub fn score(
    cands: &[Candidate],
    library: Option<&Library>,
    cfg: &GateConfig,
) -> Result<Vec<Verdict>, DedupError> {
    use rayon::prelude::*;
    let fps: Vec<Fingerprint> = cands
        .par_iter()
        .map(|c| c.fingerprint())
        .collect::<Result<_, _>>()?;
    score_fingerprints(cands, &fps, library, cfg)
}

/// As `score`, for callers that already hold the fingerprints (e.g. computed while the
/// frames were in memory).
pub fn score_fingerprints(
    cands: &[Candidate],
    fps: &[Fingerprint],
    library: Option<&Library>,
    cfg: &GateConfig,
) -> Result<Vec<Verdict>, DedupError> {
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&a, &b| {
        scoring_key(&cands[a])
            .cmp(&scoring_key(&cands[b]))
            .then(a.cmp(&b))
    });
    let mut scorer = Scorer::new(library, cfg)?;
    let mut verdicts: Vec<Option<Verdict>> = vec![None; cands.len()];
    for &i in &order {
        verdicts[i] = Some(scorer.score(&cands[i], &fps[i])?);
    }
    Ok(verdicts
        .into_iter()
        .map(|v| v.expect("every candidate scored"))
        .collect())
}

/// The order a batch is scored in: by variant, so that of two look-alikes the later variant
/// is the one named a duplicate, whatever order the outputs were rendered in.
pub(crate) fn scoring_key(c: &Candidate) -> (u32, Option<&str>, &Path) {
    (
        c.variant_n.unwrap_or(u32::MAX),
        c.variant_id.as_deref(),
        &c.path,
    )
}

/// `evaluate` of a new output against an earlier one of the batch, with the facts and (where
/// geometry decides and `geo` allows it) the earlier one's keypoints it needs.
fn against_earlier(
    fp: &Fingerprint,
    cand: &Candidate,
    old: &Old,
    geo: bool,
    products: &mut ProductMemo,
    spill: &KeypointSpill,
    cfg: &GateConfig,
) -> Result<Option<Match>, DedupError> {
    let facts = Facts::of(fp, cand, old, products, cfg);
    let of = match (&old.features, geo && facts.geometry_decides) {
        (Some(kept), true) => Some(spill.get(kept).map_err(|source| DedupError::Io {
            path: old.file.clone(),
            source,
        })?),
        _ => None,
    };
    let seconds = seconds_for(old, of.is_some(), spill)?;
    Ok(evaluate(
        fp,
        cand,
        old,
        facts,
        of.as_deref(),
        seconds.as_deref(),
        cfg,
    ))
}

/// An earlier video's seconds (`Old::seconds`), read back only where `evaluate` can use
/// them: the key frames' keypoints are at hand (`keypoints`), so the pair can be vouched
/// for and its seconds compared.
fn seconds_for<'a>(
    old: &'a Old,
    keypoints: bool,
    spill: &KeypointSpill,
) -> Result<Option<std::borrow::Cow<'a, Seconds>>, DedupError> {
    match (&old.seconds, keypoints) {
        (Some(kept), true) => spill.get(kept).map(Some).map_err(|source| DedupError::Io {
            path: old.file.clone(),
            source,
        }),
        _ => Ok(None),
    }
}

/// What `evaluate` can make of a pair at most, read from what is cheap to compare. Exact
/// between two composed stills once their product files have answered "same product?"
/// (`evaluate` decides on the compositions, the product files and hash distances alone);
/// before that the product is taken to repeat, and any other pair may be anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// `evaluate` returns no match.
    Nothing,
    /// At most a similar one.
    Similar,
    Duplicate,
}

/// An earlier output's hashes of one kind as the pair scan reads them: none, one held here,
/// or several, read from the `Old`.
#[derive(Debug, Clone, Copy)]
enum Few {
    None,
    One(Hash256),
    Many,
}

impl Few {
    fn of(hashes: &[Hash256]) -> Few {
        match hashes {
            [] => Few::None,
            [h] => Few::One(*h),
            _ => Few::Many,
        }
    }

    /// `min_distance(new, old)`, `old` being the hashes this was made of.
    #[inline(always)]
    fn min_distance(self, new: &[Hash256], old: &[Hash256]) -> Option<u32> {
        match self {
            Few::None => None,
            Few::One(h) => new.iter().map(|n| n.hamming(&h)).min(),
            Few::Many => min_distance(new, old),
        }
    }
}

/// What the pair scan reads of each earlier output, in one array: every new output visits
/// every earlier one, and reading these through each `Old` (its kind, sha256, composition
/// and hash vectors, each its own allocation) cost a cache miss or several per pair — the
/// scan was 5 % of a 2,400-image catalog batch's CPU and grew with the batch (`perf`,
/// 2026-12-06).
struct Brief {
    ids: Option<Ids>,
    kind: MediaKind,
    /// The file's sha256, interned (`Scorer::shas`).
    sha: u32,
    hashes: Few,
    crops: Few,
    scene: Few,
    textless: Few,
}

impl Reach {
    /// `sha`: the new file's sha256 as `Brief::sha` numbers it; `ids`: the new output's
    /// composition as interned numbers (`Some` when it is composed; the old output's are in
    /// its `Brief`); `memo`: what this new output's copy and product answered
    /// against each old copy and product so far, the same for every old output that shares
    /// them.
    #[allow(clippy::too_many_arguments)]
    fn of(
        (fp, sha): (&Fingerprint, u32),
        cand: &Candidate,
        (brief, old): (&Brief, &Old),
        visual_distance: u32,
        (scene, textless): (&[Hash256], &[Hash256]),
        (ids, memo): (Option<&Ids>, &mut PairMemo),
        products: &ProductMemo,
        cfg: &GateConfig,
    ) -> Reach {
        // Both composed: both have ids.
        let (Some(new_c), Some(n), Some(o)) = (&cand.composition, ids, brief.ids.as_ref()) else {
            return Reach::Duplicate;
        };
        if fp.kind != MediaKind::Image || brief.kind != MediaKind::Image {
            return Reach::Duplicate;
        }
        // `preset_mismatch`, on ids.
        if cfg.same_preset_only
            && (n.preset != o.preset
                || matches!((n.region, o.region), (Some(a), Some(b)) if a != b))
        {
            return Reach::Nothing;
        }
        let near = |new: &[Hash256], few: Few, old: &[Hash256]| {
            few.min_distance(new, old)
                .is_some_and(|d| d <= cfg.max_distance)
        };
        let same_background = n.background == o.background;
        // Same file, same picture, or the same picture once the text is hidden; and every
        // rule that compares modules one by one needs the background to be the same file.
        if sha == brief.sha
            || visual_distance <= cfg.max_distance
            || near(textless, brief.textless, &old.textless)
            || same_background
        {
            return Reach::Duplicate;
        }
        let old_c = || {
            old.composition
                .as_ref()
                .expect("an output with ids is composed")
        };
        // Dimensions besides the type, which two outputs of one template nearly always
        // share: creative content (the copy), scene (a hash of the frame without the
        // product), character (the product file, or a copy of it under another name — or
        // unknown, when geometry would have to say).
        // Each asked only where the answer can still change the bound: a catalog batch asks
        // this of every pair of its outputs.
        let same_copy = memo.copy(o.copy, || {
            copy_similarity(&new_c.copy, &old_c().copy) >= cfg.copy_similarity
        });
        if same_copy {
            return Reach::Duplicate;
        }
        let scene = near(scene, brief.scene, &old.scene);
        if !scene && visual_distance <= cfg.similar_distance {
            return Reach::Similar;
        }
        let character = match (n.product, o.product) {
            (Some(a), Some(b)) if a == b => true,
            (Some(_), Some(b)) => memo.character(b, || {
                let (Some(a), Some(b)) = (&new_c.product, &old_c().product) else {
                    unreachable!("ids of products");
                };
                // Not asked yet: the product may repeat. `evaluate` asks, for the few pairs
                // it gets to; asked here, for every pair of outputs, it measured every
                // product of a catalog and matched every pair of them (BENCHMARKS.md, *Main
                // images at catalog scale*).
                !(products.knows(&a.sha256) && products.knows(&b.sha256))
                    || products.answered(&a.sha256, &b.sha256).is_none_or(|known| {
                        known.is_none_or(|pm| pm.same_product(cfg.product_inliers))
                    })
            }),
            // No product file on either side: only keypoints inside a product box could say.
            (None, None) => new_c.product_box.is_some(),
            _ => true,
        };
        if character && scene {
            Reach::Duplicate
        } else if character || scene {
            Reach::Similar
        } else {
            Reach::Nothing
        }
    }
}

/// A composition's strings as small numbers (`Interner`): the pair bound compares every new
/// output with every earlier one, and comparing and hashing the strings themselves (preset,
/// region, background and product sha256s, the copy) was 1.5 % of a catalog batch's CPU, a
/// seventh of the gate's (`perf`, 2026-12-06).
#[derive(Debug, Clone, Copy)]
struct Ids {
    preset: u32,
    region: Option<u32>,
    background: u32,
    product: Option<u32>,
    copy: u32,
}

/// Numbers for strings, one per distinct string, for a scorer's lifetime.
#[derive(Default)]
struct Interner(HashMap<String, u32>);

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.0.get(s) {
            return i;
        }
        let i = self.0.len() as u32;
        self.0.insert(s.to_string(), i);
        i
    }

    fn ids(&mut self, c: &Composition) -> Ids {
        Ids {
            preset: self.id(&c.preset),
            region: c.region.as_deref().map(|r| self.id(r)),
            background: self.id(&c.background.sha256),
            product: c.product.as_ref().map(|p| self.id(&p.sha256)),
            copy: self.id(&c.copy),
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// One new output's answers in the pair bound, by the old side's interned copy and product:
/// 0 not asked yet, 1 no, 2 yes. Valid while nothing is measured, which the bound never does.
struct PairMemo {
    copy: Vec<u8>,
    character: Vec<u8>,
}

impl PairMemo {
    fn new(ids: usize) -> Self {
        PairMemo {
            copy: vec![0; ids],
            character: vec![0; ids],
        }
    }

    fn copy(&mut self, id: u32, ask: impl FnOnce() -> bool) -> bool {
        Self::remembered(&mut self.copy[id as usize], ask)
    }

    fn character(&mut self, id: u32, ask: impl FnOnce() -> bool) -> bool {
        Self::remembered(&mut self.character[id as usize], ask)
    }

    fn remembered(slot: &mut u8, ask: impl FnOnce() -> bool) -> bool {
        if *slot == 0 {
            *slot = 1 + u8::from(ask());
        }
        *slot == 2
    }
}

/// `path` as bytes whose order is `Path`'s: component by component, each its kind (in
/// `Component`'s order) then its bytes then a 0, which no component holds and which sorts
/// before any byte, so a component before its extensions and a path before its children.
fn path_order(path: &Path) -> Box<[u8]> {
    use std::path::Component;
    let mut out = Vec::with_capacity(path.as_os_str().len() + 8);
    for c in path.components() {
        let (kind, bytes) = match c {
            Component::Prefix(p) => (0, p.as_os_str()),
            Component::RootDir => (1, std::ffi::OsStr::new("")),
            Component::CurDir => (2, std::ffi::OsStr::new("")),
            Component::ParentDir => (3, std::ffi::OsStr::new("")),
            Component::Normal(n) => (4, n),
        };
        out.push(kind);
        out.extend_from_slice(bytes.as_encoded_bytes());
        out.push(0);
    }
    out.into_boxed_slice()
}

/// Files in the order they were added, each as its rank among the distinct files so far:
/// equal paths, equal ranks, and ranks order as the paths do. Comparing `Path`s component by
/// component in `top_batch_match`'s sort was 1.9 % of a catalog batch's CPU, and their
/// `path_order` bytes still 0.8 % (`perf`, 2026-12-06); a number compares at once, and
/// keeping the numbers up to date costs one pass over them per new file.
#[derive(Default)]
struct FileRanks {
    /// By order of addition.
    rank: Vec<u32>,
    /// The distinct `path_order`s, sorted: a file's rank is its index here.
    sorted: Vec<Box<[u8]>>,
}

impl FileRanks {
    fn push(&mut self, path: &Path) {
        let order = path_order(path);
        let rank = match self.sorted.binary_search(&order) {
            Ok(i) => i,
            Err(i) => {
                self.rank
                    .iter_mut()
                    .filter(|r| **r as usize >= i)
                    .for_each(|r| *r += 1);
                self.sorted.insert(i, order);
                i
            }
        };
        self.rank.push(rank as u32);
    }
}

/// Scores outputs one at a time against the library and every output scored before, so a
/// batch can be gated (and published) as its outputs arrive rather than all at the end.
pub(crate) struct Scorer<'a> {
    library: Option<&'a Library>,
    index: Option<crate::dedup::library::HashIndex>,
    cfg: &'a GateConfig,
    since: i64,
    earlier: Vec<Old>,
    /// Each earlier output's file as a number that orders as its path: the tie-break of
    /// `top_batch_match`'s sort.
    earlier_files: FileRanks,
    /// What the pair scan reads of each earlier output (`Brief`).
    briefs: Vec<Brief>,
    /// The earlier outputs' sha256s as numbers, for `Brief::sha`.
    shas: Interner,
    interner: Interner,
    spill: KeypointSpill,
    products: ProductMemo,
    /// The library holds files added from elsewhere (`Library::has_pixels_only`).
    pixels_only_in_library: bool,
    /// Only the strongest match among earlier outputs is wanted (`top_only`).
    top_only: bool,
}

impl<'a> Scorer<'a> {
    pub(crate) fn new(
        library: Option<&'a Library>,
        cfg: &'a GateConfig,
    ) -> Result<Self, DedupError> {
        let since = cfg.now - cfg.max_age_days as i64 * 86_400;
        let index = match library {
            Some(l) => Some(l.index(since)?),
            None => None,
        };
        let pixels_only_in_library = match library {
            Some(l) => l.has_pixels_only(since)?,
            None => false,
        };
        Ok(Scorer {
            library,
            index,
            cfg,
            since,
            earlier: Vec::new(),
            earlier_files: FileRanks::default(),
            briefs: Vec::new(),
            shas: Interner::default(),
            interner: Interner::default(),
            spill: KeypointSpill::default(),
            products: ProductMemo::default(),
            pixels_only_in_library,
            top_only: false,
        })
    }

    /// Of the earlier outputs, only the match that ranks first is kept, which is all a
    /// verdict and its reason cite (the render gate; `factory dedup` lists every match).
    /// Between two composed stills most pairs share a dimension — every output of a
    /// catalog shares its structure, background or caption with a share of all the others —
    /// so evaluating every pair grew with the square of the batch: 1,152 main images took
    /// 2.7 times the CPU of 576 (BENCHMARKS.md, *Fifth round*).
    pub(crate) fn top_only(mut self) -> Self {
        self.top_only = true;
        self
    }

    /// The earlier output's match that ranks first (`rank`, then file), evaluating as few
    /// pairs as that takes: the pairs that can be duplicates in order of visual distance and
    /// file until one is, else those that can match at all in that order until one does.
    /// Which pairs can is read from what is cheap to compare (`Reach`); every pair it
    /// evaluates is evaluated exactly as `score` evaluates all of them, so the first match is
    /// the same (`tests::the_strongest_match_alone_is_the_first_of_all_matches`).
    fn top_batch_match(
        &mut self,
        cand: &Candidate,
        fp: &Fingerprint,
        // Each earlier output's distance; the first `geometry_candidates` are the nearest,
        // in order, and the rest in any order.
        dist: &[(usize, u32)],
        direct: Option<&[u32]>,
    ) -> Result<Option<Match>, DedupError> {
        let orientations: Vec<Hash256> = fp.frames.iter().flat_map(|f| f.orientations).collect();
        let scene: Vec<Hash256> = fp.frames.iter().filter_map(|f| f.scene).collect();
        let textless: Vec<Hash256> = fp.frames.iter().filter_map(|f| f.textless).collect();
        // (order, earlier index, geometry allowed, duplicate possible): the order is the
        // visual distance, then the file, then the distance, then the index, 32 bits each.
        let mut open: Vec<(u128, usize, bool, bool)> = Vec::new();
        let ids = cand.composition.as_ref().map(|c| self.interner.ids(c));
        let sha = self.shas.id(&fp.sha256);
        let mut memo = PairMemo::new(self.interner.len());
        for (rank_i, &(k, d)) in dist.iter().enumerate() {
            let (old, brief) = (&self.earlier[k], &self.briefs[k]);
            let vd = match direct {
                Some(d) => d[k],
                None => brief
                    .hashes
                    .min_distance(&orientations, &old.hashes)
                    .unwrap_or(256),
            };
            let reach = Reach::of(
                (fp, sha),
                cand,
                (brief, old),
                vd,
                (&scene, &textless),
                (ids.as_ref(), &mut memo),
                &self.products,
                self.cfg,
            );
            if reach != Reach::Nothing {
                let order = u128::from(vd) << 96
                    | u128::from(self.earlier_files.rank[k]) << 64
                    | u128::from(d) << 32
                    | k as u128;
                open.push((
                    order,
                    k,
                    rank_i < self.cfg.geometry_candidates,
                    reach == Reach::Duplicate,
                ));
            }
        }
        // Nearest first, then by file; then as the distances rank them.
        open.sort_unstable_by_key(|o| o.0);
        let (earlier, products, spill, cfg) =
            (&self.earlier, &mut self.products, &self.spill, self.cfg);
        let mut eval =
            |k: usize, geo| against_earlier(fp, cand, &earlier[k], geo, products, spill, cfg);
        let mut seen: HashMap<usize, Option<Match>> = HashMap::new();
        for &(_, k, geo, _) in open.iter().filter(|o| o.3) {
            let m = eval(k, geo)?;
            if m.as_ref()
                .is_some_and(|m| m.verdict == VerdictKind::Duplicate)
            {
                return Ok(m);
            }
            seen.insert(k, m);
        }
        // No duplicate: the first pair in order that matches at all is similar, and first.
        for &(_, k, geo, _) in &open {
            let m = match seen.remove(&k) {
                Some(m) => m,
                None => eval(k, geo)?,
            };
            if m.is_some() {
                return Ok(m);
            }
        }
        Ok(None)
    }

    /// The product files of the batch by sha256, so that "same product under another name"
    /// is asked of the files once per pair (`product`) rather than of every output's pixels.
    pub(crate) fn with_product_files(mut self, files: HashMap<String, PathBuf>) -> Self {
        self.products = ProductMemo::new(files);
        self
    }

    /// Product files already decoded by the caller (`ProductMemo::with_pixels`), after
    /// `with_product_files`.
    pub(crate) fn with_product_pixels(
        mut self,
        pixels: HashMap<String, std::sync::Arc<image::RgbaImage>>,
    ) -> Self {
        self.products = std::mem::take(&mut self.products).with_pixels(pixels);
        self
    }

    /// Keeps an output to compare later ones with. A composed still's keypoints are measured
    /// now if a later comparison may ask for them: the batch shows products, and this
    /// output's is not one file the batch has (or it shows none), so "same product?" falls
    /// back to the outputs' own keypoints (`Facts`).
    fn keep(&mut self, cand: &Candidate, fp: &Fingerprint) {
        let by_files = cand
            .composition
            .as_ref()
            .and_then(|c| c.product.as_ref())
            .is_some_and(|p| self.products.knows(&p.sha256));
        if fp.kind == MediaKind::Image && !by_files && !self.products.is_empty() {
            fp.detail();
        }
        self.earlier_files.push(&fp.path);
        let old = Old::from_fingerprint(fp, cand, &mut self.spill);
        self.briefs.push(Brief {
            ids: cand.composition.as_ref().map(|c| self.interner.ids(c)),
            kind: old.kind,
            sha: self.shas.id(&old.sha256),
            hashes: Few::of(&old.hashes),
            crops: Few::of(&old.crops),
            scene: Few::of(&old.scene),
            textless: Few::of(&old.textless),
        });
        self.earlier.push(old);
    }

    /// Counts an output that is already exported (kept from an earlier run) as scored before
    /// everything this run renders, without a verdict of its own.
    pub(crate) fn admit(&mut self, cand: &Candidate, fp: &Fingerprint) {
        self.keep(cand, fp);
    }

    /// The verdict on `cand` against the library and everything scored or admitted before.
    pub fn score(&mut self, cand: &Candidate, fp: &Fingerprint) -> Result<Verdict, DedupError> {
        let mut matches: Vec<Match> = Vec::new();
        // Retrieval looks for every orientation and, for stills, the small turns undone —
        // those only where a turned copy can be: among files from elsewhere. Two outputs the
        // engine composed are compared by their compositions, and turning back a composed
        // still six times was 6 % of a catalog batch's CPU.
        let mut queries: Vec<Hash256> = fp.frames.iter().flat_map(|f| f.orientations).collect();
        if cand.composition.is_none() || self.pixels_only_in_library {
            queries.extend_from_slice(fp.turned());
        }

        if let (Some(lib), Some(index)) = (self.library, &self.index) {
            // Retrieval: every file within the match distance, plus the nearest few for
            // geometry (crops/rotations sit beyond PDQ's reach), plus files sharing assets.
            let near = index.nearest(
                &queries,
                self.cfg.similar_distance,
                self.cfg.geometry_candidates,
            );
            let mut ids: Vec<(i64, bool)> = near
                .iter()
                .enumerate()
                .map(|(rank_i, (id, _))| (*id, rank_i < self.cfg.geometry_candidates))
                .collect();
            if let Some(c) = &cand.composition {
                for id in lib.sharing_assets(c, self.since)? {
                    if !ids.iter().any(|(x, _)| *x == id) {
                        ids.push((id, true));
                    }
                }
            }
            for (id, geo) in ids {
                if let Some(old) = Old::from_library(lib, id)? {
                    if old.sha256 == fp.sha256
                        && old.file == std::path::absolute(&fp.path).unwrap_or_default()
                    {
                        // The file itself was already added: comparing it with itself says nothing.
                        continue;
                    }
                    let facts = Facts::of(fp, cand, &old, &mut self.products, self.cfg);
                    let of = match geo && facts.geometry_decides {
                        true => lib.features_or_measure(id, &old.file, &old.sha256, old.kind)?,
                        false => None,
                    };
                    let seconds = seconds_for(&old, of.is_some(), &self.spill)?;
                    if let Some(m) = evaluate(
                        fp,
                        cand,
                        &old,
                        facts,
                        of.as_ref(),
                        seconds.as_deref(),
                        self.cfg,
                    ) {
                        matches.push(m);
                    }
                }
            }
        }

        // Each earlier output's distance to the frame's own orientations, kept for
        // `top_batch_match` when those are all the queries: computed again there, it was a
        // fifth of scoring a catalog batch's pairs.
        let only_orientations = queries.len() == fp.frames.len() * 8;
        let (mut dist, direct) = distances(&queries, &self.briefs, &self.earlier);
        let by_distance = |&(k, d): &(usize, u32)| (d, k);
        if self.top_only {
            // Only the nearest few are ranked (they may use geometry); `top_batch_match`
            // orders the rest itself. Sorting every earlier output for every new one was
            // 0.6 % of a catalog batch's CPU and grows as n² log n.
            let g = self.cfg.geometry_candidates.min(dist.len());
            if g < dist.len() {
                dist.select_nth_unstable_by_key(g, by_distance);
            }
            dist[..g].sort_unstable_by_key(by_distance);
            let direct = only_orientations.then_some(direct.as_slice());
            matches.extend(self.top_batch_match(cand, fp, &dist, direct)?);
        } else {
            dist.sort_unstable_by_key(by_distance);
            for (rank_i, (k, _)) in dist.iter().enumerate() {
                let geo = rank_i < self.cfg.geometry_candidates;
                let m = against_earlier(
                    fp,
                    cand,
                    &self.earlier[*k],
                    geo,
                    &mut self.products,
                    &self.spill,
                    self.cfg,
                )?;
                matches.extend(m);
            }
        }

        matches.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.file.cmp(&b.file)));
        let verdict = matches
            .first()
            .map(|m| m.verdict)
            .unwrap_or(VerdictKind::Distinct);
        let reason = match matches.first() {
            Some(m) => describe(m),
            None => "no earlier output or library entry repeats it".to_string(),
        };
        let v = Verdict {
            file: fp.path.clone(),
            variant_id: cand.variant_id.clone(),
            verdict,
            matches,
            reason,
        };
        self.keep(cand, fp);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The POPCNT build of `min_distance` gives the portable one's answer, on hashes with
    /// every bit pattern density and on empty sides.
    #[test]
    fn min_distance_dispatch_equals_portable() {
        let hash = |seed: u64| {
            let mut b = [0u8; 32];
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for v in b.iter_mut() {
                *v = crate::dedup::xorshift64(&mut x) as u8;
            }
            Hash256(b)
        };
        let many: Vec<Hash256> = (0..40)
            .map(hash)
            .chain([Hash256([0; 32]), Hash256([255; 32])])
            .collect();
        for (n, o) in [
            (&many[..8], &many[8..]),
            (&many[40..], &many[..3]),
            (&many[..0], &many[..5]),
        ] {
            let naive = n
                .iter()
                .flat_map(|a| o.iter().map(move |b| a.hamming(b)))
                .min();
            assert_eq!(min_distance(n, o), naive);
            assert_eq!(min_distance_portable(n, o), naive);
        }
        assert_eq!(min_distance(&many[40..41], &many[41..42]), Some(256));
    }

    /// `Few` answers `min_distance` as the hashes it was made of do: none, one, several, and
    /// with no new hashes.
    #[test]
    fn few_hashes_measure_as_the_hashes_they_stand_for() {
        let mut x = 0x6a09_e667_f3bc_c908u64;
        let mut hash = || {
            let mut b = [0u8; 32];
            b.iter_mut()
                .for_each(|v| *v = crate::dedup::xorshift64(&mut x) as u8);
            Hash256(b)
        };
        let new: Vec<Hash256> = (0..8).map(|_| hash()).collect();
        for old in [
            vec![],
            vec![hash()],
            (0..3).map(|_| hash()).collect::<Vec<_>>(),
        ] {
            for new in [&new[..], &new[..1], &[][..]] {
                assert_eq!(
                    Few::of(&old).min_distance(new, &old),
                    min_distance(new, &old),
                    "{} old, {} new",
                    old.len(),
                    new.len()
                );
            }
        }
    }

    /// Ranks order files as their paths do, whatever order they are added in, equal paths
    /// equal.
    #[test]
    fn file_ranks_order_as_paths() {
        let paths: Vec<&Path> = [
            "out/US/b.jpg",
            "out/US/a.jpg",
            "out/US-x/a.jpg",
            "out/US/a.jpg",
            "out/US.a/z.jpg",
            "out/T/c.jpg",
            "out/US/b.jpg",
            "out/US/a/b.jpg",
        ]
        .iter()
        .map(Path::new)
        .collect();
        let mut ranks = FileRanks::default();
        for (n, p) in paths.iter().enumerate() {
            ranks.push(p);
            for i in 0..=n {
                for j in 0..=n {
                    assert_eq!(
                        ranks.rank[i].cmp(&ranks.rank[j]),
                        paths[i].cmp(paths[j]),
                        "{:?} against {:?} after {n} added",
                        paths[i],
                        paths[j]
                    );
                }
            }
        }
    }

    /// `path_order` sorts paths as `Path::cmp` does, where their bytes would not: a region
    /// directory that another's name extends, names that extend each other, depth.
    #[test]
    fn path_order_sorts_as_paths_do() {
        let paths: Vec<PathBuf> = [
            "US/US_Tmall_Main_v10.jpg",
            "US/US_Tmall_Main_v1.jpg",
            "US-CA/a.jpg",
            "US/a/b.jpg",
            "US.old/a.jpg",
            "US",
            "/abs/US/x.jpg",
            "./US/x.jpg",
            "../US/x.jpg",
            "US/a.jpg",
            "US/a.jpg.part",
            "é/x.jpg",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        for a in &paths {
            for b in &paths {
                assert_eq!(
                    path_order(a).cmp(&path_order(b)),
                    a.cmp(b),
                    "{} vs {}",
                    a.display(),
                    b.display()
                );
            }
        }
    }
    use crate::dedup::composition::AssetRef;
    use image::{Rgba, RgbaImage};

    fn noise(seed: u32, w: u32, h: u32, cell: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let v = ((x / cell).wrapping_mul(2_654_435_761) ^ (y / cell).wrapping_mul(40_503))
                .wrapping_add(seed.wrapping_mul(97_531));
            let v = v ^ (v >> 13);
            Rgba([v as u8, (v >> 8) as u8, (v >> 16) as u8, 255])
        })
    }

    /// A catalog in miniature, with what makes pairs hard: a background and a product saved
    /// again under other names (found by hashes and by the product files), captions that
    /// are near copies, and one output whose product is no file of the batch. Every output
    /// scored for its first match alone gets the verdict, reason and match that scoring
    /// every pair ranks first.
    #[test]
    fn the_strongest_match_alone_is_the_first_of_all_matches() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (w, h) = (320u32, 320u32);
        // Three backgrounds PDQ tells apart: a gradient, rings, a checkerboard.
        let backgrounds = [
            RgbaImage::from_fn(w, h, |x, y| {
                Rgba([(x * 255 / w) as u8, (y / 2) as u8, 90, 255])
            }),
            RgbaImage::from_fn(w, h, |x, y| {
                let r = ((x as f32 - 160.0).hypot(y as f32 - 160.0) / 24.0) as u32;
                Rgba([
                    if r.is_multiple_of(2) { 230 } else { 30 },
                    120,
                    (r * 20) as u8,
                    255,
                ])
            }),
            RgbaImage::from_fn(w, h, |x, y| {
                let v = if (x / 64 + y / 48) % 2 == 0 { 200 } else { 40 };
                Rgba([v, 255 - v, v / 2, 255])
            }),
        ];
        let products = [
            noise(10, 110, 110, 6),
            noise(11, 110, 110, 4),
            noise(12, 110, 110, 11),
        ];
        let mut files = HashMap::new();
        for (i, p) in products.iter().enumerate() {
            let path = d.join(format!("product-{i}.png"));
            p.save(&path).unwrap();
            files.insert(format!("p{i}"), path.clone());
            // The same file again under another sha256: "the same product".
            files.insert(format!("p{i}-again"), path);
        }
        // Mostly new copy for each output, so that pairs share one dimension or two as often
        // as three; two texts are near copies.
        let copies = [
            "Wake up better",
            "Wake up better!",
            "Free shipping",
            "New season",
            "Bold roast",
            "Gift ideas",
            "Only today",
            "Hand picked",
            "Fresh and fast",
            "Stock up",
            "Try it",
        ];
        let mut cands = Vec::new();
        let mut n = 0;
        for (b, bg) in backgrounds.iter().enumerate() {
            for (p, product) in products.iter().enumerate() {
                for _ in 0..2 {
                    n += 1;
                    let copy = copies[n as usize % copies.len()];
                    let mut img = bg.clone();
                    image::imageops::overlay(&mut img, product, 105, 90);
                    for (k, ch) in copy.bytes().enumerate() {
                        for y in 0..(6 + ch as u32 % 9) {
                            for x in 0..5 {
                                img.put_pixel(20 + k as u32 * 8 + x, 280 + y, Rgba([255; 4]));
                            }
                        }
                    }
                    let path = d.join(format!("v{n}.png"));
                    image::DynamicImage::ImageRgba8(img)
                        .to_rgb8()
                        .save(&path)
                        .unwrap();
                    let renamed = n % 5 == 0;
                    let product_sha = match (n % 7, renamed) {
                        (0, _) => "not-a-batch-file".to_string(),
                        (_, true) => format!("p{p}-again"),
                        _ => format!("p{p}"),
                    };
                    let bg_sha = if renamed {
                        format!("bg{b}-again")
                    } else {
                        format!("bg{b}")
                    };
                    cands.push(Candidate {
                        path,
                        variant_id: Some(format!("v{n}")),
                        variant_n: Some(n),
                        composition: Some(Composition {
                            template: "catalog".into(),
                            preset: "tmall-main".into(),
                            region: None,
                            kind: MediaKind::Image,
                            duration: 0.0,
                            background: AssetRef {
                                id: format!("bg-{b}"),
                                sha256: bg_sha,
                            },
                            product: Some(AssetRef {
                                id: format!("product-{p}"),
                                sha256: product_sha,
                            }),
                            copy: copy.to_string(),
                            audio: None,
                            effects: "none".into(),
                            structure: "bg+product+caption".into(),
                            product_box: Some([
                                105.0 / 320.0,
                                90.0 / 320.0,
                                110.0 / 320.0,
                                110.0 / 320.0,
                            ]),
                            text_boxes: vec![[0.05, 0.86, 0.9, 0.1]],
                            modules: Default::default(),
                        }),
                        created_at: 0,
                        licences: Vec::new(),
                    });
                }
            }
        }
        let cfg = GateConfig::default();
        let fps: Vec<Fingerprint> = cands.iter().map(|c| c.fingerprint().unwrap()).collect();
        let mut all = Scorer::new(None, &cfg)
            .unwrap()
            .with_product_files(files.clone());
        let mut top = Scorer::new(None, &cfg)
            .unwrap()
            .with_product_files(files)
            .top_only();
        let mut kinds = Vec::new();
        for (c, fp) in cands.iter().zip(&fps) {
            let (a, b) = (all.score(c, fp).unwrap(), top.score(c, fp).unwrap());
            let first = |v: &Verdict| {
                v.matches
                    .first()
                    .map(|m| (m.file.clone(), m.rule, m.dimensions.clone()))
            };
            assert_eq!(
                (a.verdict, &a.reason, first(&a)),
                (b.verdict, &b.reason, first(&b)),
                "{:?}",
                c.variant_id
            );
            assert!(b.matches.len() <= 1);
            kinds.push((a.verdict, a.matches.first().map(|m| m.rule)));
        }
        // The batch reaches every kind of outcome it is meant to compare.
        let has = |r: Rule| kinds.iter().any(|k| k.1 == Some(r));
        assert!(
            kinds.iter().any(|k| k.0 == VerdictKind::Similar),
            "{kinds:?}"
        );
        assert!(has(Rule::TypeCreative) && has(Rule::OnlyText), "{kinds:?}");
    }
}
