//! Caption files: SubRip (`.srt`) and WebVTT (`.vtt`) → cues.
//!
//! Both are read leniently where real exports differ (BOM, CRLF, missing cue numbers, `.` or
//! `,` before the milliseconds, any number of hour digits) and strictly where a guess would
//! show the wrong words at the wrong time (a malformed timestamp is an error with its line).
//! Styling tags (`<i>`, `<b>`, `<font …>`, `<c.yellow>`, `{\an8}`) are dropped: the template
//! styles the captions. WebVTT inline timestamps (`<00:00:01.200>`) are kept as karaoke marks.

/// One cue of a caption file, in seconds on the video timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    /// Tags stripped, the cue's text lines joined with `\n`.
    pub text: String,
    /// WebVTT karaoke timestamps: (byte offset in `text`, seconds) from which the following
    /// words count as sung. Empty = spread evenly by character count.
    pub marks: Vec<(usize, f64)>,
}

/// A problem at a 1-based line of the caption file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CueError {
    pub line: usize,
    pub message: String,
}

/// A problem at `line`, as `Err`.
fn at<T>(line: usize, message: impl Into<String>) -> Result<T, CueError> {
    Err(CueError {
        line,
        message: message.into(),
    })
}

/// A cue and the 1-based line of its timing, for later diagnostics (overlaps, length).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParsedCue {
    pub line: usize,
    pub cue: Cue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Srt,
    Vtt,
}

impl Format {
    /// By extension, else by the WebVTT signature.
    pub(crate) fn detect(path: &std::path::Path, text: &str) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("vtt") => Format::Vtt,
            Some("srt") => Format::Srt,
            _ if text.trim_start_matches('\u{feff}').starts_with("WEBVTT") => Format::Vtt,
            _ => Format::Srt,
        }
    }
}

pub(crate) fn parse(text: &str, format: Format) -> Result<Vec<ParsedCue>, CueError> {
    match format {
        Format::Srt => parse_srt(text),
        Format::Vtt => parse_vtt(text),
    }
}

/// Lines with their 1-based numbers, BOM and CR removed.
fn lines(text: &str) -> Vec<(usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .collect()
}

