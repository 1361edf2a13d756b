//! Background video clips: decoded once, resampled to the project's frame rate, kept as RGBA.

use std::path::Path;

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
// (VideoClip::open runs start to finish on the calling thread).
unsafe impl Send for Scaler {}

fn to_rgba(scaler: &mut Scaler, src: &frame::Video) -> Result<RgbaImage, ffmpeg::Error> {
    let out_def = *scaler.0.output();
    let mut out = frame::Video::empty();
    scaler.0.run(src, &mut out)?;
    let (w, h) = (out_def.width as usize, out_def.height as usize);
    let stride = out.stride(0);
    let data = out.data(0);
    let mut buf = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        buf.extend_from_slice(&data[y * stride..y * stride + w * 4]);
    }
    Ok(RgbaImage::from_raw(w as u32, h as u32, buf).expect("buffer sized from dimensions"))
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
    let err = |m: &str| MediaError::decode(path, m);
    if fps == 0 {
        return Err(err("fps must be positive"));
    }
    let start = start.max(0.0);
    let mut ictx = open_input(path).map_err(|e| match e {
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
            // Frame threads: the clip is decoded once per run before rendering starts, so
            // using every core here shortens the critical path.
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

    // Budget check before decoding anything: the worst case is every output frame distinct.
    let want = (max_duration
        .max(0.0)
        .min((container_duration - start).max(0.0))
        * fps as f64)
        .ceil();
    // f64 so an unbounded request on a file of unknown length cannot overflow.
    let bytes = want * w as f64 * h as f64 * 4.0;
    if bytes > limits.max_clip_bytes as f64 {
        return Err(MediaError::Limit {
            path: path.to_path_buf(),
            message: format!(
                "{want:.0} frames of {w}×{h} RGBA ({:.2} s at {fps} fps) need {:.1} MiB, more than the \
                 clip limit of {:.1} MiB; shorten the clip, lower fps or the canvas size, or raise \
                 the clip memory limit",
                want / fps as f64,
                bytes / (1 << 20) as f64,
                limits.max_clip_bytes as f64 / (1 << 20) as f64
            ),
        });
    }

    if start > 0.0 {
        let target = ((start + secs(stream_start, tb)) * 1e6) as i64;
        // Seeking lands on the keyframe at or before `target`; frames before `start` are
        // decoded and discarded by the selection below.
        ictx.seek(target, ..target).map_err(|e| {
            MediaError::decode_failed(path, format_args!("cannot seek to {start:.3} s"), e)
        })?;
    }

    let end = start + max_duration.max(0.0);
    let mut sel = Selector {
        path,
        start,
        fps: fps as f64,
        end,
        next: 0,
        frames: Vec::new(),
        index: Vec::new(),
        prev: None,
        scaler: None,
        size: scaled,
        rotation,
    };
    let mut decoded = frame::Video::empty();
    let to_t = |f: &frame::Video| secs(f.timestamp().or(f.pts()).unwrap_or(0) - stream_start, tb);

    let mut done = false;
    'demux: for (s, packet) in ictx.packets() {
        if s.index() != index {
            continue;
        }
        // With frame threads the decoder may refuse a packet (EAGAIN) until its output is
        // read; dropping the packet then would lose frames depending on thread timing, so
        // drain and offer the same packet again.
        loop {
            let sent = decoder.send_packet(&packet);
            while decoder.receive_frame(&mut decoded).is_ok() {
                let f = std::mem::replace(&mut decoded, frame::Video::empty());
                if sel.offer(to_t(&f), f)? {
                    done = true;
                    break 'demux;
                }
            }
            match sent {
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    continue
                }
                // Ok, or a corrupt packet: the decoder resynchronises on the next one.
                _ => break,
            }
        }
    }
    if !done {
        let _ = decoder.send_eof();
        while decoder.receive_frame(&mut decoded).is_ok() {
            let f = std::mem::replace(&mut decoded, frame::Video::empty());
            if sel.offer(to_t(&f), f)? {
                done = true;
                break;
            }
        }
    }
    if !done {
        // The last source frame is shown for one source frame duration.
        let until = sel.prev.as_ref().map_or(start, |p| p.0 + 1.0 / src_rate);
        sel.flush_last(until)?;
    }
    if sel.index.is_empty() {
        return Err(MediaError::decode(
            path,
            format!("no video frames at or after {start:.3} s"),
        ));
    }
    let len = sel.index.len();
    Ok(VideoClip {
        width: w,
        height: h,
        duration: len as f64 / fps as f64,
        frames: sel.frames,
        index: sel.index,
    })
}

