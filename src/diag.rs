//! Diagnostics: every problem in an input file (template, preset, caption file, rule pack),
//! with its position, collected and then rendered like rustc/typst. A base module: the
//! template layer, the lint and the input probe all report through it.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::NoColor, Chars, Config};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line of `span.start`.
    pub line: usize,
    /// 1-based column of `span.start`, counted in characters.
    pub column: usize,
    /// Byte range in the template text.
    pub span: Range<usize>,
    pub severity: Severity,
    pub message: String,
    pub hint: Option<String>,
}

/// All diagnostics of one template (errors and warnings), in source order, plus the text they
/// point into so they can be rendered with snippets.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub file: PathBuf,
    pub items: Vec<Diagnostic>,
    source: String,
    /// (table span start, key) of keys present with a wrong type, so validation does not also
    /// call them missing.
    bad_keys: HashSet<(usize, String)>,
}

impl Diagnostics {
    pub fn new(file: &Path, source: &str) -> Diagnostics {
        Diagnostics {
            file: file.to_path_buf(),
            items: Vec::new(),
            source: source.to_string(),
            bad_keys: HashSet::new(),
        }
    }

    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Error, span, message.into(), hint);
    }

    pub fn warning(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Severity::Warning, span, message.into(), hint);
    }

    /// A problem inside another file the template refers to (a caption file): the
    /// diagnostic names that file and its 1-based line; `reference` is where the template
    /// names the file, so problems sort with the template's own.
    pub fn in_file(
        &mut self,
        severity: Severity,
        file: &Path,
        line: usize,
        reference: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let span = clamp(&self.source, reference);
        self.items.push(Diagnostic {
            file: file.to_path_buf(),
            line,
            column: 1,
            span,
            severity,
            message: escaped(message.into()),
            hint: hint.map(escaped),
        });
    }

    fn push(
        &mut self,
        severity: Severity,
        span: Range<usize>,
        message: String,
        hint: Option<String>,
    ) {
        let span = clamp(&self.source, span);
        let (line, column) = line_col(&self.source, span.start);
        self.items.push(Diagnostic {
            file: self.file.clone(),
            line,
            column,
            span,
            severity,
            message: escaped(message),
            hint: hint.map(escaped),
        });
    }

    pub(crate) fn mark_bad(&mut self, table: usize, key: &str) {
        self.bad_keys.insert((table, key.to_string()));
    }

    pub(crate) fn was_bad(&self, table: usize, key: &str) -> bool {
        self.bad_keys.contains(&(table, key.to_string()))
    }

    /// The template text the spans point into.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.severity == Severity::Error)
    }

    /// Non-fatal issues (e.g. a copy taken from a fallback locale).
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Source order, so a user fixes the file top to bottom; stable for equal positions.
    pub(crate) fn sort(&mut self) {
        self.items.sort_by_key(|d| d.span.start);
    }

    /// Machine-readable form for CI logs: an array of objects with
    /// `file, line, column, span {start, end}, severity, message, hint`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.items).expect("diagnostics serialize")
    }

    /// Renders one diagnostic with its source snippet.
    pub fn render(&self, d: &Diagnostic) -> String {
        // Without a snippet: the position, the lines `at` adds, and the hint.
        let plain = |at: String| {
            let mut s = format!("{}: {}\n  --> {at}\n", sev(d.severity), d.message);
            if let Some(h) = &d.hint {
                s.push_str(&format!("  = hint: {h}\n"));
            }
            s + "\n"
        };
        if d.file != self.file {
            // In a file the template refers to: its own position, then where it is named.
            let (tl, tc) = line_col(&self.source, d.span.start);
            let (file, this) = (shown_path(&d.file), shown_path(&self.file));
            // Line 0: a whole file the template names indirectly (a font, by family), with
            // no line of its own and no key to point at.
            if d.line == 0 {
                return plain(file);
            }
            let line = d.line;
            return plain(format!(
                "{file}:{line}\n  = referenced from {this}:{tl}:{tc}"
            ));
        }
        if self.source.is_empty() && d.span.is_empty() {
            // Nothing to quote (e.g. the file could not be read): just the position and hint.
            return plain(shown_path(&d.file));
        }
        if let Some(quote) = unquotable(&self.source, &d.span) {
            // The snippet would pass hidden characters to the terminal (where a bidi override
            // reorders the line and an escape sequence rewrites it) or print a huge line:
            // position, the line escaped and cut, and the hint instead.
            let (file, line, column) = (shown_path(&d.file), d.line, d.column);
            return plain(format!("{file}:{line}:{column}\n  = line {line}: {quote}"));
        }
        let file = SimpleFile::new(shown_path(&d.file), self.source.as_str());
        let cs = match d.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
        }
        .with_message(&d.message)
        .with_labels(vec![Label::primary((), d.span.clone())])
        .with_notes(d.hint.iter().map(|h| format!("hint: {h}")).collect());
        let config = Config {
            chars: Chars::ascii(),
            ..Config::default()
        };
        let mut out = NoColor::new(Vec::new());
        if term::emit(&mut out, &config, &file, &cs).is_err() {
            // Rendering only fails on a span outside the text; fall back to the plain line.
            return format!(
                "{}: {}\n --> {}:{}:{}\n",
                sev(d.severity),
                d.message,
                shown_path(&d.file),
                d.line,
                d.column
            );
        }
        String::from_utf8_lossy(&out.into_inner()).into_owned()
    }
}

