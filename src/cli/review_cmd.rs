//! `factory report`, `factory review` and `factory export --approved`: the review page and
//! the approval gate after a render.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use creative_factory::dedup::library::{is_postgres_url, redact_url};
use creative_factory::dedup::Library;
use creative_factory::plan::licence::day;
use creative_factory::report::results::Refreshed;
use creative_factory::{report, review};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The output directory of a render (holding manifest.json).
    pub out: PathBuf,
    /// Show the platform results `factory results import` stored in this library (an SQLite
    /// file or a postgres:// URL) for the batch's variants. Default: the library the batch
    /// was rendered with, else .factory/library.sqlite when it exists; without results the
    /// page shows what it showed before.
    #[arg(long, value_name = "LIB")]
    pub library: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The output directory of a render (holding manifest.json).
    pub out: PathBuf,
    /// Outputs to approve: variant numbers, variant ids or file names, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "N,ID,FILE…")]
    pub approve: Vec<String>,
    /// Outputs to reject, as for --approve.
    #[arg(long, value_delimiter = ',', value_name = "N,ID,FILE…")]
    pub reject: Vec<String>,
    /// Approve every exported output the duplicate gate did not call similar or duplicate.
    #[arg(long)]
    pub approve_all_distinct: bool,
    /// A note stored with each decision of this call.
    #[arg(long)]
    pub note: Option<String>,
    /// Also append the decisions to this library's review history (an SQLite file or a
    /// postgres:// URL). Default: the library the batch was rendered with, else
    /// .factory/library.sqlite when it exists.
    #[arg(long, value_name = "LIB")]
    pub library: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The output directory of a render (holding manifest.json).
    pub out: PathBuf,
    /// A new folder to copy the approved outputs and their manifest into.
    #[arg(long, value_name = "DEST")]
    pub approved: PathBuf,
}

fn today() -> String {
    day(creative_factory::clock::unix_now(), 0)
}

/// The library of the batch in `out`: `--library`, else the one its render recorded in the
/// manifest, else `.factory/library.sqlite` when it exists (opening creates an SQLite file,
/// and a review must not leave a library behind). `Err(why)` when the batch names one that
/// cannot be opened as named (a redacted password, a file gone).
fn batch_library(
    out: &std::path::Path,
    given: Option<PathBuf>,
) -> anyhow::Result<Result<Option<(Library, String)>, String>> {
    let recorded = creative_factory::export::rerun::Previous::read(out)
        .ok()
        .and_then(|p| p.run)
        .and_then(|r| r.library);
    let chosen = match (given, recorded) {
        (Some(lib), _) => lib,
        (None, Some(rec)) => {
            if is_postgres_url(&rec) && rec.contains(":***@") {
                return Ok(Err(format!(
                    "the batch's library is {rec}; give it with --library (its password is not kept in the manifest)"
                )));
            }
            let p = PathBuf::from(&rec);
            if !is_postgres_url(&rec) && !p.is_file() {
                return Ok(Err(format!(
                    "the batch was rendered with the library {rec}, which is no longer there; give one with --library"
                )));
            }
            p
        }
        (None, None) => {
            let default = PathBuf::from(super::dedup_cmd::DEFAULT_LIBRARY);
            if !default.is_file() {
                return Ok(Ok(None));
            }
            default
        }
    };
    let name = chosen.to_string_lossy().into_owned();
    if !is_postgres_url(&name) && !chosen.is_file() {
        anyhow::bail!("{}: no library there (--library names the file `factory render` recorded the outputs in, or a postgres:// URL)", chosen.display());
    }
    let opened = Library::open(&chosen)
        .with_context(|| format!("opening the library {}", redact_url(&name)))?;
    Ok(Ok(Some((opened, name))))
}

pub fn report_cmd(a: ReportArgs) -> anyhow::Result<ExitCode> {
    match batch_library(&a.out, a.library)? {
        Err(why) => eprintln!("note: results not refreshed: {why}"),
        Ok(None) => {}
        Ok(Some((opened, name))) => {
            let at = creative_factory::clock::format_utc(creative_factory::clock::unix_now());
            match report::results::refresh(&a.out, &opened, &name, &at)? {
                Refreshed::Results(n) => eprintln!(
                    "results: {n} of the batch's variants have results in {}; plots in {}",
                    redact_url(&name),
                    a.out.join(report::FILES_DIR).join(report::results::PLOTS_DIR).display()
                ),
                Refreshed::NoResults => eprintln!(
                    "results: none of the batch's variants has results in {} (import exports with `factory results import --library LIB FILE…`)",
                    redact_url(&name)
                ),
            }
        }
    }
    let built = report::build(&a.out, &today())?;
    eprintln!(
        "review page: {} ({} outputs, {} kB, {} new thumbnails)",
        built.page.display(),
        built.outputs,
        built.page_bytes.div_ceil(1024),
        built.thumbnails_made
    );
    Ok(ExitCode::SUCCESS)
}

pub fn review_cmd(a: ReviewArgs) -> anyhow::Result<ExitCode> {
    let by = review::reviewer(|k| std::env::var(k).ok());
    let at = creative_factory::clock::format_utc(creative_factory::clock::unix_now());
    let d = review::Decisions {
        approve: a.approve,
        reject: a.reject,
        approve_all_distinct: a.approve_all_distinct,
        note: a.note,
    };
    let library = match batch_library(&a.out, a.library)? {
        Ok(l) => l,
        Err(why) => anyhow::bail!("{}: nothing recorded: {why}", a.out.display()),
    };
    let done = review::record(
        &a.out,
        &d,
        &by,
        &at,
        &today(),
        library.as_ref().map(|l| &l.0),
    )?;
    for f in &done.approved {
        eprintln!("approved {f}");
    }
    for f in &done.rejected {
        eprintln!("rejected {f}");
    }
    let also = library
        .as_ref()
        .map(|(_, name)| format!(" and the library {}", redact_url(name)))
        .unwrap_or_default();
    eprintln!(
        "recorded as {by} at {at} in {}{also}; page: {}",
        a.out.join("manifest.json").display(),
        a.out.join(report::PAGE).display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn export_cmd(a: ExportArgs) -> anyhow::Result<ExitCode> {
    match review::upload::export_approved(&a.out, &a.approved, &today()) {
        Ok(done) => {
            eprintln!(
                "exported {} approved output(s), {} kB, with manifest.json to {}",
                done.files.len(),
                done.bytes.div_ceil(1024),
                a.approved.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ review::upload::UploadError::Refused { .. }) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}
