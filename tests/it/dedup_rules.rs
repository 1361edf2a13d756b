//! The platform rules on composed variants: exact dimensions from the composition,
//! perceptual ones when assets were renamed, and plan-time warnings.

use std::path::{Path, PathBuf};

use creative_factory::dedup::{
    plan_warnings, score, AssetRef, Candidate, Composition, Dimension, GateConfig, Rule,
    VerdictKind,
};
use image::Rgba;

use crate::support::synth;

const PRODUCT_BOX: [f32; 4] = [0.3, 0.3, 0.4, 0.4];
const TEXT_BOX: [f32; 4] = [0.05, 0.85, 0.9, 0.1];

fn asset(id: &str, sha: &str) -> AssetRef {
    AssetRef {
        id: id.into(),
        sha256: sha.into(),
    }
}

fn comp(bg: AssetRef, product: AssetRef, copy: &str, audio: &str) -> Composition {
    Composition {
        template: "sneaker".into(),
        preset: "tmall-main".into(),
        region: None,
        kind: creative_factory::dedup::MediaKind::Image,
        duration: 0.0,
        background: bg,
        product: Some(product),
        copy: copy.into(),
        audio: Some(asset(audio, audio)),
        effects: "none".into(),
        structure: "bg+product+caption".into(),
        product_box: Some(PRODUCT_BOX),
        text_boxes: vec![TEXT_BOX],
    }
}

/// Renders a still the way the engine composes one: background, product in its box, a
/// caption drawn as glyph-like strokes (pattern from `copy`) in the text box.
fn render(dir: &Path, name: &str, bg_seed: u64, product_seed: u64, copy: &str) -> PathBuf {
    let (w, h) = (600u32, 600u32);
    let mut img = synth::scene(bg_seed, w, h);
    let p = synth::product(
        product_seed,
        (PRODUCT_BOX[2] * w as f32) as u32,
        (PRODUCT_BOX[3] * h as f32) as u32,
    );
    synth::paste(
        &mut img,
        &p,
        (PRODUCT_BOX[0] * w as f32) as i64,
        (PRODUCT_BOX[1] * h as f32) as i64,
    );
    let y = (TEXT_BOX[1] * h as f32) as i32 + 8;
    for (k, ch) in copy.bytes().enumerate() {
        let hgt = 10 + (ch % 16) as u32;
        let r = imageproc::rect::Rect::at(40 + k as i32 * 16, y).of_size(9, hgt);
        imageproc::drawing::draw_filled_rect_mut(&mut img, r, Rgba([255, 255, 255, 255]));
    }
    let path = dir.join(name);
    image::DynamicImage::ImageRgba8(img)
        .to_rgb8()
        .save(&path)
        .unwrap();
    path
}

fn cand(path: PathBuf, n: u32, c: Composition) -> Candidate {
    Candidate {
        path,
        variant_id: Some(format!("v{n}")),
        variant_n: Some(n),
        composition: Some(c),
        created_at: 0,
        licences: Vec::new(),
    }
}

