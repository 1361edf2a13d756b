//! Template loading as a user meets it: the diagnostics they read (message, line, column,
//! hint), and the model a good template becomes.

use std::path::{Path, PathBuf};

use creative_factory::preset::PresetSet;
use creative_factory::template::{self, *};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates")
}

fn presets() -> PresetSet {
    PresetSet::builtin().expect("built-in presets load")
}

/// Checks `text` as if it were `tests/fixtures/templates/t.toml`, so `assets/…` resolve.
fn check_with(text: &str, opts: &LoadOptions) -> (Option<Template>, Diagnostics) {
    template::check_str(text, &fixtures().join("t.toml"), &presets(), opts)
}

fn check(text: &str) -> (Option<Template>, Diagnostics) {
    check_with(text, &LoadOptions::default())
}

/// (line, message) of every error, in source order.
fn errors(text: &str) -> Vec<(usize, String)> {
    let (t, dx) = check(text);
    assert!(t.is_none(), "expected errors, template loaded");
    dx.errors().map(|d| (d.line, d.message.clone())).collect()
}

/// The single error `text` produces.
fn only_error(text: &str) -> Diagnostic {
    let (_, dx) = check(text);
    let errs: Vec<_> = dx.errors().cloned().collect();
    assert_eq!(errs.len(), 1, "expected one error, got:\n{dx}");
    errs.into_iter().next().unwrap()
}

/// A small valid template; tests replace one line to introduce one mistake.
const BASE: &str = r##"[template]
name = "base"
duration = 15

[output]
presets = ["tiktok"]
regions = ["US"]

[[background]]
id = "white"
color = "#ffffff"

[[subtitle]]
id = "hook"
text = { en = "Run lighter." }
"##;

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no `{from}`");
    BASE.replacen(from, to, 1)
}

#[test]
fn base_template_is_valid() {
    let (t, dx) = check(BASE);
    assert!(t.is_some(), "{dx}");
    assert!(dx.is_empty(), "{dx}");
}

#[test]
fn eight_mistakes_are_reported_in_one_run() {
    let text = r##"[template]
name = "launch"
kind = "video"
duration = "15"
fsp = 30

[output]
presets = ["tikto", "tmall-main"]
regions = ["US", "JP"]
name = "{region}_{platfrom}_v{n}"

[[background]]
id = "white"
color = "#ffff"

[[background]]
id = "white"
image = "assets/missing.png"

[[subtitle]]
id = "hook"
text = { en = "Run lighter." }
"##;
    let got = errors(text);
    let expected: Vec<(usize, &str)> = vec![
        (
            4,
            "`duration` in [template]: expected a number, found a string",
        ),
        (5, "unknown key `fsp` in [template]"),
        (8, "unknown preset `tikto`; did you mean `tiktok`?"),
        (
            8,
            "preset `tmall-main` makes images, but [template] kind is `video`",
        ),
        (10, "unknown placeholder `{platfrom}` in name pattern"),
        (14, "bad colour `#ffff`"),
        (17, "duplicate id `white` in [[background]]"),
        (18, "missing asset `assets/missing.png`"),
        (22, "subtitle option `hook` has no `ja` copy for region JP"),
    ];
    let got_ref: Vec<(usize, &str)> = got.iter().map(|(l, m)| (*l, m.as_str())).collect();
    assert_eq!(got_ref, expected);
}

#[test]
fn malformed_toml_points_at_its_line_and_column() {
    let d = only_error(&with("name = \"base\"", "name = \"base"));
    assert_eq!((d.line, d.column), (2, 13), "{d:?}");
    assert_eq!(d.message, "malformed TOML: invalid basic string");
    assert_eq!(
        d.hint.as_deref(),
        Some("close the string on the same line; use \"\"\" … \"\"\" for text spanning lines")
    );

    let d = only_error(&with(
        "duration = 15",
        "duration = 15
name = \"again\"",
    ));
    assert_eq!((d.line, d.column), (4, 1));
    assert_eq!(
        d.message,
        "malformed TOML: duplicate key `name` in table `template`"
    );
}

