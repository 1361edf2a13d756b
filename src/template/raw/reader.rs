//! The toml_edit walk every raw table reads through: typed getters that report a wrong type
//! (and remember it, so validation does not also call the key missing) and carry each
//! value's span.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::{LocaleText, Pairs, S};
use crate::diag::{did_you_mean, Diagnostics};

impl<T> S<Vec<T>> {
    pub(super) fn map<U>(self, f: impl FnMut(T) -> U) -> S<Vec<U>> {
        S {
            span: self.span,
            value: self.value.into_iter().map(f).collect(),
        }
    }
}

/// A table (standard or inline) with the span to blame when something in it is missing.
pub(crate) struct Obj<'a> {
    pub(super) t: &'a dyn TableLike,
    pub(super) span: Range<usize>,
    /// How messages name this table, e.g. "[output]" or "[[background]] #2".
    pub(super) ctx: String,
}

pub(super) fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => value_type(v),
    }
}

pub(super) fn value_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

impl<'a> Obj<'a> {
    /// Reports every key not in `allowed`, with a did-you-mean.
    pub(super) fn keys(&self, dx: &mut Diagnostics, allowed: &[&str]) {
        for (key, _) in self.t.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let span = self.key_span(key);
            let hint = match did_you_mean(key, allowed.iter().copied()) {
                Some(s) => {
                    // A misspelt key is the one cause; don't also report the intended key as
                    // missing.
                    dx.mark_bad(self.span.start, s);
                    format!("did you mean `{s}`?")
                }
                None => format!("allowed keys here: {}", allowed.join(", ")),
            };
            dx.error(
                span,
                format!("unknown key `{key}` in {}", self.ctx),
                Some(hint),
            );
        }
    }

    pub(super) fn key_span(&self, key: &str) -> Range<usize> {
        self.t
            .get_key_value(key)
            .and_then(|(k, _)| k.span())
            .unwrap_or_else(|| self.span.clone())
    }

    /// The item and the span to blame for its value (falling back to the key, then the table).
    pub(super) fn get(&self, key: &str) -> Option<(&'a Item, Range<usize>)> {
        let (k, item) = self.t.get_key_value(key)?;
        let span = item
            .span()
            .or_else(|| k.span())
            .unwrap_or_else(|| self.span.clone());
        Some((item, span))
    }

    pub(super) fn wrong_type(
        &self,
        dx: &mut Diagnostics,
        key: &str,
        expected: &str,
        item: &Item,
        span: Range<usize>,
    ) {
        dx.mark_bad(self.span.start, key);
        dx.error(
            span,
            format!(
                "`{key}` in {}: expected {expected}, found {}",
                self.ctx,
                type_name(item)
            ),
            Some(type_hint(expected)),
        );
    }

    /// A value `get` accepts; anything else is reported as not `expected`.
    fn scalar<T>(
        &self,
        dx: &mut Diagnostics,
        key: &str,
        expected: &str,
        get: impl FnOnce(&Item) -> Option<T>,
    ) -> Option<S<T>> {
        let (item, span) = self.get(key)?;
        match get(item) {
            Some(value) => Some(S { value, span }),
            None => {
                self.wrong_type(dx, key, expected, item, span);
                None
            }
        }
    }

    pub(super) fn str(&self, dx: &mut Diagnostics, key: &str) -> Option<S<String>> {
        self.scalar(dx, key, "a string", |i| i.as_str().map(str::to_string))
    }

    pub(super) fn num(&self, dx: &mut Diagnostics, key: &str) -> Option<S<f64>> {
        self.scalar(dx, key, "a number", |i| i.as_value().and_then(value_f64))
    }

    pub(super) fn int(&self, dx: &mut Diagnostics, key: &str) -> Option<S<i64>> {
        self.scalar(dx, key, "an integer", Item::as_integer)
    }

    pub(super) fn bool(&self, dx: &mut Diagnostics, key: &str) -> Option<S<bool>> {
        self.scalar(dx, key, "true or false", Item::as_bool)
    }

    pub(super) fn str_list(&self, dx: &mut Diagnostics, key: &str) -> Option<S<Vec<S<String>>>> {
        let (item, span) = self.get(key)?;
        let Some(arr) = item.as_array() else {
            self.wrong_type(dx, key, "a list of strings", item, span);
            return None;
        };
        let value = strings(arr, &span, dx, |found| {
            let msg = format!(
                "`{key}` in {}: expected a list of strings, found {found} in it",
                self.ctx
            );
            (msg, "quote each entry, e.g. [\"a\", \"b\"]")
        });
        Some(S { value, span })
    }

    pub(super) fn pair(&self, dx: &mut Diagnostics, key: &str) -> Option<S<(f64, f64)>> {
        let (item, span) = self.get(key)?;
        let nums: Option<Vec<f64>> = item
            .as_array()
            .and_then(|a| a.iter().map(value_f64).collect::<Option<Vec<_>>>());
        match nums.as_deref() {
            Some([x, y]) => Some(S {
                value: (*x, *y),
                span,
            }),
            _ => {
                dx.mark_bad(self.span.start, key);
                dx.error(
                    span,
                    format!(
                        "`{key}` in {}: expected a pair of numbers [x, y], found {}",
                        self.ctx,
                        describe(item)
                    ),
                    Some(format!("write e.g. {key} = [0.0, 0.1]")),
                );
                None
            }
        }
    }

    /// A sub-table, standard (`[output.tracking]`) or inline (`tracking = { … }`).
    pub(super) fn table(&self, dx: &mut Diagnostics, key: &str) -> Option<Obj<'a>> {
        let (item, span) = self.get(key)?;
        match item.as_table_like() {
            Some(t) => {
                // A `[section]` spans its whole body; blame its header line instead.
                let span = if item.is_table() {
                    header(dx.source(), span)
                } else {
                    span
                };
                Some(Obj {
                    t,
                    span,
                    ctx: self.sub_ctx(key),
                })
            }
            None => {
                self.wrong_type(dx, key, "a table", item, span);
                None
            }
        }
    }

    pub(super) fn sub_ctx(&self, key: &str) -> String {
        if self.ctx == "the template" {
            format!("[{key}]")
        } else {
            format!("`{key}` of {}", self.ctx)
        }
    }

    /// Either `[[key]]` tables or `key = [{…}, {…}]`; an empty array is returned as empty.
    pub(super) fn table_list(&self, dx: &mut Diagnostics, key: &str) -> Option<S<Vec<Obj<'a>>>> {
        let (item, span) = self.get(key)?;
        let ctx = |i: usize| {
            if self.ctx == "the template" {
                format!("[[{key}]] #{}", i + 1)
            } else {
                format!("`{key}` #{} of {}", i + 1, self.ctx)
            }
        };
        match item {
            Item::ArrayOfTables(a) => {
                let value = a
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Obj {
                        t: t as &dyn TableLike,
                        span: header(dx.source(), t.span().unwrap_or_else(|| span.clone())),
                        ctx: ctx(i),
                    })
                    .collect();
                Some(S { value, span })
            }
            Item::Value(Value::Array(a)) => {
                let mut value = Vec::new();
                for (i, v) in a.iter().enumerate() {
                    let vspan = v.span().unwrap_or_else(|| span.clone());
                    match v.as_inline_table() {
                        Some(t) => value.push(Obj {
                            t: t as &dyn TableLike,
                            span: vspan,
                            ctx: ctx(i),
                        }),
                        None => dx.error(
                            vspan,
                            format!("`{key}`: expected a table, found {}", value_type(v)),
                            Some(format!(
                                "write each entry as {{ … }}, or use [[{key}]] sections"
                            )),
                        ),
                    }
                }
                Some(S { value, span })
            }
            _ => {
                self.wrong_type(dx, key, "a list of tables", item, span);
                None
            }
        }
    }

    pub(super) fn pool(&self, dx: &mut Diagnostics, key: &str) -> Option<S<Vec<Obj<'a>>>> {
        self.table_list(dx, key)
    }

    /// All entries must be strings: `tracking` values and `exclude` choices.
    pub(super) fn str_pairs(&self, dx: &mut Diagnostics) -> Pairs {
        let mut out = Vec::new();
        for (key, _) in self.t.iter() {
            let kspan = self.key_span(key);
            if let Some(v) = self.str(dx, key) {
                out.push((
                    S {
                        value: key.to_string(),
                        span: kspan,
                    },
                    v,
                ));
            }
        }
        out
    }

    /// Copy: a plain string (meaning locale `en`) or a table of locale → string.
    pub(super) fn text(&self, dx: &mut Diagnostics, key: &str) -> Option<S<LocaleText>> {
        let (item, span) = self.get(key)?;
        if let Some(s) = item.as_str() {
            return Some(S {
                value: vec![(
                    S {
                        value: "en".into(),
                        span: span.clone(),
                    },
                    S {
                        value: s.into(),
                        span: span.clone(),
                    },
                )],
                span,
            });
        }
        match item.as_table_like() {
            Some(t) => {
                let obj = Obj {
                    t,
                    span: span.clone(),
                    ctx: self.sub_ctx(key),
                };
                Some(S {
                    value: obj.str_pairs(dx),
                    span,
                })
            }
            None => {
                dx.mark_bad(self.span.start, key);
                dx.error(
                    span,
                    format!("`{key}` in {}: expected a string or a table of locale = \"copy\", found {}", self.ctx, type_name(item)),
                    Some(format!("write e.g. {key} = {{ en = \"Run lighter.\", ja = \"軽く走ろう。\" }}")),
                );
                None
            }
        }
    }
}

