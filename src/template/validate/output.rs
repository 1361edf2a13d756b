//! `[output]` (presets, name patterns, tracking, landing URL) and `[dedup]`.

use super::*;

pub(super) fn braces() -> String {
    PLACEHOLDERS
        .iter()
        .map(|p| format!("{{{p}}}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl V<'_> {
    /// A required `[output]` list of names (`key`), reported when missing or empty. An empty
    /// list is still returned: its callers have nothing more to say about it.
    pub(super) fn output_list<'l>(
        &mut self,
        list: Option<&'l S<Vec<S<String>>>>,
        key: &str,
        span: &Range<usize>,
        add: String,
        example: &str,
    ) -> Option<&'l S<Vec<S<String>>>> {
        let Some(list) = list else {
            let msg = format!("missing required key `{key}` in [output]");
            self.missing(key, span, msg, Some(add));
            return None;
        };
        if list.value.is_empty() {
            let one = key.trim_end_matches('s');
            self.err(
                &list.span,
                format!("[output] {key} is empty"),
                Some(format!("name at least one {one}, e.g. [\"{example}\"]")),
            );
        }
        Some(list)
    }

    /// A list's entries but those listed before (each reported).
    pub(super) fn listed_once<'l>(
        &mut self,
        list: &'l S<Vec<S<String>>>,
        what: &str,
    ) -> Vec<&'l S<String>> {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for x in &list.value {
            let twice = || format!("{what} `{}` is listed twice", x.value);
            if self.once(&mut seen, x.value.as_str(), &x.span, twice, DUPLICATE) {
                out.push(x);
            }
        }
        out
    }

    pub(super) fn presets_list(
        &mut self,
        out: Option<&RawOutput>,
        span: &Range<usize>,
    ) -> Vec<(String, Range<usize>)> {
        let list = out.and_then(|o| o.presets.as_ref());
        let add = format!(
            "add presets = [\"…\"] to [output]; known: {}",
            self.presets.ids().collect::<Vec<_>>().join(", ")
        );
        let Some(list) = self.output_list(list, "presets", span, add, "tiktok") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for p in self.listed_once(list, "preset") {
            if self.presets.get(&p.value).is_none() {
                let known: Vec<&str> = self.presets.ids().collect();
                let msg = format!("unknown preset `{}`", p.value);
                let msg = or_typo(msg, &p.value, known.iter().copied());
                self.err(
                    &p.span,
                    msg,
                    Some(format!(
                        "known: {}; add your own with --presets-dir",
                        known.join(", ")
                    )),
                );
                continue;
            }
            out.push((p.value.clone(), p.span.clone()));
        }
        out
    }

    pub(super) fn output(&mut self, out: Option<&RawOutput>, presets: Vec<String>) -> Output {
        let Some(o) = out else {
            // `presets_list` has already reported the missing section's keys.
            return Output {
                presets,
                name: DEFAULT_NAME.into(),
                image_name: DEFAULT_IMAGE_NAME.into(),
                tracking: BTreeMap::new(),
                landing_url: None,
            };
        };
        let name = o.name.as_ref().map(|n| self.pattern(n, "name"));
        let image_name = o.image_name.as_ref().map(|n| self.pattern(n, "image_name"));
        let mut tracking = BTreeMap::new();
        for (k, v) in o.tracking.iter().flat_map(|t| &t.value) {
            let v = self.pattern(v, &format!("tracking.{}", k.value));
            tracking.insert(k.value.clone(), v);
        }
        let landing_url = o.landing_url.as_ref().map(|u| {
            if !(u.value.starts_with("https://") || u.value.starts_with("http://"))
                || u.value.len() <= "https://".len()
            {
                self.err(
                    &u.span,
                    format!("landing_url `{}` is not an http(s) URL", u.value),
                    Some(
                        "write the full address, e.g. \"https://shop.example.com/p/sneaker\""
                            .to_string(),
                    ),
                );
            }
            self.pattern(u, "landing_url")
        });
        Output {
            presets,
            name: name.unwrap_or_else(|| DEFAULT_NAME.into()),
            image_name: image_name.unwrap_or_else(|| DEFAULT_IMAGE_NAME.into()),
            tracking,
            landing_url,
        }
    }

    /// The pattern `v`, its `{placeholder}`s checked (see `placeholders`).
    pub(super) fn pattern(&mut self, v: &S<String>, what: &str) -> String {
        self.placeholders(v, what);
        v.value.clone()
    }

    /// Checks `{placeholder}`s, pointing at the exact placeholder when the string literal has
    /// no escapes (so source offsets equal value offsets).
    fn placeholders(&mut self, v: &S<String>, what: &str) {
        let lit = self.dx_source().get(v.span.clone()).unwrap_or("");
        let inner_start =
            if (lit.starts_with('"') && !lit.starts_with("\"\"\"") && !lit.contains('\\'))
                || (lit.starts_with('\'') && !lit.starts_with("'''"))
            {
                Some(v.span.start + 1)
            } else {
                None
            };
        let at = |from: usize, to: usize| match inner_start {
            Some(s) => s + from..s + to,
            None => v.span.clone(),
        };
        let s = &v.value;
        let mut i = 0;
        while let Some(open) = s[i..].find(['{', '}']).map(|o| o + i) {
            if s.as_bytes()[open] == b'}' {
                self.err(
                    &at(open, open + 1),
                    format!("unmatched `}}` in {what} pattern"),
                    Some("placeholders look like {region}".to_string()),
                );
                i = open + 1;
                continue;
            }
            let Some(close) = s[open..].find('}').map(|c| c + open) else {
                self.err(
                    &at(open, s.len()),
                    format!("unclosed `{{` in {what} pattern"),
                    Some("placeholders look like {region}".to_string()),
                );
                return;
            };
            let name = &s[open + 1..close];
            if !PLACEHOLDERS.contains(&name) {
                let hint = match did_you_mean(name, PLACEHOLDERS.iter().copied()) {
                    Some(m) => format!("did you mean {{{m}}}? known: {}", braces()),
                    None => format!("known placeholders: {}", braces()),
                };
                self.err(
                    &at(open, close + 1),
                    format!("unknown placeholder `{{{name}}}` in {what} pattern"),
                    Some(hint),
                );
            }
            i = close + 1;
        }
    }

    pub(super) fn dedup(&mut self, raw: Option<RawDedup>) -> DedupSpec {
        let Some(d) = raw else {
            return DedupSpec::default();
        };
        let policy = self.pick(
            d.policy.as_ref(),
            "dedup policy",
            DedupPolicy::NAMES,
            DedupPolicy::Warn,
        );
        // A PostgreSQL URL names a shared database, not a file beside the template: it is
        // kept as written (the library checks it when the run opens it).
        let library = d.library.as_ref().and_then(|l| {
            if crate::template::is_postgres_url(&l.value) {
                Some(PathBuf::from(l.value.trim()))
            } else {
                self.output_path(l)
            }
        });
        let exempt_after_days = self.int(d.exempt_after_days(), "exempt_after_days", 180) as u32;
        DedupSpec {
            policy,
            library,
            exempt_after_days,
        }
    }
}