fn sev(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            write!(f, "{}", self.render(d))?;
        }
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let (errors, warnings) = (self.errors().count(), self.warnings().count());
        let counts: Vec<String> = [(errors, "error"), (warnings, "warning")]
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| count(n, what))
            .collect();
        if !counts.is_empty() {
            writeln!(f, "{}: {}", shown_path(&self.file), counts.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Messages and hints quote user text (paths, ids, copy): written out where it would hide
/// or reorder characters (`crate::display`).
fn escaped(s: String) -> String {
    match crate::display::escape_for_display(&s) {
        std::borrow::Cow::Borrowed(_) => s,
        std::borrow::Cow::Owned(e) => e,
    }
}

fn shown_path(p: &Path) -> String {
    crate::display::escape_for_display(&p.display().to_string()).into_owned()
}

/// Lines longer than this are not quoted whole in a snippet.
const SNIPPET_CHARS: usize = 200;

/// `None` when the lines `span` covers can be quoted as they are; otherwise the first of them
/// escaped and cut, for the plain form.
fn unquotable(source: &str, span: &Range<usize>) -> Option<String> {
    let start = source[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = source[span.end..]
        .find('\n')
        .map_or(source.len(), |i| span.end + i);
    let mut lines = source[start..end]
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l));
    let bad = |l: &str| {
        l.chars().nth(SNIPPET_CHARS).is_some()
            || l.chars().any(|c| c != '\t' && crate::display::is_hidden(c))
    };
    if !lines.clone().any(bad) {
        return None;
    }
    let first = lines.next().unwrap_or("");
    Some(crate::display::shown(first, crate::display::QUOTE_CHARS).into_owned())
}

fn clamp(source: &str, span: Range<usize>) -> Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(source.len());
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start);
    let end = fix(span.end).max(start);
    start..end
}

/// `msg`, then "; did you mean `x`?" when `word` looks like a typo of candidate `x`.
pub(crate) fn or_typo<'a>(
    mut msg: String,
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    if let Some(s) = did_you_mean(word, candidates) {
        msg.push_str(&format!("; did you mean `{s}`?"));
    }
    msg
}

/// The closest candidate by edit distance, if it is close enough to be a plausible typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance where swapping two neighbours counts as one edit (optimal string alignment),
/// since transposed letters are the commonest typo (`nmae`).
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// 1-based (line, column) of a byte offset; the column counts characters, as editors do.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, source[line_start..offset].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_suggestions() {
        assert_eq!(did_you_mean("tikto", ["tiktok", "reels"]), Some("tiktok"));
        assert_eq!(did_you_mean("colour", ["color", "fit"]), Some("color"));
        assert_eq!(did_you_mean("nmae", ["name", "kind"]), Some("name"));
        assert_eq!(did_you_mean("zzz", ["tiktok"]), None);
    }
}

#[cfg(test)]
mod position_tests {
    use super::*;

    #[test]
    fn line_col_counts_chars() {
        let s = "a = 1\nπ = \"x\"\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        // `=` after the two-byte `π` and a space is the third character.
        assert_eq!(line_col(s, 9), (2, 3));
        // Inside `π`: the column of `π` itself.
        assert_eq!(line_col(s, 7), (2, 1));
    }
}
