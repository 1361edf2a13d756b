//! Adobe / DaVinci Resolve `.cube` 3D LUTs, parsed once at validation and shared by every
//! variant that uses them (`render::look` applies them).
//!
//! Accepted: `TITLE`, `LUT_3D_SIZE` (2..=64), `DOMAIN_MIN`, `DOMAIN_MAX`,
//! `LUT_3D_INPUT_RANGE` (Resolve's spelling of one domain for all channels), `#` comments,
//! blank lines and `size³` rows of `R G B` with red changing fastest. 1D LUTs are refused: a
//! per-channel curve through the 3D path would silently look wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// Largest grid we accept; 64³ is what grading tools export at most and keeps the table
/// (and the time to parse it) small.
pub(crate) const MAX_SIZE: usize = 64;

/// A parsed 3D LUT.
#[derive(Clone, PartialEq)]
pub struct Lut {
    /// The file it came from (absolute); the plan hashes its bytes into variant ids.
    pub path: PathBuf,
    pub title: Option<String>,
    /// Grid points per axis.
    pub size: usize,
    pub domain_min: [f32; 3],
    pub domain_max: [f32; 3],
    /// `size³` output colours, red index fastest, then green, then blue (file order).
    pub table: Vec<[f32; 3]>,
}

// The table is large; ids hash this form, where the path stands for the file's bytes.
impl fmt::Debug for Lut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lut")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// A problem in a `.cube` file, at a 1-based line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CubeError {
    pub line: usize,
    pub message: String,
    pub hint: String,
}

fn err(line: usize, message: impl Into<String>, hint: impl Into<String>) -> CubeError {
    CubeError {
        line,
        message: message.into(),
        hint: hint.into(),
    }
}

impl Lut {
    /// The identity LUT of a given size (handy for tests and benches).
    #[cfg(test)]
    pub(crate) fn identity(size: usize) -> Lut {
        let n = size.max(2);
        let s = (n - 1) as f32;
        let table = (0..n * n * n)
            .map(|i| {
                [
                    (i % n) as f32 / s,
                    (i / n % n) as f32 / s,
                    (i / (n * n)) as f32 / s,
                ]
            })
            .collect();
        Lut {
            path: PathBuf::new(),
            title: None,
            size: n,
            domain_min: [0.0; 3],
            domain_max: [1.0; 3],
            table,
        }
    }

    /// Parses the text of a `.cube` file; `path` is recorded, not read.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Lut, CubeError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut p = CubeParser::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if !line.is_empty() {
                p.line(i + 1, line)?;
            }
        }
        p.finish(path)
    }

    /// Reads and parses a `.cube` file. An unreadable file is reported at line 1.
    pub fn load(path: &Path) -> Result<Lut, CubeError> {
        let bytes = std::fs::read(path)
            .map_err(|e| err(1, format!("cannot read LUT: {e}"), "check the path"))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
            err(
                line,
                "LUT file is not text (UTF-8)",
                "a .cube file is plain text; is this the right file?",
            )
        })?;
        Lut::parse(&text, path)
    }
}

/// What a `.cube` file has declared so far, line by line.
struct CubeParser {
    title: Option<String>,
    size: Option<usize>,
    dmin: [f32; 3],
    dmax: [f32; 3],
    /// Where the domain was last set, to blame an inverted one.
    domain_line: usize,
    table: Vec<[f32; 3]>,
    /// The last non-blank line: where a file cut short is reported.
    last: usize,
}

impl Default for CubeParser {
    fn default() -> Self {
        CubeParser {
            title: None,
            size: None,
            dmin: [0.0; 3],
            dmax: [1.0; 3],
            domain_line: 0,
            table: Vec::new(),
            last: 0,
        }
    }
}

