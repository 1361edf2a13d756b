//! Subtitles as written: copy, timed lines, caption files and their style.

use super::schema::{within, Bound::*, SECONDS};

raw_table! {
    pub struct RawSubtitle {
        id: str = "id",
        text: text = "text",
        lines: list<RawLine> = "lines",
        /// Locale → caption file path (`.srt`/`.vtt`); a plain string means `en`.
        captions: text = "captions",
        animation: str = "animation",
        animation_time: num = "animation_time" in within(KeyAbove(0.0, 5.0), "seconds, {}"),
        highlight: str = "highlight",
        font: str_list = "font",
        size: num = "size" in within(KeyAbove(0.0, 0.5), "a fraction of the canvas width, {}"),
        min_size: num = "min_size"
            in within(KeyAbove(0.0, 0.5), "a fraction of the canvas width, {}"),
        color: str = "color",
        outline: table<RawOutline> = "outline",
        shadow: table<super::RawShadow> = "shadow",
        box_style: table<RawBox> = "box",
        position: str = "position",
    }

    pub struct RawLine {
        start: num = "start" in SECONDS,
        end: num = "end",
        text: text = "text",
    }

    pub struct RawOutline {
        color: str = "color",
        width: num = "width" in within(In(0.0, 20.0), "pixels in {}"),
    }

    pub struct RawBox {
        color: str = "color",
        padding: num = "padding" in within(In(0.0, 2.0), "a fraction of the font size, {}"),
    }
}
