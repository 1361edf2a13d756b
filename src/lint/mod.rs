//! Lint: advertising claims in the copy, checked before anything renders.
//!
//! Every copy string of a validated template (subtitle text, timed lines and caption files,
//! badge text, end-card headline, price and call to action, and their region overrides) is
//! matched against the rule packs (`pack.rs`: `rules/*.toml` built in, `--rules-dir` added)
//! whose scope covers its locale or a region that shows it. Matching (`matcher.rs`) folds
//! width and case, finds CJK phrases inside words and Latin ones at word boundaries, and lets
//! a pack's exceptions excuse ordinary words (最近, 第一步). Each finding points at the copy
//! in the template (or its caption file) by line and column (`source.rs`), and is rendered
//! with the template diagnostics' style. Format and rules: docs/LINT.md.

pub mod layout;
pub mod limits;
pub mod matcher;
pub mod pack;
pub mod source;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::preset::PresetSet;
use crate::template::{line_col, locale_chain, Diagnostics, Template};
use matcher::{exception_ranges, excused, Folded};
pub use pack::{AiLabel, Pack, Rule, RulePacks, RuleSeverity, Scope};
use source::{CopyText, Place, Sources};

/// One claim found in one copy string.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `PACK/NAME`, e.g. `cn-ad-law/superlative`.
    pub rule: String,
    pub pack: String,
    pub pack_version: String,
    pub severity: RuleSeverity,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The words as written in the copy (full-width letters stay full-width).
    pub phrase: String,
    /// Regions of the template that show this copy (empty: none does yet).
    pub regions: Vec<String>,
    /// The copy's locale key.
    pub locale: String,
    pub pool: String,
    pub option: String,
    /// The region whose `[region.override…]` writes the copy; absent for the pool option.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_region: Option<String>,
    /// `text`, `lines[N].text`, `captions`, `headline`, `price` or `cta`; `layout` for a
    /// layout finding.
    pub field: String,
    /// The preset a layout finding was measured on; absent for claims (every preset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Other choices a layout finding was measured with (pool → option, as in the
    /// manifest's `modules`): the product a caption covers, the background it is read on.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub with: BTreeMap<String, String>,
    /// A limit finding's length as the platform counts it, and the most it allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<usize>,
    /// The template, or the caption file the copy comes from.
    pub file: PathBuf,
    /// 1-based line and column (in characters) of the phrase.
    pub line: usize,
    pub column: usize,
    /// Byte range of the phrase in `file`.
    #[serde(skip)]
    pub span: Range<usize>,
}

impl Finding {
    /// Whether an output of `preset` in `region` showing `modules` (pool, or
    /// `scene.ID.POOL`, → option id, as in the manifest) shows the copy this finding is in
    /// (and, for a layout finding, was measured as that output shows it).
    pub(crate) fn applies_to(
        &self,
        preset: &str,
        region: &str,
        modules: &BTreeMap<String, String>,
    ) -> bool {
        if self.preset.as_deref().is_some_and(|p| p != preset)
            || self.with.iter().any(|(k, v)| modules.get(k) != Some(v))
        {
            return false;
        }
        let in_region = match &self.override_region {
            Some(r) => r == region,
            None => self.regions.iter().any(|r| r == region),
        };
        in_region
            && modules.iter().any(|(k, v)| {
                *v == self.option
                    && (*k == self.pool
                        || k.strip_suffix(&self.pool).is_some_and(|s| s.ends_with('.')))
            })
    }

    /// One line for a manifest: `RULE: "PHRASE" (FILE:LINE:COLUMN)`.
    pub(crate) fn summary(&self) -> String {
        format!(
            "{}: \"{}\" ({}:{}:{})",
            self.rule,
            self.phrase,
            self.file.display(),
            self.line,
            self.column
        )
    }
}

