//! The statistics of the report, written out so each step can be checked: Beta quantiles
//! (regularised incomplete beta), the empirical-Bayes Beta prior, a ridge logistic
//! regression fitted by IRLS with its Laplace (Gaussian) posterior, and posterior draws.

/// A deterministic generator (SplitMix64): draws must repeat for a seed, across builds.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos (g = 7, n = 9).
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (std::f64::consts::TAU).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction of the incomplete beta (Numerical Recipes' `betacf`).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let tiny = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-14 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta I_x(a, b): the Beta(a, b) distribution function.
pub(crate) fn beta_cdf(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The `p` quantile of Beta(a, b), by bisection on the distribution function (monotone, so
/// it cannot fail to converge; 100 halvings reach double precision).
pub(crate) fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if beta_cdf(mid, a, b) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// An estimate with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// The empirical-Bayes Beta prior for a rate from the batch's (successes, trials) pairs, by
/// the method of moments: the prior mean is the pooled rate; its variance is what the
/// observed rates vary beyond binomial noise. The prior's weight (a + b) is kept between 2
/// (nearly flat around the batch's rate) and 10⁶, so one variant can never be pulled all
/// the way to the mean by a prior stronger than the data allows.
pub(crate) fn eb_prior(data: &[(f64, f64)]) -> (f64, f64) {
    let (ys, ns): (f64, f64) = data
        .iter()
        .fold((0.0, 0.0), |(a, b), (y, n)| (a + y, b + n));
    if ns <= 0.0 {
        return (1.0, 1.0);
    }
    let m = ((ys + 0.5) / (ns + 1.0)).clamp(1e-6, 1.0 - 1e-6);
    let used: Vec<&(f64, f64)> = data.iter().filter(|(_, n)| *n > 0.0).collect();
    let k = used.len() as f64;
    let weight = if k >= 2.0 {
        // Between-variant variance of the rates, weighted by trials, minus the binomial part.
        let var_obs = used
            .iter()
            .map(|(y, n)| n * (y / n - m).powi(2))
            .sum::<f64>()
            / ns;
        let noise = m * (1.0 - m) * k / ns;
        let between = (var_obs - noise).max(1e-12);
        (m * (1.0 - m) / between - 1.0).clamp(2.0, 1e6)
    } else {
        2.0
    };
    (m * weight, (1.0 - m) * weight)
}

/// The posterior of a rate under a Beta prior: mean and central 95 % interval.
pub(crate) fn beta_interval(y: f64, n: f64, prior: (f64, f64)) -> Interval {
    let (a, b) = (prior.0 + y, prior.1 + (n - y).max(0.0));
    Interval {
        estimate: a / (a + b),
        low: beta_quantile(0.025, a, b),
        high: beta_quantile(0.975, a, b),
    }
}

/// A binomial observation for the logistic model: `y` of `n`, with the indices of the
/// option terms that are on.
#[derive(Debug, Clone)]
pub(crate) struct Obs {
    pub y: f64,
    pub n: f64,
    pub terms: Vec<usize>,
}

/// Gaussian (Laplace) posterior of a logistic model: coefficients (intercept first) and
/// covariance.
#[derive(Debug, Clone)]
pub struct Posterior {
    pub mean: Vec<f64>,
    pub cov: Vec<Vec<f64>>,
}

/// The prior standard deviation of an option's term on the log-odds scale. 0.5 says an
/// option rarely moves a rate by more than a factor of e (≈ 2.7) either way — creative
/// changes move CTR by tens of percent, not by orders of magnitude — and it is what keeps
/// thin data from declaring winners.
pub(crate) const OPTION_PRIOR_SD: f64 = 0.5;
/// The intercept's prior is nearly flat (the batch's overall rate is well measured).
const INTERCEPT_PRIOR_SD: f64 = 10.0;

/// Ridge logistic regression `logit p = b0 + Σ b_term`, every option term with prior
/// N(0, `prior_sd`²), fitted by Newton/IRLS on the binomial likelihood; the covariance is
/// the inverse Hessian at the mode (Laplace).
pub(crate) fn fit_logistic(obs: &[Obs], terms: usize, prior_sd: f64) -> Posterior {
    fit_scaled(obs, terms, prior_sd, &vec![1.0; obs.len()], None)
}

/// The same fit with each observation's log-likelihood multiplied by `scale[i]` (1 for the
/// plain binomial; below 1 for a variant whose own deviation from the module model is
/// uncertain: see `fit_overdispersed`), started from `start` when given.
fn fit_scaled(
    obs: &[Obs],
    terms: usize,
    prior_sd: f64,
    scale: &[f64],
    start: Option<&[f64]>,
) -> Posterior {
    let p = terms + 1;
    let mut beta = match start {
        Some(b) => b.to_vec(),
        None => {
            let (y, n) = obs.iter().fold((0.0, 0.0), |(a, b), o| (a + o.y, b + o.n));
            let pooled = ((y + 0.5) / (n + 1.0)).clamp(1e-6, 1.0 - 1e-6);
            let mut b = vec![0.0; p];
            b[0] = (pooled / (1.0 - pooled)).ln();
            b
        }
    };
    let prec: Vec<f64> = (0..p)
        .map(|j| {
            if j == 0 {
                1.0 / INTERCEPT_PRIOR_SD.powi(2)
            } else {
                1.0 / prior_sd.powi(2)
            }
        })
        .collect();
    let mut hess = vec![vec![0.0; p]; p];
    for _ in 0..50 {
        let mut grad: Vec<f64> = (0..p).map(|j| -prec[j] * beta[j]).collect();
        for (j, row) in hess.iter_mut().enumerate() {
            row.iter_mut().for_each(|v| *v = 0.0);
            row[j] = prec[j];
        }
        for (o, &s) in obs.iter().zip(scale).filter(|(o, _)| o.n > 0.0) {
            let mu = mean_rate(&beta, o);
            let r = s * (o.y - o.n * mu);
            let w = s * o.n * mu * (1.0 - mu);
            let idx: Vec<usize> = std::iter::once(0)
                .chain(o.terms.iter().map(|t| t + 1))
                .collect();
            for &a in &idx {
                grad[a] += r;
                for &b in &idx {
                    hess[a][b] += w;
                }
            }
        }
        let step = solve(&hess, &grad);
        let mut max = 0.0f64;
        for (b, s) in beta.iter_mut().zip(&step) {
            *b += s;
            max = max.max(s.abs());
        }
        if max < 1e-9 {
            break;
        }
    }
    // The covariance at the mode (the Hessian above was built at the last iterate, which is
    // the mode to within the step tolerance).
    let cov = invert(&hess);
    Posterior { mean: beta, cov }
}

fn mean_rate(beta: &[f64], o: &Obs) -> f64 {
    let eta = beta[0] + o.terms.iter().map(|&t| beta[t + 1]).sum::<f64>();
    1.0 / (1.0 + (-eta).exp())
}

/// A logistic fit that also allows each variant its own deviation from the module model.
#[derive(Debug, Clone)]
pub(crate) struct Overdispersed {
    pub posterior: Posterior,
    /// Standard deviation of the variants' own deviations on the log-odds scale (0 when
    /// the module terms explain the variants within binomial noise, or when there are no
    /// residual degrees of freedom to tell).
    pub variant_sd: f64,
    /// Residual degrees of freedom the estimate rests on (variants minus identifiable terms).
    #[cfg(test)]
    pub df: usize,
}

/// The largest variant-level variance tried (log-odds²): a deviation of sd 2 multiplies a
/// variant's odds by e² either way, far beyond any creative effect.
const MAX_VARIANT_VAR: f64 = 4.0;

/// `logit p_v = b0 + Σ b_term + u_v`, `u_v ~ N(0, τ²)`: a variant-level random effect for
/// what the additive module terms do not explain (interactions between modules, audiences
/// delivery picked for one variant). Without it a 100,000-impression variant whose rate sits
/// off the additive model is taken as exact and pulls the module terms with binomial
/// precision, and the intervals come out too narrow (BENCHMARKS.md, *Results loop*).
///
/// On the log-odds scale a variant's observed rate then has variance 1/w_v + τ² instead of
/// 1/w_v (w_v = n μ (1 − μ), its binomial information), so its likelihood is scaled by
/// s_v = 1 / (1 + τ² w_v): a variant can never weigh more than 1/τ², however many
/// impressions it had. τ² is estimated from the batch by Paule–Mandel, the usual
/// random-effects estimator of meta-analysis: the τ² at which the generalized Pearson
/// statistic Σ s_v (y_v − n_v μ_v)² / (n_v μ_v (1 − μ_v)) equals its degrees of freedom
/// (variants minus the rank of the design), 0 when even τ² = 0 leaves it below them.
pub(crate) fn fit_overdispersed(obs: &[Obs], terms: usize, prior_sd: f64) -> Overdispersed {
    let plain = fit_logistic(obs, terms, prior_sd);
    let used: Vec<&Obs> = obs.iter().filter(|o| o.n > 0.0).collect();
    let df = used.len().saturating_sub(design_rank(&used, terms));
    if df == 0 {
        return Overdispersed {
            posterior: plain,
            variant_sd: 0.0,
            #[cfg(test)]
            df,
        };
    }
    // Each variant's binomial information, at the additive fit.
    let info: Vec<f64> = obs
        .iter()
        .map(|o| {
            let mu = mean_rate(&plain.mean, o);
            o.n * mu * (1.0 - mu)
        })
        .collect();
    let scales = |tau2: f64| -> Vec<f64> { info.iter().map(|w| 1.0 / (1.0 + tau2 * w)).collect() };
    let pearson = |post: &Posterior, s: &[f64]| -> f64 {
        obs.iter()
            .zip(s)
            .filter(|(o, _)| o.n > 0.0)
            .map(|(o, s)| {
                let mu = mean_rate(&post.mean, o);
                let v = (o.n * mu * (1.0 - mu)).max(1e-12);
                s * (o.y - o.n * mu).powi(2) / v
            })
            .sum()
    };
    let target = df as f64;
    if pearson(&plain, &vec![1.0; obs.len()]) <= target {
        return Overdispersed {
            posterior: plain,
            variant_sd: 0.0,
            #[cfg(test)]
            df,
        };
    }
    let at = |tau2: f64, start: &[f64]| {
        let s = scales(tau2);
        let post = fit_scaled(obs, terms, prior_sd, &s, Some(start));
        let q = pearson(&post, &s);
        (post, q)
    };
    // The statistic falls as τ² grows: bisection, 40 halvings (τ² to ~1e-11).
    let (mut lo, mut hi) = (0.0f64, MAX_VARIANT_VAR);
    let mut start = plain.mean.clone();
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        let (post, q) = at(mid, &start);
        start = post.mean;
        if q > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (posterior, _) = at(hi, &start);
    Overdispersed {
        posterior,
        variant_sd: hi.sqrt(),
        #[cfg(test)]
        df,
    }
}

/// The rank of the design (intercept plus the option terms each variant has on): how many
/// coefficients the variants' rates can tell apart. The ridge prior makes the fit unique
/// either way; the rank is what the residual degrees of freedom are counted against.
fn design_rank(obs: &[&Obs], terms: usize) -> usize {
    let p = terms + 1;
    let mut rows: Vec<Vec<f64>> = obs
        .iter()
        .map(|o| {
            let mut r = vec![0.0; p];
            r[0] = 1.0;
            for &t in &o.terms {
                r[t + 1] = 1.0;
            }
            r
        })
        .collect();
    let mut rank = 0;
    for col in 0..p {
        let Some(piv) =
            (rank..rows.len()).max_by(|&a, &b| rows[a][col].abs().total_cmp(&rows[b][col].abs()))
        else {
            break;
        };
        if rows[piv][col].abs() < 1e-9 {
            continue;
        }
        rows.swap(rank, piv);
        let pivot = rows[rank].clone();
        for r in rows.iter_mut().skip(rank + 1) {
            let f = r[col] / pivot[col];
            for (x, y) in r.iter_mut().zip(&pivot) {
                *x -= f * y;
            }
        }
        rank += 1;
    }
    rank
}

/// Cholesky factor L (lower) of a symmetric positive definite matrix.
pub(crate) fn cholesky(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                l[i][j] = (a[i][i] - s).max(1e-300).sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    l
}

fn solve(a: &[Vec<f64>], b: &[f64]) -> Vec<f64> {
    let l = cholesky(a);
    let n = b.len();
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        x[i] = (z[i] - (i + 1..n).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    x
}

fn invert(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = a.len();
    let cols: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            let mut e = vec![0.0; n];
            e[j] = 1.0;
            solve(a, &e)
        })
        .collect();
    (0..n)
        .map(|i| (0..n).map(|j| cols[j][i]).collect())
        .collect()
}

impl Posterior {
    /// Mean and variance of a linear contrast `Σ c_j β_j`.
    pub(crate) fn contrast(&self, c: &[(usize, f64)]) -> (f64, f64) {
        let mean = c.iter().map(|&(j, w)| w * self.mean[j]).sum();
        let var = c
            .iter()
            .flat_map(|&(i, wi)| c.iter().map(move |&(j, wj)| wi * wj * self.cov_at(i, j)))
            .sum::<f64>();
        (mean, var.max(0.0))
    }

    fn cov_at(&self, i: usize, j: usize) -> f64 {
        self.cov[i][j]
    }

    /// `n` draws of the coefficients from the Gaussian posterior.
    pub(crate) fn draws(&self, n: usize, rng: &mut Rng) -> Vec<Vec<f64>> {
        let l = cholesky(&self.cov);
        let p = self.mean.len();
        (0..n)
            .map(|_| {
                let z: Vec<f64> = (0..p).map(|_| rng.normal()).collect();
                (0..p)
                    .map(|i| self.mean[i] + (0..=i).map(|k| l[i][k] * z[k]).sum::<f64>())
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_quantiles_match_known_values() {
        // Beta(1, 1) is uniform; Beta(2, 2)'s median is 1/2. For integer shapes the CDF is a
        // binomial tail, I_x(3, 97) = P(Bin(99, x) ≥ 3), solved for 0.975 by bisection:
        // 0.0710761.
        assert!((beta_quantile(0.3, 1.0, 1.0) - 0.3).abs() < 1e-9);
        assert!((beta_quantile(0.5, 2.0, 2.0) - 0.5).abs() < 1e-9);
        assert!((beta_quantile(0.975, 3.0, 97.0) - 0.071_076).abs() < 1e-5);
    }

    #[test]
    fn logistic_recovers_an_effect_with_plenty_of_data() {
        // Two options of one pool, log-odds -4 and -3.5: the difference is 0.5.
        let p = |eta: f64| 1.0 / (1.0 + (-eta).exp());
        let n = 1_000_000.0;
        let obs = vec![
            Obs {
                y: (n * p(-4.0)).round(),
                n,
                terms: vec![0],
            },
            Obs {
                y: (n * p(-3.5)).round(),
                n,
                terms: vec![1],
            },
        ];
        let post = fit_logistic(&obs, 2, OPTION_PRIOR_SD);
        let (d, v) = post.contrast(&[(2, 1.0), (1, -1.0)]);
        assert!((d - 0.5).abs() < 0.02, "difference {d}");
        assert!(v.sqrt() < 0.02);
    }

    /// Two pools of 2 and 3 options, every combination, at true log-odds `eta` plus a
    /// per-variant deviation `dev[v]`, with `n` impressions each (counts at their means).
    fn grid(n: f64, dev: &[f64]) -> Vec<Obs> {
        let p = |eta: f64| 1.0 / (1.0 + (-eta).exp());
        let a = [0.0, 0.3];
        let b = [0.0, -0.2, 0.2];
        let mut obs = Vec::new();
        for (i, ea) in a.iter().enumerate() {
            for (j, eb) in b.iter().enumerate() {
                let v = obs.len();
                let eta = -4.0 + ea + eb + dev[v];
                obs.push(Obs {
                    y: (n * p(eta)).round(),
                    n,
                    terms: vec![i, 2 + j],
                });
            }
        }
        obs
    }

    #[test]
    fn design_rank_counts_what_the_variants_can_tell_apart() {
        let obs = grid(1000.0, &[0.0; 6]);
        let refs: Vec<&Obs> = obs.iter().collect();
        // Intercept + (2 − 1) + (3 − 1).
        assert_eq!(design_rank(&refs, 5), 4);
        // Two variants that share the first pool's option: the pool cannot be told apart.
        assert_eq!(design_rank(&refs[..2], 5), 2);
    }

    #[test]
    fn additive_data_get_no_variant_term_and_deviating_data_wider_intervals() {
        let additive = fit_overdispersed(&grid(100_000.0, &[0.0; 6]), 5, OPTION_PRIOR_SD);
        assert_eq!(additive.df, 2);
        assert_eq!(additive.variant_sd, 0.0);
        // Variants off the additive model by ±0.2 on the log-odds scale (an interaction).
        let dev = [0.2, -0.2, 0.0, -0.2, 0.2, 0.0];
        let obs = grid(100_000.0, &dev);
        let wide = fit_overdispersed(&obs, 5, OPTION_PRIOR_SD);
        let narrow = fit_logistic(&obs, 5, OPTION_PRIOR_SD);
        assert!(
            wide.variant_sd > 0.1 && wide.variant_sd < 0.4,
            "variant sd {}",
            wide.variant_sd
        );
        let (_, v_wide) = wide.posterior.contrast(&[(2, 1.0), (1, -1.0)]);
        let (_, v_narrow) = narrow.contrast(&[(2, 1.0), (1, -1.0)]);
        assert!(
            v_wide > 10.0 * v_narrow,
            "sd {} against {}",
            v_wide.sqrt(),
            v_narrow.sqrt()
        );
    }

    #[test]
    fn eb_prior_is_flat_when_rates_vary_a_lot_and_strong_when_they_agree() {
        let agree = eb_prior(&[(100.0, 10_000.0), (101.0, 10_000.0), (99.0, 10_000.0)]);
        let vary = eb_prior(&[(10.0, 10_000.0), (300.0, 10_000.0), (50.0, 10_000.0)]);
        assert!(agree.0 + agree.1 > 100.0 * (vary.0 + vary.1));
    }
}
