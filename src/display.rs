//! User text inside messages, file names and copy: characters that change how text shows
//! without being seen themselves.
//!
//! A right-to-left override (U+202E) turns `99$` into `$99` on screen; an escape sequence in
//! a file name recolours or rewrites the operator's terminal. So the one rule, used wherever
//! user text (copy, paths, names) is put into a message, is: such characters are written out
//! (`\u{202E}`, `\x1b`), never passed through, and long texts are cut (a 1 MB caption must
//! not make a 1 MB log line). Copy that contains them is refused at validation
//! (`template/validate/locale.rs`); file names replace them (`plan/naming.rs`).

use std::borrow::Cow;
use std::fmt::Write;

/// Characters shown escaped in messages and kept out of file names: every control character
/// (C0, DEL, C1) and the invisible format characters that reorder, join, hide or break text
/// (bidi marks, embeddings, overrides and isolates; zero-width characters; line and paragraph
/// separators; deprecated format controls; the byte-order mark; interlinear annotations).
pub(crate) fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c as u32,
            0x061C | 0x180E | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F
                | 0xFEFF | 0xFFF9..=0xFFFB
        )
}

/// Characters copy may not contain, because what a reviewer reads in the template, the
/// manifest or a spreadsheet is then not what the video shows: bidi embeddings, overrides and
/// isolates (the marks U+200E/U+200F/U+061C are allowed: right-to-left copy needs them to
/// place punctuation, and they cannot reorder letters), control characters other than tab and
/// line breaks (`\r` only before `\n`), the line separator (not a line break to the renderer),
/// deprecated format controls and interlinear annotations.
/// Returns the first such character and its byte offset.
pub(crate) fn forbidden_in_copy(text: &str) -> Option<(usize, char)> {
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let bad = match c {
            '\t' | '\n' => false,
            '\r' => !matches!(it.peek(), Some((_, '\n'))),
            c if c.is_control() => true,
            c => matches!(
                c as u32,
                0x202A..=0x202E | 0x2066..=0x2069 | 0x2028 | 0x206A..=0x206F | 0xFFF9..=0xFFFB
            ),
        };
        if bad {
            return Some((i, c));
        }
    }
    None
}

/// `U+202E RIGHT-TO-LEFT OVERRIDE`: the code point and, for the characters this module is
/// about, the Unicode name, as a user would search for it.
pub(crate) fn describe_char(c: char) -> String {
    let name = match c as u32 {
        0x00 => "NULL",
        0x08 => "BACKSPACE",
        0x0D => "CARRIAGE RETURN",
        0x1B => "ESCAPE",
        0x7F => "DELETE",
        0x202A => "LEFT-TO-RIGHT EMBEDDING",
        0x202B => "RIGHT-TO-LEFT EMBEDDING",
        0x202C => "POP DIRECTIONAL FORMATTING",
        0x202D => "LEFT-TO-RIGHT OVERRIDE",
        0x202E => "RIGHT-TO-LEFT OVERRIDE",
        0x2066 => "LEFT-TO-RIGHT ISOLATE",
        0x2067 => "RIGHT-TO-LEFT ISOLATE",
        0x2068 => "FIRST STRONG ISOLATE",
        0x2069 => "POP DIRECTIONAL ISOLATE",
        0x2028 => "LINE SEPARATOR",
        0x206A => "INHIBIT SYMMETRIC SWAPPING",
        0x206B => "ACTIVATE SYMMETRIC SWAPPING",
        0x206C => "INHIBIT ARABIC FORM SHAPING",
        0x206D => "ACTIVATE ARABIC FORM SHAPING",
        0x206E => "NATIONAL DIGIT SHAPES",
        0x206F => "NOMINAL DIGIT SHAPES",
        0xFFF9 => "INTERLINEAR ANNOTATION ANCHOR",
        0xFFFA => "INTERLINEAR ANNOTATION SEPARATOR",
        0xFFFB => "INTERLINEAR ANNOTATION TERMINATOR",
        _ if c.is_control() => "(control character)",
        _ => "",
    };
    if name.is_empty() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} {name}", c as u32)
    }
}

/// `s` with every [`is_hidden`] character written out: `\n`, `\t`, `\r`, `\x1b` for the
/// other ASCII controls, `\u{202E}` for the rest. Everything else (letters of any script,
/// emoji, backslashes of Windows paths) is kept as is. Borrowed when nothing changes.
pub fn escape_for_display(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if is_hidden(c) && (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if is_hidden(c) => {
            let _ = write!(out, "\\u{{{:X}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// How many characters of a user's text a message quotes.
pub(crate) const QUOTE_CHARS: usize = 80;

/// `s` escaped and, past `max_chars` characters, cut: `first 80 characters… (N more
/// characters)`. For quoting copy, names and paths inside messages.
pub(crate) fn shown(s: &str, max_chars: usize) -> Cow<'_, str> {
    let cut = s.char_indices().nth(max_chars).map(|(i, _)| i);
    match cut {
        None => escape_for_display(s),
        Some(i) => {
            let more = s[i..].chars().count();
            let plural = if more == 1 { "" } else { "s" };
            Cow::Owned(format!(
                "{}… ({more} more character{plural})",
                escape_for_display(&s[..i])
            ))
        }
    }
}

/// [`shown`] with the usual length, for `Display` impls: `format!("{}", Quoted(text))`.
pub(crate) struct Quoted<'a>(pub &'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\"", shown(self.0, QUOTE_CHARS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_written_out() {
        assert_eq!(escape_for_display("99$"), "99$");
        assert_eq!(escape_for_display("\u{202E}99$"), "\\u{202E}99$");
        assert_eq!(escape_for_display("a\x1b[31mred\n"), "a\\x1b[31mred\\n");
        assert_eq!(escape_for_display("C:\\ads\\اركض.png"), "C:\\ads\\اركض.png");
        assert_eq!(escape_for_display("\u{9B}"), "\\u{9B}");
    }

    #[test]
    fn long_texts_are_cut_with_a_count() {
        let s = "x".repeat(100);
        assert_eq!(
            shown(&s, 80),
            format!("{}… (20 more characters)", "x".repeat(80))
        );
        assert_eq!(shown("short", 80), "short");
        assert_eq!(shown("ab", 1), "a… (1 more character)");
    }

    #[test]
    fn copy_may_keep_marks_and_line_breaks_but_not_overrides() {
        assert_eq!(forbidden_in_copy("a\tb\r\nc\n\u{200F}د"), None);
        assert_eq!(forbidden_in_copy("x\u{202E}99$"), Some((1, '\u{202E}')));
        assert_eq!(forbidden_in_copy("a\rb"), Some((1, '\r')));
        assert_eq!(
            forbidden_in_copy("\u{2067}x\u{2069}"),
            Some((0, '\u{2067}'))
        );
        assert_eq!(describe_char('\u{202E}'), "U+202E RIGHT-TO-LEFT OVERRIDE");
        assert_eq!(describe_char('\x1b'), "U+001B ESCAPE");
    }
}
