//! Paragraphs → lines → positioned glyphs: itemize, measure, break, reorder, place.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use unicode_bidi::{Level, ParagraphBidiInfo};

use super::breaking::{break_opportunities, trim_end, Break};
use super::fonts::{FontBook, FontFace};
use super::itemize::{itemize, Item};
use super::shape::{shape_run, Dir, RunProps, ShapedGlyph};
use super::Direction;
use super::{Align, TextError};

/// One glyph placed on the block, in pixels, y growing downwards, `y` on the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacedGlyph {
    /// Index into [`Layout::faces`].
    pub font: usize,
    pub glyph_id: u16,
    pub x: f32,
    pub y: f32,
    /// Byte offset in the laid-out text of the first character of the glyph's cluster.
    pub cluster: usize,
    /// Horizontal advance in px: the glyph's share of the line, from `x - x_offset`
    /// (0 for marks). Lets a renderer find which columns belong to which cluster.
    pub advance: f32,
}

/// One shaped run of a line, in visual order.
#[derive(Debug, Clone, PartialEq)]
pub struct LaidRun {
    /// Byte range in the laid-out text.
    pub range: Range<usize>,
    pub font: usize,
    pub rtl: bool,
    /// Index range into [`Layout::glyphs`].
    pub glyphs: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LaidLine {
    /// Byte range in the laid-out text, trailing whitespace excluded.
    pub range: Range<usize>,
    /// Left edge of the line's advance box.
    pub x: f32,
    pub width: f32,
    pub baseline: f32,
    /// Paragraph direction.
    pub rtl: bool,
    /// Index range into [`Layout::runs`], visual order left to right.
    pub runs: Range<usize>,
}

/// A block of text laid out at one size.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The text as laid out (tabs as spaces, CR LF as LF, other controls removed); clusters
    /// and ranges index into it.
    pub text: String,
    pub faces: Vec<Arc<FontFace>>,
    pub size_px: f32,
    pub line_height_px: f32,
    pub glyphs: Vec<PlacedGlyph>,
    pub runs: Vec<LaidRun>,
    pub lines: Vec<LaidLine>,
    /// Widest line.
    pub width: f32,
    /// Number of lines × line height.
    pub height: f32,
}

impl Layout {
    /// The family of the font each run was shaped with, in visual order.
    pub fn run_families(&self) -> Vec<(&str, &str)> {
        self.runs
            .iter()
            .map(|r| (&self.text[r.range.clone()], self.faces[r.font].family()))
            .collect()
    }
}

/// Why one size did not work; the caller shrinks and tries again.
pub(crate) enum Overflow {
    /// A piece between two break opportunities is wider than the line.
    WordTooWide,
}

/// The shaping faces of a fallback chain, each parsed (GSUB and GPOS included) when
/// itemization first asks it for a glyph: Latin copy over the six default families needs
/// only the first, and parsing all six on every text block was 12 % of the layout lint's
/// time (`perf`).
struct Shapers<'a> {
    faces: &'a [Arc<FontFace>],
    parsed: Vec<std::cell::OnceCell<rustybuzz::Face<'a>>>,
}

impl<'a> Shapers<'a> {
    /// Refuses a chain with a face rustybuzz cannot read, as parsing them all did: the
    /// check is `ttf_parser`'s, which is all `rustybuzz::Face::from_slice` can fail on.
    fn new(faces: &'a [Arc<FontFace>]) -> Result<Shapers<'a>, TextError> {
        for f in faces {
            rustybuzz::ttf_parser::Face::parse(f.data(), f.index()).map_err(|_| {
                TextError::unusable_font(
                    f.path().display().to_string(),
                    "cannot be parsed for shaping",
                )
            })?;
        }
        Ok(Shapers {
            faces,
            parsed: faces.iter().map(|_| std::cell::OnceCell::new()).collect(),
        })
    }

    fn get(&self, i: usize) -> &rustybuzz::Face<'a> {
        self.parsed[i].get_or_init(|| {
            let f = &self.faces[i];
            rustybuzz::Face::from_slice(f.data(), f.index())
                .expect("Shapers::new checked that every face parses")
        })
    }
}

