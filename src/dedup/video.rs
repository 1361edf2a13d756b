//! vPDQ-style video comparison: each video is a bag of per-second PDQ hashes (flat frames
//! already dropped by the fingerprint). Reports the reference's q/c figures plus what the
//! platform rule needs: the share of the new video's seconds that reuse old footage, and an
//! ordered coverage (same shots in the same order = same storyline).
//!
//! The new video is looked at under several views, chosen once for the whole file: its
//! eight orientations (a mirrored copy), and its frames turned back by a few degrees
//! (`TURNS`, a turned copy: PDQ itself tolerates under 3°) or with a corner painted over
//! (`CORNERS`, a corner logo over footage it outweighs). Where the key frames' keypoints
//! already agree (`Verified`), seconds whose hashes are close but past the match distance —
//! a corner logo over a low-texture zoom, a turn between two steps — count as reused too.

use super::fingerprint::FrameHash;
use super::geometry::{Fit, Thumb};
use super::pdq::{Hash256, MATCH_DISTANCE};
use super::scene;

/// Turns undone on the query side, in degrees: the first hashes of a video frame's
/// `FrameHash::turned`. 2° apart, so any turn up to 7° is within 1° of a step, which PDQ
/// absorbs with the black corners of the two turns (3° steps left 4° turns at 30–40 bits).
pub(crate) const TURNS: [f32; 6] = [-6.0, -4.0, -2.0, 2.0, 4.0, 6.0];
/// After the turns, `FrameHash::turned` of a video frame holds the frame with each corner
/// painted over (top left, top right, bottom left, bottom right): a corner logo undone.
pub(crate) const CORNERS: usize = 4;
const CORNER_NAMES: [&str; CORNERS] = ["top left", "top right", "bottom left", "bottom right"];

/// Per-second distance up to which a second counts as reused once the key frames agree by
/// geometry. On the evaluation harness no unrelated second came nearer than 92 bits to a
/// stored one under any view (`benches/dedup_eval.rs`, `motion_eval`), and the looser match
/// only admits seconds of a file whose key frame is already shown to be the same picture.
pub(crate) const VERIFIED_DISTANCE: u32 = 48;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BagMatch {
    /// % of the new video's frames that match some frame of the old one.
    pub q: f32,
    /// % of the old video's frames that match some frame of the new one.
    pub c: f32,
    /// Share (0–1) of the new video's hashed seconds that reuse old footage.
    pub reused_share: f32,
    /// Share (0–1) of the new video's seconds matched in order (longest common subsequence):
    /// high when the storyline repeats, low for a reshuffle of the same shots.
    pub ordered: f32,
    /// Closest frame pair.
    pub min_distance: u32,
    /// Degrees the new video's frames were turned back to match (0 when not turned).
    pub turned_deg: f32,
    /// The corner painted over to match (a logo there), if any.
    pub corner: Option<&'static str>,
    /// Seconds counted only because the key frames agree by geometry (hash distance between
    /// the match distance and `VERIFIED_DISTANCE`).
    pub verified_seconds: u32,
    /// Seconds counted only because their thumbnails agree with the old ones
    /// (`seconds_agreeing`).
    pub pixel_seconds: u32,
}

/// Keypoint geometry found the same content in the two videos' key frames, the new one
/// turned by `angle_deg` (as `GeoMatch::angle_deg`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verified {
    pub angle_deg: f32,
}

/// Compares the new video's frames (all orientations, so a mirrored copy is caught, and
/// turned back by each of `TURNS`) with the old video's stored hashes.
pub fn compare(new: &[FrameHash], old: &[Hash256]) -> BagMatch {
    compare_with(new, old, MATCH_DISTANCE, None, &[])
}

/// As `compare`, with what the key frames' keypoints said and the pairs of seconds (new,
/// old) whose thumbnails agree where the key frames' fit puts them (`seconds_agreeing`):
/// those count as matched whatever their hashes.
pub fn compare_verified(
    new: &[FrameHash],
    old: &[Hash256],
    verified: Option<Verified>,
    agreed: &[(usize, usize)],
) -> BagMatch {
    compare_with(new, old, MATCH_DISTANCE, verified, agreed)
}

/// Least share of a second's cells (wholly inside the old frame, at least half the grid)
/// that must agree for it to show the old second: a corner logo of 10–14 % of the width
/// leaves 2–6 cells of 144 differing; a replaced shot, nearly all.
pub const SECOND_AGREE: f32 = 0.85;

