//! `Bounded`: the run's caches of shared values (placed products, fitted and baked
//! backdrops, the JPEG bands of baked plates), each bounded in bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A map of shared values made on first use, which drops the least recently used when the
/// bytes it holds would pass its budget: memory stays flat however many distinct keys a
/// batch shows, and consecutive jobs (which share most keys) still hit. It emptied itself
/// whole before: a catalog of 24 products on Tmall and Amazon (142 MB of placed products,
/// the Amazon ones used only by the first background's variants) then lost the Tmall ones
/// each time it filled and placed every product three times (72 shadows blurred for 24;
/// `perf probe`, 2026-12-06); dropping the least recently used, the Amazon ones go first.
///
/// Each key has its own slot, locked while its value is made, so two threads that want the
/// same value at once make it once: the layout lint prepares two halves of the outputs side
/// by side, in the same product order, and with the map's lock alone both halves placed most
/// products (43 shadows for 24 products on the 576-image catalog). Other keys are made
/// meanwhile; the map's lock is never held while a value is made or a slot is waited for.
pub(crate) struct Bounded<K, V> {
    map: Mutex<HashMap<K, Arc<Slot<V>>>>,
    budget: usize,
    bytes: fn(&V) -> usize,
    /// Counts lookups; a slot records the count at its last one.
    clock: AtomicU64,
}

