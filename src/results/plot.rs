//! The report as pictures (issue #15): a forest plot of the module options' effects per rate
//! and the variants' CTRs with their intervals, as SVG.
//!
//! Written by hand, not with `plotters`: a forest plot is rows of labels, whiskers and text
//! on one log axis, and a row here is a `<g>` that carries its pool, option and numbers
//! (`data-*`) and a `<title>` a browser shows on hover — what a reader and a test both want
//! to find in the file. `plotters` draws onto a numeric Cartesian grid: the category rows,
//! pool headings, winner marks and right-hand figures would all be placed by hand on top of
//! it anyway, and its SVG comes out as anonymous paths and text.
//!
//! Every text is real SVG `<text>` (escaped for XML, control characters replaced), sizes are
//! in the `<svg>` (`width`/`height` and a `viewBox`), so the files open alone, in an `<img>`
//! and in an editor.

use std::fmt::Write;
use std::path::Path;

use super::report::{ModuleReport, Report, VariantReport};
use super::stats::Interval;
use super::ResultsError;

pub(crate) const MODULE_EFFECTS_CTR: &str = "module-effects-ctr.svg";
pub(crate) const MODULE_EFFECTS_CVR: &str = "module-effects-cvr.svg";
pub(crate) const VARIANT_RATES: &str = "variant-rates.svg";

/// Which rate a forest plot shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rate {
    Ctr,
    Cvr,
}

/// A written plot: its file and its size in pixels (for an `<img>`'s attributes).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Plot {
    pub file: String,
    pub width: u32,
    pub height: u32,
    /// What it shows, in a sentence (an `<img>`'s `alt`).
    pub title: String,
}

const WIDTH: u32 = 880;
/// Left column (labels), plot area, right column (figures).
const LABEL_RIGHT: f64 = 250.0;
const AREA_LEFT: f64 = 262.0;
const AREA_RIGHT: f64 = 600.0;
const FIGURES_LEFT: f64 = 614.0;
const TOP: f64 = 80.0;
const ROW: f64 = 22.0;
const BOTTOM: f64 = 58.0;
/// Longest label drawn, in characters (the rest is in the row's `<title>`).
const LABEL_CHARS: usize = 34;
/// Odds ratios outside this range are drawn at its edge (the figures at the right keep the
/// numbers): an interval that wide says "no data", and a log axis from 1/1000 to 1000 would
/// flatten every other row.
const OR_RANGE: (f64, f64) = (0.05, 20.0);

const STYLE: &str = "text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;fill:#1d1d1f;font-size:13px}\
.title{font-size:16px;font-weight:600}.sub{font-size:12px;fill:#555}.pool{font-weight:600}\
.tick{font-size:11px;fill:#555}.fig{font-size:12px;font-variant-numeric:tabular-nums}\
.grid{stroke:#e4e4e7}.ref{stroke:#71717a;stroke-dasharray:4 3}.axis{stroke:#a1a1aa}\
.whisker{stroke:#2563eb;stroke-width:2}.estimate{fill:#2563eb}\
.winner .whisker{stroke:#15803d}.winner .estimate{fill:#15803d}.winner text{fill:#15803d;font-weight:600}\
.band{fill:#f4f4f5}";

/// Text for SVG (and the review page's HTML) content and attributes: XML's five escapes, and
/// characters XML 1.0 does not allow (controls other than tab and newlines) replaced, so a
/// file name cannot make the file unreadable; tab and newlines become spaces (an attribute
/// would otherwise normalise them, and rendered text collapses them anyway).
pub(crate) fn xml(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\t' | '\n' | '\r' => o.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

fn start(h: &mut String, height: u32, title: &str, sub: &str) {
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{t}\">\
         <title>{t}</title><style>{STYLE}</style>\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <text class=\"title\" x=\"16\" y=\"26\">{t}</text><text class=\"sub\" x=\"16\" y=\"46\">{s}</text>",
        t = xml(title),
        s = xml(sub)
    );
}

/// Ticks of a log axis: the usual odds ratios inside `[lo, hi]`, fewer when the range is wide.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let fine = [
        0.05, 0.1, 0.2, 0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0,
    ];
    let coarse = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0];
    let inside = |t: &&f64| **t >= lo * 0.999 && **t <= hi * 1.001;
    let f: Vec<f64> = fine.iter().filter(inside).copied().collect();
    if f.len() <= 9 {
        f
    } else {
        coarse.iter().filter(inside).copied().collect()
    }
}