#[test]
fn unknown_key_suggests_the_nearest_one() {
    let d = only_error(&with("color = \"#ffffff\"", "colour = \"#ffffff\""));
    assert_eq!(d.message, "unknown key `colour` in [[background]] #1");
    assert_eq!((d.line, d.column), (11, 1));
    // The typo is the one cause: the background is not also reported as having no source.
    assert_eq!(d.hint.as_deref(), Some("did you mean `color`?"));
}

#[test]
fn ai_generated_must_be_a_boolean() {
    let d = only_error(&with(
        "color = \"#ffffff\"",
        "color = \"#ffffff\"\nai_generated = \"yes\"",
    ));
    assert!(d.message.contains("`ai_generated`"), "{}", d.message);
    assert!(
        d.message.contains("expected true or false, found a string"),
        "{}",
        d.message
    );
    assert_eq!((d.line, d.column), (12, 16));
    assert_eq!(
        d.hint.as_deref(),
        Some("write true or false without quotes")
    );
}

#[test]
fn ai_generated_defaults_to_false_and_reads_true() {
    let (t, dx) = check(BASE);
    assert!(!t.expect("valid").backgrounds[0].ai_generated, "{dx}");
    let (t, dx) = check(&with(
        "color = \"#ffffff\"",
        "color = \"#ffffff\"\nai_generated = true",
    ));
    assert!(t.unwrap_or_else(|| panic!("{dx}")).backgrounds[0].ai_generated);
}

#[test]
fn wrong_type_names_expected_and_found() {
    let d = only_error(&with("duration = 15", "duration = \"15\""));
    assert_eq!(
        d.message,
        "`duration` in [template]: expected a number, found a string"
    );
    assert_eq!((d.line, d.column), (3, 12));
    assert_eq!(
        d.hint.as_deref(),
        Some("write the number without quotes, e.g. 15 or 15.0")
    );

    let d = only_error(&with("presets = [\"tiktok\"]", "presets = \"tiktok\""));
    assert_eq!(
        d.message,
        "`presets` in [output]: expected a list of strings, found a string"
    );
}

#[test]
fn missing_required_key_points_at_the_section_header() {
    let d = only_error(&with("name = \"base\"\n", ""));
    assert_eq!(d.message, "missing required key `name` in [template]");
    assert_eq!(d.hint.as_deref(), Some("add name = \"…\""));
    assert_eq!((d.line, d.column), (1, 1));
    assert_eq!(d.span, 0.."[template]".len());
}

#[test]
fn misspelt_required_key_is_one_error() {
    let d = only_error(&with("name = \"base\"", "nmae = \"base\""));
    assert_eq!(d.message, "unknown key `nmae` in [template]");
    assert_eq!(d.hint.as_deref(), Some("did you mean `name`?"));
}

#[test]
fn missing_asset_says_where_it_looked() {
    let d = only_error(&with("color = \"#ffffff\"", "image = \"assets/nope.png\""));
    assert_eq!(d.message, "missing asset `assets/nope.png`");
    assert_eq!((d.line, d.column), (11, 9));
    let hint = d.hint.unwrap();
    assert!(
        hint.contains("tests/fixtures/templates/assets/nope.png"),
        "{hint}"
    );
}

#[test]
fn paths_may_not_escape_the_template_directory_unless_allowed() {
    // Cargo.toml exists, three levels up from the fixtures directory.
    let text = with("color = \"#ffffff\"", "image = \"../../../Cargo.toml\"");
    let d = only_error(&text);
    assert_eq!(
        d.message,
        "asset `../../../Cargo.toml` is outside the template's directory"
    );
    assert!(d.hint.as_deref().unwrap().contains("--allow-outside-root"));

    let (t, dx) = check_with(
        &text,
        &LoadOptions {
            allow_outside_root: true,
            ..LoadOptions::default()
        },
    );
    let t = t.unwrap_or_else(|| panic!("{dx}"));
    let expected = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("Cargo.toml")
        .canonicalize()
        .unwrap();
    assert!(matches!(&t.backgrounds[0].source, BackgroundSource::Image(p) if *p == expected));
}

