//! Scenes encoded once (issue #14): outputs stitched from scene segments coded once per run
//! must be the full encode's pictures, decode cleanly with monotonic timestamps, keep their
//! sound on the cuts, and say in the manifest how they were made. Rendered with the real
//! binary (stitching on, and `--no-stitch` for the reference), read back with the ffmpeg CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::RgbImage;

use crate::support::presets::{VideoPreset, TINY_VIDEO};
use crate::support::project::*;

/// 192×256 at 10 fps; x264 at the production CRF range, so the PSNR bound means something.
const STITCH_VIDEO: VideoPreset = VideoPreset {
    platform: "Stitch",
    description: "192×256 stitching test canvas",
    width: 192,
    height: 256,
    crf: 23,
    extra: "",
    ..TINY_VIDEO
};

fn project() -> Project {
    let p = Project::new();
    p.write("presets/stitch-video.toml", &STITCH_VIDEO.toml());
    // A quiet tone under a click: the click is the loudest sample of the whole soundtrack.
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=220:sample_rate=48000",
            "-af",
            "volume=0.02",
            "-t",
            "5",
            "-c:a",
            "pcm_s16le",
        ],
        &p.path("assets/bed.wav"),
    );
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "aevalsrc='if(lt(t,0.002),0.9*sin(2*PI*3000*t),0)':s=48000",
            "-t",
            "0.2",
            "-c:a",
            "pcm_s16le",
        ],
        &p.path("assets/click.wav"),
    );
    p
}

/// Three 1.5 s scenes; `b` picks one of two backgrounds and crossfades in, `c` cuts in with
/// a click on its cut. Orders × picks: 3 × 2 = 6 variants sharing most scenes.
fn template(extra: &str) -> String {
    format!(
        r##"
[template]
name = "stitch"
version = 1
kind = "video"
fps = 10
duration = 4.5

[output]
presets = ["stitch-video"]
regions = ["US"]

[variants]
orders = [["a", "b", "c"], ["b", "a", "c"], ["c", "a", "b"]]

[[scene]]
id = "a"
duration = 1.5
background = ["photo"]
product = ["disc"]

[[scene]]
id = "b"
duration = 1.5
background = ["red", "blue"]
transition = {{ type = "crossfade", duration = 0.4 }}

[[scene]]
id = "c"
duration = 1.5
background = ["green"]

[[background]]
id = "photo"
image = "assets/photo.png"

[[background]]
id = "red"
color = "#d02020"

[[background]]
id = "blue"
color = "#2040d0"

[[background]]
id = "green"
color = "#20c040"

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.5

[[audio]]
id = "bed"
source = "assets/bed.wav"
sfx = [{{ source = "assets/click.wav", at = 0.0, scene = "c" }}]
{extra}
"##
    )
}

/// Renders `text` into `out` (extra CLI arguments after it); returns the manifest.
fn render(p: &Project, text: &str, out: &str, extra: &[&str]) -> serde_json::Value {
    p.write("t.toml", text);
    let mut args = vec!["render", "t.toml", "--out", out, "--progress", "plain"];
    args.extend_from_slice(extra);
    let o = p.factory(&args);
    assert!(
        o.status.success(),
        "render failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    manifest(&p.path(out))
}

fn rows(m: &serde_json::Value) -> Vec<serde_json::Value> {
    m["outputs"].as_array().expect("outputs").clone()
}

fn file(p: &Project, out: &str, row: &serde_json::Value) -> PathBuf {
    p.path(out).join(row["file"].as_str().unwrap())
}

fn psnr(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let se: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    let mse = se / a.as_raw().len() as f64;
    if mse == 0.0 {
        return f64::INFINITY;
    }
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// (pts, dts) of every video packet, in file order, read back by ffprobe.
fn video_packets(path: &Path) -> Vec<(i64, i64, bool)> {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts,dts,flags",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].contains('K'),
            )
        })
        .collect()
}

/// Presentation time (s) of every decoded video frame, in order.
fn frame_times(path: &Path) -> Vec<f64> {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim_end_matches(',').parse().unwrap())
        .collect()
}

