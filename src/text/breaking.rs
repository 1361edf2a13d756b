//! Where a line may break: UAX #14, plus dictionary word breaks for Thai, Lao, Khmer and
//! Burmese (written without spaces, so UAX #14 alone never breaks them), plus kinsoku for
//! CJK punctuation.

use icu_segmenter::WordSegmenter;
use unicode_linebreak::{break_property, linebreaks, BreakClass, BreakOpportunity};

/// A position (byte offset) where a new line may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Break {
    pub at: usize,
    /// A forced break (U+2028 and friends); the text's last position is always one.
    pub mandatory: bool,
}

/// Characters that must not start a line (JIS X 4051 / W3C JLREQ "line start prohibition",
/// strict set: small kana and the prolonged sound mark included because ad copy is set
/// large and a lone `ー` or `ッ` at a line start is what readers notice first).
pub const NO_LINE_START: &str = "、。，．・：；？！」』）】〕〉》〙〗｝］〟’”»›ー…‥〜～゠–‐゛゜ゝゞヽヾ々〻ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ%％,.:;?!)]}";

/// Characters that must not end a line.
pub const NO_LINE_END: &str = "「『（【〔〈《〘〖｛［〝‘“«‹([{";

thread_local! {
    // Built once per thread: the segmenter allocates, and icu 1.5 payloads are `Rc`-based
    // (not `Sync`) unless icu_provider's `sync` feature is on, so no process-wide static.
    //
    // Dictionary, not `new_auto` (LSTM): the LSTM splits compounds an ad is likely to hold,
    // e.g. รองเท้า "shoes" into รอง|เท้า, so a line could end in the middle of "shoes"; the
    // dictionary keeps it whole (see the `thai_wraps_between_words_only` test).
    static WORDS: WordSegmenter = WordSegmenter::new_dictionary();
}

fn is_complex(c: char) -> bool {
    break_property(c as u32) == BreakClass::ComplexContext
}

/// Break opportunities of one paragraph, ascending, never 0, always ending with
/// `text.len()` (mandatory).
pub fn break_opportunities(text: &str) -> Vec<Break> {
    let mut out: Vec<Break> = linebreaks(text)
        .map(|(at, op)| Break {
            at,
            mandatory: op == BreakOpportunity::Mandatory,
        })
        .collect();

    if text.chars().any(is_complex) {
        let word_breaks: Vec<usize> = WORDS.with(|seg| seg.segment_str(text).collect());
        for at in word_breaks {
            if at == 0 || at >= text.len() {
                continue;
            }
            let before = text[..at].chars().next_back();
            let after = text[at..].chars().next();
            if let (Some(b), Some(a)) = (before, after) {
                if is_complex(b) && is_complex(a) {
                    out.push(Break {
                        at,
                        mandatory: false,
                    });
                }
            }
        }
        out.sort_by_key(|b| b.at);
        out.dedup_by_key(|b| b.at);
    }

    out.retain(|b| {
        if b.mandatory || b.at >= text.len() {
            return true;
        }
        let before = text[..b.at].chars().next_back();
        let after = text[b.at..].chars().next();
        !(after.is_some_and(|c| NO_LINE_START.contains(c))
            || before.is_some_and(|c| NO_LINE_END.contains(c)))
    });
    if out.last().map(|b| b.at) != Some(text.len()) {
        out.push(Break {
            at: text.len(),
            mandatory: true,
        });
    }
    out
}

/// `text[start..end]` without the whitespace a line hangs past its edge.
pub fn trim_end(text: &str, start: usize, end: usize) -> usize {
    let trimmed = text[start..end].trim_end_matches(|c: char| c.is_whitespace() && c != '\u{a0}');
    start + trimmed.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        let mut prev = 0;
        break_opportunities(text)
            .into_iter()
            .map(|b| {
                let p = &text[prev..b.at];
                prev = b.at;
                p
            })
            .collect()
    }

    #[test]
    fn latin_breaks_after_spaces_only() {
        assert_eq!(pieces("Run lighter today."), ["Run ", "lighter ", "today."]);
    }

    #[test]
    fn thai_breaks_between_words() {
        // "วิ่งเบาขึ้น" = run + light + more (three words, no spaces).
        let p = pieces("วิ่งเบาขึ้นทุกวัน");
        assert!(p.len() >= 3, "{p:?}");
        assert!(p.contains(&"วิ่ง"), "{p:?}");
    }

    #[test]
    fn kinsoku_keeps_closing_marks_off_line_starts() {
        let text = "「軽い」一歩。ー";
        for b in break_opportunities(text) {
            if b.at < text.len() {
                let next = text[b.at..].chars().next().unwrap();
                assert!(!NO_LINE_START.contains(next), "break before {next:?}");
                let prev = text[..b.at].chars().next_back().unwrap();
                assert!(!NO_LINE_END.contains(prev), "break after {prev:?}");
            }
        }
        // Still breakable between ideographs.
        assert!(pieces("轻盈每一步").len() >= 4);
    }
}
