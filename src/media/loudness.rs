//! Loudness and true peak as ITU-R BS.1770-4 / EBU R128 define them, measured on interleaved
//! f32 PCM in memory (the renderer's final mix), and the true-peak limiter that keeps a mix
//! under a ceiling.
//!
//! Integrated loudness: K-weighting (a high-shelf "head" filter then a high-pass), mean
//! square per channel over 400 ms blocks every 100 ms (75 % overlap), channels summed with
//! weight 1 (left/right/centre; we only write mono and stereo), then an absolute gate at
//! −70 LUFS and a relative gate 10 LU below the loudness of the blocks that passed it.
//! True peak: 4× oversampling (2× from 96 kHz) with a polyphase windowed-sinc interpolator,
//! as Annex 2 describes; the highest absolute value of any channel.

use super::AudioPcm;

/// Absolute gate, LUFS.
const ABS_GATE: f64 = -70.0;
/// Relative gate, LU below the absolutely gated loudness.
const REL_GATE: f64 = -10.0;

/// A biquad in direct form I, coefficients normalised so a0 = 1.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

/// The two K-weighting stages for a sample rate. The analogue prototypes (shelf at
/// 1681.97 Hz, +3.9998 dB, Q 0.7072; high-pass at 38.135 Hz, Q 0.5003) are those libebur128
/// derives from the standard's 48 kHz table, so other rates get the same curve.
fn k_weighting(rate: u32) -> [Biquad; 2] {
    let fs = rate as f64;
    let (f0, g, q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let vh = 10f64.powf(g / 20.0);
    let vb = vh.powf(0.4996667741545416);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    let (f0, q) = (38.13547087602444, 0.5003270373238773);
    let k = (std::f64::consts::PI * f0 / fs).tan();
    let a0 = 1.0 + k / q + k * k;
    let highpass = Biquad {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    [shelf, highpass]
}

/// Integrated loudness in LUFS; `None` when nothing passes the absolute gate (silence, or
/// shorter than one 400 ms block).
pub fn integrated_lufs(pcm: &AudioPcm) -> Option<f64> {
    let ch = pcm.channels.max(1) as usize;
    let frames = pcm.samples.len() / ch;
    let rate = pcm.sample_rate as usize;
    let hop = rate / 10;
    if hop == 0 || frames < 4 * hop {
        return None;
    }
    // Sum over channels of the K-weighted squares, per 100 ms hop; a block is four hops.
    let mut hops = vec![0.0f64; frames / hop];
    let filters = k_weighting(pcm.sample_rate);
    for c in 0..ch {
        let mut state = [[0.0f64; 4]; 2];
        for (i, x) in pcm
            .samples
            .iter()
            .skip(c)
            .step_by(ch)
            .take(hops.len() * hop)
            .enumerate()
        {
            let mut y = *x as f64;
            for (f, s) in filters.iter().zip(state.iter_mut()) {
                let out =
                    f.b[0] * y + f.b[1] * s[0] + f.b[2] * s[1] - f.a[0] * s[2] - f.a[1] * s[3];
                *s = [y, s[0], out, s[2]];
                y = out;
            }
            hops[i / hop] += y * y;
        }
    }
    let block_len = (4 * hop) as f64;
    let blocks: Vec<f64> = hops
        .windows(4)
        .map(|w| w.iter().sum::<f64>() / block_len)
        .collect();
    let lufs = |z: f64| -0.691 + 10.0 * z.log10();
    let mean = |zs: &mut dyn Iterator<Item = f64>| {
        let (s, n) = zs.fold((0.0, 0usize), |(s, n), z| (s + z, n + 1));
        (n > 0).then(|| s / n as f64)
    };
    let abs_mean = mean(&mut blocks.iter().copied().filter(|z| lufs(*z) > ABS_GATE))?;
    let rel = lufs(abs_mean) + REL_GATE;
    let gated = mean(
        &mut blocks
            .iter()
            .copied()
            .filter(|z| lufs(*z) > ABS_GATE && lufs(*z) > rel),
    )?;
    Some(lufs(gated))
}

/// Interpolation filter: taps per phase of a Hann-windowed sinc cut off at the original
/// Nyquist frequency.
const TAPS: usize = 16;

/// One tap set per point between two frames (`factor - 1` of them), each normalised to unit
/// gain at DC. Tap `t` of phase `j` weighs frame `n - TAPS/2 + t` for the point `j/factor`
/// after frame `n - 1`.
fn interpolator(factor: usize) -> Vec<[f64; TAPS]> {
    let half = (TAPS / 2) as f64;
    (1..factor)
        .map(|j| {
            let f = j as f64 / factor as f64;
            let mut c = [0.0; TAPS];
            for (t, c) in c.iter_mut().enumerate() {
                let x = half - 1.0 + f - t as f64;
                let px = std::f64::consts::PI * x;
                let sinc = if x.abs() < 1e-12 { 1.0 } else { px.sin() / px };
                *c = sinc * (0.5 + 0.5 * (px / half).cos());
            }
            let sum: f64 = c.iter().sum();
            c.iter_mut().for_each(|v| *v /= sum);
            c
        })
        .collect()
}

fn oversampling(rate: u32) -> usize {
    if rate >= 96_000 {
        2
    } else {
        4
    }
}

/// The true-peak estimate around every sample frame: the largest absolute interpolated value
/// of any channel between the previous frame and this one (and the frame itself).
pub(crate) fn peak_envelope(pcm: &AudioPcm) -> Vec<f32> {
    let ch = pcm.channels.max(1) as usize;
    let frames = pcm.samples.len() / ch;
    let phases = interpolator(oversampling(pcm.sample_rate));
    let mut env = vec![0.0f32; frames];
    let half = TAPS / 2;
    for c in 0..ch {
        // The channel with TAPS/2 zeros either side: the window for frame n starts at n.
        let mut padded = vec![0.0f64; frames + TAPS];
        for (p, x) in padded[half..]
            .iter_mut()
            .zip(pcm.samples.iter().skip(c).step_by(ch))
        {
            *p = *x as f64;
        }
        for (n, e) in env.iter_mut().enumerate() {
            let window = &padded[n..n + TAPS];
            let mut m = window[half].abs();
            for phase in &phases {
                let v: f64 = phase.iter().zip(window).map(|(h, x)| h * x).sum();
                m = m.max(v.abs());
            }
            *e = e.max(m as f32);
        }
    }
    env
}

/// True peak in dBTP; `None` for digital silence.
pub fn true_peak_dbtp(pcm: &AudioPcm) -> Option<f64> {
    let peak = peak_envelope(pcm).into_iter().fold(0.0f32, f32::max);
    (peak > 0.0).then(|| 20.0 * (peak as f64).log10())
}

/// Lowers the gain wherever the true peak would exceed `ceiling_dbtp`: the gain needed at
/// each frame is held over a 5 ms look-ahead, released over 100 ms and smoothed by a moving
/// average as long as the look-ahead, so it falls before a peak arrives instead of clipping
/// it. Any gain curve smoothed that way stays at or below what every frame in its window
/// needs; what interpolation between frames adds is caught by another pass (up to four)
/// and, failing that, a final static trim.
pub fn limit_true_peak(pcm: &mut AudioPcm, ceiling_dbtp: f64) {
    let ceiling = 10f64.powf(ceiling_dbtp / 20.0) as f32;
    // Aim a hair (0.01 dB) under the ceiling so rounding cannot leave a peak a bit over it.
    let aim = ceiling * 0.9989;
    let ch = pcm.channels.max(1) as usize;
    let rate = pcm.sample_rate as f32;
    let w = ((0.005 * rate) as usize).max(1);
    let release = 1.0 - (-1.0 / (0.1 * rate)).exp();
    for _ in 0..4 {
        let env = peak_envelope(pcm);
        if env.iter().all(|p| *p <= ceiling) {
            return;
        }
        let need: Vec<f32> = env
            .iter()
            .map(|p| if *p > aim { aim / p } else { 1.0 })
            .collect();
        let n = need.len();
        // Look-ahead minimum over [i, i + w) (monotonic deque), then release.
        let mut held = vec![1.0f32; n];
        let mut dq: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
        for j in (0..n).rev() {
            while dq.back().is_some_and(|&k| need[k] >= need[j]) {
                dq.pop_back();
            }
            dq.push_back(j);
            while dq.front().is_some_and(|&k| k >= j + w) {
                dq.pop_front();
            }
            held[j] = need[dq[0]];
        }
        let mut g = 1.0f32;
        for h in held.iter_mut() {
            g = (g + (1.0 - g) * release).min(*h);
            *h = g;
        }
        // Moving average over [i - w + 1, i]: every term is ≤ need[i]. Before the first
        // frame the gain is taken as the first frame's, which also covers its window.
        let mut sum = held[0] as f64 * w as f64;
        let mut gain = vec![1.0f32; n];
        for i in 0..n {
            sum += held[i] as f64 - held[i.saturating_sub(w)] as f64;
            gain[i] = (sum / w as f64) as f32;
        }
        for (frame, g) in pcm.samples.chunks_exact_mut(ch).zip(&gain) {
            frame.iter_mut().for_each(|v| *v *= g);
        }
    }
    let peak = peak_envelope(pcm).into_iter().fold(0.0f32, f32::max);
    if peak > ceiling {
        let g = ceiling / peak;
        pcm.samples.iter_mut().for_each(|v| *v *= g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, channels: u16, freq: f64, dbfs: f64, secs: f64, phase: f64) -> AudioPcm {
        let amp = 10f64.powf(dbfs / 20.0);
        let n = (secs * rate as f64) as usize;
        let mut samples = Vec::with_capacity(n * channels as usize);
        for i in 0..n {
            let v = (amp
                * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64 + phase).sin())
                as f32;
            samples.extend(std::iter::repeat_n(v, channels as usize));
        }
        AudioPcm {
            sample_rate: rate,
            channels,
            samples,
        }
    }

    fn concat(parts: &[AudioPcm]) -> AudioPcm {
        let mut out = parts[0].clone();
        for p in &parts[1..] {
            out.samples.extend_from_slice(&p.samples);
        }
        out
    }

    #[test]
    fn k_weighting_matches_the_standard_48k_table() {
        // BS.1770-4 Tables 1 and 2.
        let [shelf, hp] = k_weighting(48_000);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-8;
        assert!(
            close(shelf.b[0], 1.53512485958697)
                && close(shelf.b[1], -2.69169618940638)
                && close(shelf.b[2], 1.19839281085285),
            "{shelf:?}"
        );
        assert!(
            close(shelf.a[0], -1.69065929318241) && close(shelf.a[1], 0.73248077421585),
            "{shelf:?}"
        );
        assert!(
            close(hp.a[0], -1.99004745483398) && close(hp.a[1], 0.99007225036621),
            "{hp:?}"
        );
    }

    /// EBU Tech 3341 cases 1 and 2: a stereo 1 kHz sine at −23 / −33 dBFS in both channels
    /// reads −23.0 / −33.0 LUFS (±0.1).
    #[test]
    fn tech3341_stereo_sines() {
        for db in [-23.0, -33.0] {
            let l = integrated_lufs(&sine(48_000, 2, 1000.0, db, 20.0, 0.0)).unwrap();
            assert!((l - db).abs() < 0.1, "{db} dBFS sine read {l:.3} LUFS");
        }
    }

    /// The same sine in one channel is 3 dB quieter: a mono −20 dBFS sine is −23.0 LUFS (the
    /// figure often quoted for "a −20 dBFS tone"; in stereo the same tone is −20 LUFS).
    #[test]
    fn mono_sine_is_3db_below_stereo() {
        let mono = integrated_lufs(&sine(48_000, 1, 1000.0, -20.0, 10.0, 0.0)).unwrap();
        let stereo = integrated_lufs(&sine(48_000, 2, 1000.0, -20.0, 10.0, 0.0)).unwrap();
        assert!((mono + 23.01).abs() < 0.1, "mono {mono:.3}");
        assert!((stereo + 20.0).abs() < 0.1, "stereo {stereo:.3}");
    }

    /// Tech 3341 cases 3 and 4: quiet passages around a −23 dBFS tone are removed by the
    /// relative gate (case 3: −36/−23/−36 dBFS) and the absolute gate (case 4 adds −72 dBFS).
    #[test]
    fn tech3341_gating() {
        let s = |db: f64, secs: f64| sine(48_000, 2, 1000.0, db, secs, 0.0);
        let case3 = concat(&[s(-36.0, 10.0), s(-23.0, 60.0), s(-36.0, 10.0)]);
        let l = integrated_lufs(&case3).unwrap();
        assert!((l + 23.0).abs() < 0.1, "case 3: {l:.3}");
        let case4 = concat(&[
            s(-72.0, 10.0),
            s(-36.0, 10.0),
            s(-23.0, 60.0),
            s(-36.0, 10.0),
            s(-72.0, 10.0),
        ]);
        let l = integrated_lufs(&case4).unwrap();
        assert!((l + 23.0).abs() < 0.1, "case 4: {l:.3}");
        // Case 5: −26 / −20 / −26 dBFS for 20 / 20.1 / 20 s reads −23.0.
        let case5 = concat(&[s(-26.0, 20.0), s(-20.0, 20.1), s(-26.0, 20.0)]);
        let l = integrated_lufs(&case5).unwrap();
        assert!((l + 23.0).abs() < 0.1, "case 5: {l:.3}");
    }

    #[test]
    fn silence_and_short_input_have_no_loudness() {
        assert_eq!(integrated_lufs(&AudioPcm::silence(48_000, 2, 5.0)), None);
        assert_eq!(
            integrated_lufs(&sine(48_000, 2, 1000.0, -20.0, 0.3, 0.0)),
            None
        );
        assert_eq!(true_peak_dbtp(&AudioPcm::silence(48_000, 2, 1.0)), None);
    }

    /// A 12 kHz sine sampled at 48 kHz with a 45° phase never has a sample at its crest:
    /// sample peak is −3.01 dB below the waveform's. True peak must find the crest.
    #[test]
    fn true_peak_finds_the_intersample_crest() {
        let s = sine(48_000, 2, 12_000.0, -1.0, 1.0, std::f64::consts::FRAC_PI_4);
        let sample_peak =
            20.0 * s.samples.iter().fold(0.0f32, |m, v| m.max(v.abs())).log10() as f64;
        assert!(
            (sample_peak + 4.01).abs() < 0.05,
            "sample peak {sample_peak:.2}"
        );
        let tp = true_peak_dbtp(&s).unwrap();
        assert!(
            (tp + 1.0).abs() < 0.2,
            "true peak {tp:.2} dBTP (sample peak {sample_peak:.2})"
        );
        // Tech 3341 case 15 style: a 997 Hz tone at 0 dBFS reads 0 dBTP within +0.2/−0.4 dB.
        let tp = true_peak_dbtp(&sine(48_000, 1, 997.0, 0.0, 1.0, 0.0)).unwrap();
        assert!((-0.4..=0.2).contains(&tp), "{tp:.3}");
    }

    #[test]
    fn limiter_holds_the_ceiling_and_leaves_quiet_parts_alone() {
        let mut s = concat(&[
            sine(48_000, 2, 440.0, -20.0, 1.0, 0.0),
            sine(48_000, 2, 12_000.0, 0.0, 1.0, 0.3),
            sine(48_000, 2, 440.0, -20.0, 1.0, 0.0),
        ]);
        let quiet_before = s.samples[..2 * 43_200].to_vec();
        limit_true_peak(&mut s, -1.0);
        let tp = true_peak_dbtp(&s).unwrap();
        assert!(tp <= -1.0 + 1e-3, "true peak {tp:.3} dBTP");
        // The loud part sits at the ceiling (limited, not muted).
        assert!(tp > -1.5, "over-limited: {tp:.3}");
        // 5 ms look-ahead: the first 0.9 s is untouched.
        assert!(
            s.samples[..2 * 43_200] == quiet_before[..],
            "the quiet part before the look-ahead changed"
        );
    }
}
