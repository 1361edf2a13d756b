//! Badges and end cards.

use super::*;

impl V<'_> {
    /// One `[[badge]]` option.
    pub(super) fn badge(&mut self, b: &RawBadge, id: String, regions: &[Region]) -> Badge {
        let shape = self.pick(
            b.shape.as_ref(),
            "badge shape",
            BadgeShape::NAMES,
            BadgeShape::Tag,
        );
        let text = b
            .text
            .as_ref()
            .map(|t| self.locale_map(t, &format!("badge `{id}`")))
            .unwrap_or_default();
        if let Some(t) = &b.text {
            let what = Localised {
                option: "badge",
                thing: "copy",
                example: "\"…\"",
            };
            self.check_locales(&what, &id, &t.span, &text, regions);
        }
        let start = self.num(b.start(), "start", 0.0);
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
        Badge {
            shape,
            text,
            fill: self.color(b.fill.as_ref(), Rgba([0xe5, 0x39, 0x35, 255])),
            text_color: self.color(b.text_color.as_ref(), Rgba::WHITE),
            fonts: self.fonts(b.font.as_ref()),
            anchor: self.anchor(b.anchor.as_ref(), Anchor::TopRight),
            size: self.num(b.size(), "size", 0.28) as f32,
            offset: (offset.0 as f32, offset.1 as f32),
            rotation: self.num(b.rotation(), "rotation", 0.0) as f32,
            start,
            end,
            animation: self.pick(
                b.animation.as_ref(),
                "badge animation",
                &Animation::NAMES[..4],
                Animation::Pop,
            ),
            ai_generated: flag(&b.ai_generated),
            id,
        }
    }

    pub(super) fn fonts(&mut self, f: Option<&S<Vec<S<String>>>>) -> Vec<String> {
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

    /// One `[[end_card]]` option.
    pub(super) fn end_card(
        &mut self,
        e: &RawEndCard,
        id: String,
        duration: f64,
        regions: &[Region],
    ) -> EndCard {
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
            let option = format!("end card `{id}` ({what})");
            let map = t
                .as_ref()
                .map(|t| self.locale_map(t, &option))
                .unwrap_or_default();
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
        let mut transition = self.transition(e.transition.as_ref(), &format!("end card `{id}`"));
        if e.transition.is_none() {
            transition = Transition {
                kind: TransitionKind::Crossfade,
                duration: 0.4,
                easing: Easing::EaseInOut,
            };
        }
        let logo = e.logo.as_ref().and_then(|l| self.asset(l));
        self.licence(
            e.licence.as_ref(),
            logo.as_deref(),
            &format!("end card `{id}` (its logo)"),
        );
        EndCard {
            duration: d,
            background: self.color(e.background.as_ref(), Rgba::WHITE),
            logo,
            headline,
            price,
            cta,
            cta_color: self.color(e.cta_color.as_ref(), Rgba([0xe5, 0x39, 0x35, 255])),
            text_color: self.color(e.text_color.as_ref(), Rgba([0x21, 0x21, 0x21, 255])),
            fonts: self.fonts(e.font.as_ref()),
            transition,
            ai_generated: flag(&e.ai_generated),
            id,
        }
    }
}
