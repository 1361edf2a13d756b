//! `[template]`, `[output]`, `[[region]]`, `[variants]` and `[dedup]` as written.

use super::reader::Obj;
use super::schema::{within, Bound::In};
use super::{read_orders, read_overrides, Pairs, RawOrders, RawOverride, S};
use crate::template::Diagnostics;

raw_table! {
    pub(crate) struct RawHeader {
        name: str,
        version: int,
        kind: str,
        duration: num,
        fps: int in within(In(1.0, 60.0), "{}"),
        poster_time: num,
        /// Directory (relative to the template's) that asset paths may not escape.
        root: str,
    }

    pub(crate) struct RawOutput {
        presets: str_list,
        regions: str_list,
        name: str,
        image_name: str,
        tracking: pairs,
        landing_url: str,
    }

    pub(crate) struct RawRegion {
        code: str,
        locale: str,
        fallback: str_list,
        direction: str,
        /// `[region.override.POOL.ID]` tables, in file order. When a region overrides any
        /// subtitle option, every other subtitle option gets a stand-in entry (`explicit: false`)
        /// so the region's copy is checked option by option against what it will really show.
        /// Filled by `read_region`, which knows the pools the overrides refer to.
        overrides: later<Vec<RawOverride>> = "override",
    }

    pub(crate) struct RawVariants {
        strategy: str,
        count: int,
        seed: int,
        distinct: bool,
        limit: int,
        exclude: with<Vec<S<Pairs>>>(read_pairs_list),
        pick: with<Vec<S<Pairs>>>(read_pairs_list),
        orders: with<Option<RawOrders>>(read_orders),
    }

    pub(crate) struct RawDedup {
        policy: str,
        library: str,
        exempt_after_days: int
            in within(In(0.0, 36_500.0), "days in {} (the published rule uses 180)"),
    }
}

pub(super) fn read_region(t: &Obj<'_>, root: &Obj<'_>, dx: &mut Diagnostics) -> RawRegion {
    let mut region = RawRegion::read(t, dx);
    let who = region
        .code
        .as_ref()
        .map(|c| format!("region `{}`", c.value))
        .unwrap_or_else(|| t.ctx.clone());
    region.overrides = read_overrides(t, root, &who, dx);
    region
}

/// `exclude = [{ background = "beach" }, …]` and `pick = […]`: every entry is key = id.
fn read_pairs_list(t: &Obj<'_>, dx: &mut Diagnostics, key: &str) -> Vec<S<Pairs>> {
    let Some(list) = t.table_list(dx, key) else {
        return Vec::new();
    };
    list.value
        .into_iter()
        .map(|e| S {
            span: e.span.clone(),
            value: e.str_pairs(dx),
        })
        .collect()
}
