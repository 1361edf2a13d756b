//! Which combinations of pool options become variants.
//!
//! A combination is its index `k` in the product of the axes, read as a mixed-radix number
//! whose last axis is the fastest digit. The product itself is never built: `full` walks the
//! indices in order and `sample` draws them, so a plan costs what its variants cost, not what
//! the product would (10⁴ backgrounds × 10⁴ captions is 10⁸ combinations).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

use crate::template::{Pick, Pool, Strategy, Template};

use super::{option_id, pool_len, thousands, Choices, PlanError, Variant};

/// Default of `--max-variants`. A plan is held in memory and rendered job by job, so a
/// template whose `full` product runs to millions is almost always a mistake to stop before
/// it starts, not a batch to run.
pub const DEFAULT_MAX_VARIANTS: usize = 100_000;

/// Products up to this size keep `sample`'s original fallback (enumerate what is left), so
/// the samples of templates planned before large products were supported do not change.
const SMALL_SPACE: u128 = 1 << 20;

/// Products up to this size may be counted by checking every combination against the
/// exclusions when the class view below is too big.
const SCAN_SPACE: u128 = 1 << 22;

/// Most class combinations `Classes` checks; beyond it counting falls back to a scan.
const MAX_CLASS_COMBOS: u128 = 1 << 18;

/// One dimension the variants vary along.
#[derive(Debug, Clone)]
enum Axis {
    /// A pool chosen once for the whole video.
    Pool(Pool, usize),
    /// Scene `s` picks one of `options` of the pool in slot `slot` of `Pool::SCENE`.
    Scene {
        s: usize,
        slot: usize,
        options: Vec<usize>,
    },
    /// One of `[variants] orders`.
    Order(usize),
}

impl Axis {
    fn len(&self) -> usize {
        match self {
            Axis::Pool(_, n) | Axis::Order(n) => *n,
            Axis::Scene { options, .. } => options.len().max(1),
        }
    }
}

/// A pool has a video-wide choice unless every scene lists its own options from it.
pub(super) fn pool_is_video_wide(t: &Template, pool: Pool) -> bool {
    pool_len(t, pool) > 0
        && (t.scenes.is_empty()
            || !Pool::SCENE.contains(&pool)
            || t.scenes.iter().any(|s| s.listed(pool).is_none()))
}

/// Axes in product order: video-wide pools (background varies slowest), then each scene's
/// own picks, then the scene order.
fn axes(t: &Template) -> Vec<Axis> {
    let mut v: Vec<Axis> = Pool::ALL
        .into_iter()
        .filter(|p| pool_is_video_wide(t, *p))
        .map(|p| Axis::Pool(p, pool_len(t, p)))
        .collect();
    for (s, scene) in t.scenes.iter().enumerate() {
        for (slot, pool) in Pool::SCENE.iter().enumerate() {
            if let Some(options) = scene.listed(*pool) {
                v.push(Axis::Scene {
                    s,
                    slot,
                    options: options.clone(),
                });
            }
        }
    }
    if t.variants.orders.len() > 1 {
        v.push(Axis::Order(t.variants.orders.len()));
    }
    v
}

fn choices_at(t: &Template, axes: &[Axis], mut k: u128) -> Choices {
    let mut c = Choices {
        background: 0,
        product: None,
        subtitle: None,
        effects: None,
        badge: None,
        audio: None,
        end_card: None,
        scenes: vec![[None; 5]; t.scenes.len()],
        order: match t.variants.orders.first() {
            Some(o) => o.clone(),
            None => (0..t.scenes.len()).collect(),
        },
    };
    for axis in axes.iter().rev() {
        let n = axis.len();
        let i = (k % n as u128) as usize;
        k /= n as u128;
        match axis {
            Axis::Pool(pool, _) => c.set(*pool, i),
            Axis::Scene { s, slot, options } => c.scenes[*s][*slot] = options.get(i).copied(),
            Axis::Order(_) => c.order = t.variants.orders[i].clone(),
        }
    }
    c
}

fn excluded(t: &Template, c: &Choices) -> bool {
    t.variants.exclude.iter().any(|ex| {
        !ex.when.is_empty()
            && ex.when.iter().all(|(pool, id)| {
                c.uses(t, *pool)
                    .iter()
                    .any(|&i| option_id(t, *pool, i) == id)
            })
    })
}

