//! Text that lies (issue #11): copy that would show differently from how a reviewer reads it
//! is refused, hidden characters never reach a file name or the operator's terminal, long
//! texts are cut in messages and long name patterns keep their counter.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use creative_factory::preset::PresetSet;
use creative_factory::template::{self, Diagnostic, Diagnostics, LoadOptions, Template};

/// A small valid template; tests replace one line.
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

const HOOK: &str = "text = { en = \"Run lighter.\" }";

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "BASE has no `{from}`");
    BASE.replacen(from, to, 1)
}

/// Checks `text` as `DIR/t.toml`, so asset paths resolve in `dir`.
fn check_in(dir: &Path, text: &str) -> (Option<Template>, Diagnostics) {
    let presets = PresetSet::builtin().expect("built-in presets");
    template::check_str(text, &dir.join("t.toml"), &presets, &LoadOptions::default())
}

fn only_error(dir: &Path, text: &str) -> (Diagnostic, Diagnostics) {
    let (t, dx) = check_in(dir, text);
    assert!(t.is_none(), "expected an error, template loaded");
    let errs: Vec<_> = dx.errors().cloned().collect();
    assert_eq!(errs.len(), 1, "expected one error, got:\n{dx}");
    (errs.into_iter().next().unwrap(), dx)
}

const OVERRIDE_MESSAGE: &str = "`en` copy of subtitle `hook` contains U+202E RIGHT-TO-LEFT \
     OVERRIDE, an invisible control that makes the text show differently from how it reads";
const OVERRIDE_HINT: &str = "delete the character (most editors do not show it); right-to-left \
     copy needs no controls: the region's direction lays it out";

#[test]
fn copy_with_a_right_to_left_override_is_an_error_at_the_character() {
    let dir = tempfile::tempdir().unwrap();
    // On screen `\u{202E}99$` reads `$99`.
    let text = with(HOOK, "text = { en = \"Now only \u{202E}99$\" }");
    let (e, dx) = only_error(dir.path(), &text);
    assert_eq!(e.file, dir.path().join("t.toml"));
    assert_eq!((e.line, e.column), (15, 25));
    assert_eq!(e.message, OVERRIDE_MESSAGE);
    assert_eq!(e.hint.as_deref(), Some(OVERRIDE_HINT));
    // What the operator reads: the line quoted with the character written out, never raw.
    let shown = dx.to_string();
    assert!(!shown.contains('\u{202E}'), "{shown}");
    assert!(
        shown.contains("  = line 15: text = { en = \"Now only \\u{202E}99$\" }"),
        "{shown}"
    );

    // Written as a TOML escape it is the same character, and the column is the escape's.
    let text = with(HOOK, "text = { en = \"Now only \\u202E99$\" }");
    let (e, _) = only_error(dir.path(), &text);
    assert_eq!((e.line, e.column), (15, 25));
    assert_eq!(e.message, OVERRIDE_MESSAGE);
}

#[test]
fn isolates_and_control_characters_in_copy_are_errors_but_marks_and_line_breaks_are_not() {
    let dir = tempfile::tempdir().unwrap();
    for (copy, named) in [
        (
            "\\u2067\u{5e9}\u{5dc}\u{5d5}\u{5dd}\\u2069",
            "U+2067 RIGHT-TO-LEFT ISOLATE",
        ),
        ("Sale\\u001b[2J", "U+001B ESCAPE"),
        ("Sale\\rnow", "U+000D CARRIAGE RETURN"),
    ] {
        let text = with(HOOK, &format!("text = {{ en = \"{copy}\" }}"));
        let (e, _) = only_error(dir.path(), &text);
        assert!(
            e.message.contains(&format!(" contains {named}, ")),
            "{}",
            e.message
        );
    }
    // Marks that place punctuation in right-to-left copy, line breaks and tabs are copy.
    let text = with(
        HOOK,
        "text = { en = \"Run\\tlighter.\\r\\nNow \\u200F99$\\u200E\" }",
    );
    let (t, dx) = check_in(dir.path(), &text);
    assert!(t.is_some(), "{dx}");
}

#[test]
fn a_hidden_control_in_a_caption_file_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("en.srt"),
        "1\n00:00:00,000 --> 00:00:02,000\nHello\n\n2\n00:00:02,000 --> 00:00:04,000\nNow\nonly \u{202E}99$\n",
    )
    .unwrap();
    let text = with(HOOK, "captions = { en = \"en.srt\" }");
    let (e, _) = only_error(dir.path(), &text);
    assert_eq!(e.file, dir.path().join("en.srt"));
    assert_eq!(e.line, 8);
    assert_eq!(
        e.message,
        "caption of subtitle `hook` contains U+202E RIGHT-TO-LEFT OVERRIDE, an invisible \
         control that makes the text show differently from how it reads"
    );
}

