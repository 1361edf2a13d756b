//! Encode → decode round trips for the encode and media stages, against real FFmpeg.

use std::process::Command;

use crate::support::encode::*;
use creative_factory::encode::{self, StreamKind};

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
        (
            "tracking_url",
            "https://shop.example.com/p/sneaker?utm_source=tiktok&utm_medium=paid_social",
        ),
    ])
}

#[test]
fn mp4_round_trip_streams_tags_and_faststart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("US_TikTok_2s_Video_v1.mp4");
    let st = stamp_fixture();
    encode_clip(
        &path,
        &settings(W, H, 10),
        20,
        sine(48_000, 2, 2.0, 440.0),
        &st,
    );

    let p = encode::probe(&path).unwrap();
    assert!(p.format.contains("mp4"), "format {}", p.format);
    assert!(
        (p.duration - 2.0).abs() < 0.05,
        "container duration {}",
        p.duration
    );
    assert_eq!(p.bytes, std::fs::metadata(&path).unwrap().len());
    let v = p
        .streams
        .iter()
        .find(|s| s.kind == StreamKind::Video)
        .expect("video stream");
    assert_eq!(v.codec, "h264");
    assert_eq!(v.profile.as_deref(), Some("High"));
    assert_eq!(v.pix_fmt.as_deref(), Some("yuv420p"));
    assert_eq!((v.width, v.height), (W, H));
    assert_eq!(v.frames, 20);
    assert!(
        (v.duration - 2.0).abs() < 1e-6,
        "video duration {}",
        v.duration
    );
    let a = p
        .streams
        .iter()
        .find(|s| s.kind == StreamKind::Audio)
        .expect("audio stream");
    assert_eq!(a.codec, "aac");
    assert_eq!(a.profile.as_deref(), Some("LC"));
    assert_eq!((a.sample_rate, a.channels), (48_000, 2));
    assert!(
        (a.duration - 2.0).abs() < 0.03,
        "audio duration {}",
        a.duration
    );

    let boxes = top_level_boxes(&std::fs::read(&path).unwrap());
    let moov = boxes.iter().position(|b| b == "moov").expect("moov box");
    let mdat = boxes.iter().position(|b| b == "mdat").expect("mdat box");
    assert!(
        moov < mdat,
        "faststart: moov must precede mdat, got {boxes:?}"
    );

    assert_eq!(encode::read_stamp(&path).unwrap(), st);
}

#[test]
fn mp4_tags_visible_to_ffprobe_cli() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let st = stamp_fixture();
    encode_clip(
        &path,
        &settings(W, H, 10),
        5,
        sine(48_000, 2, 0.5, 440.0),
        &st,
    );
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_format", "-of", "json"])
        .arg(&path)
        .output()
        .expect("ffprobe CLI runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tags = &json["format"]["tags"];
    for (k, v) in &st.0 {
        assert_eq!(tags[k].as_str(), Some(v.as_str()), "tag {k} in {tags}");
    }
}

// ------------------------------------------------------------------ stills

use creative_factory::media::{self, AudioPcm, Limits, MediaError, VideoClip};
use creative_factory::preset::{ImageFormat, ImageSpec};
use image::{Rgba, RgbaImage};

/// A gradient with a soft-edged translucent disc, so flattening and alpha both matter.
fn still_fixture(w: u32, h: u32, alpha: bool) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
        let a = if alpha && d > 20.0 { 128 } else { 255 };
        Rgba([(x * 255 / w) as u8, (y * 255 / h) as u8, 160, a])
    })
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as f64)
        .sum::<f64>()
        / a.len() as f64
}

fn still_round_trip(format: ImageFormat, quality: u8, alpha: bool) -> (RgbaImage, RgbaImage) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join(format!("SA_Amazon_Main_v1.{}", format.extension()));
    let img = still_fixture(W, H, alpha);
    let st = stamp_fixture();
    encode::write_image(&path, &img, &ImageSpec { format, quality }, &st).unwrap();

    assert_eq!(
        encode::read_stamp(&path).unwrap(),
        st,
        "stamp of {format:?}"
    );
    let back = image::open(&path).unwrap().into_rgba8();
    assert_eq!(back.dimensions(), img.dimensions());
    let p = encode::probe(&path).unwrap();
    let expect = match format {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::Webp => "webp",
    };
    assert_eq!(p.format, expect);
    assert_eq!(p.streams.len(), 1);
    assert_eq!(
        (p.streams[0].width, p.streams[0].height, p.streams[0].frames),
        (W, H, 1)
    );
    // Our own loader must accept what we write (images are reused as inputs).
    assert_eq!(
        media::load_image(&path, &Limits::default())
            .unwrap()
            .dimensions(),
        (W, H)
    );
    (img, back)
}

