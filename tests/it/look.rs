//! The look of an `[[effects]]` option — LUTs, white balance, vignette, blur, grain —
//! checked the way a user would: render with the real binary, decode the outputs (PNG, or
//! MP4 through the ffmpeg CLI) and measure pixels.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

use crate::support::presets::{VideoPreset, TINY_VIDEO};
use crate::support::project::*;

/// 108×192 (9:16, like TikTok) at 10 fps with no safe zone; high quality so measurements
/// see the look, not the codec.
const LOOK_VIDEO: VideoPreset = VideoPreset {
    platform: "Look",
    description: "108×192 look test canvas",
    width: 108,
    height: 192,
    max_duration: None,
    crf: 10,
    extra: "",
    ..TINY_VIDEO
};

/// The same canvas as a lossless still.
const LOOK_PNG: &str = r#"
platform = "Look"
label = "Still"
description = "108×192 lossless look test canvas"
kind = "image"
width = 108
height = 192

[image]
format = "png"
quality = 100
"#;

const W: u32 = 108;
const H: u32 = 192;

fn project() -> Project {
    let p = Project::new();
    p.write("presets/look-video.toml", &LOOK_VIDEO.toml());
    p.write("presets/look-png.toml", LOOK_PNG);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/look");
    for f in [
        "red-to-blue.cube",
        "identity.cube",
        "bad-row.cube",
        "one-d.cube",
    ] {
        std::fs::create_dir_all(p.path("luts")).unwrap();
        std::fs::copy(fixtures.join(f), p.path("luts").join(f)).unwrap();
    }
    // Fine black-and-white checks: all high frequency, for measuring blur.
    let checks = RgbImage::from_fn(W, H, |x, y| {
        if (x / 3 + y / 3) % 2 == 0 {
            Rgb([255; 3])
        } else {
            Rgb([0; 3])
        }
    });
    checks.save(p.path("assets/checks.png")).unwrap();
    p
}

/// A template rendering `presets` for region US with the given pools (TOML text).
fn template(presets: &str, pools: &str) -> String {
    format!(
        r#"
[template]
name = "look"
duration = 1.0
fps = 10
poster_time = 0.5

[output]
presets = [{presets}]
regions = ["US"]
name = "{{kind}}_{{n}}"
image_name = "{{label}}_{{n}}"

[dedup]
policy = "off"

{pools}
"#
    )
}

/// Renders into `out` and returns the outputs by (effects id, background id, preset).
fn render(p: &Project, toml: &str, out: &str) -> BTreeMap<(String, String, String), PathBuf> {
    p.write("t.toml", toml);
    let o = p.factory(&["render", "t.toml", "--out", out, "--progress", "plain"]);
    assert!(
        o.status.success(),
        "render failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    let m = manifest(&p.path(out));
    // With the gate off, the run reports its CPU and no gate share.
    assert!(m["run"]["cpu_seconds"].as_f64().is_some_and(|s| s > 0.0));
    assert!(m["run"].get("gate_cpu_seconds").is_none());
    assert!(!stderr(&o).contains("duplicate gate"), "{}", stderr(&o));
    m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let key = |k: &str| r["modules"][k].as_str().unwrap_or_default().to_string();
            (
                (
                    key("effects"),
                    key("background"),
                    r["preset"].as_str().unwrap().to_string(),
                ),
                p.path(out).join(r["file"].as_str().unwrap()),
            )
        })
        .collect()
}

/// Renders a template of `pools` for `presets` into `out/`.
fn render_pools(
    p: &Project,
    presets: &str,
    pools: &str,
) -> BTreeMap<(String, String, String), PathBuf> {
    render(p, &template(presets, pools), "out")
}

fn out<'a>(
    outs: &'a BTreeMap<(String, String, String), PathBuf>,
    effects: &str,
    background: &str,
    preset: &str,
) -> &'a Path {
    outs.get(&(effects.into(), background.into(), preset.into()))
        .unwrap_or_else(|| panic!("no output for {effects}/{background}/{preset}: {outs:?}"))
}

