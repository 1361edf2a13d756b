//! Platform presets: built-in `presets/*.toml` plus a user's directory.
//!
//! OWNER: template helper.

mod model;
pub use model::*;
mod shim; pub use shim::*;
