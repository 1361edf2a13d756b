//! Inputs checked before anything renders: every media file a template references is opened,
//! its streams read and its first and last frames decoded, so a bad file is reported by
//! `factory validate` (and refused by `factory render` before the first job) instead of
//! rendering grey halves, silence or sideways video.
//!
//! Each case is handled right or refused with a message naming the file and the problem:
//!
//! | input | decision |
//! |---|---|
//! | truncated/corrupt video or audio (container promises more than decodes) | refused: promised and decodable durations named |
//! | video file without a video stream, audio file without an audio stream | refused |
//! | display matrix turning by a multiple of 90° (phone video) | handled: the clip decoder rotates it as players do |
//! | display matrix that mirrors or turns by another angle | refused: the decoder would show it unturned |
//! | variable frame rate | warned: frames are picked by timestamp, so timing stays right |
//! | HDR (PQ / HLG transfer) | refused: no tone mapping, colours would be washed out |
//! | 10-bit, 4:2:2, 4:4:4 SDR | handled: swscale converts any of them to RGBA |
//! | video above `Limits::max_video_pixels` | refused, limit named |
//! | still above `Limits::max_image_pixels` | refused from the header, limit named |
//! | animated GIF/PNG/WebP as a still | refused: only the first frame would show |
//! | truncated JPEG (no end-of-image marker) | refused: decoders fill the rest with grey |
//! | font that is truncated or not a font | refused (`text::FontFace` checks its table directory) |
//!
//! Each distinct (file, use) is probed once, distinct files side by side (rayon).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ffmpeg::codec::packet::side_data::Type as SideDataType;
use ffmpeg::color::TransferCharacteristic;
use ffmpeg::Rational;
use ffmpeg_next as ffmpeg;
use rayon::prelude::*;

use super::ffio::{open_input, OpenError};
use super::{Limits, MediaError};
use crate::template::{BackgroundSource, Diagnostics, Severity, Template};
use crate::text::{FontBook, TextError};

/// How the template uses a file: the same bytes are checked differently as a still, a clip
/// or a soundtrack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputUse {
    /// Background image, product cut-out, end-card logo.
    Still,
    /// Background video.
    Clip,
    /// Music, voice-over, sound effect.
    Audio,
}

/// What a probe found in a file that passed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProbeReport {
    pub path: PathBuf,
    #[serde(rename = "use")]
    pub input_use: InputUse,
    /// Pixels of a still or a clip's frames (0 for audio).
    pub width: u32,
    pub height: u32,
    /// Seconds the container promises and that decode (0 for stills).
    pub duration: f64,
    /// Accepted with a note (variable frame rate): shown as warnings.
    pub warnings: Vec<String>,
}

/// Why an input was refused. Every message names the file; `hint` says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Could not be opened or decoded at all (also: still above the pixel limit).
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(
        "{}: truncated or corrupt: the container promises {promised:.2} s of {what} but only \
         {decodable:.2} s decode",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        what: &'static str,
        promised: f64,
        decodable: f64,
    },
    #[error("{}: no video stream (it holds {found})", path.display())]
    NoVideo { path: PathBuf, found: String },
    #[error("{}: no audio stream (it holds {found})", path.display())]
    NoAudio { path: PathBuf, found: String },
    #[error(
        "{}: its display matrix {what}, which the clip decoder does not apply",
        path.display()
    )]
    Rotation { path: PathBuf, what: String },
    #[error(
        "{}: HDR video ({transfer} transfer); HDR is not supported (no tone mapping)",
        path.display()
    )]
    Hdr {
        path: PathBuf,
        transfer: &'static str,
    },
    #[error(
        "{}: {width}×{height} video = {pixels} pixels per frame exceeds the video limit of \
         {limit} pixels",
        path.display()
    )]
    VideoTooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error(
        "{}: animated {format} ({frames} frames); a still would show only its first frame",
        path.display()
    )]
    Animated {
        path: PathBuf,
        format: &'static str,
        frames: u32,
    },
    #[error(
        "{}: truncated JPEG: the image data ends without its end-of-image marker (the \
         missing rows would render grey)",
        path.display()
    )]
    TruncatedJpeg { path: PathBuf },
    #[error("{}", .source)]
    Font {
        /// The font file (or the family, when no file was found).
        path: PathBuf,
        #[source]
        source: TextError,
    },
}