/// SplitMix64: tiny, seedable, and identical on every platform — all `sample` needs.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u128) -> u128 {
        ((self.next() as u128) << 64 | self.next() as u128) % n
    }
}

/// The product of a template's axes, addressed by index.
struct Space<'a> {
    t: &'a Template,
    axes: Vec<Axis>,
}

impl Space<'_> {
    fn choices(&self, k: u128) -> Choices {
        choices_at(self.t, &self.axes, k)
    }

    fn allowed(&self, k: u128) -> bool {
        self.t.variants.exclude.is_empty() || !excluded(self.t, &self.choices(k))
    }
}

/// The product as the exclusions see it: on each axis, every option an `exclude` rule names
/// is a class of its own and all the others form one class, because no rule can tell them
/// apart. A handful of class combinations then stands for all 10⁸ combinations, so the
/// non-excluded ones can be counted, and drawn uniformly, without visiting them.
struct Classes {
    /// Per axis, the positions on that axis of each class's members.
    axes: Vec<Vec<Vec<usize>>>,
    /// Per axis, what one step on it adds to `k`.
    strides: Vec<u128>,
    /// Non-excluded class combinations as (combinations up to and including this one,
    /// class-combination index), for drawing by binary search.
    allowed: Vec<(u128, u128)>,
}

impl Classes {
    fn build(space: &Space) -> Option<Classes> {
        let t = space.t;
        let named: HashSet<(Pool, &str)> = t
            .variants
            .exclude
            .iter()
            .flat_map(|ex| &ex.when)
            .map(|(p, id)| (*p, id.as_str()))
            .collect();
        let mut axes = Vec::with_capacity(space.axes.len());
        for axis in &space.axes {
            let option = |pos: usize| match axis {
                Axis::Pool(pool, _) => Some((*pool, pos)),
                Axis::Scene { slot, options, .. } => {
                    options.get(pos).map(|&i| (Pool::SCENE[*slot], i))
                }
                Axis::Order(_) => None,
            };
            let mut classes = Vec::new();
            let mut rest = Vec::new();
            for pos in 0..axis.len() {
                match option(pos) {
                    Some((pool, i)) if named.contains(&(pool, option_id(t, pool, i))) => {
                        classes.push(vec![pos])
                    }
                    _ => rest.push(pos),
                }
            }
            if !rest.is_empty() {
                classes.push(rest);
            }
            axes.push(classes);
        }
        let combos = axes
            .iter()
            .try_fold(1u128, |acc, c: &Vec<Vec<usize>>| {
                acc.checked_mul(c.len() as u128)
            })
            .filter(|&n| n <= MAX_CLASS_COMBOS)?;
        let mut strides = vec![1u128; space.axes.len()];
        for a in (0..strides.len().saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * space.axes[a + 1].len() as u128;
        }
        let mut c = Classes {
            axes,
            strides,
            allowed: Vec::new(),
        };
        let mut running = 0u128;
        for combo in 0..combos {
            let digits = c.digits(combo);
            let first: u128 = digits
                .iter()
                .enumerate()
                .map(|(a, &d)| c.axes[a][d][0] as u128 * c.strides[a])
                .sum();
            if space.allowed(first) {
                running += digits
                    .iter()
                    .enumerate()
                    .map(|(a, &d)| c.axes[a][d].len() as u128)
                    .product::<u128>();
                c.allowed.push((running, combo));
            }
        }
        Some(c)
    }

    /// The class picked on each axis by class combination `combo` (last axis fastest).
    fn digits(&self, mut combo: u128) -> Vec<usize> {
        let mut d = vec![0; self.axes.len()];
        for (a, classes) in self.axes.iter().enumerate().rev() {
            let n = classes.len() as u128;
            d[a] = (combo % n) as usize;
            combo /= n;
        }
        d
    }

    fn available(&self) -> u128 {
        self.allowed.last().map_or(0, |a| a.0)
    }

    /// A uniformly drawn non-excluded combination: a class combination in proportion to its
    /// size, then a member of each class.
    fn draw(&self, rng: &mut SplitMix) -> u128 {
        let r = rng.below(self.available());
        let at = self.allowed.partition_point(|a| a.0 <= r);
        let digits = self.digits(self.allowed[at].1);
        let mut k = 0;
        for (a, &d) in digits.iter().enumerate() {
            let members = &self.axes[a][d];
            let pos = if members.len() > 1 {
                members[rng.below(members.len() as u128) as usize]
            } else {
                members[0]
            };
            k += pos as u128 * self.strides[a];
        }
        k
    }
}

