//! Sampling a video for its fingerprint: one frame per second, decoding as little as the
//! stream allows.
//!
//! A render's own decoder (`media::VideoClip`) needs every frame; a fingerprint needs one a
//! second. Frames nothing else refers to (non-reference B-frames, half of x264's frames at
//! `veryfast`) are therefore not decoded at all. The picture for second `k` is the decoded
//! frame nearest to `k / fps`, as in `VideoClip`; on the engine's outputs the sampled frames
//! and their hashes came out identical to `VideoClip`'s (measured on 15 s 1080×1920 renders).
//!
//! Not done: skipping the packets before the key frame that the next wanted second needs.
//! Tried with the container's key frame index: the frames after each gap came out with
//! wrong hashes (up to 96 bits off on the clip-background render), because the index holds
//! decode times whose offset to display times varies per GOP. Seeking per second would
//! avoid that at the cost of a decoder flush per GOP; left for when decode dominates again.

use std::path::Path;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::Discard;
use ffmpeg::{frame, Rational};
use ffmpeg_next as ffmpeg;
use image::RgbaImage;

use super::DedupError;
use crate::media::MediaError;

/// Frames sampled from a video, already rotated for display and scaled to fit the bound.
pub struct Sampled {
    pub frames: Vec<RgbaImage>,
    /// Size of the sampled frames.
    pub width: u32,
    pub height: u32,
    /// Sampled seconds: `frames.len() / fps`.
    pub duration: f64,
}

fn secs(ts: i64, tb: Rational) -> f64 {
    ts as f64 * tb.numerator() as f64 / tb.denominator() as f64
}

/// Samples `path` at `fps` frames per second for at most `max_seconds`, each frame fitted
/// inside `max_side`×`max_side`.
pub fn sample(
    path: &Path,
    fps: u32,
    max_side: u32,
    max_seconds: f64,
) -> Result<Sampled, DedupError> {
    let fail = |message: String| DedupError::Video {
        path: path.to_path_buf(),
        source: MediaError::Decode {
            path: path.to_path_buf(),
            message,
        },
    };
    let mut ictx = crate::media::ffio::open_input(path).map_err(|e| match e {
        crate::media::ffio::OpenError::Io(source) => DedupError::Io {
            path: path.to_path_buf(),
            source,
        },
        crate::media::ffio::OpenError::NotRegular(m) => fail(m),
        crate::media::ffio::OpenError::Ffmpeg(m) => {
            fail(format!("FFmpeg cannot open it as a video ({m})"))
        }
    })?;
    let stream = ictx
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or_else(|| fail("has no video stream".into()))?;
    let index = stream.index();
    let tb = stream.time_base();
    let t0 = if stream.start_time() == ffmpeg::ffi::AV_NOPTS_VALUE {
        0
    } else {
        stream.start_time()
    };
    let rotation = crate::media::display_rotation(&stream);
    let frame_time = {
        let r = stream.avg_frame_rate();
        if r.numerator() > 0 && r.denominator() > 0 {
            r.denominator() as f64 / r.numerator() as f64
        } else {
            1.0 / fps as f64
        }
    };
    let mut decoder = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .and_then(|mut c| {
            c.set_threading(ffmpeg::threading::Config::kind(
                ffmpeg::threading::Type::Frame,
            ));
            c.decoder().video()
        })
        .map_err(|e| fail(format!("no decoder for its video stream ({e})")))?;
    // Never shown to anyone and never referenced by another frame: skip decoding them.
    decoder.skip_frame(Discard::NonReference);
    let (src_w, src_h) = (decoder.width(), decoder.height());
    if src_w == 0 || src_h == 0 {
        return Err(fail("video stream has no dimensions".into()));
    }
    let (disp_w, disp_h) = if rotation % 180 == 90 {
        (src_h, src_w)
    } else {
        (src_w, src_h)
    };
    let (w, h) = crate::media::fit_inside(disp_w, disp_h, max_side, max_side);
    let scaled = if rotation % 180 == 90 { (h, w) } else { (w, h) };

    let mut s = Sampler {
        fps: fps as f64,
        end: max_seconds,
        frames: Vec::new(),
        prev: None,
        scaler: None,
        size: scaled,
        rotation,
    };
    let mut last_end = f64::NEG_INFINITY;
    let mut decoded = frame::Video::empty();
    let to_t = |ts: i64| secs(ts - t0, tb);
    let mut done = false;
    'demux: for (st, packet) in ictx.packets() {
        if st.index() != index {
            continue;
        }
        if let Some(p) = packet.pts().or(packet.dts()) {
            last_end = last_end.max(to_t(p + packet.duration().max(0)));
        }
        // With frame threads the decoder may refuse a packet (EAGAIN) until its output is
        // read: drain and offer the same packet again rather than lose it.
        loop {
            let sent = decoder.send_packet(&packet);
            while decoder.receive_frame(&mut decoded).is_ok() {
                let f = std::mem::replace(&mut decoded, frame::Video::empty());
                let t = to_t(f.timestamp().or(f.pts()).unwrap_or(0));
                if s.offer(t, f).map_err(&fail)? {
                    done = true;
                    break 'demux;
                }
            }
            match sent {
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::util::error::EAGAIN => {
                    continue
                }
                _ => break,
            }
        }
    }
    if !done {
        let _ = decoder.send_eof();
        while decoder.receive_frame(&mut decoded).is_ok() {
            let f = std::mem::replace(&mut decoded, frame::Video::empty());
            let t = to_t(f.timestamp().or(f.pts()).unwrap_or(0));
            if s.offer(t, f).map_err(&fail)? {
                done = true;
                break;
            }
        }
    }
    if !done {
        // The last frame stays on screen until the stream ends (its last packet's end, which
        // a skipped non-reference frame may hold).
        let shown_until = s.prev.as_ref().map_or(0.0, |p| p.0 + frame_time);
        s.flush_last(last_end.max(shown_until)).map_err(&fail)?;
    }
    if s.frames.is_empty() {
        return Err(fail("no video frames".into()));
    }
    Ok(Sampled {
        duration: s.frames.len() as f64 / s.fps,
        frames: s.frames,
        width: w,
        height: h,
    })
}

