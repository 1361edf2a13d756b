//! Validation of scenes, transitions, motion, badges and end cards.

use std::collections::HashMap;

use super::super::diag::did_you_mean;
use super::super::model::*;
use super::super::raw::*;
use super::{fmt_secs, Localised, DEFAULT_FONTS, V};

const EASINGS: &[(&str, Easing)] = &[
    ("linear", Easing::Linear),
    ("ease-in", Easing::EaseIn),
    ("ease-out", Easing::EaseOut),
    ("ease-in-out", Easing::EaseInOut),
    ("ease-out-back", Easing::EaseOutBack),
];

const ANCHORS: &[(&str, Anchor)] = &[
    ("center", Anchor::Center),
    ("top", Anchor::Top),
    ("bottom", Anchor::Bottom),
    ("left", Anchor::Left),
    ("right", Anchor::Right),
    ("top-left", Anchor::TopLeft),
    ("top-right", Anchor::TopRight),
    ("bottom-left", Anchor::BottomLeft),
    ("bottom-right", Anchor::BottomRight),
];

impl V<'_> {
    pub(super) fn anchor(&mut self, a: Option<&S<String>>, default: Anchor) -> Anchor {
        a.and_then(|a| self.enum_val(a, "anchor", ANCHORS))
            .unwrap_or(default)
    }

    pub(super) fn easing(&mut self, e: Option<&RawEasing>, default: Easing) -> Easing {
        let Some(e) = e else { return default };
        match &e.value {
            RawEasingValue::Name(n) => self
                .enum_val(
                    &S {
                        value: n.clone(),
                        span: e.span.clone(),
                    },
                    "easing",
                    EASINGS,
                )
                .unwrap_or(default),
            RawEasingValue::Bezier(v) => match v.as_slice() {
                [x1, y1, x2, y2]
                    if (0.0..=1.0).contains(x1)
                        && (0.0..=1.0).contains(x2)
                        && y1.is_finite()
                        && y2.is_finite() =>
                {
                    Easing::Bezier([*x1 as f32, *y1 as f32, *x2 as f32, *y2 as f32])
                }
                _ => {
                    self.err(
                        &e.span,
                        "cubic-bezier easing needs four numbers [x1, y1, x2, y2] with x1 and x2 in 0..=1",
                        Some("e.g. easing = [0.25, 0.1, 0.25, 1.0] (CSS `ease`)".to_string()),
                    );
                    default
                }
            },
        }
    }

    pub(super) fn transition(&mut self, t: Option<&RawTransition>, what: &str) -> Transition {
        let Some(t) = t else { return Transition::CUT };
        let kinds = [
            "cut",
            "crossfade",
            "fade",
            "slide-left",
            "slide-right",
            "slide-up",
            "slide-down",
            "push-left",
            "push-right",
            "push-up",
            "push-down",
            "wipe-left",
            "wipe-right",
            "wipe-up",
            "wipe-down",
            "zoom",
        ];
        let name = match &t.kind {
            Some(k) => self
                .enum_val(k, "transition", &kinds.map(|k| (k, k)))
                .unwrap_or("cut"),
            None => {
                self.missing(
                    "type",
                    &t.span,
                    format!("transition of {what} has no `type`"),
                    Some(format!("one of: {}", kinds.join(", "))),
                );
                "cut"
            }
        };
        let side = |s: &str| match s.rsplit('-').next() {
            Some("left") => Side::Left,
            Some("right") => Side::Right,
            Some("up") => Side::Up,
            _ => Side::Down,
        };
        let kind = match name {
            "crossfade" => TransitionKind::Crossfade,
            "fade" => TransitionKind::Fade(self.color(t.color.as_ref(), Rgba::BLACK)),
            "zoom" => TransitionKind::Zoom,
            n if n.starts_with("slide") => TransitionKind::Slide(side(n)),
            n if n.starts_with("push") => TransitionKind::Push(side(n)),
            n if n.starts_with("wipe") => TransitionKind::Wipe(side(n)),
            _ => TransitionKind::Cut,
        };
        if let (Some(c), false) = (&t.color, matches!(kind, TransitionKind::Fade(_))) {
            self.err(
                &c.span,
                "`color` only applies to a `fade` transition",
                Some("remove it, or use type = \"fade\"".to_string()),
            );
        }
        let default = if kind == TransitionKind::Cut {
            0.0
        } else {
            0.5
        };
        let duration = self.num(
            t.duration.as_ref(),
            "transition duration",
            default,
            |d| (0.0..=5.0).contains(&d),
            "seconds in 0..=5",
        );
        let duration = if kind == TransitionKind::Cut {
            0.0
        } else {
            duration
        };
        let easing = self.easing(t.easing.as_ref(), Easing::EaseInOut);
        Transition {
            kind,
            duration,
            easing,
        }
    }

    pub(super) fn ken_burns(&mut self, m: Option<&RawKenBurns>) -> Option<KenBurns> {
        let m = m?;
        let zoom = match &m.zoom {
            Some(z) if !(1.0..=4.0).contains(&z.value.0) || !(1.0..=4.0).contains(&z.value.1) => {
                self.err(
                    &z.span,
                    format!("zoom [{}, {}] is out of range", z.value.0, z.value.1),
                    Some("start and end zoom in 1..=4 (1 = the fitted picture)".to_string()),
                );
                (1.0, 1.0)
            }
            Some(z) => (z.value.0 as f32, z.value.1 as f32),
            None => (1.0, 1.1),
        };
        let mut pan = [(0.0f32, 0.0f32); 2];
        for (i, p) in [&m.from, &m.to].into_iter().enumerate() {
            if let Some(p) = p {
                if p.value.0.abs() > 0.5 || p.value.1.abs() > 0.5 {
                    self.err(
                        &p.span,
                        format!("pan [{}, {}] is out of range", p.value.0, p.value.1),
                        Some("pan offsets are fractions of the canvas, -0.5..=0.5".to_string()),
                    );
                } else {
                    pan[i] = (p.value.0 as f32, p.value.1 as f32);
                }
            }
        }
        let easing = self.easing(m.easing.as_ref(), Easing::EaseInOut);
        Some(KenBurns {
            zoom,
            pan: (pan[0], pan[1]),
            easing,
        })
    }

    /// Product `motion` (enter + idle) and `keyframes` → keyframes and idle drift.
    pub(super) fn product_motion(
        &mut self,
        id: &str,
        m: Option<&RawMotion>,
        kf: Option<&S<Vec<RawKeyframe>>>,
    ) -> (Vec<Keyframe>, Option<Idle>) {
        let rest = |t: f64, easing: Easing| Keyframe {
            t,
            offset: (0.0, 0.0),
            scale: 1.0,
            rotation: 0.0,
            opacity: 1.0,
            easing,
        };
        let mut frames = Vec::new();
        let mut idle = None;
        if let Some(m) = m {
            let time = self.num(
                m.enter_time.as_ref(),
                "enter_time",
                0.6,
                |t| t > 0.0 && t <= 10.0,
                "seconds in (0, 10]",
            );
            let delay = self.num(
                m.delay.as_ref(),
                "delay",
                0.0,
                |t| (0.0..=60.0).contains(&t),
                "seconds in 0..=60",
            );
            let enters = [
                "none",
                "fade",
                "slide-left",
                "slide-right",
                "slide-up",
                "slide-down",
                "pop",
                "spin",
            ];
            let enter = m
                .enter
                .as_ref()
                .and_then(|e| self.enum_val(e, "enter motion", &enters.map(|k| (k, k))))
                .unwrap_or("none");
            let default_easing = if enter == "pop" {
                Easing::EaseOutBack
            } else {
                Easing::EaseOut
            };
            let easing = self.easing(m.easing.as_ref(), default_easing);
            let start = match enter {
                "fade" => Some(Keyframe {
                    opacity: 0.0,
                    ..rest(delay, Easing::Linear)
                }),
                // Slides start one canvas-width (or height) away: fully off screen.
                "slide-left" => Some(Keyframe {
                    offset: (-1.0, 0.0),
                    ..rest(delay, Easing::Linear)
                }),
                "slide-right" => Some(Keyframe {
                    offset: (1.0, 0.0),
                    ..rest(delay, Easing::Linear)
                }),
                "slide-up" => Some(Keyframe {
                    offset: (0.0, 1.0),
                    ..rest(delay, Easing::Linear)
                }),
                "slide-down" => Some(Keyframe {
                    offset: (0.0, -1.0),
                    ..rest(delay, Easing::Linear)
                }),
                "pop" => Some(Keyframe {
                    scale: 0.05,
                    opacity: 0.0,
                    ..rest(delay, Easing::Linear)
                }),
                "spin" => Some(Keyframe {
                    scale: 0.2,
                    rotation: -360.0,
                    opacity: 0.0,
                    ..rest(delay, Easing::Linear)
                }),
                _ => None,
            };
            if let Some(s) = start {
                frames.push(s);
                frames.push(rest(delay + time, easing));
            }
            let idles = ["none", "float", "bob"];
            let kind = m
                .idle
                .as_ref()
                .and_then(|e| self.enum_val(e, "idle motion", &idles.map(|k| (k, k))))
                .unwrap_or("none");
            let amplitude = self.num(
                m.amplitude.as_ref(),
                "amplitude",
                0.015,
                |a| (0.0..=0.2).contains(&a),
                "a fraction of the canvas height, 0..=0.2",
            ) as f32;
            let period = self.num(
                m.period.as_ref(),
                "period",
                2.0,
                |p| p > 0.05 && p <= 60.0,
                "seconds in (0.05, 60]",
            ) as f32;
            if kind != "none" {
                idle = Some(Idle {
                    bounce: kind == "bob",
                    amplitude,
                    period,
                });
            }
        }
        if let Some(kf) = kf {
            if !frames.is_empty() {
                self.err(
                    &kf.span,
                    format!("product `{id}` sets both `motion.enter` and `keyframes`"),
                    Some("use one: keyframes describe the whole path".to_string()),
                );
            }
            let mut last = -1.0f64;
            for k in &kf.value {
                let t = match &k.t {
                    Some(t) if t.value < 0.0 || !t.value.is_finite() => {
                        self.err(
                            &t.span,
                            format!("keyframe time {} is negative", t.value),
                            Some("seconds from the start of the scene".to_string()),
                        );
                        0.0
                    }
                    Some(t) if t.value <= last => {
                        self.err(
                            &t.span,
                            format!(
                                "keyframe time {} s is not after the previous one ({} s)",
                                fmt_secs(t.value),
                                fmt_secs(last)
                            ),
                            Some("list keyframes in time order".to_string()),
                        );
                        t.value
                    }
                    Some(t) => t.value,
                    None => {
                        self.missing("t", &k.span, "keyframe without `t`", Some("give its time in seconds from the start of the scene, e.g. t = 0.5".to_string()));
                        last.max(0.0)
                    }
                };
                last = t;
                let offset = k.offset.as_ref().map(|o| o.value).unwrap_or((0.0, 0.0));
                if let Some(o) = k
                    .offset
                    .as_ref()
                    .filter(|o| o.value.0.abs() > 2.0 || o.value.1.abs() > 2.0)
                {
                    self.err(
                        &o.span,
                        format!(
                            "keyframe offset [{}, {}] is out of range",
                            o.value.0, o.value.1
                        ),
                        Some("fractions of the canvas, -2..=2".to_string()),
                    );
                }
                frames.push(Keyframe {
                    t,
                    offset: (offset.0 as f32, offset.1 as f32),
                    scale: self.num(
                        k.scale.as_ref(),
                        "keyframe scale",
                        1.0,
                        |s| (0.0..=10.0).contains(&s),
                        "0..=10 (1 = as placed)",
                    ) as f32,
                    rotation: self.num(
                        k.rotation.as_ref(),
                        "keyframe rotation",
                        0.0,
                        |r| (-3600.0..=3600.0).contains(&r),
                        "degrees",
                    ) as f32,
                    opacity: self.num(
                        k.opacity.as_ref(),
                        "keyframe opacity",
                        1.0,
                        |o| (0.0..=1.0).contains(&o),
                        "0..=1",
                    ) as f32,
                    easing: self.easing(k.easing.as_ref(), Easing::EaseInOut),
                });
            }
        }
        (frames, idle)
    }

    pub(super) fn badges(&mut self, pool: S<Vec<RawBadge>>, regions: &[Region]) -> Vec<Badge> {
        let Some(ids) = self.pool_ids("badge", &pool) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (b, id) in pool.value.iter().zip(ids) {
            let shapes = [
                ("tag", BadgeShape::Tag),
                ("pill", BadgeShape::Pill),
                ("circle", BadgeShape::Circle),
                ("burst", BadgeShape::Burst),
                ("ribbon", BadgeShape::Ribbon),
            ];
            let shape = b
                .shape
                .as_ref()
                .and_then(|s| self.enum_val(s, "badge shape", &shapes))
                .unwrap_or(BadgeShape::Tag);
            let text = b
                .text
                .as_ref()
                .map(|t| self.locale_map(t))
                .unwrap_or_default();
            if let Some(t) = &b.text {
                let what = Localised {
                    option: "badge",
                    thing: "copy",
                    example: "\"…\"",
                };
                self.check_locales(&what, &id, &t.span, &text, regions);
            }
            let animations = [
                ("none", Animation::None),
                ("fade", Animation::Fade),
                ("pop", Animation::Pop),
                ("slide", Animation::Slide),
            ];
            let start = self.seconds(b.start.as_ref(), "start");
            let end = b.end.as_ref().map(|e| {
                if e.value <= start {
                    self.err(
                        &e.span,
                        format!(
                            "badge `{id}` ends ({} s) before it starts ({} s)",
                            fmt_secs(e.value),
                            fmt_secs(start)
                        ),
                        None,
                    );
                }
                e.value
            });
            let offset = b.offset.as_ref().map(|o| o.value).unwrap_or((0.0, 0.0));
            out.push(Badge {
                shape,
                text,
                fill: self.color(b.fill.as_ref(), Rgba([0xe5, 0x39, 0x35, 255])),
                text_color: self.color(b.text_color.as_ref(), Rgba::WHITE),
                fonts: self.fonts(b.font.as_ref()),
                anchor: self.anchor(b.anchor.as_ref(), Anchor::TopRight),
                size: self.num(
                    b.size.as_ref(),
                    "size",
                    0.28,
                    |s| s > 0.02 && s <= 1.0,
                    "a fraction of the canvas width, (0.02, 1]",
                ) as f32,
                offset: (offset.0 as f32, offset.1 as f32),
                rotation: self.num(
                    b.rotation.as_ref(),
                    "rotation",
                    0.0,
                    |r| (-360.0..=360.0).contains(&r),
                    "degrees in -360..=360",
                ) as f32,
                start,
                end,
                animation: b
                    .animation
                    .as_ref()
                    .and_then(|a| self.enum_val(a, "badge animation", &animations))
                    .unwrap_or(Animation::Pop),
                id,
            });
        }
        out
    }

    fn fonts(&mut self, f: Option<&S<Vec<S<String>>>>) -> Vec<String> {
        match f {
            Some(f) if f.value.is_empty() => {
                self.err(
                    &f.span,
                    "empty font list",
                    Some("name at least one family, or remove `font` for the defaults".to_string()),
                );
                DEFAULT_FONTS.iter().map(|s| s.to_string()).collect()
            }
            Some(f) => f.value.iter().map(|s| s.value.clone()).collect(),
            None => DEFAULT_FONTS.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub(super) fn end_cards(
        &mut self,
        pool: S<Vec<RawEndCard>>,
        duration: f64,
        regions: &[Region],
    ) -> Vec<EndCard> {
        let Some(ids) = self.pool_ids("end_card", &pool) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (e, id) in pool.value.iter().zip(ids) {
            let d = match &e.duration {
                Some(d) if !(d.value > 0.0 && d.value < duration) => {
                    self.err(&d.span, format!("end card `{id}` lasts {} s; the video is {} s", fmt_secs(d.value), fmt_secs(duration)), Some("an end card takes the last seconds of the video: keep it shorter than the video".to_string()));
                    duration.min(2.0)
                }
                Some(d) => d.value,
                None => 2.0_f64.min(duration / 2.0),
            };
            let mut texts = Vec::new();
            for (what, t) in [
                ("headline", &e.headline),
                ("price", &e.price),
                ("cta", &e.cta),
            ] {
                let map = t.as_ref().map(|t| self.locale_map(t)).unwrap_or_default();
                if let Some(t) = t {
                    let thing = format!("{what} copy");
                    let localised = Localised {
                        option: "end card",
                        thing: &thing,
                        example: "\"…\"",
                    };
                    self.check_locales(&localised, &id, &t.span, &map, regions);
                }
                texts.push(map);
            }
            let cta = texts.pop().unwrap_or_default();
            let price = texts.pop().unwrap_or_default();
            let headline = texts.pop().unwrap_or_default();
            if headline.is_empty() && price.is_empty() && cta.is_empty() && e.logo.is_none() {
                self.err(
                    &e.span,
                    format!("end card `{id}` shows nothing"),
                    Some("give it a logo, headline, price or cta".to_string()),
                );
            }
            let mut transition =
                self.transition(e.transition.as_ref(), &format!("end card `{id}`"));
            if e.transition.is_none() {
                transition = Transition {
                    kind: TransitionKind::Crossfade,
                    duration: 0.4,
                    easing: Easing::EaseInOut,
                };
            }
            out.push(EndCard {
                duration: d,
                background: self.color(e.background.as_ref(), Rgba::WHITE),
                logo: e.logo.as_ref().and_then(|l| self.asset(l)),
                headline,
                price,
                cta,
                cta_color: self.color(e.cta_color.as_ref(), Rgba([0xe5, 0x39, 0x35, 255])),
                text_color: self.color(e.text_color.as_ref(), Rgba([0x21, 0x21, 0x21, 255])),
                fonts: self.fonts(e.font.as_ref()),
                transition,
                id,
            });
        }
        out
    }

    /// Scenes reference options of the pools by id.
    pub(super) fn scenes(
        &mut self,
        pool: S<Vec<RawScene>>,
        pools: &HashMap<Pool, Vec<String>>,
    ) -> Vec<SceneSpec> {
        let Some(ids) = self.pool_ids("scene", &pool) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (s, id) in pool.value.iter().zip(ids) {
            let duration = match &s.duration {
                Some(d) if !(d.value > 0.0 && d.value.is_finite()) => {
                    self.err(
                        &d.span,
                        format!("scene `{id}` duration {} must be positive", d.value),
                        None,
                    );
                    1.0
                }
                Some(d) => d.value,
                None => {
                    self.missing(
                        "duration",
                        &s.span,
                        format!("scene `{id}` has no duration"),
                        Some("seconds, e.g. duration = 3".to_string()),
                    );
                    1.0
                }
            };
            let mut picks: [Option<Vec<usize>>; 5] = Default::default();
            for (slot, pool_kind) in Pool::SCENE.iter().enumerate() {
                let Some(list) = &s.pools[slot] else { continue };
                let known = &pools[pool_kind];
                let mut v = Vec::new();
                for x in &list.value {
                    match known.iter().position(|k| *k == x.value) {
                        Some(i) if v.contains(&i) => self.err(
                            &x.span,
                            format!(
                                "scene `{id}` lists {} `{}` twice",
                                pool_kind.name(),
                                x.value
                            ),
                            None,
                        ),
                        Some(i) => v.push(i),
                        None => {
                            let mut msg = format!(
                                "scene `{id}` names {} `{}`, which is not in the [[{}]] pool",
                                pool_kind.name(),
                                x.value,
                                pool_kind.name()
                            );
                            if let Some(s) =
                                did_you_mean(&x.value, known.iter().map(String::as_str))
                            {
                                msg.push_str(&format!("; did you mean `{s}`?"));
                            }
                            let hint = if known.is_empty() {
                                "that pool has no options".to_string()
                            } else {
                                format!("ids: {}", known.join(", "))
                            };
                            self.err(&x.span, msg, Some(hint));
                        }
                    }
                }
                picks[slot] = Some(v);
            }
            let transition = self.transition(s.transition.as_ref(), &format!("scene `{id}`"));
            if transition.duration > duration {
                self.err(
                    &s.span,
                    format!(
                        "scene `{id}`: its transition ({} s) is longer than the scene ({} s)",
                        fmt_secs(transition.duration),
                        fmt_secs(duration)
                    ),
                    None,
                );
            }
            out.push(SceneSpec {
                id,
                duration,
                pools: picks,
                transition,
            });
        }
        out
    }

    /// `[variants] orders`: each a permutation of the scene ids.
    pub(super) fn orders(
        &mut self,
        raw: Option<&RawOrders>,
        scenes: &[SceneSpec],
    ) -> Vec<Vec<usize>> {
        let Some(raw) = raw else { return Vec::new() };
        if scenes.is_empty() {
            self.err(
                &raw.span,
                "`orders` needs [[scene]] sections",
                Some("define the scenes first, or remove `orders`".to_string()),
            );
            return Vec::new();
        }
        let all: Vec<&str> = scenes.iter().map(|s| s.id.as_str()).collect();
        let mut out: Vec<Vec<usize>> = Vec::new();
        for o in &raw.value {
            let mut idx = Vec::new();
            for x in &o.value {
                match all.iter().position(|k| *k == x.value) {
                    Some(i) if idx.contains(&i) => self.err(
                        &x.span,
                        format!("scene `{}` appears twice in this order", x.value),
                        None,
                    ),
                    Some(i) => idx.push(i),
                    None => {
                        let hint = match did_you_mean(&x.value, all.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`? scenes: {}", all.join(", ")),
                            None => format!("scenes: {}", all.join(", ")),
                        };
                        self.err(
                            &x.span,
                            format!("unknown scene `{}` in orders", x.value),
                            Some(hint),
                        );
                    }
                }
            }
            if idx.len() != all.len() && o.value.len() == idx.len() {
                let missing: Vec<&str> = all
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !idx.contains(i))
                    .map(|(_, s)| *s)
                    .collect();
                self.err(
                    &o.span,
                    format!(
                        "this order leaves out scene{} {}",
                        if missing.len() == 1 { "" } else { "s" },
                        missing.join(", ")
                    ),
                    Some("every order plays every scene once".to_string()),
                );
            }
            if out.contains(&idx) {
                self.err(&o.span, "this order is listed twice", None);
            }
            out.push(idx);
        }
        out
    }
}

/// Seconds of the video a set of scenes spans.
pub(super) fn scenes_total(raw: &S<Vec<RawScene>>) -> f64 {
    raw.value
        .iter()
        .filter_map(|s| s.duration.as_ref())
        .map(|d| d.value)
        .filter(|d| *d > 0.0)
        .sum()
}
