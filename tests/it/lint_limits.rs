//! Platform text limits (issue #12): the ad text a subtitle option carries (`title`,
//! `description`, `headline`, `long_headline`) against each preset's `[[text_limit]]`, counted
//! as that platform counts — with traps at the limit that must not fire — and the ad text
//! carried into the manifest.

use crate::support::lint::{column_of, LintProject};
use crate::support::project::{stderr, Project};

fn cjk(n: usize) -> String {
    "鲜".repeat(n)
}

/// `at-limit` is all traps: 20 CJK titles (Xiaohongshu counts characters), 45 CJK
/// descriptions (90 where wide ones count 2: TikTok's 100 and Google's 90 exactly), a title of
/// 17 full-width letters (counted 17 by Xiaohongshu, not 34), a headline whose ZWJ family
/// emoji is one character (2 wide) rather than its 7 code points. `over` trips each limit.
fn template() -> String {
    format!(
        r##"[template]
name = "limits"
duration = 6

[output]
presets = ["xiaohongshu", "tiktok", "shorts", "feed-4x5"]
regions = ["CN", "US"]

[[background]]
id = "dark"
color = "#1a1a1a"

[[subtitle]]
id = "at-limit"
text = {{ zh-CN = "新品", en = "New" }}
title = {{ zh-CN = "{t20}", en = "ＦＲＥＳＨ ＲＯＡＳＴ ＤＡＩＬＹ" }}
description = {{ zh-CN = "{d45}", en = "Fresh roast, every morning." }}
headline = {{ zh-CN = "{h15}", en = "Fresh roast for the family 👨‍👩‍👧‍👦" }}

[[subtitle]]
id = "over"
text = {{ zh-CN = "新品", en = "New" }}
title = {{ zh-CN = "{t21}", en = "Short title" }}
description = {{ zh-CN = "{d51}", en = "{d126}" }}
headline = {{ zh-CN = "{h16}", en = "{h41}" }}
"##,
        t20 = cjk(20),
        d45 = cjk(45),
        h15 = cjk(15),
        t21 = cjk(21),
        d51 = cjk(51),
        h16 = cjk(16),
        d126 = "a".repeat(126),
        h41 = "b".repeat(41),
    )
}

#[test]
fn each_limit_fires_as_the_platform_counts_and_traps_at_the_limit_do_not() {
    let t = template();
    let p = LintProject::new(&t);
    let (code, all) = p.lint_json_all(&[]);
    assert_eq!(code, 2, "over a hard limit is an error: {all:#?}");
    let limits: Vec<&serde_json::Value> = all
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("limits/"))
        .collect();
    let mut got: Vec<String> = limits
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {}/{} {}",
                f["rule"].as_str().unwrap(),
                f["option"].as_str().unwrap(),
                f["locale"].as_str().unwrap(),
                f["preset"].as_str().unwrap(),
                f["measured"],
                f["allowed"],
                f["severity"].as_str().unwrap()
            )
        })
        .collect();
    got.sort();
    let mut want = vec![
        "limits/title-length over zh-CN xiaohongshu 21/20 error",
        "limits/description-length over zh-CN tiktok 102/100 error",
        "limits/description-length over zh-CN shorts 102/90 error",
        "limits/description-length over en tiktok 126/100 error",
        "limits/description-length over en shorts 126/90 error",
        "limits/description-length over en feed-4x5 126/125 warning",
        "limits/headline-length over en shorts 41/30 error",
        "limits/headline-length over en feed-4x5 41/40 warning",
        "limits/headline-length over zh-CN shorts 32/30 error",
    ];
    want.sort();
    assert_eq!(got, want, "{limits:#?}");

    // Where: the string itself, by line and column; the whole text as the phrase.
    let title = limits
        .iter()
        .find(|f| f["rule"] == "limits/title-length")
        .unwrap();
    // `over`'s title: the descriptions also hold runs of 21 and more.
    let line = t
        .lines()
        .position(|l| l.starts_with("title") && l.contains(&cjk(21)))
        .unwrap()
        + 1;
    assert_eq!(title["line"], line);
    assert_eq!(title["column"], column_of(&t, line, &cjk(21)));
    assert_eq!(title["phrase"], cjk(21));
    assert_eq!(title["pool"], "subtitle");
    assert_eq!(title["field"], "title");
    assert_eq!(title["regions"], serde_json::json!(["CN"]));
    let message = title["message"].as_str().unwrap();
    assert!(message.contains("title is 21 characters"), "{message}");
    assert!(message.contains("allows at most 20"), "{message}");

    // Human output: the rule at the copy, like validate.
    let o = p.factory(&["lint", "t.toml"]);
    let err = stderr(&o);
    assert!(err.contains("error: limits/title-length"), "{err}");
    assert!(
        err.contains(&format!("t.toml:{line}:{}", column_of(&t, line, &cjk(21)))),
        "{err}"
    );
}

#[test]
fn a_preset_text_limit_with_an_unknown_field_is_refused_where_it_is_written() {
    let p = LintProject::new(&template());
    p.write(
        "presets/mine.toml",
        "inherits = \"tiktok\"\n\n[[text_limit]]\nfield = \"subtitle\"\nmax = 10\nkind = \"hard\"\nsource = \"test\"\n",
    );
    let o = p.factory(&["lint", "t.toml", "--presets-dir", "presets"]);
    assert_ne!(o.status.code(), Some(0));
    let err = stderr(&o);
    assert!(err.contains("unknown ad text field `subtitle`"), "{err}");
    assert!(err.contains("mine.toml:4:"), "{err}");
}

#[test]
fn the_manifest_carries_each_variants_own_ad_text() {
    // The main image draws no caption: both variants share one file, but each row carries
    // its own variant's ad text.
    let p = Project::new();
    p.write(
        "batch.toml",
        r##"
[template]
name = "adtext"
kind = "image"

[output]
presets = ["tiny-image"]
regions = ["US"]

[dedup]
policy = "warn"

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.9

[[background]]
id = "teal"
color = "#227777"

[[subtitle]]
id = "hook"
text = { en = "hook now" }
title = { en = "Hook title" }
description = { en = "Hook description" }

[[subtitle]]
id = "sale"
text = { en = "sale now" }
headline = { en = "Sale headline" }
"##,
    );
    let o = p.factory(&["render", "batch.toml", "--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path("out/manifest.json")).unwrap()).unwrap();
    let mut got: Vec<(String, serde_json::Value)> = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["modules"]["subtitle"].as_str().unwrap().to_string(),
                r["ad_text"].clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [
            (
                "hook".to_string(),
                serde_json::json!({ "title": "Hook title", "description": "Hook description" })
            ),
            (
                "sale".to_string(),
                serde_json::json!({ "headline": "Sale headline" })
            ),
        ]
    );
    // The CSV has a column per field, for an upload sheet.
    let mut csv = csv::Reader::from_path(p.path("out/manifest.csv")).unwrap();
    let head = csv.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let mut cells: Vec<[String; 4]> = csv
        .records()
        .map(|r| {
            let r = r.unwrap();
            [
                "ad_title",
                "ad_description",
                "ad_headline",
                "ad_long_headline",
            ]
            .map(|c| r[col(c)].to_string())
        })
        .collect();
    cells.sort();
    assert_eq!(
        cells,
        [
            ["", "", "Sale headline", ""].map(String::from),
            ["Hook title", "Hook description", "", ""].map(String::from),
        ]
    );
}
