//! The job's soundtrack: the music fitted to the duration, the region's voice-over with the
//! music ducked under it, sound effects at their times; then the mix is brought to the
//! preset's integrated loudness and kept under its true-peak ceiling, and measured again so
//! the manifest can say what was delivered.
//!
//! Everything works on whole buffers in memory: a 60 s stereo mix at 48 kHz is 23 MB of f32,
//! and loudness is a property of the whole programme, so streaming would buy nothing.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Assets, RenderError};
use crate::media::{loudness, AacStream, AudioPcm};
use crate::plan::Job;
use crate::preset::{AudioSpec, Preset, PresetKind};
use crate::template::{default_copy_locale, locale_lookup, Audio, Duck, Region, Template};

/// Seconds of equal-power crossfade where a looping track meets its own start: long enough
/// not to click, short enough not to smear a beat.
pub(crate) const LOOP_SEAM: f64 = 0.05;

/// The voice's level at which the music is fully ducked, and the level below which it is not
/// ducked at all (dBFS RMS over ~10 ms); speech sits well above, breaths and room tone below.
const DUCK_FULL_DB: f32 = -40.0;
const DUCK_NONE_DB: f32 = -50.0;

/// What the renderer hands the encoder, and what it measured on it.
#[derive(Debug, Clone)]
pub(crate) struct Soundtrack {
    pub pcm: Arc<AudioPcm>,
    /// `pcm` as the preset's AAC encoder coded it while measuring, for the writer to mux;
    /// `None` for silence or when coding failed here (the writer then codes `pcm` itself).
    pub coded: Option<Arc<AacStream>>,
    /// Integrated loudness of the final mix after AAC coding at the preset's bitrate
    /// (BS.1770-4), LUFS; `None` for silence.
    pub loudness_lufs: Option<f64>,
    /// True peak of the final mix after AAC coding (BS.1770-4 Annex 2, 4× oversampled), dBTP;
    /// `None` for silence.
    pub true_peak_dbtp: Option<f64>,
    /// Stand-ins the mix used (a voice-over from another locale), for `rules_applied`.
    pub notes: Vec<String>,
}

/// The job's soundtrack, or `None` for a preset without sound (stills).
pub(crate) fn soundtrack(
    t: &Template,
    job: &Job,
    preset: &Preset,
    region: &Region,
    assets: &Assets,
) -> Result<Option<Soundtrack>, RenderError> {
    let Some(spec) = &preset.audio else {
        return Ok(None);
    };
    if preset.kind != PresetKind::Video {
        return Ok(None);
    }
    let a = match job.choices.audio {
        Some(i) => t.audio_for(region, i).clone(),
        None => Audio::silence(),
    };
    let pcm = |p: &PathBuf| match assets
        .music
        .get(&(p.clone(), spec.sample_rate, spec.channels))
    {
        Some(Ok(pcm)) => Ok(pcm.clone()),
        Some(Err(e)) => Err(RenderError::Media {
            pool: "audio",
            option: a.id.clone(),
            source: e.clone(),
        }),
        None => unreachable!("Assets::load covers every planned audio file"),
    };
    let seam = a.looped.then_some(LOOP_SEAM);
    let mut mix = match &a.source {
        Some(src) => pcm(src)?.fit(a.start, t.duration, a.fade_in, a.fade_out, a.volume, seam),
        None => AudioPcm::silence(spec.sample_rate, spec.channels, t.duration),
    };
    let mut notes = Vec::new();
    if !a.voiceover.is_empty() {
        let path = match locale_lookup(&a.voiceover, region) {
            Ok(p) => p,
            Err(tried) => match default_copy_locale(&a.voiceover).filter(|_| t.allow_fallback) {
                Some(loc) => {
                    notes.push(format!("voice-over fallback: `{loc}` voice-over used for {} (no {} voice-over; --allow-fallback)", region.code, region.locale));
                    &a.voiceover[loc]
                }
                None => {
                    return Err(RenderError::MissingVoiceover {
                        option: a.id.clone(),
                        region: region.code.clone(),
                        locale: region.locale.clone(),
                        tried: tried.join(", "),
                    })
                }
            },
        };
        let mut voice = AudioPcm::silence(spec.sample_rate, spec.channels, t.duration);
        add_at(
            &mut voice,
            &*pcm(path)?,
            a.voiceover_start,
            a.voiceover_volume,
        );
        if let Some(d) = a.duck {
            duck(&mut mix, &voice, d);
        }
        mix.samples
            .iter_mut()
            .zip(&voice.samples)
            .for_each(|(m, v)| *m += v);
    }
    let starts = t.scene_starts(&job.choices.order);
    for s in &a.sfx {
        let offset = s
            .scene
            .as_ref()
            .and_then(|id| {
                job.choices
                    .order
                    .iter()
                    .position(|&i| t.scenes[i].id == *id)
            })
            .map_or(0.0, |k| starts[k]);
        add_at(&mut mix, &*pcm(&s.source)?, offset + s.at, s.volume);
    }
    let m = master(&mut mix, spec);
    Ok(Some(Soundtrack {
        pcm: Arc::new(mix),
        coded: m.coded.map(Arc::new),
        loudness_lufs: m.loudness_lufs,
        true_peak_dbtp: m.true_peak_dbtp,
        notes,
    }))
}

