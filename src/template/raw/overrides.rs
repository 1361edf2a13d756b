//! `[region.override.POOL.ID]` tables: each is merged over the option it names and read with
//! that pool's own reader, so an override is checked exactly like the option itself.

use std::ops::Range;

use toml_edit::{Item, TableLike};

use super::reader::Obj;
use super::{RawAudio, RawBackground, RawEffects, RawProduct, RawSubtitle, S};
use crate::diag::{or_typo, Diagnostic, Diagnostics};
use crate::template::Pool;

/// Pools a `[[region]]` may override, in the order docs/TEMPLATE.md lists them.
pub const OVERRIDE_POOLS: [Pool; 5] = [
    Pool::Background,
    Pool::Product,
    Pool::Subtitle,
    Pool::Effects,
    Pool::Audio,
];

/// One `[region.override.POOL.ID]` table, already merged over the option it names.
#[derive(Debug)]
pub struct RawOverride {
    /// The override table's header (or inline value): blamed for the merged option as a whole.
    pub span: Range<usize>,
    /// Spans of the override's own entries (key through value); a diagnostic inside one is
    /// about the override's own text and keeps its position.
    pub own: Vec<Range<usize>>,
    /// Span the pool option's own diagnostics use for the whole option (its header).
    pub base_span: Range<usize>,
    /// One of `OVERRIDE_POOLS`.
    pub pool: Pool,
    /// The option id as the override names it.
    pub id: S<String>,
    /// Position of the option in its pool, the same index the validated pool uses.
    pub index: usize,
    /// `false` for a stand-in (see `RawRegion::overrides`): only its copy checks matter.
    pub explicit: bool,
    pub option: RawOverridden,
}

/// The option as written (read a second time, so validation can tell which diagnostics the
/// override introduces) and the option with the override's keys on top.
// A template has a handful of overrides, each moved once into validation: boxing the
// options would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RawOverridden {
    Background(RawBackground, RawBackground),
    Product(RawProduct, RawProduct),
    Subtitle(RawSubtitle, RawSubtitle),
    Effects(RawEffects, RawEffects),
    Audio(RawAudio, RawAudio),
}

/// `override.POOL.ID` tables of one `[[region]]`. Each is merged over the option it names and
/// read with that pool's own reader, so an override is checked exactly like the option itself
/// (unknown keys, types); only diagnostics the override introduces are kept.
pub(super) fn read_overrides(
    region: &Obj<'_>,
    root: &Obj<'_>,
    who: &str,
    dx: &mut Diagnostics,
) -> Vec<RawOverride> {
    let Some(ov) = region.table(dx, "override") else {
        return Vec::new();
    };
    ov.keys(dx, &OVERRIDE_POOLS.map(Pool::name));
    let mut out = Vec::new();
    for pool in OVERRIDE_POOLS {
        let Some(by_id) = ov.table(dx, pool.name()) else {
            continue;
        };
        // The pool exactly as the pool reader saw it, so indexes and spans agree with the
        // validated pool; its own problems were reported when it was read.
        let n = dx.items.len();
        let options = root
            .pool(dx, pool.name())
            .map(|p| p.value)
            .unwrap_or_default();
        dx.items.truncate(n);
        let pool = PoolOptions {
            pool,
            options: &options,
            who,
        };
        let mut done = Vec::new();
        for (id, _) in by_id.t.iter() {
            if let Some(o) = pool.read_one(&by_id, id, &done, dx) {
                done.push(o.index);
                out.push(o);
            }
        }
        // Stand-ins: the region's copy (or voice-over) must then be checked per option, the
        // overridden ones against their override and these against the option itself.
        if matches!(pool.pool, Pool::Subtitle | Pool::Audio) && !done.is_empty() {
            out.extend(pool.stand_ins(&done, dx));
        }
    }
    out
}

/// One pool's options as the pool reader saw them, and the region overriding them.
struct PoolOptions<'a, 'o> {
    pool: Pool,
    options: &'a [Obj<'o>],
    /// How messages name the region, e.g. "region `JP`".
    who: &'a str,
}

impl PoolOptions<'_, '_> {
    fn id(&self, index: usize) -> Option<&str> {
        self.options[index].t.get("id").and_then(Item::as_str)
    }