#[test]
fn urls_and_ffmpeg_protocols_are_rejected() {
    for url in [
        "https://cdn.example.com/bg.mp4",
        "rtmp://live.example.com/x",
        "concat:a.mp4|b.mp4",
    ] {
        let d = only_error(&with("color = \"#ffffff\"", &format!("video = \"{url}\"")));
        assert_eq!(d.message, format!("`{url}` is a URL or stream, not a file"));
    }
}

#[test]
fn unknown_preset_suggests_and_lists_known_ones() {
    let d = only_error(&with("[\"tiktok\"]", "[\"tikto\"]"));
    assert_eq!(d.message, "unknown preset `tikto`; did you mean `tiktok`?");
    assert_eq!((d.line, d.column), (6, 12));
    assert!(d.hint.unwrap().starts_with(
        "known: amazon-main, feed-4x5, pinterest, reels, shorts, tiktok, tmall-main, xiaohongshu"
    ));
}

#[test]
fn bad_colour_explains_the_accepted_forms() {
    let d = only_error(&with("#ffffff", "white"));
    assert_eq!(d.message, "bad colour `white`");
    assert_eq!(
        d.hint.as_deref(),
        Some("expected #rgb, #rrggbb or #rrggbbaa, e.g. \"#ffffff\"")
    );
}

#[test]
fn explicitly_empty_pool_is_an_error() {
    let text = BASE.replacen("[template]", "effects = []\n\n[template]", 1);
    let d = only_error(&text);
    assert_eq!(d.message, "[[effects]] pool is empty");
    assert_eq!((d.line, d.column), (1, 11));
}

#[test]
fn absent_effects_and_audio_pools_mean_one_neutral_option() {
    let (t, dx) = check(BASE);
    let t = t.unwrap_or_else(|| panic!("{dx}"));
    assert_eq!(
        t.effects.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["none"]
    );
    assert_eq!(t.audio.len(), 1);
    assert_eq!(t.audio[0].id, "silence");
    assert!(t.audio[0].source.is_none());
    assert!(t.products.is_empty());
}

#[test]
fn duplicate_id_names_the_first_use() {
    let text = format!("{BASE}\n[[subtitle]]\nid = \"hook\"\ntext = \"Again\"\n");
    let d = only_error(&text);
    assert_eq!(d.message, "duplicate id `hook` in [[subtitle]]");
    assert_eq!(d.line, 18);
    assert_eq!(
        d.hint.as_deref(),
        Some("first used on line 14; ids must be unique within a pool")
    );
}

#[test]
fn bad_enum_value_lists_the_allowed_ones() {
    let d = only_error(&with(
        "color = \"#ffffff\"",
        "color = \"#ffffff\"\nfit = \"contian\"",
    ));
    assert_eq!(d.message, "unknown fit `contian`");
    assert_eq!(
        d.hint.as_deref(),
        Some("did you mean `contain`? expected one of: cover, contain, blur-pad")
    );
}

#[test]
fn image_preset_in_a_video_template_is_a_mismatch() {
    let text = with("name = \"base\"", "name = \"base\"\nkind = \"video\"")
        .replace("[\"tiktok\"]", "[\"tiktok\", \"amazon-main\"]");
    let d = only_error(&text);
    assert_eq!(
        d.message,
        "preset `amazon-main` makes images, but [template] kind is `video`"
    );
    assert_eq!((d.line, d.column), (7, 22));
}

#[test]
fn kind_defaults_from_the_presets() {
    let (t, _) = check(&BASE.replace("[\"tiktok\"]", "[\"tiktok\", \"amazon-main\"]"));
    assert_eq!(t.unwrap().kind, Kind::Both);
    let (t, dx) = check(
        &BASE
            .replace("[\"tiktok\"]", "[\"tmall-main\"]")
            .replace("duration = 15\n", ""),
    );
    let t = t.unwrap_or_else(|| panic!("{dx}"));
    assert_eq!((t.kind, t.duration, t.poster_time), (Kind::Image, 0.0, 0.0));
}

#[test]
fn duration_beyond_a_presets_limit() {
    let d = only_error(&with("duration = 15", "duration = 75"));
    assert_eq!(
        d.message,
        "duration 75 s is longer than preset `tiktok` allows (5–60 s)"
    );
    assert_eq!((d.line, d.column), (3, 12));
    assert_eq!(
        d.hint.as_deref(),
        Some("shorten duration to at most 60 s, or remove `tiktok` from [output] presets")
    );
}

