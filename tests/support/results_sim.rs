//! A campaign simulator for the A/B loop (issue #15): known true module effects on the
//! log-odds scale, realistic rates, skewed delivery — and the results written as the real
//! export files of each platform, so the importer is tested on what operators download.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use creative_factory::dedup::fingerprint::{Fingerprint, Masks};
use creative_factory::dedup::{AssetRef, Composition, Library, MediaKind};
use creative_factory::results::stats::Rng;

/// One simulated variant: its modules and what the platform delivered.
#[derive(Debug, Clone)]
pub struct SimVariant {
    pub id: String,
    pub file: String,
    pub modules: BTreeMap<String, String>,
    pub impressions: i64,
    pub clicks: i64,
    pub conversions: i64,
    pub spend: f64,
    pub revenue: f64,
    /// The variant's true CTR was clamped into the simulator's range (0.3–3 %), so its CTR is
    /// not what its options add up to on the log-odds scale (an interaction, in effect).
    pub off_model: bool,
}

#[derive(Debug, Clone)]
pub struct Campaign {
    /// Pool → (option, true CTR effect, true CVR effect) on the log-odds scale.
    pub pools: BTreeMap<String, Vec<(String, f64, f64)>>,
    pub variants: Vec<SimVariant>,
}

/// How a campaign is drawn.
#[derive(Debug, Clone, Copy)]
pub struct SimSpec {
    /// Options per pool, e.g. `[3, 2, 2]`.
    pub pools: &'static [usize],
    /// Impressions per variant are drawn log-uniformly in this range, then skewed by
    /// delivery (variants with a better true CTR get more).
    pub impressions: (f64, f64),
    /// Standard deviation of the true option effects (log-odds).
    pub effect_sd: f64,
    /// When set, every variant gets exactly this many impressions (no skew).
    pub fixed_impressions: Option<i64>,
}

const POOL_NAMES: [&str; 5] = ["background", "subtitle", "audio", "effects", "product"];

fn binomial(rng: &mut Rng, n: i64, p: f64) -> i64 {
    let mean = n as f64 * p;
    if mean > 50.0 && n as f64 * (1.0 - p) > 50.0 {
        // Normal approximation: exact enough at these counts, and fast for the bench.
        let x = mean + (mean * (1.0 - p)).sqrt() * rng.normal();
        return x.round().clamp(0.0, n as f64) as i64;
    }
    (0..n).filter(|_| rng.uniform() < p).count() as i64
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub fn simulate(spec: SimSpec, seed: u64) -> Campaign {
    let mut rng = Rng::new(seed);
    // Base rates inside CTR 0.3–3 %, CVR 1–10 %, leaving room for the effects.
    let base_ctr = logit(0.006 + rng.uniform() * 0.012);
    let base_cvr = logit(0.02 + rng.uniform() * 0.05);
    let mut pools = BTreeMap::new();
    for (i, &k) in spec.pools.iter().enumerate() {
        let opts: Vec<(String, f64, f64)> = (0..k)
            .map(|o| {
                (
                    format!("{}-{}", POOL_NAMES[i], (b'a' + o as u8) as char),
                    spec.effect_sd * rng.normal(),
                    spec.effect_sd * rng.normal(),
                )
            })
            .collect();
        pools.insert(POOL_NAMES[i].to_string(), opts);
    }
    // The full product.
    let mut combos: Vec<Vec<usize>> = vec![vec![]];
    for opts in pools.values() {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                (0..opts.len()).map(move |o| {
                    let mut c = c.clone();
                    c.push(o);
                    c
                })
            })
            .collect();
    }
    let (lo, hi) = spec.impressions;
    let variants = combos
        .iter()
        .enumerate()
        .map(|(n, c)| {
            let mut modules = BTreeMap::new();
            let (mut ctr, mut cvr) = (base_ctr, base_cvr);
            for ((pool, opts), &o) in pools.iter().zip(c) {
                modules.insert(pool.clone(), opts[o].0.clone());
                ctr += opts[o].1;
                cvr += opts[o].2;
            }
            let free = sigmoid(ctr);
            let (ctr, cvr) = (free.clamp(0.003, 0.03), sigmoid(cvr).clamp(0.01, 0.10));
            let off_model = ctr != free;
            let impressions = spec.fixed_impressions.unwrap_or_else(|| {
                // Log-uniform, times the delivery skew: the platform buys more of what clicks.
                let base = (lo.ln() + rng.uniform() * (hi.ln() - lo.ln())).exp();
                (base * (ctr / 0.012).powf(1.5)).clamp(lo, hi) as i64
            });
            let clicks = binomial(&mut rng, impressions, ctr);
            let conversions = binomial(&mut rng, clicks, cvr);
            let spend = impressions as f64 * (4.0 + rng.uniform() * 6.0) / 1000.0;
            let revenue = conversions as f64 * (25.0 + rng.uniform() * 20.0);
            let id = format!("{:016x}", rng.next_u64());
            SimVariant {
                file: format!("coffee-v{}-{}.png", n + 1, &id[..6]),
                id,
                modules,
                impressions,
                clicks,
                conversions,
                spend: (spend * 100.0).round() / 100.0,
                revenue: (revenue * 100.0).round() / 100.0,
                off_model,
            }
        })
        .collect();
    Campaign { pools, variants }
}

