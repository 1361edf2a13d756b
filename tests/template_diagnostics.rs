//! Template loading as a user meets it: the diagnostics they read, and the model a good
//! template becomes.

use std::path::{Path, PathBuf};

use creative_factory::preset::PresetSet;
use creative_factory::template::{self, *};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

fn presets() -> PresetSet {
    PresetSet::builtin().expect("built-in presets load")
}

#[test]
fn ok_fixture_loads() {
    let path = fixtures().join("ok.toml");
    let (t, dx) = template::check(&path, &presets(), &LoadOptions::default());
    let t = t.unwrap_or_else(|| panic!("{dx}"));
    assert_eq!(t.name, "sneaker-launch");
    println!("{dx}");
}