impl ProbeError {
    /// The file the problem is in.
    pub fn path(&self) -> &Path {
        match self {
            ProbeError::Media(
                MediaError::Decode { path, .. }
                | MediaError::Io { path, .. }
                | MediaError::Limit { path, .. },
            )
            | ProbeError::Truncated { path, .. }
            | ProbeError::NoVideo { path, .. }
            | ProbeError::NoAudio { path, .. }
            | ProbeError::Rotation { path, .. }
            | ProbeError::Hdr { path, .. }
            | ProbeError::VideoTooLarge { path, .. }
            | ProbeError::Animated { path, .. }
            | ProbeError::TruncatedJpeg { path }
            | ProbeError::Font { path, .. } => path,
        }
    }

    /// How to fix it, for the diagnostic's hint.
    pub(crate) fn hint(&self) -> Option<String> {
        Some(match self {
            ProbeError::Media(MediaError::Limit { .. }) => return None,
            ProbeError::Media(_) => {
                "re-export or re-download the file; `ffprobe FILE` shows what FFmpeg reads".into()
            }
            ProbeError::Truncated { .. } | ProbeError::TruncatedJpeg { .. } => {
                "the file was cut short (an interrupted copy or download?): copy it again from \
                 its source"
                    .into()
            }
            ProbeError::NoVideo { .. } => {
                "a background `video` needs a file with pictures; music goes in [[audio]]".into()
            }
            ProbeError::NoAudio { .. } => "point the key at a file with sound".into(),
            ProbeError::Rotation { .. } => {
                "apply the rotation once with `ffmpeg -i in.mp4 -c:v libx264 -c:a copy out.mp4` \
                 (FFmpeg turns the pictures as players show them) and use out.mp4"
                    .into()
            }
            ProbeError::Hdr { .. } => "convert it to SDR BT.709 first, e.g. `ffmpeg -i in.mov -vf \
                 zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=hable,\
                 zscale=t=bt709:m=bt709:r=tv,format=yuv420p -c:v libx264 out.mp4`"
                .into(),
            ProbeError::VideoTooLarge { .. } => {
                "downscale it (`ffmpeg -i in.mp4 -vf scale=-2:2160 out.mp4`); no canvas needs \
                 more than 4K"
                    .into()
            }
            ProbeError::Animated { .. } => {
                "animated; use it as a background video clip (`video = …`) after converting it \
                 (`ffmpeg -i in.gif -pix_fmt yuv420p out.mp4`), or export the frame you want as PNG"
                    .into()
            }
            ProbeError::Font { .. } => {
                "reinstall the font (the file is damaged or is not a font), or name another \
                 family in `font`"
                    .into()
            }
        })
    }
}

/// Everything the probe found: reports for files that passed, errors for the others.
#[derive(Debug, Default)]
pub struct Probed {
    pub reports: Vec<ProbeReport>,
    pub errors: Vec<ProbeError>,
}