/// The findings of one lint, with the texts they point into (for rendering).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// How the template is named in messages, and its text.
    template: (PathBuf, String),
    captions: Vec<(PathBuf, String)>,
    /// Copy strings checked.
    pub checked: usize,
    /// Distinct outputs whose layout was measured.
    pub measured: usize,
    /// The packs it ran with: the renderer draws their visible AI labels.
    pub packs: RulePacks,
    /// What measuring the layout placed and fitted, for the run that follows.
    pub warm: crate::render::Warm,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }

    pub(crate) fn errors(&self) -> usize {
        self.count(RuleSeverity::Error)
    }

    fn count(&self, s: RuleSeverity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }

    /// Adds layout findings (which point into the template) after the copy's.
    pub fn add_layout(&mut self, layout: layout::Layout) {
        self.findings.extend(layout.findings);
        self.measured = layout.outputs;
        self.warm = layout.warm;
    }

    /// A JSON array of the findings.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.findings).expect("findings serialize")
    }

    /// The findings as diagnostics with snippets, one block per file (the template first),
    /// each ending in its count of errors and warnings: the style of `factory validate`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let files = std::iter::once(&self.template).chain(&self.captions);
        for (path, text) in files {
            let mut dx = Diagnostics::new(path, text);
            for f in self.findings.iter().filter(|f| &f.file == path) {
                let message = format!("{}: {}", f.rule, describe(f));
                match f.severity {
                    RuleSeverity::Error => dx.error(f.span.clone(), message, f.hint.clone()),
                    RuleSeverity::Warning => dx.warning(f.span.clone(), message, f.hint.clone()),
                }
            }
            if !dx.is_empty() {
                out.push_str(&dx.to_string());
            }
        }
        out
    }
}

/// The finding's message: the phrase, what the rule says, and whose copy it is.
fn describe(f: &Finding) -> String {
    let whose = match &f.override_region {
        Some(r) => format!("{} `{}` as overridden for {r}", f.pool, f.option),
        None => format!("{} `{}`", f.pool, f.option),
    };
    let regions = if f.regions.is_empty() {
        "shown in no region of the template".to_string()
    } else {
        format!("shown in {}", f.regions.join(", "))
    };
    if f.field == "layout" {
        return format!(
            "{} ({whose}, \"{}\", locale {}, {regions})",
            f.message,
            crate::display::shown(&f.phrase, 60),
            f.locale
        );
    }
    format!(
        "\"{}\": {} ({whose}, {}, locale {}, {regions})",
        f.phrase, f.message, f.field, f.locale
    )
}

/// Lints the template read from `file` (named in messages as written). The template has been
/// validated, so its copy is known to be well-formed; the file is read again for positions.
pub fn lint(
    t: &Template,
    file: &Path,
    packs: &RulePacks,
    presets: &PresetSet,
) -> std::io::Result<Report> {
    let text = std::fs::read_to_string(file)?;
    Ok(lint_text(t, file, &text, packs, presets))
}

/// As `lint`, with the template's text given.
pub(crate) fn lint_text(
    t: &Template,
    file: &Path,
    text: &str,
    packs: &RulePacks,
    presets: &PresetSet,
) -> Report {
    let sources = source::read(text, &t.root);
    let shown = shown_regions(t, &sources);
    let platforms: Vec<String> = t
        .output
        .presets
        .iter()
        .flat_map(|id| {
            let platform = presets.get(id).map(|p| p.platform.clone());
            std::iter::once(id.clone()).chain(platform)
        })
        .collect();
    let caption_names: Vec<PathBuf> = sources.files.iter().map(|f| shown_path(&f.path)).collect();
    let mut findings = Vec::new();
    for (copy, regions) in sources.copy.iter().zip(&shown) {
        let packs: Vec<&Pack> = packs
            .packs
            .iter()
            .filter(|p| p.scope.applies(&copy.locale, regions, &platforms))
            .collect();
        if packs.is_empty() {
            continue;
        }
        let folded = Folded::new(&copy.text);
        let chars: Vec<char> = copy.text.chars().collect();
        for pack in packs {
            for (range, rule) in matches(pack, &folded) {
                let phrase: String = chars[range.clone()].iter().collect();
                let (file, source, span) = match copy.place {
                    Place::Template(ref literal) => (
                        file.to_path_buf(),
                        text,
                        template_span(text, literal, copy, &range),
                    ),
                    Place::Caption { file: i, line } => {
                        let before: String = chars[..range.start].iter().collect();
                        let f = &sources.files[i].text;
                        let span =
                            source::caption_span(f, line, &phrase, before.matches('\n').count());
                        (caption_names[i].clone(), f.as_str(), span)
                    }
                };
                let (line, column) = line_col(source, span.start);
                findings.push(Finding {
                    rule: rule.id.clone(),
                    pack: pack.id.clone(),
                    pack_version: pack.version.clone(),
                    severity: rule.severity,
                    message: rule.message.clone(),
                    hint: rule.hint.clone(),
                    phrase,
                    regions: regions.clone(),
                    locale: copy.locale.clone(),
                    pool: copy.pool.name().to_string(),
                    option: copy.option.clone(),
                    override_region: copy.owner.clone(),
                    field: copy.field.clone(),
                    preset: None,
                    with: BTreeMap::new(),
                    measured: None,
                    allowed: None,
                    file,
                    line,
                    column,
                    span,
                });
            }
        }
    }
    findings.extend(limits::check(t, file, text, presets, &sources.copy, &shown));
    // Template first, then caption files; each in source order.
    let rank = |f: &Finding| {
        caption_names
            .iter()
            .position(|c| c == &f.file)
            .map_or(0, |i| i + 1)
    };
    findings.sort_by_key(|f| (rank(f), f.span.start));
    Report {
        findings,
        template: (file.to_path_buf(), text.to_string()),
        captions: caption_names
            .into_iter()
            .zip(sources.files.into_iter().map(|f| f.text))
            .collect(),
        checked: sources.copy.len(),
        measured: 0,
        packs: packs.clone(),
        warm: Default::default(),
    }
}