    /// The `override.POOL.ID` table named `id`, merged over its option; `None` after
    /// reporting an unknown id.
    fn read_one(
        &self,
        by_id: &Obj<'_>,
        id: &str,
        done: &[usize],
        dx: &mut Diagnostics,
    ) -> Option<RawOverride> {
        let name = self.pool.name();
        let id_span = by_id.key_span(id);
        let o = by_id.table(dx, id)?;
        let Some(index) = (0..self.options.len()).find(|i| self.id(*i) == Some(id)) else {
            self.unknown_id(id, id_span, dx);
            return None;
        };
        if done.contains(&index) {
            // Only reachable through duplicate pool ids, which validation reports.
            return None;
        }
        if let Some((k, _)) = o.t.get_key_value("id") {
            dx.error(
                k.span().unwrap_or_else(|| o.span.clone()),
                format!("an override cannot change the id of {name} `{id}`"),
                Some("the table name already says which option it overrides; remove `id`".into()),
            );
        }
        let own =
            o.t.iter()
                .map(|(k, item)| {
                    let ks = o.key_span(k);
                    ks.start..item.span().map(|s| s.end).unwrap_or(ks.end).max(ks.end)
                })
                .collect::<Vec<_>>();
        let table = merge(self.options[index].t, o.t, self.pool);
        let merged = Obj {
            t: &table,
            span: o.span.clone(),
            ctx: format!("the {name} `{id}` override of {}", self.who),
        };
        let id = S {
            value: id.to_string(),
            span: id_span,
        };
        Some(self.entry(index, &merged, own, id, true, dx))
    }

    /// Option `index` as written and as `merged`, with the override's `own` entries.
    fn entry(
        &self,
        index: usize,
        merged: &Obj<'_>,
        own: Vec<Range<usize>>,
        id: S<String>,
        explicit: bool,
        dx: &mut Diagnostics,
    ) -> RawOverride {
        let base = &self.options[index];
        let scope = OverrideScope {
            span: &merged.span,
            base_span: &base.span,
            own: &own,
            context: explicit.then_some(merged.ctx.as_str()),
        };
        let option = read_pair(self.pool, base, merged, &scope, dx);
        RawOverride {
            span: merged.span.clone(),
            own,
            base_span: base.span.clone(),
            pool: self.pool,
            id,
            index,
            explicit,
            option,
        }
    }

    fn unknown_id(&self, id: &str, id_span: Range<usize>, dx: &mut Diagnostics) {
        let (name, who) = (self.pool.name(), self.who);
        let known: Vec<&str> = (0..self.options.len()).filter_map(|i| self.id(i)).collect();
        let msg = format!("{who} overrides {name} `{id}`, which is not in the [[{name}]] pool");
        let msg = or_typo(msg, id, known.iter().copied());
        let hint = if known.is_empty() {
            format!("the template has no [[{name}]] options to override")
        } else {
            format!(
                "the table name after override.{name} is an option id; ids: {}",
                known.join(", ")
            )
        };
        dx.error(id_span, msg, Some(hint));
    }

    /// Every option the region does not override, as itself (see `RawRegion::overrides`).
    fn stand_ins(&self, done: &[usize], dx: &mut Diagnostics) -> Vec<RawOverride> {
        let missing = (0..self.options.len()).filter(|i| !done.contains(i));
        missing
            .map(|index| {
                let base = &self.options[index];
                let id = S {
                    value: self.id(index).unwrap_or_default().to_string(),
                    span: base.span.clone(),
                };
                self.entry(index, base, Vec::new(), id, false, dx)
            })
            .collect()
    }
}

/// The option's entries with the override's on top (one level deep: an overridden sub-table
/// such as `shadow` replaces the option's whole sub-table). Keys keep their spans, so a
/// problem is reported where its text is. Setting one of a set of exclusive keys (a
/// background's source, a subtitle's `text`/`lines`) drops the option's other ones, since an
/// override cannot delete keys.
fn merge(base: &dyn TableLike, over: &dyn TableLike, pool: Pool) -> toml_edit::Table {
    let exclusive: &[&str] = match pool {
        Pool::Background => &["color", "gradient", "image", "video"],
        Pool::Subtitle => &["text", "lines"],
        _ => &[],
    };
    // `id` names the option and is never taken from the override (reported by the caller).
    let sets = |k: &str| k != "id" && over.contains_key(k);
    let new_source = exclusive.iter().any(|k| sets(k));
    // `loop`/`start` belong to a video source the override replaced.
    let video_gone = pool == Pool::Background && new_source && !sets("video");
    let mut t = toml_edit::Table::new();
    for (k, _) in base.iter() {
        let dropped = sets(k)
            || (new_source && exclusive.contains(&k))
            || (video_gone && (k == "loop" || k == "start"));
        if let (false, Some((key, item))) = (dropped, base.get_key_value(k)) {
            t.insert_formatted(key, item.clone());
        }
    }
    for (k, _) in over.iter() {
        if let (true, Some((key, item))) = (sets(k), over.get_key_value(k)) {
            t.insert_formatted(key, item.clone());
        }
    }
    t
}