impl Probed {
    /// Adds errors (and warnings) to the template's diagnostics: at the key that names the
    /// file when the template recorded where (`Template::asset_span`), else as a note on the
    /// file itself (fonts, named by family). Without `refuse`, a refused file is a warning
    /// saying its variants fail (what `render` does with it).
    pub fn diagnose(&self, t: &Template, dx: &mut Diagnostics, refuse: bool) {
        let mut add = |sev: Severity, path: &Path, message: String, hint: Option<String>| match t
            .asset_span(path)
        {
            Some(span) => match sev {
                Severity::Error => dx.error(span, message, hint),
                Severity::Warning => dx.warning(span, message, hint),
            },
            None => dx.in_file(sev, path, 0, 0..0, message, hint),
        };
        for e in &self.errors {
            match refuse {
                true => add(Severity::Error, e.path(), e.to_string(), e.hint()),
                false => add(
                    Severity::Warning,
                    e.path(),
                    format!("{e}; the variants that use it fail"),
                    e.hint(),
                ),
            }
        }
        for r in &self.reports {
            for w in &r.warnings {
                add(
                    Severity::Warning,
                    &r.path,
                    format!("{}: {w}", r.path.display()),
                    None,
                );
            }
        }
        dx.sort();
    }
}

/// Every (file, use) the template references, in template order, each once.
pub fn inputs(t: &Template) -> Vec<(PathBuf, InputUse)> {
    let mut v: Vec<(PathBuf, InputUse)> = Vec::new();
    let bg = |b: &crate::template::Background| match &b.source {
        BackgroundSource::Image(p) => Some((p.clone(), InputUse::Still)),
        BackgroundSource::Video { path, .. } => Some((path.clone(), InputUse::Clip)),
        _ => None,
    };
    let product = |p: &crate::template::Product| (p.source.clone(), InputUse::Still);
    let sounds = |a: &crate::template::Audio| {
        a.files()
            .map(|f| (f.clone(), InputUse::Audio))
            .collect::<Vec<_>>()
    };
    v.extend(t.backgrounds.iter().filter_map(bg));
    v.extend(t.products.iter().map(product));
    v.extend(t.audio.iter().flat_map(sounds));
    v.extend(
        t.end_cards
            .iter()
            .filter_map(|e| e.logo.clone().map(|l| (l, InputUse::Still))),
    );
    for r in &t.regions {
        let o = &r.overrides;
        v.extend(o.background.values().filter_map(bg));
        v.extend(o.product.values().map(product));
        v.extend(o.audio.values().flat_map(sounds));
    }
    let mut seen = HashSet::new();
    v.retain(|k| seen.insert(k.clone()));
    v
}

/// The stage function: probes every media input of `t` (distinct files side by side) and
/// the font files its captions, badges and end cards resolve to in `fonts`.
pub fn check_inputs(t: &Template, fonts: &FontBook, limits: &Limits) -> Probed {
    let results: Vec<Result<ProbeReport, ProbeError>> = inputs(t)
        .par_iter()
        .map(|(path, u)| probe(path, *u, limits))
        .collect();
    let mut out = Probed::default();
    for r in results {
        match r {
            Ok(rep) => out.reports.push(rep),
            Err(e) => out.errors.push(e),
        }
    }
    out.errors.extend(check_fonts(t, fonts));
    out
}

/// Probes one file for one use.
pub fn probe(path: &Path, input_use: InputUse, limits: &Limits) -> Result<ProbeReport, ProbeError> {
    match input_use {
        InputUse::Still => probe_still(path, limits),
        InputUse::Clip | InputUse::Audio => probe_av(path, input_use, limits),
    }
}

// ---------------------------------------------------------------------------------------
// Stills

