//! Subtitles as written: copy, timed lines, caption files and their style.

use super::schema::{within, Bound::*, SECONDS};

raw_table! {
    pub(crate) struct RawSubtitle {
        id: str,
        text: text,
        lines: list<RawLine>,
        /// Locale → caption file path (`.srt`/`.vtt`); a plain string means `en`.
        captions: text,
        animation: str,
        animation_time: num in within(KeyAbove(0.0, 5.0), "seconds, {}"),
        highlight: str,
        font: str_list,
        size: num in within(KeyAbove(0.0, 0.5), "a fraction of the canvas width, {}"),
        min_size: num in within(KeyAbove(0.0, 0.5), "a fraction of the canvas width, {}"),
        color: str,
        outline: table<RawOutline>,
        shadow: table<super::RawShadow>,
        box_style: table<RawBox> = "box",
        position: str,
        /// Ad text uploaded with the output, not drawn (`preset::AD_TEXT_FIELDS`): locale →
        /// text like `text`, limited per preset by `[[text_limit]]`.
        title: text,
        description: text,
        headline: text,
        long_headline: text,
    }

    pub(crate) struct RawLine {
        start: num in SECONDS,
        end: num,
        text: text,
    }

    pub(crate) struct RawOutline {
        color: str,
        width: num in within(In(0.0, 20.0), "pixels in {}"),
    }

    /// A font file the template brings (`[[font]]`): its families join the system's, and
    /// its licence covers every output whose text names one of them.
    pub(crate) struct RawFont {
        file: str,
        licence: table<super::RawLicence>,
    }

    pub(crate) struct RawBox {
        color: str,
        padding: num in within(In(0.0, 2.0), "a fraction of the font size, {}"),
    }
}
