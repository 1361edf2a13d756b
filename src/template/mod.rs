//! Template stage: TOML text → `RawTemplate` (with spans) → validated `Template`.
//!
//! OWNER: template helper.

mod model;
pub use model::*;
mod shim; pub use shim::*;