impl Campaign {
    /// The option of each pool with the highest true CTR effect.
    pub fn true_best(&self) -> BTreeMap<String, String> {
        self.pools
            .iter()
            .map(|(p, o)| {
                let best = o.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
                (p.clone(), best.0.clone())
            })
            .collect()
    }

    /// True odds ratio of an option's CTR against its pool's average (what the report
    /// estimates; exact before the rate clamp, which the simulator's ranges rarely reach).
    pub fn true_ctr_effect(&self, pool: &str, option: &str) -> f64 {
        let o = &self.pools[pool];
        let mean = o.iter().map(|x| x.1).sum::<f64>() / o.len() as f64;
        (o.iter().find(|x| x.0 == option).unwrap().1 - mean).exp()
    }

    /// Records every variant's output in the library, as a render would: a real (tiny)
    /// image file fingerprinted, with its variant id and composition (modules included).
    pub fn record(&self, lib: &Library, dir: &Path) {
        for (i, v) in self.variants.iter().enumerate() {
            let path = super::dedup::write_scene(dir, &v.file, 1_000 + i as u64, 64, 64);
            let fp = Fingerprint::compute(&path, &Masks::default()).unwrap();
            let c = Composition {
                template: "coffee-launch".into(),
                preset: "tiktok".into(),
                region: Some("US".into()),
                kind: MediaKind::Image,
                duration: 0.0,
                background: AssetRef {
                    id: v.modules.get("background").cloned().unwrap_or_default(),
                    sha256: format!("bg-{i}"),
                },
                product: None,
                copy: v.modules.get("subtitle").cloned().unwrap_or_default(),
                audio: None,
                effects: String::new(),
                structure: "image:bg-still+caption/1-shot".into(),
                product_box: None,
                text_boxes: vec![],
                modules: v.modules.clone(),
            };
            lib.add(&fp, Some(&v.id), Some(&c), None).unwrap();
        }
    }

    /// Meta Ads Manager CSV, in the account's language (`en`, `es`, `zh`): one row per ad for
    /// the reporting range, the variant id in the ad name (even rows) or only in the URL
    /// parameters (odd rows), thousands separators, a BOM, and the total row Meta writes first.
    pub fn write_meta(&self, path: &Path, lang: &str) -> PathBuf {
        let (header, sep_thousands, decimal): (&[&str], &str, &str) = match lang {
            "es" => (
                &[
                    "Inicio del informe",
                    "Fin del informe",
                    "Nombre del anuncio",
                    "Identificador del anuncio",
                    "Impresiones",
                    "Clics en el enlace",
                    "Resultados",
                    "Importe gastado (EUR)",
                    "Compras",
                    "Valor de conversión de compras",
                    "Parámetros de URL",
                ],
                ".",
                ",",
            ),
            "zh" => (
                &[
                    "报告开始日期",
                    "报告结束日期",
                    "广告名称",
                    "广告编号",
                    "展示次数",
                    "链接点击量",
                    "成效",
                    "已花费金额 (CNY)",
                    "购物次数",
                    "购物转化价值",
                    "网址参数",
                ],
                ",",
                ".",
            ),
            _ => (
                &[
                    "Reporting starts",
                    "Reporting ends",
                    "Ad name",
                    "Ad ID",
                    "Impressions",
                    "Link clicks",
                    "Results",
                    "Amount spent (USD)",
                    "Purchases",
                    "Purchases conversion value",
                    "URL parameters",
                ],
                ",",
                ".",
            ),
        };
        let int = |x: i64| group(x, sep_thousands);
        let money = |x: f64| {
            let cents = (x * 100.0).round() as i64;
            format!(
                "{}{decimal}{:02}",
                group(cents / 100, sep_thousands),
                cents % 100
            )
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header).unwrap();
        let tot: (i64, i64, i64) = self.variants.iter().fold((0, 0, 0), |a, v| {
            (a.0 + v.impressions, a.1 + v.clicks, a.2 + v.conversions)
        });
        w.write_record([
            "2026-11-01",
            "2026-11-30",
            "",
            "",
            &int(tot.0),
            &int(tot.1),
            &int(tot.2),
            "",
            "",
            "",
            "",
        ])
        .unwrap();
        for (i, v) in self.variants.iter().enumerate() {
            let name = if i % 2 == 0 {
                format!("coffee | {} | tiktok", v.id)
            } else {
                format!("coffee round 1 #{}", i + 1)
            };
            let conv = if v.conversions == 0 {
                "--".to_string()
            } else {
                int(v.conversions)
            };
            w.write_record([
                "2026-11-01",
                "2026-11-30",
                &name,
                &format!("2384{:012}", i),
                &int(v.impressions),
                &int(v.clicks),
                &conv,
                &money(v.spend),
                &conv,
                &money(v.revenue),
                &format!("utm_source=meta&utm_content={}", v.id),
            ])
            .unwrap();
        }
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend(w.into_inner().unwrap());
        std::fs::write(path, bytes).unwrap();
        path.to_path_buf()
    }

