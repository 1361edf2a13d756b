//! Per-variant rates and per-module-option effects from the stored results.
//!
//! Decisions (docs/RESULTS.md):
//! - rates: Beta–Binomial with an empirical-Bayes prior from the batch (`stats::eb_prior`);
//! - option effects: one ridge logistic model per rate (CTR: clicks of impressions; CVR:
//!   conversions of clicks) with a term per option of every pool that varies, prior
//!   N(0, 0.5²) on the log-odds scale, and a variant-level random effect whose variance is
//!   estimated from the batch (`stats::fit_overdispersed`), Laplace posterior; an option's
//!   effect is its term minus its pool's mean term, reported as an odds ratio with a 95 %
//!   interval;
//! - `p_best`: the share of 4,000 posterior draws of the CTR model in which the option's
//!   term is the pool's highest; a pool is decided when one option reaches 0.95 **and** every
//!   option of the pool has the data floor below (`MIN_IMPRESSIONS`, `MIN_CLICKS`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::stats::{self, Interval, Obs, Rng};
use super::ResultsError;
use crate::dedup::{Library, ResultRow};

/// A pool is decided when one option is the best in this share of posterior draws.
pub(crate) const DECIDE_AT: f64 = 0.95;
/// The data floor every option of a pool must reach before the pool is called. Why a floor
/// and not `p_best` alone: the Laplace posterior is a normal approximation that is too sure
/// of itself on a few dozen clicks, and delivery is not randomized; in the simulator, 12
/// variants of 500 impressions each had one of three pools declared at `p_best` ≥ 0.95 (seed
/// 200, 2,000–3,000 impressions and ~50 clicks per option). 10,000 impressions and 100 clicks
/// per option is the usual rule of thumb for calling a split test (about 100 events per arm);
/// the benchmark (BENCHMARKS.md, `results_eval`) measures wrong declarations above it.
pub(crate) const MIN_IMPRESSIONS: i64 = 10_000;
pub(crate) const MIN_CLICKS: i64 = 100;
const DRAWS: usize = 4_000;

