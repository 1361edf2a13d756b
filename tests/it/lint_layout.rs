//! Layout lint (issue #12): captions and badges measured where the renderer draws them —
//! outside the safe zone, over the product, too much of the frame, too little contrast with
//! the plate behind them — with traps that must not fire.

use crate::support::lint::{column_of, LintProject};
use crate::support::project::stderr;

/// A 200×200 image preset with a 20 px safe zone all round.
const PRESET: &str = r#"
platform = "Test"
label = "Post"
description = "200×200 post with a safe zone"
kind = "image"
width = 200
height = 200

[image]
format = "png"

[safe_zone]
top = 20
bottom = 20
left = 20
right = 20
"#;

/// White background, a red disc in the centre; each subtitle and badge either trips one
/// rule or is a trap for it.
const LAYOUT: &str = r##"[template]
name = "layout"
duration = 2

[output]
presets = ["post"]
regions = ["US"]

[[background]]
id = "white"
color = "#ffffff"

[[product]]
id = "disc"
source = "disc.png"
scale = 0.4

[[subtitle]]
id = "dark"
text = "Dark"
size = 0.08
color = "#111111"
position = "bottom"

[[subtitle]]
id = "pale"
text = "Pale"
size = 0.08
color = "#ffff66"
position = "bottom"

[[subtitle]]
id = "middle"
text = "Middle"
size = 0.08
color = "#111111"
position = "center"

[[badge]]
id = "beside"
shape = "pill"
text = "NEW"
fill = "#1b5e20"
text_color = "#ffffff"
anchor = "top-right"
size = 0.25

[[badge]]
id = "off"
shape = "pill"
text = "SALE"
fill = "#1b5e20"
text_color = "#ffffff"
anchor = "top-left"
size = 0.25
offset = [-0.2, 0.0]
"##;

fn project() -> LintProject {
    let p = LintProject::new(LAYOUT);
    p.write("presets/post.toml", PRESET);
    let mut disc = image::RgbaImage::new(100, 100);
    for (x, y, px) in disc.enumerate_pixels_mut() {
        let d = ((x as f32 - 49.5).powi(2) + (y as f32 - 49.5).powi(2)).sqrt();
        let a = (48.0 - d).clamp(0.0, 1.0);
        *px = image::Rgba([200, 30, 30, (a * 255.0) as u8]);
    }
    disc.save(p.path("disc.png")).unwrap();
    p
}

#[test]
fn each_layout_rule_fires_on_its_overlay_and_traps_do_not() {
    let p = project();
    let (code, findings) = p.lint_json_all(&["--presets-dir", "presets"]);
    assert_eq!(code, 0, "layout findings are warnings: {findings:#?}");
    let mut got: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {}:{}",
                f["rule"].as_str().unwrap(),
                f["option"].as_str().unwrap(),
                f["line"],
                f["column"]
            )
        })
        .collect();
    got.sort();
    let at = |line: usize, id: &str| format!("{line}:{}", column_of(LAYOUT, line, id));
    let want = vec![
        format!("layout/contrast pale {}", at(26, "\"pale\"")),
        format!("layout/over-product middle {}", at(33, "\"middle\"")),
        format!("layout/safe-zone off {}", at(49, "\"off\"")),
    ];
    assert_eq!(got, want, "{findings:#?}");
    for f in &findings {
        assert_eq!(f["severity"], "warning");
        assert_eq!(f["preset"], "post");
        assert_eq!(f["regions"], serde_json::json!(["US"]));
        assert_eq!(f["field"], "layout");
    }
    let by = |rule: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| panic!("{rule}"))
    };
    let contrast = by("layout/contrast");
    assert_eq!(contrast["pool"], "subtitle");
    assert_eq!(contrast["with"]["background"], "white");
    assert!(
        contrast["message"]
            .as_str()
            .unwrap()
            .contains(":1 (median)"),
        "{contrast}"
    );
    let over = by("layout/over-product");
    assert_eq!(over["with"]["product"], "disc");
    let safe = by("layout/safe-zone");
    assert_eq!(safe["pool"], "badge");
    assert_eq!(safe["phrase"], "SALE");
    assert!(
        safe["message"]
            .as_str()
            .unwrap()
            .contains("past the left edge"),
        "{safe}"
    );
    // Human output names the rule at the option's id.
    let o = p.factory(&["lint", "t.toml", "--presets-dir", "presets"]);
    let err = stderr(&o);
    assert!(err.contains("warning: layout/safe-zone"), "{err}");
    assert!(
        err.contains(&format!("t.toml:{}", at(49, "\"off\""))),
        "{err}"
    );
}

#[test]
fn text_covering_the_frame_is_reported_once_per_caption() {
    // Two lines at 40 px: with a badge (both options are 0.25 pills) over a fifth of the
    // 200×200 frame. The fitter caps a caption's box (147×64 px here), so a caption alone
    // does not get there.
    let template = LAYOUT.replace(
        "text = \"Dark\"\nsize = 0.08",
        "text = \"Dark roast daily\"\nsize = 0.2",
    );
    let p = project();
    p.write("t.toml", &template);
    let (_, findings) = p.lint_json_all(&["--presets-dir", "presets"]);
    let share: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["rule"] == "layout/text-share")
        .collect();
    assert!(!share.is_empty(), "{findings:#?}");
    assert!(share.iter().all(|f| f["option"] == "dark"), "{share:#?}");
    assert!(share[0]["message"]
        .as_str()
        .unwrap()
        .contains("Meta advises under 20 %"));
}

/// `factory lint TEMPLATE --json` from the repository, with its exit code and findings.
fn lint_shipped(template: &std::path::Path, extra: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let o = crate::support::factory()
        .args(["lint", template.to_str().unwrap(), "--json"])
        .args(extra)
        .output()
        .expect("run factory");
    let findings = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", stderr(&o)));
    (o.status.code().unwrap(), findings)
}

#[test]
fn demo_tmall_price_box_over_the_cup_is_caught_and_the_shipped_demo_is_clean() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let demo = std::path::PathBuf::from(format!("{repo}/templates/demo.toml"));
    assert_eq!(lint_shipped(&demo, &[]), (0, Vec::new()));

    // The cup as the demo placed it before: larger and higher, under the price box.
    let text = std::fs::read_to_string(&demo).unwrap();
    let old = text
        .replace("scale = 0.68\n", "scale = 0.75\n")
        .replace("offset = [0.0, 0.05]\n", "offset = [0.0, -0.04]\n")
        .replace("root = \"..\"\n", "")
        .replace("\"../samples/", &format!("\"{repo}/samples/"));
    assert_ne!(
        old, text,
        "the demo's product placement moved; update this test"
    );
    let dir = tempfile::tempdir().unwrap();
    let before = dir.path().join("demo.toml");
    std::fs::write(&before, &old).unwrap();
    let (code, findings) = lint_shipped(&before, &["--allow-outside-root"]);
    assert_eq!(code, 0, "{findings:#?}");
    let hit = findings
        .iter()
        .find(|f| {
            f["rule"] == "layout/over-product"
                && f["preset"] == "tmall-main"
                && f["option"] == "price-hook"
        })
        .unwrap_or_else(|| panic!("no price box over the cup: {findings:#?}"));
    assert_eq!(hit["with"]["product"], "cup");
    assert!(
        hit["message"]
            .as_str()
            .unwrap()
            .contains("26 % of its box lies over the product's own pixels on tmall-main"),
        "{hit}"
    );
    let line = old
        .lines()
        .position(|l| l.contains("id = \"price-hook\""))
        .unwrap()
        + 1;
    assert_eq!(hit["line"], line);
}
