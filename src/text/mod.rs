//! Text stage: shaping (rustybuzz), bidi, line breaking, font fallback, rasterization.
//!
//! OWNER: text helper. The signatures below are the contract with `render`.
//!
//! Pipeline for one block: clean the text → split paragraphs at `\n` → bidi levels
//! (UAX #9) → items of one level, script and font (first family with the glyphs) → shape
//! each item once in font units to measure → greedy line fill over UAX #14 / dictionary /
//! kinsoku break opportunities → reshape each line's runs in visual order → place → check
//! the size against the box, shrinking step by step → rasterize.
//!
//! # Using it from the renderer
//!
//! ```no_run
//! use creative_factory::text::{FontBook, HAlign, TextCache, TextStyle};
//! let book = FontBook::system(); // once per run; clone it into every thread (Arc inside)
//! let cache = TextCache::default(); // once per run; share by reference
//! let style = TextStyle::new(&["Noto Sans", "Noto Sans CJK SC", "Noto Sans Arabic"], 72.0);
//! // Per frame (or per variant): a hit costs a hash lookup, a miss renders once.
//! let block = cache.get_or_render(&book, "اركض بخفة", "ar", None, &style, 1080, 400)?;
//! // `block.image` is tight around the ink; pin the edge `block.h_align` names to the
//! // same edge of the caption box (right for an RTL `Align::Start`), and use
//! // `block.first_baseline` to line captions up across variants.
//! let _x_in_box = match block.h_align {
//!     HAlign::Left => 0,
//!     HAlign::Center => (1080 - block.image.width()) / 2,
//!     HAlign::Right => 1080 - block.image.width(),
//! };
//! # Ok::<(), creative_factory::text::TextError>(())
//! ```

pub mod breaking;
pub(crate) mod cache;
pub(crate) mod fonts;
pub(crate) mod itemize;
pub(crate) mod layout;
pub(crate) mod raster;
pub(crate) mod shape;

use image::RgbaImage;

pub use cache::{CacheStats, TextCache};
pub use fonts::{FontBook, FontFace};
pub use layout::{LaidLine, LaidRun, Layout, PlacedGlyph};
pub(crate) use raster::Extent;
pub use shape::{shape_run, Dir, RunProps, ShapedGlyph};

use crate::color::Rgba;
use crate::display::Quoted;

/// Base direction of a paragraph (a region's writing direction).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Direction {
    #[serde(rename = "ltr")]
    Ltr,
    #[serde(rename = "rtl")]
    Rtl,
}

impl Direction {
    /// The names a template writes (`[[region]] direction`).
    pub(crate) const NAMES: &'static [(&'static str, Direction)] =
        &[("ltr", Direction::Ltr), ("rtl", Direction::Rtl)];
}
use layout::{clean_text, resolve_faces, Overflow, Prepared};

#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// No family in the list has a glyph for a character.
    /// The text is quoted escaped and cut (`crate::display::Quoted`): a 1 MB caption must not
    /// make a 1 MB manifest entry.
    #[error("no font has a glyph for {ch:?} (U+{code:04X}) in {}; fonts tried: {tried}", Quoted(.text))]
    MissingGlyph {
        text: String,
        ch: char,
        code: u32,
        tried: String,
    },
    #[error("font family {family:?} not found; installed families like it: {suggestions}")]
    UnknownFamily { family: String, suggestions: String },
    /// `message` already quotes `source` when there is one.
    #[error("{path}: cannot read font: {message}")]
    BadFont {
        path: String,
        message: String,
        #[source]
        source: Option<FontSource>,
    },
    /// Even at the minimum size the text does not fit its box.
    #[error("text {} does not fit in {max_w}×{max_h} px even at {min_size:.0} px", Quoted(.text))]
    DoesNotFit {
        text: String,
        max_w: u32,
        max_h: u32,
        min_size: f32,
    },
}

/// What failed underneath when a font file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FontSource {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Parse(#[from] rustybuzz::ttf_parser::FaceParsingError),
    #[error(transparent)]
    Outlines(#[from] ab_glyph::InvalidFont),
}

impl TextError {
    /// A font file that could not be read or parsed; the message is the source's own.
    pub(crate) fn bad_font(path: String, source: impl Into<FontSource>) -> TextError {
        let source = source.into();
        TextError::BadFont {
            path,
            message: source.to_string(),
            source: Some(source),
        }
    }