/// Whether `new` would be a duplicate of the kept `old` by composition (the gate's rule, for
/// every preset and region the template makes), and why. The `u128`s are the combinations'
/// indices, for caching what each one is made of.
pub(crate) type Judge<'j> = dyn FnMut(&Choices, u128, &Choices, u128) -> Option<String> + 'j;

/// The variants of a template, numbered from 1 in product order, and for `distinct` and
/// `pairwise` what the design left out and covered. Refuses, before doing the work, a plan
/// of more than `max` variants and a sample asking for more than there are.
pub(crate) fn variants(
    t: &Template,
    max: usize,
    judge: &mut Judge,
) -> Result<(Vec<Variant>, Option<Design>), PlanError> {
    let axes = axes(t);
    let total: u128 = axes.iter().map(|a| a.len() as u128).product();
    let space = Space { t, axes };
    let classes = Classes::build(&space);
    let available = match &classes {
        Some(c) => Some(c.available()),
        None if total <= SCAN_SPACE => {
            Some((0..total).filter(|&k| space.allowed(k)).count() as u128)
        }
        None => None,
    };
    let limit = t.variants.limit.map_or(u128::MAX, |l| l as u128);
    let max_u = max as u128;
    // Combinations are indices into the product; excluded ones are dropped before sampling
    // and limiting so that `count` and `limit` count real variants.
    let mut design = None;
    let mut picked: Vec<u128> = match &t.variants.strategy {
        Strategy::Full => {
            let made = available.map(|a| a.min(limit));
            if let Some(m) = made.filter(|&m| m > max_u) {
                return Err(PlanError::FullTooLarge {
                    would: thousands(m),
                    max: thousands(max_u),
                });
            }
            // Without a count, stop one past the limit: that is enough to refuse.
            let cap = made.unwrap_or(limit.min(max_u + 1));
            let mut v = Vec::new();
            let mut k = 0u128;
            while k < total && (v.len() as u128) < cap {
                if space.allowed(k) {
                    v.push(k);
                }
                k += 1;
            }
            if v.len() as u128 > max_u {
                return Err(PlanError::FullTooLarge {
                    would: format!("at least {}", thousands(max_u + 1)),
                    max: thousands(max_u),
                });
            }
            v
        }
        Strategy::Sample { count, seed } => {
            let want = (*count).min(t.variants.limit.unwrap_or(usize::MAX));
            if let Some(a) = available.filter(|&a| want as u128 > a) {
                let what = if a == total {
                    format!("{} combinations the pools make", thousands(a))
                } else {
                    format!(
                        "{} combinations left after exclusions (of {})",
                        thousands(a),
                        thousands(total)
                    )
                };
                return Err(PlanError::SampleTooFew {
                    count: thousands(*count as u128),
                    what,
                    available: thousands(a),
                });
            }
            if want as u128 > max_u {
                return Err(PlanError::SampleTooLarge {
                    would: thousands(want as u128),
                    max: thousands(max_u),
                });
            }
            let mut rng = SplitMix(*seed);
            let mut set = BTreeSet::new();
            // Rejection sampling with a bounded number of draws; when the product is small
            // or mostly excluded, fall back to enumerating what is left.
            let mut draws = 0u64;
            while set.len() < want && draws < 64 * want as u64 + 1024 {
                draws += 1;
                let k = rng.below(total);
                if space.allowed(k) {
                    set.insert(k);
                }
            }
            let enumerate = total <= SMALL_SPACE || classes.is_none() && total <= SCAN_SPACE;
            if set.len() < want && enumerate {
                let mut rest: Vec<u128> = (0..total)
                    .filter(|k| !set.contains(k) && space.allowed(*k))
                    .collect();
                // Seeded Fisher–Yates over what is left keeps the choice reproducible.
                for i in (1..rest.len()).rev() {
                    let j = rng.below(i as u128 + 1) as usize;
                    rest.swap(i, j);
                }
                set.extend(rest.into_iter().take(want - set.len()));
            } else if set.len() < want {
                // A large product that is mostly excluded: draw among the allowed
                // combinations only. `want` is at most what is available, so this ends.
                let Some(c) = &classes else {
                    return Err(PlanError::SampleShort {
                        want: thousands(want as u128),
                        found: thousands(set.len() as u128),
                        draws: thousands(draws as u128),
                    });
                };
                while set.len() < want {
                    set.insert(c.draw(&mut rng));
                }
            }
            set.into_iter().collect()
        }
        Strategy::Distinct { count } => {
            let candidates = design_candidates(&space, total)?;
            let want = count
                .unwrap_or(usize::MAX)
                .min(t.variants.limit.unwrap_or(usize::MAX));
            let (kept, d) = distinct(&space, candidates, want, judge);
            design = Some(d);
            kept
        }
        Strategy::Chosen { picks } => chosen(&space, total, picks)?,
        Strategy::Pairwise { distinct } => {
            let candidates = design_candidates(&space, total)?;
            let limit = t.variants.limit.unwrap_or(usize::MAX);
            let (kept, d) = pairwise(&space, candidates, *distinct, limit, judge);
            design = Some(d);
            kept
        }
    };
    if picked.len() as u128 > max_u {
        return Err(PlanError::FullTooLarge {
            would: thousands(picked.len() as u128),
            max: thousands(max_u),
        });
    }
    picked.sort_unstable();
    let variants = picked
        .iter()
        .enumerate()
        .map(|(i, &k)| Variant {
            n: i as u32 + 1,
            choices: space.choices(k),
        })
        .collect();
    if let Some(d) = &mut design {
        // Name kept variants by their number now that the order is final.
        for l in &mut d.left_out {
            if let Some(k) = l.duplicate_of_k {
                l.duplicate_of = picked.binary_search(&k).ok().map(|i| i as u32 + 1);
            }
        }
    }
    Ok((variants, design))
}

