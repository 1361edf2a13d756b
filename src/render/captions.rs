//! Timed, animated captions: each caption is rasterized once (through the shared
//! `TextCache`); a frame only transforms and blends it (opacity, scale about its centre,
//! vertical offset, or a per-column reveal/highlight mask).
//!
//! Typewriter and karaoke work on the layout's glyph clusters: every image column of a laid
//! line belongs to the grapheme (typewriter) or word (karaoke) whose glyph advance covers it,
//! and a unit shows (or lights up) from its time on. Units are ranked in logical order, so
//! right-to-left text reveals from the right with no special case.
//!
//! Everything is a function of the frame number: the same frame renders the same pixels.

use std::sync::Arc;

use icu_segmenter::GraphemeClusterSegmenter;
use image::RgbaImage;

use super::motion::{ease_out_back, ease_out_cubic};
use super::ops;
use crate::template::Animation;
use crate::text::TextRaster;

/// Smallest scale `pop` starts from.
const POP_FROM: f32 = 0.6;
/// Share of its height `slide` rises by.
const SLIDE_BY: f32 = 0.10;
/// Share of a line's time the typewriter takes to type it all.
const TYPE_SHARE: f32 = 0.6;

/// When a caption shows, in frames of the timeline, and its karaoke marks.
pub(crate) struct Timing<'a> {
    pub start: u32,
    pub end: u32,
    pub fps: u32,
    /// (byte offset in the text, seconds on the timeline) from WebVTT inline timestamps.
    pub marks: &'a [(usize, f64)],
}

pub(crate) struct Caption {
    /// Straight alpha, for scaling (`pop`).
    raster: Arc<TextRaster>,
    premul: RgbaImage,
    /// Karaoke: the same block in the highlight colour, premultiplied, pixel-aligned.
    highlight: Option<RgbaImage>,
    pub x: i64,
    pub y: i64,
    /// Frames [start, end) during which it shows.
    pub start: u32,
    pub end: u32,
    fps: f32,
    animation: Animation,
    /// Seconds of each in/out transition.
    transition: f32,
    reveal: Option<Reveal>,
}

/// Which unit each pixel belongs to and when each unit shows, in seconds from the start.
struct Reveal {
    /// Per image row, the laid line it belongs to.
    row_line: Vec<usize>,
    /// Per laid line, per image column: the unit's rank.
    cols: Vec<Vec<u32>>,
    times: Vec<f32>,
}

