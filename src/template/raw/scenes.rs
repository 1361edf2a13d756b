//! Raw readers for scenes, transitions, motion, badges and end cards (issue #5's keys).

use std::ops::Range;

use super::super::diag::Diagnostics;
use super::{value_f64, value_type, LocaleText, Obj, S};

/// An easing as written: a name or `[x1, y1, x2, y2]`.
#[derive(Debug, Clone)]
pub enum RawEasingValue {
    Name(String),
    Bezier(Vec<f64>),
}

pub type RawEasing = S<RawEasingValue>;
/// `[variants] orders`: lists of scene ids.
pub type RawOrders = S<Vec<S<Vec<S<String>>>>>;

#[derive(Debug)]
pub struct RawTransition {
    pub span: Range<usize>,
    pub kind: Option<S<String>>,
    pub duration: Option<S<f64>>,
    pub color: Option<S<String>>,
    pub easing: Option<RawEasing>,
}

#[derive(Debug)]
pub struct RawScene {
    pub span: Range<usize>,
    pub id: Option<S<String>>,
    pub duration: Option<S<f64>>,
    /// `Pool::SCENE` order: background, product, subtitle, effects, badge.
    pub pools: [Option<S<Vec<S<String>>>>; 5],
    pub transition: Option<RawTransition>,
}

#[derive(Debug)]
pub struct RawKenBurns {
    pub span: Range<usize>,
    pub zoom: Option<S<(f64, f64)>>,
    pub from: Option<S<(f64, f64)>>,
    pub to: Option<S<(f64, f64)>>,
    pub easing: Option<RawEasing>,
}

#[derive(Debug)]
pub struct RawKeyframe {
    pub span: Range<usize>,
    pub t: Option<S<f64>>,
    pub offset: Option<S<(f64, f64)>>,
    pub scale: Option<S<f64>>,
    pub rotation: Option<S<f64>>,
    pub opacity: Option<S<f64>>,
    pub easing: Option<RawEasing>,
}

#[derive(Debug)]
pub struct RawMotion {
    pub span: Range<usize>,
    pub enter: Option<S<String>>,
    pub enter_time: Option<S<f64>>,
    pub delay: Option<S<f64>>,
    pub idle: Option<S<String>>,
    pub amplitude: Option<S<f64>>,
    pub period: Option<S<f64>>,
    pub easing: Option<RawEasing>,
}

#[derive(Debug)]
pub struct RawBadge {
    pub span: Range<usize>,
    pub id: Option<S<String>>,
    pub shape: Option<S<String>>,
    pub text: Option<S<LocaleText>>,
    pub fill: Option<S<String>>,
    pub text_color: Option<S<String>>,
    pub font: Option<S<Vec<S<String>>>>,
    pub anchor: Option<S<String>>,
    pub size: Option<S<f64>>,
    pub offset: Option<S<(f64, f64)>>,
    pub rotation: Option<S<f64>>,
    pub start: Option<S<f64>>,
    pub end: Option<S<f64>>,
    pub animation: Option<S<String>>,
}

#[derive(Debug)]
pub struct RawEndCard {
    pub span: Range<usize>,
    pub id: Option<S<String>>,
    pub duration: Option<S<f64>>,
    pub background: Option<S<String>>,
    pub logo: Option<S<String>>,
    pub headline: Option<S<LocaleText>>,
    pub price: Option<S<LocaleText>>,
    pub cta: Option<S<LocaleText>>,
    pub cta_color: Option<S<String>>,
    pub text_color: Option<S<String>>,
    pub font: Option<S<Vec<S<String>>>>,
    pub transition: Option<RawTransition>,
}

pub(super) fn read_scene(t: &Obj<'_>, dx: &mut Diagnostics) -> RawScene {
    t.keys(
        dx,
        &[
            "id",
            "duration",
            "background",
            "product",
            "subtitle",
            "effects",
            "badge",
            "transition",
        ],
    );
    RawScene {
        span: t.span.clone(),
        id: t.str(dx, "id"),
        duration: t.num(dx, "duration"),
        pools: ["background", "product", "subtitle", "effects", "badge"].map(|k| t.str_list(dx, k)),
        transition: read_transition(t, dx, "transition"),
    }
}

/// `transition = "crossfade"` or `transition = { type = "wipe-left", duration = 0.4 }`.
pub(super) fn read_transition(
    t: &Obj<'_>,
    dx: &mut Diagnostics,
    key: &str,
) -> Option<RawTransition> {
    let (item, span) = t.get(key)?;
    if let Some(s) = item.as_str() {
        return Some(RawTransition {
            span: span.clone(),
            kind: Some(S {
                value: s.to_string(),
                span,
            }),
            duration: None,
            color: None,
            easing: None,
        });
    }
    let tr = t.table(dx, key)?;
    tr.keys(dx, &["type", "duration", "color", "easing"]);
    Some(RawTransition {
        span: tr.span.clone(),
        kind: tr.str(dx, "type"),
        duration: tr.num(dx, "duration"),
        color: tr.str(dx, "color"),
        easing: read_easing(&tr, dx, "easing"),
    })
}

