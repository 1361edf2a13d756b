//! The validated template: what every later stage reads.
//!
//! Everything here has already been checked (paths exist and stay inside the template's root,
//! colours parse, pools are non-empty, presets exist), so later stages never re-validate.
//! Paths are absolute. The raw, span-carrying form lives in `raw.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

pub use super::owned::{Licence, ProjectFont};
pub use crate::formats::cues::Cue;
pub use crate::formats::lut::Lut;

/// An enum a template names: each variant declared once with the name a template writes
/// (and serialises) for it. `NAMES` lists (name, variant) in declaration order, the order
/// hints list them in.
macro_rules! named {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $key:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $key)] $variant, )*
        }

        impl $name {
            pub const NAMES: &'static [(&'static str, $name)] = &[$(($key, $name::$variant)),*];
        }
    };
}

pub use crate::color::Rgba;
pub use crate::text::Direction;

named! {
    #[derive(Copy)]
    pub enum Kind {
        Video = "video",
        Image = "image",
        Both = "both",
    }
}

#[derive(Debug, Clone)]
pub struct Template {
    /// The template file, absolute.
    pub path: PathBuf,
    /// Directory every relative path is resolved against; paths may not escape it.
    pub root: PathBuf,
    pub name: String,
    pub version: u32,
    pub kind: Kind,
    /// Seconds, for video presets.
    pub duration: f64,
    pub fps: u32,
    /// Seconds into the video timeline at which image presets take their poster frame.
    pub poster_time: f64,
    pub output: Output,
    pub variants: VariantsSpec,
    pub backgrounds: Vec<Background>,
    pub products: Vec<Product>,
    pub subtitles: Vec<Subtitle>,
    pub effects: Vec<Effects>,
    pub audio: Vec<Audio>,
    /// Stickers and badges (price tags, bursts, ribbons); empty = none.
    pub badges: Vec<Badge>,
    /// End cards (logo, price, call to action) closing the video; empty = none.
    pub end_cards: Vec<EndCard>,
    /// The video as a sequence of scenes, in template order; empty = one scene spanning
    /// the whole duration, made of the variant's pool choices.
    pub scenes: Vec<Scene>,
    /// Regions the output section names, resolved to locales, in template order.
    pub regions: Vec<Region>,
    pub dedup: DedupSpec,
    /// A region with no copy in its locale chain shows the option's default copy (see
    /// `default_copy_locale`) instead of failing validation (`--allow-fallback`).
    pub allow_fallback: bool,
    /// Each input file (absolute) with the span of the value that first names it, so
    /// problems found in the file later (`media::probe`) point at the template's key.
    pub asset_refs: Vec<(PathBuf, std::ops::Range<usize>)>,
    /// Licences of the template's media files, by canonical path: written on an option or
    /// in an `assets.toml` beside the file (docs/TEMPLATE.md, *Licences*).
    pub licences: std::collections::BTreeMap<PathBuf, Licence>,
    /// Font files the template brings (`[[font]]`), added to the system's for its text.
    pub fonts: Vec<ProjectFont>,
}

/// The option a region really uses: its `[region.override…]` version when it has one.
/// `i` is the option's index in its pool, as in a variant's choice.
impl Template {
    /// The region a job names by its code.
    pub fn region(&self, code: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.code == code)
    }

    /// The system's fonts and the template's own (`[[font]]`), which validation has read
    /// already: a file changed or removed since is reported as the error it now is.
    pub fn font_book(&self) -> Result<crate::text::FontBook, crate::text::TextError> {
        let mut book = crate::text::FontBook::system();
        for f in &self.fonts {
            book.add_file(&f.path)?;
        }
        Ok(book)
    }

    pub fn background_for<'a>(&'a self, region: &'a Region, i: usize) -> &'a Background {
        overridden(&region.overrides.background, &self.backgrounds, i)
    }

    pub fn product_for<'a>(&'a self, region: &'a Region, i: usize) -> &'a Product {
        overridden(&region.overrides.product, &self.products, i)
    }

    pub fn subtitle_for<'a>(&'a self, region: &'a Region, i: usize) -> &'a Subtitle {
        overridden(&region.overrides.subtitle, &self.subtitles, i)
    }

    /// The ad text of subtitle option `i` as `region` shows it: each field in the first locale
    /// of its chain that has it (or, with `allow_fallback`, the default copy).
    pub fn ad_text_for(&self, region: &Region, i: usize) -> BTreeMap<String, String> {
        self.subtitle_for(region, i)
            .ad_text
            .iter()
            .filter_map(|(field, texts)| {
                let text = locale_lookup(texts, region).ok().or_else(|| {
                    self.allow_fallback
                        .then(|| default_copy_locale(texts).and_then(|l| texts.get(l)))
                        .flatten()
                })?;
                Some((field.clone(), text.clone()))
            })
            .collect()
    }

    pub fn effects_for<'a>(&'a self, region: &'a Region, i: usize) -> &'a Effects {
        overridden(&region.overrides.effects, &self.effects, i)
    }

    pub fn audio_for<'a>(&'a self, region: &'a Region, i: usize) -> &'a Audio {
        overridden(&region.overrides.audio, &self.audio, i)
    }

    /// Where the template first names `path` (a byte range of its text).
    pub fn asset_span(&self, path: &std::path::Path) -> Option<std::ops::Range<usize>> {
        self.asset_refs
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, s)| s.clone())
    }

    /// Start of each scene in seconds, in the given play order (indices into `scenes`).
    pub fn scene_starts(&self, order: &[usize]) -> Vec<f64> {
        let mut t = 0.0;
        order
            .iter()
            .map(|&i| {
                let s = t;
                t += self.scenes[i].duration;
                s
            })
            .collect()
    }
}