/// Adds `src × gain` into `mix` from `at` seconds on; what runs past the end is cut.
fn add_at(mix: &mut AudioPcm, src: &AudioPcm, at: f64, gain: f32) {
    let ch = mix.channels as usize;
    let from = (at.max(0.0) * mix.sample_rate as f64).round() as usize * ch;
    if let Some(dst) = mix.samples.get_mut(from..) {
        dst.iter_mut()
            .zip(&src.samples)
            .for_each(|(d, s)| *d += s * gain);
    }
}

/// Sidechain ducking: the music's gain follows the voice's level. The voice's RMS over
/// ~10 ms sets a target (full `amount_db` at −40 dBFS and above, none at −50 dBFS and below,
/// linear in dB between), and the gain moves towards it with `attack` as its time constant
/// going down and `release` coming back up, so the music dips as a word starts and
/// recovers through a pause rather than pumping on every syllable.
fn duck(music: &mut AudioPcm, voice: &AudioPcm, d: Duck) {
    let ch = music.channels.max(1) as usize;
    let rate = music.sample_rate as f32;
    let coef = |secs: f32| 1.0 - (-1.0 / (secs.max(1e-4) * rate)).exp();
    let (det, att, rel) = (coef(0.01), coef(d.attack), coef(d.release));
    let (mut ms, mut gain_db) = (0.0f32, 0.0f32);
    for (m, v) in music
        .samples
        .chunks_exact_mut(ch)
        .zip(voice.samples.chunks_exact(ch))
    {
        let x = v.iter().sum::<f32>() / ch as f32;
        ms += (x * x - ms) * det;
        let level_db = 10.0 * ms.max(1e-12).log10() + 3.01; // RMS of a sine = peak − 3 dB
        let key = ((level_db - DUCK_NONE_DB) / (DUCK_FULL_DB - DUCK_NONE_DB)).clamp(0.0, 1.0);
        let target = d.amount_db * key;
        gain_db += (target - gain_db) * if target < gain_db { att } else { rel };
        if gain_db < -0.001 {
            let g = 10f32.powf(gain_db / 20.0);
            m.iter_mut().for_each(|s| *s *= g);
        }
    }
}

/// Headroom the limiter first keeps below the preset's ceiling for the AAC encoder: lossy
/// coding reshapes the waveform and adds true peak to a mix limited right at its ceiling
/// (0.3 dB on a tone with a click, 1.1 dB on music under a limited voice-over, at 128 kb/s).
/// When the encoded mix still goes over, the headroom grows by what it went over.
pub(crate) const CODEC_HEADROOM_DB: f64 = 0.5;

