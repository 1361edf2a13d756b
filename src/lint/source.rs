//! Where each piece of copy is written: every copy string of the template with the byte
//! span of its literal (from `toml_edit`'s spans, as the template layer reads them), and
//! the cues of caption files with their lines.
//!
//! The validated `Template` has the copy but not where it came from, so the template text is
//! walked once more here for the copy keys alone: `[[subtitle]]` `text`, `lines[].text` and
//! `captions`, `[[badge]]` `text`, `[[end_card]]` `headline`, `price`, `cta`, and the same
//! keys in `[region.override.subtitle.ID]`.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{Item, TableLike, Value};

use crate::formats::cues;
use crate::template::Pool;

/// One string of copy in one locale.
#[derive(Debug, Clone)]
pub(crate) struct CopyText {
    pub pool: Pool,
    /// Index of the option in its pool, as in a variant's choice.
    pub index: usize,
    pub option: String,
    /// The region whose `[region.override…]` writes this copy; `None` = the pool option.
    pub owner: Option<String>,
    /// The key: `text`, `lines[2].text`, `captions`, `headline`, `price`, `cta`; a
    /// subtitle's ad text `title`, `description`, `headline`, `long_headline`.
    pub field: String,
    pub locale: String,
    pub text: String,
    pub place: Place,
}

#[derive(Debug, Clone)]
pub(crate) enum Place {
    /// A string literal in the template at this byte range (quotes included).
    Template(Range<usize>),
    /// A cue of caption file `file` (index into `Sources::files`), whose text starts on this
    /// 1-based line.
    Caption { file: usize, line: usize },
}

/// A caption file the template names, read once.
#[derive(Debug, Clone)]
pub(crate) struct CaptionFile {
    pub path: PathBuf,
    pub text: String,
}

/// Every copy string of a template, in file order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sources {
    pub copy: Vec<CopyText>,
    pub files: Vec<CaptionFile>,
}

/// Pools with copy, as the template names them.
const COPY_POOLS: [(Pool, &str, &[&str]); 3] = [
    (
        Pool::Subtitle,
        "subtitle",
        &[
            "text",
            "lines",
            "captions",
            "title",
            "description",
            "headline",
            "long_headline",
        ],
    ),
    (Pool::Badge, "badge", &["text"]),
    (Pool::EndCard, "end_card", &["headline", "price", "cta"]),
];

/// Reads the copy out of template text already validated (so its structure is known good;
/// anything unexpected is skipped, not reported). Caption paths resolve against `root`.
pub(crate) fn read(text: &str, root: &Path) -> Sources {
    let mut out = Sources::default();
    let Ok(doc) = toml_edit::ImDocument::parse(text) else {
        return out;
    };
    let root_table = doc.as_table();
    let mut ids: Vec<(Pool, Vec<String>)> = Vec::new();
    for (pool, key, fields) in COPY_POOLS {
        let options = root_table.get(key).map(tables).unwrap_or_default();
        let mut pool_ids = Vec::new();
        for (index, t) in options.into_iter().enumerate() {
            let id = t.get("id").and_then(Item::as_str).unwrap_or("").to_string();
            let owner = Owner {
                pool,
                index,
                option: id.clone(),
                region: None,
            };
            out.read_option(t, &owner, fields, root);
            pool_ids.push(id);
        }
        ids.push((pool, pool_ids));
    }
    for region in root_table.get("region").map(tables).unwrap_or_default() {
        let code = region.get("code").and_then(Item::as_str).unwrap_or("");
        let Some(overrides) = region.get("override").and_then(Item::as_table_like) else {
            continue;
        };
        for (pool, key, fields) in COPY_POOLS {
            let Some(by_id) = overrides.get(key).and_then(Item::as_table_like) else {
                continue;
            };
            let pool_ids = &ids
                .iter()
                .find(|(p, _)| *p == pool)
                .expect("every copy pool")
                .1;
            for (id, item) in by_id.iter() {
                let (Some(t), Some(index)) =
                    (item.as_table_like(), pool_ids.iter().position(|p| p == id))
                else {
                    continue;
                };
                let owner = Owner {
                    pool,
                    index,
                    option: id.to_string(),
                    region: Some(code.to_string()),
                };
                out.read_option(t, &owner, fields, root);
            }
        }
    }
    out
}

