//! End-to-end tests: the real `factory` binary on tiny templates, outputs decoded back with
//! ffprobe and read as a user would.

use std::path::Path;

use crate::support::project::*;

const TEMPLATE: &str = r##"
[template]
name = "sneaker"
version = 2
kind = "both"
duration = 1.0
fps = 10

[output]
presets = ["tiny-video", "tiny-image"]
regions = ["US", "SA"]
tracking = { utm_source = "{platform}", utm_medium = "paid_social", utm_campaign = "{template}", utm_content = "{variant}" }
landing_url = "https://shop.example.com/p/sneaker"

[[background]]
id = "photo"
image = "assets/photo.png"
fit = "cover"

[[background]]
id = "clip"
video = "assets/clip.mp4"
loop = true

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.5

[[subtitle]]
id = "hook"
text = { en = "Run lighter.", ar = "اركض بخفة" }
size = 0.1
min_size = 0.05

[[audio]]
id = "tone"
source = "assets/music.m4a"
fade_out = 0.3
"##;

fn render(p: &Project, template: &str, out: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["render", template, "--out", out, "--progress", "plain"];
    args.extend_from_slice(extra);
    p.factory(&args)
}

#[test]
fn render_makes_every_output_named_stamped_verified_and_listed() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let o = render(&p, "t.toml", "out", &[]);
    assert!(o.status.success(), "render failed:\n{}", stderr(&o));

    let out = p.path("out");
    let m = manifest(&out);
    let rows = m["outputs"].as_array().unwrap();
    let files: Vec<&str> = rows.iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        // The main image shows only the product on white: variant 2's is variant 1's file,
        // listed right after it.
        [
            "US/US_Tiny_1s_Video_v1.mp4",
            "US/US_Shop_Main_v1.jpg",
            "US/US_Shop_Main_v1.jpg",
            "US/US_Tiny_1s_Video_v2.mp4",
            "SA/SA_Tiny_1s_Video_v1.mp4",
            "SA/SA_Shop_Main_v1.jpg",
            "SA/SA_Shop_Main_v1.jpg",
            "SA/SA_Tiny_1s_Video_v2.mp4",
        ]
    );
    assert_eq!(rows[2]["variant"], 2);
    assert_eq!(rows[2]["same_output_as"], rows[1]["variant_id"]);
    for r in rows {
        assert_eq!(r["status"], "exported", "{r}");
        let path = out.join(r["file"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(r["bytes"].as_u64().unwrap(), bytes.len() as u64);
        assert_eq!(
            r["sha256"].as_str().unwrap(),
            creative_factory::plan::sha256_file(&path).unwrap()
        );
        let url = r["tracking_url"].as_str().unwrap();
        assert!(
            url.starts_with("https://shop.example.com/p/sneaker?utm_campaign=sneaker&utm_content="),
            "{url}"
        );
        assert!(url.contains(r["variant_id"].as_str().unwrap()));
    }

    // The video as ffprobe sees it: H.264 High yuv420p at the preset size, 10 frames, AAC
    // stereo 48 kHz, one second, with our tags.
    let v = &rows[0];
    let probe = ffprobe(&out.join(v["file"].as_str().unwrap()));
    let streams = probe["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(video["codec_name"], "h264");
    assert_eq!(video["profile"], "High");
    assert_eq!(video["pix_fmt"], "yuv420p");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(72), Some(128))
    );
    assert_eq!(video["nb_read_frames"], "10");
    let audio = streams
        .iter()
        .find(|s| s["codec_type"] == "audio")
        .expect("an audio track");
    assert_eq!(audio["codec_name"], "aac");
    assert_eq!(audio["sample_rate"], "48000");
    assert_eq!(audio["channels"], 2);
    let dur: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((dur - 1.0).abs() < 0.1, "duration {dur}");
    let tags = &probe["format"]["tags"];
    assert_eq!(tags["variant_id"], v["variant_id"]);
    assert_eq!(tags["template"], "sneaker");
    assert_eq!(tags["template_version"], "2");
    assert_eq!(tags["region"], "US");
    assert_eq!(tags["utm_medium"], "paid_social");

    // The image: right size, and its XMP stamp read back by `factory inspect`.
    let img_path = out.join(rows[1]["file"].as_str().unwrap());
    let img = image::open(&img_path).unwrap();
    assert_eq!((img.width(), img.height()), (80, 80));
    let o = p.factory(&["inspect", img_path.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inspected: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(inspected["stamp"]["variant_id"], rows[1]["variant_id"]);
    assert_eq!(inspected["stamp"]["locale"], "en");

    // Region packs carry their own manifests; the CSV has a header and a row per output.
    let sa = manifest(&out.join("SA"));
    assert_eq!(sa["outputs"].as_array().unwrap().len(), 4);
    assert_eq!(sa["outputs"][0]["file"], "SA_Tiny_1s_Video_v1.mp4");
    let csv = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    assert_eq!(csv.lines().count(), 9);
    assert!(csv
        .lines()
        .next()
        .unwrap()
        .starts_with("file,status,variant,variant_id"));

    // Nothing but the packs, manifests and the review page is left behind.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "SA",
            "US",
            "manifest.csv",
            "manifest.json",
            "report.html",
            "report_files"
        ]
    );
}

