//! The A/B loop (issue #15): exports read in every layout and language, joined to the
//! variants the library recorded, stored once however often imported, and reported with
//! intervals that find a clear winner and decide nothing on thin data.

use std::path::Path;

use creative_factory::dedup::Library;
use creative_factory::results::{self, ReportOptions};

use crate::support::project::{stderr, stdout};
use crate::support::results_sim::{simulate, Campaign, SimSpec};

const SMALL: SimSpec = SimSpec {
    pools: &[3, 2],
    impressions: (2_000.0, 60_000.0),
    effect_sd: 0.3,
    fixed_impressions: None,
};

fn setup(spec: SimSpec, seed: u64) -> (tempfile::TempDir, Library, Campaign) {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::open(&dir.path().join("lib.sqlite")).unwrap();
    let c = simulate(spec, seed);
    c.record(&lib, dir.path());
    (dir, lib, c)
}

/// Every variant's totals, as the report sums them, equal the simulated ones.
fn assert_totals(lib: &Library, c: &Campaign, what: &str) {
    let r = results::report(lib, &ReportOptions::default()).unwrap();
    assert_eq!(
        r.variants.len(),
        c.variants.len(),
        "{what}: variants reported"
    );
    for v in &c.variants {
        let got = r
            .variants
            .iter()
            .find(|x| x.variant_id == v.id)
            .unwrap_or_else(|| panic!("{what}: variant {} missing", v.id));
        assert_eq!(
            got.impressions, v.impressions,
            "{what}: impressions of {}",
            v.id
        );
        assert_eq!(got.clicks, v.clicks, "{what}: clicks of {}", v.id);
        assert!(
            (got.conversions - v.conversions as f64).abs() < 1e-9,
            "{what}: conversions"
        );
        assert!(
            (got.spend - v.spend).abs() < 0.011,
            "{what}: spend {} vs {}",
            got.spend,
            v.spend
        );
        assert!((got.revenue - v.revenue).abs() < 0.011, "{what}: revenue");
        assert_eq!(got.file, v.file, "{what}: file");
        assert_eq!(got.modules, v.modules, "{what}: modules");
    }
    assert!(
        r.unmatched.is_empty(),
        "{what}: unmatched {:?}",
        r.unmatched
    );
}

#[test]
fn meta_exports_in_english_spanish_and_chinese_import_to_the_same_totals() {
    for lang in ["en", "es", "zh"] {
        let (dir, lib, c) = setup(SMALL, 7);
        let f = c.write_meta(&dir.path().join(format!("meta-{lang}.csv")), lang);
        let s = results::import(&lib, &[f]).unwrap();
        assert_eq!(s.files[0].1, "meta", "{lang}");
        assert_eq!(s.rows, c.variants.len(), "{lang}: rows");
        assert_eq!(s.totals_skipped, 1, "{lang}: Meta's total row");
        assert_eq!(s.matched, c.variants.len(), "{lang}: every row joined");
        assert_totals(&lib, &c, lang);
        let stored = lib.results().unwrap();
        let cur = match lang {
            "es" => "EUR",
            "zh" => "CNY",
            _ => "USD",
        };
        assert!(
            stored.iter().all(|r| r.currency == cur),
            "{lang}: currency from the header"
        );
        assert!(stored
            .iter()
            .all(|r| r.date_start == "2026-11-01" && r.date_end == "2026-11-30"));
    }
}

#[test]
fn tiktok_day_rows_by_file_name_aggregate_in_csv_and_xlsx() {
    for ext in ["csv", "xlsx"] {
        let (dir, lib, c) = setup(SMALL, 11);
        let f = c.write_tiktok(&dir.path().join(format!("tiktok.{ext}")), 3);
        let s = results::import(&lib, &[f]).unwrap();
        assert_eq!(s.files[0].1, "tiktok", "{ext}");
        assert_eq!(s.rows, 3 * c.variants.len(), "{ext}: a row per ad and day");
        assert_eq!(s.matched, s.rows, "{ext}: joined by output file name");
        assert_totals(&lib, &c, ext);
    }
}

#[test]
fn google_report_with_title_date_line_and_total_rows() {
    let (dir, lib, c) = setup(SMALL, 13);
    let f = c.write_google(&dir.path().join("google.csv"));
    let s = results::import(&lib, &[f]).unwrap();
    assert_eq!(s.files[0].1, "google");
    assert_eq!(s.totals_skipped, 1);
    assert_eq!(s.matched, c.variants.len());
    assert_totals(&lib, &c, "google");
    assert!(lib
        .results()
        .unwrap()
        .iter()
        .all(|r| r.date_start == "2026-11-01"
            && r.date_end == "2026-11-30"
            && r.currency == "USD"));
}

