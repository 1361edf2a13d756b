//! `factory dedup` and `factory library …` (OWNER: dedup helper).
//!
//! Exit codes: 0 when the check ran (whatever it found), 1 when `--fail-on` matched,
//! 2 (from main) when something could not be read.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};

use creative_factory::dedup::{self, Candidate, Fingerprint, GateConfig, Library, VerdictKind};

pub(crate) const DEFAULT_LIBRARY: &str = ".factory/library.sqlite";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Duplicate,
    Similar,
}

#[derive(Debug, clap::Args)]
pub struct DedupArgs {
    /// Library of past outputs to compare against: an SQLite file (created if missing) or a
    /// postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE URL (tables created if missing; the
    /// password may come from PGPASSWORD instead; TLS: ?sslmode=require&sslrootcert=CA.pem).
    #[arg(long, value_name = "LIB")]
    pub library: Option<PathBuf>,
    /// Files to score, in variant order: of two near-copies the later one is flagged.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// One JSON object per input (JSON Lines) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when any input is at least this bad.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,
    /// Library entries created more than this many days ago are exempt (platform rule).
    #[arg(long, default_value_t = 180, value_name = "DAYS")]
    pub max_age_days: u32,
    /// After scoring, add the inputs judged distinct to the library.
    #[arg(long, requires = "library")]
    pub add_distinct: bool,
}

#[derive(Debug, clap::Args)]
pub struct LibraryArgs {
    /// The library: an SQLite file (created if missing) or a postgres:// URL (tables
    /// created if missing; the password may come from PGPASSWORD instead; TLS:
    /// ?sslmode=require&sslrootcert=CA.pem).
    #[arg(long, global = true, value_name = "LIB", default_value = DEFAULT_LIBRARY)]
    pub library: PathBuf,
    #[command(subcommand)]
    pub command: LibraryCommand,
}