struct Slot<V> {
    value: Mutex<Option<Arc<V>>>,
    used: AtomicU64,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while making never happens under a lock that guards data (a slot is written
    // only after its value is made); what they guard is always whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<K: std::hash::Hash + Eq, V> Bounded<K, V> {
    pub(crate) fn new(budget: usize, bytes: fn(&V) -> usize) -> Self {
        Bounded {
            map: Mutex::default(),
            budget,
            bytes,
            clock: AtomicU64::new(0),
        }
    }

    pub(crate) fn get_or_make<E>(
        &self,
        key: K,
        make: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        let slot = locked(&self.map)
            .entry(key)
            .or_insert_with(|| Arc::new(Slot::empty()))
            .clone();
        slot.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let mut value = locked(&slot.value);
        if let Some(v) = &*value {
            return Ok(v.clone());
        }
        // A failure leaves the slot empty: the next job that wants it tries again.
        let made = Arc::new(make()?);
        *value = Some(made.clone());
        drop(value);
        self.evict_beyond_budget(&mut locked(&self.map), &slot, (self.bytes)(&made));
        Ok(made)
    }

    /// Drops the least recently used values until the rest fit the budget, never `keep`
    /// nor a slot being made or read (its holder still needs it).
    fn evict_beyond_budget(
        &self,
        map: &mut HashMap<K, Arc<Slot<V>>>,
        keep: &Arc<Slot<V>>,
        kept: usize,
    ) {
        let mut held: Vec<(u64, usize)> = map
            .values()
            .filter(|s| !Arc::ptr_eq(s, keep))
            .filter_map(|s| {
                let bytes = (self.bytes)(s.value.try_lock().ok()?.as_ref()?);
                Some((s.used.load(Ordering::Relaxed), bytes))
            })
            .collect();
        let mut total = kept + held.iter().map(|&(_, b)| b).sum::<usize>();
        if total <= self.budget {
            return;
        }
        held.sort_unstable();
        let mut oldest_kept = 0;
        for (used, bytes) in held {
            if total <= self.budget {
                break;
            }
            total -= bytes;
            oldest_kept = used + 1;
        }
        map.retain(|_, s| {
            Arc::ptr_eq(s, keep)
                || s.used.load(Ordering::Relaxed) >= oldest_kept
                || s.value.try_lock().map_or(true, |v| v.is_none())
        });
    }

    /// The values made, most recently used first.
    pub(crate) fn into_entries(self) -> Vec<(K, Arc<V>)> {
        let map = self.map.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut entries: Vec<(u64, K, Arc<V>)> = map
            .into_iter()
            .filter_map(|(k, s)| {
                let used = s.used.load(Ordering::Relaxed);
                Some((used, k, locked(&s.value).clone()?))
            })
            .collect();
        entries.sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
        entries.into_iter().map(|(_, k, v)| (k, v)).collect()
    }

    /// Entries made elsewhere (`into_entries`: most recently used first), while they fit
    /// the budget, keeping their order of use: the next preparation's first jobs are the
    /// last one's (the Amazon placements only the first background's variants use stay
    /// behind instead of pushing out Tmall ones every background needs).
    pub(crate) fn extend(&self, entries: Vec<(K, Arc<V>)>) {
        let mut map = locked(&self.map);
        let mut held: usize = map
            .values()
            .filter_map(|s| s.value.try_lock().ok()?.as_ref().map(|v| (self.bytes)(v)))
            .sum();
        let n = entries.len() as u64;
        let base = self.clock.fetch_add(n, Ordering::Relaxed);
        for (i, (k, v)) in entries.into_iter().enumerate() {
            held += (self.bytes)(&v);
            if held > self.budget {
                break;
            }
            let slot = Slot::empty();
            *locked(&slot.value) = Some(v);
            slot.used.store(base + n - 1 - i as u64, Ordering::Relaxed);
            map.insert(k, Arc::new(slot));
        }
    }
}

impl<V> Slot<V> {
    fn empty() -> Self {
        Slot {
            value: Mutex::new(None),
            used: AtomicU64::new(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one preparation made is found by the next without being made again, and no
    /// more of it is taken over than the budget holds.
    #[test]
    fn a_warm_cache_is_taken_over_within_its_budget() {
        let first: Bounded<u32, Vec<u8>> = Bounded::new(100, Vec::len);
        for k in 0..3 {
            first
                .get_or_make(k, || Ok::<_, ()>(vec![k as u8; 30]))
                .unwrap();
        }
        first.get_or_make(0, || Ok::<_, ()>(vec![0; 30])).unwrap();
        let entries = first.into_entries();
        assert_eq!(entries.len(), 3);
        let next: Bounded<u32, Vec<u8>> = Bounded::new(70, Vec::len);
        next.extend(entries);
        let mut taken: Vec<u32> = (0..3)
            .filter(|k| locked(&next.map).contains_key(k))
            .collect();
        taken.sort_unstable();
        assert_eq!(taken, vec![0, 2], "a budget of 70 holds the two used last");
        for k in taken {
            let v = next
                .get_or_make(k, || -> Result<Vec<u8>, ()> { panic!("made again") })
                .unwrap();
            assert_eq!(*v, vec![k as u8; 30]);
        }
    }

    /// Threads that want the same value at once make it once and all get it; a value that
    /// pushes the map past its budget empties the others, not itself.
    #[test]
    fn a_value_wanted_by_several_threads_at_once_is_made_once() {
        let cache: Bounded<u32, Vec<u8>> = Bounded::new(100, Vec::len);
        let made = std::sync::atomic::AtomicUsize::new(0);
        let start = std::sync::Barrier::new(4);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    start.wait();
                    let v = cache
                        .get_or_make(7, || {
                            made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            Ok::<_, ()>(vec![7u8; 60])
                        })
                        .unwrap();
                    assert_eq!(*v, vec![7u8; 60]);
                });
            }
        });
        assert_eq!(made.into_inner(), 1);
        cache.get_or_make(8, || Ok::<_, ()>(vec![8u8; 60])).unwrap();
        let kept: Vec<u32> = locked(&cache.map).keys().copied().collect();
        assert_eq!(kept, vec![8], "60 + 60 bytes pass a budget of 100");
    }

    /// Past its budget the cache drops the value used longest ago, and only as many as it
    /// must.
    #[test]
    fn the_least_recently_used_value_goes_first() {
        let cache: Bounded<u32, Vec<u8>> = Bounded::new(100, Vec::len);
        let get = |k: u32| {
            cache
                .get_or_make(k, || Ok::<_, ()>(vec![k as u8; 30]))
                .unwrap()
        };
        for k in [0, 1, 2, 0, 3] {
            get(k);
        }
        let mut kept: Vec<u32> = locked(&cache.map).keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, vec![0, 2, 3], "1 was used longest ago; 90 bytes fit");
    }
}