/// Ticks of a linear axis from 0: 1, 2 or 5 × a power of ten, 4 to 8 of them.
fn linear_ticks(hi: f64) -> Vec<f64> {
    if hi <= 0.0 || !hi.is_finite() {
        return vec![0.0];
    }
    let raw = hi / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| hi / s <= 8.0)
        .unwrap_or(10.0 * p);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= hi * 1.0001)
        .collect()
}

fn odds(x: f64) -> String {
    if x >= 10.0 {
        format!("×{x:.0}")
    } else {
        format!("×{x:.2}")
    }
}

fn percent(x: f64) -> String {
    let p = x * 100.0;
    if p >= 10.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.2} %")
    }
}

fn thousands(n: i64) -> String {
    let s = n.abs().to_string();
    let mut o = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    if n < 0 {
        format!("-{o}")
    } else {
        o
    }
}

/// A row's whisker and estimate on an axis already mapped to pixels (`x`, which clips to
/// the plot area).
fn whisker(h: &mut String, y: f64, i: &Interval, x: &dyn Fn(f64) -> f64) {
    let (lo, est, hi) = (x(i.low), x(i.estimate), x(i.high));
    let _ = write!(
        h,
        "<line class=\"whisker\" x1=\"{lo:.1}\" y1=\"{y:.1}\" x2=\"{hi:.1}\" y2=\"{y:.1}\"/>\
         <line class=\"whisker\" x1=\"{lo:.1}\" y1=\"{a:.1}\" x2=\"{lo:.1}\" y2=\"{b:.1}\"/>\
         <line class=\"whisker\" x1=\"{hi:.1}\" y1=\"{a:.1}\" x2=\"{hi:.1}\" y2=\"{b:.1}\"/>\
         <circle class=\"estimate\" cx=\"{est:.1}\" cy=\"{y:.1}\" r=\"4.5\"/>",
        a = y - 5.0,
        b = y + 5.0
    );
}

fn axis(
    h: &mut String,
    ticks: &[f64],
    x: &dyn Fn(f64) -> f64,
    bottom: f64,
    label: &dyn Fn(f64) -> String,
    title: &str,
) {
    for &t in ticks {
        let px = x(t);
        let _ = write!(
            h,
            "<line class=\"grid\" x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{bottom:.1}\"/>\
             <text class=\"tick\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            bottom + 16.0,
            xml(&label(t))
        );
    }
    let _ = write!(
        h,
        "<line class=\"axis\" x1=\"{AREA_LEFT}\" y1=\"{bottom:.1}\" x2=\"{AREA_RIGHT}\" y2=\"{bottom:.1}\"/>\
         <text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        (AREA_LEFT + AREA_RIGHT) / 2.0,
        bottom + 36.0,
        xml(title)
    );
}

