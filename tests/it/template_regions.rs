//! `[[region]]` overrides and `--allow-fallback`: what a region really renders, and the
//! diagnostics an operator reads when an override or a region's copy is wrong.

use std::path::{Path, PathBuf};

use creative_factory::preset::PresetSet;
use creative_factory::template::{self, *};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

/// Checks `text` as if it were `tests/fixtures/templates/t.toml`, so `assets/…` resolve.
fn check_with(text: &str, opts: &LoadOptions) -> (Option<Template>, Diagnostics) {
    let presets = PresetSet::builtin().expect("built-in presets load");
    template::check_str(text, &fixtures().join("t.toml"), &presets, opts)
}

fn check(text: &str) -> (Option<Template>, Diagnostics) {
    check_with(text, &LoadOptions::default())
}

fn load(text: &str) -> Template {
    let presets = PresetSet::builtin().expect("built-in presets load");
    match template::parse_str_with(
        text,
        &fixtures().join("t.toml"),
        &presets,
        &LoadOptions::default(),
    ) {
        Ok(t) => t,
        Err(dx) => panic!("template should load:\n{dx}"),
    }
}

/// (line, message) of every error.
fn errors(text: &str) -> Vec<(usize, String)> {
    let (t, dx) = check(text);
    assert!(t.is_none(), "expected errors, template loaded");
    dx.errors().map(|d| (d.line, d.message.clone())).collect()
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no `{needle}` in template"))
        + 1
}

fn region<'a>(t: &'a Template, code: &str) -> &'a Region {
    t.regions
        .iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("no region {code}"))
}

/// US and SA; SA overrides colour and font of the subtitle and source and anchor of the
/// product. Tests append or replace lines to introduce one change.
const BASE: &str = r##"[template]
name = "regions"
duration = 15

[output]
presets = ["tiktok"]
regions = ["US", "SA"]

[[background]]
id = "white"
color = "#ffffff"

[[product]]
id = "cup"
source = "assets/shoe.png"
anchor = "left"

[[subtitle]]
id = "wake-up"
text = { en = "Wake up.", ar = "استيقظ." }

[[subtitle]]
id = "calm"
text = { en = "Stay calm.", ar = "ابق هادئا." }

[[region]]
code = "SA"
[region.override.subtitle.wake-up]
color = "#ffd54f"
font = ["Noto Naskh Arabic", "Noto Sans Arabic"]
[region.override.product.cup]
source = "assets/bg.png"
anchor = "right"
"##;

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no `{from}`");
    BASE.replacen(from, to, 1)
}

#[test]
fn override_changes_only_that_region() {
    let t = load(BASE);
    let us = region(&t, "US");
    let sa = region(&t, "SA");
    assert!(us.overrides.is_empty());
    // SA is a built-in code: only overriding it keeps its locale and direction.
    assert_eq!(sa.locale, "ar");
    assert_eq!(sa.direction, Direction::Rtl);

    assert_eq!(t.subtitle_for(us, 0).color, Rgba::WHITE);
    assert_eq!(t.subtitle_for(sa, 0).color, Rgba::parse("#ffd54f").unwrap());
    assert_eq!(
        t.subtitle_for(sa, 0).fonts,
        ["Noto Naskh Arabic", "Noto Sans Arabic"]
    );
    assert_eq!(t.subtitle_for(us, 0).fonts, DEFAULT_FONTS);
    // Keys the override does not name are the option's own.
    assert_eq!(t.subtitle_for(sa, 0).text, t.subtitles[0].text);
    assert_eq!(t.subtitle_for(sa, 0).id, "wake-up");
    // An option SA does not override is the pool's.
    assert!(!sa.overrides.subtitle.contains_key(&1));
    assert_eq!(t.subtitle_for(sa, 1).color, Rgba::WHITE);

    assert!(t.product_for(us, 0).source.ends_with("assets/shoe.png"));
    assert!(t.product_for(sa, 0).source.ends_with("assets/bg.png"));
    assert!(t.product_for(sa, 0).source.is_absolute());
    assert_eq!(t.product_for(us, 0).anchor, Anchor::Left);
    assert_eq!(t.product_for(sa, 0).anchor, Anchor::Right);
    // The pools themselves are untouched.
    assert_eq!(t.subtitles[0].color, Rgba::WHITE);
    assert!(t.products[0].source.ends_with("assets/shoe.png"));
    assert_eq!(t.background_for(sa, 0).id, "white");
}

