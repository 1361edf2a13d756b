//! The template as written: TOML → `RawTemplate`, every value with its byte span.
//!
//! We walk a `toml_edit` document ourselves instead of deriving serde: serde stops at the first
//! problem, and we want every unknown key and wrong type in one run, each at its line and
//! column. This layer checks only structure (known keys, value types); meaning (enums, colours,
//! ranges, paths, presets, cross-references) is judged in `validate`.
//!
//! Each table is declared once with `raw_table!` (see `schema`): one line per key gives the
//! field, the allowed-key list, the reader and, for numbers, the range and hint validation
//! uses. The files follow the template's concepts: `output` (header, output, regions,
//! variants, dedup), `visuals` (backgrounds, products and their motion), `text` (subtitles),
//! `effects`, `audio`, `overlays` (badges, end cards), `scenes` (scenes, transitions,
//! easings, orders) and `overrides` (`[region.override.POOL.ID]`).

use std::ops::Range;

use super::model::Pool;
use crate::diag::Diagnostics;

#[macro_use]
mod schema;
mod audio;
mod effects;
mod output;
mod overlays;
mod overrides;
mod reader;
mod scenes;
mod text;
mod visuals;

pub use audio::*;
pub use effects::*;
pub use output::*;
pub use overlays::*;
pub use overrides::*;
pub(crate) use reader::Obj;
pub use scenes::*;
pub use schema::Ranged;
pub use text::*;
pub use visuals::*;

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
    pub font: Option<S<Vec<RawFont>>>,
    pub dedup: Option<RawDedup>,
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
    "font",
    "dedup",
];

/// Parses TOML text; a syntax error becomes one diagnostic at its position.
pub fn parse(text: &str, dx: &mut Diagnostics) -> Option<RawTemplate> {
    let doc = match toml_edit::ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            syntax_error(text, &e, dx);
            return None;
        }
    };
    let root = Obj {
        t: doc.as_table(),
        span: 0..text.len(),
        ctx: String::from("the template"),
    };
    root.keys(dx, TOP_KEYS);
    let pool = |dx: &mut Diagnostics, p: Pool| root.pool(dx, p.name());
    let mut raw = RawTemplate {
        doc_span: 0..0,
        template: root.table(dx, "template").map(|t| RawHeader::read(&t, dx)),
        output: root.table(dx, "output").map(|t| RawOutput::read(&t, dx)),
        ..RawTemplate::default()
    };
    if let Some(regions) = root.pool(dx, "region") {
        raw.regions = regions
            .value
            .into_iter()
            .map(|t| read_region(&t, &root, dx))
            .collect();
    }
    raw.variants = root
        .table(dx, "variants")
        .map(|t| RawVariants::read(&t, dx));
    raw.background = pool(dx, Pool::Background).map(|p| p.map(|t| RawBackground::read(&t, dx)));
    raw.product = pool(dx, Pool::Product).map(|p| p.map(|t| RawProduct::read(&t, dx)));
    raw.subtitle = pool(dx, Pool::Subtitle).map(|p| p.map(|t| RawSubtitle::read(&t, dx)));
    raw.effects = pool(dx, Pool::Effects).map(|p| p.map(|t| RawEffects::read(&t, dx)));
    raw.audio = pool(dx, Pool::Audio).map(|p| p.map(|t| RawAudio::read(&t, dx)));
    raw.badge = pool(dx, Pool::Badge).map(|p| p.map(|t| RawBadge::read(&t, dx)));
    raw.end_card = pool(dx, Pool::EndCard).map(|p| p.map(|t| RawEndCard::read(&t, dx)));
    raw.scene = root
        .pool(dx, "scene")
        .map(|p| p.map(|t| RawScene::read(&t, dx)));
    raw.font = root
        .pool(dx, "font")
        .map(|p| p.map(|t| RawFont::read(&t, dx)));
    raw.dedup = root.table(dx, "dedup").map(|t| RawDedup::read(&t, dx));
    Some(raw)
}

fn syntax_error(text: &str, e: &toml_edit::TomlError, dx: &mut Diagnostics) {
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
