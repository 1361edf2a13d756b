//! Layout lint: captions and badges measured where the renderer puts them.
//!
//! Positions are not re-derived: every distinct output of the plan (a preset and region and
//! what the preset shows of a variant, sound and end card aside) is prepared by
//! `render::prepare`, exactly as `render` will, and its `Creative::layout` gives each caption
//! and badge as drawn (the box of its visible pixels, its frames, its colours) and the
//! product's own pixels where they rest. Contrast is measured on `Creative::plate`, the
//! background and product of the frame without any text. So this lint decodes the assets
//! and shapes the copy (no encoding, no frames beyond the plates it measures): it runs in
//! `factory lint`, `plan` and `render` before anything is written. Docs: docs/LINT.md.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use rayon::prelude::*;

use crate::media::Limits;
use crate::plan::{self, AssetHashes, Job, Plan, PlanError, PlanFilter};
use crate::preset::{Preset, PresetSet};
use crate::render::{self, Assets, Mask, Overlay};
use crate::template::{line_col, Direction, Pool, Rgba, Template};
use crate::text::{FontBook, TextCache};

use super::{Finding, RuleSeverity};

/// Share of the frame text may cover at one moment: advice, not a limit. Meta retired its
/// 20 % image-text rule in September 2020; its help text since says "we've found that images
/// with less than 20% text perform better" and recommends short text. Meta's own help page
/// could not be fetched to verify it here; the wording is quoted by e.g.
/// https://m3.agency/news-insights/facebook-removes-text-restrictions-on-paid-ads and
/// https://www.digitalinformationworld.com/2020/09/advertisers-and-graphic-designers-get-a-moment-to-rejoice-as-facebook-lifts-off-restrictions-on-text-content-in-ad-images.html
pub(crate) const MAX_TEXT_SHARE: f64 = 0.20;
/// Least luminance contrast ratio between text and what is behind it: WCAG 2.2 success
/// criterion 1.4.3 asks 3:1 for large text (ad captions are all large at their sizes),
/// https://www.w3.org/TR/WCAG22/#contrast-minimum; ratio and relative luminance as defined
/// there (https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio).
pub(crate) const MIN_CONTRAST: f64 = 3.0;
/// Share of the pixels behind a caption that may fall below `MIN_CONTRAST` before it is
/// reported: a few dark stars behind white text do not make it unreadable.
pub(crate) const LOW_CONTRAST_SHARE: f64 = 0.25;
/// Share of a caption's or badge's box over the product's own pixels (alpha ≥ 50 %) that
/// counts as covering it: anti-aliased edges that merely touch do not.
pub(crate) const OVER_PRODUCT_SHARE: f64 = 0.02;

/// The layout findings of a template and how much was measured.
#[derive(Debug, Default)]
pub struct Layout {
    pub findings: Vec<Finding>,
    /// Distinct outputs prepared and measured.
    pub outputs: usize,
    /// Outputs that could not be prepared (`preset region: error`): render reports them as
    /// failed jobs; here they are only not measured.
    pub unmeasured: Vec<String>,
    /// What preparing the outputs placed and fitted, for the run that follows.
    pub warm: render::Warm,
}

