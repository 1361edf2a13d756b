//! Platform presets: built-in `presets/*.toml` plus a user's directory.
//!
//! A preset file is named after its id (`presets/tiktok.toml` → `tiktok`). The built-in files
//! are compiled into the binary so `factory` works from any directory; `--presets-dir` adds
//! more and replaces built-ins with the same id. A user preset is either fully specified or
//! names `inherits = "<id>"` and restates only what it changes (see docs/TEMPLATE.md).

mod model;

mod raw;

use crate::diag::line_col;
pub use model::*;

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use raw::{Merge, RawPreset, RawSafeZone};

/// One problem in one preset file.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetIssue {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not tied to a position (e.g. an unreadable file).
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for PresetIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    #[error("cannot read presets from {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Every problem found, across all files of the directory.
    #[error("{} invalid preset{}:\n{}", issues.len(), if issues.len() == 1 { "" } else { "s" }, join_issues(issues))]
    Invalid { issues: Vec<PresetIssue> },
}

fn join_issues(issues: &[PresetIssue]) -> String {
    issues
        .iter()
        .map(|i| format!("  {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The presets a run may use, by id.
#[derive(Debug, Clone, Default)]
pub struct PresetSet {
    presets: BTreeMap<String, Preset>,
    /// Raw forms, kept so a later user preset can inherit from any known preset.
    raws: BTreeMap<String, RawPreset>,
}

/// The repository's `presets/*.toml`, embedded.
const BUILTIN: &[(&str, &str)] = &[
    (
        "amazon-main",
        include_str!("../../presets/amazon-main.toml"),
    ),
    ("feed-4x5", include_str!("../../presets/feed-4x5.toml")),
    ("pinterest", include_str!("../../presets/pinterest.toml")),
    ("reels", include_str!("../../presets/reels.toml")),
    ("shorts", include_str!("../../presets/shorts.toml")),
    ("tiktok", include_str!("../../presets/tiktok.toml")),
    ("tmall-main", include_str!("../../presets/tmall-main.toml")),
    (
        "xiaohongshu",
        include_str!("../../presets/xiaohongshu.toml"),
    ),
];

impl PresetSet {
    /// The built-in presets. Fails only if a shipped preset file is broken (a test guards it).
    pub fn builtin() -> Result<PresetSet, PresetError> {
        let mut set = PresetSet::default();
        let files = BUILTIN
            .iter()
            .map(|(id, text)| {
                (
                    id.to_string(),
                    PathBuf::from(format!("<builtin>/presets/{id}.toml")),
                    text.to_string(),
                )
            })
            .collect();
        set.add_files(files)?;
        Ok(set)
    }

    /// Adds every `*.toml` in `dir`; a file whose stem matches a known id replaces that preset.
    /// All files are checked before any is added, so a failed call leaves the set unchanged.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), PresetError> {
        let io = |source| PresetError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        // Directory order is platform-dependent; sorting keeps error order and overrides stable.
        paths.sort();
        let mut files = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| PresetError::Io {
                path: path.clone(),
                source,
            })?;
            let id = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push((id, path, text));
        }
        self.add_files(files)
    }

    pub fn get(&self, id: &str) -> Option<&Preset> {
        self.presets.get(id)
    }

    /// Presets in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Preset> {
        self.presets.values()
    }

    /// Ids in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.presets.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.presets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.presets.is_empty()
    }

    fn add_files(&mut self, files: Vec<(String, PathBuf, String)>) -> Result<(), PresetError> {
        let mut issues = Vec::new();
        let mut parsed: Vec<(String, PathBuf, String, RawPreset)> = Vec::new();
        for (id, path, text) in files {
            let mut at = |span: Option<Range<usize>>, message: String, hint: Option<String>| {
                let (line, column) = span.map(|s| line_col(&text, s.start)).unwrap_or((1, 1));
                issues.push(PresetIssue {
                    file: path.clone(),
                    line,
                    column,
                    message,
                    hint,
                });
            };
            if !valid_id(&id) {
                at(
                    None,
                    format!("preset id `{id}` (the file name) may only use a-z, 0-9 and `-`"),
                    Some("rename the file, e.g. `my-tiktok.toml`".into()),
                );
                continue;
            }
            match toml::from_str::<RawPreset>(&text) {
                Ok(raw) => {
                    check_values(&raw, &mut at);
                    parsed.push((id, path, text, raw));
                }
                Err(e) => at(
                    e.span(),
                    e.message().trim().to_string(),
                    toml_hint(e.message()),
                ),
            }
        }

        // Resolve inheritance; a preset may inherit from one defined earlier in the same
        // directory, so resolve in dependency order by retrying until nothing changes.
        let mut raws = self.raws.clone();
        let mut resolved = BTreeMap::new();
        let mut pending = parsed;
        loop {
            let before = pending.len();
            let mut still = Vec::new();
            for (id, path, text, raw) in pending {
                match &raw.inherits {
                    Some(base) if base.get_ref() != &id && !raws.contains_key(base.get_ref()) => {
                        still.push((id, path, text, raw));
                    }
                    _ => {
                        let merged = match &raw.inherits {
                            // Inheriting from the preset being replaced (`inherits = "tiktok"`
                            // in tiktok.toml) means "the built-in, with changes".
                            Some(base) => raw.clone().merge(raws[base.get_ref()].clone()),
                            None => raw.clone(),
                        };
                        raws.insert(id.clone(), merged.clone());
                        resolved.insert(id, (path, text, merged));
                    }
                }
            }
            if still.is_empty() || still.len() == before {
                let waiting: Vec<String> = still.iter().map(|(id, ..)| id.clone()).collect();
                for (id, path, text, raw) in still {
                    let base = raw.inherits.as_ref().expect("only inheriting presets wait");
                    let (line, column) = line_col(&text, base.span().start);
                    let (message, hint) = if waiting.contains(base.get_ref()) {
                        (
                            format!("`inherits` of `{id}` is circular or depends on a broken preset (`{}`)", base.get_ref()),
                            format!("presets involved: {}; one of them must be fully specified", waiting.join(", ")),
                        )
                    } else {
                        let known: Vec<&str> = raws.keys().map(String::as_str).collect();
                        (
                            format!("`inherits` names unknown preset `{}`", base.get_ref()),
                            format!("known presets: {}", known.join(", ")),
                        )
                    };
                    issues.push(PresetIssue {
                        file: path,
                        line,
                        column,
                        message,
                        hint: Some(hint),
                    });
                }
                break;
            }
            pending = still;
        }

        let mut presets = BTreeMap::new();
        for (id, (path, _text, raw)) in resolved {
            match finish(&id, &path, raw) {
                Ok(p) => {
                    presets.insert(id, p);
                }
                Err(mut e) => issues.append(&mut e),
            }
        }
        if !issues.is_empty() {
            return Err(PresetError::Invalid { issues });
        }
        self.raws = raws;
        self.presets.extend(presets);
        Ok(())
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn toml_hint(message: &str) -> Option<String> {
    message.contains("unknown field").then(|| {
        "see docs/TEMPLATE.md, section \"Presets\", for the keys a preset may use".to_string()
    })
}

/// Checks on values that can be judged in the file that wrote them, so positions are exact.
fn check_values(
    raw: &RawPreset,
    at: &mut impl FnMut(Option<Range<usize>>, String, Option<String>),
) {
    /// `v`, when written, must be `ok`; else the message `msg` makes of it, with `hint`.
    fn check<T>(
        at: &mut impl FnMut(Option<Range<usize>>, String, Option<String>),
        v: Option<&toml::Spanned<T>>,
        ok: impl Fn(&T) -> bool,
        msg: impl Fn(&T) -> String,
        hint: Option<&str>,
    ) {
        if let Some(v) = v.filter(|v| !ok(v.get_ref())) {
            at(Some(v.span()), msg(v.get_ref()), hint.map(Into::into));
        }
    }
    let kind = |k: &String| format!("unknown kind `{k}`");
    let hint = Some("expected one of: video, image");
    check(
        at,
        raw.kind.as_ref(),
        |k| k == "video" || k == "image",
        kind,
        hint,
    );
    for (name, v) in [("width", &raw.width), ("height", &raw.height)] {
        let size = |v: &u32| format!("{name} {v} is out of range");
        let hint = Some("expected 16..=8192 pixels");
        check(at, v.as_ref(), |v| (16..=8192).contains(v), size, hint);
    }
    let fps = |v: &u32| format!("fps {v} is out of range");
    let hint = Some("expected 1..=60");
    check(at, raw.fps.as_ref(), |v| (1..=60).contains(v), fps, hint);
    for v in [&raw.min_duration, &raw.max_duration] {
        let msg = |v: &f64| format!("duration limit {v} must be positive");
        check(at, v.as_ref(), |v| *v > 0.0 && v.is_finite(), msg, None);
    }
    let (video, audio) = (raw.video.as_ref(), raw.audio.as_ref());
    for (v, codec, kind) in [
        (video.and_then(|v| v.codec.as_ref()), "h264", "video"),
        (audio.and_then(|a| a.codec.as_ref()), "aac", "audio"),
    ] {
        let msg = |c: &String| format!("unsupported {kind} codec `{c}`");
        let hint = format!("only `{codec}` is supported");
        check(at, v, |c| c == codec, msg, Some(&hint));
    }
    let crf = video.and_then(|v| v.crf.as_ref());
    let msg = |c: &u32| format!("crf {c} is out of range");
    check(
        at,
        crf,
        |c| *c <= 51,
        msg,
        Some("x264 takes 0..=51; 18–28 is usual"),
    );
    let channels = audio.and_then(|a| a.channels.as_ref());
    let hint = Some("expected 1 (mono) or 2 (stereo)");
    let msg = |c: &u16| format!("{c} audio channels");
    check(at, channels, |c| (1..=2).contains(c), msg, hint);
    // Levels: integrated loudness and true peak, both at most 0.
    for (v, key, unit, lo, hint) in [
        (
            audio.and_then(|a| a.loudness.as_ref()),
            "loudness",
            "LUFS",
            -70.0,
            "expected LUFS in -70..=0; social feeds ask for about -14",
        ),
        (
            audio.and_then(|a| a.true_peak.as_ref()),
            "true_peak",
            "dBTP",
            -20.0,
            "expected dBTP in -20..=0; -1 is the usual ceiling",
        ),
    ] {
        let msg = |l: &f64| format!("{key} {l} {unit} is out of range");
        check(at, v, |l| (lo..=0.0).contains(l), msg, Some(hint));
    }
    let image = raw.image.as_ref();
    let format = image.and_then(|i| i.format.as_ref());
    let msg = |f: &String| format!("unknown image format `{f}`");
    let hint = Some("expected one of: jpeg, png, webp");
    check(at, format, |f| parse_format(f).is_some(), msg, hint);
    let quality = image.and_then(|i| i.quality.as_ref());
    let msg = |q: &u8| format!("quality {q} is out of range");
    check(
        at,
        quality,
        |q| (1..=100).contains(q),
        msg,
        Some("expected 1..=100"),
    );
    for l in raw.text_limit.iter().flatten() {
        let msg = |f: &String| format!("unknown ad text field `{f}`");
        let hint = format!("expected one of: {}", AD_TEXT_FIELDS.join(", "));
        check(
            at,
            Some(&l.field),
            |f| AD_TEXT_FIELDS.contains(&f.as_str()),
            msg,
            Some(&hint),
        );
        let msg = |m: &u32| format!("text limit max {m} must be at least 1");
        check(at, Some(&l.max), |m| *m >= 1, msg, None);
        let msg = |c: &String| format!("unknown count `{c}`");
        let hint = Some("expected `characters` or `double-width` (wide characters count 2)");
        let known = |c: &String| CharCount::NAMES.iter().any(|(n, _)| n == c);
        check(at, l.count.as_ref(), known, msg, hint);
        let msg = |k: &String| format!("unknown limit kind `{k}`");
        let hint = Some("expected `hard` (over it is an error) or `recommended` (a warning)");
        check(
            at,
            Some(&l.kind),
            |k| k == "hard" || k == "recommended",
            msg,
            hint,
        );
        let msg = |_: &String| "a text limit needs its source".to_string();
        let hint = Some("say where the figure comes from, and whether it could be checked");
        check(at, Some(&l.source), |s| !s.trim().is_empty(), msg, hint);
    }
    let fill = raw.rules.as_ref().and_then(|r| r.min_product_fill.as_ref());
    let msg = |f: &f32| format!("min_product_fill {f} is out of range");
    let hint = Some("expected a share of the frame, 0 < x <= 1");
    check(at, fill, |f| *f > 0.0 && *f <= 1.0, msg, hint);
}

fn parse_format(s: &str) -> Option<ImageFormat> {
    match s {
        "jpeg" | "jpg" => Some(ImageFormat::Jpeg),
        "png" => Some(ImageFormat::Png),
        "webp" => Some(ImageFormat::Webp),
        _ => None,
    }
}

/// Turns a fully merged raw preset into a `Preset`, reporting every missing piece at once.
fn finish(id: &str, path: &Path, raw: RawPreset) -> Result<Preset, Vec<PresetIssue>> {
    let mut issues = Vec::new();
    let mut missing = |what: &str, hint: &str| {
        issues.push(PresetIssue {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("preset `{id}` is missing `{what}`"),
            hint: Some(hint.to_string()),
        });
    };
    let kind = match raw.kind.as_ref().map(|k| k.get_ref().as_str()) {
        Some("video") => Some(PresetKind::Video),
        Some("image") => Some(PresetKind::Image),
        Some(_) => None, // already reported by check_values
        None => {
            missing(
                "kind",
                "add kind = \"video\" or kind = \"image\", or inherits = \"<preset>\"",
            );
            None
        }
    };
    let req = "add it, or inherit the rest from a built-in preset with inherits = \"<id>\"";
    if raw.platform.is_none() {
        missing("platform", req);
    }
    if raw.width.is_none() {
        missing("width", req);
    }
    if raw.height.is_none() {
        missing("height", req);
    }
    let (mut video, mut audio, mut image) = (None, None, None);
    match kind {
        Some(PresetKind::Video) => {
            let v = raw.video.clone().unwrap_or_default();
            let a = raw.audio.clone().unwrap_or_default();
            if raw.video.is_none() {
                missing(
                    "[video]",
                    "a video preset needs a [video] table (codec, profile, speed, crf)",
                );
            }
            if raw.audio.is_none() {
                missing("[audio]", "a video preset needs an [audio] table (codec, sample_rate, channels, bitrate_kbps)");
            }
            video = Some(VideoSpec {
                codec: v
                    .codec
                    .map(|c| c.into_inner())
                    .unwrap_or_else(|| "h264".into()),
                profile: v.profile.unwrap_or_else(|| "high".into()),
                speed: v.speed.unwrap_or_else(|| "veryfast".into()),
                crf: v.crf.map(|c| c.into_inner()).unwrap_or(23),
                max_bitrate_kbps: v.max_bitrate_kbps,
                gop: v.gop.unwrap_or(0),
            });
            audio = Some(AudioSpec {
                codec: a
                    .codec
                    .map(|c| c.into_inner())
                    .unwrap_or_else(|| "aac".into()),
                sample_rate: a.sample_rate.unwrap_or(48_000),
                channels: a.channels.map(|c| c.into_inner()).unwrap_or(2),
                bitrate_kbps: a.bitrate_kbps.unwrap_or(128),
                loudness: a.loudness.map(|l| l.into_inner()),
                true_peak: a.true_peak.map(|p| p.into_inner()),
            });
        }
        Some(PresetKind::Image) => {
            if raw.image.is_none() {
                missing(
                    "[image]",
                    "an image preset needs an [image] table (format, quality)",
                );
            }
            let i = raw.image.clone().unwrap_or_default();
            image = Some(ImageSpec {
                format: i
                    .format
                    .and_then(|f| parse_format(f.get_ref()))
                    .unwrap_or(ImageFormat::Jpeg),
                quality: i.quality.map(|q| q.into_inner()).unwrap_or(90),
            });
        }
        None => {}
    }
    let zone = |z: Option<RawSafeZone>| {
        z.map(|z| SafeZone {
            top: z.top.unwrap_or(0),
            bottom: z.bottom.unwrap_or(0),
            left: z.left.unwrap_or(0),
            right: z.right.unwrap_or(0),
        })
    };
    let safe_zone = zone(raw.safe_zone).unwrap_or_default();
    let (width, height) = (
        raw.width.map(|w| w.into_inner()).unwrap_or(0),
        raw.height.map(|h| h.into_inner()).unwrap_or(0),
    );
    if width > 0
        && height > 0
        && (safe_zone.left + safe_zone.right >= width || safe_zone.top + safe_zone.bottom >= height)
    {
        issues.push(PresetIssue {
            file: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!(
                "preset `{id}`: the safe zone leaves no room on a {width}×{height} canvas"
            ),
            hint: Some("safe_zone values are pixels kept clear at each edge".into()),
        });
    }
    if let (Some(lo), Some(hi)) = (&raw.min_duration, &raw.max_duration) {
        if lo.get_ref() > hi.get_ref() {
            let (line, column) = (1, 1);
            issues.push(PresetIssue {
                file: path.to_path_buf(),
                line,
                column,
                message: format!(
                    "preset `{id}`: min_duration {} is above max_duration {}",
                    lo.get_ref(),
                    hi.get_ref()
                ),
                hint: None,
            });
        }
    }
    // An unknown kind was reported where it was written (`check_values`); nothing to build.
    let Some(kind) = kind.filter(|_| issues.is_empty()) else {
        return Err(issues);
    };
    let rules = raw.rules.unwrap_or_default();
    Ok(Preset {
        id: id.to_string(),
        platform: raw.platform.unwrap_or_default(),
        label: raw.label.unwrap_or_else(|| {
            if kind == PresetKind::Video {
                "Video".into()
            } else {
                "Image".into()
            }
        }),
        description: raw.description.unwrap_or_default(),
        kind,
        width,
        height,
        fps: raw.fps.map(|f| f.into_inner()).unwrap_or(30),
        video,
        audio,
        image,
        min_duration: raw.min_duration.map(|d| d.into_inner()),
        max_duration: raw.max_duration.map(|d| d.into_inner()),
        max_bytes: raw.max_bytes,
        safe_zone,
        // Platforms mirror their UI for right-to-left languages unless the preset says otherwise.
        safe_zone_rtl: zone(raw.safe_zone_rtl).unwrap_or_else(|| safe_zone.mirrored()),
        rules: ContentRules {
            white_background: rules.white_background.unwrap_or(false),
            min_product_fill: rules.min_product_fill.map(|f| f.into_inner()),
            no_text: rules.no_text.unwrap_or(false),
            max_title_chars: rules.max_title_chars,
        },
        text_limits: raw
            .text_limit
            .unwrap_or_default()
            .into_iter()
            .map(|l| TextLimit {
                field: l.field.into_inner(),
                max: l.max.into_inner(),
                count: l
                    .count
                    .and_then(|c| CharCount::NAMES.iter().find(|(n, _)| n == c.get_ref()))
                    .map_or(CharCount::Characters, |(_, c)| *c),
                kind: if l.kind.get_ref() == "hard" {
                    LimitKind::Hard
                } else {
                    LimitKind::Recommended
                },
                source: l.source.into_inner(),
            })
            .collect(),
        source: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn builtin_presets_have_the_published_sizes() {
        let set = PresetSet::builtin().unwrap();
        let ids: Vec<&str> = set.ids().collect();
        assert_eq!(
            ids,
            [
                "amazon-main",
                "feed-4x5",
                "pinterest",
                "reels",
                "shorts",
                "tiktok",
                "tmall-main",
                "xiaohongshu"
            ]
        );
        let expected = [
            ("tiktok", 1080, 1920, PresetKind::Video, "TikTok", "Video"),
            ("reels", 1080, 1920, PresetKind::Video, "Reels", "Video"),
            ("shorts", 1080, 1920, PresetKind::Video, "Shorts", "Video"),
            ("feed-4x5", 1080, 1350, PresetKind::Video, "Feed", "Video"),
            ("tmall-main", 800, 800, PresetKind::Image, "Tmall", "Main"),
            (
                "amazon-main",
                1000,
                1000,
                PresetKind::Image,
                "Amazon",
                "Main",
            ),
            (
                "xiaohongshu",
                1080,
                1440,
                PresetKind::Image,
                "Xiaohongshu",
                "Note",
            ),
            (
                "pinterest",
                1000,
                1500,
                PresetKind::Image,
                "Pinterest",
                "Pin",
            ),
        ];
        for (id, width, height, kind, platform, label) in expected {
            let p = set.get(id).unwrap();
            assert_eq!(
                (
                    p.width,
                    p.height,
                    p.kind,
                    p.platform.as_str(),
                    p.label.as_str()
                ),
                (width, height, kind, platform, label),
                "{id}"
            );
        }
    }

    #[test]
    fn tiktok_encoding_limits_and_safe_zone() {
        let set = PresetSet::builtin().unwrap();
        let t = set.get("tiktok").unwrap();
        let v = t.video.as_ref().unwrap();
        assert_eq!(
            (
                v.codec.as_str(),
                v.profile.as_str(),
                v.speed.as_str(),
                v.crf
            ),
            ("h264", "high", "veryfast", 23)
        );
        let a = t.audio.as_ref().unwrap();
        assert_eq!(
            (a.codec.as_str(), a.sample_rate, a.channels, a.bitrate_kbps),
            ("aac", 48_000, 2, 128)
        );
        assert_eq!((a.loudness, a.true_peak), (Some(-14.0), Some(-1.0)));
        assert_eq!(
            (t.fps, t.min_duration, t.max_duration, t.max_bytes),
            (30, Some(5.0), Some(60.0), Some(500_000_000))
        );
        assert_eq!(
            t.safe_zone,
            SafeZone {
                top: 150,
                bottom: 440,
                left: 60,
                right: 150
            }
        );
        // No [safe_zone_rtl]: the mirror.
        assert_eq!(
            t.safe_zone_rtl,
            SafeZone {
                top: 150,
                bottom: 440,
                left: 150,
                right: 60
            }
        );
        assert_eq!(t.extension(), "mp4");
    }

    #[test]
    fn other_safe_zones_and_rules() {
        let set = PresetSet::builtin().unwrap();
        assert_eq!(
            set.get("reels").unwrap().safe_zone,
            SafeZone {
                top: 269,
                bottom: 672,
                left: 65,
                right: 65
            }
        );
        let shorts = set.get("shorts").unwrap();
        assert_eq!(
            shorts.safe_zone,
            SafeZone {
                top: 288,
                bottom: 672,
                left: 48,
                right: 192
            }
        );
        assert_eq!(shorts.max_duration, Some(60.0));
        let amazon = set.get("amazon-main").unwrap();
        assert!(amazon.rules.white_background && amazon.rules.no_text);
        assert_eq!(amazon.rules.min_product_fill, Some(0.85));
        assert_eq!(
            (
                amazon.image.as_ref().unwrap().format,
                amazon.image.as_ref().unwrap().quality
            ),
            (ImageFormat::Jpeg, 90)
        );
        assert_eq!(amazon.extension(), "jpg");
        assert_eq!(
            set.get("xiaohongshu").unwrap().rules.max_title_chars,
            Some(20)
        );
        assert_eq!(
            set.get("tmall-main")
                .unwrap()
                .image
                .as_ref()
                .unwrap()
                .quality,
            90
        );
    }

    #[test]
    fn user_dir_overrides_and_extends() {
        let dir = tempfile::tempdir().unwrap();
        // Override: the built-in TikTok with a lower CRF and its own RTL zone.
        write(dir.path(), "tiktok.toml", "inherits = \"tiktok\"\n[video]\ncrf = 20\n[safe_zone_rtl]\ntop = 150\nbottom = 440\nleft = 100\nright = 100\n");
        // Extend: a new placement inheriting from another user preset in the same directory.
        write(
            dir.path(),
            "tiktok-hq.toml",
            "inherits = \"tiktok\"\ndescription = \"TikTok, high quality\"\n[video]\ncrf = 18\n",
        );
        // Extend: fully specified.
        write(
            dir.path(),
            "square.toml",
            "platform = \"Shop\"\nlabel = \"Square\"\nkind = \"image\"\nwidth = 1200\nheight = 1200\n[image]\nformat = \"png\"\n",
        );
        let mut set = PresetSet::builtin().unwrap();
        set.load_dir(dir.path()).unwrap();
        let t = set.get("tiktok").unwrap();
        assert_eq!(t.video.as_ref().unwrap().crf, 20);
        assert_eq!((t.width, t.max_duration), (1080, Some(60.0)));
        assert_eq!(
            t.safe_zone_rtl,
            SafeZone {
                top: 150,
                bottom: 440,
                left: 100,
                right: 100
            }
        );
        assert_eq!(t.source, dir.path().join("tiktok.toml"));
        // Inherits the overridden tiktok, since user files resolve against what is known so far.
        assert_eq!(
            set.get("tiktok-hq").unwrap().video.as_ref().unwrap().crf,
            18
        );
        let sq = set.get("square").unwrap();
        assert_eq!(
            (sq.width, sq.extension(), sq.label.as_str()),
            (1200, "png", "Square")
        );
        assert_eq!(set.len(), 10);
    }

    #[test]
    fn circular_inheritance_is_reported_not_looped() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.toml", "inherits = \"b\"\n");
        write(dir.path(), "b.toml", "inherits = \"a\"\n");
        let err = PresetSet::builtin()
            .unwrap()
            .load_dir(dir.path())
            .unwrap_err();
        let PresetError::Invalid { issues } = &err else {
            panic!("{err}")
        };
        assert_eq!(issues.len(), 2);
        assert_eq!(
            issues[0].message,
            "`inherits` of `a` is circular or depends on a broken preset (`b`)"
        );
    }

    #[test]
    fn preset_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "a.toml",
            "inherits = \"tiktok\"\n\n[video]\ncrff = 20\n",
        );
        write(
            dir.path(),
            "b.toml",
            "platform = \"X\"\nkind = \"vidoe\"\nwidth = 100\nheight = 100\n",
        );
        write(dir.path(), "c.toml", "inherits = \"tiktk\"\n");
        write(
            dir.path(),
            "d.toml",
            "platform = \"X\"\nkind = \"image\"\nwidth = 100\n[image]\nformat = \"jpeg\"\n",
        );
        let mut set = PresetSet::builtin().unwrap();
        let err = set.load_dir(dir.path()).unwrap_err();
        let PresetError::Invalid { issues } = &err else {
            panic!("{err}")
        };
        let got: Vec<(String, usize, &str)> = issues
            .iter()
            .map(|i| {
                (
                    i.file.file_name().unwrap().to_string_lossy().into_owned(),
                    i.line,
                    i.message.as_str(),
                )
            })
            .collect();
        assert_eq!(got[0].0, "a.toml");
        assert_eq!(got[0].1, 4);
        assert!(got[0].2.starts_with("unknown field `crff`"), "{}", got[0].2);
        assert_eq!(
            (got[1].0.as_str(), got[1].1, got[1].2),
            ("b.toml", 2, "unknown kind `vidoe`")
        );
        assert_eq!(
            (got[2].0.as_str(), got[2].1, got[2].2),
            ("c.toml", 1, "`inherits` names unknown preset `tiktk`")
        );
        assert_eq!(
            (got[3].0.as_str(), got[3].1, got[3].2),
            ("d.toml", 1, "preset `d` is missing `height`")
        );
        assert_eq!(issues.len(), 4, "{err}");
        // A failed load leaves the set as it was.
        assert_eq!(set.len(), 8);
        assert!(
            err.to_string().contains("a.toml:4:1: unknown field `crff`"),
            "{err}"
        );
    }
}
