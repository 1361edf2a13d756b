//! Text stage: shaping (rustybuzz), bidi, line breaking, font fallback, rasterization.
//!
//! OWNER: text helper. The signatures below are the contract with `render`.

use image::RgbaImage;

use crate::template::{Direction, Rgba};

#[derive(Debug, thiserror::Error)]
pub enum TextError {
    /// No family in the list has a glyph for a character.
    #[error("no font has a glyph for {ch:?} (U+{code:04X}) in {text:?}; fonts tried: {tried}")]
    MissingGlyph { text: String, ch: char, code: u32, tried: String },
    #[error("font family {family:?} not found; installed families like it: {suggestions}")]
    UnknownFamily { family: String, suggestions: String },
    #[error("{path}: cannot read font: {message}")]
    BadFont { path: String, message: String },
    /// Even at the minimum size the text does not fit its box.
    #[error("text {text:?} does not fit in {max_w}×{max_h} px even at {min_size:.0} px")]
    DoesNotFit { text: String, max_w: u32, max_h: u32, min_size: f32 },
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

/// System fonts found by family name, plus any added files. Faces are parsed once and
/// shared; cheap to clone.
#[derive(Clone)]
pub struct FontBook {
    _private: (),
}

impl FontBook {
    /// System font directories (fontconfig's usual places).
    pub fn system() -> FontBook {
        unimplemented!("text helper")
    }
}

/// Shapes, wraps (shrinking down to `min_size_px` when needed) and rasterizes `text` into a
/// tight, straight-alpha RGBA image no larger than `max_w`×`max_h`.
/// `lang` is a BCP-47 tag (`en`, `ar`, `zh-CN`, `ja`, `th`); `base` forces the paragraph
/// direction when given.
pub fn render_block(
    _book: &FontBook,
    _text: &str,
    _lang: &str,
    _base: Option<Direction>,
    _style: &TextStyle,
    _max_w: u32,
    _max_h: u32,
) -> Result<RgbaImage, TextError> {
    unimplemented!("text helper")
}
