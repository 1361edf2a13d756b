//! Asset licences: `licence = { holder, id, expires, regions, usage }` on a background,
//! product or audio option, and `[[asset]]` records in an `assets.toml` beside the media, so
//! one record serves every template that uses the file. Each becomes a [`Licence`] keyed by
//! the asset's canonical path; `plan::licence` checks them per output.

use std::collections::BTreeMap;

use super::*;
use crate::template::line_col;

impl V<'_> {
    /// A `licence` table of the option whose media file is `file`, judged and kept for
    /// [`V::licence_book`].
    pub(super) fn licence(&mut self, raw: Option<&RawLicence>, file: Option<&Path>, owner: &str) {
        let Some(raw) = raw else { return };
        let Some(file) = file else {
            self.err(
                &raw.span,
                format!("{owner} has a licence but no media file for it to cover"),
                Some("a licence belongs to an image, video or audio file".to_string()),
            );
            return;
        };
        let canon = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
        let mut problems = Vec::new();
        let lic = judge(raw, &mut problems);
        for (span, msg, hint) in problems {
            self.err(&span, msg, hint);
        }
        if let Some(mut lic) = lic {
            let (line, _) = line_col(self.dx.source(), raw.span.start);
            lic.written_at = format!("{}:{line}", self.dx.file.display());
            self.licences.push((canon, lic));
        }
    }

    /// Every licence of the template's assets: the `assets.toml` records beside them, then
    /// the template's own (which win: they are the more specific statement).
    pub(super) fn licence_book(&mut self) -> BTreeMap<PathBuf, Licence> {
        let mut book = BTreeMap::new();
        let mut dirs: Vec<PathBuf> = self
            .asset_refs
            .iter()
            .filter_map(|(p, _)| p.parent().map(Path::to_path_buf))
            .collect();
        dirs.sort();
        dirs.dedup();
        for dir in dirs {
            let file = dir.join(ASSETS_FILE);
            if !file.is_file() {
                continue;
            }
            let reference = self
                .asset_refs
                .iter()
                .find(|(p, _)| p.parent() == Some(dir.as_path()))
                .map(|(_, s)| s.clone())
                .unwrap_or(0..0);
            for (path, lic) in self.assets_file(&file, &reference) {
                book.insert(path, lic);
            }
        }
        for (path, lic) in std::mem::take(&mut self.licences) {
            book.insert(path, lic);
        }
        book
    }

    /// The `[[asset]]` records of one `assets.toml`; its problems are reported in that file.
    fn assets_file(&mut self, file: &Path, reference: &Range<usize>) -> Vec<(PathBuf, Licence)> {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                self.dx.in_file(
                    Severity::Error,
                    file,
                    0,
                    reference.clone(),
                    format!("cannot read: {e}"),
                    None,
                );
                return Vec::new();
            }
        };
        let mut problems: Vec<Problem> = Vec::new();
        let mut out = Vec::new();
        match text.parse::<toml_edit::ImDocument<String>>() {
            Err(e) => {
                let line = e.span().map(|s| line_col(&text, s.start).0).unwrap_or(1);
                problems.push((line, format!("not TOML: {}", e.message()), None));
            }
            Ok(doc) => {
                for (key, _) in doc.iter() {
                    if key != "asset" {
                        problems.push((
                            1,
                            format!("unknown key `{key}`"),
                            Some("an assets.toml holds [[asset]] records only".to_string()),
                        ));
                    }
                }
                let records = doc
                    .get("asset")
                    .and_then(|i| i.as_array_of_tables())
                    .map(|a| a.iter().collect::<Vec<_>>())
                    .unwrap_or_default();
                for rec in records {
                    out.extend(asset_record(file, &text, rec, &mut problems));
                }
            }
        }
        for (line, msg, hint) in problems {
            self.dx
                .in_file(Severity::Error, file, line, reference.clone(), msg, hint);
        }
        out
    }
}

/// A problem in an `assets.toml`: line, message, hint.
type Problem = (usize, String, Option<String>);

