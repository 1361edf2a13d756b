//! Shaping one run (one font, one direction, one script) with rustybuzz.

use std::str::FromStr;

use rustybuzz::ttf_parser::Tag;

/// One positioned glyph, in font units (rustybuzz never scales: positions are relative to
/// units-per-em, exactly like `hb-shape` without `--font-size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapedGlyph {
    pub glyph_id: u16,
    /// Byte offset of the first character of the glyph's cluster in the shaped string.
    pub cluster: u32,
    pub x_advance: i32,
    pub y_advance: i32,
    pub x_offset: i32,
    pub y_offset: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Ltr,
    Rtl,
}

/// What a run is shaped as. `None` fields are guessed from the text by rustybuzz, like
/// `hb-shape` does when the option is not given.
#[derive(Debug, Clone, Default)]
pub struct RunProps {
    pub direction: Option<Dir>,
    /// ISO 15924 tag, e.g. `Arab`, `Thai`, `Hani`.
    pub script: Option<[u8; 4]>,
    /// BCP-47 tag, e.g. `ar`, `zh-CN`.
    pub language: Option<String>,
}

impl RunProps {
    pub fn script_from_str(s: &str) -> Option<[u8; 4]> {
        let b = s.as_bytes();
        if b.len() != 4 || !b.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        // Title case as ISO 15924 writes it; rustybuzz matches tags byte for byte.
        Some([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_lowercase(),
            b[2].to_ascii_lowercase(),
            b[3].to_ascii_lowercase(),
        ])
    }
}

/// Shapes `text` with `face`. `pre`/`post` are the characters around the run on the same
/// line: they let Arabic pick joining forms across a font or script boundary without being
/// shaped themselves.
pub fn shape_run(
    face: &rustybuzz::Face<'_>,
    text: &str,
    props: &RunProps,
    pre: &str,
    post: &str,
) -> Vec<ShapedGlyph> {
    let mut buf = rustybuzz::UnicodeBuffer::new();
    buf.push_str(text);
    buf.set_pre_context(pre);
    buf.set_post_context(post);
    if let Some(d) = props.direction {
        buf.set_direction(match d {
            Dir::Ltr => rustybuzz::Direction::LeftToRight,
            Dir::Rtl => rustybuzz::Direction::RightToLeft,
        });
    }
    if let Some(script) = props
        .script
        .and_then(|t| rustybuzz::Script::from_iso15924_tag(Tag::from_bytes(&t)))
    {
        buf.set_script(script);
    }
    if let Some(lang) = props
        .language
        .as_deref()
        .and_then(|l| rustybuzz::Language::from_str(l).ok())
    {
        buf.set_language(lang);
    }
    buf.guess_segment_properties();
    let out = rustybuzz::shape(face, &[], buf);
    out.glyph_infos()
        .iter()
        .zip(out.glyph_positions())
        .map(|(info, pos)| ShapedGlyph {
            // Glyph ids are u16 in every OpenType font; the u32 is HarfBuzz's API width.
            glyph_id: info.glyph_id as u16,
            cluster: info.cluster,
            x_advance: pos.x_advance,
            y_advance: pos.y_advance,
            x_offset: pos.x_offset,
            y_offset: pos.y_offset,
        })
        .collect()
}

/// The ISO 15924 tag of a `unicode_script::Script`, `None` for Common/Inherited/Unknown
/// (which take their script from their neighbours).
pub(crate) fn iso_tag(script: unicode_script::Script) -> Option<[u8; 4]> {
    use unicode_script::Script;
    if matches!(script, Script::Common | Script::Inherited | Script::Unknown) {
        return None;
    }
    let name = script.short_name().as_bytes();
    name.try_into().ok()
}