#[test]
fn jpeg_round_trip_flattens_on_white_and_keeps_stamp() {
    let (img, back) = still_round_trip(ImageFormat::Jpeg, 92, true);
    // Expected: the source composited over white.
    let flat: Vec<u8> = img
        .pixels()
        .flat_map(|p| {
            let a = p[3] as u32;
            let c = |v: u8| ((v as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
            [c(p[0]), c(p[1]), c(p[2]), 255]
        })
        .collect();
    let d = mean_abs_diff(&flat, back.as_raw());
    assert!(d < 3.0, "JPEG mean abs diff {d}");
    assert!(back.pixels().all(|p| p[3] == 255));
}

#[test]
fn png_round_trip_is_lossless_with_alpha() {
    let (img, back) = still_round_trip(ImageFormat::Png, 100, true);
    assert_eq!(img, back);
}

#[test]
fn png_opaque_round_trip_is_lossless() {
    let (img, back) = still_round_trip(ImageFormat::Png, 100, false);
    assert_eq!(img, back);
}

#[test]
fn webp_lossy_round_trip_close() {
    let (img, back) = still_round_trip(ImageFormat::Webp, 90, false);
    let d = mean_abs_diff(img.as_raw(), back.as_raw());
    assert!(d < 4.0, "WebP mean abs diff {d}");
}

#[test]
fn webp_lossy_keeps_alpha() {
    let (img, back) = still_round_trip(ImageFormat::Webp, 90, true);
    let alpha = |i: &RgbaImage| i.pixels().map(|p| p[3]).collect::<Vec<_>>();
    let d = mean_abs_diff(&alpha(&img), &alpha(&back));
    assert!(d < 2.0, "WebP alpha mean abs diff {d}");
}

#[test]
fn webp_quality_100_is_lossless() {
    let (img, back) = still_round_trip(ImageFormat::Webp, 100, true);
    assert_eq!(img, back);
}

#[test]
fn exiftool_sees_xmp_in_every_still_format() {
    if Command::new("exiftool").arg("-ver").output().is_err() {
        eprintln!("exiftool not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp] {
        let path = dir.path().join(format!("x.{}", format.extension()));
        encode::write_image(
            &path,
            &still_fixture(W, H, false),
            &ImageSpec {
                format,
                quality: 85,
            },
            &stamp_fixture(),
        )
        .unwrap();
        let out = Command::new("exiftool")
            .args(["-XMP-cf:all", "-s", "-j"])
            .arg(&path)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let tags = &json[0];
        // exiftool capitalises unknown property names (variant_id → Variant_id).
        let find = |k: &str| {
            tags.as_object()
                .unwrap()
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            find("variant_id")
                .and_then(|v| v.as_str().map(String::from))
                .as_deref(),
            Some("a1b2c3d4"),
            "{format:?}: {tags}"
        );
        assert_eq!(
            find("subtitle")
                .and_then(|v| v.as_str().map(String::from))
                .as_deref(),
            Some(ARABIC),
            "{format:?}: {tags}"
        );
    }
}

// ------------------------------------------------------------------ load_image errors

#[test]
fn load_image_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.png");
    let e = media::load_image(&missing, &Limits::default()).unwrap_err();
    assert!(matches!(e, MediaError::Io { .. }));
    assert!(e.to_string().contains("nope.png"), "{e}");

    let text = dir.path().join("notes.png");
    std::fs::write(&text, "this is not an image\n").unwrap();
    let e = media::load_image(&text, &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("notes.png") && e.contains("not a PNG/JPEG/WebP image"),
        "{e}"
    );

    let good = dir.path().join("good.png");
    encode::write_image(
        &good,
        &still_fixture(W, H, false),
        &ImageSpec {
            format: ImageFormat::Png,
            quality: 100,
        },
        &stamp(&[]),
    )
    .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.png");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let e = media::load_image(&truncated, &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated.png") && e.contains("PNG"), "{e}");

    let small = Limits {
        max_image_pixels: 1000,
        ..Limits::default()
    };
    let e = media::load_image(&good, &small).unwrap_err();
    assert!(matches!(e, MediaError::Limit { .. }), "{e}");
    assert!(
        e.to_string().contains("good.png") && e.to_string().contains("64×112"),
        "{e}"
    );

    let e = media::load_image(dir.path(), &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
}

// ------------------------------------------------------------------ audio

#[test]
fn audio_load_wav_resamples_and_remixes() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    // 1 s mono 44.1 kHz, 1 kHz at half scale.
    let samples: Vec<i16> = (0..44_100)
        .map(|i| {
            ((2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 44_100.0).sin() * 16_384.0) as i16
        })
        .collect();
    write_wav(&wav, 44_100, 1, &samples);
    let pcm = AudioPcm::load(&wav, 48_000, 2).unwrap();
    assert_eq!((pcm.sample_rate, pcm.channels), (48_000, 2));
    assert!(
        (pcm.duration() - 1.0).abs() < 0.002,
        "duration {}",
        pcm.duration()
    );
    // Mono is copied to both channels; peak level survives resampling.
    let mid = &pcm.samples[48_000..48_000 + 2000];
    assert!(mid.chunks_exact(2).all(|c| (c[0] - c[1]).abs() < 1e-6));
    let peak = mid.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!((peak - 0.5).abs() < 0.02, "peak {peak}");
}

