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

/// `pcm` through AAC-LC at `bitrate_kbps` and back, at the same rate and channel count, with
/// the packets in between. The decoded result starts with the encoder's priming samples
/// (silence), so it is a little longer than the input: fine for peaks and loudness, not for
/// sample-exact comparison.
///
/// Frames are cut as `encode::VideoWriter` cuts them (whole encoder frames, a short last one
/// where the encoder allows it, else zero-padded) and the encoder is opened the same way, so
/// the packets are the writer's own.
pub fn aac_roundtrip(
    pcm: &AudioPcm,
    bitrate_kbps: u32,
) -> Result<(AudioPcm, AacStream), ffmpeg::Error> {
    super::ffio::init();
    let ch = pcm.channels.max(1) as usize;
    let layout = ChannelLayout::default(ch as i32);
    let aac = encoder::find(codec::Id::AAC).ok_or(ffmpeg::Error::EncoderNotFound)?;
    let mut enc = codec::context::Context::new_with_codec(aac)
        .encoder()
        .audio()?;
    enc.set_rate(pcm.sample_rate as i32);
    enc.set_channel_layout(layout);
    enc.set_channels(ch as i32);
    enc.set_format(Sample::F32(sample::Type::Planar));
    enc.set_bit_rate(bitrate_kbps as usize * 1000);
    enc.set_time_base(ffmpeg::Rational(1, pcm.sample_rate as i32));
    // As the MP4 writer opens it: MP4 wants the decoder configuration out of band.
    enc.set_flags(codec::Flags::GLOBAL_HEADER);
    let mut opts = Dictionary::new();
    opts.set("profile", "aac_low");
    let small_last = aac
        .capabilities()
        .contains(codec::capabilities::Capabilities::SMALL_LAST_FRAME);
    let mut enc = enc.open_with(opts)?;
    let mut dec = codec::context::Context::from_parameters(&enc)?
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
    let n = (enc.frame_size() as usize).max(1);
    let frames = pcm.samples.len() / ch;
    let mut pos = 0;
    while pos < frames {
        let len = n.min(frames - pos);
        let size = if small_last { len } else { n };
        let mut f = frame::Audio::new(Sample::F32(sample::Type::Planar), size, layout);
        f.set_rate(pcm.sample_rate);
        f.set_pts(Some(pos as i64));
        for c in 0..ch {
            for (i, out) in f.plane_mut::<f32>(c).iter_mut().enumerate() {
                *out = if i < len {
                    pcm.samples[(pos + i) * ch + c]
                } else {
                    0.0
                };
            }
        }
        enc.send_frame(&f)?;
        pump(&mut enc, &mut dec, &mut conv)?;
        pos += len;
    }
    enc.send_eof()?;
    pump(&mut enc, &mut dec, &mut conv)?;
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
