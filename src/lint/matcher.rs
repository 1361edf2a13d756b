//! Phrase matching for rule packs: width and case folding, CJK substrings, Latin word
//! boundaries, gaps (`…`) and exceptions.
//!
//! Text and patterns are folded character by character (one character in, one out), so a match
//! in the folded text is the same character range in the copy as written:
//! - full-width ASCII forms (U+FF01–U+FF5E) become ASCII and the ideographic space a space —
//!   the width part of NFKC, which is what turns `＃１` into `#1` and `ＧＵＡＲＡＮＴＥＥＤ` into
//!   `GUARANTEED`;
//! - curly apostrophes become `'`;
//! - letters are lower-cased where the lower case is one character.
//!
//! A pattern end that is a Latin letter or digit must sit at a word boundary (the neighbouring
//! character is not a letter or digit): `cure` does not match "secure" nor `#1` "#10". CJK
//! characters have no boundaries: `第一` matches inside any copy.

use std::ops::Range;

/// Characters a `…` gap may span between two pieces of a pattern.
pub(crate) const MAX_GAP: usize = 40;

/// One character folded for comparison (see the module documentation).
pub(crate) fn fold_char(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        '\u{3000}' => ' ',
        '\u{2018}' | '\u{2019}' => '\'',
        _ => c,
    };
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// A text folded for matching, with the way back to the original's characters.
pub(crate) struct Folded {
    /// The folded text.
    pub text: String,
    /// Character index (in the original) of each byte offset of `text`, plus one past the end.
    char_at: Vec<u32>,
    /// Byte offset in `text` of each character, plus the end.
    byte_of: Vec<usize>,
}

impl Folded {
    pub(crate) fn new(original: &str) -> Folded {
        let mut text = String::with_capacity(original.len());
        let mut char_at = Vec::with_capacity(original.len() + 1);
        let mut byte_of = Vec::with_capacity(original.len() + 1);
        for (i, c) in original.chars().enumerate() {
            let f = fold_char(c);
            byte_of.push(text.len());
            for _ in 0..f.len_utf8() {
                char_at.push(i as u32);
            }
            text.push(f);
        }
        byte_of.push(text.len());
        char_at.push(byte_of.len() as u32 - 1);
        Folded {
            text,
            char_at,
            byte_of,
        }
    }

    fn chars(&self) -> usize {
        self.byte_of.len() - 1
    }

    fn char_index(&self, byte: usize) -> usize {
        self.char_at[byte] as usize
    }

    fn char_at_index(&self, i: usize) -> Option<char> {
        let start = *self.byte_of.get(i)?;
        self.text[start..].chars().next()
    }

    /// Occurrences of `piece` (already folded) as character ranges, respecting word boundaries
    /// at Latin ends, from character `from` on.
    fn find_all<'a>(
        &'a self,
        piece: &'a str,
        from: usize,
    ) -> impl Iterator<Item = Range<usize>> + 'a {
        let start_byte = self.byte_of[from.min(self.chars())];
        let first = piece.chars().next();
        let last = piece.chars().next_back();
        self.text[start_byte..]
            .match_indices(piece)
            .map(move |(b, p)| {
                let s = self.char_index(start_byte + b);
                let e = self.char_index(start_byte + b + p.len());
                s..e
            })
            .filter(move |r| {
                let before_ok = !first.is_some_and(is_latin_word)
                    || r.start == 0
                    || !self.char_at_index(r.start - 1).is_some_and(is_latin_word);
                let after_ok = !last.is_some_and(is_latin_word)
                    || !self.char_at_index(r.end).is_some_and(is_latin_word);
                before_ok && after_ok
            })
    }
}

/// Letters and digits of scripts that separate words with spaces: a pattern end made of one
/// must not continue into a longer word.
fn is_latin_word(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// Han, kana and hangul: scripts written without spaces, where a phrase may sit anywhere.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width katakana
        | 0x20000..=0x3FFFF) // extensions B–H
}

/// A pattern compiled for matching: pieces joined by gaps, and whether it takes one more
/// letter at the end (`最…`).
#[derive(Debug, Clone)]
pub struct Pattern {
    pub written: String,
    pieces: Vec<String>,
    trailing_letter: bool,
}