#[test]
fn every_pool_can_be_overridden_inline() {
    let text = with(
        "[[region]]\ncode = \"SA\"",
        r##"[[effects]]
id = "warm"
fade_in = 1

[[audio]]
id = "beat"
source = "assets/beat.wav"

[[region]]
code = "SA"
override.background.white = { image = "assets/bg.png", fit = "contain" }
override.effects.warm = { grade = { saturation = 1.2 } }
override.audio.beat = { volume = 0.5 }"##,
    );
    let t = load(&text);
    let sa = region(&t, "SA");
    let us = region(&t, "US");
    // An image source replaces the colour rather than clashing with it.
    assert!(
        matches!(&t.background_for(sa, 0).source, BackgroundSource::Image(p) if p.ends_with("assets/bg.png"))
    );
    assert_eq!(t.background_for(sa, 0).fit, Fit::Contain);
    assert!(matches!(
        t.background_for(us, 0).source,
        BackgroundSource::Color(_)
    ));
    assert_eq!(
        t.effects_for(sa, 0).grade.as_ref().map(|g| g.saturation),
        Some(1.2)
    );
    assert_eq!(t.effects_for(sa, 0).fade_in, 1.0);
    assert!(t.effects_for(us, 0).grade.is_none());
    assert_eq!(t.audio_for(sa, 0).volume, 0.5);
    assert_eq!(t.audio_for(us, 0).volume, 1.0);
}

#[test]
fn unknown_option_id_is_an_error_with_did_you_mean() {
    let text = with(
        "[region.override.subtitle.wake-up]",
        "[region.override.subtitle.wake-pu]",
    );
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let (line, msg) = &errs[0];
    assert_eq!(*line, line_of(&text, "wake-pu]"));
    assert!(
        msg.contains("region `SA` overrides subtitle `wake-pu`"),
        "{msg}"
    );
    assert!(msg.contains("did you mean `wake-up`?"), "{msg}");
}

#[test]
fn unknown_pool_is_an_error() {
    let text = with(
        "[region.override.subtitle.wake-up]",
        "[region.override.subtitles.wake-up]",
    );
    let (_, dx) = check(&text);
    let e = dx.errors().next().expect("an error");
    assert!(
        e.message.contains("unknown key `subtitles`"),
        "{}",
        e.message
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `subtitle`?"));
}

#[test]
fn unknown_key_in_an_override_points_at_the_override() {
    let text = with("color = \"#ffd54f\"", "colour = \"#ffd54f\"");
    let (_, dx) = check(&text);
    let errs: Vec<_> = dx.errors().collect();
    assert_eq!(errs.len(), 1, "{dx}");
    assert_eq!(errs[0].line, line_of(&text, "colour ="));
    assert_eq!(errs[0].column, 1);
    assert!(
        errs[0].message.contains("unknown key `colour`"),
        "{}",
        errs[0].message
    );
    assert!(
        errs[0].message.contains("override of region `SA`"),
        "{}",
        errs[0].message
    );
    assert_eq!(errs[0].hint.as_deref(), Some("did you mean `color`?"));
}

#[test]
fn override_values_are_validated_like_the_option() {
    let text = with("color = \"#ffd54f\"", "color = \"#ffd5\"\nsize = \"big\"");
    let errs = errors(&text);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!(
        errs[0],
        (line_of(&text, "#ffd5"), "bad colour `#ffd5`".to_string())
    );
    assert_eq!(errs[1].0, line_of(&text, "size = \"big\""));
    assert!(errs[1].1.contains("expected a number"), "{}", errs[1].1);
}

#[test]
fn missing_override_asset_is_an_error() {
    let text = with(
        "source = \"assets/bg.png\"",
        "source = \"assets/cup-sa.png\"",
    );
    let (_, dx) = check(&text);
    let errs: Vec<_> = dx.errors().collect();
    assert_eq!(errs.len(), 1, "{dx}");
    assert_eq!(errs[0].line, line_of(&text, "cup-sa.png"));
    assert_eq!(errs[0].message, "missing asset `assets/cup-sa.png`");
    assert!(errs[0]
        .hint
        .as_deref()
        .unwrap_or("")
        .contains("relative to the template's directory"));
}

#[test]
fn the_options_own_problems_are_reported_once() {
    // A bad colour in the option itself: reported at the option, not again for SA.
    let text = with(
        "text = { en = \"Wake up.\", ar = \"استيقظ.\" }",
        "text = { en = \"Wake up.\", ar = \"استيقظ.\" }\nposition = \"middle\"",
    );
    let errs = errors(&text);
    assert_eq!(
        errs,
        vec![(
            line_of(&text, "middle"),
            "unknown position `middle`".to_string()
        )]
    );
}

#[test]
fn a_conflict_the_override_causes_names_the_override() {
    // The option's min_size is fine with its own size, not with SA's smaller one.
    let text = with(
        "text = { en = \"Wake up.\", ar = \"استيقظ.\" }",
        "text = { en = \"Wake up.\", ar = \"استيقظ.\" }\nmin_size = 0.04",
    )
    .replace("color = \"#ffd54f\"", "size = 0.03");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, line_of(&text, "min_size"));
    assert!(
        errs[0].1.contains("min_size 0.04 is larger than size 0.03"),
        "{}",
        errs[0].1
    );
    assert!(
        errs[0]
            .1
            .contains("the subtitle `wake-up` override of region `SA`"),
        "{}",
        errs[0].1
    );
}