#[test]
fn an_escape_sequence_in_an_asset_path_is_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // `ESC[2J` clears the operator's screen; `ESC]0;…BEL` retitles the terminal.
    let text = with(
        "color = \"#ffffff\"",
        "image = \"assets/\\u001b[2Jwipe\\u001b]0;pwned\\u0007.png\"",
    );
    std::fs::write(dir.path().join("t.toml"), &text).unwrap();
    let (e, dx) = only_error(dir.path(), &text);
    assert!(
        e.message
            .contains("assets/\\x1b[2Jwipe\\x1b]0;pwned\\x07.png"),
        "{}",
        e.message
    );
    assert!(!dx.to_string().contains('\x1b'), "{dx}");
    // The binary prints the same, with nothing raw.
    let o = factory(dir.path(), &["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains('\x1b') && !err.contains('\x07'), "{err:?}");
    assert!(err.contains("assets/\\x1b[2Jwipe"), "{err}");
}

#[test]
fn a_one_megabyte_caption_makes_short_messages() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "Run lighter. ".repeat(80_000); // 1,040,000 characters
                                               // Render time: the text cannot fit, and the message (manifest, events, log) quotes 80
                                               // characters of it.
    let e = creative_factory::text::TextError::DoesNotFit {
        text: huge.clone(),
        max_w: 100,
        max_h: 40,
        min_size: 12.0,
    };
    let msg = e.to_string();
    assert_eq!(
        msg,
        format!(
            "text \"{}… (1039920 more characters)\" does not fit in 100×40 px even at 12 px",
            &huge[..80]
        )
    );
    // Validation: an error on the 1 MB line quotes a cut line, not the line.
    let text = with(HOOK, &format!("text = {{ en = \"{huge}\u{202E}\" }}"));
    let (_, dx) = only_error(dir.path(), &text);
    let shown = dx.to_string();
    assert!(shown.len() < 2_000, "{} bytes", shown.len());
    assert!(shown.contains("more characters)"), "{shown}");
}

/// Runs `factory ARGS…` in `dir` (built-in presets only).
fn factory(dir: &Path, args: &[&str]) -> Output {
    crate::support::factory()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run factory")
}

/// `factory plan --json` of `text`: the planned output files.
fn planned_files(dir: &Path, text: &str) -> Vec<String> {
    std::fs::write(dir.join("t.toml"), text).unwrap();
    let o = factory(dir, &["plan", "t.toml", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["file"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_bidi_control_in_a_name_part_never_reaches_a_file_name() {
    let dir = tempfile::tempdir().unwrap();
    // The template's name goes into the file name; `{template}` is `sale\u{202E}4pm.exe`, which
    // a file manager would show as `saleexe.mp4`.
    let text = with(
        "name = \"base\"",
        "name = \"sale\\u202E4pm.exe\\u2066x/y\\\\z\"",
    )
    .replace(
        "regions = [\"US\"]",
        "regions = [\"US\"]\nname = \"{template}_v{n}\"",
    );
    let files = planned_files(dir.path(), &text);
    assert_eq!(files, ["US/sale-4pm.exe-x-y-z_v1.mp4"]);
}

#[test]
fn a_long_name_pattern_keeps_the_variant_number_and_names_stay_unique() {
    let dir = tempfile::tempdir().unwrap();
    let long = "spring-collection-".repeat(11) + "xx"; // 200 characters
    assert_eq!(long.len(), 200);
    let text = with(
        "regions = [\"US\"]",
        &format!("regions = [\"US\"]\nname = \"{long}_{{region}}_v{{n}}\""),
    ) + "\n[[background]]\nid = \"black\"\ncolor = \"#000000\"\n\n[[subtitle]]\nid = \"two\"\ntext = { en = \"Two.\" }\n";
    let files = planned_files(dir.path(), &text);
    assert_eq!(files.len(), 4);
    for (i, f) in files.iter().enumerate() {
        let stem = f
            .strip_prefix("US/")
            .and_then(|f| f.strip_suffix(".mp4"))
            .unwrap();
        assert!(stem.ends_with(&format!("_US_v{}", i + 1)), "{stem}");
        assert!(stem.starts_with("spring-collection-"), "{stem}");
        assert_eq!(stem.len(), 150, "{stem}");
    }
    let distinct: BTreeSet<_> = files.iter().map(|f| f.to_lowercase()).collect();
    assert_eq!(distinct.len(), files.len());
    // A pattern without `{n}` is made unique by a suffix, which also survives the cut.
    let text = text.replace("_v{n}", "");
    let files = planned_files(dir.path(), &text);
    let suffixes: Vec<&str> = files
        .iter()
        .map(|f| f.trim_end_matches(".mp4").rsplit('_').next().unwrap())
        .collect();
    assert_eq!(suffixes, ["US", "US-2", "US-3", "US-4"]);
}
