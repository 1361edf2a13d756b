//! Music: decode any FFmpeg-readable file to interleaved f32, then cut/loop/fade in memory.

use std::path::Path;

use ffmpeg::format::{sample, Sample};
use ffmpeg::{frame, ChannelLayout};
use ffmpeg_next as ffmpeg;

use super::ffio::{open_input, OpenError};
use super::{AudioPcm, MediaError};

const F32_PACKED: Sample = Sample::F32(sample::Type::Packed);

fn open_err(path: &Path, e: OpenError) -> MediaError {
    match e {
        OpenError::Io(source) => MediaError::Io {
            path: path.to_path_buf(),
            source,
        },
        OpenError::NotRegular(m) => MediaError::decode(path, m),
        OpenError::Ffmpeg(e) => {
            MediaError::decode_failed(path, "FFmpeg cannot open it as audio/video", e)
        }
    }
}

/// A swresample context converting to packed f32 at a fixed rate/layout, fed frame by frame.
pub(crate) struct ToF32 {
    swr: Option<ffmpeg::software::resampling::Context>,
    rate: u32,
    channels: u16,
    /// What swresample produces: the target layout, or mono when the source is mono (we
    /// copy it to every channel ourselves; swresample would pan it down by 3 dB).
    swr_layout: ChannelLayout,
    pub out: Vec<f32>,
}

// SAFETY: the SwrContext is owned exclusively by this value and only used through `&mut self`;
// swresample keeps no thread-local or global state, so moving it between threads is sound.
unsafe impl Send for ToF32 {}

impl ToF32 {
    pub(crate) fn new(rate: u32, channels: u16) -> ToF32 {
        ToF32 {
            swr: None,
            rate,
            channels,
            swr_layout: ChannelLayout::default(channels as i32),
            out: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, input: &mut frame::Audio) -> Result<(), ffmpeg::Error> {
        if input.channel_layout().is_empty() {
            // WAV and some raw formats leave the layout unset; FFmpeg's default for the
            // channel count is what every player assumes too.
            input.set_channel_layout(ChannelLayout::default(input.channels() as i32));
        }
        if self.swr.is_none() {
            if input.channels() == 1 {
                self.swr_layout = ChannelLayout::MONO;
            }
            self.swr = Some(ffmpeg::software::resampling::Context::get(
                input.format(),
                input.channel_layout(),
                input.rate(),
                F32_PACKED,
                self.swr_layout,
                self.rate,
            )?);
        }
        self.convert(Some(input))
    }

    /// Drains the resampler's delay line.
    pub(crate) fn flush(&mut self) -> Result<(), ffmpeg::Error> {
        if self.swr.is_none() {
            return Ok(());
        }
        loop {
            let before = self.out.len();
            self.convert(None)?;
            if self.out.len() == before {
                return Ok(());
            }
        }
    }

    fn convert(&mut self, input: Option<&frame::Audio>) -> Result<(), ffmpeg::Error> {
        let swr = self.swr.as_mut().expect("resampler initialised by push");
        // An output frame with format/layout/rate but no buffer makes swr_convert_frame size
        // the buffer itself (delay + upsampled input); ffmpeg-next's `run` would allocate only
        // the input's sample count, which truncates upsampling.
        let mut out = frame::Audio::empty();
        out.set_format(F32_PACKED);
        out.set_channel_layout(self.swr_layout);
        out.set_rate(self.rate);
        let ret = unsafe {
            ffmpeg::ffi::swr_convert_frame(
                swr.as_mut_ptr(),
                out.as_mut_ptr(),
                input.map_or(std::ptr::null(), |f| f.as_ptr()),
            )
        };
        if ret < 0 {
            return Err(ffmpeg::Error::from(ret));
        }
        let swr_ch = self.swr_layout.channels() as usize;
        let n = out.samples() * swr_ch;
        if n > 0 {
            let bytes = &out.data(0)[..n * 4];
            let values = bytes
                .chunks_exact(4)
                .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
            if swr_ch == self.channels as usize {
                self.out.extend(values);
            } else {
                for v in values {
                    self.out
                        .extend(std::iter::repeat_n(v, self.channels as usize));
                }
            }
        }
        Ok(())
    }
}

impl AudioPcm {
    pub(super) fn load_impl(
        path: &Path,
        sample_rate: u32,
        channels: u16,
    ) -> Result<AudioPcm, MediaError> {
        if sample_rate == 0 || channels == 0 {
            return Err(MediaError::decode(
                path,
                format!("invalid target format {sample_rate} Hz × {channels} channels"),
            ));
        }
        let err = |m: &str| MediaError::decode(path, m);
        let failed = |what: &str, e: ffmpeg::Error| MediaError::decode_failed(path, what, e);
        let mut ictx = open_input(path).map_err(|e| open_err(path, e))?;
        let stream = ictx
            .streams()
            .best(ffmpeg::media::Type::Audio)
            .ok_or_else(|| err("has no audio stream"))?;
        let index = stream.index();
        let mut decoder = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
            .and_then(|c| c.decoder().audio())
            .map_err(|e| failed("no decoder for its audio stream", e))?;

        let mut conv = ToF32::new(sample_rate, channels);
        let mut decoded = frame::Audio::empty();
        let mut drain =
            |decoder: &mut ffmpeg::decoder::Audio, conv: &mut ToF32| -> Result<(), MediaError> {
                while decoder.receive_frame(&mut decoded).is_ok() {
                    conv.push(&mut decoded)
                        .map_err(|e| failed("resampling failed", e))?;
                }
                Ok(())
            };
        for (s, packet) in ictx.packets() {
            if s.index() != index {
                continue;
            }
            // A corrupt packet in a long music file should not sink the batch; the decoder
            // resynchronises on the next one.
            if decoder.send_packet(&packet).is_ok() {
                drain(&mut decoder, &mut conv)?;
            }
        }
        decoder
            .send_eof()
            .map_err(|e| failed("decoder flush failed", e))?;
        drain(&mut decoder, &mut conv)?;
        conv.flush().map_err(|e| failed("resampling failed", e))?;
        if conv.out.is_empty() {
            return Err(err("audio stream decoded to no samples"));
        }
        Ok(AudioPcm {
            sample_rate,
            channels,
            samples: conv.out,
        })
    }

