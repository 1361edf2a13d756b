//! Which combinations of pool options become variants.

use crate::template::{Pool, Strategy, Template};

use super::{option_id, pool_len, Choices, Variant};

/// Pools in product order (background varies slowest); only pools the template uses.
fn used_pools(t: &Template) -> Vec<(Pool, usize)> {
    Pool::ALL.into_iter().map(|p| (p, pool_len(t, p))).filter(|&(_, n)| n > 0).collect()
}

fn choices_at(pools: &[(Pool, usize)], mut k: u128) -> Choices {
    let mut c = Choices { background: 0, product: None, subtitle: None, effects: None, audio: None };
    for &(pool, len) in pools.iter().rev() {
        let i = (k % len as u128) as usize;
        k /= len as u128;
        match pool {
            Pool::Background => c.background = i,
            Pool::Product => c.product = Some(i),
            Pool::Subtitle => c.subtitle = Some(i),
            Pool::Effects => c.effects = Some(i),
            Pool::Audio => c.audio = Some(i),
        }
    }
    c
}

fn excluded(t: &Template, c: &Choices) -> bool {
    t.variants.exclude.iter().any(|ex| {
        !ex.when.is_empty()
            && ex.when.iter().all(|(pool, id)| c.get(*pool).map(|i| option_id(t, *pool, i) == id).unwrap_or(false))
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
    let pools = used_pools(t);
    let total: u128 = pools.iter().map(|&(_, n)| n as u128).product();
    // Combinations are indices into the product; excluded ones are dropped before sampling
    // and limiting so that `count` and `limit` count real variants.
    let mut picked: Vec<u128> = match &t.variants.strategy {
        Strategy::Full => {
            let cap = t.variants.limit.unwrap_or(usize::MAX);
            let mut v = Vec::new();
            let mut k = 0u128;
            while k < total && v.len() < cap {
                if !excluded(t, &choices_at(&pools, k)) {
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
                if !excluded(t, &choices_at(&pools, k)) {
                    set.insert(k);
                }
            }
            if set.len() < want {
                let mut rest: Vec<u128> =
                    (0..total.min(1 << 20)).filter(|k| !set.contains(k) && !excluded(t, &choices_at(&pools, *k))).collect();
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
        .map(|(i, k)| Variant { n: i as u32 + 1, choices: choices_at(&pools, k) })
        .collect()
}