/// Most combinations `distinct` and `pairwise` consider. Both look at every allowed
/// combination (to spread usage, to count pairs), so their cost grows with the product;
/// beyond this, `sample` is the strategy to use.
pub const MAX_DESIGN_SPACE: u128 = 100_000;

/// The combination each `pick` names: exactly one allowed combination must agree with every
/// key it gives, and no two picks may name the same one.
fn chosen(space: &Space, total: u128, picks: &[Pick]) -> Result<Vec<u128>, PlanError> {
    if total > MAX_DESIGN_SPACE {
        return Err(PlanError::DesignTooLarge {
            combinations: thousands(total),
            max: thousands(MAX_DESIGN_SPACE),
        });
    }
    let ids: Vec<BTreeMap<String, String>> =
        (0..total).map(|k| space.choices(k).ids(space.t)).collect();
    let mut taken: BTreeMap<u128, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(picks.len());
    for p in picks {
        let bad = |message: String| PlanError::Pick {
            template: space.t.path.display().to_string(),
            line: p.line,
            message,
        };
        let agrees =
            |m: &BTreeMap<String, String>| p.pairs.iter().all(|(key, id)| m.get(key) == Some(id));
        let found: Vec<u128> = (0..total).filter(|&k| agrees(&ids[k as usize])).collect();
        if let Some((key, _)) = p.pairs.iter().find(|(key, _)| !ids[0].contains_key(key)) {
            let known: Vec<&str> = ids[0].keys().map(String::as_str).collect();
            return Err(bad(format!(
                "`{key}` is not a choice this template varies (its choices: {})",
                known.join(", ")
            )));
        }
        let allowed: Vec<u128> = found
            .iter()
            .copied()
            .filter(|&k| space.allowed(k))
            .collect();
        let k = match allowed.as_slice() {
            [k] => *k,
            [] if !found.is_empty() => {
                return Err(bad("names a combination an `exclude` rule drops".into()))
            }
            [] => return Err(bad("names no combination the pools make".into())),
            [first, ..] => {
                let open: Vec<&str> = ids[*first as usize]
                    .iter()
                    .filter(|(key, id)| {
                        allowed
                            .iter()
                            .any(|&k| ids[k as usize].get(*key) != Some(id))
                    })
                    .map(|(key, _)| key.as_str())
                    .collect();
                return Err(bad(format!(
                    "names {} combinations: it leaves {} open; name one option for each",
                    allowed.len(),
                    open.join(", ")
                )));
            }
        };
        if let Some(line) = taken.insert(k, p.line) {
            return Err(bad(format!(
                "names the same combination as the pick on line {line}"
            )));
        }
        out.push(k);
    }
    Ok(out)
}