fn png(path: &Path) -> RgbImage {
    image::open(path).unwrap().to_rgb8()
}

/// Every frame of a video, decoded by the ffmpeg CLI.
fn frames(mp4: &Path) -> Vec<RgbImage> {
    let dir = mp4.with_extension("frames");
    std::fs::create_dir_all(&dir).unwrap();
    let st = std::process::Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-i"])
        .arg(mp4)
        .arg(dir.join("f%03d.png"))
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| png(f)).collect()
}

fn luma(p: &Rgb<u8>) -> f64 {
    0.2126 * p.0[0] as f64 + 0.7152 * p.0[1] as f64 + 0.0722 * p.0[2] as f64
}

/// Mean of channel `c` over a rectangle.
fn mean(img: &RgbImage, c: usize, x0: u32, y0: u32, w: u32, h: u32) -> f64 {
    let mut s = 0.0;
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            s += img.get_pixel(x, y).0[c] as f64;
        }
    }
    s / (w * h) as f64
}

/// High-frequency energy: mean absolute Laplacian of luma over rows `y0..y1`.
fn detail(img: &RgbImage, y0: u32, y1: u32) -> f64 {
    let l = |x: u32, y: u32| luma(img.get_pixel(x, y));
    let mut s = 0.0;
    let mut n = 0.0;
    for y in y0.max(1)..y1.min(img.height() - 1) {
        for x in 1..img.width() - 1 {
            s += (4.0 * l(x, y) - l(x - 1, y) - l(x + 1, y) - l(x, y - 1) - l(x, y + 1)).abs();
            n += 1.0;
        }
    }
    s / n
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y) as f64)
        .sum::<f64>()
        / a.as_raw().len() as f64
}

#[test]
fn luts_map_known_colours_and_identity_keeps_them() {
    let p = project();
    let outs = render_pools(
        &p,
        r#""look-png""#,
        r##"
[[background]]
id = "photo"
image = "assets/photo.png"

[[background]]
id = "red"
color = "#ff0000"

[[effects]]
id = "none"

[[effects]]
id = "identity"
lut = "luts/identity.cube"

[[effects]]
id = "swap"
lut = "luts/red-to-blue.cube"

[[effects]]
id = "half"
lut = "luts/red-to-blue.cube"
lut_strength = 0.5
"##,
    );
    let get = |e: &str, b: &str| png(out(&outs, e, b, "look-png"));
    assert_eq!(
        get("swap", "red").get_pixel(50, 90).0,
        [0, 0, 255],
        "red becomes blue"
    );
    let plain = get("none", "photo");
    let (identity, swap, half) = (
        get("identity", "photo"),
        get("swap", "photo"),
        get("half", "photo"),
    );
    for (x, y, p) in plain.enumerate_pixels() {
        let [r, g, b] = p.0;
        let near = |a: u8, want: f64| (a as f64 - want).abs() <= 1.0;
        let i = identity.get_pixel(x, y).0;
        assert!(
            near(i[0], r as f64) && near(i[1], g as f64) && near(i[2], b as f64),
            "identity at ({x},{y}): {:?} → {i:?}",
            p.0
        );
        let s = swap.get_pixel(x, y).0;
        assert!(
            near(s[0], b as f64) && near(s[1], g as f64) && near(s[2], r as f64),
            "swap at ({x},{y}): {:?} → {s:?}",
            p.0
        );
        let h = half.get_pixel(x, y).0;
        let mid = (r as f64 + b as f64) / 2.0;
        assert!(
            near(h[0], mid) && near(h[2], mid),
            "half strength at ({x},{y}): {:?} → {h:?}",
            p.0
        );
    }
}