/// The size-independent part: fonts resolved, paragraphs itemized and measured in ems.
pub(crate) struct Prepared<'a> {
    pub text: &'a str,
    pub faces: &'a [Arc<FontFace>],
    shapers: Shapers<'a>,
    lang: String,
    paras: Vec<Para<'a>>,
    /// Lines shaped in font units (size independent), by (paragraph, start, end): the fit
    /// loop tries several sizes, and mostly the same lines come back.
    lines: RefCell<HashMap<(usize, usize, usize), ShapedLine>>,
}

type ShapedLine = Rc<Vec<ShapedPiece>>;

/// One run of a line as shaped, in font units, in visual position.
struct ShapedPiece {
    /// Byte range in the paragraph.
    range: Range<usize>,
    font: usize,
    rtl: bool,
    glyphs: Vec<ShapedGlyph>,
}

struct Para<'a> {
    /// Byte offset in the whole text.
    start: usize,
    text: &'a str,
    bidi: ParagraphBidiInfo<'a>,
    items: Vec<Item>,
    breaks: Vec<Break>,
    /// Advance, in ems, of the glyphs whose cluster starts at each byte.
    em_adv: Vec<f32>,
}

/// Removes what would otherwise draw as boxes or break the byte ↔ cluster mapping.
pub(crate) fn clean_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            '\n' | '\u{2029}' => Some('\n'),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Resolves the family list: unknown names are skipped as long as one is found.
pub(crate) fn resolve_faces(
    book: &FontBook,
    families: &[String],
    lang: &str,
) -> Result<Vec<Arc<FontFace>>, TextError> {
    let mut faces: Vec<Arc<FontFace>> = Vec::new();
    let mut first_err = None;
    for fam in families {
        match book.face(fam, lang) {
            Ok(f) => {
                if !faces.iter().any(|g| Arc::ptr_eq(g, &f)) {
                    faces.push(f);
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if faces.is_empty() {
        return Err(first_err.unwrap_or_else(|| TextError::UnknownFamily {
            family: String::new(),
            suggestions: "the font list is empty; name at least one family".into(),
        }));
    }
    Ok(faces)
}

fn dir_of(level: Level) -> Dir {
    if level.is_rtl() {
        Dir::Rtl
    } else {
        Dir::Ltr
    }
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(
        text: &'a str,
        faces: &'a [Arc<FontFace>],
        lang: &str,
        base: Option<Direction>,
    ) -> Result<Prepared<'a>, TextError> {
        let shapers = Shapers::new(faces)?;
        let base_level = base.map(|d| match d {
            Direction::Ltr => Level::ltr(),
            Direction::Rtl => Level::rtl(),
        });
        let names = || {
            faces
                .iter()
                .map(|f| f.display_name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Glyph 0 is .notdef (the box), whatever the cmap says.
        let has_glyph = |f: usize, c: char| shapers.get(f).glyph_index(c).is_some_and(|g| g.0 != 0);

        let mut paras = Vec::new();
        let mut start = 0;
        for ptext in text.split('\n') {
            let bidi = ParagraphBidiInfo::new(ptext, base_level);
            let items = itemize(ptext, &bidi, faces.len(), &has_glyph, text, &names)?;
            let mut em_adv = vec![0.0f32; ptext.len() + 1];
            for item in &items {
                let props = RunProps {
                    direction: Some(dir_of(item.level)),
                    script: item.script,
                    language: Some(lang.to_string()),
                };
                let r = item.range.clone();
                let glyphs = shape_run(
                    shapers.get(item.font),
                    &ptext[r.clone()],
                    &props,
                    &ptext[..r.start],
                    &ptext[r.end..],
                );
                let upem = faces[item.font].units_per_em();
                for g in glyphs {
                    em_adv[r.start + g.cluster as usize] += g.x_advance as f32 / upem;
                }
            }
            paras.push(Para {
                start,
                text: ptext,
                breaks: break_opportunities(ptext),
                bidi,
                items,
                em_adv,
            });
            start += ptext.len() + 1;
        }
        Ok(Prepared {
            text,
            faces,
            shapers,
            lang: lang.to_string(),
            paras,
            lines: RefCell::default(),
        })
    }

    /// The runs of `line` (paragraph byte range, trailing whitespace excluded) in visual
    /// order, each shaped on its own with its line neighbours as context.
    fn shape_line(&self, pi: usize, line: Range<usize>) -> ShapedLine {
        if let Some(hit) = self.lines.borrow().get(&(pi, line.start, line.end)) {
            return hit.clone();
        }
        let para = &self.paras[pi];
        let mut out = Vec::new();
        if !line.is_empty() {
            let (levels, vruns) = para.bidi.visual_runs(line.clone());
            for vr in vruns {
                let level = levels[vr.start];
                let mut pieces: Vec<&Item> = para
                    .items
                    .iter()
                    .filter(|it| it.range.start < vr.end && it.range.end > vr.start)
                    .collect();
                // Inside a right-to-left level run the logically first item is rightmost.
                if level.is_rtl() {
                    pieces.reverse();
                }
                for it in pieces {
                    let r = it.range.start.max(vr.start)..it.range.end.min(vr.end);
                    let props = RunProps {
                        direction: Some(dir_of(level)),
                        script: it.script,
                        language: Some(self.lang.clone()),
                    };
                    let glyphs = shape_run(
                        self.shapers.get(it.font),
                        &para.text[r.clone()],
                        &props,
                        &para.text[line.start..r.start],
                        &para.text[r.end..line.end],
                    );
                    out.push(ShapedPiece {
                        range: r,
                        font: it.font,
                        rtl: level.is_rtl(),
                        glyphs,
                    });
                }
            }
        }
        let out = Rc::new(out);
        self.lines
            .borrow_mut()
            .insert((pi, line.start, line.end), out.clone());
        out
    }

    /// Width in px of a shaped line at `size`.
    fn line_width(&self, pieces: &[ShapedPiece], size: f32) -> f32 {
        pieces
            .iter()
            .map(|p| {
                let adv: i32 = p.glyphs.iter().map(|g| g.x_advance).sum();
                adv as f32 * size / self.faces[p.font].units_per_em()
            })
            .sum()
    }

    /// Greedy line filling of one paragraph at `size`, within `limit` px (None = no wrap).
    fn wrap(
        &self,
        pi: usize,
        size: f32,
        limit: Option<f32>,
    ) -> Result<Vec<Range<usize>>, Overflow> {
        let para = &self.paras[pi];
        let Some(limit) = limit else {
            return Ok(self.mandatory_lines(para));
        };
        // Tolerance: a line measured at exactly the limit must not wrap on float noise.
        let limit = limit + 0.01;
        // Widths from the paragraph shaped once are exact except where shaping differs at
        // a line edge (kerning or joining across the break); near the limit, where that
        // decides, the candidate line is shaped as it will be drawn.
        let fits = |s: usize, e: usize| -> bool {
            let e = trim_end(para.text, s, e);
            let approx = para.em_adv[s..e].iter().sum::<f32>() * size;
            if (approx - limit).abs() > limit * 0.03 {
                return approx <= limit;
            }
            self.line_width(&self.shape_line(pi, s..e), size) <= limit
        };
        let mut lines = Vec::new();
        let mut start = 0;
        let mut fit: Option<usize> = None;
        let mut i = 0;
        while i < para.breaks.len() {
            let b = para.breaks[i];
            if fits(start, b.at) {
                fit = Some(b.at);
                i += 1;
                if b.mandatory {
                    lines.push(start..b.at);
                    start = b.at;
                    fit = None;
                }
            } else if let Some(f) = fit {
                lines.push(start..f);
                start = f;
                fit = None;
            } else {
                return Err(Overflow::WordTooWide);
            }
        }
        if lines.is_empty() {
            lines.push(0..0);
        }
        Ok(lines)
    }

    /// Lines of an unwrapped paragraph: only forced breaks (U+2028) end them.
    fn mandatory_lines(&self, para: &Para<'_>) -> Vec<Range<usize>> {
        let mut lines = Vec::new();
        let mut start = 0;
        for b in para.breaks.iter().filter(|b| b.mandatory) {
            lines.push(start..b.at);
            start = b.at;
        }
        if lines.is_empty() {
            lines.push(0..0);
        }
        lines
    }

    /// Lays the whole text out at `size` px, wrapping at `wrap` px when given.
    pub(crate) fn layout(
        &self,
        size: f32,
        line_height: f32,
        align: Align,
        wrap: Option<f32>,
    ) -> Result<Layout, Overflow> {
        let primary = &self.faces[0];
        let px = size / primary.units_per_em();
        let (asc, desc) = (primary.ascender() * px, primary.descender() * px);
        let line_h = line_height * size;
        // Centre the primary font's ascent+descent in the line box, as CSS does.
        let baseline_in_line = (line_h - (asc - desc)) / 2.0 + asc;

        let mut glyphs = Vec::new();
        let mut runs = Vec::new();
        let mut lines = Vec::new();
        for (pi, para) in self.paras.iter().enumerate() {
            for range in self.wrap(pi, size, wrap)? {
                let end = trim_end(para.text, range.start, range.end);
                let line = range.start..end;
                let baseline = lines.len() as f32 * line_h + baseline_in_line;
                let run_start = runs.len();
                let mut pen = 0.0f32;
                for piece in self.shape_line(pi, line.clone()).iter() {
                    let scale = size / self.faces[piece.font].units_per_em();
                    let g0 = glyphs.len();
                    for g in &piece.glyphs {
                        glyphs.push(PlacedGlyph {
                            font: piece.font,
                            glyph_id: g.glyph_id,
                            x: pen + g.x_offset as f32 * scale,
                            y: baseline - g.y_offset as f32 * scale,
                            cluster: para.start + piece.range.start + g.cluster as usize,
                            advance: g.x_advance as f32 * scale,
                        });
                        pen += g.x_advance as f32 * scale;
                    }
                    runs.push(LaidRun {
                        range: para.start + piece.range.start..para.start + piece.range.end,
                        font: piece.font,
                        rtl: piece.rtl,
                        glyphs: g0..glyphs.len(),
                    });
                }
                lines.push(LaidLine {
                    range: para.start + line.start..para.start + line.end,
                    x: 0.0,
                    width: pen,
                    baseline,
                    rtl: para.bidi.paragraph_level.is_rtl(),
                    runs: run_start..runs.len(),
                });
            }
        }

        let width = lines.iter().map(|l| l.width).fold(0.0, f32::max);
        for line in &mut lines {
            let slack = width - line.width;
            line.x = match (align, line.rtl) {
                (Align::Center, _) => slack / 2.0,
                (Align::Start, false) | (Align::End, true) => 0.0,
                (Align::Start, true) | (Align::End, false) => slack,
            };
            for run in &runs[line.runs.clone()] {
                for g in &mut glyphs[run.glyphs.clone()] {
                    g.x += line.x;
                }
            }
        }
        Ok(Layout {
            text: self.text.to_string(),
            faces: self.faces.to_vec(),
            size_px: size,
            line_height_px: line_h,
            height: lines.len() as f32 * line_h,
            glyphs,
            runs,
            lines,
            width,
        })
    }
}