#[test]
fn an_override_cannot_change_the_id() {
    let text = with("color = \"#ffd54f\"", "id = \"other\"");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, line_of(&text, "id = \"other\""));
    assert!(errs[0].1.contains("cannot change the id"), "{}", errs[0].1);
}

#[test]
fn override_of_an_rtl_region() {
    // IL is not listed in the file's regions table; overriding it is enough to use it.
    let text = r##"[template]
name = "rtl"
duration = 15

[output]
presets = ["tiktok"]
regions = ["US", "IL"]

[[background]]
id = "white"
color = "#ffffff"

[[product]]
id = "cup"
source = "assets/shoe.png"
anchor = "top-left"
offset = [0.1, 0]

[[subtitle]]
id = "hook"
text = { en = "Run lighter.", he = "רוץ קל יותר." }

[[region]]
code = "IL"
[region.override.product.cup]
anchor = "bottom-left"
[region.override.subtitle.hook]
font = ["Noto Sans Hebrew"]
position = "top"
"##;
    let t = load(text);
    let il = region(&t, "IL");
    assert_eq!((il.locale.as_str(), &il.direction), ("he", &Direction::Rtl));
    // The override is stored as written; mirroring for RTL stays the renderer's job.
    let p = t.product_for(il, 0);
    assert_eq!(p.anchor, Anchor::BottomLeft);
    assert_eq!(p.offset, (0.1, 0.0));
    assert_eq!(t.subtitle_for(il, 0).fonts, ["Noto Sans Hebrew"]);
    assert_eq!(t.subtitle_for(il, 0).position, VPos::Top);
    assert_eq!(t.subtitle_for(region(&t, "US"), 0).position, VPos::Bottom);
}

/// SA has no Arabic copy in `calm`.
fn without_ar() -> String {
    with(
        "text = { en = \"Stay calm.\", ar = \"ابق هادئا.\" }",
        "text = { fr = \"Du calme.\", en = \"Stay calm.\" }",
    )
}

#[test]
fn missing_copy_is_an_error_naming_region_option_and_locale() {
    let text = without_ar();
    let (_, dx) = check(&text);
    let errs: Vec<_> = dx.errors().collect();
    assert_eq!(errs.len(), 1, "{dx}");
    assert_eq!(
        errs[0].message,
        "subtitle option `calm` has no `ar` copy for region SA"
    );
    assert_eq!(errs[0].line, line_of(&text, "Du calme"));
    assert!(
        errs[0]
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("--allow-fallback"),
        "{:?}",
        errs[0].hint
    );
}

#[test]
fn copy_is_checked_against_the_override() {
    // The option has no Arabic copy, but SA's override supplies it: fine.
    let text = without_ar().replace("[region.override.product.cup]", "[region.override.subtitle.calm]\ntext = { ar = \"ابق هادئا.\" }\n[region.override.product.cup]");
    let t = load(&text);
    let sa = region(&t, "SA");
    assert_eq!(
        t.subtitle_for(sa, 1).text.get("ar").map(String::as_str),
        Some("ابق هادئا.")
    );

    // And the other way round: an override that drops SA's copy is an error at the override.
    let text = with("color = \"#ffd54f\"", "text = { en = \"Wake up.\" }");
    let (_, dx) = check(&text);
    let errs: Vec<_> = dx.errors().collect();
    assert_eq!(errs.len(), 1, "{dx}");
    assert_eq!(
        errs[0].message,
        "subtitle option `wake-up` has no `ar` copy for region SA"
    );
    assert_eq!(errs[0].line, line_of(&text, "text = { en = \"Wake up.\" }"));
}

#[test]
fn allow_fallback_turns_missing_copy_into_a_warning() {
    let text = without_ar();
    let opts = LoadOptions {
        allow_fallback: true,
        ..LoadOptions::default()
    };
    let (t, dx) = check_with(&text, &opts);
    let t = t.unwrap_or_else(|| panic!("should load with allow_fallback:\n{dx}"));
    assert!(t.allow_fallback);
    let warns: Vec<_> = dx.warnings().collect();
    assert_eq!(warns.len(), 1, "{dx}");
    assert_eq!(warns[0].line, line_of(&text, "Du calme"));
    assert!(
        warns[0]
            .message
            .contains("`calm` has no `ar` copy for region SA"),
        "{}",
        warns[0].message
    );
    assert!(
        warns[0].message.contains("using the default `en` copy"),
        "{}",
        warns[0].message
    );
    // `en` wins over file order (`fr` is written first).
    assert_eq!(default_copy_locale(&t.subtitles[1].text), Some("en"));
}

#[test]
fn default_copy_locale_prefers_en_then_alphabetical() {
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        default_copy_locale(&map(&[("ja", "a"), ("en", "b"), ("de", "c")])),
        Some("en")
    );
    assert_eq!(
        default_copy_locale(&map(&[("ja", "a"), ("de", "c")])),
        Some("de")
    );
    assert_eq!(default_copy_locale(&map(&[])), None);
}
