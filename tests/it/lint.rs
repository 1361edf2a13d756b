//! Lint (issue #12): claims in the copy found by the rule packs before anything renders —
//! each rule with its position and phrase, the ordinary words that must not fire, width and
//! case variants, user packs, and `render`/`plan` refusing on errors.

use crate::support::lint::{brief, column_of, empty_or_missing, LintProject};

/// CN and US copy with one claim per built-in rule, and a subtitle of traps.
const CLAIMS: &str = r##"[template]
name = "claims"
duration = 6

[output]
presets = ["tiktok"]
regions = ["CN", "US"]

[[background]]
id = "dark"
color = "#1a1a1a"

[[subtitle]]
id = "hook"
text = { zh-CN = "最佳咖啡，全网最低价", en = "The #1 coffee, guaranteed." }

[[subtitle]]
id = "traps"
text = { zh-CN = "最近上新，第一步：冲泡。最后一天", en = "A secure lid. #10 in store. Best seller." }

[[badge]]
id = "rank"
text = { zh-CN = "国家级品质，销量第一", en = "Best coffee in the world" }

[[end_card]]
id = "close"
duration = 1
headline = { zh-CN = "唯一选择", en = "It cures Monday mornings" }
"##;

fn at(line: usize, needle: &str) -> String {
    format!("{line}:{}", column_of(CLAIMS, line, needle))
}

#[test]
fn every_builtin_rule_fires_at_its_phrase_and_traps_do_not() {
    let p = LintProject::new(CLAIMS);
    let (code, findings) = p.lint_json(&[]);
    assert_eq!(code, 2, "errors (CN) make the exit code 2");
    let got: Vec<String> = findings.iter().map(brief).collect();
    let want = [
        format!("cn-ad-law/superlative {} 最佳", at(15, "最佳")),
        format!("cn-ad-law/superlative {} 全网最低", at(15, "全网最低")),
        format!("en-claims/number-one {} #1", at(15, "#1")),
        format!("en-claims/guarantee {} guaranteed", at(15, "guaranteed")),
        format!("cn-ad-law/state-level {} 国家级", at(23, "国家级")),
        format!("cn-ad-law/first-only {} 第一", at(23, "第一")),
        format!(
            "en-claims/best-in-world {} Best coffee in the world",
            at(23, "Best coffee")
        ),
        format!("cn-ad-law/first-only {} 唯一", at(28, "唯一")),
        format!("en-claims/health {} cures", at(28, "cures")),
    ];
    assert_eq!(got, want);
    // Positions stated by hand once, so `at` cannot hide an off-by-one of its own.
    assert_eq!(got[0], "cn-ad-law/superlative 15:19 最佳");
    assert_eq!(got[2], "en-claims/number-one 15:42 #1");

    // Nothing from the traps subtitle: 最近, 第一步, 最后, "secure", "#10", "Best seller".
    assert!(
        findings.iter().all(|f| f["option"] != "traps"),
        "{findings:#?}"
    );

    let first = &findings[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["pack"], "cn-ad-law");
    assert_eq!(first["pack_version"], "1.0.0");
    assert_eq!(first["pool"], "subtitle");
    assert_eq!(first["option"], "hook");
    assert_eq!(first["field"], "text");
    assert_eq!(first["locale"], "zh-CN");
    assert_eq!(first["regions"], serde_json::json!(["CN"]));
    assert!(first["file"].as_str().unwrap().ends_with("t.toml"));
    let en = &findings[2];
    assert_eq!(en["severity"], "warning");
    assert_eq!(en["regions"], serde_json::json!(["US"]));
    assert_eq!(findings[7]["pool"], "end_card");
    assert_eq!(findings[7]["field"], "headline");
}

#[test]
fn human_output_points_at_the_copy_like_validate() {
    let p = LintProject::new(CLAIMS);
    let o = p.factory(&["lint", "t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "error: cn-ad-law/superlative: \"最佳\": absolute or superlative term banned by \
             China's Advertising Law Art. 9(3) (subtitle `hook`, text, locale zh-CN, shown in CN)"
        ),
        "{err}"
    );
    assert!(err.contains("t.toml:15:19"), "{err}");
    assert!(err.contains("t.toml: 5 errors, 4 warnings"), "{err}");
}

