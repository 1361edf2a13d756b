//! Encode → decode round trips for the encode and media stages, against real FFmpeg.

mod encode_support;

use std::process::Command;

use creative_factory::encode::{self, StreamKind};
use encode_support::*;

const ARABIC: &str = "اركض بخفة";
const CHINESE: &str = "轻盈每一步";

fn stamp_fixture() -> creative_factory::encode::Stamp {
    stamp(&[
        ("variant_id", "a1b2c3d4"),
        ("template", "sneaker-launch"),
        ("template_version", "3"),
        ("region", "SA"),
        ("locale", "ar"),
        ("subtitle", ARABIC),
        ("subtitle_zh", CHINESE),
        ("tracking_url", "https://shop.example.com/p/sneaker?utm_source=tiktok&utm_medium=paid_social"),
    ])
}

#[test]
fn mp4_round_trip_streams_tags_and_faststart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("US_TikTok_2s_Video_v1.mp4");
    let st = stamp_fixture();
    encode_clip(&path, &settings(W, H, 10), 20, sine(48_000, 2, 2.0, 440.0), &st);

    let p = encode::probe(&path).unwrap();
    assert!(p.format.contains("mp4"), "format {}", p.format);
    assert!((p.duration - 2.0).abs() < 0.05, "container duration {}", p.duration);
    assert_eq!(p.bytes, std::fs::metadata(&path).unwrap().len());
    let v = p.streams.iter().find(|s| s.kind == StreamKind::Video).expect("video stream");
    assert_eq!(v.codec, "h264");
    assert_eq!(v.profile.as_deref(), Some("High"));
    assert_eq!(v.pix_fmt.as_deref(), Some("yuv420p"));
    assert_eq!((v.width, v.height), (W, H));
    assert_eq!(v.frames, 20);
    assert!((v.duration - 2.0).abs() < 1e-6, "video duration {}", v.duration);
    let a = p.streams.iter().find(|s| s.kind == StreamKind::Audio).expect("audio stream");
    assert_eq!(a.codec, "aac");
    assert_eq!(a.profile.as_deref(), Some("LC"));
    assert_eq!((a.sample_rate, a.channels), (48_000, 2));
    assert!((a.duration - 2.0).abs() < 0.03, "audio duration {}", a.duration);

    let boxes = top_level_boxes(&std::fs::read(&path).unwrap());
    let moov = boxes.iter().position(|b| b == "moov").expect("moov box");
    let mdat = boxes.iter().position(|b| b == "mdat").expect("mdat box");
    assert!(moov < mdat, "faststart: moov must precede mdat, got {boxes:?}");

    assert_eq!(encode::read_stamp(&path).unwrap(), st);
}

#[test]
fn mp4_tags_visible_to_ffprobe_cli() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let st = stamp_fixture();
    encode_clip(&path, &settings(W, H, 10), 5, sine(48_000, 2, 0.5, 440.0), &st);
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_format", "-of", "json"])
        .arg(&path)
        .output()
        .expect("ffprobe CLI runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags = &json["format"]["tags"];
    for (k, v) in &st.0 {
        assert_eq!(tags[k].as_str(), Some(v.as_str()), "tag {k} in {tags}");
    }
}
