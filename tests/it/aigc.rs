//! `ai_generated = true` on an asset: every output that shows it carries the GB 45438-2025
//! implicit label (`AIGC`, JSON), read back from the files the way an operator or platform
//! would (ffprobe for MP4, `factory inspect --json` for stills); outputs that do not show it
//! carry none, and the manifest says which is which.

use std::path::Path;

use serde_json::Value;

use crate::support::project::*;

fn template(ai_background: bool, ai_product: bool) -> String {
    format!(
        r##"
[template]
name = "aigc"
kind = "both"
duration = 1.0
fps = 10

[output]
presets = ["tiny-video", "tiny-post", "tiny-image"]
regions = ["US"]

[dedup]
policy = "warn"

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.9
ai_generated = {ai_product}

[[background]]
id = "dream"
image = "assets/photo.png"
ai_generated = {ai_background}

[[background]]
id = "plain"
color = "#227777"
"##
    )
}

fn rows(out: &Path) -> Vec<Value> {
    manifest(out)["outputs"].as_array().unwrap().clone()
}

/// The `AIGC` label a file carries, parsed, or `None`.
fn label(p: &Project, out: &Path, row: &Value) -> Option<Value> {
    let file = out.join(row["file"].as_str().unwrap());
    let text = if row["kind"] == "video" {
        ffprobe(&file)["format"]["tags"]["AIGC"]
            .as_str()
            .map(String::from)
    } else {
        let o = p.factory(&["inspect", file.to_str().unwrap(), "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["stamp"]["AIGC"].as_str().map(String::from)
    };
    text.map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("AIGC `{t}`: {e}")))
}

fn render(p: &Project, template: &str) -> std::path::PathBuf {
    p.write("t.toml", template);
    let o = p.factory(&["render", "t.toml", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    p.path("out")
}

#[test]
fn aigc_label_goes_on_outputs_that_show_the_generated_background_only() {
    let p = Project::new();
    let out = render(&p, &template(true, false));
    let rows = rows(&out);
    assert_eq!(rows.len(), 6, "2 variants × 3 presets");
    for r in &rows {
        let shows_dream = r["modules"]["background"] == "dream" && r["preset"] != "tiny-image";
        assert_eq!(r["ai_generated"], shows_dream, "{r}");
        match label(&p, &out, r) {
            Some(l) if shows_dream => {
                assert_eq!(l["Label"], "1", "{l}");
                assert_eq!(l["ContentProducer"], "creative-factory", "{l}");
                assert_eq!(l["ProduceID"], r["variant_id"], "{l}");
                for k in [
                    "ReservedCode1",
                    "ContentPropagator",
                    "PropagateID",
                    "ReservedCode2",
                ] {
                    assert!(l[k].is_string(), "{k} missing in {l}");
                }
            }
            None if !shows_dream => {}
            got => panic!("{} {}: label {got:?}", r["preset"], r["modules"]),
        }
    }
    // The white-background main image paints over the backdrop: the generated picture is
    // not in it, so neither is the label (and both variants share one file).
    let main: Vec<&Value> = rows
        .iter()
        .filter(|r| r["preset"] == "tiny-image")
        .collect();
    assert_eq!(main[0]["file"], main[1]["file"]);

    let csv = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(
        ",lint,licence_expires,ai_generated,ai_label,review,review_by,review_at,review_note,ad_title,ad_description,ad_headline,ad_long_headline"
    ));
    // US: no pack asks for a visible label; nobody has reviewed the batch yet; no ad text.
    assert_eq!(
        lines.filter(|l| l.ends_with(",true,,,,,,,,,")).count(),
        2,
        "{csv}"
    );
}

#[test]
fn aigc_label_on_the_white_background_image_when_the_product_is_generated() {
    let p = Project::new();
    let out = render(&p, &template(false, true));
    for r in rows(&out) {
        assert_eq!(r["ai_generated"], true, "{r}");
        let l = label(&p, &out, &r).unwrap_or_else(|| panic!("no label: {r}"));
        assert_eq!(l["Label"], "1");
    }
}

#[test]
fn aigc_still_xmp_uses_the_tc260_namespace() {
    let p = Project::new();
    let out = render(&p, &template(false, true));
    let r = rows(&out)
        .into_iter()
        .find(|r| r["preset"] == "tiny-post")
        .unwrap();
    let file = out.join(r["file"].as_str().unwrap());
    let bytes = std::fs::read(file).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("xmlns:TC260=\"http://www.tc260.org.cn/ns/AIGC/1.0/\""));
    assert!(text.contains("<TC260:AIGC>{&quot;Label&quot;:&quot;1&quot;"));
    assert!(text.contains("compositeWithTrainedAlgorithmicMedia"));
}