fn probe_still(path: &Path, limits: &Limits) -> Result<ProbeReport, ProbeError> {
    let bytes = std::fs::read(path).map_err(|source| MediaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // Animation first: `image` would decode an animated file's first frame and say nothing,
    // and a GIF would be refused as "not supported" without saying why it matters.
    if let Some((format, frames)) = animation(&bytes) {
        return Err(ProbeError::Animated {
            path: path.to_path_buf(),
            format,
            frames,
        });
    }
    // zune-jpeg decodes a cut-off scan without an error and leaves the missing rows grey.
    if bytes.starts_with(&[0xFF, 0xD8]) && !jpeg_complete(&bytes) {
        return Err(ProbeError::TruncatedJpeg {
            path: path.to_path_buf(),
        });
    }
    // The loader checks the header's size against the pixel limit before allocating, then
    // decodes everything: a PNG or WebP cut short fails here.
    let img = super::still::load_image(path, limits)?;
    Ok(ProbeReport {
        path: path.to_path_buf(),
        input_use: InputUse::Still,
        width: img.width(),
        height: img.height(),
        duration: 0.0,
        warnings: Vec::new(),
    })
}

/// `Some((format, frames))` for an animated GIF, APNG or WebP with more than one frame.
fn animation(b: &[u8]) -> Option<(&'static str, u32)> {
    let frames = if b.starts_with(b"GIF8") {
        ("GIF", gif_frames(b))
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        ("PNG", apng_frames(b))
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        ("WebP", webp_frames(b))
    } else {
        return None;
    };
    (frames.1 > 1).then_some(frames)
}

/// Image descriptors in a GIF (stops at the trailer or where the data ends).
fn gif_frames(b: &[u8]) -> u32 {
    if b.len() < 13 {
        return 0;
    }
    let mut i = 13;
    if b[10] & 0x80 != 0 {
        i += 3 << ((b[10] & 7) + 1);
    }
    let skip_sub_blocks = |mut i: usize| {
        while i < b.len() && b[i] != 0 {
            i += b[i] as usize + 1;
        }
        i + 1
    };
    let mut frames = 0;
    while i < b.len() {
        match b[i] {
            0x2C => {
                frames += 1;
                if i + 10 > b.len() {
                    break;
                }
                let flags = b[i + 9];
                i += 10;
                if flags & 0x80 != 0 {
                    i += 3 << ((flags & 7) + 1);
                }
                i = skip_sub_blocks(i + 1); // LZW minimum code size, then the data
            }
            0x21 => i = skip_sub_blocks(i + 2),
            _ => break, // 0x3B trailer, or garbage
        }
    }
    frames
}

/// The frame count of an APNG's `acTL` chunk (1 for a plain PNG).
fn apng_frames(b: &[u8]) -> u32 {
    let mut i = 8;
    while i + 8 <= b.len() {
        let len = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let kind = &b[i + 4..i + 8];
        if kind == b"acTL" && i + 12 <= b.len() {
            return u32::from_be_bytes([b[i + 8], b[i + 9], b[i + 10], b[i + 11]]);
        }
        if kind == b"IDAT" {
            break; // acTL must come before the image data
        }
        i += 12 + len;
    }
    1
}

/// `ANMF` chunks of an animated WebP (1 for a still WebP).
fn webp_frames(b: &[u8]) -> u32 {
    let mut i = 12;
    let mut frames = 0;
    while i + 8 <= b.len() {
        let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
        if &b[i..i + 4] == b"ANMF" {
            frames += 1;
        }
        i += 8 + len + (len & 1);
    }
    frames.max(1)
}

/// A JPEG is complete when an end-of-image marker (FF D9) follows its first scan. Inside
/// entropy-coded data a 0xFF byte is always followed by 00 or a restart marker, so FF D9
/// there is the real end; thumbnails (with their own FF D9) live before the first scan.
fn jpeg_complete(b: &[u8]) -> bool {
    let Some(sos) = b.windows(2).position(|w| w == [0xFF, 0xDA]) else {
        return false;
    };
    b[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

// ---------------------------------------------------------------------------------------
// Video and audio

fn secs(ts: i64, tb: Rational) -> f64 {
    ts as f64 * tb.numerator() as f64 / tb.denominator() as f64
}

fn rate(r: Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| r.numerator() as f64 / r.denominator() as f64)
}

fn open_err(path: &Path, e: OpenError, what: &str) -> ProbeError {
    ProbeError::Media(match e {
        OpenError::Io(source) => MediaError::Io {
            path: path.to_path_buf(),
            source,
        },
        OpenError::NotRegular(m) => MediaError::decode(path, m),
        OpenError::Ffmpeg(e) => {
            MediaError::decode_failed(path, format_args!("FFmpeg cannot open it as {what}"), e)
        }
    })
}

/// What a file holds, for "no video stream (it holds …)".
fn stream_list(ictx: &ffmpeg::format::context::Input) -> String {
    let kinds: Vec<String> = ictx
        .streams()
        .map(|s| {
            let id = s.parameters().id();
            format!("{:?} {}", s.parameters().medium(), id.name()).to_lowercase()
        })
        .collect();
    if kinds.is_empty() {
        "no streams".into()
    } else {
        kinds.join(", ")
    }
}

fn probe_av(path: &Path, input_use: InputUse, limits: &Limits) -> Result<ProbeReport, ProbeError> {
    let video = input_use == InputUse::Clip;
    let mut ictx =
        open_input(path).map_err(|e| open_err(path, e, if video { "a video" } else { "audio" }))?;
    let medium = if video {
        ffmpeg::media::Type::Video
    } else {
        ffmpeg::media::Type::Audio
    };
    let Some(stream) = ictx.streams().best(medium) else {
        let found = stream_list(&ictx);
        return Err(if video {
            ProbeError::NoVideo {
                path: path.to_path_buf(),
                found,
            }
        } else {
            ProbeError::NoAudio {
                path: path.to_path_buf(),
                found,
            }
        });
    };
    let index = stream.index();
    let tb = stream.time_base();
    let start = if stream.start_time() == ffmpeg::ffi::AV_NOPTS_VALUE {
        0
    } else {
        stream.start_time()
    };
    let start_s = secs(start, tb);
    // The stream's own duration when the container has one, else the container's.
    let promised = if stream.duration() > 0 {
        secs(stream.duration(), tb)
    } else if ictx.duration() > 0 {
        ictx.duration() as f64 / 1e6 - start_s.max(0.0)
    } else {
        0.0
    };
    let (r_rate, avg_rate) = (stream.rate(), stream.avg_frame_rate());
    let rotation = display_matrix(&stream);
    let ctx = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| MediaError::decode_failed(path, "cannot read its stream parameters", e))?;
    let no_decoder = |e| {
        ProbeError::Media(MediaError::decode_failed(
            path,
            if video {
                "no decoder for its video stream"
            } else {
                "no decoder for its audio stream"
            },
            e,
        ))
    };
    let mut warnings = Vec::new();
    let (mut width, mut height) = (0, 0);
    let mut decoder = if video {
        let dec = ctx.decoder().video().map_err(no_decoder)?;
        (width, height) = (dec.width(), dec.height());
        let pixels = width as u64 * height as u64;
        if pixels > limits.max_video_pixels {
            return Err(ProbeError::VideoTooLarge {
                path: path.to_path_buf(),
                width,
                height,
                pixels,
                limit: limits.max_video_pixels,
            });
        }
        let transfer = match dec.color_transfer_characteristic() {
            TransferCharacteristic::SMPTE2084 => Some("PQ (SMPTE ST 2084)"),
            TransferCharacteristic::ARIB_STD_B67 => Some("HLG (ARIB STD-B67)"),
            _ => None,
        };
        if let Some(transfer) = transfer {
            return Err(ProbeError::Hdr {
                path: path.to_path_buf(),
                transfer,
            });
        }
        if let Some(what) = rotation.and_then(unsupported_rotation) {
            return Err(ProbeError::Rotation {
                path: path.to_path_buf(),
                what,
            });
        }
        // Opened, the common decoder: the checks below are the same for sound and pictures.
        dec.0
    } else {
        ctx.decoder().audio().map_err(no_decoder)?.0
    };
    let frame_step = if video {
        rate(avg_rate).or(rate(r_rate)).map_or(0.04, |r| 1.0 / r)
    } else {
        0.0
    };

    // The first frame (and, for video, the first packets' timestamps for the frame-rate
    // check).
    let mut pts_head: Vec<i64> = Vec::new();
    let first = decode_until(
        &mut ictx,
        &mut decoder,
        index,
        tb,
        start,
        Some(&mut pts_head),
        true,
    )
    .map_err(|e| MediaError::decode_failed(path, "cannot read its packets", e))?;
    if first.frames == 0 {
        return Err(ProbeError::Media(MediaError::decode(
            path,
            if video {
                "no video frame decodes (corrupt file?)"
            } else {
                "no audio decodes (corrupt file?)"
            },
        )));
    }
    if video {
        if let Some(w) = variable_rate(r_rate, avg_rate, &mut pts_head, tb) {
            warnings.push(w);
        }
    }

    // The end: seek to the last second the container promises and decode to the end. What
    // decodes there must reach (nearly) the promised end.
    let what = if video { "video" } else { "audio" };
    let mut decodable = first.end;
    if promised > 0.0 {
        let target = start_s + (promised - 1.0).max(0.0);
        let ts = (target * 1e6) as i64;
        let seeked = ictx.seek(ts, ..ts).is_ok();
        decoder.flush();
        if seeked {
            let tail = decode_until(&mut ictx, &mut decoder, index, tb, start, None, false)
                .map_err(|e| MediaError::decode_failed(path, "cannot read its packets", e))?;
            decodable = decodable.max(tail.end + if video { frame_step } else { 0.0 });
        }
        // Two frames or a quarter second, whichever is longer: containers round durations
        // and encoders pad audio; a cut-off file misses far more.
        let tolerance = (2.0 * frame_step).max(0.25);
        if decodable + tolerance < promised {
            if decodable <= first.end + frame_step {
                // Nothing decoded near the end (the seek landed past the data): read every
                // packet from the start to say how much is really there.
                decodable = decodable.max(scan_packets(path, index).unwrap_or(0.0));
            }
            return Err(ProbeError::Truncated {
                path: path.to_path_buf(),
                what,
                promised,
                decodable: decodable.min(promised),
            });
        }
    }
    Ok(ProbeReport {
        path: path.to_path_buf(),
        input_use,
        width,
        height,
        duration: if promised > 0.0 { promised } else { decodable },
        warnings,
    })
}

/// What a decoding pass saw.
struct Pass {
    frames: usize,
    /// End of the last decoded frame, seconds from the stream start.
    end: f64,
}

/// Decodes the stream's packets from where the demuxer is, until the first frame
/// (`first_only`) or the end of the file. Packets the demuxer cannot read (a truncated
/// file's index pointing past its end) are skipped, up to a bound.
fn decode_until(
    ictx: &mut ffmpeg::format::context::Input,
    decoder: &mut ffmpeg::decoder::Opened,
    index: usize,
    tb: Rational,
    start: i64,
    mut pts_head: Option<&mut Vec<i64>>,
    first_only: bool,
) -> Result<Pass, ffmpeg::Error> {
    let mut pass = Pass {
        frames: 0,
        end: 0.0,
    };
    // SAFETY: `empty` allocates a fresh AVFrame; it is only handed to the decoder.
    let mut frame = unsafe { ffmpeg::Frame::empty() };
    let mut take = |decoder: &mut ffmpeg::decoder::Opened, pass: &mut Pass| {
        while decoder.receive_frame(&mut frame).is_ok() {
            pass.frames += 1;
            // SAFETY: the decoder filled `frame`; these are plain fields of the AVFrame.
            let (dur, samples, sample_rate) = unsafe {
                let f = frame.as_ptr();
                ((*f).pkt_duration, (*f).nb_samples, (*f).sample_rate)
            };
            if let Some(ts) = frame.timestamp().or(frame.pts()) {
                let len = if sample_rate > 0 && samples > 0 {
                    samples as f64 / sample_rate as f64
                } else if dur > 0 {
                    secs(dur, tb)
                } else {
                    0.0
                };
                pass.end = pass.end.max(secs(ts - start, tb) + len);
            }
        }
    };
    let (mut packet, mut errors) = (ffmpeg::Packet::empty(), 0);
    while next_packet(ictx, &mut packet, &mut errors) {
        if packet.stream() != index {
            continue;
        }
        if let (Some(head), Some(pts)) = (pts_head.as_deref_mut(), packet.pts()) {
            if head.len() < 64 {
                head.push(pts);
            }
        }
        loop {
            let sent = decoder.send_packet(&packet);
            take(decoder, &mut pass);
            match sent {
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    continue
                }
                // Ok, or a corrupt packet: the decoder resynchronises on the next one.
                _ => break,
            }
        }
        // The frame-rate check wants a few dozen packets even once a frame is out.
        let head_full = pts_head.as_ref().is_none_or(|h| h.len() >= 64);
        if first_only && pass.frames > 0 && head_full {
            return Ok(pass);
        }
    }
    let _ = decoder.send_eof();
    take(decoder, &mut pass);
    Ok(pass)
}

