//! Reading the exports operators download: Meta Ads Manager CSV (English, Spanish and
//! Simplified Chinese headers), TikTok Ads Manager CSV/XLSX and Google Ads report CSV, into
//! one [`ExportRow`] per ad and reporting range.
//!
//! Headers are matched through alias tables (case- and space-insensitive, with a currency
//! in brackets taken off and kept), so a new localisation is one more line in a table.

use std::path::Path;

use super::ResultsError;

/// Which platform an export came from (decides the key and the column table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Platform {
    Meta,
    Tiktok,
    Google,
}

impl Platform {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Platform::Meta => "meta",
            Platform::Tiktok => "tiktok",
            Platform::Google => "google",
        }
    }
}

/// One data row of an export, numbers parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExportRow {
    /// 1-based line (CSV) or row (XLSX) in the file, for messages.
    pub line: usize,
    pub ad_id: String,
    pub ad_name: String,
    pub date_start: String,
    pub date_end: String,
    pub impressions: i64,
    pub clicks: i64,
    pub conversions: f64,
    pub spend: f64,
    pub revenue: f64,
    pub currency: String,
    /// URL parameters / final URL: where a `utm_content` may carry the variant id.
    pub url: String,
}

/// A parsed export.
#[derive(Debug, Clone)]
pub(crate) struct Export {
    pub platform: Platform,
    pub rows: Vec<ExportRow>,
    /// Total / summary rows recognised and left out (they are sums of the rows above).
    pub totals_skipped: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    AdName,
    AdId,
    Start,
    End,
    Day,
    Impressions,
    Clicks,
    /// Meta's `Results`: the campaign's optimisation event, used when `Purchases` is absent.
    Results,
    Conversions,
    Spend,
    Revenue,
    Roas,
    Url,
    Currency,
}

use Field::*;

/// Header aliases per platform, normalised (lower case, single spaces, no `(CUR)` suffix).
const META: &[(&str, Field)] = &[
    // English
    ("ad name", AdName),
    ("ad id", AdId),
    ("reporting starts", Start),
    ("reporting ends", End),
    ("day", Day),
    ("impressions", Impressions),
    ("link clicks", Clicks),
    ("results", Results),
    ("purchases", Conversions),
    ("amount spent", Spend),
    ("purchases conversion value", Revenue),
    ("purchase roas (return on ad spend)", Roas),
    ("url parameters", Url),
    ("currency", Currency),
    // Spanish
    ("nombre del anuncio", AdName),
    ("identificador del anuncio", AdId),
    ("id. del anuncio", AdId),
    ("inicio del informe", Start),
    ("fin del informe", End),
    ("día", Day),
    ("impresiones", Impressions),
    ("clics en el enlace", Clicks),
    ("resultados", Results),
    ("compras", Conversions),
    ("importe gastado", Spend),
    ("valor de conversión de compras", Revenue),
    (
        "roas (retorno de la inversión en publicidad) de compras",
        Roas,
    ),
    ("parámetros de url", Url),
    ("divisa", Currency),
    // Simplified Chinese
    ("广告名称", AdName),
    ("广告编号", AdId),
    ("报告开始日期", Start),
    ("报告结束日期", End),
    ("天", Day),
    ("展示次数", Impressions),
    ("链接点击量", Clicks),
    ("成效", Results),
    ("购物次数", Conversions),
    ("已花费金额", Spend),
    ("购物转化价值", Revenue),
    ("购物广告花费回报 (roas)", Roas),
    ("网址参数", Url),
    ("币种", Currency),
];

const TIKTOK: &[(&str, Field)] = &[
    ("ad name", AdName),
    ("ad id", AdId),
    ("by day", Day),
    ("date", Day),
    ("impressions", Impressions),
    ("clicks (destination)", Clicks),
    ("conversions", Conversions),
    ("cost", Spend),
    ("total complete payment", Revenue),
    ("complete payment roas", Roas),
    ("currency", Currency),
    ("url", Url),
];