fn overridden<'a, T>(overrides: &'a BTreeMap<usize, T>, pool: &'a [T], i: usize) -> &'a T {
    overrides.get(&i).unwrap_or(&pool[i])
}

/// The locales a region's copy is looked up in: its locale, then its fallbacks, then the bare
/// language (`es-MX` → `es`). Validation and rendering both go through it, so a template that
/// validates finds the copy it was validated with.
pub fn locale_chain(region: &Region) -> Vec<String> {
    let mut chain = vec![region.locale.clone()];
    chain.extend(region.fallback.iter().cloned());
    if let Some((lang, _)) = region.locale.split_once('-') {
        chain.push(lang.to_string());
    }
    chain
}

/// The entry for a region along its `locale_chain`. `Err` lists the locales tried.
pub fn locale_lookup<'a, V>(
    map: &'a BTreeMap<String, V>,
    region: &Region,
) -> Result<&'a V, Vec<String>> {
    let tried = locale_chain(region);
    tried.iter().find_map(|loc| map.get(loc)).ok_or(tried)
}

/// The copy shown when a region's locale chain finds none and fallback is allowed: `en` if
/// the option has it, else the alphabetically first locale. (File order would be nicer, but
/// the copy map is a `BTreeMap` and has forgotten it; alphabetical is at least stable.)
pub fn default_copy_locale<V>(texts: &BTreeMap<String, V>) -> Option<&str> {
    if texts.contains_key("en") {
        Some("en")
    } else {
        texts.keys().next().map(String::as_str)
    }
}

/// The copy of a subtitle for a region: its locale, then the region's fallbacks, then the
/// bare language (`es-MX` → `es`).
pub fn copy_for<'a>(
    texts: &'a BTreeMap<String, String>,
    region: &Region,
) -> Result<&'a str, Vec<String>> {
    locale_lookup(texts, region).map(String::as_str)
}

/// `copy_for`, then — only with `--allow-fallback` — the template's default copy, noting in
/// the manifest which locale stood in.
pub fn copy_or_fallback<'a>(
    t: &Template,
    texts: &'a BTreeMap<String, String>,
    region: &Region,
    notes: &mut Vec<String>,
) -> Result<&'a str, Vec<String>> {
    match copy_for(texts, region) {
        Ok(s) => Ok(s),
        Err(tried) if t.allow_fallback => match default_copy_locale(texts) {
            Some(loc) => {
                let note = format!(
                    "copy fallback: `{loc}` copy used for {} (no {} copy; --allow-fallback)",
                    region.code, region.locale
                );
                if !notes.contains(&note) {
                    notes.push(note);
                }
                Ok(texts[loc].as_str())
            }
            None => Err(tried),
        },
        Err(tried) => Err(tried),
    }
}

/// Whether a library location (`--library`, `[dedup] library`) names a PostgreSQL database
/// rather than an SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    let l = location.trim_start();
    l.starts_with("postgres://") || l.starts_with("postgresql://")
}

