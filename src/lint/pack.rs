//! Rule packs: `rules/*.toml` (built in) and `--rules-dir DIR` (the user's), one per market
//! or platform, each versioned and scoped. The format is documented in docs/LINT.md.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::matcher::Pattern;
use crate::template::{Diagnostics, Severity};

/// The packs shipped in the binary, from `rules/` at the repository root.
const BUILTIN: &[(&str, &str)] = &[
    ("cn-ad-law.toml", include_str!("../../rules/cn-ad-law.toml")),
    ("en-claims.toml", include_str!("../../rules/en-claims.toml")),
    (
        "cn-aigc-label.toml",
        include_str!("../../rules/cn-aigc-label.toml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    pack: RawHeader,
    #[serde(default)]
    scope: Scope,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
    #[serde(default)]
    ai_label: Option<AiLabel>,
}

/// The visible label a market requires on outputs that show generated content
/// (`[ai_label]` in a pack), drawn by the renderer in the output's safe area.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AiLabel {
    pub text: String,
    /// Height of the letters as a share of the output's shorter side.
    #[serde(default = "AiLabel::default_height")]
    pub height: f32,
    /// Font families, first that has the glyphs wins.
    #[serde(default = "AiLabel::default_fonts")]
    pub fonts: Vec<String>,
    /// The rule that asks for it, for the manifest and docs.
    #[serde(default)]
    pub source: String,
}

impl AiLabel {
    /// GB 45438-2025 asks for prompt text no shorter than 5 % of the shorter side.
    fn default_height() -> f32 {
        0.05
    }

    fn default_fonts() -> Vec<String> {
        vec!["Noto Sans CJK SC".into(), "DejaVu Sans".into()]
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: String,
    version: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    source: String,
}

/// Where a pack applies. Empty lists do not restrict; see `Scope::applies`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Region codes (`CN`): copy a region of these shows.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Locales by prefix (`zh` covers `zh-CN`, `zh-TW`): copy written in these.
    #[serde(default)]
    pub locales: Vec<String>,
    /// Preset ids or platform names (`tiktok`, `Xiaohongshu`): the template must output to one.
    #[serde(default)]
    pub platforms: Vec<String>,
}

impl Scope {
    /// Copy in `locale` shown by `regions` is checked when it matches the region *or* the
    /// locale lists (either is enough; both empty = every copy), and the template outputs to
    /// one of `platforms` (empty = any). `platforms` holds the template's preset ids and
    /// platform names.
    pub(crate) fn applies(&self, locale: &str, regions: &[String], platforms: &[String]) -> bool {
        let by_platform = self.platforms.is_empty()
            || self
                .platforms
                .iter()
                .any(|p| platforms.iter().any(|q| q.eq_ignore_ascii_case(p)));
        let by_place = (self.regions.is_empty() && self.locales.is_empty())
            || self
                .regions
                .iter()
                .any(|r| regions.iter().any(|q| q.eq_ignore_ascii_case(r)))
            || self.locales.iter().any(|l| locale_in(locale, l));
        by_platform && by_place
    }
}

/// `zh-CN` is in `zh` and in `zh-CN`, not in `zh-TW`; case-insensitive.
fn locale_in(locale: &str, prefix: &str) -> bool {
    let (l, p) = (locale.to_ascii_lowercase(), prefix.to_ascii_lowercase());
    l == p || l.strip_prefix(&p).is_some_and(|rest| rest.starts_with('-'))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    severity: RuleSeverity,
    message: String,
    #[serde(default)]
    hint: Option<String>,
    patterns: Vec<String>,
    #[serde(default)]
    exceptions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSeverity {
    Error,
    Warning,
}

impl From<RuleSeverity> for Severity {
    fn from(s: RuleSeverity) -> Severity {
        match s {
            RuleSeverity::Error => Severity::Error,
            RuleSeverity::Warning => Severity::Warning,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub severity: RuleSeverity,
    pub message: String,
    pub hint: Option<String>,
    pub patterns: Vec<Pattern>,
    pub exceptions: Vec<Pattern>,
}

#[derive(Debug, Clone)]
pub struct Pack {
    pub id: String,
    pub version: String,
    pub title: String,
    pub source: String,
    /// Where the pack was read from (`rules/NAME.toml` for a built-in one).
    pub file: PathBuf,
    pub scope: Scope,
    pub rules: Vec<Rule>,
    pub ai_label: Option<AiLabel>,
}

/// The packs a lint runs with, built-in ones first, then the user's in file-name order.
#[derive(Debug, Clone, Default)]
pub struct RulePacks {
    pub packs: Vec<Pack>,
}

impl RulePacks {
    /// The visible AI label for an output in `region` made for a preset named by `platforms`
    /// (its id and platform name): the first pack whose scope lists the region and whose
    /// platforms (if any) include the preset.
    pub(crate) fn ai_label_for(
        &self,
        region: &str,
        platforms: &[String],
    ) -> Option<(&Pack, &AiLabel)> {
        self.packs.iter().find_map(|p| {
            let l = p.ai_label.as_ref()?;
            let s = &p.scope;
            let here = s.regions.iter().any(|r| r.eq_ignore_ascii_case(region))
                && (s.platforms.is_empty()
                    || s.platforms
                        .iter()
                        .any(|q| platforms.iter().any(|x| x.eq_ignore_ascii_case(q))));
            here.then_some((p, l))
        })
    }

    pub fn builtin() -> RulePacks {
        let packs = BUILTIN
            .iter()
            .map(|(name, text)| {
                parse_pack(text, &Path::new("rules").join(name))
                    .unwrap_or_else(|d| panic!("built-in rule pack {name} is invalid:\n{d}"))
            })
            .collect();
        RulePacks { packs }
    }

    /// The built-in packs plus every `*.toml` in `dir`. A user pack with the id of a built-in
    /// one replaces it (a team can pin or extend a market's list). `Err` holds the diagnostics
    /// of every invalid pack, or an unreadable directory.
    pub fn with_dir(dir: &Path) -> Result<RulePacks, Vec<Diagnostics>> {
        let mut set = RulePacks::builtin();
        let entries = std::fs::read_dir(dir)
            .map_err(|e| vec![read_error(dir, format!("cannot read rules directory: {e}"))])?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        let mut bad = Vec::new();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    bad.push(read_error(&file, format!("cannot read rule pack: {e}")));
                    continue;
                }
            };
            match parse_pack(&text, &file) {
                Ok(pack) => match set.packs.iter_mut().find(|p| p.id == pack.id) {
                    Some(same) => *same = pack,
                    None => set.packs.push(pack),
                },
                Err(d) => bad.push(d),
            }
        }
        if bad.is_empty() {
            Ok(set)
        } else {
            Err(bad)
        }
    }
}

fn read_error(path: &Path, message: String) -> Diagnostics {
    let mut dx = Diagnostics::new(path, "");
    dx.error(0..0, message, Some("check the --rules-dir path".into()));
    dx
}

/// Parses one pack; every problem is a diagnostic at its line and column in the pack file.
pub(crate) fn parse_pack(text: &str, file: &Path) -> Result<Pack, Diagnostics> {
    let mut dx = Diagnostics::new(file, text);
    let raw: RawPack = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            dx.error(
                e.span().unwrap_or(0..0),
                format!("invalid rule pack: {}", e.message()),
                Some("see docs/LINT.md for the pack format".into()),
            );
            return Err(dx);
        }
    };
    if raw.pack.id.trim().is_empty() || raw.pack.version.trim().is_empty() {
        dx.error(
            0..0,
            "a rule pack needs a non-empty [pack] id and version",
            None,
        );
    }
    let mut rules = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in raw.rules {
        if !seen.insert(r.id.clone()) {
            dx.error(
                span_of(text, &r.id),
                format!("rule id `{}` appears twice in the pack", r.id),
                None,
            );
        }
        if r.patterns.is_empty() {
            dx.error(
                span_of(text, &r.id),
                format!("rule `{}` has no patterns", r.id),
                None,
            );
        }
        let mut compile = |list: &[String]| -> Vec<Pattern> {
            list.iter()
                .filter_map(|p| match Pattern::parse(p) {
                    Ok(p) => Some(p),
                    Err(m) => {
                        dx.error(span_of(text, p), m, None);
                        None
                    }
                })
                .collect()
        };
        let patterns = compile(&r.patterns);
        let exceptions = compile(&r.exceptions);
        rules.push(Rule {
            id: r.id,
            severity: r.severity,
            message: r.message,
            hint: r.hint,
            patterns,
            exceptions,
        });
    }
    if let Some(l) = &raw.ai_label {
        if l.text.trim().is_empty() {
            dx.error(label_span(text, "text"), "[ai_label] text is empty", None);
        }
        if !(0.02..=0.25).contains(&l.height) {
            dx.error(
                label_span(text, "height"),
                format!(
                    "[ai_label] height {} is outside 0.02..=0.25 (a share of the shorter side)",
                    l.height
                ),
                None,
            );
        }
        if raw.scope.regions.is_empty() {
            dx.error(
                label_span(text, ""),
                "a pack with [ai_label] needs [scope] regions: the label is drawn on outputs for those regions",
                None,
            );
        }
    }
    if dx.has_errors() {
        return Err(dx);
    }
    Ok(Pack {
        id: raw.pack.id,
        version: raw.pack.version,
        title: raw.pack.title,
        source: raw.pack.source,
        file: file.to_path_buf(),
        scope: raw.scope,
        rules,
        ai_label: raw.ai_label,
    })
}

