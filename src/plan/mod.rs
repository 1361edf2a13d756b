//! Plan stage: `Template` → `Plan`, the deterministic list of outputs to make.
//!
//! A *variant* is one combination of pool options (numbered `n` from 1 in product order); a
//! *job* is one variant rendered for one region and one preset. Nothing here depends on the
//! clock, thread timing or absolute paths, so the same template gives the same plan, ids and
//! names on every machine.

mod composition;
mod inputs;
pub mod licence;
mod naming;
mod select;
pub mod shard;
pub mod stitch;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::preset::{Preset, PresetKind, PresetSet};
use crate::template::{Pool, Region, Template};

pub use composition::{composition, composition_of};
pub(crate) use inputs::{job_input_paths, job_inputs, InputFile};
pub use naming::{sanitize_file_name, tracking_url};
pub use select::{
    combinations, Design, LeftOut, PairCoverage, DEFAULT_MAX_VARIANTS, MAX_DESIGN_SPACE,
};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: cannot read asset: {source}")]
    Asset {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("unknown preset `{0}` (see `factory presets`)")]
    UnknownPreset(String),
    #[error("region `{0}` is not in the template's [output] regions ({1})")]
    UnknownRegion(String, String),
    #[error("preset filter `{0}` is not among the template's presets ({1})")]
    PresetNotInTemplate(String, String),
    #[error("the template expands to no variants (every combination is excluded)")]
    Empty,
    #[error("full would make {would} variants, more than the limit of {max}; use strategy = \"sample\" with count = N, or raise --max-variants")]
    FullTooLarge { would: String, max: String },
    #[error("sample would make {would} variants, more than the limit of {max}; lower count, or raise --max-variants")]
    SampleTooLarge { would: String, max: String },
    #[error("sample count = {count} is more than the {what}; lower count to {available} or fewer")]
    SampleTooFew {
        count: String,
        what: String,
        available: String,
    },
    #[error("sample found only {found} of {want} variants in {draws} draws: the exclusions leave too few combinations to draw from; lower count, or use strategy = \"full\" with limit")]
    SampleShort {
        want: String,
        found: String,
        draws: String,
    },
    #[error("name pattern `{pattern}`: {message}")]
    Name { pattern: String, message: String },
    #[error("{template}:{line}: [variants] pick {message}")]
    Pick {
        template: String,
        line: usize,
        message: String,
    },
    #[error("distinct and pairwise consider every combination, and the pools make {combinations}, more than {max}; use strategy = \"sample\" with count = N, or exclude combinations")]
    DesignTooLarge { combinations: String, max: String },
}

/// One option index per pool; `None` for a pool the template does not use.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Choices {
    pub background: usize,
    pub product: Option<usize>,
    pub subtitle: Option<usize>,
    pub effects: Option<usize>,
    pub badge: Option<usize>,
    pub audio: Option<usize>,
    pub end_card: Option<usize>,
    /// Per scene, in template order: the option picked in each pool the scene lists itself
    /// (`Pool::SCENE` order; `None` = not listed there, or listed empty). Empty without scenes.
    pub scenes: Vec<[Option<usize>; 5]>,
    /// Play order of the scenes (indices into `Template::scenes`). Empty without scenes.
    pub order: Vec<usize>,
}

impl Choices {
    /// The video-wide choice of a pool.
    pub(crate) fn get(&self, pool: Pool) -> Option<usize> {
        match pool {
            Pool::Background => Some(self.background),
            Pool::Product => self.product,
            Pool::Subtitle => self.subtitle,
            Pool::Effects => self.effects,
            Pool::Badge => self.badge,
            Pool::Audio => self.audio,
            Pool::EndCard => self.end_card,
        }
    }

    pub(crate) fn set(&mut self, pool: Pool, i: usize) {
        match pool {
            Pool::Background => self.background = i,
            Pool::Product => self.product = Some(i),
            Pool::Subtitle => self.subtitle = Some(i),
            Pool::Effects => self.effects = Some(i),
            Pool::Badge => self.badge = Some(i),
            Pool::Audio => self.audio = Some(i),
            Pool::EndCard => self.end_card = Some(i),
        }
    }

