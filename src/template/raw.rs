//! The template as written: TOML → `RawTemplate`, every value with its byte span.
//!
//! We walk a `toml_edit` document ourselves instead of deriving serde: serde stops at the first
//! problem, and we want every unknown key and wrong type in one run. This layer checks only
//! structure (known keys, value types, required keys); meaning (enums, colours, paths, presets,
//! cross-references) is judged in `validate.rs`.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::diag::{did_you_mean, Diagnostic, Diagnostics};

mod scenes;
pub use scenes::*;

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Range<usize>,
}

pub type S<T> = Spanned<T>;

/// Locale → copy, in file order; a plain string is stored under `en`.
pub type LocaleText = Vec<(S<String>, S<String>)>;
/// Pool name → option id, as in `exclude = [{ background = "beach" }]` and `tracking`.
pub type Pairs = Vec<(S<String>, S<String>)>;

#[derive(Debug, Default)]
pub struct RawTemplate {
    /// Span of the whole document, for "missing section" errors.
    pub doc_span: Range<usize>,
    pub template: Option<RawHeader>,
    pub output: Option<RawOutput>,
    pub regions: Vec<RawRegion>,
    pub variants: Option<RawVariants>,
    /// `None` = pool absent; `Some(empty)` = written but empty (an error).
    pub background: Option<S<Vec<RawBackground>>>,
    pub product: Option<S<Vec<RawProduct>>>,
    pub subtitle: Option<S<Vec<RawSubtitle>>>,
    pub effects: Option<S<Vec<RawEffects>>>,
    pub audio: Option<S<Vec<RawAudio>>>,
    pub badge: Option<S<Vec<RawBadge>>>,
    pub end_card: Option<S<Vec<RawEndCard>>>,
    pub scene: Option<S<Vec<RawScene>>>,
    pub dedup: Option<RawDedup>,
}

#[derive(Debug)]
pub struct RawHeader {
    pub span: Range<usize>,
    pub name: Option<S<String>>,
    pub version: Option<S<i64>>,
    pub kind: Option<S<String>>,
    pub duration: Option<S<f64>>,
    pub fps: Option<S<i64>>,
    pub poster_time: Option<S<f64>>,
    /// Directory (relative to the template's) that asset paths may not escape.
    pub root: Option<S<String>>,
}

#[derive(Debug)]
pub struct RawOutput {
    pub span: Range<usize>,
    pub presets: Option<S<Vec<S<String>>>>,
    pub regions: Option<S<Vec<S<String>>>>,
    pub name: Option<S<String>>,
    pub image_name: Option<S<String>>,
    pub tracking: Option<S<Pairs>>,
    pub landing_url: Option<S<String>>,
}

#[derive(Debug)]
pub struct RawRegion {
    pub span: Range<usize>,
    pub code: Option<S<String>>,
    pub locale: Option<S<String>>,
    pub fallback: Option<S<Vec<S<String>>>>,
    pub direction: Option<S<String>>,
    /// `[region.override.POOL.ID]` tables, in file order. When a region overrides any
    /// subtitle option, every other subtitle option gets a stand-in entry (`explicit: false`)
    /// so the region's copy is checked option by option against what it will really show.
    pub overrides: Vec<RawOverride>,
}

/// Pools a `[[region]]` may override, in the order docs/TEMPLATE.md lists them.
pub const OVERRIDE_POOLS: &[&str] = &["background", "product", "subtitle", "effects", "audio"];

/// One `[region.override.POOL.ID]` table, already merged over the option it names.
#[derive(Debug)]
pub struct RawOverride {
    /// The override table's header (or inline value): blamed for the merged option as a whole.
    pub span: Range<usize>,
    /// Spans of the override's own entries (key through value); a diagnostic inside one is
    /// about the override's own text and keeps its position.
    pub own: Vec<Range<usize>>,
    /// Span the pool option's own diagnostics use for the whole option (its header).
    pub base_span: Range<usize>,
    /// Pool name, one of `OVERRIDE_POOLS`.
    pub pool: &'static str,
    /// The option id as the override names it.
    pub id: S<String>,
    /// Position of the option in its pool, the same index the validated pool uses.
    pub index: usize,
    /// `false` for a stand-in (see `RawRegion::overrides`): only its copy checks matter.
    pub explicit: bool,
    pub option: RawOverridden,
}

/// The option as written (read a second time, so validation can tell which diagnostics the
/// override introduces) and the option with the override's keys on top.
// A template has a handful of overrides, each moved once into validation: boxing the
// options would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RawOverridden {
    Background(RawBackground, RawBackground),
    Product(RawProduct, RawProduct),
    Subtitle(RawSubtitle, RawSubtitle),
    Effects(RawEffects, RawEffects),
    Audio(RawAudio, RawAudio),
}

#[derive(Debug)]
pub struct RawVariants {
    pub span: Range<usize>,
    pub strategy: Option<S<String>>,
    pub count: Option<S<i64>>,
    pub seed: Option<S<i64>>,
    pub limit: Option<S<i64>>,
    pub exclude: Vec<S<Pairs>>,
    pub orders: Option<RawOrders>,
}

