//! `RawTemplate` → `Template`: every semantic check, every error collected.
//!
//! Each check reports into `Diagnostics` and substitutes a default so later checks still run;
//! the template is returned only when no error was reported. One `V` walks the template;
//! its methods live in one file per concept (`header` decides the order they run in).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::model::*;
use super::raw::*;
use super::raw::{introduced, OverrideScope};
use crate::diag::{did_you_mean, or_typo, Diagnostics, Severity};
use crate::formats::cues::{self as capfile, Format};
use crate::preset::{PresetKind, PresetSet};

mod audio;
mod effects;
mod header;
mod licence;
mod locale;
mod motion;
mod output;
mod overlays;
mod paths;
mod pools;
mod regions;
mod scenes;
mod text;
mod variants;
mod visuals;

pub use locale::direction_of;
use locale::{FALLBACK_EXAMPLES, LOCALE_EXAMPLES};
use regions::take_overrides;
use scenes::scenes_total;

/// Options the CLI can relax.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Let asset paths resolve outside the template's directory (`--allow-outside-root`).
    pub allow_outside_root: bool,
    /// A region with no copy anywhere in its locale chain shows the option's default copy
    /// (`default_copy_locale`) with a warning, instead of failing (`--allow-fallback`).
    pub allow_fallback: bool,
}

/// Placeholders a name, tracking or landing-URL pattern may use.
pub const PLACEHOLDERS: &[&str] = &[
    "region", "locale", "platform", "preset", "duration", "kind", "label", "n", "variant",
    "template", "version",
];

pub const DEFAULT_NAME: &str = "{region}_{platform}_{duration}s_{kind}_v{n}";
pub const DEFAULT_IMAGE_NAME: &str = "{region}_{platform}_{label}_v{n}";

/// Fonts tried in order when a subtitle names none: Latin, CJK, Arabic, Thai, Hebrew, Devanagari.
pub const DEFAULT_FONTS: &[&str] = &[
    "Noto Sans",
    "Noto Sans CJK SC",
    "Noto Sans Arabic",
    "Noto Sans Thai",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
];

/// Built-in region → (locale, fallback locales).
pub const REGIONS: &[(&str, &str, &[&str])] = &[
    ("US", "en", &[]),
    ("GB", "en", &[]),
    ("CA", "en", &[]),
    ("AU", "en", &[]),
    ("SA", "ar", &[]),
    ("AE", "ar", &[]),
    ("EG", "ar", &[]),
    ("JP", "ja", &[]),
    ("CN", "zh-CN", &[]),
    ("TW", "zh-TW", &[]),
    // Hong Kong reads traditional characters, so Taiwan's copy is the natural stand-in.
    ("HK", "zh-HK", &["zh-TW"]),
    ("TH", "th", &[]),
    ("IN", "hi", &[]),
    ("IL", "he", &[]),
    ("KR", "ko", &[]),
    ("DE", "de", &[]),
    ("FR", "fr", &[]),
    ("ES", "es", &[]),
    ("MX", "es-MX", &["es"]),
    ("BR", "pt-BR", &["pt"]),
    ("ID", "id", &[]),
    ("VN", "vi", &[]),
    ("RU", "ru", &[]),
    ("TR", "tr", &[]),
];

/// How diagnostics name a per-locale table (copy, voice-over).
struct Localised<'a> {
    /// e.g. "subtitle option".
    option: &'a str,
    /// e.g. "copy".
    thing: &'a str,
    /// A value to suggest after `locale = `.
    example: &'a str,
}

struct V<'a> {
    dx: &'a mut Diagnostics,
    presets: &'a PresetSet,
    opts: &'a LoadOptions,
    /// The template's directory: relative paths are resolved against it.
    root: PathBuf,
    /// The directory paths may not escape (`[template] root`, default the template's
    /// directory), canonicalised once.
    canon_root: PathBuf,
    /// `.cube` files already parsed, by canonical path.
    luts: HashMap<PathBuf, Arc<Lut>>,
    /// The `[[scene]]` ids as written, for references checked before the scenes themselves
    /// (a sound effect's `scene`).
    scene_ids: Vec<String>,
    /// Where each input file is first named, for `Template::asset_span`.
    asset_refs: Vec<(PathBuf, Range<usize>)>,
    /// Licences written on options, by the canonical path of the file they cover.
    licences: Vec<(PathBuf, Licence)>,
}

