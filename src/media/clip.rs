//! Background video clips. [`ClipStream`] decodes forward, one output frame at a time, at the
//! project's frame rate — what a render holds is a frame, not the clip, so memory does not
//! grow with the clip's length. `open` builds a whole [`VideoClip`] from the same stream, so
//! a clip decoded once and shared shows exactly the frames a stream would.

use std::path::{Path, PathBuf};

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::{frame, Rational};
use ffmpeg_next as ffmpeg;
use image::RgbaImage;

use super::ffio::{open_input, OpenError};
use super::{Limits, MediaError, VideoClip};

/// Fits `w`×`h` inside `max_w`×`max_h` keeping the aspect ratio; never upscales. A zero
/// bound means "no bound" on that axis.
pub fn fit_inside(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let sx = if max_w == 0 {
        1.0
    } else {
        max_w as f64 / w as f64
    };
    let sy = if max_h == 0 {
        1.0
    } else {
        max_h as f64 / h as f64
    };
    let s = sx.min(sy).min(1.0);
    if s >= 1.0 {
        return (w, h);
    }
    (
        ((w as f64 * s).round() as u32).max(1),
        ((h as f64 * s).round() as u32).max(1),
    )
}

struct Scaler(scaling::Context);
// SAFETY: the SwsContext is owned by this value alone and used from one thread at a time
// (a `ClipStream` is used by one job's renderer; `&mut self` everywhere).
unsafe impl Send for Scaler {}

/// Decoded frames → RGBA at the clip's size, turned upright.
struct Converter {
    scaler: Option<Scaler>,
    /// The scaler's output, allocated once: a fresh frame per call would map and zero 8 MB
    /// per 1080×1920 frame.
    out: frame::Video,
    /// Size the scaler produces, before rotation.
    size: (u32, u32),
    /// Clockwise degrees to rotate decoded frames for display: 0, 90, 180 or 270.
    rotation: u32,
}

impl Converter {
    /// `f` as RGBA into `dst`, which is reallocated only when its size is not the clip's.
    fn convert_into(
        &mut self,
        path: &Path,
        f: &frame::Video,
        dst: &mut RgbaImage,
    ) -> Result<(), MediaError> {
        if self.scaler.is_none() {
            let ctx = scaling::Context::get(
                f.format(),
                f.width(),
                f.height(),
                Pixel::RGBA,
                self.size.0,
                self.size.1,
                scaling::Flags::AREA,
            )
            .map_err(|e| {
                MediaError::decode_failed(
                    path,
                    format_args!("cannot convert {:?} frames to RGBA", f.format()),
                    e,
                )
            })?;
            self.scaler = Some(Scaler(ctx));
        }
        let scaler = self.scaler.as_mut().expect("set above");
        scaler
            .0
            .run(f, &mut self.out)
            .map_err(|e| MediaError::decode_failed(path, "frame conversion failed", e))?;
        let (w, h) = (self.size.0 as usize, self.size.1 as usize);
        let stride = self.out.stride(0);
        let data = self.out.data(0);
        let upright = self.rotation == 0;
        if !upright || dst.dimensions() != self.size {
            *dst = RgbaImage::new(self.size.0, self.size.1);
        }
        for (y, row) in dst.chunks_exact_mut(w * 4).enumerate().take(h) {
            row.copy_from_slice(&data[y * stride..y * stride + w * 4]);
        }
        match self.rotation {
            90 => *dst = image::imageops::rotate90(dst),
            180 => *dst = image::imageops::rotate180(dst),
            270 => *dst = image::imageops::rotate270(dst),
            _ => {}
        }
        Ok(())
    }
}

/// Clockwise rotation (0/90/180/270) a player applies to this stream, from its display
/// matrix. Same convention as the ffmpeg CLI's autorotate; mirroring matrices are ignored.
fn display_rotation(stream: &ffmpeg::format::stream::Stream) -> u32 {
    for sd in stream.side_data() {
        if sd.kind() == ffmpeg::codec::packet::side_data::Type::DisplayMatrix
            && sd.data().len() >= 36
        {
            // SAFETY: a display matrix is nine int32 values (36 bytes, checked above) in an
            // av_malloc'd, suitably aligned buffer.
            let ccw =
                unsafe { ffmpeg::ffi::av_display_rotation_get(sd.data().as_ptr() as *const i32) };
            if ccw.is_nan() {
                return 0;
            }
            return match ((-ccw).rem_euclid(360.0) / 90.0).round() as i32 % 4 {
                1 => 90,
                2 => 180,
                3 => 270,
                _ => 0,
            };
        }
    }
    0
}