#[test]
fn audio_load_from_our_own_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("music.mp4");
    encode_clip(
        &mp4,
        &settings(W, H, 10),
        10,
        sine(48_000, 2, 1.0, 440.0),
        &stamp(&[]),
    );
    let pcm = AudioPcm::load(&mp4, 44_100, 1).unwrap();
    assert_eq!((pcm.sample_rate, pcm.channels), (44_100, 1));
    assert!(
        (pcm.duration() - 1.0).abs() < 0.03,
        "duration {}",
        pcm.duration()
    );
}

#[test]
fn urls_and_non_files_are_refused_without_network() {
    for url in [
        "http://x/y.mp4",
        "https://example.com/a.m3u8",
        "concat:a.mp4|b.mp4",
    ] {
        let p = std::path::Path::new(url);
        let e = AudioPcm::load(p, 48_000, 2).unwrap_err();
        assert!(e.to_string().contains(url), "{e}");
        let e = VideoClip::open(p, 0.0, 1.0, 10, 64, 64, &Limits::default())
            .err()
            .expect("refused");
        assert!(e.to_string().contains(url), "{e}");
        assert!(encode::probe(p).is_err());
    }
    let dir = tempfile::tempdir().unwrap();
    let e = VideoClip::open(dir.path(), 0.0, 1.0, 10, 64, 64, &Limits::default())
        .err()
        .expect("refused");
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

#[test]
fn playlist_files_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let m3u8 = dir.path().join("evil.m3u8");
    std::fs::write(
        &m3u8,
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nhttp://127.0.0.1:9/seg.ts\n#EXT-X-ENDLIST\n",
    )
    .unwrap();
    assert!(AudioPcm::load(&m3u8, 48_000, 2).is_err());
    assert!(VideoClip::open(&m3u8, 0.0, 1.0, 10, 64, 64, &Limits::default()).is_err());
}

// ------------------------------------------------------------------ video clips

