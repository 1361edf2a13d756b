//! Command line. Raw clap arguments are turned into validated stage inputs (template,
//! presets, plan filter, run options) before anything runs, ripgrep-style.
//!
//! Exit codes: 0 = everything asked for was made; 1 = some variants failed (or `--fail-on`
//! matched); 2 = the input was invalid (template diagnostics, bad arguments) or the run could
//! not start.

pub mod dedup_cmd;
pub mod lint_cmd;
pub mod progress;
pub mod results_cmd;
pub mod review_cmd;
pub mod text_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use creative_factory::exec;
use creative_factory::export::part::{self, PartInfo};
use creative_factory::media::{self, Limits};
use creative_factory::plan::shard::Shard;
use creative_factory::plan::{self, AssetHashes, PlanFilter};
use creative_factory::preset::PresetSet;
use creative_factory::template::{self, LoadOptions, Template};
use creative_factory::text::FontBook;

#[derive(Debug, Parser)]
#[command(
    name = "factory",
    version,
    about = "Turn one TOML template into many named, stamped ad-creative variants"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a template and report every problem at once.
    Validate(TemplateArgs),
    /// Check the copy for banned or risky claims (rule packs), before any render.
    Lint(lint_cmd::LintArgs),
    /// Show the variants a template expands to.
    Plan(PlanArgs),
    /// Render, encode, stamp, check and export every planned output.
    Render(RenderArgs),
    /// Assemble the part directories of a sharded render into one batch.
    Merge(MergeArgs),
    /// List the platform presets.
    Presets(PresetsArgs),
    /// Print the tracking metadata stamped inside an output file.
    Inspect(InspectArgs),
    /// Shape or render text, to see why a line looks the way it does.
    Text(text_cmd::TextArgs),
    /// Score files for near-duplicates against a library and each other.
    Dedup(dedup_cmd::DedupArgs),
    /// Manage the library of past outputs.
    Library(dedup_cmd::LibraryArgs),
    /// Rebuild OUT/report.html, the batch's review page, from its manifest.
    Report(review_cmd::ReportArgs),
    /// Approve or reject outputs of a rendered batch (recorded in its manifest).
    Review(review_cmd::ReviewArgs),
    /// Copy the approved outputs and their manifest into a new upload folder.
    Export(review_cmd::ExportArgs),
    /// Read platform results back and see which module options win.
    Results(results_cmd::ResultsArgs),
}

