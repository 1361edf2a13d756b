//! What every pool shares: present, non-empty, with unique, well-formed ids.

use super::*;

pub(super) fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl V<'_> {
    /// A pool's options, each validated by `one` with its id (see `pool_ids`); none after
    /// reporting an empty pool.
    pub(super) fn options<R: RawOption, T>(
        &mut self,
        name: &str,
        pool: &S<Vec<R>>,
        mut one: impl FnMut(&mut Self, &R, String) -> T,
    ) -> Vec<T> {
        let Some(ids) = self.pool_ids(name, pool) else {
            return Vec::new();
        };
        pool.value
            .iter()
            .zip(ids)
            .map(|(o, id)| one(self, o, id))
            .collect()
    }

    /// A pool's option ids, or `None` after reporting an empty pool. Ids are present,
    /// `[a-z0-9-]` and unique; an option without one gets a stand-in.
    pub(super) fn pool_ids<T: RawOption>(
        &mut self,
        pool: &str,
        options: &S<Vec<T>>,
    ) -> Option<Vec<String>> {
        if options.value.is_empty() {
            self.empty_pool(pool, &options.span);
            return None;
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::new();
        for (i, o) in options.value.iter().enumerate() {
            let Some(id) = o.id() else {
                self.missing(
                    "id",
                    o.span(),
                    format!("missing required key `id` in [[{pool}]] #{}", i + 1),
                    Some(format!(
                        "give every option an id, e.g. id = \"{pool}-{}\"",
                        i + 1
                    )),
                );
                out.push(format!("#{}", i + 1));
                continue;
            };
            if !valid_id(&id.value) {
                self.err(
                    &id.span,
                    format!("bad id `{}` in [[{pool}]]", id.value),
                    Some("ids use lower-case a-z, 0-9 and `-`, e.g. \"studio-white\"".to_string()),
                );
            }
            self.first(&mut seen, id, |line| {
                let msg = format!("duplicate id `{}` in [[{pool}]]", id.value);
                (
                    msg,
                    format!("first used on line {line}; ids must be unique within a pool"),
                )
            });
            out.push(id.value.clone());
        }
        Some(out)
    }

    /// Records the line `v` is first written on, or reports a repeat with the message and
    /// hint `repeat` makes of that line. `false` for a repeat.
    pub(super) fn first(
        &mut self,
        seen: &mut HashMap<String, usize>,
        v: &S<String>,
        repeat: impl FnOnce(usize) -> (String, String),
    ) -> bool {
        if let Some(line) = seen.get(&v.value) {
            let (msg, hint) = repeat(*line);
            self.err(&v.span, msg, Some(hint));
            return false;
        }
        let line = crate::template::line_col(self.dx_source(), v.span.start).0;
        seen.insert(v.value.clone(), line);
        true
    }

    /// `who` names option `x` of `pool`, whose ids are `known`, and it is not one of them.
    pub(super) fn unknown_option(
        &mut self,
        who: &str,
        pool: Pool,
        x: &S<String>,
        known: &[String],
    ) {
        let name = pool.name();
        let msg = format!(
            "{who} names {name} `{}`, which is not in the [[{name}]] pool",
            x.value
        );
        let msg = or_typo(msg, &x.value, known.iter().map(String::as_str));
        let hint = if known.is_empty() {
            "that pool has no options".to_string()
        } else {
            format!("ids: {}", known.join(", "))
        };
        self.err(&x.span, msg, Some(hint));
    }

    pub(super) fn empty_pool(&mut self, pool: &str, span: &Range<usize>) {
        self.err(
            span,
            format!("[[{pool}]] pool is empty"),
            Some(format!(
                "add at least one [[{pool}]] option, or remove the key to use the default"
            )),
        );
    }
}