struct Owner {
    pool: Pool,
    index: usize,
    option: String,
    region: Option<String>,
}

impl Sources {
    fn push(&mut self, owner: &Owner, field: String, locale: &str, text: &str, place: Place) {
        self.copy.push(CopyText {
            pool: owner.pool,
            index: owner.index,
            option: owner.option.clone(),
            owner: owner.region.clone(),
            field,
            locale: locale.to_string(),
            text: text.to_string(),
            place,
        });
    }

    fn read_option(&mut self, t: &dyn TableLike, owner: &Owner, fields: &[&str], root: &Path) {
        for &field in fields {
            let Some(item) = t.get(field) else { continue };
            match field {
                "lines" => {
                    for (k, line) in tables(item).into_iter().enumerate() {
                        if let Some(text) = line.get("text") {
                            self.locale_texts(owner, &format!("lines[{k}].text"), text);
                        }
                    }
                }
                "captions" => {
                    for (locale, path, _) in locale_strings(item) {
                        self.caption_file(owner, &locale, &root.join(path));
                    }
                }
                _ => self.locale_texts(owner, field, item),
            }
        }
    }

    fn locale_texts(&mut self, owner: &Owner, field: &str, item: &Item) {
        for (locale, text, span) in locale_strings(item) {
            self.push(
                owner,
                field.to_string(),
                &locale,
                &text,
                Place::Template(span),
            );
        }
    }

    /// Each cue of a caption file becomes copy at the line its text starts on. A file that
    /// cannot be read or parsed has been reported by validation already; it is skipped.
    fn caption_file(&mut self, owner: &Owner, locale: &str, path: &Path) {
        let file = match self.files.iter().position(|f| f.path == path) {
            Some(i) => i,
            None => {
                let Ok(text) = std::fs::read_to_string(path) else {
                    return;
                };
                self.files.push(CaptionFile {
                    path: path.to_path_buf(),
                    text,
                });
                self.files.len() - 1
            }
        };
        let text = &self.files[file].text;
        let Ok(parsed) = cues::parse(text, cues::Format::detect(path, text)) else {
            return;
        };
        for c in parsed {
            // The text starts on the line after the cue's timing.
            let place = Place::Caption {
                file,
                line: c.line + 1,
            };
            self.push(owner, "captions".into(), locale, &c.cue.text, place);
        }
    }
}

/// The tables of a pool: `[[name]]` tables or an array of inline tables.
fn tables(item: &Item) -> Vec<&dyn TableLike> {
    match item {
        Item::ArrayOfTables(a) => a.iter().map(|t| t as &dyn TableLike).collect(),
        Item::Value(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_inline_table().map(|t| t as &dyn TableLike))
            .collect(),
        _ => Vec::new(),
    }
}