struct Scaler(scaling::Context);
// SAFETY: the SwsContext is owned by this value alone and used on one thread at a time.
unsafe impl Send for Scaler {}

struct Sampler {
    fps: f64,
    end: f64,
    frames: Vec<RgbaImage>,
    /// The previous decoded frame, its time, and its sample once converted (a source slower
    /// than `fps` fills several seconds with one frame).
    prev: Option<(f64, frame::Video, Option<RgbaImage>)>,
    scaler: Option<Scaler>,
    size: (u32, u32),
    rotation: u32,
}

impl Sampler {
    fn target(&self) -> f64 {
        self.frames.len() as f64 / self.fps
    }

    /// Offers the next decoded frame; true once every second up to `end` is sampled.
    fn offer(&mut self, t: f64, f: frame::Video) -> Result<bool, String> {
        if let Some((pt, _, _)) = &self.prev {
            let pt = *pt;
            if t < pt {
                return Ok(false);
            }
            // A second goes to the earlier frame on a tie: the one on screen at that instant.
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

    fn emit_prev(&mut self) -> Result<(), String> {
        let Some((_, f, img)) = self.prev.as_mut() else {
            return Ok(());
        };
        if img.is_none() {
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
                .map_err(|e| format!("cannot convert {:?} frames to RGBA ({e})", f.format()))?;
                self.scaler = Some(Scaler(ctx));
            }
            let mut out = frame::Video::empty();
            self.scaler
                .as_mut()
                .expect("set above")
                .0
                .run(f, &mut out)
                .map_err(|e| format!("frame conversion failed ({e})"))?;
            let (w, h) = (self.size.0 as usize, self.size.1 as usize);
            let stride = out.stride(0);
            let mut buf = Vec::with_capacity(w * h * 4);
            for row in out.data(0).chunks(stride).take(h) {
                buf.extend_from_slice(&row[..w * 4]);
            }
            let rgba = RgbaImage::from_raw(w as u32, h as u32, buf).expect("sized from dimensions");
            *img = Some(match self.rotation {
                90 => image::imageops::rotate90(&rgba),
                180 => image::imageops::rotate180(&rgba),
                270 => image::imageops::rotate270(&rgba),
                _ => rgba,
            });
        }
        let img = img.clone().expect("converted above");
        self.frames.push(img);
        Ok(())
    }

    fn flush_last(&mut self, until: f64) -> Result<(), String> {
        // Half a sample of tolerance, as `VideoClip`: 10.0 s of video gives 10 samples.
        while self.target() < self.end && self.target() < until - 0.5 / self.fps + 1e-9 {
            self.emit_prev()?;
        }
        Ok(())
    }
}
