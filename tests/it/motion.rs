//! Scenes, transitions, motion, badges and end cards, checked the way a user would: render
//! with the real binary, decode the MP4 back to frames with the ffmpeg CLI, and measure
//! the pixels.

use image::RgbImage;

use crate::support::presets::{VideoPreset, TINY_VIDEO};
use crate::support::project::*;

/// 96×128 at 10 fps, no safe zone: small and quick, big enough to measure positions.
const MOTION_VIDEO: VideoPreset = VideoPreset {
    platform: "Motion",
    description: "96×128 motion test canvas",
    width: 96,
    height: 128,
    crf: 12,
    extra: "",
    ..TINY_VIDEO
};

fn project() -> Project {
    let p = Project::new();
    p.write("presets/motion-video.toml", &MOTION_VIDEO.toml());
    p
}

/// A real photograph (textured enough for perceptual hashes) as `assets/bridge.jpg`.
fn add_photo(p: &Project) {
    let photo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dedup/bridge-1-original.jpg"
    );
    std::fs::copy(photo, p.path("assets/bridge.jpg")).unwrap();
}

fn header(extra: &str) -> String {
    format!(
        r#"
[template]
name = "motion"
version = 1
kind = "video"
fps = 10
{extra}

[output]
presets = ["motion-video"]
regions = ["US"]
"#
    )
}

/// Renders `t.toml` and returns (manifest, decoded frames of output `k`).
fn render(p: &Project, text: &str, k: usize) -> (serde_json::Value, Vec<RgbImage>) {
    p.write("t.toml", text);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(
        o.status.success(),
        "render failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    let m = manifest(&p.path("out"));
    let file = m["outputs"][k]["file"]
        .as_str()
        .expect("output")
        .to_string();
    let frames = decode_frames(&p.path("out").join(file), &p.path(&format!("frames{k}")));
    (m, frames)
}

fn mean(f: &RgbImage) -> [f64; 3] {
    let n = (f.width() * f.height()) as f64;
    let mut s = [0.0; 3];
    for p in f.pixels() {
        for (acc, v) in s.iter_mut().zip(p.0) {
            *acc += v as f64;
        }
    }
    s.map(|v| v / n)
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as f64)
        .sum::<f64>()
        / a.as_raw().len() as f64
}

/// Centre of the pixels that are clearly red (the test product is a red disc).
fn red_centre(f: &RgbImage) -> Option<(f64, f64)> {
    let pts: Vec<(u32, u32)> = f
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0[0] > 170 && p.0[1] < 90 && p.0[2] < 90)
        .map(|(x, y, _)| (x, y))
        .collect();
    (pts.len() > 20).then(|| {
        let n = pts.len() as f64;
        (
            pts.iter().map(|p| p.0 as f64).sum::<f64>() / n,
            pts.iter().map(|p| p.1 as f64).sum::<f64>() / n,
        )
    })
}

#[test]
fn ken_burns_moves_every_frame_and_zooms_in() {
    let p = project();
    let t = header("duration = 2.0")
        + r#"
[[background]]
id = "photo"
image = "assets/photo.png"
motion = { zoom = [1.0, 1.5], easing = "linear" }
"#;
    let (_, frames) = render(&p, &t, 0);
    assert_eq!(frames.len(), 20);
    // Every step of a linear zoom changes the picture.
    for i in 1..frames.len() {
        let d = mean_abs_diff(&frames[i - 1], &frames[i]);
        assert!(
            d > 0.3,
            "frames {} and {} are the same ({d:.2}): the background does not move",
            i - 1,
            i
        );
    }
    // The photo is a horizontal red ramp: zooming in about the centre narrows the range of
    // red seen across the frame.
    let span = |f: &RgbImage| {
        let row = f.height() / 2;
        f.get_pixel(f.width() - 2, row).0[0] as i32 - f.get_pixel(1, row).0[0] as i32
    };
    let (first, last) = (span(&frames[0]), span(&frames[19]));
    // Cover-fit crops the landscape photo to the portrait canvas: part of the ramp shows.
    assert!(
        first > 100,
        "the first frame shows a wide part of the ramp ({first})"
    );
    assert!(
        (last as f64) < first as f64 / 1.3,
        "zoomed in by 1.5: the ramp spans {last}, was {first}"
    );
}

