//! The AAC round trip: a mix encoded with FFmpeg's native AAC encoder at the preset's settings
//! (as `encode::VideoWriter` does) and decoded again, so the renderer can measure what an MP4
//! will really hold. Lossy coding reshapes peaks; a limiter that only knew its own output could
//! not promise a ceiling on the file.

use ffmpeg::format::{sample, Sample};
use ffmpeg::{codec, decoder, encoder, frame, ChannelLayout, Dictionary, Packet};
use ffmpeg_next as ffmpeg;

use super::audio::ToF32;
use super::AudioPcm;

/// `pcm` through AAC-LC at `bitrate_kbps` and back, at the same rate and channel count. The
/// result starts with the encoder's priming samples (silence), so it is a little longer
/// than the input: fine for peaks and loudness, not for sample-exact comparison.
pub fn aac_roundtrip(pcm: &AudioPcm, bitrate_kbps: u32) -> Result<AudioPcm, ffmpeg::Error> {
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
    let mut opts = Dictionary::new();
    opts.set("profile", "aac_low");
    let mut enc = enc.open_with(opts)?;
    let mut dec = codec::context::Context::from_parameters(&enc)?
        .decoder()
        .audio()?;

    let mut conv = ToF32::new(pcm.sample_rate, pcm.channels);
    let mut decoded = frame::Audio::empty();
    let mut pkt = Packet::empty();
    let mut pump = |enc: &mut encoder::Audio,
                    dec: &mut decoder::Audio,
                    conv: &mut ToF32|
     -> Result<(), ffmpeg::Error> {
        while enc.receive_packet(&mut pkt).is_ok() {
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
        let mut f = frame::Audio::new(Sample::F32(sample::Type::Planar), n, layout);
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
    Ok(AudioPcm {
        sample_rate: pcm.sample_rate,
        channels: pcm.channels,
        samples: conv.out,
    })
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
        let out = aac_roundtrip(&pcm, 128).unwrap();
        assert_eq!((out.sample_rate, out.channels), (48_000, 2));
        // One second plus the encoder's priming and padding.
        assert!((1.0..1.1).contains(&out.duration()), "{}", out.duration());
        let peak = out.samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 0.03, "peak {peak}");
    }
}
