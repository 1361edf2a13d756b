//! Platform results on the review page (issue #15).
//!
//! The page is built from the output directory alone (`build` runs inside `factory render`,
//! `factory review` and `factory report`, and only the last knows a library), so the results
//! are read once, by `refresh`, into `OUT/report_files/results.json` (what each card shows
//! and what the section says) and `OUT/report_files/results/*.svg` (the plots). Every later
//! build shows that snapshot, dated and naming its library: approving an output or rendering
//! more presets does not drop the results from the page, and a rebuild needs no database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ReportError, FILES_DIR};
use crate::dedup::Library;
use crate::export::rerun::Previous;
use crate::results::plot::{self, Plot};
use crate::results::report::{Decided, Undecided, DELIVERY_WARNING};
use crate::results::stats::Interval;
use crate::results::{self, ReportOptions};

/// The snapshot, in `OUT/report_files/`.
pub(crate) const SNAPSHOT: &str = "results.json";
/// The plots' folder, in `OUT/report_files/`.
pub const PLOTS_DIR: &str = "results";

/// A variant's CTR as its card shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VariantRate {
    pub impressions: i64,
    pub clicks: i64,
    pub ctr: Interval,
}

/// What the page shows of the results, as read by the last `refresh`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// When the library was read (UTC, `YYYY-MM-DDTHH:MM:SSZ`).
    pub at: String,
    /// The library read, a URL's password elided.
    pub library: String,
    /// By variant id (lower case).
    pub variants: BTreeMap<String, VariantRate>,
    pub decided: Vec<Decided>,
    pub undecided: Vec<Undecided>,
    /// The plots, relative to `OUT/report_files/results/`: variant rates always, the forest
    /// plots when a pool has two options among the variants with results.
    pub plots: Vec<Plot>,
    pub warnings: Vec<String>,
}

/// What `refresh` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// The library has results for this many of the batch's variants; snapshot and plots
    /// written.
    Results(usize),
    /// None of the batch's variants has results in the library: nothing written, an earlier
    /// snapshot (of another library, say) left as it is.
    NoResults,
}

fn snapshot_path(out: &Path) -> std::path::PathBuf {
    out.join(FILES_DIR).join(SNAPSHOT)
}

/// Reads the batch's results from `lib` (the variants of `OUT/manifest.json` only: the model
/// is fitted on this batch) and writes the plots and then the snapshot the page shows.
/// Without results nothing is written: a library that knows nothing of the batch (the
/// default one, read by a plain `factory report OUT`) does not wipe what another library
/// said. `library` names the library on the page; `at` is the time of reading.
pub fn refresh(
    out: &Path,
    lib: &Library,
    library: &str,
    at: &str,
) -> Result<Refreshed, ReportError> {
    if !out.join("manifest.json").is_file() {
        return Err(ReportError::NoManifest {
            out: out.to_path_buf(),
        });
    }
    let rows = Previous::read(out)?.rows;
    let ids: BTreeSet<String> = rows.iter().map(|r| r.variant_id.to_lowercase()).collect();
    let report = results::report(
        lib,
        &ReportOptions {
            variants: Some(ids),
            ..Default::default()
        },
    )?;
    if report.variants.is_empty() {
        return Ok(Refreshed::NoResults);
    }
    let dir = out.join(FILES_DIR).join(PLOTS_DIR);
    let plots = plot::write_plots(&report, &dir)?
        .into_iter()
        .filter(|p| p.file == plot::VARIANT_RATES || !report.modules.is_empty())
        .collect();
    let snap = Snapshot {
        at: at.to_string(),
        library: crate::dedup::library::redact_url(library),
        variants: report
            .variants
            .iter()
            .map(|v| {
                (
                    v.variant_id.to_lowercase(),
                    VariantRate {
                        impressions: v.impressions,
                        clicks: v.clicks,
                        ctr: v.ctr,
                    },
                )
            })
            .collect(),
        decided: report.decided.clone(),
        undecided: report.undecided.clone(),
        plots,
        warnings: report.warnings.clone(),
    };
    let json = serde_json::to_vec_pretty(&snap).expect("the snapshot serialises");
    crate::export::write_atomic(&snapshot_path(out), &json)?;
    Ok(Refreshed::Results(report.variants.len()))
}

/// The snapshot the last `refresh` wrote, if any.
pub(crate) fn read(out: &Path) -> Result<Option<Snapshot>, ReportError> {
    let path = snapshot_path(out);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ReportError::Io { path, source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| ReportError::Snapshot { path, source })
}

/// The page's "Results" section.
pub(super) fn section(h: &mut String, s: &Snapshot) {
    use super::html::{esc, url};
    use std::fmt::Write;
    let _ = write!(
        h,
        "<section id=\"results\"><h2>Results ({} variants with results)</h2>\
         <p>Read from {} at {} (<code>factory report OUT --library LIB</code> reads them again).</p>",
        s.variants.len(),
        esc(&s.library),
        esc(&s.at)
    );
    if !s.decided.is_empty() || !s.undecided.is_empty() {
        h.push_str("<ul class=\"decisions\">");
        for d in &s.decided {
            let _ = write!(
                h,
                "<li class=\"decided\">decided: {} = <b>{}</b></li>",
                esc(&d.pool),
                esc(&d.option)
            );
        }
        for u in &s.undecided {
            let _ = write!(
                h,
                "<li>not decided: {} (leader {}, p_best {:.2}): {}</li>",
                esc(&u.pool),
                esc(&u.leader),
                u.p_best,
                esc(&u.reason)
            );
        }
        h.push_str("</ul>");
    }
    for p in &s.plots {
        let _ = write!(
            h,
            // No caption: the plot's own title says what it shows.
            "<figure class=\"plot\"><a href=\"{u}\"><img src=\"{u}\" width=\"{}\" height=\"{}\" alt=\"{t}\"></a></figure>",
            p.width,
            p.height,
            u = url(&format!("{FILES_DIR}/{PLOTS_DIR}/{}", p.file)),
            t = esc(&p.title)
        );
    }
    for w in &s.warnings {
        let class = if w == DELIVERY_WARNING { "warn" } else { "" };
        let _ = write!(h, "<p class=\"{class}\">{}</p>", esc(w));
    }
    h.push_str("</section>\n");
}

/// A card's line: the variant's CTR with its interval.
pub(super) fn card_line(h: &mut String, r: &VariantRate) {
    use std::fmt::Write;
    let pct = |x: f64| format!("{:.2}", x * 100.0);
    let _ = write!(
        h,
        "<div class=\"ctr\" data-ctr=\"{:.6}\">CTR {} % [{}–{}] · {} clicks of {} impressions</div>",
        r.ctr.estimate,
        pct(r.ctr.estimate),
        pct(r.ctr.low),
        pct(r.ctr.high),
        r.clicks,
        r.impressions
    );
}