const GOOGLE: &[(&str, Field)] = &[
    ("ad name", AdName),
    ("ad id", AdId),
    ("day", Day),
    ("impr.", Impressions),
    ("impressions", Impressions),
    ("clicks", Clicks),
    ("conversions", Conversions),
    ("cost", Spend),
    ("conv. value", Revenue),
    ("conv. value / cost", Roas),
    ("final url", Url),
    ("tracking template", Url),
    ("currency code", Currency),
];

/// Headers only one platform writes: they decide the platform when several tables match.
const META_ONLY: &[&str] = &[
    "reporting starts",
    "inicio del informe",
    "报告开始日期",
    "amount spent",
    "importe gastado",
    "已花费金额",
    "link clicks",
    "clics en el enlace",
    "链接点击量",
];
const TIKTOK_ONLY: &[&str] = &["clicks (destination)", "total complete payment"];
const GOOGLE_ONLY: &[&str] = &["impr.", "conv. value", "currency code"];

/// How many leading rows may come before the header (Google's title and date range, a
/// blank line or two).
const MAX_PREAMBLE: usize = 8;

/// A header cell made comparable, and the currency code it carried (`Amount spent (USD)`).
fn normalise_header(h: &str) -> (String, Option<String>) {
    let h = h.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '"');
    let mut cur = None;
    let mut base = h.to_string();
    for (open, close) in [('(', ')'), ('（', '）')] {
        if let (Some(a), true) = (base.rfind(open), base.ends_with(close)) {
            let inner = &base[a + open.len_utf8()..base.len() - close.len_utf8()];
            if inner.len() == 3 && inner.chars().all(|c| c.is_ascii_uppercase()) {
                cur = Some(inner.to_string());
                base = base[..a].to_string();
            }
        }
    }
    let norm = base.split_whitespace().collect::<Vec<_>>().join(" ");
    (norm.to_lowercase(), cur)
}

/// The grid of cells of a file, with each row's 1-based line number.
type Grid = Vec<(usize, Vec<String>)>;

pub(crate) fn read(path: &Path) -> Result<Export, ResultsError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let grid = if ext == "xlsx" || ext == "xls" {
        read_xlsx(path)?
    } else {
        let bytes = std::fs::read(path).map_err(|source| ResultsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        read_csv(path, &decode_text(path, &bytes)?)?
    };
    parse_grid(path, grid)
}

/// UTF-8 (with or without BOM) or UTF-16 with a BOM (Google Ads' "Excel CSV").
fn decode_text(path: &Path, bytes: &[u8]) -> Result<String, ResultsError> {
    let bad = |why: &str| ResultsError::Parse {
        path: path.to_path_buf(),
        line: 1,
        message: why.to_string(),
    };
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8(rest.to_vec()).map_err(|_| bad("not valid UTF-8 text"));
    }
    let utf16 = |rest: &[u8], le: bool| {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| bad("not valid UTF-16 text"))
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, false);
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| bad("not UTF-8 text (save the export as CSV UTF-8 or XLSX)"))
}

fn read_csv(path: &Path, text: &str) -> Result<Grid, ResultsError> {
    // The delimiter is the one the header line uses most: Google's UTF-16 export is
    // tab-separated, some European Excel saves use semicolons.
    let sample: Vec<&str> = text.lines().take(MAX_PREAMBLE + 1).collect();
    let delim = [b',', b'\t', b';']
        .into_iter()
        .max_by_key(|d| {
            sample
                .iter()
                .map(|l| l.matches(*d as char).count())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(b',');
    // Lines end in LF for the reader: it counts a CRLF file's lines short (the second data
    // row of a CRLF export was reported on line 4 when it is on line 5).
    let lf = text.replace("\r\n", "\n");
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(lf.as_bytes());
    let mut grid = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| ResultsError::Parse {
            path: path.to_path_buf(),
            line: e.position().map(|p| p.line() as usize).unwrap_or(0),
            message: e.to_string(),
        })?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        grid.push((line, rec.iter().map(str::to_string).collect()));
    }
    Ok(grid)
}