/// The strings of an array, each with its span (else `span`); any other entry is reported
/// with the message and hint `bad` makes of its type.
pub(super) fn strings(
    arr: &toml_edit::Array,
    span: &Range<usize>,
    dx: &mut Diagnostics,
    bad: impl Fn(&str) -> (String, &'static str),
) -> Vec<S<String>> {
    let mut out = Vec::new();
    for v in arr.iter() {
        let vspan = v.span().unwrap_or_else(|| span.clone());
        match v.as_str() {
            Some(s) => out.push(S {
                value: s.to_string(),
                span: vspan,
            }),
            None => {
                let (msg, hint) = bad(value_type(v));
                dx.error(vspan, msg, Some(hint.into()));
            }
        }
    }
    out
}

/// The first line of a span (a table's `[header]`).
pub(super) fn header(source: &str, span: Range<usize>) -> Range<usize> {
    let end = source
        .get(span.clone())
        .and_then(|s| s.find('\n'))
        .map(|n| span.start + n)
        .unwrap_or(span.end);
    span.start..end.max(span.start)
}

pub(super) fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i.value() as f64),
        Value::Float(f) => Some(*f.value()),
        _ => None,
    }
}

fn describe(item: &Item) -> String {
    match item.as_array() {
        Some(a) => format!(
            "an array of {} item{}",
            a.len(),
            if a.len() == 1 { "" } else { "s" }
        ),
        None => type_name(item).to_string(),
    }
}

fn type_hint(expected: &str) -> String {
    match expected {
        "a string" => "put the value in double quotes".into(),
        "a number" | "an integer" => "write the number without quotes, e.g. 15 or 15.0".into(),
        "true or false" => "write true or false without quotes".into(),
        "a list of strings" => "write a list, e.g. [\"a\", \"b\"]".into(),
        "a table" => "write an inline table { key = value, … } or a [section]".into(),
        _ => format!("expected {expected}"),
    }
}
