//! Paragraphs → lines → positioned glyphs: itemize, measure, break, reorder, place.

use std::ops::Range;
use std::sync::Arc;

use unicode_bidi::{Level, ParagraphBidiInfo};

use super::breaking::{break_opportunities, trim_end, Break};
use super::fonts::{FontBook, FontFace};
use super::itemize::{itemize, Item};
use super::shape::{shape_run, Dir, RunProps};
use super::{Align, TextError};
use crate::template::Direction;

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

/// The size-independent part: fonts resolved, paragraphs itemized and measured in ems.
pub(crate) struct Prepared<'a> {
    pub text: &'a str,
    pub faces: &'a [Arc<FontFace>],
    pub shapers: Vec<rustybuzz::Face<'a>>,
    lang: String,
    paras: Vec<Para<'a>>,
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
    pub fn new(
        text: &'a str,
        faces: &'a [Arc<FontFace>],
        lang: &str,
        base: Option<Direction>,
    ) -> Result<Prepared<'a>, TextError> {
        let shapers = faces
            .iter()
            .map(|f| {
                rustybuzz::Face::from_slice(f.data(), f.index()).ok_or_else(|| TextError::BadFont {
                    path: f.path().display().to_string(),
                    message: "cannot be parsed for shaping".into(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
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
        let has_glyph = |f: usize, c: char| shapers[f].glyph_index(c).is_some_and(|g| g.0 != 0);

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
                    &shapers[item.font],
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
        })
    }

    /// Greedy line filling of one paragraph at `size`, within `limit` px (None = no wrap).
    fn wrap(
        &self,
        para: &Para<'_>,
        size: f32,
        limit: Option<f32>,
    ) -> Result<Vec<Range<usize>>, Overflow> {
        let width = |s: usize, e: usize| -> f32 {
            let e = trim_end(para.text, s, e);
            para.em_adv[s..e].iter().sum::<f32>() * size
        };
        let mut lines = Vec::new();
        let mut start = 0;
        let mut fit: Option<usize> = None;
        let mut i = 0;
        // Tolerance: a line measured at exactly the limit must not wrap on float noise.
        let limit = limit.map(|l| l + 0.01);
        while i < para.breaks.len() {
            let b = para.breaks[i];
            let w = width(start, b.at);
            if limit.is_none_or(|l| w <= l) {
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

    /// Lays the whole text out at `size` px, wrapping at `wrap` px when given.
    pub fn layout(
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
        for para in &self.paras {
            for range in self.wrap(para, size, wrap)? {
                let end = trim_end(para.text, range.start, range.end);
                let line = range.start..end;
                let baseline = lines.len() as f32 * line_h + baseline_in_line;
                let run_start = runs.len();
                let mut pen = 0.0f32;
                if !line.is_empty() {
                    let (levels, vruns) = para.bidi.visual_runs(line.clone());
                    for vr in vruns {
                        let level = levels[vr.start];
                        let mut pieces: Vec<&Item> = para
                            .items
                            .iter()
                            .filter(|it| it.range.start < vr.end && it.range.end > vr.start)
                            .collect();
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
                            let shaped = shape_run(
                                &self.shapers[it.font],
                                &para.text[r.clone()],
                                &props,
                                &para.text[line.start..r.start],
                                &para.text[r.end..line.end],
                            );
                            let scale = size / self.faces[it.font].units_per_em();
                            let g0 = glyphs.len();
                            for g in shaped {
                                glyphs.push(PlacedGlyph {
                                    font: it.font,
                                    glyph_id: g.glyph_id,
                                    x: pen + g.x_offset as f32 * scale,
                                    y: baseline - g.y_offset as f32 * scale,
                                    cluster: para.start + r.start + g.cluster as usize,
                                });
                                pen += g.x_advance as f32 * scale;
                            }
                            runs.push(LaidRun {
                                range: para.start + r.start..para.start + r.end,
                                font: it.font,
                                rtl: level.is_rtl(),
                                glyphs: g0..glyphs.len(),
                            });
                        }
                    }
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
