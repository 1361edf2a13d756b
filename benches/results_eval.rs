//! How well `factory results report` finds winners (issue #15), over simulated campaigns
//! written as real Meta exports and imported into a real library. Figures in BENCHMARKS.md.
//!
//!     cargo bench --bench results_eval [-- CAMPAIGNS]

#[allow(dead_code, unused_imports)]
#[path = "../tests/support/mod.rs"]
mod support;

use creative_factory::dedup::Library;
use creative_factory::results::{self, ReportOptions};
use support::results_sim::{simulate, SimSpec};

struct Tally {
    pools: usize,
    best_top: usize,
    declared: usize,
    wrong: usize,
    effects: usize,
    covered: usize,
    /// Effects and covered ones in campaigns where some variant's true CTR was clamped
    /// (`SimVariant::off_model`): where the additive model is wrong.
    off_effects: usize,
    off_covered: usize,
    /// The CTR model's variant-level sd per campaign.
    variant_sd: Vec<f64>,
}

fn run(spec: SimSpec, campaigns: u64, seed0: u64) -> Tally {
    let mut t = Tally {
        pools: 0,
        best_top: 0,
        declared: 0,
        wrong: 0,
        effects: 0,
        covered: 0,
        off_effects: 0,
        off_covered: 0,
        variant_sd: Vec::new(),
    };
    for s in 0..campaigns {
        let dir = tempfile::tempdir().unwrap();
        let lib = Library::open(&dir.path().join("lib.sqlite")).unwrap();
        let c = simulate(spec, seed0 + s);
        c.record(&lib, dir.path());
        let f = c.write_meta(&dir.path().join("meta.csv"), "en");
        results::import(&lib, &[f]).unwrap();
        let r = results::report(
            &lib,
            &ReportOptions {
                seed: s,
                ..Default::default()
            },
        )
        .unwrap();
        let best = c.true_best();
        for (pool, opt) in &best {
            t.pools += 1;
            let top = r
                .modules
                .iter()
                .filter(|m| &m.pool == pool)
                .max_by(|a, b| a.p_best.total_cmp(&b.p_best))
                .unwrap();
            t.best_top += usize::from(&top.option == opt);
        }
        for d in &r.decided {
            t.declared += 1;
            t.wrong += usize::from(best[&d.pool] != d.option);
        }
        let off = c.variants.iter().any(|v| v.off_model);
        for m in &r.modules {
            let truth = c.true_ctr_effect(&m.pool, &m.option);
            let hit = usize::from(m.ctr_effect.low <= truth && truth <= m.ctr_effect.high);
            t.effects += 1;
            t.covered += hit;
            if off {
                t.off_effects += 1;
                t.off_covered += hit;
            }
        }
        t.variant_sd.push(r.variant_sd.ctr);
    }
    t
}

fn main() {
    let campaigns: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let pct = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let scenarios = [
        (
            "≥20k impressions per option (10k–100k per variant, skewed)",
            SimSpec {
                pools: &[3, 2],
                impressions: (10_000.0, 100_000.0),
                effect_sd: 0.3,
                fixed_impressions: None,
            },
        ),
        (
            "1k–100k per variant, skewed, 3 pools",
            SimSpec {
                pools: &[3, 2, 2],
                impressions: (1_000.0, 100_000.0),
                effect_sd: 0.3,
                fixed_impressions: None,
            },
        ),
        (
            "500 impressions per variant",
            SimSpec {
                pools: &[3, 2, 2],
                impressions: (0.0, 0.0),
                effect_sd: 0.3,
                fixed_impressions: Some(500),
            },
        ),
    ];
    println!("{campaigns} campaigns per scenario");
    for (i, (name, spec)) in scenarios.iter().enumerate() {
        let mut t = run(*spec, campaigns, 10_000 * (i as u64 + 1));
        t.variant_sd.sort_by(f64::total_cmp);
        let on = (t.effects - t.off_effects, t.covered - t.off_covered);
        println!(
            "{name}: true best has the highest p_best in {:.1}% of {} pools; {} pools declared, {:.1}% wrong; 95% CTR-effect intervals cover the truth {:.1}% of {} \
             ({:.1}% of {} in campaigns with a clamped variant, {:.1}% of {} in the others); variant sd median {:.3}, 90th percentile {:.3}",
            pct(t.best_top, t.pools),
            t.pools,
            t.declared,
            pct(t.wrong, t.declared),
            pct(t.covered, t.effects),
            t.effects,
            pct(t.off_covered, t.off_effects),
            t.off_effects,
            pct(on.1, on.0),
            on.0,
            t.variant_sd[t.variant_sd.len() / 2],
            t.variant_sd[t.variant_sd.len() * 9 / 10],
        );
    }
}