/// End of the last packet of stream `index` the demuxer can read, reading from the start
/// without decoding.
fn scan_packets(path: &Path, index: usize) -> Option<f64> {
    let mut ictx = open_input(path).ok()?;
    let stream = ictx.stream(index)?;
    let tb = stream.time_base();
    let start = if stream.start_time() == ffmpeg::ffi::AV_NOPTS_VALUE {
        0
    } else {
        stream.start_time()
    };
    let mut end = 0.0f64;
    let (mut packet, mut errors) = (ffmpeg::Packet::empty(), 0);
    while next_packet(&mut ictx, &mut packet, &mut errors) {
        if packet.stream() == index {
            if let Some(pts) = packet.pts() {
                end = end.max(secs(pts - start + packet.duration(), tb));
            }
        }
    }
    Some(end)
}

/// Reads the next packet into `packet`: `false` at the end of the input, or once `errors`
/// unreadable packets pass 100 000 (a damaged file ends the scan like its end would).
fn next_packet(
    ictx: &mut ffmpeg::format::context::Input,
    packet: &mut ffmpeg::Packet,
    errors: &mut usize,
) -> bool {
    loop {
        match packet.read(ictx) {
            Ok(()) => return true,
            Err(ffmpeg::Error::Eof) => return false,
            Err(_) => {
                *errors += 1;
                if *errors > 100_000 {
                    return false;
                }
            }
        }
    }
}

