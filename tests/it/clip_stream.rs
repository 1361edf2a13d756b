//! Background clips streamed (decoded as frames are needed, one decoder per job) against
//! clips decoded whole: the same frames, from the right source time, with start offsets,
//! loops and clips longer than the video.

use creative_factory::media::{ClipStream, Limits, VideoClip};

use crate::support::encode::*;
use crate::support::project::*;

/// The frames a stream gives for `ks`, in that order, against the clip decoded whole:
/// byte for byte, and `None` exactly past its end.
fn assert_stream_matches(path: &std::path::Path, start: f64, fps: u32, ks: &[usize]) {
    let whole = VideoClip::open(path, start, 10.0, fps, 0, 0, &Limits::default()).unwrap();
    let mut s = ClipStream::open(path, start, 10.0, fps, 0, 0).unwrap();
    assert_eq!((s.width, s.height), (whole.width, whole.height));
    for &k in ks {
        match s.frame(k).unwrap() {
            Some(img) => {
                assert!(k < whole.len(), "frame {k} past the end ({})", whole.len());
                assert!(
                    img.as_raw() == whole.frame(k).as_raw(),
                    "start {start}, {fps} fps: frame {k} differs"
                );
            }
            None => {
                assert!(
                    k >= whole.len(),
                    "frame {k} missing (clip has {})",
                    whole.len()
                );
                assert_eq!(s.len(), Some(whole.len()));
            }
        }
    }
}

#[test]
fn clip_stream_gives_the_frames_of_the_whole_clip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bg.mp4");
    // 3 s at 10 fps with a keyframe every 2 s: seeks land on a keyframe before the target.
    encode_clip(
        &path,
        &settings(W, H, 10),
        30,
        sine(48_000, 2, 3.0, 440.0),
        &stamp(&[]),
    );
    let forward: Vec<usize> = (0..32).collect();
    // In order, past the end; a loop back to the start; a jump ahead (a poster); back again;
    // one frame twice.
    let mixed = [0, 1, 2, 31, 0, 1, 25, 26, 3, 3, 4, 29, 30, 17];
    for (start, fps) in [
        (0.0, 10),
        (0.7, 10),
        (1.35, 10),
        (0.35, 20),
        (0.0, 5),
        (0.2, 7),
    ] {
        assert_stream_matches(&path, start, fps, &forward);
        assert_stream_matches(&path, start, fps, &mixed);
    }
    // Past the end straight away: the length is still learnt.
    let mut s = ClipStream::open(&path, 1.0, 10.0, 10, 0, 0).unwrap();
    assert!(s.frame(40).unwrap().is_none());
    assert_eq!(s.len(), Some(20));
    // A clip capped by `max_duration` ends there.
    let mut s = ClipStream::open(&path, 0.5, 1.0, 10, 0, 0).unwrap();
    assert!(s.frame(9).unwrap().is_some());
    assert!(s.frame(10).unwrap().is_none());
    assert_eq!(s.len(), Some(10));
}

#[test]
fn clip_stream_past_the_end_of_the_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bg.mp4");
    encode_clip(
        &path,
        &settings(W, H, 10),
        10,
        sine(48_000, 2, 1.0, 440.0),
        &stamp(&[]),
    );
    let mut s = ClipStream::open(&path, 5.0, 10.0, 10, 0, 0).unwrap();
    let e = s.frame(0).expect_err("no frames after 5 s");
    assert!(
        e.to_string().contains("bg.mp4") && e.to_string().contains("no video frames"),
        "{e}"
    );
}

const TEMPLATE: &str = r##"
[template]
name = "stream"
kind = "video"
duration = 3.0
fps = 10

[output]
presets = ["tiny-video"]
regions = ["US"]

[[background]]
id = "plain"
video = "assets/long.mp4"
loop = false

[[background]]
id = "offset"
video = "assets/long.mp4"
start = 1.3
loop = false

[[background]]
id = "looped"
video = "assets/short.mp4"
loop = true

[[background]]
id = "looped-offset"
video = "assets/short.mp4"
start = 0.5
loop = true

[[background]]
id = "held"
video = "assets/short.mp4"
loop = false
"##;

/// Renders a 3 s video over clips whose frames show their index — a 5 s clip (longer than
/// the video) from its start and from 1.3 s, a 2 s clip looped from 0 and from 0.5 s, and
/// held on its last frame — and reads each output frame's index back: the frame at time t
/// shows source time t (plus the offset, modulo the loop). Streamed (`--clip-cache-mib 0`)
/// and decoded once (the default cache) give the same pictures.
#[test]
fn clip_stream_render_shows_each_source_time_at_its_output_time() {
    let p = Project::new();
    let s = settings(72, 128, 10);
    encode_index_clip(
        &p.path("assets/long.mp4"),
        &s,
        50,
        sine(48_000, 2, 5.0, 440.0),
    );
    encode_index_clip(
        &p.path("assets/short.mp4"),
        &s,
        20,
        sine(48_000, 2, 2.0, 440.0),
    );
    p.write("t.toml", TEMPLATE);
    /// Background option → the source frame output frame `i` shows.
    type SourceOf = fn(u32) -> u32;
    let expected: [(&str, SourceOf); 5] = [
        ("plain", |i| i),
        ("offset", |i| i + 13),
        ("looped", |i| i % 20),
        ("looped-offset", |i| 5 + i % 15),
        ("held", |i| i.min(19)),
    ];
    let mut decoded = Vec::new();
    for (out, extra) in [
        ("streamed", &["--clip-cache-mib", "0"][..]),
        ("cached", &[][..]),
    ] {
        let mut args = vec!["render", "t.toml", "--out", out, "--progress", "plain"];
        args.extend_from_slice(extra);
        let o = p.factory(&args);
        assert!(o.status.success(), "render failed:\n{}", stderr(&o));
        let m = manifest(&p.path(out));
        let rows = m["outputs"].as_array().unwrap();
        assert_eq!(rows.len(), expected.len());
        let mut runs = Vec::new();
        // Variants are numbered in background order.
        for (row, (id, source_of)) in rows.iter().zip(expected) {
            let file = p.path(out).join(row["file"].as_str().unwrap());
            let frames = decode_frames(&file, &p.path(&format!("frames-{out}-{id}")));
            assert_eq!(frames.len(), 30, "{out} {id}");
            let got: Vec<u32> = frames.iter().map(read_index).collect();
            let want: Vec<u32> = (0..30).map(source_of).collect();
            assert_eq!(got, want, "{out}: background `{id}`");
            runs.push(frames);
        }
        decoded.push(runs);
    }
    assert!(
        decoded[0] == decoded[1],
        "streamed and cached renders differ"
    );
}
