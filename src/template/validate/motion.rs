//! Anchors, easings, transitions and how backgrounds and products move.

use super::*;

pub(super) const EASINGS: &[(&str, Easing)] = &[
    ("linear", Easing::Linear),
    ("ease-in", Easing::EaseIn),
    ("ease-out", Easing::EaseOut),
    ("ease-in-out", Easing::EaseInOut),
    ("ease-out-back", Easing::EaseOutBack),
];

impl V<'_> {
    pub(super) fn anchor(&mut self, a: Option<&S<String>>, default: Anchor) -> Anchor {
        self.pick(a, "anchor", Anchor::NAMES, default)
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
        let duration = self.num(t.duration(), "transition duration", default);
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

    /// A written pair within its declared range (`Some(Some(..))`), out of it (`Some(None)`,
    /// after "`what` [x, y] is out of range"), or absent (`None`).
    pub(super) fn pair(
        &mut self,
        r: Ranged<'_, (f64, f64)>,
        what: &str,
    ) -> Option<Option<(f64, f64)>> {
        let p = r.value?;
        let (x, y) = p.value;
        if !(r.contains(x) && r.contains(y)) {
            let msg = format!("{what} [{x}, {y}] is out of range");
            self.err(&p.span, msg, Some(r.expected()));
            return Some(None);
        }
        Some(Some(p.value))
    }

    pub(super) fn ken_burns(&mut self, m: Option<&RawKenBurns>) -> Option<KenBurns> {
        let m = m?;
        let zoom = match self.pair(m.zoom(), "zoom") {
            Some(Some(z)) => (z.0 as f32, z.1 as f32),
            Some(None) => (1.0, 1.0),
            None => (1.0, 1.1),
        };
        let mut pan = [(0.0f32, 0.0f32); 2];
        for (i, p) in [m.from(), m.to()].into_iter().enumerate() {
            if let Some(Some(p)) = self.pair(p, "pan") {
                pan[i] = (p.0 as f32, p.1 as f32);
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
        let (mut frames, idle) = match m {
            Some(m) => (self.entrance(m), self.idle(m)),
            None => (Vec::new(), None),
        };
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
                let frame = self.keyframe(k, last);
                last = frame.t;
                frames.push(frame);
            }
        }
        (frames, idle)
    }

    /// `motion.enter`: two keyframes, from off-stage (or invisible) to at rest.
    fn entrance(&mut self, m: &RawMotion) -> Vec<Keyframe> {
        let time = self.num(m.enter_time(), "enter_time", 0.6);
        let delay = self.num(m.delay(), "delay", 0.0);
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
        let enter = self.pick(
            m.enter.as_ref(),
            "enter motion",
            &enters.map(|k| (k, k)),
            "none",
        );
        let default_easing = if enter == "pop" {
            Easing::EaseOutBack
        } else {
            Easing::EaseOut
        };
        let easing = self.easing(m.easing.as_ref(), default_easing);
        match enter_from(enter, delay) {
            Some(s) => vec![s, rest(delay + time, easing)],
            None => Vec::new(),
        }
    }

    /// `motion.idle`: a loop while the product is on screen.
    fn idle(&mut self, m: &RawMotion) -> Option<Idle> {
        let idles = ["none", "float", "bob"];
        let kind = self.pick(
            m.idle.as_ref(),
            "idle motion",
            &idles.map(|k| (k, k)),
            "none",
        );
        let amplitude = self.num(m.amplitude(), "amplitude", 0.015) as f32;
        let period = self.num(m.period(), "period", 2.0) as f32;
        (kind != "none").then_some(Idle {
            bounce: kind == "bob",
            amplitude,
            period,
        })
    }

    /// One keyframe; `last` is the previous one's time (they must increase).
    fn keyframe(&mut self, k: &RawKeyframe, last: f64) -> Keyframe {
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
                self.missing(
                    "t",
                    &k.span,
                    "keyframe without `t`",
                    Some(
                        "give its time in seconds from the start of the scene, e.g. t = 0.5"
                            .to_string(),
                    ),
                );
                last.max(0.0)
            }
        };
        let offset = k.offset.as_ref().map(|o| o.value).unwrap_or((0.0, 0.0));
        self.pair(k.offset(), "keyframe offset");
        Keyframe {
            t,
            offset: (offset.0 as f32, offset.1 as f32),
            scale: self.num(k.scale(), "keyframe scale", 1.0) as f32,
            rotation: self.num(k.rotation(), "keyframe rotation", 0.0) as f32,
            opacity: self.num(k.opacity(), "keyframe opacity", 1.0) as f32,
            easing: self.easing(k.easing.as_ref(), Easing::EaseInOut),
        }
    }
}

/// The product as placed, at `t`.
fn rest(t: f64, easing: Easing) -> Keyframe {
    Keyframe {
        t,
        offset: (0.0, 0.0),
        scale: 1.0,
        rotation: 0.0,
        opacity: 1.0,
        easing,
    }
}

/// Where an entrance starts. Slides start one canvas-width (or height) away: fully off screen.
fn enter_from(enter: &str, delay: f64) -> Option<Keyframe> {
    let from = rest(delay, Easing::Linear);
    Some(match enter {
        "fade" => Keyframe {
            opacity: 0.0,
            ..from
        },
        "slide-left" => Keyframe {
            offset: (-1.0, 0.0),
            ..from
        },
        "slide-right" => Keyframe {
            offset: (1.0, 0.0),
            ..from
        },
        "slide-up" => Keyframe {
            offset: (0.0, 1.0),
            ..from
        },
        "slide-down" => Keyframe {
            offset: (0.0, -1.0),
            ..from
        },
        "pop" => Keyframe {
            scale: 0.05,
            opacity: 0.0,
            ..from
        },
        "spin" => Keyframe {
            scale: 0.2,
            rotation: -360.0,
            opacity: 0.0,
            ..from
        },
        _ => return None,
    })
}
