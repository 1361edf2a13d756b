//! `RawTemplate` → `Template`: every semantic check, every error collected.
//!
//! Each check reports into `Diagnostics` and substitutes a default so later checks still run;
//! the template is returned only when no error was reported.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::captions::{self as capfile, Format};
use super::diag::{did_you_mean, Diagnostics, Severity};
use super::model::*;
use super::raw::*;
use super::raw::{keep_introduced, OverrideScope};
use crate::preset::{PresetKind, PresetSet};

mod scenes;

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

/// Languages written right to left.
const RTL_LANGS: &[&str] = &["ar", "he", "fa", "ur"];

pub fn direction_of(locale: &str) -> Direction {
    let lang = locale.split(['-', '_']).next().unwrap_or(locale);
    if RTL_LANGS.contains(&lang) {
        Direction::Rtl
    } else {
        Direction::Ltr
    }
}

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
    fn err(
        &mut self,
        span: &Range<usize>,
        msg: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) {
        self.dx.error(span.clone(), msg, hint.into());
    }

    fn template(&mut self, mut raw: RawTemplate, path: PathBuf) -> Option<Template> {
        let doc = raw.doc_span.clone();
        // Without [template] we still judge everything else, so the user sees every error.
        let has_header = raw.template.is_some();
        let h = raw.template.unwrap_or_else(|| {
            self.missing(
                "template",
                &doc,
                "missing required section [template]",
                Some("add [template] with at least name = \"…\"".to_string()),
            );
            RawHeader {
                span: doc.clone(),
                name: None,
                version: None,
                kind: None,
                duration: None,
                fps: None,
                poster_time: None,
                root: None,
            }
        });
        let name = match &h.name {
            Some(n) if n.value.trim().is_empty() => {
                self.err(
                    &n.span,
                    "template name is empty",
                    Some("name the template, e.g. name = \"sneaker-launch\"".to_string()),
                );
                String::new()
            }
            Some(n) => n.value.clone(),
            None => {
                if has_header {
                    self.missing(
                        "name",
                        &h.span,
                        "missing required key `name` in [template]",
                        Some("add name = \"…\"".to_string()),
                    );
                }
                String::new()
            }
        };
        let version = match &h.version {
            Some(v) if v.value < 1 || v.value > u32::MAX as i64 => {
                self.err(
                    &v.span,
                    format!("version {} is out of range", v.value),
                    Some("expected an integer ≥ 1".to_string()),
                );
                1
            }
            Some(v) => v.value as u32,
            None => 1,
        };

        // Presets first: the kind default and the duration limits depend on them.
        let output_span = raw
            .output
            .as_ref()
            .map(|o| o.span.clone())
            .unwrap_or(doc.clone());
        let preset_ids = self.presets_list(raw.output.as_ref(), &output_span);
        let has_video = preset_ids.iter().any(|(p, _)| {
            self.presets
                .get(p)
                .is_some_and(|p| p.kind == PresetKind::Video)
        });
        let has_image = preset_ids.iter().any(|(p, _)| {
            self.presets
                .get(p)
                .is_some_and(|p| p.kind == PresetKind::Image)
        });

        let kind = match &h.kind {
            Some(k) => self.enum_val(
                k,
                "kind",
                &[
                    ("video", Kind::Video),
                    ("image", Kind::Image),
                    ("both", Kind::Both),
                ],
            ),
            None => None,
        }
        .unwrap_or(match (has_video, has_image) {
            (true, false) => Kind::Video,
            (false, true) => Kind::Image,
            _ => Kind::Both,
        });
        if let Some(k) = &h.kind {
            for (id, span) in &preset_ids {
                let Some(p) = self.presets.get(id) else {
                    continue;
                };
                let clash = match (kind, p.kind) {
                    (Kind::Video, PresetKind::Image) => Some("images"),
                    (Kind::Image, PresetKind::Video) => Some("videos"),
                    _ => None,
                };
                if let Some(makes) = clash {
                    self.err(
                        span,
                        format!("preset `{id}` makes {makes}, but [template] kind is `{}`", k.value),
                        Some("set kind = \"both\" (video presets get the video, image presets a poster frame), or drop this preset".to_string()),
                    );
                }
            }
        }

        let needs_duration = kind != Kind::Image;
        // Scenes give the video its length; a `duration` written as well must agree.
        let scene_total = raw
            .scene
            .as_ref()
            .map(scenes::scenes_total)
            .filter(|t| *t > 0.0);
        if let (Some(total), Some(d)) = (scene_total, &h.duration) {
            if (total - d.value).abs() > 1e-6 {
                self.err(
                    &d.span,
                    format!(
                        "duration {} s disagrees with the scenes, which add up to {} s",
                        fmt_secs(d.value),
                        fmt_secs(total)
                    ),
                    Some(
                        "remove `duration` (the scenes set it) or fix the scene durations"
                            .to_string(),
                    ),
                );
            }
        }
        let duration_raw = h.duration.clone().or_else(|| {
            scene_total.map(|t| S {
                value: t,
                span: raw
                    .scene
                    .as_ref()
                    .map(|s| s.span.clone())
                    .unwrap_or_default(),
            })
        });
        let duration = match &duration_raw {
            Some(d) if !(d.value > 0.0 && d.value.is_finite()) => {
                self.err(
                    &d.span,
                    format!("duration {} must be positive", d.value),
                    Some("seconds, e.g. duration = 15".to_string()),
                );
                0.0
            }
            Some(d) => d.value,
            None if needs_duration && has_header => {
                self.missing(
                    "duration",
                    &h.span,
                    "missing required key `duration` in [template]",
                    Some(
                        "a video template needs its length in seconds, e.g. duration = 15"
                            .to_string(),
                    ),
                );
                0.0
            }
            None => 0.0,
        };
        if let Some(d) = duration_raw.as_ref().filter(|d| d.value > 0.0) {
            for (id, _) in &preset_ids {
                let Some(p) = self.presets.get(id).filter(|p| p.kind == PresetKind::Video) else {
                    continue;
                };
                let limits = format!(
                    "{}–{} s",
                    fmt_secs(p.min_duration.unwrap_or(0.0)),
                    p.max_duration.map(fmt_secs).unwrap_or("∞".into())
                );
                if let Some(max) = p.max_duration.filter(|m| d.value > *m) {
                    self.err(
                        &d.span,
                        format!("duration {} s is longer than preset `{id}` allows ({limits})", fmt_secs(d.value)),
                        Some(format!("shorten duration to at most {} s, or remove `{id}` from [output] presets", fmt_secs(max))),
                    );
                }
                if let Some(min) = p.min_duration.filter(|m| d.value < *m) {
                    self.err(
                        &d.span,
                        format!("duration {} s is shorter than preset `{id}` allows ({limits})", fmt_secs(d.value)),
                        Some(format!("lengthen duration to at least {} s, or remove `{id}` from [output] presets", fmt_secs(min))),
                    );
                }
            }
        }
        let fps = match &h.fps {
            Some(f) if !(1..=60).contains(&f.value) => {
                self.err(
                    &f.span,
                    format!("fps {} is out of range", f.value),
                    Some("expected 1..=60".to_string()),
                );
                30
            }
            Some(f) => f.value as u32,
            None => 30,
        };
        let poster_time = match &h.poster_time {
            Some(p) if p.value < 0.0 || (duration > 0.0 && p.value > duration) => {
                self.err(
                    &p.span,
                    format!(
                        "poster_time {} s is outside the video (0–{} s)",
                        fmt_secs(p.value),
                        fmt_secs(duration)
                    ),
                    Some("pick a moment within duration".to_string()),
                );
                0.0
            }
            Some(p) => p.value,
            None if kind == Kind::Image => 0.0,
            None => duration / 3.0,
        };

        let pending = take_overrides(&mut raw.regions);
        let mut regions = self.regions(raw.output.as_ref(), &raw.regions, &output_span);
        let output = self.output(
            raw.output.as_ref(),
            preset_ids.into_iter().map(|(id, _)| id).collect(),
        );

        let backgrounds = self.backgrounds(raw.background, &doc);
        let products = match raw.product {
            Some(p) => self.products(p),
            None => Vec::new(),
        };
        // Presets that cap copy length (Xiaohongshu titles), checked where the copy is written.
        let limits: Vec<(String, u32)> = output
            .presets
            .iter()
            .filter_map(|id| self.presets.get(id))
            .filter_map(|p| p.rules.max_title_chars.map(|m| (p.id.clone(), m)))
            .collect();
        // A region that overrides a subtitle option has its copy checked option by option in
        // `apply_overrides`, against what it will really show.
        let pool_checked: Vec<Region> = regions
            .iter()
            .filter(|r| {
                !pending
                    .iter()
                    .any(|(c, o)| *c == r.code && o.iter().any(|o| o.pool == "subtitle"))
            })
            .cloned()
            .collect();
        let subtitles = match raw.subtitle {
            Some(p) => self.subtitles(p, duration, &pool_checked, &limits),
            None => Vec::new(),
        };
        let effects = match raw.effects {
            Some(p) => self.effects(p, duration),
            // No [[effects]] means "no grading": one implicit option, so a variant always
            // picks one option from every pool.
            None => vec![Effects {
                id: "none".into(),
                ..Effects::default()
            }],
        };
        // As with subtitles: a region overriding an audio option has its voice-overs checked
        // option by option in `apply_overrides`.
        let audio_checked: Vec<Region> = regions
            .iter()
            .filter(|r| {
                !pending
                    .iter()
                    .any(|(c, o)| *c == r.code && o.iter().any(|o| o.pool == "audio"))
            })
            .cloned()
            .collect();
        let audio = match raw.audio {
            Some(p) => self.audio(p, duration, &audio_checked),
            None => vec![Audio::silence()],
        };
        let badges = match raw.badge {
            Some(p) => self.badges(p, &regions),
            None => Vec::new(),
        };
        let end_cards = match raw.end_card {
            Some(p) => self.end_cards(p, duration, &regions),
            None => Vec::new(),
        };
        self.apply_overrides(pending, &mut regions, &doc, duration, &limits);
        let pools: HashMap<Pool, Vec<String>> = [
            (
                Pool::Background,
                backgrounds.iter().map(|b| b.id.clone()).collect(),
            ),
            (
                Pool::Product,
                products.iter().map(|b| b.id.clone()).collect(),
            ),
            (
                Pool::Subtitle,
                subtitles.iter().map(|b| b.id.clone()).collect(),
            ),
            (
                Pool::Effects,
                effects.iter().map(|b| b.id.clone()).collect(),
            ),
            (Pool::Badge, badges.iter().map(|b| b.id.clone()).collect()),
            (Pool::Audio, audio.iter().map(|b| b.id.clone()).collect()),
            (
                Pool::EndCard,
                end_cards.iter().map(|b| b.id.clone()).collect(),
            ),
        ]
        .into_iter()
        .collect();
        let scenes = match raw.scene {
            Some(p) if kind == Kind::Image => {
                self.err(
                    &p.span,
                    "[[scene]] needs a video template",
                    Some(
                        "scenes split a video's timeline; image presets take one poster frame"
                            .to_string(),
                    ),
                );
                Vec::new()
            }
            Some(p) => self.scenes(p, &pools),
            None => Vec::new(),
        };
        let raw_orders = raw.variants.as_mut().and_then(|v| v.orders.take());
        let mut variants = self.variants(raw.variants, &pools);
        variants.orders = self.orders(raw_orders.as_ref(), &scenes);
        let dedup = self.dedup(raw.dedup);

        Some(Template {
            path,
            root: self.root.clone(),
            name,
            version,
            kind,
            duration,
            fps,
            poster_time,
            output,
            variants,
            backgrounds,
            products,
            subtitles,
            effects,
            audio,
            badges,
            end_cards,
            scenes,
            regions,
            dedup,
            allow_fallback: self.opts.allow_fallback,
        })
    }

    /// A required key is absent — unless it was present with the wrong type, which the raw
    /// layer has already reported.
    fn missing(
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

    fn enum_val<T: Clone>(
        &mut self,
        v: &S<String>,
        what: &str,
        allowed: &[(&str, T)],
    ) -> Option<T> {
        if let Some((_, t)) = allowed.iter().find(|(n, _)| *n == v.value) {
            return Some(t.clone());
        }
        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
        let hint = match did_you_mean(&v.value, names.iter().copied()) {
            Some(s) => format!("did you mean `{s}`? expected one of: {}", names.join(", ")),
            None => format!("expected one of: {}", names.join(", ")),
        };
        self.err(&v.span, format!("unknown {what} `{}`", v.value), Some(hint));
        None
    }

    fn color(&mut self, v: Option<&S<String>>, default: Rgba) -> Rgba {
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

    /// A number that must satisfy `ok`; otherwise an error quoting `expect`, and the default.
    fn num(
        &mut self,
        v: Option<&S<f64>>,
        what: &str,
        default: f64,
        ok: impl Fn(f64) -> bool,
        expect: &str,
    ) -> f64 {
        match v {
            Some(v) if !ok(v.value) || !v.value.is_finite() => {
                self.err(
                    &v.span,
                    format!("{what} {} is out of range", v.value),
                    Some(format!("expected {expect}")),
                );
                default
            }
            Some(v) => v.value,
            None => default,
        }
    }

    fn seconds(&mut self, v: Option<&S<f64>>, what: &str) -> f64 {
        self.num(v, what, 0.0, |x| x >= 0.0, "seconds ≥ 0")
    }

    fn presets_list(
        &mut self,
        out: Option<&RawOutput>,
        span: &Range<usize>,
    ) -> Vec<(String, Range<usize>)> {
        let Some(list) = out.and_then(|o| o.presets.as_ref()) else {
            let hint = format!(
                "add presets = [\"…\"] to [output]; known: {}",
                self.presets.ids().collect::<Vec<_>>().join(", ")
            );
            self.missing(
                "presets",
                span,
                "missing required key `presets` in [output]",
                Some(hint),
            );
            return Vec::new();
        };
        if list.value.is_empty() {
            self.err(
                &list.span,
                "[output] presets is empty",
                Some("name at least one preset, e.g. [\"tiktok\"]".to_string()),
            );
        }
        let mut seen: HashMap<&str, ()> = HashMap::new();
        let mut out = Vec::new();
        for p in &list.value {
            if seen.insert(p.value.as_str(), ()).is_some() {
                self.err(
                    &p.span,
                    format!("preset `{}` is listed twice", p.value),
                    Some("remove the duplicate".to_string()),
                );
                continue;
            }
            if self.presets.get(&p.value).is_none() {
                let known: Vec<&str> = self.presets.ids().collect();
                let mut msg = format!("unknown preset `{}`", p.value);
                if let Some(s) = did_you_mean(&p.value, known.iter().copied()) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                self.err(
                    &p.span,
                    msg,
                    Some(format!(
                        "known: {}; add your own with --presets-dir",
                        known.join(", ")
                    )),
                );
                continue;
            }
            out.push((p.value.clone(), p.span.clone()));
        }
        out
    }

    fn regions(
        &mut self,
        out: Option<&RawOutput>,
        defs: &[RawRegion],
        span: &Range<usize>,
    ) -> Vec<Region> {
        // [[region]] tables first: they define new codes or override built-in ones.
        let mut custom: BTreeMap<String, Region> = BTreeMap::new();
        let mut first_def: HashMap<String, usize> = HashMap::new();
        for d in defs {
            let Some(code) = &d.code else {
                self.missing(
                    "code",
                    &d.span,
                    "missing required key `code` in [[region]]",
                    Some("add code = \"XX\" (ISO 3166 region code)".to_string()),
                );
                continue;
            };
            if !valid_region_code(&code.value) {
                self.err(
                    &code.span,
                    format!("bad region code `{}`", code.value),
                    Some("expected 2–3 upper-case letters, e.g. \"US\"".to_string()),
                );
                continue;
            }
            if let Some(line) = first_def.get(&code.value) {
                self.err(
                    &code.span,
                    format!("region `{}` is defined twice", code.value),
                    Some(format!("first defined on line {line}")),
                );
                continue;
            }
            first_def.insert(
                code.value.clone(),
                super::diag::line_col(self.dx_source(), code.span.start).0,
            );
            let builtin = REGIONS.iter().find(|(c, _, _)| *c == code.value);
            let locale = match (&d.locale, builtin) {
                (Some(l), _) => {
                    if !valid_locale(&l.value) {
                        self.err(
                            &l.span,
                            format!("bad locale `{}`", l.value),
                            Some(
                                "expected a BCP 47 tag such as \"en\", \"es-MX\" or \"zh-TW\""
                                    .to_string(),
                            ),
                        );
                    }
                    l.value.clone()
                }
                (None, Some((_, l, _))) => l.to_string(),
                (None, None) => {
                    self.missing(
                        "locale",
                        &d.span,
                        format!("[[region]] `{}` needs a locale", code.value),
                        Some("add locale = \"…\", e.g. locale = \"pl\"".to_string()),
                    );
                    String::new()
                }
            };
            let fallback = match (&d.fallback, builtin) {
                (Some(f), _) => {
                    for l in &f.value {
                        if !valid_locale(&l.value) {
                            self.err(
                                &l.span,
                                format!("bad locale `{}`", l.value),
                                Some("expected a BCP 47 tag such as \"en\" or \"es\"".to_string()),
                            );
                        }
                    }
                    f.value.iter().map(|l| l.value.clone()).collect()
                }
                // A new locale does not inherit the built-in fallbacks, which belong to the old one.
                (None, Some((_, l, fb)))
                    if d.locale.is_none() || d.locale.as_ref().is_some_and(|x| x.value == *l) =>
                {
                    fb.iter().map(|s| s.to_string()).collect()
                }
                _ => Vec::new(),
            };
            let direction = match &d.direction {
                Some(dir) => self
                    .enum_val(
                        dir,
                        "direction",
                        &[("ltr", Direction::Ltr), ("rtl", Direction::Rtl)],
                    )
                    .unwrap_or(Direction::Ltr),
                None => direction_of(&locale),
            };
            custom.insert(
                code.value.clone(),
                Region {
                    code: code.value.clone(),
                    locale,
                    fallback,
                    direction,
                    overrides: RegionOverrides::default(),
                },
            );
        }

        let Some(list) = out.and_then(|o| o.regions.as_ref()) else {
            self.missing(
                "regions",
                span,
                "missing required key `regions` in [output]",
                Some("add regions = [\"US\", …]".to_string()),
            );
            return Vec::new();
        };
        if list.value.is_empty() {
            self.err(
                &list.span,
                "[output] regions is empty",
                Some("name at least one region, e.g. [\"US\"]".to_string()),
            );
        }
        let mut out = Vec::new();
        let mut seen = HashMap::new();
        for r in &list.value {
            if seen.insert(r.value.clone(), ()).is_some() {
                self.err(
                    &r.span,
                    format!("region `{}` is listed twice", r.value),
                    Some("remove the duplicate".to_string()),
                );
                continue;
            }
            if let Some(c) = custom.get(&r.value) {
                out.push(c.clone());
            } else if let Some((code, locale, fb)) = REGIONS.iter().find(|(c, _, _)| *c == r.value)
            {
                out.push(Region {
                    code: code.to_string(),
                    locale: locale.to_string(),
                    fallback: fb.iter().map(|s| s.to_string()).collect(),
                    direction: direction_of(locale),
                    overrides: RegionOverrides::default(),
                });
            } else {
                let known: Vec<&str> = REGIONS
                    .iter()
                    .map(|(c, _, _)| *c)
                    .chain(custom.keys().map(String::as_str))
                    .collect();
                let upper = r.value.to_ascii_uppercase();
                let hint = if upper != r.value && known.contains(&upper.as_str()) {
                    format!("region codes are upper case: `{upper}`")
                } else {
                    format!(
                        "define it with [[region]] code = \"{}\" locale = \"…\"; built-in: {}",
                        r.value,
                        known.join(", ")
                    )
                };
                self.err(&r.span, format!("unknown region `{}`", r.value), Some(hint));
            }
        }
        out
    }

    /// Validates every `[region.override…]` with its pool's own validator and stores the
    /// results in the regions the template renders. The option alone is validated first so
    /// that only what the override introduces is reported (the option's own problems were
    /// reported with its pool).
    fn apply_overrides(
        &mut self,
        pending: Vec<(String, Vec<RawOverride>)>,
        regions: &mut [Region],
        doc: &Range<usize>,
        duration: f64,
        limits: &[(String, u32)],
    ) {
        for (code, list) in pending {
            let pos = regions.iter().position(|r| r.code == code);
            // Copy is checked only for regions the template renders.
            let here: Vec<Region> = pos.map(|i| regions[i].clone()).into_iter().collect();
            let mut ov = RegionOverrides::default();
            for o in list {
                let context = format!(
                    "the {} `{}` override of region `{code}`",
                    o.pool, o.id.value
                );
                let scope = OverrideScope {
                    span: &o.span,
                    base_span: &o.base_span,
                    own: &o.own,
                    context: o.explicit.then_some(context.as_str()),
                };
                let sp = o.span.clone();
                match o.option {
                    RawOverridden::Background(b, m) => {
                        let v = self.introduced(
                            &scope,
                            |v| drop(v.backgrounds(Some(single(b, &sp)), doc)),
                            |v| v.backgrounds(Some(single(m, &sp)), doc).pop(),
                        );
                        if let Some(v) = v.filter(|_| o.explicit) {
                            ov.background.insert(o.index, v);
                        }
                    }
                    RawOverridden::Product(b, m) => {
                        let v = self.introduced(
                            &scope,
                            |v| drop(v.products(single(b, &sp))),
                            |v| v.products(single(m, &sp)).pop(),
                        );
                        if let Some(v) = v.filter(|_| o.explicit) {
                            ov.product.insert(o.index, v);
                        }
                    }
                    RawOverridden::Subtitle(b, m) => {
                        let v = self.introduced(
                            &scope,
                            |v| drop(v.subtitles(single(b, &sp), duration, &[], limits)),
                            |v| v.subtitles(single(m, &sp), duration, &here, limits).pop(),
                        );
                        if let Some(v) = v.filter(|_| o.explicit) {
                            ov.subtitle.insert(o.index, v);
                        }
                    }
                    RawOverridden::Effects(b, m) => {
                        let v = self.introduced(
                            &scope,
                            |v| drop(v.effects(single(b, &sp), duration)),
                            |v| v.effects(single(m, &sp), duration).pop(),
                        );
                        if let Some(v) = v.filter(|_| o.explicit) {
                            ov.effects.insert(o.index, v);
                        }
                    }
                    RawOverridden::Audio(b, m) => {
                        let v = self.introduced(
                            &scope,
                            |v| drop(v.audio(single(b, &sp), duration, &[])),
                            |v| v.audio(single(m, &sp), duration, &here).pop(),
                        );
                        if let Some(v) = v.filter(|_| o.explicit) {
                            ov.audio.insert(o.index, v);
                        }
                    }
                }
            }
            if let Some(i) = pos {
                regions[i].overrides = ov;
            }
        }
    }

    /// Runs `merged` and keeps only the diagnostics `base` (the same checks on the option as
    /// written) does not also produce.
    fn introduced<T>(
        &mut self,
        scope: &OverrideScope<'_>,
        base: impl FnOnce(&mut Self),
        merged: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let n = self.dx.items.len();
        base(self);
        let known = self.dx.items.split_off(n);
        let v = merged(self);
        let new = self.dx.items.split_off(n);
        keep_introduced(self.dx, new, &known, scope);
        v
    }

    fn dx_source(&self) -> &str {
        self.dx.source()
    }

    fn output(&mut self, out: Option<&RawOutput>, presets: Vec<String>) -> Output {
        let Some(o) = out else {
            // `presets_list` has already reported the missing section's keys.
            return Output {
                presets,
                name: DEFAULT_NAME.into(),
                image_name: DEFAULT_IMAGE_NAME.into(),
                tracking: BTreeMap::new(),
                landing_url: None,
            };
        };
        let name = match &o.name {
            Some(n) => {
                self.pattern(n, "name");
                n.value.clone()
            }
            None => DEFAULT_NAME.into(),
        };
        let image_name = match &o.image_name {
            Some(n) => {
                self.pattern(n, "image_name");
                n.value.clone()
            }
            None => DEFAULT_IMAGE_NAME.into(),
        };
        let mut tracking = BTreeMap::new();
        if let Some(t) = &o.tracking {
            for (k, v) in &t.value {
                self.pattern(v, &format!("tracking.{}", k.value));
                tracking.insert(k.value.clone(), v.value.clone());
            }
        }
        let landing_url = o.landing_url.as_ref().map(|u| {
            if !(u.value.starts_with("https://") || u.value.starts_with("http://"))
                || u.value.len() <= "https://".len()
            {
                self.err(
                    &u.span,
                    format!("landing_url `{}` is not an http(s) URL", u.value),
                    Some(
                        "write the full address, e.g. \"https://shop.example.com/p/sneaker\""
                            .to_string(),
                    ),
                );
            }
            self.pattern(u, "landing_url");
            u.value.clone()
        });
        Output {
            presets,
            name,
            image_name,
            tracking,
            landing_url,
        }
    }

    /// Checks `{placeholder}`s, pointing at the exact placeholder when the string literal has
    /// no escapes (so source offsets equal value offsets).
    fn pattern(&mut self, v: &S<String>, what: &str) {
        let lit = self.dx_source().get(v.span.clone()).unwrap_or("");
        let inner_start =
            if (lit.starts_with('"') && !lit.starts_with("\"\"\"") && !lit.contains('\\'))
                || (lit.starts_with('\'') && !lit.starts_with("'''"))
            {
                Some(v.span.start + 1)
            } else {
                None
            };
        let at = |from: usize, to: usize| match inner_start {
            Some(s) => s + from..s + to,
            None => v.span.clone(),
        };
        let s = &v.value;
        let mut i = 0;
        while let Some(open) = s[i..].find(['{', '}']).map(|o| o + i) {
            if s.as_bytes()[open] == b'}' {
                self.err(
                    &at(open, open + 1),
                    format!("unmatched `}}` in {what} pattern"),
                    Some("placeholders look like {region}".to_string()),
                );
                i = open + 1;
                continue;
            }
            let Some(close) = s[open..].find('}').map(|c| c + open) else {
                self.err(
                    &at(open, s.len()),
                    format!("unclosed `{{` in {what} pattern"),
                    Some("placeholders look like {region}".to_string()),
                );
                return;
            };
            let name = &s[open + 1..close];
            if !PLACEHOLDERS.contains(&name) {
                let hint = match did_you_mean(name, PLACEHOLDERS.iter().copied()) {
                    Some(m) => format!("did you mean {{{m}}}? known: {}", braces()),
                    None => format!("known placeholders: {}", braces()),
                };
                self.err(
                    &at(open, close + 1),
                    format!("unknown placeholder `{{{name}}}` in {what} pattern"),
                    Some(hint),
                );
            }
            i = close + 1;
        }
    }

    /// Ids of a pool: present, `[a-z0-9-]`, unique. Returns the id (or a stand-in) per option.
    fn ids(&mut self, pool: &str, items: &[(Range<usize>, Option<&S<String>>)]) -> Vec<String> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::new();
        for (i, (span, id)) in items.iter().enumerate() {
            let Some(id) = id else {
                self.missing(
                    "id",
                    span,
                    format!("missing required key `id` in [[{pool}]] #{}", i + 1),
                    Some(format!(
                        "give every option an id, e.g. id = \"{pool}-{}\"",
                        i + 1
                    )),
                );
                out.push(format!("#{}", i + 1));
                continue;
            };
            if !valid_id(&id.value) {
                self.err(
                    &id.span,
                    format!("bad id `{}` in [[{pool}]]", id.value),
                    Some("ids use lower-case a-z, 0-9 and `-`, e.g. \"studio-white\"".to_string()),
                );
            }
            if let Some(line) = seen.get(&id.value) {
                self.err(
                    &id.span,
                    format!("duplicate id `{}` in [[{pool}]]", id.value),
                    Some(format!(
                        "first used on line {line}; ids must be unique within a pool"
                    )),
                );
            } else {
                let line = super::diag::line_col(self.dx_source(), id.span.start).0;
                seen.insert(id.value.clone(), line);
            }
            out.push(id.value.clone());
        }
        out
    }

    /// A pool's option ids (see `ids`), or `None` after reporting an empty pool.
    fn pool_ids<T: RawOption>(&mut self, name: &str, pool: &S<Vec<T>>) -> Option<Vec<String>> {
        if pool.value.is_empty() {
            self.empty_pool(name, &pool.span);
            return None;
        }
        let items: Vec<_> = pool
            .value
            .iter()
            .map(|o| (o.span().clone(), o.id()))
            .collect();
        Some(self.ids(name, &items))
    }

    fn empty_pool(&mut self, pool: &str, span: &Range<usize>) {
        self.err(
            span,
            format!("[[{pool}]] pool is empty"),
            Some(format!(
                "add at least one [[{pool}]] option, or remove the key to use the default"
            )),
        );
    }

    fn backgrounds(
        &mut self,
        pool: Option<S<Vec<RawBackground>>>,
        doc: &Range<usize>,
    ) -> Vec<Background> {
        let Some(pool) = pool else {
            self.missing(
                "background",
                doc,
                "missing required pool [[background]]",
                Some("add e.g. [[background]] id = \"white\" color = \"#ffffff\"".to_string()),
            );
            return Vec::new();
        };
        let Some(ids) = self.pool_ids("background", &pool) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (b, id) in pool.value.iter().zip(ids) {
            let given: Vec<(&str, Range<usize>)> = [
                ("color", b.color.as_ref().map(|c| c.span.clone())),
                ("gradient", b.gradient.as_ref().map(|g| g.span.clone())),
                ("image", b.image.as_ref().map(|c| c.span.clone())),
                ("video", b.video.as_ref().map(|c| c.span.clone())),
            ]
            .into_iter()
            .filter_map(|(n, s)| s.map(|s| (n, s)))
            .collect();
            let misspelt = ["color", "gradient", "image", "video"]
                .iter()
                .any(|k| self.dx.was_bad(b.span.start, k));
            if given.is_empty() && !misspelt {
                self.err(
                    &b.span,
                    format!("background `{id}` has no source"),
                    Some("set exactly one of color, gradient, image or video".to_string()),
                );
            } else if given.len() > 1 {
                let names: Vec<&str> = given.iter().map(|(n, _)| *n).collect();
                self.err(
                    &given[1].1,
                    format!(
                        "background `{id}` sets {}; only one source is allowed",
                        names.join(" and ")
                    ),
                    Some("split it into separate [[background]] options".to_string()),
                );
            }
            if b.video.is_none() {
                for (key, span) in [
                    ("loop", b.looped.as_ref().map(|l| &l.span)),
                    ("start", b.start.as_ref().map(|s| &s.span)),
                ] {
                    if let Some(span) = span {
                        self.err(
                            span,
                            format!("`{key}` only applies to a video background"),
                            Some("remove it, or use video = \"…\"".to_string()),
                        );
                    }
                }
            }
            let source = if let Some(c) = &b.color {
                BackgroundSource::Color(self.color(Some(c), Rgba::BLACK))
            } else if let Some(g) = &b.gradient {
                if g.from.is_none() || g.to.is_none() {
                    self.missing(
                        "from",
                        &g.span,
                        format!("gradient of background `{id}` needs both `from` and `to`"),
                        Some(
                            "e.g. gradient = { from = \"#ffffff\", to = \"#dddddd\", angle = 0 }"
                                .to_string(),
                        ),
                    );
                }
                let from = self.color(g.from.as_ref(), Rgba::BLACK);
                let to = self.color(g.to.as_ref(), Rgba::BLACK);
                let angle = self.num(
                    g.angle.as_ref(),
                    "angle",
                    0.0,
                    |a| (-360.0..=360.0).contains(&a),
                    "degrees in -360..=360",
                ) as f32;
                BackgroundSource::Gradient { from, to, angle }
            } else if let Some(i) = &b.image {
                BackgroundSource::Image(self.asset(i).unwrap_or_default())
            } else if let Some(vid) = &b.video {
                let path = self.asset(vid).unwrap_or_default();
                let start = self.seconds(b.start.as_ref(), "start");
                BackgroundSource::Video {
                    path,
                    looped: b.looped.as_ref().map(|l| l.value).unwrap_or(true),
                    start,
                }
            } else {
                BackgroundSource::Color(Rgba::BLACK)
            };
            let fit = b
                .fit
                .as_ref()
                .and_then(|f| {
                    self.enum_val(
                        f,
                        "fit",
                        &[
                            ("cover", Fit::Cover),
                            ("contain", Fit::Contain),
                            ("blur-pad", Fit::BlurPad),
                        ],
                    )
                })
                .unwrap_or(Fit::Cover);
            let pad = self.color(b.pad.as_ref(), Rgba::BLACK);
            let motion = self.ken_burns(b.motion.as_ref());
            out.push(Background {
                id,
                source,
                fit,
                pad,
                motion,
            });
        }
        out
    }

    fn shadow(&mut self, s: Option<&RawShadow>) -> Option<Shadow> {
        let s = s?;
        let color = self.color(s.color.as_ref(), Rgba([0, 0, 0, 128]));
        let offset = s.offset.as_ref().map(|o| o.value).unwrap_or((0.01, 0.01));
        let blur = self.num(
            s.blur.as_ref(),
            "blur",
            0.02,
            |b| (0.0..=0.5).contains(&b),
            "a fraction of the shorter side, 0..=0.5",
        );
        Some(Shadow {
            color,
            offset: (offset.0 as f32, offset.1 as f32),
            blur: blur as f32,
        })
    }

    fn products(&mut self, pool: S<Vec<RawProduct>>) -> Vec<Product> {
        let Some(ids) = self.pool_ids("product", &pool) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (p, id) in pool.value.iter().zip(ids) {
            let source = match &p.source {
                Some(s) => self.asset(s).unwrap_or_default(),
                None => {
                    self.missing("source", &p.span, format!("missing required key `source` in product `{id}`"), Some("point it at an RGBA cut-out, e.g. source = \"samples/product/shoe.png\"".to_string()));
                    PathBuf::new()
                }
            };
            let anchor = self.anchor(p.anchor.as_ref(), Anchor::Center);
            let scale = self.num(
                p.scale.as_ref(),
                "scale",
                0.6,
                |s| s > 0.0 && s <= 1.0,
                "0 < scale <= 1 (share of the safe area)",
            ) as f32;
            let offset = p.offset.as_ref().map(|o| o.value).unwrap_or((0.0, 0.0));
            if let Some(o) = &p.offset {
                if o.value.0.abs() > 1.0 || o.value.1.abs() > 1.0 {
                    self.err(
                        &o.span,
                        format!(
                            "offset [{}, {}] moves the product off the canvas",
                            o.value.0, o.value.1
                        ),
                        Some("offsets are fractions of the canvas, -1..=1".to_string()),
                    );
                }
            }
            let rotation = self.num(
                p.rotation.as_ref(),
                "rotation",
                0.0,
                |r| (-360.0..=360.0).contains(&r),
                "degrees in -360..=360",
            ) as f32;
            let shadow = self.shadow(p.shadow.as_ref());
            let (keyframes, idle) =
                self.product_motion(&id, p.motion.as_ref(), p.keyframes.as_ref());
            let parallax = self.num(
                p.parallax.as_ref(),
                "parallax",
                0.0,
                |x| (0.0..=3.0).contains(&x),
                "0..=3 (0 = fixed, 1 = moves with the background)",
            ) as f32;
            out.push(Product {
                id,
                source,
                anchor,
                scale,
                offset: (offset.0 as f32, offset.1 as f32),
                rotation,
                shadow,
                keyframes,
                idle,
                parallax,
            });
        }
        out
    }

    fn locale_map(&mut self, text: &S<LocaleText>) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for (loc, copy) in &text.value {
            if !valid_locale(&loc.value) {
                self.err(
                    &loc.span,
                    format!("bad locale `{}`", loc.value),
                    Some(
                        "expected a BCP 47 tag such as \"en\", \"es-MX\" or \"zh-TW\"".to_string(),
                    ),
                );
            }
            if copy.value.trim().is_empty() {
                self.err(
                    &copy.span,
                    format!("empty copy for locale `{}`", loc.value),
                    Some("write the text, or remove the locale".to_string()),
                );
            }
            map.insert(loc.value.clone(), copy.value.clone());
        }
        map
    }

    fn subtitles(
        &mut self,
        pool: S<Vec<RawSubtitle>>,
        duration: f64,
        regions: &[Region],
        limits: &[(String, u32)],
    ) -> Vec<Subtitle> {
        let Some(ids) = self.pool_ids("subtitle", &pool) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (s, id) in pool.value.iter().zip(ids) {
            let mut copies: Vec<(Range<usize>, BTreeMap<String, String>)> = Vec::new();
            let text = match (&s.text, &s.lines) {
                (Some(t), None) => {
                    let m = self.locale_map(t);
                    self.copy_length(&id, t, limits);
                    copies.push((t.span.clone(), m.clone()));
                    m
                }
                (Some(_), Some(l)) => {
                    self.err(
                        &l.span,
                        format!("subtitle `{id}` sets both `text` and `lines`"),
                        Some(
                            "use `text` for copy shown throughout, or `lines` for timed copy"
                                .to_string(),
                        ),
                    );
                    BTreeMap::new()
                }
                (None, None) if s.captions.is_none() => {
                    self.missing("text", &s.span, format!("subtitle `{id}` has no copy"), Some("add text = { en = \"…\" }, lines = [{ start = 0, end = 3, text = { en = \"…\" } }] or captions = { en = \"captions/en.srt\" }".to_string()));
                    BTreeMap::new()
                }
                (None, _) => BTreeMap::new(),
            };
            let mut lines = Vec::new();
            if let Some(l) = &s.lines {
                if l.value.is_empty() {
                    self.err(
                        &l.span,
                        format!("subtitle `{id}` has an empty `lines` list"),
                        Some("add at least one { start, end, text } line".to_string()),
                    );
                }
                for line in &l.value {
                    let start = self.seconds(line.start.as_ref(), "start");
                    let end = match &line.end {
                        Some(e) => e.value,
                        None => {
                            self.missing(
                                "end",
                                &line.span,
                                "missing required key `end` in a subtitle line",
                                Some("seconds at which the line disappears".to_string()),
                            );
                            start
                        }
                    };
                    if let Some(e) = &line.end {
                        if e.value <= start {
                            self.err(
                                &e.span,
                                format!(
                                    "line ends at {} s, not after its start {} s",
                                    fmt_secs(e.value),
                                    fmt_secs(start)
                                ),
                                None,
                            );
                        } else if duration > 0.0 && e.value > duration + 1e-9 {
                            self.err(
                                &e.span,
                                format!(
                                    "line ends at {} s, after the video ends ({} s)",
                                    fmt_secs(e.value),
                                    fmt_secs(duration)
                                ),
                                Some("keep lines within [template] duration".to_string()),
                            );
                        }
                    }
                    let text = match &line.text {
                        Some(t) => {
                            let m = self.locale_map(t);
                            self.copy_length(&id, t, limits);
                            self.copy_length(&id, t, limits);
                            copies.push((t.span.clone(), m.clone()));
                            m
                        }
                        None => {
                            self.missing(
                                "text",
                                &line.span,
                                "missing required key `text` in a subtitle line",
                                Some("add text = { en = \"…\" }".to_string()),
                            );
                            BTreeMap::new()
                        }
                    };
                    lines.push(TimedLine { start, end, text });
                }
            }
            let mut captions = BTreeMap::new();
            if let Some(c) = &s.captions {
                if s.text.is_some() || s.lines.is_some() {
                    self.err(&c.span, format!("subtitle `{id}` sets `captions` together with `text` or `lines`"), Some("a caption file already says what shows when; remove `text`/`lines`, or make another [[subtitle]] option".to_string()));
                }
                let mut joined = BTreeMap::new();
                for (loc, file) in &c.value {
                    if !valid_locale(&loc.value) {
                        self.err(
                            &loc.span,
                            format!("bad locale `{}`", loc.value),
                            Some(
                                "expected a BCP 47 tag such as \"en\", \"es-MX\" or \"zh-TW\""
                                    .to_string(),
                            ),
                        );
                    }
                    let Some(path) = self.asset(file) else {
                        continue;
                    };
                    if let Some(cues) = self.caption_file(&path, file, duration) {
                        joined.insert(
                            loc.value.clone(),
                            cues.iter()
                                .map(|c| c.text.as_str())
                                .collect::<Vec<_>>()
                                .join("\n"),
                        );
                        captions.insert(loc.value.clone(), cues);
                    }
                }
                if !joined.is_empty() {
                    copies.push((c.span.clone(), joined));
                }
            }
            self.check_copy(&id, &copies, regions);
            let animation = s
                .animation
                .as_ref()
                .and_then(|a| {
                    self.enum_val(
                        a,
                        "animation",
                        &[
                            ("none", Animation::None),
                            ("fade", Animation::Fade),
                            ("pop", Animation::Pop),
                            ("slide", Animation::Slide),
                            ("typewriter", Animation::Typewriter),
                            ("karaoke", Animation::Karaoke),
                        ],
                    )
                })
                .unwrap_or(Animation::None);
            let animation_time = self.num(
                s.animation_time.as_ref(),
                "animation_time",
                0.3,
                |x| x > 0.0 && x <= 5.0,
                "seconds, 0 < animation_time <= 5",
            );
            let highlight = self.color(s.highlight.as_ref(), Rgba([0xff, 0xd5, 0x4f, 255]));

            let fonts = match &s.font {
                Some(f) if f.value.is_empty() => {
                    self.err(
                        &f.span,
                        "font list is empty",
                        Some(
                            "name at least one family, or remove `font` for the default Noto set"
                                .to_string(),
                        ),
                    );
                    Vec::new()
                }
                Some(f) => f.value.iter().map(|x| x.value.clone()).collect(),
                None => DEFAULT_FONTS.iter().map(|s| s.to_string()).collect(),
            };
            let size = self.num(
                s.size.as_ref(),
                "size",
                0.06,
                |x| x > 0.0 && x <= 0.5,
                "a fraction of the canvas width, 0 < size <= 0.5",
            ) as f32;
            let min_size = self.num(
                s.min_size.as_ref(),
                "min_size",
                f64::from(size) / 2.0,
                |x| x > 0.0 && x <= 0.5,
                "a fraction of the canvas width, 0 < min_size <= 0.5",
            ) as f32;
            if let Some(m) = &s.min_size {
                if m.value as f32 > size {
                    self.err(
                        &m.span,
                        format!("min_size {} is larger than size {size}", m.value),
                        Some("min_size is how far the fitter may shrink the text".to_string()),
                    );
                }
            }
            let color = self.color(s.color.as_ref(), Rgba::WHITE);
            let outline = s.outline.as_ref().map(|o| Outline {
                color: self.color(o.color.as_ref(), Rgba::BLACK),
                width: self.num(
                    o.width.as_ref(),
                    "outline width",
                    2.0,
                    |w| (0.0..=20.0).contains(&w),
                    "pixels in 0..=20",
                ) as f32,
            });
            let shadow = self.shadow(s.shadow.as_ref());
            let background = s.box_style.as_ref().map(|b| BoxStyle {
                color: self.color(b.color.as_ref(), Rgba([0, 0, 0, 160])),
                padding: self.num(
                    b.padding.as_ref(),
                    "padding",
                    0.3,
                    |p| (0.0..=2.0).contains(&p),
                    "a fraction of the font size, 0..=2",
                ) as f32,
            });
            let position = s
                .position
                .as_ref()
                .and_then(|p| {
                    self.enum_val(
                        p,
                        "position",
                        &[
                            ("top", VPos::Top),
                            ("center", VPos::Center),
                            ("bottom", VPos::Bottom),
                        ],
                    )
                })
                .unwrap_or(VPos::Bottom);
            out.push(Subtitle {
                id,
                text,
                lines,
                captions,
                animation,
                animation_time,
                highlight,
                fonts,
                size,
                min_size,
                color,
                outline,
                shadow,
                background,
                position,
            });
        }
        out
    }

    /// Reads and parses one caption file. Problems inside it name the file and its line;
    /// `file` (the template's reference) is where they sort.
    fn caption_file(&mut self, path: &Path, file: &S<String>, duration: f64) -> Option<Vec<Cue>> {
        // Diagnostics show the path as the template wrote it, joined to its directory.
        let shown = self.root.join(&file.value);
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.err(
                    &file.span,
                    format!("cannot read caption file `{}`: {e}", file.value),
                    None,
                );
                return None;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
                self.dx.in_file(
                    Severity::Error,
                    &shown,
                    line,
                    file.span.clone(),
                    "caption file is not UTF-8",
                    Some("re-save it as UTF-8 (with or without BOM)".to_string()),
                );
                return None;
            }
        };
        let cues = match capfile::parse(&text, Format::detect(path, &text)) {
            Ok(c) => c,
            Err(e) => {
                self.dx.in_file(
                    Severity::Error,
                    &shown,
                    e.line,
                    file.span.clone(),
                    e.message,
                    Some(
                        "fix the cue; timings are HH:MM:SS,mmm in .srt and [HH:]MM:SS.mmm in .vtt"
                            .to_string(),
                    ),
                );
                return None;
            }
        };
        if cues.is_empty() {
            self.dx.in_file(
                Severity::Error,
                &shown,
                1,
                file.span.clone(),
                "caption file has no cues",
                Some("add at least one timed cue".to_string()),
            );
            return None;
        }
        let mut ok = true;
        for pair in cues.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if b.cue.start < a.cue.end - 1e-9 {
                ok = false;
                self.dx.in_file(
                    Severity::Error,
                    &shown,
                    b.line,
                    file.span.clone(),
                    format!(
                        "cue starts at {} s, before the previous cue (line {}) ends at {} s",
                        fmt_secs(b.cue.start),
                        a.line,
                        fmt_secs(a.cue.end)
                    ),
                    Some(
                        "captions of one subtitle show one at a time; make cues follow each other"
                            .to_string(),
                    ),
                );
            }
        }
        for c in &cues {
            if duration > 0.0 && c.cue.end > duration + 1e-9 {
                let (what, hint) = if c.cue.start >= duration {
                    ("never shows", "the cue starts after the video ends")
                } else {
                    (
                        "is cut short",
                        "the part after the end of the video is not shown",
                    )
                };
                self.dx.in_file(
                    Severity::Warning,
                    &shown,
                    c.line,
                    file.span.clone(),
                    format!(
                        "cue ends at {} s, after the video ends ({} s): it {what}",
                        fmt_secs(c.cue.end),
                        fmt_secs(duration)
                    ),
                    Some(hint.to_string()),
                );
            }
        }
        ok.then(|| cues.into_iter().map(|c| c.cue).collect())
    }

    /// Copy longer than a preset's title limit is a warning: the output is still valid, but
    /// the platform will cut it.
    fn copy_length(&mut self, id: &str, text: &S<LocaleText>, limits: &[(String, u32)]) {
        for (loc, copy) in &text.value {
            let n = copy.value.chars().count();
            for (preset, max) in limits {
                if n > *max as usize {
                    self.dx.warning(
                        copy.span.clone(),
                        format!("`{}` copy of subtitle `{id}` is {n} characters; preset `{preset}` allows {max}", loc.value),
                        Some("shorten it, or expect the platform to truncate it".to_string()),
                    );
                }
            }
        }
    }

    /// Every region's locale needs copy in every subtitle option: exactly, or through a fallback
    /// locale (a warning, since the region then sees another locale's text).
    fn check_copy(
        &mut self,
        id: &str,
        copies: &[(Range<usize>, BTreeMap<String, String>)],
        regions: &[Region],
    ) {
        for (span, map) in copies {
            self.check_locales(
                &Localised {
                    option: "subtitle option",
                    thing: "copy",
                    example: "\"…\"",
                },
                id,
                span,
                map,
                regions,
            );
        }
    }

    /// Every region finds an entry of `map` in its locale chain (as the renderer looks it up:
    /// locale, explicit fallbacks, bare language); a fallback hit is a warning, a miss an
    /// error — or, with `--allow-fallback`, a warning naming the default locale used instead.
    fn check_locales<V>(
        &mut self,
        what: &Localised<'_>,
        id: &str,
        span: &Range<usize>,
        map: &BTreeMap<String, V>,
        regions: &[Region],
    ) {
        let Localised {
            option,
            thing,
            example,
        } = what;
        if map.is_empty() {
            return;
        }
        // Regions sharing a locale (US, GB, CA → en) get one diagnostic, naming them all.
        let mut missing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut fallback: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
        for r in regions {
            if map.contains_key(&r.locale) {
                continue;
            }
            // Same order as the renderer's lookup: explicit fallbacks, then the bare
            // language (`zh-TW` → `zh`).
            let lang = r.locale.split_once('-').map(|(l, _)| l);
            match r
                .fallback
                .iter()
                .map(String::as_str)
                .chain(lang)
                .find(|f| map.contains_key(*f))
            {
                Some(f) => fallback
                    .entry((r.locale.as_str(), f))
                    .or_default()
                    .push(&r.code),
                None => missing.entry(&r.locale).or_default().push(&r.code),
            }
        }
        let have = map
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        for (locale, codes) in missing {
            let plural = if codes.len() == 1 { "" } else { "s" };
            match default_copy_locale(map).filter(|_| self.opts.allow_fallback) {
                Some(d) => self.dx.warning(
                    span.clone(),
                    format!(
                        "{option} `{id}` has no `{locale}` {thing} for region{plural} {}, nor a fallback; using the default `{d}` {thing} (--allow-fallback)",
                        codes.join(", ")
                    ),
                    Some(format!("add {locale} = {example} to localise it")),
                ),
                None => self.err(
                    span,
                    format!("{option} `{id}` has no `{locale}` {thing} for region{plural} {}", codes.join(", ")),
                    Some(format!(
                        "add {locale} = {example} (has: {have}), give the region a fallback locale in a [[region]] table, or pass --allow-fallback to use the `{}` {thing}",
                        default_copy_locale(map).unwrap_or("en")
                    )),
                ),
            }
        }
        for ((locale, fb), codes) in fallback {
            let plural = if codes.len() == 1 { "" } else { "s" };
            self.dx.warning(
                span.clone(),
                format!("{option} `{id}` has no `{locale}` {thing} for region{plural} {}; using the `{fb}` {thing}", codes.join(", ")),
                Some(format!("add {locale} = {example} to localise it")),
            );
        }
    }

    fn fades(
        &mut self,
        fade_in: Option<&S<f64>>,
        fade_out: Option<&S<f64>>,
        duration: f64,
        what: &str,
    ) -> (f64, f64) {
        let a = self.seconds(fade_in, "fade_in");
        let b = self.seconds(fade_out, "fade_out");
        if duration > 0.0 && a + b > duration + 1e-9 {
            let span = fade_out
                .or(fade_in)
                .map(|s| s.span.clone())
                .unwrap_or_default();
            self.err(
                &span,
                format!(
                    "{what}: fade_in + fade_out ({} s) is longer than the video ({} s)",
                    fmt_secs(a + b),
                    fmt_secs(duration)
                ),
                Some("shorten the fades".to_string()),
            );
        }
        (a, b)
    }

    fn effects(&mut self, pool: S<Vec<RawEffects>>, duration: f64) -> Vec<Effects> {
        let Some(ids) = self.pool_ids("effects", &pool) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (e, id) in pool.value.iter().zip(ids) {
            let unit = |x: f64| (-1.0..=1.0).contains(&x);
            let grade = e.grade.as_ref().map(|g| Grade {
                brightness: self.num(
                    g.brightness.as_ref(),
                    "brightness",
                    0.0,
                    unit,
                    "-1..=1 (0 = unchanged)",
                ) as f32,
                contrast: self.num(
                    g.contrast.as_ref(),
                    "contrast",
                    1.0,
                    |x| (0.0..=4.0).contains(&x),
                    "0..=4 (1 = unchanged)",
                ) as f32,
                saturation: self.num(
                    g.saturation.as_ref(),
                    "saturation",
                    1.0,
                    |x| (0.0..=4.0).contains(&x),
                    "0..=4 (1 = unchanged, 0 = grey)",
                ) as f32,
                temperature: self.num(
                    g.temperature.as_ref(),
                    "temperature",
                    0.0,
                    unit,
                    "-1..=1 (0 = unchanged, positive = warmer)",
                ) as f32,
                tint: self.num(
                    g.tint.as_ref(),
                    "tint",
                    0.0,
                    unit,
                    "-1..=1 (0 = unchanged, positive = magenta, negative = green)",
                ) as f32,
            });
            let lut = e.lut.as_ref().and_then(|l| self.lut(l));
            let lut_strength = self.num(
                e.lut_strength.as_ref(),
                "lut_strength",
                1.0,
                |x| (0.0..=1.0).contains(&x),
                "0..=1 (1 = the LUT's full look)",
            ) as f32;
            if let (Some(s), None) = (&e.lut_strength, &e.lut) {
                self.err(
                    &s.span,
                    format!("effects `{id}`: lut_strength without a lut"),
                    Some("add lut = \"looks/name.cube\", or remove lut_strength".to_string()),
                );
            }
            let vignette = e.vignette.as_ref().map(|v| {
                self.required(
                    v.strength.as_ref(),
                    "strength",
                    &v.span,
                    "vignette",
                    "strength = 0.4",
                );
                Vignette {
                    strength: self.num(
                        v.strength.as_ref(),
                        "vignette strength",
                        0.0,
                        |x| (0.0..=1.0).contains(&x),
                        "0..=1 (1 = black corners)",
                    ) as f32,
                    radius: self.num(
                        v.radius.as_ref(),
                        "vignette radius",
                        0.75,
                        |x| (0.1..=1.5).contains(&x),
                        "0.1..=1.5 (1 = the frame's corners)",
                    ) as f32,
                    softness: self.num(
                        v.softness.as_ref(),
                        "vignette softness",
                        0.5,
                        |x| (0.0..=1.0).contains(&x),
                        "0..=1 (0 = hard edge)",
                    ) as f32,
                }
            });
            let blur = e.blur.as_ref().map(|b| {
                self.required(
                    b.radius.as_ref(),
                    "radius",
                    &b.span,
                    "blur",
                    "radius = 0.02",
                );
                Blur {
                    radius: self.num(
                        b.radius.as_ref(),
                        "blur radius",
                        0.0,
                        |x| (0.0..=0.1).contains(&x),
                        "0..=0.1 (a fraction of the canvas' shorter side)",
                    ) as f32,
                    target: b
                        .target
                        .as_ref()
                        .and_then(|t| {
                            self.enum_val(
                                t,
                                "blur target",
                                &[
                                    ("background", BlurTarget::Background),
                                    ("frame", BlurTarget::Frame),
                                ],
                            )
                        })
                        .unwrap_or(BlurTarget::Background),
                }
            });
            let grain = e.grain.as_ref().map(|g| {
                self.required(
                    g.amount.as_ref(),
                    "amount",
                    &g.span,
                    "grain",
                    "amount = 0.3",
                );
                let seed = match &g.seed {
                    Some(s) if s.value < 0 => {
                        self.err(
                            &s.span,
                            format!("grain seed {} is negative", s.value),
                            Some("expected an integer ≥ 0".to_string()),
                        );
                        0
                    }
                    Some(s) => s.value as u64,
                    None => 0,
                };
                Grain {
                    amount: self.num(
                        g.amount.as_ref(),
                        "grain amount",
                        0.0,
                        |x| (0.0..=1.0).contains(&x),
                        "0..=1",
                    ) as f32,
                    seed,
                    size: self.num(
                        g.size.as_ref(),
                        "grain size",
                        1.0,
                        |x| (0.5..=8.0).contains(&x),
                        "0.5..=8 (pixels at 1080 px width)",
                    ) as f32,
                }
            });
            let sharpen = e.sharpen.as_ref().map(|s| {
                self.required(
                    s.amount.as_ref(),
                    "amount",
                    &s.span,
                    "sharpen",
                    "amount = 0.5",
                );
                Sharpen {
                    amount: self.num(
                        s.amount.as_ref(),
                        "sharpen amount",
                        0.0,
                        |x| (0.0..=2.0).contains(&x),
                        "0..=2",
                    ) as f32,
                    radius: self.num(
                        s.radius.as_ref(),
                        "sharpen radius",
                        1.0,
                        |x| (0.5..=8.0).contains(&x),
                        "0.5..=8 (pixels at 1080 px width)",
                    ) as f32,
                }
            });
            let (fade_in, fade_out) = self.fades(
                e.fade_in.as_ref(),
                e.fade_out.as_ref(),
                duration,
                &format!("effects `{id}`"),
            );
            out.push(Effects {
                id,
                grade,
                lut,
                lut_strength,
                vignette,
                blur,
                grain,
                sharpen,
                fade_in,
                fade_out,
            });
        }
        out
    }

    /// A sub-table's key without a default.
    fn required<T>(
        &mut self,
        v: Option<&S<T>>,
        key: &str,
        table: &Range<usize>,
        what: &str,
        example: &str,
    ) {
        if v.is_none() {
            self.missing(
                key,
                table,
                format!("{what} needs `{key}`"),
                Some(format!("e.g. {what} = {{ {example} }}")),
            );
        }
    }

    /// A `.cube` file, parsed once per run however many options and overrides use it.
    /// Problems inside it name the file and its line; `file` is where they sort.
    fn lut(&mut self, file: &S<String>) -> Option<Arc<Lut>> {
        let path = self.asset(file)?;
        if let Some(l) = self.luts.get(&path) {
            return Some(l.clone());
        }
        match Lut::load(&path) {
            Ok(l) => {
                let l = Arc::new(l);
                self.luts.insert(path, l.clone());
                Some(l)
            }
            Err(e) => {
                let shown = self.root.join(&file.value);
                self.dx.in_file(
                    Severity::Error,
                    &shown,
                    e.line,
                    file.span.clone(),
                    format!("LUT: {}", e.message),
                    Some(e.hint),
                );
                None
            }
        }
    }

    fn audio(&mut self, pool: S<Vec<RawAudio>>, duration: f64, regions: &[Region]) -> Vec<Audio> {
        let Some(ids) = self.pool_ids("audio", &pool) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (a, id) in pool.value.iter().zip(ids) {
            let source = a.source.as_ref().and_then(|s| self.asset(s));
            let volume = self.num(
                a.volume.as_ref(),
                "volume",
                1.0,
                |v| (0.0..=4.0).contains(&v),
                "a linear gain in 0..=4",
            ) as f32;
            let start = self.seconds(a.start.as_ref(), "start");
            let (fade_in, fade_out) = self.fades(
                a.fade_in.as_ref(),
                a.fade_out.as_ref(),
                duration,
                &format!("audio `{id}`"),
            );
            if a.source.is_none() {
                for (key, span) in [
                    ("start", a.start.as_ref().map(|s| &s.span)),
                    ("loop", a.looped.as_ref().map(|l| &l.span)),
                ] {
                    if let Some(span) = span {
                        self.err(
                            span,
                            format!(
                                "`{key}` of audio `{id}` applies to music, and it has no `source`"
                            ),
                            Some("add source = \"…\", or remove it".to_string()),
                        );
                    }
                }
            }
            let mut voiceover = BTreeMap::new();
            if let Some(vo) = &a.voiceover {
                for (loc, file) in &vo.value {
                    if !valid_locale(&loc.value) {
                        self.err(
                            &loc.span,
                            format!("bad locale `{}`", loc.value),
                            Some(
                                "expected a BCP 47 tag such as \"en\", \"es-MX\" or \"zh-TW\""
                                    .to_string(),
                            ),
                        );
                    }
                    if let Some(path) = self.asset(file) {
                        voiceover.insert(loc.value.clone(), path);
                    }
                }
                if vo.value.is_empty() {
                    self.err(&vo.span, format!("audio `{id}` has an empty `voiceover` table"), Some("name a file per locale, e.g. voiceover = { en = \"vo/en.wav\" }, or remove it".to_string()));
                }
                let what = Localised {
                    option: "audio option",
                    thing: "voice-over",
                    example: "\"vo/….wav\"",
                };
                self.check_locales(&what, &id, &vo.span, &voiceover, regions);
            } else {
                for (key, span) in [
                    (
                        "voiceover_start",
                        a.voiceover_start.as_ref().map(|s| &s.span),
                    ),
                    (
                        "voiceover_volume",
                        a.voiceover_volume.as_ref().map(|s| &s.span),
                    ),
                    ("duck", a.duck.as_ref().map(|d| &d.span)),
                ] {
                    if let Some(span) = span {
                        self.err(
                            span,
                            format!(
                                "`{key}` of audio `{id}` applies to a voice-over, and it has none"
                            ),
                            Some(
                                "add voiceover = { en = \"vo/en.wav\" }, or remove it".to_string(),
                            ),
                        );
                    }
                }
            }
            let voiceover_start = self.seconds(a.voiceover_start.as_ref(), "voiceover_start");
            if let Some(s) = a
                .voiceover_start
                .as_ref()
                .filter(|_| duration > 0.0 && voiceover_start >= duration)
            {
                self.err(&s.span, format!("voice-over of audio `{id}` starts at {} s, when the video has ended ({} s)", fmt_secs(voiceover_start), fmt_secs(duration)), None);
            }
            let voiceover_volume = self.num(
                a.voiceover_volume.as_ref(),
                "voiceover_volume",
                1.0,
                |v| (0.0..=4.0).contains(&v),
                "a linear gain in 0..=4",
            ) as f32;
            let duck = if voiceover.is_empty() {
                None
            } else {
                let d = a.duck.as_ref();
                let dflt = Duck::default();
                let amount_db = self.num(
                    d.and_then(|d| d.amount_db.as_ref()),
                    "amount_db",
                    dflt.amount_db as f64,
                    |v| (-60.0..=0.0).contains(&v),
                    "dB in -60..=0 (0 = no ducking)",
                ) as f32;
                let attack = self.num(
                    d.and_then(|d| d.attack.as_ref()),
                    "attack",
                    dflt.attack as f64,
                    |v| (0.001..=2.0).contains(&v),
                    "seconds in 0.001..=2",
                ) as f32;
                let release = self.num(
                    d.and_then(|d| d.release.as_ref()),
                    "release",
                    dflt.release as f64,
                    |v| (0.001..=5.0).contains(&v),
                    "seconds in 0.001..=5",
                ) as f32;
                (amount_db < 0.0).then_some(Duck {
                    amount_db,
                    attack,
                    release,
                })
            };
            let mut sfx = Vec::new();
            for e in a.sfx.iter().flat_map(|l| &l.value) {
                let source = match &e.source {
                    Some(s) => self.asset(s),
                    None => {
                        self.missing(
                            "source",
                            &e.span,
                            format!("a sound effect of audio `{id}` has no `source`"),
                            Some("e.g. { source = \"sfx/whoosh.wav\", at = 3.0 }".to_string()),
                        );
                        None
                    }
                };
                let at = match &e.at {
                    Some(t) if duration > 0.0 && t.value >= duration => {
                        self.err(
                            &t.span,
                            format!(
                                "sound effect at {} s is after the video ends ({} s)",
                                fmt_secs(t.value),
                                fmt_secs(duration)
                            ),
                            Some("times are seconds from the start of the video".to_string()),
                        );
                        0.0
                    }
                    Some(t) => self.seconds(Some(t), "at"),
                    None => {
                        self.missing(
                            "at",
                            &e.span,
                            format!("a sound effect of audio `{id}` has no `at` time"),
                            Some("seconds into the video, e.g. at = 3.0".to_string()),
                        );
                        0.0
                    }
                };
                let volume = self.num(
                    e.volume.as_ref(),
                    "volume",
                    1.0,
                    |v| (0.0..=4.0).contains(&v),
                    "a linear gain in 0..=4",
                ) as f32;
                let scene = e.scene.as_ref().and_then(|s| {
                    if self.scene_ids.contains(&s.value) {
                        return Some(s.value.clone());
                    }
                    let hint = match did_you_mean(
                        &s.value,
                        self.scene_ids.iter().map(String::as_str),
                    ) {
                        Some(m) => {
                            format!("did you mean `{m}`? scenes: {}", self.scene_ids.join(", "))
                        }
                        None if self.scene_ids.is_empty() => {
                            "the template has no [[scene]]; use `at` alone (seconds of the video)"
                                .to_string()
                        }
                        None => format!("scenes: {}", self.scene_ids.join(", ")),
                    };
                    self.err(
                        &s.span,
                        format!(
                            "sound effect of audio `{id}` names unknown scene `{}`",
                            s.value
                        ),
                        Some(hint),
                    );
                    None
                });
                if let Some(source) = source {
                    sfx.push(Sfx {
                        source,
                        at,
                        volume,
                        scene,
                    });
                }
            }
            let looped = a.looped.as_ref().map(|l| l.value).unwrap_or(true);
            out.push(Audio {
                id,
                source,
                volume,
                start,
                fade_in,
                fade_out,
                looped,
                voiceover,
                voiceover_start,
                voiceover_volume,
                duck,
                sfx,
            });
        }
        out
    }

    fn variants(
        &mut self,
        raw: Option<RawVariants>,
        pools: &HashMap<Pool, Vec<String>>,
    ) -> VariantsSpec {
        let Some(v) = raw else {
            return VariantsSpec {
                orders: Vec::new(),
                strategy: Strategy::Full,
                limit: None,
                exclude: Vec::new(),
            };
        };
        #[derive(Clone, Copy, PartialEq)]
        enum K {
            Full,
            Sample,
        }
        let k = v
            .strategy
            .as_ref()
            .and_then(|s| self.enum_val(s, "strategy", &[("full", K::Full), ("sample", K::Sample)]))
            .unwrap_or(K::Full);
        let strategy = match k {
            K::Full => {
                for (key, s) in [("count", &v.count), ("seed", &v.seed)] {
                    if let Some(s) = s {
                        self.err(
                            &s.span,
                            format!("`{key}` only applies to strategy = \"sample\""),
                            Some("remove it, or set strategy = \"sample\"".to_string()),
                        );
                    }
                }
                Strategy::Full
            }
            K::Sample => {
                let count = match &v.count {
                    Some(c) if c.value < 1 => {
                        self.err(
                            &c.span,
                            format!("count {} must be at least 1", c.value),
                            None,
                        );
                        1
                    }
                    Some(c) => c.value as usize,
                    None => {
                        self.missing(
                            "count",
                            &v.span,
                            "missing required key `count` for strategy = \"sample\"",
                            Some("how many variants to draw, e.g. count = 12".to_string()),
                        );
                        1
                    }
                };
                let seed = match &v.seed {
                    Some(s) if s.value < 0 => {
                        self.err(
                            &s.span,
                            format!("seed {} must not be negative", s.value),
                            None,
                        );
                        0
                    }
                    Some(s) => s.value as u64,
                    None => 0,
                };
                Strategy::Sample { count, seed }
            }
        };
        let limit = v.limit.as_ref().and_then(|l| {
            if l.value < 1 {
                self.err(
                    &l.span,
                    format!("limit {} must be at least 1", l.value),
                    Some("remove `limit` to keep every variant".to_string()),
                );
                None
            } else {
                Some(l.value as usize)
            }
        });
        let mut exclude = Vec::new();
        for e in &v.exclude {
            if e.value.is_empty() {
                self.err(
                    &e.span,
                    "empty exclude rule would exclude every variant",
                    Some("name at least one pool, e.g. { background = \"beach\" }".to_string()),
                );
                continue;
            }
            let mut when = Vec::new();
            for (pool, id) in &e.value {
                let Some(p) = Pool::from_name(&pool.value) else {
                    let names = Pool::ALL.map(Pool::name);
                    let hint = match did_you_mean(&pool.value, names) {
                        Some(s) => format!("did you mean `{s}`? pools: {}", names.join(", ")),
                        None => format!("pools: {}", names.join(", ")),
                    };
                    self.err(
                        &pool.span,
                        format!("unknown pool `{}` in exclude", pool.value),
                        Some(hint),
                    );
                    continue;
                };
                let ids = &pools[&p];
                if !ids.contains(&id.value) {
                    let mut msg = format!(
                        "exclude names {} `{}`, which is not in the [[{}]] pool",
                        p.name(),
                        id.value,
                        p.name()
                    );
                    if let Some(s) = did_you_mean(&id.value, ids.iter().map(String::as_str)) {
                        msg.push_str(&format!("; did you mean `{s}`?"));
                    }
                    let hint = if ids.is_empty() {
                        "that pool has no options".to_string()
                    } else {
                        format!("ids: {}", ids.join(", "))
                    };
                    self.err(&id.span, msg, Some(hint));
                    continue;
                }
                when.push((p, id.value.clone()));
            }
            exclude.push(Exclude { when });
        }
        VariantsSpec {
            orders: Vec::new(),
            strategy,
            limit,
            exclude,
        }
    }

    fn dedup(&mut self, raw: Option<RawDedup>) -> DedupSpec {
        let Some(d) = raw else {
            return DedupSpec::default();
        };
        let policy = d
            .policy
            .as_ref()
            .and_then(|p| {
                self.enum_val(
                    p,
                    "dedup policy",
                    &[
                        ("reject", DedupPolicy::Reject),
                        ("warn", DedupPolicy::Warn),
                        ("off", DedupPolicy::Off),
                    ],
                )
            })
            .unwrap_or(DedupPolicy::Warn);
        let library = d.library.as_ref().and_then(|l| self.output_path(l));
        let exempt_after_days = match &d.exempt_after_days {
            Some(x) if x.value < 0 || x.value > 36_500 => {
                self.err(
                    &x.span,
                    format!("exempt_after_days {} is out of range", x.value),
                    Some("expected days in 0..=36500 (the published rule uses 180)".to_string()),
                );
                180
            }
            Some(x) => x.value as u32,
            None => 180,
        };
        DedupSpec {
            policy,
            library,
            exempt_after_days,
        }
    }

    fn reject_url(&mut self, v: &S<String>) -> bool {
        if looks_like_url(&v.value) {
            self.err(&v.span, format!("`{}` is a URL or stream, not a file", v.value), Some("download it next to the template and use a relative path; network inputs are not allowed".to_string()));
            return true;
        }
        false
    }

    /// An input file: relative to the template's directory, existing, a regular file, and
    /// (unless allowed) inside that directory after symlinks are resolved.
    fn asset(&mut self, v: &S<String>) -> Option<PathBuf> {
        if self.reject_url(v) {
            return None;
        }
        if v.value.trim().is_empty() {
            self.err(
                &v.span,
                "empty path",
                Some("give a path relative to the template's directory".to_string()),
            );
            return None;
        }
        let path = self.root.join(&v.value);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(_) => {
                self.err(
                    &v.span,
                    format!("missing asset `{}`", v.value),
                    Some(format!(
                        "looked for {}; paths are relative to the template's directory",
                        path.display()
                    )),
                );
                return None;
            }
        };
        if !meta.is_file() {
            self.err(
                &v.span,
                format!("asset `{}` is not a regular file", v.value),
                Some(format!("{} is a directory or device", path.display())),
            );
            return None;
        }
        let canon = path.canonicalize().unwrap_or(path);
        if !self.opts.allow_outside_root && !canon.starts_with(&self.canon_root) {
            self.err(
                &v.span,
                format!("asset `{}` is outside the template's directory", v.value),
                Some(format!(
                    "it resolves to {}; move it under {} or pass --allow-outside-root",
                    canon.display(),
                    self.canon_root.display()
                )),
            );
            return None;
        }
        Some(canon)
    }

    /// A file we will create (the dedup library): its directory must exist and stay inside root.
    fn output_path(&mut self, v: &S<String>) -> Option<PathBuf> {
        if self.reject_url(v) {
            return None;
        }
        let path = self.root.join(&v.value);
        let Some(file_name) = path.file_name().map(|f| f.to_os_string()) else {
            self.err(
                &v.span,
                format!("`{}` does not name a file", v.value),
                Some("e.g. library = \"library.db\"".to_string()),
            );
            return None;
        };
        let parent = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        let Ok(canon_parent) = parent.canonicalize() else {
            self.err(
                &v.span,
                format!("the directory of `{}` does not exist", v.value),
                Some(format!("create {} first", parent.display())),
            );
            return None;
        };
        if !self.opts.allow_outside_root && !canon_parent.starts_with(&self.canon_root) {
            self.err(
                &v.span,
                format!("library `{}` is outside the template's directory", v.value),
                Some(format!(
                    "move it under {} or pass --allow-outside-root",
                    self.canon_root.display()
                )),
            );
            return None;
        }
        Some(canon_parent.join(file_name))
    }
}

