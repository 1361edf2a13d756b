//! The rules applied to what the engine knows of two outputs (their compositions): exact,
//! so they run before any pixel is rendered (plan warnings, `distinct` designs) and decide
//! first in the gate.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use super::{
    describe, preset_mismatch, Dimension, GateConfig, Match, PlanWarning, Rule, VerdictKind,
};
use crate::dedup::composition::Composition;

/// Normalised character-bigram Dice similarity (0–1): works for CJK and Arabic copy alike,
/// and ignores case, punctuation and spacing edits.
///
/// The gate asks it of every pair of outputs, and a batch has few distinct captions: each
/// pair of texts is measured once per thread (normalising and sorting bigrams for every pair
/// of outputs was 2 % of a 576-image batch's CPU, `perf` 2026-12-06).
pub fn copy_similarity(a: &str, b: &str) -> f32 {
    if a == b {
        return 1.0;
    }
    type Memo = HashMap<String, HashMap<String, f32>>;
    thread_local! {
        static MEMO: std::cell::RefCell<(Memo, usize)> = std::cell::RefCell::default();
    }
    // Kept small: a batch whose every output has its own text would otherwise grow it by
    // the square of its size.
    const MAX_PAIRS: usize = 1 << 14;
    MEMO.with(|memo| {
        let (memo, pairs) = &mut *memo.borrow_mut();
        if let Some(v) = memo.get(a).and_then(|m| m.get(b)) {
            return *v;
        }
        let v = dice(a, b);
        if *pairs >= MAX_PAIRS {
            memo.clear();
            *pairs = 0;
        }
        memo.entry(a.to_string())
            .or_default()
            .insert(b.to_string(), v);
        *pairs += 1;
        v
    })
}

fn dice(a: &str, b: &str) -> f32 {
    let norm = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(|c| c.to_lowercase())
            .collect()
    };
    let (a, b) = (norm(a), norm(b));
    if a == b {
        return 1.0;
    }
    if a.len() < 2 || b.len() < 2 {
        return 0.0;
    }
    let grams = |v: &[char]| -> Vec<(char, char)> {
        let mut g: Vec<(char, char)> = v.windows(2).map(|w| (w[0], w[1])).collect();
        g.sort_unstable();
        g
    };
    let (ga, gb) = (grams(&a), grams(&b));
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < ga.len() && j < gb.len() {
        match ga[i].cmp(&gb[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * common as f32 / (ga.len() + gb.len()) as f32
}

/// Composition-only comparison: which dimensions repeat and which single module differs.
pub(super) struct CompDiff {
    pub(super) dims: Vec<(Dimension, String)>,
    pub(super) only_audio: bool,
    pub(super) only_text: bool,
    pub(super) identical: bool,
}

pub(super) fn compare_compositions(
    new: &Composition,
    old: &Composition,
    cfg: &GateConfig,
) -> CompDiff {
    let mut dims = Vec::new();
    let same_product = match (&new.product, &old.product) {
        (Some(a), Some(b)) => a.sha256 == b.sha256,
        _ => false,
    };
    if same_product {
        dims.push((
            Dimension::Character,
            format!(
                "character: same product asset {}",
                new.product.as_ref().unwrap().id
            ),
        ));
    }
    if new.background.sha256 == old.background.sha256 {
        dims.push((
            Dimension::Scene,
            format!("scene: same background asset {}", new.background.id),
        ));
    }
    if new.structure == old.structure && new.kind == old.kind {
        dims.push((
            Dimension::Type,
            format!("type: same structure {:?}", new.structure),
        ));
    }
    let sim = copy_similarity(&new.copy, &old.copy);
    if sim >= cfg.copy_similarity {
        dims.push((
            Dimension::Creative,
            format!("creative: copy {:.0} % similar", sim * 100.0),
        ));
    }
    let product_eq =
        new.product.as_ref().map(|a| &a.sha256) == old.product.as_ref().map(|a| &a.sha256);
    let audio_eq = new.audio.as_ref().map(|a| &a.sha256) == old.audio.as_ref().map(|a| &a.sha256);
    let visual_eq = new.background.sha256 == old.background.sha256
        && product_eq
        && new.effects == old.effects
        && new.structure == old.structure
        && new.kind == old.kind
        && (new.duration - old.duration).abs() < 0.5
        && boxes_close(new.product_box, old.product_box);
    let text_eq = new.copy == old.copy;
    CompDiff {
        dims,
        only_audio: visual_eq && text_eq && !audio_eq,
        only_text: visual_eq && !text_eq,
        identical: visual_eq && text_eq && audio_eq,
    }
}

fn boxes_close(a: Option<[f32; 4]>, b: Option<[f32; 4]>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() < 0.05),
        _ => false,
    }
}

pub fn composition_rule(
    new: &Composition,
    old: &Composition,
    cfg: &GateConfig,
) -> Option<(Rule, Vec<Dimension>)> {
    if preset_mismatch(Some(new), Some(old), cfg) {
        return None;
    }
    let d = compare_compositions(new, old, cfg);
    let dims: BTreeSet<Dimension> = d.dims.iter().map(|(x, _)| *x).collect();
    let has = |x| dims.contains(&x);
    let rule = if d.identical {
        Rule::SameComposition
    } else if d.only_audio {
        Rule::OnlyAudio
    } else if d.only_text {
        Rule::OnlyText
    } else if has(Dimension::Character) && has(Dimension::Scene) {
        Rule::CharacterScene
    } else if has(Dimension::Type) && has(Dimension::Creative) {
        Rule::TypeCreative
    } else if dims.len() >= 3 {
        Rule::ThreeDimensions
    } else {
        return None;
    };
    Some((rule, dims.into_iter().collect()))
}

/// The gate's explanation of a composition duplicate (`composition_rule`) of what `old`
/// names (e.g. "variant 3f2a…").
pub fn composition_reason(old: &str, rule: Rule, dims: &[Dimension]) -> String {
    describe(&Match {
        file: PathBuf::from(old),
        variant_id: None,
        source: "plan",
        verdict: VerdictKind::Duplicate,
        visual_distance: None,
        q: None,
        c: None,
        reused_share: None,
        inliers: None,
        dimensions: dims.to_vec(),
        rule,
        evidence: vec![],
        split: None,
    })
}

/// Planned variants that would be duplicates by composition alone (before any pixel is
/// rendered): e.g. two variants that differ only in subtitle or only in audio. Each variant
/// is compared with the ones listed before it; the first offending earlier variant is named.
pub fn plan_warnings<'a, I>(variants: I, cfg: &GateConfig) -> Vec<PlanWarning>
where
    I: IntoIterator<Item = (&'a str, &'a Composition)>,
{
    let variants: Vec<(&str, &Composition)> = variants.into_iter().collect();
    let mut out = Vec::new();
    for (i, (id, c)) in variants.iter().enumerate() {
        let found = variants[..i]
            .iter()
            .find_map(|(old_id, oc)| composition_rule(c, oc, cfg).map(|r| (old_id, r)));
        if let Some((old_id, (rule, dims))) = found {
            out.push(PlanWarning {
                variant_id: id.to_string(),
                duplicate_of: old_id.to_string(),
                rule,
                reason: composition_reason(&format!("variant {old_id}"), rule, &dims),
                dimensions: dims,
            });
        }
    }
    out
}
