//! Timed and animated captions, checked the way a user would: render with the real binary,
//! decode the MP4 back to PNG frames with the ffmpeg CLI, and look at the pixels.

use image::RgbImage;

use crate::support::presets::{VideoPreset, TINY_VIDEO};
use crate::support::project::*;

/// 192×108 at 10 fps, no safe zone: room for a readable caption, quick to encode.
const CAP_VIDEO: VideoPreset = VideoPreset {
    platform: "Cap",
    description: "192×108 caption test canvas",
    width: 192,
    height: 108,
    crf: 18,
    extra: "",
    ..TINY_VIDEO
};

const BG: [u8; 3] = [32, 48, 64];

fn template(region: &str, subtitle: &str) -> String {
    format!(
        r##"
[template]
name = "captions"
version = 1
kind = "video"
duration = 2.0
fps = 10

[output]
presets = ["cap-video"]
regions = ["{region}"]

[[background]]
id = "plain"
color = "#203040"

[[subtitle]]
id = "copy"
size = 0.12
min_size = 0.06
position = "center"
{subtitle}
"##
    )
}

fn project() -> Project {
    let p = Project::new();
    p.write("presets/cap-video.toml", &CAP_VIDEO.toml());
    p
}

/// Renders and decodes every frame of the single output.
fn render_frames(p: &Project, region: &str, subtitle: &str) -> Vec<RgbImage> {
    p.write("t.toml", &template(region, subtitle));
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(
        o.status.success(),
        "render failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    let m = manifest(&p.path("out"));
    let file = m["outputs"][0]["file"]
        .as_str()
        .expect("one output")
        .to_string();
    decode_frames(&p.path("out").join(file), &p.path("frames"))
}

fn diff(p: &image::Rgb<u8>) -> u32 {
    (0..3)
        .map(|i| (p.0[i] as i32 - BG[i] as i32).unsigned_abs())
        .sum()
}

/// Pixels clearly not background (compression noise stays far below 90).
fn ink(f: &RgbImage) -> Vec<(u32, u32)> {
    f.enumerate_pixels()
        .filter(|(_, _, p)| diff(p) > 90)
        .map(|(x, y, _)| (x, y))
        .collect()
}

fn mean_diff(f: &RgbImage) -> f64 {
    f.pixels().map(|p| diff(p) as f64).sum::<f64>() / (f.width() * f.height()) as f64
}

fn bbox_area(f: &RgbImage) -> u32 {
    let px = ink(f);
    if px.is_empty() {
        return 0;
    }
    let (x0, x1) = (
        px.iter().map(|p| p.0).min().unwrap(),
        px.iter().map(|p| p.0).max().unwrap(),
    );
    let (y0, y1) = (
        px.iter().map(|p| p.1).min().unwrap(),
        px.iter().map(|p| p.1).max().unwrap(),
    );
    (x1 - x0 + 1) * (y1 - y0 + 1)
}

/// Share of ink pixels in the karaoke highlight colour (#ffd54f: much more red than blue,
/// even on anti-aliased edges) rather than the white base (as much blue as red).
fn highlight_share(f: &RgbImage) -> f64 {
    let px = ink(f);
    let hl = px
        .iter()
        .filter(|(x, y)| {
            let p = f.get_pixel(*x, *y).0;
            p[0] as i32 - p[2] as i32 > 45
        })
        .count();
    hl as f64 / px.len().max(1) as f64
}

#[test]
fn srt_cues_show_in_their_time_only() {
    let p = project();
    p.write("captions/en.srt", "\u{feff}1\r\n00:00:00,000 --> 00:00:00,800\r\nRun\r\n\r\n2\r\n00:00:01,200 --> 00:00:02,000\r\nGo\r\n");
    let frames = render_frames(&p, "US", r#"captions = { en = "captions/en.srt" }"#);
    assert_eq!(frames.len(), 20);
    // Frame 4 (0.4 s) is inside cue 1; frame 10 (1.0 s) is between the cues; 15 in cue 2.
    assert!(
        ink(&frames[4]).len() > 40,
        "cue 1 shows: {} ink px",
        ink(&frames[4]).len()
    );
    assert!(
        ink(&frames[10]).len() < 3,
        "nothing between cues: {} ink px",
        ink(&frames[10]).len()
    );
    assert!(ink(&frames[15]).len() > 20, "cue 2 shows");
    // The caption sits in the middle of the canvas (position = "center").
    let ys: Vec<u32> = ink(&frames[4]).iter().map(|p| p.1).collect();
    let cy = ys.iter().sum::<u32>() as f32 / ys.len() as f32;
    assert!((cy - 54.0).abs() < 15.0, "centre row {cy}");
}

#[test]
fn malformed_srt_names_the_file_and_line() {
    let p = project();
    p.write(
        "captions/en.srt",
        "1\n00:00:00,000 --> 00:00:00,800\nRun\n\n2\n00:00:1,200 --> 00:00:02,000\nGo\n",
    );
    p.write(
        "t.toml",
        &template("US", r#"captions = { en = "captions/en.srt" }"#),
    );
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.contains("captions/en.srt:6"),
        "names file and line:\n{all}"
    );
    assert!(all.contains("malformed timestamp `00:00:1,200`"), "{all}");
}

#[test]
fn overlapping_cues_and_missing_files_are_errors() {
    let p = project();
    p.write(
        "captions/en.srt",
        "1\n00:00:00,000 --> 00:00:01,000\nA\n\n2\n00:00:00,500 --> 00:00:01,500\nB\n",
    );
    p.write(
        "t.toml",
        &template(
            "US",
            r#"captions = { en = "captions/en.srt", ar = "captions/ar.vtt" }"#,
        ),
    );
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        all.contains("captions/en.srt:6") && all.contains("before the previous cue"),
        "{all}"
    );
    assert!(all.contains("missing asset `captions/ar.vtt`"), "{all}");
}

#[test]
fn fade_starts_fainter_than_the_middle() {
    let p = project();
    let frames = render_frames(
        &p,
        "US",
        "animation = \"fade\"\nanimation_time = 0.5\ntext = \"Fade in\"",
    );
    let (start, mid) = (mean_diff(&frames[0]), mean_diff(&frames[10]));
    assert!(start < mid * 0.5, "start {start:.2} vs middle {mid:.2}");
    assert!(mean_diff(&frames[19]) < mid * 0.5, "fades out too");
}

#[test]
fn pop_grows_from_smaller() {
    let p = project();
    let frames = render_frames(
        &p,
        "US",
        "animation = \"pop\"\nanimation_time = 0.8\ntext = \"Pop!\"",
    );
    let (early, full) = (bbox_area(&frames[0]), bbox_area(&frames[10]));
    assert!(
        early > 0 && early < full * 3 / 4,
        "early {early} vs full {full}"
    );
}

#[test]
fn typewriter_ink_grows_monotonically() {
    let p = project();
    let frames = render_frames(
        &p,
        "US",
        "animation = \"typewriter\"\ntext = \"Type it out\"",
    );
    let areas: Vec<usize> = frames[..12].iter().map(|f| ink(f).len()).collect();
    for w in areas.windows(2) {
        assert!(w[1] + 4 >= w[0], "never shrinks while typing: {areas:?}");
    }
    assert!(areas[0] * 3 < areas[11], "starts with little: {areas:?}");
}

#[test]
fn karaoke_highlight_spreads_over_the_line() {
    let p = project();
    let frames = render_frames(
        &p,
        "US",
        "animation = \"karaoke\"\nhighlight = \"#ffd54f\"\ntext = \"Sing along now\"",
    );
    // Words light up at 0, 0.67 and 1.5 s ("Sing" 4, "along" 5, "now" 3 characters of 12).
    let shares: Vec<f64> = [1, 7, 16]
        .iter()
        .map(|&i| highlight_share(&frames[i]))
        .collect();
    assert!(shares[0] < 0.45, "first word only at the start: {shares:?}");
    assert!(
        shares[1] > shares[0] + 0.1 && shares[2] > shares[1] + 0.1,
        "grows: {shares:?}"
    );
    // Anti-aliased edges lose their chroma in 4:2:0 video, so "all sung" reads below 100 %.
    assert!(shares[2] > 0.6, "all sung near the end: {shares:?}");
}

#[test]
fn arabic_typewriter_reveals_from_the_right() {
    let p = project();
    let frames = render_frames(
        &p,
        "SA",
        "animation = \"typewriter\"\ntext = { en = \"Run lighter\", ar = \"اركض بخفة\" }",
    );
    let full = ink(&frames[15]);
    let (x0, x1) = (
        full.iter().map(|p| p.0).min().unwrap(),
        full.iter().map(|p| p.0).max().unwrap(),
    );
    let mid = (x0 + x1) as f32 / 2.0;
    let early = ink(&frames[2]);
    assert!(!early.is_empty(), "something typed by frame 2");
    let cx = early.iter().map(|p| p.0 as f32).sum::<f32>() / early.len() as f32;
    assert!(
        cx > mid,
        "first letters on the right: typed centre {cx} vs block centre {mid}"
    );
}

#[test]
fn each_locale_keeps_its_own_file_timings_and_vtt_karaoke_marks() {
    let p = project();
    p.write(
        "captions/en.srt",
        "1\n00:00:00,000 --> 00:00:00,800\nRun lighter\n",
    );
    // The Arabic cue starts later; its second word lights up at 1.6 s (an inline timestamp).
    p.write(
        "captions/ar.vtt",
        "WEBVTT\n\n00:01.000 --> 00:02.000\nاركض <00:00:01.600>بخفة\n",
    );
    p.write(
        "t.toml",
        &template("US\", \"SA", "captions = { en = \"captions/en.srt\", ar = \"captions/ar.vtt\" }\nanimation = \"karaoke\"\nanimation_time = 0.1"),
    );
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(o.status.success(), "render failed:\n{}", stderr(&o));
    let m = manifest(&p.path("out"));
    let rows = m["outputs"].as_array().unwrap();
    let file = |region: &str| {
        rows.iter().find(|r| r["region"] == region).unwrap()["file"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let us = decode_frames(&p.path("out").join(file("US")), &p.path("frames-us"));
    let sa = decode_frames(&p.path("out").join(file("SA")), &p.path("frames-sa"));
    assert!(
        ink(&us[4]).len() > 40 && ink(&us[15]).len() < 3,
        "US follows en.srt"
    );
    assert!(
        ink(&sa[4]).len() < 3 && ink(&sa[12]).len() > 40,
        "SA follows ar.vtt"
    );

    // At 1.25 s only the first (rightmost) Arabic word is sung; at 1.75 s both are.
    let (early, late) = (&sa[12], &sa[17]);
    assert!(
        highlight_share(early) + 0.15 < highlight_share(late),
        "{} vs {}",
        highlight_share(early),
        highlight_share(late)
    );
    let all = ink(late);
    let mid = (all.iter().map(|p| p.0).min().unwrap() + all.iter().map(|p| p.0).max().unwrap())
        as f32
        / 2.0;
    let sung: Vec<f32> = ink(early)
        .into_iter()
        .filter(|(x, y)| {
            let px = early.get_pixel(*x, *y).0;
            px[0] as i32 - px[2] as i32 > 45
        })
        .map(|p| p.0 as f32)
        .collect();
    let cx = sung.iter().sum::<f32>() / sung.len().max(1) as f32;
    assert!(
        !sung.is_empty() && cx > mid,
        "the first sung word is on the right: {cx} vs {mid}"
    );
}

#[test]
fn still_images_show_captions_settled() {
    let p = project();
    p.write(
        "presets/cap-image.toml",
        "platform = \"Still\"\nlabel = \"Main\"\ndescription = \"192×108 still\"\nkind = \"image\"\nwidth = 192\nheight = 108\nfps = 30\n\n[image]\nformat = \"png\"\n",
    );
    let t = template("US", "animation = \"typewriter\"\ntext = \"Type it out\"")
        .replace("kind = \"video\"", "kind = \"both\"\nposter_time = 0.0")
        .replace(
            "presets = [\"cap-video\"]",
            "presets = [\"cap-video\", \"cap-image\"]",
        );
    p.write("t.toml", &t);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(o.status.success(), "render failed:\n{}", stderr(&o));
    let m = manifest(&p.path("out"));
    let rows = m["outputs"].as_array().unwrap();
    let file = |ext: &str| {
        rows.iter()
            .map(|r| r["file"].as_str().unwrap().to_string())
            .find(|f| f.ends_with(ext))
            .unwrap()
    };
    let still = image::open(p.path("out").join(file(".png")))
        .unwrap()
        .to_rgb8();
    let video = decode_frames(&p.path("out").join(file(".mp4")), &p.path("frames"));
    // The poster is taken at 0 s, where the video has typed one letter; the still has all.
    let (typed, full, poster) = (
        ink(&video[0]).len(),
        ink(&video[15]).len(),
        ink(&still).len(),
    );
    assert!(typed * 3 < full, "video starts typing: {typed} vs {full}");
    assert!(
        poster as f64 > full as f64 * 0.8,
        "still shows the whole caption: {poster} vs {full}"
    );
}