#[test]
fn product_slides_in_from_the_left_along_its_path() {
    let p = project();
    let t = header("duration = 2.0")
        + r##"
[[background]]
id = "plain"
color = "#203040"

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.5
motion = { enter = "slide-left", enter_time = 1.0, easing = "linear" }
"##;
    let (_, frames) = render(&p, &t, 0);
    // Linear slide from one canvas width to the left: at 0.5 s the disc is half way.
    let rest = red_centre(&frames[15]).expect("product visible at rest");
    assert!((rest.0 - 48.0).abs() < 3.0, "rests centred: {rest:?}");
    let mut last_x = f64::MIN;
    for i in [3, 5, 7, 9] {
        if let Some((x, _)) = red_centre(&frames[i]) {
            assert!(x > last_x, "frame {i}: moves right ({x} after {last_x})");
            last_x = x;
            let expected = 48.0 - 96.0 * (1.0 - i as f64 / 10.0);
            // Only the part on canvas is seen, which pulls the centre right while it enters.
            assert!(
                x >= expected - 3.0,
                "frame {i}: centre {x:.1}, path says {expected:.1}"
            );
        }
    }
    assert!(red_centre(&frames[0]).is_none(), "starts off screen");
}

#[test]
fn crossfade_middle_frame_blends_both_scenes_and_orders_play_as_planned() {
    let p = project();
    let t = header("")
        + r##"
[variants]
orders = [["red", "blue"], ["blue", "red"]]

[[scene]]
id = "red"
duration = 1.0
background = ["red"]

[[scene]]
id = "blue"
duration = 1.0
background = ["blue"]
transition = { type = "crossfade", duration = 0.6, easing = "linear" }

[[background]]
id = "red"
color = "#e00000"

[[background]]
id = "blue"
color = "#0000e0"
"##;
    // Order shows in the plan.
    p.write("t.toml", &t);
    let o = p.factory(&["plan", "t.toml", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let orders: Vec<&str> = plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["modules"]["order"].as_str().unwrap())
        .collect();
    assert_eq!(orders, ["red,blue", "blue,red"]);

    let (m, frames) = render(&p, &t, 0);
    assert_eq!(frames.len(), 20, "scenes add up to 2 s");
    let spans: Vec<(String, f64, f64)> = m["outputs"][1]["scenes"]
        .as_array()
        .expect("manifest lists the scenes")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_string(),
                s["start"].as_f64().unwrap(),
                s["end"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            ("blue".to_string(), 0.0, 1.0),
            ("red".to_string(), 1.0, 2.0)
        ],
        "second variant plays blue first"
    );
    let red = mean(&frames[1]);
    let blue = mean(&frames[18]);
    assert!(red[0] > 200.0 && red[2] < 30.0, "starts red: {red:?}");
    assert!(blue[2] > 200.0 && blue[0] < 30.0, "ends blue: {blue:?}");
    // The cut is at frame 10; the 0.6 s crossfade spans frames 7..13. Frame 10 is its middle.
    let mid = mean(&frames[10]);
    assert!(
        (mid[0] - 112.0).abs() < 30.0 && (mid[2] - 112.0).abs() < 30.0,
        "middle frame is half red, half blue: {mid:?}"
    );
    let before = mean(&frames[8]);
    assert!(
        before[0] > mid[0] && before[2] < mid[2],
        "the blend progresses: {before:?} then {mid:?}"
    );

    // The second variant plays the scenes the other way round.
    let (_, frames) = render(&p, &t, 1);
    assert!(mean(&frames[1])[2] > 200.0, "order blue,red starts blue");
    assert!(mean(&frames[18])[0] > 200.0, "and ends red");
}

