//! Helpers for the tests that render with the real binary (cli, audio, captions, look,
//! motion): a temporary project with real media, a way to run the `factory` binary in it, and
//! readers for what a user would check (ffprobe, the manifest, decoded frames).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgba, RgbaImage};

use super::presets::{TINY_IMAGE, TINY_POST, TINY_VIDEO};

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A project directory with tiny presets and real media: a gradient photo, an RGBA
    /// product cut-out (a disc with soft edges), a one-second test clip and a sine "music"
    /// file made by FFmpeg.
    pub fn new() -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = Project { dir };
        std::fs::create_dir_all(p.path("assets")).unwrap();
        std::fs::create_dir_all(p.path("presets")).unwrap();
        let mut bg = RgbaImage::new(160, 120);
        for (x, y, px) in bg.enumerate_pixels_mut() {
            *px = Rgba([(x * 255 / 160) as u8, (y * 255 / 120) as u8, 140, 255]);
        }
        bg.save(p.path("assets/photo.png")).unwrap();
        let mut product = RgbaImage::new(60, 60);
        for (x, y, px) in product.enumerate_pixels_mut() {
            let d = ((x as f32 - 29.5).powi(2) + (y as f32 - 29.5).powi(2)).sqrt();
            let a = (24.0 - d).clamp(0.0, 1.0);
            *px = Rgba([230, 40, 40, (a * 255.0) as u8]);
        }
        product.save(p.path("assets/product.png")).unwrap();
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=96x64:rate=10",
                "-t",
                "1",
                "-pix_fmt",
                "yuv420p",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
            ],
            &p.path("assets/clip.mp4"),
        );
        ffmpeg(
            &[
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:sample_rate=44100",
                "-t",
                "3",
                "-c:a",
                "aac",
                "-b:a",
                "64k",
            ],
            &p.path("assets/music.m4a"),
        );
        p.write("presets/tiny-video.toml", &TINY_VIDEO.toml());
        p.write("presets/tiny-image.toml", TINY_IMAGE);
        p.write("presets/tiny-post.toml", TINY_POST);
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        super::write_file(self.dir.path(), rel, text)
    }

    /// Runs `factory ARGS…` inside the project with the tiny presets available.
    pub fn factory(&self, args: &[&str]) -> Output {
        let mut cmd = super::factory();
        cmd.current_dir(self.dir.path()).args(args);
        let sub = args.first().copied().unwrap_or("");
        if ["validate", "plan", "render", "presets"].contains(&sub) {
            cmd.arg("--presets-dir").arg(self.path("presets"));
        }
        cmd.output().expect("run factory")
    }
}

/// `ffmpeg -y ARGS… OUT`, quietly; panics with ffmpeg's stderr on failure.
pub fn ffmpeg(args: &[&str], out: &Path) {
    let out = out.to_str().expect("UTF-8 path");
    super::ffmpeg(&[args, &[out]].concat());
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `ffprobe -show_format -show_streams -count_frames` as JSON: what an operator would run.
pub fn ffprobe(path: &Path) -> serde_json::Value {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(
        o.status.success(),
        "ffprobe {}: {}",
        path.display(),
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

pub fn manifest(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).unwrap()
}

/// Every frame of `mp4`, decoded by the ffmpeg CLI into PNGs under `dir`, in order.
pub fn decode_frames(mp4: &Path, dir: &Path) -> Vec<image::RgbImage> {
    std::fs::create_dir_all(dir).unwrap();
    let st = std::process::Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-i"])
        .arg(mp4)
        .arg(dir.join("f%03d.png"))
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| image::open(f).unwrap().to_rgb8())
        .collect()
}

/// A manifest row of a video over a background clip (the outputs whose bytes once varied
/// between runs; README, *Determinism*).
pub fn over_clip(row: &serde_json::Value) -> bool {
    row["kind"] == "video"
        && row["inputs"].as_array().is_some_and(|i| {
            i.iter()
                .any(|f| f["path"].as_str().is_some_and(|p| p.ends_with(".mp4")))
        })
}