/// Picks, for each output time `start + k/fps`, the decoded frame whose time is nearest.
/// Frames are converted to RGBA only when selected, and a frame selected for several output
/// times (source slower than `fps`) is stored once.
struct Selector<'p> {
    /// The clip's file, named by conversion errors.
    path: &'p Path,
    start: f64,
    fps: f64,
    end: f64,
    next: usize,
    frames: Vec<RgbaImage>,
    index: Vec<usize>,
    /// The previous decoded frame, its time, and its slot in `frames` once converted.
    prev: Option<(f64, frame::Video, Option<usize>)>,
    scaler: Option<Scaler>,
    /// Size the scaler produces, before rotation.
    size: (u32, u32),
    /// Clockwise degrees to rotate decoded frames for display: 0, 90, 180 or 270.
    rotation: u32,
}

impl Selector<'_> {
    fn target(&self) -> f64 {
        self.start + self.next as f64 / self.fps
    }

    /// Offers the next decoded frame; returns true once every output time is filled.
    fn offer(&mut self, t: f64, f: frame::Video) -> Result<bool, MediaError> {
        if let Some((pt, _, _)) = &self.prev {
            let pt = *pt;
            if t < pt {
                return Ok(false); // out-of-order timestamp in a broken file: ignore the frame
            }
            // Output times at least as close to the previous frame as to this one belong to
            // it; the epsilon makes exact ties (10 fps source, 20 fps output) go to the
            // earlier frame, i.e. the one on screen at that instant, despite float rounding.
            while self.target() < self.end && self.target() - pt <= t - self.target() + 1e-6 {
                self.emit_prev()?;
            }
        }
        if self.target() >= self.end {
            return Ok(true);
        }
        self.prev = Some((t, f, None));
        Ok(false)
    }

    fn emit_prev(&mut self) -> Result<(), MediaError> {
        let Some((_, f, slot)) = self.prev.as_mut() else {
            return Ok(());
        };
        let i = match slot {
            Some(i) => *i,
            None => {
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
                            self.path,
                            format_args!("cannot convert {:?} frames to RGBA", f.format()),
                            e,
                        )
                    })?;
                    self.scaler = Some(Scaler(ctx));
                }
                let img = to_rgba(self.scaler.as_mut().expect("set above"), f).map_err(|e| {
                    MediaError::decode_failed(self.path, "frame conversion failed", e)
                })?;
                let img = match self.rotation {
                    90 => image::imageops::rotate90(&img),
                    180 => image::imageops::rotate180(&img),
                    270 => image::imageops::rotate270(&img),
                    _ => img,
                };
                self.frames.push(img);
                *slot = Some(self.frames.len() - 1);
                self.frames.len() - 1
            }
        };
        self.index.push(i);
        self.next += 1;
        Ok(())
    }

    fn flush_last(&mut self, until: f64) -> Result<(), MediaError> {
        // Half an output frame of tolerance: 2.0 s of 10 fps source gives exactly 20 frames
        // at 10 fps despite rounding in timestamps.
        while self.target() < self.end && self.target() < until - 0.5 / self.fps + 1e-9 {
            self.emit_prev()?;
        }
        Ok(())
    }
}