#[derive(Debug, Subcommand)]
pub enum LibraryCommand {
    /// Fingerprint files and record them (the media itself is not copied).
    Add {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Variant id to record (otherwise read from the file's stamp when present).
        #[arg(long)]
        variant_id: Option<String>,
        /// When the creative was made, as unix seconds (default: now); drives the age exemption.
        #[arg(long, value_name = "UNIX_SECONDS")]
        created_at: Option<i64>,
    },
    /// Show what the library holds.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an entry and its hashes.
    Forget {
        /// Stored path, sha256 or numeric id.
        #[arg(value_name = "FILE|ID")]
        key: String,
    },
    /// Mark an entry as no longer running: kept, but exempt from comparisons.
    Retire {
        #[arg(value_name = "FILE|ID")]
        key: String,
    },
    /// List outputs whose asset licences have expired or expire within DAYS (soonest first),
    /// so running ads can be pulled in time.
    Expiring {
        /// How far ahead to look, in days from today (UTC).
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        within: u32,
        #[arg(long)]
        json: bool,
    },
    /// The review history: every `factory review` decision recorded here, oldest first.
    Reviews {
        /// Only the decisions on this variant id.
        #[arg(long, value_name = "ID")]
        variant: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// The variant id the encoder stamped into the file, when there is one.
fn stamped_variant(path: &std::path::Path) -> Option<String> {
    let stamp = creative_factory::encode::read_stamp(path).ok()?;
    ["variant_id", "variant"]
        .iter()
        .find_map(|k| stamp.0.get(*k).cloned())
}

pub fn run_dedup(args: DedupArgs) -> anyhow::Result<ExitCode> {
    let library = match &args.library {
        Some(p) => Some(Library::open(p)?),
        None => None,
    };
    let cfg = GateConfig {
        max_age_days: args.max_age_days,
        ..GateConfig::default()
    };
    let cands: Vec<Candidate> = args
        .files
        .iter()
        .enumerate()
        .map(|(i, p)| Candidate {
            path: p.clone(),
            variant_id: stamped_variant(p),
            variant_n: Some(i as u32),
            composition: None,
            created_at: cfg.now,
            licences: Vec::new(),
        })
        .collect();
    let fps: Vec<Fingerprint> = {
        use rayon::prelude::*;
        cands
            .par_iter()
            .map(|c| Fingerprint::compute(&c.path, &Default::default()))
            .collect::<Result<_, _>>()?
    };
    let verdicts = dedup::rules::score_fingerprints(&cands, &fps, library.as_ref(), &cfg)?;
    let mut worst = VerdictKind::Distinct;
    for v in &verdicts {
        worst = worst.max(v.verdict);
        if args.json {
            println!("{}", serde_json::to_string(v)?);
        } else {
            let label = match v.verdict {
                VerdictKind::Duplicate => "DUPLICATE",
                VerdictKind::Similar => "similar  ",
                VerdictKind::Distinct => "distinct ",
            };
            println!("{label} {}: {}", v.file.display(), v.reason);
            for m in &v.matches {
                println!(
                    "          {:?} {} [{}] rule={} dims={:?}  {}",
                    m.verdict,
                    m.file.display(),
                    m.source,
                    serde_json::to_value(m.rule)?.as_str().unwrap_or(""),
                    m.dimensions,
                    m.evidence.join("; ")
                );
            }
        }
    }
    if let (true, Some(lib)) = (args.add_distinct, &library) {
        for ((c, fp), v) in cands.iter().zip(&fps).zip(&verdicts) {
            if v.verdict == VerdictKind::Distinct {
                lib.add(fp, c.variant_id.as_deref(), None, None)?;
            }
        }
    }
    let failed = match args.fail_on {
        Some(FailOn::Duplicate) => worst == VerdictKind::Duplicate,
        Some(FailOn::Similar) => worst >= VerdictKind::Similar,
        None => false,
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_expiring(lib: &Library, within: u32, json: bool) -> anyhow::Result<()> {
    use creative_factory::plan::licence::day;
    let now = creative_factory::clock::unix_now();
    let (today, until) = (day(now, 0), day(now, i64::from(within)));
    let found = lib.expiring(&until)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(());
    }
    if found.is_empty() {
        println!(
            "no licence in library {} expires by {until} (within {within} days)",
            lib.path().display()
        );
        return Ok(());
    }
    for e in &found {
        let l = &e.licence;
        let ends = l.expires.as_deref().unwrap_or_default();
        let state = if ends < today.as_str() {
            "expired"
        } else {
            "expires"
        };
        println!(
            "{state} {ends}  #{} {}{}  variant {}  licence {} ({}) of {}",
            e.id,
            if e.retired { "[retired] " } else { "" },
            e.path.display(),
            e.variant_id.as_deref().unwrap_or("-"),
            l.id,
            l.holder,
            l.asset
        );
    }
    Ok(())
}

pub fn run_library(args: LibraryArgs) -> anyhow::Result<ExitCode> {
    let lib = Library::open(&args.library)?;
    match args.command {
        LibraryCommand::Add {
            files,
            variant_id,
            created_at,
        } => {
            use rayon::prelude::*;
            let fps: Vec<Fingerprint> = files
                .par_iter()
                .map(|p| Fingerprint::compute(p, &Default::default()))
                .collect::<Result<_, _>>()?;
            for fp in &fps {
                let vid = variant_id.clone().or_else(|| stamped_variant(&fp.path));
                let id = lib
                    .add(fp, vid.as_deref(), None, created_at)
                    .with_context(|| format!("adding {}", fp.path.display()))?;
                println!(
                    "added #{id} {} ({}, {} frame hashes)",
                    fp.path.display(),
                    fp.kind.as_str(),
                    fp.frames.len()
                );
            }
        }
        LibraryCommand::List { json } => {
            let entries = lib.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                if entries.is_empty() {
                    println!("library {} is empty", lib.path().display());
                }
                for e in entries {
                    println!(
                        "#{:<5} {:<5} {}{}  {} frames  {}  {}",
                        e.id,
                        e.kind.as_str(),
                        if e.retired { "[retired] " } else { "" },
                        e.path.display(),
                        e.frames,
                        e.variant_id.as_deref().unwrap_or("-"),
                        &e.sha256[..12]
                    );
                }
            }
        }
        LibraryCommand::Forget { key } => {
            let e = lib.forget(&key)?;
            println!("forgot #{} {}", e.id, e.path.display());
        }
        LibraryCommand::Retire { key } => {
            let e = lib.retire(&key)?;
            println!("retired #{} {}", e.id, e.path.display());
        }
        LibraryCommand::Expiring { within, json } => {
            print_expiring(&lib, within, json)?;
        }
        LibraryCommand::Reviews { variant, json } => {
            let rows: Vec<_> = lib
                .reviews()?
                .into_iter()
                .filter(|r| variant.as_ref().is_none_or(|v| *v == r.variant_id))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("no review decision in library {}", lib.path().display());
            } else {
                for r in &rows {
                    println!(
                        "{}  {} {}  variant {}  {}  by {}{}",
                        r.at,
                        r.decision,
                        r.file,
                        r.variant_id,
                        r.template,
                        r.reviewer,
                        r.note
                            .as_deref()
                            .map(|n| format!("  \"{n}\""))
                            .unwrap_or_default()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