/// Where `key` is written in the pack's `[ai_label]` table (the table's header for `""`, or
/// when the key is not written there), for a diagnostic.
fn label_span(text: &str, key: &str) -> std::ops::Range<usize> {
    let Some(head) = text.find("[ai_label]") else {
        return 0..0;
    };
    let header = head..head + "[ai_label]".len();
    if key.is_empty() {
        return header;
    }
    text[head..]
        .lines()
        .scan(head, |at, line| {
            let start = *at;
            *at += line.len() + 1;
            Some((start, line))
        })
        .skip(1)
        .take_while(|(_, line)| !line.trim_start().starts_with('['))
        .find(|(_, line)| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(header, |(start, line)| {
            let at = start + line.len() - line.trim_start().len();
            at..at + key.len()
        })
}

/// Where a value is written in the pack (its first quoted occurrence), for a diagnostic.
fn span_of(text: &str, value: &str) -> std::ops::Range<usize> {
    let quoted = format!("\"{value}\"");
    text.find(&quoted)
        .map_or(0..0, |i| i + 1..i + 1 + value.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_packs_parse() {
        let set = RulePacks::builtin();
        let ids: Vec<&str> = set.packs.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["cn-ad-law", "en-claims", "cn-aigc-label"]);
        let cn = ["tiktok".to_string(), "TikTok".to_string()];
        let (pack, label) = set.ai_label_for("cn", &cn).expect("CN asks for a label");
        assert_eq!(
            (pack.id.as_str(), label.text.as_str()),
            ("cn-aigc-label", "AI生成")
        );
        assert!(set.ai_label_for("US", &cn).is_none());
    }

    #[test]
    fn a_bad_ai_label_is_an_error_at_its_line() {
        let text =
            "[pack]\nid = \"x\"\nversion = \"1\"\n\n[ai_label]\ntext = \" \"\nheight = 0.5\n";
        let dx = parse_pack(text, Path::new("x.toml")).expect_err("refused");
        let got: Vec<(usize, &str)> = dx.iter().map(|d| (d.line, d.message.as_str())).collect();
        assert_eq!(
            got,
            [
                (6, "[ai_label] text is empty"),
                (7, "[ai_label] height 0.5 is outside 0.02..=0.25 (a share of the shorter side)"),
                (5, "a pack with [ai_label] needs [scope] regions: the label is drawn on outputs for those regions"),
            ]
        );
    }

    #[test]
    fn scope_by_region_or_locale() {
        let s = Scope {
            regions: vec!["CN".into()],
            locales: vec!["zh".into()],
            platforms: vec![],
        };
        assert!(s.applies("zh-TW", &[], &[]));
        assert!(s.applies("en", &["CN".into()], &[]));
        assert!(!s.applies("en", &["US".into()], &[]));
        assert!(!s.applies("zhx", &[], &[]));
        let p = Scope {
            platforms: vec!["tiktok".into()],
            ..Scope::default()
        };
        assert!(p.applies("en", &[], &["TikTok".into()]));
        assert!(!p.applies("en", &[], &["tmall-main".into()]));
    }
}
