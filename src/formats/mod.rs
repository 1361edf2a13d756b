//! File formats a template points at, read while it is validated: caption files (SRT,
//! WebVTT: `cues`) and colour lookup tables (`.cube`: `lut`). Below `template`, which
//! validates through them, and `lint`, which reads caption files' lines.

pub mod cues;
pub mod lut;
