//! Helpers shared by the integration tests in `tests/it`: the built binary and the ffmpeg
//! CLI here, and one submodule per kind of test.

pub mod browser;
pub mod dedup;
pub mod encode;
pub mod lint;
pub mod pg;
pub mod presets;
pub mod project;
pub mod synth;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `text` to `root/rel`, creating the directories on the way; returns the path.
pub fn write_file(root: &Path, rel: &str, text: &str) -> PathBuf {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// The built `factory` binary, ready for arguments.
pub fn factory() -> Command {
    Command::new(env!("CARGO_BIN_EXE_factory"))
}

/// Runs the ffmpeg CLI quietly (`-y`, errors only); panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg CLI on PATH (installed by scripts/setup-deps.sh)");
    assert!(
        out.status.success(),
        "ffmpeg {:?}: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}
