//! Badges and end cards as written: what is drawn over the composed picture, and after it.

use super::schema::{within, Bound::*, SECONDS};

raw_table! {
    pub(crate) struct RawBadge {
        id: str,
        shape: str,
        text: text,
        fill: str,
        text_color: str,
        font: str_list,
        anchor: str,
        size: num in within(Above(0.02, 1.0), "a fraction of the canvas width, {}"),
        offset: pair,
        rotation: num in within(In(-360.0, 360.0), "degrees in {}"),
        start: num in SECONDS,
        end: num,
        animation: str,
        ai_generated: bool,
    }

    pub(crate) struct RawEndCard {
        id: str,
        duration: num,
        background: str,
        logo: str,
        /// Covers the logo file.
        licence: table<super::RawLicence>,
        headline: text,
        price: text,
        cta: text,
        cta_color: str,
        text_color: str,
        font: str_list,
        transition: transition,
        ai_generated: bool,
    }
}