    /// Starting at `start` seconds, looped or trimmed to exactly `duration`, with linear
    /// fades and gain applied.
    ///
    /// The result has exactly `round(duration × sample_rate)` sample frames. Reading starts at
    /// `round(start × sample_rate)`. With `seam = Some(x)` the source loops: each repeat
    /// starts `x` seconds (at most a quarter of the source) before the previous one ends and
    /// crossfades into its tail with equal-power ramps (`Some(0.0)` is a hard loop); a start
    /// past the end lands inside a later repeat. With `None` the music plays once and
    /// silence follows. Fade-in multiplies frame `i` by `i / n_in`; fade-out multiplies
    /// frame `i` by `(len − 1 − i) / n_out`, so the first and last frames are silent. An
    /// empty source yields silence.
    pub(crate) fn fit(
        &self,
        start: f64,
        duration: f64,
        fade_in: f64,
        fade_out: f64,
        gain: f32,
        seam: Option<f64>,
    ) -> AudioPcm {
        let ch = self.channels.max(1) as usize;
        let rate = self.sample_rate as f64;
        let out_frames = (duration.max(0.0) * rate).round() as usize;
        let src_frames = self.samples.len() / ch;
        let mut samples = vec![0.0f32; out_frames * ch];
        let start_frame = (start.max(0.0) * rate).round() as usize;
        match seam {
            _ if src_frames == 0 => {}
            None => {
                let avail = src_frames.saturating_sub(start_frame).min(out_frames);
                if avail > 0 {
                    samples[..avail * ch].copy_from_slice(
                        &self.samples[start_frame * ch..(start_frame + avail) * ch],
                    );
                }
            }
            Some(xfade) => {
                // Each pass after the first starts `x` frames early, its head fading in over
                // the previous pass's tail, so the loop has no gap and no click. At most a
                // quarter of the source, so a very short loop still mostly plays itself.
                let x = ((xfade.max(0.0) * rate).round() as usize).min(src_frames / 4);
                let period = src_frames - x;
                for (i, out) in samples.chunks_exact_mut(ch).enumerate() {
                    let p = start_frame + i;
                    let (pass, q) = (p / period, p % period);
                    let head = &self.samples[q * ch..q * ch + ch];
                    if pass == 0 || q >= x {
                        out.copy_from_slice(head);
                    } else {
                        // Equal power: a loop seam joins unrelated material.
                        let t = (q as f32 + 0.5) / x as f32 * std::f32::consts::FRAC_PI_2;
                        let (fin, fout) = (t.sin(), t.cos());
                        let tail = &self.samples[(period + q) * ch..(period + q) * ch + ch];
                        for ((o, h), t) in out.iter_mut().zip(head).zip(tail) {
                            *o = h * fin + t * fout;
                        }
                    }
                }
            }
        }
        // Linear ramps measured in sample frames: the first frame of a fade-in and the last
        // frame of a fade-out are exactly 0, so cuts never click.
        let fin = ((fade_in.max(0.0) * rate).round() as usize).min(out_frames);
        let fout = ((fade_out.max(0.0) * rate).round() as usize).min(out_frames);
        for (i, out) in samples.chunks_exact_mut(ch).enumerate() {
            let mut g = gain;
            if i < fin {
                g *= i as f32 / fin as f32;
            }
            if fout > 0 && i >= out_frames - fout {
                g *= (out_frames - 1 - i) as f32 / fout as f32;
            }
            if g != 1.0 {
                out.iter_mut().for_each(|v| *v *= g);
            }
        }
        AudioPcm {
            sample_rate: self.sample_rate,
            channels: self.channels,
            samples,
        }
    }

