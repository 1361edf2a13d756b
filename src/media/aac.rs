//! The AAC round trip: a mix encoded with FFmpeg's native AAC encoder at the preset's settings
//! (as `encode::VideoWriter` does) and decoded again, so the renderer can measure what an MP4
//! will really hold. Lossy coding reshapes peaks; a limiter that only knew its own output could
//! not promise a ceiling on the file.
//!
//! The packets are kept: they are the bytes the MP4 writer's encoder would make from the same
//! samples (same encoder, settings and frame sizes), so the writer muxes them instead of
//! coding the soundtrack a second time.

use ffmpeg::format::{sample, Sample};
use ffmpeg::{codec, decoder, encoder, frame, ChannelLayout, Dictionary, Packet};
use ffmpeg_next as ffmpeg;

use super::audio::ToF32;
use super::AudioPcm;

/// A soundtrack as AAC-LC packets, in the encoder's time base (1 / sample rate).
#[derive(Debug, Clone)]
pub struct AacStream {
    /// Sample frames (per channel) that went in.
    pub samples: u64,
    pub sample_rate: u32,
    pub channels: u16,
    pub bitrate_kbps: u32,
    pub packets: Vec<AacPacket>,
}

#[derive(Debug, Clone)]
pub struct AacPacket {
    pub pts: i64,
    pub dts: i64,
    pub duration: i64,
    pub key: bool,
    pub data: Vec<u8>,
}

/// FFmpeg's native AAC-LC encoder as every MP4 here uses it (fltp, global header for MP4's
/// out-of-band configuration), with what cutting its input depends on. The writer and the
/// round trip both open it here: their packets are the same only while their encoders are.
pub struct AacEncoder {
    pub encoder: encoder::Audio,
    /// Samples per frame the encoder takes.
    pub frame: usize,
    /// Whether the last frame may be short (else it is padded with silence).
    pub small_last: bool,
}

impl AacEncoder {
    pub(crate) fn open(rate: u32, channels: u16, bitrate_kbps: u32) -> Result<Self, ffmpeg::Error> {
        super::ffio::init();
        let aac = encoder::find(codec::Id::AAC).ok_or(ffmpeg::Error::EncoderNotFound)?;
        let mut enc = codec::context::Context::new_with_codec(aac)
            .encoder()
            .audio()?;
        enc.set_rate(rate as i32);
        enc.set_channel_layout(ChannelLayout::default(channels as i32));
        enc.set_channels(channels as i32);
        enc.set_format(Sample::F32(sample::Type::Planar));
        enc.set_bit_rate(bitrate_kbps as usize * 1000);
        enc.set_time_base(ffmpeg::Rational(1, rate as i32));
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
        let mut opts = Dictionary::new();
        opts.set("profile", "aac_low");
        let encoder = enc.open_with(opts)?;
        Ok(AacEncoder {
            frame: (encoder.frame_size() as usize).max(1),
            small_last: aac
                .capabilities()
                .contains(codec::capabilities::Capabilities::SMALL_LAST_FRAME),
            encoder,
        })
    }

    /// Samples in the next frame with `left` still to code.
    pub(crate) fn next_len(&self, left: usize) -> usize {
        if left < self.frame && !self.small_last {
            self.frame
        } else {
            left.min(self.frame)
        }
    }

    /// Frame of `n` samples of `pcm` from sample frame `pos` on (silence past its end), timed
    /// at `pos` in 1 / rate.
    pub(crate) fn frame_of(pcm: &AudioPcm, pos: usize, n: usize) -> frame::Audio {
        let ch = pcm.channels.max(1) as usize;
        let mut f = frame::Audio::new(
            Sample::F32(sample::Type::Planar),
            n,
            ChannelLayout::default(ch as i32),
        );
        f.set_rate(pcm.sample_rate);
        f.set_pts(Some(pos as i64));
        for c in 0..ch {
            // `plane_mut` sizes every plane by the sample count; `data_mut` would use each
            // plane's own linesize, which FFmpeg only sets for plane 0 of planar audio.
            for (i, out) in f.plane_mut::<f32>(c).iter_mut().enumerate() {
                *out = pcm.samples.get((pos + i) * ch + c).copied().unwrap_or(0.0);
            }
        }
        f
    }
}