/// The forest plot of one rate: a row per option (grouped under its pool), its odds ratio
/// against the pool's average on a log axis with the 95 % interval, the line at ×1, and on
/// the CTR plot the decided winners marked (green, "winner").
pub(crate) fn forest(report: &Report, rate: Rate) -> (String, Plot) {
    let (name, file) = match rate {
        Rate::Ctr => ("CTR", MODULE_EFFECTS_CTR),
        Rate::Cvr => ("CVR", MODULE_EFFECTS_CVR),
    };
    let effect = |m: &ModuleReport| match rate {
        Rate::Ctr => m.ctr_effect,
        Rate::Cvr => m.cvr_effect,
    };
    let p_best = |m: &ModuleReport| match rate {
        Rate::Ctr => m.p_best,
        Rate::Cvr => m.p_best_cvr,
    };
    let winner = |m: &ModuleReport| {
        rate == Rate::Ctr
            && report
                .decided
                .iter()
                .any(|d| d.pool == m.pool && d.option == m.option)
    };
    let mut pools: Vec<&str> = Vec::new();
    for m in &report.modules {
        if pools.last() != Some(&m.pool.as_str()) {
            pools.push(&m.pool);
        }
    }
    let rows = report.modules.len() + pools.len();
    let bottom = TOP + ROW * rows.max(1) as f64 + 8.0;
    let height = (bottom + BOTTOM).ceil() as u32;
    let title = format!("{name} by module option: odds ratio against the pool's average");
    let sub = match rate {
        Rate::Ctr => format!(
            "dot: estimate, whiskers: 95 % interval; winner: pool decided (p_best ≥ {} and every option above the data floor); {} variants",
            super::report::DECIDE_AT,
            report.variants.len()
        ),
        Rate::Cvr => format!(
            "dot: estimate, whiskers: 95 % interval; pools are decided on CTR; {} variants",
            report.variants.len()
        ),
    };
    let mut h = String::with_capacity(4096 + rows * 700);
    start(&mut h, height, &title, &sub);
    if report.modules.is_empty() {
        let _ = writeln!(
            h,
            "<text x=\"16\" y=\"{:.1}\">No pool has two options among the variants with results.</text></svg>",
            TOP + 16.0
        );
        return (h, plot(file, height, title));
    }
    let (mut lo, mut hi) = (1.0f64, 1.0f64);
    for m in &report.modules {
        let e = effect(m);
        lo = lo.min(e.low);
        hi = hi.max(e.high);
    }
    let (lo, hi) = (
        (lo / 1.1).clamp(OR_RANGE.0, 1.0 / 1.05),
        (hi * 1.1).clamp(1.05, OR_RANGE.1),
    );
    let (llo, lhi) = (lo.ln(), hi.ln());
    let x = move |v: f64| {
        let t = (v.clamp(lo, hi).ln() - llo) / (lhi - llo);
        AREA_LEFT + t * (AREA_RIGHT - AREA_LEFT)
    };
    axis(
        &mut h,
        &log_ticks(lo, hi),
        &x,
        bottom,
        &|t| odds(t),
        &format!("{name} odds ratio against the pool's average (log scale)"),
    );
    let one = x(1.0);
    let _ = write!(
        h,
        "<line class=\"ref\" x1=\"{one:.1}\" y1=\"{TOP}\" x2=\"{one:.1}\" y2=\"{bottom:.1}\"/>\
         <text class=\"tick\" x=\"{FIGURES_LEFT}\" y=\"{:.1}\">estimate [95 % interval]   p_best</text>",
        TOP - 6.0
    );
    let mut y = TOP;
    let mut pool = "";
    for (i, m) in report.modules.iter().enumerate() {
        if m.pool != pool {
            pool = &m.pool;
            let _ = write!(
                h,
                "<text class=\"pool\" x=\"16\" y=\"{:.1}\">{}</text>",
                y + ROW * 0.7,
                xml(&cut(pool, LABEL_CHARS + 6))
            );
            y += ROW;
        }
        let e = effect(m);
        let cy = y + ROW / 2.0;
        let win = winner(m);
        if i % 2 == 0 {
            let _ = write!(
                h,
                "<rect class=\"band\" x=\"16\" y=\"{y:.1}\" width=\"{:.0}\" height=\"{ROW}\"/>",
                f64::from(WIDTH) - 32.0
            );
        }
        let _ = write!(
            h,
            "<g class=\"row{w}\" data-pool=\"{p}\" data-option=\"{o}\" data-estimate=\"{:.6}\" \
             data-low=\"{:.6}\" data-high=\"{:.6}\" data-p-best=\"{:.4}\">\
             <title>{p} = {o}: {name} {} [{}–{}], p_best {:.2}, {} impressions, {} clicks</title>\
             <text class=\"label\" x=\"{LABEL_RIGHT}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            e.estimate,
            e.low,
            e.high,
            p_best(m),
            odds(e.estimate),
            odds(e.low),
            odds(e.high),
            p_best(m),
            thousands(m.impressions),
            thousands(m.clicks),
            cy + 4.5,
            xml(&cut(&m.option, LABEL_CHARS)),
            w = if win { " winner" } else { "" },
            p = xml(&m.pool),
            o = xml(&m.option),
        );
        whisker(&mut h, cy, &e, &x);
        let _ = write!(
            h,
            "<text class=\"fig\" x=\"{FIGURES_LEFT}\" y=\"{:.1}\">{} [{}–{}]   {:.2}{}</text></g>",
            cy + 4.5,
            odds(e.estimate),
            odds(e.low),
            odds(e.high),
            p_best(m),
            if win { "  winner" } else { "" }
        );
        y += ROW;
    }
    h.push_str("</svg>\n");
    (h, plot(file, height, title))
}

fn plot(file: &str, height: u32, title: String) -> Plot {
    Plot {
        file: file.to_string(),
        width: WIDTH,
        height,
        title,
    }
}

