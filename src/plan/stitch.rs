//! Which frames of a `[[scene]]` video other outputs of the batch show too (issue #14,
//! "scenes encoded once"): each output's timeline cut into *pieces*, a piece either a run
//! of one scene's interior with a key that names everything its pixels depend on, or frames
//! that belong to this output alone (transition windows mixing two scenes, fades).
//!
//! The key repeats what `render::prepare` reads for a segment; `render::Creative::timing`
//! states the prepared composition's own segments, windows and position-dependence, and the
//! executor stitches only when the two agree (`Pieces::agrees_with`).

use sha2::{Digest, Sha256};

use super::{AssetHashes, Digests, Job};
use crate::preset::{Preset, PresetKind};
use crate::template::{Pool, Region, Template, TransitionKind};

/// Shortest piece coded on its own. x264 learns its B-frame delay from the first frames:
/// a segment shorter than the delay starts with other decoding times and cannot be
/// stitched, and a tiny segment costs an IDR picture for little; such runs are coded with
/// their neighbour instead.
pub(crate) const MIN_PIECE: u32 = 8;

/// Frames [start, end) of an output's timeline, coded as one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub start: u32,
    pub end: u32,
    /// Names the piece's pixels: pieces with one key are the same frames, coded once per
    /// run. `None`: this output's own frames.
    pub key: Option<String>,
}

impl Piece {
    pub(crate) fn len(&self) -> u32 {
        self.end - self.start
    }
}

/// What the prepared composition must look like for the pieces to hold, frame for frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timing {
    /// Each segment's timeline frames [start, end), end card included, in play order.
    pub segments: Vec<(u32, u32)>,
    /// Frames mixing two segments (transitions), [from, to), in order.
    pub windows: Vec<(u32, u32)>,
    pub fade_in: u32,
    pub fade_out: u32,
    /// Per segment: whether a frame's pixels depend on its place in the video, not only on
    /// its place in the segment (film grain is seeded by the timeline frame).
    pub positional: Vec<bool>,
    /// Something is drawn over every frame (the visible AI label).
    pub labelled: bool,
}

/// An output's pieces, or why it is encoded whole.
#[derive(Debug, Clone)]
pub(crate) struct Pieces {
    pub pieces: Vec<Piece>,
    pub timing: Timing,
}

impl Pieces {
    /// Whether the composition `render::prepare` made is the one these pieces were cut from.
    pub(crate) fn agrees_with(&self, prepared: &Timing) -> bool {
        *prepared == self.timing
    }
}

/// Why an output is encoded whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Whole {
    #[error("not a video")]
    NotVideo,
    #[error("the template has no [[scene]]")]
    NoScenes,
    #[error("a label is drawn over the whole video")]
    Labelled,
    /// A caption or badge the variant picks for the whole video is shown in every scene:
    /// to the viewer one caption across the cuts, so its frames are not left to scenes.
    #[error("{0} `{1}` spans the whole video")]
    Spanning(&'static str, String),
    #[error("no scene's frames are shown by another output")]
    NothingShared,
}

/// What keys are hashed with, made once per run: asset paths are replaced by the assets'
/// sha256 as variant ids do.
pub(crate) struct KeyContext(Digests);

impl KeyContext {
    pub(crate) fn new(hashes: &AssetHashes) -> KeyContext {
        KeyContext(Digests::new(hashes))
    }
}