#[test]
fn aigc_marking_an_asset_later_renders_its_outputs_again() {
    let p = Project::new();
    let out = render(&p, &template(false, false));
    assert!(rows(&out).iter().all(|r| r["ai_generated"] == false));
    // Same pixels, same variant ids: only the label tells the old files from the new.
    let out = render(&p, &template(true, false));
    for r in rows(&out) {
        assert_eq!(
            label(&p, &out, &r).is_some(),
            r["ai_generated"] == true,
            "{r}"
        );
    }
    assert_eq!(
        rows(&out)
            .iter()
            .filter(|r| r["ai_generated"] == true)
            .count(),
        2
    );
}

/// A 320×320 still, big enough to measure a label's letters on.
const LABEL_POST: &str = r#"
platform = "Feed"
label = "Big"
description = "320×320 feed still"
kind = "image"
width = 320
height = 320
fps = 30

[image]
format = "png"
"#;

#[test]
fn a_region_whose_rule_pack_asks_for_it_gets_the_visible_label_on_generated_content() {
    let p = Project::new();
    p.write("presets/label-post.toml", LABEL_POST);
    let t = template(true, false)
        .replace(
            r#"presets = ["tiny-video", "tiny-post", "tiny-image"]"#,
            r#"presets = ["label-post"]"#,
        )
        .replace(r#"regions = ["US"]"#, r#"regions = ["US", "CN"]"#);
    let out = render(&p, &t);
    let rows = rows(&out);
    let labelled: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap(),
                r["modules"]["background"].as_str().unwrap(),
                r["ai_label"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        labelled,
        [
            ("US", "dream", "-"),
            ("US", "plain", "-"),
            ("CN", "dream", "AI生成"),
            ("CN", "plain", "-"),
        ],
        "only generated content, only where the CN pack applies"
    );
    let img = |region: &str| {
        let r = rows
            .iter()
            .find(|r| r["region"] == region && r["modules"]["background"] == "dream")
            .unwrap();
        image::open(out.join(r["file"].as_str().unwrap()))
            .unwrap()
            .to_rgb8()
    };
    let (cn, us) = (img("CN"), img("US"));
    // Where the two differ is the label: in the bottom-left corner.
    let changed: Vec<(u32, u32)> = cn
        .enumerate_pixels()
        .filter(|(x, y, px)| {
            let q = us.get_pixel(*x, *y);
            (0..3).any(|c| px[c].abs_diff(q[c]) > 24)
        })
        .map(|(x, y, _)| (x, y))
        .collect();
    assert!(!changed.is_empty(), "no label drawn");
    let (x1, y0) = (
        changed.iter().map(|c| c.0).max().unwrap(),
        changed.iter().map(|c| c.1).min().unwrap(),
    );
    assert!(
        x1 < 200 && y0 > 240,
        "label at the bottom left, got x ≤ {x1}, y ≥ {y0}"
    );
    // Its letters (white over the dark box) are at least 5 % of the shorter side tall.
    let ink: Vec<u32> = changed
        .iter()
        .filter(|&&(x, y)| cn.get_pixel(x, y).0.iter().all(|&v| v > 200))
        .map(|&(_, y)| y)
        .collect();
    let tall = ink.iter().max().unwrap() - ink.iter().min().unwrap() + 1;
    assert!(tall >= 16, "letters {tall} px tall, want ≥ 16 (5 % of 320)");
    // The implicit label is there too, as everywhere.
    let cn_row = rows
        .iter()
        .find(|r| r["region"] == "CN" && r["modules"]["background"] == "dream")
        .unwrap();
    assert!(label(&p, &out, cn_row).is_some());
}

#[test]
fn a_pack_that_starts_asking_for_a_label_renders_those_outputs_again() {
    let p = Project::new();
    let t = template(true, false).replace(
        r#"presets = ["tiny-video", "tiny-post", "tiny-image"]"#,
        r#"presets = ["tiny-post"]"#,
    );
    p.write("t.toml", &t);
    let run = |extra: &[&str]| {
        let mut args = vec!["render", "t.toml", "--out", "out"];
        args.extend_from_slice(extra);
        let o = p.factory(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        rows(&p.path("out"))
    };
    run(&[]);
    p.write(
        "rules/us-label.toml",
        "[pack]\nid = \"us-label\"\nversion = \"1\"\n\n[scope]\nregions = [\"US\"]\n\n[ai_label]\ntext = \"AI\"\n",
    );
    let again = run(&["--rules-dir", "rules"]);
    let got: Vec<(&str, &str)> = again
        .iter()
        .map(|r| {
            (
                r["modules"]["background"].as_str().unwrap(),
                r["ai_label"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(got, [("dream", "AI"), ("plain", "-")]);
    let rec = manifest(&p.path("out"))["run"].clone();
    assert_eq!(rec["rendered"], 1, "only the labelled output again: {rec}");
    assert_eq!(rec["reused"], 1, "{rec}");
}