/// A note when the stream's frame rate varies: its nominal and average rates disagree, or
/// the first packets are not evenly spaced.
fn variable_rate(r: Rational, avg: Rational, pts: &mut [i64], tb: Rational) -> Option<String> {
    let note = |why: String| {
        format!(
            "variable frame rate ({why}); accepted: frames are picked by their timestamps, so \
             the clip keeps its timing"
        )
    };
    if let (Some(a), Some(b)) = (rate(r), rate(avg)) {
        if (a - b).abs() > 0.01 * a.max(b) {
            return Some(note(format!(
                "nominal {} fps, average {:.3} fps",
                fmt_rate(r),
                b
            )));
        }
    }
    // Packets arrive in decoding order; B-frames make that differ from display order.
    pts.sort_unstable();
    let d: Vec<i64> = pts
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .collect();
    let (Some(lo), Some(hi)) = (d.iter().min(), d.iter().max()) else {
        return None;
    };
    if d.len() >= 8 && *hi as f64 > 1.5 * *lo as f64 {
        return Some(note(format!(
            "frame intervals from {:.1} to {:.1} ms in the first {} frames",
            secs(*lo, tb) * 1e3,
            secs(*hi, tb) * 1e3,
            pts.len()
        )));
    }
    None
}

fn fmt_rate(r: Rational) -> String {
    if r.denominator() == 1 {
        r.numerator().to_string()
    } else {
        format!("{}/{}", r.numerator(), r.denominator())
    }
}