#[test]
fn full_width_and_upper_case_variants_fire() {
    let t = CLAIMS.replace(
        "The #1 coffee, guaranteed.",
        "ＴＨＥ ＃１ coffee, ＧＵＡＲＡＮＴＥＥＤ; ＃１０ no",
    );
    let p = LintProject::new(&t);
    let (_, findings) = p.lint_json(&[]);
    let en: Vec<String> = findings
        .iter()
        .filter(|f| f["option"] == "hook" && f["locale"] == "en")
        .map(brief)
        .collect();
    let col = |n: &str| column_of(&t, 15, n);
    assert_eq!(
        en,
        [
            format!("en-claims/number-one 15:{} ＃１", col("＃１ ")),
            format!(
                "en-claims/guarantee 15:{} ＧＵＡＲＡＮＴＥＥＤ",
                col("ＧＵＡＲＡＮＴＥＥＤ")
            ),
        ]
    );
}

#[test]
fn an_escaped_character_points_at_its_escape() {
    // 最 written as \u6700: the finding's column is the escape's.
    let t = CLAIMS.replace("\"最佳咖啡，", "\"\\u6700佳咖啡，");
    let p = LintProject::new(&t);
    let (_, findings) = p.lint_json(&[]);
    assert_eq!(
        brief(&findings[0]),
        format!(
            "cn-ad-law/superlative 15:{} 最佳",
            column_of(&t, 15, "\\u6700")
        )
    );
}

#[test]
fn a_region_override_is_linted_for_its_region_only() {
    let t = CLAIMS.replace(
        "[[background]]",
        "[[region]]\ncode = \"US\"\n[region.override.subtitle.traps]\ntext = { en = \"Clinically proven.\" }\n\n[[background]]",
    );
    let p = LintProject::new(&t);
    let (_, findings) = p.lint_json(&[]);
    let f = findings
        .iter()
        .find(|f| f["rule"] == "en-claims/health" && f["option"] == "traps")
        .expect("the override's claim");
    assert_eq!(f["override_region"], "US");
    assert_eq!(f["regions"], serde_json::json!(["US"]));
    assert_eq!(f["line"], 12);
    assert_eq!(f["phrase"], "Clinically proven");
}

#[test]
fn a_caption_file_finding_names_the_file_and_line() {
    let t = CLAIMS.replace(
        "text = { zh-CN = \"最近上新，第一步：冲泡。最后一天\", en = \"A secure lid. #10 in store. Best seller.\" }",
        "captions = { zh-CN = \"captions/zh.srt\", en = \"captions/en.srt\" }",
    );
    let p = LintProject::new(&t);
    p.write(
        "captions/zh.srt",
        "1\n00:00:00,000 --> 00:00:01,000\n早安\n\n2\n00:00:01,000 --> 00:00:02,000\n新品上市\n<i>顶级</i>烘焙\n",
    );
    p.write(
        "captions/en.srt",
        "1\n00:00:00,000 --> 00:00:01,000\nSecure and fresh\n",
    );
    let (_, findings) = p.lint_json(&[]);
    let f = findings
        .iter()
        .find(|f| f["option"] == "traps")
        .expect("the caption's claim");
    assert_eq!(brief(f), "cn-ad-law/superlative 8:4 顶级");
    assert_eq!(f["field"], "captions");
    assert!(
        f["file"].as_str().unwrap().ends_with("captions/zh.srt"),
        "{f}"
    );
    assert_eq!(
        findings.iter().filter(|f| f["option"] == "traps").count(),
        1
    );
}

