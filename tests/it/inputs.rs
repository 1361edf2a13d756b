//! Inputs checked before rendering (`media::probe`): every bad file is named with what is
//! wrong by `factory validate` (exit 2), and `factory render` refuses before any output.
//! Good-but-unusual files (10-bit, 4:4:4, variable frame rate, rotated phone video) pass.

use std::path::{Path, PathBuf};

use creative_factory::media::probe::{self, InputUse};
use creative_factory::media::{Limits, VideoClip};
use creative_factory::text::FontBook;
use sha2::{Digest, Sha256};

use crate::support::project::*;

/// One region, one video preset, a background and music chosen by the test.
fn template(background: &str, music: &str) -> String {
    format!(
        r##"
[template]
name = "probe"
version = 1
kind = "video"
duration = 1.0
fps = 10

[output]
presets = ["tiny-video"]
regions = ["US"]

[[background]]
id = "bg"
{background}

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.5

[[subtitle]]
id = "hook"
text = {{ en = "Run lighter." }}
size = 0.1
min_size = 0.05

[[audio]]
id = "tone"
source = "{music}"
"##
    )
}

fn canon(p: &Project, rel: &str) -> PathBuf {
    p.path(rel).canonicalize().unwrap()
}

/// `validate` exits 2 printing `message`; `render` warns with it, fails every variant that
/// uses the file (here: all of them) with it as the error, and exports nothing.
fn assert_refused(p: &Project, message: &str) {
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(2), "validate:\n{}", stderr(&o));
    assert!(
        stderr(&o).contains(message),
        "validate should say\n{message}\ngot:\n{}",
        stderr(&o)
    );
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert_eq!(o.status.code(), Some(1), "render:\n{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("warning: {message}")),
        "render:\n{}",
        stderr(&o)
    );
    let m = manifest(&p.path("out"));
    for r in m["outputs"].as_array().unwrap() {
        assert_eq!(r["status"], "failed", "{r}");
        assert!(r["error"].as_str().unwrap().contains(message), "{r}");
        assert!(!p.path("out").join(r["file"].as_str().unwrap()).exists());
    }
}

/// Cuts a file to `share` of its bytes.
fn truncate(path: &Path, share: f64) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..(bytes.len() as f64 * share) as usize]).unwrap();
}