/// The display matrix of a stream, if it has one: the 2×2 part (a, b, c, d) in 16.16.
fn display_matrix(stream: &ffmpeg::format::stream::Stream) -> Option<[f64; 4]> {
    for sd in stream.side_data() {
        if sd.kind() == SideDataType::DisplayMatrix && sd.data().len() >= 36 {
            let m: Vec<i32> = sd
                .data()
                .chunks_exact(4)
                .take(9)
                .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let f = |v: i32| v as f64 / 65536.0;
            return Some([f(m[0]), f(m[1]), f(m[3]), f(m[4])]);
        }
    }
    None
}

/// `None` when the clip decoder shows the matrix as players do (a turn by a multiple of
/// 90°), else what the matrix does.
fn unsupported_rotation(m: [f64; 4]) -> Option<String> {
    let [a, b, c, d] = m;
    let det = a * d - b * c;
    if det < 0.0 {
        return Some("mirrors the picture".into());
    }
    // Same angle as FFmpeg's av_display_rotation_get (counter-clockwise), turned clockwise.
    let ccw = b.atan2(a).to_degrees();
    let cw = (-ccw).rem_euclid(360.0);
    let off = (cw / 90.0 - (cw / 90.0).round()).abs() * 90.0;
    (off > 0.5).then(|| format!("turns the picture by {cw:.1}°"))
}