#[test]
fn video_clip_decodes_resamples_and_downscales() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bg.mp4");
    encode_clip(
        &path,
        &settings(W, H, 10),
        20,
        sine(48_000, 2, 2.0, 440.0),
        &stamp(&[]),
    );

    // Same rate, no scaling: 20 frames, and frame i shows the square where frame i was drawn.
    let clip = VideoClip::open(&path, 0.0, 10.0, 10, 0, 0, &Limits::default()).unwrap();
    assert_eq!(clip.len(), 20);
    assert_eq!((clip.width, clip.height), (W, H));
    assert!((clip.duration - 2.0).abs() < 1e-9);
    for i in [0usize, 7, 19] {
        let d = mean_abs_diff(
            clip.frame(i).as_raw(),
            square_frame(W, H, i as u32).as_raw(),
        );
        assert!(d < 6.0, "frame {i} differs by {d}");
    }

    // 20 fps from a 10 fps source: each source frame shown twice, stored once.
    let clip = VideoClip::open(&path, 0.5, 1.0, 20, 32, 1000, &Limits::default()).unwrap();
    assert_eq!(clip.len(), 20);
    assert_eq!((clip.width, clip.height), (32, 56));
    assert_eq!(clip.memory_bytes(), 10 * 32 * 56 * 4);
    assert!(std::ptr::eq(clip.frame(0), clip.frame(1)));

    // 5 fps from 10 fps starting at 1.0 s: source frames 10, 12, …, 18.
    let clip = VideoClip::open(&path, 1.0, 10.0, 5, 0, 0, &Limits::default()).unwrap();
    assert_eq!(clip.len(), 5);
    let d = mean_abs_diff(clip.frame(2).as_raw(), square_frame(W, H, 14).as_raw());
    assert!(d < 6.0, "frame at 1.4 s differs by {d}");
}

#[test]
fn video_clip_over_memory_limit_says_how_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bg.mp4");
    encode_clip(
        &path,
        &settings(W, H, 10),
        10,
        sine(48_000, 2, 1.0, 440.0),
        &stamp(&[]),
    );
    let e = VideoClip::open(
        &path,
        0.0,
        10.0,
        10,
        0,
        0,
        &Limits {
            max_clip_bytes: 100_000,
            ..Limits::default()
        },
    )
    .err()
    .expect("limit");
    assert!(matches!(e, MediaError::Limit { .. }));
    let m = e.to_string();
    assert!(
        m.contains("bg.mp4") && m.contains("MiB") && m.contains("raise"),
        "{m}"
    );
}

#[test]
fn video_clip_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<VideoClip>();
    assert_send_sync::<AudioPcm>();
    fn assert_send<T: Send>() {}
    assert_send::<encode::VideoWriter>();
}

#[test]
fn audio_shorter_than_video_is_padded_and_longer_is_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    for (name, secs) in [("short.mp4", 0.3), ("long.mp4", 5.0)] {
        let path = dir.path().join(name);
        encode_clip(
            &path,
            &settings(W, H, 10),
            10,
            sine(48_000, 2, secs, 440.0),
            &stamp(&[]),
        );
        let p = encode::probe(&path).unwrap();
        let a = p
            .streams
            .iter()
            .find(|s| s.kind == StreamKind::Audio)
            .unwrap();
        assert!(
            (a.duration - 1.0).abs() < 0.03,
            "{name}: audio {} s",
            a.duration
        );
    }
}

#[test]
fn writer_rejects_wrong_frame_size_and_odd_canvas() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.mp4");
    let st = stamp(&[]);
    let e = encode::VideoWriter::create(
        &path,
        &settings(63, 112, 10),
        &st,
        std::sync::Arc::new(AudioPcm::silence(48_000, 2, 1.0)),
    )
    .err()
    .expect("odd width refused");
    assert!(
        e.to_string().contains("bad.mp4") && e.to_string().contains("even"),
        "{e}"
    );
    let mut w = encode::VideoWriter::create(
        &path,
        &settings(W, H, 10),
        &st,
        std::sync::Arc::new(AudioPcm::silence(48_000, 2, 1.0)),
    )
    .unwrap();
    let e = w.push(&square_frame(32, 32, 0)).unwrap_err();
    assert!(e.to_string().contains("32×32"), "{e}");
}

// ------------------------------------------------------------------ manual / measurement

/// Writes one file of each kind into `$CF_SAMPLE_DIR` for inspection with ffprobe/exiftool:
/// `CF_SAMPLE_DIR=/tmp/x cargo test --test it -- --ignored encode_roundtrip::dump_samples`.
#[test]
#[ignore]
fn dump_samples() {
    let dir = std::path::PathBuf::from(std::env::var("CF_SAMPLE_DIR").expect("set CF_SAMPLE_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    encode_clip(
        &dir.join("clip.mp4"),
        &settings(W, H, 10),
        20,
        sine(48_000, 2, 2.0, 440.0),
        &stamp_fixture(),
    );
    for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Webp] {
        let p = dir.join(format!("still.{}", format.extension()));
        encode::write_image(
            &p,
            &still_fixture(W, H, true),
            &ImageSpec {
                format,
                quality: 85,
            },
            &stamp_fixture(),
        )
        .unwrap();
    }
}

