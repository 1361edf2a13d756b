//! Decoding inputs: stills (`image`, with limits), video clips and music (FFmpeg).
//! Only local regular files are opened; no network or playlist protocol reaches FFmpeg.
//!
//! OWNER: encode helper. The signatures below are the contract with `render`/`exec`.

use std::path::{Path, PathBuf};

use image::RgbaImage;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{path}: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Limit { path: PathBuf, message: String },
}

/// Decode limits against decompression bombs and runaway memory.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_image_pixels: u64,
    /// Bytes of decoded frames one clip may hold in memory.
    pub max_clip_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_image_pixels: 64_000_000, max_clip_bytes: 2 << 30 }
    }
}

pub fn load_image(_path: &Path, _limits: &Limits) -> Result<RgbaImage, MediaError> {
    unimplemented!("encode helper")
}

/// A video clip decoded once, shared by every variant that uses it.
pub struct VideoClip {
    pub width: u32,
    pub height: u32,
    /// Seconds of source available after `start`.
    pub duration: f64,
}

impl VideoClip {
    /// Decodes up to `max_duration` seconds from `start`, sampled at `fps`, optionally
    /// downscaled so that the frame fits inside `max_w`×`max_h` (never upscaled).
    pub fn open(
        _path: &Path,
        _start: f64,
        _max_duration: f64,
        _fps: u32,
        _max_w: u32,
        _max_h: u32,
        _limits: &Limits,
    ) -> Result<VideoClip, MediaError> {
        unimplemented!("encode helper")
    }

    /// Number of decoded frames.
    pub fn len(&self) -> usize {
        unimplemented!("encode helper")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frame `i` (0-based, at the `fps` given to `open`).
    pub fn frame(&self, _i: usize) -> &RgbaImage {
        unimplemented!("encode helper")
    }
}

/// Interleaved f32 PCM.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioPcm {
    pub sample_rate: u32,
    pub channels: u16,
    pub samples: Vec<f32>,
}

impl AudioPcm {
    pub fn silence(sample_rate: u32, channels: u16, duration: f64) -> AudioPcm {
        let n = (duration * sample_rate as f64).round() as usize * channels as usize;
        AudioPcm { sample_rate, channels, samples: vec![0.0; n] }
    }

    /// Decodes and resamples a whole music file.
    pub fn load(_path: &Path, _sample_rate: u32, _channels: u16) -> Result<AudioPcm, MediaError> {
        unimplemented!("encode helper")
    }

    /// Starting at `start` seconds, looped or trimmed to exactly `duration`, with linear
    /// fades and gain applied.
    pub fn fit(&self, _start: f64, _duration: f64, _fade_in: f64, _fade_out: f64, _gain: f32) -> AudioPcm {
        unimplemented!("encode helper")
    }

    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / (self.sample_rate as f64 * self.channels as f64)
    }
}