/// `pcm` through AAC-LC at `bitrate_kbps` and back, at the same rate and channel count, with
/// the packets in between. The decoded result starts with the encoder's priming samples
/// (silence), so it is a little longer than the input: fine for peaks and loudness, not for
/// sample-exact comparison.
///
/// Frames are cut as `encode::VideoWriter` cuts them (`AacEncoder::next_len`) from the same
/// encoder, so the packets are the writer's own.
pub fn aac_roundtrip(
    pcm: &AudioPcm,
    bitrate_kbps: u32,
) -> Result<(AudioPcm, AacStream), ffmpeg::Error> {
    let mut aac = AacEncoder::open(pcm.sample_rate, pcm.channels.max(1), bitrate_kbps)?;
    let mut dec = codec::context::Context::from_parameters(&aac.encoder)?
        .decoder()
        .audio()?;

    let mut conv = ToF32::new(pcm.sample_rate, pcm.channels);
    let mut decoded = frame::Audio::empty();
    let mut pkt = Packet::empty();
    let mut packets = Vec::new();
    let mut pump = |enc: &mut encoder::Audio,
                    dec: &mut decoder::Audio,
                    conv: &mut ToF32|
     -> Result<(), ffmpeg::Error> {
        while enc.receive_packet(&mut pkt).is_ok() {
            packets.push(AacPacket {
                pts: pkt.pts().unwrap_or(0),
                dts: pkt.dts().unwrap_or(0),
                duration: pkt.duration(),
                key: pkt.is_key(),
                data: pkt.data().unwrap_or(&[]).to_vec(),
            });
            dec.send_packet(&pkt)?;
            while dec.receive_frame(&mut decoded).is_ok() {
                conv.push(&mut decoded)?;
            }
        }
        Ok(())
    };
    let frames = pcm.samples.len() / pcm.channels.max(1) as usize;
    let mut pos = 0;
    while pos < frames {
        let n = aac.next_len(frames - pos);
        aac.encoder.send_frame(&AacEncoder::frame_of(pcm, pos, n))?;
        pump(&mut aac.encoder, &mut dec, &mut conv)?;
        pos += n;
    }
    aac.encoder.send_eof()?;
    pump(&mut aac.encoder, &mut dec, &mut conv)?;
    dec.send_eof()?;
    while dec.receive_frame(&mut decoded).is_ok() {
        conv.push(&mut decoded)?;
    }
    conv.flush()?;
    let stream = AacStream {
        samples: frames as u64,
        sample_rate: pcm.sample_rate,
        channels: pcm.channels,
        bitrate_kbps,
        packets,
    };
    let decoded = AudioPcm {
        sample_rate: pcm.sample_rate,
        channels: pcm.channels,
        samples: conv.out,
    };
    Ok((decoded, stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_a_tone_and_its_level() {
        let rate = 48_000;
        let samples: Vec<f32> = (0..rate)
            .flat_map(|i| {
                let v = 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin();
                [v, v]
            })
            .collect();
        let pcm = AudioPcm {
            sample_rate: rate as u32,
            channels: 2,
            samples,
        };
        let (out, coded) = aac_roundtrip(&pcm, 128).unwrap();
        assert_eq!(coded.samples, 48_000);
        assert!(
            coded.packets.len() >= 48_000 / 1024,
            "{}",
            coded.packets.len()
        );
        assert_eq!((out.sample_rate, out.channels), (48_000, 2));
        // One second plus the encoder's priming and padding.
        assert!((1.0..1.1).contains(&out.duration()), "{}", out.duration());
        let peak = out.samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 0.03, "peak {peak}");
    }
}