pub(crate) fn validate(
    raw: RawTemplate,
    dx: &mut Diagnostics,
    presets: &PresetSet,
    opts: &LoadOptions,
    path: PathBuf,
    root: PathBuf,
) -> Option<Template> {
    // A project keeps templates/ and samples/ side by side, so a template may widen its
    // boundary to an ancestor directory with `root = ".."`; it can never be narrower than the
    // template's own directory.
    let mut boundary = root.clone();
    if let Some(r) = raw.template.as_ref().and_then(|h| h.root.as_ref()) {
        let dir = root.join(&r.value);
        match dir.canonicalize() {
            Ok(c)
                if c.is_dir()
                    && root
                        .canonicalize()
                        .map(|t| t.starts_with(&c))
                        .unwrap_or(false) =>
            {
                boundary = c
            }
            Ok(_) => dx.error(
                r.span.clone(),
                format!(
                    "root `{}` must be a directory that contains the template",
                    r.value
                ),
                Some(
                    "use `..` (the parent of the template's directory) or another ancestor"
                        .to_string(),
                ),
            ),
            Err(e) => dx.error(
                r.span.clone(),
                format!("root `{}`: {e}", r.value),
                Some(format!("it resolves to {}", dir.display())),
            ),
        }
    }
    let canon_root = boundary.canonicalize().unwrap_or_else(|_| boundary.clone());
    let mut v = V {
        dx,
        presets,
        opts,
        root,
        canon_root,
        luts: HashMap::new(),
        asset_refs: Vec::new(),
        licences: Vec::new(),
        scene_ids: raw
            .scene
            .iter()
            .flat_map(|p| &p.value)
            .filter_map(|s| s.id.as_ref().map(|i| i.value.clone()))
            .collect(),
    };
    let t = v.template(raw, path);
    if v.dx.has_errors() {
        None
    } else {
        t
    }
}