/// Cuts a job's timeline where its frames stop being one scene's interior. `labelled`: the run draws a label over every frame
/// of this output (`exec::ai_label`).
pub(crate) fn pieces(
    t: &Template,
    job: &Job,
    preset: &Preset,
    region: &Region,
    keys: &KeyContext,
    labelled: bool,
) -> Result<Cut, Whole> {
    if preset.kind != PresetKind::Video {
        return Err(Whole::NotVideo);
    }
    if t.scenes.is_empty() {
        return Err(Whole::NoScenes);
    }
    if labelled {
        return Err(Whole::Labelled);
    }
    let order = &job.choices.order;
    if !preset.rules.no_text {
        for (pool, what) in [(Pool::Subtitle, "caption"), (Pool::Badge, "badge")] {
            let everywhere = order.iter().all(|&s| t.scenes[s].listed(pool).is_none());
            if let Some(i) = job.choices.get(pool).filter(|_| everywhere) {
                return Err(Whole::Spanning(what, super::option_id(t, pool, i).into()));
            }
        }
    }

    // The segments as `render::prepare_as` lays them out.
    let fps = t.fps;
    let timeline = (t.duration * fps as f64).round().max(1.0) as u32;
    let to_frame = |secs: f64| ((secs * fps as f64).round() as u32).min(timeline);
    let starts = t.scene_starts(order);
    // (scene or end card, start, end, transition frames into it)
    let mut spans: Vec<(Option<usize>, u32, u32, u32)> = Vec::new();
    for (k, &s) in order.iter().enumerate() {
        let end = if k + 1 == order.len() {
            timeline
        } else {
            to_frame(starts[k + 1])
        };
        let tr = &t.scenes[s].transition;
        let n = if k > 0 && tr.kind != TransitionKind::Cut {
            (tr.duration * fps as f64).round() as u32
        } else {
            0
        };
        spans.push((Some(s), to_frame(starts[k]), end, n));
    }
    let card = job.choices.end_card.map(|i| (i, &t.end_cards[i]));
    if let Some((_, e)) = card {
        let cs = timeline.saturating_sub(to_frame(e.duration)).max(1);
        spans.retain(|s| s.1 < cs);
        if let Some(last) = spans.last_mut() {
            last.2 = cs;
        }
    }
    let effects = |s: usize| job.choices.in_scene(t, s, Pool::Effects);
    let fade = |s: Option<&(Option<usize>, u32, u32, u32)>,
                f: fn(&crate::template::Effects) -> f64| {
        s.and_then(|s| s.0).and_then(effects).map_or(0, |e| {
            (f(t.effects_for(region, e)) * fps as f64).round() as u32
        })
    };
    let fade_in = fade(spans.first(), |e| e.fade_in);
    let fade_out = fade(spans.last(), |e| e.fade_out);
    let mut positional: Vec<bool> = spans
        .iter()
        .map(|s| {
            s.0.and_then(effects).is_some_and(|e| {
                t.effects_for(region, e)
                    .grain
                    .as_ref()
                    .is_some_and(|g| g.amount > 0.0)
            }) && !preset.rules.white_background
        })
        .collect();
    if let Some((_, e)) = card {
        let cs = timeline.saturating_sub(to_frame(e.duration)).max(1);
        let tr = &e.transition;
        let n = if tr.kind != TransitionKind::Cut {
            (tr.duration * fps as f64).round() as u32
        } else {
            0
        };
        spans.push((None, cs, timeline, n));
        positional.push(false);
    }
    let windows: Vec<(u32, u32)> = spans
        .iter()
        .enumerate()
        .filter(|(k, s)| *k > 0 && s.3 > 0)
        .map(|(_, s)| {
            let from = s.1.saturating_sub(s.3 / 2);
            (from, from + s.3)
        })
        .collect();
    let timing = Timing {
        segments: spans.iter().map(|s| (s.1, s.2)).collect(),
        windows: windows.clone(),
        fade_in,
        fade_out,
        positional: positional.clone(),
        labelled,
    };

    // Each frame: the segment whose interior it is, or none (mixed, faded: this output's).
    let digests = &keys.0;
    let segment_keys: Vec<String> = spans
        .iter()
        .enumerate()
        .map(|(k, s)| segment_key(t, job, preset, region, digests, *s, positional[k], card))
        .collect();
    let own = |f: u32| {
        f < fade_in || f + fade_out >= timeline || windows.iter().any(|&(a, b)| (a..b).contains(&f))
    };
    let mut runs: Vec<(u32, u32, Option<usize>)> = Vec::new();
    for f in 0..timeline {
        let label = if own(f) {
            None
        } else {
            spans.iter().rposition(|s| s.1 <= f)
        };
        match runs.last_mut() {
            Some(r) if r.2 == label => r.1 = f + 1,
            _ => runs.push((f, f + 1, label)),
        }
    }
    Ok(Cut {
        runs,
        segments: segment_keys
            .into_iter()
            .zip(spans.iter().map(|s| s.1))
            .collect(),
        timing,
    })
}