impl Caption {
    /// Font families the caption's runs were drawn with (fallback included), in run order.
    pub(crate) fn families(&self) -> impl Iterator<Item = String> + '_ {
        self.raster
            .layout
            .run_families()
            .into_iter()
            .map(|(_, f)| f.to_string())
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        raster: Arc<TextRaster>,
        highlight: Option<Arc<TextRaster>>,
        x: i64,
        y: i64,
        timing: &Timing<'_>,
        animation: Animation,
        transition: f64,
    ) -> Caption {
        let fps = timing.fps.max(1) as f32;
        let dur = timing.end.saturating_sub(timing.start) as f32 / fps;
        let reveal = match animation {
            Animation::Typewriter => Some(Reveal::new(&raster, Unit::Grapheme, |ranks| {
                let n = ranks.max(1) as f32;
                (0..ranks)
                    .map(|k| k as f32 / n * TYPE_SHARE * dur)
                    .collect()
            })),
            Animation::Karaoke => {
                let cue_start = timing.start as f64 / fps as f64;
                Some(
                    Reveal::new(&raster, Unit::Word, |_| Vec::new()).with_word_times(
                        &raster,
                        timing.marks,
                        cue_start,
                        dur,
                    ),
                )
            }
            _ => None,
        };
        // A highlight block of another size would mean another layout: never mix them.
        let highlight = highlight
            .filter(|h| h.image.dimensions() == raster.image.dimensions())
            .map(|h| ops::premultiply(h.image.clone()));
        Caption {
            premul: ops::premultiply(raster.image.clone()),
            raster,
            highlight,
            x,
            y,
            start: timing.start,
            end: timing.end,
            fps,
            animation,
            transition: transition as f32,
            reveal,
        }
    }

    pub(crate) fn width(&self) -> u32 {
        self.premul.width()
    }

    /// The block as drawn at rest (premultiplied).
    pub(crate) fn image(&self) -> &RgbaImage {
        &self.premul
    }

    pub(crate) fn height(&self) -> u32 {
        self.premul.height()
    }

    /// Draws the caption as it is at timeline frame `tf` (nothing outside its time).
    /// `still`: a still image taken from the timeline shows the caption settled — a poster
    /// frame caught mid-fade or one letter into a typewriter would be a broken creative.
    pub(crate) fn draw(&self, canvas: &mut RgbaImage, tf: u32, still: bool) {
        if tf < self.start || tf >= self.end {
            return;
        }
        if still {
            ops::blend(canvas, &self.premul, self.x, self.y, 1.0);
            return;
        }
        let dur = (self.end - self.start) as f32 / self.fps;
        // Sample mid-frame so the first frame of a cue is already a little visible and the
        // last is not yet gone: in and out are symmetric.
        let t = ((tf - self.start) as f32 + 0.5) / self.fps;
        let tr = self.transition.min(dur / 2.0);
        let (p_in, p_out) = if tr > 0.0 {
            ((t / tr).min(1.0), ((dur - t) / tr).min(1.0))
        } else {
            (1.0, 1.0)
        };
        match self.animation {
            Animation::None => ops::blend(canvas, &self.premul, self.x, self.y, 1.0),
            Animation::Fade => ops::blend(canvas, &self.premul, self.x, self.y, p_in.min(p_out)),
            Animation::Slide => {
                let dy =
                    ((1.0 - ease_out_cubic(p_in)) * SLIDE_BY * self.height() as f32).round() as i64;
                ops::blend(canvas, &self.premul, self.x, self.y + dy, p_in.min(p_out));
            }
            Animation::Pop => {
                let s = POP_FROM + (1.0 - POP_FROM) * ease_out_back(p_in);
                ops::blend_scaled(
                    canvas,
                    &self.raster.image,
                    &self.premul,
                    self.x,
                    self.y,
                    s,
                    p_out,
                );
            }
            Animation::Typewriter => {
                let r = self.reveal.as_ref().expect("typewriter has a reveal map");
                let img = r.compose(&self.premul, None, t);
                ops::blend(canvas, &img, self.x, self.y, p_out);
            }
            Animation::Karaoke => {
                let r = self.reveal.as_ref().expect("karaoke has a reveal map");
                match &self.highlight {
                    Some(hl) => {
                        let img = r.compose(&self.premul, Some(hl), t);
                        ops::blend(canvas, &img, self.x, self.y, p_out);
                    }
                    None => ops::blend(canvas, &self.premul, self.x, self.y, p_out),
                }
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Grapheme,
    Word,
}

impl Reveal {
    /// Ranks every column of every laid line by the unit (in logical order) whose glyphs
    /// cover it; `times` turns the number of units into their start times.
    fn new(raster: &TextRaster, unit: Unit, times: impl FnOnce(usize) -> Vec<f32>) -> Reveal {
        let layout = &raster.layout;
        let text = layout.text.as_str();
        let (rank_of_byte, count) = ranks(text, unit);
        let (w, h) = raster.image.dimensions();
        let (ox, oy) = raster.origin;
        let lh = layout.line_height_px.max(1.0);
        let last = layout.lines.len().saturating_sub(1);
        let row_line = (0..h)
            .map(|r| (((r as f32 + 0.5 + oy) / lh).floor().max(0.0) as usize).min(last))
            .collect();
        let mut cols = Vec::with_capacity(layout.lines.len());
        for line in &layout.lines {
            // (x0, x1, rank) in image columns of each glyph with an advance.
            let mut spans: Vec<(f32, f32, u32)> = Vec::new();
            for run in &layout.runs[line.runs.clone()] {
                for g in &layout.glyphs[run.glyphs.clone()] {
                    if g.advance > 0.0 {
                        let rank = rank_of_byte.get(g.cluster).copied().unwrap_or(0);
                        spans.push((g.x - ox, g.x + g.advance - ox, rank));
                    }
                }
            }
            // Columns outside every advance (padding, outline fringe, the box) go with the
            // nearest unit, so the edges appear with the characters they frame.
            let col: Vec<u32> = (0..w)
                .map(|c| {
                    let cx = c as f32 + 0.5;
                    spans
                        .iter()
                        .map(|&(a, b, k)| {
                            let d = if cx < a {
                                a - cx
                            } else if cx > b {
                                cx - b
                            } else {
                                0.0
                            };
                            (d, k)
                        })
                        .min_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)))
                        .map_or(0, |(_, k)| k)
                })
                .collect();
            cols.push(col);
        }
        Reveal {
            row_line,
            cols,
            times: times(count),
        }
    }

    /// Karaoke: each word lights up at its WebVTT mark (the last mark at or before it), or,
    /// without marks, at its share of the line by characters before it.
    fn with_word_times(
        mut self,
        raster: &TextRaster,
        marks: &[(usize, f64)],
        cue_start: f64,
        dur: f32,
    ) -> Reveal {
        let text = raster.layout.text.as_str();
        let words = word_spans(text);
        let total: usize = words.iter().map(|(_, n)| n).sum::<usize>().max(1);
        let mut before = 0;
        self.times = words
            .iter()
            .map(|&(at, n)| {
                let t = if marks.is_empty() {
                    before as f32 / total as f32 * dur
                } else {
                    marks
                        .iter()
                        .filter(|(o, _)| *o <= at)
                        .map(|(_, s)| (*s - cue_start) as f32)
                        .next_back()
                        .unwrap_or(0.0)
                };
                before += n;
                t
            })
            .collect();
        self
    }

    /// The block with only the units due by `t` (typewriter), or with those units taken
    /// from `highlight` (karaoke).
    fn compose(&self, base: &RgbaImage, highlight: Option<&RgbaImage>, t: f32) -> RgbaImage {
        let due = |k: u32| self.times.get(k as usize).is_some_and(|s| *s <= t);
        let (w, h) = base.dimensions();
        let mut out = match highlight {
            Some(_) => base.clone(),
            None => RgbaImage::new(w, h),
        };
        let src = highlight.unwrap_or(base);
        let stride = w as usize * 4;
        for y in 0..h as usize {
            let col = &self.cols[self.row_line[y]];
            let row = &src.as_raw()[y * stride..(y + 1) * stride];
            let dst = &mut (*out)[y * stride..(y + 1) * stride];
            for (x, k) in col.iter().enumerate() {
                if due(*k) {
                    dst[x * 4..x * 4 + 4].copy_from_slice(&row[x * 4..x * 4 + 4]);
                }
            }
        }
        out
    }
}

