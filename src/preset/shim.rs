// TEMPORARY until the template branch lands.
use super::Preset;
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct PresetError;
pub struct PresetSet(Vec<Preset>);
impl PresetSet {
  pub fn builtin() -> Result<PresetSet, PresetError> { Ok(PresetSet(vec![])) }
  pub fn load_dir(&mut self, _d: &std::path::Path) -> Result<(), PresetError> { Ok(()) }
  pub fn get(&self, id: &str) -> Option<&Preset> { self.0.iter().find(|p| p.id == id) }
  pub fn iter(&self) -> impl Iterator<Item = &Preset> { self.0.iter() }
}
