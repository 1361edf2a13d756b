//! What every pool shares: present, non-empty, with unique, well-formed ids.

use super::*;

pub(super) fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl V<'_> {
    /// Ids of a pool: present, `[a-z0-9-]`, unique. Returns the id (or a stand-in) per option.
    pub(super) fn ids(
        &mut self,
        pool: &str,
        items: &[(Range<usize>, Option<&S<String>>)],
    ) -> Vec<String> {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::new();
        for (i, (span, id)) in items.iter().enumerate() {
            let Some(id) = id else {
                self.missing(
                    "id",
                    span,
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
            if let Some(line) = seen.get(&id.value) {
                self.err(
                    &id.span,
                    format!("duplicate id `{}` in [[{pool}]]", id.value),
                    Some(format!(
                        "first used on line {line}; ids must be unique within a pool"
                    )),
                );
            } else {
                let line = crate::template::line_col(self.dx_source(), id.span.start).0;
                seen.insert(id.value.clone(), line);
            }
            out.push(id.value.clone());
        }
        out
    }

    /// A pool's option ids (see `ids`), or `None` after reporting an empty pool.
    pub(super) fn pool_ids<T: RawOption>(
        &mut self,
        name: &str,
        pool: &S<Vec<T>>,
    ) -> Option<Vec<String>> {
        if pool.value.is_empty() {
            self.empty_pool(name, &pool.span);
            return None;
        }
        let items: Vec<_> = pool
            .value
            .iter()
            .map(|o| (o.span().clone(), o.id()))
            .collect();
        Some(self.ids(name, &items))
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
