//! Creative Factory: one TOML template → many named, stamped, duplicate-checked ad creatives.
//!
//! Stages, each a function from one typed value to the next (see docs/ARCHITECTURE.md):
//! `template` → `plan` → `render` (+ `text`, `media`) → `encode` → `dedup` → `export`.
//! `exec` owns the threads and channels of a run; a stage uses rayon only for data-parallel
//! work measured to pay (docs/ARCHITECTURE.md, *Threads*).

pub(crate) mod cache;
pub mod clock;
pub mod color;
pub mod dedup;
pub mod diag;
pub mod display;
pub mod encode;
pub mod exec;
pub mod export;
pub mod formats;
pub mod lint;
pub mod media;
pub mod plan;
pub mod preset;
pub mod render;
pub mod report;
pub mod results;
pub mod review;
pub mod template;
pub mod text;

/// Bumped whenever the pixels a template produces change; part of every variant id.
pub(crate) const RENDER_VERSION: u32 = 1;
