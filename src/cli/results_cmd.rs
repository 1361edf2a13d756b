//! `factory results import|report|next` (issue #15).
//!
//! Exit codes: 0 when the command ran (unmatched rows are listed, not an error); 2 (from
//! main) when a file or the library could not be read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use creative_factory::dedup::Library;
use creative_factory::plan::AssetHashes;
use creative_factory::results::{self, ReportOptions};
use creative_factory::template;

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
        /// Also draw the report as SVG into DIR: module-effects-ctr.svg,
        /// module-effects-cvr.svg (forest plots) and variant-rates.svg.
        #[arg(long, value_name = "DIR")]
        plots: Option<PathBuf>,
    },
    /// Write the next round's template: K combinations chosen by Thompson sampling over the
    /// module effects, a share kept for options with little data, no two the duplicate gate
    /// would hold back, none with an option that lost a decided pool.
    Next {
        /// The template of the round the results came from.
        template: PathBuf,
        /// How many combinations to choose.
        #[arg(long, value_name = "K")]
        count: usize,
        /// Share of the picks kept for options with little data (0 to 1).
        #[arg(long, value_name = "SHARE", default_value_t = 0.2)]
        explore: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where to write the new template (its media paths resolve from its own folder, so
        /// it goes beside the old one).
        #[arg(short = 'o', long = "output", value_name = "NEW.toml")]
        output: PathBuf,
        /// A folder of extra preset files, as for `factory plan`.
        #[arg(long, value_name = "DIR")]
        presets_dir: Option<PathBuf>,
        /// Print the choice as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(a: ResultsArgs) -> anyhow::Result<ExitCode> {
    if let ResultsCommand::Next {
        template,
        count,
        explore,
        seed,
        output,
        presets_dir,
        json,
    } = a.command
    {
        let opts = results::NextOptions {
            count,
            explore,
            seed,
        };
        return next(
            &a.library,
            &template,
            &output,
            presets_dir.as_deref(),
            &opts,
            json,
        );
    }
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
        ResultsCommand::Next { .. } => unreachable!("handled above"),
        ResultsCommand::Report {
            template,
            json,
            seed,
            plots,
        } => {
            let r = results::report(
                &lib,
                &ReportOptions {
                    template,
                    seed,
                    ..Default::default()
                },
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r.to_json())?);
            } else {
                print!("{}", r.to_text());
            }
            if let Some(dir) = plots {
                // On stderr: `--json` keeps stdout one JSON document.
                for p in results::plot::write_plots(&r, &dir)? {
                    eprintln!("plot: {}", dir.join(&p.file).display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn next(
    library: &Path,
    template: &Path,
    output: &Path,
    presets_dir: Option<&Path>,
    opts: &results::NextOptions,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if opts.count == 0 {
        anyhow::bail!("--count must be at least 1");
    }
    if !(0.0..=1.0).contains(&opts.explore) {
        anyhow::bail!("--explore {} is not a share between 0 and 1", opts.explore);
    }
    let presets = super::load_presets(presets_dir)?;
    let t = match template::load(template, &presets) {
        Ok(t) => t,
        Err(dx) => {
            eprint!("{dx}");
            return Ok(ExitCode::from(2));
        }
    };
    if output.exists() && output.canonicalize()? == t.path.canonicalize()? {
        anyhow::bail!(
            "{}: -o names the template being read; write the next round to a new file beside it",
            output.display()
        );
    }
    let lib = Library::open(library)
        .with_context(|| format!("opening the library {}", library.display()))?;
    let report = results::report(
        &lib,
        &ReportOptions {
            template: Some(t.name.clone()),
            seed: opts.seed,
            ..Default::default()
        },
    )?;
    let hashes = AssetHashes::compute(&t)?;
    let plan = results::next(&t, &presets, &hashes, &report, opts)?;
    let source = std::fs::read_to_string(&t.path)
        .with_context(|| format!("reading {}", t.path.display()))?;
    let note = format!(
        "[variants] written by `factory results next --count {} --explore {} --seed {}` from {} (results of {} variants): why each pick was chosen —",
        opts.count,
        opts.explore,
        opts.seed,
        library.display(),
        report.variants.len()
    );
    let text = results::rewrite(&source, &plan, &note)
        .map_err(|e| anyhow::anyhow!("{}: {e}", t.path.display()))?;
    // Staged beside the destination, loaded and planned like any template, then renamed: a
    // file that is there is one `factory render` takes.
    let dir = output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".next-")
        .suffix(".toml")
        .tempfile_in(dir)
        .with_context(|| format!("writing beside {}", output.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.flush()?;
    let check = template::load(tmp.path(), &presets).map_err(|dx| {
        anyhow::anyhow!(
            "the next round's template does not load (nothing written to {}):\n{dx}",
            output.display()
        )
    })?;
    let hashes = AssetHashes::compute(&check)?;
    let planned = creative_factory::plan::plan(&check, &presets, &Default::default(), &hashes)
        .with_context(|| {
            format!(
                "planning the next round (nothing written to {})",
                output.display()
            )
        })?;
    tmp.persist(output)
        .map_err(|e| anyhow::anyhow!("{}: {}", output.display(), e.error))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} variants for the next round ({} to exploit, {} to explore)",
        output.display(),
        planned.variants.len(),
        plan.picks.iter().filter(|p| !p.explore).count(),
        plan.picks.iter().filter(|p| p.explore).count()
    );
    for (i, p) in plan.picks.iter().enumerate() {
        let m: Vec<String> = p.modules.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!("  {}. {}\n     {}", i + 1, m.join(" "), p.why);
    }
    if plan.decided_out > 0 {
        println!(
            "{} combinations left out: they use an option that lost a decided pool",
            plan.decided_out
        );
    }
    for w in &plan.warnings {
        println!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}