/// Brings the mix to the preset's loudness and under its ceiling; returns what the mix
/// measures after AAC coding at the preset's bitrate (what the MP4 will hold), or on the mix
/// itself if the round trip fails.
///
/// Limiting takes loudness away where it acts, so the gain is searched for (secant steps in
/// dB on the unlimited mix, each step limited afresh) until the limited result is within
/// 0.1 LU of the target; a loud effect over quiet music needs a few steps, a mix without
/// peaks one. Then the mix goes through AAC and back: if the coded true peak is over the
/// ceiling, the search runs again with the limiter lowered by the overshoot (four rounds at
/// most), and a mix still over after them is turned down by the excess.
fn master(mix: &mut AudioPcm, spec: &AudioSpec) -> Mastered {
    if mix.samples.iter().all(|s| *s == 0.0) {
        // Digital silence (a template without sound): nothing to level or measure.
        return Mastered::default();
    }
    let measure = |p: &AudioPcm| (loudness::integrated_lufs(p), loudness::true_peak_dbtp(p));
    let mut headroom = CODEC_HEADROOM_DB;
    let mut result = None;
    let mut still_over = None;
    for _ in 0..4 {
        let leveled = level(mix, spec.loudness, spec.true_peak.map(|c| c - headroom));
        let Ok((decoded, coded)) = crate::media::aac_roundtrip(&leveled, spec.bitrate_kbps) else {
            result = Some((measure(&leveled), leveled, None));
            break;
        };
        let (lufs, tp) = measure(&decoded);
        let over = match (spec.true_peak, tp, loudness::true_peak_dbtp(&leveled)) {
            // A twentieth of a dB spare, so the file is not over by a rounding.
            (Some(ceiling), Some(coded_tp), Some(mix_tp)) if coded_tp > ceiling - 0.05 => {
                Some((coded_tp - mix_tp, coded_tp - (ceiling - 0.1)))
            }
            _ => None,
        };
        result = Some(((lufs, tp), leveled, Some(coded)));
        still_over = over.map(|(_, excess)| excess);
        match over {
            // Lower the limiter by what the coded file went over, at least by what coding
            // added: coding's overshoot changes with the limiting, so one step may not do.
            Some((added, excess)) => headroom = (headroom + excess + 0.05).max(added + 0.1),
            None => break,
        }
    }
    let (mut measured, mut leveled, mut coded) = result.expect("at least one round");
    if let Some(excess) = still_over {
        // The ceiling is the hard limit and loudness has a tolerance: a plain gain cut by the
        // excess scales the coded peaks with it.
        let g = 10f64.powf(-(excess + 0.05) / 20.0) as f32;
        leveled.samples.iter_mut().for_each(|s| *s *= g);
        coded = None;
        if let Ok((decoded, stream)) = crate::media::aac_roundtrip(&leveled, spec.bitrate_kbps) {
            measured = measure(&decoded);
            coded = Some(stream);
        }
    }
    *mix = leveled;
    Mastered {
        loudness_lufs: measured.0,
        true_peak_dbtp: measured.1,
        coded,
    }
}

/// What `master` measured on the coded mix, and the coding itself.
#[derive(Default)]
struct Mastered {
    loudness_lufs: Option<f64>,
    true_peak_dbtp: Option<f64>,
    coded: Option<AacStream>,
}