/// The time (s) of the loudest sample of the decoded soundtrack (mono mix, 48 kHz).
fn audio_peak(path: &Path) -> f64 {
    let (i, _) = crate::support::encode::ffmpeg_pcm(path, 1)
        .into_iter()
        .map(f32::abs)
        .enumerate()
        .fold(
            (0, 0.0f32),
            |best, (i, v)| if v > best.1 { (i, v) } else { best },
        );
    i as f64 / 48000.0
}

fn is_green(f: &RgbImage) -> bool {
    let n = f.pixels().count() as f64;
    let mean = |c: usize| f.pixels().map(|p| p.0[c] as f64).sum::<f64>() / n;
    mean(1) > 150.0 && mean(0) < 80.0 && mean(2) < 100.0
}

#[test]
fn stitched_outputs_match_a_full_encode_frame_for_frame() {
    let p = project();
    let t = template("");
    let stitched = render(&p, &t, "out", &[]);
    let full = render(&p, &t, "full", &["--no-stitch"]);
    let (s_rows, f_rows) = (rows(&stitched), rows(&full));
    assert_eq!(s_rows.len(), 6, "3 orders × 2 picks");
    assert_eq!(s_rows.len(), f_rows.len());

    // (d) the manifest says which outputs were stitched and what they reused.
    let modes: Vec<&str> = s_rows
        .iter()
        .map(|r| r["encode"].as_str().expect("encode on every video row"))
        .collect();
    assert!(
        modes.iter().filter(|m| **m == "stitched").count() >= 4,
        "most outputs share scenes: {modes:?}"
    );
    let reused: u64 = s_rows
        .iter()
        .map(|r| r["frames_reused"].as_u64().unwrap())
        .sum();
    assert!(reused >= 5 * 15, "whole scenes reused, got {reused} frames");
    assert_eq!(
        s_rows[0]["frames_reused"], 0,
        "the first output reuses nothing"
    );
    for r in &f_rows {
        assert_eq!(r["encode"], "full", "--no-stitch encodes whole");
        assert_eq!(r["frames_reused"], 0);
    }

    same_pictures(&p, &s_rows, &f_rows);
}