/// Blank-line separated blocks.
fn blocks<'a>(lines: &[(usize, &'a str)]) -> Vec<Vec<(usize, &'a str)>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for &(n, l) in lines {
        if l.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push((n, l));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub(crate) fn parse_srt(text: &str) -> Result<Vec<ParsedCue>, CueError> {
    let all = lines(text);
    blocks(&all)
        .iter()
        .map(|b| parse_block(b, Format::Srt))
        .collect()
}

pub(crate) fn parse_vtt(text: &str) -> Result<Vec<ParsedCue>, CueError> {
    let all = lines(text);
    match all.first() {
        Some((_, l)) if *l == "WEBVTT" || l.starts_with("WEBVTT ") || l.starts_with("WEBVTT\t") => {
        }
        _ => return at(1, "a WebVTT file must start with `WEBVTT`"),
    }
    let mut cues = Vec::new();
    // The first block is the header (WEBVTT plus optional metadata lines).
    for block in blocks(&all).into_iter().skip(1) {
        let first = block[0].1;
        if first.starts_with("NOTE") || first == "STYLE" || first == "REGION" {
            continue;
        }
        cues.push(parse_block(&block, Format::Vtt)?);
    }
    Ok(cues)
}

/// One cue block: an optional number (SRT) or identifier (VTT), the timing line, the text.
fn parse_block(block: &[(usize, &str)], format: Format) -> Result<ParsedCue, CueError> {
    let (example, label) = match format {
        Format::Srt => ("00:00:01,000 --> 00:00:02,000", "cue number"),
        Format::Vtt => ("00:00:01.000 --> 00:00:02.000", "cue identifier"),
    };
    // The cue number is optional in practice; the timing line is what defines a cue.
    let Some(ti) = block.iter().position(|(_, l)| l.contains("-->")) else {
        let (n, l) = block[0];
        return at(
            n,
            format!("expected a timing line `{example}`, found `{}`", l.trim()),
        );
    };
    if ti > 1 {
        let (n, l) = block[1];
        let found = l.trim();
        return at(
            n,
            format!("expected a timing line after the {label}, found `{found}`"),
        );
    }
    let (n, timing) = block[ti];
    let (start, end) = timing_line(timing, n, format)?;
    let body: Vec<&str> = block[ti + 1..].iter().map(|(_, l)| *l).collect();
    let (text, marks) = clean_cue_text(&body.join("\n"), start);
    Ok(ParsedCue {
        line: n,
        cue: Cue {
            start,
            end,
            text,
            marks,
        },
    })
}

fn timing_line(l: &str, n: usize, f: Format) -> Result<(f64, f64), CueError> {
    let (a, rest) = l.split_once("-->").expect("caller checked");
    // WebVTT cue settings (`line:80% align:center`) follow the end time; SRT players ignore
    // coordinates (`X1:…`) the same way. Both are layout hints the template overrides.
    let b = rest.split_whitespace().next().unwrap_or("");
    let (start, end) = match (timestamp(a.trim(), f), timestamp(b, f)) {
        (Err(m), _) | (_, Err(m)) => return at(n, m),
        (Ok(start), Ok(end)) => (start, end),
    };
    if end <= start {
        return at(
            n,
            format!("cue ends ({}) before or when it starts ({})", b, a.trim()),
        );
    }
    Ok((start, end))
}

/// `HH:MM:SS,mmm` (SRT; `.` accepted) or `[HH:]MM:SS.mmm` (WebVTT) → seconds.
pub(crate) fn timestamp(s: &str, f: Format) -> Result<f64, String> {
    let bad = |why: &str| {
        let example = if f == Format::Srt {
            "00:01:02,500"
        } else {
            "00:01:02.500 or 01:02.500"
        };
        Err(format!(
            "malformed timestamp `{s}`: {why} (expected e.g. {example})"
        ))
    };
    let Some(sep) = s.rfind([',', '.']) else {
        return bad("no milliseconds");
    };
    let (hms, ms) = (&s[..sep], &s[sep + 1..]);
    if ms.len() != 3 || !ms.bytes().all(|b| b.is_ascii_digit()) {
        return bad("milliseconds must be 3 digits");
    }
    let parts: Vec<&str> = hms.split(':').collect();
    let (h, m, sec) = match (parts.as_slice(), f) {
        ([h, m, s], _) => (*h, *m, *s),
        ([m, s], Format::Vtt) => ("0", *m, *s),
        _ => return bad("expected hours:minutes:seconds"),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) || !digits(sec) || m.len() != 2 || sec.len() != 2 {
        return bad("minutes and seconds must be 2 digits");
    }
    let (h, m, sec, ms): (f64, u32, u32, u32) = (
        h.parse().unwrap_or(0.0),
        m.parse().unwrap_or(0),
        sec.parse().unwrap_or(0),
        ms.parse().unwrap_or(0),
    );
    if m > 59 || sec > 59 {
        return bad("minutes and seconds must be below 60");
    }
    Ok(h * 3600.0 + f64::from(m) * 60.0 + f64::from(sec) + f64::from(ms) / 1000.0)
}

/// Drops tags and decodes entities; returns the text and the karaoke marks
/// (byte offset in the returned text, seconds) from WebVTT `<hh:mm:ss.mmm>` tags.
fn clean_cue_text(raw: &str, _cue_start: f64) -> (String, Vec<(usize, f64)>) {
    let mut out = String::new();
    let mut marks = Vec::new();
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(close) = rest.find('>') {
                let tag = &rest[1..close];
                if let Ok(t) = timestamp(tag, Format::Vtt) {
                    marks.push((out.len(), t));
                }
                rest = &rest[close + 1..];
                continue;
            }
        }
        // ASS override blocks that SRT exports often carry, e.g. `{\an8}`.
        if c == '{' && rest.starts_with("{\\") {
            if let Some(close) = rest.find('}') {
                rest = &rest[close + 1..];
                continue;
            }
        }
        if c == '&' {
            let ents = [
                ("&amp;", '&'),
                ("&lt;", '<'),
                ("&gt;", '>'),
                ("&nbsp;", '\u{a0}'),
                ("&lrm;", '\u{200e}'),
                ("&rlm;", '\u{200f}'),
                ("&quot;", '"'),
                ("&apos;", '\''),
            ];
            if let Some((e, ch)) = ents.iter().find(|(e, _)| rest.starts_with(e)) {
                out.push(*ch);
                rest = &rest[e.len()..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    // Tags at line edges leave spaces players would not show.
    let lines: Vec<&str> = out.split('\n').collect();
    if lines.iter().any(|l| l.trim() != *l) {
        // Re-trim while keeping mark offsets right: rebuild and shift marks.
        let mut trimmed = String::new();
        let mut shifted = Vec::new();
        let mut src_off = 0;
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                trimmed.push('\n');
                src_off += 1;
            }
            let lead = l.len() - l.trim_start().len();
            let body = l.trim();
            for &(o, t) in &marks {
                if o >= src_off && o <= src_off + l.len() {
                    let rel = (o - src_off).saturating_sub(lead).min(body.len());
                    shifted.push((trimmed.len() + rel, t));
                }
            }
            trimmed.push_str(body);
            src_off += l.len();
        }
        shifted.dedup();
        return (trimmed, shifted);
    }
    (out, marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_with_bom_crlf_and_multiline_cues() {
        let text = "\u{feff}1\r\n00:00:00,500 --> 00:00:02,000\r\n<i>Run</i> lighter.\r\nEvery day.\r\n\r\n2\r\n00:00:02,500 --> 00:00:04,000\r\nNew &amp; light\r\n";
        let cues = parse_srt(text).unwrap();
        assert_eq!(cues.len(), 2);
        assert_eq!(cues[0].line, 2);
        assert_eq!(cues[0].cue.text, "Run lighter.\nEvery day.");
        assert_eq!((cues[0].cue.start, cues[0].cue.end), (0.5, 2.0));
        assert_eq!(cues[1].cue.text, "New & light");
        assert_eq!(cues[1].line, 7);
    }

    #[test]
    fn srt_without_numbers_and_long_hours() {
        let cues = parse_srt("100:00:01,000 --> 100:00:02,250\nlate\n").unwrap();
        assert_eq!(cues[0].cue.start, 360_001.0);
        assert_eq!(cues[0].cue.end, 360_002.25);
    }

    #[test]
    fn bad_timestamps_name_their_line() {
        let e = parse_srt(
            "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:3,000 --> 00:00:04,000\nbad\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 6);
        assert!(e.message.contains("00:00:3,000"), "{}", e.message);
        let e = parse_srt("1\n00:00:01,00 --> 00:00:02,000\nx\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_srt("1\n00:01:61,000 --> 00:02:00,000\nx\n").unwrap_err();
        assert!(e.message.contains("below 60"));
        let e = parse_srt("1\nhello\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = parse_srt("1\n00:00:02,000 --> 00:00:01,000\nx\n").unwrap_err();
        assert!(e.message.contains("before"));
        // SRT always has hours.
        assert!(parse_srt("00:01,000 --> 00:02,000\nx\n").is_err());
    }

    #[test]
    fn vtt_header_notes_settings_and_karaoke_marks() {
        let text = "\u{feff}WEBVTT - promo\r\n\r\nNOTE made by hand\r\n\r\nintro\r\n00:01.000 --> 00:00:03.000 line:80% align:center\r\n<v Ana>Run <00:00:01.800><c.hl>lighter</c> <00:00:02.400>today\r\n";
        let cues = parse_vtt(text).unwrap();
        assert_eq!(cues.len(), 1);
        let c = &cues[0].cue;
        assert_eq!((c.start, c.end), (1.0, 3.0));
        assert_eq!(c.text, "Run lighter today");
        assert_eq!(c.marks, vec![(4, 1.8), (12, 2.4)]);
        assert_eq!(cues[0].line, 6);
    }

    #[test]
    fn vtt_needs_its_signature_and_good_times() {
        assert_eq!(
            parse_vtt("00:01.000 --> 00:02.000\nx\n").unwrap_err().line,
            1
        );
        let e = parse_vtt("WEBVTT\n\n00:01.000 --> 00:02.0000\nx\n").unwrap_err();
        assert_eq!(e.line, 3);
    }
}
