//! `factory results next`: the next round's combinations, chosen by Thompson sampling over
//! the CTR model's posterior (docs/RESULTS.md).
//!
//! - exploit: draw the option terms from the posterior (options the model has not seen draw
//!   from the prior), take the allowed combination with the highest sampled log-odds, repeat;
//! - explore: a share of the picks goes to the combinations whose least-seen option has the
//!   fewest impressions;
//! - never two picks the duplicate gate would hold back as composition duplicates (the same
//!   [`DesignJudge`] the `distinct` design uses), never an option that lost a decided pool.
//!
//! Deterministic for a seed: the draws are seeded and ties go to product order.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::report::Report;
use super::stats::{self, Rng};
use super::ResultsError;
use crate::plan::{self, AssetHashes, Choices, DesignJudge};
use crate::preset::PresetSet;
use crate::template::Template;

#[derive(Debug, Clone)]
pub struct NextOptions {
    pub count: usize,
    /// Share of the picks reserved for options with little data, 0..=1.
    pub explore: f64,
    pub seed: u64,
}

/// One chosen combination and why.
#[derive(Debug, Clone, Serialize)]
pub struct NextPick {
    /// The keys a variant's `modules` use (pool, `scene.<id>.<pool>`, `order`).
    pub modules: BTreeMap<String, String>,
    pub explore: bool,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NextPlan {
    pub picks: Vec<NextPick>,
    /// Combinations left out because they use an option that lost a decided pool (one the
    /// results have seen; a new option has lost nothing).
    pub decided_out: usize,
    pub warnings: Vec<String>,
}

/// Draws per pick before giving up on finding one more that is not a duplicate.
const DRAWS_PER_PICK: usize = 50;

pub fn next(
    t: &Template,
    presets: &PresetSet,
    hashes: &AssetHashes,
    report: &Report,
    opts: &NextOptions,
) -> Result<NextPlan, ResultsError> {
    let combos: Vec<(u128, Choices)> = plan::combinations(t)?;
    let modules: Vec<BTreeMap<String, String>> = combos.iter().map(|(_, c)| c.ids(t)).collect();
    let mut warnings = Vec::new();

    // Options that lost a decided pool are not run again; an option new to the pool has
    // lost nothing and may be explored.
    let lost = |pool: &str, option: &str| {
        report
            .decided
            .iter()
            .any(|d| d.pool == pool && d.option != option)
            && report
                .modules
                .iter()
                .any(|m| m.pool == pool && m.option == option)
    };
    let eligible: Vec<usize> = (0..combos.len())
        .filter(|&i| !modules[i].iter().any(|(p, o)| lost(p, o)))
        .collect();
    let decided_out = combos.len() - eligible.len();

    // Impressions so far per (pool, option); an option never shown has none.
    let seen: HashMap<(&str, &str), i64> = report
        .modules
        .iter()
        .map(|m| ((m.pool.as_str(), m.option.as_str()), m.impressions))
        .collect();
    let data = |pool: &str, option: &str| seen.get(&(pool, option)).copied().unwrap_or(0);

    let explore_n = ((opts.count as f64 * opts.explore).round() as usize).min(opts.count);
    let exploit_n = opts.count - explore_n;
    let mut judge = DesignJudge::new(t, presets, hashes);
    let mut chosen: Vec<usize> = Vec::new();
    let mut picks = Vec::new();
    // Why a combination cannot join the picks: the first kept one it would duplicate.
    let mut clash = |i: usize, chosen: &[usize]| {
        chosen.iter().find_map(|&j| {
            judge
                .judge(&combos[i].1, combos[i].0, &combos[j].1, combos[j].0)
                .map(|why| (j, why))
        })
    };

    let model = report.ctr_model.as_ref();
    if model.is_none() {
        warnings.push(format!(
            "no results vary a pool of template `{}` yet: the exploit picks are drawn from the prior alone",
            t.name
        ));
    }
    let term: HashMap<(&str, &str), usize> = model
        .map(|m| {
            m.terms
                .iter()
                .enumerate()
                .map(|(i, (p, o))| ((p.as_str(), o.as_str()), i + 1))
                .collect()
        })
        .unwrap_or_default();
    let mean_score = |m: &BTreeMap<String, String>| -> f64 {
        let Some(model) = model else { return 0.0 };
        m.iter()
            .filter_map(|(p, o)| term.get(&(p.as_str(), o.as_str())))
            .map(|&i| model.posterior.mean[i])
            .sum()
    };
    let mut rng = Rng::new(opts.seed);
    let mut draw = 0;
    while picks.len() < exploit_n && draw < DRAWS_PER_PICK * exploit_n.max(1) {
        draw += 1;
        let theta = match model {
            Some(m) => m.posterior.draws(1, &mut rng).remove(0),
            None => Vec::new(),
        };
        // An option the model has no term for draws from the prior, once per draw.
        let mut prior: HashMap<(String, String), f64> = HashMap::new();
        let mut score = |m: &'_ BTreeMap<String, String>, rng: &mut Rng| -> f64 {
            m.iter()
                .map(|(p, o)| match term.get(&(p.as_str(), o.as_str())) {
                    Some(&i) => theta[i],
                    None => *prior
                        .entry((p.clone(), o.clone()))
                        .or_insert_with(|| stats::OPTION_PRIOR_SD * rng.normal()),
                })
                .sum()
        };
        let best = eligible
            .iter()
            .map(|&i| (i, score(&modules[i], &mut rng)))
            .fold(None::<(usize, f64)>, |b, (i, s)| match b {
                Some((_, bs)) if bs >= s => b,
                _ => Some((i, s)),
            });
        let Some((i, _)) = best else { break };
        if chosen.contains(&i) || clash(i, &chosen).is_some() {
            continue;
        }
        chosen.push(i);
        picks.push(NextPick {
            modules: modules[i].clone(),
            explore: false,
            why: format!(
                "highest sampled CTR in posterior draw {draw}; expected CTR odds ×{:.2} against the average options",
                mean_score(&modules[i]).exp()
            ),
        });
    }
    if picks.len() < exploit_n {
        warnings.push(format!(
            "{} of {exploit_n} exploit picks found in {draw} draws: the others would duplicate one already chosen; the rest go to exploring",
            picks.len()
        ));
    }