    /// TikTok Ads Manager export by day (the variant's output file name as the ad name), the
    /// variant's totals split over `days` days; CSV, or XLSX when `path` ends in `.xlsx`.
    pub fn write_tiktok(&self, path: &Path, days: u32) -> PathBuf {
        let header = [
            "By Day",
            "Ad name",
            "Ad ID",
            "Cost",
            "Impressions",
            "Clicks (destination)",
            "Conversions",
            "Total complete payment",
            "Currency",
        ];
        let mut rows: Vec<Vec<String>> = Vec::new();
        for (i, v) in self.variants.iter().enumerate() {
            for d in 0..days {
                let share = |x: i64| x / days as i64 + i64::from(d == 0) * (x % days as i64);
                let fshare = |x: f64| {
                    if d == 0 {
                        x - (days - 1) as f64 * (x / days as f64 * 100.0).floor() / 100.0
                    } else {
                        (x / days as f64 * 100.0).floor() / 100.0
                    }
                };
                rows.push(vec![
                    format!("2026-11-{:02}", d + 1),
                    v.file.clone(),
                    format!("17{:015}", i),
                    format!("{:.2}", fshare(v.spend)),
                    share(v.impressions).to_string(),
                    share(v.clicks).to_string(),
                    share(v.conversions).to_string(),
                    format!("{:.2}", fshare(v.revenue)),
                    "USD".into(),
                ]);
            }
        }
        if path.extension().is_some_and(|e| e == "xlsx") {
            let mut wb = rust_xlsxwriter::Workbook::new();
            let ws = wb.add_worksheet();
            for (c, h) in header.iter().enumerate() {
                ws.write_string(0, c as u16, *h).unwrap();
            }
            for (r, row) in rows.iter().enumerate() {
                for (c, cell) in row.iter().enumerate() {
                    // Numbers as numbers (as TikTok writes them), names and ids as text.
                    match (c, cell.parse::<f64>()) {
                        (3..=7, Ok(x)) => ws.write_number(r as u32 + 1, c as u16, x).unwrap(),
                        _ => ws.write_string(r as u32 + 1, c as u16, cell).unwrap(),
                    };
                }
            }
            wb.save(path).unwrap();
        } else {
            let mut w = csv::Writer::from_path(path).unwrap();
            w.write_record(header).unwrap();
            for r in &rows {
                w.write_record(r).unwrap();
            }
            w.write_record(["Total", "", "", "", "", "", "", "", ""])
                .unwrap();
            w.flush().unwrap();
        }
        path.to_path_buf()
    }

    /// Google Ads ad report CSV: title line, date-range line, header, rows (the variant id
    /// in the final URL's `utm_content`), then the `Total:` rows Google appends.
    pub fn write_google(&self, path: &Path) -> PathBuf {
        let mut out = String::from("Ad report\nNovember 1, 2026 - November 30, 2026\n");
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "Ad state",
            "Final URL",
            "Campaign",
            "Ad group",
            "Ad ID",
            "Currency code",
            "Impr.",
            "Clicks",
            "Cost",
            "Conversions",
            "Conv. value",
        ])
        .unwrap();
        for (i, v) in self.variants.iter().enumerate() {
            w.write_record([
                "Enabled".to_string(),
                format!(
                    "https://shop.example.com/p/x?utm_source=google&utm_content={}",
                    v.id
                ),
                "Coffee".into(),
                "Group 1".into(),
                format!("6{:011}", i),
                "USD".into(),
                group(v.impressions, ","),
                group(v.clicks, ","),
                format!("{:.2}", v.spend),
                format!("{:.2}", v.conversions as f64),
                format!("{:.2}", v.revenue),
            ])
            .unwrap();
        }
        let imp: i64 = self.variants.iter().map(|v| v.impressions).sum();
        w.write_record([
            "Total: Account",
            "",
            "",
            "",
            "",
            "USD",
            &group(imp, ","),
            "",
            "",
            "",
            "",
        ])
        .unwrap();
        out.push_str(&String::from_utf8(w.into_inner().unwrap()).unwrap());
        std::fs::write(path, out).unwrap();
        path.to_path_buf()
    }
}

/// `1234567` → `1,234,567` (or with `.`).
pub fn group(x: i64, sep: &str) -> String {
    let s = x.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    if x < 0 {
        format!("-{out}")
    } else {
        out
    }
}