fn read_xlsx(path: &Path) -> Result<Grid, ResultsError> {
    use calamine::{open_workbook_auto, Data, Reader};
    let bad = |message: String| ResultsError::Parse {
        path: path.to_path_buf(),
        line: 0,
        message,
    };
    let mut wb = open_workbook_auto(path).map_err(|e| bad(format!("cannot open workbook: {e}")))?;
    let sheet = wb
        .worksheet_range_at(0)
        .ok_or_else(|| bad("the workbook has no sheet".into()))?
        .map_err(|e| bad(format!("cannot read the first sheet: {e}")))?;
    let first_row = sheet.start().map(|(r, _)| r as usize).unwrap_or(0);
    Ok(sheet
        .rows()
        .enumerate()
        .map(|(i, r)| {
            let cells = r
                .iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    // Integral floats as integers: an ad id read as 1.7e18 must keep its digits.
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                        format!("{}", *f as i64)
                    }
                    other => other.to_string(),
                })
                .collect();
            (first_row + i + 1, cells)
        })
        .collect())
}

/// Matches a header row against a platform's table: column per field, and the currency
/// found in any header.
fn map_header(
    cells: &[String],
    table: &[(&str, Field)],
) -> (Vec<(Field, usize)>, Option<String>, usize) {
    let mut cols = Vec::new();
    let mut currency = None;
    for (i, c) in cells.iter().enumerate() {
        let (norm, cur) = normalise_header(c);
        if let Some((_, f)) = table.iter().find(|(a, _)| *a == norm) {
            if !cols.iter().any(|(g, _)| g == f) {
                cols.push((*f, i));
                if cur.is_some() {
                    currency = cur;
                }
            }
        }
    }
    let n = cols.len();
    (cols, currency, n)
}

fn detect(cells: &[String], has_preamble: bool) -> Option<Platform> {
    let norms: Vec<String> = cells.iter().map(|c| normalise_header(c).0).collect();
    let has = |set: &[&str]| norms.iter().any(|n| set.contains(&n.as_str()));
    let score = |t: &[(&str, Field)]| map_header(cells, t).2;
    if has(META_ONLY) {
        Some(Platform::Meta)
    } else if has(TIKTOK_ONLY) {
        Some(Platform::Tiktok)
    } else if has(GOOGLE_ONLY) || (has_preamble && score(GOOGLE) >= 3) {
        Some(Platform::Google)
    } else if score(META) >= 4 {
        Some(Platform::Meta)
    } else {
        None
    }
}