#[test]
fn missing_copy_for_a_region_locale_is_an_error() {
    let d = only_error(&with("[\"US\"]", "[\"US\", \"SA\", \"AE\"]"));
    assert_eq!(
        d.message,
        "subtitle option `hook` has no `ar` copy for regions SA, AE"
    );
    assert_eq!(d.line, 15);
    assert!(d.hint.unwrap().starts_with("add ar = \"…\" (has: en)"));
}

#[test]
fn copy_from_a_fallback_locale_is_a_warning() {
    let text = with("[\"US\"]", "[\"US\", \"MX\"]").replace(
        "{ en = \"Run lighter.\" }",
        "{ en = \"Run lighter.\", es = \"Corre ligero.\" }",
    );
    let (t, dx) = check(&text);
    assert!(t.is_some(), "{dx}");
    let warnings: Vec<_> = dx.warnings().collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0].message,
        "subtitle option `hook` has no `es-MX` copy for region MX; using the `es` copy"
    );
}

#[test]
fn region_tables_define_new_regions() {
    let text = with("[\"US\"]", "[\"US\", \"PL\"]").replace(
        "{ en = \"Run lighter.\" }",
        "{ en = \"Run lighter.\", pl = \"Biegnij lżej.\" }",
    ) + "\n[[region]]\ncode = \"PL\"\nlocale = \"pl\"\n";
    let (t, dx) = check(&text);
    let t = t.unwrap_or_else(|| panic!("{dx}"));
    assert_eq!(t.regions[1].code, "PL");
    assert_eq!(t.regions[1].locale, "pl");

    let d = only_error(&with("[\"US\"]", "[\"US\", \"XX\"]"));
    assert_eq!(d.message, "unknown region `XX`");
}

#[test]
fn unknown_placeholder_points_at_the_placeholder() {
    let d = only_error(&with(
        "regions = [\"US\"]",
        "regions = [\"US\"]\ntracking = { utm_source = \"{plat}\" }",
    ));
    assert_eq!(
        d.message,
        "unknown placeholder `{plat}` in tracking.utm_source pattern"
    );
    assert_eq!((d.line, d.column), (8, 28));
    assert_eq!(d.span.len(), "{plat}".len());
}

#[test]
fn exclude_must_name_existing_options() {
    let text = format!(
        "{BASE}\n[variants]\nexclude = [{{ background = \"whte\" }}, {{ music = \"x\" }}]\n"
    );
    let got = errors(&text);
    assert_eq!(
        got,
        vec![
            (18, "exclude names background `whte`, which is not in the [[background]] pool; did you mean `white`?".to_string()),
            (18, "unknown pool `music` in exclude".to_string()),
        ]
    );
}

#[test]
fn rendered_diagnostic_matches_golden_text() {
    let path = Path::new("tests/fixtures/templates/golden.toml");
    let text = with("[\"tiktok\"]", "[\"tikto\"]");
    let (_, dx) = template::check_str(&text, path, &presets(), &LoadOptions::default());
    let expected = "\
error: unknown preset `tikto`; did you mean `tiktok`?
  --> tests/fixtures/templates/golden.toml:6:12
  |
6 | presets = [\"tikto\"]
  |            ^^^^^^^
  |
  = hint: known: amazon-main, feed-4x5, pinterest, reels, shorts, tiktok, tmall-main, xiaohongshu; add your own with --presets-dir

";
    assert_eq!(dx.render(&dx.items[0]), expected);
    assert!(
        dx.to_string()
            .ends_with("tests/fixtures/templates/golden.toml: 1 error\n"),
        "{dx}"
    );
}

#[test]
fn json_form_carries_position_and_hint() {
    let (_, dx) = check(&with("#ffffff", "#ff"));
    let json = dx.to_json();
    let d = &json[0];
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 11);
    assert_eq!(d["column"], 9);
    assert_eq!(d["message"], "bad colour `#ff`");
    assert!(d["file"].as_str().unwrap().ends_with("t.toml"));
    assert!(d["span"]["start"].as_u64().unwrap() < d["span"]["end"].as_u64().unwrap());
}