/// A pack's matches in one copy, leftmost first: exceptions applied per rule, and a match
/// inside a longer one of the same pack dropped (全网最低 is one claim, not also 最低).
fn matches<'p>(pack: &'p Pack, text: &Folded) -> Vec<(Range<usize>, &'p Rule)> {
    let mut hits: Vec<(Range<usize>, &Rule)> = Vec::new();
    for rule in &pack.rules {
        let covered = exception_ranges(text, &rule.exceptions);
        for p in &rule.patterns {
            hits.extend(
                p.find(text)
                    .into_iter()
                    .filter(|m| !excused(m, &covered))
                    .map(|m| (m, rule)),
            );
        }
    }
    hits.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    let mut kept: Vec<(Range<usize>, &Rule)> = Vec::new();
    for (r, rule) in hits {
        if !kept
            .iter()
            .any(|(k, _)| k.start <= r.start && r.end <= k.end)
        {
            kept.push((r, rule));
        }
    }
    kept
}

/// The phrase's bytes in the template: through the literal's escapes when it decodes as
/// expected, else the literal's start.
fn template_span(
    text: &str,
    literal: &Range<usize>,
    copy: &CopyText,
    chars: &Range<usize>,
) -> Range<usize> {
    match source::char_spans(text, literal, &copy.text) {
        Some(spans) if chars.end > chars.start && chars.end <= spans.len() => {
            spans[chars.start].start..spans[chars.end - 1].end
        }
        _ => literal.start..literal.start,
    }
}

/// For each copy string, the regions of the template that show it: a region shows an
/// option's copy unless it overrides that option's copy, and of the locales written for the
/// key, the first of its locale chain (or, with `--allow-fallback`, the default copy).
fn shown_regions(t: &Template, sources: &Sources) -> Vec<Vec<String>> {
    type Key<'a> = (Option<&'a str>, crate::template::Pool, usize, &'a str);
    let mut locales: HashMap<Key, BTreeSet<&str>> = HashMap::new();
    let mut overridden: HashSet<(&str, crate::template::Pool, usize)> = HashSet::new();
    for c in &sources.copy {
        let key = (c.owner.as_deref(), c.pool, c.index, c.field.as_str());
        locales.entry(key).or_default().insert(c.locale.as_str());
        if let Some(r) = &c.owner {
            overridden.insert((r.as_str(), c.pool, c.index));
        }
    }
    let chains: Vec<Vec<String>> = t.regions.iter().map(locale_chain).collect();
    sources
        .copy
        .iter()
        .map(|c| {
            let key = (c.owner.as_deref(), c.pool, c.index, c.field.as_str());
            let written = &locales[&key];
            t.regions
                .iter()
                .zip(&chains)
                .filter(|(r, chain)| {
                    let mine = match &c.owner {
                        Some(o) => o == &r.code,
                        None => !overridden.contains(&(r.code.as_str(), c.pool, c.index)),
                    };
                    let picked = chain
                        .iter()
                        .find(|l| written.contains(l.as_str()))
                        .map(String::as_str)
                        .or_else(|| {
                            if !t.allow_fallback {
                                None
                            } else if written.contains("en") {
                                Some("en")
                            } else {
                                written.iter().next().copied()
                            }
                        });
                    mine && picked == Some(c.locale.as_str())
                })
                .map(|(r, _)| r.code.clone())
                .collect()
        })
        .collect()
}

/// A caption file's path as messages show it: relative to the current directory when inside it.
fn shown_path(p: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| p.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| p.to_path_buf())
}