/// Each variant's CTR with its 95 % credible interval, best first, against the batch's
/// pooled CTR.
pub(crate) fn variant_rates(report: &Report) -> (String, Plot) {
    let mut vs: Vec<&VariantReport> = report.variants.iter().collect();
    vs.sort_by(|a, b| {
        b.ctr
            .estimate
            .total_cmp(&a.ctr.estimate)
            .then_with(|| a.variant_id.cmp(&b.variant_id))
    });
    let bottom = TOP + ROW * vs.len().max(1) as f64 + 8.0;
    let height = (bottom + BOTTOM).ceil() as u32;
    let title = "CTR per variant, best first".to_string();
    let (clicks, impressions) = vs
        .iter()
        .fold((0i64, 0i64), |(c, i), v| (c + v.clicks, i + v.impressions));
    let pooled = clicks as f64 / impressions.max(1) as f64;
    let sub = format!(
        "dot: estimate, whiskers: 95 % credible interval (Beta–Binomial, prior from the batch); dashed: the batch's CTR, {}",
        percent(pooled)
    );
    let mut h = String::with_capacity(4096 + vs.len() * 700);
    start(&mut h, height, &title, &sub);
    if vs.is_empty() {
        let _ = writeln!(
            h,
            "<text x=\"16\" y=\"{:.1}\">No variant has results.</text></svg>",
            TOP + 16.0
        );
        return (h, plot(VARIANT_RATES, height, title));
    }
    let top = vs
        .iter()
        .map(|v| v.ctr.high)
        .fold(pooled, f64::max)
        .max(1e-4);
    let ticks = linear_ticks(top * 1.05);
    let hi = ticks.last().copied().unwrap_or(top).max(top * 1.05);
    let x = move |v: f64| AREA_LEFT + (v.clamp(0.0, hi) / hi) * (AREA_RIGHT - AREA_LEFT);
    axis(
        &mut h,
        &ticks,
        &x,
        bottom,
        &|t| percent(t),
        "CTR (clicks per impression)",
    );
    let px = x(pooled);
    let _ = write!(
        h,
        "<line class=\"ref\" x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{bottom:.1}\"/>\
         <text class=\"tick\" x=\"{FIGURES_LEFT}\" y=\"{:.1}\">CTR [95 % interval]   impressions</text>",
        TOP - 6.0
    );
    for (i, v) in vs.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let cy = y + ROW / 2.0;
        let name = if v.file.is_empty() {
            &v.variant_id
        } else {
            &v.file
        };
        if i % 2 == 0 {
            let _ = write!(
                h,
                "<rect class=\"band\" x=\"16\" y=\"{y:.1}\" width=\"{:.0}\" height=\"{ROW}\"/>",
                f64::from(WIDTH) - 32.0
            );
        }
        let _ = write!(
            h,
            "<g class=\"row\" data-variant=\"{id}\" data-estimate=\"{:.8}\" data-low=\"{:.8}\" data-high=\"{:.8}\">\
             <title>{n} ({id}): CTR {} [{}–{}], {} clicks of {} impressions</title>\
             <text class=\"label\" x=\"{LABEL_RIGHT}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            v.ctr.estimate,
            v.ctr.low,
            v.ctr.high,
            percent(v.ctr.estimate),
            percent(v.ctr.low),
            percent(v.ctr.high),
            thousands(v.clicks),
            thousands(v.impressions),
            cy + 4.5,
            xml(&cut(name, LABEL_CHARS)),
            id = xml(&v.variant_id),
            n = xml(name),
        );
        whisker(&mut h, cy, &v.ctr, &x);
        let _ = write!(
            h,
            "<text class=\"fig\" x=\"{FIGURES_LEFT}\" y=\"{:.1}\">{} [{}–{}]   {}</text></g>",
            cy + 4.5,
            percent(v.ctr.estimate),
            percent(v.ctr.low),
            percent(v.ctr.high),
            thousands(v.impressions)
        );
    }
    h.push_str("</svg>\n");
    (h, plot(VARIANT_RATES, height, title))
}

/// Writes the three plots into `dir` (created if missing), each staged beside its name and
/// renamed (`export::write_atomic`), so a reader never finds half a file. Returns them in the
/// order written.
pub fn write_plots(report: &Report, dir: &Path) -> Result<Vec<Plot>, ResultsError> {
    let mut written = Vec::new();
    for (svg, p) in [
        forest(report, Rate::Ctr),
        forest(report, Rate::Cvr),
        variant_rates(report),
    ] {
        crate::export::write_atomic(&dir.join(&p.file), svg.as_bytes())?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_have_a_handful_of_round_ticks() {
        assert_eq!(log_ticks(0.7, 1.4), vec![0.8, 1.0, 1.25]);
        assert_eq!(
            log_ticks(0.05, 20.0),
            vec![0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
        );
        let t = linear_ticks(0.031);
        assert_eq!(t.first(), Some(&0.0));
        assert!((4..=9).contains(&t.len()), "{t:?}");
        assert!((t[1] - 0.005).abs() < 1e-12, "{t:?}");
    }

    #[test]
    fn names_cannot_break_the_xml() {
        assert_eq!(xml("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&#39;\u{FFFD}");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
