//! `factory plan` on products far larger than any batch: the plan streams the combinations
//! instead of building the product, refuses what it should not start, and still numbers
//! small plans exactly as the cartesian product always has.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs `factory ARGS…` in `dir` (built-in presets only).
fn factory(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_factory"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run factory")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An image template with `backgrounds` colours, `subtitles` captions and `effects` grades.
fn grid(variants: &str, backgrounds: usize, subtitles: usize, effects: usize) -> String {
    let t = format!(
        "[template]\nname = \"grid\"\nkind = \"image\"\n\n[output]\npresets = [\"tmall-main\"]\nregions = [\"US\"]\n\n[variants]\n{variants}\n"
    );
    t + &pools(backgrounds, subtitles, effects)
}

/// `b0…`, `s0…`, `e0…` options to append to a template.
fn pools(backgrounds: usize, subtitles: usize, effects: usize) -> String {
    let mut t = String::new();
    for i in 0..backgrounds {
        t.push_str(&format!(
            "\n[[background]]\nid = \"b{i}\"\ncolor = \"#{:06x}\"\n",
            i % 0xff_ffff
        ));
    }
    for i in 0..subtitles {
        t.push_str(&format!(
            "\n[[subtitle]]\nid = \"s{i}\"\ntext = \"Caption {i}\"\n"
        ));
    }
    for i in 0..effects {
        t.push_str(&format!(
            "\n[[effects]]\nid = \"e{i}\"\ngrade = {{ brightness = 0.0{i} }}\n"
        ));
    }
    t
}