#[derive(Debug)]
pub struct RawGradient {
    pub span: Range<usize>,
    pub from: Option<S<String>>,
    pub to: Option<S<String>>,
    pub angle: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawBackground {
    pub span: Range<usize>,
    pub id: Option<S<String>>,
    pub color: Option<S<String>>,
    pub gradient: Option<RawGradient>,
    pub image: Option<S<String>>,
    pub video: Option<S<String>>,
    pub looped: Option<S<bool>>,
    pub start: Option<S<f64>>,
    pub fit: Option<S<String>>,
    pub pad: Option<S<String>>,
    pub motion: Option<RawKenBurns>,
}

#[derive(Debug)]
pub struct RawShadow {
    pub span: Range<usize>,
    pub color: Option<S<String>>,
    pub offset: Option<S<(f64, f64)>>,
    pub blur: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawProduct {
    pub span: Range<usize>,
    pub id: Option<S<String>>,
    pub source: Option<S<String>>,
    pub anchor: Option<S<String>>,
    pub scale: Option<S<f64>>,
    pub offset: Option<S<(f64, f64)>>,
    pub rotation: Option<S<f64>>,
    pub shadow: Option<RawShadow>,
    pub motion: Option<RawMotion>,
    pub keyframes: Option<S<Vec<RawKeyframe>>>,
    pub parallax: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawLine {
    pub span: Range<usize>,
    pub start: Option<S<f64>>,
    pub end: Option<S<f64>>,
    pub text: Option<S<LocaleText>>,
}

#[derive(Debug)]
pub struct RawOutline {
    pub span: Range<usize>,
    pub color: Option<S<String>>,
    pub width: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawBox {
    pub span: Range<usize>,
    pub color: Option<S<String>>,
    pub padding: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawSubtitle {
    pub span: Range<usize>,
    pub id: Option<S<String>>,
    pub text: Option<S<LocaleText>>,
    pub lines: Option<S<Vec<RawLine>>>,
    /// Locale → caption file path (`.srt`/`.vtt`); a plain string means `en`.
    pub captions: Option<S<LocaleText>>,
    pub animation: Option<S<String>>,
    pub animation_time: Option<S<f64>>,
    pub highlight: Option<S<String>>,
    pub font: Option<S<Vec<S<String>>>>,
    pub size: Option<S<f64>>,
    pub min_size: Option<S<f64>>,
    pub color: Option<S<String>>,
    pub outline: Option<RawOutline>,
    pub shadow: Option<RawShadow>,
    pub box_style: Option<RawBox>,
    pub position: Option<S<String>>,
}

#[derive(Debug)]
pub struct RawGrade {
    pub span: Range<usize>,
    pub brightness: Option<S<f64>>,
    pub contrast: Option<S<f64>>,
    pub saturation: Option<S<f64>>,
    pub temperature: Option<S<f64>>,
    pub tint: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawVignette {
    pub span: Range<usize>,
    pub strength: Option<S<f64>>,
    pub radius: Option<S<f64>>,
    pub softness: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawBlur {
    pub span: Range<usize>,
    pub radius: Option<S<f64>>,
    pub target: Option<S<String>>,
}

#[derive(Debug)]
pub struct RawGrain {
    pub span: Range<usize>,
    pub amount: Option<S<f64>>,
    pub seed: Option<S<i64>>,
    pub size: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawSharpen {
    pub span: Range<usize>,
    pub amount: Option<S<f64>>,
    pub radius: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawEffects {
    pub span: Range<usize>,
    pub id: Option<S<String>>,
    pub grade: Option<RawGrade>,
    pub lut: Option<S<String>>,
    pub lut_strength: Option<S<f64>>,
    pub vignette: Option<RawVignette>,
    pub blur: Option<RawBlur>,
    pub grain: Option<RawGrain>,
    pub sharpen: Option<RawSharpen>,
    pub fade_in: Option<S<f64>>,
    pub fade_out: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawAudio {
    pub span: Range<usize>,
    pub id: Option<S<String>>,
    pub source: Option<S<String>>,
    pub volume: Option<S<f64>>,
    pub start: Option<S<f64>>,
    pub fade_in: Option<S<f64>>,
    pub fade_out: Option<S<f64>>,
    pub looped: Option<S<bool>>,
    /// Locale → voice-over file, in file order.
    pub voiceover: Option<S<LocaleText>>,
    pub voiceover_start: Option<S<f64>>,
    pub voiceover_volume: Option<S<f64>>,
    pub duck: Option<RawDuck>,
    pub sfx: Option<S<Vec<RawSfx>>>,
}

#[derive(Debug)]
pub struct RawDuck {
    pub span: Range<usize>,
    pub amount_db: Option<S<f64>>,
    pub attack: Option<S<f64>>,
    pub release: Option<S<f64>>,
}

#[derive(Debug)]
pub struct RawSfx {
    pub span: Range<usize>,
    pub source: Option<S<String>>,
    pub at: Option<S<f64>>,
    pub volume: Option<S<f64>>,
    pub scene: Option<S<String>>,
}

#[derive(Debug)]
pub struct RawDedup {
    pub span: Range<usize>,
    pub policy: Option<S<String>>,
    pub library: Option<S<String>>,
    pub exempt_after_days: Option<S<i64>>,
}

/// What every pool option has: the span to blame and its `id`.
pub trait RawOption {
    fn span(&self) -> &Range<usize>;
    fn id(&self) -> Option<&S<String>>;
}

macro_rules! raw_option {
    ($($t:ty),*) => {$(
        impl RawOption for $t {
            fn span(&self) -> &Range<usize> {
                &self.span
            }
            fn id(&self) -> Option<&S<String>> {
                self.id.as_ref()
            }
        }
    )*};
}

raw_option!(
    RawBackground,
    RawProduct,
    RawSubtitle,
    RawEffects,
    RawAudio,
    RawBadge,
    RawEndCard,
    RawScene
);

/// Top-level keys, in the order docs/TEMPLATE.md documents them.
pub const TOP_KEYS: &[&str] = &[
    "template",
    "output",
    "region",
    "variants",
    "scene",
    "background",
    "product",
    "subtitle",
    "effects",
    "badge",
    "audio",
    "end_card",
    "dedup",
];

/// Parses TOML text; a syntax error becomes one diagnostic at its position.
pub fn parse(text: &str, dx: &mut Diagnostics) -> Option<RawTemplate> {
    let doc = match toml_edit::ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            // An unterminated string's span runs to the next line; one line reads better.
            let line_end = text[span.start.min(text.len())..]
                .find('\n')
                .map(|n| span.start + n)
                .unwrap_or(text.len());
            let span = span.start..span.end.min(line_end).max(span.start);
            // toml_edit's message is multi-line prose ending in what it expected; keep it whole.
            let message = e.message().trim().replace('\n', "; ");
            let hint = syntax_hint(&message);
            dx.error(
                span,
                format!("malformed TOML: {message}"),
                Some(hint.into()),
            );
            return None;
        }
    };
    let root = Obj {
        t: doc.as_table(),
        span: 0..text.len(),
        ctx: String::from("the template"),
    };
    let mut raw = RawTemplate {
        doc_span: 0..0,
        ..RawTemplate::default()
    };
    root.keys(dx, TOP_KEYS);
    raw.template = root.table(dx, "template").map(|t| {
        t.keys(
            dx,
            &[
                "name",
                "version",
                "kind",
                "duration",
                "fps",
                "poster_time",
                "root",
            ],
        );
        RawHeader {
            span: t.span.clone(),
            name: t.str(dx, "name"),
            version: t.int(dx, "version"),
            kind: t.str(dx, "kind"),
            duration: t.num(dx, "duration"),
            fps: t.int(dx, "fps"),
            poster_time: t.num(dx, "poster_time"),
            root: t.str(dx, "root"),
        }
    });
    raw.output = root.table(dx, "output").map(|t| {
        t.keys(
            dx,
            &[
                "presets",
                "regions",
                "name",
                "image_name",
                "tracking",
                "landing_url",
            ],
        );
        RawOutput {
            span: t.span.clone(),
            presets: t.str_list(dx, "presets"),
            regions: t.str_list(dx, "regions"),
            name: t.str(dx, "name"),
            image_name: t.str(dx, "image_name"),
            tracking: t.table(dx, "tracking").map(|tr| S {
                span: tr.span.clone(),
                value: tr.str_pairs(dx),
            }),
            landing_url: t.str(dx, "landing_url"),
        }
    });
    if let Some(regions) = root.pool(dx, "region") {
        raw.regions = regions
            .value
            .into_iter()
            .map(|t| read_region(&t, &root, dx))
            .collect();
    }
    raw.variants = root.table(dx, "variants").map(|t| {
        t.keys(
            dx,
            &["strategy", "count", "seed", "limit", "exclude", "orders"],
        );
        let mut exclude = Vec::new();
        if let Some(list) = t.table_list(dx, "exclude") {
            for e in list.value {
                exclude.push(S {
                    span: e.span.clone(),
                    value: e.str_pairs(dx),
                });
            }
        }
        RawVariants {
            span: t.span.clone(),
            strategy: t.str(dx, "strategy"),
            count: t.int(dx, "count"),
            seed: t.int(dx, "seed"),
            limit: t.int(dx, "limit"),
            exclude,
            orders: scenes::read_orders(&t, dx),
        }
    });
    raw.background = root
        .pool(dx, "background")
        .map(|p| p.map(|t| read_background(&t, dx)));
    raw.product = root
        .pool(dx, "product")
        .map(|p| p.map(|t| read_product(&t, dx)));
    raw.subtitle = root
        .pool(dx, "subtitle")
        .map(|p| p.map(|t| read_subtitle(&t, dx)));
    raw.effects = root
        .pool(dx, "effects")
        .map(|p| p.map(|t| read_effects(&t, dx)));
    raw.audio = root
        .pool(dx, "audio")
        .map(|p| p.map(|t| read_audio(&t, dx)));
    raw.badge = root
        .pool(dx, "badge")
        .map(|p| p.map(|t| scenes::read_badge(&t, dx)));
    raw.end_card = root
        .pool(dx, "end_card")
        .map(|p| p.map(|t| scenes::read_end_card(&t, dx)));
    raw.scene = root
        .pool(dx, "scene")
        .map(|p| p.map(|t| scenes::read_scene(&t, dx)));
    raw.dedup = root.table(dx, "dedup").map(|t| {
        t.keys(dx, &["policy", "library", "exempt_after_days"]);
        RawDedup {
            span: t.span.clone(),
            policy: t.str(dx, "policy"),
            library: t.str(dx, "library"),
            exempt_after_days: t.int(dx, "exempt_after_days"),
        }
    });
    Some(raw)
}

/// A concrete next step for the common TOML mistakes.
fn syntax_hint(message: &str) -> &'static str {
    if message.contains("duplicate key") {
        "each key and [section] may appear once; remove or rename the repeat (use [[name]] for a list of tables)"
    } else if message.contains("invalid basic string") || message.contains("invalid literal string")
    {
        "close the string on the same line; use \"\"\" … \"\"\" for text spanning lines"
    } else if message.contains("invalid string") {
        "put text values in quotes, e.g. name = \"sneaker-launch\""
    } else if message.contains("table header") {
        "write section headers as [name] or [[name]]"
    } else {
        "check quotes, brackets, commas and `=` on this line"
    }
}

fn read_background(t: &Obj<'_>, dx: &mut Diagnostics) -> RawBackground {
    t.keys(
        dx,
        &[
            "id", "color", "gradient", "image", "video", "loop", "start", "fit", "pad", "motion",
        ],
    );
    RawBackground {
        span: t.span.clone(),
        id: t.str(dx, "id"),
        color: t.str(dx, "color"),
        gradient: t.table(dx, "gradient").map(|g| {
            g.keys(dx, &["from", "to", "angle"]);
            RawGradient {
                span: g.span.clone(),
                from: g.str(dx, "from"),
                to: g.str(dx, "to"),
                angle: g.num(dx, "angle"),
            }
        }),
        image: t.str(dx, "image"),
        video: t.str(dx, "video"),
        looped: t.bool(dx, "loop"),
        start: t.num(dx, "start"),
        fit: t.str(dx, "fit"),
        pad: t.str(dx, "pad"),
        motion: scenes::read_ken_burns(t, dx),
    }
}

fn read_effects(t: &Obj<'_>, dx: &mut Diagnostics) -> RawEffects {
    t.keys(
        dx,
        &[
            "id",
            "grade",
            "lut",
            "lut_strength",
            "vignette",
            "blur",
            "grain",
            "sharpen",
            "fade_in",
            "fade_out",
        ],
    );
    RawEffects {
        span: t.span.clone(),
        id: t.str(dx, "id"),
        grade: t.table(dx, "grade").map(|g| {
            g.keys(
                dx,
                &[
                    "brightness",
                    "contrast",
                    "saturation",
                    "temperature",
                    "tint",
                ],
            );
            RawGrade {
                span: g.span.clone(),
                brightness: g.num(dx, "brightness"),
                contrast: g.num(dx, "contrast"),
                saturation: g.num(dx, "saturation"),
                temperature: g.num(dx, "temperature"),
                tint: g.num(dx, "tint"),
            }
        }),
        lut: t.str(dx, "lut"),
        lut_strength: t.num(dx, "lut_strength"),
        vignette: t.table(dx, "vignette").map(|v| {
            v.keys(dx, &["strength", "radius", "softness"]);
            RawVignette {
                span: v.span.clone(),
                strength: v.num(dx, "strength"),
                radius: v.num(dx, "radius"),
                softness: v.num(dx, "softness"),
            }
        }),
        blur: t.table(dx, "blur").map(|b| {
            b.keys(dx, &["radius", "target"]);
            RawBlur {
                span: b.span.clone(),
                radius: b.num(dx, "radius"),
                target: b.str(dx, "target"),
            }
        }),
        grain: t.table(dx, "grain").map(|g| {
            g.keys(dx, &["amount", "seed", "size"]);
            RawGrain {
                span: g.span.clone(),
                amount: g.num(dx, "amount"),
                seed: g.int(dx, "seed"),
                size: g.num(dx, "size"),
            }
        }),
        sharpen: t.table(dx, "sharpen").map(|s| {
            s.keys(dx, &["amount", "radius"]);
            RawSharpen {
                span: s.span.clone(),
                amount: s.num(dx, "amount"),
                radius: s.num(dx, "radius"),
            }
        }),
        fade_in: t.num(dx, "fade_in"),
        fade_out: t.num(dx, "fade_out"),
    }
}

fn read_audio(t: &Obj<'_>, dx: &mut Diagnostics) -> RawAudio {
    t.keys(
        dx,
        &[
            "id",
            "source",
            "volume",
            "start",
            "fade_in",
            "fade_out",
            "loop",
            "voiceover",
            "voiceover_start",
            "voiceover_volume",
            "duck",
            "sfx",
        ],
    );
    RawAudio {
        span: t.span.clone(),
        id: t.str(dx, "id"),
        source: t.str(dx, "source"),
        volume: t.num(dx, "volume"),
        start: t.num(dx, "start"),
        fade_in: t.num(dx, "fade_in"),
        fade_out: t.num(dx, "fade_out"),
        looped: t.bool(dx, "loop"),
        // Same shape as copy: a plain path means `en`.
        voiceover: t.text(dx, "voiceover"),
        voiceover_start: t.num(dx, "voiceover_start"),
        voiceover_volume: t.num(dx, "voiceover_volume"),
        duck: t.table(dx, "duck").map(|d| {
            d.keys(dx, &["amount_db", "attack", "release"]);
            RawDuck {
                span: d.span.clone(),
                amount_db: d.num(dx, "amount_db"),
                attack: d.num(dx, "attack"),
                release: d.num(dx, "release"),
            }
        }),
        sfx: t.table_list(dx, "sfx").map(|l| {
            l.map(|e| {
                e.keys(dx, &["source", "at", "volume", "scene"]);
                RawSfx {
                    span: e.span.clone(),
                    source: e.str(dx, "source"),
                    at: e.num(dx, "at"),
                    volume: e.num(dx, "volume"),
                    scene: e.str(dx, "scene"),
                }
            })
        }),
    }
}

fn read_shadow(t: &Obj<'_>, dx: &mut Diagnostics) -> Option<RawShadow> {
    t.table(dx, "shadow").map(|s| {
        s.keys(dx, &["color", "offset", "blur"]);
        RawShadow {
            span: s.span.clone(),
            color: s.str(dx, "color"),
            offset: s.pair(dx, "offset"),
            blur: s.num(dx, "blur"),
        }
    })
}

fn read_product(t: &Obj<'_>, dx: &mut Diagnostics) -> RawProduct {
    t.keys(
        dx,
        &[
            "id",
            "source",
            "anchor",
            "scale",
            "offset",
            "rotation",
            "shadow",
            "motion",
            "keyframes",
            "parallax",
        ],
    );
    let (motion, keyframes) = scenes::read_product_motion(t, dx);
    RawProduct {
        span: t.span.clone(),
        id: t.str(dx, "id"),
        source: t.str(dx, "source"),
        anchor: t.str(dx, "anchor"),
        scale: t.num(dx, "scale"),
        offset: t.pair(dx, "offset"),
        rotation: t.num(dx, "rotation"),
        shadow: read_shadow(t, dx),
        motion,
        keyframes,
        parallax: t.num(dx, "parallax"),
    }
}

fn read_subtitle(t: &Obj<'_>, dx: &mut Diagnostics) -> RawSubtitle {
    t.keys(
        dx,
        &[
            "id",
            "text",
            "lines",
            "captions",
            "animation",
            "animation_time",
            "highlight",
            "font",
            "size",
            "min_size",
            "color",
            "outline",
            "shadow",
            "box",
            "position",
        ],
    );
    RawSubtitle {
        span: t.span.clone(),
        id: t.str(dx, "id"),
        text: t.text(dx, "text"),
        lines: t.table_list(dx, "lines").map(|l| {
            l.map(|line| {
                line.keys(dx, &["start", "end", "text"]);
                RawLine {
                    span: line.span.clone(),
                    start: line.num(dx, "start"),
                    end: line.num(dx, "end"),
                    text: line.text(dx, "text"),
                }
            })
        }),
        captions: t.text(dx, "captions"),
        animation: t.str(dx, "animation"),
        animation_time: t.num(dx, "animation_time"),
        highlight: t.str(dx, "highlight"),
        font: t.str_list(dx, "font"),
        size: t.num(dx, "size"),
        min_size: t.num(dx, "min_size"),
        color: t.str(dx, "color"),
        outline: t.table(dx, "outline").map(|o| {
            o.keys(dx, &["color", "width"]);
            RawOutline {
                span: o.span.clone(),
                color: o.str(dx, "color"),
                width: o.num(dx, "width"),
            }
        }),
        shadow: read_shadow(t, dx),
        box_style: t.table(dx, "box").map(|b| {
            b.keys(dx, &["color", "padding"]);
            RawBox {
                span: b.span.clone(),
                color: b.str(dx, "color"),
                padding: b.num(dx, "padding"),
            }
        }),
        position: t.str(dx, "position"),
    }
}

fn read_region(t: &Obj<'_>, root: &Obj<'_>, dx: &mut Diagnostics) -> RawRegion {
    t.keys(dx, &["code", "locale", "fallback", "direction", "override"]);
    let code = t.str(dx, "code");
    let who = code
        .as_ref()
        .map(|c| format!("region `{}`", c.value))
        .unwrap_or_else(|| t.ctx.clone());
    RawRegion {
        span: t.span.clone(),
        locale: t.str(dx, "locale"),
        fallback: t.str_list(dx, "fallback"),
        direction: t.str(dx, "direction"),
        overrides: read_overrides(t, root, &who, dx),
        code,
    }
}

/// `override.POOL.ID` tables of one `[[region]]`. Each is merged over the option it names and
/// read with that pool's own reader, so an override is checked exactly like the option itself
/// (unknown keys, types); only diagnostics the override introduces are kept.
fn read_overrides(
    region: &Obj<'_>,
    root: &Obj<'_>,
    who: &str,
    dx: &mut Diagnostics,
) -> Vec<RawOverride> {
    let Some(ov) = region.table(dx, "override") else {
        return Vec::new();
    };
    ov.keys(dx, OVERRIDE_POOLS);
    let mut out = Vec::new();
    for &pool in OVERRIDE_POOLS {
        let Some(by_id) = ov.table(dx, pool) else {
            continue;
        };
        // The pool exactly as the pool reader saw it, so indexes and spans agree with the
        // validated pool; its own problems were reported when it was read.
        let n = dx.items.len();
        let options = root.pool(dx, pool).map(|p| p.value).unwrap_or_default();
        dx.items.truncate(n);
        let ids: Vec<Option<&str>> = options
            .iter()
            .map(|o| o.t.get("id").and_then(Item::as_str))
            .collect();
        let mut done = Vec::new();
        for (id, _) in by_id.t.iter() {
            let id_span = by_id.key_span(id);
            let Some(o) = by_id.table(dx, id) else {
                continue;
            };
            let Some(index) = ids.iter().position(|i| *i == Some(id)) else {
                let known: Vec<&str> = ids.iter().flatten().copied().collect();
                let mut msg =
                    format!("{who} overrides {pool} `{id}`, which is not in the [[{pool}]] pool");
                if let Some(s) = did_you_mean(id, known.iter().copied()) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                let hint = if known.is_empty() {
                    format!("the template has no [[{pool}]] options to override")
                } else {
                    format!(
                        "the table name after override.{pool} is an option id; ids: {}",
                        known.join(", ")
                    )
                };
                dx.error(id_span, msg, Some(hint));
                continue;
            };
            if done.contains(&index) {
                // Only reachable through duplicate pool ids, which validation reports.
                continue;
            }
            if let Some((k, _)) = o.t.get_key_value("id") {
                dx.error(
                    k.span().unwrap_or_else(|| o.span.clone()),
                    format!("an override cannot change the id of {pool} `{id}`"),
                    Some(
                        "the table name already says which option it overrides; remove `id`".into(),
                    ),
                );
            }
            let own =
                o.t.iter()
                    .map(|(k, item)| {
                        let ks = o.key_span(k);
                        ks.start..item.span().map(|s| s.end).unwrap_or(ks.end).max(ks.end)
                    })
                    .collect::<Vec<_>>();
            let table = merge(options[index].t, o.t, pool);
            let merged = Obj {
                t: &table,
                span: o.span.clone(),
                ctx: format!("the {pool} `{id}` override of {who}"),
            };
            let scope = OverrideScope {
                span: &o.span,
                base_span: &options[index].span,
                own: &own,
                context: Some(&merged.ctx),
            };
            let option = read_pair(pool, &options[index], &merged, &scope, dx);
            done.push(index);
            out.push(RawOverride {
                span: o.span.clone(),
                own,
                base_span: options[index].span.clone(),
                pool,
                id: S {
                    value: id.to_string(),
                    span: id_span,
                },
                index,
                explicit: true,
                option,
            });
        }
        // Stand-ins: the region's copy (or voice-over) must then be checked per option, the
        // overridden ones against their override and these against the option itself.
        if (pool == "subtitle" || pool == "audio") && !done.is_empty() {
            for (index, base) in options
                .iter()
                .enumerate()
                .filter(|(i, _)| !done.contains(i))
            {
                let scope = OverrideScope {
                    span: &base.span,
                    base_span: &base.span,
                    own: &[],
                    context: None,
                };
                let option = read_pair(pool, base, base, &scope, dx);
                out.push(RawOverride {
                    span: base.span.clone(),
                    own: Vec::new(),
                    base_span: base.span.clone(),
                    pool,
                    id: S {
                        value: ids[index].unwrap_or_default().to_string(),
                        span: base.span.clone(),
                    },
                    index,
                    explicit: false,
                    option,
                });
            }
        }
    }
    out
}

/// The option's entries with the override's on top (one level deep: an overridden sub-table
/// such as `shadow` replaces the option's whole sub-table). Keys keep their spans, so a
/// problem is reported where its text is. Setting one of a set of exclusive keys (a
/// background's source, a subtitle's `text`/`lines`) drops the option's other ones, since an
/// override cannot delete keys.
fn merge(base: &dyn TableLike, over: &dyn TableLike, pool: &str) -> toml_edit::Table {
    let exclusive: &[&str] = match pool {
        "background" => &["color", "gradient", "image", "video"],
        "subtitle" => &["text", "lines"],
        _ => &[],
    };
    // `id` names the option and is never taken from the override (reported by the caller).
    let sets = |k: &str| k != "id" && over.contains_key(k);
    let new_source = exclusive.iter().any(|k| sets(k));
    let mut t = toml_edit::Table::new();
    for (k, _) in base.iter() {
        let dropped = sets(k)
            || (new_source && exclusive.contains(&k))
            // `loop`/`start` belong to a video source the override replaced.
            || (pool == "background" && new_source && !sets("video") && (k == "loop" || k == "start"));
        if let (false, Some((key, item))) = (dropped, base.get_key_value(k)) {
            t.insert_formatted(key, item.clone());
        }
    }
    for (k, _) in over.iter() {
        if let (true, Some((key, item))) = (sets(k), over.get_key_value(k)) {
            t.insert_formatted(key, item.clone());
        }
    }
    t
}

fn read_pair(
    pool: &str,
    base: &Obj<'_>,
    merged: &Obj<'_>,
    scope: &OverrideScope<'_>,
    dx: &mut Diagnostics,
) -> RawOverridden {
    fn both<T>(
        read: fn(&Obj<'_>, &mut Diagnostics) -> T,
        base: &Obj<'_>,
        merged: &Obj<'_>,
        scope: &OverrideScope<'_>,
        dx: &mut Diagnostics,
    ) -> (T, T) {
        let n = dx.items.len();
        let b = read(base, dx);
        let known = dx.items.split_off(n);
        let m = read(merged, dx);
        let new = dx.items.split_off(n);
        keep_introduced(dx, new, &known, scope);
        (b, m)
    }
    match pool {
        "background" => {
            let (b, m) = both(read_background, base, merged, scope, dx);
            RawOverridden::Background(b, m)
        }
        "product" => {
            let (b, m) = both(read_product, base, merged, scope, dx);
            RawOverridden::Product(b, m)
        }
        "subtitle" => {
            let (b, m) = both(read_subtitle, base, merged, scope, dx);
            RawOverridden::Subtitle(b, m)
        }
        "effects" => {
            let (b, m) = both(read_effects, base, merged, scope, dx);
            RawOverridden::Effects(b, m)
        }
        _ => {
            let (b, m) = both(read_audio, base, merged, scope, dx);
            RawOverridden::Audio(b, m)
        }
    }
}

/// Where an override sits, for sorting the diagnostics of a merged option.
pub(crate) struct OverrideScope<'a> {
    /// The override table's header: the merged option's "whole option" span.
    pub span: &'a Range<usize>,
    /// The pool option's "whole option" span.
    pub base_span: &'a Range<usize>,
    pub own: &'a [Range<usize>],
    /// How to name the override in a message about a key it did not write; `None` for a
    /// stand-in.
    pub context: Option<&'a str>,
}

/// Keeps the diagnostics of a merged option that the pool option alone (`known`) does not
/// have: the option's own problems are reported once, where the option is. A diagnostic on
/// one of the override's keys stays as it is; one on an inherited key that only the
/// combination causes (e.g. `min_size` above an overridden `size`) names the override.
pub(crate) fn keep_introduced(
    dx: &mut Diagnostics,
    new: Vec<Diagnostic>,
    known: &[Diagnostic],
    scope: &OverrideScope<'_>,
) {
    for mut d in new {
        if d.span == *scope.span {
            let seen = known
                .iter()
                .any(|k| k.span == *scope.base_span && k.message == d.message);
            if !seen {
                dx.items.push(d);
            }
        } else if scope.own.iter().any(|o| o.contains(&d.span.start)) {
            dx.items.push(d);
        } else if !known.iter().any(|k| k.span == d.span) {
            if let Some(c) = scope.context {
                let line = super::diag::line_col(dx.source(), scope.span.start).0;
                d.message = format!("{} (with {c}, line {line})", d.message);
            }
            dx.items.push(d);
        }
    }
}

impl<T> S<Vec<T>> {
    fn map<U>(self, f: impl FnMut(T) -> U) -> S<Vec<U>> {
        S {
            span: self.span,
            value: self.value.into_iter().map(f).collect(),
        }
    }
}

/// A table (standard or inline) with the span to blame when something in it is missing.
struct Obj<'a> {
    t: &'a dyn TableLike,
    span: Range<usize>,
    /// How messages name this table, e.g. "[output]" or "[[background]] #2".
    ctx: String,
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => value_type(v),
    }
}

fn value_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

impl<'a> Obj<'a> {
    /// Reports every key not in `allowed`, with a did-you-mean.
    fn keys(&self, dx: &mut Diagnostics, allowed: &[&str]) {
        for (key, _) in self.t.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let span = self.key_span(key);
            let hint = match did_you_mean(key, allowed.iter().copied()) {
                Some(s) => {
                    // A misspelt key is the one cause; don't also report the intended key as
                    // missing.
                    dx.mark_bad(self.span.start, s);
                    format!("did you mean `{s}`?")
                }
                None => format!("allowed keys here: {}", allowed.join(", ")),
            };
            dx.error(
                span,
                format!("unknown key `{key}` in {}", self.ctx),
                Some(hint),
            );
        }
    }

    fn key_span(&self, key: &str) -> Range<usize> {
        self.t
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .unwrap_or_else(|| self.span.clone())
    }

    /// The item and the span to blame for its value (falling back to the key, then the table).
    fn get(&self, key: &str) -> Option<(&'a Item, Range<usize>)> {
        let (k, item) = self.t.get_key_value(key)?;
        let span = item
            .span()
            .or_else(|| k.span())
            .unwrap_or_else(|| self.span.clone());
        Some((item, span))
    }

    fn wrong_type(
        &self,
        dx: &mut Diagnostics,
        key: &str,
        expected: &str,
        item: &Item,
        span: Range<usize>,
    ) {
        dx.mark_bad(self.span.start, key);
        dx.error(
            span,
            format!(
                "`{key}` in {}: expected {expected}, found {}",
                self.ctx,
                type_name(item)
            ),
            Some(type_hint(expected)),
        );
    }

    fn str(&self, dx: &mut Diagnostics, key: &str) -> Option<S<String>> {
        let (item, span) = self.get(key)?;
        match item.as_str() {
            Some(s) => Some(S {
                value: s.to_string(),
                span,
            }),
            None => {
                self.wrong_type(dx, key, "a string", item, span);
                None
            }
        }
    }

    fn num(&self, dx: &mut Diagnostics, key: &str) -> Option<S<f64>> {
        let (item, span) = self.get(key)?;
        match item.as_value().and_then(value_f64) {
            Some(v) => Some(S { value: v, span }),
            None => {
                self.wrong_type(dx, key, "a number", item, span);
                None
            }
        }
    }

    fn int(&self, dx: &mut Diagnostics, key: &str) -> Option<S<i64>> {
        let (item, span) = self.get(key)?;
        match item.as_integer() {
            Some(v) => Some(S { value: v, span }),
            None => {
                self.wrong_type(dx, key, "an integer", item, span);
                None
            }
        }
    }

    fn bool(&self, dx: &mut Diagnostics, key: &str) -> Option<S<bool>> {
        let (item, span) = self.get(key)?;
        match item.as_bool() {
            Some(v) => Some(S { value: v, span }),
            None => {
                self.wrong_type(dx, key, "true or false", item, span);
                None
            }
        }
    }

    fn str_list(&self, dx: &mut Diagnostics, key: &str) -> Option<S<Vec<S<String>>>> {
        let (item, span) = self.get(key)?;
        let Some(arr) = item.as_array() else {
            self.wrong_type(dx, key, "a list of strings", item, span);
            return None;
        };
        let mut out = Vec::new();
        for v in arr.iter() {
            let vspan = v.span().unwrap_or_else(|| span.clone());
            match v.as_str() {
                Some(s) => out.push(S {
                    value: s.to_string(),
                    span: vspan,
                }),
                None => dx.error(
                    vspan,
                    format!(
                        "`{key}` in {}: expected a list of strings, found {} in it",
                        self.ctx,
                        value_type(v)
                    ),
                    Some("quote each entry, e.g. [\"a\", \"b\"]".into()),
                ),
            }
        }
        Some(S { value: out, span })
    }

    fn pair(&self, dx: &mut Diagnostics, key: &str) -> Option<S<(f64, f64)>> {
        let (item, span) = self.get(key)?;
        let nums: Option<Vec<f64>> = item
            .as_array()
            .and_then(|a| a.iter().map(value_f64).collect::<Option<Vec<_>>>());
        match nums.as_deref() {
            Some([x, y]) => Some(S {
                value: (*x, *y),
                span,
            }),
            _ => {
                dx.mark_bad(self.span.start, key);
                dx.error(
                    span,
                    format!(
                        "`{key}` in {}: expected a pair of numbers [x, y], found {}",
                        self.ctx,
                        describe(item)
                    ),
                    Some(format!("write e.g. {key} = [0.0, 0.1]")),
                );
                None
            }
        }
    }

    /// A sub-table, standard (`[output.tracking]`) or inline (`tracking = { … }`).
    fn table(&self, dx: &mut Diagnostics, key: &str) -> Option<Obj<'a>> {
        let (item, span) = self.get(key)?;
        match item.as_table_like() {
            Some(t) => {
                // A `[section]` spans its whole body; blame its header line instead.
                let span = if item.is_table() {
                    header(dx.source(), span)
                } else {
                    span
                };
                Some(Obj {
                    t,
                    span,
                    ctx: self.sub_ctx(key),
                })
            }
            None => {
                self.wrong_type(dx, key, "a table", item, span);
                None
            }
        }
    }

    fn sub_ctx(&self, key: &str) -> String {
        if self.ctx == "the template" {
            format!("[{key}]")
        } else {
            format!("`{key}` of {}", self.ctx)
        }
    }

    /// Either `[[key]]` tables or `key = [{…}, {…}]`; an empty array is returned as empty.
    fn table_list(&self, dx: &mut Diagnostics, key: &str) -> Option<S<Vec<Obj<'a>>>> {
        let (item, span) = self.get(key)?;
        let ctx = |i: usize| {
            if self.ctx == "the template" {
                format!("[[{key}]] #{}", i + 1)
            } else {
                format!("`{key}` #{} of {}", i + 1, self.ctx)
            }
        };
        match item {
            Item::ArrayOfTables(a) => {
                let value = a
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Obj {
                        t: t as &dyn TableLike,
                        span: header(dx.source(), t.span().unwrap_or_else(|| span.clone())),
                        ctx: ctx(i),
                    })
                    .collect();
                Some(S { value, span })
            }
            Item::Value(Value::Array(a)) => {
                let mut value = Vec::new();
                for (i, v) in a.iter().enumerate() {
                    let vspan = v.span().unwrap_or_else(|| span.clone());
                    match v.as_inline_table() {
                        Some(t) => value.push(Obj {
                            t: t as &dyn TableLike,
                            span: vspan,
                            ctx: ctx(i),
                        }),
                        None => dx.error(
                            vspan,
                            format!("`{key}`: expected a table, found {}", value_type(v)),
                            Some(format!(
                                "write each entry as {{ … }}, or use [[{key}]] sections"
                            )),
                        ),
                    }
                }
                Some(S { value, span })
            }
            _ => {
                self.wrong_type(dx, key, "a list of tables", item, span);
                None
            }
        }
    }