impl CubeParser {
    /// One non-blank line `n`, comments stripped.
    fn line(&mut self, n: usize, line: &str) -> Result<(), CubeError> {
        self.last = n;
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if !first.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return self.row(n, line);
        }
        if !self.table.is_empty() {
            return Err(err(
                n,
                format!("`{first}` after the LUT data"),
                "keywords go before the first row of numbers",
            ));
        }
        match first {
            "TITLE" => {
                self.title = Some(line["TITLE".len()..].trim().trim_matches('"').to_string());
                Ok(())
            }
            "LUT_3D_SIZE" => self.grid_size(n, line, words),
            "LUT_1D_SIZE" | "LUT_1D_INPUT_RANGE" => Err(err(
                n,
                format!("this is a 1D LUT (`{first}`); only 3D LUTs are supported"),
                "export a 3D LUT (LUT_3D_SIZE) from your grading tool",
            )),
            "DOMAIN_MIN" | "DOMAIN_MAX" | "LUT_3D_INPUT_RANGE" => self.domain(n, first, words),
            _ => Err(err(
                n,
                format!("unknown keyword `{first}`"),
                "known: TITLE, LUT_3D_SIZE, DOMAIN_MIN, DOMAIN_MAX, LUT_3D_INPUT_RANGE; comments start with #",
            )),
        }
    }

    fn grid_size<'a>(
        &mut self,
        n: usize,
        line: &str,
        words: impl Iterator<Item = &'a str>,
    ) -> Result<(), CubeError> {
        if self.size.is_some() {
            return Err(err(
                n,
                "LUT_3D_SIZE given twice",
                "keep one LUT_3D_SIZE line",
            ));
        }
        let v: Vec<&str> = words.collect();
        let s = match v.as_slice() {
            [s] => s.parse::<usize>().ok(),
            _ => None,
        };
        match s {
            Some(s) if (2..=MAX_SIZE).contains(&s) => {
                self.size = Some(s);
                self.table.reserve_exact(s * s * s);
                Ok(())
            }
            Some(s) => Err(err(
                n,
                format!("LUT_3D_SIZE {s} is out of range"),
                format!("expected 2..={MAX_SIZE}; re-export the LUT at 33 or 64 points"),
            )),
            None => Err(err(
                n,
                format!("LUT_3D_SIZE needs one integer, found `{line}`"),
                "e.g. LUT_3D_SIZE 33",
            )),
        }
    }

    fn domain<'a>(
        &mut self,
        n: usize,
        first: &str,
        words: impl Iterator<Item = &'a str>,
    ) -> Result<(), CubeError> {
        let v = numbers(words, n, first)?;
        let (lo, hi) = match (first, v.as_slice()) {
            ("LUT_3D_INPUT_RANGE", [a, b]) => ([*a; 3], [*b; 3]),
            ("DOMAIN_MIN", [r, g, b]) => ([*r, *g, *b], self.dmax),
            ("DOMAIN_MAX", [r, g, b]) => (self.dmin, [*r, *g, *b]),
            _ => {
                let (want, example) = if first == "LUT_3D_INPUT_RANGE" {
                    ("two numbers (min max)", "0.0 1.0")
                } else {
                    ("three numbers (R G B)", "0.0 0.0 0.0")
                };
                return Err(err(
                    n,
                    format!("{first} needs {want}, found {}", v.len()),
                    format!("e.g. {first} {example}"),
                ));
            }
        };
        (self.dmin, self.dmax) = (lo, hi);
        self.domain_line = n;
        Ok(())
    }

    /// One `R G B` row of the table.
    fn row(&mut self, n: usize, line: &str) -> Result<(), CubeError> {
        let Some(s) = self.size else {
            return Err(err(
                n,
                "LUT data before LUT_3D_SIZE",
                "put LUT_3D_SIZE N above the rows of numbers",
            ));
        };
        if self.table.len() == s * s * s {
            return Err(err(
                n,
                format!("more than {s}³ = {} rows of LUT data", s * s * s),
                "remove the extra rows or fix LUT_3D_SIZE",
            ));
        }
        match numbers(line.split_whitespace(), n, "a LUT row")?.as_slice() {
            [r, g, b] => {
                self.table.push([*r, *g, *b]);
                Ok(())
            }
            v => Err(err(
                n,
                format!("a LUT row needs three numbers (R G B), found {}", v.len()),
                "each data line is `R G B`, e.g. 0.5 0.25 1.0",
            )),
        }
    }

    /// The whole file read: the grid must be complete and the domain sensible.
    fn finish(self, path: &Path) -> Result<Lut, CubeError> {
        let Some(s) = self.size else {
            return Err(err(
                self.last.max(1),
                "no LUT_3D_SIZE line",
                "a 3D .cube file declares its grid, e.g. LUT_3D_SIZE 33",
            ));
        };
        if self.table.len() != s * s * s {
            return Err(err(
                self.last.max(1),
                format!(
                    "{} rows of LUT data, expected {s}³ = {}",
                    self.table.len(),
                    s * s * s
                ),
                "the file is cut short or LUT_3D_SIZE is wrong",
            ));
        }
        let (dmin, dmax) = (self.dmin, self.dmax);
        if (0..3).any(|c| dmin[c] >= dmax[c]) {
            return Err(err(
                self.domain_line,
                format!("domain minimum {dmin:?} is not below maximum {dmax:?}"),
                "DOMAIN_MIN must be below DOMAIN_MAX in every channel",
            ));
        }
        Ok(Lut {
            path: path.to_path_buf(),
            title: self.title,
            size: s,
            domain_min: dmin,
            domain_max: dmax,
            table: self.table,
        })
    }
}

