//! Duplicate gate: fingerprints, similarity, platform rules, the persistent library.
//!
//! OWNER: dedup helper.