/// One option as a pool of one, so a pool validator can check it.
fn single<T>(x: T, span: &Range<usize>) -> S<Vec<T>> {
    S {
        value: vec![x],
        span: span.clone(),
    }
}

/// Moves each `[[region]]`'s overrides out of the raw template, keyed by code. A code defined
/// twice is an error already; only its first definition counts.
fn take_overrides(defs: &mut [RawRegion]) -> Vec<(String, Vec<RawOverride>)> {
    let mut out: Vec<(String, Vec<RawOverride>)> = Vec::new();
    for d in defs {
        let Some(code) = d.code.as_ref().filter(|c| valid_region_code(&c.value)) else {
            continue;
        };
        if !out.iter().any(|(c, _)| *c == code.value) {
            out.push((code.value.clone(), std::mem::take(&mut d.overrides)));
        }
    }
    out
}

fn braces() -> String {
    PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{p}}}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn fmt_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_region_code(s: &str) -> bool {
    (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn valid_locale(s: &str) -> bool {
    let mut parts = s.split('-');
    let lang = parts.next().unwrap_or("");
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `scheme:` with a scheme of 2+ letters (so `C:\…` stays a path), or `//host/…`.
fn looks_like_url(s: &str) -> bool {
    if s.starts_with("//") || s.contains("://") {
        return true;
    }
    match s.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() >= 2
                && scheme
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic())
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_protocols_are_recognised() {
        for s in [
            "http://x/a.mp4",
            "rtmp://live/x",
            "concat:a.mp4|b.mp4",
            "pipe:0",
            "file:///etc/passwd",
            "//server/share/a.png",
        ] {
            assert!(looks_like_url(s), "{s}");
        }
        for s in ["samples/a.png", "C:\\media\\a.png", "../a.png", "a:b/c.png"] {
            // `a:b` has a one-letter scheme, like a drive letter, so it is a path.
            assert!(!looks_like_url(s), "{s}");
        }
    }

    #[test]
    fn locales_and_directions() {
        assert!(valid_locale("en") && valid_locale("es-MX") && valid_locale("zh-Hant-TW"));
        assert!(!valid_locale("EN") && !valid_locale("e") && !valid_locale("en_US"));
        assert_eq!(direction_of("ar"), Direction::Rtl);
        assert_eq!(direction_of("he-IL"), Direction::Rtl);
        assert_eq!(direction_of("en"), Direction::Ltr);
    }
}
