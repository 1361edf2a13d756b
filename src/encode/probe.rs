//! Reading outputs back: stream facts for verification and the stamp for `factory inspect`.

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::io::Read;
use std::path::Path;

use ffmpeg::Rational;
use ffmpeg_next as ffmpeg;

use super::{xmp, EncodeError, Probe, Stamp, StreamKind, StreamProbe};
use crate::media::ffio::{self, OpenError};

/// Tags the MP4 muxer/demuxer adds on its own; they are not part of the stamp.
const FFMPEG_TAGS: &[&str] = &[
    "major_brand",
    "minor_version",
    "compatible_brands",
    "encoder",
];

fn open(path: &Path) -> Result<ffmpeg::format::context::Input, EncodeError> {
    ffio::open_input(path).map_err(|e| match e {
        OpenError::Io(source) => EncodeError::Io {
            path: path.to_path_buf(),
            source,
        },
        OpenError::NotRegular(m) => EncodeError::Format {
            path: path.to_path_buf(),
            message: m.into(),
        },
        OpenError::Ffmpeg(e) => EncodeError::ffmpeg(path, "cannot open", e),
    })
}

fn secs(ts: i64, tb: Rational) -> f64 {
    if tb.denominator() == 0 {
        return 0.0;
    }
    ts as f64 * tb.numerator() as f64 / tb.denominator() as f64
}

fn cstr(p: *const std::os::raw::c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

pub(super) fn probe(path: &Path) -> Result<Probe, EncodeError> {
    let bytes = std::fs::metadata(path)
        .map_err(|source| EncodeError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let mut ictx = open(path)?;
    let name = ictx.format().name().to_string();

    struct Acc {
        packets: u64,
        first: Option<i64>,
        end: Option<i64>,
    }
    let mut acc: Vec<Acc> = (0..ictx.nb_streams())
        .map(|_| Acc {
            packets: 0,
            first: None,
            end: None,
        })
        .collect();
    for (s, p) in ictx.packets() {
        let a = &mut acc[s.index()];
        a.packets += 1;
        if let Some(pts) = p.pts() {
            a.first = Some(a.first.map_or(pts, |f| f.min(pts)));
            let e = pts + p.duration().max(0);
            a.end = Some(a.end.map_or(e, |x| x.max(e)));
        }
    }

    let mut streams = Vec::new();
    for s in ictx.streams() {
        let params = s.parameters();
        let tb = s.time_base();
        let p = unsafe { &*params.as_ptr() };
        let kind = match params.medium() {
            ffmpeg::media::Type::Video => StreamKind::Video,
            ffmpeg::media::Type::Audio => StreamKind::Audio,
            _ => StreamKind::Other,
        };
        let profile = if p.profile == ffmpeg::ffi::FF_PROFILE_UNKNOWN {
            None
        } else {
            cstr(unsafe { ffmpeg::ffi::avcodec_profile_name(p.codec_id, p.profile) })
        };
        let pix_fmt = if kind == StreamKind::Video && p.format >= 0 {
            cstr(unsafe {
                ffmpeg::ffi::av_get_pix_fmt_name(std::mem::transmute::<
                    i32,
                    ffmpeg::ffi::AVPixelFormat,
                >(p.format))
            })
        } else {
            None
        };
        let a = &acc[s.index()];
        let duration = if s.duration() > 0 && s.duration() != ffmpeg::ffi::AV_NOPTS_VALUE {
            secs(s.duration(), tb)
        } else {
            match (a.first, a.end) {
                (Some(f), Some(e)) => secs(e - f, tb),
                _ => 0.0,
            }
        };
        #[allow(deprecated)]
        let channels = p.channels.max(p.ch_layout.nb_channels) as u16;
        streams.push(StreamProbe {
            kind,
            codec: params.id().name().to_string(),
            profile,
            pix_fmt,
            width: p.width.max(0) as u32,
            height: p.height.max(0) as u32,
            frames: a.packets,
            sample_rate: p.sample_rate.max(0) as u32,
            channels,
            duration,
        });
    }
    let duration = if ictx.duration() > 0 {
        ictx.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE)
    } else {
        streams.iter().map(|s| s.duration).fold(0.0, f64::max)
    };
    // FFmpeg reads single images through its image demuxers (`jpeg_pipe`, `image2`, …);
    // report the image format instead, which is what a user means by "format".
    let format = if name == "image2" || name.ends_with("_pipe") {
        match streams.first().map(|s| s.codec.as_str()) {
            Some("mjpeg") => "jpeg".to_string(),
            Some(c) => c.to_string(),
            None => name,
        }
    } else {
        name
    };
    Ok(Probe {
        format,
        duration,
        bytes,
        streams,
    })
}

pub(super) fn read_stamp(path: &Path) -> Result<Stamp, EncodeError> {
    let io = |source| EncodeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut head = [0u8; 12];
    let mut f = std::fs::File::open(path).map_err(io)?;
    let n = f.read(&mut head).map_err(io)?;
    let head = &head[..n];
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        let ictx = open(path)?;
        let map: BTreeMap<String, String> = ictx
            .metadata()
            .iter()
            .filter(|(k, _)| !FFMPEG_TAGS.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        return Ok(Stamp(map));
    }
    let is_image = head.starts_with(&[0xFF, 0xD8])
        || head.starts_with(b"\x89PNG")
        || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP"));
    if !is_image {
        return Err(EncodeError::Format {
            path: path.to_path_buf(),
            message: "not an MP4, JPEG, PNG or WebP file; cannot read a stamp".into(),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    // An image without our XMP simply has an empty stamp.
    Ok(Stamp(
        xmp::extract(&bytes)
            .map(|x| xmp::parse_packet(&x))
            .unwrap_or_default(),
    ))
}
