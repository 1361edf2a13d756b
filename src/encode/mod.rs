//! Encode stage: composed frames → files (MP4 via FFmpeg, JPEG/PNG/WebP with XMP), and
//! reading files back (probe for verification, stamps for `factory inspect`).
//!
//! OWNER: encode helper. The signatures below are the contract with `exec`/`render`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::RgbaImage;

use crate::preset::{AudioSpec, ImageSpec, VideoSpec};

mod bands;
mod probe;
mod still;
mod stitch;
mod video;
pub(crate) mod xmp;
mod yuv;

pub(crate) use bands::JpegPlates;
pub(crate) use still::{encode_jpeg_rgb, encode_thumbnail_jpeg, is_opaque, read_back_jpeg, Chroma};
pub use stitch::{SegmentEncoder, SegmentFile};
pub use video::VideoWriter;

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// FFmpeg (or libx264) failed. `message` already quotes `source` when there is one; it
    /// is kept so a full disk behind a failed packet write can be told from a codec error.
    #[error("{path}: {message}")]
    Ffmpeg {
        path: PathBuf,
        message: String,
        #[source]
        source: Option<ffmpeg_next::Error>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Settings, frames or stamps the encoder cannot take, found by our own checks.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    /// The `image` crate's JPEG/PNG encoder failed; `message` quotes `source` (boxed: it is
    /// large, and `ExportError` carries an `EncodeError` by value).
    #[error("{path}: {message}")]
    Image {
        path: PathBuf,
        message: String,
        #[source]
        source: Box<image::ImageError>,
    },
    /// The JPEG encoder failed (libjpeg-turbo: `still::compress_jpeg`).
    #[error("{path}: JPEG encoding failed ({source})")]
    Jpeg {
        path: PathBuf,
        #[source]
        source: turbojpeg::Error,
    },
    /// A coded segment cannot join the video without re-encoding (`VideoWriter::push_segment`:
    /// other extradata or B-frame delay, no keyframe first, timestamps out of order); the
    /// caller encodes the whole video instead.
    #[error("{path}: segment cannot be stitched: {reason}")]
    Unstitchable { path: PathBuf, reason: String },
    /// The stamp could not be written as XMP.
    #[error("{path}: {source}")]
    Xmp {
        path: PathBuf,
        source: xmp::XmpError,
    },
}

impl EncodeError {
    /// An FFmpeg failure, as `what (source)`.
    pub(crate) fn ffmpeg(
        path: &Path,
        what: impl std::fmt::Display,
        source: ffmpeg_next::Error,
    ) -> EncodeError {
        EncodeError::Ffmpeg {
            path: path.to_path_buf(),
            message: format!("{what} ({source})"),
            source: Some(source),
        }
    }
}

/// Stamp key of the GB 45438-2025 implicit label (JSON). MP4s carry it as a container tag
/// like any other key; stills carry it as `TC260:AIGC` in XMP, where Chinese checkers look.
pub(crate) const AIGC_KEY: &str = "AIGC";

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
    /// libx264 slice threads (each frame cut into this many slices, coded in parallel).
    /// Output bytes depend on it, so it defaults to the fixed [`X264_SLICES`]; 0 would let
    /// x264 choose from the machine's cores, and the bytes with it.
    pub threads: u32,
    /// How many frames will be pushed, when known. With it the writer can mux a soundtrack
    /// already coded for exactly that length (`VideoWriter::set_audio`) instead of coding it.
    pub frames: Option<u32>,
}

/// x264 slices per frame: fixed, since the slice count is part of the output bytes (4: keeps
/// 2–4 cores busy beside the renderer; 1080- and 1920-row frames split evenly).
pub const X264_SLICES: u32 = 4;

impl VideoSettings {
    /// Settings with `threads = X264_SLICES`.
    pub(crate) fn new(
        width: u32,
        height: u32,
        fps: u32,
        video: VideoSpec,
        audio: AudioSpec,
    ) -> VideoSettings {
        VideoSettings {
            width,
            height,
            fps,
            video,
            audio,
            threads: X264_SLICES,
            frames: None,
        }
    }
}

/// Writes a still with the stamp as XMP: JPEG (alpha flattened over white, APP1 XMP), PNG
/// (`iTXt` `XML:com.adobe.xmp`; RGB when fully opaque) or WebP (lossy VP8 at `quality`,
/// lossless at 100; extended VP8X container with an `XMP ` chunk).
pub fn write_image(
    path: &Path,
    image: &RgbaImage,
    spec: &ImageSpec,
    stamp: &Stamp,
) -> Result<(), EncodeError> {
    still::write_image(path, image, still::is_opaque(image), spec, stamp, None)
}

/// `write_image` of a picture whose opacity the caller has measured (`is_opaque`): the job
/// needs it for the gate and the thumbnail too, and measuring it twice was 0.3 ms a still.
pub(crate) fn write_image_as(
    path: &Path,
    image: &RgbaImage,
    opaque: bool,
    spec: &ImageSpec,
    stamp: &Stamp,
    over: Option<(&crate::render::OverPlate, &JpegPlates)>,
) -> Result<(), EncodeError> {
    still::write_image(path, image, opaque, spec, stamp, over)
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
    /// Container/format name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`, `jpeg`, `png`, `webp` (FFmpeg's
    /// demuxer name, except that single images are named by their image format).
    pub format: String,
    pub duration: f64,
    pub bytes: u64,
    pub streams: Vec<StreamProbe>,
}

/// Facts about a media file read through FFmpeg (MP4, JPEG, PNG, WebP, …). Video frame
/// counts come from demuxing every packet, so this reads the whole file.
pub fn probe(path: &Path) -> Result<Probe, EncodeError> {
    probe::probe(path)
}

/// Reads back the stamp written by `VideoWriter`/`write_image`: MP4 container tags (minus
/// FFmpeg's own `major_brand`, `minor_version`, `compatible_brands`, `encoder`), or the `cf:`
/// properties of the XMP packet in a JPEG/PNG/WebP. An image without our XMP has an empty
/// stamp.
pub fn read_stamp(path: &Path) -> Result<Stamp, EncodeError> {
    probe::read_stamp(path)
}