impl V<'_> {
    pub(super) fn err(
        &mut self,
        span: &Range<usize>,
        msg: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) {
        self.dx.error(span.clone(), msg, hint.into());
    }

    /// A required key is absent — unless it was present with the wrong type, which the raw
    /// layer has already reported.
    pub(super) fn missing(
        &mut self,
        key: &str,
        table: &Range<usize>,
        msg: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) {
        if !self.dx.was_bad(table.start, key) {
            self.err(table, msg, hint);
        }
    }

    pub(super) fn enum_val<T: Clone>(
        &mut self,
        v: &S<String>,
        what: &str,
        allowed: &[(&str, T)],
    ) -> Option<T> {
        if let Some((_, t)) = allowed.iter().find(|(n, _)| *n == v.value) {
            return Some(t.clone());
        }
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        let hint = suggest(&v.value, &names, "expected one of");
        self.err(&v.span, format!("unknown {what} `{}`", v.value), Some(hint));
        None
    }

    /// `enum_val` of a key that may be absent; `default` when it is, or is unknown.
    pub(super) fn pick<T: Clone>(
        &mut self,
        v: Option<&S<String>>,
        what: &str,
        allowed: &[(&str, T)],
        default: T,
    ) -> T {
        v.and_then(|v| self.enum_val(v, what, allowed))
            .unwrap_or(default)
    }

    /// Reports each key written (its span given) that applies only with something absent.
    pub(super) fn only_with(
        &mut self,
        keys: &[(&str, Option<&Range<usize>>)],
        msg: impl Fn(&str) -> String,
        hint: &str,
    ) {
        for (key, span) in keys {
            if let Some(span) = span {
                self.err(span, msg(key), Some(hint.to_string()));
            }
        }
    }

    /// A written integer `ok` accepts; otherwise `msg` of it (with `hint`) is reported.
    /// `None` when absent or refused.
    pub(super) fn whole(
        &mut self,
        v: Option<&S<i64>>,
        ok: impl Fn(i64) -> bool,
        msg: impl FnOnce(i64) -> String,
        hint: Option<&str>,
    ) -> Option<i64> {
        let v = v?;
        if !ok(v.value) {
            self.err(&v.span, msg(v.value), hint.map(str::to_string));
            return None;
        }
        Some(v.value)
    }

    pub(super) fn color(&mut self, v: Option<&S<String>>, default: Rgba) -> Rgba {
        let Some(v) = v else { return default };
        match Rgba::parse(&v.value) {
            Some(c) => c,
            None => {
                self.err(
                    &v.span,
                    format!("bad colour `{}`", v.value),
                    Some("expected #rgb, #rrggbb or #rrggbbaa, e.g. \"#ffffff\"".to_string()),
                );
                default
            }
        }
    }

    /// A number within its declared range; otherwise an error quoting the range, and the
    /// default. `None` (a table that is absent altogether) means the default.
    pub(super) fn num<'r>(
        &mut self,
        r: impl Into<Option<Ranged<'r, f64>>>,
        what: &str,
        default: f64,
    ) -> f64 {
        match r.into() {
            Some(r) => self.in_range(r, what, default, |v| v),
            None => default,
        }
    }

    /// `num` for an integer key.
    pub(super) fn int(&mut self, r: Ranged<'_, i64>, what: &str, default: i64) -> i64 {
        self.in_range(r, what, default, |v| v as f64)
    }

    fn in_range<T: Copy + std::fmt::Display>(
        &mut self,
        r: Ranged<'_, T>,
        what: &str,
        default: T,
        as_f64: impl Fn(T) -> f64,
    ) -> T {
        match r.value {
            Some(v) if !r.contains(as_f64(v.value)) || !as_f64(v.value).is_finite() => {
                self.err(
                    &v.span,
                    format!("{what} {} is out of range", v.value),
                    Some(format!("expected {}", r.expected())),
                );
                default
            }
            Some(v) => v.value,
            None => default,
        }
    }

    /// The one "listed twice" check: records `key` in `seen` and returns `true`, or reports
    /// `message` at `span` when it is there already.
    pub(super) fn once<K: PartialEq>(
        &mut self,
        seen: &mut Vec<K>,
        key: K,
        span: &Range<usize>,
        message: impl FnOnce() -> String,
        hint: Option<&str>,
    ) -> bool {
        if seen.contains(&key) {
            self.err(span, message(), hint.map(str::to_string));
            return false;
        }
        seen.push(key);
        true
    }

    pub(super) fn dx_source(&self) -> &str {
        self.dx.source()
    }

    /// A sub-table's number without a default: `what = { key = example }`.
    pub(super) fn required(
        &mut self,
        r: Ranged<'_, f64>,
        table: &Range<usize>,
        what: &str,
        example: &str,
    ) {
        let key = r.key;
        if r.value.is_none() {
            self.missing(
                key,
                table,
                format!("{what} needs `{key}`"),
                Some(format!("e.g. {what} = {{ {key} = {example} }}")),
            );
        }
    }
}

/// The hint of a value listed twice in a list where order does not matter.
const DUPLICATE: Option<&str> = Some("remove the duplicate");

/// Where an optional value is written.
/// A boolean key as written; absent (or ill-typed, already reported) is `false`.
pub(super) fn flag(v: &Option<S<bool>>) -> bool {
    v.as_ref().is_some_and(|b| b.value)
}

pub(super) fn span_of<T>(v: &Option<S<T>>) -> Option<&Range<usize>> {
    v.as_ref().map(|v| &v.span)
}

/// "{label}: a, b", led by "did you mean `a`?" when `word` looks like a typo of one of `names`.
pub(super) fn suggest(word: &str, names: &[&str], label: &str) -> String {
    let list = format!("{label}: {}", names.join(", "));
    match did_you_mean(word, names.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? {list}"),
        None => list,
    }
}

pub(super) fn fmt_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}