impl Pattern {
    /// `…` (or `...`) between two pieces is a gap of up to `MAX_GAP` characters in the same
    /// sentence; at the end it takes one more letter. `Err` says what is wrong.
    pub(crate) fn parse(written: &str) -> Result<Pattern, String> {
        let normal = written.replace("...", "…");
        let mut pieces: Vec<String> = normal
            .split('…')
            .map(|p| p.trim().chars().map(fold_char).collect())
            .collect();
        let trailing_letter = pieces.len() > 1 && pieces.last().is_some_and(String::is_empty);
        if trailing_letter {
            pieces.pop();
        }
        if pieces.iter().any(String::is_empty) {
            return Err(format!(
                "pattern `{written}`: `…` must stand between two words or at the end"
            ));
        }
        Ok(Pattern {
            written: written.to_string(),
            pieces,
            trailing_letter,
        })
    }

    /// Every match in `text` as a character range, leftmost first, not overlapping.
    pub(crate) fn find(&self, text: &Folded) -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = Vec::new();
        let mut from = 0;
        'outer: loop {
            let Some(first) = text.find_all(&self.pieces[0], from).next() else {
                break;
            };
            from = first.start + 1;
            let mut end = first.end;
            for piece in &self.pieces[1..] {
                match text.find_all(piece, end).next() {
                    Some(r) if r.start - end <= MAX_GAP && !sentence_break(text, end..r.start) => {
                        end = r.end;
                    }
                    _ => continue 'outer,
                }
            }
            if self.trailing_letter {
                match text.char_at_index(end) {
                    Some(c) if c.is_alphanumeric() => end += 1,
                    _ => continue 'outer,
                }
            }
            if out.last().is_some_and(|l| first.start < l.end) {
                continue;
            }
            out.push(first.start..end);
        }
        out
    }
}

/// Whether a gap crosses a line or a sentence end (then the pieces are separate claims).
fn sentence_break(text: &Folded, gap: Range<usize>) -> bool {
    gap.filter_map(|i| text.char_at_index(i))
        .any(|c| matches!(c, '\n' | '.' | '!' | '?' | '。' | '！' | '？'))
}

/// Ranges of `text` covered by any exception phrase (folded, matched like patterns).
pub(crate) fn exception_ranges(text: &Folded, exceptions: &[Pattern]) -> Vec<Range<usize>> {
    exceptions.iter().flat_map(|e| e.find(text)).collect()
}

/// Whether `m` lies inside one of `covered`.
pub(crate) fn excused(m: &Range<usize>, covered: &[Range<usize>]) -> bool {
    covered.iter().any(|c| c.start <= m.start && m.end <= c.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(pattern: &str, text: &str) -> Vec<String> {
        let f = Folded::new(text);
        let chars: Vec<char> = text.chars().collect();
        Pattern::parse(pattern)
            .unwrap()
            .find(&f)
            .into_iter()
            .map(|r| chars[r].iter().collect())
            .collect()
    }

    #[test]
    fn folds_width_and_case() {
        assert_eq!(hits("#1", "全网＃１好评"), ["＃１"]);
        assert_eq!(
            hits("guaranteed", "ＧＵＡＲＡＮＴＥＥＤ fresh"),
            ["ＧＵＡＲＡＮＴＥＥＤ"]
        );
        assert_eq!(
            hits("world's best", "The World’s Best cup"),
            ["World’s Best"]
        );
    }

    #[test]
    fn latin_ends_need_word_boundaries() {
        assert!(hits("cure", "a secure lid").is_empty());
        assert!(hits("cure", "cures nothing").is_empty());
        assert!(hits("#1", "#10 in store").is_empty());
        assert_eq!(hits("#1", "the #1 cup"), ["#1"]);
        assert_eq!(hits("cure", "Cure!"), ["Cure"]);
    }

    #[test]
    fn cjk_matches_inside_words() {
        assert_eq!(hits("第一", "销量第一名"), ["第一"]);
        assert_eq!(hits("最…", "最好的咖啡，最低价"), ["最好", "最低"]);
        assert!(hits("最…", "最").is_empty());
    }

    #[test]
    fn gaps_stay_in_one_sentence() {
        assert_eq!(
            hits("best … in the world", "Best coffee in the world"),
            ["Best coffee in the world"]
        );
        assert!(hits("best … in the world", "Best coffee. Shipped in the world").is_empty());
        assert!(Pattern::parse("… alone").is_err());
    }

    #[test]
    fn exceptions_cover_matches() {
        let f = Folded::new("最近的第一步");
        let ex = [
            Pattern::parse("最近").unwrap(),
            Pattern::parse("第一步").unwrap(),
        ];
        let covered = exception_ranges(&f, &ex);
        for p in ["最…", "第一"] {
            for m in Pattern::parse(p).unwrap().find(&f) {
                assert!(excused(&m, &covered), "{p}");
            }
        }
    }
}
