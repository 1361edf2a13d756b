//! Encode stage: composed frames → files (MP4 via FFmpeg, JPEG/PNG/WebP with XMP), and
//! reading files back (probe for verification, stamps for `factory inspect`).
//!
//! OWNER: encode helper. The signatures below are the contract with `exec`/`render`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbaImage;

use crate::media::AudioPcm;
use crate::preset::{AudioSpec, ImageSpec, VideoSpec};

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("{path}: {message}")]
    Ffmpeg { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

/// Tracking metadata written inside a file. Keys are plain ASCII identifiers
/// (`variant_id`, `template`, `template_version`, `modules`, `region`, `locale`, `preset`,
/// `tracking_url`, …); values are UTF-8.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stamp(pub BTreeMap<String, String>);

#[derive(Debug, Clone)]
pub struct VideoSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub video: VideoSpec,
    pub audio: AudioSpec,
}

/// One MP4 being written. Frames are pushed in order; audio is interleaved from `audio`.
pub struct VideoWriter {
    _private: (),
}

impl VideoWriter {
    pub fn create(
        _path: &Path,
        _settings: &VideoSettings,
        _stamp: &Stamp,
        _audio: Arc<AudioPcm>,
    ) -> Result<VideoWriter, EncodeError> {
        unimplemented!("encode helper")
    }
    pub fn push(&mut self, _frame: &RgbaImage) -> Result<(), EncodeError> {
        unimplemented!("encode helper")
    }
    pub fn finish(self) -> Result<(), EncodeError> {
        unimplemented!("encode helper")
    }
}

pub fn write_image(
    _path: &Path,
    _image: &RgbaImage,
    _spec: &ImageSpec,
    _stamp: &Stamp,
) -> Result<(), EncodeError> {
    unimplemented!("encode helper")
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamKind {
    Video,
    Audio,
    Other,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamProbe {
    pub kind: StreamKind,
    pub codec: String,
    pub profile: Option<String>,
    pub pix_fmt: Option<String>,
    pub width: u32,
    pub height: u32,
    /// Frames counted by demuxing (video) — not the header's estimate.
    pub frames: u64,
    pub sample_rate: u32,
    pub channels: u16,
    pub duration: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Probe {
    /// Container/format name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `jpeg`, `png`.
    pub format: String,
    pub duration: f64,
    pub bytes: u64,
    pub streams: Vec<StreamProbe>,
}

pub fn probe(_path: &Path) -> Result<Probe, EncodeError> {
    unimplemented!("encode helper")
}

/// Reads back the stamp written by `VideoWriter`/`write_image`.
pub fn read_stamp(_path: &Path) -> Result<Stamp, EncodeError> {
    unimplemented!("encode helper")
}
