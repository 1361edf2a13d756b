//! `[variants] strategy = "distinct"` and `"pairwise"`: plans that spend render time only on
//! variants the duplicate gate will accept, and all-pairs designs the results loop can
//! learn module effects from. Checked on the plan a user reads (`factory plan --json`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::project::*;

/// Three flat backgrounds, two product shots (different files), three unrelated captions.
fn video_template(variants: &str) -> String {
    format!(
        r##"
[template]
name = "design"
kind = "video"
duration = 1.0
fps = 10

[output]
presets = ["tiny-video"]
regions = ["US", "SA"]

[variants]
{variants}

[[background]]
id = "red"
color = "#aa2222"

[[background]]
id = "green"
color = "#22aa22"

[[background]]
id = "blue"
color = "#2222aa"

[[product]]
id = "disc"
source = "assets/product.png"

[[product]]
id = "photo"
source = "assets/photo.png"

[[subtitle]]
id = "hook"
text = {{ en = "Run lighter today", ar = "اركض بخفة اليوم" }}

[[subtitle]]
id = "rain"
text = {{ en = "Built for the rain", ar = "مصنوع للمطر" }}

[[subtitle]]
id = "ship"
text = {{ en = "Free shipping worldwide", ar = "شحن مجاني لكل العالم" }}
"##
    )
}