/// Measures the layout of every distinct output of the template's plan. `text` is the
/// template's text (for locations), named `file` in findings.
pub fn check(
    t: &Template,
    file: &Path,
    text: &str,
    presets: &PresetSet,
    fonts: &FontBook,
    max_variants: Option<usize>,
) -> Result<Layout, PlanError> {
    let hashes = AssetHashes::compute(t)?;
    let filter = PlanFilter {
        max_variants,
        ..PlanFilter::default()
    };
    let full = plan::plan(t, presets, &filter, &hashes)?;
    // Sound and end card do not move a caption; outputs that show the same picture layers
    // are measured once.
    let mut seen = HashSet::new();
    let jobs: Vec<Job> = full
        .jobs
        .iter()
        .filter(|j| {
            let Some(p) = presets.get(&j.preset) else {
                return false;
            };
            let mut c = plan::shown(&j.choices, p);
            c.audio = None;
            c.end_card = None;
            seen.insert((j.preset.clone(), j.region.clone(), c))
        })
        .cloned()
        .collect();
    let sub = Plan {
        template: full.template.clone(),
        version: full.version,
        variants: Vec::new(),
        jobs,
        design: None,
    };
    let assets = Assets::load(t, &sub, presets, &Limits::default());
    let cache = TextCache::new(64 << 20);
    let src = render::Sources {
        t,
        assets: &assets,
        fonts,
        text_cache: &cache,
    };
    // Two halves of the outputs measured side by side (jobs come grouped by region, so each
    // half mostly draws its own plates): 1,000 captions took 1.15 s on one thread, the
    // measuring being caption rasterisation the render does anyway (BENCHMARKS.md, *Lint*).
    let workers = rayon::current_num_threads().clamp(1, 2);
    let chunk = sub.jobs.len().div_ceil(workers).max(1);
    let parts: Vec<(Vec<Finding>, usize, Vec<String>)> = sub
        .jobs
        .par_chunks(chunk)
        .map(|jobs| {
            // Plates do not depend on the copy: outputs that differ only in captions and
            // badges (most of a template's variants) share them.
            let mut plates = PlateCache {
                src,
                plates: HashMap::new(),
                full: None,
            };
            let (mut found, mut measured, mut unmeasured) = (Vec::new(), 0, Vec::new());
            for job in jobs {
                let (Some(preset), Some(region)) =
                    (presets.get(&job.preset), t.region(&job.region))
                else {
                    continue;
                };
                let creative = match render::prepare_layout(src, job, preset, region) {
                    Ok(c) => c,
                    Err(e) => {
                        unmeasured.push(format!("{} {}: {e}", job.preset, job.region));
                        continue;
                    }
                };
                measured += 1;
                let mut m = Measure {
                    job,
                    preset,
                    rtl: region.direction == Direction::Rtl,
                    creative: &creative,
                    plates: &mut plates,
                    found: Vec::new(),
                };
                m.run();
                found.extend(m.found);
            }
            (found, measured, unmeasured)
        })
        .collect();
    let mut out = Layout {
        warm: assets.into_warm(),
        ..Layout::default()
    };
    let mut reported = HashSet::new();
    let place = Places::new(text, file);
    for (found, measured, unmeasured) in parts {
        out.outputs += measured;
        out.unmeasured.extend(unmeasured);
        for f in found {
            let key = (
                f.rule.clone(),
                f.preset.clone(),
                f.regions.clone(),
                f.pool.clone(),
                f.option.clone(),
                f.with.clone(),
            );
            if reported.insert(key) {
                out.findings.push(place.locate(f));
            }
        }
    }
    Ok(out)
}

/// One output's measurements.
struct Measure<'a, 'p> {
    job: &'a Job,
    preset: &'a Preset,
    rtl: bool,
    creative: &'a render::Creative,
    plates: &'a mut PlateCache<'p>,
    found: Vec<Finding>,
}

impl Measure<'_, '_> {
    fn run(&mut self) {
        let c = self.creative;
        let still = c.frames == 1;
        for seg in c.layout() {
            // A still shows what is on at its poster frame only.
            let shown: Vec<&Overlay> = seg
                .overlays
                .iter()
                .filter(|o| !still || (o.start..o.end).contains(&c.poster_frame))
                .collect();
            for o in &shown {
                self.safe_zone(o);
                if let Some(p) = seg.product {
                    self.over_product(o, p);
                }
                self.contrast(o, still);
            }
            self.text_share(&shown, still);
        }
    }