    fn pool(&self, dx: &mut Diagnostics, key: &str) -> Option<S<Vec<Obj<'a>>>> {
        self.table_list(dx, key)
    }

    /// All entries must be strings: `tracking` values and `exclude` choices.
    fn str_pairs(&self, dx: &mut Diagnostics) -> Pairs {
        let mut out = Vec::new();
        for (key, _) in self.t.iter() {
            let kspan = self.key_span(key);
            if let Some(v) = self.str(dx, key) {
                out.push((
                    S {
                        value: key.to_string(),
                        span: kspan,
                    },
                    v,
                ));
            }
        }
        out
    }

    /// Copy: a plain string (meaning locale `en`) or a table of locale → string.
    fn text(&self, dx: &mut Diagnostics, key: &str) -> Option<S<LocaleText>> {
        let (item, span) = self.get(key)?;
        if let Some(s) = item.as_str() {
            return Some(S {
                value: vec![(
                    S {
                        value: "en".into(),
                        span: span.clone(),
                    },
                    S {
                        value: s.into(),
                        span: span.clone(),
                    },
                )],
                span,
            });
        }
        match item.as_table_like() {
            Some(t) => {
                let obj = Obj {
                    t,
                    span: span.clone(),
                    ctx: self.sub_ctx(key),
                };
                Some(S {
                    value: obj.str_pairs(dx),
                    span,
                })
            }
            None => {
                dx.mark_bad(self.span.start, key);
                dx.error(
                    span,
                    format!("`{key}` in {}: expected a string or a table of locale = \"copy\", found {}", self.ctx, type_name(item)),
                    Some(format!("write e.g. {key} = {{ en = \"Run lighter.\", ja = \"軽く走ろう。\" }}")),
                );
                None
            }
        }
    }
}

/// The first line of a span (a table's `[header]`).
fn header(source: &str, span: Range<usize>) -> Range<usize> {
    let end = source
        .get(span.clone())
        .and_then(|s| s.find('\n'))
        .map(|n| span.start + n)
        .unwrap_or(span.end);
    span.start..end.max(span.start)
}

fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i.value() as f64),
        Value::Float(f) => Some(*f.value()),
        _ => None,
    }
}

fn describe(item: &Item) -> String {
    match item.as_array() {
        Some(a) => format!(
            "an array of {} item{}",
            a.len(),
            if a.len() == 1 { "" } else { "s" }
        ),
        None => type_name(item).to_string(),
    }
}

fn type_hint(expected: &str) -> String {
    match expected {
        "a string" => "put the value in double quotes".into(),
        "a number" | "an integer" => "write the number without quotes, e.g. 15 or 15.0".into(),
        "true or false" => "write true or false without quotes".into(),
        "a list of strings" => "write a list, e.g. [\"a\", \"b\"]".into(),
        "a table" => "write an inline table { key = value, … } or a [section]".into(),
        _ => format!("expected {expected}"),
    }
}