#[test]
fn ok_fixture_loads_into_the_expected_model() {
    let dir = fixtures().canonicalize().unwrap();
    let (t, dx) = template::check(
        &fixtures().join("ok.toml"),
        &presets(),
        &LoadOptions::default(),
    );
    let t = t.unwrap_or_else(|| panic!("{dx}"));
    // MX reads the `es` copy of `hook` through its fallback.
    assert_eq!(dx.warnings().count(), 1, "{dx}");

    assert_eq!(t.path, dir.join("ok.toml"));
    assert_eq!(t.root, dir);
    assert_eq!(
        (t.name.as_str(), t.version, t.kind),
        ("sneaker-launch", 3, Kind::Both)
    );
    assert_eq!((t.duration, t.fps, t.poster_time), (15.0, 30, 5.0));

    assert_eq!(t.output.presets, ["tiktok", "amazon-main"]);
    assert_eq!(t.output.name, "{region}_{platform}_{duration}s_{kind}_v{n}");
    assert_eq!(t.output.image_name, "{region}_{platform}_{label}_v{n}");
    assert_eq!(t.output.tracking["utm_source"], "{platform}");
    assert_eq!(t.output.tracking.len(), 3);
    assert_eq!(
        t.output.landing_url.as_deref(),
        Some("https://shop.example.com/p/sneaker")
    );

    let regions: Vec<_> = t
        .regions
        .iter()
        .map(|r| (r.code.as_str(), r.locale.as_str(), r.direction.clone()))
        .collect();
    assert_eq!(
        regions,
        [
            ("US", "en", Direction::Ltr),
            ("SA", "ar", Direction::Rtl),
            ("MX", "es-MX", Direction::Ltr)
        ]
    );
    assert_eq!(t.regions[2].fallback, ["es"]);

    assert_eq!(t.variants.strategy, Strategy::Sample { count: 4, seed: 7 });
    assert_eq!(t.variants.limit, Some(3));
    assert_eq!(
        t.variants.exclude[0].when,
        [
            (Pool::Background, "loop".to_string()),
            (Pool::Audio, "beat".to_string())
        ]
    );

    let bg = &t.backgrounds;
    assert_eq!(bg.len(), 4);
    assert!(matches!(bg[0].source, BackgroundSource::Color(Rgba::WHITE)));
    assert!(
        matches!(bg[1].source, BackgroundSource::Gradient { from: Rgba([0x87, 0xce, 0xeb, 255]), to: Rgba::WHITE, angle } if angle == 90.0)
    );
    assert!(matches!(&bg[2].source, BackgroundSource::Image(p) if *p == dir.join("assets/bg.png")));
    assert_eq!(
        (bg[2].fit, bg[2].pad),
        (Fit::Contain, Rgba([0, 0, 0, 0x80]))
    );
    assert!(
        matches!(&bg[3].source, BackgroundSource::Video { path, looped: false, start } if *path == dir.join("assets/loop.mp4") && *start == 0.5)
    );
    assert_eq!(bg[3].fit, Fit::BlurPad);

    let p = &t.products[0];
    assert_eq!(
        (p.id.as_str(), p.anchor, p.scale, p.offset, p.rotation),
        ("shoe", Anchor::BottomRight, 0.5, (0.0, -0.05), -8.0)
    );
    assert_eq!(p.source, dir.join("assets/shoe.png"));
    let sh = p.shadow.as_ref().unwrap();
    assert_eq!(
        (sh.color, sh.offset, sh.blur),
        (Rgba([0, 0, 0, 0x66]), (0.01, 0.02), 0.03)
    );

    let hook = &t.subtitles[0];
    assert_eq!(hook.text["ar"], "اركض بخفة");
    assert_eq!(hook.text.len(), 3);
    assert!(hook.lines.is_empty());
    assert_eq!(hook.fonts, DEFAULT_FONTS);
    assert_eq!(
        (hook.size, hook.min_size, hook.color, hook.position),
        (0.07, 0.035, Rgba::WHITE, VPos::Top)
    );
    let o = hook.outline.as_ref().unwrap();
    assert_eq!((o.color, o.width), (Rgba::BLACK, 3.0));
    let b = hook.background.as_ref().unwrap();
    assert_eq!((b.color, b.padding), (Rgba([0, 0, 0, 0x99]), 0.4));
    let timed = &t.subtitles[1];
    assert_eq!(timed.lines.len(), 2);
    assert_eq!((timed.lines[1].start, timed.lines[1].end), (5.0, 15.0));
    assert_eq!(timed.lines[0].text["es-MX"], "Nuevo");
    assert_eq!(timed.fonts, ["Noto Sans"]);

    assert_eq!(t.effects[0].grade, None);
    assert_eq!(
        t.effects[1].grade,
        Some(Grade {
            brightness: 0.05,
            contrast: 1.1,
            saturation: 1.15,
            ..Grade::default()
        })
    );
    assert_eq!((t.effects[1].fade_in, t.effects[1].fade_out), (0.5, 0.5));

    assert_eq!(t.audio[0].source, None);
    assert_eq!(
        t.audio[1].source.as_deref(),
        Some(dir.join("assets/beat.wav").as_path())
    );
    assert_eq!((t.audio[1].volume, t.audio[1].fade_out), (0.8, 1.0));

    assert_eq!(t.dedup.policy, DedupPolicy::Reject);
    assert_eq!(
        t.dedup.library.as_deref(),
        Some(dir.join("library.db").as_path())
    );
    assert_eq!(t.dedup.exempt_after_days, 90);
}