    /// A font file that parsed but cannot be used the way we need.
    pub(crate) fn unusable_font(path: String, message: impl Into<String>) -> TextError {
        TextError::BadFont {
            path,
            message: message.into(),
            source: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Start,
    Center,
    End,
}

#[derive(Debug, Clone)]
pub struct TextStyle {
    /// Families in fallback order.
    pub families: Vec<String>,
    pub size_px: f32,
    pub min_size_px: f32,
    pub color: Rgba,
    /// (colour, width px)
    pub outline: Option<(Rgba, f32)>,
    /// (colour, (dx, dy) px, blur px)
    pub shadow: Option<(Rgba, (f32, f32), f32)>,
    /// (colour, padding px) box behind the text block.
    pub background: Option<(Rgba, f32)>,
    pub align: Align,
    /// Line height as a multiple of the size.
    pub line_height: f32,
}

impl TextStyle {
    /// White text in the given families at `size_px`, no decoration, shrinking to half.
    pub fn new(families: &[&str], size_px: f32) -> TextStyle {
        TextStyle {
            families: families.iter().map(|s| s.to_string()).collect(),
            size_px,
            min_size_px: size_px / 2.0,
            color: Rgba::WHITE,
            outline: None,
            shadow: None,
            background: None,
            align: Align::Start,
            line_height: 1.25,
        }
    }
}

/// A rendered block and where it sits relative to its layout.
#[derive(Debug, Clone)]
pub struct TextRaster {
    pub image: RgbaImage,
    /// The layout at the size that fitted.
    pub layout: Layout,
    /// Position of the image's top-left corner in layout coordinates (where the first line
    /// box starts at (0, 0)): layout point (x, y) is image pixel (x − origin.0, y − origin.1).
    pub origin: (f32, f32),
    /// Baseline of the first line, in image pixels from the top.
    pub first_baseline: f32,
    /// Which edge `Align::Start`/`End` resolved to for the first paragraph: a renderer
    /// placing the image in a wider box should pin that edge (right for RTL `Start`).
    pub h_align: HAlign,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HAlign {
    Left,
    Center,
    Right,
}

/// Shapes, wraps (shrinking down to `min_size_px` when needed) and rasterizes `text` into a
/// tight, straight-alpha RGBA image no larger than `max_w`×`max_h`.
/// `lang` is a BCP-47 tag (`en`, `ar`, `zh-CN`, `ja`, `th`); `base` forces the paragraph
/// direction when given.
pub fn render_block(
    book: &FontBook,
    text: &str,
    lang: &str,
    base: Option<Direction>,
    style: &TextStyle,
    max_w: u32,
    max_h: u32,
) -> Result<RgbaImage, TextError> {
    render_block_ex(book, text, lang, base, style, max_w, max_h).map(|r| r.image)
}

/// [`render_block`] with the layout and placement facts a renderer needs to align the image.
pub fn render_block_ex(
    book: &FontBook,
    text: &str,
    lang: &str,
    base: Option<Direction>,
    style: &TextStyle,
    max_w: u32,
    max_h: u32,
) -> Result<TextRaster, TextError> {
    let (layout, ext) = fit_block(book, text, lang, base, style, max_w, max_h)?;
    let image = raster::rasterize(&layout, style, &ext)?;
    let first_rtl = layout.lines.first().is_some_and(|l| l.rtl);
    let h_align = match (style.align, first_rtl) {
        (Align::Center, _) => HAlign::Center,
        (Align::Start, false) | (Align::End, true) => HAlign::Left,
        _ => HAlign::Right,
    };
    let first_baseline = layout.lines.first().map_or(0.0, |l| l.baseline) - ext.image.y0;
    Ok(TextRaster {
        image,
        origin: (ext.image.x0, ext.image.y0),
        first_baseline,
        h_align,
        layout,
    })
}

/// The layout (at the size that fits) and its pixel extent, without rasterizing.
pub(crate) fn fit_block(
    book: &FontBook,
    text: &str,
    lang: &str,
    base: Option<Direction>,
    style: &TextStyle,
    max_w: u32,
    max_h: u32,
) -> Result<(Layout, Extent), TextError> {
    let clean = clean_text(text);
    let faces = resolve_faces(book, &style.families, lang)?;
    let prepared = Prepared::new(&clean, &faces, lang, base)?;

    // Room the decorations take around the text, so wrapping leaves space for them.
    let outline_w = style.outline.map_or(0.0, |(_, w)| w.max(0.0));
    let deco = 2.0 * (1.0 + outline_w.ceil());
    let shadow = style
        .shadow
        .map_or(0.0, |(_, (dx, _), blur)| dx.abs() + 2.0 * blur.max(0.0));
    let pad = style.background.map_or(0.0, |(_, p)| 2.0 * p.max(0.0));
    let overhead = pad.max(deco + shadow);
    let wrap = (max_w as f32 - overhead).max(1.0);

    let min = style.min_size_px.min(style.size_px).max(1.0);
    let mut size = style.size_px.max(min);
    loop {
        if let Ok(layout) = prepared.layout(size, style.line_height, style.align, Some(wrap)) {
            let ext = raster::extent(&layout, style)?;
            if ext.width() <= max_w && ext.height() <= max_h {
                return Ok((layout, ext));
            }
        }
        if size <= min {
            return Err(TextError::DoesNotFit {
                text: text.to_string(),
                max_w,
                max_h,
                min_size: min,
            });
        }
        // 5 % steps (at least 1 px): about 14 tries from 100 % down to half size.
        size = (size - (size * 0.05).max(1.0)).max(min);
    }
}

/// Lays `text` out at exactly `size_px` (no shrinking), wrapping at `wrap_px` when given.
/// For the CLI and for inspecting runs, fonts and visual order.
pub fn layout_text(
    book: &FontBook,
    text: &str,
    lang: &str,
    base: Option<Direction>,
    style: &TextStyle,
    wrap_px: Option<f32>,
) -> Result<Layout, TextError> {
    let faces = resolve_faces(book, &style.families, lang)?;
    layout_with_faces(faces, text, lang, base, style, wrap_px)
}

/// [`layout_text`] with explicit faces in fallback order instead of `style.families`
/// (e.g. a font file that is not installed, or one face of a collection).
pub fn layout_with_faces(
    faces: Vec<std::sync::Arc<FontFace>>,
    text: &str,
    lang: &str,
    base: Option<Direction>,
    style: &TextStyle,
    wrap_px: Option<f32>,
) -> Result<Layout, TextError> {
    if faces.is_empty() {
        return Err(TextError::UnknownFamily {
            family: String::new(),
            suggestions: "the font list is empty; name at least one font".into(),
        });
    }
    let clean = clean_text(text);
    let prepared = Prepared::new(&clean, &faces, lang, base)?;
    prepared
        .layout(style.size_px, style.line_height, style.align, wrap_px)
        .map_err(|Overflow::WordTooWide| TextError::DoesNotFit {
            text: text.to_string(),
            max_w: wrap_px.unwrap_or(f32::INFINITY) as u32,
            max_h: u32::MAX,
            min_size: style.size_px,
        })
}

/// Rasterizes a layout (e.g. from [`layout_text`]) with the style's decorations.
pub fn rasterize_layout(layout: &Layout, style: &TextStyle) -> Result<RgbaImage, TextError> {
    let ext = raster::extent(layout, style)?;
    raster::rasterize(layout, style, &ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> FontBook {
        FontBook::system()
    }

    /// With TEXT_DEBUG_DIR set, saves the image over a grey backdrop for a human to look at.
    fn debug_save(name: &str, img: &RgbaImage) {
        let Ok(dir) = std::env::var("TEXT_DEBUG_DIR") else {
            return;
        };
        let mut out =
            image::RgbImage::from_pixel(img.width(), img.height(), image::Rgb([90, 90, 110]));
        for (o, p) in out.pixels_mut().zip(img.pixels()) {
            let a = u16::from(p.0[3]);
            for i in 0..3 {
                o.0[i] = ((u16::from(p.0[i]) * a + u16::from(o.0[i]) * (255 - a)) / 255) as u8;
            }
        }
        out.save(format!("{dir}/{name}.png")).unwrap();
    }

    #[test]
    fn renders_mixed_scripts_within_bounds() {
        let style = TextStyle::new(&["Noto Sans", "Noto Sans CJK SC", "Noto Sans Arabic"], 64.0);
        let img = render_block(
            &book(),
            "Run lighter 轻盈每一步 اركض بخفة",
            "en",
            None,
            &style,
            1080,
            400,
        )
        .unwrap();
        assert!(img.width() <= 1080 && img.height() <= 400);
        assert!(img.pixels().any(|p| p.0[3] > 200));
        debug_save("mixed", &img);
    }

    #[test]
    fn decorated_rtl_block() {
        let mut style = TextStyle::new(&["Noto Sans Arabic", "Noto Sans"], 56.0);
        style.outline = Some((Rgba::BLACK, 3.0));
        style.shadow = Some((Rgba([0, 0, 0, 160]), (4.0, 4.0), 6.0));
        style.background = Some((Rgba([200, 30, 60, 255]), 16.0));
        let text = "خصم 50% على Nike Air اليوم فقط، اركض بخفة مع أحذيتنا الجديدة";
        let img = render_block(&book(), text, "ar", None, &style, 600, 400).unwrap();
        debug_save("arabic_deco", &img);
        let mut th = TextStyle::new(&["Noto Sans Thai", "Noto Sans"], 56.0);
        th.color = Rgba::WHITE;
        let img = render_block(
            &book(),
            "วิ่งเบาขึ้นทุกวันด้วยรองเท้าคู่ใหม่ของเรา",
            "th",
            None,
            &th,
            500,
            400,
        )
        .unwrap();
        debug_save("thai", &img);
        let ja = TextStyle::new(&["Noto Sans CJK JP"], 56.0);
        let img = render_block(
            &book(),
            "毎日の一歩を、もっと軽く。新しいランニングシューズ、登場！",
            "ja",
            None,
            &ja,
            500,
            400,
        )
        .unwrap();
        debug_save("ja", &img);
    }
}