#[test]
fn badge_pops_in_at_its_time_in_its_corner_and_the_end_card_closes() {
    let p = project();
    let t = header("duration = 3.0")
        + r##"
[[background]]
id = "plain"
color = "#203040"

[[badge]]
id = "sale"
shape = "circle"
fill = "#ffd400"
anchor = "top-right"
size = 0.4
start = 1.0

[[end_card]]
id = "shop"
duration = 1.0
background = "#ffffff"
price = "$9"
transition = "cut"
"##;
    let (m, frames) = render(&p, &t, 0);
    assert_eq!(frames.len(), 30);
    let yellow = |f: &RgbImage, x0: u32, x1: u32| {
        (x0..x1)
            .flat_map(|x| (0..f.height() / 2).map(move |y| (x, y)))
            .filter(|&(x, y)| {
                let p = f.get_pixel(x, y).0;
                p[0] > 180 && p[1] > 160 && p[2] < 100
            })
            .count()
    };
    assert_eq!(yellow(&frames[5], 0, 96), 0, "no badge before 1 s");
    let shown = &frames[17];
    assert!(
        yellow(shown, 48, 96) > 200,
        "badge in the top-right quarter"
    );
    assert_eq!(yellow(shown, 0, 40), 0, "and not on the left");
    // The end card takes the last second: white.
    let card = mean(&frames[25]);
    assert!(
        card.iter().all(|c| *c > 200.0),
        "end card is white: {card:?}"
    );
    let body = mean(&frames[15]);
    assert!(
        body[2] < 120.0,
        "the video is not white before the card: {body:?}"
    );
    assert_eq!(m["outputs"][0]["modules"]["end_card"], "shop");
}

#[test]
fn scene_mistakes_are_reported_with_their_lines() {
    let p = project();
    let t = header("duration = 5.0")
        + r##"
[variants]
orders = [["intro", "outro"], ["outro", "intor"]]

[[scene]]
id = "intro"
duration = 1.0
background = ["plain", "nope"]

[[scene]]
id = "outro"
duration = 1.0
transition = { type = "wipe-sideways", duration = 2.0 }

[[background]]
id = "plain"
color = "#203040"
motion = { zoom = [1.0, 9.0], easing = [2.0, 0.0, 0.5, 1.0] }
"##;
    p.write("t.toml", &t);
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o) + &stdout(&o);
    let line_of = |s: &str| {
        t.lines()
            .position(|l| l.contains(s))
            .expect("line in template")
            + 1
    };
    for (needle, at) in [
        (
            "disagrees with the scenes, which add up to 2 s",
            "duration = 5.0",
        ),
        ("unknown scene `intor`", "\"intor\""),
        ("scene `intro` names background `nope`", "\"nope\""),
        ("unknown transition `wipe-sideways`", "wipe-sideways"),
        ("zoom [1, 9] is out of range", "zoom = [1.0, 9.0]"),
        (
            "cubic-bezier easing needs four numbers",
            "zoom = [1.0, 9.0]",
        ),
    ] {
        let line = line_of(at);
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
        assert!(
            err.contains(&format!("t.toml:{line}:")),
            "`{needle}` should point at line {line}:\n{err}"
        );
    }
}

