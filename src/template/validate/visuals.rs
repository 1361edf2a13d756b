//! Backgrounds and products.

use super::*;

impl V<'_> {
    pub(super) fn backgrounds(
        &mut self,
        pool: Option<S<Vec<RawBackground>>>,
        doc: &Range<usize>,
    ) -> Vec<Background> {
        let Some(pool) = pool else {
            self.missing(
                "background",
                doc,
                "missing required pool [[background]]",
                Some("add e.g. [[background]] id = \"white\" color = \"#ffffff\"".to_string()),
            );
            return Vec::new();
        };
        self.options("background", &pool, |v, b, id| v.background(b, id))
    }

    fn background(&mut self, b: &RawBackground, id: String) -> Background {
        self.source_keys(b, &id);
        let source = self.source(b, &id);
        self.licence(
            b.licence.as_ref(),
            source.path().map(PathBuf::as_path),
            &format!("background `{id}`"),
        );
        let fit = self.pick(b.fit.as_ref(), "fit", Fit::NAMES, Fit::Cover);
        let pad = self.color(b.pad.as_ref(), Rgba::BLACK);
        let motion = self.ken_burns(b.motion.as_ref());
        Background {
            id,
            source,
            fit,
            pad,
            motion,
            ai_generated: flag(&b.ai_generated),
        }
    }

    /// Exactly one source; `loop` and `start` only with a video.
    fn source_keys(&mut self, b: &RawBackground, id: &str) {
        let given: Vec<(&str, Range<usize>)> = [
            ("color", b.color.as_ref().map(|c| c.span.clone())),
            ("gradient", b.gradient.as_ref().map(|g| g.span.clone())),
            ("image", b.image.as_ref().map(|c| c.span.clone())),
            ("video", b.video.as_ref().map(|c| c.span.clone())),
        ]
        .into_iter()
        .filter_map(|(n, s)| s.map(|s| (n, s)))
        .collect();
        let misspelt = ["color", "gradient", "image", "video"]
            .iter()
            .any(|k| self.dx.was_bad(b.span.start, k));
        if given.is_empty() && !misspelt {
            self.err(
                &b.span,
                format!("background `{id}` has no source"),
                Some("set exactly one of color, gradient, image or video".to_string()),
            );
        } else if given.len() > 1 {
            let names: Vec<&str> = given.iter().map(|(n, _)| *n).collect();
            self.err(
                &given[1].1,
                format!(
                    "background `{id}` sets {}; only one source is allowed",
                    names.join(" and ")
                ),
                Some("split it into separate [[background]] options".to_string()),
            );
        }
        if b.video.is_none() {
            self.only_with(
                &[("loop", span_of(&b.looped)), ("start", span_of(&b.start))],
                |key| format!("`{key}` only applies to a video background"),
                "remove it, or use video = \"…\"",
            );
        }
    }

    fn source(&mut self, b: &RawBackground, id: &str) -> BackgroundSource {
        if let Some(c) = &b.color {
            BackgroundSource::Color(self.color(Some(c), Rgba::BLACK))
        } else if let Some(g) = &b.gradient {
            if g.from.is_none() || g.to.is_none() {
                self.missing(
                    "from",
                    &g.span,
                    format!("gradient of background `{id}` needs both `from` and `to`"),
                    Some(
                        "e.g. gradient = { from = \"#ffffff\", to = \"#dddddd\", angle = 0 }"
                            .to_string(),
                    ),
                );
            }
            let from = self.color(g.from.as_ref(), Rgba::BLACK);
            let to = self.color(g.to.as_ref(), Rgba::BLACK);
            let angle = self.num(g.angle(), "angle", 0.0) as f32;
            BackgroundSource::Gradient { from, to, angle }
        } else if let Some(i) = &b.image {
            BackgroundSource::Image(self.asset(i).unwrap_or_default())
        } else if let Some(vid) = &b.video {
            let path = self.asset(vid).unwrap_or_default();
            let start = self.num(b.start(), "start", 0.0);
            BackgroundSource::Video {
                path,
                looped: b.looped.as_ref().map(|l| l.value).unwrap_or(true),
                start,
            }
        } else {
            BackgroundSource::Color(Rgba::BLACK)
        }
    }

    pub(super) fn shadow(&mut self, s: Option<&RawShadow>) -> Option<Shadow> {
        let s = s?;
        let color = self.color(s.color.as_ref(), Rgba([0, 0, 0, 128]));
        let offset = s.offset.as_ref().map(|o| o.value).unwrap_or((0.01, 0.01));
        let blur = self.num(s.blur(), "blur", 0.02);
        Some(Shadow {
            color,
            offset: (offset.0 as f32, offset.1 as f32),
            blur: blur as f32,
        })
    }

    /// One `[[product]]` option.
    pub(super) fn product(&mut self, p: &RawProduct, id: String) -> Product {
        let source = match &p.source {
            Some(s) => self.asset(s).unwrap_or_default(),
            None => {
                self.missing(
                    "source",
                    &p.span,
                    format!("missing required key `source` in product `{id}`"),
                    Some(
                        "point it at an RGBA cut-out, e.g. source = \"samples/product/shoe.png\""
                            .to_string(),
                    ),
                );
                PathBuf::new()
            }
        };
        self.licence(
            p.licence.as_ref(),
            Some(source.as_path()).filter(|s| !s.as_os_str().is_empty()),
            &format!("product `{id}`"),
        );
        let anchor = self.anchor(p.anchor.as_ref(), Anchor::Center);
        let scale = self.num(p.scale(), "scale", 0.6) as f32;
        let offset = p.offset.as_ref().map(|o| o.value).unwrap_or((0.0, 0.0));
        if let Some(o) = &p.offset {
            if o.value.0.abs() > 1.0 || o.value.1.abs() > 1.0 {
                self.err(
                    &o.span,
                    format!(
                        "offset [{}, {}] moves the product off the canvas",
                        o.value.0, o.value.1
                    ),
                    Some("offsets are fractions of the canvas, -1..=1".to_string()),
                );
            }
        }
        let rotation = self.num(p.rotation(), "rotation", 0.0) as f32;
        let shadow = self.shadow(p.shadow.as_ref());
        let (keyframes, idle) = self.product_motion(&id, p.motion.as_ref(), p.keyframes.as_ref());
        let parallax = self.num(p.parallax(), "parallax", 0.0) as f32;
        Product {
            id,
            source,
            anchor,
            scale,
            offset: (offset.0 as f32, offset.1 as f32),
            rotation,
            shadow,
            keyframes,
            idle,
            parallax,
            ai_generated: flag(&p.ai_generated),
        }
    }
}