fn plan(p: &Project, text: &str, extra: &[&str]) -> Value {
    p.write("t.toml", text);
    let o = p.factory(&[&["plan", "t.toml", "--json"][..], extra].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Each variant's modules (pool → option id), in variant order.
fn variants(plan: &Value) -> Vec<BTreeMap<String, String>> {
    let mut seen = BTreeSet::new();
    // A job's own variant, then those it serves (`same_output`), each once.
    plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|j| std::iter::once(j).chain(j["same_output"].as_array().into_iter().flatten()))
        .filter(|j| seen.insert(j["variant_n"].as_u64().unwrap()))
        .map(|j| {
            j["modules"]
                .as_object()
                .unwrap()
                .iter()
                // The pools a template leaves out show as an implicit "none".
                .filter(|(k, v)| {
                    ["background", "product", "subtitle", "effects"].contains(&k.as_str())
                        && *v != "none"
                })
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .collect()
}

fn usage(vs: &[BTreeMap<String, String>], pool: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for v in vs {
        *m.entry(v[pool].clone()).or_default() += 1;
    }
    m
}

#[test]
fn distinct_keeps_no_composition_duplicates_and_spreads_every_option() {
    let p = Project::new();
    let full = plan(&p, &video_template("strategy = \"full\""), &[]);
    assert!(
        !full["dedup_warnings"].as_array().unwrap().is_empty(),
        "the full product has duplicates to avoid"
    );
    let d = plan(&p, &video_template("strategy = \"distinct\""), &[]);
    assert_eq!(
        d["dedup_warnings"].as_array().unwrap().len(),
        0,
        "no two planned variants would be held back by the gate: {}",
        d["dedup_warnings"]
    );
    let vs = variants(&d);
    // Type + creative repeat whenever two variants of one structure share a caption, so three
    // captions allow three variants; each caption, background once, the products 2 + 1.
    assert_eq!(vs.len(), 3, "{vs:?}");
    assert!(usage(&vs, "subtitle").values().all(|&n| n == 1), "{vs:?}");
    assert!(usage(&vs, "background").values().all(|&n| n == 1), "{vs:?}");
    let mut products: Vec<usize> = usage(&vs, "product").into_values().collect();
    products.sort();
    assert_eq!(products, vec![1, 2], "{vs:?}");
    // Every other combination is explained: the kept variant it would duplicate, and the rule.
    let design = &d["design"];
    assert_eq!(design["strategy"], "distinct");
    assert_eq!(design["combinations"], 18);
    let left = design["left_out"].as_array().unwrap();
    assert_eq!(left.len(), 15);
    for l in left {
        let n = l["duplicate_of"].as_u64().expect("names the kept variant");
        assert!((1..=3).contains(&n), "{l}");
        let reason = l["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("US tiny-video: "),
            "first market and preset where it collides: {reason}"
        );
    }
    // Same template → same choice; a subset run plans the same variants.
    assert_eq!(
        plan(&p, &video_template("strategy = \"distinct\""), &[])["variants"],
        d["variants"]
    );
    assert_eq!(
        plan(
            &p,
            &video_template("strategy = \"distinct\""),
            &["--regions", "SA"]
        )["variants"],
        d["variants"]
    );
    // The text a user reads.
    let o = p.factory(&["plan", "t.toml", "--regions", "US"]);
    let out = stdout(&o);
    assert!(
        out.contains("distinct: 3 of 18 combination(s) kept"),
        "{out}"
    );
    assert!(
        out.lines().filter(|l| l.starts_with("left out ")).count() == 15,
        "{out}"
    );
}

#[test]
fn distinct_count_keeps_the_least_used_options_first() {
    let p = Project::new();
    let d = plan(
        &p,
        &video_template("strategy = \"distinct\"\ncount = 2"),
        &[],
    );
    let vs = variants(&d);
    assert_eq!(vs.len(), 2);
    assert!(
        usage(&vs, "product").values().all(|&n| n == 1),
        "both products: {vs:?}"
    );
    let left = d["design"]["left_out"].as_array().unwrap();
    assert!(
        left.iter()
            .any(|l| l["reason"] == "count = 2 reached" && l["duplicate_of"].is_null()),
        "{left:?}"
    );
}

/// An image template: 4 backgrounds × 3 captions × 3 grades = 36 combinations.
fn image_template(variants: &str) -> String {
    let mut t = format!(
        "[template]\nname = \"pairs\"\nkind = \"image\"\n\n[output]\npresets = [\"tiny-post\"]\nregions = [\"US\"]\n\n[variants]\n{variants}\n"
    );
    for (i, c) in ["#aa2222", "#22aa22", "#2222aa", "#aaaa22"]
        .iter()
        .enumerate()
    {
        t += &format!("\n[[background]]\nid = \"b{i}\"\ncolor = \"{c}\"\n");
    }
    for (i, c) in [
        "Run lighter today",
        "Built for the rain",
        "Free shipping worldwide",
    ]
    .iter()
    .enumerate()
    {
        t += &format!("\n[[subtitle]]\nid = \"s{i}\"\ntext = \"{c}\"\n");
    }
    for i in 0..3 {
        t += &format!(
            "\n[[effects]]\nid = \"e{i}\"\ngrade = {{ brightness = 0.0{} }}\n",
            i + 1
        );
    }
    t
}

/// Pairs of (pool=option, pool=option) from two different pools that the variants cover.
fn covered_pairs(vs: &[BTreeMap<String, String>]) -> BTreeSet<(String, String)> {
    let mut s = BTreeSet::new();
    for v in vs {
        let items: Vec<String> = v.iter().map(|(k, o)| format!("{k}={o}")).collect();
        for a in 0..items.len() {
            for b in a + 1..items.len() {
                s.insert((items[a].clone(), items[b].clone()));
            }
        }
    }
    s
}

#[test]
fn pairwise_covers_every_pair_near_the_lower_bound() {
    let p = Project::new();
    let d = plan(&p, &image_template("strategy = \"pairwise\""), &[]);
    let vs = variants(&d);
    // 4·3 + 4·3 + 3·3 pairs of options from two pools.
    assert_eq!(covered_pairs(&vs).len(), 33, "{vs:?}");
    let pairs = &d["design"]["pairs"];
    assert_eq!(pairs["pairs"], 33);
    assert_eq!(pairs["covered"], 33);
    assert_eq!(pairs["uncoverable"], 0);
    assert_eq!(pairs["lower_bound"], 12);
    assert!(
        (12..=15).contains(&vs.len()),
        "{} variants for a lower bound of 12 (36 in full)",
        vs.len()
    );
}

#[test]
fn pairwise_names_pairs_the_exclusions_make_uncoverable() {
    let p = Project::new();
    let d = plan(
        &p,
        &image_template(
            "strategy = \"pairwise\"\nexclude = [{ background = \"b0\", subtitle = \"s0\" }]",
        ),
        &[],
    );
    let vs = variants(&d);
    assert!(!covered_pairs(&vs).contains(&("background=b0".into(), "subtitle=s0".into())));
    assert_eq!(covered_pairs(&vs).len(), 32);
    assert_eq!(d["design"]["pairs"]["uncoverable"], 1);
}

#[test]
fn pairwise_distinct_covers_what_it_can_without_duplicates() {
    let p = Project::new();
    let d = plan(
        &p,
        &video_template("strategy = \"pairwise\"\ndistinct = true"),
        &[],
    );
    assert_eq!(d["dedup_warnings"].as_array().unwrap().len(), 0);
    let pairs = &d["design"]["pairs"];
    assert!(pairs["uncoverable"].as_u64().unwrap() > 0, "{pairs}");
    assert_eq!(
        pairs["covered"].as_u64().unwrap() + pairs["uncoverable"].as_u64().unwrap(),
        pairs["pairs"].as_u64().unwrap()
    );
    let plain = plan(&p, &video_template("strategy = \"pairwise\""), &[]);
    assert!(!plain["dedup_warnings"].as_array().unwrap().is_empty());
}

#[test]
fn strategy_keys_that_do_not_apply_are_refused_with_their_line() {
    let p = Project::new();
    p.write(
        "t.toml",
        &video_template("strategy = \"distinct\"\nseed = 3\ndistinct = true"),
    );
    let o = p.factory(&["validate", "t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("`seed` does not apply to strategy = \"distinct\""),
        "{e}"
    );
    assert!(e.contains("t.toml:14:"), "{e}");
    assert!(
        e.contains("`distinct` does not apply to strategy = \"distinct\""),
        "{e}"
    );
    assert!(
        e.contains("remove it, or set strategy = \"pairwise\""),
        "{e}"
    );
}

#[test]
fn a_design_over_too_many_combinations_is_refused_up_front() {
    let p = Project::new();
    let mut t = "[template]\nname = \"big\"\nkind = \"image\"\n\n[output]\npresets = [\"tiny-image\"]\nregions = [\"US\"]\n\n[variants]\nstrategy = \"distinct\"\n".to_string();
    for i in 0..400 {
        t += &format!(
            "\n[[background]]\nid = \"b{i}\"\ncolor = \"#{:06x}\"\n",
            i * 997
        );
    }
    for i in 0..300 {
        t += &format!("\n[[subtitle]]\nid = \"s{i}\"\ntext = \"Caption {i}\"\n");
    }
    p.write("t.toml", &t);
    let o = p.factory(&["plan", "t.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "nothing planned");
    assert!(
        stderr(&o).contains(
            "distinct and pairwise consider every combination, and the pools make 120,000, more than 100,000; use strategy = \"sample\" with count = N, or exclude combinations"
        ),
        "{}",
        stderr(&o)
    );
}