fn is_space(g: &str) -> bool {
    g.chars().all(char::is_whitespace)
}

fn graphemes(text: &str) -> Vec<(usize, usize)> {
    let seg = GraphemeClusterSegmenter::new();
    let cuts: Vec<usize> = seg.segment_str(text).collect();
    cuts.windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|(a, b)| a < b)
        .collect()
}

/// Rank of every byte's unit, in logical order, and the number of units. Spaces belong to
/// the word before them (they have no ink; it keeps a word's columns contiguous).
fn ranks(text: &str, unit: Unit) -> (Vec<u32>, usize) {
    let mut out = vec![0u32; text.len() + 1];
    let gs = graphemes(text);
    match unit {
        Unit::Grapheme => {
            for (i, &(a, b)) in gs.iter().enumerate() {
                out[a..b].fill(i as u32);
            }
            (out, gs.len())
        }
        Unit::Word => {
            let (mut word, mut in_word) = (-1i64, false);
            for &(a, b) in &gs {
                if is_space(&text[a..b]) {
                    in_word = false;
                } else if !in_word {
                    word += 1;
                    in_word = true;
                }
                out[a..b].fill(word.max(0) as u32);
            }
            (out, (word + 1).max(0) as usize)
        }
    }
}

/// (byte start, characters) of each word, in logical order.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut in_word = false;
    for (a, b) in graphemes(text) {
        let g = &text[a..b];
        if is_space(g) {
            in_word = false;
            continue;
        }
        if !in_word {
            out.push((a, 0));
            in_word = true;
        }
        if let Some(last) = out.last_mut() {
            last.1 += g.chars().count();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_graphemes_rank_in_logical_order() {
        let (r, n) = ranks("ab cd", Unit::Word);
        assert_eq!(n, 2);
        assert_eq!(&r[..5], &[0, 0, 0, 1, 1]);
        let (r, n) = ranks("e\u{301}x", Unit::Grapheme);
        assert_eq!(n, 2);
        assert_eq!(&r[..4], &[0, 0, 0, 1]);
        assert_eq!(word_spans("Run  lighter"), vec![(0, 3), (5, 7)]);
    }

    #[test]
    fn easing_ends_where_it_should() {
        assert!((ease_out_back(0.0)).abs() < 1e-6);
        assert!((ease_out_back(1.0) - 1.0).abs() < 1e-6);
        assert!(ease_out_back(0.7) > 1.0, "overshoots");
        assert!((ease_out_cubic(1.0) - 1.0).abs() < 1e-6);
    }
}