/// Every combination the template allows (after exclusions) with its product index, as the
/// designs see them; refused above the designs' limit. `factory results next` chooses
/// among these.
pub fn combinations(t: &Template) -> Result<Vec<(u128, Choices)>, PlanError> {
    let axes = axes(t);
    let total: u128 = axes.iter().map(|a| a.len() as u128).product();
    let space = Space { t, axes };
    Ok(design_candidates(&space, total)?
        .into_iter()
        .map(|k| (k, space.choices(k)))
        .collect())
}

fn design_candidates(space: &Space, total: u128) -> Result<Vec<u128>, PlanError> {
    if total > MAX_DESIGN_SPACE {
        return Err(PlanError::DesignTooLarge {
            combinations: thousands(total),
            max: thousands(MAX_DESIGN_SPACE),
        });
    }
    Ok((0..total).filter(|&k| space.allowed(k)).collect())
}

/// What a `distinct` or `pairwise` design left out and covered (`factory plan` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct Design {
    pub strategy: &'static str,
    /// Allowed combinations considered (after exclusions).
    pub combinations: usize,
    pub left_out: Vec<LeftOut>,
    /// `pairwise` only.
    pub pairs: Option<PairCoverage>,
}

/// A combination a design did not take, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LeftOut {
    /// Pool (or `scene N pool`, `order`) → option id.
    pub modules: BTreeMap<String, String>,
    /// The kept variant it would duplicate, by number.
    pub duplicate_of: Option<u32>,
    #[serde(skip)]
    duplicate_of_k: Option<u128>,
    /// The gate's rule and dimensions, or why else it was left out.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairCoverage {
    /// Pairs of options from two different axes.
    pub pairs: usize,
    pub covered: usize,
    /// Pairs no allowed combination has (exclusions), or only combinations that would
    /// duplicate a kept variant (`distinct = true`).
    pub uncoverable: usize,
    /// No design covering every pair can be smaller: the product of the two largest axes.
    pub lower_bound: usize,
}

/// Each axis position of combination `k` (last axis fastest).
fn digits(space: &Space, mut k: u128) -> Vec<usize> {
    let mut d = vec![0; space.axes.len()];
    for (a, axis) in space.axes.iter().enumerate().rev() {
        let n = axis.len() as u128;
        d[a] = (k % n) as usize;
        k /= n;
    }
    d
}

/// Option usage so far, per axis and position: what "spread evenly" balances.
struct Usage(Vec<Vec<u32>>);

impl Usage {
    fn new(space: &Space) -> Usage {
        Usage(space.axes.iter().map(|a| vec![0; a.len()]).collect())
    }
    fn score(&self, d: &[usize]) -> u64 {
        d.iter()
            .enumerate()
            .map(|(a, &i)| self.0[a][i] as u64)
            .sum()
    }
    fn add(&mut self, d: &[usize]) {
        for (a, &i) in d.iter().enumerate() {
            self.0[a][i] += 1;
        }
    }
}

fn modules(space: &Space, k: u128) -> BTreeMap<String, String> {
    space.choices(k).ids(space.t)
}

/// The first kept combination `k` would duplicate, and the gate's reason.
fn conflict(space: &Space, kept: &[u128], k: u128, judge: &mut Judge) -> Option<(u128, String)> {
    let c = space.choices(k);
    kept.iter()
        .find_map(|&o| judge(&c, k, &space.choices(o), o).map(|r| (o, r)))
}

/// Greedy `distinct`: repeatedly take the combination whose options have been used least
/// (ties: product order), unless it would duplicate one already kept. Usage scores only grow,
/// so a heap with lazy re-scoring finds the least-used candidate without rescanning all.
fn distinct(
    space: &Space,
    candidates: Vec<u128>,
    want: usize,
    judge: &mut Judge,
) -> (Vec<u128>, Design) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let combinations = candidates.len();
    let mut usage = Usage::new(space);
    let mut heap: BinaryHeap<Reverse<(u64, u128)>> =
        candidates.into_iter().map(|k| Reverse((0, k))).collect();
    let mut kept = Vec::new();
    let mut left_out = Vec::new();
    while let Some(Reverse((score, k))) = heap.pop() {
        let d = digits(space, k);
        let now = usage.score(&d);
        if now > score {
            heap.push(Reverse((now, k)));
            continue;
        }
        if kept.len() >= want {
            left_out.push(LeftOut {
                modules: modules(space, k),
                duplicate_of: None,
                duplicate_of_k: None,
                reason: format!("count = {want} reached"),
            });
            continue;
        }
        match conflict(space, &kept, k, judge) {
            Some((o, reason)) => left_out.push(LeftOut {
                modules: modules(space, k),
                duplicate_of: None,
                duplicate_of_k: Some(o),
                reason,
            }),
            None => {
                usage.add(&d);
                kept.push(k);
            }
        }
    }
    left_out.sort_by(|a, b| a.modules.cmp(&b.modules));
    (
        kept,
        Design {
            strategy: "distinct",
            combinations,
            left_out,
            pairs: None,
        },
    )
}