/// Encode speed at a real preset size:
/// `cargo test --release --test it -- --ignored --nocapture encode_roundtrip::encode_speed`.
#[test]
#[ignore]
fn encode_speed_1080x1920() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(1080, 1920, 30);
    s.threads = std::env::var("CF_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(encode::X264_SLICES);
    s.video.max_bitrate_kbps = None;
    let frames: Vec<RgbaImage> = (0..30)
        .map(|i| {
            let mut f = still_fixture(1080, 1920, false);
            let sq = square_frame(1080, 1920, i * 10);
            for (d, s) in f.pixels_mut().zip(sq.pixels()) {
                if s[0] > 200 {
                    *d = *s;
                }
            }
            f
        })
        .collect();
    let n = 150;
    let path = dir.path().join("speed.mp4");
    let t = std::time::Instant::now();
    let mut w = encode::VideoWriter::create(
        &path,
        &s,
        &stamp(&[]),
        std::sync::Arc::new(sine(48_000, 2, 5.0, 440.0)),
    )
    .unwrap();
    for i in 0..n {
        w.push(&frames[i % frames.len()]).unwrap();
    }
    w.finish().unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "1080x1920 veryfast crf23 threads={}: {n} frames in {secs:.2} s = {:.1} fps, {} bytes",
        s.threads,
        n as f64 / secs,
        std::fs::metadata(&path).unwrap().len()
    );
}

#[test]
fn load_image_applies_exif_orientation() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.jpg");
    let img = still_fixture(64, 32, false);
    encode::write_image(
        &plain,
        &img,
        &ImageSpec {
            format: ImageFormat::Jpeg,
            quality: 90,
        },
        &stamp(&[]),
    )
    .unwrap();
    let bytes = std::fs::read(&plain).unwrap();
    // Minimal EXIF APP1: little-endian TIFF, one IFD entry Orientation (0x0112) = 6
    // ("rotate 90° clockwise to display"), as phones write for portrait shots.
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&[6, 0, 0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut rotated = bytes[..2].to_vec();
    rotated.extend_from_slice(&app1);
    rotated.extend_from_slice(&bytes[2..]);
    let path = dir.path().join("portrait.jpg");
    std::fs::write(&path, rotated).unwrap();

    let loaded = media::load_image(&path, &Limits::default()).unwrap();
    assert_eq!(loaded.dimensions(), (32, 64));
    // Rotated clockwise: the source's top-left corner is now top-right.
    let src = img.get_pixel(0, 0);
    let got = loaded.get_pixel(31, 0);
    assert!(
        (0..3).all(|c| (src[c] as i32 - got[c] as i32).abs() < 12),
        "{src:?} vs {got:?}"
    );
}

#[test]
fn mp4_audio_and_video_are_interleaved_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    encode_clip(
        &path,
        &settings(W, H, 10),
        20,
        sine(48_000, 2, 2.0, 440.0),
        &stamp(&[]),
    );
    assert_interleaved(&path);
}

/// Written as the video progressed, not all audio after all video: with ~1 s chunks there
/// are several switches between streams in file order even in a 2 s clip.
fn assert_interleaved(path: &std::path::Path) {
    ffmpeg_next::init().unwrap();
    let mut ictx = ffmpeg_next::format::input(&path).unwrap();
    let mut order: Vec<(isize, usize)> = ictx
        .packets()
        .map(|(s, p)| (p.position(), s.index()))
        .collect();
    order.sort();
    let switches = order.windows(2).filter(|w| w[0].1 != w[1].1).count();
    assert!(
        switches >= 3,
        "{}: only {switches} stream switches in file order",
        path.display()
    );
}

/// The audio packets of an MP4 in file order: (pts, bytes).
fn audio_packets(path: &std::path::Path) -> Vec<(Option<i64>, Vec<u8>)> {
    ffmpeg_next::init().unwrap();
    let mut ictx = ffmpeg_next::format::input(&path).unwrap();
    ictx.packets()
        .filter(|(s, _)| s.parameters().medium() == ffmpeg_next::media::Type::Audio)
        .map(|(_, p)| (p.pts(), p.data().unwrap_or(&[]).to_vec()))
        .collect()
}

