//! Scenes and `[variants] orders`.

use super::*;

/// Seconds of the video a set of scenes spans.
pub(super) fn scenes_total(raw: &S<Vec<RawScene>>) -> f64 {
    raw.value
        .iter()
        .filter_map(|s| s.duration.as_ref())
        .map(|d| d.value)
        .filter(|d| *d > 0.0)
        .sum()
}

impl V<'_> {
    /// One `[[scene]]`; it names options of the pools by id.
    pub(super) fn scene(
        &mut self,
        s: &RawScene,
        id: String,
        pools: &HashMap<Pool, Vec<String>>,
    ) -> Scene {
        let duration = match &s.duration {
            Some(d) if !(d.value > 0.0 && d.value.is_finite()) => {
                self.err(
                    &d.span,
                    format!("scene `{id}` duration {} must be positive", d.value),
                    None,
                );
                1.0
            }
            Some(d) => d.value,
            None => {
                self.missing(
                    "duration",
                    &s.span,
                    format!("scene `{id}` has no duration"),
                    Some("seconds, e.g. duration = 3".to_string()),
                );
                1.0
            }
        };
        let picks = self.scene_picks(s, &id, pools);
        let transition = self.transition(s.transition.as_ref(), &format!("scene `{id}`"));
        if transition.duration > duration {
            self.err(
                &s.span,
                format!(
                    "scene `{id}`: its transition ({} s) is longer than the scene ({} s)",
                    fmt_secs(transition.duration),
                    fmt_secs(duration)
                ),
                None,
            );
        }
        Scene {
            id,
            duration,
            pools: picks,
            transition,
        }
    }

    /// The options a scene names in each pool, as indexes into the pool.
    fn scene_picks(
        &mut self,
        s: &RawScene,
        id: &str,
        pools: &HashMap<Pool, Vec<String>>,
    ) -> [Option<Vec<usize>>; 5] {
        let mut picks: [Option<Vec<usize>>; 5] = Default::default();
        for (slot, pool_kind) in Pool::SCENE.iter().enumerate() {
            let Some(list) = s.pools()[slot] else {
                continue;
            };
            let known = &pools[pool_kind];
            let mut v = Vec::new();
            for x in &list.value {
                match known.iter().position(|k| *k == x.value) {
                    Some(i) => {
                        let twice = || {
                            let pool = pool_kind.name();
                            format!("scene `{id}` lists {pool} `{}` twice", x.value)
                        };
                        self.once(&mut v, i, &x.span, twice, None);
                    }
                    None => self.unknown_option(&format!("scene `{id}`"), *pool_kind, x, known),
                }
            }
            picks[slot] = Some(v);
        }
        picks
    }

    /// `[variants] orders`: each a permutation of the scene ids.
    pub(super) fn orders(&mut self, raw: Option<&RawOrders>, scenes: &[Scene]) -> Vec<Vec<usize>> {
        let Some(raw) = raw else { return Vec::new() };
        if scenes.is_empty() {
            self.err(
                &raw.span,
                "`orders` needs [[scene]] sections",
                Some("define the scenes first, or remove `orders`".to_string()),
            );
            return Vec::new();
        }
        let all: Vec<&str> = scenes.iter().map(|s| s.id.as_str()).collect();
        let mut out: Vec<Vec<usize>> = Vec::new();
        for o in &raw.value {
            let mut idx = Vec::new();
            for x in &o.value {
                match all.iter().position(|k| *k == x.value) {
                    Some(i) => {
                        let twice = || format!("scene `{}` appears twice in this order", x.value);
                        self.once(&mut idx, i, &x.span, twice, None);
                    }
                    None => {
                        let hint = suggest(&x.value, &all, "scenes");
                        self.err(
                            &x.span,
                            format!("unknown scene `{}` in orders", x.value),
                            Some(hint),
                        );
                    }
                }
            }
            if idx.len() != all.len() && o.value.len() == idx.len() {
                let missing: Vec<&str> = all
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !idx.contains(i))
                    .map(|(_, s)| *s)
                    .collect();
                self.err(
                    &o.span,
                    format!(
                        "this order leaves out scene{} {}",
                        if missing.len() == 1 { "" } else { "s" },
                        missing.join(", ")
                    ),
                    Some("every order plays every scene once".to_string()),
                );
            }
            // A repeated order is an error, so the template is discarded and the list's
            // contents no longer matter.
            let twice = || "this order is listed twice".to_string();
            self.once(&mut out, idx, &o.span, twice, None);
        }
        out
    }
}