fn secs(ts: i64, tb: Rational) -> f64 {
    ts as f64 * tb.numerator() as f64 / tb.denominator() as f64
}

/// The demuxer and decoder of a clip's video stream: decoded frames in order, with their
/// time in seconds from the stream's start.
struct Source {
    ictx: ffmpeg::format::context::Input,
    decoder: ffmpeg::decoder::Video,
    index: usize,
    tb: Rational,
    stream_start: i64,
    /// A packet the decoder refused (EAGAIN) until its output is read.
    pending: Option<ffmpeg::Packet>,
    /// End of file reached and the decoder told to drain.
    drained: bool,
    decoded: frame::Video,
}

impl Source {
    /// The next decoded frame and its time, or `None` at the end of the stream. Corrupt
    /// packets are skipped: the decoder resynchronises on the next one.
    fn next(&mut self) -> Option<(f64, frame::Video)> {
        loop {
            if self.decoder.receive_frame(&mut self.decoded).is_ok() {
                let f = std::mem::replace(&mut self.decoded, frame::Video::empty());
                let t = secs(
                    f.timestamp().or(f.pts()).unwrap_or(0) - self.stream_start,
                    self.tb,
                );
                return Some((t, f));
            }
            if self.drained {
                return None;
            }
            match self.pending.take().or_else(|| self.read_packet()) {
                None => {
                    let _ = self.decoder.send_eof();
                    self.drained = true;
                }
                // With frame threads the decoder may refuse a packet (EAGAIN) until its
                // output is read; dropping the packet then would lose frames depending on
                // thread timing, so keep it and offer it again after the next frame.
                Some(p) => match self.decoder.send_packet(&p) {
                    Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                        self.pending = Some(p)
                    }
                    // Ok, or a corrupt packet.
                    _ => {}
                },
            }
        }
    }

    /// The next packet of the video stream, `None` at the end of the file. Read errors are
    /// retried as ffmpeg-next's packet iterator does, but not forever.
    fn read_packet(&mut self) -> Option<ffmpeg::Packet> {
        let mut errors = 0;
        loop {
            let mut p = ffmpeg::Packet::empty();
            match p.read(&mut self.ictx) {
                Ok(()) if p.stream() == self.index => return Some(p),
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => return None,
                Err(_) => {
                    errors += 1;
                    if errors > 1000 {
                        return None;
                    }
                }
            }
        }
    }

    /// Seeks to the keyframe at or before `t` seconds; the frames from there are decoded
    /// again, so what follows is what decoding from the start would give.
    fn seek(&mut self, path: &Path, t: f64) -> Result<(), MediaError> {
        let target = ((t.max(0.0) + secs(self.stream_start, self.tb)) * 1e6) as i64;
        self.ictx.seek(target, ..target).map_err(|e| {
            MediaError::decode_failed(path, format_args!("cannot seek to {t:.3} s"), e)
        })?;
        self.decoder.flush();
        self.pending = None;
        self.drained = false;
        Ok(())
    }
}

/// A clip decoded forward from `start`, sampled at `fps`: output frame `k` (time
/// `start + k/fps`) shows the decoded frame whose timestamp is nearest. Frames are converted
/// to RGBA only when asked for, and only the last one asked for is kept.
///
/// Asking for frames in increasing order decodes each source frame once; asking for an
/// earlier frame (a loop) or one more than a second ahead (a still's poster) seeks to the
/// keyframe before it and decodes forward from there.
pub struct ClipStream {
    path: PathBuf,
    src: Source,
    conv: Converter,
    pub width: u32,
    pub height: u32,
    start: f64,
    fps: f64,
    /// Output times at or after `end` are past the clip (`start + max_duration`).
    end: f64,
    /// The source's frame rate, for how long its last frame lasts.
    src_rate: f64,
    /// Seconds of source after `start` the container says there are (may be infinite).
    available: f64,
    /// The output index the next emitted frame gets.
    next: usize,
    /// The last accepted decoded frame (time, frame, serial): the candidate for `next`.
    prev: Option<(f64, frame::Video, u64)>,
    /// The decoded frame after `prev`, once read, deciding where `prev`'s turn ends.
    ahead: Option<(f64, frame::Video)>,
    /// The source has no frames after `prev`/`ahead`.
    eof: bool,
    /// Counts accepted decoded frames, so outputs showing the same one are known.
    serial: u64,
    /// Whether an output was emitted since the last seek: only then does the end of the
    /// stream say how many output frames the clip has.
    emitted: bool,
    /// After a seek: the time the first decoded frame must not be later than, and where
    /// the seek went.
    check_seek: Option<(f64, f64)>,
    /// Number of output frames, once the stream has been read to its end.
    len: Option<usize>,
    /// The frame last asked for: (output index, serial, RGBA).
    current: Option<(usize, u64, RgbaImage)>,
}

