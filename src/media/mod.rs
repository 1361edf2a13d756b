//! Decoding inputs: stills (`image`, with limits), video clips and music (FFmpeg).
//! Only local regular files are opened; no network or playlist protocol reaches FFmpeg.
//!
//! OWNER: encode helper. The signatures below are the contract with `render`/`exec`.

use std::path::{Path, PathBuf};

use image::RgbaImage;

mod aac;
mod alpha;
mod audio;
mod clip;
pub(crate) mod ffio;
pub mod loudness;
pub mod probe;
mod resize;
mod still;

pub use aac::{aac_roundtrip, AacEncoder, AacPacket, AacStream};
pub(crate) use alpha::over_backdrop;
pub use clip::{fit_inside, ClipStream};
pub(crate) use resize::{box_reduce, resize, resize_as, resize_no_alpha, resize_rgb, with_resizer};
pub(crate) use still::Picture;

/// A test picture in which every channel of every pixel varies, alpha included, so that no
/// code path can take it for flat or opaque.
#[cfg(test)]
pub(crate) fn noise_rgba(w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        let v = x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503);
        image::Rgba([v as u8, (v >> 8) as u8, (v >> 16) as u8, (v >> 24) as u8])
    })
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The input is not what it claims to be. `message` already quotes `source` (the text
    /// reads as it always has); `source` is kept for callers that classify the failure.
    #[error("{path}: {message}")]
    Decode {
        path: PathBuf,
        message: String,
        #[source]
        source: Option<DecodeSource>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Limit { path: PathBuf, message: String },
}

/// What the decoder underneath said when an input would not decode.
#[derive(Debug, thiserror::Error)]
pub enum DecodeSource {
    #[error(transparent)]
    Ffmpeg(#[from] ffmpeg_next::Error),
    /// Boxed: `ImageError` is large, and errors that embed a `MediaError` (the duplicate
    /// gate's) are returned by value on hot paths.
    #[error(transparent)]
    Image(Box<image::ImageError>),
}

impl From<image::ImageError> for DecodeSource {
    fn from(e: image::ImageError) -> DecodeSource {
        DecodeSource::Image(Box::new(e))
    }
}

impl MediaError {
    /// A decode failure with no underlying error: the check that refused the input is ours.
    pub(crate) fn decode(path: &Path, message: impl Into<String>) -> MediaError {
        MediaError::Decode {
            path: path.to_path_buf(),
            message: message.into(),
            source: None,
        }
    }

    /// A decode failure reported by FFmpeg or `image`, as `what (source)`.
    pub(crate) fn decode_failed(
        path: &Path,
        what: impl std::fmt::Display,
        source: impl Into<DecodeSource>,
    ) -> MediaError {
        let source = source.into();
        MediaError::Decode {
            path: path.to_path_buf(),
            message: format!("{what} ({source})"),
            source: Some(source),
        }
    }
}

/// Default of `Limits::clip_cache_bytes`, in MiB: a few seconds of a small clip (the demo's
/// 4 s 540×304 clip is 79 MiB at 30 fps) or about 1 s of 1080×1920, so a batch's peak memory
/// does not depend on how long its clips are. Measured figures in BENCHMARKS.md.
pub const DEFAULT_CLIP_CACHE_MIB: u64 = 256;

/// Decode limits against decompression bombs and runaway memory.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_image_pixels: u64,
    /// Bytes of decoded frames one clip opened whole (`VideoClip::open`) may hold.
    pub max_clip_bytes: u64,
    /// Bytes of decoded background clips a run keeps in memory, shared by its jobs
    /// (`factory render --clip-cache-mib`). Clips that do not fit are streamed: each job
    /// decodes the frames it needs as it needs them (`ClipStream`), so memory does not grow
    /// with a clip's length. See docs/ARCHITECTURE.md, *Memory*.
    pub clip_cache_bytes: u64,
    /// Pixels per frame of a video input, checked by `probe` before rendering.
    pub max_video_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_image_pixels: 64_000_000,
            max_clip_bytes: 2 << 30,
            clip_cache_bytes: DEFAULT_CLIP_CACHE_MIB << 20,
            // DCI 8K: the largest frame cameras record; 16000×16000 is a mistake or a bomb.
            max_video_pixels: 8192 * 4320,
        }
    }
}