    /// What scene `s` (index into `Template::scenes`) shows from `pool`: its own pick when
    /// it lists the pool, else the video-wide choice.
    pub(crate) fn in_scene(&self, t: &Template, s: usize, pool: Pool) -> Option<usize> {
        match (
            t.scenes[s].listed(pool),
            Pool::SCENE.iter().position(|p| *p == pool),
        ) {
            (Some(_), Some(slot)) => self.scenes[s][slot],
            _ => self.get(pool),
        }
    }

    /// Every option of `pool` the variant uses anywhere (video-wide or in a scene).
    pub(crate) fn uses(&self, t: &Template, pool: Pool) -> Vec<usize> {
        if t.scenes.is_empty() || !Pool::SCENE.contains(&pool) {
            return self.get(pool).into_iter().collect();
        }
        let mut v: Vec<usize> = (0..t.scenes.len())
            .filter_map(|s| self.in_scene(t, s, pool))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// `pool name → option id`, in pool order, for manifests and stamps. Scene picks read
    /// `scene.ID.POOL`; the play order `order`.
    pub(crate) fn ids(&self, t: &Template) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for pool in Pool::ALL {
            if !select::pool_is_video_wide(t, pool) {
                continue;
            }
            if let Some(i) = self.get(pool) {
                m.insert(pool.name().to_string(), option_id(t, pool, i).to_string());
            }
        }
        for (s, scene) in t.scenes.iter().enumerate() {
            for (slot, pool) in Pool::SCENE.iter().enumerate() {
                if scene.listed(*pool).is_some() {
                    let id = self.scenes[s][slot]
                        .map(|i| option_id(t, *pool, i).to_string())
                        .unwrap_or_else(|| "none".into());
                    m.insert(format!("scene.{}.{}", scene.id, pool.name()), id);
                }
            }
        }
        if !self.order.is_empty() {
            m.insert(
                "order".into(),
                self.order
                    .iter()
                    .map(|&i| t.scenes[i].id.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        m
    }
}

pub(crate) fn pool_len(t: &Template, pool: Pool) -> usize {
    match pool {
        Pool::Background => t.backgrounds.len(),
        Pool::Product => t.products.len(),
        Pool::Subtitle => t.subtitles.len(),
        Pool::Effects => t.effects.len(),
        Pool::Badge => t.badges.len(),
        Pool::Audio => t.audio.len(),
        Pool::EndCard => t.end_cards.len(),
    }
}

pub(crate) fn option_id(t: &Template, pool: Pool, i: usize) -> &str {
    match pool {
        Pool::Background => &t.backgrounds[i].id,
        Pool::Product => &t.products[i].id,
        Pool::Subtitle => &t.subtitles[i].id,
        Pool::Effects => &t.effects[i].id,
        Pool::Badge => &t.badges[i].id,
        Pool::Audio => &t.audio[i].id,
        Pool::EndCard => &t.end_cards[i].id,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// 1-based, in product order; stable for the same template.
    pub n: u32,
    pub choices: Choices,
}

#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Position in the plan (manifest order).
    pub index: usize,
    pub variant_n: u32,
    /// Content hash: module options, asset bytes, region/locale, preset, render version.
    pub variant_id: String,
    pub choices: Choices,
    pub modules: BTreeMap<String, String>,
    pub region: String,
    pub locale: String,
    pub preset: String,
    pub kind: PresetKind,
    pub width: u32,
    pub height: u32,
    /// Seconds; 0 for images.
    pub duration: f64,
    /// Path relative to the output directory: `REGION/NAME.ext`.
    pub file: String,
    pub tracking: BTreeMap<String, String>,
    pub tracking_url: Option<String>,
    /// Other variants whose output for this preset and region would be the same pixels and
    /// sound (they differ only in what the preset does not show): they are not rendered, and
    /// the manifest gives each of them this job's file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub same_output: Vec<SameOutput>,
}

/// A variant served by another job's file (see [`Job::same_output`]).
#[derive(Debug, Clone, Serialize)]
pub struct SameOutput {
    pub variant_n: u32,
    pub variant_id: String,
    pub choices: Choices,
    pub modules: BTreeMap<String, String>,
    /// The file this variant would have had of its own, for `factory plan` to explain.
    pub own_name: String,
    pub tracking: BTreeMap<String, String>,
    pub tracking_url: Option<String>,
}

/// What of `c` an output of `preset` can show. The renderer ignores the rest
/// (`render::prepare` and `render::segment`): stills have no sound and no end card; a
/// `no_text` preset draws no caption or badge; a `white_background` preset paints over the
/// background and, on a still, skips the look. Two variants whose shown choices are equal
/// make the same output; `tests/it/same_output.rs` renders such pairs apart and compares
/// their pixels, so a change to the renderer that breaks this fails there.
pub(crate) fn shown(c: &Choices, preset: &Preset) -> Choices {
    let mut c = c.clone();
    let still = preset.kind == PresetKind::Image;
    let rules = &preset.rules;
    let drop = |pool: Pool, c: &mut Choices| {
        match pool {
            Pool::Background => c.background = 0,
            Pool::Product => c.product = None,
            Pool::Subtitle => c.subtitle = None,
            Pool::Effects => c.effects = None,
            Pool::Badge => c.badge = None,
            Pool::Audio => c.audio = None,
            Pool::EndCard => c.end_card = None,
        }
        if let Some(slot) = Pool::SCENE.iter().position(|p| *p == pool) {
            for s in &mut c.scenes {
                s[slot] = None;
            }
        }
    };
    if still {
        drop(Pool::Audio, &mut c);
        drop(Pool::EndCard, &mut c);
    }
    if rules.no_text {
        drop(Pool::Subtitle, &mut c);
        drop(Pool::Badge, &mut c);
    }
    if rules.white_background {
        drop(Pool::Background, &mut c);
        if still {
            drop(Pool::Effects, &mut c);
        }
    }
    c
}

/// Whether an output of `job` for `preset` shows anything marked `ai_generated`: only what
/// the preset can show counts (`shown`), since a label on a picture that contains no
/// generated content would be false. A region's override of an option is what it shows.
pub(crate) fn ai_generated(t: &Template, job: &Job, preset: &Preset) -> bool {
    let Some(region) = t.region(&job.region) else {
        return false;
    };
    let c = shown(&job.choices, preset);
    let any = |pool: Pool, is_ai: &dyn Fn(usize) -> bool| c.uses(t, pool).into_iter().any(is_ai);
    // `shown` drops a hidden background to option 0 (it has no "none"), so a painted-over
    // background is recognised by the rule, not by the choice.
    (!preset.rules.white_background
        && any(Pool::Background, &|i| {
            t.background_for(region, i).ai_generated
        }))
        || any(Pool::Product, &|i| t.product_for(region, i).ai_generated)
        || any(Pool::Audio, &|i| t.audio_for(region, i).ai_generated)
        || any(Pool::Badge, &|i| {
            t.badges.get(i).is_some_and(|b| b.ai_generated)
        })
        || any(Pool::EndCard, &|i| {
            t.end_cards.get(i).is_some_and(|e| e.ai_generated)
        })
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub template: String,
    pub version: u32,
    pub variants: Vec<Variant>,
    pub jobs: Vec<Job>,
    /// What a `distinct` or `pairwise` strategy left out, and the pairs it covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub design: Option<Design>,
}

/// Which part of the template's plan to make (`--presets`, `--regions`), and how big a plan
/// may be (`--max-variants`).
#[derive(Debug, Clone, Default)]
pub struct PlanFilter {
    pub presets: Option<Vec<String>>,
    pub regions: Option<Vec<String>>,
    /// Refuse a plan of more variants than this; `None` = `DEFAULT_MAX_VARIANTS`.
    pub max_variants: Option<usize>,
}

/// `100000000` → `100,000,000`: counts that size are misread without separators.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// sha256 of every asset file the template names, computed once per run.
#[derive(Debug, Clone, Default)]
pub struct AssetHashes(pub HashMap<PathBuf, String>);

impl AssetHashes {
    pub fn compute(t: &Template) -> Result<AssetHashes, PlanError> {
        let mut map = HashMap::new();
        for path in asset_paths(t) {
            if map.contains_key(&path) {
                continue;
            }
            let digest = sha256_file(&path).map_err(|source| PlanError::Asset {
                path: path.clone(),
                source,
            })?;
            map.insert(path, digest);
        }
        Ok(AssetHashes(map))
    }

    pub(crate) fn get(&self, p: &Path) -> &str {
        self.0.get(p).map(String::as_str).unwrap_or("")
    }

    /// The template's product files (every region's) by sha256: what a composition's
    /// product `AssetRef` names, for the gate to compare product files (`dedup::product`).
    pub(crate) fn product_files(&self, t: &Template) -> HashMap<String, PathBuf> {
        let sources = t.products.iter().map(|p| &p.source).chain(
            t.regions
                .iter()
                .flat_map(|r| r.overrides.product.values().map(|p| &p.source)),
        );
        sources
            .filter_map(|s| Some((self.0.get(s)?.clone(), s.clone())))
            .collect()
    }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Every media file the template refers to, in template order.
pub(crate) fn asset_paths(t: &Template) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    v.extend(
        t.backgrounds
            .iter()
            .filter_map(|b| b.source.path().cloned()),
    );
    v.extend(t.products.iter().map(|p| p.source.clone()));
    v.extend(t.audio.iter().flat_map(|a| a.files().cloned()));
    v.extend(t.end_cards.iter().filter_map(|e| e.logo.clone()));
    v.extend(
        t.effects
            .iter()
            .filter_map(|e| e.lut.as_ref().map(|l| l.path.clone())),
    );
    v.extend(t.fonts.iter().map(|f| f.path.clone()));
    // A region may swap in its own assets (a localised product shot, a voice track).
    for r in &t.regions {
        let o = &r.overrides;
        v.extend(
            o.background
                .values()
                .filter_map(|b| b.source.path().cloned()),
        );
        v.extend(o.product.values().map(|p| p.source.clone()));
        v.extend(o.audio.values().flat_map(|a| a.files().cloned()));
        v.extend(
            o.effects
                .values()
                .filter_map(|e| e.lut.as_ref().map(|l| l.path.clone())),
        );
    }
    v
}

/// Whether two combinations of a template would be held back by the duplicate gate as
/// composition duplicates, judged on every preset and region the template makes (so a
/// `--presets`/`--regions` run plans the same variants), and why. Shared by the `distinct`
/// and `pairwise` designs and by `factory results next`.
pub(crate) struct DesignJudge<'t> {
    t: &'t Template,
    presets: Vec<&'t Preset>,
    hashes: &'t AssetHashes,
    cfg: crate::dedup::GateConfig,
    /// Per combination: its composition in every region × preset, and what each preset
    /// shows of it. Two variants a preset shows alike share one file there (`render_once`):
    /// that is one upload, not a duplicate pair.
    made: HashMap<u128, (Vec<crate::dedup::Composition>, Vec<Choices>)>,
}

impl<'t> DesignJudge<'t> {
    pub(crate) fn new(t: &'t Template, presets: &'t PresetSet, hashes: &'t AssetHashes) -> Self {
        DesignJudge {
            t,
            presets: t
                .output
                .presets
                .iter()
                .filter_map(|id| presets.get(id))
                .collect(),
            hashes,
            cfg: crate::dedup::GateConfig::default(),
            made: HashMap::new(),
        }
    }

    /// `nk`/`ok` identify the combinations (product indices) for caching.
    pub(crate) fn judge(
        &mut self,
        new: &Choices,
        nk: u128,
        old: &Choices,
        ok: u128,
    ) -> Option<String> {
        let (t, hashes) = (self.t, self.hashes);
        for (c, k) in [(new, nk), (old, ok)] {
            let presets = &self.presets;
            self.made.entry(k).or_insert_with(|| {
                let comps = t
                    .regions
                    .iter()
                    .flat_map(|r| {
                        presets
                            .iter()
                            .map(move |p| composition_of(t, c, r, p, hashes))
                    })
                    .collect();
                let shows = presets.iter().map(|p| shown(c, p)).collect();
                (comps, shows)
            });
        }
        let (a, b) = (&self.made[&nk], &self.made[&ok]);
        let n = self.presets.len();
        a.0.iter()
            .zip(&b.0)
            .enumerate()
            .filter(|(i, _)| a.1[i % n] != b.1[i % n])
            .find_map(|(_, (x, y))| {
                crate::dedup::composition_rule(x, y, &self.cfg).map(|(rule, dims)| {
                    format!(
                        "{} {}: {}",
                        x.region.as_deref().unwrap_or(""),
                        x.preset,
                        crate::dedup::composition_reason("the kept variant", rule, &dims)
                    )
                })
            })
    }
}

/// Expands the template into its plan.
pub fn plan(
    t: &Template,
    presets: &PresetSet,
    filter: &PlanFilter,
    hashes: &AssetHashes,
) -> Result<Plan, PlanError> {
    // The variants never depend on `--presets`/`--regions`: a subset run must make the same
    // variants as the whole batch, so designs judge duplicates on every preset and region.
    let mut judge = DesignJudge::new(t, presets, hashes);
    let mut judge =
        |new: &Choices, nk: u128, old: &Choices, ok: u128| judge.judge(new, nk, old, ok);
    let (variants, design) = select::variants(
        t,
        filter.max_variants.unwrap_or(select::DEFAULT_MAX_VARIANTS),
        &mut judge,
    )?;
    if variants.is_empty() {
        return Err(PlanError::Empty);
    }

    let all_presets = t.output.presets.join(", ");
    let preset_ids: Vec<&String> = match &filter.presets {
        Some(want) => {
            for p in want {
                if !t.output.presets.contains(p) {
                    return Err(PlanError::PresetNotInTemplate(p.clone(), all_presets));
                }
            }
            t.output
                .presets
                .iter()
                .filter(|p| want.contains(p))
                .collect()
        }
        None => t.output.presets.iter().collect(),
    };
    let preset_list: Vec<&Preset> = preset_ids
        .iter()
        .map(|id| {
            presets
                .get(id)
                .ok_or_else(|| PlanError::UnknownPreset((*id).clone()))
        })
        .collect::<Result<_, _>>()?;

    let all_regions = t
        .regions
        .iter()
        .map(|r| r.code.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let regions: Vec<&Region> = match &filter.regions {
        Some(want) => {
            for w in want {
                if !t.regions.iter().any(|r| r.code.eq_ignore_ascii_case(w)) {
                    return Err(PlanError::UnknownRegion(w.clone(), all_regions));
                }
            }
            t.regions
                .iter()
                .filter(|r| want.iter().any(|w| w.eq_ignore_ascii_case(&r.code)))
                .collect()
        }
        None => t.regions.iter().collect(),
    };

    let digests = Digests::new(hashes);
    let mut jobs = Vec::with_capacity(regions.len() * variants.len() * preset_list.len());
    let mut names = naming::NameSet::default();
    // Per job: the id of what it shows (its variant id when it shows everything).
    let mut output_keys: Vec<String> = Vec::with_capacity(jobs.capacity());
    for region in &regions {
        let mut ids = IdParts::new(t, region, &digests);
        for v in &variants {
            let modules = v.choices.ids(t);
            for preset in &preset_list {
                let variant_id = ids.variant_id(&v.choices, preset);
                let ctx = naming::NameContext {
                    t,
                    region,
                    preset,
                    n: v.n,
                    variant_id: &variant_id,
                };
                let pattern = match preset.kind {
                    PresetKind::Video => &t.output.name,
                    PresetKind::Image => &t.output.image_name,
                };
                let parts = naming::expand_parts(pattern, &ctx).map_err(|e| PlanError::Name {
                    pattern: pattern.clone(),
                    message: e.to_string(),
                })?;
                let stem = names.unique_parts(&region.code, &parts);
                let file = format!("{}/{}.{}", region.code, stem, preset.extension());
                let mut tracking = BTreeMap::new();
                for (k, pat) in &t.output.tracking {
                    let val = naming::expand(pat, &ctx).map_err(|e| PlanError::Name {
                        pattern: pat.clone(),
                        message: e.to_string(),
                    })?;
                    tracking.insert(k.clone(), val);
                }
                let tracking_url = t
                    .output
                    .landing_url
                    .as_ref()
                    .map(|u| tracking_url(u, &tracking));
                jobs.push(Job {
                    index: jobs.len(),
                    variant_n: v.n,
                    variant_id,
                    choices: v.choices.clone(),
                    modules: modules.clone(),
                    region: region.code.clone(),
                    locale: region.locale.clone(),
                    preset: preset.id.clone(),
                    kind: preset.kind,
                    width: preset.width,
                    height: preset.height,
                    duration: if preset.kind == PresetKind::Video {
                        t.duration
                    } else {
                        0.0
                    },
                    file,
                    tracking,
                    tracking_url,
                    same_output: Vec::new(),
                });
                let shown = shown(&v.choices, preset);
                let key = if shown == v.choices {
                    jobs.last()
                        .map(|j| j.variant_id.clone())
                        .unwrap_or_default()
                } else {
                    ids.variant_id(&shown, preset)
                };
                output_keys.push(key);
            }
        }
    }
    let jobs = render_once(jobs, &output_keys);
    Ok(Plan {
        template: t.name.clone(),
        version: t.version,
        variants,
        jobs,
        design,
    })
}

/// Jobs of one region and preset that show the same choices become one job whose
/// `same_output` lists the others; the rest keep their order and are numbered again.
fn render_once(jobs: Vec<Job>, keys: &[String]) -> Vec<Job> {
    let mut first: HashMap<(String, String, String), usize> = HashMap::new();
    let mut out: Vec<Job> = Vec::with_capacity(jobs.len());
    for (job, key) in jobs.into_iter().zip(keys) {
        let k = (key.clone(), job.region.clone(), job.preset.clone());
        match first.get(&k) {
            Some(&i) => out[i].same_output.push(SameOutput {
                variant_n: job.variant_n,
                variant_id: job.variant_id,
                choices: job.choices,
                modules: job.modules,
                own_name: job.file,
                tracking: job.tracking,
                tracking_url: job.tracking_url,
            }),
            None => {
                first.insert(k, out.len());
                let index = out.len();
                out.push(Job { index, ..job });
            }
        }
    }
    out
}

/// Asset digests keyed by the path's `Debug` form, which is how a path appears inside an
/// option's `Debug` string.
struct Digests(HashMap<String, String>);

impl Digests {
    fn new(hashes: &AssetHashes) -> Digests {
        Digests(
            hashes
                .0
                .iter()
                .map(|(path, digest)| (format!("{path:?}"), digest.clone()))
                .collect(),
        )
    }

    /// `s` with every quoted asset path replaced by the asset's digest. Looking each quoted
    /// token up, instead of searching `s` for every asset, keeps an id's cost independent of
    /// how many assets the template has (10⁴ pictures × 10⁵ variants was the slow part).
    fn swap_paths(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(open) = rest.find('"') {
            out.push_str(&rest[..open]);
            let tail = &rest[open..];
            let b = tail.as_bytes();
            let mut end = 1;
            while end < b.len() && b[end] != b'"' {
                // `Debug` escapes are `\` and one ASCII character (`\"`, `\\`, `\u{…}`).
                end += if b[end] == b'\\' { 2 } else { 1 };
            }
            let end = (end + 1).min(tail.len());
            let token = &tail[..end];
            out.push_str(self.0.get(token).map_or(token, String::as_str));
            rest = &tail[end..];
        }
        out.push_str(rest);
        out
    }
}

/// What every id of one region is made of, prepared once: an option's definition is
/// formatted and its paths swapped once per region, not once per job.
struct IdParts<'a> {
    t: &'a Template,
    region: &'a Region,
    digests: &'a Digests,
    options: HashMap<(Pool, usize), String>,
    scenes: Option<String>,
}

impl<'a> IdParts<'a> {
    fn new(t: &'a Template, region: &'a Region, digests: &'a Digests) -> IdParts<'a> {
        IdParts {
            t,
            region,
            digests,
            options: HashMap::new(),
            scenes: None,
        }
    }

    /// A short content hash of what one output is made of. Module options are hashed
    /// through their `Debug` form with every asset path replaced by the asset's sha256, so
    /// moving the project to another directory or machine keeps the ids.
    fn variant_id(&mut self, c: &Choices, preset: &Preset) -> String {
        let (t, region, digests) = (self.t, self.region, self.digests);
        let mut h = Sha256::new();
        let mut feed = |label: &str, s: &str| {
            h.update(label.as_bytes());
            h.update([0]);
            h.update(s.as_bytes());
            h.update([0]);
        };
        feed("render", &crate::RENDER_VERSION.to_string());
        feed(
            "timeline",
            &digests.swap_paths(&format!("{} {} {}", t.duration, t.fps, t.poster_time)),
        );
        feed(
            "region",
            &digests.swap_paths(&format!(
                "{} {} {:?}",
                region.code, region.locale, region.direction
            )),
        );
        feed(
            "preset",
            &digests.swap_paths(&format!(
                "{:?}",
                (
                    &preset.id,
                    preset.width,
                    preset.height,
                    &preset.video,
                    &preset.audio,
                    &preset.image,
                    &preset.rules,
                    preset.safe_zone
                )
            )),
        );
        // Every option the variant shows, wherever it shows it, then where: the scene picks
        // and the order.
        for pool in Pool::ALL {
            for i in c.uses(t, pool) {
                let def = self.options.entry((pool, i)).or_insert_with(|| {
                    digests.swap_paths(&match pool {
                        Pool::Background => format!("{:?}", t.background_for(region, i)),
                        Pool::Product => format!("{:?}", t.product_for(region, i)),
                        Pool::Subtitle => format!("{:?}", t.subtitle_for(region, i)),
                        Pool::Effects => format!("{:?}", t.effects_for(region, i)),
                        Pool::Audio => format!("{:?}", t.audio_for(region, i)),
                        Pool::Badge => format!("{:?}", t.badges[i]),
                        Pool::EndCard => format!("{:?}", t.end_cards[i]),
                    })
                });
                feed(pool.name(), def);
            }
        }
        if !t.fonts.is_empty() {
            // A text names its font by family; the template's own font files are what those
            // names draw with, so a new version of one is a new output. (Templates without
            // [[font]] feed nothing here, which keeps their ids.)
            feed("fonts", &digests.swap_paths(&format!("{:?}", t.fonts)));
        }
        if !t.scenes.is_empty() {
            // The picks and the order are numbers: only the scenes' definitions hold paths.
            let scenes = self
                .scenes
                .get_or_insert_with(|| digests.swap_paths(&format!("{:?}", t.scenes)));
            feed("scenes", &format!("{scenes} {:?} {:?}", c.scenes, c.order));
        }
        hex::encode(&h.finalize()[..8])
    }
}
