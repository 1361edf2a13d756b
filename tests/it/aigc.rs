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
    assert!(lines
        .next()
        .unwrap()
        .ends_with(",lint,licence_expires,ai_generated"));
    assert_eq!(lines.filter(|l| l.ends_with(",true")).count(), 2, "{csv}");
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
