//! The integration tests, one binary (ripgrep's layout): a module per area, helpers in
//! `tests/support/`, fixture files in `tests/fixtures/`.
//!
//!     cargo test --test it                      # all of them
//!     cargo test --test it dedup_               # one area (a name filter, as usual)
//!
//! Every test runs in this one process, on the harness's threads: a test must not change
//! process-wide state (current directory, environment variables); one that needs its own
//! runs the `factory` binary as a child process with it (`support::project::Project`).

#[path = "../support/mod.rs"]
mod support;

mod aigc;
mod audio;
mod captions;
mod cli;
mod clip_stream;
mod copy_safety;
mod dedup_cli;
mod dedup_geometry;
mod dedup_library;
mod dedup_pdq;
mod dedup_postgres;
mod dedup_rules;
mod dedup_scene;
mod dedup_video;
mod dedup_video_motion;
mod encode_roundtrip;
mod inputs;
mod library_preflight;
mod licences;
mod lint;
mod lint_layout;
mod lint_limits;
mod look;
mod motion;
mod plan_scale;
mod rerun;
mod results;
mod review;
mod same_output;
mod shards;
mod stitch;
mod strategies;
mod template_diagnostics;
mod template_regions;
mod text_shaping;
mod watchdog;
