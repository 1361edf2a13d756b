//! `factory results import|report` (issue #15).
//!
//! Exit codes: 0 when the command ran (unmatched rows are listed, not an error); 2 (from
//! main) when a file or the library could not be read.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use creative_factory::dedup::Library;
use creative_factory::results::{self, ReportOptions};

#[derive(Debug, clap::Args)]
pub struct ResultsArgs {
    /// The library the outputs were recorded in: an SQLite file or a postgres:// URL.
    #[arg(long, global = true, value_name = "LIB", default_value = super::dedup_cmd::DEFAULT_LIBRARY)]
    pub library: PathBuf,
    #[command(subcommand)]
    pub command: ResultsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ResultsCommand {
    /// Read Meta, TikTok (CSV/XLSX) or Google Ads exports into the library.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Per-variant rates and per-module-option effects, with 95 % intervals.
    Report {
        /// Only variants of this template (its `[template] name`).
        #[arg(long, value_name = "T")]
        template: Option<String>,
        #[arg(long)]
        json: bool,
        /// Seed of the posterior draws behind p_best.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

pub fn run(a: ResultsArgs) -> anyhow::Result<ExitCode> {
    let lib = Library::open(&a.library)
        .with_context(|| format!("opening the library {}", a.library.display()))?;
    match a.command {
        ResultsCommand::Import { files, json } => {
            let s = results::import(&lib, &files)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(ExitCode::SUCCESS);
            }
            for (f, p) in &s.files {
                println!("{}: {p} export", f.display());
            }
            println!(
                "{} rows: {} new, {} replaced (re-imported), {} joined to variants, {} total rows left out",
                s.rows, s.new, s.replaced, s.matched, s.totals_skipped
            );
            if !s.unmatched.is_empty() {
                println!("{} rows match no variant (kept; a later import joins them once the outputs are in the library):", s.unmatched.len());
                for u in &s.unmatched {
                    println!(
                        "  {}:{}: {} ad {} {:?} ({} impressions)",
                        u.file.display(),
                        u.line,
                        u.platform,
                        u.ad_id,
                        u.ad_name,
                        u.impressions
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        ResultsCommand::Report {
            template,
            json,
            seed,
        } => {
            let r = results::report(&lib, &ReportOptions { template, seed })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r.to_json())?);
            } else {
                print!("{}", r.to_text());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