/// An output's timeline cut where its frames stop being one scene's interior, before the
/// batch is seen (`pieces`); `into_pieces` finishes it with what the other outputs need.
#[derive(Debug, Clone)]
pub(crate) struct Cut {
    /// Frames [start, end) and the segment whose interior they are (`None`: this output's).
    runs: Vec<(u32, u32, Option<usize>)>,
    /// Each segment's key (what its frames are drawn from) and first frame.
    segments: Vec<(String, u32)>,
    timing: Timing,
}

impl Cut {
    /// Where this output's interiors begin and end, as (segment key, frame counted from
    /// the segment's start). The same scene is trimmed differently by different neighbours'
    /// transitions; cutting every output's interior of it at all these points lets them
    /// share the frames they have in common.
    pub(crate) fn points(&self) -> Vec<(String, u32)> {
        self.runs
            .iter()
            .filter_map(|&(a, b, k)| k.map(|k| (k, a, b)))
            .flat_map(|(k, a, b)| {
                let (key, start) = &self.segments[k];
                [(key.clone(), a - start), (key.clone(), b - start)]
            })
            .collect()
    }

    /// The pieces: interiors split at the batch's `points` of their segment (where neither
    /// side gets shorter than `MIN_PIECE`), short runs settled, each shared piece keyed by
    /// its segment's key and its frames inside the segment.
    pub(crate) fn into_pieces(self, points: &dyn Fn(&str) -> Vec<u32>) -> Pieces {
        let mut runs = Vec::with_capacity(self.runs.len());
        for (a, b, label) in self.runs {
            let Some(k) = label else {
                runs.push((a, b, None));
                continue;
            };
            let (key, start) = &self.segments[k];
            let mut cuts = points(key);
            cuts.sort_unstable();
            let mut from = a;
            for p in cuts.into_iter().map(|p| p + start) {
                if p >= from + MIN_PIECE && p + MIN_PIECE <= b {
                    runs.push((from, p, Some(k)));
                    from = p;
                }
            }
            runs.push((from, b, Some(k)));
        }
        let pieces = settle(runs)
            .into_iter()
            .map(|(a, b, label)| Piece {
                start: a,
                end: b,
                key: label.map(|k| {
                    let (key, start) = &self.segments[k];
                    let mut h = Sha256::new();
                    h.update(key.as_bytes());
                    h.update(format!(" piece {} {}", a - start, b - start).as_bytes());
                    hex(&h.finalize())
                }),
            })
            .collect();
        Pieces {
            pieces,
            timing: self.timing,
        }
    }
}

/// Leaves no piece shorter than `MIN_PIECE`: a short shared run becomes this output's own,
/// and a short own run takes frames from its neighbour (which may become short in turn).
fn settle(mut runs: Vec<(u32, u32, Option<usize>)>) -> Vec<(u32, u32, Option<usize>)> {
    loop {
        for r in runs.iter_mut() {
            if r.2.is_some() && r.1 - r.0 < MIN_PIECE {
                r.2 = None;
            }
        }
        runs = merge_own(runs);
        let Some(i) = runs
            .iter()
            .position(|r| r.2.is_none() && r.1 - r.0 < MIN_PIECE)
        else {
            return runs;
        };
        if runs.len() == 1 {
            return runs;
        }
        let need = MIN_PIECE - (runs[i].1 - runs[i].0);
        if i + 1 < runs.len() {
            let take = need.min(runs[i + 1].1 - runs[i + 1].0);
            runs[i].1 += take;
            runs[i + 1].0 += take;
        } else {
            let take = need.min(runs[i - 1].1 - runs[i - 1].0);
            runs[i].0 -= take;
            runs[i - 1].1 -= take;
        }
        runs.retain(|r| r.1 > r.0);
    }
}

fn merge_own(runs: Vec<(u32, u32, Option<usize>)>) -> Vec<(u32, u32, Option<usize>)> {
    let mut out: Vec<(u32, u32, Option<usize>)> = Vec::with_capacity(runs.len());
    for r in runs {
        match out.last_mut() {
            Some(last) if last.2.is_none() && r.2.is_none() => last.1 = r.1,
            _ => out.push(r),
        }
    }
    out
}