#[test]
fn a_batch_is_judged_on_the_four_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (bg1, bg2) = (asset("beach", "sha-beach"), asset("studio", "sha-studio"));
    let (pa, pb) = (
        asset("shoe-white", "sha-shoe-white"),
        asset("shoe-red", "sha-shoe-red"),
    );
    let cands = vec![
        // v1: the original.
        cand(
            render(d, "v1.png", 1, 1, "RUN LIGHTER"),
            1,
            comp(bg1.clone(), pa.clone(), "Run lighter.", "bgm1"),
        ),
        // v2: only the caption changed.
        cand(
            render(d, "v2.png", 1, 1, "RUN FASTER NOW"),
            2,
            comp(bg1.clone(), pa.clone(), "Run faster now.", "bgm1"),
        ),
        // v3: new background and product, new copy: distinct.
        cand(
            render(d, "v3.png", 2, 2, "NEW SEASON"),
            3,
            comp(bg2.clone(), pb.clone(), "New season, new pace.", "bgm1"),
        ),
        // v4: same background and product as v1 under renamed asset files, new copy:
        // character + scene repeat, found perceptually.
        cand(
            render(d, "v4.png", 1, 1, "TRY THEM ON"),
            4,
            comp(
                asset("beach-copy", "sha-other"),
                asset("shoe-w2", "sha-other-2"),
                "Try them on today",
                "bgm2",
            ),
        ),
        // v5: only the soundtrack differs from v3 (a still with audio is odd, but the rule is
        // the rule: audio alone never makes a creative new).
        cand(
            render(d, "v5.png", 2, 2, "NEW SEASON"),
            5,
            comp(bg2, pb, "New season, new pace.", "bgm9"),
        ),
    ];
    // Score in reverse order: the outcome must not depend on it (lower variant number wins).
    let mut rev = cands.clone();
    rev.reverse();
    let v = score(&rev, None, &GateConfig::default()).unwrap();
    let v: Vec<_> = v.into_iter().rev().collect();

    assert_eq!(v[0].verdict, VerdictKind::Distinct, "{:#?}", v[0]);
    assert_eq!(v[1].verdict, VerdictKind::Duplicate);
    assert_eq!(v[1].matches[0].rule, Rule::OnlyText);
    assert_eq!(v[1].matches[0].variant_id.as_deref(), Some("v1"));
    assert!(
        v[1].reason
            .contains("changing only the caption is not enough"),
        "{}",
        v[1].reason
    );

    assert_ne!(v[2].verdict, VerdictKind::Duplicate, "{:#?}", v[2]);

    assert_eq!(v[3].verdict, VerdictKind::Duplicate, "{:#?}", v[3]);
    let m = &v[3].matches[0];
    assert_eq!(m.variant_id.as_deref(), Some("v1"));
    assert!(
        m.dimensions.contains(&Dimension::Character) && m.dimensions.contains(&Dimension::Scene),
        "{m:#?}"
    );
    assert!(
        m.evidence.iter().any(|e| e.contains("product box")),
        "{:?}",
        m.evidence
    );

    assert_eq!(v[4].verdict, VerdictKind::Duplicate);
    assert_eq!(v[4].matches[0].rule, Rule::OnlyAudio);
    assert_eq!(v[4].matches[0].variant_id.as_deref(), Some("v3"));

    let json = serde_json::to_value(&v[1]).unwrap();
    assert_eq!(json["verdict"], "duplicate");
    assert_eq!(json["matches"][0]["rule"], "only_text");
}

#[test]
fn plan_warnings_flag_variants_that_differ_only_in_subtitle_or_audio() {
    let bg = asset("beach", "b");
    let p = asset("shoe", "s");
    let v1 = comp(bg.clone(), p.clone(), "Run lighter.", "a1");
    let v2 = comp(bg.clone(), p.clone(), "Run faster.", "a1");
    let v3 = comp(bg.clone(), p.clone(), "Run lighter.", "a2");
    let v4 = comp(
        asset("city", "c"),
        asset("boot", "t"),
        "Walk the city.",
        "a1",
    );
    let mut v5 = v2.clone();
    v5.preset = "tiktok".into();
    let list = [
        ("v1", &v1),
        ("v2", &v2),
        ("v3", &v3),
        ("v4", &v4),
        ("v5", &v5),
    ];
    let w = plan_warnings(list.iter().map(|(a, b)| (*a, *b)), &GateConfig::default());
    let by_id = |id: &str| w.iter().find(|x| x.variant_id == id);
    assert_eq!(by_id("v2").unwrap().rule, Rule::OnlyText);
    assert_eq!(by_id("v2").unwrap().duplicate_of, "v1");
    assert_eq!(by_id("v3").unwrap().rule, Rule::OnlyAudio);
    assert!(by_id("v4").is_none());
    assert!(
        by_id("v5").is_none(),
        "another platform's placement is not compared"
    );
    assert!(by_id("v2").unwrap().reason.contains("caption"));
}