    // Explore: the least-seen option of each combination decides its turn. A pool with one
    // option is no choice and never needs exploring.
    let varies = |key: &str| {
        let first = modules.first().and_then(|m| m.get(key));
        modules.iter().any(|m| m.get(key) != first)
    };
    let varied: Vec<&String> = modules
        .first()
        .map(|m| m.keys().filter(|k| varies(k)).collect())
        .unwrap_or_default();
    let mut by_data: Vec<(i64, i64, usize)> = eligible
        .iter()
        .filter(|i| !chosen.contains(i))
        .map(|&i| {
            let d: Vec<i64> = varied.iter().map(|p| data(p, &modules[i][*p])).collect();
            (
                d.iter().copied().min().unwrap_or(0),
                d.iter().sum::<i64>(),
                i,
            )
        })
        .collect();
    by_data.sort_by_key(|&(min, sum, i)| (min, sum, combos[i].0));
    for (min, _, i) in by_data {
        if picks.len() >= opts.count {
            break;
        }
        if clash(i, &chosen).is_some() {
            continue;
        }
        let least = varied
            .iter()
            .map(|p| (*p, &modules[i][*p]))
            .min_by_key(|(p, o)| data(p, o));
        chosen.push(i);
        picks.push(NextPick {
            modules: modules[i].clone(),
            explore: true,
            why: match least {
                Some((p, o)) => format!("explores {p} = {o}: {min} impressions so far"),
                None => "the template's only combination".to_string(),
            },
        });
    }
    if picks.len() < opts.count {
        warnings.push(format!(
            "only {} combinations can run together without the duplicate gate holding one back (asked for {})",
            picks.len(),
            opts.count
        ));
    }
    Ok(NextPlan {
        picks,
        decided_out,
        warnings,
    })
}

/// The template's text with `[variants]` set to `strategy = "chosen"` and these picks; the
/// pools, exclusions, orders and everything else stay as written.
pub fn rewrite(source: &str, plan: &NextPlan, note: &str) -> Result<String, String> {
    use toml_edit::{value, Array, DocumentMut, InlineTable, Item, Table};
    let mut doc: DocumentMut = source.parse().map_err(|e| format!("{e}"))?;
    if !doc.contains_key("variants") {
        doc.insert("variants", Item::Table(Table::new()));
    }
    let v = doc["variants"]
        .as_table_mut()
        .ok_or("[variants] is not a table")?;
    for key in ["count", "seed", "distinct", "limit", "pick"] {
        v.remove(key);
    }
    v.insert("strategy", value("chosen"));
    let mut list = Array::new();
    for p in &plan.picks {
        let mut t = InlineTable::new();
        for (k, o) in &p.modules {
            t.insert(k, o.as_str().into());
        }
        t.decor_mut().set_prefix("\n    ");
        list.push(t);
    }
    list.set_trailing("\n");
    list.set_trailing_comma(true);
    v.insert("pick", value(list));
    let why: String = plan
        .picks
        .iter()
        .enumerate()
        .map(|(i, p)| format!("#   {}. {}\n", i + 1, p.why))
        .collect();
    v.decor_mut().set_prefix(format!("\n# {note}\n{why}"));
    Ok(doc.to_string())
}