fn numbers<'a>(
    words: impl Iterator<Item = &'a str>,
    line: usize,
    what: &str,
) -> Result<Vec<f32>, CubeError> {
    words
        .map(|w| match w.parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(err(
                line,
                format!("`{w}` in {what} is not a number"),
                "values are decimal numbers, e.g. 0.5 or 1.0e-3",
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Lut, CubeError> {
        Lut::parse(s, Path::new("x.cube"))
    }

    const TWO: &str = "0 0 0\n1 0 0\n0 1 0\n1 1 0\n0 0 1\n1 0 1\n0 1 1\n1 1 1\n";

    #[test]
    fn reads_header_comments_and_data() {
        let lut = parse(&format!("# made by hand\nTITLE \"Plain\"\n\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1\nLUT_3D_SIZE 2\n{TWO}")).unwrap();
        assert_eq!(lut.title.as_deref(), Some("Plain"));
        assert_eq!(lut.size, 2);
        assert_eq!(lut.table, Lut::identity(2).table);
        let resolve = parse(&format!("LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE 0.0 2.0\n{TWO}")).unwrap();
        assert_eq!(resolve.domain_max, [2.0; 3]);
    }

    #[test]
    fn problems_name_their_line() {
        let one_d = parse("TITLE \"curve\"\nLUT_1D_SIZE 4\n0 0 0\n").unwrap_err();
        assert_eq!(one_d.line, 2);
        assert!(one_d.message.contains("1D"), "{one_d}");
        let bad = parse(&format!("LUT_3D_SIZE 2\n0 0 0\n1 0 x\n{}", &TWO[12..])).unwrap_err();
        assert_eq!((bad.line, bad.message.contains("`x`")), (3, true), "{bad}");
        let short = parse("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n").unwrap_err();
        assert_eq!(short.line, 3);
        assert!(short.message.contains("expected 2³ = 8"), "{short}");
        assert_eq!(parse("LUT_3D_SIZE 65\n").unwrap_err().line, 1);
        assert_eq!(
            parse("0 0 0\n").unwrap_err().message,
            "LUT data before LUT_3D_SIZE"
        );
        assert_eq!(
            parse(&format!("LUT_3D_SIZE 2\n{TWO}0 0 0\n"))
                .unwrap_err()
                .line,
            10
        );
        assert_eq!(
            parse(&format!(
                "DOMAIN_MIN 1 0 0\nDOMAIN_MAX 0.5 1 1\nLUT_3D_SIZE 2\n{TWO}"
            ))
            .unwrap_err()
            .line,
            2
        );
        assert!(parse(&format!("LUT_IN_VIDEO_RANGE\nLUT_3D_SIZE 2\n{TWO}"))
            .unwrap_err()
            .message
            .contains("unknown keyword"));
    }

    #[test]
    fn debug_names_the_file_not_the_table() {
        let mut lut = Lut::identity(33);
        lut.path = PathBuf::from("/p/warm.cube");
        let d = format!("{lut:?}");
        assert!(d.contains("\"/p/warm.cube\"") && d.len() < 80, "{d}");
    }
}
