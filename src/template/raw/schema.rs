//! The template schema's declaration language: `raw_table!` turns one line per key into the
//! struct field, the allowed-key list, the reader call and (for numbers) the range and hint
//! that validation checks against.
//!
//! A key used to be written three times (field, `keys(&[..])` list, reader call) plus its
//! range twice (closure and hint text), and nothing kept the copies in step. `KEYS` is the
//! declaration order, so an "allowed keys here" hint lists keys as the table declares them.

/// The values a number may take. It prints itself the way hints have always spelt ranges,
/// so a hint cannot disagree with the check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Bound {
    /// `lo..=hi`.
    In(f64, f64),
    /// `lo < x <= hi`, printed as an interval: `(lo, hi]`.
    Above(f64, f64),
    /// `lo < x <= hi`, printed with the key's name: `lo < key <= hi`.
    KeyAbove(f64, f64),
    /// `x >= lo`, printed `≥ lo`.
    AtLeast(f64),
    /// `-lim..=lim`, as `!(|x| > lim)`: a NaN passes, as it always has for offsets.
    Abs(f64),
}

impl Bound {
    pub(crate) fn contains(self, x: f64) -> bool {
        match self {
            Bound::In(lo, hi) => (lo..=hi).contains(&x),
            Bound::Above(lo, hi) | Bound::KeyAbove(lo, hi) => x > lo && x <= hi,
            Bound::AtLeast(lo) => x >= lo,
            Bound::Abs(lim) => x.is_nan() || x.abs() <= lim,
        }
    }

    fn show(self, key: &str) -> String {
        match self {
            Bound::In(lo, hi) => format!("{lo}..={hi}"),
            Bound::Above(lo, hi) => format!("({lo}, {hi}]"),
            Bound::KeyAbove(lo, hi) => format!("{lo} < {key} <= {hi}"),
            Bound::AtLeast(lo) => format!("≥ {lo}"),
            Bound::Abs(lim) => format!("-{lim}..={lim}"),
        }
    }
}

/// A range and the hint that explains it; `{}` in the hint stands for the printed range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub bound: Bound,
    pub hint: &'static str,
}

pub(crate) const fn within(bound: Bound, hint: &'static str) -> Rule {
    Rule { bound, hint }
}

/// Seconds from the start of something: the commonest rule.
pub(crate) const SECONDS: Rule = within(Bound::AtLeast(0.0), "seconds {}");

/// A declared number as written, with the rule its declaration gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ranged<'a, T> {
    pub value: Option<&'a super::S<T>>,
    pub key: &'static str,
    pub rule: Rule,
}

impl<T> Ranged<'_, T> {
    pub(crate) fn contains(&self, x: f64) -> bool {
        self.rule.bound.contains(x)
    }

    /// The hint after "expected ".
    pub(crate) fn expected(&self) -> String {
        self.rule
            .hint
            .replace("{}", &self.rule.bound.show(self.key))
    }
}

/// The field type a reader kind produces.
macro_rules! raw_type {
    (str) => { Option<$crate::template::raw::S<String>> };
    (num) => { Option<$crate::template::raw::S<f64>> };
    (int) => { Option<$crate::template::raw::S<i64>> };
    (bool) => { Option<$crate::template::raw::S<bool>> };
    (str_list) => { Option<$crate::template::raw::S<Vec<$crate::template::raw::S<String>>>> };
    (pair) => { Option<$crate::template::raw::S<(f64, f64)>> };
    (text) => { Option<$crate::template::raw::S<$crate::template::raw::LocaleText>> };
    (pairs) => { Option<$crate::template::raw::S<$crate::template::raw::Pairs>> };
    (easing) => { Option<$crate::template::raw::RawEasing> };
    (transition) => { Option<$crate::template::raw::RawTransition> };
    (table<$t:ty>) => { Option<$t> };
    (list<$t:ty>) => { Option<$crate::template::raw::S<Vec<$t>>> };
    (with<$t:ty>) => { $t };
    (later<$t:ty>) => { $t };
}

/// The scalar a ranged kind holds.
macro_rules! raw_scalar {
    (num) => {
        f64
    };
    (int) => {
        i64
    };
    (pair) => {
        (f64, f64)
    };
}

