//! Template stage: TOML text → `RawTemplate` (with spans) → validated `Template`.
//!
//! All problems are collected and returned together as `Diagnostics`, each with file, line,
//! column and a hint, so an operator fixes a template in one pass. The schema is documented in
//! docs/TEMPLATE.md.

mod model;
mod owned;
pub(crate) mod raw;
mod validate;

pub use crate::diag::{line_col, Diagnostic, Diagnostics, Severity};
pub use model::*;
pub use validate::{
    direction_of, LoadOptions, DEFAULT_FONTS, DEFAULT_IMAGE_NAME, DEFAULT_NAME, PLACEHOLDERS,
    REGIONS,
};

use std::path::{Path, PathBuf};

use crate::preset::PresetSet;

/// Loads and validates a template file. `Err` carries every error (and any warnings).
pub fn load(path: &Path, presets: &PresetSet) -> Result<Template, Diagnostics> {
    load_with(path, presets, &LoadOptions::default())
}

pub fn load_with(
    path: &Path,
    presets: &PresetSet,
    opts: &LoadOptions,
) -> Result<Template, Diagnostics> {
    into_result(check(path, presets, opts))
}

/// Validates template text as if it were the file `path` (whose directory is the asset root).
pub fn parse_str(text: &str, path: &Path, presets: &PresetSet) -> Result<Template, Diagnostics> {
    parse_str_with(text, path, presets, &LoadOptions::default())
}

pub fn parse_str_with(
    text: &str,
    path: &Path,
    presets: &PresetSet,
    opts: &LoadOptions,
) -> Result<Template, Diagnostics> {
    into_result(check_str(text, path, presets, opts))
}

/// Like `load_with`, but also hands back the warnings of a template that loaded, for a CLI
/// that wants to show them. The template is `Some` exactly when there are no errors.
pub fn check(
    path: &Path,
    presets: &PresetSet,
    opts: &LoadOptions,
) -> (Option<Template>, Diagnostics) {
    match std::fs::read_to_string(path) {
        Ok(text) => check_str(&text, path, presets, opts),
        Err(e) => {
            let mut dx = Diagnostics::new(path, "");
            dx.error(
                0..0,
                format!("cannot read template: {e}"),
                Some("check the path passed on the command line".into()),
            );
            (None, dx)
        }
    }
}

pub fn check_str(
    text: &str,
    path: &Path,
    presets: &PresetSet,
    opts: &LoadOptions,
) -> (Option<Template>, Diagnostics) {
    let mut dx = Diagnostics::new(path, text);
    let abs = absolute(path);
    let root = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let template = raw::parse(text, &mut dx)
        .and_then(|raw| validate::validate(raw, &mut dx, presets, opts, abs, root));
    dx.sort();
    (template.filter(|_| !dx.has_errors()), dx)
}

fn into_result((template, dx): (Option<Template>, Diagnostics)) -> Result<Template, Diagnostics> {
    template.ok_or(dx)
}

/// Absolute without requiring existence (`parse_str` may name a file that is not on disk);
/// symlinks in the directory are resolved when it exists, so the root check compares like
/// with like.
fn absolute(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (
        abs.parent().and_then(|p| p.canonicalize().ok()),
        abs.file_name(),
    ) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => abs,
    }
}