/// The vignette gain docs/TEMPLATE.md documents, written out independently of the engine.
fn documented_gain(strength: f64, radius: f64, softness: f64, x: u32, y: u32) -> f64 {
    let (cx, cy) = (W as f64 / 2.0, H as f64 / 2.0);
    let d = ((((x as f64 + 0.5 - cx) / cx).powi(2) + ((y as f64 + 0.5 - cy) / cy).powi(2)) / 2.0)
        .sqrt();
    let (e0, e1) = (radius * (1.0 - softness), radius * (1.0 + softness));
    let t = ((d - e0) / (e1 - e0)).clamp(0.0, 1.0);
    1.0 - strength * t * t * (3.0 - 2.0 * t)
}

#[test]
fn vignette_darkens_the_corners_by_the_documented_amount() {
    let p = project();
    let outs = render_pools(
        &p,
        r#""look-video""#,
        r##"
[[background]]
id = "grey"
color = "#b4b4b4"

[[effects]]
id = "vignette"
vignette = { strength = 0.5, radius = 0.6, softness = 0.4 }
"##,
    );
    let f = &frames(out(&outs, "vignette", "grey", "look-video"))[5];
    let centre = mean(f, 1, W / 2 - 4, H / 2 - 4, 8, 8);
    assert!(
        (centre - 180.0).abs() <= 3.0,
        "the centre keeps its brightness: {centre}"
    );
    let s = 6;
    for (x0, y0) in [(0, 0), (W - s, 0), (0, H - s), (W - s, H - s)] {
        let got = mean(f, 1, x0, y0, s, s);
        let mut want = 0.0;
        for y in y0..y0 + s {
            for x in x0..x0 + s {
                want += 180.0 * documented_gain(0.5, 0.6, 0.4, x, y);
            }
        }
        want /= (s * s) as f64;
        assert!(
            (got - want).abs() <= 4.0,
            "corner at ({x0},{y0}): {got:.1}, documented {want:.1}"
        );
        assert!(
            got < centre - 60.0,
            "corner at ({x0},{y0}) is clearly darker: {got:.1} vs {centre:.1}"
        );
    }
}

/// Along the middle row, from the product's centre outward: the largest step in green
/// between neighbours near the red disc's right edge (green is 40 inside, higher outside).
fn edge_step(img: &RgbImage) -> u8 {
    let y = H / 2;
    let edge = (W / 2..W)
        .find(|&x| img.get_pixel(x, y).0[1] > 80)
        .expect("the product's right edge");
    (edge - 6..edge + 6)
        .map(|x| img.get_pixel(x, y).0[1].abs_diff(img.get_pixel(x + 1, y).0[1]))
        .max()
        .unwrap()
}

#[test]
fn background_blur_softens_the_background_but_not_the_product() {
    let p = project();
    let outs = render_pools(
        &p,
        r#""look-png""#,
        r##"
[[background]]
id = "checks"
image = "assets/checks.png"

[[product]]
id = "disc"
source = "assets/product.png"

[[effects]]
id = "none"

[[effects]]
id = "background"
blur = { radius = 0.05 }

[[effects]]
id = "frame"
blur = { radius = 0.05, target = "frame" }
"##,
    );
    let get = |e: &str| png(out(&outs, e, "checks", "look-png"));
    let (none, bg, frame) = (get("none"), get("background"), get("frame"));
    // The top 40 rows are background only.
    let sharp = detail(&none, 0, 40);
    assert!(sharp > 100.0, "the checks are busy: {sharp}");
    assert!(
        detail(&bg, 0, 40) < sharp * 0.1,
        "background blurred: {} vs {sharp}",
        detail(&bg, 0, 40)
    );
    assert!(
        detail(&frame, 0, 40) < sharp * 0.1,
        "frame blurred: {} vs {sharp}",
        detail(&frame, 0, 40)
    );
    // The product keeps its colour and its crisp edge over a blurred background…
    assert_eq!(bg.get_pixel(W / 2, H / 2).0, none.get_pixel(W / 2, H / 2).0);
    assert!(
        edge_step(&bg) >= 40,
        "background blur keeps the product edge sharp: {}",
        edge_step(&bg)
    );
    // …while a whole-frame blur softens it too.
    assert!(
        edge_step(&frame) <= 20,
        "frame blur softens the product edge: {}",
        edge_step(&frame)
    );
}

