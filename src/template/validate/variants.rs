//! `[variants]`: strategy, limit and exclude rules.

use super::*;

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
        let strategy = self.strategy(&v);
        let limit = v.limit.as_ref().and_then(|l| {
            if l.value < 1 {
                self.err(
                    &l.span,
                    format!("limit {} must be at least 1", l.value),
                    Some("remove `limit` to keep every variant".to_string()),
                );
                None
            } else {
                Some(l.value as usize)
            }
        });
        let exclude = v
            .exclude
            .iter()
            .filter_map(|e| self.exclude(e, pools))
            .collect();
        VariantsSpec {
            orders: Vec::new(),
            strategy,
            limit,
            exclude,
        }
    }

    fn strategy(&mut self, v: &RawVariants) -> Strategy {
        #[derive(Clone, Copy, PartialEq)]
        enum K {
            Full,
            Sample,
            Distinct,
            Pairwise,
        }
        let k = v
            .strategy
            .as_ref()
            .and_then(|s| {
                self.enum_val(
                    s,
                    "strategy",
                    &[
                        ("full", K::Full),
                        ("sample", K::Sample),
                        ("distinct", K::Distinct),
                        ("pairwise", K::Pairwise),
                    ],
                )
            })
            .unwrap_or(K::Full);
        // Which keys each strategy reads; the others are refused, never ignored.
        let (name, reads): (&str, &[&str]) = match k {
            K::Full => ("full", &[]),
            K::Sample => ("sample", &["count", "seed"]),
            K::Distinct => ("distinct", &["count"]),
            K::Pairwise => ("pairwise", &["distinct"]),
        };
        // (key, its span, the strategies that read it)
        let keys = [
            (
                "count",
                v.count.as_ref().map(|s| &s.span),
                "\"sample\" or \"distinct\"",
            ),
            ("seed", v.seed.as_ref().map(|s| &s.span), "\"sample\""),
            (
                "distinct",
                v.distinct.as_ref().map(|s| &s.span),
                "\"pairwise\"",
            ),
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
        let count = |me: &mut Self| match &v.count {
            Some(c) if c.value < 1 => {
                me.err(
                    &c.span,
                    format!("count {} must be at least 1", c.value),
                    None,
                );
                Some(1)
            }
            Some(c) => Some(c.value as usize),
            None => None,
        };
        match k {
            K::Full => Strategy::Full,
            K::Distinct => Strategy::Distinct { count: count(self) },
            K::Pairwise => Strategy::Pairwise {
                distinct: v.distinct.as_ref().is_some_and(|d| d.value),
            },
            K::Sample => {
                let count = count(self).unwrap_or_else(|| {
                    self.missing(
                        "count",
                        &v.span,
                        "missing required key `count` for strategy = \"sample\"",
                        Some("how many variants to draw, e.g. count = 12".to_string()),
                    );
                    1
                });
                let seed = match &v.seed {
                    Some(s) if s.value < 0 => {
                        self.err(
                            &s.span,
                            format!("seed {} must not be negative", s.value),
                            None,
                        );
                        0
                    }
                    Some(s) => s.value as u64,
                    None => 0,
                };
                Strategy::Sample { count, seed }
            }
        }
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
                let names = Pool::ALL.map(Pool::name);
                let hint = match did_you_mean(&pool.value, names) {
                    Some(s) => format!("did you mean `{s}`? pools: {}", names.join(", ")),
                    None => format!("pools: {}", names.join(", ")),
                };
                self.err(
                    &pool.span,
                    format!("unknown pool `{}` in exclude", pool.value),
                    Some(hint),
                );
                continue;
            };
            let ids = &pools[&p];
            if !ids.contains(&id.value) {
                let mut msg = format!(
                    "exclude names {} `{}`, which is not in the [[{}]] pool",
                    p.name(),
                    id.value,
                    p.name()
                );
                if let Some(s) = did_you_mean(&id.value, ids.iter().map(String::as_str)) {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                let hint = if ids.is_empty() {
                    "that pool has no options".to_string()
                } else {
                    format!("ids: {}", ids.join(", "))
                };
                self.err(&id.span, msg, Some(hint));
                continue;
            }
            when.push((p, id.value.clone()));
        }
        Some(Exclude { when })
    }
}
