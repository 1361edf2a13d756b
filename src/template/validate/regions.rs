//! `[output] regions` and `[[region]]` tables, and the overrides regions apply to pools.

use super::*;

/// Moves each `[[region]]`'s overrides out of the raw template, keyed by code. A code defined
/// twice is an error already; only its first definition counts.
pub(super) fn take_overrides(defs: &mut [RawRegion]) -> Vec<(String, Vec<RawOverride>)> {
    let mut out: Vec<(String, Vec<RawOverride>)> = Vec::new();
    for d in defs {
        let Some(code) = d.code.as_ref().filter(|c| valid_region_code(&c.value)) else {
            continue;
        };
        if !out.iter().any(|(c, _)| *c == code.value) {
            out.push((code.value.clone(), std::mem::take(&mut d.overrides)));
        }
    }
    out
}

pub(super) fn valid_region_code(s: &str) -> bool {
    (2..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase())
}

impl V<'_> {
    pub(super) fn regions(
        &mut self,
        out: Option<&RawOutput>,
        defs: &[RawRegion],
        span: &Range<usize>,
    ) -> Vec<Region> {
        // [[region]] tables first: they define new codes or override built-in ones.
        let mut custom: BTreeMap<String, Region> = BTreeMap::new();
        let mut first_def: HashMap<String, usize> = HashMap::new();
        for d in defs {
            if let Some(r) = self.region_def(d, &mut first_def) {
                custom.insert(r.code.clone(), r);
            }
        }
        self.listed_regions(out, &custom, span)
    }

    /// One `[[region]]` table, unless its code is missing, malformed or defined before.
    fn region_def(
        &mut self,
        d: &RawRegion,
        first_def: &mut HashMap<String, usize>,
    ) -> Option<Region> {
        let code = self.region_code(d, first_def)?;
        let builtin = REGIONS.iter().find(|(c, _, _)| *c == code.value);
        let locale = match (&d.locale, builtin) {
            (Some(l), _) => {
                self.locale(l, LOCALE_EXAMPLES);
                l.value.clone()
            }
            (None, Some((_, l, _))) => l.to_string(),
            (None, None) => {
                self.missing(
                    "locale",
                    &d.span,
                    format!("[[region]] `{}` needs a locale", code.value),
                    Some("add locale = \"…\", e.g. locale = \"pl\"".to_string()),
                );
                String::new()
            }
        };
        let fallback = self.region_fallback(d, builtin);
        let direction = match &d.direction {
            Some(dir) => self
                .enum_val(dir, "direction", Direction::NAMES)
                .unwrap_or(Direction::Ltr),
            None => direction_of(&locale),
        };
        Some(Region {
            code: code.value.clone(),
            locale,
            fallback,
            direction,
            overrides: RegionOverrides::default(),
        })
    }

    /// The `[[region]]`'s code, if present, well-formed and not taken by an earlier table.
    fn region_code<'d>(
        &mut self,
        d: &'d RawRegion,
        first_def: &mut HashMap<String, usize>,
    ) -> Option<&'d S<String>> {
        let Some(code) = &d.code else {
            self.missing(
                "code",
                &d.span,
                "missing required key `code` in [[region]]",
                Some("add code = \"XX\" (ISO 3166 region code)".to_string()),
            );
            return None;
        };
        if !valid_region_code(&code.value) {
            self.err(
                &code.span,
                format!("bad region code `{}`", code.value),
                Some("expected 2–3 upper-case letters, e.g. \"US\"".to_string()),
            );
            return None;
        }
        let twice = |line: usize| {
            let msg = format!("region `{}` is defined twice", code.value);
            (msg, format!("first defined on line {line}"))
        };
        self.first(first_def, code, twice).then_some(code)
    }

    fn region_fallback(
        &mut self,
        d: &RawRegion,
        builtin: Option<&(&str, &str, &[&str])>,
    ) -> Vec<String> {
        match (&d.fallback, builtin) {
            (Some(f), _) => {
                for l in &f.value {
                    self.locale(l, FALLBACK_EXAMPLES);
                }
                f.value.iter().map(|l| l.value.clone()).collect()
            }
            // A new locale does not inherit the built-in fallbacks, which belong to the old one.
            (None, Some((_, l, fb)))
                if d.locale.is_none() || d.locale.as_ref().is_some_and(|x| x.value == *l) =>
            {
                fb.iter().map(|s| s.to_string()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// `[output] regions`: each a `[[region]]` code or a built-in one.
    fn listed_regions(
        &mut self,
        out: Option<&RawOutput>,
        custom: &BTreeMap<String, Region>,
        span: &Range<usize>,
    ) -> Vec<Region> {
        let list = out.and_then(|o| o.regions.as_ref());
        let add = "add regions = [\"US\", …]".to_string();
        let Some(list) = self.output_list(list, "regions", span, add, "US") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in self.listed_once(list, "region") {
            if let Some(c) = custom.get(&r.value) {
                out.push(c.clone());
            } else if let Some((code, locale, fb)) = REGIONS.iter().find(|(c, _, _)| *c == r.value)
            {
                out.push(Region {
                    code: code.to_string(),
                    locale: locale.to_string(),
                    fallback: fb.iter().map(|s| s.to_string()).collect(),
                    direction: direction_of(locale),
                    overrides: RegionOverrides::default(),
                });
            } else {
                let known: Vec<&str> = REGIONS
                    .iter()
                    .map(|(c, _, _)| *c)
                    .chain(custom.keys().map(String::as_str))
                    .collect();
                let upper = r.value.to_ascii_uppercase();
                let hint = if upper != r.value && known.contains(&upper.as_str()) {
                    format!("region codes are upper case: `{upper}`")
                } else {
                    format!(
                        "define it with [[region]] code = \"{}\" locale = \"…\"; built-in: {}",
                        r.value,
                        known.join(", ")
                    )
                };
                self.err(&r.span, format!("unknown region `{}`", r.value), Some(hint));
            }
        }
        out
    }

    /// Validates every `[region.override…]` with its pool's own validator and stores the
    /// results in the regions the template renders. The option alone is validated first so
    /// that only what the override introduces is reported (the option's own problems were
    /// reported with its pool).
    pub(super) fn apply_overrides(
        &mut self,
        pending: Vec<(String, Vec<RawOverride>)>,
        regions: &mut [Region],
        doc: &Range<usize>,
        duration: f64,
        limits: &[(String, u32)],
    ) {
        for (code, list) in pending {
            let pos = regions.iter().position(|r| r.code == code);
            // Copy is checked only for regions the template renders.
            let here: Vec<Region> = pos.map(|i| regions[i].clone()).into_iter().collect();
            let mut ov = RegionOverrides::default();
            for o in list {
                let context = format!(
                    "the {} `{}` override of region `{code}`",
                    o.pool.name(),
                    o.id.value
                );
                let at = At {
                    scope: OverrideScope {
                        span: &o.span,
                        base_span: &o.base_span,
                        own: &o.own,
                        context: o.explicit.then_some(context.as_str()),
                    },
                    here: &here,
                    keep: o.explicit,
                };
                // Each pool's validator, on the option alone (no regions: the copy is checked
                // once, as merged) and on the merged option.
                match o.option {
                    RawOverridden::Background(b, m) => {
                        let v = self.checked(&at, b, m, |v, p, _| v.backgrounds(Some(p), doc));
                        store(&mut ov.background, o.index, v);
                    }
                    RawOverridden::Product(b, m) => {
                        let v = self
                            .checked(&at, b, m, |v, p, _| v.options("product", &p, Self::product));
                        store(&mut ov.product, o.index, v);
                    }
                    RawOverridden::Subtitle(b, m) => {
                        let v =
                            self.checked(&at, b, m, |v, p, r| v.subtitles(p, duration, r, limits));
                        store(&mut ov.subtitle, o.index, v);
                    }
                    RawOverridden::Effects(b, m) => {
                        let v = self.checked(&at, b, m, |v, p, _| {
                            v.options("effects", &p, |v, e, id| v.effect(e, id, duration))
                        });
                        store(&mut ov.effects, o.index, v);
                    }
                    RawOverridden::Audio(b, m) => {
                        let v = self.checked(&at, b, m, |v, p, r| {
                            v.options("audio", &p, |v, a, id| v.audio(a, id, duration, r))
                        });
                        store(&mut ov.audio, o.index, v);
                    }
                }
            }
            if let Some(i) = pos {
                regions[i].overrides = ov;
            }
        }
    }

    /// `check` (a pool validator) on the option alone and on the merged one, keeping only the
    /// diagnostics the override introduces; the merged option when the region wrote it.
    fn checked<R, T>(
        &mut self,
        at: &At<'_>,
        base: R,
        merged: R,
        check: impl Fn(&mut Self, S<Vec<R>>, &[Region]) -> Vec<T>,
    ) -> Option<T> {
        let pool = |x: R| S {
            value: vec![x],
            span: at.scope.span.clone(),
        };
        let (_, v) = introduced(
            self,
            |v| &mut *v.dx,
            &at.scope,
            |v| drop(check(v, pool(base), &[])),
            |v| check(v, pool(merged), at.here).pop(),
        );
        v.filter(|_| at.keep)
    }
}

/// One override being validated: where it sits, the regions whose copy it must cover, and
/// whether the region wrote it (a stand-in is only checked).
struct At<'a> {
    scope: OverrideScope<'a>,
    here: &'a [Region],
    keep: bool,
}

fn store<T>(into: &mut BTreeMap<usize, T>, index: usize, v: Option<T>) {
    if let Some(v) = v {
        into.insert(index, v);
    }
}