/// The pairs (new second, old second at the same time, ± half a second) whose thumbnails
/// agree cell by cell (`scene::differences`) under `fit`, the key frames' fit. A logo or a
/// turn is the same across the whole video, so the key frames' fit holds for every second.
/// Seconds without a thumbnail (rows stored before schema 5) are skipped.
pub fn seconds_agreeing(new: &[FrameHash], old: &[(f32, Thumb)], fit: &Fit) -> Vec<(usize, usize)> {
    let cfg = scene::SplitConfig::default();
    let mut out = Vec::new();
    for (i, f) in new.iter().enumerate() {
        let Some(j) = old
            .iter()
            .position(|(t, th)| (t - f.t).abs() <= 0.5 && !th.is_empty())
        else {
            continue;
        };
        let Some(cells) = scene::differences(&f.thumb, &old[j].1, fit) else {
            continue;
        };
        let (mut whole, mut agree) = (0usize, 0usize);
        for c in cells.iter().filter(|c| c.differs >= 0.0) {
            whole += 1;
            agree += usize::from(!cfg.cell_differs(c));
        }
        if whole * 2 >= cells.len() && agree as f32 >= SECOND_AGREE * whole as f32 {
            out.push((i, j));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum View {
    Orientation(usize),
    Turned(usize),
    Cornered(usize),
}

impl View {
    fn hash(self, f: &FrameHash) -> Option<&Hash256> {
        match self {
            View::Orientation(o) => f.orientations.get(o),
            View::Turned(k) => f.turned.get(k),
            View::Cornered(c) => f.turned.get(TURNS.len() + c),
        }
    }
}

/// The new video under one view: which of its seconds match which old ones.
struct Seen {
    count: usize,
    m: Vec<Vec<bool>>,
    min_d: u32,
    view: View,
    by_geometry: u32,
    by_pixels: u32,
}

pub(crate) fn compare_with(
    new: &[FrameHash],
    old: &[Hash256],
    threshold: u32,
    verified: Option<Verified>,
    agreed: &[(usize, usize)],
) -> BagMatch {
    if new.is_empty() || old.is_empty() {
        return BagMatch {
            min_distance: 256,
            ..Default::default()
        };
    }
    // Geometry vouches for the view it measured: the frames as shown, or turned back by the
    // step nearest the angle it found. A mirrored view is not vouched for (the key frames
    // were matched unmirrored).
    // (`GeoMatch::angle_deg` is old → new, so the turn back is its opposite; the angle comes
    // from two frames of a moving shot and was up to 0.8° off on the harness.)
    let step = |k: usize| (TURNS[k] + verified.map_or(0.0, |g| g.angle_deg)).abs();
    let nearest = (0..TURNS.len()).min_by(|a, b| step(*a).total_cmp(&step(*b)));
    let loose = |v: View| {
        match (verified, v) {
            (Some(g), View::Orientation(0) | View::Cornered(_)) if g.angle_deg.abs() < 1.5 => {
                VERIFIED_DISTANCE
            }
            (Some(g), View::Turned(k)) if g.angle_deg.abs() >= 1.0 && Some(k) == nearest => {
                VERIFIED_DISTANCE
            }
            _ => threshold,
        }
        .max(threshold)
    };
    let extra = new.iter().map(|f| f.turned.len()).min().unwrap_or(0);
    let views = (0..8)
        .map(View::Orientation)
        .chain((0..extra.min(TURNS.len())).map(View::Turned))
        .chain((0..extra.saturating_sub(TURNS.len()).min(CORNERS)).map(View::Cornered));
    // Orientation and turn are properties of the whole file, not of each frame: pick the
    // view that matches best overall, so frames are not matched under mixed flips by chance.
    let mut best: Option<Seen> = None;
    for view in views {
        let limit = loose(view);
        let mut m = vec![vec![false; old.len()]; new.len()];
        let mut count = 0usize;
        let mut by_geometry = 0u32;
        let mut by_pixels = 0u32;
        let mut min_d = 256;
        for (i, f) in new.iter().enumerate() {
            let Some(q) = view.hash(f) else { continue };
            let mut strict = false;
            for (j, h) in old.iter().enumerate() {
                let d = q.hamming(h);
                min_d = min_d.min(d);
                if d <= limit {
                    m[i][j] = true;
                    strict |= d <= threshold;
                }
            }
            let hashed = m[i].iter().any(|x| *x);
            for &(_, j) in agreed.iter().filter(|p| p.0 == i) {
                m[i][j] = true;
            }
            if m[i].iter().any(|x| *x) {
                count += 1;
                by_geometry += u32::from(hashed && !strict);
                by_pixels += u32::from(!hashed);
            }
        }
        if best.as_ref().map(|b| count > b.count).unwrap_or(true) {
            best = Some(Seen {
                count,
                m,
                min_d,
                view,
                by_geometry,
                by_pixels,
            });
        }
        if view == View::Orientation(0) && count == new.len() {
            break;
        }
    }
    let Seen {
        count: matched_new,
        m,
        min_d: min_distance,
        view,
        by_geometry: verified_seconds,
        by_pixels: pixel_seconds,
    } = best.expect("eight orientations tried");
    let matched_old = (0..old.len())
        .filter(|j| m.iter().any(|row| row[*j]))
        .count();
    let lcs = lcs(&m);
    let n = new.len() as f32;
    BagMatch {
        q: 100.0 * matched_new as f32 / n,
        c: 100.0 * matched_old as f32 / old.len() as f32,
        reused_share: matched_new as f32 / n,
        ordered: lcs as f32 / n,
        min_distance,
        turned_deg: match view {
            View::Turned(k) => TURNS[k],
            _ => 0.0,
        },
        corner: match view {
            View::Cornered(c) => Some(CORNER_NAMES[c]),
            _ => None,
        },
        verified_seconds,
        pixel_seconds,
    }
}

fn lcs(m: &[Vec<bool>]) -> usize {
    let cols = m.first().map(|r| r.len()).unwrap_or(0);
    let mut prev = vec![0usize; cols + 1];
    for row in m {
        let mut cur = vec![0usize; cols + 1];
        for j in 0..cols {
            cur[j + 1] = if row[j] {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        prev = cur;
    }
    prev[cols]
}