/// Decodes a local PNG/JPEG/WebP file (detected from its content, not its extension) to
/// RGBA8, refusing images larger than `limits.max_image_pixels` before allocating pixels.
pub fn load_image(path: &Path, limits: &Limits) -> Result<RgbaImage, MediaError> {
    still::load_image(path, limits)
}

/// `load_image` without widening an opaque picture to RGBA: a JPEG stays the RGB its decoder
/// produced (the cast to RGBA was 2.5 % of a catalog batch's CPU, in its review page's
/// thumbnails).
pub(crate) fn load_picture(path: &Path, limits: &Limits) -> Result<Picture, MediaError> {
    still::load_picture(path, limits)
}

/// A JPEG decoded at a reduced scale that still covers its size fitted inside `max`×`max`
/// (libjpeg-turbo's DCT scaling: a 1080×1440 output's thumbnail decodes a sixteenth of its
/// pixels), with the file's full size; `None` for other files. Only for the factory's own
/// outputs: no EXIF orientation is applied.
pub(crate) fn load_jpeg_covering(
    path: &Path,
    max: u32,
    limits: &Limits,
) -> Result<Option<(image::RgbImage, u32, u32)>, MediaError> {
    still::load_jpeg_covering(path, max, limits)
}

/// A video clip decoded once, shared by every variant that uses it.
pub struct VideoClip {
    pub width: u32,
    pub height: u32,
    /// Seconds of source available after `start` (capped at `max_duration`); equals
    /// `len() / fps`.
    pub duration: f64,
    /// Distinct decoded frames; `index` maps each output frame to one of them, so a source
    /// slower than `fps` is not stored twice.
    frames: Vec<RgbaImage>,
    index: Vec<usize>,
}

impl VideoClip {
    /// Decodes up to `max_duration` seconds from `start`, sampled at `fps`, optionally
    /// downscaled so that the frame fits inside `max_w`×`max_h` (never upscaled).
    ///
    /// Each output time `start + k/fps` shows the source frame whose timestamp is nearest.
    /// The clip ends where the source ends (or at `max_duration`). Fails with
    /// `MediaError::Limit` when the decoded frames would exceed `limits.max_clip_bytes`.
    pub fn open(
        path: &Path,
        start: f64,
        max_duration: f64,
        fps: u32,
        max_w: u32,
        max_h: u32,
        limits: &Limits,
    ) -> Result<VideoClip, MediaError> {
        clip::open(path, start, max_duration, fps, max_w, max_h, limits, false)
    }

    /// As `open`, for sparse sampling (the duplicate gate's 1 fps): frames that no other
    /// frame refers to (about half of x264's at `veryfast`) are not decoded at all, so a
    /// sampled time may show a neighbouring frame of the same shot instead.
    pub fn open_sparse(
        path: &Path,
        start: f64,
        max_duration: f64,
        fps: u32,
        max_w: u32,
        max_h: u32,
        limits: &Limits,
    ) -> Result<VideoClip, MediaError> {
        clip::open(path, start, max_duration, fps, max_w, max_h, limits, true)
    }

    /// Number of decoded frames.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frame `i` (0-based, at the `fps` given to `open`).
    ///
    /// Panics when `i >= len()`, like slice indexing.
    pub fn frame(&self, i: usize) -> &RgbaImage {
        &self.frames[self.index[i]]
    }

    /// Bytes of RGBA held by this clip.
    pub fn memory_bytes(&self) -> u64 {
        self.frames.iter().map(|f| f.as_raw().len() as u64).sum()
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
        AudioPcm {
            sample_rate,
            channels,
            samples: vec![0.0; n],
        }
    }

    /// Decodes and resamples a whole music file.
    ///
    /// Accepts whatever FFmpeg decodes (MP3, AAC/M4A, WAV, Ogg Vorbis/Opus, FLAC, or the audio
    /// track of a video) from a local regular file; output is interleaved f32 at
    /// `sample_rate` Hz with `channels` channels (FFmpeg's default layout for that count).
    pub fn load(path: &Path, sample_rate: u32, channels: u16) -> Result<AudioPcm, MediaError> {
        AudioPcm::load_impl(path, sample_rate, channels)
    }

    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / (self.sample_rate as f64 * self.channels as f64)
    }
}
