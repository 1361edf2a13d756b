//! Scenes, transitions, easings and `[variants] orders` as written.

use super::reader::{strings, value_f64, value_type, Obj};
use super::schema::{within, Bound::In};
use super::S;
use crate::template::Diagnostics;

/// An easing as written: a name or `[x1, y1, x2, y2]`.
#[derive(Debug, Clone)]
pub(crate) enum RawEasingValue {
    Name(String),
    Bezier(Vec<f64>),
}

pub(crate) type RawEasing = S<RawEasingValue>;
/// `[variants] orders`: lists of scene ids.
pub(crate) type RawOrders = S<Vec<S<Vec<S<String>>>>>;

raw_table! {
    pub(crate) struct RawScene {
        id: str,
        duration: num,
        background: str_list,
        product: str_list,
        subtitle: str_list,
        effects: str_list,
        badge: str_list,
        transition: transition,
    }

    /// The table form; `transition = "crossfade"` is read as a `type` alone.
    pub(crate) struct RawTransition {
        kind: str = "type",
        duration: num in within(In(0.0, 5.0), "seconds in {}"),
        color: str,
        easing: easing,
    }
}

impl RawScene {
    /// The scene's own option lists, in `Pool::SCENE` order.
    pub(crate) fn pools(&self) -> [Option<&S<Vec<S<String>>>>; 5] {
        [
            self.background.as_ref(),
            self.product.as_ref(),
            self.subtitle.as_ref(),
            self.effects.as_ref(),
            self.badge.as_ref(),
        ]
    }
}

/// `transition = "crossfade"` or `transition = { type = "wipe-left", duration = 0.4 }`.
pub(crate) fn read_transition(
    t: &Obj<'_>,
    dx: &mut Diagnostics,
    key: &str,
) -> Option<RawTransition> {
    let (item, span) = t.get(key)?;
    if let Some(s) = item.as_str() {
        let kind = Some(S {
            value: s.to_string(),
            span: span.clone(),
        });
        return Some(RawTransition {
            kind,
            ..RawTransition::empty(span)
        });
    }
    let tr = t.table(dx, key)?;
    Some(RawTransition::read(&tr, dx))
}

pub(crate) fn read_easing(t: &Obj<'_>, dx: &mut Diagnostics, key: &str) -> Option<RawEasing> {
    let (item, span) = t.get(key)?;
    if let Some(s) = item.as_str() {
        return Some(S {
            value: RawEasingValue::Name(s.to_string()),
            span,
        });
    }
    let nums = item
        .as_array()
        .and_then(|a| a.iter().map(value_f64).collect::<Option<Vec<f64>>>());
    match nums {
        Some(v) => Some(S {
            value: RawEasingValue::Bezier(v),
            span,
        }),
        None => {
            t.wrong_type(dx, key, "an easing name or [x1, y1, x2, y2]", item, span);
            None
        }
    }
}

/// `orders = [["hook", "demo"], ["demo", "hook"]]`.
pub(super) fn read_orders(t: &Obj<'_>, dx: &mut Diagnostics, key: &str) -> Option<RawOrders> {
    let (item, span) = t.get(key)?;
    let Some(arr) = item.as_array() else {
        t.wrong_type(dx, key, "a list of scene-id lists", item, span);
        return None;
    };
    let mut out = Vec::new();
    for v in arr.iter() {
        let vspan = v.span().unwrap_or_else(|| span.clone());
        let Some(inner) = v.as_array() else {
            dx.error(
                vspan,
                format!("`orders` in {}: expected a list of scene ids, found {}", t.ctx, value_type(v)),
                Some("write e.g. orders = [[\"hook\", \"demo\", \"cta\"], [\"demo\", \"hook\", \"cta\"]]".into()),
            );
            continue;
        };
        let ids = strings(inner, &vspan, dx, |found| {
            let msg = format!("`orders`: expected a scene id, found {found}");
            (msg, "quote each scene id")
        });
        out.push(S {
            value: ids,
            span: vspan,
        });
    }
    Some(S { value: out, span })
}
