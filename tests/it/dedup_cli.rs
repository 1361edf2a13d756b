//! `factory dedup` / `factory library` as an operator runs them.

use crate::support::dedup::*;

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn a_reencoded_copy_of_a_library_file_is_reported_as_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib.sqlite");
    let orig = write_scene(dir.path(), "orig.png", 3, 800, 800);
    let other = write_scene(dir.path(), "other.png", 4, 800, 800);
    let copy = dir.path().join("copy.jpg");
    ffmpeg(&[
        "-i",
        orig.to_str().unwrap(),
        "-vf",
        "scale=600:600",
        "-q:v",
        "8",
        copy.to_str().unwrap(),
    ]);

    let st = factory()
        .args(["library", "add", "--library"])
        .arg(&lib)
        .arg(&orig)
        .status()
        .unwrap();
    assert!(st.success());

    let out = factory()
        .args(["dedup", "--json", "--library"])
        .arg(&lib)
        .arg(&copy)
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_lines(&out.stdout);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["verdict"], "duplicate");
    assert_eq!(v[0]["file"], copy.to_str().unwrap());
    let m = &v[0]["matches"][0];
    assert!(m["file"].as_str().unwrap().ends_with("orig.png"), "{m}");
    assert_eq!(m["rule"], "visual_edit");
    assert!(m["visual_distance"].as_u64().unwrap() <= 31);
    for key in [
        "q",
        "c",
        "reused_share",
        "inliers",
        "dimensions",
        "variant_id",
    ] {
        assert!(m.get(key).is_some(), "match lacks {key}: {m}");
    }
    assert!(v[0]["reason"]
        .as_str()
        .unwrap()
        .contains("change the background or the product"));
    assert_eq!(v[1]["verdict"], "distinct", "{}", v[1]);

    // --fail-on duplicate turns the finding into exit status 1 for CI.
    let st = factory()
        .args(["dedup", "--fail-on", "duplicate", "--library"])
        .arg(&lib)
        .arg(&copy)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(1));
    let st = factory()
        .args(["dedup", "--fail-on", "duplicate", "--library"])
        .arg(&lib)
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(st.status.code(), Some(0));
}

#[test]
fn within_a_batch_the_later_file_is_the_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_scene(dir.path(), "v1.png", 21, 640, 640);
    let b = dir.path().join("v2.jpg");
    ffmpeg(&[
        "-i",
        a.to_str().unwrap(),
        "-vf",
        "hflip",
        b.to_str().unwrap(),
    ]);
    let out = factory()
        .args(["dedup", "--json"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let v = json_lines(&out.stdout);
    assert_eq!(v[0]["verdict"], "distinct");
    assert_eq!(v[1]["verdict"], "duplicate");
    assert_eq!(v[1]["matches"][0]["source"], "batch");
}

#[test]
fn library_list_forget_retire() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib.sqlite");
    let a = write_scene(dir.path(), "a.png", 31, 400, 400);
    let b = write_scene(dir.path(), "b.png", 32, 400, 400);
    assert!(factory()
        .args(["library", "add", "--library"])
        .arg(&lib)
        .arg(&a)
        .arg(&b)
        .status()
        .unwrap()
        .success());
    let out = factory()
        .args(["library", "list", "--json", "--library"])
        .arg(&lib)
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    assert!(factory()
        .args(["library", "retire", "--library"])
        .arg(&lib)
        .arg(&a)
        .status()
        .unwrap()
        .success());
    // A retired entry no longer counts: the same file is not a duplicate of it.
    let out = factory()
        .args(["dedup", "--json", "--library"])
        .arg(&lib)
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(json_lines(&out.stdout)[0]["verdict"], "distinct");

    let id = list[1]["id"].to_string();
    assert!(factory()
        .args(["library", "forget", "--library"])
        .arg(&lib)
        .arg(&id)
        .status()
        .unwrap()
        .success());
    let out = factory()
        .args(["library", "list", "--json", "--library"])
        .arg(&lib)
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["retired"], true);

    let out = factory()
        .args(["library", "forget", "--library"])
        .arg(&lib)
        .arg("nope.png")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.png"));
}

/// A main image rendered into a library is recorded without keypoints (its verdict did not
/// need them); an agency's cropped, turned copy of it is still caught by `factory dedup`,
/// which measures them from the exported file then and keeps them for the next query.
#[test]
fn a_cropped_turned_copy_of_a_rendered_output_is_caught_and_its_keypoints_are_kept() {
    let p = crate::support::project::Project::new();
    let lib = p.path("lib.sqlite");
    render_then_catch_a_cropped_turned_copy(&p, lib.to_str().unwrap(), &|| {
        let c = rusqlite::Connection::open(&lib).unwrap();
        c.query_row("SELECT COUNT(*) FROM features", [], |r| r.get(0))
            .unwrap()
    });
}