    /// The job's choices in the pools a finding depends on, as the manifest names them.
    fn with(&self, pools: &[&str]) -> BTreeMap<String, String> {
        self.job
            .modules
            .iter()
            .filter(|(k, _)| {
                pools.iter().any(|p| {
                    k.as_str() == *p || k.strip_suffix(p).is_some_and(|s| s.ends_with('.'))
                })
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn finding(
        &self,
        o: &Overlay,
        name: &str,
        message: String,
        hint: &str,
        with: BTreeMap<String, String>,
    ) -> Finding {
        Finding {
            rule: format!("layout/{name}"),
            pack: "layout".into(),
            pack_version: LAYOUT_VERSION.into(),
            severity: RuleSeverity::Warning,
            message,
            hint: Some(hint.into()),
            phrase: o.info.copy.clone(),
            regions: vec![self.job.region.clone()],
            locale: self.job.locale.clone(),
            pool: o.info.pool.name().to_string(),
            option: o.info.option.clone(),
            override_region: None,
            field: "layout".into(),
            preset: Some(self.job.preset.clone()),
            with,
            measured: None,
            allowed: None,
            file: Default::default(),
            line: 0,
            column: 0,
            span: 0..0,
        }
    }

    fn safe_zone(&mut self, o: &Overlay) {
        let p = self.preset;
        let z = if self.rtl {
            p.safe_zone_rtl
        } else {
            p.safe_zone
        };
        let (w, h) = (p.width as i64, p.height as i64);
        let [x, y, ow, oh] = o.rect;
        let over = [
            ("left", z.left as i64 - x),
            ("top", z.top as i64 - y),
            ("right", x + ow - (w - z.right as i64)),
            ("bottom", y + oh - (h - z.bottom as i64)),
        ];
        let sides: Vec<String> = over
            .iter()
            .filter(|(_, d)| *d > 0)
            .map(|(s, d)| format!("{d} px past the {s} edge"))
            .collect();
        if sides.is_empty() {
            return;
        }
        let message = format!(
            "{} reaches outside {}'s safe zone ({}; the zone keeps {} px top, {} right, {} bottom, {} left clear of the platform's interface)",
            what(o),
            p.id,
            sides.join(", "),
            z.top,
            z.right,
            z.bottom,
            z.left
        );
        let f = self.finding(
            o,
            "safe-zone",
            message,
            "move or shrink it (anchor, offset, size) so the platform's buttons and captions do not cover it",
            BTreeMap::new(),
        );
        self.found.push(f);
    }

    fn over_product(&mut self, o: &Overlay, product: &Mask) {
        let [x, y, w, h] = o.rect;
        let mut covered = 0u64;
        for py in y..y + h {
            for px in x..x + w {
                if product.at(px, py) >= 128 {
                    covered += 1;
                }
            }
        }
        let share = covered as f64 / (w * h).max(1) as f64;
        if share <= OVER_PRODUCT_SHARE {
            return;
        }
        let with = self.with(&["product"]);
        let product_id = with.values().next().cloned().unwrap_or_default();
        let message = format!(
            "{} covers the product `{product_id}`: {:.0} % of its box lies over the product's own pixels on {}",
            what(o),
            share * 100.0,
            self.preset.id
        );
        let f = self.finding(
            o,
            "over-product",
            message,
            "move it beside the product (position, anchor, offset) or make the product smaller",
            with,
        );
        self.found.push(f);
    }

    fn text_share(&mut self, shown: &[&Overlay], still: bool) {
        let (w, h) = (self.preset.width as i64, self.preset.height as i64);
        let instants: Vec<u32> = if still {
            vec![self.creative.poster_frame]
        } else {
            shown.iter().map(|o| o.start).collect()
        };
        let mut worst: Option<(f64, Vec<&Overlay>)> = None;
        for tf in instants {
            let on: Vec<&Overlay> = shown
                .iter()
                .copied()
                .filter(|o| still || (o.start..o.end).contains(&tf))
                .collect();
            let rects: Vec<[i64; 4]> = on.iter().map(|o| clip(o.rect, w, h)).collect();
            let share = union_area(&rects) as f64 / (w * h) as f64;
            if share > MAX_TEXT_SHARE && worst.as_ref().is_none_or(|(s, _)| share > *s) {
                worst = Some((share, on));
            }
        }
        let Some((share, on)) = worst else {
            return;
        };
        let names: Vec<String> = on.iter().map(|o| what(o)).collect();
        let message = format!(
            "text covers {:.0} % of the {} frame ({}); Meta advises under {:.0} %",
            share * 100.0,
            self.preset.id,
            names.join(" and "),
            MAX_TEXT_SHARE * 100.0
        );
        let with = self.with(&["subtitle", "badge"]);
        let f = self.finding(
            on[0],
            "text-share",
            message,
            "shorten the copy or make it smaller; put the rest in the ad's primary text",
            with,
        );
        self.found.push(f);
    }

    fn contrast(&mut self, o: &Overlay, still: bool) {
        let frames: Vec<u32> = if still {
            vec![self.creative.poster_frame]
        } else {
            let last = o.end.saturating_sub(1).max(o.start);
            let mut f = vec![o.start, o.start + (last - o.start) / 2, last];
            // Where nothing behind the text moves, one instant stands for all three.
            f.dedup_by_key(|tf| self.creative.plate_instant(*tf));
            f
        };
        let text = luminance(o.info.color);
        // The text reads against its outline wherever it has one.
        let outline = o.info.outline.map(|c| ratio(text, luminance(c)));
        if outline.is_some_and(|r| r >= MIN_CONTRAST) {
            return;
        }
        // Nor does a box opaque enough that whatever shows through cannot bring it under
        // the limit: then no plate need be drawn (drawing plates was most of the lint's cost
        // on a catalog of boxed captions, `perf` 2026-12-06).
        if o.info
            .underlay
            .is_some_and(|u| box_contrast(text, u) >= MIN_CONTRAST)
        {
            return;
        }
        let mut worst: Option<(f64, f64, u32)> = None;
        for tf in frames {
            let Some(plate) = self.plates.get(self.job, self.preset, self.creative, tf) else {
                continue;
            };
            let (low, median) = measure_contrast(plate, o.rect, text, o.info.underlay);
            if low > LOW_CONTRAST_SHARE && worst.is_none_or(|(l, _, _)| low > l) {
                worst = Some((low, median, tf));
            }
        }
        let Some((low, median, tf)) = worst else {
            return;
        };
        let at = if still {
            String::new()
        } else {
            format!(" at {:.2} s", tf as f64 / self.creative.fps.max(1) as f64)
        };
        let message = format!(
            "{} is hard to read on {}{at}: contrast {median:.1}:1 (median), {:.0} % of what is behind it under {MIN_CONTRAST}:1 (WCAG 1.4.3, large text)",
            what(o),
            self.preset.id,
            low * 100.0
        );
        let with = self.with(&["background", "product", "effects"]);
        let f = self.finding(
            o,
            "contrast",
            message,
            "give the text an outline or a box, or a colour far lighter or darker than the picture behind it",
            with,
        );
        self.found.push(f);
    }
}

/// Plates already drawn, keyed by what shows on them: preset, region (its overrides and
/// direction move the picture), the choices of every pool but the text and sound ones, and
/// the timeline frame. Kept small: a template of many clip backgrounds would otherwise hold
/// a full-size frame for each.
struct PlateCache<'a> {
    src: render::Sources<'a>,
    plates: HashMap<PlateKey, Option<image::RgbaImage>>,
    /// The output last prepared in full to draw a plate (by its file), which its other
    /// instants reuse: measuring prepares only the layout (`render::prepare_layout`).
    full: Option<(String, Option<render::Creative>)>,
}

type PlateKey = (String, String, Vec<(String, String)>, u32);

/// Plates kept at once by each of the (at most two) workers, each a full-size RGBA frame.
const PLATE_CACHE: usize = 8;

impl PlateCache<'_> {
    /// The plate of `creative` (the output of `job`) at timeline frame `tf`; `None` when it
    /// cannot be drawn.
    fn get(
        &mut self,
        job: &Job,
        preset: &Preset,
        creative: &render::Creative,
        tf: u32,
    ) -> Option<&image::RgbaImage> {
        let tf = creative.plate_instant(tf);
        let picture = job
            .modules
            .iter()
            .filter(|(k, _)| {
                let pool = k.rsplit('.').next().unwrap_or(k);
                !matches!(pool, "subtitle" | "badge" | "audio" | "end_card")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let key = (job.preset.clone(), job.region.clone(), picture, tf);
        if !self.plates.contains_key(&key) {
            if self.plates.len() >= PLATE_CACHE {
                self.plates.clear();
            }
            if self.full.as_ref().is_none_or(|(file, _)| *file != job.file) {
                let region = self.src.t.region(&job.region)?;
                let c = render::prepare(self.src, job, preset, region).ok();
                self.full = Some((job.file.clone(), c));
            }
            let plate = self
                .full
                .as_ref()
                .and_then(|(_, c)| c.as_ref())
                .and_then(|c| c.plate(tf).ok());
            self.plates.insert(key.clone(), plate);
        }
        self.plates.get(&key).and_then(Option::as_ref)
    }
}

/// Version of the layout rules, reported with each finding like a pack's.
pub(crate) const LAYOUT_VERSION: &str = "1.0.0";

fn what(o: &Overlay) -> String {
    match o.info.pool {
        Pool::Badge => format!("badge `{}`", o.info.option),
        _ => format!("caption `{}`", o.info.option),
    }
}

fn clip([x, y, w, h]: [i64; 4], cw: i64, ch: i64) -> [i64; 4] {
    let (x0, y0) = (x.clamp(0, cw), y.clamp(0, ch));
    let (x1, y1) = ((x + w).clamp(0, cw), (y + h).clamp(0, ch));
    [x0, y0, x1 - x0, y1 - y0]
}

/// Area of the union of a few rectangles (coordinate compression).
fn union_area(rects: &[[i64; 4]]) -> i64 {
    let mut xs: Vec<i64> = rects.iter().flat_map(|r| [r[0], r[0] + r[2]]).collect();
    let mut ys: Vec<i64> = rects.iter().flat_map(|r| [r[1], r[1] + r[3]]).collect();
    xs.sort_unstable();
    xs.dedup();
    ys.sort_unstable();
    ys.dedup();
    let mut area = 0;
    for xw in xs.windows(2) {
        for yw in ys.windows(2) {
            let inside = rects.iter().any(|r| {
                r[0] <= xw[0] && xw[1] <= r[0] + r[2] && r[1] <= yw[0] && yw[1] <= r[1] + r[3]
            });
            if inside {
                area += (xw[1] - xw[0]) * (yw[1] - yw[0]);
            }
        }
    }
    area
}

/// WCAG relative luminance of an sRGB colour (alpha ignored).
fn luminance(c: Rgba) -> f64 {
    lum3(c.0[0], c.0[1], c.0[2])
}

fn lum3(r: u8, g: u8, b: u8) -> f64 {
    let lin = linear();
    0.2126 * lin[r as usize] + 0.7152 * lin[g as usize] + 0.0722 * lin[b as usize]
}

/// sRGB channel value → linear light, as WCAG's relative luminance defines it; a table,
/// since every pixel behind every caption goes through it (a `powf` each was most of the
/// lint's time).
fn linear() -> &'static [f64; 256] {
    static TABLE: std::sync::OnceLock<[f64; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|v| {
            let s = v as f64 / 255.0;
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        })
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// `underlay` laid over the colour `c` (straight alpha, rounded to the nearest).
fn under(underlay: Rgba, c: [u8; 3]) -> [u8; 3] {
    let a = underlay.0[3] as u32;
    std::array::from_fn(|k| {
        ((underlay.0[k] as u32 * a + c[k] as u32 * (255 - a) + 127) / 255) as u8
    })
}

/// The least contrast text of luminance `text` can have with `underlay` laid over any
/// picture: each channel of the blend `measure_contrast` computes grows with the picture's
/// channel, and luminance with each channel, so the blend's luminance lies between the
/// blends over black and over white; the contrast is least at the end nearer the text, or 1
/// when the text's luminance lies between them.
fn box_contrast(text: f64, underlay: Rgba) -> f64 {
    let over = |p: u8| {
        let [r, g, b] = under(underlay, [p; 3]);
        lum3(r, g, b)
    };
    let (dark, light) = (over(0), over(255));
    if text <= dark {
        ratio(text, dark)
    } else if text >= light {
        ratio(text, light)
    } else {
        1.0
    }
}

/// Over the box `rect` of `plate` (with `underlay` laid over it first): the share of pixels
/// whose contrast with the text is under `MIN_CONTRAST`, and the median contrast.
fn measure_contrast(
    plate: &image::RgbaImage,
    rect: [i64; 4],
    text: f64,
    underlay: Option<Rgba>,
) -> (f64, f64) {
    let [x, y, w, h] = clip(rect, plate.width() as i64, plate.height() as i64);
    // Runs of equal pixels (one ratio, counted): behind a caption on a flat or slowly varying
    // background nearly every pixel repeats its neighbour, so a caption's 10⁵ pixels are a
    // handful of runs (exact; 1,000 captions on white spent half the lint on the per-pixel
    // list and its median).
    let mut runs: Vec<(f64, u32)> = Vec::new();
    let mut last: Option<[u8; 4]> = None;
    let stride = plate.width() as usize * 4;
    let raw = plate.as_raw();
    for py in y..y + h {
        let row = &raw[py as usize * stride..][..stride];
        for p in row[x as usize * 4..(x + w) as usize * 4].chunks_exact(4) {
            let p = [p[0], p[1], p[2], p[3]];
            if last == Some(p) {
                if let Some(run) = runs.last_mut() {
                    run.1 += 1;
                }
                continue;
            }
            let mut c = [p[0], p[1], p[2]];
            if let Some(u) = underlay {
                c = under(u, c);
            }
            last = Some(p);
            runs.push((ratio(text, lum3(c[0], c[1], c[2])), 1));
        }
    }
    let n: u64 = runs.iter().map(|r| u64::from(r.1)).sum();
    if n == 0 {
        return (0.0, f64::INFINITY);
    }
    let low_n: u64 = runs
        .iter()
        .filter(|r| r.0 < MIN_CONTRAST)
        .map(|r| u64::from(r.1))
        .sum();
    let low = low_n as f64 / n as f64;
    // The median is the element at index n / 2 of the sorted ratios, as before.
    let mid = n / 2;
    let median = if runs.len() <= 4096 {
        runs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut seen = 0u64;
        runs.iter()
            .find(|r| {
                seen += u64::from(r.1);
                seen > mid
            })
            .map_or(f64::INFINITY, |r| r.0)
    } else {
        // A busy picture: few repeats, so a linear selection over every pixel is cheaper
        // than sorting the runs.
        let mut all: Vec<f64> = runs
            .iter()
            .flat_map(|r| std::iter::repeat_n(r.0, r.1 as usize))
            .collect();
        *all.select_nth_unstable_by(mid as usize, f64::total_cmp).1
    };
    (low, median)
}

/// Where each option is written in the template: its `id` value.
struct Places<'a> {
    text: &'a str,
    file: &'a Path,
    spans: HashMap<(String, String), std::ops::Range<usize>>,
}

impl<'a> Places<'a> {
    fn new(text: &'a str, file: &'a Path) -> Places<'a> {
        let mut spans = HashMap::new();
        if let Ok(doc) = toml_edit::ImDocument::parse(text) {
            for pool in ["subtitle", "badge"] {
                if let Some(toml_edit::Item::ArrayOfTables(a)) = doc.as_table().get(pool) {
                    for t in a.iter() {
                        if let Some(v) = t.get("id").and_then(toml_edit::Item::as_value) {
                            if let (Some(id), Some(span)) = (v.as_str(), v.span()) {
                                spans.insert((pool.to_string(), id.to_string()), span);
                            }
                        }
                    }
                }
            }
        }
        Places { text, file, spans }
    }

    fn locate(&self, mut f: Finding) -> Finding {
        let span = self
            .spans
            .get(&(f.pool.clone(), f.option.clone()))
            .cloned()
            .unwrap_or(0..0);
        let (line, column) = line_col(self.text, span.start);
        f.file = self.file.to_path_buf();
        f.line = line;
        f.column = column;
        f.span = span;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wcag_ratios() {
        let white = luminance(Rgba([255, 255, 255, 255]));
        let black = luminance(Rgba([0, 0, 0, 255]));
        assert!((ratio(white, black) - 21.0).abs() < 1e-9);
        // #777 on white is WCAG's well-known 4.48:1.
        let grey = lum3(0x77, 0x77, 0x77);
        assert!((ratio(white, grey) - 4.48).abs() < 0.01);
    }

    #[test]
    fn contrast_runs_give_the_per_pixel_share_and_median() {
        // Stripes of three greys behind white text, and a noisy patch: the figures must be
        // those of the plain per-pixel list.
        let mut plate = image::RgbaImage::new(64, 40);
        let mut seed = 7u32;
        for (x, y, p) in plate.enumerate_pixels_mut() {
            let v = if y < 20 {
                [40u8, 128, 250][(x / 8 % 3) as usize]
            } else {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (seed >> 24) as u8
            };
            *p = image::Rgba([v, v, v, 255]);
        }
        let text = luminance(Rgba::WHITE);
        for rect in [
            [0, 0, 64, 20],
            [0, 0, 64, 40],
            [3, 18, 30, 10],
            [60, 35, 20, 20],
        ] {
            let [x, y, w, h] = clip(rect, 64, 40);
            let mut all: Vec<f64> = Vec::new();
            for py in y..y + h {
                for px in x..x + w {
                    let q = plate.get_pixel(px as u32, py as u32).0;
                    all.push(ratio(text, lum3(q[0], q[1], q[2])));
                }
            }
            let low = all.iter().filter(|r| **r < MIN_CONTRAST).count() as f64 / all.len() as f64;
            let mid = all.len() / 2;
            let median = *all.select_nth_unstable_by(mid, f64::total_cmp).1;
            assert_eq!(
                measure_contrast(&plate, rect, text, None),
                (low, median),
                "{rect:?}"
            );
        }
    }

    #[test]
    fn a_box_bounds_the_contrast_over_any_picture() {
        // Behind each box, every colour a picture can have (a 16-step RGB cube): the least
        // measured contrast is the bound, reached over black or white.
        let mut plate = image::RgbaImage::new(16 * 16, 16);
        for (x, y, p) in plate.enumerate_pixels_mut() {
            let s = |v: u32| (v * 17) as u8;
            *p = image::Rgba([s(x / 16), s(x % 16), s(y), 255]);
        }
        let cases = [
            (
                Rgba([0x1b, 0x1b, 0x1b, 255]),
                Rgba([0xff, 0xd5, 0x4f, 0xee]),
            ),
            (Rgba::WHITE, Rgba([0, 0, 0, 0x99])),
            (Rgba::WHITE, Rgba([0x20, 0x40, 0x90, 0x40])),
            (
                Rgba([0x80, 0x80, 0x80, 255]),
                Rgba([0x80, 0x80, 0x80, 0xf0]),
            ),
        ];
        for (text, box_) in cases {
            let t = luminance(text);
            let bound = box_contrast(t, box_);
            let mut least = f64::INFINITY;
            for x in 0..plate.width() as i64 {
                for y in 0..16 {
                    let (_, m) = measure_contrast(&plate, [x, y, 1, 1], t, Some(box_));
                    least = least.min(m);
                }
            }
            assert!(
                (least - bound).abs() < 1e-12 || (bound == 1.0 && least < MIN_CONTRAST),
                "{text:?} on {box_:?}: bound {bound}, least measured {least}"
            );
        }
        // The catalog's dark text on an amber box needs no plate; white on a faint blue does.
        assert!(box_contrast(luminance(cases[0].0), cases[0].1) >= MIN_CONTRAST);
        assert!(box_contrast(luminance(cases[2].0), cases[2].1) < MIN_CONTRAST);
    }

    #[test]
    fn union_counts_overlap_once() {
        assert_eq!(union_area(&[[0, 0, 10, 10], [5, 5, 10, 10]]), 175);
        assert_eq!(union_area(&[]), 0);
    }
}
