//! `[template]` (name, version, kind, duration, fps, poster frame) and `template`, which
//! decides the order the rest is judged in: presets before kind and duration, regions before
//! the copy that must cover them, pools before the scenes and variants that name them.

use super::*;

/// `[template]` judged, with the presets `[output]` names (they decide kind and duration).
struct Header {
    name: String,
    version: u32,
    kind: Kind,
    duration: f64,
    fps: u32,
    poster_time: f64,
    presets: Vec<(String, Range<usize>)>,
}

/// Every pool, judged.
struct Pools {
    backgrounds: Vec<Background>,
    products: Vec<Product>,
    subtitles: Vec<Subtitle>,
    effects: Vec<Effects>,
    audio: Vec<Audio>,
    badges: Vec<Badge>,
    end_cards: Vec<EndCard>,
}

impl Pools {
    /// Option ids by pool, for the scenes and exclude rules that name them.
    fn ids(&self) -> HashMap<Pool, Vec<String>> {
        fn ids<T>(pool: &[T], id: fn(&T) -> &String) -> Vec<String> {
            pool.iter().map(|o| id(o).clone()).collect()
        }
        HashMap::from([
            (Pool::Background, ids(&self.backgrounds, |o| &o.id)),
            (Pool::Product, ids(&self.products, |o| &o.id)),
            (Pool::Subtitle, ids(&self.subtitles, |o| &o.id)),
            (Pool::Effects, ids(&self.effects, |o| &o.id)),
            (Pool::Badge, ids(&self.badges, |o| &o.id)),
            (Pool::Audio, ids(&self.audio, |o| &o.id)),
            (Pool::EndCard, ids(&self.end_cards, |o| &o.id)),
        ])
    }
}

