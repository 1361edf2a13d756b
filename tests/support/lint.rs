//! Helpers for the lint tests: a template written into a temporary directory, `factory lint`
//! run on it, and its JSON findings read back.

use std::path::{Path, PathBuf};
use std::process::Output;

/// A temporary project holding one template (and whatever else a test writes beside it).
pub struct LintProject {
    pub dir: tempfile::TempDir,
}

impl LintProject {
    pub fn new(template: &str) -> LintProject {
        let p = LintProject {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        p.write("t.toml", template);
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        super::write_file(self.dir.path(), rel, text)
    }

    /// `factory ARGS…` in the project directory (the built-in presets).
    pub fn factory(&self, args: &[&str]) -> Output {
        super::factory()
            .current_dir(self.dir.path())
            .args(args)
            .output()
            .expect("run factory")
    }

    /// `factory lint t.toml --json EXTRA…`: the exit code and the claim findings (layout
    /// findings, `field = "layout"`, left out: see `lint_json_all`).
    pub fn lint_json(&self, extra: &[&str]) -> (i32, Vec<serde_json::Value>) {
        let (code, all) = self.lint_json_all(extra);
        let claims = all.into_iter().filter(|f| f["field"] != "layout").collect();
        (code, claims)
    }

    /// `factory lint t.toml --json EXTRA…`: the exit code and every finding.
    pub fn lint_json_all(&self, extra: &[&str]) -> (i32, Vec<serde_json::Value>) {
        let o = self.factory(&[&["lint", "t.toml", "--json"], extra].concat());
        let text = String::from_utf8_lossy(&o.stdout);
        let findings: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "lint --json printed no JSON ({e}):\n{text}\n{}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
        let list = findings.as_array().expect("a JSON array").clone();
        (o.status.code().expect("exit code"), list)
    }
}

/// A finding as the tests compare it: `rule line:column phrase`.
pub fn brief(f: &serde_json::Value) -> String {
    format!(
        "{} {}:{} {}",
        f["rule"].as_str().unwrap_or("?"),
        f["line"],
        f["column"],
        f["phrase"].as_str().unwrap_or("?")
    )
}

/// 1-based column (in characters) of `needle` in line `line` of `text`: how a test states
/// where a phrase is without counting by hand.
pub fn column_of(text: &str, line: usize, needle: &str) -> usize {
    let l = text.lines().nth(line - 1).expect("line exists");
    let byte = l
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not on line {line}: {l}"));
    l[..byte].chars().count() + 1
}

/// Whether `dir` is missing or holds nothing.
pub fn empty_or_missing(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}