fn plan_json(dir: &Path, file: &str, text: &str, extra: &[&str]) -> Value {
    std::fs::write(dir.join(file), text).unwrap();
    let mut args = vec!["plan", file, "--json"];
    args.extend_from_slice(extra);
    let o = factory(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn refused(dir: &Path, file: &str, text: &str, extra: &[&str]) -> String {
    std::fs::write(dir.join(file), text).unwrap();
    let mut args = vec!["plan", file];
    args.extend_from_slice(extra);
    let o = factory(dir, &args);
    assert_eq!(o.status.code(), Some(2), "refused up front\n{}", stderr(&o));
    assert!(o.stdout.is_empty(), "nothing planned");
    stderr(&o)
}

/// `(variant_n, modules)` of every job, in plan order.
fn numbered(plan: &Value) -> Vec<(u64, BTreeMap<String, String>)> {
    plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            let modules = j["modules"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                // The pools a template leaves out show as their implicit option.
                .filter(|(k, v)| {
                    !matches!(
                        (k.as_str(), v.as_str()),
                        ("audio", "silence") | ("effects", "none")
                    )
                })
                .collect();
            (j["variant_n"].as_u64().unwrap(), modules)
        })
        .collect()
}

fn modules(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn a_sample_of_50_from_ten_thousand_by_ten_thousand_is_planned() {
    let dir = tempfile::tempdir().unwrap();
    let text = grid(
        "strategy = \"sample\"\ncount = 50\nseed = 11",
        10_000,
        10_000,
        0,
    );
    let plan = plan_json(dir.path(), "big.toml", &text, &[]);
    let jobs = numbered(&plan);
    assert_eq!(jobs.len(), 50);
    let ns: Vec<u64> = jobs.iter().map(|(n, _)| *n).collect();
    assert_eq!(ns, (1..=50).collect::<Vec<_>>());
    let distinct: BTreeSet<_> = jobs.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(distinct.len(), 50, "50 distinct combinations");
    // Reported in product order, like every plan.
    let keys: Vec<(u32, u32)> = jobs
        .iter()
        .map(|(_, m)| {
            (
                m["background"][1..].parse().unwrap(),
                m["subtitle"][1..].parse().unwrap(),
            )
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
}

#[test]
fn a_limit_over_millions_of_combinations_takes_the_first_variants() {
    // Template validation, not the plan, grows with the file: 3000 × 3000 keeps this quick.
    let dir = tempfile::tempdir().unwrap();
    let text = grid(
        "strategy = \"full\"\nlimit = 50\nexclude = [{ subtitle = \"s1\" }]",
        3_000,
        3_000,
        0,
    );
    let jobs = numbered(&plan_json(dir.path(), "big.toml", &text, &[]));
    let want: Vec<(u64, BTreeMap<String, String>)> = (0..3_000)
        .filter(|&s| s != 1)
        .take(50)
        .enumerate()
        .map(|(i, s)| {
            (
                i as u64 + 1,
                modules(&[("background", "b0".into()), ("subtitle", format!("s{s}"))]),
            )
        })
        .collect();
    assert_eq!(jobs, want);
}

#[test]
fn full_over_the_limit_is_refused_with_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(
        dir.path(),
        "big.toml",
        &grid("strategy = \"full\"", 10_000, 10_000, 0),
        &[],
    );
    assert_eq!(
        err.trim_end(),
        "error: full would make 100,000,000 variants, more than the limit of 100,000; use strategy = \"sample\" with count = N, or raise --max-variants"
    );
    // The limit is a setting, and it counts variants after exclusions.
    let small = grid(
        "strategy = \"full\"\nexclude = [{ background = \"b0\" }]",
        3,
        3,
        0,
    );
    let err = refused(dir.path(), "small.toml", &small, &["--max-variants", "5"]);
    assert!(
        err.contains("full would make 6 variants, more than the limit of 5;"),
        "{err}"
    );
    let plan = plan_json(dir.path(), "small.toml", &small, &["--max-variants", "6"]);
    assert_eq!(plan["variants"].as_array().unwrap().len(), 6);
}

#[test]
fn a_sample_larger_than_what_exists_is_refused_with_both_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let err = refused(
        dir.path(),
        "t.toml",
        &grid(
            "strategy = \"sample\"\ncount = 21\nexclude = [{ background = \"b0\" }]",
            6,
            0,
            4,
        ),
        &[],
    );
    assert_eq!(
        err.trim_end(),
        "error: sample count = 21 is more than the 20 combinations left after exclusions (of 24); lower count to 20 or fewer"
    );
    let err = refused(
        dir.path(),
        "t.toml",
        &grid("strategy = \"sample\"\ncount = 30", 6, 0, 4),
        &[],
    );
    assert!(
        err.contains("sample count = 30 is more than the 24 combinations the pools make;"),
        "{err}"
    );
    // Exactly what exists is fine, and is all of it.
    let plan = plan_json(
        dir.path(),
        "t.toml",
        &grid(
            "strategy = \"sample\"\ncount = 20\nexclude = [{ background = \"b0\" }]",
            6,
            0,
            4,
        ),
        &[],
    );
    assert_eq!(plan["variants"].as_array().unwrap().len(), 20);
    // A sample above the plan limit is refused like a full plan.
    let err = refused(
        dir.path(),
        "t.toml",
        &grid("strategy = \"sample\"\ncount = 10", 6, 0, 4),
        &["--max-variants", "9"],
    );
    assert!(
        err.contains("sample would make 10 variants, more than the limit of 9;"),
        "{err}"
    );
}

#[test]
fn a_mostly_excluded_large_product_is_still_sampled_in_full() {
    // Every background but the last is excluded: random draws over the whole product almost
    // never land on an allowed combination, yet 50 exist among the last background's
    // captions and must all be found there.
    let dir = tempfile::tempdir().unwrap();
    let rules: Vec<String> = (0..1_999)
        .map(|b| format!("{{ background = \"b{b}\" }}"))
        .collect();
    let text = grid(
        &format!(
            "strategy = \"sample\"\ncount = 50\nseed = 3\nexclude = [{}]",
            rules.join(", ")
        ),
        2_000,
        1_000,
        0,
    );
    let jobs = numbered(&plan_json(dir.path(), "t.toml", &text, &[]));
    assert_eq!(jobs.len(), 50);
    assert!(jobs.iter().all(|(_, m)| m["background"] == "b1999"));
    let distinct: BTreeSet<_> = jobs.iter().map(|(_, m)| m["subtitle"].clone()).collect();
    assert_eq!(distinct.len(), 50);
}

#[test]
fn small_samples_are_the_ones_planned_before() {
    // Recorded with the in-memory expansion this plan replaced (commit 6895cdc); a change
    // here changes the variants of every existing `sample` template.
    let dir = tempfile::tempdir().unwrap();
    let text = grid(
        "strategy = \"sample\"\ncount = 5\nseed = 7\nexclude = [{ background = \"b0\" }]",
        6,
        0,
        4,
    );
    let picked: Vec<String> = numbered(&plan_json(dir.path(), "t.toml", &text, &[]))
        .into_iter()
        .map(|(n, m)| format!("{n}:{}/{}", m["background"], m["effects"]))
        .collect();
    assert_eq!(picked, OLD_SAMPLE);
}

const OLD_SAMPLE: [&str; 5] = ["1:b3/e0", "2:b3/e3", "3:b4/e0", "4:b5/e0", "5:b5/e2"];

#[test]
fn a_small_full_plan_is_numbered_like_the_cartesian_product() {
    let dir = tempfile::tempdir().unwrap();
    let text = grid(
        "strategy = \"full\"\nexclude = [{ background = \"b1\", effects = \"e0\" }, { subtitle = \"s1\", effects = \"e2\" }]",
        3,
        2,
        3,
    );
    let jobs = numbered(&plan_json(dir.path(), "t.toml", &text, &[]));
    // Background slowest, then subtitle, then effects; exclusions filtered, then numbered.
    let mut want = Vec::new();
    for b in 0..3 {
        for s in 0..2 {
            for e in 0..3 {
                if (b == 1 && e == 0) || (s == 1 && e == 2) {
                    continue;
                }
                want.push((
                    want.len() as u64 + 1,
                    modules(&[
                        ("background", format!("b{b}")),
                        ("subtitle", format!("s{s}")),
                        ("effects", format!("e{e}")),
                    ]),
                ));
            }
        }
    }
    assert_eq!(jobs, want);
}

#[test]
fn scene_axes_and_orders_keep_their_place_in_the_numbering() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        r##"[template]
name = "story"
kind = "video"

[output]
presets = ["tiktok"]
regions = ["US"]

[variants]
orders = [["a", "b"], ["b", "a"]]
exclude = [{ background = "b2", subtitle = "s0" }]

[[scene]]
id = "a"
duration = 3.0
background = ["b0", "b1"]

[[scene]]
id = "b"
duration = 3.0
subtitle = ["s1", "s0"]
"##,
    );
    text.push_str(&pools(3, 2, 0));
    let jobs = numbered(&plan_json(dir.path(), "t.toml", &text, &[]));
    // Video-wide pools (background, subtitle), then scene a's background, scene b's
    // subtitle, then the order; the exclusion matches an option shown in any scene.
    let mut want = Vec::new();
    for bg in 0..3 {
        for sub in 0..2 {
            for a_bg in 0..2 {
                for b_sub in [1, 0] {
                    for order in ["a,b", "b,a"] {
                        let shows_b2 = bg == 2;
                        let shows_s0 = sub == 0 || b_sub == 0;
                        if shows_b2 && shows_s0 {
                            continue;
                        }
                        want.push((
                            want.len() as u64 + 1,
                            modules(&[
                                ("background", format!("b{bg}")),
                                ("subtitle", format!("s{sub}")),
                                ("scene.a.background", format!("b{a_bg}")),
                                ("scene.b.subtitle", format!("s{b_sub}")),
                                ("order", order.to_string()),
                            ]),
                        ));
                    }
                }
            }
        }
    }
    assert_eq!(jobs, want);
}