pub(super) fn read_easing(t: &Obj<'_>, dx: &mut Diagnostics, key: &str) -> Option<RawEasing> {
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

pub(super) fn read_ken_burns(t: &Obj<'_>, dx: &mut Diagnostics) -> Option<RawKenBurns> {
    t.table(dx, "motion").map(|m| {
        m.keys(dx, &["zoom", "from", "to", "easing"]);
        RawKenBurns {
            span: m.span.clone(),
            zoom: m.pair(dx, "zoom"),
            from: m.pair(dx, "from"),
            to: m.pair(dx, "to"),
            easing: read_easing(&m, dx, "easing"),
        }
    })
}

pub(super) fn read_product_motion(
    t: &Obj<'_>,
    dx: &mut Diagnostics,
) -> (Option<RawMotion>, Option<S<Vec<RawKeyframe>>>) {
    let motion = t.table(dx, "motion").map(|m| {
        m.keys(
            dx,
            &[
                "enter",
                "enter_time",
                "delay",
                "idle",
                "amplitude",
                "period",
                "easing",
            ],
        );
        RawMotion {
            span: m.span.clone(),
            enter: m.str(dx, "enter"),
            enter_time: m.num(dx, "enter_time"),
            delay: m.num(dx, "delay"),
            idle: m.str(dx, "idle"),
            amplitude: m.num(dx, "amplitude"),
            period: m.num(dx, "period"),
            easing: read_easing(&m, dx, "easing"),
        }
    });
    let keyframes = t.table_list(dx, "keyframes").map(|l| {
        let span = l.span.clone();
        let value = l
            .value
            .into_iter()
            .map(|k| {
                k.keys(
                    dx,
                    &["t", "offset", "scale", "rotation", "opacity", "easing"],
                );
                RawKeyframe {
                    span: k.span.clone(),
                    t: k.num(dx, "t"),
                    offset: k.pair(dx, "offset"),
                    scale: k.num(dx, "scale"),
                    rotation: k.num(dx, "rotation"),
                    opacity: k.num(dx, "opacity"),
                    easing: read_easing(&k, dx, "easing"),
                }
            })
            .collect();
        S { span, value }
    });
    (motion, keyframes)
}

pub(super) fn read_badge(t: &Obj<'_>, dx: &mut Diagnostics) -> RawBadge {
    t.keys(
        dx,
        &[
            "id",
            "shape",
            "text",
            "fill",
            "text_color",
            "font",
            "anchor",
            "size",
            "offset",
            "rotation",
            "start",
            "end",
            "animation",
        ],
    );
    RawBadge {
        span: t.span.clone(),
        id: t.str(dx, "id"),
        shape: t.str(dx, "shape"),
        text: t.text(dx, "text"),
        fill: t.str(dx, "fill"),
        text_color: t.str(dx, "text_color"),
        font: t.str_list(dx, "font"),
        anchor: t.str(dx, "anchor"),
        size: t.num(dx, "size"),
        offset: t.pair(dx, "offset"),
        rotation: t.num(dx, "rotation"),
        start: t.num(dx, "start"),
        end: t.num(dx, "end"),
        animation: t.str(dx, "animation"),
    }
}

pub(super) fn read_end_card(t: &Obj<'_>, dx: &mut Diagnostics) -> RawEndCard {
    t.keys(
        dx,
        &[
            "id",
            "duration",
            "background",
            "logo",
            "headline",
            "price",
            "cta",
            "cta_color",
            "text_color",
            "font",
            "transition",
        ],
    );
    RawEndCard {
        span: t.span.clone(),
        id: t.str(dx, "id"),
        duration: t.num(dx, "duration"),
        background: t.str(dx, "background"),
        logo: t.str(dx, "logo"),
        headline: t.text(dx, "headline"),
        price: t.text(dx, "price"),
        cta: t.text(dx, "cta"),
        cta_color: t.str(dx, "cta_color"),
        text_color: t.str(dx, "text_color"),
        font: t.str_list(dx, "font"),
        transition: read_transition(t, dx, "transition"),
    }
}

/// `orders = [["hook", "demo"], ["demo", "hook"]]`.
pub(super) fn read_orders(t: &Obj<'_>, dx: &mut Diagnostics) -> Option<RawOrders> {
    let (item, span) = t.get("orders")?;
    let Some(arr) = item.as_array() else {
        t.wrong_type(dx, "orders", "a list of scene-id lists", item, span);
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
        let mut ids = Vec::new();
        for x in inner.iter() {
            let xspan = x.span().unwrap_or_else(|| vspan.clone());
            match x.as_str() {
                Some(s) => ids.push(S {
                    value: s.to_string(),
                    span: xspan,
                }),
                None => dx.error(
                    xspan,
                    format!("`orders`: expected a scene id, found {}", value_type(x)),
                    Some("quote each scene id".into()),
                ),
            }
        }
        out.push(S {
            value: ids,
            span: vspan,
        });
    }
    Some(S { value: out, span })
}
