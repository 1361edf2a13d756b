//! Helpers shared by the integration tests in `tests/it`: the built binary and the ffmpeg
//! CLI here, and one submodule per kind of test.

pub mod dedup;
pub mod encode;
pub mod lint;
pub mod pg;
pub mod presets;
pub mod project;
pub mod synth;

use std::process::Command;

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
