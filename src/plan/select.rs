//! Which combinations of pool options become variants.

use crate::template::{Pool, Strategy, Template};

use super::{option_id, pool_len, Choices, Variant};

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

/// The variants of a template, numbered from 1 in product order.
pub fn variants(t: &Template) -> Vec<Variant> {
    let pools = axes(t);
    let total: u128 = pools.iter().map(|a| a.len() as u128).product();
    // Combinations are indices into the product; excluded ones are dropped before sampling
    // and limiting so that `count` and `limit` count real variants.
    let mut picked: Vec<u128> = match &t.variants.strategy {
        Strategy::Full => {
            let cap = t.variants.limit.unwrap_or(usize::MAX);
            let mut v = Vec::new();
            let mut k = 0u128;
            while k < total && v.len() < cap {
                if !excluded(t, &choices_at(t, &pools, k)) {
                    v.push(k);
                }
                k += 1;
            }
            v
        }
        Strategy::Sample { count, seed } => {
            let want = (*count).min(t.variants.limit.unwrap_or(usize::MAX));
            let mut rng = SplitMix(*seed);
            let mut set = std::collections::BTreeSet::new();
            // Rejection sampling with a bounded number of draws; when the product is small
            // or mostly excluded, fall back to enumerating what is left.
            let mut draws = 0u64;
            while set.len() < want && draws < 64 * want as u64 + 1024 {
                draws += 1;
                let k = rng.below(total);
                if !excluded(t, &choices_at(t, &pools, k)) {
                    set.insert(k);
                }
            }
            if set.len() < want {
                let mut rest: Vec<u128> = (0..total.min(1 << 20))
                    .filter(|k| !set.contains(k) && !excluded(t, &choices_at(t, &pools, *k)))
                    .collect();
                // Seeded Fisher–Yates over what is left keeps the choice reproducible.
                for i in (1..rest.len()).rev() {
                    let j = rng.below(i as u128 + 1) as usize;
                    rest.swap(i, j);
                }
                set.extend(rest.into_iter().take(want - set.len()));
            }
            set.into_iter().collect()
        }
    };
    picked.sort_unstable();
    picked
        .into_iter()
        .enumerate()
        .map(|(i, k)| Variant {
            n: i as u32 + 1,
            choices: choices_at(t, &pools, k),
        })
        .collect()
}