#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// The template file.
    pub template: PathBuf,
    /// A directory of extra presets (`NAME.toml`); same names override built-ins.
    #[arg(long)]
    pub presets_dir: Option<PathBuf>,
    /// Let asset paths point outside the template's directory.
    #[arg(long)]
    pub allow_outside_root: bool,
    /// Where a region's locale has no copy, use the template's default copy (`en`, else the
    /// first locale) instead of failing; the manifest says so.
    #[arg(long)]
    pub allow_fallback: bool,
    /// Print diagnostics as JSON.
    #[arg(long)]
    pub json: bool,
    /// Refuse a plan of more variants than this (default 100000): a `full` product that
    /// large is usually a template mistake, not a batch.
    #[arg(long)]
    pub max_variants: Option<usize>,
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only these presets (comma-separated ids from the template).
    #[arg(long, value_delimiter = ',')]
    pub presets: Option<Vec<String>>,
    /// Only these regions (comma-separated codes from the template).
    #[arg(long, value_delimiter = ',')]
    pub regions: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub rules: lint_cmd::RulesArgs,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub template: TemplateArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub rules: lint_cmd::RulesArgs,
    /// Output directory (default: out/TEMPLATE-NAME, or out/TEMPLATE-NAME.parts/shard-I
    /// with --shard).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Render only shard I of N (0-based) into a part directory for `factory merge`; the
    /// plan is split by expected cost, the same way on every machine. `auto` reads
    /// JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) and FACTORY_SHARD_COUNT.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// How a batch runs: shared by `render` and `merge`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Outputs rendered at once (default: the number of cores, at most 4). One job's renderer
    /// and encoder wait on each other at times; a second job fills those gaps (measured:
    /// 10–30 % faster on 2 cores for about 300 MB more at 1080×1920).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: progress::ProgressMode,
    /// Stop at the first failing variant.
    #[arg(long)]
    pub fail_fast: bool,
    /// Encode every video whole. By default a `[[scene]]` segment that several outputs show
    /// is coded once and stitched into each of them without re-encoding (the manifest's
    /// `encode` says which outputs were).
    #[arg(long)]
    pub no_stitch: bool,
    /// Render every output again. Without it, outputs the directory already holds unchanged
    /// (same variant id, file matching its recorded sha256) are reused.
    #[arg(long)]
    pub force: bool,
    /// MiB of decoded background clips kept in memory and shared by all jobs (default 256).
    /// A clip whose frames do not fit is streamed instead: each job decodes what it shows as
    /// it goes, so memory does not grow with the clip's length; 0 streams every clip.
    #[arg(long, value_name = "MIB")]
    pub clip_cache_mib: Option<u64>,
    /// Seconds a job may go without progress (no frame, no stage change) before it is
    /// abandoned and reported failed with the stage it was stuck in; 0 never gives up.
    #[arg(long, value_name = "SECONDS", default_value_t = creative_factory::exec::DEFAULT_STALL_TIMEOUT.as_secs())]
    pub stall_timeout: u64,
    /// The duplicate gate's library of earlier outputs, instead of the template's
    /// `[dedup] library` (a shard ignores it: `merge` gates the whole batch once).
    #[arg(long, value_name = "LIB")]
    pub library: Option<PathBuf>,
    /// Warn about asset licences that end within this many days of the run.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub licence_warning_days: u32,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The batch's output directory (region packs and manifest, as a single run makes).
    pub out: PathBuf,
    /// Part directories made by `factory render --shard`.
    pub parts: Vec<PathBuf>,
    /// Also every `shard-*` directory under this one.
    #[arg(long, value_name = "DIR")]
    pub parts_under: Option<PathBuf>,
    /// The template, if not where the shards' command line named it.
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// The presets directory, if not where the shards' command line named it.
    #[arg(long)]
    pub presets_dir: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct PresetsArgs {
    #[arg(long)]
    pub presets_dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(a) => validate(a),
        Command::Lint(a) => lint_cmd::run(a),
        Command::Plan(a) => plan_cmd(a),
        Command::Render(a) => render_cmd(a),
        Command::Merge(a) => merge_cmd(a),
        Command::Presets(a) => presets_cmd(a),
        Command::Inspect(a) => inspect(a),
        Command::Text(a) => text_cmd::run(a),
        Command::Dedup(a) => dedup_cmd::run_dedup(a),
        Command::Library(a) => dedup_cmd::run_library(a),
        Command::Report(a) => review_cmd::report_cmd(a),
        Command::Review(a) => review_cmd::review_cmd(a),
        Command::Export(a) => review_cmd::export_cmd(a),
        Command::Results(a) => results_cmd::run(a),
    }
}

pub(crate) fn load_presets(dir: Option<&Path>) -> anyhow::Result<PresetSet> {
    let mut set = PresetSet::builtin().context("built-in presets")?;
    if let Some(d) = dir {
        set.load_dir(d)
            .with_context(|| format!("presets directory {}", d.display()))?;
    }
    Ok(set)
}

/// Whether `load_template` opens the media inputs too (`media::probe`).
enum Probe {
    Off,
    /// `validate`: a damaged file is an error, like a template error.
    Refuse,
    /// `render`: a damaged file is reported as a warning and only the variants that use it
    /// fail, so one bad product shot does not cost a nightly batch its other outputs.
    Report,
}

/// The system's fonts and the template's `[[font]]` files.
fn font_book(t: &Template) -> anyhow::Result<FontBook> {
    t.font_book()
        .with_context(|| format!("the [[font]] files of {}", t.path.display()))
}

