// TEMPORARY until the template branch lands.
use std::path::Path;
use crate::preset::PresetSet;
use super::Template;
#[derive(Debug, Default, Clone)]
pub struct LoadOptions { pub allow_outside_root: bool }
#[derive(Debug)]
pub struct Diagnostics;
impl std::fmt::Display for Diagnostics { fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result { write!(f, "x") } }
impl Diagnostics { pub fn to_json(&self) -> String { String::new() } }
pub fn load_with(_p: &Path, _s: &PresetSet, _o: &LoadOptions) -> Result<Template, Diagnostics> { Err(Diagnostics) }
