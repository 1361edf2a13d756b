//! The preset file as written: every field optional, so a user preset can `inherits` the rest
//! from another preset. Unknown keys are rejected by serde (`deny_unknown_fields`), which makes
//! toml report the file position for us.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPreset {
    pub inherits: Option<Spanned<String>>,
    pub platform: Option<String>,
    pub label: Option<String>,
    pub description: Option<String>,
    pub kind: Option<Spanned<String>>,
    pub width: Option<Spanned<u32>>,
    pub height: Option<Spanned<u32>>,
    pub fps: Option<Spanned<u32>>,
    pub min_duration: Option<Spanned<f64>>,
    pub max_duration: Option<Spanned<f64>>,
    pub max_bytes: Option<u64>,
    pub video: Option<RawVideo>,
    pub audio: Option<RawAudio>,
    pub image: Option<RawImage>,
    pub safe_zone: Option<RawSafeZone>,
    pub safe_zone_rtl: Option<RawSafeZone>,
    pub rules: Option<RawRules>,
    /// `[[text_limit]]`: a preset that writes any replaces the ones it inherits.
    pub text_limit: Option<Vec<RawTextLimit>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTextLimit {
    pub field: Spanned<String>,
    pub max: Spanned<u32>,
    pub count: Option<Spanned<String>>,
    pub kind: Spanned<String>,
    pub source: Spanned<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVideo {
    pub codec: Option<Spanned<String>>,
    pub profile: Option<String>,
    pub speed: Option<String>,
    pub crf: Option<Spanned<u32>>,
    pub max_bitrate_kbps: Option<u32>,
    pub gop: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudio {
    pub codec: Option<Spanned<String>>,
    pub sample_rate: Option<u32>,
    pub channels: Option<Spanned<u16>>,
    pub bitrate_kbps: Option<u32>,
    /// Integrated loudness target, LUFS.
    pub loudness: Option<Spanned<f64>>,
    /// True-peak ceiling, dBTP.
    pub true_peak: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawImage {
    pub format: Option<Spanned<String>>,
    pub quality: Option<Spanned<u8>>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSafeZone {
    pub top: Option<u32>,
    pub bottom: Option<u32>,
    pub left: Option<u32>,
    pub right: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRules {
    pub white_background: Option<bool>,
    pub min_product_fill: Option<Spanned<f32>>,
    pub no_text: Option<bool>,
    pub max_title_chars: Option<u32>,
}

/// Field-wise "child wins": a user preset that inherits only restates what it changes.
pub(crate) trait Merge {
    fn merge(self, base: Self) -> Self;
}

impl<T: Merge> Merge for Option<T> {
    fn merge(self, base: Self) -> Self {
        match (self, base) {
            (Some(c), Some(b)) => Some(c.merge(b)),
            (c, b) => c.or(b),
        }
    }
}

macro_rules! merge_fields {
    ($ty:ty { $($f:ident),* $(,)? }) => {
        impl Merge for $ty {
            fn merge(self, base: Self) -> Self {
                Self { $($f: self.$f.or(base.$f)),* }
            }
        }
    };
}

merge_fields!(RawVideo {
    codec,
    profile,
    speed,
    crf,
    max_bitrate_kbps,
    gop
});
merge_fields!(RawAudio {
    codec,
    sample_rate,
    channels,
    bitrate_kbps,
    loudness,
    true_peak
});
merge_fields!(RawImage { format, quality });
merge_fields!(RawSafeZone {
    top,
    bottom,
    left,
    right
});
merge_fields!(RawRules {
    white_background,
    min_product_fill,
    no_text,
    max_title_chars
});

impl Merge for RawPreset {
    fn merge(self, base: Self) -> Self {
        RawPreset {
            // The merged preset no longer inherits: the chain has been resolved.
            inherits: None,
            platform: self.platform.or(base.platform),
            label: self.label.or(base.label),
            description: self.description.or(base.description),
            kind: self.kind.or(base.kind),
            width: self.width.or(base.width),
            height: self.height.or(base.height),
            fps: self.fps.or(base.fps),
            min_duration: self.min_duration.or(base.min_duration),
            max_duration: self.max_duration.or(base.max_duration),
            max_bytes: self.max_bytes.or(base.max_bytes),
            video: self.video.merge(base.video),
            audio: self.audio.merge(base.audio),
            image: self.image.merge(base.image),
            safe_zone: self.safe_zone.merge(base.safe_zone),
            safe_zone_rtl: self.safe_zone_rtl.merge(base.safe_zone_rtl),
            rules: self.rules.merge(base.rules),
            text_limit: self.text_limit.or(base.text_limit),
        }
    }
}
