//! `[variants]`: strategy, limit and exclude rules.

use super::*;
use crate::diag::line_col;

impl V<'_> {
    pub(super) fn variants(
        &mut self,
        raw: Option<RawVariants>,
        pools: &HashMap<Pool, Vec<String>>,
    ) -> VariantsSpec {
        let Some(v) = raw else {
            return VariantsSpec {
                orders: Vec::new(),
                strategy: Strategy::Full,
                limit: None,
                exclude: Vec::new(),
            };
        };
        let strategy = self.strategy(&v, pools);
        let limit = self.whole(
            v.limit.as_ref(),
            |l| l >= 1,
            |l| format!("limit {l} must be at least 1"),
            Some("remove `limit` to keep every variant"),
        );
        let exclude = v
            .exclude
            .iter()
            .filter_map(|e| self.exclude(e, pools))
            .collect();
        VariantsSpec {
            orders: Vec::new(),
            strategy,
            limit: limit.map(|l| l as usize),
            exclude,
        }
    }

    fn strategy(&mut self, v: &RawVariants, pools: &HashMap<Pool, Vec<String>>) -> Strategy {
        #[derive(Clone, Copy, PartialEq)]
        enum K {
            Full,
            Sample,
            Distinct,
            Pairwise,
            Chosen,
        }
        let kinds = [
            ("full", K::Full),
            ("sample", K::Sample),
            ("distinct", K::Distinct),
            ("pairwise", K::Pairwise),
            ("chosen", K::Chosen),
        ];
        let k = self.pick(v.strategy.as_ref(), "strategy", &kinds, K::Full);
        // Which keys each strategy reads; the others are refused, never ignored.
        let (name, reads): (&str, &[&str]) = match k {
            K::Full => ("full", &[]),
            K::Sample => ("sample", &["count", "seed"]),
            K::Distinct => ("distinct", &["count"]),
            K::Pairwise => ("pairwise", &["distinct"]),
            K::Chosen => ("chosen", &["pick"]),
        };
        self.foreign_strategy_keys(v, name, reads);
        let at_least_1 = |c: i64| format!("count {c} must be at least 1");
        let count = v.count.as_ref().map(|c| {
            self.whole(Some(c), |c| c >= 1, at_least_1, None)
                .map_or(1, |c| c as usize)
        });
        match k {
            K::Full => Strategy::Full,
            K::Chosen => self.chosen(v, pools),
            K::Distinct => Strategy::Distinct { count },
            K::Pairwise => Strategy::Pairwise {
                distinct: v.distinct.as_ref().is_some_and(|d| d.value),
            },
            K::Sample => self.sample(v, count),
        }
    }

    /// Keys only another strategy reads are refused, never ignored.
    fn foreign_strategy_keys(&mut self, v: &RawVariants, name: &str, reads: &[&str]) {
        // (key, its span, the strategies that read it)
        let keys = [
            ("count", span_of(&v.count), "\"sample\" or \"distinct\""),
            ("seed", span_of(&v.seed), "\"sample\""),
            ("distinct", span_of(&v.distinct), "\"pairwise\""),
            ("pick", v.pick.first().map(|p| &p.span), "\"chosen\""),
        ];
        for (key, span, users) in keys {
            if let Some(span) = span.filter(|_| !reads.contains(&key)) {
                self.err(
                    span,
                    format!("`{key}` does not apply to strategy = \"{name}\""),
                    Some(format!("remove it, or set strategy = {users}")),
                );
            }
        }
    }

    fn chosen(&mut self, v: &RawVariants, pools: &HashMap<Pool, Vec<String>>) -> Strategy {
        if v.pick.is_empty() {
            self.missing(
                "pick",
                &v.span,
                "missing required key `pick` for strategy = \"chosen\"",
                Some(
                    "list the combinations, e.g. pick = [{ background = \"beach\", subtitle = \"hook\" }]"
                        .to_string(),
                ),
            );
        }
        let picks = v
            .pick
            .iter()
            .filter_map(|p| self.pick_entry(p, pools))
            .collect();
        Strategy::Chosen { picks }
    }

    fn sample(&mut self, v: &RawVariants, count: Option<usize>) -> Strategy {
        let count = count.unwrap_or_else(|| {
            self.missing(
                "count",
                &v.span,
                "missing required key `count` for strategy = \"sample\"",
                Some("how many variants to draw, e.g. count = 12".to_string()),
            );
            1
        });
        let negative = |s: i64| format!("seed {s} must not be negative");
        let seed = self.whole(v.seed.as_ref(), |s| s >= 0, negative, None);
        Strategy::Sample {
            count,
            seed: seed.unwrap_or(0) as u64,
        }
    }

    /// One `pick` entry: keys as a variant's `modules` name them. Pool names and their ids
    /// are checked here; scene slots, orders and whether the entry names one combination are
    /// checked by the plan, which knows the axes.
    fn pick_entry(&mut self, e: &S<Pairs>, pools: &HashMap<Pool, Vec<String>>) -> Option<Pick> {
        if e.value.is_empty() {
            self.err(
                &e.span,
                "empty pick names no combination",
                Some("name an option per pool, e.g. { background = \"beach\" }".to_string()),
            );
            return None;
        }
        let mut pairs = Vec::new();
        for (key, id) in &e.value {
            let pool_name = match key.value.strip_prefix("scene.") {
                Some(rest) => rest.rsplit_once('.').map(|(_, p)| p).unwrap_or(""),
                None if key.value == "order" => {
                    pairs.push((key.value.clone(), id.value.clone()));
                    continue;
                }
                None => key.value.as_str(),
            };
            let Some(p) = Pool::from_name(pool_name) else {
                let hint = suggest(&key.value, &Pool::ALL.map(Pool::name), "pools");
                self.err(
                    &key.span,
                    format!(
                        "unknown key `{}` in pick (a pool, scene.<id>.<pool> or order)",
                        key.value
                    ),
                    Some(hint),
                );
                continue;
            };
            if !(pools[&p].contains(&id.value)
                || key.value.starts_with("scene.") && id.value == "none")
            {
                self.unknown_option("pick", p, id, &pools[&p]);
                continue;
            }
            pairs.push((key.value.clone(), id.value.clone()));
        }
        let (line, _) = line_col(self.dx.source(), e.span.start);
        Some(Pick { line, pairs })
    }

    /// One exclude rule: pool = option id pairs that may not appear together.
    fn exclude(&mut self, e: &S<Pairs>, pools: &HashMap<Pool, Vec<String>>) -> Option<Exclude> {
        if e.value.is_empty() {
            self.err(
                &e.span,
                "empty exclude rule would exclude every variant",
                Some("name at least one pool, e.g. { background = \"beach\" }".to_string()),
            );
            return None;
        }
        let mut when = Vec::new();
        for (pool, id) in &e.value {
            let Some(p) = Pool::from_name(&pool.value) else {
                let hint = suggest(&pool.value, &Pool::ALL.map(Pool::name), "pools");
                self.err(
                    &pool.span,
                    format!("unknown pool `{}` in exclude", pool.value),
                    Some(hint),
                );
                continue;
            };
            if !pools[&p].contains(&id.value) {
                self.unknown_option("exclude", p, id, &pools[&p]);
                continue;
            }
            when.push((p, id.value.clone()));
        }
        Some(Exclude { when })
    }
}
