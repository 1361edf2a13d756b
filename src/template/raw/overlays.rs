//! Badges and end cards as written: what is drawn over the composed picture, and after it.

use super::schema::{within, Bound::*, SECONDS};

raw_table! {
    pub struct RawBadge {
        id: str = "id",
        shape: str = "shape",
        text: text = "text",
        fill: str = "fill",
        text_color: str = "text_color",
        font: str_list = "font",
        anchor: str = "anchor",
        size: num = "size" in within(Above(0.02, 1.0), "a fraction of the canvas width, {}"),
        offset: pair = "offset",
        rotation: num = "rotation" in within(In(-360.0, 360.0), "degrees in {}"),
        start: num = "start" in SECONDS,
        end: num = "end",
        animation: str = "animation",
    }

    pub struct RawEndCard {
        id: str = "id",
        duration: num = "duration",
        background: str = "background",
        logo: str = "logo",
        headline: text = "headline",
        price: text = "price",
        cta: text = "cta",
        cta_color: str = "cta_color",
        text_color: str = "text_color",
        font: str_list = "font",
        transition: transition = "transition",
    }
}