/// The option as written and merged, read with its pool's reader; only the diagnostics the
/// merge introduces are kept.
fn read_pair(
    pool: Pool,
    base: &Obj<'_>,
    merged: &Obj<'_>,
    scope: &OverrideScope<'_>,
    dx: &mut Diagnostics,
) -> RawOverridden {
    type Read<T> = fn(&Obj<'_>, &mut Diagnostics) -> T;
    fn both<T>(read: Read<T>, wrap: fn(T, T) -> RawOverridden, at: At<'_>) -> RawOverridden {
        let (base, merged, scope, dx) = at;
        fn itself(dx: &mut Diagnostics) -> &mut Diagnostics {
            dx
        }
        let (b, m) = introduced(
            dx,
            itself,
            scope,
            |dx| read(base, dx),
            |dx| read(merged, dx),
        );
        wrap(b, m)
    }
    type At<'a> = (
        &'a Obj<'a>,
        &'a Obj<'a>,
        &'a OverrideScope<'a>,
        &'a mut Diagnostics,
    );
    let at = (base, merged, scope, dx);
    match pool {
        Pool::Background => both(RawBackground::read, RawOverridden::Background, at),
        Pool::Product => both(RawProduct::read, RawOverridden::Product, at),
        Pool::Subtitle => both(RawSubtitle::read, RawOverridden::Subtitle, at),
        Pool::Effects => both(RawEffects::read, RawOverridden::Effects, at),
        _ => both(RawAudio::read, RawOverridden::Audio, at),
    }
}

/// Where an override sits, for sorting the diagnostics of a merged option.
pub(crate) struct OverrideScope<'a> {
    /// The override table's header: the merged option's "whole option" span.
    pub span: &'a Range<usize>,
    /// The pool option's "whole option" span.
    pub base_span: &'a Range<usize>,
    pub own: &'a [Range<usize>],
    /// How to name the override in a message about a key it did not write; `None` for a
    /// stand-in.
    pub context: Option<&'a str>,
}

/// Runs `base`, then `merged`, on a context whose diagnostics `dx` reaches, and keeps only
/// the diagnostics `merged` introduces (see `keep_introduced`).
pub(crate) fn introduced<C: ?Sized, B, M>(
    cx: &mut C,
    dx: fn(&mut C) -> &mut Diagnostics,
    scope: &OverrideScope<'_>,
    base: impl FnOnce(&mut C) -> B,
    merged: impl FnOnce(&mut C) -> M,
) -> (B, M) {
    let n = dx(cx).items.len();
    let b = base(cx);
    let known = dx(cx).items.split_off(n);
    let m = merged(cx);
    let new = dx(cx).items.split_off(n);
    keep_introduced(dx(cx), new, &known, scope);
    (b, m)
}

/// Keeps the diagnostics of a merged option that the pool option alone (`known`) does not
/// have, by position alone: the option's own problems are reported once, where the option is.
/// A diagnostic on one of the override's own entries is the override's; one on the whole
/// option is introduced unless the option alone was blamed as a whole too (its header stands
/// for the override's); one on an inherited key that only the combination causes (e.g.
/// `min_size` above an overridden `size`) names the override.
fn keep_introduced(
    dx: &mut Diagnostics,
    new: Vec<Diagnostic>,
    known: &[Diagnostic],
    scope: &OverrideScope<'_>,
) {
    let blamed = |span: &Range<usize>| known.iter().any(|k| k.span == *span);
    for mut d in new {
        if d.span == *scope.span {
            if !blamed(scope.base_span) {
                dx.items.push(d);
            }
        } else if scope.own.iter().any(|o| o.contains(&d.span.start)) {
            dx.items.push(d);
        } else if !blamed(&d.span) {
            if let Some(c) = scope.context {
                let line = crate::diag::line_col(dx.source(), scope.span.start).0;
                d.message = format!("{} (with {c}, line {line})", d.message);
            }
            dx.items.push(d);
        }
    }
}