/// A key's name: the field's own, unless the declaration writes another (`= "loop"`).
macro_rules! raw_key {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident $key:literal) => {
        $key
    };
}

/// A ranged key's accessor, returning its `Ranged`; nothing for a key without a rule.
macro_rules! raw_ranged {
    ($field:ident $kind:ident [$($key:literal)?] []) => {};
    ($field:ident $kind:ident [$($key:literal)?] [$rule:expr]) => {
        pub(crate) fn $field(&self) -> $crate::template::raw::Ranged<'_, raw_scalar!($kind)> {
            $crate::template::raw::Ranged {
                value: self.$field.as_ref(),
                key: raw_key!($field $($key)?),
                rule: $rule,
            }
        }
    };
}

/// Reads one key of table `$t` with the reader its kind names.
macro_rules! raw_read {
    ($t:ident, $dx:ident, $key:expr, table<$ty:ty>) => {
        $t.table($dx, $key).map(|s| <$ty>::read(&s, $dx))
    };
    ($t:ident, $dx:ident, $key:expr, list<$ty:ty>) => {
        $t.table_list($dx, $key)
            .map(|l| l.map(|e| <$ty>::read(&e, $dx)))
    };
    ($t:ident, $dx:ident, $key:expr, with<$ty:ty>($read:path)) => {
        $read($t, $dx, $key)
    };
    ($t:ident, $dx:ident, $key:expr, later<$ty:ty>) => {
        Default::default()
    };
    ($t:ident, $dx:ident, $key:expr, pairs) => {
        $t.table($dx, $key).map(|tr| $crate::template::raw::S {
            span: tr.span.clone(),
            value: tr.str_pairs($dx),
        })
    };
    ($t:ident, $dx:ident, $key:expr, easing) => {
        $crate::template::raw::read_easing($t, $dx, $key)
    };
    ($t:ident, $dx:ident, $key:expr, transition) => {
        $crate::template::raw::read_transition($t, $dx, $key)
    };
    ($t:ident, $dx:ident, $key:expr, $kind:ident) => {
        $t.$kind($dx, $key)
    };
}

/// Declares raw tables, one line per key:
/// `field: kind` (the key is the field's name), `field: kind = "key"` (it is not) or, for a
/// number validation range-checks, `field: num in within(In(0.0, 1.0), "hint with {} for the
/// range")`.
/// Each table gets `KEYS` (its allowed keys, in order), `read` (unknown keys, then every key
/// in order), `empty` (no key written) and, per ranged key, a method of the field's name
/// returning its `Ranged`. A `later<T>` field is allowed but filled by the caller.
macro_rules! raw_table {
    ($(
        $(#[$meta:meta])*
        pub(crate) struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident: $kind:ident $(<$arg:ty>)? $(($read:path))? $(= $key:literal)?
                    $(in $rule:expr)?
            ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug)]
        pub(crate) struct $name {
            // Every table records where it stands; only some have table-level diagnostics.
            #[allow(dead_code)]
            pub span: std::ops::Range<usize>,
            $( $(#[$fmeta])* pub $field: raw_type!($kind $(<$arg>)?), )*
        }

        impl $name {
            pub(crate) const KEYS: &'static [&'static str] = &[$(raw_key!($field $($key)?)),*];

            pub(in $crate::template::raw) fn read(
                t: &$crate::template::raw::Obj<'_>,
                dx: &mut $crate::template::Diagnostics,
            ) -> Self {
                t.keys(dx, Self::KEYS);
                Self {
                    span: t.span.clone(),
                    $( $field: raw_read!(
                        t, dx, raw_key!($field $($key)?), $kind $(<$arg>)? $(($read))?
                    ), )*
                }
            }

            /// The table with no key written, standing at `span`.
            #[allow(dead_code)]
            pub(crate) fn empty(span: std::ops::Range<usize>) -> Self {
                Self {
                    span,
                    $( $field: Default::default(), )*
                }
            }

            $( raw_ranged!($field $kind [$($key)?] [$($rule)?]); )*
        }
    )*};
}