/// (a), (b): each stitched output decodes to the full encode's pictures (≥ 40 dB PSNR on
/// every frame, same count) with strictly increasing decoding times and frames at i/fps.
fn same_pictures(p: &Project, s_rows: &[serde_json::Value], f_rows: &[serde_json::Value]) {
    for (s, f) in s_rows.iter().zip(f_rows) {
        assert_eq!(s["file"], f["file"]);
        assert_eq!(s["status"], "exported", "{s}");
        let (sp, fp) = (file(p, "out", s), file(p, "full", f));
        // (a) every frame decodes and looks like the full encode's.
        let name = s["file"].as_str().unwrap().replace('/', "_");
        let sf = decode_frames(&sp, &p.path(&format!("frames/s-{name}")));
        let ff = decode_frames(&fp, &p.path(&format!("frames/f-{name}")));
        assert_eq!(sf.len(), 45, "{name}: frame count");
        assert_eq!(
            sf.len(),
            ff.len(),
            "{name}: same frame count as the full encode"
        );
        let dbs: Vec<f64> = sf.iter().zip(&ff).map(|(a, b)| psnr(a, b)).collect();
        for (i, db) in dbs.iter().enumerate() {
            assert!(
                *db >= 40.0,
                "{name} frame {i}: {db:.1} dB against the full encode"
            );
        }
        // (b) decoding times strictly increase, every picture is presented after it is
        // decoded, and presentation times are the 45 frames with none twice.
        let packets = video_packets(&sp);
        assert_eq!(packets.len(), 45);
        assert!(packets[0].2, "{name}: starts with a keyframe");
        for w in packets.windows(2) {
            assert!(w[1].1 > w[0].1, "{name}: dts {} then {}", w[0].1, w[1].1);
        }
        assert!(
            packets.iter().all(|&(pts, dts, _)| pts >= dts),
            "{name}: pts ≥ dts"
        );
        let mut pts: Vec<i64> = packets.iter().map(|p| p.0).collect();
        pts.sort_unstable();
        pts.dedup();
        assert_eq!(pts.len(), 45, "{name}: distinct presentation times");
        let times = frame_times(&sp);
        assert_eq!(times.len(), 45);
        assert!(
            times[0].abs() < 1e-3,
            "{name}: first frame at 0 s, got {}",
            times[0]
        );
        for (i, t) in times.iter().enumerate() {
            assert!(
                (t - i as f64 / 10.0).abs() < 1e-3,
                "{name}: frame {i} at {t} s"
            );
        }
        // The stream is one decodable H.264 stream: ffmpeg reports no error decoding it.
        let o = Command::new("ffmpeg")
            .args(["-v", "error", "-xerror", "-i"])
            .arg(&sp)
            .args(["-f", "null", "-"])
            .output()
            .unwrap();
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "{name}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn fades_grain_and_an_end_card_stitch_where_they_allow() {
    // Fades are each output's own frames; grain is seeded by the timeline frame, so a grainy
    // scene is shared only at the same place; the end card is a segment like a scene.
    // Grain is light here: at `amount = 0.2` two encodes of the same noise differed by
    // 39.7 dB on one piece's first frame (an IDR where the whole encode had a P frame) —
    // noise is what CRF coding spends least on, whichever encode makes it.
    let p = project();
    let t = template(
        r##"
[[effects]]
id = "film"
fade_in = 0.5
fade_out = 0.5
grain = { amount = 0.05, seed = 3 }

[[end_card]]
id = "shop"
duration = 1.0
background = "#ffffff"
price = "$9"
transition = { type = "crossfade", duration = 0.4 }
"##,
    );
    let stitched = rows(&render(&p, &t, "out", &[]));
    let full = rows(&render(&p, &t, "full", &["--no-stitch"]));
    let n = stitched
        .iter()
        .filter(|r| r["encode"] == "stitched")
        .count();
    assert!(n >= 2, "same-place scenes shared: {n} stitched");
    same_pictures(&p, &stitched, &full);
}

#[test]
fn stitched_bytes_do_not_depend_on_jobs() {
    // Which job codes a shared segment depends on timing; the files must not.
    let p = project();
    let t = template("");
    let one = rows(&render(&p, &t, "one", &["--jobs", "1"]));
    let two = rows(&render(&p, &t, "two", &["--jobs", "3"]));
    assert_eq!(one.len(), two.len());
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(a["file"], b["file"]);
        assert_eq!(a["sha256"], b["sha256"], "{}", a["file"]);
        assert_eq!(a["encode"], b["encode"]);
        assert_eq!(a["frames_reused"], b["frames_reused"]);
    }
}

#[test]
fn the_click_on_a_cut_stays_on_the_cut_in_a_stitched_output() {
    // (c) `c`'s sound effect starts on its cut: the loudest sample is within a frame of the
    // first frame showing `c` (decoded with its presentation time, edit lists applied).
    let p = project();
    let m = render(&p, &template(""), "out", &[]);
    let mut checked = 0;
    for row in rows(&m) {
        if row["encode"] != "stitched" {
            continue;
        }
        let path = file(&p, "out", &row);
        let name = row["file"].as_str().unwrap().replace('/', "_");
        let frames = decode_frames(&path, &p.path(&format!("frames/{name}")));
        let times = frame_times(&path);
        let first_green = frames.iter().position(is_green).expect("scene c shows");
        let cut = times[first_green];
        let peak = audio_peak(&path);
        assert!(
            (peak - cut).abs() <= 0.1 + 1e-3,
            "{name}: click at {peak:.3} s, cut at {cut:.3} s"
        );
        checked += 1;
    }
    assert!(checked >= 4, "stitched outputs checked: {checked}");
}

#[test]
fn a_caption_over_the_whole_video_is_encoded_whole_and_says_so() {
    // (e) a video-wide caption (no scene lists subtitles) shows in every scene: one caption
    // across the cuts, so nothing is stitched.
    let p = project();
    let t = template(
        r##"
[[subtitle]]
id = "copy"
size = 0.1
text = "Sale"
"##,
    );
    let m = render(&p, &t, "out", &[]);
    let rows = rows(&m);
    assert_eq!(rows.len(), 6);
    for r in &rows {
        assert_eq!(r["status"], "exported", "{r}");
        assert_eq!(r["encode"], "full", "{}", r["file"]);
        assert_eq!(r["frames_reused"], 0);
    }
}