#[test]
fn main_image_rules_give_white_background_big_product_and_no_text() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let o = render(
        &p,
        "t.toml",
        "out",
        &["--presets", "tiny-image", "--regions", "US"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&p.path("out"));
    let row = &m["outputs"][0];
    assert!(
        row["rules_applied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "white background"),
        "{row}"
    );
    let img = image::open(p.path("out").join(row["file"].as_str().unwrap()))
        .unwrap()
        .to_rgb8();
    for (x, y) in [(0, 0), (79, 0), (0, 79), (79, 79)] {
        let px = img.get_pixel(x, y).0;
        assert!(
            px.iter().all(|&c| c >= 250),
            "corner ({x},{y}) is {px:?}, not white"
        );
    }
    // The red disc spans at least 85 % of the frame across its middle row.
    let red = (0..80).filter(|&x| {
        let p = img.get_pixel(x, 40).0;
        p[0] > 150 && p[1] < 120
    });
    assert!(red.count() >= 66, "product must fill ≥ 85 % of the frame");
}

#[test]
fn jobs_1_and_2_give_identical_manifests() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let a = render(&p, "t.toml", "a", &["--jobs", "1"]);
    let b = render(&p, "t.toml", "b", &["--jobs", "2"]);
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        stderr(&a),
        stderr(&b)
    );
    let ma = manifest(&p.path("a"));
    let mb = manifest(&p.path("b"));
    // Everything the plan decides — order, names, ids, modules, tracking, verdicts — and the
    // bytes of every output: x264 codes with a fixed number of slices, not frame threads, and
    // the writer pins the memory x264 reads without writing (README, *Determinism*).
    let strip = |m: &serde_json::Value| -> serde_json::Value {
        let mut m = m.clone();
        // The run record says when each run started and ended: the runs, not the outputs.
        m.as_object_mut().unwrap().remove("run");
        m
    };
    assert_eq!(
        strip(&ma),
        strip(&mb),
        "same template, same manifest and bytes, whatever --jobs is"
    );
    let over_clip = ma["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| crate::support::project::over_clip(r))
        .count();
    assert_eq!(
        over_clip, 2,
        "videos over the background clip are among the outputs compared by sha256"
    );
}

#[test]
fn plan_is_deterministic_and_lists_choices() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let a = p.factory(&["plan", "t.toml", "--json"]);
    let b = p.factory(&["plan", "t.toml", "--json"]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(a.stdout, b.stdout);
    let plan: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(plan["variants"].as_array().unwrap().len(), 2);
    let jobs = plan["jobs"].as_array().unwrap();
    // Variant 2 differs in the background, which the white main image does not show: it is
    // served by variant 1's job there.
    assert_eq!(jobs.len(), 6);
    assert_eq!(jobs[1]["same_output"][0]["variant_n"], 2);
    assert_eq!(
        jobs[1]["same_output"][0]["own_name"],
        "US/US_Shop_Main_v2.jpg"
    );
    assert_eq!(jobs[0]["modules"]["background"], "photo");
    assert_eq!(jobs[2]["modules"]["background"], "clip");
    assert_eq!(jobs[4]["locale"], "ar");
    // Ids differ between presets and regions of the same variant and are stable hex.
    assert_ne!(jobs[0]["variant_id"], jobs[1]["variant_id"]);
    assert_ne!(jobs[0]["variant_id"], jobs[4]["variant_id"]);
    assert_eq!(jobs[0]["variant_id"].as_str().unwrap().len(), 16);

    // A human table too.
    let o = p.factory(&[
        "plan",
        "t.toml",
        "--regions",
        "SA",
        "--presets",
        "tiny-video",
    ]);
    let text = stdout(&o);
    assert!(text.contains("SA/SA_Tiny_1s_Video_v2.mp4"), "{text}");
    assert!(!text.contains("US/"), "{text}");
}