#[test]
fn grain_moves_every_frame_and_repeats_across_runs() {
    let p = project();
    let toml = template(
        r#""look-video", "look-png""#,
        r##"
[[background]]
id = "grey"
color = "#808080"

[[effects]]
id = "grain"
grain = { amount = 0.6, seed = 3 }
"##,
    );
    let a = render(&p, &toml, "a");
    let b = render(&p, &toml, "b");
    let (fa, fb) = (
        frames(out(&a, "grain", "grey", "look-video")),
        frames(out(&b, "grain", "grey", "look-video")),
    );
    assert_eq!(fa.len(), 10);
    for i in 0..fa.len() - 1 {
        let d = mean_abs_diff(&fa[i], &fa[i + 1]);
        assert!(
            d > 3.0,
            "frames {i} and {} carry different grain: {d:.2}",
            i + 1
        );
    }
    for (i, (x, y)) in fa.iter().zip(&fb).enumerate() {
        let d = mean_abs_diff(x, y);
        assert!(d < 0.5, "frame {i} is the same in both runs: {d:.2}");
    }
    let (sa, sb) = (
        png(out(&a, "grain", "grey", "look-png")),
        png(out(&b, "grain", "grey", "look-png")),
    );
    assert_eq!(sa, sb, "the still is identical pixel for pixel");
    assert!(
        mean_abs_diff(&sa, &RgbImage::from_pixel(W, H, Rgb([128; 3]))) > 3.0,
        "and grainy"
    );
    assert!(
        (mean(&sa, 1, 0, 0, W, H) - 128.0).abs() < 1.0,
        "grain does not shift brightness"
    );
}

#[test]
fn temperature_warms_a_video_background_and_blur_applies_to_it() {
    let p = project();
    // The checks as a clip, squeezed into mid-tones: white balance is a gain, which black
    // and clipped channels would hide.
    let checks = p.path("assets/checks.png");
    ffmpeg(
        &[
            "-loop",
            "1",
            "-i",
            checks.to_str().unwrap(),
            "-r",
            "10",
            "-t",
            "1",
            "-vf",
            "lutrgb=r=val/2+64:g=val/2+64:b=val/2+64",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-crf",
            "12",
        ],
        &p.path("assets/mid.mp4"),
    );
    let outs = render_pools(
        &p,
        r#""look-video""#,
        r##"
[[background]]
id = "clip"
video = "assets/mid.mp4"

[[effects]]
id = "none"

[[effects]]
id = "warm"
grade = { temperature = 0.6 }

[[effects]]
id = "soft"
blur = { radius = 0.04 }
"##,
    );
    let mid = |e: &str| frames(out(&outs, e, "clip", "look-video")).swap_remove(5);
    let (none, warm, soft) = (mid("none"), mid("warm"), mid("soft"));
    let m = |img: &RgbImage, c| mean(img, c, 0, 0, W, H);
    assert!(
        m(&warm, 0) > m(&none, 0) + 8.0,
        "red up: {:.1} → {:.1}",
        m(&none, 0),
        m(&warm, 0)
    );
    assert!(
        m(&warm, 2) < m(&none, 2) - 8.0,
        "blue down: {:.1} → {:.1}",
        m(&none, 2),
        m(&warm, 2)
    );
    assert!(
        detail(&soft, 0, H) < detail(&none, 0, H) * 0.4,
        "blurred clip: {:.1} vs {:.1}",
        detail(&soft, 0, H),
        detail(&none, 0, H)
    );
}