/// The seconds in "promises P s of … but only D s decode".
fn durations(stderr: &str) -> (f64, f64) {
    let num = |key: &str| -> f64 {
        let rest = &stderr[stderr.find(key).expect(key) + key.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (num("promises "), num("but only "))
}

fn clip(p: &Project, rel: &str, extra: &[&str]) -> PathBuf {
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=96x64:rate=10",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-movflags",
        "+faststart",
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"-pix_fmt") {
        args.extend_from_slice(&["-pix_fmt", "yuv420p"]);
    }
    let path = p.path(rel);
    ffmpeg(&args, &path);
    path
}

#[test]
fn inputs_truncated_video_is_refused_with_promised_and_decodable_durations() {
    let p = Project::new();
    // faststart puts the index first, so the cut file still opens and promises 2 s.
    let cut = clip(&p, "assets/cut.mp4", &[]);
    truncate(&cut, 0.5);
    p.write(
        "t.toml",
        &template(r#"video = "assets/cut.mp4""#, "assets/music.m4a"),
    );
    let prefix = format!(
        "{}: truncated or corrupt: the container promises 2.00 s of video but only ",
        canon(&p, "assets/cut.mp4").display()
    );
    assert_refused(&p, &prefix);
    let o = p.factory(&["validate", "t.toml"]);
    let (promised, decodable) = durations(&stderr(&o));
    assert_eq!(promised, 2.0);
    assert!(decodable > 0.0 && decodable < 1.5, "{decodable}");
    // The diagnostic points at the key that names the file.
    assert!(stderr(&o).contains("t.toml:15:"), "{}", stderr(&o));
}

#[test]
fn inputs_truncated_music_is_refused() {
    let p = Project::new();
    let music = p.path("assets/cut.m4a");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            "4",
            "-c:a",
            "aac",
            "-movflags",
            "+faststart",
        ],
        &music,
    );
    truncate(&music, 0.5);
    p.write(
        "t.toml",
        &template(r#"image = "assets/photo.png""#, "assets/cut.m4a"),
    );
    let prefix = format!(
        "{}: truncated or corrupt: the container promises 4.0",
        canon(&p, "assets/cut.m4a").display()
    );
    assert_refused(&p, &prefix);
    let o = p.factory(&["validate", "t.toml"]);
    let (promised, decodable) = durations(&stderr(&o));
    assert!((promised - 4.0).abs() < 0.05, "{promised}");
    assert!(decodable > 0.5 && decodable < 3.0, "{decodable}");
}

#[test]
fn inputs_video_without_a_video_stream_is_refused() {
    let p = Project::new();
    p.write(
        "t.toml",
        &template(r#"video = "assets/music.m4a""#, "assets/music.m4a"),
    );
    assert_refused(
        &p,
        &format!(
            "{}: no video stream (it holds audio aac)",
            canon(&p, "assets/music.m4a").display()
        ),
    );
}

/// Sets the first entry of the first `tkhd` matrix (16.16) to -1: a horizontal mirror.
fn mirror_tkhd(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let at = b.windows(4).position(|w| w == b"tkhd").unwrap();
    assert_eq!(b[at + 4], 0, "version 0 tkhd");
    // After the type: version+flags, two times, track id, reserved, duration, 8 reserved,
    // layer, group, volume, reserved; so the matrix starts 44 bytes after "tkhd".
    let m = at + 44;
    b[m..m + 4].copy_from_slice(&(-65536i32).to_be_bytes());
    std::fs::write(path, b).unwrap();
}

#[test]
fn inputs_mirrored_display_matrix_is_refused_right_angles_are_accepted() {
    let p = Project::new();
    let mirrored = clip(&p, "assets/phone.mp4", &[]);
    mirror_tkhd(&mirrored);
    p.write(
        "t.toml",
        &template(r#"video = "assets/phone.mp4""#, "assets/music.m4a"),
    );
    assert_refused(
        &p,
        &format!(
            "{}: its display matrix mirrors the picture, which the clip decoder does not apply",
            canon(&p, "assets/phone.mp4").display()
        ),
    );
    let o = p.factory(&["validate", "t.toml"]);
    assert!(
        stderr(&o).contains("ffmpeg -i in.mp4 -c:v libx264 -c:a copy out.mp4"),
        "{}",
        stderr(&o)
    );
    // A phone's portrait tag (a right angle) is applied by the decoder: accepted.
    let turned = p.path("assets/turned.mp4");
    crate::support::ffmpeg(&[
        "-i",
        p.path("assets/clip.mp4").to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        turned.to_str().unwrap(),
    ]);
    let r = probe::probe(&turned, InputUse::Clip, &Limits::default()).unwrap();
    assert_eq!((r.width, r.height), (96, 64));
}

#[test]
fn inputs_hdr_video_is_refused() {
    let p = Project::new();
    clip(
        &p,
        "assets/hdr.mp4",
        &[
            "-color_primaries",
            "bt2020",
            "-color_trc",
            "smpte2084",
            "-colorspace",
            "bt2020nc",
        ],
    );
    p.write(
        "t.toml",
        &template(r#"video = "assets/hdr.mp4""#, "assets/music.m4a"),
    );
    assert_refused(
        &p,
        &format!(
            "{}: HDR video (PQ (SMPTE ST 2084) transfer); HDR is not supported (no tone mapping)",
            canon(&p, "assets/hdr.mp4").display()
        ),
    );
}

#[test]
fn inputs_ten_bit_and_444_clips_decode_like_the_8_bit_one_and_render() {
    let p = Project::new();
    let eight = clip(&p, "assets/8bit.mp4", &[]);
    let ten = clip(&p, "assets/10bit.mp4", &["-pix_fmt", "yuv420p10le"]);
    let full = clip(&p, "assets/444.mp4", &["-pix_fmt", "yuv444p"]);
    let open = |f: &Path| VideoClip::open(f, 0.0, 1.0, 10, 0, 0, &Limits::default()).unwrap();
    let base = open(&eight);
    for f in [&ten, &full] {
        probe::probe(f, InputUse::Clip, &Limits::default()).unwrap();
        let c = open(f);
        assert_eq!(c.len(), base.len());
        let (a, b) = (base.frame(5).as_raw(), c.frame(5).as_raw());
        let diff: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - *y as f64).abs())
            .sum::<f64>()
            / a.len() as f64;
        // Same picture; only coding noise differs (and chroma resolution for 4:4:4).
        assert!(diff < 6.0, "{}: mean difference {diff}", f.display());
    }
    p.write(
        "t.toml",
        &template(r#"video = "assets/10bit.mp4""#, "assets/music.m4a"),
    );
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn inputs_variable_frame_rate_is_accepted_with_a_warning() {
    let p = Project::new();
    // The first ten frames 50 ms apart, then every third: 150 ms apart.
    clip(
        &p,
        "assets/vfr.mp4",
        &[
            "-vf",
            "fps=20,select='lt(n\\,10)+not(mod(n\\,3))'",
            "-fps_mode",
            "vfr",
        ],
    );
    let r = probe::probe(
        &p.path("assets/vfr.mp4"),
        InputUse::Clip,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].starts_with("variable frame rate (")
            && r.warnings[0].ends_with(
                "accepted: frames are picked by their timestamps, so the clip keeps its timing"
            ),
        "{}",
        r.warnings[0]
    );
    p.write(
        "t.toml",
        &template(r#"video = "assets/vfr.mp4""#, "assets/music.m4a"),
    );
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: ") && stderr(&o).contains("variable frame rate"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn inputs_animated_gif_and_webp_backgrounds_are_refused() {
    let p = Project::new();
    for (name, extra) in [
        ("anim.gif", &[][..]),
        ("anim.webp", &["-c:v", "libwebp_anim", "-loop", "0"][..]),
    ] {
        let mut args = vec!["-f", "lavfi", "-i", "testsrc2=size=32x32:rate=5", "-t", "1"];
        args.extend_from_slice(extra);
        ffmpeg(&args, &p.path(&format!("assets/{name}")));
        let format = if name.ends_with("gif") { "GIF" } else { "WebP" };
        p.write(
            "t.toml",
            &template(&format!(r#"image = "assets/{name}""#), "assets/music.m4a"),
        );
        assert_refused(
            &p,
            &format!(
                "{}: animated {format} (5 frames); a still would show only its first frame",
                canon(&p, &format!("assets/{name}")).display()
            ),
        );
        let o = p.factory(&["validate", "t.toml"]);
        assert!(
            stderr(&o).contains("hint: animated; use it as a background video clip"),
            "{}",
            stderr(&o)
        );
    }
}

/// The CRC-32 PNG chunks carry (so a patched header still reads as valid).
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn inputs_image_header_over_the_pixel_limit_is_refused_at_validate() {
    let p = Project::new();
    let mut b = std::fs::read(p.path("assets/photo.png")).unwrap();
    // IHDR is the first chunk: width and height at 16..24, its CRC over 12..29.
    b[16..20].copy_from_slice(&20000u32.to_be_bytes());
    b[20..24].copy_from_slice(&20000u32.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(p.path("assets/huge.png"), b).unwrap();
    p.write(
        "t.toml",
        &template(r#"image = "assets/huge.png""#, "assets/music.m4a"),
    );
    assert_refused(
        &p,
        &format!(
            "{}: 20000×20000 = 400000000 pixels exceeds the limit of 64000000 pixels",
            canon(&p, "assets/huge.png").display()
        ),
    );
}

#[test]
fn inputs_video_over_the_pixel_limit_is_refused() {
    let p = Project::new();
    let small = Limits {
        max_video_pixels: 1000,
        ..Limits::default()
    };
    let e = probe::probe(&p.path("assets/clip.mp4"), InputUse::Clip, &small).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: 96×64 video = 6144 pixels per frame exceeds the video limit of 1000 pixels",
            p.path("assets/clip.mp4").display()
        )
    );
    // The default limit (DCI 8K) through the binary: 8200×4400 is just over it.
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:size=8200x4400:rate=1",
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ],
        &p.path("assets/big.mp4"),
    );
    p.write(
        "t.toml",
        &template(r#"video = "assets/big.mp4""#, "assets/music.m4a"),
    );
    assert_refused(
        &p,
        &format!(
            "{}: 8200×4400 video = 36080000 pixels per frame exceeds the video limit of \
             35389440 pixels",
            canon(&p, "assets/big.mp4").display()
        ),
    );
}

#[test]
fn inputs_truncated_jpeg_is_refused() {
    let p = Project::new();
    let img = image::open(p.path("assets/photo.png")).unwrap().to_rgb8();
    img.save(p.path("assets/photo.jpg")).unwrap();
    truncate(&p.path("assets/photo.jpg"), 0.6);
    p.write(
        "t.toml",
        &template(r#"image = "assets/photo.jpg""#, "assets/music.m4a"),
    );
    assert_refused(
        &p,
        &format!(
            "{}: truncated JPEG: the image data ends without its end-of-image marker (the \
             missing rows would render grey)",
            canon(&p, "assets/photo.jpg").display()
        ),
    );
}

const NOTO_SANS: &str = "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf";

/// Noto Sans rewritten with `glyf` stored last and cut in its middle: the header and name
/// survive (so fontdb lists the family), the outlines do not — what an interrupted copy of
/// a font that stores its outlines last looks like.
fn truncated_font(dir: &Path) -> (PathBuf, usize, usize) {
    let src = std::fs::read(NOTO_SANS).unwrap();
    let n = u16::from_be_bytes([src[4], src[5]]) as usize;
    let rec = |i: usize| {
        let r = &src[12 + 16 * i..28 + 16 * i];
        let u = |o: usize| u32::from_be_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]) as usize;
        (r[..4].to_vec(), u(8), u(12))
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (rec(i).0 == b"glyf", rec(i).1));
    let mut out = src[..12 + 16 * n].to_vec();
    let mut glyf = (0, 0);
    for i in order {
        let (tag, off, len) = rec(i);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        let at = out.len();
        out[12 + 16 * i + 8..12 + 16 * i + 12].copy_from_slice(&(at as u32).to_be_bytes());
        out.extend_from_slice(&src[off..off + len]);
        if tag == b"glyf" {
            glyf = (at, len);
        }
    }
    let cut = glyf.0 + glyf.1 / 2;
    out.truncate(cut);
    let path = dir.join("NotoSans-Cut.ttf");
    std::fs::write(&path, out).unwrap();
    (path, glyf.0 + glyf.1, cut)
}

#[test]
fn inputs_truncated_or_non_font_files_are_refused() {
    let p = Project::new();
    let fonts = p.path("fonts");
    std::fs::create_dir_all(&fonts).unwrap();
    let (cut, end, len) = truncated_font(&fonts);
    let message = format!(
        "{}: cannot read font: truncated: its `glyf` table ends at byte {end} but the file has \
         {len} bytes",
        cut.display()
    );
    let e = FontBook::empty()
        .face_from_file(cut.to_str().unwrap())
        .unwrap_err();
    assert_eq!(e.to_string(), message);
    let not_font = p.write("fonts/notes.ttf", "not a font at all");
    let e = FontBook::empty()
        .face_from_file(not_font.to_str().unwrap())
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read font: ", not_font.display())),
        "{e}"
    );

    // Through a template naming the family: fontconfig sees only the test's fonts.
    let conf = p.write(
        "fonts.conf",
        &format!("<fontconfig><dir>{}</dir></fontconfig>", fonts.display()),
    );
    let mut t = template(r#"image = "assets/photo.png""#, "assets/music.m4a");
    t = t.replace("size = 0.1", "font = [\"Noto Sans\"]\nsize = 0.1");
    p.write("t.toml", &t);
    for cmd in ["validate", "render"] {
        let o = crate::support::factory()
            .current_dir(p.dir.path())
            .env("FONTCONFIG_FILE", &conf)
            .args([cmd, "t.toml", "--presets-dir", "presets"])
            .args(if cmd == "render" {
                &["--out", "out"][..]
            } else {
                &[][..]
            })
            .output()
            .unwrap();
        // `validate` refuses; `render` warns and the variants drawing with it fail.
        let (code, shown) = match cmd {
            "validate" => (2, format!("error: {message}\n")),
            _ => (
                1,
                format!("warning: {message}; the variants that use it fail\n"),
            ),
        };
        assert_eq!(o.status.code(), Some(code), "{cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("{shown}  --> {}\n", cut.display())),
            "{cmd}: {}",
            stderr(&o)
        );
    }
    let m = manifest(&p.path("out"));
    for r in m["outputs"].as_array().unwrap() {
        assert_eq!(r["status"], "failed", "{r}");
        assert!(r["error"].as_str().unwrap().contains(&message), "{r}");
    }
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn inputs_manifest_lists_each_outputs_inputs_with_sha256() {
    let p = Project::new();
    let mut t = template(r#"image = "assets/photo.png""#, "assets/music.m4a");
    t = t.replace(
        "presets = [\"tiny-video\"]",
        "presets = [\"tiny-video\", \"tiny-image\"]",
    );
    t = t.replace("kind = \"video\"", "kind = \"both\"");
    p.write("t.toml", &t);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&p.path("out"));
    let rows = m["outputs"].as_array().unwrap();
    let entry = |rel: &str| serde_json::json!({"path": rel, "sha256": sha256(&p.path(rel))});
    let video = [
        entry("assets/photo.png"),
        entry("assets/product.png"),
        entry("assets/music.m4a"),
    ];
    assert_eq!(rows[0]["kind"], "video");
    assert_eq!(rows[0]["inputs"], serde_json::json!(video));
    // The still is a white-background main image with no soundtrack: neither the photo
    // nor the music made it, and the manifest does not claim they did.
    assert_eq!(rows[1]["kind"], "image");
    assert_eq!(
        rows[1]["inputs"],
        serde_json::json!([entry("assets/product.png")])
    );
    // CSV: one cell at the end, `path=sha256;…`.
    let csv = std::fs::read_to_string(p.path("out/manifest.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",error_kind,inputs,same_output_as,lint,licence_expires,ai_generated,ai_label,review,review_by,review_at,review_note,ad_title,ad_description,ad_headline,ad_long_headline"),
        "{header}"
    );
    let first = csv.lines().nth(1).unwrap();
    let cell = format!(
        "assets/photo.png={};assets/product.png={};assets/music.m4a={}",
        sha256(&p.path("assets/photo.png")),
        sha256(&p.path("assets/product.png")),
        sha256(&p.path("assets/music.m4a"))
    );
    // Then `same_output_as` (empty); the lint column after it may carry layout warnings on
    // this tiny template, which are not this test's business.
    assert!(first.contains(&format!(",{cell},,")), "{first}");
}

#[test]
fn inputs_good_project_validates_and_each_file_is_probed_once() {
    let p = Project::new();
    p.write(
        "t.toml",
        &template(r#"video = "assets/clip.mp4""#, "assets/music.m4a"),
    );
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut presets = creative_factory::preset::PresetSet::builtin().unwrap();
    presets.load_dir(&p.path("presets")).unwrap();
    let t = creative_factory::template::load(&p.path("t.toml"), &presets).unwrap();
    let inputs = probe::inputs(&t);
    assert_eq!(
        inputs,
        [
            (canon(&p, "assets/clip.mp4"), InputUse::Clip),
            (canon(&p, "assets/product.png"), InputUse::Still),
            (canon(&p, "assets/music.m4a"), InputUse::Audio),
        ]
    );
    let probed = probe::check_inputs(&t, &FontBook::empty(), &Limits::default());
    assert!(probed.errors.is_empty(), "{:?}", probed.errors);
    let clip = &probed.reports[0];
    assert_eq!((clip.width, clip.height), (96, 64));
    assert!((clip.duration - 1.0).abs() < 0.05, "{}", clip.duration);
}