#[test]
fn load_reads_the_file_and_reports_unreadable_paths() {
    assert!(template::load(&fixtures().join("ok.toml"), &presets()).is_ok());
    let dx = template::load(&fixtures().join("nope.toml"), &presets()).unwrap_err();
    assert!(
        dx.items[0].message.starts_with("cannot read template"),
        "{dx}"
    );
}

#[test]
fn missing_template_section_does_not_hide_other_errors() {
    let text = BASE
        .replacen("[template]\nname = \"base\"\nduration = 15\n", "", 1)
        .replace("#ffffff", "#fffff");
    assert_eq!(
        errors(&text),
        vec![
            (1, "missing required section [template]".to_string()),
            (8, "bad colour `#fffff`".to_string())
        ]
    );
}

#[test]
fn region_tables_override_builtin_regions() {
    // Operators in SA who run English copy: same code, new locale and direction.
    let text =
        with("[\"US\"]", "[\"US\", \"SA\"]") + "\n[[region]]\ncode = \"SA\"\nlocale = \"en\"\n";
    let (t, dx) = check(&text);
    let t = t.unwrap_or_else(|| panic!("{dx}"));
    assert_eq!(
        (t.regions[1].locale.as_str(), t.regions[1].direction.clone()),
        ("en", Direction::Ltr)
    );
    assert!(t.regions[1].fallback.is_empty());
}

#[test]
fn copy_longer_than_a_title_limit_is_a_warning() {
    let text = with("[\"tiktok\"]", "[\"tiktok\", \"xiaohongshu\"]")
        .replace("Run lighter.", "Run lighter than ever before.");
    let (t, dx) = check(&text);
    assert!(t.is_some(), "{dx}");
    let w: Vec<_> = dx.warnings().collect();
    assert_eq!(w.len(), 1, "{dx}");
    assert_eq!(
        w[0].message,
        "`en` copy of subtitle `hook` is 29 characters; preset `xiaohongshu` allows 20"
    );
    assert_eq!((w[0].line, w[0].column), (15, 15));
}

#[test]
fn bare_language_copy_serves_a_regional_locale_with_a_warning() {
    let text = with("[\"US\"]", "[\"US\", \"TW\"]").replace(
        "{ en = \"Run lighter.\" }",
        "{ en = \"Run lighter.\", zh = \"轻盈每一步\" }",
    );
    let (t, dx) = check(&text);
    assert!(t.is_some(), "{dx}");
    let w: Vec<_> = dx.warnings().map(|d| d.message.as_str()).collect();
    assert_eq!(
        w,
        ["subtitle option `hook` has no `zh-TW` copy for region TW; using the `zh` copy"]
    );
}