#[test]
fn soundtrack_coded_while_mastering_is_muxed_as_the_writer_would_code_it() {
    // The renderer codes the mix once to measure it and hands the packets over, late, while
    // frames are already going in; the file must hold the same audio as if the writer had
    // coded the samples itself, still interleaved with the pictures.
    let dir = tempfile::tempdir().unwrap();
    let (fps, frames) = (10, 25);
    // 2.5 s: not a whole number of 1024-sample AAC frames, so the short last frame counts.
    let pcm = sine(48_000, 2, 2.5, 440.0);
    let own = dir.path().join("own.mp4");
    encode_clip(&own, &settings(W, H, fps), frames, pcm.clone(), &stamp(&[]));

    let (_, coded) = creative_factory::media::aac_roundtrip(&pcm, 128).unwrap();
    let own_packets = audio_packets(&own);
    assert!(
        own_packets.len() > 100,
        "{} audio packets",
        own_packets.len()
    );
    let coded_bytes: Vec<&[u8]> = coded.packets.iter().map(|p| &p.data[..]).collect();
    let own_bytes: Vec<&[u8]> = own_packets.iter().map(|(_, d)| &d[..]).collect();
    assert!(
        coded_bytes == own_bytes,
        "the round trip's packets are not what the writer codes from the same samples"
    );

    // The writer muxes the packets it is given (another tone here, to tell them apart from
    // its own coding of `pcm`), timed as its own would be.
    let (_, other_tone) =
        creative_factory::media::aac_roundtrip(&sine(48_000, 2, 2.5, 880.0), 128).unwrap();
    let reused = dir.path().join("reused.mp4");
    let mut s = settings(W, H, fps);
    s.frames = Some(frames);
    let mut w = encode::VideoWriter::create_without_audio(&reused, &s, &stamp(&[])).unwrap();
    for i in 0..frames {
        if i == 7 {
            w.set_audio(
                std::sync::Arc::new(pcm.clone()),
                Some(std::sync::Arc::new(other_tone.clone())),
            )
            .unwrap();
        }
        w.push(&square_frame(W, H, i)).unwrap();
    }
    w.finish().unwrap();
    let muxed = audio_packets(&reused);
    let given: Vec<&[u8]> = other_tone.packets.iter().map(|p| &p.data[..]).collect();
    assert!(
        muxed.iter().map(|(_, d)| &d[..]).eq(given.iter().copied()),
        "the given packets are not what the file holds"
    );
    let pts = |v: &[(Option<i64>, Vec<u8>)]| v.iter().map(|p| p.0).collect::<Vec<_>>();
    assert_eq!(pts(&muxed), pts(&own_packets), "packet times");
    let (pa, pb) = (
        encode::probe(&own).unwrap(),
        encode::probe(&reused).unwrap(),
    );
    assert!(
        (pa.duration - pb.duration).abs() < 1e-6,
        "{} vs {}",
        pa.duration,
        pb.duration
    );

    assert_interleaved(&reused);

    // Packets coded for another length are not used: the writer codes the samples itself,
    // and the file still holds the whole soundtrack.
    let other = dir.path().join("other.mp4");
    let mut s = settings(W, H, fps);
    s.frames = Some(frames + 5);
    let mut w = encode::VideoWriter::create_without_audio(&other, &s, &stamp(&[])).unwrap();
    w.set_audio(
        std::sync::Arc::new(pcm.clone()),
        Some(std::sync::Arc::new(other_tone)),
    )
    .unwrap();
    for i in 0..frames {
        w.push(&square_frame(W, H, i)).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(
        audio_packets(&other),
        own_packets,
        "coded by the writer, same bytes"
    );
}

#[test]
fn audio_load_common_music_formats() {
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        eprintln!("ffmpeg CLI not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for ext in ["mp3", "m4a", "ogg", "opus", "flac"] {
        let path = dir.path().join(format!("music.{ext}"));
        let ok = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:duration=1.5:sample_rate=44100",
            ])
            .arg(&path)
            .status()
            .unwrap()
            .success();
        if !ok {
            eprintln!("this ffmpeg cannot write .{ext}; skipping it");
            continue;
        }
        let pcm = AudioPcm::load(&path, 48_000, 2).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!((pcm.sample_rate, pcm.channels), (48_000, 2));
        assert!(
            (pcm.duration() - 1.5).abs() < 0.06,
            "{ext}: {} s",
            pcm.duration()
        );
        // lavfi's sine source is mono at amplitude 1/8; mono is copied to both channels.
        let peak = pcm.samples[24_000..72_000]
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.125).abs() < 0.02, "{ext}: peak {peak}");
    }
}

