//! A platform placement: canvas, encoding, limits, safe zones, content rules.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresetKind {
    Video,
    Image,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct VideoSpec {
    /// Only `h264` today (libx264).
    pub codec: String,
    /// x264 profile, e.g. `high`.
    pub profile: String,
    /// x264 speed preset, e.g. `veryfast`.
    pub speed: String,
    pub crf: u32,
    /// Optional VBV cap in kbit/s.
    pub max_bitrate_kbps: Option<u32>,
    /// Keyframe interval in frames (0 = encoder default).
    pub gop: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct AudioSpec {
    /// Only `aac` today.
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub bitrate_kbps: u32,
    /// Integrated loudness (EBU R128 / BS.1770-4) the mix is normalised to, LUFS; `None`
    /// leaves the mix's level as the template sets it.
    pub loudness: Option<f64>,
    /// True-peak ceiling (BS.1770-4 Annex 2), dBTP; `None` = no limiter.
    pub true_peak: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageSpec {
    pub format: ImageFormat,
    /// 1..=100 for JPEG/WebP; ignored for PNG.
    pub quality: u8,
}

/// Pixels kept clear of platform UI, in canvas pixels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SafeZone {
    pub top: u32,
    pub bottom: u32,
    pub left: u32,
    pub right: u32,
}

impl SafeZone {
    /// The same zone for a platform that mirrors its UI for right-to-left languages.
    pub(crate) fn mirrored(self) -> SafeZone {
        SafeZone {
            left: self.right,
            right: self.left,
            ..self
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ContentRules {
    /// Background must be pure white (RGB 255) — Amazon main image.
    pub white_background: bool,
    /// Product must cover at least this share of the frame's longer side (0..=1).
    pub min_product_fill: Option<f32>,
    /// No text or logos on the image.
    pub no_text: bool,
    /// Longest title/caption in characters (Xiaohongshu: 20).
    pub max_title_chars: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Preset {
    /// File stem, e.g. `tiktok`, `amazon-main`.
    pub id: String,
    /// Platform label used in file names, e.g. `TikTok`, `Amazon`.
    pub platform: String,
    /// Label for image names, e.g. `Main`.
    pub label: String,
    pub description: String,
    pub kind: PresetKind,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub video: Option<VideoSpec>,
    pub audio: Option<AudioSpec>,
    pub image: Option<ImageSpec>,
    pub min_duration: Option<f64>,
    pub max_duration: Option<f64>,
    pub max_bytes: Option<u64>,
    pub safe_zone: SafeZone,
    /// Safe zone for right-to-left UIs; defaults to `safe_zone.mirrored()`.
    pub safe_zone_rtl: SafeZone,
    pub rules: ContentRules,
    /// Lengths the platform allows the ad text uploaded with an output (`[[text_limit]]`).
    pub text_limits: Vec<TextLimit>,
    /// Where the preset came from (built-in directory or a user's).
    pub source: std::path::PathBuf,
}

impl Preset {
    pub(crate) fn extension(&self) -> &'static str {
        match self.kind {
            PresetKind::Video => "mp4",
            PresetKind::Image => self
                .image
                .as_ref()
                .map(|i| i.format.extension())
                .unwrap_or("jpg"),
        }
    }
}

/// Ad text a copy option may carry (template `[[subtitle]]` keys) and a preset may limit: not
/// drawn, uploaded with the output (`ad_text` in the manifest).
pub(crate) const AD_TEXT_FIELDS: [&str; 4] = ["title", "description", "headline", "long_headline"];

/// How long the platform lets one ad text field be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextLimit {
    /// One of `AD_TEXT_FIELDS`.
    pub field: String,
    pub max: u32,
    pub count: CharCount,
    pub kind: LimitKind,
    /// Where the figure comes from (a URL, and whether it could be checked).
    pub source: String,
}

/// Over a hard limit the platform refuses or cuts the text (a lint error); over a
/// recommended length it hides the rest behind "more" (a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitKind {
    Hard,
    Recommended,
}

/// How a platform counts text against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CharCount {
    /// Each user-perceived character (Unicode extended grapheme cluster) counts 1: a flag, an
    /// emoji with a skin tone or a ZWJ family, e + a combining accent are one each.
    Characters,
    /// As `Characters`, but a wide one (East Asian Width W or F: CJK, kana, Hangul, full-width
    /// Latin, emoji) counts 2 — "double-width characters", as Google Ads counts.
    DoubleWidth,
}

impl CharCount {
    pub(crate) const NAMES: [(&'static str, CharCount); 2] = [
        ("characters", CharCount::Characters),
        ("double-width", CharCount::DoubleWidth),
    ];

    pub(crate) fn measure(self, s: &str) -> usize {
        use unicode_segmentation::UnicodeSegmentation;
        use unicode_width::UnicodeWidthStr;
        s.graphemes(true)
            .map(|g| match self {
                CharCount::Characters => 1,
                CharCount::DoubleWidth if g.width() >= 2 => 2,
                CharCount::DoubleWidth => 1,
            })
            .sum()
    }

    /// The unit a message states the count in.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            CharCount::Characters => "characters",
            CharCount::DoubleWidth => "characters (wide ones counted twice)",
        }
    }
}