#[test]
fn bad_look_settings_and_cube_files_are_reported_with_their_place() {
    let p = project();
    let toml = template(
        r#""look-png""#,
        r##"
[[background]]
id = "grey"
color = "#808080"

[[effects]]
id = "broken-row"
lut = "luts/bad-row.cube"

[[effects]]
id = "curve"
lut = "luts/one-d.cube"

[[effects]]
id = "ranges"
vignette = { strength = 1.5 }
blur = { radius = 0.02, target = "frames" }
grain = { seed = 2 }
lut_strength = 0.5

[[effects]]
id = "typo"
vignete = { strength = 0.3 }
"##,
    );
    p.write("t.toml", &toml);
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let line_of = |needle: &str| toml.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        err.contains("bad-row.cube:7"),
        "a bad row names the file and line: {err}"
    );
    assert!(err.contains("`oops`"), "{err}");
    assert!(
        err.contains("one-d.cube:2") && err.contains("1D"),
        "1D LUTs are refused: {err}"
    );
    assert!(
        err.contains(&format!("t.toml:{}:", line_of("bad-row.cube"))),
        "and where the template names it: {err}"
    );
    assert!(
        err.contains("vignette strength 1.5 is out of range")
            && err.contains(&format!("t.toml:{}:", line_of("strength = 1.5"))),
        "{err}"
    );
    assert!(
        err.contains("unknown blur target `frames`") && err.contains("did you mean `frame`?"),
        "{err}"
    );
    assert!(err.contains("grain needs `amount`"), "{err}");
    assert!(err.contains("lut_strength without a lut"), "{err}");
    assert!(
        err.contains("unknown key `vignete`") && err.contains("did you mean `vignette`?"),
        "{err}"
    );
}

#[test]
fn a_luts_bytes_are_part_of_the_variant_id() {
    let p = project();
    let toml = template(
        r#""look-png""#,
        r##"
[[background]]
id = "grey"
color = "#808080"

[[effects]]
id = "swap"
lut = "luts/red-to-blue.cube"
"##,
    );
    p.write("t.toml", &toml);
    let id = || {
        let o = p.factory(&["plan", "t.toml", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        plan["jobs"][0]["variant_id"].as_str().unwrap().to_string()
    };
    let before = id();
    assert_eq!(id(), before);
    let lut = p.path("luts/red-to-blue.cube");
    let text = std::fs::read_to_string(&lut)
        .unwrap()
        .replace("1.0000 0.0000 0.0000\n", "0.9000 0.0000 0.0000\n");
    std::fs::write(&lut, text).unwrap();
    assert_ne!(id(), before, "editing the LUT makes a new variant");
}

/// A half-transparent product shows the background through it once, on every still that
/// shares it: stills that differ only in their caption share one backdrop with the product
/// drawn in (`Assets::baked_still`), and drawing the product again over that plate would
/// let half as much red through.
#[test]
fn a_half_transparent_product_is_drawn_once_on_stills_that_share_it() {
    let p = project();
    image::RgbaImage::from_pixel(40, 40, image::Rgba([0, 0, 255, 128]))
        .save(p.path("assets/glass.png"))
        .unwrap();
    let toml = template(
        r#""look-png""#,
        r##"
[[background]]
id = "red"
color = "#ff0000"

[[product]]
id = "glass"
source = "assets/glass.png"
anchor = "center"
scale = 0.5

[[subtitle]]
id = "one"
text = { en = "One" }
position = "bottom"

[[subtitle]]
id = "two"
text = { en = "Two" }
position = "bottom"
"##,
    );
    p.write("t.toml", &toml);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let m = manifest(&p.path("out"));
    let files: Vec<PathBuf> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| p.path("out").join(r["file"].as_str().unwrap()))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        // Blue at alpha 128 over red, once: red × 127/255 and blue × 128/255.
        let c = png(f).get_pixel(W / 2, H / 2).0;
        let near = |a: u8, want: u8| a.abs_diff(want) <= 2;
        assert!(
            near(c[0], 127) && c[1] <= 2 && near(c[2], 128),
            "{}: centre {c:?}, want ≈ [127, 0, 128]",
            f.display()
        );
    }
}