#[test]
fn writer_reports_bad_x264_settings_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad_preset.mp4");
    let mut s = settings(W, H, 10);
    s.video.speed = "ludicrous".into();
    let e = encode::VideoWriter::create(
        &path,
        &s,
        &stamp(&[]),
        std::sync::Arc::new(AudioPcm::silence(48_000, 2, 1.0)),
    )
    .err()
    .expect("unknown preset refused");
    let m = e.to_string();
    assert!(
        m.contains("bad_preset.mp4") && m.contains("ludicrous"),
        "{m}"
    );
    assert!(!path.exists(), "half-created file left behind");

    let e = encode::VideoWriter::create(
        &dir.path().join("no/such/dir/x.mp4"),
        &settings(W, H, 10),
        &stamp(&[]),
        std::sync::Arc::new(AudioPcm::silence(48_000, 2, 1.0)),
    )
    .err()
    .expect("missing directory refused");
    assert!(e.to_string().contains("no/such/dir/x.mp4"), "{e}");
}

#[test]
fn writer_resamples_audio_given_at_another_rate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resampled.mp4");
    // The soundtrack was loaded at 44.1 kHz mono; the preset asks for 48 kHz stereo.
    encode_clip(
        &path,
        &settings(W, H, 10),
        10,
        sine(44_100, 1, 1.0, 440.0),
        &stamp(&[]),
    );
    let p = encode::probe(&path).unwrap();
    let a = p
        .streams
        .iter()
        .find(|s| s.kind == StreamKind::Audio)
        .unwrap();
    assert_eq!((a.sample_rate, a.channels), (48_000, 2));
    let back = AudioPcm::load(&path, 48_000, 2).unwrap();
    let peak = back.samples[9_600..38_400]
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!((peak - 0.5).abs() < 0.05, "peak {peak}");
}

#[test]
fn mp4_bytes_are_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, threads: u32| {
        let path = dir.path().join(name);
        let mut s = settings(W, H, 10);
        s.threads = threads;
        encode_clip(&path, &s, 20, sine(48_000, 2, 2.0, 440.0), &stamp_fixture());
        std::fs::read(&path).unwrap()
    };
    let a = run("a.mp4", encode::X264_SLICES);
    let b = run("b.mp4", encode::X264_SLICES);
    // Same frames, audio, stamp and settings → same bytes, so manifest sha256 values are
    // stable across reruns and machines. (Another slice count changes the bytes: x264
    // records its settings in the stream.)
    assert!(a == b, "same input and settings must give the same bytes");
}

/// x264 reads memory it never wrote when the width is not a multiple of 16, as 1080 is not;
/// the writer pins what such memory holds (`encode::video`, `fixed_heap_fill`). Before, a
/// video's bytes depended on what earlier work in the same process had left in the heap: a
/// render's later videos over a moving background differed between identical runs.
#[test]
fn mp4_bytes_do_not_depend_on_what_ran_before_in_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (72, 128);
    let frame = |i: u32| {
        // A moving texture over the whole frame, so every macroblock (the partial one at the
        // right edge too) codes motion.
        RgbaImage::from_fn(w, h, |x, y| {
            let v = (x + 3 * i).wrapping_mul(2_654_435_761) ^ (y + 2 * i).wrapping_mul(40_503);
            Rgba([
                (v >> 24) as u8,
                (v >> 16) as u8 | 0x40,
                (x * 3 + y) as u8,
                255,
            ])
        })
    };
    let mut files = Vec::new();
    for run in 0..6u32 {
        // What a render does between two videos, reduced: allocate, write, free.
        let mut seed = 0x9e37_79b9u32.wrapping_mul(run + 1);
        let litter: Vec<Vec<u8>> = (0..400)
            .map(|k| {
                let mut v = vec![0u8; 64 + (k * 997) % 60_000];
                for b in v.iter_mut() {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    *b = seed as u8;
                }
                v
            })
            .collect();
        drop(litter);
        let path = dir.path().join(format!("{run}.mp4"));
        let mut wr = encode::VideoWriter::create(
            &path,
            &settings(w, h, 10),
            &stamp_fixture(),
            std::sync::Arc::new(sine(48_000, 2, 1.0, 440.0)),
        )
        .unwrap();
        for i in 0..10 {
            wr.push(&frame(i)).unwrap();
        }
        wr.finish().unwrap();
        files.push(std::fs::read(&path).unwrap());
    }
    let distinct: std::collections::BTreeSet<&Vec<u8>> = files.iter().collect();
    assert_eq!(
        distinct.len(),
        1,
        "the same frames, settings and stamp must give the same bytes in every encode"
    );
}