#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Only variants of this template (by the template's name).
    pub template: Option<String>,
    /// Only these variants (ids, lower case): a batch's, for its review page.
    pub variants: Option<BTreeSet<String>>,
    /// Seed of the posterior draws behind `p_best`.
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    pub variant_id: String,
    pub file: String,
    pub impressions: i64,
    pub clicks: i64,
    pub conversions: f64,
    pub spend: f64,
    pub revenue: f64,
    pub ctr: Interval,
    pub cvr: Interval,
    pub roas: Interval,
    /// Spend per conversion (`null` without conversions).
    pub cpa: Option<f64>,
    pub modules: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleReport {
    pub pool: String,
    pub option: String,
    /// Odds ratio of the option's CTR against its pool's average.
    pub ctr_effect: Interval,
    pub cvr_effect: Interval,
    /// Probability (posterior) that this option has the pool's highest CTR.
    pub p_best: f64,
    /// The same for CVR.
    pub p_best_cvr: f64,
    pub impressions: i64,
    pub clicks: i64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Decided {
    pub pool: String,
    pub option: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Undecided {
    pub pool: String,
    pub leader: String,
    pub p_best: f64,
    /// Order of magnitude of the further impressions (across the pool) it would take.
    pub more_impressions: f64,
    /// Why it is not decided, for a person: the posterior is not sure yet, or an option is
    /// below the data floor (named, with its impressions and clicks).
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnmatchedRow {
    pub platform: String,
    pub ad_id: String,
    pub ad_name: String,
    pub source: String,
    pub impressions: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub variants: Vec<VariantReport>,
    pub modules: Vec<ModuleReport>,
    pub decided: Vec<Decided>,
    pub undecided: Vec<Undecided>,
    pub unmatched: Vec<UnmatchedRow>,
    /// Rows left out because a wider row of the same ad covers them (a total beside days).
    pub covered_rows: usize,
    pub warnings: Vec<String>,
    /// How far variants sit from what their modules explain (`stats::fit_overdispersed`).
    pub variant_sd: VariantSd,
    #[serde(skip)]
    pub ctr_model: Option<Model>,
}

/// Standard deviation, on the log-odds scale, of the variants' own deviations from the
/// module model, per rate; the effects' intervals are widened by it.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct VariantSd {
    pub ctr: f64,
    pub cvr: f64,
}

/// The fitted CTR model, for planning the next round.
#[derive(Debug, Clone)]
pub struct Model {
    /// (pool, option) per term.
    pub terms: Vec<(String, String)>,
    pub posterior: stats::Posterior,
}

pub(crate) const DELIVERY_WARNING: &str =
    "platform delivery is not randomized: budget optimization shows \
the variants it favours to different people, at different times and in different amounts, so \
these effects mix the creative with its audience; to confirm a winner run a split test \
(Meta A/B test, TikTok Split Test, Google experiment) with equal budgets";

/// The rows that count: per (platform, ad), a row whose range lies inside another row's
/// range is left out (a lifetime total with no dates covers every range), so an export by
/// day next to a total export of the same ads is not counted twice.
fn counted(rows: Vec<ResultRow>) -> (Vec<ResultRow>, usize) {
    let mut by_ad: HashMap<(String, String), Vec<ResultRow>> = HashMap::new();
    for r in rows {
        by_ad
            .entry((r.platform.clone(), r.ad_id.clone()))
            .or_default()
            .push(r);
    }
    let covers = |a: &ResultRow, b: &ResultRow| {
        (a.date_start.is_empty() && a.date_end.is_empty())
            || (!b.date_start.is_empty()
                && a.date_start <= b.date_start
                && b.date_end <= a.date_end)
    };
    let mut out = Vec::new();
    let mut dropped = 0;
    let mut keys: Vec<_> = by_ad.keys().cloned().collect();
    keys.sort();
    for k in keys {
        let rs = &by_ad[&k];
        for (i, r) in rs.iter().enumerate() {
            let inside = rs
                .iter()
                .enumerate()
                .any(|(j, o)| j != i && covers(o, r) && (!covers(r, o) || j < i));
            if inside {
                dropped += 1;
            } else {
                out.push(r.clone());
            }
        }
    }
    (out, dropped)
}

pub fn report(lib: &Library, opts: &ReportOptions) -> Result<Report, ResultsError> {
    let entries = lib.list()?;
    // Variant id → (file, modules, template).
    let mut known: HashMap<String, (String, BTreeMap<String, String>, String)> = HashMap::new();
    for e in entries {
        let (Some(v), Some(c)) = (e.variant_id, e.composition) else {
            continue;
        };
        let file = e
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        known.insert(v.to_lowercase(), (file, c.modules, c.template));
    }
    let (rows, covered_rows) = counted(lib.results()?);
    let mut unmatched = Vec::new();
    let mut sums: BTreeMap<String, (i64, i64, f64, f64, f64)> = BTreeMap::new();
    for r in rows {
        let Some(v) = r.variant_id.as_ref().map(|v| v.to_lowercase()) else {
            unmatched.push(UnmatchedRow {
                platform: r.platform,
                ad_id: r.ad_id,
                ad_name: r.ad_name,
                source: r.source,
                impressions: r.impressions,
            });
            continue;
        };
        if let Some(t) = &opts.template {
            if known.get(&v).map(|k| &k.2) != Some(t) {
                continue;
            }
        }
        if opts
            .variants
            .as_ref()
            .is_some_and(|only| !only.contains(&v))
        {
            continue;
        }
        let s = sums.entry(v).or_default();
        s.0 += r.impressions;
        s.1 += r.clicks;
        s.2 += r.conversions;
        s.3 += r.spend;
        s.4 += r.revenue;
    }
    let ctr_prior = stats::eb_prior(
        &sums
            .values()
            .map(|s| (s.1 as f64, s.0 as f64))
            .collect::<Vec<_>>(),
    );
    let cvr_prior = stats::eb_prior(
        &sums
            .values()
            .map(|s| (s.2.round(), s.1 as f64))
            .collect::<Vec<_>>(),
    );
    let total_conv: f64 = sums.values().map(|s| s.2).sum();
    let total_rev: f64 = sums.values().map(|s| s.4).sum();
    let pooled_aov = if total_conv > 0.0 {
        total_rev / total_conv
    } else {
        0.0
    };
    let variants: Vec<VariantReport> = sums
        .iter()
        .map(|(v, &(imp, clk, conv, spend, rev))| {
            let (file, modules) = known
                .get(v)
                .map(|k| (k.0.clone(), k.1.clone()))
                .unwrap_or_default();
            let ctr = stats::beta_interval(clk as f64, imp as f64, ctr_prior);
            let cvr = stats::beta_interval(conv.round().min(clk as f64), clk as f64, cvr_prior);
            // ROAS = clicks × CVR × order value / spend: its uncertainty is the CVR's, the
            // order value taken as measured (the batch's when this variant has none).
            let aov = if conv > 0.0 { rev / conv } else { pooled_aov };
            let scale = if spend > 0.0 {
                clk as f64 * aov / spend
            } else {
                0.0
            };
            VariantReport {
                variant_id: v.clone(),
                file,
                impressions: imp,
                clicks: clk,
                conversions: conv,
                spend,
                revenue: rev,
                ctr,
                cvr,
                // The estimate from the same posterior as its interval: revenue ÷ spend is
                // the raw figure (both are reported), which a strong batch prior can put
                // outside the interval of the shrunk CVR.
                roas: Interval {
                    estimate: cvr.estimate * scale,
                    low: cvr.low * scale,
                    high: cvr.high * scale,
                },
                cpa: (conv > 0.0).then(|| spend / conv),
                modules,
            }
        })
        .collect();

    let (modules, decided, undecided, ctr_model, variant_sd) = effects(&variants, opts.seed);
    let mut warnings = vec![DELIVERY_WARNING.to_string()];
    let no_modules = variants.iter().filter(|v| v.modules.is_empty()).count();
    if no_modules > 0 {
        warnings.push(format!(
            "{no_modules} variant(s) have no module record in the library (added before results \
             were tracked, or by `factory library add`): counted per variant, left out of the \
             module effects"
        ));
    }
    Ok(Report {
        variants,
        modules,
        decided,
        undecided,
        unmatched,
        covered_rows,
        warnings,
        variant_sd,
        ctr_model,
    })
}

type Effects = (
    Vec<ModuleReport>,
    Vec<Decided>,
    Vec<Undecided>,
    Option<Model>,
    VariantSd,
);

fn effects(variants: &[VariantReport], seed: u64) -> Effects {
    // Pools that vary among the variants with results; their options in name order.
    let mut options: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for v in variants {
        for (p, o) in &v.modules {
            options.entry(p.clone()).or_default().insert(o.clone());
        }
    }
    options.retain(|_, o| o.len() >= 2);
    if options.is_empty() {
        return (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            None,
            VariantSd::default(),
        );
    }
    let terms: Vec<(String, String)> = options
        .iter()
        .flat_map(|(p, os)| os.iter().map(move |o| (p.clone(), o.clone())))
        .collect();
    let index: HashMap<(String, String), usize> = terms
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, t)| (t, i))
        .collect();
    let term_of = |v: &VariantReport| -> Vec<usize> {
        v.modules
            .iter()
            .filter_map(|(p, o)| index.get(&(p.clone(), o.clone())).copied())
            .collect()
    };
    let with: Vec<&VariantReport> = variants.iter().filter(|v| !v.modules.is_empty()).collect();
    let ctr_obs: Vec<Obs> = with
        .iter()
        .map(|v| Obs {
            y: v.clicks as f64,
            n: v.impressions as f64,
            terms: term_of(v),
        })
        .collect();
    let cvr_obs: Vec<Obs> = with
        .iter()
        .map(|v| Obs {
            y: v.conversions.round().min(v.clicks as f64),
            n: v.clicks as f64,
            terms: term_of(v),
        })
        .collect();
    let ctr = stats::fit_overdispersed(&ctr_obs, terms.len(), stats::OPTION_PRIOR_SD);
    let cvr = stats::fit_overdispersed(&cvr_obs, terms.len(), stats::OPTION_PRIOR_SD);
    let variant_sd = VariantSd {
        ctr: ctr.variant_sd,
        cvr: cvr.variant_sd,
    };
    let (ctr, cvr) = (ctr.posterior, cvr.posterior);
    let mut rng = Rng::new(seed);
    let ctr_draws = ctr.draws(DRAWS, &mut rng);
    let cvr_draws = cvr.draws(DRAWS, &mut rng);

    let mut modules = Vec::new();
    let mut decided = Vec::new();
    let mut undecided = Vec::new();
    for (pool, opts) in &options {
        let idx: Vec<usize> = opts
            .iter()
            .map(|o| index[&(pool.clone(), o.clone())] + 1)
            .collect();
        let k = idx.len() as f64;
        let p_best = |draws: &[Vec<f64>]| {
            let mut wins = vec![0usize; idx.len()];
            for d in draws {
                let best = (0..idx.len())
                    .max_by(|&a, &b| d[idx[a]].total_cmp(&d[idx[b]]))
                    .unwrap_or(0);
                wins[best] += 1;
            }
            wins.into_iter()
                .map(|w| w as f64 / draws.len() as f64)
                .collect::<Vec<_>>()
        };
        let pb = p_best(&ctr_draws);
        let pb_cvr = p_best(&cvr_draws);
        let effect = |post: &stats::Posterior, j: usize| {
            // Term minus the pool's mean term.
            let c: Vec<(usize, f64)> = idx
                .iter()
                .map(|&i| (i, if i == j { 1.0 - 1.0 / k } else { -1.0 / k }))
                .collect();
            let (m, v) = post.contrast(&c);
            let s = v.sqrt();
            Interval {
                estimate: m.exp(),
                low: (m - 1.96 * s).exp(),
                high: (m + 1.96 * s).exp(),
            }
        };
        for (a, o) in opts.iter().enumerate() {
            let (imp, clk) = with
                .iter()
                .filter(|v| v.modules.get(pool) == Some(o))
                .fold((0, 0), |(i, c), v| (i + v.impressions, c + v.clicks));
            modules.push(ModuleReport {
                pool: pool.clone(),
                option: o.clone(),
                ctr_effect: effect(&ctr, idx[a]),
                cvr_effect: effect(&cvr, idx[a]),
                p_best: pb[a],
                p_best_cvr: pb_cvr[a],
                impressions: imp,
                clicks: clk,
            });
        }
        let (lead, &top) = pb
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("a pool has options");
        let leader = opts.iter().nth(lead).cloned().unwrap_or_default();
        let pool_rows = &modules[modules.len() - opts.len()..];
        // The option furthest below the data floor, with the factor its data must grow by.
        let shortfall = |m: &ModuleReport| {
            (MIN_IMPRESSIONS as f64 / m.impressions.max(1) as f64)
                .max(MIN_CLICKS as f64 / m.clicks.max(1) as f64)
        };
        let thin = pool_rows
            .iter()
            .map(|m| (m, shortfall(m)))
            .filter(|(_, f)| *f > 1.0)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if top >= DECIDE_AT && thin.is_none() {
            decided.push(Decided {
                pool: pool.clone(),
                option: leader,
            });
        } else {
            // Leader vs runner-up: the gap in sd units must reach ~1.65 (one-sided 95 %) and
            // the sd shrinks as 1/√n, so the data must grow by (1.65 σ / gap)²; a gap of
            // less than 5 % in odds counts as 5 % (a smaller one is not worth finding).
            let second = (0..idx.len())
                .filter(|&b| b != lead)
                .max_by(|&a, &b| ctr.mean[idx[a]].total_cmp(&ctr.mean[idx[b]]))
                .unwrap_or(lead);
            let (gap, var) = ctr.contrast(&[(idx[lead], 1.0), (idx[second], -1.0)]);
            let factor = (1.65 * var.sqrt() / gap.abs().max(0.05)).powi(2);
            let seen: i64 = with
                .iter()
                .filter(|v| v.modules.contains_key(pool))
                .map(|v| v.impressions)
                .sum();
            let mut more = (seen.max(1) as f64 * (factor - 1.0)).max(seen as f64 * 0.1);
            let reason = match thin {
                Some((m, short)) => {
                    // Delivery goes to options in roughly their current shares, so the whole
                    // pool grows by the thinnest option's factor.
                    more = more.max(seen as f64 * (short - 1.0));
                    format!(
                        "option {} has {} impressions and {} clicks, below the floor of \
                         {MIN_IMPRESSIONS} and {MIN_CLICKS} every option needs",
                        m.option, m.impressions, m.clicks
                    )
                }
                None => format!("no option is best in {DECIDE_AT} of the posterior draws"),
            };
            undecided.push(Undecided {
                pool: pool.clone(),
                leader,
                p_best: top,
                more_impressions: order_of_magnitude(more),
                reason,
            });
        }
    }
    (
        modules,
        decided,
        undecided,
        Some(Model {
            terms,
            posterior: ctr,
        }),
        variant_sd,
    )
}

