//! Helpers for the dedup tests: synthetic scenes written to temp dirs, ffmpeg CLI
//! transforms, the built `factory` binary.

use std::path::{Path, PathBuf};

use super::synth;
pub use super::{factory, ffmpeg};

pub fn write_scene(dir: &Path, name: &str, seed: u64, w: u32, h: u32) -> PathBuf {
    let p = dir.join(name);
    let rgb = image::DynamicImage::ImageRgba8(synth::scene(seed, w, h)).to_rgb8();
    rgb.save(&p).unwrap();
    p
}

/// A slideshow video: one synthetic scene per segment, `secs` seconds each, with slight
/// motion (a slow zoom) so frames inside a segment are not byte-identical.
pub fn write_video(dir: &Path, name: &str, seeds: &[u64], secs: u32, w: u32, h: u32) -> PathBuf {
    let mut parts = Vec::new();
    for (k, s) in seeds.iter().enumerate() {
        let img = write_scene(dir, &format!("{name}.seg{k}.png"), *s, w * 5 / 4, h * 5 / 4);
        let seg = dir.join(format!("{name}.seg{k}.mp4"));
        let vf = format!(
            "zoompan=z='1+0.002*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d={}:s={}x{}:fps=10,format=yuv420p",
            secs * 10,
            w,
            h
        );
        ffmpeg(&[
            "-loop",
            "1",
            "-i",
            img.to_str().unwrap(),
            "-vf",
            &vf,
            "-t",
            &secs.to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "23",
            seg.to_str().unwrap(),
        ]);
        parts.push(seg);
    }
    let list = dir.join(format!("{name}.txt"));
    std::fs::write(
        &list,
        parts
            .iter()
            .map(|p| format!("file '{}'\n", p.display()))
            .collect::<String>(),
    )
    .unwrap();
    let out = dir.join(name);
    ffmpeg(&[
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        list.to_str().unwrap(),
        "-c",
        "copy",
        out.to_str().unwrap(),
    ]);
    out
}

/// `factory dedup --json --library LIB FILE`: the one verdict line, as an operator reads it.
pub fn dedup_verdict(lib: &Path, file: &Path) -> serde_json::Value {
    let out = super::factory()
        .args(["dedup", "--json", "--library"])
        .arg(lib)
        .arg(file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    serde_json::from_slice(&out.stdout).expect("one JSON verdict")
}
