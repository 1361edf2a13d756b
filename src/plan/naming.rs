//! Output names and tracking URLs.

use std::collections::{BTreeMap, HashSet};

use crate::preset::{Preset, PresetKind};
use crate::template::{Region, Template};

pub(crate) struct NameContext<'a> {
    pub t: &'a Template,
    pub region: &'a Region,
    pub preset: &'a Preset,
    pub n: u32,
    pub variant_id: &'a str,
}

/// `15.0` → `15`, `7.5` → `7.5`: names read like people write them.
pub(crate) fn format_seconds(s: f64) -> String {
    if (s - s.round()).abs() < 1e-9 {
        format!("{}", s.round() as i64)
    } else {
        let t = format!("{s:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Why a name pattern could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NameError {
    #[error("unclosed `{{`")]
    Unclosed,
    #[error("unknown placeholder `{{{0}}}`")]
    UnknownPlaceholder(String),
}

/// A piece of an expanded name. `keep` pieces (the variant number `{n}`, the variant id and
/// the uniqueness suffix) are what tell outputs apart, so a name that is too long is shortened
/// in the other pieces, never in these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub text: String,
    pub keep: bool,
}

/// Expands `{placeholder}`s. The template stage has already checked the placeholders, so an
/// unknown one here is a programming error reported as an error, not a panic.
pub(crate) fn expand(pattern: &str, c: &NameContext) -> Result<String, NameError> {
    Ok(expand_parts(pattern, c)?
        .into_iter()
        .map(|p| p.text)
        .collect())
}

/// [`expand`] as pieces: literal text and each placeholder's value, marked `keep` for `{n}`
/// and `{variant}`.
pub(crate) fn expand_parts(pattern: &str, c: &NameContext) -> Result<Vec<Part>, NameError> {
    let mut out = Vec::new();
    let mut rest = pattern;
    let free = |text: &str| Part {
        text: text.to_string(),
        keep: false,
    };
    while let Some(open) = rest.find('{') {
        out.push(free(&rest[..open]));
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(NameError::Unclosed)?;
        let key = &after[..close];
        let val = match key {
            "region" => c.region.code.clone(),
            "locale" => c.region.locale.clone(),
            "platform" => c.preset.platform.clone(),
            "preset" => c.preset.id.clone(),
            "label" => c.preset.label.clone(),
            "duration" => format_seconds(c.t.duration),
            "kind" => match c.preset.kind {
                PresetKind::Video => "Video".into(),
                PresetKind::Image => "Image".into(),
            },
            "n" => c.n.to_string(),
            "variant" => c.variant_id.to_string(),
            "template" => c.t.name.clone(),
            "version" => c.t.version.to_string(),
            other => return Err(NameError::UnknownPlaceholder(other.to_string())),
        };
        out.push(Part {
            text: val,
            keep: matches!(key, "n" | "variant"),
        });
        rest = &after[close + 1..];
    }
    out.push(free(rest));
    Ok(out)
}

/// Longest file name stem, in bytes: file systems allow 255, and the extension, a `-N`
/// suffix and tools that append their own (`.part`, `~`) need room.
pub(crate) const MAX_NAME_BYTES: usize = 150;

/// One character of a file name: reserved characters, path separators, control characters
/// and the invisible ones that reorder or hide text (a U+202E would show `4pm.exe` as
/// `exe.mp4`) become `-`.
fn safe_char(ch: char) -> char {
    match ch {
        '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' | ' ' => '-',
        c if crate::display::is_hidden(c) => '-',
        c => c,
    }
}

/// Makes a name safe on Windows, macOS and Linux: no reserved characters, control or
/// invisible format characters, or trailing dots/spaces, no reserved device names, at most
/// [`MAX_NAME_BYTES`] bytes.
pub fn sanitize_file_name(name: &str) -> String {
    fit(&[Part {
        text: name.to_string(),
        keep: false,
    }])
}

/// [`sanitize_file_name`] over pieces: when too long, the free pieces are cut (the longest
/// first, to equal length) and the `keep` pieces stay whole.
pub(crate) fn fit(parts: &[Part]) -> String {
    let mut parts: Vec<Part> = parts
        .iter()
        .map(|p| Part {
            text: p.text.chars().map(safe_char).collect(),
            keep: p.keep,
        })
        .collect();
    let total: usize = parts.iter().map(|p| p.text.len()).sum();
    if total > MAX_NAME_BYTES {
        let kept: usize = parts.iter().filter(|p| p.keep).map(|p| p.text.len()).sum();
        let budget = MAX_NAME_BYTES.saturating_sub(kept);
        // The largest per-piece length `cap` at which the free pieces fit the budget.
        let used = |cap: usize| -> usize {
            parts
                .iter()
                .filter(|p| !p.keep)
                .map(|p| p.text.len().min(cap))
                .sum()
        };
        let (mut lo, mut hi) = (0, MAX_NAME_BYTES);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if used(mid) <= budget {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        for p in parts.iter_mut().filter(|p| !p.keep && p.text.len() > lo) {
            // A cut piece keeps its closing separator (`spring-collection_` stays apart
            // from the region that follows).
            let sep = p
                .text
                .chars()
                .last()
                .filter(|c| matches!(c, '_' | '-' | '.'));
            match sep {
                Some(c) if lo > 0 => {
                    truncate_at_char(&mut p.text, lo - 1);
                    p.text.push(c);
                }
                _ => truncate_at_char(&mut p.text, lo),
            }
        }
    }
    let mut s: String = parts.into_iter().map(|p| p.text).collect();
    // Only when the kept pieces alone are too long (a pattern of many `{n}`s).
    truncate_at_char(&mut s, MAX_NAME_BYTES);
    while s.ends_with('.') || s.ends_with('-') && s.len() > 1 {
        s.pop();
    }
    if s.is_empty() {
        s = "output".into();
    }
    const RESERVED: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(&s)) {
        s.push('_');
    }
    s
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Keeps names unique inside a region's directory, case-insensitively (macOS and Windows
/// file systems fold case), by appending `-2`, `-3`… in plan order.
#[derive(Default)]
pub(crate) struct NameSet {
    seen: HashSet<(String, String)>,
}

impl NameSet {
    /// A single-piece name, for the unit tests.
    #[cfg(test)]
    fn unique(&mut self, dir: &str, stem: &str) -> String {
        self.unique_parts(
            dir,
            &[Part {
                text: stem.to_string(),
                keep: false,
            }],
        )
    }

    /// A safe, unique name from an expanded pattern; the suffix is a `keep` piece, so it
    /// survives shortening like the variant number does.
    pub(crate) fn unique_parts(&mut self, dir: &str, parts: &[Part]) -> String {
        let mut candidate = fit(parts);
        let mut k = 2;
        let mut with_suffix = parts.to_vec();
        while !self
            .seen
            .insert((dir.to_lowercase(), candidate.to_lowercase()))
        {
            with_suffix.truncate(parts.len());
            with_suffix.push(Part {
                text: format!("-{k}"),
                keep: true,
            });
            candidate = fit(&with_suffix);
            k += 1;
        }
        candidate
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The landing URL with the tracking parameters appended as a query string (key order).
pub fn tracking_url(landing: &str, params: &BTreeMap<String, String>) -> String {
    if params.is_empty() {
        return landing.to_string();
    }
    let (base, fragment) = match landing.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (landing, None),
    };
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut url = format!("{base}{sep}{}", query.join("&"));
    if let Some(f) = fragment {
        url.push('#');
        url.push_str(f);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_naturally() {
        assert_eq!(format_seconds(15.0), "15");
        assert_eq!(format_seconds(7.5), "7.5");
        assert_eq!(format_seconds(0.25), "0.25");
    }

    #[test]
    fn names_are_safe_everywhere() {
        assert_eq!(
            sanitize_file_name("US_TikTok_15s_Video_v3"),
            "US_TikTok_15s_Video_v3"
        );
        assert_eq!(sanitize_file_name("a:b/c\\d?e*f"), "a-b-c-d-e-f");
        assert_eq!(sanitize_file_name("产品图_v3."), "产品图_v3");
        assert_eq!(sanitize_file_name("con"), "con_");
        assert_eq!(sanitize_file_name(""), "output");
    }

    #[test]
    fn hidden_characters_never_reach_a_name() {
        assert_eq!(sanitize_file_name("sale\u{202E}4pm.exe"), "sale-4pm.exe");
        assert_eq!(sanitize_file_name("a\x1b[31m\u{2067}b"), "a-[31m-b");
    }

    #[test]
    fn long_names_keep_the_counter_and_the_suffix() {
        let parts = |n: &str| {
            vec![
                Part {
                    text: "x".repeat(200),
                    keep: false,
                },
                Part {
                    text: "_v".into(),
                    keep: false,
                },
                Part {
                    text: n.into(),
                    keep: true,
                },
            ]
        };
        let a = fit(&parts("7"));
        assert_eq!(a.len(), MAX_NAME_BYTES);
        assert!(a.ends_with("_v7"), "{a}");
        let mut set = NameSet::default();
        assert!(set.unique_parts("US", &parts("12")).ends_with("_v12"));
        let b = set.unique_parts("US", &parts("12"));
        assert!(b.ends_with("_v12-2") && b.len() == MAX_NAME_BYTES, "{b}");
    }

    #[test]
    fn duplicate_names_get_suffixes_case_insensitively() {
        let mut s = NameSet::default();
        assert_eq!(s.unique("US", "a_v1"), "a_v1");
        assert_eq!(s.unique("US", "A_v1"), "A_v1-2");
        assert_eq!(s.unique("SA", "a_v1"), "a_v1");
    }

    #[test]
    fn tracking_url_appends_query_in_key_order() {
        let mut p = BTreeMap::new();
        p.insert("utm_source".to_string(), "TikTok".to_string());
        p.insert("utm_campaign".to_string(), "spring sale/2026".to_string());
        assert_eq!(
            tracking_url("https://shop.example.com/p/x", &p),
            "https://shop.example.com/p/x?utm_campaign=spring%20sale%2F2026&utm_source=TikTok"
        );
        assert_eq!(
            tracking_url("https://s.example/p?id=1#top", &p),
            "https://s.example/p?id=1&utm_campaign=spring%20sale%2F2026&utm_source=TikTok#top"
        );
    }
}
