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