#[test]
fn reimport_replaces_and_a_total_beside_days_is_not_counted_twice() {
    let (dir, lib, c) = setup(SMALL, 17);
    let days = c.write_tiktok(&dir.path().join("days.csv"), 3);
    let first = results::import(&lib, std::slice::from_ref(&days)).unwrap();
    assert_eq!(first.new, first.rows);
    let again = results::import(&lib, std::slice::from_ref(&days)).unwrap();
    assert_eq!(
        (again.new, again.replaced),
        (0, again.rows),
        "second import replaces"
    );
    assert_totals(&lib, &c, "imported twice");
    // The same campaign's Meta export: another platform, its own rows.
    let meta = c.write_meta(&dir.path().join("meta.csv"), "en");
    results::import(&lib, std::slice::from_ref(&meta)).unwrap();
    results::import(&lib, &[meta]).unwrap();
    let r = results::report(&lib, &ReportOptions::default()).unwrap();
    for v in &c.variants {
        let got = r.variants.iter().find(|x| x.variant_id == v.id).unwrap();
        assert_eq!(
            got.impressions,
            2 * v.impressions,
            "TikTok + Meta, each once"
        );
    }
}

#[test]
fn messy_rows_parse_and_unmatched_rows_are_listed_not_dropped() {
    let (dir, lib, c) = setup(SMALL, 19);
    let v = &c.variants[0];
    // UTF-16 with BOM, tab-separated (Google's "Excel CSV"), a quoted thousands number,
    // `--` for zero, a percentage column, an ad that matches nothing.
    let text = format!(
        "Ad report\r\nNov 1, 2026 - Nov 30, 2026\r\nFinal URL\tAd ID\tImpr.\tCTR\tClicks\tCost\tConversions\tConv. value\r\n\
         https://s.example/?utm_content={}\t61\t\"12,345\"\t1.23%\t152\t$40.10\t--\t--\r\n\
         https://s.example/?utm_content=unknown\t62\t1,000\t0.50%\t5\t2.00\t0\t0\r\n\
         Total: Search\t\t13,345\t\t157\t42.10\t0\t0\r\n",
        v.id
    );
    let mut bytes = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        bytes.extend(u.to_le_bytes());
    }
    let f = dir.path().join("google-excel.csv");
    std::fs::write(&f, bytes).unwrap();
    let s = results::import(&lib, &[f]).unwrap();
    assert_eq!((s.rows, s.matched, s.totals_skipped), (2, 1, 1));
    assert_eq!(s.unmatched.len(), 1);
    assert_eq!(s.unmatched[0].ad_id, "62");
    assert_eq!(s.unmatched[0].line, 5);
    let stored = lib.results().unwrap();
    let row = stored.iter().find(|r| r.ad_id == "61").unwrap();
    assert_eq!((row.impressions, row.clicks), (12_345, 152));
    assert_eq!(row.conversions, 0.0);
    assert!((row.spend - 40.10).abs() < 1e-9);
    let r = results::report(&lib, &ReportOptions::default()).unwrap();
    assert_eq!(r.unmatched.len(), 1, "the unmatched row is reported");
}