// ---------------------------------------------------------------------------------------
// Fonts

/// Loads every face the template's captions, badges and end cards may use (per region
/// language, for the CJK families), so a damaged font file is refused now rather than
/// drawing nothing. Families not installed are left to text layout, which falls back along
/// the list and fails on a character no font has.
fn check_fonts(t: &Template, fonts: &FontBook) -> Vec<ProbeError> {
    let mut families: Vec<&String> = Vec::new();
    for s in t
        .subtitles
        .iter()
        .chain(t.regions.iter().flat_map(|r| r.overrides.subtitle.values()))
    {
        families.extend(&s.fonts);
    }
    families.extend(t.badges.iter().flat_map(|b| &b.fonts));
    families.extend(t.end_cards.iter().flat_map(|e| &e.fonts));
    let mut langs: Vec<&str> = t
        .regions
        .iter()
        .map(|r| r.locale.split('-').next().unwrap_or(""))
        .collect();
    langs.sort_unstable();
    langs.dedup();
    if langs.is_empty() {
        langs.push("");
    }
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for fam in families {
        for lang in &langs {
            if !seen.insert((fam.as_str(), *lang)) {
                continue;
            }
            match fonts.face(fam, lang) {
                Ok(_) | Err(TextError::UnknownFamily { .. }) => {}
                Err(e) => {
                    let path = match &e {
                        TextError::BadFont { path, .. } => PathBuf::from(path),
                        _ => PathBuf::from(fam),
                    };
                    if errors
                        .iter()
                        .all(|x: &ProbeError| x.path() != path.as_path())
                    {
                        errors.push(ProbeError::Font { path, source: e });
                    }
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_end_marker_after_the_scan() {
        let mut b = vec![
            0xFF, 0xD8, 0xFF, 0xE1, 0, 4, 0xFF, 0xD9, 0xFF, 0xDA, 1, 2, 3,
        ];
        assert!(!jpeg_complete(&b), "the thumbnail's FF D9 does not count");
        b.extend([0xFF, 0x00, 4, 0xFF, 0xD9]);
        assert!(jpeg_complete(&b));
    }

    #[test]
    fn rotation_by_right_angles_is_the_decoders() {
        assert_eq!(unsupported_rotation([1.0, 0.0, 0.0, 1.0]), None);
        assert_eq!(unsupported_rotation([0.0, 1.0, -1.0, 0.0]), None);
        assert_eq!(unsupported_rotation([-1.0, 0.0, 0.0, -1.0]), None);
        assert_eq!(
            unsupported_rotation([-1.0, 0.0, 0.0, 1.0]).as_deref(),
            Some("mirrors the picture")
        );
        let (s, c) = 30f64.to_radians().sin_cos();
        assert_eq!(
            unsupported_rotation([c, -s, s, c]).as_deref(),
            Some("turns the picture by 30.0°")
        );
    }
}