/// Loads and validates, printing diagnostics; `None` means the template is invalid and the
/// diagnostics have been shown. Returns the inputs the probe refused (with `Probe::Report`).
fn load_template(
    a: &TemplateArgs,
    presets: &PresetSet,
    probe: Probe,
) -> Option<(Template, Vec<media::probe::ProbeError>)> {
    let opts = LoadOptions {
        allow_outside_root: a.allow_outside_root,
        allow_fallback: a.allow_fallback,
    };
    // Warnings (a fallback locale used, a title too long for a platform) are shown even when
    // the template is valid; errors stop the command.
    let (t, mut diags) = template::check(&a.template, presets, &opts);
    let mut refused = Vec::new();
    if let Some(t) = &t {
        let refuse = match probe {
            Probe::Off => None,
            Probe::Refuse => Some(true),
            Probe::Report => Some(false),
        };
        if let Some(refuse) = refuse {
            // Validation has just read the [[font]] files; one unreadable now is the error.
            let fonts = match font_book(t) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return None;
                }
            };
            let probed = media::probe::check_inputs(t, &fonts, &Limits::default());
            probed.diagnose(t, &mut diags, refuse);
            refused = probed.errors;
        }
    }
    if !diags.is_empty() {
        if a.json {
            println!("{}", diags.to_json());
        } else {
            eprint!("{diags}");
        }
    }
    t.filter(|_| !diags.has_errors()).map(|t| (t, refused))
}