fn parse_grid(path: &Path, grid: Grid) -> Result<Export, ResultsError> {
    let found = grid
        .iter()
        .take(MAX_PREAMBLE + 1)
        .enumerate()
        .find_map(|(i, (_, cells))| detect(cells, i > 0).map(|p| (i, p)));
    let Some((hi, platform)) = found else {
        return Err(ResultsError::UnknownLayout {
            path: path.to_path_buf(),
            first_line: grid.first().map(|(_, c)| c.join(",")).unwrap_or_default(),
        });
    };
    let table = match platform {
        Platform::Meta => META,
        Platform::Tiktok => TIKTOK,
        Platform::Google => GOOGLE,
    };
    let (header_line, header) = &grid[hi];
    let (cols, header_currency, _) = map_header(header, table);
    let col = |f: Field| cols.iter().find(|(g, _)| *g == f).map(|(_, i)| *i);
    for (need, what) in [
        (Impressions, "impressions"),
        (Clicks, "clicks"),
        (Spend, "spend/cost"),
    ] {
        if col(need).is_none() {
            return Err(ResultsError::Parse {
                path: path.to_path_buf(),
                line: *header_line,
                message: format!(
                    "{} export without a {what} column (headers: {})",
                    platform.as_str(),
                    header.join(", ")
                ),
            });
        }
    }
    if col(AdName).is_none() && col(AdId).is_none() {
        return Err(ResultsError::Parse {
            path: path.to_path_buf(),
            line: *header_line,
            message: format!(
                "{} export without an ad name or ad id column: rows could not be told apart",
                platform.as_str()
            ),
        });
    }
    // Google's preamble: the report title, then the date range. The range itself has
    // commas ("November 1, 2026 - November 30, 2026"), which the CSV reader split into
    // cells: the line is put back together before it is read.
    let range = grid[..hi]
        .iter()
        .find_map(|(_, c)| date_range(&c.join(",")));

    let mut rows = Vec::new();
    let mut totals_skipped = 0;
    for (line, cells) in &grid[hi + 1..] {
        let get = |f: Field| {
            col(f)
                .and_then(|i| cells.get(i))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let (name, id) = (get(AdName), get(AdId));
        let first = cells.first().map(|s| s.trim()).unwrap_or("");
        if is_total(first) || is_total(name) || is_total(id) || (name.is_empty() && id.is_empty()) {
            totals_skipped += 1;
            continue;
        }
        let num = |f: Field, integer: bool| -> Result<f64, ResultsError> {
            let cell = get(f);
            parse_number(cell, integer).ok_or_else(|| ResultsError::Parse {
                path: path.to_path_buf(),
                line: *line,
                message: format!(
                    "ad {:?}: {:?} is not a number ({:?})",
                    or(name, id),
                    cell,
                    f
                ),
            })
        };
        let (mut start, mut end) = (normalise_date(get(Start)), normalise_date(get(End)));
        if !get(Day).is_empty() {
            start = normalise_date(get(Day));
            end = start.clone();
        } else if start.is_empty() {
            if let Some((a, b)) = &range {
                start = a.clone();
                end = b.clone();
            }
        }
        let spend = num(Spend, false)?;
        let mut revenue = num(Revenue, false)?;
        if col(Revenue).is_none() && col(Roas).is_some() {
            revenue = num(Roas, false)? * spend;
        }
        let conversions = if col(Conversions).is_some() {
            num(Conversions, false)?
        } else {
            num(Results, false)?
        };
        let currency = if get(Currency).is_empty() {
            header_currency.clone().unwrap_or_default()
        } else {
            get(Currency).to_string()
        };
        rows.push(ExportRow {
            line: *line,
            ad_id: if id.is_empty() {
                name.to_string()
            } else {
                id.to_string()
            },
            ad_name: name.to_string(),
            date_start: start,
            date_end: end,
            impressions: num(Impressions, true)?.round() as i64,
            clicks: num(Clicks, true)?.round() as i64,
            conversions,
            spend,
            revenue,
            currency,
            url: get(Url).to_string(),
        });
    }
    Ok(Export {
        platform,
        rows,
        totals_skipped,
    })
}

fn or<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

/// A summary row: Google's `Total: Account`, Meta's and TikTok's `Total`, localised.
fn is_total(cell: &str) -> bool {
    let c = cell.trim().to_lowercase();
    ["total", "totales", "总计", "合计", "總計", "grand total"]
        .iter()
        .any(|t| {
            c == *t
                || c.starts_with(&format!("{t}:"))
                || c.starts_with(&format!("{t} ")) && c.contains(':')
        })
}

/// A number as exports write it: thousands separators (`,` `.` spaces, NBSP), `--`, `-` or
/// empty for zero, a percentage, a currency sign. `integer` says the column counts things,
/// so `1.234` there is a thousand and more (Spanish locale), not one and a bit.
pub(crate) fn parse_number(cell: &str, integer: bool) -> Option<f64> {
    let s: String = cell
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}' && *c != '\'')
        .collect();
    if s.is_empty() || s == "-" || s == "--" || s == "—" || s == "N/A" || s == "n/a" {
        return Some(0.0);
    }
    let (s, pct) = match s.strip_suffix('%') {
        Some(x) => (x.to_string(), true),
        None => (s, false),
    };
    let s = s.trim_matches(|c: char| !(c.is_ascii_digit() || c == '-' || c == '.' || c == ','));
    let neg = s.starts_with('-');
    let s = s.trim_start_matches('-');
    let (has_c, has_d) = (s.contains(','), s.contains('.'));
    let grouped = |sep: char| {
        let parts: Vec<&str> = s.split(sep).collect();
        parts.len() > 1
            && (1..=3).contains(&parts[0].len())
            && parts[1..].iter().all(|p| p.len() == 3)
    };
    let plain = if has_c && has_d {
        // The later separator is the decimal one.
        if s.rfind(',') > s.rfind('.') {
            s.replace('.', "").replace(',', ".")
        } else {
            s.replace(',', "")
        }
    } else if has_c {
        if grouped(',') {
            s.replace(',', "")
        } else {
            s.replace(',', ".")
        }
    } else if has_d && integer && grouped('.') {
        s.replace('.', "")
    } else {
        s.to_string()
    };
    let v: f64 = plain.parse().ok()?;
    let v = if neg { -v } else { v };
    Some(if pct { v / 100.0 } else { v })
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// `2026-11-01`, `2026/11/1`, `Nov 1, 2026`, `November 1, 2026`, `2026年11月1日` →
/// `2026-11-01`; anything else is kept as written.
pub(crate) fn normalise_date(s: &str) -> String {
    let s = s.trim();
    let digits: Vec<&str> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .collect();
    if digits.len() == 3 && digits[0].len() == 4 {
        if let (Ok(m), Ok(d)) = (digits[1].parse::<u32>(), digits[2].parse::<u32>()) {
            if (1..=12).contains(&m) && (1..=31).contains(&d) {
                return format!("{}-{m:02}-{d:02}", digits[0]);
            }
        }
    }
    let lower = s.to_lowercase();
    if digits.len() == 2 && digits[1].len() == 4 {
        if let Some(m) = MONTHS.iter().position(|m| lower.starts_with(m)) {
            if let Ok(d) = digits[0].parse::<u32>() {
                return format!("{}-{:02}-{d:02}", digits[1], m + 1);
            }
        }
    }
    s.to_string()
}