#[test]
fn a_user_pack_adds_rules_and_can_replace_a_builtin_one() {
    let t = CLAIMS.replace("Best seller.", "Cheap as chips.");
    let p = LintProject::new(&t);
    p.write(
        "rules/acme.toml",
        r#"[pack]
id = "acme-brand"
version = "2.1"

[scope]
locales = ["en"]

[[rule]]
id = "acme-brand/cheap"
severity = "error"
message = "our brand never says cheap"
patterns = ["cheap"]
"#,
    );
    // Replaces the built-in en-claims: nothing but `guaranteed` is flagged in English.
    p.write(
        "rules/en.toml",
        r#"[pack]
id = "en-claims"
version = "9.9.9-team"

[scope]
locales = ["en"]

[[rule]]
id = "en-claims/guarantee"
severity = "warning"
message = "team list"
patterns = ["guaranteed"]
"#,
    );
    let (code, findings) = p.lint_json(&["--rules-dir", "rules"]);
    assert_eq!(code, 2);
    let en: Vec<String> = findings
        .iter()
        .filter(|f| f["locale"] == "en")
        .map(brief)
        .collect();
    assert_eq!(
        en,
        [
            "en-claims/guarantee 15:53 guaranteed".to_string(),
            format!("acme-brand/cheap 19:{} Cheap", column_of(&t, 19, "Cheap")),
        ]
    );
    let cheap = findings.iter().find(|f| f["pack"] == "acme-brand").unwrap();
    assert_eq!(cheap["pack_version"], "2.1");
    assert_eq!(cheap["severity"], "error");

    // An invalid pack is a diagnostic at its line, and the lint stops (exit 2).
    p.write("rules/bad.toml", "[pack]\nid = \"x\"\nversion = \"1\"\n\n[[rule]]\nid = \"x/y\"\nseverity = \"fatal\"\nmessage = \"m\"\npatterns = [\"a\"]\n");
    let o = p.factory(&["lint", "t.toml", "--rules-dir", "rules"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml:7:"), "{err}");
}

#[test]
fn warnings_alone_exit_0_and_clean_copy_says_so() {
    let cn_free = CLAIMS.replace("regions = [\"CN\", \"US\"]", "regions = [\"US\"]");
    // No CN region and no zh copy: no pack makes errors, the English claims are warnings.
    let p = LintProject::new(&cn_free.replace("zh-CN", "ja"));
    let (code, findings) = p.lint_json(&[]);
    assert_eq!(code, 0, "{findings:#?}");
    assert!(findings.iter().all(|f| f["severity"] == "warning"));
    assert_eq!(findings.len(), 4);

    let clean = LintProject::new(
        &CLAIMS
            .replace("regions = [\"CN\", \"US\"]", "regions = [\"US\"]")
            .replace("zh-CN", "ja")
            .replace("The #1 coffee, guaranteed.", "Fresh coffee.")
            .replace("Best coffee in the world", "Good coffee")
            .replace("It cures Monday mornings", "Hello Monday"),
    );
    let o = clean.factory(&["lint", "t.toml"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("t.toml: no findings in 8 copy string(s)"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn render_and_plan_refuse_on_errors_before_anything_is_written() {
    let p = LintProject::new(CLAIMS);
    let o = p.factory(&["render", "t.toml", "--out", "out"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cn-ad-law/superlative"), "{err}");
    assert!(err.contains("nothing was rendered"), "{err}");
    assert!(empty_or_missing(&p.path("out")), "render wrote into out/");

    let o = p.factory(&["plan", "t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stdout).is_empty());

    // Warnings only: the plan runs and carries them.
    let warn_only = LintProject::new(
        &CLAIMS
            .replace("regions = [\"CN\", \"US\"]", "regions = [\"US\"]")
            .replace("zh-CN", "ja"),
    );
    let o = warn_only.factory(&["plan", "t.toml", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["lint"].as_array().unwrap().len(), 4);
    let o = warn_only.factory(&["plan", "t.toml"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: en-claims/number-one"));
}

/// 1,000 copy strings (500 subtitles × 2 locales), every tenth with a claim. Timing is not
/// asserted here (see BENCHMARKS.md, *Lint*); the findings are.
#[test]
fn a_thousand_copy_strings() {
    let mut t = String::from(
        "[template]\nname = \"big\"\nduration = 6\n\n[output]\npresets = [\"tiktok\"]\nregions = [\"CN\", \"US\"]\n\n[[background]]\nid = \"white\"\ncolor = \"#ffffff\"\n",
    );
    for i in 0..500 {
        let (zh, en) = if i % 10 == 0 {
            ("最新口味，第一步先闻香", "Guaranteed fresh roast")
        } else {
            ("最近上新，每日现磨", "A secure lid on a fresh roast")
        };
        t.push_str(&format!(
            "\n[[subtitle]]\nid = \"s{i}\"\ntext = {{ zh-CN = \"{zh} {i}\", en = \"{en} {i}\" }}\n"
        ));
    }
    let p = LintProject::new(&t);
    let (code, findings) = p.lint_json(&[]);
    assert_eq!(code, 2);
    let rules: Vec<&str> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules.len(), 100);
    assert_eq!(
        rules
            .iter()
            .filter(|r| **r == "cn-ad-law/superlative")
            .count(),
        50
    );
    assert_eq!(
        rules
            .iter()
            .filter(|r| **r == "en-claims/guarantee")
            .count(),
        50
    );
}