/// One `[[asset]]` record of `file` (whose text is `text`) as the licence it gives a file
/// beside it; what is wrong with it goes to `problems`.
fn asset_record(
    file: &Path,
    text: &str,
    rec: &toml_edit::Table,
    problems: &mut Vec<Problem>,
) -> Option<(PathBuf, Licence)> {
    let line = rec.span().map(|s| line_col(text, s.start).0).unwrap_or(1);
    let string = |k: &str| rec.get(k).and_then(|v| v.as_str()).map(str::to_string);
    for (k, _) in rec.iter() {
        if !["file", "holder", "id", "expires", "regions", "usage"].contains(&k) {
            problems.push((
                line,
                format!("unknown key `{k}` in [[asset]]"),
                Some("expected file, holder, id, expires, regions or usage".to_string()),
            ));
        }
    }
    let Some(name) = string("file") else {
        problems.push((line, "[[asset]] without `file`".to_string(), None));
        return None;
    };
    let regions: Option<Vec<String>> = match rec.get("regions") {
        None => Some(Vec::new()),
        Some(v) => v
            .as_array()
            .and_then(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect()),
    };
    let lic = Licence {
        holder: string("holder").unwrap_or_default(),
        id: string("id").unwrap_or_default(),
        expires: string("expires"),
        regions: regions.clone().unwrap_or_default(),
        usage: string("usage"),
        written_at: format!("{}:{line}", file.display()),
    };
    let mut msgs = check_fields(&lic);
    if regions.is_none() {
        msgs.push(("`regions` must be a list of region codes".to_string(), None));
    }
    if !rec.get("expires").is_none_or(|v| v.is_str()) {
        msgs.push((
            "`expires` must be a quoted date, \"YYYY-MM-DD\"".to_string(),
            None,
        ));
    }
    let path = file.parent().unwrap_or(Path::new(".")).join(&name);
    let found = match path.canonicalize() {
        Ok(c) => Some(c),
        Err(_) => {
            msgs.push((
                format!("`{name}` does not exist beside {ASSETS_FILE}"),
                Some(format!("looked for {}", path.display())),
            ));
            None
        }
    };
    let ok = msgs.is_empty();
    problems.extend(msgs.into_iter().map(|(m, h)| (line, m, h)));
    found.filter(|_| ok).map(|c| (c, lic))
}

/// The name of the per-directory licence file.
pub const ASSETS_FILE: &str = "assets.toml";

/// A template `licence` table as a [`Licence`], or what is wrong with it.
fn judge(
    raw: &RawLicence,
    problems: &mut Vec<(Range<usize>, String, Option<String>)>,
) -> Option<Licence> {
    let lic = Licence {
        holder: raw
            .holder
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_default(),
        id: raw.id.as_ref().map(|s| s.value.clone()).unwrap_or_default(),
        expires: raw.expires.as_ref().map(|s| s.value.clone()),
        regions: raw
            .regions
            .as_ref()
            .map(|r| r.value.iter().map(|s| s.value.clone()).collect())
            .unwrap_or_default(),
        usage: raw.usage.as_ref().map(|s| s.value.clone()),
        written_at: String::new(),
    };
    let msgs = check_fields(&lic);
    let span = |key: &str| match key {
        "expires" => raw.expires.as_ref().map(|s| s.span.clone()),
        "regions" => raw.regions.as_ref().map(|s| s.span.clone()),
        _ => None,
    };
    let ok = msgs.is_empty();
    for (msg, hint) in msgs {
        let key = ["expires", "regions"].into_iter().find(|k| msg.contains(k));
        let at = key.and_then(span).unwrap_or(raw.span.clone());
        problems.push((at, msg, hint));
    }
    ok.then_some(lic)
}

/// What is wrong with a licence's fields, wherever it was written.
fn check_fields(l: &Licence) -> Vec<(String, Option<String>)> {
    let mut v = Vec::new();
    if l.holder.trim().is_empty() {
        v.push((
            "licence without `holder`".to_string(),
            Some("who granted it, e.g. holder = \"Getty Images\"".to_string()),
        ));
    }
    if l.id.trim().is_empty() {
        v.push((
            "licence without `id`".to_string(),
            Some("the licence or contract number, e.g. id = \"GI-2026-0042\"".to_string()),
        ));
    }
    if let Some(e) = &l.expires {
        if !is_date(e) {
            v.push((
                format!("`expires` = \"{e}\" is not a date"),
                Some("write the last day it covers as YYYY-MM-DD, e.g. \"2027-03-31\"".to_string()),
            ));
        }
    }
    for r in &l.regions {
        if r.is_empty()
            || !r
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            v.push((
                format!("`regions` lists \"{r}\", not a region code"),
                Some("region codes as the template's [[region]] code, e.g. \"US\"".to_string()),
            ));
        }
    }
    v
}

/// `YYYY-MM-DD` naming a real day.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    if !s[..4].bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}