/// Google's date-range line: `November 1, 2026 - November 30, 2026` (or with `–`).
fn date_range(line: &str) -> Option<(String, String)> {
    let (a, b) = line
        .split_once(" - ")
        .or_else(|| line.split_once(" – "))
        .or_else(|| line.split_once(" — "))?;
    let (a, b) = (normalise_date(a), normalise_date(b));
    let iso = |s: &str| s.len() == 10 && s.as_bytes()[4] == b'-';
    (iso(&a) && iso(&b)).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_exports_write_them() {
        assert_eq!(parse_number("1,234", true), Some(1234.0));
        assert_eq!(parse_number("1.234", true), Some(1234.0));
        assert_eq!(parse_number("1.234.567", true), Some(1234567.0));
        assert_eq!(parse_number("1,234.50", false), Some(1234.5));
        assert_eq!(parse_number("1.234,50", false), Some(1234.5));
        assert_eq!(parse_number("12,5", false), Some(12.5));
        assert_eq!(parse_number("--", true), Some(0.0));
        assert_eq!(parse_number("", false), Some(0.0));
        assert_eq!(parse_number("2.5%", false), Some(0.025));
        assert_eq!(parse_number("$1,020.00", false), Some(1020.0));
        assert_eq!(parse_number("12 345", true), Some(12345.0));
        assert_eq!(parse_number("abc", false), None);
    }

    #[test]
    fn dates() {
        assert_eq!(normalise_date("2026/11/1"), "2026-11-01");
        assert_eq!(normalise_date("Nov 3, 2026"), "2026-11-03");
        assert_eq!(normalise_date("November 30, 2026"), "2026-11-30");
        assert_eq!(normalise_date("2026年11月1日"), "2026-11-01");
        assert_eq!(
            date_range("November 1, 2026 - November 30, 2026"),
            Some(("2026-11-01".into(), "2026-11-30".into()))
        );
    }

    #[test]
    fn headers_lose_their_currency() {
        assert_eq!(
            normalise_header("Amount spent (USD)"),
            ("amount spent".into(), Some("USD".into()))
        );
        assert_eq!(
            normalise_header("已花费金额 (CNY)"),
            ("已花费金额".into(), Some("CNY".into()))
        );
        assert_eq!(
            normalise_header("Purchase ROAS (return on ad spend)"),
            ("purchase roas (return on ad spend)".into(), None)
        );
    }
}
