//! The soundtrack, checked the way a user would: render tiny templates with the real binary,
//! decode the MP4's audio with the ffmpeg CLI, and measure it — loudness and true peak with
//! FFmpeg's own `ebur128` filter as the referee, ducking, effect timing and loop seams on
//! the decoded samples.

use std::path::Path;
use std::process::Command;

use crate::support::presets::{VideoPreset, TINY_VIDEO};
use crate::support::project::*;
use creative_factory::media::{loudness, AudioPcm};

/// 32×32 at 10 fps with the built-in social presets' audio targets: −14 LUFS, −1 dBTP.
const SND_VIDEO: VideoPreset = VideoPreset {
    platform: "Snd",
    description: "32×32 sound test canvas",
    width: 32,
    height: 32,
    speed: "ultrafast",
    crf: 40,
    audio_kbps: 128,
    extra: "loudness = -14.0\ntrue_peak = -1.0\n",
    ..TINY_VIDEO
};

const RATE: usize = 48_000;

fn project() -> Project {
    let p = Project::new();
    p.write("presets/snd-video.toml", &SND_VIDEO.toml());
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    for f in ["vo/en.m4a", "vo/ja.m4a", "sfx/pop.wav", "sfx/whoosh.wav"] {
        std::fs::create_dir_all(p.path(f).parent().unwrap()).unwrap();
        std::fs::copy(samples.join(f), p.path(f)).unwrap();
    }
    p
}

/// `assets/NAME.wav`: a sine at 48 kHz, `gain` times FFmpeg's default level (1/8 = −18 dBFS).
fn tone_file(p: &Project, name: &str, freq: u32, gain: f64, secs: u32) {
    let src = format!("sine=frequency={freq}:sample_rate=48000");
    let (vol, len) = (format!("volume={gain}"), secs.to_string());
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            &src,
            "-af",
            &vol,
            "-t",
            &len,
            "-c:a",
            "pcm_s16le",
        ],
        &p.path(&format!("assets/{name}.wav")),
    );
}

fn template(duration: f64, regions: &str, audio: &str) -> String {
    format!(
        r##"[template]
name = "sound"
version = 1
kind = "video"
duration = {duration}
fps = 10

[output]
presets = ["snd-video"]
regions = [{regions}]

[[background]]
id = "plain"
color = "#203040"

[[audio]]
id = "a"
{audio}
"##
    )
}