/// Rounded to one significant figure: the estimate is an order of magnitude.
fn order_of_magnitude(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return 0.0;
    }
    let p = 10f64.powf(x.log10().floor());
    (x / p).round() * p
}

impl Report {
    /// The `--json` contract (docs/RESULTS.md).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "variants": self.variants,
            "modules": self.modules,
            "decided": self.decided,
            "undecided": self.undecided,
            "unmatched": self.unmatched,
            "warnings": self.warnings,
            "variant_sd": self.variant_sd,
        })
    }

    /// The text an operator reads.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let pct = |i: &Interval| {
            format!(
                "{:.2}% [{:.2}–{:.2}]",
                i.estimate * 100.0,
                i.low * 100.0,
                i.high * 100.0
            )
        };
        let _ = writeln!(s, "variants ({}):", self.variants.len());
        for v in &self.variants {
            let _ = writeln!(
                s,
                "  {} {}  impr {}  clicks {}  conv {}  spend {:.2}  revenue {:.2}\n    CTR {}  CVR {}  ROAS {:.2} [{:.2}–{:.2}]  CPA {}",
                v.variant_id,
                v.file,
                v.impressions,
                v.clicks,
                v.conversions,
                v.spend,
                v.revenue,
                pct(&v.ctr),
                pct(&v.cvr),
                v.roas.estimate,
                v.roas.low,
                v.roas.high,
                v.cpa.map(|c| format!("{c:.2}")).unwrap_or_else(|| "–".into()),
            );
        }
        if !self.modules.is_empty() {
            let _ = writeln!(
                s,
                "module options (odds ratio vs the pool's average, 95 % interval; variants \
                 deviate from their modules by sd {:.2} in CTR log-odds, {:.2} in CVR):",
                self.variant_sd.ctr, self.variant_sd.cvr
            );
            for m in &self.modules {
                let _ = writeln!(
                    s,
                    "  {}={}  CTR ×{:.2} [{:.2}–{:.2}]  CVR ×{:.2} [{:.2}–{:.2}]  p_best {:.2}",
                    m.pool,
                    m.option,
                    m.ctr_effect.estimate,
                    m.ctr_effect.low,
                    m.ctr_effect.high,
                    m.cvr_effect.estimate,
                    m.cvr_effect.low,
                    m.cvr_effect.high,
                    m.p_best
                );
            }
        }
        for d in &self.decided {
            let _ = writeln!(
                s,
                "decided: {} = {} (p_best ≥ {DECIDE_AT}, every option ≥ {MIN_IMPRESSIONS} impressions and {MIN_CLICKS} clicks)",
                d.pool, d.option
            );
        }
        for u in &self.undecided {
            let _ = writeln!(
                s,
                "not decided: {} (leader {} at p_best {:.2}): {}; about {} more impressions across the pool would be needed",
                u.pool, u.leader, u.p_best, u.reason, u.more_impressions
            );
        }
        if !self.unmatched.is_empty() {
            let _ = writeln!(s, "rows matching no variant ({}):", self.unmatched.len());
            for u in &self.unmatched {
                let _ = writeln!(
                    s,
                    "  {} ad {} {:?} ({}, {} impressions)",
                    u.platform, u.ad_id, u.ad_name, u.source, u.impressions
                );
            }
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {w}");
        }
        s
    }
}