#[test]
fn video_clip_applies_display_rotation() {
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        eprintln!("ffmpeg CLI not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.mp4");
    encode_clip(
        &plain,
        &settings(W, H, 10),
        10,
        sine(48_000, 2, 1.0, 440.0),
        &stamp(&[]),
    );
    // Same frames, plus a display matrix as a phone would write (FFmpeg 5.1's `rotate` tag).
    let rotated = dir.path().join("rotated.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&plain)
        .args(["-c", "copy", "-metadata:s:v:0", "rotate=90"])
        .arg(&rotated)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let clip = VideoClip::open(&rotated, 0.0, 1.0, 10, 0, 0, &Limits::default()).unwrap();
    // Displayed the way `ffmpeg -i rotated.mp4 out.png` shows it: 112×64, with frame 0's
    // top-left square turned to the bottom-left.
    assert_eq!((clip.width, clip.height), (H, W));
    let f = clip.frame(0);
    assert_eq!(f.dimensions(), (H, W));
    assert!(
        f.get_pixel(6, W - 6)[0] > 200,
        "square should be bottom-left"
    );
    assert!(f.get_pixel(6, 6)[0] < 100, "top-left should be background");
    // Downscaling bounds apply to the displayed orientation.
    let small = VideoClip::open(&rotated, 0.0, 1.0, 10, 56, 1000, &Limits::default()).unwrap();
    assert_eq!((small.width, small.height), (56, 32));
    assert_eq!(small.frame(0).dimensions(), (56, 32));
}

/// Every frame the MP4 marks as a keyframe (a sync sample, where players seek to) must be
/// an IDR: with open GOPs the later keyframes were non-IDR I-frames whose leading B-frames
/// reference the GOP before, and FFmpeg seeking there reported missing references.
#[test]
fn every_keyframe_is_an_idr_and_seeking_to_one_decodes_cleanly() {
    use ffmpeg_next as ffmpeg;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gops.mp4");
    // 10 fps, a keyframe every 2 s: 6 s give three GOPs.
    encode_clip(
        &path,
        &settings(W, H, 10),
        60,
        sine(48_000, 2, 6.0, 440.0),
        &stamp(&[]),
    );
    ffmpeg::init().unwrap();
    let mut input = ffmpeg::format::input(&path).unwrap();
    let video = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .unwrap()
        .index();
    let mut keyframes = Vec::new();
    for (stream, packet) in input.packets() {
        if stream.index() != video || !packet.is_key() {
            continue;
        }
        // AVCC: 4-byte big-endian NAL lengths; type 5 is a slice of an IDR picture.
        let data = packet.data().unwrap();
        let (mut i, mut types) = (0usize, Vec::new());
        while i + 4 < data.len() {
            let n = u32::from_be_bytes(data[i..i + 4].try_into().unwrap()) as usize;
            types.push(data[i + 4] & 0x1f);
            i += 4 + n;
        }
        keyframes.push((packet.pts().unwrap_or(-1), types));
    }
    assert_eq!(keyframes.len(), 3, "keyframes {keyframes:?}");
    for (pts, types) in &keyframes {
        assert!(
            types.contains(&5) && !types.contains(&1),
            "keyframe at pts {pts} is not an IDR picture: NAL types {types:?}"
        );
    }
    let out = Command::new("ffmpeg")
        .args(["-v", "warning", "-ss", "4", "-i"])
        .arg(&path)
        .args(["-frames:v", "3", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "ffmpeg seeking to 4 s"
    );
}