/// Turns pieces no other output of the batch shows into this output's own frames (`users`:
/// how many outputs show each key) and merges neighbours; `NothingShared` when none is left.
pub(crate) fn keep_shared(mut p: Pieces, users: &dyn Fn(&str) -> usize) -> Result<Pieces, Whole> {
    for piece in &mut p.pieces {
        if piece.key.as_deref().is_some_and(|k| users(k) < 2) {
            piece.key = None;
        }
    }
    let mut out: Vec<Piece> = Vec::with_capacity(p.pieces.len());
    for piece in p.pieces {
        match out.last_mut() {
            Some(last) if last.key.is_none() && piece.key.is_none() => last.end = piece.end,
            _ => out.push(piece),
        }
    }
    if out.iter().all(|p| p.key.is_none()) {
        return Err(Whole::NothingShared);
    }
    p.pieces = out;
    Ok(p)
}

/// Everything a segment's frames are drawn from, as text: the options its scene shows (their
/// definitions, asset paths replaced by the assets' sha256, as variant ids hash them), the
/// preset's canvas, rules and encoding settings, the region, the frame rate, the segment's
/// length, and its start when its frames depend on their place in the video.
#[allow(clippy::too_many_arguments)]
fn segment_key(
    t: &Template,
    job: &Job,
    preset: &Preset,
    region: &Region,
    digests: &Digests,
    (scene, start, end, _): (Option<usize>, u32, u32, u32),
    positional: bool,
    card: Option<(usize, &crate::template::EndCard)>,
) -> String {
    let mut h = Sha256::new();
    let mut feed = |label: &str, s: &str| {
        h.update(label.as_bytes());
        h.update([0]);
        h.update(digests.swap_paths(s).as_bytes());
        h.update([0]);
    };
    feed("render", &crate::RENDER_VERSION.to_string());
    feed(
        "preset",
        &format!(
            "{:?}",
            (
                &preset.id,
                preset.width,
                preset.height,
                &preset.video,
                &preset.rules,
                preset.safe_zone,
                preset.safe_zone_rtl
            )
        ),
    );
    feed(
        "region",
        &format!(
            "{} {} {:?} {}",
            region.code, region.locale, region.direction, t.allow_fallback
        ),
    );
    feed("fps", &t.fps.to_string());
    feed("length", &(end - start).to_string());
    if positional {
        feed("start", &start.to_string());
    }
    if !t.fonts.is_empty() {
        feed("fonts", &format!("{:?}", t.fonts));
    }
    match scene {
        Some(s) => {
            feed("scene", &format!("{s} {:?}", t.scenes[s]));
            let pick = |pool| job.choices.in_scene(t, s, pool);
            let background = pick(Pool::Background).unwrap_or(job.choices.background);
            feed(
                "background",
                &format!("{:?}", t.background_for(region, background)),
            );
            if let Some(i) = pick(Pool::Product) {
                feed("product", &format!("{:?}", t.product_for(region, i)));
            }
            if let Some(i) = pick(Pool::Subtitle) {
                feed("subtitle", &format!("{:?}", t.subtitle_for(region, i)));
            }
            if let Some(i) = pick(Pool::Effects) {
                feed("effects", &format!("{:?}", t.effects_for(region, i)));
            }
            if let Some(i) = pick(Pool::Badge) {
                feed("badge", &format!("{:?}", t.badges[i]));
            }
        }
        None => {
            if let Some((i, e)) = card {
                feed("end_card", &format!("{i} {e:?}"));
            }
        }
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_runs_are_merged_into_own_pieces() {
        // A shared run of 5 frames between two windows becomes own; a 3-frame own run at
        // the start takes frames from the shared run after it.
        let runs = vec![
            (0, 3, None),
            (3, 30, Some(0)),
            (30, 36, None),
            (36, 41, Some(1)),
            (41, 45, None),
            (45, 80, Some(2)),
        ];
        let out = settle(runs);
        assert_eq!(
            out,
            vec![
                (0, 8, None),
                (8, 30, Some(0)),
                (30, 45, None),
                (45, 80, Some(2)),
            ]
        );
        assert!(out.iter().all(|r| r.1 - r.0 >= MIN_PIECE));
    }

    #[test]
    fn a_short_video_is_one_own_piece() {
        assert_eq!(
            settle(vec![(0, 3, Some(0)), (3, 5, None)]),
            vec![(0, 5, None)]
        );
    }
}