/// `mix` at the gain that brings it to `target` LUFS once limited under `ceiling` dBTP.
fn level(mix: &AudioPcm, target: Option<f64>, ceiling: Option<f64>) -> AudioPcm {
    let limit = |gain_db: f64| {
        let mut out = mix.clone();
        let g = 10f64.powf(gain_db / 20.0) as f32;
        out.samples.iter_mut().for_each(|s| *s *= g);
        if let Some(c) = ceiling {
            loudness::limit_true_peak(&mut out, c);
        }
        let lufs = loudness::integrated_lufs(&out);
        (out, lufs)
    };
    let (target, start) = match (target, loudness::integrated_lufs(mix)) {
        (Some(t), Some(now)) => (t, now),
        // Nothing to normalise to (no target, or too short to measure): only the ceiling.
        _ => return limit(0.0).0,
    };
    let mut gain = target - start;
    let (mut best, mut lufs) = limit(gain);
    let mut prev: Option<(f64, f64)> = None;
    for _ in 0..8 {
        let Some(now) = lufs else { break };
        if (target - now).abs() <= 0.1 {
            break;
        }
        // dLUFS/dgain: 1 without limiting, less as the limiter takes over.
        let slope = match prev {
            Some((g0, l0)) if (gain - g0).abs() > 1e-6 => {
                ((now - l0) / (gain - g0)).clamp(0.05, 1.0)
            }
            _ => 1.0,
        };
        prev = Some((gain, now));
        // Beyond +40 dB the "music" is noise floor; stop rather than amplify it further.
        gain = (gain + (target - now) / slope).min(target - start + 40.0);
        (best, lufs) = limit(gain);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, secs: f64, freq: f64, amp: f32) -> AudioPcm {
        let n = (secs * rate as f64) as usize;
        let samples = (0..n)
            .flat_map(|i| {
                let v =
                    amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin() as f32;
                [v, v]
            })
            .collect();
        AudioPcm {
            sample_rate: rate,
            channels: 2,
            samples,
        }
    }

    fn rms(p: &AudioPcm, from: f64, to: f64) -> f32 {
        let r = p.sample_rate as f64 * 2.0;
        let s = &p.samples[(from * r) as usize..(to * r) as usize];
        (s.iter().map(|v| v * v).sum::<f32>() / s.len() as f32).sqrt()
    }

    #[test]
    fn music_ducks_by_the_amount_while_the_voice_speaks_and_recovers() {
        let rate = 8_000;
        let mut music = tone(rate, 3.0, 440.0, 0.5);
        // Voice from 1 s to 2 s at −20 dBFS.
        let mut voice = AudioPcm::silence(rate, 2, 3.0);
        add_at(&mut voice, &tone(rate, 1.0, 200.0, 0.1), 1.0, 1.0);
        duck(
            &mut music,
            &voice,
            Duck {
                amount_db: -12.0,
                attack: 0.05,
                release: 0.3,
            },
        );
        let before = rms(&music, 0.2, 0.9);
        let during = rms(&music, 1.5, 1.95);
        let after = rms(&music, 2.8, 3.0);
        let db = |x: f32| 20.0 * (x / before).log10();
        assert!(
            (db(during) + 12.0).abs() < 0.5,
            "during: {:.2} dB",
            db(during)
        );
        assert!(db(after) > -1.0, "after release: {:.2} dB", db(after));
        // The attack is not instant: 10 ms into the voice the music is only partly down.
        assert!(db(rms(&music, 1.005, 1.015)) > -8.0);
    }

    #[test]
    fn quiet_voice_room_tone_does_not_duck() {
        let rate = 8_000;
        let mut music = tone(rate, 1.0, 440.0, 0.5);
        let voice = tone(rate, 1.0, 200.0, 0.002); // −54 dBFS
        let before = rms(&music, 0.0, 1.0);
        duck(&mut music, &voice, Duck::default());
        assert!((rms(&music, 0.0, 1.0) / before - 1.0).abs() < 1e-4);
    }

    #[test]
    fn add_at_places_and_cuts() {
        let mut mix = AudioPcm {
            sample_rate: 10,
            channels: 1,
            samples: vec![0.0; 5],
        };
        let one = AudioPcm {
            sample_rate: 10,
            channels: 1,
            samples: vec![1.0; 4],
        };
        add_at(&mut mix, &one, 0.3, 0.5);
        assert_eq!(mix.samples, vec![0.0, 0.0, 0.0, 0.5, 0.5]);
        add_at(&mut mix, &one, 9.0, 1.0);
        assert_eq!(mix.samples, vec![0.0, 0.0, 0.0, 0.5, 0.5]);
    }

    #[test]
    fn master_reaches_target_under_the_ceiling() {
        let spec = AudioSpec {
            codec: "aac".into(),
            sample_rate: 48_000,
            channels: 2,
            bitrate_kbps: 128,
            loudness: Some(-14.0),
            true_peak: Some(-1.0),
        };
        // A quiet tone with a loud click: gain alone would push the click far over.
        let mut mix = tone(48_000, 4.0, 1000.0, 0.02);
        mix.samples[96_000] = 0.9;
        mix.samples[96_001] = 0.9;
        let m = master(&mut mix, &spec);
        let (lufs, tp) = (m.loudness_lufs.unwrap(), m.true_peak_dbtp.unwrap());
        // The coding that was measured is kept for the writer: all of the mix, as packets.
        let coded = m.coded.expect("AAC packets of the measured mix");
        assert_eq!(coded.samples as usize, mix.samples.len() / 2);
        // Measured after AAC: within the coding's few hundredths of a LU, under the ceiling.
        assert!((lufs + 14.0).abs() <= 0.2, "{lufs:.2} LUFS");
        assert!(tp <= -1.0, "{tp:.2} dBTP after AAC");
        // The mix itself keeps the codec headroom.
        let mix_tp = loudness::true_peak_dbtp(&mix).unwrap();
        assert!(
            mix_tp <= -1.0 - CODEC_HEADROOM_DB + 1e-3,
            "{mix_tp:.2} dBTP"
        );
        // Silence stays silence: no gain to apply, nothing to report.
        let mut quiet = AudioPcm::silence(48_000, 2, 1.0);
        let m = master(&mut quiet, &spec);
        assert_eq!((m.loudness_lufs, m.true_peak_dbtp), (None, None));
        assert!(m.coded.is_none());
    }
}
