//! Preset TOML for the tests that render with the real binary. The video preset is written
//! once, in [`VideoPreset::toml`]: [`TINY_VIDEO`] is the CLI project's, and the audio,
//! caption, look and motion tests use the same codec settings at their own canvas size and
//! quality (`VideoPreset { width: …, ..TINY_VIDEO }`).

/// A video preset: 10 fps H.264 (high profile, GOP of one second) with 48 kHz stereo AAC.
#[derive(Debug, Clone, Copy)]
pub struct VideoPreset {
    pub platform: &'static str,
    pub description: &'static str,
    pub width: u32,
    pub height: u32,
    /// `None` leaves `max_duration` out (the preset format's default).
    pub max_duration: Option<u32>,
    /// x264's speed preset.
    pub speed: &'static str,
    pub crf: u32,
    pub audio_kbps: u32,
    /// TOML appended as written after the `[audio]` table's keys: more `[audio]` keys, or
    /// further tables.
    pub extra: &'static str,
}

impl VideoPreset {
    pub fn toml(&self) -> String {
        let max_duration = match self.max_duration {
            Some(secs) => format!("max_duration = {secs}\n"),
            None => String::new(),
        };
        format!(
            r#"
platform = "{platform}"
label = "Video"
description = "{description}"
kind = "video"
width = {width}
height = {height}
fps = 10
{max_duration}
[video]
codec = "h264"
profile = "high"
speed = "{speed}"
crf = {crf}
gop = 10

[audio]
codec = "aac"
sample_rate = 48000
channels = 2
bitrate_kbps = {audio_kbps}
{extra}"#,
            platform = self.platform,
            description = self.description,
            width = self.width,
            height = self.height,
            speed = self.speed,
            crf = self.crf,
            audio_kbps = self.audio_kbps,
            extra = self.extra,
        )
    }
}

/// `presets/tiny-video.toml` of every [`Project`](super::project::Project): 72×128 with a
/// safe zone.
pub const TINY_VIDEO: VideoPreset = VideoPreset {
    platform: "Tiny",
    description: "72×128 test canvas",
    width: 72,
    height: 128,
    max_duration: Some(60),
    speed: "veryfast",
    crf: 30,
    audio_kbps: 64,
    extra: r#"
[safe_zone]
top = 8
bottom = 16
left = 4
right = 8
"#,
};

/// `presets/tiny-image.toml` of every [`Project`](super::project::Project).
pub const TINY_IMAGE: &str = r#"
platform = "Shop"
label = "Main"
description = "80×80 white-background main image"
kind = "image"
width = 80
height = 80
fps = 30

[image]
format = "jpeg"
quality = 92

[rules]
white_background = true
min_product_fill = 0.85
no_text = true
"#;

/// `presets/tiny-post.toml` of every [`Project`](super::project::Project): a still with no
/// platform rules, so backdrop, look and caption all show (unlike [`TINY_IMAGE`]).
pub const TINY_POST: &str = r#"
platform = "Feed"
label = "Post"
description = "64×64 feed still"
kind = "image"
width = 64
height = 64
fps = 30

[image]
format = "png"
"#;
