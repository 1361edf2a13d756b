//! Helpers for the encode/media round-trip tests: synthetic media, no files from outside.

use std::path::Path;
use std::sync::Arc;

use creative_factory::encode::{Stamp, VideoSettings, VideoWriter};
use creative_factory::media::AudioPcm;
use creative_factory::preset::{AudioSpec, VideoSpec};
use image::{Rgba, RgbaImage};

pub const W: u32 = 64;
pub const H: u32 = 112;

pub fn settings(w: u32, h: u32, fps: u32) -> VideoSettings {
    VideoSettings {
        width: w,
        height: h,
        fps,
        video: VideoSpec {
            codec: "h264".into(),
            profile: "high".into(),
            speed: "veryfast".into(),
            crf: 23,
            max_bitrate_kbps: Some(2000),
            gop: 2 * fps,
        },
        audio: AudioSpec {
            codec: "aac".into(),
            sample_rate: 48_000,
            channels: 2,
            bitrate_kbps: 128,
            loudness: None,
            true_peak: None,
        },
        threads: 1,
        frames: None,
    }
}

/// Frame `i` of a test clip: dark grey background, a 16 px white square moving right and
/// down by `i` pixels, so consecutive frames differ and a decoder can tell them apart.
pub fn square_frame(w: u32, h: u32, i: u32) -> RgbaImage {
    let mut img = RgbaImage::from_pixel(w, h, Rgba([40, 40, 40, 255]));
    let (x0, y0) = ((i * 2) % (w - 16), (i * 3) % (h - 16));
    for y in y0..y0 + 16 {
        for x in x0..x0 + 16 {
            img.put_pixel(x, y, Rgba([250, 250, 250, 255]));
        }
    }
    img
}

/// A sine tone, interleaved stereo f32.
pub fn sine(rate: u32, channels: u16, secs: f64, hz: f64) -> AudioPcm {
    let n = (secs * rate as f64).round() as usize;
    let mut samples = Vec::with_capacity(n * channels as usize);
    for i in 0..n {
        let v = (0.5 * (2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64).sin()) as f32;
        samples.extend(std::iter::repeat_n(v, channels as usize));
    }
    AudioPcm {
        sample_rate: rate,
        channels,
        samples,
    }
}

pub fn stamp(pairs: &[(&str, &str)]) -> Stamp {
    Stamp(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Encodes `frames` frames of the moving square with `audio`.
pub fn encode_clip(path: &Path, s: &VideoSettings, frames: u32, audio: AudioPcm, st: &Stamp) {
    let mut w = VideoWriter::create(path, s, st, Arc::new(audio)).expect("create writer");
    for i in 0..frames {
        w.push(&square_frame(s.width, s.height, i))
            .expect("push frame");
    }
    w.finish().expect("finish");
}

/// Top-level ISO BMFF box types in file order.
pub fn top_level_boxes(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while i + 8 <= bytes.len() {
        let mut size = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as u64;
        let kind = String::from_utf8_lossy(&bytes[i + 4..i + 8]).into_owned();
        if size == 1 {
            size = u64::from_be_bytes(bytes[i + 8..i + 16].try_into().unwrap());
        } else if size == 0 {
            size = (bytes.len() - i) as u64;
        }
        out.push(kind);
        if size < 8 {
            break;
        }
        i += size as usize;
    }
    out
}

/// A 16-bit PCM WAV file written by hand, so audio decoding is tested on a file this test
/// controls byte for byte.
pub fn write_wav(path: &Path, rate: u32, channels: u16, samples: &[i16]) {
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    b.extend_from_slice(&(channels * 2).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

/// Bits of a frame index [`index_frame`] draws: 6 bands, indices 0..64.
pub const INDEX_BITS: u32 = 6;

/// Frame `i` of a clip whose frames say their own index: [`INDEX_BITS`] horizontal bands,
/// top band the lowest bit, white for 1 and black for 0 — coarse enough to survive scaling
/// and two lossy encodes (read back with [`read_index`]).
pub fn index_frame(w: u32, h: u32, i: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |_, y| {
        let band = (y * INDEX_BITS / h).min(INDEX_BITS - 1);
        if i >> band & 1 == 1 {
            Rgba([255, 255, 255, 255])
        } else {
            Rgba([0, 0, 0, 255])
        }
    })
}

/// The index an [`index_frame`] shows, from the middle of each band (any size).
pub fn read_index(img: &image::RgbImage) -> u32 {
    let (w, h) = img.dimensions();
    (0..INDEX_BITS)
        .map(|b| {
            let y = ((2 * b + 1) * h / (2 * INDEX_BITS)).min(h - 1);
            let mean = (w / 4..w * 3 / 4)
                .map(|x| img.get_pixel(x, y).0.iter().map(|&c| c as u32).sum::<u32>() / 3)
                .sum::<u32>()
                / (w / 2).max(1);
            ((mean > 128) as u32) << b
        })
        .sum()
}

/// Encodes `frames` frames of [`index_frame`] with `audio`.
pub fn encode_index_clip(path: &Path, s: &VideoSettings, frames: u32, audio: AudioPcm) {
    let mut w = VideoWriter::create(path, s, &stamp(&[]), Arc::new(audio)).expect("create writer");
    for i in 0..frames {
        w.push(&index_frame(s.width, s.height, i))
            .expect("push frame");
    }
    w.finish().expect("finish");
}

/// A file's soundtrack as interleaved f32 at 48 kHz with `channels` channels, decoded by the
/// ffmpeg CLI (an independent decoder, not ours).
pub fn ffmpeg_pcm(path: &Path, channels: u16) -> Vec<f32> {
    let o = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-vn",
            "-f",
            "f32le",
            "-ac",
            &channels.to_string(),
            "-ar",
            "48000",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}