/// Renders `t.toml` and returns the path of the first output.
fn render(p: &Project, text: &str, extra: &[&str]) -> (std::path::PathBuf, serde_json::Value) {
    p.write("t.toml", text);
    let mut args = vec!["render", "t.toml", "--out", "out", "--progress", "plain"];
    args.extend_from_slice(extra);
    let o = p.factory(&args);
    assert!(
        o.status.success(),
        "render failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    let m = manifest(&p.path("out"));
    let row = m["outputs"][0].clone();
    (p.path("out").join(row["file"].as_str().unwrap()), row)
}

/// The output's audio as interleaved stereo f32 at 48 kHz, decoded by the ffmpeg CLI.
fn decode(path: &Path) -> AudioPcm {
    AudioPcm {
        sample_rate: RATE as u32,
        channels: 2,
        samples: crate::support::encode::ffmpeg_pcm(path, 2),
    }
}

/// FFmpeg's `ebur128` summary: (integrated LUFS, true peak dBTP).
fn ebur128(path: &Path) -> (f64, f64) {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-vn", "-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(o.status.success(), "{}", stderr(&o));
    let log = stderr(&o);
    let summary = &log[log.rfind("Summary:").expect("ebur128 summary")..];
    let value = |key: &str| -> f64 {
        let line = summary
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no `{key}` in:\n{summary}"));
        line[key.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (value("I:"), value("Peak:"))
}

/// RMS of both channels between two times (seconds).
fn rms(p: &AudioPcm, from: f64, to: f64) -> f64 {
    let s = &p.samples[(from * RATE as f64) as usize * 2..(to * RATE as f64) as usize * 2];
    (s.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
}

/// Amplitude of one frequency in a window of the left channel (a single DFT bin): the
/// music tone's level, whatever else plays on top of it.
fn tone_level(p: &AudioPcm, freq: f64, from: f64, to: f64) -> f64 {
    let (a, b) = ((from * RATE as f64) as usize, (to * RATE as f64) as usize);
    let (mut re, mut im) = (0.0, 0.0);
    for i in a..b {
        let ph = 2.0 * std::f64::consts::PI * freq * i as f64 / RATE as f64;
        let x = p.samples[i * 2] as f64;
        re += x * ph.cos();
        im += x * ph.sin();
    }
    2.0 * (re * re + im * im).sqrt() / (b - a) as f64
}

fn db(x: f64) -> f64 {
    20.0 * x.log10()
}

#[test]
fn loudness_and_true_peak_meet_the_preset_as_ffmpeg_measures_them() {
    let p = project();
    // A hot tone (−8.5 dBFS peaks, about −8.5 LUFS) with a voice-over and a whoosh: the mix
    // must come down about 5.5 LU and its peaks stay under −1 dBTP.
    tone_file(&p, "hot", 220, 3.0, 6);
    let audio = r#"source = "assets/hot.wav"
voiceover = { en = "vo/en.m4a" }
voiceover_start = 1.0
sfx = [{ source = "sfx/whoosh.wav", at = 4.5, volume = 1.0 }]"#;
    let (out, row) = render(&p, &template(6.0, r#""US""#, audio), &[]);
    let (i, tp) = ebur128(&out);
    let ours_mix = row["loudness_lufs"]
        .as_f64()
        .expect("loudness_lufs in the manifest");
    let ours_tp = row["true_peak_dbtp"]
        .as_f64()
        .expect("true_peak_dbtp in the manifest");
    let decoded = decode(&out);
    let ours_out = loudness::integrated_lufs(&decoded).unwrap();
    let ours_out_tp = loudness::true_peak_dbtp(&decoded).unwrap();
    eprintln!(
        "target -14.0 LUFS / -1.0 dBTP; ffmpeg ebur128 on the MP4: {i:.1} LUFS, {tp:.1} dBTP; ours on the decoded MP4: {ours_out:.2} LUFS, {ours_out_tp:.2} dBTP; manifest: {ours_mix:.2} LUFS, {ours_tp:.2} dBTP"
    );
    assert!(
        (i + 14.0).abs() <= 1.0,
        "ffmpeg reads {i} LUFS, target -14 ± 1"
    );
    assert!(
        tp <= -1.0,
        "ffmpeg reads a true peak of {tp} dBTP, over the -1 dBTP ceiling"
    );
    // Our meter agrees with FFmpeg's on the same decoded audio (ebur128 prints one decimal).
    assert!(
        (ours_out - i).abs() <= 0.15,
        "ours {ours_out:.2} vs ffmpeg {i:.1} LUFS"
    );
    assert!(
        (ours_out_tp - tp).abs() <= 0.3,
        "ours {ours_out_tp:.2} vs ffmpeg {tp:.1} dBTP"
    );
    // The manifest reports what the file holds: the renderer measures its mix after the same
    // AAC coding the MP4 gets.
    assert!(
        (ours_mix - ours_out).abs() <= 0.05,
        "manifest {ours_mix:.2} vs decoded {ours_out:.2} LUFS"
    );
    assert!(
        (ours_tp - ours_out_tp).abs() <= 0.1,
        "manifest {ours_tp:.2} vs decoded {ours_out_tp:.2} dBTP"
    );
}

#[test]
fn quiet_music_is_raised_to_the_target_without_clipping() {
    let p = project();
    // −40 dBFS music: +20 dB or more of gain, the voice peaks then need the limiter.
    tone_file(&p, "quiet", 330, 0.08, 5);
    let audio = r#"source = "assets/quiet.wav"
sfx = [{ source = "sfx/pop.wav", at = 2.0 }]"#;
    let (out, row) = render(&p, &template(5.0, r#""US""#, audio), &[]);
    let (i, tp) = ebur128(&out);
    let decoded = decode(&out);
    eprintln!(
        "quiet source + loud pop: ffmpeg ebur128 {i:.1} LUFS, {tp:.1} dBTP; ours on the decoded MP4 {:.2} LUFS, {:.2} dBTP; manifest {} LUFS, {} dBTP (target -14 / -1)",
        loudness::integrated_lufs(&decoded).unwrap(),
        loudness::true_peak_dbtp(&decoded).unwrap(),
        row["loudness_lufs"],
        row["true_peak_dbtp"]
    );
    assert!((i + 14.0).abs() <= 1.0, "{i} LUFS");
    assert!(tp <= -1.0, "{tp} dBTP");
}

/// Real music under a voice-over pushed hard into the limiter: AAC coding adds about a dB of
/// true peak to such a mix, and the file must still be under the ceiling.
#[test]
fn limited_voice_over_music_stays_under_the_ceiling_after_aac() {
    let p = project();
    let music = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/audio/music.m4a");
    std::fs::copy(music, p.path("assets/song.m4a")).unwrap();
    let audio = r#"source = "assets/song.m4a"
voiceover = { en = "vo/en.m4a" }
voiceover_volume = 3.0
voiceover_start = 0.5"#;
    let (out, row) = render(&p, &template(6.0, r#""US""#, audio), &[]);
    let (i, tp) = ebur128(&out);
    eprintln!(
        "music + loud voice: ffmpeg ebur128 {i:.1} LUFS, {tp:.1} dBTP; manifest {} LUFS, {} dBTP",
        row["loudness_lufs"], row["true_peak_dbtp"]
    );
    assert!((i + 14.0).abs() <= 1.0, "{i} LUFS");
    assert!(tp <= -1.0, "{tp} dBTP over the ceiling after AAC");
}

#[test]
fn music_ducks_while_the_voice_speaks() {
    let p = project();
    tone_file(&p, "tone", 300, 1.0, 8);
    let audio = r#"source = "assets/tone.wav"
voiceover = { en = "vo/en.m4a" }
voiceover_start = 2.0
duck = { amount_db = -12, attack = 0.05, release = 0.3 }"#;
    let (out, _) = render(&p, &template(8.0, r#""US""#, audio), &[]);
    let pcm = decode(&out);
    // The voice-over (4.0 s) speaks from 2.0 s to about 6 s.
    let before = tone_level(&pcm, 300.0, 0.5, 1.9);
    let during = tone_level(&pcm, 300.0, 2.5, 5.5);
    let after = tone_level(&pcm, 300.0, 7.0, 7.9);
    let (d, a) = (db(during / before), db(after / before));
    eprintln!("music tone under the voice: {d:.1} dB (duck -12 dB); after it: {a:.1} dB");
    assert!(
        (-14.0..=-7.0).contains(&d),
        "music under the voice moved {d:.1} dB, expected about -12"
    );
    assert!(
        a.abs() < 1.0,
        "music did not come back after the voice: {a:.1} dB"
    );
    // And the voice is really there: far more energy than the music alone in its window.
    assert!(rms(&pcm, 2.5, 5.5) > 1.2 * during / std::f64::consts::SQRT_2);

    // Without ducking the tone stays level: the dip above is the ducker's doing.
    let audio = audio.replace("amount_db = -12", "amount_db = 0");
    std::fs::remove_dir_all(p.path("out")).unwrap();
    let (out, _) = render(&p, &template(8.0, r#""US""#, &audio), &[]);
    let pcm = decode(&out);
    let flat = db(tone_level(&pcm, 300.0, 2.5, 5.5) / tone_level(&pcm, 300.0, 0.5, 1.9));
    assert!(flat.abs() < 1.0, "undicked music moved {flat:.1} dB");
}

/// First 5 ms window whose RMS reaches a tenth of the loudest window's, in seconds.
fn onset(p: &AudioPcm) -> f64 {
    let w = RATE / 200;
    let levels: Vec<f64> = p
        .samples
        .chunks(w * 2)
        .map(|c| (c.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect();
    let max = levels.iter().cloned().fold(0.0, f64::max);
    levels.iter().position(|l| *l >= 0.1 * max).unwrap() as f64 * w as f64 / RATE as f64
}

#[test]
fn a_scene_sound_effect_follows_its_scene_in_every_order() {
    // `scene = "b"`: the pop counts from where scene b starts, which the order moves.
    let p = project();
    let text = template(3.0, r#""US""#, r#"sfx = [{ source = "sfx/pop.wav", scene = "b", at = 0.3, volume = 0.8 }]"#)
        .replace("duration = 3\n", "")
        .replace(
            "[[background]]",
            "[variants]\norders = [[\"a\", \"b\"], [\"b\", \"a\"]]\n\n[[scene]]\nid = \"a\"\nduration = 2.0\n\n[[scene]]\nid = \"b\"\nduration = 1.0\n\n[[background]]",
        );
    p.write("t.toml", &text);
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let m = manifest(&p.path("out"));
    for (k, expected) in [(0, 2.3), (1, 0.3)] {
        let file = p
            .path("out")
            .join(m["outputs"][k]["file"].as_str().unwrap());
        let t = onset(&decode(&file));
        assert!(
            (t - expected).abs() <= 0.05,
            "order {}: pop expected at {expected} s, starts at {t:.3} s",
            m["outputs"][k]["modules"]["order"]
        );
    }
}

#[test]
fn a_sound_effect_plays_at_its_time() {
    let p = project();
    for at in [0.7, 2.35] {
        let audio = format!("sfx = [{{ source = \"sfx/pop.wav\", at = {at}, volume = 0.8 }}]");
        let _ = std::fs::remove_dir_all(p.path("out"));
        let (out, _) = render(&p, &template(3.0, r#""US""#, &audio), &[]);
        let t = onset(&decode(&out));
        eprintln!("pop at {at} s: onset measured at {t:.3} s");
        assert!(
            (t - at).abs() <= 0.05,
            "pop placed at {at} s starts at {t:.3} s"
        );
    }
}

#[test]
fn a_short_track_loops_without_a_silent_gap() {
    let p = project();
    tone_file(&p, "short", 440, 1.0, 1);
    let (out, _) = render(
        &p,
        &template(4.0, r#""US""#, r#"source = "assets/short.wav""#),
        &[],
    );
    let pcm = decode(&out);
    let steady = rms(&pcm, 0.2, 0.8);
    // Every 20 ms across the seams at 0.95 s, 1.9 s and 2.85 s keeps most of the level.
    let mut t = 0.1;
    while t < 3.85 {
        let r = rms(&pcm, t, t + 0.02);
        assert!(
            r > 0.5 * steady,
            "gap at {t:.2} s: {:.1} dB",
            db(r / steady)
        );
        t += 0.02;
    }

    // `loop = false` is the control: the music ends with the file.
    std::fs::remove_dir_all(p.path("out")).unwrap();
    let (out, _) = render(
        &p,
        &template(
            4.0,
            r#""US""#,
            "source = \"assets/short.wav\"\nloop = false",
        ),
        &[],
    );
    let pcm = decode(&out);
    assert!(
        rms(&pcm, 1.5, 3.5) < 0.01 * rms(&pcm, 0.2, 0.8),
        "music should stop after 1 s without loop"
    );
}

#[test]
fn a_region_without_its_voiceover_is_a_validation_error_naming_where() {
    let p = project();
    let audio = r#"voiceover = { en = "vo/en.m4a", ja = "vo/ja.m4a" }"#;
    let text = template(3.0, r#""US", "SA", "JP""#, audio);
    let line = text
        .lines()
        .position(|l| l.starts_with("voiceover"))
        .unwrap()
        + 1;
    p.write("t.toml", &text);
    let o = p.factory(&["validate", "t.toml"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("audio option `a` has no `ar` voice-over for region SA"),
        "{err}"
    );
    assert!(
        err.contains(&format!("t.toml:{line}:")),
        "no file:line {line} in:\n{err}"
    );
    assert!(
        !err.contains("region JP") && !err.contains("region US"),
        "{err}"
    );

    // With --allow-fallback the region hears the default (`en`) voice-over, and the manifest
    // says so.
    let o = p.factory(&[
        "render",
        "t.toml",
        "--out",
        "out",
        "--allow-fallback",
        "--progress",
        "plain",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = manifest(&p.path("out"));
    let sa = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "SA")
        .unwrap();
    let notes = sa["rules_applied"].to_string();
    assert!(notes.contains("voice-over fallback: `en`"), "{notes}");
    let jp = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == "JP")
        .unwrap();
    assert!(!jp["rules_applied"].to_string().contains("voice-over"));
}

#[test]
fn audio_keys_are_checked_where_they_are_written() {
    let p = project();
    let check = |audio: &str, regions: &str| {
        let text = template(3.0, regions, audio);
        p.write("t.toml", &text);
        let o = p.factory(&["validate", "t.toml"]);
        (o.status.code(), stderr(&o), text)
    };
    // A region override may supply the voice-over the option lacks.
    let (code, err, _) = check(
        "voiceover = { en = \"vo/en.m4a\" }\n\n[[region]]\ncode = \"JP\"\noverride.audio.a = { voiceover = { ja = \"vo/ja.m4a\" } }",
        r#""US", "JP""#,
    );
    assert_eq!(code, Some(0), "{err}");
    // Keys that would do nothing, and an effect after the end, point at their line.
    for (audio, message, key) in [
        (
            "duck = { amount_db = -6 }",
            "`duck` of audio `a` applies to a voice-over",
            "duck",
        ),
        (
            "loop = false",
            "`loop` of audio `a` applies to music",
            "loop",
        ),
        (
            "sfx = [{ source = \"sfx/pop.wav\", at = 3.5 }]",
            "sound effect at 3.5 s is after the video ends (3 s)",
            "sfx",
        ),
        (
            "sfx = [{ at = 1.0 }]",
            "a sound effect of audio `a` has no `source`",
            "sfx",
        ),
        (
            "voiceover = { en = \"vo/missing.m4a\" }",
            "vo/missing.m4a",
            "voiceover",
        ),
    ] {
        let (code, err, text) = check(audio, r#""US""#);
        let line = text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
        assert_eq!(code, Some(2), "{audio}: {err}");
        assert!(err.contains(message), "{audio}: {err}");
        assert!(
            err.contains(&format!("t.toml:{line}:")),
            "{audio}: no line {line} in {err}"
        );
    }
}