#[test]
fn the_gate_hashes_rendered_frames_the_same_as_the_decoded_file() {
    // The renderer fingerprints its own frames (1 fps) instead of decoding the output again;
    // a re-encoded, downscaled copy of the output must still match what it stored.
    let p = project();
    add_photo(&p);
    let t = header("duration = 4.0")
        + r#"
[[background]]
id = "bridge"
image = "assets/bridge.jpg"
motion = { zoom = [1.0, 1.3], easing = "linear" }

[dedup]
policy = "warn"
library = "lib.sqlite"
"#;
    let (m, _) = render(&p, &t, 0);
    let file = p
        .path("out")
        .join(m["outputs"][0]["file"].as_str().unwrap());
    let copy = p.path("copy.mp4");
    ffmpeg(
        &[
            "-i",
            file.to_str().unwrap(),
            "-vf",
            "scale=48:64",
            "-c:v",
            "libx264",
            "-crf",
            "30",
            "-an",
        ],
        &copy,
    );
    let factory = |args: &[&str]| {
        let o = p.factory(args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    // The same file indexed the ordinary way: decoded again, 1 fps.
    factory(&[
        "library",
        "add",
        "--library",
        "decoded.sqlite",
        file.to_str().unwrap(),
    ]);
    let best = |lib: &str| {
        let out = factory(&["dedup", "--json", "--library", lib, "copy.mp4"]);
        let v: serde_json::Value =
            serde_json::from_str(out.lines().next().expect("one line")).unwrap();
        assert_eq!(v["verdict"], "duplicate", "{v}");
        v["matches"][0].clone()
    };
    let (rendered, decoded) = (best("lib.sqlite"), best("decoded.sqlite"));
    assert!(
        rendered["file"].as_str().unwrap().ends_with(".mp4"),
        "{rendered}"
    );
    let (q1, q2) = (
        rendered["q"].as_f64().unwrap(),
        decoded["q"].as_f64().unwrap(),
    );
    // Four sampled seconds: the two ways may differ by one second at most.
    assert!(
        q1 >= 50.0 && (q1 - q2).abs() <= 25.0,
        "rendered-frame hashes match like decoded ones: q {q1} vs {q2}"
    );
    let (d1, d2) = (
        rendered["visual_distance"].as_u64().unwrap(),
        decoded["visual_distance"].as_u64().unwrap(),
    );
    assert!(
        d1 <= d2 + 8,
        "PDQ distance {d1} from rendered frames vs {d2} from the decoded file"
    );
}

#[test]
fn a_main_image_comes_from_a_scene_that_shows_the_product() {
    // poster_time falls in a hook without the product; the white-background main image
    // must still show it, so the still is taken from the scene that has it, and says so.
    let p = project();
    let t = r##"
[template]
name = "poster"
kind = "both"
fps = 10
poster_time = 0.5

[output]
presets = ["motion-video", "tiny-image"]
regions = ["US"]

[[scene]]
id = "hook"
duration = 2.0
product = []

[[scene]]
id = "demo"
duration = 2.0
product = ["disc"]

[[background]]
id = "plain"
color = "#203040"

[[product]]
id = "disc"
source = "assets/product.png"
"##;
    p.write("t.toml", t);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let m = manifest(&p.path("out"));
    let still = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"].as_str().unwrap().ends_with(".jpg"))
        .expect("the main image");
    let notes = still["rules_applied"].to_string();
    assert!(notes.contains("still taken from scene `demo`"), "{notes}");
    let img = image::open(p.path("out").join(still["file"].as_str().unwrap()))
        .unwrap()
        .to_rgb8();
    assert!(
        red_centre(&img).is_some(),
        "the main image shows the product"
    );
}

#[test]
fn a_video_sharing_most_of_its_scenes_is_reported_as_reused_footage() {
    // Two variants differ only in their first second (another background and line); the
    // other two seconds are the same footage. The gate must say so — not that they differ
    // only in text.
    let p = project();
    add_photo(&p);
    let t = r##"
[template]
name = "reuse"
kind = "video"
fps = 10

[output]
presets = ["motion-video"]
regions = ["US"]

[[scene]]
id = "hook"
duration = 1.0
background = ["clip", "bridge-still"]
subtitle = ["a", "b"]

[[scene]]
id = "rest"
duration = 2.0
background = ["bridge"]
subtitle = []

[variants]
exclude = [{ background = "clip", subtitle = "b" }, { background = "bridge-still", subtitle = "a" }]

[[background]]
id = "clip"
video = "assets/clip.mp4"

[[background]]
id = "bridge-still"
image = "assets/bridge.jpg"
fit = "contain"

[[background]]
id = "bridge"
image = "assets/bridge.jpg"
motion = { zoom = [1.0, 1.4], easing = "linear" }

[[subtitle]]
id = "a"
text = "One"

[[subtitle]]
id = "b"
text = "Two"

[dedup]
policy = "warn"
"##;
    let (m, _) = render(&p, t, 1);
    let second = &m["outputs"][1];
    assert_eq!(second["dedup"], "duplicate", "{second}");
    let reason = second["dedup_reason"].as_str().unwrap();
    assert!(reason.contains("reuse footage"), "{reason}");
    assert!(!reason.contains("only in on-screen text"), "{reason}");
}