/// Greedy all-pairs design (AETG-style, over every allowed combination): repeatedly take the
/// combination that covers the most pairs not yet covered (ties: least-used options, then
/// product order) until no combination adds a pair. With `no_dups`, a combination that would
/// duplicate a kept one is never taken.
fn pairwise(
    space: &Space,
    candidates: Vec<u128>,
    no_dups: bool,
    limit: usize,
    judge: &mut Judge,
) -> (Vec<u128>, Design) {
    let lens: Vec<usize> = space.axes.iter().map(Axis::len).collect();
    // An axis with one option pairs with everything in every variant: nothing to cover.
    let varied: Vec<usize> = (0..lens.len()).filter(|&a| lens[a] > 1).collect();
    let axis_pairs: Vec<(usize, usize)> = varied
        .iter()
        .enumerate()
        .flat_map(|(x, &a)| varied[x + 1..].iter().map(move |&b| (a, b)))
        .collect();
    // covered[p][i * lens[b] + j]: the pair (axis a at i, axis b at j) appears in a variant.
    let mut covered: Vec<Vec<bool>> = axis_pairs
        .iter()
        .map(|&(a, b)| vec![false; lens[a] * lens[b]])
        .collect();
    let pairs: usize = covered.iter().map(Vec::len).sum();
    let mut reachable: Vec<Vec<bool>> = covered.clone();
    let combinations = candidates.len();
    let cand: Vec<(u128, Vec<usize>)> = candidates
        .into_iter()
        .map(|k| (k, digits(space, k)))
        .collect();
    let gain = |covered: &[Vec<bool>], d: &[usize]| -> usize {
        axis_pairs
            .iter()
            .enumerate()
            .filter(|&(p, &(a, b))| !covered[p][d[a] * lens[b] + d[b]])
            .count()
    };
    let mut usage = Usage::new(space);
    let mut alive = vec![true; cand.len()];
    let mut kept = Vec::new();
    let mut left_out = Vec::new();
    while kept.len() < limit {
        let best = (0..cand.len())
            .filter(|&c| alive[c])
            .map(|c| (gain(&covered, &cand[c].1), c))
            .filter(|&(g, _)| g > 0)
            .min_by_key(|&(g, c)| (std::cmp::Reverse(g), usage.score(&cand[c].1), cand[c].0));
        let Some((_, c)) = best else { break };
        alive[c] = false;
        let (k, d) = &cand[c];
        if no_dups {
            if let Some((o, reason)) = conflict(space, &kept, *k, judge) {
                left_out.push(LeftOut {
                    modules: modules(space, *k),
                    duplicate_of: None,
                    duplicate_of_k: Some(o),
                    reason,
                });
                continue;
            }
        }
        for (p, &(a, b)) in axis_pairs.iter().enumerate() {
            covered[p][d[a] * lens[b] + d[b]] = true;
        }
        usage.add(d);
        kept.push(*k);
    }
    // A pair is coverable when some allowed combination has it and (with `distinct`) was
    // not left out as a duplicate.
    for (c, (_, d)) in cand.iter().enumerate() {
        let dup = !alive[c] && !kept.contains(&cand[c].0);
        if no_dups && dup {
            continue;
        }
        for (p, &(a, b)) in axis_pairs.iter().enumerate() {
            reachable[p][d[a] * lens[b] + d[b]] = true;
        }
    }
    let count = |v: &[Vec<bool>]| v.iter().flatten().filter(|&&x| x).count();
    let covered_n = count(&covered);
    let mut sorted = lens.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let lower_bound = match sorted.as_slice() {
        [a, b, ..] => a * b,
        [a] => *a,
        [] => 1,
    };
    left_out.sort_by(|a, b| a.modules.cmp(&b.modules));
    (
        kept,
        Design {
            strategy: "pairwise",
            combinations,
            left_out,
            pairs: Some(PairCoverage {
                pairs,
                covered: covered_n,
                uncoverable: pairs - count(&reachable).max(covered_n),
                lower_bound,
            }),
        },
    )
}