#[test]
fn sample_strategy_is_seeded_and_respects_exclusions() {
    let p = Project::new();
    let mut t = String::from(
        "[template]\nname = \"grid\"\nkind = \"image\"\n\n[output]\npresets = [\"tiny-post\"]\nregions = [\"US\"]\n\n[variants]\nstrategy = \"sample\"\ncount = 5\nseed = 7\nexclude = [{ background = \"c0\" }]\n",
    );
    for i in 0..6 {
        t.push_str(&format!(
            "\n[[background]]\nid = \"c{i}\"\ncolor = \"#{i}{i}{i}\"\n"
        ));
    }
    for i in 0..4 {
        t.push_str(&format!(
            "\n[[effects]]\nid = \"e{i}\"\ngrade = {{ brightness = 0.0{i} }}\n"
        ));
    }
    p.write("grid.toml", &t);
    let a = p.factory(&["plan", "grid.toml", "--json"]);
    assert!(a.status.success(), "{}", stderr(&a));
    let b = p.factory(&["plan", "grid.toml", "--json"]);
    assert_eq!(a.stdout, b.stdout, "same seed, same sample");
    let plan: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let jobs = plan["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 5);
    assert!(jobs.iter().all(|j| j["modules"]["background"] != "c0"));
}

fn corrupt_template(p: &Project) {
    std::fs::write(p.path("assets/broken.png"), "this is not a picture").unwrap();
    let t = TEMPLATE.replace(
        "[[subtitle]]",
        "[[product]]\nid = \"broken\"\nsource = \"assets/broken.png\"\n\n[[subtitle]]",
    );
    p.write("t.toml", &t);
}

#[test]
fn a_corrupt_input_fails_only_its_variants_and_names_the_file() {
    let p = Project::new();
    corrupt_template(&p);
    let o = render(
        &p,
        "t.toml",
        "out",
        &["--regions", "US", "--presets", "tiny-image"],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "some variants failed → exit 1\n{}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains("broken.png"),
        "the error names the file:\n{err}"
    );
    let m = manifest(&p.path("out"));
    let rows = m["outputs"].as_array().unwrap();
    let failed: Vec<_> = rows.iter().filter(|r| r["status"] == "failed").collect();
    let ok: Vec<_> = rows.iter().filter(|r| r["status"] == "exported").collect();
    assert_eq!((failed.len(), ok.len()), (2, 2));
    for r in &failed {
        assert_eq!(r["modules"]["product"], "broken");
        assert!(r["error"].as_str().unwrap().contains("broken.png"));
        assert!(
            !p.path("out").join(r["file"].as_str().unwrap()).exists(),
            "no file for a failed variant"
        );
    }
    for r in &ok {
        assert!(p.path("out").join(r["file"].as_str().unwrap()).exists());
    }
    assert!(!std::fs::read_dir(p.path("out")).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(".staging")));
}

