//! Locales: the BCP 47 check, per-locale copy tables and whether every region finds its copy.

use super::*;

/// Languages written right to left.
const RTL_LANGS: &[&str] = &["ar", "he", "fa", "ur"];

pub(super) fn valid_locale(s: &str) -> bool {
    let mut parts = s.split('-');
    let lang = parts.next().unwrap_or("");
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

pub fn direction_of(locale: &str) -> Direction {
    let lang = locale.split(['-', '_']).next().unwrap_or(locale);
    if RTL_LANGS.contains(&lang) {
        Direction::Rtl
    } else {
        Direction::Ltr
    }
}

/// Tags a bad-locale hint suggests: any tag for copy and a region's locale, a bare language
/// for a fallback, which is what fallbacks usually are.
pub(super) const LOCALE_EXAMPLES: &str = "\"en\", \"es-MX\" or \"zh-TW\"";
pub(super) const FALLBACK_EXAMPLES: &str = "\"en\" or \"es\"";

impl V<'_> {
    /// The one locale check: a BCP 47 tag, reported where it is written.
    pub(super) fn locale(&mut self, l: &S<String>, examples: &str) {
        if !valid_locale(&l.value) {
            self.err(
                &l.span,
                format!("bad locale `{}`", l.value),
                Some(format!("expected a BCP 47 tag such as {examples}")),
            );
        }
    }

    /// Copy per locale; `what` names the option in messages (``subtitle `hook` ``).
    pub(super) fn locale_map(
        &mut self,
        text: &S<LocaleText>,
        what: &str,
    ) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for (loc, copy) in &text.value {
            self.locale(loc, LOCALE_EXAMPLES);
            if copy.value.trim().is_empty() {
                self.err(
                    &copy.span,
                    format!("empty copy for locale `{}`", loc.value),
                    Some("write the text, or remove the locale".to_string()),
                );
            }
            if let Some((_, c)) = crate::display::forbidden_in_copy(&copy.value) {
                let at = char_span(self.dx.source(), &copy.span, c);
                self.err(
                    &at,
                    format!(
                        "`{}` copy of {what} contains {}, an invisible control that makes the text show differently from how it reads",
                        loc.value,
                        crate::display::describe_char(c)
                    ),
                    Some(HIDDEN_HINT.to_string()),
                );
            }
            map.insert(loc.value.clone(), copy.value.clone());
        }
        map
    }

    /// Copy longer than a preset's title limit is a warning: the output is still valid, but
    /// the platform will cut it.
    pub(super) fn copy_length(&mut self, id: &str, text: &S<LocaleText>, limits: &[(String, u32)]) {
        for (loc, copy) in &text.value {
            let n = copy.value.chars().count();
            for (preset, max) in limits {
                if n > *max as usize {
                    self.dx.warning(
                        copy.span.clone(),
                        format!("`{}` copy of subtitle `{id}` is {n} characters; preset `{preset}` allows {max}", loc.value),
                        Some("shorten it, or expect the platform to truncate it".to_string()),
                    );
                }
            }
        }
    }

    /// Every region's locale needs copy in every subtitle option: exactly, or through a fallback
    /// locale (a warning, since the region then sees another locale's text).
    pub(super) fn check_copy(
        &mut self,
        id: &str,
        copies: &[(Range<usize>, BTreeMap<String, String>)],
        regions: &[Region],
    ) {
        for (span, map) in copies {
            self.check_locales(
                &Localised {
                    option: "subtitle option",
                    thing: "copy",
                    example: "\"…\"",
                },
                id,
                span,
                map,
                regions,
            );
        }
    }

    /// Every region finds an entry of `map` in its locale chain (as the renderer looks it up:
    /// locale, explicit fallbacks, bare language); a fallback hit is a warning, a miss an
    /// error — or, with `--allow-fallback`, a warning naming the default locale used instead.
    pub(super) fn check_locales<V>(
        &mut self,
        what: &Localised<'_>,
        id: &str,
        span: &Range<usize>,
        map: &BTreeMap<String, V>,
        regions: &[Region],
    ) {
        let Localised {
            option,
            thing,
            example,
        } = what;
        if map.is_empty() {
            return;
        }
        // Regions sharing a locale (US, GB, CA → en) get one diagnostic, naming them all.
        let mut missing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut fallback: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
        for r in regions {
            match locale_chain(r).into_iter().find(|l| map.contains_key(l)) {
                Some(l) if l == r.locale => {}
                Some(f) => fallback
                    .entry((r.locale.as_str(), f))
                    .or_default()
                    .push(&r.code),
                None => missing.entry(&r.locale).or_default().push(&r.code),
            }
        }
        let have = map
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        for (locale, codes) in missing {
            let plural = if codes.len() == 1 { "" } else { "s" };
            match default_copy_locale(map).filter(|_| self.opts.allow_fallback) {
                Some(d) => self.dx.warning(
                    span.clone(),
                    format!(
                        "{option} `{id}` has no `{locale}` {thing} for region{plural} {}, nor a fallback; using the default `{d}` {thing} (--allow-fallback)",
                        codes.join(", ")
                    ),
                    Some(format!("add {locale} = {example} to localise it")),
                ),
                None => self.err(
                    span,
                    format!("{option} `{id}` has no `{locale}` {thing} for region{plural} {}", codes.join(", ")),
                    Some(format!(
                        "add {locale} = {example} (has: {have}), give the region a fallback locale in a [[region]] table, or pass --allow-fallback to use the `{}` {thing}",
                        default_copy_locale(map).unwrap_or("en")
                    )),
                ),
            }
        }
        for ((locale, fb), codes) in fallback {
            let plural = if codes.len() == 1 { "" } else { "s" };
            self.dx.warning(
                span.clone(),
                format!("{option} `{id}` has no `{locale}` {thing} for region{plural} {}; using the `{fb}` {thing}", codes.join(", ")),
                Some(format!("add {locale} = {example} to localise it")),
            );
        }
    }
}

/// Why a hidden control in copy is an error rather than something quietly removed: a
/// reviewer approved the text they read, and either way the screen would differ from it.
pub(super) const HIDDEN_HINT: &str = "delete the character (most editors do not show it); \
     right-to-left copy needs no controls: the region's direction lays it out";

/// Where `c` is written inside the string literal at `literal`: the character itself, or its
/// TOML escape (`\u202E`, `\U0000202E`), so the diagnostic's line and column point at it; the
/// whole literal when neither is found.
fn char_span(source: &str, literal: &Range<usize>, c: char) -> Range<usize> {
    let Some(text) = source.get(literal.clone()) else {
        return literal.clone();
    };
    let code = c as u32;
    let forms = [
        c.to_string(),
        format!("\\u{code:04X}"),
        format!("\\u{code:04x}"),
        format!("\\U{code:08X}"),
        format!("\\U{code:08x}"),
    ];
    forms
        .iter()
        .filter_map(|f| text.find(f.as_str()).map(|i| (i, f.len())))
        .min()
        .map_or_else(
            || literal.clone(),
            |(i, len)| literal.start + i..literal.start + i + len,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_and_directions() {
        assert!(valid_locale("en") && valid_locale("es-MX") && valid_locale("zh-Hant-TW"));
        assert!(!valid_locale("EN") && !valid_locale("e") && !valid_locale("en_US"));
        assert_eq!(direction_of("ar"), Direction::Rtl);
        assert_eq!(direction_of("he-IL"), Direction::Rtl);
        assert_eq!(direction_of("en"), Direction::Ltr);
    }
}