#[test]
fn a_bad_number_names_the_file_and_line_and_stores_nothing() {
    let (dir, lib, c) = setup(SMALL, 23);
    let good = c.write_meta(&dir.path().join("good.csv"), "en");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Ad name,Ad ID,Reporting starts,Reporting ends,Impressions,Link clicks,Amount spent (USD)\n\
         ad one,1,2026-11-01,2026-11-30,1000,12,3.00\n\
         ad two,2,2026-11-01,2026-11-30,lots,12,3.00\n",
    )
    .unwrap();
    let e = results::import(&lib, &[good, bad.clone()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.csv:3") && e.contains("lots"), "{e}");
    assert!(
        lib.results().unwrap().is_empty(),
        "nothing stored from a failed import"
    );
    let other = dir.path().join("other.csv");
    std::fs::write(&other, "Name,Value\nx,1\n").unwrap();
    let e = results::import(&lib, &[other]).unwrap_err().to_string();
    assert!(
        e.contains("other.csv") && e.contains("not a Meta, TikTok or Google"),
        "{e}"
    );
}

fn report_for(spec: SimSpec, seed: u64) -> (Campaign, results::Report) {
    let (dir, lib, c) = setup(spec, seed);
    let f = c.write_meta(&dir.path().join("m.csv"), "en");
    results::import(&lib, &[f]).unwrap();
    (c, results::report(&lib, &ReportOptions::default()).unwrap())
}

#[test]
fn plenty_of_data_finds_the_true_best_option() {
    let spec = SimSpec {
        pools: &[3, 2],
        impressions: (0.0, 0.0),
        effect_sd: 0.35,
        fixed_impressions: Some(200_000),
    };
    let mut right = 0;
    for seed in 0..5 {
        let (c, r) = report_for(spec, 100 + seed);
        let best = c.true_best();
        for d in &r.decided {
            assert_eq!(
                best[&d.pool], d.option,
                "seed {seed}: declared winner is the true best"
            );
        }
        for (pool, opt) in &best {
            let top = r
                .modules
                .iter()
                .filter(|m| &m.pool == pool)
                .max_by(|a, b| a.p_best.total_cmp(&b.p_best))
                .unwrap();
            right += usize::from(&top.option == opt);
            // Every true effect inside its interval (allowing the rare 5 % miss over the loop
            // would make this flaky; the seeds here are fixed, the bench measures coverage).
        }
        let v = &r.variants[0];
        assert!(v.ctr.low <= v.ctr.estimate && v.ctr.estimate <= v.ctr.high);
    }
    assert!(
        right >= 9,
        "true best had the highest p_best in {right} of 10 pools"
    );
}

#[test]
fn five_hundred_impressions_per_variant_decide_nothing() {
    let spec = SimSpec {
        pools: &[3, 2, 2],
        impressions: (0.0, 0.0),
        effect_sd: 0.3,
        fixed_impressions: Some(500),
    };
    for seed in 0..5 {
        let (_, r) = report_for(spec, 200 + seed);
        assert!(r.decided.is_empty(), "seed {seed}: decided {:?}", r.decided);
        assert_eq!(r.undecided.len(), 3);
        assert!(r.undecided.iter().all(|u| u.more_impressions > 1_000.0));
        assert!(r.warnings[0].contains("not randomized"));
    }
}

fn factory(dir: &Path, args: &[&str]) -> std::process::Output {
    crate::support::factory()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_import_then_report_json_contract() {
    let (dir, lib, c) = setup(SMALL, 29);
    drop(lib);
    c.write_google(&dir.path().join("g.csv"));
    let o = factory(
        dir.path(),
        &["results", "import", "--library", "lib.sqlite", "g.csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("google export"), "{}", stdout(&o));
    let o = factory(
        dir.path(),
        &["results", "report", "--library", "lib.sqlite", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let v = &j["variants"][0];
    for k in [
        "variant_id",
        "file",
        "impressions",
        "clicks",
        "conversions",
        "spend",
        "revenue",
    ] {
        assert!(!v[k].is_null(), "variants[0].{k}");
    }
    for k in ["ctr", "cvr", "roas"] {
        for f in ["estimate", "low", "high"] {
            assert!(v[k][f].is_number(), "variants[0].{k}.{f}");
        }
    }
    // Every rate's estimate lies within its own interval.
    for v in j["variants"].as_array().unwrap() {
        for k in ["ctr", "cvr", "roas"] {
            let f = |x: &str| v[k][x].as_f64().unwrap();
            assert!(
                f("low") <= f("estimate") + 1e-12 && f("estimate") <= f("high") + 1e-12,
                "{} {k}: {}",
                v["variant_id"],
                v[k]
            );
        }
    }
    let m = &j["modules"][0];
    for k in ["pool", "option", "p_best"] {
        assert!(!m[k].is_null(), "modules[0].{k}");
    }
    assert!(m["ctr_effect"]["low"].as_f64().unwrap() <= m["ctr_effect"]["high"].as_f64().unwrap());
    assert!(m["cvr_effect"]["estimate"].is_number());
    assert!(j["decided"].is_array());
    assert_eq!(
        j["modules"].as_array().unwrap().len(),
        5,
        "3 backgrounds + 2 subtitles"
    );
    let o = factory(
        dir.path(),
        &[
            "results",
            "import",
            "--library",
            "lib.sqlite",
            "missing.csv",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.csv"), "{}", stderr(&o));
}

/// The round the simulated results came from, as a real template: its name and pool ids are
/// the simulator's, plus a fourth background nobody has seen yet.
const COFFEE: &str = r##"
[template]
name = "coffee-launch"
kind = "image"

[output]
presets = ["tmall-main"]
regions = ["CN"]

[[background]]
id = "background-a"
color = "#aa2222"

[[background]]
id = "background-b"
color = "#22aa22"

[[background]]
id = "background-c"
color = "#2222aa"

[[background]]
id = "background-d"
color = "#777711"

[[subtitle]]
id = "subtitle-a"
text = { zh-CN = "新鲜烘焙" }

[[subtitle]]
id = "subtitle-b"
text = { zh-CN = "送货上门" }
"##;

/// Plenty of data on three backgrounds and two captions, and a template with one more
/// background: `results next` writes a template that plans exactly its picks.
/// `factory results next` from round1.toml to round2.toml, before its options.
const NEXT: [&str; 7] = [
    "results",
    "next",
    "round1.toml",
    "--library",
    "lib.sqlite",
    "-o",
    "round2.toml",
];

const PLENTY: SimSpec = SimSpec {
    pools: &[3, 2],
    impressions: (0.0, 0.0),
    effect_sd: 0.35,
    fixed_impressions: Some(200_000),
};

fn next_round(
    seed: u64,
    args: &[&str],
) -> (tempfile::TempDir, Campaign, String, serde_json::Value) {
    let (dir, lib, c) = setup(PLENTY, seed);
    let f = c.write_meta(&dir.path().join("m.csv"), "en");
    results::import(&lib, &[f]).unwrap();
    drop(lib);
    std::fs::write(dir.path().join("round1.toml"), COFFEE).unwrap();
    let mut all = NEXT.to_vec();
    all.extend(args);
    let o = factory(dir.path(), &all);
    assert!(o.status.success(), "{}{}", stderr(&o), stdout(&o));
    let text = std::fs::read_to_string(dir.path().join("round2.toml")).unwrap();
    let plan = factory(dir.path(), &["plan", "round2.toml", "--json"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    (dir, c, text, serde_json::from_slice(&plan.stdout).unwrap())
}

fn planned(plan: &serde_json::Value) -> Vec<(String, String)> {
    plan["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            // Option indices in COFFEE's pools, whose ids end in a, b, c, d.
            let id = |pool: &str| {
                let i = v["choices"][pool].as_u64().unwrap() as u8;
                format!("{pool}-{}", (b'a' + i) as char)
            };
            (id("background"), id("subtitle"))
        })
        .collect()
}

#[test]
fn next_round_favours_the_better_background_explores_the_unseen_one_and_never_duplicates() {
    // A campaign whose caption pool is not decided, so both captions may run again.
    let seed = (100..130)
        .find(|&s| {
            let (_, r) = report_for(PLENTY, s);
            r.decided.iter().all(|d| d.pool != "subtitle")
        })
        .expect("a campaign with the caption pool undecided");
    let args = ["--count", "2", "--explore", "0.5", "--seed", "7"];
    let (dir, c, text, plan) = next_round(seed, &args);
    let picks = planned(&plan);
    assert_eq!(picks.len(), 2, "{text}");
    // The gate's own verdict on the new plan: no two variants are composition duplicates
    // (on a main image, two variants with one caption are the same creative).
    assert_eq!(plan["dedup_warnings"], serde_json::json!([]), "{text}");
    assert_ne!(picks[0].1, picks[1].1, "{picks:?}");
    // The exploit pick takes the background that really is best; the explore pick shows
    // the one nobody has seen.
    let best = &c.true_best()["background"];
    assert!(
        picks.iter().any(|p| &p.0 == best),
        "true best {best}: {picks:?}"
    );
    assert!(picks.iter().any(|p| p.0 == "background-d"), "{picks:?}");
    assert!(
        text.contains("explores background = background-d: 0 impressions so far"),
        "{text}"
    );
    // The same seed writes the same file.
    let first = std::fs::read_to_string(dir.path().join("round2.toml")).unwrap();
    let mut all = NEXT.to_vec();
    all.extend(args);
    assert!(factory(dir.path(), &all).status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("round2.toml")).unwrap(),
        first
    );
    // Asking for more than the gate allows says so rather than making duplicates.
    let count_at = all.len() - 5;
    all[count_at] = "4";
    let o = factory(dir.path(), &all);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(
            "warning: only 2 combinations can run together without the duplicate gate holding one back (asked for 4)"
        ),
        "{}",
        stdout(&o)
    );
    // -o may not overwrite the template it reads.
    let o = factory(
        dir.path(),
        &[
            "results",
            "next",
            "round1.toml",
            "--library",
            "lib.sqlite",
            "-o",
            "round1.toml",
            "--count",
            "2",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("-o names the template being read"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("round1.toml")).unwrap(),
        COFFEE
    );
}

#[test]
fn next_round_never_reruns_an_option_that_lost_a_decided_pool() {
    // Find a simulated campaign in which a pool was decided, then check the next round.
    let (seed, decided) = (100..110)
        .find_map(|s| {
            let (_, r) = report_for(PLENTY, s);
            r.decided
                .first()
                .map(|d| (s, (d.pool.clone(), d.option.clone())))
        })
        .expect("a pool decided in ten campaigns of 200,000 impressions per variant");
    let (_, _, text, plan) = next_round(seed, &["--count", "3", "--explore", "0"]);
    let v = plan["variants"].as_array().unwrap();
    assert!(!v.is_empty());
    // The options that lost are never shown again; background-d, which no results have
    // seen, has lost nothing.
    for (background, subtitle) in planned(&plan) {
        let got = if decided.0 == "background" {
            background
        } else {
            subtitle
        };
        assert!(got == decided.1 || got == "background-d", "{got}: {text}");
    }
}

#[test]
fn a_pick_that_names_no_single_combination_is_an_error_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let t = format!(
        "{COFFEE}\n[variants]\nstrategy = \"chosen\"\npick = [\n  {{ background = \"background-a\", subtitle = \"subtitle-a\" }},\n  {{ background = \"background-b\" }},\n]\n"
    );
    std::fs::write(dir.path().join("t.toml"), &t).unwrap();
    let o = factory(dir.path(), &["plan", "t.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let line = t
        .lines()
        .position(|l| l.contains("{ background = \"background-b\" }"))
        .unwrap()
        + 1;
    assert!(
        stderr(&o).contains(&format!(
            "t.toml:{line}: [variants] pick names 2 combinations: it leaves subtitle open; name one option for each"
        )),
        "{}",
        stderr(&o)
    );
    // An option the pool does not have is the template's own error, at its column.
    std::fs::write(
        dir.path().join("t.toml"),
        t.replace(
            "{ background = \"background-b\" }",
            "{ background = \"background-z\", subtitle = \"subtitle-b\" }",
        ),
    )
    .unwrap();
    let o = factory(dir.path(), &["plan", "t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "pick names background `background-z`, which is not in the [[background]] pool"
        ),
        "{}",
        stderr(&o)
    );
}

/// A plot's option rows: (pool, option, label text, whisker low px, estimate px, whisker
/// high px, winner?, circle y).
struct PlotRow {
    pool: String,
    option: String,
    label: String,
    low: f64,
    at: f64,
    high: f64,
    winner: bool,
    y: f64,
}

fn attr(n: roxmltree::Node, name: &str) -> f64 {
    n.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", n.tag_name().name()))
        .parse()
        .unwrap()
}

fn child<'a, 'i>(g: roxmltree::Node<'a, 'i>, tag: &str, class: &str) -> roxmltree::Node<'a, 'i> {
    g.descendants()
        .find(|n| n.has_tag_name(tag) && n.attribute("class") == Some(class))
        .unwrap_or_else(|| panic!("row without <{tag} class={class}>"))
}

fn plot_rows(doc: &roxmltree::Document) -> Vec<PlotRow> {
    doc.descendants()
        .filter(|n| {
            n.has_tag_name("g")
                && n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|c| c == "row"))
        })
        .map(|g| {
            let whisker = child(g, "line", "whisker");
            let dot = child(g, "circle", "estimate");
            PlotRow {
                pool: g.attribute("data-pool").unwrap_or("").to_string(),
                option: g
                    .attribute("data-option")
                    .or(g.attribute("data-variant"))
                    .unwrap()
                    .to_string(),
                label: child(g, "text", "label").text().unwrap().to_string(),
                low: attr(whisker, "x1"),
                at: attr(dot, "cx"),
                high: attr(whisker, "x2"),
                winner: g.attribute("class").unwrap().contains("winner"),
                y: attr(dot, "cy"),
            }
        })
        .collect()
}

fn texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or("").to_string())
        .collect()
}

#[test]
fn report_plots_show_each_option_and_variant_with_its_interval_and_the_winner() {
    // Plenty of data: seed 100 of this spec decides its background pool (checked below).
    let spec = SimSpec {
        pools: &[3, 2],
        impressions: (0.0, 0.0),
        effect_sd: 0.35,
        fixed_impressions: Some(200_000),
    };
    let (dir, lib, c) = setup(spec, 100);
    drop(lib);
    c.write_meta(&dir.path().join("m.csv"), "en");
    let lib_arg = ["--library", "lib.sqlite"];
    let o = factory(
        dir.path(),
        &[&["results", "import"][..], &lib_arg, &["m.csv"]].concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = factory(
        dir.path(),
        &[
            &["results", "report", "--json", "--plots", "plots"][..],
            &lib_arg,
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout stays JSON");
    let decided: Vec<(String, String)> = j["decided"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["pool"].as_str().unwrap().into(),
                d["option"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        !decided.is_empty(),
        "this campaign decides a pool: {}",
        j["undecided"]
    );

    let plots = dir.path().join("plots");
    let mut names: Vec<String> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "module-effects-ctr.svg",
            "module-effects-cvr.svg",
            "variant-rates.svg"
        ],
        "the three plots and nothing half-written beside them"
    );
    for (file, key) in [
        ("module-effects-ctr.svg", "ctr_effect"),
        ("module-effects-cvr.svg", "cvr_effect"),
    ] {
        let svg = std::fs::read_to_string(plots.join(file)).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{file}: {e}"));
        let root = doc.root_element();
        assert!(
            attr(root, "width") > 0.0 && attr(root, "height") > 0.0,
            "{file}: a size"
        );
        let all = texts(&doc);
        let rate = if key == "ctr_effect" { "CTR" } else { "CVR" };
        assert!(
            all.iter().any(|t| t.starts_with(rate)),
            "{file}: titled {rate}: {all:?}"
        );
        assert!(
            all.iter()
                .any(|t| t.contains("odds ratio") && t.contains("log scale")),
            "{file}: axis label"
        );
        for pool in ["background", "subtitle"] {
            assert!(all.iter().any(|t| t == pool), "{file}: pool heading {pool}");
        }
        let rows = plot_rows(&doc);
        let modules = j["modules"].as_array().unwrap();
        assert_eq!(rows.len(), modules.len(), "{file}: one row per option");
        // The ×1 line: an interval wholly above 1 is drawn right of it, wholly below left.
        let one = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("ref"))
            .map(|n| attr(n, "x1"))
            .expect("the ×1 line");
        for (row, m) in rows.iter().zip(modules) {
            assert_eq!(
                (row.pool.as_str(), row.option.as_str()),
                (m["pool"].as_str().unwrap(), m["option"].as_str().unwrap()),
                "{file}: rows in the report's order"
            );
            assert_eq!(row.label, row.option, "{file}: labelled with the option");
            assert!(
                row.low <= row.at && row.at <= row.high,
                "{file}: {}: whisker {} ≤ {} ≤ {}",
                row.option,
                row.low,
                row.at,
                row.high
            );
            let e = &m[key];
            let (lo, hi) = (e["low"].as_f64().unwrap(), e["high"].as_f64().unwrap());
            if lo > 1.0 {
                assert!(
                    row.low > one,
                    "{file}: {} above ×1 drawn right of the line",
                    row.option
                );
            }
            if hi < 1.0 {
                assert!(
                    row.high < one,
                    "{file}: {} below ×1 drawn left of the line",
                    row.option
                );
            }
            let won = decided.contains(&(row.pool.clone(), row.option.clone()));
            assert_eq!(
                row.winner,
                won && key == "ctr_effect",
                "{file}: {} marked as winner",
                row.option
            );
        }
        if key == "ctr_effect" {
            assert!(
                all.iter().any(|t| t.ends_with("winner")),
                "the winner says so in words"
            );
        }
    }

    let svg = std::fs::read_to_string(plots.join("variant-rates.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let rows = plot_rows(&doc);
    assert_eq!(rows.len(), c.variants.len(), "one row per variant");
    let mut last = f64::INFINITY;
    for w in rows.windows(2) {
        assert!(w[0].y < w[1].y, "rows go down the picture");
    }
    for row in &rows {
        let v = c
            .variants
            .iter()
            .find(|v| v.id == row.option)
            .expect("a simulated variant");
        assert_eq!(row.label, v.file, "labelled with its file");
        assert!(
            row.low <= row.at && row.at <= row.high,
            "{}: whisker",
            v.file
        );
        let rep = j["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["variant_id"] == v.id.as_str())
            .unwrap();
        let est = rep["ctr"]["estimate"].as_f64().unwrap();
        assert!(est <= last, "best first");
        last = est;
    }
}