#[test]
fn fail_fast_stops_at_the_first_failure() {
    let p = Project::new();
    corrupt_template(&p);
    let o = render(
        &p,
        "t.toml",
        "out",
        &[
            "--regions",
            "US",
            "--presets",
            "tiny-video",
            "--jobs",
            "1",
            "--fail-fast",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let m = manifest(&p.path("out"));
    let statuses: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    // Order: v1 (disc) ok, v2 (broken) fails, the rest never start.
    assert_eq!(statuses, ["exported", "failed", "skipped", "skipped"]);
}

#[test]
fn validate_reports_every_error_with_its_line() {
    let p = Project::new();
    let bad = TEMPLATE
        .replace(
            "\"tiny-video\", \"tiny-image\"",
            "\"tiny-vidoe\", \"tiny-image\"",
        )
        .replace("assets/product.png", "assets/nope.png")
        .replace("fit = \"cover\"", "fit = \"cover\"\ncolour = \"#fff\"");
    p.write("bad.toml", &bad);
    let o = p.factory(&["validate", "bad.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("bad.toml:"), "{err}");
    assert!(err.contains("tiny-vidoe"), "unknown preset reported: {err}");
    assert!(err.contains("nope.png"), "missing asset reported: {err}");
    assert!(err.contains("colour"), "unknown key reported: {err}");
    let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        err.contains(&format!("bad.toml:{}:", line_of("tiny-vidoe"))),
        "{err}"
    );
    assert!(
        err.contains(&format!("bad.toml:{}:", line_of("nope.png"))),
        "{err}"
    );

    p.write("broken.toml", "[template]\nname = \"x\nduration = 3\n");
    let o = p.factory(&["validate", "broken.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("broken.toml:2:"),
        "malformed TOML points at its line: {}",
        stderr(&o)
    );

    p.write("ok.toml", TEMPLATE);
    let o = p.factory(&["validate", "ok.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("8 output(s)"), "{}", stdout(&o));
}

#[test]
fn assets_may_not_escape_the_template_directory_or_be_urls() {
    let p = Project::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::copy(p.path("assets/photo.png"), outside.path().join("photo.png")).unwrap();
    let rel = pathdiff(outside.path(), &p.path("sub"));
    let t = TEMPLATE
        .replace("assets/photo.png", &format!("{rel}/photo.png"))
        .replace("assets/clip.mp4", "http://example.com/clip.mp4");
    p.write("sub/t.toml", &t.replace("assets/", "../assets/"));
    let o = p.factory(&["validate", "sub/t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("outside") || err.contains("escape"), "{err}");
    assert!(err.contains("http://example.com/clip.mp4"), "{err}");
}

fn pathdiff(target: &Path, from: &Path) -> String {
    let depth = from.components().count();
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str("../");
    }
    s.push_str(target.to_str().unwrap().trim_start_matches('/'));
    s
}

#[test]
fn text_that_cannot_fit_and_unknown_fonts_fail_their_variant_clearly() {
    let p = Project::new();
    let t = TEMPLATE.replace("size = 0.1\nmin_size = 0.05", "size = 0.5\nmin_size = 0.5");
    p.write("t.toml", &t);
    let o = render(
        &p,
        "t.toml",
        "out",
        &["--regions", "US", "--presets", "tiny-video"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("does not fit") && err.contains("Run lighter."),
        "{err}"
    );

    let t = TEMPLATE.replace("size = 0.1", "font = [\"No Such Font Family\"]\nsize = 0.1");
    p.write("t2.toml", &t);
    let o = render(
        &p,
        "t2.toml",
        "out2",
        &["--regions", "US", "--presets", "tiny-video"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("No Such Font Family"), "{}", stderr(&o));
}

#[test]
fn presets_lists_the_platforms() {
    let p = Project::new();
    let o = p.factory(&["presets"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for id in [
        "tiktok",
        "reels",
        "shorts",
        "feed-4x5",
        "tmall-main",
        "amazon-main",
        "xiaohongshu",
        "tiny-video",
    ] {
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
    assert!(text.contains("1080×1920"));
}

const REGIONAL: &str = r##"
[template]
name = "pack"
kind = "image"

[output]
presets = ["still"]
regions = ["US", "SA", "JP", "TH", "IN", "CN"]

[[background]]
id = "navy"
color = "#102040"

[[subtitle]]
id = "hook"
size = 0.08
color = "#ffffff"
position = "center"

[subtitle.text]
en = "Fresh roast, delivered."
ar = "تحميص طازج يصل إلى بابك."
ja = "焙煎したてを、あなたの元へ。"
th = "กาแฟคั่วสดส่งตรงถึงบ้าน"
hi = "ताज़ा भुनी कॉफ़ी, आपके दरवाज़े तक।"
zh-CN = "新鲜烘焙，送货上门。"
"##;

const STILL: &str = r#"
platform = "Still"
label = "Main"
description = "240×240 PNG"
kind = "image"
width = 240
height = 240
fps = 30

[image]
format = "png"
quality = 90
"#;

#[test]
fn regional_pack_draws_every_script_with_its_own_font() {
    let p = Project::new();
    p.write("presets/still.toml", STILL);
    p.write("pack.toml", REGIONAL);
    let o = render(&p, "pack.toml", "out", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&p.path("out"));
    let expect = [
        ("US", "Noto Sans"),
        ("SA", "Noto Sans Arabic"),
        ("JP", "Noto Sans CJK JP"),
        ("TH", "Noto Sans Thai"),
        ("IN", "Noto Sans Devanagari"),
        ("CN", "Noto Sans CJK SC"),
    ];
    let rows = m["outputs"].as_array().unwrap();
    assert_eq!(rows.len(), expect.len());
    for (row, (region, font)) in rows.iter().zip(expect) {
        assert_eq!(row["region"], region);
        // Each pack is its own directory with its own manifest.
        assert!(p.path("out").join(region).join("manifest.json").exists());
        let fonts: Vec<&str> = row["fonts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert!(
            fonts.contains(&font),
            "{region}: drawn with {fonts:?}, expected {font}"
        );
        // Text is present: the centre band holds many pixels that are not the background.
        let img = image::open(p.path("out").join(row["file"].as_str().unwrap()))
            .unwrap()
            .to_rgb8();
        let ink = img
            .enumerate_pixels()
            .filter(|(_, y, px)| (60..180).contains(y) && px.0[0] > 128)
            .count();
        assert!(
            ink > 150,
            "{region}: only {ink} text pixels in the caption band"
        );
    }
}

#[test]
fn a_corrupt_input_is_reported_as_bad_input_in_manifest_and_events() {
    let p = Project::new();
    corrupt_template(&p);
    let o = p.factory(&[
        "render",
        "t.toml",
        "--out",
        "out",
        "--progress",
        "json",
        "--regions",
        "US",
        "--presets",
        "tiny-video",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    let m = manifest(&p.path("out"));
    for r in m["outputs"].as_array().unwrap() {
        if r["status"] == "failed" {
            assert_eq!(r["error_kind"], "bad_input", "{r}");
        } else {
            assert!(r["error_kind"].is_null(), "{r}");
        }
    }
    // The CSV carries the kind in its column before the inputs (`path=sha256;…`, no comma).
    let csv = std::fs::read_to_string(p.path("out").join("manifest.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .ends_with(",error_kind,inputs,same_output_as,lint,licence_expires,ai_generated,ai_label,review,review_by,review_at,review_note,ad_title,ad_description,ad_headline,ad_long_headline"));
    let kinds: Vec<&str> = lines.map(|l| l.rsplit(',').nth(14).unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "bad_input").count(), 2);

    // The JSON event stream says the same for each failed job.
    let finished: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "job_finished" && e["status"] == "failed")
        .collect();
    assert_eq!(finished.len(), 2);
    for e in &finished {
        assert_eq!(e["error_kind"], "bad_input", "{e}");
        assert!(e["error"].as_str().unwrap().contains("broken.png"), "{e}");
    }
}

#[test]
fn a_second_render_into_a_busy_directory_is_refused_and_names_the_holder() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let out = p.path("out");
    // A run in progress: its marked staging names it, and it holds the directory's lock.
    let staging = out.join(".staging-4242");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(
        staging.join(".factory-staging"),
        r#"{"pid":4242,"host":"render-7","started":1796215872}"#,
    )
    .unwrap();
    // `-o`: the lock stays with `flock` itself, so killing it is killing the holder. It waits
    // for the lock (`-w`, not `-n`): the probe below takes the lock for an instant, and a
    // holder started in that instant must not give up.
    let mut holder = std::process::Command::new("flock")
        .args(["-w", "30", "-o", out.to_str().unwrap(), "sleep", "60"])
        .spawn()
        .unwrap();
    let mut held = false;
    for _ in 0..300 {
        let free = std::process::Command::new("flock")
            .args(["-n", out.to_str().unwrap(), "true"])
            .status()
            .unwrap();
        if !free.success() {
            held = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(held, "the stand-in holder never took the lock");
    let o = render(&p, "t.toml", "out", &["--presets", "tiny-image"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "another factory run is writing this output directory: process 4242 on render-7 \
             (started 2026-12-02T12:51:12Z)"
        ),
        "{err}"
    );
    assert!(!out.join("manifest.json").exists(), "nothing was written");
    assert!(staging.exists(), "the live run's staging is not touched");

    // Once the holder is gone (as after `kill -9`), its lock is stale and the next run takes
    // it, clearing the dead run's staging.
    let o = render(&p, "t.toml", "out", &["--presets", "tiny-image"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!staging.exists());
}

#[test]
fn staging_cleanup_leaves_a_users_own_dot_staging_directory_alone() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let notes = p.path("out/.staging-notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("todo.txt"), "call the agency").unwrap();
    let o = render(&p, "t.toml", "out", &["--presets", "tiny-image"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(notes.join("todo.txt")).unwrap(),
        "call the agency"
    );
}
