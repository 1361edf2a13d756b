//! Where a line may break: UAX #14, plus ICU word breaks for Thai, Lao, Khmer and Burmese
//! (written without spaces, so UAX #14 alone never breaks them; dictionary model for Thai
//! and Lao, LSTM for Khmer and Burmese), plus kinsoku for CJK punctuation.

use icu_segmenter::{GraphemeClusterSegmenter, WordSegmenter};
use unicode_linebreak::{break_property, linebreaks, BreakClass, BreakOpportunity};
use unicode_script::{Script, UnicodeScript};

/// A position (byte offset) where a new line may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Break {
    pub at: usize,
    /// A forced break (U+2028 and friends); the text's last position is always one.
    pub mandatory: bool,
}

/// Characters that must not start a line (JIS X 4051 / W3C JLREQ "line start prohibition",
/// strict set: small kana and the prolonged sound mark included because ad copy is set
/// large and a lone `ー` or `ッ` at a line start is what readers notice first).
pub const NO_LINE_START: &str = "、。，．・：；？！」』）】〕〉》〙〗｝］〟’”»›ー…‥〜～゠–‐゛゜ゝゞヽヾ々〻ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ%％,.:;?!)]}";

/// Characters that must not end a line.
pub(crate) const NO_LINE_END: &str = "「『（【〔〈《〘〖｛［〝‘“«‹([{";

thread_local! {
    // Built once per thread: the segmenters allocate, and icu 1.5 payloads are `Rc`-based
    // (not `Sync`) unless icu_provider's `sync` feature is on, so no process-wide static.
    static DICTIONARY: WordSegmenter = WordSegmenter::new_dictionary();
    static LSTM: WordSegmenter = WordSegmenter::new_auto();
    static GRAPHEMES: GraphemeClusterSegmenter = GraphemeClusterSegmenter::new();
}

/// Which ICU model segments a script best, judged on ad-like copy (see the tests):
/// the dictionary keeps Thai and Lao compounds such as รองเท้า "shoes" whole where the LSTM
/// splits them; for Khmer and Burmese the dictionary cuts inside syllables (မ|ြ|န်) and the
/// LSTM (`new_auto`) does not.
fn prefers_dictionary(c: char) -> bool {
    matches!(c.script(), Script::Thai | Script::Lao)
}

fn is_complex(c: char) -> bool {
    break_property(c as u32) == BreakClass::ComplexContext
}

/// Break opportunities of one paragraph, ascending, never 0, always ending with
/// `text.len()` (mandatory).
pub(crate) fn break_opportunities(text: &str) -> Vec<Break> {
    let mut out: Vec<Break> = linebreaks(text)
        .map(|(at, op)| Break {
            at,
            mandatory: op == BreakOpportunity::Mandatory,
        })
        .collect();

    if text.chars().any(is_complex) {
        let needs_dict = text.chars().any(|c| is_complex(c) && prefers_dictionary(c));
        let needs_lstm = text
            .chars()
            .any(|c| is_complex(c) && !prefers_dictionary(c));
        let dict: Vec<usize> = if needs_dict {
            DICTIONARY.with(|seg| seg.segment_str(text).collect())
        } else {
            Vec::new()
        };
        let lstm: Vec<usize> = if needs_lstm {
            LSTM.with(|seg| seg.segment_str(text).collect())
        } else {
            Vec::new()
        };
        // A word segmenter must never split a cluster, but the Burmese dictionary does;
        // grapheme boundaries are the safety net.
        let graphemes: Vec<usize> = GRAPHEMES.with(|seg| seg.segment_str(text).collect());
        for at in dict.iter().chain(&lstm).copied() {
            if at == 0 || at >= text.len() || graphemes.binary_search(&at).is_err() {
                continue;
            }
            let before = text[..at].chars().next_back();
            let after = text[at..].chars().next();
            if let (Some(b), Some(a)) = (before, after) {
                // Only the model that owns the script on each side may break there.
                let owner_breaks = |c: char| {
                    let set = if prefers_dictionary(c) { &dict } else { &lstm };
                    set.binary_search(&at).is_ok()
                };
                if is_complex(b) && is_complex(a) && owner_breaks(b) && owner_breaks(a) {
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
pub(crate) fn trim_end(text: &str, start: usize, end: usize) -> usize {
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
    fn lao_khmer_burmese_also_break_between_words() {
        for text in ["ຂ້ອຍຮັກເຈົ້າຫຼາຍ", "ខ្ញុំស្រឡាញ់អ្នកណាស់", "ကျွန်တော်မြန်မာစကားပြောတတ်တယ်"]
        {
            let p = pieces(text);
            assert!(p.len() >= 2, "{text}: {p:?}");
            assert!(!p.is_empty());
            // Never between a base and its marks: every break is a grapheme boundary.
            let graphemes: Vec<usize> = icu_segmenter::GraphemeClusterSegmenter::new()
                .segment_str(text)
                .collect();
            for b in break_opportunities(text) {
                assert!(
                    graphemes.contains(&b.at),
                    "{text}: break inside a cluster: {p:?}"
                );
            }
        }
    }

    #[test]
    fn burmese_keeps_the_word_myanmar_whole() {
        let p = pieces("ကျွန်တော်မြန်မာစကားပြောတတ်တယ်");
        assert!(p.contains(&"မြန်မာ"), "{p:?}");
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