#[derive(Debug, Clone)]
pub struct Output {
    /// Preset ids, in template order, all known to the preset set.
    pub presets: Vec<String>,
    /// Name pattern, e.g. `{region}_{platform}_{duration}s_{kind}_v{n}`.
    pub name: String,
    /// Name pattern for image presets (default `{region}_{platform}_{label}_v{n}`).
    pub image_name: String,
    /// UTM-style tracking parameters (values are patterns too), ordered by key.
    pub tracking: BTreeMap<String, String>,
    pub landing_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Region {
    /// Upper-case region code, e.g. `US`, `SA`.
    pub code: String,
    /// Primary locale, e.g. `en`, `ar`, `es-MX`.
    pub locale: String,
    /// Locales tried after `locale` when a copy is missing, in order (e.g. `es`).
    pub fallback: Vec<String>,
    pub direction: Direction,
    /// Pool options this region replaces with its own version (`[region.override.POOL.ID]`).
    pub overrides: RegionOverrides,
}

/// Per pool: option index → the complete option as overridden for one region (already
/// validated, paths absolute). Options without an entry are used as written.
#[derive(Debug, Clone, Default)]
pub struct RegionOverrides {
    pub background: BTreeMap<usize, Background>,
    pub product: BTreeMap<usize, Product>,
    pub subtitle: BTreeMap<usize, Subtitle>,
    pub effects: BTreeMap<usize, Effects>,
    pub audio: BTreeMap<usize, Audio>,
}

impl RegionOverrides {
    pub fn is_empty(&self) -> bool {
        self.background.is_empty()
            && self.product.is_empty()
            && self.subtitle.is_empty()
            && self.effects.is_empty()
            && self.audio.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct VariantsSpec {
    /// Scene play orders to vary (indices into `Template::scenes`); empty = template order.
    pub orders: Vec<Vec<usize>>,
    pub strategy: Strategy,
    /// At most this many variants (after exclusions), `None` for all.
    pub limit: Option<usize>,
    pub exclude: Vec<Exclude>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Cartesian product of the pools, in pool order (background slowest).
    Full,
    /// `count` distinct combinations drawn with a seeded generator, reported in product order.
    Sample { count: usize, seed: u64 },
    /// The combinations no two of which the duplicate gate would judge duplicates by
    /// composition, chosen greedily so every option is used as evenly as the rule allows; at
    /// most `count` of them.
    Distinct { count: Option<usize> },
    /// An all-pairs covering design: every pair of options from two different pools (and
    /// scene slots, and orders) appears in at least one variant. With `distinct`, no two
    /// variants are composition duplicates (pairs only duplicates could cover stay uncovered).
    Pairwise { distinct: bool },
    /// Exactly the combinations listed in `pick`, in that order (what `factory results next`
    /// writes). Each names options by the keys a variant's `modules` use.
    Chosen { picks: Vec<Pick> },
}

/// One `[variants] pick` entry: (key, option id) with the keys of `Choices::ids` — a pool
/// name, `scene.<id>.<pool>`, or `order` (scene ids joined by commas). Keys of axes with
/// one option may be left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    /// Line in the template, for the plan's errors about it.
    pub line: usize,
    pub pairs: Vec<(String, String)>,
}

/// A combination is excluded when every pool named here picks the given option id.
#[derive(Debug, Clone)]
pub struct Exclude {
    /// (pool name, option id), e.g. ("background", "beach").
    pub when: Vec<(Pool, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pool {
    Background,
    Product,
    Subtitle,
    Effects,
    Badge,
    Audio,
    EndCard,
}

impl Pool {
    pub const ALL: [Pool; 7] = [
        Pool::Background,
        Pool::Product,
        Pool::Subtitle,
        Pool::Effects,
        Pool::Badge,
        Pool::Audio,
        Pool::EndCard,
    ];
    /// Pools a `[[scene]]` may list its own options from; the others are one choice for the
    /// whole video.
    pub const SCENE: [Pool; 5] = [
        Pool::Background,
        Pool::Product,
        Pool::Subtitle,
        Pool::Effects,
        Pool::Badge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Pool::Background => "background",
            Pool::Product => "product",
            Pool::Subtitle => "subtitle",
            Pool::Effects => "effects",
            Pool::Badge => "badge",
            Pool::Audio => "audio",
            Pool::EndCard => "end_card",
        }
    }

    pub fn from_name(s: &str) -> Option<Pool> {
        Pool::ALL.into_iter().find(|p| p.name() == s)
    }
}

named! {
    #[derive(Copy)]
    pub enum Fit {
        /// Fill the canvas, cropping the overflow.
        Cover = "cover",
        /// Fit inside the canvas, padding with the pad colour.
        Contain = "contain",
        /// Fit inside, padding with a blurred, covering copy of the same picture.
        BlurPad = "blur-pad",
    }
}

#[derive(Debug, Clone)]
pub struct Background {
    pub id: String,
    pub source: BackgroundSource,
    pub fit: Fit,
    /// Colour of the bars for `contain`.
    pub pad: Rgba,
    /// Ken Burns zoom and pan over the scene (or the whole video).
    pub motion: Option<KenBurns>,
    /// Made with a generative model: outputs showing it carry the GB 45438-2025 label.
    pub ai_generated: bool,
}

#[derive(Debug, Clone)]
pub enum BackgroundSource {
    Color(Rgba),
    /// Linear gradient; `angle` in degrees, 0 = top→bottom, 90 = left→right.
    Gradient {
        from: Rgba,
        to: Rgba,
        angle: f32,
    },
    Image(PathBuf),
    /// A clip looped (or, when longer, trimmed) to the template's duration.
    Video {
        path: PathBuf,
        looped: bool,
        start: f64,
    },
}

impl BackgroundSource {
    pub fn path(&self) -> Option<&PathBuf> {
        match self {
            BackgroundSource::Image(p) | BackgroundSource::Video { path: p, .. } => Some(p),
            _ => None,
        }
    }
}

named! {
    #[derive(Copy)]
    pub enum Anchor {
        Center = "center",
        Top = "top",
        Bottom = "bottom",
        Left = "left",
        Right = "right",
        TopLeft = "top-left",
        TopRight = "top-right",
        BottomLeft = "bottom-left",
        BottomRight = "bottom-right",
    }
}

impl Anchor {
    /// Fractions (x, y) of the free space placed before the item.
    pub fn fractions(self) -> (f32, f32) {
        match self {
            Anchor::Center => (0.5, 0.5),
            Anchor::Top => (0.5, 0.0),
            Anchor::Bottom => (0.5, 1.0),
            Anchor::Left => (0.0, 0.5),
            Anchor::Right => (1.0, 0.5),
            Anchor::TopLeft => (0.0, 0.0),
            Anchor::TopRight => (1.0, 0.0),
            Anchor::BottomLeft => (0.0, 1.0),
            Anchor::BottomRight => (1.0, 1.0),
        }
    }