/// Locale → string with the span of each literal; a plain string is `en`.
fn locale_strings(item: &Item) -> Vec<(String, String, Range<usize>)> {
    let one = |v: &Value| -> Option<(String, Range<usize>)> {
        Some((v.as_str()?.to_string(), v.span().unwrap_or(0..0)))
    };
    match item {
        Item::Value(v @ Value::String(_)) => one(v)
            .map(|(s, span)| vec![("en".to_string(), s, span)])
            .unwrap_or_default(),
        _ => item
            .as_table_like()
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| {
                        let (s, span) = one(v.as_value()?)?;
                        Some((k.to_string(), s, span))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The byte range in the template of each character of a decoded string literal: escapes
/// (`\u6700`) map to the whole escape. `None` when the literal does not decode to `value`
/// (then a finding points at the literal's start).
pub(crate) fn char_spans(
    source: &str,
    literal: &Range<usize>,
    value: &str,
) -> Option<Vec<Range<usize>>> {
    let lit = source.get(literal.clone())?;
    let (delim, basic) = if lit.starts_with("\"\"\"") {
        (3, true)
    } else if lit.starts_with("'''") {
        (3, false)
    } else if lit.starts_with('"') {
        (1, true)
    } else if lit.starts_with('\'') {
        (1, false)
    } else {
        return None;
    };
    let body_start = literal.start + delim;
    let body = lit.get(delim..lit.len().checked_sub(delim)?)?;
    let mut spans = Vec::with_capacity(value.len());
    let mut decoded = String::with_capacity(value.len());
    let mut it = body.char_indices().peekable();
    // A newline right after the opening delimiter of a multi-line string is not part of it.
    if delim == 3 {
        if body.starts_with("\r\n") {
            it.next();
            it.next();
        } else if body.starts_with('\n') {
            it.next();
        }
    }
    while let Some((i, c)) = it.next() {
        let at = body_start + i;
        if c == '\\' && basic {
            let &(_, e) = it.peek()?;
            let simple = match e {
                'b' => Some('\u{8}'),
                't' => Some('\t'),
                'n' => Some('\n'),
                'f' => Some('\u{c}'),
                'r' => Some('\r'),
                'e' => Some('\u{1b}'),
                '"' => Some('"'),
                '\\' => Some('\\'),
                _ => None,
            };
            if let Some(ch) = simple {
                it.next();
                spans.push(at..at + 2);
                decoded.push(ch);
            } else if e == 'u' || e == 'U' {
                let n = if e == 'u' { 4 } else { 8 };
                it.next();
                let hex = body.get(i + 2..i + 2 + n)?;
                let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                for _ in 0..n {
                    it.next();
                }
                spans.push(at..at + 2 + n);
                decoded.push(ch);
            } else {
                // Line-ending backslash: the newline and the whitespace after it vanish.
                while it.peek().is_some_and(|&(_, w)| w.is_whitespace()) {
                    it.next();
                }
            }
        } else if c == '\r' && delim == 3 && it.peek().is_some_and(|&(_, n)| n == '\n') {
            // TOML normalises CRLF in multi-line strings to LF.
            let (j, _) = it.next()?;
            spans.push(at..body_start + j + 1);
            decoded.push('\n');
        } else {
            spans.push(at..at + c.len_utf8());
            decoded.push(c);
        }
    }
    (decoded == value).then_some(spans)
}

/// Where a cue's phrase is written in its caption file: the phrase searched from the start of
/// the cue's text line (tags were stripped from the cue, so its offsets do not apply), else
/// the start of that line.
pub(crate) fn caption_span(
    file: &str,
    line: usize,
    phrase: &str,
    line_in_cue: usize,
) -> Range<usize> {
    let line_start = file
        .split_inclusive('\n')
        .take(line - 1 + line_in_cue)
        .map(str::len)
        .sum::<usize>()
        .min(file.len());
    let line_end = file[line_start..]
        .find('\n')
        .map_or(file.len(), |n| line_start + n);
    match file[line_start..line_end].find(phrase) {
        Some(i) => line_start + i..line_start + i + phrase.len(),
        None => line_start..line_start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_of_escaped_and_plain_literals() {
        let src = r#"a = "x\u6700佳 y""#;
        let lit = 4..src.len();
        let spans = char_spans(src, &lit, "x最佳 y").unwrap();
        assert_eq!(spans[0], 5..6);
        assert_eq!(&src[spans[1].clone()], "\\u6700");
        assert_eq!(&src[spans[2].clone()], "佳");
        let src = "a = '''\nC:\\x'''";
        let spans = char_spans(src, &(4..src.len()), "C:\\x").unwrap();
        assert_eq!(&src[spans[2].clone()], "\\");
        assert!(char_spans(src, &(4..src.len()), "other").is_none());
    }

    #[test]
    fn caption_phrase_on_its_line() {
        let f = "1\n00:00:00,000 --> 00:00:01,000\n<i>最佳</i> 咖啡\n";
        assert_eq!(caption_span(f, 3, "最佳", 0), 35..41);
    }
}