impl V<'_> {
    pub(super) fn template(&mut self, mut raw: RawTemplate, path: PathBuf) -> Option<Template> {
        let doc = raw.doc_span.clone();
        let output_span = raw
            .output
            .as_ref()
            .map(|o| o.span.clone())
            .unwrap_or(doc.clone());
        let h = self.header(&raw, &output_span);
        let pending = take_overrides(&mut raw.regions);
        let mut regions = self.regions(raw.output.as_ref(), &raw.regions, &output_span);
        let presets = h.presets.iter().map(|(id, _)| id.clone()).collect();
        let output = self.output(raw.output.as_ref(), presets);
        // Presets that cap copy length (Xiaohongshu titles), checked where the copy is written.
        let limits: Vec<(String, u32)> = output
            .presets
            .iter()
            .filter_map(|id| self.presets.get(id))
            .filter_map(|p| p.rules.max_title_chars.map(|m| (p.id.clone(), m)))
            .collect();
        let pools = self.pools(&mut raw, h.duration, &regions, &pending, &limits);
        self.apply_overrides(pending, &mut regions, &doc, h.duration, &limits);
        let ids = pools.ids();
        let scenes = match raw.scene.take() {
            Some(p) if h.kind == Kind::Image => {
                self.err(
                    &p.span,
                    "[[scene]] needs a video template",
                    Some(
                        "scenes split a video's timeline; image presets take one poster frame"
                            .to_string(),
                    ),
                );
                Vec::new()
            }
            Some(p) => self.options("scene", &p, |v, s, id| v.scene(s, id, &ids)),
            None => Vec::new(),
        };
        let raw_orders = raw.variants.as_mut().and_then(|v| v.orders.take());
        let mut variants = self.variants(raw.variants, &ids);
        variants.orders = self.orders(raw_orders.as_ref(), &scenes);
        let dedup = self.dedup(raw.dedup);
        // Every `font` list a text of any region may use: a [[font]] none names is reported.
        let mut named: Vec<&[String]> = Vec::new();
        named.extend(pools.subtitles.iter().map(|s| s.fonts.as_slice()));
        named.extend(pools.badges.iter().map(|b| b.fonts.as_slice()));
        named.extend(pools.end_cards.iter().map(|e| e.fonts.as_slice()));
        for r in &regions {
            named.extend(r.overrides.subtitle.values().map(|s| s.fonts.as_slice()));
        }
        let fonts = self.project_fonts(raw.font.take(), &named);
        let licences = self.licence_book();
        Some(Template {
            path,
            root: self.root.clone(),
            name: h.name,
            version: h.version,
            kind: h.kind,
            duration: h.duration,
            fps: h.fps,
            poster_time: h.poster_time,
            output,
            variants,
            backgrounds: pools.backgrounds,
            products: pools.products,
            subtitles: pools.subtitles,
            effects: pools.effects,
            audio: pools.audio,
            badges: pools.badges,
            end_cards: pools.end_cards,
            scenes,
            regions,
            dedup,
            allow_fallback: self.opts.allow_fallback,
            asset_refs: std::mem::take(&mut self.asset_refs),
            licences,
            fonts,
        })
    }

    fn header(&mut self, raw: &RawTemplate, output_span: &Range<usize>) -> Header {
        let doc = &raw.doc_span;
        // Without [template] we still judge everything else, so the user sees every error.
        let has_header = raw.template.is_some();
        let absent;
        let h = match &raw.template {
            Some(h) => h,
            None => {
                self.missing(
                    "template",
                    doc,
                    "missing required section [template]",
                    Some("add [template] with at least name = \"…\"".to_string()),
                );
                absent = RawHeader::empty(doc.clone());
                &absent
            }
        };
        let name = self.name(h, has_header);
        let version = self.whole(
            h.version.as_ref(),
            |v| (1..=u32::MAX as i64).contains(&v),
            |v| format!("version {v} is out of range"),
            Some("expected an integer ≥ 1"),
        );
        // Presets first: the kind default and the duration limits depend on them.
        let presets = self.presets_list(raw.output.as_ref(), output_span);
        let kind = self.kind(h, &presets);
        let duration = self.duration(h, raw.scene.as_ref(), kind, has_header);
        self.duration_limits(h, raw.scene.as_ref(), &presets);
        let fps = self.int(h.fps(), "fps", 30) as u32;
        let poster_time = self.poster_time(h, kind, duration);
        Header {
            name,
            version: version.unwrap_or(1) as u32,
            kind,
            duration,
            fps,
            poster_time,
            presets,
        }
    }

    fn name(&mut self, h: &RawHeader, has_header: bool) -> String {
        match &h.name {
            Some(n) if n.value.trim().is_empty() => {
                self.err(
                    &n.span,
                    "template name is empty",
                    Some("name the template, e.g. name = \"sneaker-launch\"".to_string()),
                );
                String::new()
            }
            Some(n) => n.value.clone(),
            None => {
                if has_header {
                    self.missing(
                        "name",
                        &h.span,
                        "missing required key `name` in [template]",
                        Some("add name = \"…\"".to_string()),
                    );
                }
                String::new()
            }
        }
    }

    /// `kind` as written, else what the presets make; a written kind must suit every preset.
    fn kind(&mut self, h: &RawHeader, presets: &[(String, Range<usize>)]) -> Kind {
        let makes = |k: PresetKind| {
            presets
                .iter()
                .any(|(p, _)| self.presets.get(p).is_some_and(|p| p.kind == k))
        };
        let default = match (makes(PresetKind::Video), makes(PresetKind::Image)) {
            (true, false) => Kind::Video,
            (false, true) => Kind::Image,
            _ => Kind::Both,
        };
        let Some(k) = &h.kind else { return default };
        let kind = self.pick(Some(k), "kind", Kind::NAMES, default);
        for (id, span) in presets {
            let Some(p) = self.presets.get(id) else {
                continue;
            };
            let clash = match (kind, p.kind) {
                (Kind::Video, PresetKind::Image) => Some("images"),
                (Kind::Image, PresetKind::Video) => Some("videos"),
                _ => None,
            };
            if let Some(makes) = clash {
                self.err(
                    span,
                    format!("preset `{id}` makes {makes}, but [template] kind is `{}`", k.value),
                    Some("set kind = \"both\" (video presets get the video, image presets a poster frame), or drop this preset".to_string()),
                );
            }
        }
        kind
    }

    /// `duration`, or the scenes' total; both written must agree.
    fn duration(
        &mut self,
        h: &RawHeader,
        scenes: Option<&S<Vec<RawScene>>>,
        kind: Kind,
        has_header: bool,
    ) -> f64 {
        let scene_total = scenes.map(scenes_total).filter(|t| *t > 0.0);
        if let (Some(total), Some(d)) = (scene_total, &h.duration) {
            if (total - d.value).abs() > 1e-6 {
                self.err(
                    &d.span,
                    format!(
                        "duration {} s disagrees with the scenes, which add up to {} s",
                        fmt_secs(d.value),
                        fmt_secs(total)
                    ),
                    Some(
                        "remove `duration` (the scenes set it) or fix the scene durations"
                            .to_string(),
                    ),
                );
            }
        }
        match duration_raw(h, scenes) {
            Some(d) if !(d.value > 0.0 && d.value.is_finite()) => {
                self.err(
                    &d.span,
                    format!("duration {} must be positive", d.value),
                    Some("seconds, e.g. duration = 15".to_string()),
                );
                0.0
            }
            Some(d) => d.value,
            None if kind != Kind::Image && has_header => {
                self.missing(
                    "duration",
                    &h.span,
                    "missing required key `duration` in [template]",
                    Some(
                        "a video template needs its length in seconds, e.g. duration = 15"
                            .to_string(),
                    ),
                );
                0.0
            }
            None => 0.0,
        }
    }

    /// The length every video preset allows.
    fn duration_limits(
        &mut self,
        h: &RawHeader,
        scenes: Option<&S<Vec<RawScene>>>,
        presets: &[(String, Range<usize>)],
    ) {
        let Some(d) = duration_raw(h, scenes).filter(|d| d.value > 0.0) else {
            return;
        };
        for (id, _) in presets {
            let Some(p) = self.presets.get(id).filter(|p| p.kind == PresetKind::Video) else {
                continue;
            };
            let limits = format!(
                "{}–{} s",
                fmt_secs(p.min_duration.unwrap_or(0.0)),
                p.max_duration.map(fmt_secs).unwrap_or("∞".into())
            );
            if let Some(max) = p.max_duration.filter(|m| d.value > *m) {
                self.err(
                    &d.span,
                    format!(
                        "duration {} s is longer than preset `{id}` allows ({limits})",
                        fmt_secs(d.value)
                    ),
                    Some(format!(
                        "shorten duration to at most {} s, or remove `{id}` from [output] presets",
                        fmt_secs(max)
                    )),
                );
            }
            if let Some(min) = p.min_duration.filter(|m| d.value < *m) {
                self.err(
                    &d.span,
                    format!("duration {} s is shorter than preset `{id}` allows ({limits})", fmt_secs(d.value)),
                    Some(format!("lengthen duration to at least {} s, or remove `{id}` from [output] presets", fmt_secs(min))),
                );
            }
        }
    }

    fn poster_time(&mut self, h: &RawHeader, kind: Kind, duration: f64) -> f64 {
        match &h.poster_time {
            Some(p) if p.value < 0.0 || (duration > 0.0 && p.value > duration) => {
                self.err(
                    &p.span,
                    format!(
                        "poster_time {} s is outside the video (0–{} s)",
                        fmt_secs(p.value),
                        fmt_secs(duration)
                    ),
                    Some("pick a moment within duration".to_string()),
                );
                0.0
            }
            Some(p) => p.value,
            None if kind == Kind::Image => 0.0,
            None => duration / 3.0,
        }
    }

    fn pools(
        &mut self,
        raw: &mut RawTemplate,
        duration: f64,
        regions: &[Region],
        pending: &[(String, Vec<RawOverride>)],
        limits: &[(String, u32)],
    ) -> Pools {
        let backgrounds = self.backgrounds(raw.background.take(), &raw.doc_span);
        let products = raw
            .product
            .take()
            .map(|p| self.options("product", &p, Self::product));
        // A region that overrides a subtitle (audio) option has its copy (voice-overs)
        // checked option by option in `apply_overrides`, against what it will really show.
        let subtitles = match raw.subtitle.take() {
            Some(p) => {
                let checked = not_overriding(regions, pending, Pool::Subtitle);
                self.subtitles(p, duration, &checked, limits)
            }
            None => Vec::new(),
        };
        let effects = match raw.effects.take() {
            Some(p) => self.options("effects", &p, |v, e, id| v.effect(e, id, duration)),
            // No [[effects]] means "no grading": one implicit option, so a variant always
            // picks one option from every pool.
            None => vec![Effects {
                id: "none".into(),
                ..Effects::default()
            }],
        };
        let audio = match raw.audio.take() {
            Some(p) => {
                let checked = not_overriding(regions, pending, Pool::Audio);
                self.options("audio", &p, |v, a, id| v.audio(a, id, duration, &checked))
            }
            None => vec![Audio::silence()],
        };
        let badges = raw
            .badge
            .take()
            .map(|p| self.options("badge", &p, |v, b, id| v.badge(b, id, regions)));
        let end_cards = raw.end_card.take().map(|p| {
            self.options("end_card", &p, |v, e, id| {
                v.end_card(e, id, duration, regions)
            })
        });
        Pools {
            backgrounds,
            products: products.unwrap_or_default(),
            subtitles,
            effects,
            audio,
            badges: badges.unwrap_or_default(),
            end_cards: end_cards.unwrap_or_default(),
        }
    }
}

/// The written `duration`, else the scenes' total.
fn duration_raw(h: &RawHeader, scenes: Option<&S<Vec<RawScene>>>) -> Option<S<f64>> {
    let scene_total = scenes.map(scenes_total).filter(|t| *t > 0.0);
    h.duration.clone().or_else(|| {
        scene_total.map(|t| S {
            value: t,
            span: scenes.map(|s| s.span.clone()).unwrap_or_default(),
        })
    })
}

/// The regions that override no option of `pool`.
fn not_overriding(
    regions: &[Region],
    pending: &[(String, Vec<RawOverride>)],
    pool: Pool,
) -> Vec<Region> {
    regions
        .iter()
        .filter(|r| {
            !pending
                .iter()
                .any(|(c, o)| *c == r.code && o.iter().any(|o| o.pool == pool))
        })
        .cloned()
        .collect()
}
