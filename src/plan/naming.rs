//! Output names and tracking URLs.

use std::collections::{BTreeMap, HashSet};

use crate::preset::{Preset, PresetKind};
use crate::template::{Region, Template};

pub struct NameContext<'a> {
    pub t: &'a Template,
    pub region: &'a Region,
    pub preset: &'a Preset,
    pub n: u32,
    pub variant_id: &'a str,
}

/// `15.0` → `15`, `7.5` → `7.5`: names read like people write them.
pub fn format_seconds(s: f64) -> String {
    if (s - s.round()).abs() < 1e-9 {
        format!("{}", s.round() as i64)
    } else {
        let t = format!("{s:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Why a name pattern could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("unclosed `{{`")]
    Unclosed,
    #[error("unknown placeholder `{{{0}}}`")]
    UnknownPlaceholder(String),
}

/// Expands `{placeholder}`s. The template stage has already checked the placeholders, so an
/// unknown one here is a programming error reported as an error, not a panic.
pub fn expand(pattern: &str, c: &NameContext) -> Result<String, NameError> {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
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
        out.push_str(&val);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Makes a name safe on Windows, macOS and Linux: no reserved characters, control characters
/// or trailing dots/spaces, no reserved device names, at most 150 bytes.
pub fn sanitize_file_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|ch| match ch {
            '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' | ' ' => '-',
            c if c.is_control() => '-',
            c => c,
        })
        .collect();
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
    if s.len() > 150 {
        let mut cut = 150;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// Keeps names unique inside a region's directory, case-insensitively (macOS and Windows
/// file systems fold case), by appending `-2`, `-3`… in plan order.
#[derive(Default)]
pub struct NameSet {
    seen: HashSet<(String, String)>,
}

impl NameSet {
    pub fn unique(&mut self, dir: &str, stem: &str) -> String {
        let mut candidate = stem.to_string();
        let mut k = 2;
        while !self
            .seen
            .insert((dir.to_lowercase(), candidate.to_lowercase()))
        {
            candidate = format!("{stem}-{k}");
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