    /// The anchor seen in a mirror, for right-to-left regions.
    pub fn mirrored(self) -> Anchor {
        match self {
            Anchor::Left => Anchor::Right,
            Anchor::Right => Anchor::Left,
            Anchor::TopLeft => Anchor::TopRight,
            Anchor::TopRight => Anchor::TopLeft,
            Anchor::BottomLeft => Anchor::BottomRight,
            Anchor::BottomRight => Anchor::BottomLeft,
            a => a,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Shadow {
    pub color: Rgba,
    /// Offset in canvas fractions of the shorter side.
    pub offset: (f32, f32),
    /// Blur radius as a fraction of the shorter side.
    pub blur: f32,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    /// RGBA cut-out.
    pub source: PathBuf,
    pub anchor: Anchor,
    /// Largest side of the product relative to the safe area's matching side (0..=1).
    pub scale: f32,
    /// Offset in fractions of the canvas (x right, y down).
    pub offset: (f32, f32),
    /// Degrees, clockwise.
    pub rotation: f32,
    pub shadow: Option<Shadow>,
    /// Animation relative to the placed product, in scene time; empty = still.
    pub keyframes: Vec<Keyframe>,
    /// Idle motion layered over the keyframes (float/bob).
    pub idle: Option<Idle>,
    /// Share of the background's Ken Burns pan the product follows: 0 = fixed, 1 = glued to
    /// the background, > 1 = nearer the viewer than the background.
    pub parallax: f32,
    /// Made with a generative model: outputs showing it carry the GB 45438-2025 label.
    pub ai_generated: bool,
}

named! {
    #[derive(Copy)]
    pub enum VPos {
        Top = "top",
        Center = "center",
        Bottom = "bottom",
    }
}

#[derive(Debug, Clone)]
pub struct Outline {
    pub color: Rgba,
    /// Width in pixels at the reference size (scaled with the text).
    pub width: f32,
}

#[derive(Debug, Clone)]
pub struct BoxStyle {
    pub color: Rgba,
    /// Padding in fractions of the font size.
    pub padding: f32,
}

/// A line of copy shown between `start` and `end` seconds.
#[derive(Debug, Clone)]
pub struct TimedLine {
    pub start: f64,
    pub end: f64,
    /// Copy per locale.
    pub text: BTreeMap<String, String>,
}

named! {
    /// How each caption (timed line, cue, or whole-duration text) enters and leaves.
    #[derive(Copy)]
    pub enum Animation {
        None = "none",
        Fade = "fade",
        Pop = "pop",
        Slide = "slide",
        Typewriter = "typewriter",
        Karaoke = "karaoke",
    }
}

#[derive(Debug, Clone)]
pub struct Subtitle {
    pub id: String,
    /// Copy per locale, shown for the whole duration. Empty when `lines` is used.
    pub text: BTreeMap<String, String>,
    pub lines: Vec<TimedLine>,
    /// Caption files parsed per locale (`captions = { en = "en.srt" }`); each locale keeps
    /// its own cue timings. Empty unless `captions` is used (it excludes `text`/`lines`).
    pub captions: BTreeMap<String, Vec<Cue>>,
    pub animation: Animation,
    /// Seconds of each in/out transition.
    pub animation_time: f64,
    /// Colour of the words already sung (karaoke).
    pub highlight: Rgba,
    /// Font families in fallback order.
    pub fonts: Vec<String>,
    /// Font size as a fraction of the canvas width (so one template fits every preset).
    pub size: f32,
    /// Smallest size (same unit) the fitter may shrink to before giving up.
    pub min_size: f32,
    pub color: Rgba,
    pub outline: Option<Outline>,
    pub shadow: Option<Shadow>,
    pub background: Option<BoxStyle>,
    pub position: VPos,
    /// Ad text (`title`, `description`, `headline`, `long_headline`) → locale → text: not
    /// drawn, uploaded with the output (manifest `ad_text`).
    pub ad_text: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// Added to every channel, -1..=1.
    pub brightness: f32,
    /// Multiplier around mid-grey, 1 = unchanged.
    pub contrast: f32,
    /// Multiplier of chroma, 1 = unchanged, 0 = grey.
    pub saturation: f32,
    /// White balance, -1..=1: positive warms (red up, blue down), negative cools.
    pub temperature: f32,
    /// -1..=1: positive towards magenta (green down), negative towards green.
    pub tint: f32,
}

/// The identity grade, so a template can set one key and leave the rest unchanged.
impl Default for Grade {
    fn default() -> Self {
        Grade {
            brightness: 0.0,
            contrast: 1.0,
            saturation: 1.0,
            temperature: 0.0,
            tint: 0.0,
        }
    }
}

/// Darkening toward the corners of the whole frame. Distances are normalised so the
/// frame's corners sit at 1 (an ellipse following the frame's aspect).
#[derive(Debug, Clone, PartialEq)]
pub struct Vignette {
    /// Darkening at full effect, 0..=1 (1 = black).
    pub strength: f32,
    /// Normalised distance of the middle of the falloff.
    pub radius: f32,
    /// Width of the falloff as a share of `radius`, 0 = hard edge.
    pub softness: f32,
}

named! {
    #[derive(Copy)]
    pub enum BlurTarget {
        /// The background layer only, before the product is composed: the product stays sharp.
        Background = "background",
        /// The composed picture (background and product); captions stay legible.
        Frame = "frame",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Blur {
    /// Blur radius as a fraction of the canvas' shorter side.
    pub radius: f32,
    pub target: BlurTarget,
}

/// Film grain: the same seed and frame always give the same grain; frames differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Grain {
    pub amount: f32,
    pub seed: u64,
    /// Grain size in pixels at 1080 px canvas width.
    pub size: f32,
}

/// Unsharp mask on luminance.
#[derive(Debug, Clone, PartialEq)]
pub struct Sharpen {
    pub amount: f32,
    /// Radius in pixels at 1080 px canvas width.
    pub radius: f32,
}

#[derive(Debug, Clone)]
pub struct Effects {
    pub id: String,
    pub grade: Option<Grade>,
    /// A `.cube` 3D LUT applied after the grade, parsed once per run.
    pub lut: Option<Arc<Lut>>,
    /// Mix between the graded colour (0) and the LUT's output (1).
    pub lut_strength: f32,
    pub vignette: Option<Vignette>,
    pub blur: Option<Blur>,
    pub grain: Option<Grain>,
    pub sharpen: Option<Sharpen>,
    /// Seconds of fade from black at the start / to black at the end.
    pub fade_in: f64,
    pub fade_out: f64,
}

/// No look at all: what an absent `[[effects]]` pool means.
impl Default for Effects {
    fn default() -> Self {
        Effects {
            id: String::new(),
            grade: None,
            lut: None,
            lut_strength: 1.0,
            vignette: None,
            blur: None,
            grain: None,
            sharpen: None,
            fade_in: 0.0,
            fade_out: 0.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Audio {
    pub id: String,
    /// `None` = silence (the video still carries a silent AAC track).
    pub source: Option<PathBuf>,
    /// Linear gain.
    pub volume: f32,
    /// Seconds into the music file to start from.
    pub start: f64,
    pub fade_in: f64,
    pub fade_out: f64,
    /// Loop a track shorter than the video (crossfading at the seam) instead of ending early.
    pub looped: bool,
    /// Locale → voice-over file; looked up like copy (`locale_lookup`).
    pub voiceover: BTreeMap<String, PathBuf>,
    /// Seconds into the video at which the voice-over starts.
    pub voiceover_start: f64,
    /// Linear gain of the voice-over.
    pub voiceover_volume: f32,
    /// How the music ducks under the voice-over; `None` without a voice-over or with
    /// `amount_db = 0`.
    pub duck: Option<Duck>,
    pub sfx: Vec<Sfx>,
    /// Made with a generative model: outputs showing it carry the GB 45438-2025 label.
    pub ai_generated: bool,
}

impl Audio {
    /// The option a template without `[[audio]]` gets: no sound at all.
    pub fn silence() -> Audio {
        Audio {
            id: "silence".into(),
            source: None,
            volume: 1.0,
            start: 0.0,
            fade_in: 0.0,
            fade_out: 0.0,
            looped: true,
            voiceover: BTreeMap::new(),
            voiceover_start: 0.0,
            voiceover_volume: 1.0,
            duck: None,
            sfx: Vec::new(),
            ai_generated: false,
        }
    }

    /// Every audio file the option may play: music, each locale's voice-over, effects.
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.source
            .iter()
            .chain(self.voiceover.values())
            .chain(self.sfx.iter().map(|s| &s.source))
    }
}

/// Sidechain ducking of the music under the voice-over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Duck {
    /// Music gain while the voice speaks, dB (negative).
    pub amount_db: f32,
    /// Seconds for the music to go down once the voice starts.
    pub attack: f32,
    /// Seconds for it to come back once the voice stops.
    pub release: f32,
}

impl Default for Duck {
    fn default() -> Self {
        Duck {
            amount_db: -12.0,
            attack: 0.05,
            release: 0.3,
        }
    }
}

/// A sound effect played once at a time in the video.
#[derive(Debug, Clone, PartialEq)]
pub struct Sfx {
    pub source: PathBuf,
    /// Seconds into the video, or into `scene` when it is given.
    pub at: f64,
    pub volume: f32,
    /// A `[[scene]]` id: `at` counts from where that scene starts in the variant's play
    /// order, so a whoosh stays on its transition whatever the order.
    pub scene: Option<String>,
}

named! {
    #[derive(Copy)]
    pub enum DedupPolicy {
        Reject = "reject",
        Warn = "warn",
        Off = "off",
    }
}

#[derive(Debug, Clone)]
pub struct DedupSpec {
    pub policy: DedupPolicy,
    /// Library database; `None` = batch-only scoring.
    pub library: Option<PathBuf>,
    /// Similar creatives older than this many days do not count.
    pub exempt_after_days: u32,
}

impl Default for DedupSpec {
    fn default() -> Self {
        DedupSpec {
            policy: DedupPolicy::Warn,
            library: None,
            exempt_after_days: 180,
        }
    }
}

/// How a value moves between two keyframes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Easing {
    Linear,
    EaseIn,
    EaseOut,
    EaseInOut,
    /// Overshoots and settles (a "pop").
    EaseOutBack,
    /// CSS `cubic-bezier(x1, y1, x2, y2)`.
    Bezier([f32; 4]),
}

/// Ken Burns: zoom (1 = fitted) and pan (fractions of the canvas) from the start to the end
/// of the scene.
#[derive(Debug, Clone, PartialEq)]
pub struct KenBurns {
    pub zoom: (f32, f32),
    pub pan: ((f32, f32), (f32, f32)),
    pub easing: Easing,
}

/// The product's pose at a moment of its scene, relative to where it is placed.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyframe {
    /// Seconds from the start of the scene.
    pub t: f64,
    /// Fractions of the canvas, added to the placement.
    pub offset: (f32, f32),
    pub scale: f32,
    /// Degrees, clockwise, added to the product's rotation.
    pub rotation: f32,
    pub opacity: f32,
    /// Easing of the way into this keyframe.
    pub easing: Easing,
}

/// A periodic drift on top of the keyframes.
#[derive(Debug, Clone, PartialEq)]
pub struct Idle {
    /// `float` drifts up and down, `bob` bounces (|sin|).
    pub bounce: bool,
    /// Fraction of the canvas height.
    pub amplitude: f32,
    /// Seconds per cycle.
    pub period: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Left,
    Right,
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TransitionKind {
    Cut,
    Crossfade,
    /// Through a colour: out to it, then in from it.
    Fade(Rgba),
    /// The new scene slides in over the old one, moving toward `Side`.
    Slide(Side),
    /// Both move toward `Side`: the new one pushes the old one out.
    Push(Side),
    /// A hard edge sweeps toward `Side`, uncovering the new scene.
    Wipe(Side),
    /// The old scene zooms in while dissolving into the new one.
    Zoom,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub kind: TransitionKind,
    /// Seconds, centred on the cut.
    pub duration: f64,
    pub easing: Easing,
}

impl Transition {
    pub const CUT: Transition = Transition {
        kind: TransitionKind::Cut,
        duration: 0.0,
        easing: Easing::Linear,
    };
}

/// One scene of a video: its length, the transition into it, and the pool options it may
/// use. A pool a scene does not list takes the variant's video-wide choice.
#[derive(Debug, Clone)]
pub struct Scene {
    pub id: String,
    pub duration: f64,
    /// Per scene pool (`Pool::SCENE` order): `None` = the video-wide choice; `Some(list)` =
    /// the variant picks one of these option indices for this scene (empty = none).
    pub pools: [Option<Vec<usize>>; 5],
    /// How this scene enters (ignored for whichever scene plays first).
    pub transition: Transition,
}

impl Scene {
    pub fn listed(&self, pool: Pool) -> Option<&Vec<usize>> {
        Pool::SCENE
            .iter()
            .position(|p| *p == pool)
            .and_then(|i| self.pools[i].as_ref())
    }
}

named! {
    #[derive(Copy)]
    pub enum BadgeShape {
        /// Rounded rectangle (price tag).
        Tag = "tag",
        Pill = "pill",
        Circle = "circle",
        /// A star burst ("-50 %").
        Burst = "burst",
        /// A diagonal corner ribbon.
        Ribbon = "ribbon",
    }
}

/// A sticker: a shape with copy, anchored in the safe zone, popping in at `start`.
#[derive(Debug, Clone)]
pub struct Badge {
    pub id: String,
    pub shape: BadgeShape,
    /// Copy per locale (may be empty for a plain shape).
    pub text: BTreeMap<String, String>,
    pub fill: Rgba,
    pub text_color: Rgba,
    pub fonts: Vec<String>,
    pub anchor: Anchor,
    /// Width of the badge as a fraction of the canvas width.
    pub size: f32,
    pub offset: (f32, f32),
    /// Degrees, clockwise (ribbons ignore it: they sit at 45°).
    pub rotation: f32,
    /// Seconds from the start of its scene (or the video) at which it pops in, and out.
    pub start: f64,
    pub end: Option<f64>,
    pub animation: Animation,
    /// Made with a generative model: outputs showing it carry the GB 45438-2025 label.
    pub ai_generated: bool,
}

/// The closing card: logo, price and a call-to-action button on a plain background, for the
/// last `duration` seconds of the video.
#[derive(Debug, Clone)]
pub struct EndCard {
    pub id: String,
    pub duration: f64,
    pub background: Rgba,
    pub logo: Option<PathBuf>,
    pub headline: BTreeMap<String, String>,
    pub price: BTreeMap<String, String>,
    pub cta: BTreeMap<String, String>,
    pub cta_color: Rgba,
    pub text_color: Rgba,
    pub fonts: Vec<String>,
    pub transition: Transition,
    /// Made with a generative model: outputs showing it carry the GB 45438-2025 label.
    pub ai_generated: bool,
}