    /// The same sound at another rate/channel count (swresample), e.g. when the music was
    /// loaded for one preset and is reused by another with a different audio spec.
    pub(crate) fn convert(
        &self,
        sample_rate: u32,
        channels: u16,
    ) -> Result<AudioPcm, ffmpeg::Error> {
        if sample_rate == self.sample_rate && channels == self.channels {
            return Ok(self.clone());
        }
        super::ffio::init();
        let ch = self.channels as usize;
        let mut conv = ToF32::new(sample_rate, channels);
        for chunk in self.samples.chunks(4096 * ch) {
            let n = chunk.len() / ch;
            let mut f =
                frame::Audio::new(F32_PACKED, n, ChannelLayout::default(self.channels as i32));
            f.set_rate(self.sample_rate);
            let dst = f.data_mut(0);
            for (d, s) in dst.chunks_exact_mut(4).zip(chunk) {
                d.copy_from_slice(&s.to_ne_bytes());
            }
            conv.push(&mut f)?;
        }
        conv.flush()?;
        Ok(AudioPcm {
            sample_rate,
            channels,
            samples: conv.out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mono ramp 0, 1, 2, … at 10 Hz so sample values name their source index.
    fn ramp(n: usize) -> AudioPcm {
        AudioPcm {
            sample_rate: 10,
            channels: 1,
            samples: (0..n).map(|i| i as f32).collect(),
        }
    }

    #[test]
    fn trims_to_exact_length_from_start() {
        let out = ramp(100).fit(2.0, 3.0, 0.0, 0.0, 1.0, Some(0.0));
        assert_eq!(out.samples, (20..50).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(out.duration(), 3.0);
    }

    #[test]
    fn loops_when_shorter() {
        let out = ramp(4).fit(0.1, 1.0, 0.0, 0.0, 1.0, Some(0.0));
        assert_eq!(out.samples, vec![1., 2., 3., 0., 1., 2., 3., 0., 1., 2.]);
    }

    #[test]
    fn without_loop_the_music_stops_where_the_file_ends() {
        let out = ramp(4).fit(0.1, 0.6, 0.0, 0.0, 1.0, None);
        assert_eq!(out.samples, vec![1., 2., 3., 0., 0., 0.]);
        assert!(ramp(4)
            .fit(0.9, 0.2, 0.0, 0.0, 1.0, None)
            .samples
            .iter()
            .all(|v| *v == 0.0));
    }

    #[test]
    fn loop_seam_crossfades_tail_into_head() {
        // A constant keeps at least its level across the seam (equal power: sin + cos ≥ 1).
        let ones = AudioPcm {
            sample_rate: 10,
            channels: 1,
            samples: vec![1.0; 10],
        };
        let out = ones.fit(0.0, 3.0, 0.0, 0.0, 1.0, Some(0.2));
        assert_eq!(out.samples.len(), 30);
        assert!(out.samples.iter().all(|v| *v >= 0.99), "{:?}", out.samples);
        // A ramp: after the first pass (8 frames), frames blend head q with tail 8 + q.
        let r = ramp(10).fit(0.0, 1.2, 0.0, 0.0, 1.0, Some(0.2));
        assert_eq!(&r.samples[..8], &[0., 1., 2., 3., 4., 5., 6., 7.]);
        let t0 = 0.25 * std::f32::consts::FRAC_PI_2;
        assert!(
            (r.samples[8] - 8.0 * t0.cos()).abs() < 1e-5,
            "{:?}",
            r.samples
        );
        assert_eq!(&r.samples[10..], &[2., 3.]);
    }

    #[test]
    fn start_past_the_end_wraps() {
        let out = ramp(4).fit(0.5, 0.3, 0.0, 0.0, 1.0, Some(0.0));
        assert_eq!(out.samples, vec![1., 2., 3.]);
    }

    #[test]
    fn linear_fades_and_gain_are_sample_exact() {
        let ones = AudioPcm {
            sample_rate: 10,
            channels: 2,
            samples: vec![1.0; 40],
        };
        let out = ones.fit(0.0, 1.0, 0.4, 0.2, 0.5, None);
        let left: Vec<f32> = out.samples.chunks_exact(2).map(|c| c[0]).collect();
        assert_eq!(
            left,
            vec![0.0, 0.125, 0.25, 0.375, 0.5, 0.5, 0.5, 0.5, 0.25, 0.0]
        );
        assert!(out.samples.chunks_exact(2).all(|c| c[0] == c[1]));
    }

    #[test]
    fn overlapping_fades_multiply() {
        let ones = AudioPcm {
            sample_rate: 10,
            channels: 1,
            samples: vec![1.0; 4],
        };
        let out = ones.fit(0.0, 0.4, 0.4, 0.4, 1.0, None);
        assert_eq!(out.samples, vec![0.0, 0.25 * 0.5, 0.5 * 0.25, 0.0]);
    }

    #[test]
    fn empty_source_gives_silence_of_the_right_length() {
        let empty = AudioPcm {
            sample_rate: 48_000,
            channels: 2,
            samples: vec![],
        };
        let out = empty.fit(1.0, 0.5, 0.1, 0.1, 1.0, Some(0.05));
        assert_eq!(out.samples.len(), 48_000);
        assert!(out.samples.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn convert_changes_rate_and_copies_mono_at_full_level() {
        let rate = 32_000;
        let mono = AudioPcm {
            sample_rate: rate,
            channels: 1,
            samples: (0..rate).map(|i| (i as f32 * 0.05).sin() * 0.5).collect(),
        };
        let st = mono.convert(48_000, 2).unwrap();
        assert_eq!((st.sample_rate, st.channels), (48_000, 2));
        assert!((st.duration() - 1.0).abs() < 0.002, "{}", st.duration());
        let peak = st.samples[20_000..30_000]
            .iter()
            .fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 0.01, "peak {peak}");
    }
}