fn validate(a: TemplateArgs) -> anyhow::Result<ExitCode> {
    let presets = load_presets(a.presets_dir.as_deref())?;
    let Some((t, _)) = load_template(&a, &presets, Probe::Refuse) else {
        return Ok(ExitCode::from(2));
    };
    let hashes = AssetHashes::compute(&t)?;
    let all = PlanFilter {
        max_variants: a.max_variants,
        ..PlanFilter::default()
    };
    let plan = plan::plan(&t, &presets, &all, &hashes)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"ok": true, "variants": plan.variants.len(), "outputs": plan.jobs.iter().map(|j| 1 + j.same_output.len()).sum::<usize>(), "files": plan.jobs.len()})
        );
    } else {
        println!(
            "{}: ok — {} variant(s) × {} region(s) × {} preset(s) = {} output(s)",
            a.template.display(),
            plan.variants.len(),
            t.regions.len(),
            t.output.presets.len(),
            plan.jobs
                .iter()
                .map(|j| 1 + j.same_output.len())
                .sum::<usize>()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What a `distinct` or `pairwise` design chose, and why each other combination was left out.
fn print_design(d: &plan::Design, variants: usize) {
    println!(
        "{}: {variants} of {} combination(s) kept",
        d.strategy, d.combinations
    );
    if let Some(p) = &d.pairs {
        println!(
            "pairs covered: {} of {} ({} uncoverable); no covering design has fewer than {} variant(s)",
            p.covered, p.pairs, p.uncoverable, p.lower_bound
        );
    }
    for l in &d.left_out {
        let modules: Vec<String> = l.modules.iter().map(|(k, v)| format!("{k}={v}")).collect();
        match l.duplicate_of {
            Some(n) => println!(
                "left out {}: would duplicate variant {n} ({})",
                modules.join(" "),
                l.reason
            ),
            None => println!("left out {}: {}", modules.join(" "), l.reason),
        }
    }
}

fn filter(f: &FilterArgs, t: &TemplateArgs) -> PlanFilter {
    PlanFilter {
        presets: f.presets.clone(),
        regions: f.regions.clone(),
        max_variants: t.max_variants,
    }
}

fn plan_cmd(a: PlanArgs) -> anyhow::Result<ExitCode> {
    let presets = load_presets(a.template.presets_dir.as_deref())?;
    let Some((t, _)) = load_template(&a.template, &presets, Probe::Off) else {
        return Ok(ExitCode::from(2));
    };
    let lint = match lint_cmd::before_run(&t, &a.template, &a.rules, &presets, true)? {
        Ok(report) => report,
        Err(code) => return Ok(code),
    };
    let hashes = AssetHashes::compute(&t)?;
    let plan = plan::plan(&t, &presets, &filter(&a.filter, &a.template), &hashes)?;
    // Duplicates by composition alone are knowable before any pixel is rendered.
    let comps: Vec<(String, creative_factory::dedup::Composition)> = plan
        .jobs
        .iter()
        .filter_map(|j| {
            Some((
                j.variant_id.clone(),
                creative_factory::plan::composition(&t, j, presets.get(&j.preset)?, &hashes),
            ))
        })
        .collect();
    let warnings = if t.dedup.policy == creative_factory::template::DedupPolicy::Off {
        Vec::new()
    } else {
        creative_factory::dedup::plan_warnings(
            comps.iter().map(|(id, c)| (id.as_str(), c)),
            &creative_factory::dedup::gate::config(&t),
        )
    };
    if a.template.json {
        let mut v = serde_json::to_value(&plan)?;
        v["dedup_warnings"] = serde_json::to_value(&warnings)?;
        v["lint"] = lint.to_json();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    // A map, not a search per warning: a plan of 10⁵ near-identical variants warns on most.
    let mut files = std::collections::HashMap::new();
    for j in &plan.jobs {
        files
            .entry(j.variant_id.as_str())
            .or_insert(j.file.as_str());
    }
    let file_of = |id: &str| {
        files
            .get(id)
            .map_or_else(|| id.to_string(), |f| f.to_string())
    };
    for w in &warnings {
        eprintln!(
            "warning: {} would be a duplicate of {}: {}",
            file_of(&w.variant_id),
            file_of(&w.duplicate_of),
            w.reason
        );
    }
    let served: usize = plan.jobs.iter().map(|j| j.same_output.len()).sum();
    if served == 0 {
        println!(
            "{} v{}: {} variant(s), {} output(s)",
            t.name,
            t.version,
            plan.variants.len(),
            plan.jobs.len()
        );
    } else {
        println!(
            "{} v{}: {} variant(s), {} output(s) in {} file(s): {served} show nothing the preset draws apart from another variant's, and share its file",
            t.name,
            t.version,
            plan.variants.len(),
            plan.jobs.len() + served,
            plan.jobs.len()
        );
    }
    if let Some(d) = &plan.design {
        print_design(d, plan.variants.len());
    }
    println!(
        "{:>4}  {:<16}  {:<6}  {:<6}  {:<12}  {:<40}  modules",
        "n", "id", "region", "locale", "preset", "file"
    );
    for j in &plan.jobs {
        let modules = j
            .modules
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "{:>4}  {:<16}  {:<6}  {:<6}  {:<12}  {:<40}  {}",
            j.variant_n, j.variant_id, j.region, j.locale, j.preset, j.file, modules
        );
        for v in &j.same_output {
            println!(
                "{:>4}  {:<16}  {:<6}  {:<6}  {:<12}  {:<40}  same output as variant {} (the preset shows none of what differs)",
                v.variant_n, v.variant_id, j.region, j.locale, j.preset, j.file, j.variant_n
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render_cmd(a: RenderArgs) -> anyhow::Result<ExitCode> {
    let presets = load_presets(a.template.presets_dir.as_deref())?;
    // The same probe as `validate`, before the lock, the plan or any job; a bad input fails
    // the variants that use it (exit 1), never renders wrong.
    let Some((mut t, refused)) = load_template(&a.template, &presets, Probe::Report) else {
        return Ok(ExitCode::from(2));
    };
    let fonts = font_book(&t)?;
    // Claims are checked before the lock, the plan or any job: an error renders nothing.
    let lint = match lint_cmd::before_run(&t, &a.template, &a.rules, &presets, false)? {
        Ok(report) => report,
        Err(code) => return Ok(code),
    };
    override_library(&mut t, &a.run)?;
    let hashes = AssetHashes::compute(&t)?;
    let scope = filter(&a.filter, &a.template);
    let plan = plan::plan(&t, &presets, &scope, &hashes)?;
    let shard = match a.shard.as_deref() {
        None => None,
        Some("auto") => Some(Shard::from_env(|k| std::env::var(k).ok())?),
        Some(s) => Some(s.parse::<Shard>()?),
    };
    let part = match shard {
        None => None,
        Some(shard) => {
            let owner = plan::shard::assign(&plan, t.fps, shard.count);
            let owned = plan
                .jobs
                .iter()
                .zip(&owner)
                .filter(|(_, o)| **o == shard.index)
                .map(|(j, _)| j.file.clone())
                .collect();
            let info = PartInfo {
                schema: part::PART_SCHEMA,
                shard,
                factory_version: env!("CARGO_PKG_VERSION").into(),
                template: a.template.template.clone(),
                template_abs: t.path.clone(),
                template_sha256: plan::sha256_file(&t.path)?,
                presets_dir: a.template.presets_dir.clone(),
                presets: scope.presets.clone(),
                regions: scope.regions.clone(),
                max_variants: scope.max_variants,
                allow_outside_root: a.template.allow_outside_root,
                allow_fallback: a.template.allow_fallback,
                rules_dir: a
                    .rules
                    .rules_dir
                    .as_ref()
                    .map(std::path::absolute)
                    .transpose()?,
                plan_jobs: plan.jobs.len(),
                owned,
            };
            Some(exec::PartRun { info, owner })
        }
    };
    let name = plan::sanitize_file_name(&t.name);
    let out = a.out.clone().unwrap_or_else(|| match shard {
        // Beside each other, where `factory merge --parts-under out/NAME.parts` finds them.
        Some(s) => PathBuf::from("out")
            .join(format!("{name}.parts"))
            .join(format!("shard-{}", s.index)),
        None => PathBuf::from("out").join(name),
    });
    let mut opts = run_options(out, &a.run, &scope)?;
    opts.refused_inputs = refused
        .into_iter()
        .map(|e| (e.path().to_path_buf(), Arc::new(e)))
        .collect();
    opts.part = part;
    opts.rule_packs = lint.packs;
    opts.lint = lint.findings;
    opts.warm = Arc::new(std::sync::Mutex::new(Some(lint.warm)));
    warn_expiring_licences(&t, &plan, &presets, a.run.licence_warning_days);
    execute(&t, &plan, &hashes, &presets, &fonts, &opts, a.run.progress)
}

/// One warning per licence that ends within `days` and that some output of the plan
/// shows; expired or region-less ones fail their jobs, named there.
fn warn_expiring_licences(t: &Template, plan: &plan::Plan, presets: &PresetSet, days: u32) {
    let now = creative_factory::clock::unix_now();
    let (today, until) = (
        plan::licence::day(now, 0),
        plan::licence::day(now, i64::from(days)),
    );
    let mut seen = std::collections::BTreeMap::new();
    for j in &plan.jobs {
        for (path, l) in plan::licence::of_job(t, j, presets.get(&j.preset)) {
            if let Some(e) = l
                .expires
                .as_deref()
                .filter(|e| *e >= today.as_str() && *e <= until.as_str())
            {
                *seen
                    .entry((e.to_string(), plan::licence::describe(t, &path, l)))
                    .or_insert(0usize) += 1 + j.same_output.len();
            }
        }
    }
    for ((e, what), n) in seen {
        eprintln!("warning: {what} ends on {e}, within {days} days: {n} output(s) show it");
    }
}

/// `--library` replaces the template's `[dedup] library`: a path relative to the current
/// directory, as paths on a command line are, or a `postgres://` URL as given (made
/// "absolute" it became an SQLite file named after the URL, and the shared library was
/// never written).
fn override_library(t: &mut Template, a: &RunArgs) -> anyhow::Result<()> {
    if let Some(lib) = &a.library {
        let url = lib
            .to_str()
            .is_some_and(creative_factory::template::is_postgres_url);
        t.dedup.library = Some(match url {
            true => lib.clone(),
            false => std::path::absolute(lib)?,
        });
    }
    Ok(())
}

/// `RunOptions` from the flags `render` and `merge` share; registers the stop signals.
fn run_options(out: PathBuf, a: &RunArgs, scope: &PlanFilter) -> anyhow::Result<exec::RunOptions> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let jobs = a.jobs.unwrap_or(cores.clamp(1, 4));
    if jobs == 0 {
        anyhow::bail!("--jobs must be at least 1");
    }
    // SIGINT/SIGTERM ask the run to stop cleanly (finished outputs stay published and listed);
    // a second one ends the process at once, as an operator pressing Ctrl-C twice expects.
    let stop = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let signalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Runs first: exits only if an earlier signal already set `signalled`.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, signalled.clone())?;
        signal_hook::flag::register(sig, signalled.clone())?;
        signal_hook::flag::register_usize(sig, stop.clone(), sig as usize)?;
    }
    Ok(exec::RunOptions {
        out,
        warm: Default::default(),
        jobs,
        fail_fast: a.fail_fast,
        limits: Limits {
            clip_cache_bytes: a
                .clip_cache_mib
                .unwrap_or(media::DEFAULT_CLIP_CACHE_MIB)
                .saturating_mul(1 << 20),
            ..Default::default()
        },
        force: a.force,
        scope: scope.clone(),
        stop,
        stall_timeout: std::time::Duration::from_secs(a.stall_timeout),
        refused_inputs: Default::default(),
        part: None,
        parts: None,
        lint: Vec::new(),
        rule_packs: Default::default(),
        today: plan::licence::day(creative_factory::clock::unix_now(), 0),
        stitch: !a.no_stitch,
    })
}

/// Runs the batch with progress shown, and turns the report into the exit status.
fn execute(
    t: &Template,
    plan: &plan::Plan,
    hashes: &AssetHashes,
    presets: &PresetSet,
    fonts: &FontBook,
    opts: &exec::RunOptions,
    progress: progress::ProgressMode,
) -> anyhow::Result<ExitCode> {
    let mut reporter = progress::reporter(progress);
    let report = exec::run(t, plan, hashes, presets, fonts, opts, &mut |ev| {
        reporter.event(ev)
    })?;
    if progress != progress::ProgressMode::Json {
        eprintln!(
            "outputs in {}/ — manifest: {} — review page: {}",
            opts.out.display(),
            opts.out.join("manifest.json").display(),
            opts.out.join(creative_factory::report::PAGE).display()
        );
    }
    if let Some(sig) = report.stopped_by {
        // The shell's convention for "ended by signal N".
        return Ok(ExitCode::from((128 + sig) as u8));
    }
    Ok(if report.failed > 0 || report.skipped > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn merge_cmd(a: MergeArgs) -> anyhow::Result<ExitCode> {
    let mut dirs = a.parts.clone();
    if let Some(under) = &a.parts_under {
        let mut found: Vec<PathBuf> = std::fs::read_dir(under)
            .with_context(|| format!("--parts-under {}", under.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("shard-"))
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        found.sort();
        dirs.extend(found);
    }
    let parts = exec::merge::read_parts(&dirs)?;
    let info = parts[0].1.clone();
    // The shards' template, where the merge runs: as they named it (a checkout, a shared
    // volume at the same mount), else where it was; `--template` when it moved.
    let template = a.template.clone().unwrap_or_else(|| {
        if info.template.exists() {
            info.template.clone()
        } else {
            info.template_abs.clone()
        }
    });
    let targs = TemplateArgs {
        template,
        presets_dir: a.presets_dir.clone().or(info.presets_dir.clone()),
        allow_outside_root: info.allow_outside_root,
        allow_fallback: info.allow_fallback,
        json: false,
        max_variants: info.max_variants,
    };
    let presets = load_presets(targs.presets_dir.as_deref())?;
    let Some((mut t, _)) = load_template(&targs, &presets, Probe::Off) else {
        return Ok(ExitCode::from(2));
    };
    let fonts = font_book(&t)?;
    override_library(&mut t, &a.run)?;
    let sha = plan::sha256_file(&t.path)?;
    if sha != info.template_sha256 {
        anyhow::bail!(
            "{}: not the template the shards were rendered from (sha256 {sha}, the parts say \
             {}); merge with the same template, or render the shards again",
            t.path.display(),
            info.template_sha256
        );
    }
    let hashes = AssetHashes::compute(&t)?;
    let scope = PlanFilter {
        presets: info.presets.clone(),
        regions: info.regions.clone(),
        max_variants: info.max_variants,
    };
    let plan = plan::plan(&t, &presets, &scope, &hashes)?;
    let owner = plan::shard::assign(&plan, t.fps, info.shard.count);
    let loaded = exec::merge::Parts::load(&parts, &plan.jobs, owner)?;
    for s in loaded.missing() {
        eprintln!(
            "warning: shard {s} has no part among the directories given: its outputs are \
             listed as failed; render it and merge again"
        );
    }
    let mut opts = run_options(a.out.clone(), &a.run, &scope)?;
    opts.parts = Some(Arc::new(loaded));
    // The shards' lint, quietly: they printed it, and it passed there.
    let rules = lint_cmd::RulesArgs {
        rules_dir: info.rules_dir.clone(),
    };
    match lint_cmd::lint_template(&t, &targs, &rules, &presets) {
        Ok(Some(report)) => {
            opts.rule_packs = report.packs;
            opts.lint = report.findings;
        }
        // Packs the shards read and this machine cannot: the merge goes on, saying so.
        _ => eprintln!(
            "warning: the shards' lint could not be repeated here; the manifest lists no lint \
             findings"
        ),
    }
    execute(&t, &plan, &hashes, &presets, &fonts, &opts, a.run.progress)
}

fn presets_cmd(a: PresetsArgs) -> anyhow::Result<ExitCode> {
    let set = load_presets(a.presets_dir.as_deref())?;
    if a.json {
        let all: Vec<_> = set.iter().collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<14} {:<12} {:<6} {:>10}  {:<10}  description",
        "id", "platform", "kind", "canvas", "format"
    );
    for p in set.iter() {
        let format = match (&p.video, &p.image) {
            (Some(v), _) => format!("{} crf {}", v.codec, v.crf),
            (None, Some(i)) => format!("{:?}", i.format).to_lowercase(),
            _ => String::new(),
        };
        let kind = match p.kind {
            creative_factory::preset::PresetKind::Video => "video",
            creative_factory::preset::PresetKind::Image => "image",
        };
        println!(
            "{:<14} {:<12} {:<6} {:>10}  {:<10}  {}",
            p.id,
            p.platform,
            kind,
            format!("{}×{}", p.width, p.height),
            format,
            p.description
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let stamp = creative_factory::encode::read_stamp(&a.file)?;
    let probe = creative_factory::encode::probe(&a.file)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"file": a.file, "stamp": stamp.0, "probe": probe})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", a.file.display());
    for s in &probe.streams {
        match s.kind {
            creative_factory::encode::StreamKind::Audio => {
                println!(
                    "  stream: audio {} {} Hz {} ch {:.2} s",
                    s.codec, s.sample_rate, s.channels, s.duration
                )
            }
            _ => println!(
                "  stream: {:?} {} {}×{} {} frame(s) {:.2} s",
                s.kind, s.codec, s.width, s.height, s.frames, s.duration
            ),
        }
    }
    if stamp.0.is_empty() {
        println!("  (no Creative Factory metadata in this file)");
    }
    for (k, v) in &stamp.0 {
        println!("  {k}: {v}");
    }
    Ok(ExitCode::SUCCESS)
}