#[test]
fn a_stitched_output_plays_in_chromium() {
    let p = project();
    let m = render(&p, &template(""), "out", &[]);
    let row = rows(&m)
        .into_iter()
        .find(|r| r["encode"] == "stitched" && r["frames_reused"].as_u64() > Some(0))
        .expect("a stitched output");
    let video = file(&p, "out", &row);
    let page = p.write(
        "play.html",
        &format!(
            r#"<!doctype html><html><body><video id="v" muted preload="auto" src="{}"></video>
<pre id="out">waiting</pre>
<script>
const v = document.getElementById('v'), out = document.getElementById('out');
v.addEventListener('error', () => {{ out.textContent = 'error ' + (v.error && v.error.code); }});
v.addEventListener('loadedmetadata', () => {{ v.currentTime = 3.2; }});
v.addEventListener('seeked', () => {{
  out.textContent = 'ok ' + v.videoWidth + 'x' + v.videoHeight + ' ' + v.duration.toFixed(1);
}});
</script></body></html>"#,
            url_of(&video)
        ),
    );
    let loaded = crate::support::browser::dump_dom(&url_of(&page));
    assert!(
        loaded.dom.contains("ok 192x256 4.5"),
        "chromium: {}\nlog: {}",
        loaded
            .dom
            .lines()
            .find(|l| l.contains("id=\"out\""))
            .unwrap_or(&loaded.dom),
        loaded.log
    );
}

fn url_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

mod writer {
    //! `VideoWriter::push_segment` on its own: segments coded by `SegmentEncoder` join into
    //! one stream, and what cannot join is refused before any of its packets is written.

    use std::sync::Arc;

    use creative_factory::encode::{EncodeError, SegmentEncoder, Stamp, VideoWriter};

    use crate::support::encode::{settings, sine, square_frame, H, W};

    fn segment(
        dir: &std::path::Path,
        name: &str,
        from: u32,
        to: u32,
        profile: &str,
    ) -> creative_factory::encode::SegmentFile {
        let mut s = settings(W, H, 10);
        s.video.profile = profile.into();
        let mut e = SegmentEncoder::create(&dir.join(name), &s).unwrap();
        for i in from..to {
            e.push(&square_frame(W, H, i)).unwrap();
        }
        e.finish().unwrap()
    }

    #[test]
    fn segments_join_into_one_stream_and_mismatches_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            segment(dir.path(), "a.seg", 0, 12, "high"),
            segment(dir.path(), "b.seg", 12, 30, "high"),
        );
        assert_eq!(a.extradata, b.extradata, "same settings, same avcC");
        let mut s = settings(W, H, 10);
        s.frames = Some(30);
        let out = dir.path().join("joined.mp4");
        let mut w = VideoWriter::create_stitched(&out, &s, &Stamp::default()).unwrap();
        w.set_audio(Arc::new(sine(48_000, 2, 3.0, 440.0)), None)
            .unwrap();
        w.push_segment(&a, 0).unwrap();
        // Out of place: it would not follow the frames written so far.
        assert!(matches!(
            w.push_segment(&b, 11),
            Err(EncodeError::Unstitchable { .. })
        ));
        // Another profile: other SPS, so other extradata.
        let main = segment(dir.path(), "main.seg", 12, 30, "main");
        assert_ne!(main.extradata, a.extradata);
        assert!(matches!(
            w.push_segment(&main, 12),
            Err(EncodeError::Unstitchable { .. })
        ));
        // Shorter than x264's B-frame delay: its first decoding time is not -delay.
        let tiny = segment(dir.path(), "tiny.seg", 12, 13, "high");
        if tiny.delay != a.delay {
            assert!(matches!(
                w.push_segment(&tiny, 12),
                Err(EncodeError::Unstitchable { .. })
            ));
        }
        w.push_segment(&b, 12).unwrap();
        w.finish().unwrap();
        let probe = creative_factory::encode::probe(&out).unwrap();
        let video = probe
            .streams
            .iter()
            .find(|s| s.kind == creative_factory::encode::StreamKind::Video)
            .unwrap();
        assert_eq!(video.frames, 30);
        assert!((probe.duration - 3.0).abs() < 0.05, "{}", probe.duration);
    }
}
