//! Splitting a paragraph into runs that can each be shaped in one go: one bidi level, one
//! script, one font.

use std::ops::Range;

use icu_segmenter::GraphemeClusterSegmenter;
use unicode_bidi::{Level, ParagraphBidiInfo};
use unicode_script::{Script, UnicodeScript};

use super::shape::iso_tag;
use super::TextError;

/// A maximal stretch of a paragraph with one level, script and font.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// Byte range in the paragraph.
    pub range: Range<usize>,
    /// Index into the font list.
    pub font: usize,
    pub script: Option<[u8; 4]>,
    pub level: Level,
}

/// Characters a font need not have: HarfBuzz hides them (zero-width joiners, direction
/// marks, variation selectors, BOM, soft hyphen), so a font lacking them is no reason to
/// fall back or fail.
pub(crate) fn is_default_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

thread_local! {
    // icu 1.5 segmenters are not `Sync` (Rc payloads); one per thread.
    static GRAPHEMES: GraphemeClusterSegmenter = GraphemeClusterSegmenter::new();
}

/// Per character script with Common/Inherited resolved from the neighbours (previous strong
/// script, or the next one at the paragraph start), as HarfBuzz-based layout engines do, so
/// a space or a comma inside Arabic is shaped as Arabic.
fn resolved_scripts(text: &str) -> Vec<Option<[u8; 4]>> {
    let raw: Vec<Option<[u8; 4]>> = text.chars().map(|c| iso_tag(c.script())).collect();
    let first_real = raw.iter().flatten().next().copied();
    let mut last = first_real;
    raw.into_iter()
        .map(|s| {
            if s.is_some() {
                last = s;
            }
            last
        })
        .collect()
}

/// Itemizes one paragraph. `has_glyph(font, ch)` answers coverage; `whole_text` and
/// `font_names` only serve the error message.
pub(crate) fn itemize(
    text: &str,
    bidi: &ParagraphBidiInfo<'_>,
    font_count: usize,
    has_glyph: &dyn Fn(usize, char) -> bool,
    whole_text: &str,
    font_names: &dyn Fn() -> String,
) -> Result<Vec<Item>, TextError> {
    let scripts = resolved_scripts(text);
    let char_starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let script_at = |byte: usize| scripts[char_starts.partition_point(|&s| s < byte)];

    let mut items: Vec<Item> = Vec::new();
    let mut prev_font: Option<usize> = None;
    let bounds: Vec<usize> = GRAPHEMES.with(|g| g.segment_str(text).collect());
    for w in bounds.windows(2) {
        let (start, end) = (w[0], w[1]);
        let cluster = &text[start..end];
        let needed: Vec<char> = cluster
            .chars()
            .filter(|&c| !is_default_ignorable(c) && !c.is_control())
            .collect();
        let covers = |f: usize| needed.iter().all(|&c| has_glyph(f, c));
        let neutral = cluster
            .chars()
            .all(|c| matches!(c.script(), Script::Common | Script::Inherited));
        // Spaces, digits and punctuation stay in the font of what precedes them: fewer runs,
        // and the space between two Arabic words has the Arabic font's width.
        let font = match prev_font {
            Some(p) if neutral && covers(p) => Some(p),
            _ => (0..font_count).find(|&f| covers(f)),
        };
        let font = match font {
            Some(f) => f,
            None => {
                if let Some(&ch) = needed
                    .iter()
                    .find(|&&c| !(0..font_count).any(|f| has_glyph(f, c)))
                {
                    return Err(TextError::MissingGlyph {
                        text: whole_text.to_string(),
                        ch,
                        code: ch as u32,
                        tried: font_names(),
                    });
                }
                // Every character exists somewhere but no font has the whole cluster: the
                // base character decides, HarfBuzz composes/decomposes the rest if it can.
                let base = needed[0];
                (0..font_count).find(|&f| has_glyph(f, base)).unwrap_or(0)
            }
        };
        prev_font = Some(font);

        for (off, c) in cluster.char_indices() {
            let at = start + off;
            let level = bidi.levels[at];
            let script = script_at(at);
            let next = at + c.len_utf8();
            match items.last_mut() {
                Some(last) if last.font == font && last.level == level && last.script == script => {
                    last.range.end = next;
                }
                _ => items.push(Item {
                    range: at..next,
                    font,
                    script,
                    level,
                }),
            }
        }
    }
    Ok(items)
}