impl ClipStream {
    /// Opens `path` for output frames from `start`, at most `max_duration` seconds, sampled
    /// at `fps`, downscaled to fit inside `max_w`×`max_h` (never upscaled; 0 = no bound).
    /// Nothing is decoded yet; frames come from [`ClipStream::frame`].
    pub fn open(
        path: &Path,
        start: f64,
        max_duration: f64,
        fps: u32,
        max_w: u32,
        max_h: u32,
    ) -> Result<ClipStream, MediaError> {
        Self::open_with(path, start, max_duration, fps, max_w, max_h, false)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn open_with(
        path: &Path,
        start: f64,
        max_duration: f64,
        fps: u32,
        max_w: u32,
        max_h: u32,
        skip_non_reference: bool,
    ) -> Result<ClipStream, MediaError> {
        let err = |m: &str| MediaError::decode(path, m);
        if fps == 0 {
            return Err(err("fps must be positive"));
        }
        let start = start.max(0.0);
        let ictx = open_input(path).map_err(|e| match e {
            OpenError::Io(source) => MediaError::Io {
                path: path.to_path_buf(),
                source,
            },
            OpenError::NotRegular(m) => err(m),
            OpenError::Ffmpeg(e) => {
                MediaError::decode_failed(path, "FFmpeg cannot open it as a video", e)
            }
        })?;
        let stream = ictx
            .streams()
            .best(ffmpeg::media::Type::Video)
            .ok_or_else(|| err("has no video stream"))?;
        let index = stream.index();
        let tb = stream.time_base();
        let stream_start = if stream.start_time() == ffmpeg::ffi::AV_NOPTS_VALUE {
            0
        } else {
            stream.start_time()
        };
        let src_rate = {
            let r = stream.avg_frame_rate();
            if r.numerator() > 0 && r.denominator() > 0 {
                r.numerator() as f64 / r.denominator() as f64
            } else {
                fps as f64
            }
        };
        let container_duration = if ictx.duration() > 0 {
            ictx.duration() as f64 / 1e6
        } else {
            f64::INFINITY
        };
        let mut decoder = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .and_then(|mut c| {
                // Frame threads decode the next frames on other cores while the caller
                // composes this one; for a clip decoded whole, before rendering, they
                // shorten the critical path.
                c.set_threading(ffmpeg::threading::Config::kind(
                    ffmpeg::threading::Type::Frame,
                ));
                c.decoder().video()
            })
            .map_err(|e| MediaError::decode_failed(path, "no decoder for its video stream", e))?;
        if skip_non_reference {
            decoder.skip_frame(ffmpeg::Discard::NonReference);
        }
        let (src_w, src_h) = (decoder.width(), decoder.height());
        if src_w == 0 || src_h == 0 {
            return Err(err("video stream has no dimensions"));
        }
        // Phones record portrait video as landscape frames plus a display matrix; honour it
        // like players do, or every 9:16 phone clip arrives sideways.
        let rotation = display_rotation(&stream);
        let (disp_w, disp_h) = if rotation % 180 == 90 {
            (src_h, src_w)
        } else {
            (src_w, src_h)
        };
        let (w, h) = fit_inside(disp_w, disp_h, max_w, max_h);
        let scaled = if rotation % 180 == 90 { (h, w) } else { (w, h) };
        let mut s = ClipStream {
            path: path.to_path_buf(),
            src: Source {
                ictx,
                decoder,
                index,
                tb,
                stream_start,
                pending: None,
                drained: false,
                decoded: frame::Video::empty(),
            },
            conv: Converter {
                scaler: None,
                out: frame::Video::empty(),
                size: scaled,
                rotation,
            },
            width: w,
            height: h,
            start,
            fps: fps as f64,
            end: start + max_duration.max(0.0),
            src_rate,
            available: (container_duration - start).max(0.0),
            next: 0,
            prev: None,
            ahead: None,
            eof: false,
            serial: 0,
            emitted: false,
            check_seek: None,
            len: None,
            current: None,
        };
        if start > 0.0 {
            s.seek_for(0)?;
        }
        Ok(s)
    }

    /// Output frames the clip can have at most, from the container's duration (before
    /// decoding anything; a file of unknown length counts as long as asked for).
    pub(crate) fn max_frames(&self) -> f64 {
        ((self.end - self.start).min(self.available) * self.fps).ceil()
    }

    /// Bytes of RGBA the whole clip would need if every output frame were distinct — what
    /// decoding it once and keeping it costs, at worst.
    pub(crate) fn whole_bytes(&self) -> f64 {
        // f64 so an unbounded request on a file of unknown length cannot overflow.
        self.max_frames() * self.width as f64 * self.height as f64 * 4.0
    }

    /// Number of output frames, once known (the stream has been read to its end).
    pub fn len(&self) -> Option<usize> {
        self.len
    }

    /// Whether the clip is known to have no frames (never, once opened: asking for frame 0
    /// of such a clip fails).
    pub fn is_empty(&self) -> bool {
        self.len == Some(0)
    }

    /// Output frame `k`, or `None` when the clip ends before it (then `len()` is known).
    /// Fails when the clip has no frame at all after `start`, or a seek or a conversion
    /// fails.
    pub fn frame(&mut self, k: usize) -> Result<Option<&RgbaImage>, MediaError> {
        if self.current.as_ref().is_some_and(|c| c.0 == k) {
            return Ok(self.current.as_ref().map(|c| &c.2));
        }
        if self.len.is_some_and(|n| k >= n) {
            return Ok(None);
        }
        // Within a second ahead, decoding forward is cheaper than a seek (which decodes
        // from a keyframe anyway).
        if k < self.next || k > self.next + self.fps as usize {
            self.seek_for(k)?;
        }
        loop {
            if !self.advance()? {
                if self.emitted || self.next == 0 {
                    self.len = Some(self.next);
                } else {
                    // Jumped past the end: count from the start to learn the length.
                    self.seek_for(0)?;
                    while self.advance()? {}
                    self.len = Some(self.next);
                }
                if self.len == Some(0) {
                    return Err(MediaError::decode(
                        &self.path,
                        format!("no video frames at or after {:.3} s", self.start),
                    ));
                }
                return Ok(None);
            }
            if self.next - 1 == k {
                let (_, f, serial) = self.prev.as_ref().expect("advance leaves the frame");
                match &mut self.current {
                    // The same source frame again (a source slower than `fps`).
                    Some(c) if c.1 == *serial => c.0 = k,
                    cur => {
                        let mut img = cur.take().map_or_else(|| RgbaImage::new(0, 0), |c| c.2);
                        self.conv.convert_into(&self.path, f, &mut img)?;
                        *cur = Some((k, *serial, img));
                    }
                }
                return Ok(self.current.as_ref().map(|c| &c.2));
            }
        }
    }

    /// Positions the stream so that the next emitted frame is output `k`.
    fn seek_for(&mut self, k: usize) -> Result<(), MediaError> {
        let t = self.start + k as f64 / self.fps;
        self.src.seek(&self.path, t)?;
        self.next = k;
        self.prev = None;
        self.ahead = None;
        self.eof = false;
        self.emitted = false;
        self.check_seek = Some((t, t));
        Ok(())
    }

    /// The next decoded frame, making sure a seek landed early enough: the frame shown at
    /// the target time may be the one before it, so that one must be decoded too. (MP4
    /// seeks by decoding time; with B-frames a keyframe's presentation time can be later.)
    fn pull(&mut self) -> Result<Option<(f64, frame::Video)>, MediaError> {
        loop {
            let next = self.src.next();
            match (self.check_seek.take(), &next) {
                (Some((target, at)), Some((t, _))) if *t > target + 1e-6 && at > 0.0 => {
                    let earlier = (at - 1.0).max(0.0);
                    self.src.seek(&self.path, earlier)?;
                    self.check_seek = Some((target, earlier));
                }
                _ => return Ok(next),
            }
        }
    }

    /// Moves to the next output frame: `Ok(true)` with `prev` the source frame output
    /// `next - 1` shows, `Ok(false)` when the clip has ended.
    fn advance(&mut self) -> Result<bool, MediaError> {
        loop {
            let target = self.start + self.next as f64 / self.fps;
            if target >= self.end {
                return Ok(false);
            }
            if let Some((pt, _, _)) = &self.prev {
                let pt = *pt;
                let owns = match &self.ahead {
                    // Output times at least as close to the previous frame as to this one
                    // belong to it; the epsilon makes exact ties (10 fps source, 20 fps
                    // output) go to the earlier frame, i.e. the one on screen at that
                    // instant, despite float rounding.
                    Some((t, _)) => Some(target - pt <= t - target + 1e-6),
                    // The last source frame is shown for one source frame duration; half
                    // an output frame of tolerance: 2.0 s of 10 fps source gives exactly
                    // 20 frames at 10 fps despite rounding in timestamps.
                    None if self.eof => {
                        let until = pt + 1.0 / self.src_rate;
                        if target < until - 0.5 / self.fps + 1e-9 {
                            Some(true)
                        } else {
                            return Ok(false);
                        }
                    }
                    None => None,
                };
                match owns {
                    Some(true) => {
                        self.next += 1;
                        self.emitted = true;
                        return Ok(true);
                    }
                    Some(false) => {
                        let (t, f) = self.ahead.take().expect("compared above");
                        self.serial += 1;
                        self.prev = Some((t, f, self.serial));
                        continue;
                    }
                    None => {}
                }
            }
            match self.pull()? {
                Some((t, f)) => match &self.prev {
                    None => {
                        self.serial += 1;
                        self.prev = Some((t, f, self.serial));
                    }
                    // Out-of-order timestamp in a broken file: ignore the frame.
                    Some((pt, _, _)) if t < *pt => {}
                    Some(_) => self.ahead = Some((t, f)),
                },
                None => {
                    self.eof = true;
                    if self.prev.is_none() {
                        return Ok(false);
                    }
                }
            }
        }
    }
}

/// Decodes a whole clip through a [`ClipStream`], keeping each distinct frame once.
#[allow(clippy::too_many_arguments)]
pub(super) fn open(
    path: &Path,
    start: f64,
    max_duration: f64,
    fps: u32,
    max_w: u32,
    max_h: u32,
    limits: &Limits,
    skip_non_reference: bool,
) -> Result<VideoClip, MediaError> {
    let mut s = ClipStream::open_with(
        path,
        start,
        max_duration,
        fps,
        max_w,
        max_h,
        skip_non_reference,
    )?;
    let (w, h) = (s.width, s.height);
    // Budget check before decoding anything: the worst case is every output frame distinct.
    let want = s.max_frames();
    let bytes = s.whole_bytes();
    if bytes > limits.max_clip_bytes as f64 {
        return Err(MediaError::Limit {
            path: path.to_path_buf(),
            message: format!(
                "{want:.0} frames of {w}×{h} RGBA ({:.2} s at {fps} fps) need {:.1} MiB, more than the \
                 clip limit of {:.1} MiB (`Limits::max_clip_bytes`, for clips decoded whole); \
                 shorten the clip, lower fps or the canvas size, or raise the clip memory limit",
                want / fps as f64,
                bytes / (1 << 20) as f64,
                limits.max_clip_bytes as f64 / (1 << 20) as f64
            ),
        });
    }
    let mut frames: Vec<RgbaImage> = Vec::new();
    let mut index = Vec::new();
    let mut last = None;
    while s.advance()? {
        let (_, f, serial) = s.prev.as_ref().expect("advance leaves the frame");
        if last != Some(*serial) {
            let mut img = RgbaImage::new(0, 0);
            s.conv.convert_into(path, f, &mut img)?;
            frames.push(img);
            last = Some(*serial);
        }
        index.push(frames.len() - 1);
    }
    if index.is_empty() {
        return Err(MediaError::decode(
            path,
            format!("no video frames at or after {start:.3} s"),
        ));
    }
    let len = index.len();
    Ok(VideoClip {
        width: w,
        height: h,
        duration: len as f64 / fps as f64,
        frames,
        index,
    })
}
