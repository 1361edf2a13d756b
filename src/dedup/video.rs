//! vPDQ-style video comparison: each video is a bag of per-second PDQ hashes (flat frames
//! already dropped by the fingerprint). Reports the reference's q/c figures plus what the
//! platform rule needs: the share of the new video's seconds that reuse old footage, and an
//! ordered coverage (same shots in the same order = same storyline).

use super::fingerprint::FrameHash;
use super::pdq::{Hash256, MATCH_DISTANCE};

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
}

/// Compares the new video's frames (all orientations, so a mirrored copy is caught) with the
/// old video's stored hashes.
pub fn compare(new: &[FrameHash], old: &[Hash256]) -> BagMatch {
    compare_with(new, old, MATCH_DISTANCE)
}

pub(crate) fn compare_with(new: &[FrameHash], old: &[Hash256], threshold: u32) -> BagMatch {
    if new.is_empty() || old.is_empty() {
        return BagMatch {
            min_distance: 256,
            ..Default::default()
        };
    }
    // Orientation is a property of the whole file, not of each frame: pick the one that
    // matches best overall, so frames are not matched under mixed flips by chance.
    let mut best: Option<(usize, Vec<Vec<bool>>, u32)> = None;
    for o in 0..8 {
        let mut m = vec![vec![false; old.len()]; new.len()];
        let mut count = 0usize;
        let mut min_d = 256;
        for (i, f) in new.iter().enumerate() {
            for (j, h) in old.iter().enumerate() {
                let d = f.orientations[o].hamming(h);
                min_d = min_d.min(d);
                if d <= threshold {
                    m[i][j] = true;
                }
            }
            if m[i].iter().any(|x| *x) {
                count += 1;
            }
        }
        if best.as_ref().map(|b| count > b.0).unwrap_or(true) {
            best = Some((count, m, min_d));
        }
        if o == 0 && count == new.len() {
            break;
        }
    }
    let (matched_new, m, min_distance) = best.expect("eight orientations tried");
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