/// The scenario above against `library` (a path or a `postgres://` URL); `keypoint_rows`
/// counts the library's stored keypoint sets.
pub(crate) fn render_then_catch_a_cropped_turned_copy(
    p: &crate::support::project::Project,
    library: &str,
    keypoint_rows: &dyn Fn() -> i64,
) {
    write_scene(&p.path("assets"), "scene.png", 11, 900, 900);
    p.write(
        "presets/square.toml",
        r#"
platform = "Shop"
label = "Square"
description = "480×480 main image"
kind = "image"
width = 480
height = 480
fps = 30

[image]
format = "jpeg"
quality = 90
"#,
    );
    p.write(
        "t.toml",
        r##"
[template]
name = "lazy keypoints"
version = 1
kind = "image"

[output]
presets = ["square"]
regions = ["US"]

[dedup]
policy = "warn"

[[background]]
id = "scene"
image = "assets/scene.png"
fit = "cover"

[[subtitle]]
id = "hook"
text = { en = "Run lighter." }
size = 0.08
"##,
    );
    let o = p.factory(&[
        "render",
        "t.toml",
        "--out",
        "out",
        "--progress",
        "plain",
        "--library",
        library,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let exported = p.path("out/US/US_Shop_Square_v1.jpg");
    assert!(exported.exists());
    assert_eq!(
        keypoint_rows(),
        0,
        "nothing asked for the output's keypoints"
    );

    let copy = p.path("copy.jpg");
    ffmpeg(&[
        "-i",
        exported.to_str().unwrap(),
        "-vf",
        "crop=iw*0.8:ih*0.8,rotate=5*PI/180:fillcolor=white",
        "-q:v",
        "4",
        copy.to_str().unwrap(),
    ]);
    let out = factory()
        .args(["dedup", "--json", "--library", library])
        .arg(&copy)
        .output()
        .unwrap();
    let v = json_lines(&out.stdout);
    assert_eq!(v[0]["verdict"], "duplicate", "{}", v[0]);
    let m = &v[0]["matches"][0];
    assert!(
        m["file"]
            .as_str()
            .unwrap()
            .ends_with("US_Shop_Square_v1.jpg"),
        "{m}"
    );
    assert_eq!(m["rule"], "visual_edit", "{m}");
    assert!(m["inliers"].as_u64().unwrap() >= 30, "{m}");
    assert_eq!(
        keypoint_rows(),
        1,
        "measured once, then kept in the library"
    );
}

/// Two outputs on different backgrounds whose product files differ only in colour: inside
/// `factory render` the gate asks the two product files whether they show the same thing
/// (once per pair, `dedup::product`), and the product dimension repeats — "similar", where
/// the compositions alone (other files, other copy) would call them unrelated.
#[test]
fn a_recoloured_product_file_on_another_background_repeats_the_product_dimension() {
    let p = crate::support::project::Project::new();
    write_scene(&p.path("assets"), "bg-a.png", 3, 900, 900);
    write_scene(&p.path("assets"), "bg-b.png", 4, 900, 900);
    let cutout = |shift: u8| {
        image::RgbaImage::from_fn(400, 400, |x, y| {
            let (dx, dy) = (x as i32 - 200, y as i32 - 200);
            if dx * dx + dy * dy > 180 * 180 {
                return image::Rgba([0, 0, 0, 0]);
            }
            let v = (((x * 7) ^ (y * 13)) % 251) as u8;
            image::Rgba([v.wrapping_add(shift), v / 2, 255 - v, 255])
        })
    };
    cutout(0).save(p.path("assets/p1.png")).unwrap();
    cutout(60).save(p.path("assets/p2.png")).unwrap();
    p.write(
        "presets/square.toml",
        "platform = \"Shop\"\nlabel = \"Square\"\ndescription = \"480×480\"\nkind = \"image\"\nwidth = 480\nheight = 480\nfps = 30\n\n[image]\nformat = \"jpeg\"\nquality = 90\n",
    );
    p.write(
        "t.toml",
        r##"
[template]
name = "recoloured product"
version = 1
kind = "image"

[output]
presets = ["square"]
regions = ["US"]

[variants]
strategy = "chosen"
pick = [
  { background = "a", product = "p1", subtitle = "s1" },
  { background = "b", product = "p2", subtitle = "s2" },
]

[dedup]
policy = "warn"

[[background]]
id = "a"
image = "assets/bg-a.png"
fit = "cover"

[[background]]
id = "b"
image = "assets/bg-b.png"
fit = "cover"

[[product]]
id = "p1"
source = "assets/p1.png"
scale = 0.5

[[product]]
id = "p2"
source = "assets/p2.png"
scale = 0.5

[[subtitle]]
id = "s1"
text = { en = "Run lighter." }
size = 0.08

[[subtitle]]
id = "s2"
text = { en = "New season, new pace." }
size = 0.08
"##,
    );
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("out/manifest.json")).unwrap())
            .unwrap();
    let rows = m["outputs"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["dedup"], "distinct", "{}", rows[0]);
    assert_eq!(rows[1]["dedup"], "similar", "{}", rows[1]);
    let reason = rows[1]["dedup_reason"].as_str().unwrap();
    assert!(
        reason.contains("character/product") && reason.contains("US_Shop_Square_v1.jpg"),
        "{reason}"
    );
    // The output it matched by its name in the batch, not by the staged file it was scored as.
    assert!(
        reason.contains(" of US/US_Shop_Square_v1.jpg;") && !reason.contains(".staging"),
        "{reason}"
    );
}
