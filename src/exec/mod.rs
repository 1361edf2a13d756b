//! The executor: the only module that knows about threads and channels.
//!
//! `--jobs N` worker threads take jobs from a queue in plan order. A video job runs as two
//! threads joined by a bounded channel — the renderer composes frames, the encoder thread owns
//! the FFmpeg context — so at most a few frames per job are alive at once (gifski's shape).
//! Workers report typed `Event`s to the calling thread, which hands them to the UI callback.
//! Results are gathered by job index, so nothing downstream depends on thread timing.

mod error;
mod job;
pub mod merge;
mod pool;
mod stitch;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use rayon::prelude::*;
use serde::Serialize;

use crate::encode::{self, Stamp, VideoSettings, VideoWriter};
use crate::export::rerun::{self, Previous, RunRecord};
use crate::export::{self, ExportError, ManifestRow, Staging, Status, Verified};
use crate::media::Limits;
use crate::plan::{AssetHashes, Job, Plan};
use crate::preset::{PresetKind, PresetSet};
use crate::render::{self, Assets};
use crate::template::{DedupPolicy, Template};
use crate::text::{FontBook, TextCache};

use error::at;
pub(crate) use error::{ErrorKind, JobError, JobFailure, Stage};
use job::run_job;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("duplicate gate: {0}")]
    Dedup(#[from] crate::dedup::DedupError),
    #[error("review page: {0}")]
    Report(#[from] crate::report::ReportError),
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    /// What the lint before the run placed and fitted (`render::Warm`), taken by the run.
    pub warm: Arc<std::sync::Mutex<Option<crate::render::Warm>>>,
    /// Jobs rendered at once.
    pub jobs: usize,
    pub fail_fast: bool,
    pub limits: Limits,
    /// Render every output again, whatever the output directory already holds.
    pub force: bool,
    /// The presets and regions this run was asked for (`None`: all). Outputs of others in the
    /// directory are kept and stay in the manifest.
    pub scope: crate::plan::PlanFilter,
    /// Set to a signal's number to stop the run cleanly: running jobs are abandoned, finished
    /// outputs stay published and listed.
    pub stop: Arc<AtomicUsize>,
    /// A job that makes no progress (no frame, no stage change) for this long is abandoned
    /// and reported failed with the stage it was stuck in; zero turns the watchdog off.
    pub stall_timeout: Duration,
    /// Inputs `media::probe` refused, by canonical path: the jobs using them fail without
    /// rendering, naming the file and what is wrong; the others render.
    pub refused_inputs: HashMap<PathBuf, Arc<crate::media::probe::ProbeError>>,
    /// Render one shard of the plan into a part directory (`--shard`), for `factory merge`.
    pub part: Option<PartRun>,
    /// Take every job's output from shard parts instead of rendering it (`factory merge`).
    pub parts: Option<Arc<merge::Parts>>,
    /// Lint warnings on the template's copy: each manifest row lists those on its variant's
    /// copy in its region (`lint::Finding::applies_to`).
    pub lint: Vec<crate::lint::Finding>,
    /// The rule packs of that lint: outputs showing generated content in a region whose pack
    /// has an `[ai_label]` get it drawn (`RulePacks::ai_label_for`).
    pub rule_packs: crate::lint::RulePacks,
    /// The day licences are checked against (`YYYY-MM-DD`, UTC): the run's date.
    pub today: String,
    /// Code each scene segment that several outputs show once and stitch the outputs from
    /// the coded segments (`--no-stitch` turns it off: every output encoded whole).
    pub stitch: bool,
}

/// A shard's run: what `part.json` says, and the owning shard of each plan position.
#[derive(Debug, Clone)]
pub struct PartRun {
    pub info: export::part::PartInfo,
    pub owner: Vec<u32>,
}

impl PartRun {
    fn owns(&self, job: &Job) -> bool {
        self.owner.get(job.index) == Some(&self.info.shard.index)
    }
}

/// The watchdog's default: generous, since a 60 s 4K job on a loaded machine still sends
/// progress every 15 frames, i.e. every few seconds at worst.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Progress, for bars, plain lines or JSON events.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Loading {
        assets: usize,
    },
    Started {
        jobs: usize,
    },
    JobStarted {
        index: usize,
        file: String,
        frames: u32,
    },
    Frames {
        index: usize,
        done: u32,
        total: u32,
    },
    JobFinished {
        index: usize,
        file: String,
        status: Status,
        bytes: u64,
        seconds: f64,
        error: Option<String>,
        error_kind: Option<ErrorKind>,
    },
    /// The duplicate gate starts scoring the rendered outputs.
    Scoring {
        outputs: usize,
        library: Option<PathBuf>,
    },
    /// The gate's verdict on one output (only `similar` and `duplicate` are reported).
    Verdict {
        index: usize,
        file: String,
        verdict: crate::dedup::VerdictKind,
        held: bool,
        reason: String,
    },
    /// An output the directory already holds, unchanged, so not rendered again.
    Reused {
        index: usize,
        file: String,
        reason: String,
    },
    /// An output moved out of the pack (to `OUT/.removed/…`).
    Removed {
        file: String,
        moved_to: PathBuf,
        reason: String,
    },
    Finished {
        /// Rendered and published by this run.
        exported: usize,
        failed: usize,
        rejected: usize,
        skipped: usize,
        reused: usize,
        removed: usize,
        seconds: f64,
        /// CPU time of the whole process, on every thread.
        cpu_seconds: f64,
        /// CPU time the duplicate gate took of it (`None` with the gate off).
        gate_cpu_seconds: Option<f64>,
    },
}

#[derive(Debug)]
pub struct RunReport {
    pub rows: Vec<ManifestRow>,
    pub exported: usize,
    pub failed: usize,
    pub rejected: usize,
    pub skipped: usize,
    pub reused: usize,
    pub removed: usize,
    /// The signal that stopped the run, if one did.
    pub stopped_by: Option<i32>,
}

/// What the renderer learned about an output that the manifest reports.
#[derive(Debug, Clone, Default)]
struct Extra {
    rules_applied: Vec<String>,
    fonts: Vec<String>,
    scenes: Vec<export::SceneSpan>,
    /// The output's fingerprint, hashed from the frames the renderer made (a video's at
    /// 1 fps) rather than by decoding the file again; `None` with the gate off.
    fingerprint: Option<crate::dedup::Fingerprint>,
    product_box: Option<crate::render::NormBox>,
    text_boxes: Vec<crate::render::NormBox>,
    loudness_lufs: Option<f64>,
    true_peak_dbtp: Option<f64>,
    /// How a video was encoded, and the frames it took from segments coded for another
    /// output (`None` for stills).
    encode: Option<export::EncodeMode>,
    frames_reused: Option<u32>,
    /// CPU this job's thread spent on the duplicate gate's part: sampling and fingerprinting.
    gate_cpu: std::time::Duration,
}

/// A job's result: its staged, verified file and what the renderer learned, or the error.
type JobResult = Result<(PathBuf, Verified, Extra), JobError>;

/// What a worker hands back for one job: the staged, verified file or the error.
struct Outcome {
    index: usize,
    result: JobResult,
    /// Ready for the duplicate gate (when it is on and the job succeeded).
    prepared: Option<crate::dedup::gate::Prepared>,
    /// CPU the worker spent on the gate's part of this job (`Extra::gate_cpu` and `prepared`).
    gate_cpu: std::time::Duration,
}

/// Tracking metadata stamped inside a file (and repeated in the manifest). `ai_generated`
/// (see `plan::ai_generated`) adds the GB 45438-2025 implicit label under `AIGC`.
pub(crate) fn stamp_for(t: &Template, job: &Job, ai_generated: bool) -> Stamp {
    let mut m = std::collections::BTreeMap::new();
    m.insert("variant_id".into(), job.variant_id.clone());
    m.insert("variant".into(), job.variant_n.to_string());
    m.insert("template".into(), t.name.clone());
    m.insert("template_version".into(), t.version.to_string());
    m.insert("preset".into(), job.preset.clone());
    m.insert("region".into(), job.region.clone());
    m.insert("locale".into(), job.locale.clone());
    m.insert(
        "modules".into(),
        serde_json::to_string(&job.modules).expect("string map serialises"),
    );
    if let Some(u) = &job.tracking_url {
        m.insert("tracking_url".into(), u.clone());
    }
    for (k, v) in &job.tracking {
        m.insert(k.clone(), v.clone());
    }
    m.insert(
        "generator".into(),
        format!("creative-factory {}", env!("CARGO_PKG_VERSION")),
    );
    // After the tracking keys: a template's `tracking.AIGC` must not forge or drop the label.
    if ai_generated {
        m.insert(encode::AIGC_KEY.into(), aigc_label(job));
    } else {
        m.remove(encode::AIGC_KEY);
    }
    Stamp(m)
}

/// The GB 45438-2025 metadata implicit label (as the TC260 practice guide for the standard
/// writes it): JSON with the fields in the standard's order. `Label`
/// "1" = the content is AI-generated or contains AI-generated parts; the producer is this
/// tool and `ProduceID` the variant id, which names the output uniquely. The propagator
/// fields belong to whoever publishes the file, so they are left empty here.
pub(crate) fn aigc_label(job: &Job) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Aigc<'a> {
        label: &'a str,
        content_producer: &'a str,
        #[serde(rename = "ProduceID")]
        produce_id: &'a str,
        reserved_code1: &'a str,
        content_propagator: &'a str,
        #[serde(rename = "PropagateID")]
        propagate_id: &'a str,
        reserved_code2: &'a str,
    }
    serde_json::to_string(&Aigc {
        label: "1",
        content_producer: "creative-factory",
        produce_id: &job.variant_id,
        reserved_code1: "",
        content_propagator: "",
        propagate_id: "",
        reserved_code2: "",
    })
    .expect("string fields serialise")
}

/// What a worker sends the calling thread: progress, or a finished job.
enum Msg {
    Event(Event),
    Done(Box<Outcome>),
    Exit(pool::Exit),
}

/// Renders, encodes, verifies and exports every job of the plan that the output directory
/// does not already hold (see `export::rerun`), publishing each output as soon as it and every
/// output before it in variant order have been through the duplicate gate.
pub fn run(
    t: &Template,
    plan: &Plan,
    hashes: &AssetHashes,
    presets: &PresetSet,
    fonts: &FontBook,
    opts: &RunOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<RunReport, ExecError> {
    let started = Instant::now();
    // Before anything is written or rendered: a damaged, foreign or locked library must stop
    // the run now, not after the whole batch rendered (`Library::preflight`).
    // A shard leaves the library to `factory merge`, which gates the whole batch once.
    let library = match (&t.dedup.library, t.dedup.policy) {
        (Some(path), p) if p != DedupPolicy::Off && opts.part.is_none() => Some(
            crate::dedup::Library::preflight(path, crate::dedup::library::PREFLIGHT_WAIT)?,
        ),
        _ => None,
    };
    let staging = Staging::create(&opts.out)?;
    if let Some(part) = &opts.part {
        export::part::write_info(&opts.out, &part.info)?;
    }
    let mine = |j: &Job| opts.part.as_ref().is_none_or(|p| p.owns(j));
    let previous = match Previous::read(&opts.out) {
        Err(_) if opts.force => Previous::default(),
        p => p?,
    };
    let mut record = RunRecord::begin(crate::plan::sha256_file(&t.path).unwrap_or_default());
    record.library = t
        .dedup
        .library
        .as_ref()
        .map(|l| crate::dedup::library::redact_url(&l.to_string_lossy()));
    let removal_stamp = rerun::removal_stamp(crate::clock::unix_now());
    let mut book = Book::new(t, plan, &opts.out, &record);
    book.lint = &opts.lint;

    // What the directory already holds: reused, kept (outside this run's scope) or removed.
    let in_scope = |r: &ManifestRow| {
        opts.scope
            .presets
            .as_ref()
            .is_none_or(|p| p.contains(&r.preset))
            && opts
                .scope
                .regions
                .as_ref()
                .is_none_or(|g| g.contains(&r.region))
    };
    let planned: HashSet<&str> = plan
        .jobs
        .iter()
        .filter(|j| mine(j))
        .map(|j| j.file.as_str())
        .collect();
    for old in &previous.rows {
        if planned.contains(old.file.as_str()) {
            continue;
        }
        if !in_scope(old) {
            book.kept.push(old.clone());
        } else if let Some(to) = rerun::move_aside(&opts.out, &old.file, &removal_stamp)? {
            record.removed += 1;
            on_event(Event::Removed {
                file: old.file.clone(),
                moved_to: to,
                reason: "its variant is no longer in the plan".into(),
            });
        }
    }
    let old_rows = previous.by_file();
    let mut to_render: Vec<&Job> = Vec::new();
    for job in plan.jobs.iter().filter(|j| mine(j)) {
        let old = old_rows.get(job.file.as_str()).copied();
        let base = base_row(t, job, presets, hashes, &opts.rule_packs);
        let reuse = old
            .filter(|_| !opts.force)
            .and_then(|o| rerun::reusable(o, &base, previous.run.as_ref(), &opts.out));
        match (old, reuse) {
            (Some(o), Some(reason)) => {
                book.rows[job.index] = Some(o.clone());
                record.reused += 1;
                on_event(Event::Reused {
                    index: job.index,
                    file: job.file.clone(),
                    reason: reason.into(),
                });
            }
            (old, _) => {
                // Until it is replaced, the file already there is what the manifest describes.
                if let Some(o) = old.filter(|o| o.status == Status::Exported) {
                    book.rows[job.index] = Some(o.clone());
                }
                to_render.push(job);
            }
        }
    }
    book.write(&record)?;

    on_event(Event::Loading {
        assets: crate::plan::asset_paths(t).len(),
    });
    // Only what the jobs to render use: an unchanged rerun decodes nothing, nor a merge,
    // which renders nothing.
    let assets = if opts.parts.is_some() {
        Assets::default()
    } else {
        Assets::load(
            t,
            &Plan {
                template: plan.template.clone(),
                version: plan.version,
                variants: Vec::new(),
                jobs: to_render.iter().map(|j| (*j).clone()).collect(),
                design: None,
            },
            presets,
            &opts.limits,
        )
    };
    let assets = match opts.warm.lock().ok().and_then(|mut w| w.take()) {
        Some(warm) => assets.warmed(warm),
        None => assets,
    };
    on_event(Event::Started {
        jobs: to_render.len(),
    });

    // The gate scores in variant order; rendering in that order lets each output be published
    // as soon as it is scored.
    to_render.sort_by(|a, b| {
        (a.variant_n, &a.variant_id, a.index).cmp(&(b.variant_n, &b.variant_id, b.index))
    });
    let gate_on = t.dedup.policy != DedupPolicy::Off;
    let cfg = crate::dedup::gate::config(t);
    // CPU spent on the gate by every thread, reported with the run's total: what the gate
    // costs is read from one run, not from the difference of two on a busy machine.
    let mut gate_cpu = std::time::Duration::ZERO;
    let mut gate = match gate_on && !to_render.is_empty() && opts.part.is_none() {
        true => Some(crate::clock::cpu_into(&mut gate_cpu, || {
            let files = hashes.product_files(t);
            let pixels = files
                .iter()
                .filter_map(|(sha, path)| Some((sha.clone(), assets.decoded(path)?)))
                .collect();
            crate::dedup::gate::BatchGate::new(
                library.as_ref(),
                &cfg,
                t.dedup.policy,
                files,
                pixels,
            )
        })?),
        false => None,
    };
    if let Some(g) = &mut gate {
        on_event(Event::Scoring {
            outputs: to_render.len(),
            library: t.dedup.library.clone(),
        });
        // Kept outputs are in the library when there is one; without, new outputs are
        // compared with them here (decoding them again, which only a partial rerun pays).
        if library.is_none() {
            let kept: Vec<&Job> = plan
                .jobs
                .iter()
                .filter(|j| {
                    book.rows[j.index]
                        .as_ref()
                        .is_some_and(|r| r.status == Status::Exported)
                        && !to_render.iter().any(|r| r.index == j.index)
                })
                .collect();
            let prepared: Vec<_> = kept
                .par_iter()
                .map(|j| {
                    let mut cpu = std::time::Duration::ZERO;
                    let p = crate::clock::cpu_into(&mut cpu, || {
                        offer(t, j, presets, hashes, opts.out.join(&j.file), None).prepare(&cfg)
                    });
                    (p, cpu)
                })
                .collect();
            for (p, cpu) in &prepared {
                gate_cpu += *cpu;
                crate::clock::cpu_into(&mut gate_cpu, || g.admit(p));
            }
        }
    }

    let position: HashMap<usize, usize> = to_render
        .iter()
        .enumerate()
        .map(|(k, j)| (j.index, k))
        .collect();
    // Workers own copies of what they read (see `pool`): a thread stuck in a system call
    // can then be left behind without the run waiting for it.
    let shared = Arc::new(pool::Shared {
        t: t.clone(),
        presets: presets.clone(),
        fonts: fonts.clone(),
        assets,
        text_cache: TextCache::default(),
        hashes: hashes.clone(),
        cfg: cfg.clone(),
        gate_on,
        fail_fast: opts.fail_fast,
        staging_dir: staging.dir().to_path_buf(),
        halt: pool::Halt {
            cancel: AtomicBool::new(false),
            stop: Arc::clone(&opts.stop),
        },
        refused: opts.refused_inputs.clone(),
        parts: opts.parts.clone(),
        today: opts.today.clone(),
        rule_packs: opts.rule_packs.clone(),
        // A shard makes them too, and its merge takes them with the files: the merged page
        // then shows what a single run's would.
        out: opts.out.clone(),
        plates: Default::default(),
        segments: (opts.stitch && opts.parts.is_none()).then(|| {
            stitch::SegmentCache::plan(
                t,
                &plan.jobs,
                presets,
                hashes,
                &|j| {
                    presets
                        .get(&j.preset)
                        .and_then(|p| ai_label(t, j, p, &opts.rule_packs))
                        .is_some()
                },
                staging.dir(),
            )
        }),
    });
    let mut workers = pool::Pool::start(
        Arc::clone(&shared),
        to_render.iter().map(|j| (*j).clone()).collect(),
        opts.jobs,
        opts.stall_timeout,
    );

    let mut pending: HashMap<usize, Outcome> = HashMap::new();
    let mut next = 0;
    let mut failure: Option<ExecError> = None;
    let mut ctx = Publish {
        t,
        out: &opts.out,
        library: library.as_ref(),
        gate: gate.as_mut(),
        hashes,
        names: HashMap::new(),
        removal_stamp: &removal_stamp,
        part_dir: opts.part.as_ref().map(|_| opts.out.as_path()),
        packs: &opts.rule_packs,
        queued: Vec::new(),
        regions: Default::default(),
        last_write: Instant::now(),
        write_cost: Default::default(),
        gate_cpu,
    };
    // Looked up by the exact path a verdict cites (the library stores canonical paths, the
    // batch staged ones), so a relative form is never replaced inside an absolute one.
    let out_abs = opts.out.canonicalize().unwrap_or_else(|_| opts.out.clone());
    ctx.names = plan
        .jobs
        .iter()
        .flat_map(|j| {
            [
                (staging.path_for(j).display().to_string(), j.file.clone()),
                (out_abs.join(&j.file).display().to_string(), j.file.clone()),
                (opts.out.join(&j.file).display().to_string(), j.file.clone()),
            ]
        })
        .collect();
    // This thread relays events and publishes outputs in variant order; the UI callback
    // never blocks a worker for long because the channel is unbounded and messages small.
    while let Some(msg) = workers.next() {
        match msg {
            Msg::Event(ev) => on_event(ev),
            Msg::Exit(_) => {}
            Msg::Done(o) => {
                pending.insert(position[&o.index], *o);
                while let Some(o) = pending.remove(&next) {
                    next += 1;
                    if failure.is_some() {
                        continue;
                    }
                    let r = ctx.finish(plan, presets, o, &mut book, &mut record, on_event);
                    if let Err(e) = r {
                        shared.halt.cancel.store(true, Ordering::Relaxed);
                        failure = Some(e);
                    }
                }
            }
        }
    }
    // What was decided before a failure is still published, as it was before the failure.
    let flushed = ctx.flush(plan, &book, &record);
    if let Some(e) = failure {
        return Err(e);
    }
    flushed?;
    let stopped_by = match opts.stop.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n as i32),
    };
    // Outcomes still waiting for an earlier one that never came, and jobs never attempted.
    let mut left: Vec<Outcome> = pending.into_values().collect();
    left.sort_by_key(|o| position[&o.index]);
    let arrived: HashSet<usize> = left.iter().map(|o| o.index).collect();
    for o in left {
        ctx.finish(plan, presets, o, &mut book, &mut record, on_event)?;
    }
    for job in &to_render[next..] {
        if arrived.contains(&job.index) || book.done.contains(&job.index) {
            continue;
        }
        let mut row = base_row(t, job, presets, hashes, &opts.rule_packs);
        row.status = Status::Skipped;
        row.error = Some(match stopped_by {
            Some(sig) => format!("not attempted: the run was stopped by signal {sig}"),
            None => "not attempted: --fail-fast stopped the run".into(),
        });
        ctx.replace_aside(job, "was not attempted", &mut record, on_event)?;
        book.rows[job.index] = Some(row);
        record.skipped += 1;
    }
    ctx.flush(plan, &book, &record)?;
    record.finished = Some(crate::clock::format_utc(crate::clock::unix_now()));
    record.cpu_seconds = Some(seconds_ms(crate::clock::process_cpu()));
    record.gate_cpu_seconds = gate_on.then(|| seconds_ms(ctx.gate_cpu));
    book.write(&record)?;
    // Under the lock still, so no other run rewrites the manifest while the page reads it;
    // a shard's part gets none (its merge does).
    if opts.part.is_none() {
        crate::report::build(&opts.out, &opts.today)?;
    }
    drop(staging);
    on_event(Event::Finished {
        exported: record.rendered,
        failed: record.failed,
        rejected: record.rejected,
        skipped: record.skipped,
        reused: record.reused,
        removed: record.removed,
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: record.cpu_seconds.unwrap_or_default(),
        gate_cpu_seconds: record.gate_cpu_seconds,
    });
    Ok(RunReport {
        rows: book.all_rows(),
        exported: record.rendered,
        failed: record.failed,
        rejected: record.rejected,
        skipped: record.skipped,
        reused: record.reused,
        removed: record.removed,
        stopped_by,
    })
}

/// Seconds to the millisecond, as the manifest and the events report CPU time.
fn seconds_ms(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn offer(
    t: &Template,
    job: &Job,
    presets: &PresetSet,
    hashes: &AssetHashes,
    file: PathBuf,
    extra: Option<&Extra>,
) -> crate::dedup::gate::Offer {
    crate::dedup::gate::Offer {
        staged: file,
        variant_n: job.variant_n,
        variant_id: job.variant_id.clone(),
        composition: crate::plan::composition(
            t,
            job,
            presets.get(&job.preset).expect("planned presets exist"),
            hashes,
        ),
        product_box: extra.and_then(|e| e.product_box),
        text_boxes: extra.map(|e| e.text_boxes.clone()).unwrap_or_default(),
        fingerprint: extra.and_then(|e| e.fingerprint.clone()),
        licences: crate::plan::licence::records(t, job, presets.get(&job.preset)),
    }
}

/// The manifest as the run goes: one row per planned job (once known) in plan order, then
/// the rows of other presets and regions that this run leaves alone.
struct Book<'a> {
    t: &'a Template,
    plan: &'a Plan,
    out: &'a std::path::Path,
    rows: Vec<Option<ManifestRow>>,
    kept: Vec<ManifestRow>,
    /// Jobs whose outcome is final in `rows`.
    done: HashSet<usize>,
    lint: &'a [crate::lint::Finding],
}

impl<'a> Book<'a> {
    fn new(t: &'a Template, plan: &'a Plan, out: &'a std::path::Path, _: &RunRecord) -> Self {
        Book {
            t,
            plan,
            out,
            rows: vec![None; plan.jobs.len()],
            kept: Vec::new(),
            done: HashSet::new(),
            lint: &[],
        }
    }

    /// Each job's row followed by the rows of the variants its file serves, then the rows
    /// kept from earlier runs.
    fn all_rows(&self) -> Vec<ManifestRow> {
        let mut rows = Vec::with_capacity(self.rows.len() + self.kept.len());
        let with_lint = |mut row: ManifestRow| {
            row.lint = self
                .lint
                .iter()
                .filter(|f| f.applies_to(&row.preset, &row.region, &row.modules))
                .map(|f| f.summary())
                .collect();
            row
        };
        for (job, row) in self.plan.jobs.iter().zip(&self.rows) {
            if let Some(row) = row {
                rows.push(with_lint(row.clone()));
                rows.extend(job.same_output.iter().map(|v| {
                    // Same pixels, not the same copy: the ad text is the variant's own.
                    let mut r = row.for_same_output(v);
                    r.ad_text = ad_text(self.t, &r.region, v.choices.subtitle);
                    with_lint(r)
                }));
            }
        }
        rows.extend(self.kept.iter().cloned());
        rows
    }

    /// Rewrites the manifest: every region's pack.
    fn write(&self, record: &RunRecord) -> Result<(), ExportError> {
        let rows = self.all_rows();
        export::write_manifests(self.out, &self.t.name, self.t.version, Some(record), &rows)
    }

    /// The top-level manifest and the packs of `regions`, ready to be put in place.
    fn stage(&self, record: &RunRecord, regions: &[&str]) -> Result<export::Staged, ExportError> {
        export::stage_manifests_for(
            self.out,
            &self.t.name,
            self.t.version,
            Some(record),
            &self.all_rows(),
            regions,
        )
    }
}

/// What the publishing thread needs to take one outcome to the output directory.
struct Publish<'a, 'g> {
    t: &'a Template,
    out: &'a std::path::Path,
    library: Option<&'a crate::dedup::Library>,
    gate: Option<&'a mut crate::dedup::gate::BatchGate<'g>>,
    hashes: &'a AssetHashes,
    /// A shard's part directory: each output's gate data is written beside it.
    part_dir: Option<&'a std::path::Path>,
    packs: &'a crate::lint::RulePacks,
    /// Staged and published paths → output names, for verdict reasons.
    names: HashMap<String, String>,
    removal_stamp: &'a str,
    /// Decided outputs not yet renamed into place: job index, staged file, gate decision.
    queued: Vec<(usize, PathBuf, Option<crate::dedup::gate::Decision>)>,
    /// Regions whose manifests the queued outputs change.
    regions: std::collections::BTreeSet<String>,
    last_write: Instant,
    /// How long the last manifest rewrite took.
    write_cost: std::time::Duration,
    /// CPU spent on the duplicate gate so far, on every thread.
    gate_cpu: std::time::Duration,
}

impl Publish<'_, '_> {
    /// An output not replaced by this run (it failed, was held back or never ran) must not
    /// leave the earlier file under its name: the manifest would no longer describe it.
    fn replace_aside(
        &self,
        job: &Job,
        why: &str,
        record: &mut RunRecord,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<(), ExportError> {
        if let Some(to) = rerun::move_aside(self.out, &job.file, self.removal_stamp)? {
            record.removed += 1;
            on_event(Event::Removed {
                file: job.file.clone(),
                moved_to: to,
                reason: format!("its new render {why}, and the file from an earlier run no longer matches the plan"),
            });
        }
        Ok(())
    }

    /// When a name now belongs to another variant (the plan was renumbered), the file under
    /// it is another creative: it is moved aside rather than overwritten.
    fn keep_other_variant(
        &self,
        job: &Job,
        book: &Book,
        record: &mut RunRecord,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<(), ExportError> {
        let Some(old) = &book.rows[job.index] else {
            return Ok(());
        };
        if old.variant_id == job.variant_id {
            return Ok(());
        }
        if let Some(to) = rerun::move_aside(self.out, &job.file, self.removal_stamp)? {
            record.removed += 1;
            on_event(Event::Removed {
                file: job.file.clone(),
                moved_to: to,
                reason: format!(
                    "its name now belongs to variant {} ({}); it showed variant {}",
                    job.variant_n, job.variant_id, old.variant_id
                ),
            });
        }
        Ok(())
    }

    fn finish(
        &mut self,
        plan: &Plan,
        presets: &PresetSet,
        o: Outcome,
        book: &mut Book,
        record: &mut RunRecord,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<(), ExecError> {
        let job = &plan.jobs[o.index];
        let mut row = base_row(self.t, job, presets, self.hashes, self.packs);
        self.gate_cpu += o.gate_cpu;
        match o.result {
            Ok((staged, verified, extra)) => {
                if let Some(dir) = self.part_dir {
                    let data = export::part::GateData {
                        variant_id: job.variant_id.clone(),
                        sha256: verified.sha256.clone(),
                        product_box: extra.product_box,
                        text_boxes: extra.text_boxes.clone(),
                        fingerprint: crate::clock::cpu_into(&mut self.gate_cpu, || {
                            o.prepared.as_ref().and_then(|p| p.completed_fingerprint())
                        }),
                    };
                    export::part::write_gate_data(dir, &job.file, &data)?;
                }
                let decision = match (&mut self.gate, o.prepared) {
                    (Some(g), Some(p)) => {
                        Some(crate::clock::cpu_into(&mut self.gate_cpu, || g.decide(p))?)
                    }
                    _ => None,
                };
                row.bytes = verified.bytes;
                row.sha256 = verified.sha256;
                row.frames = verified.frames;
                row.duration = verified.duration;
                row.rules_applied = extra.rules_applied;
                row.fonts = extra.fonts;
                row.scenes = extra.scenes;
                row.loudness_lufs = extra.loudness_lufs;
                row.true_peak_dbtp = extra.true_peak_dbtp;
                row.encode = extra.encode;
                row.frames_reused = extra.frames_reused;
                if let Some(mut d) = decision {
                    // A verdict's reason names the file of its strongest match; inside the batch
                    // that is a staged path, which means nothing to an operator: it becomes the
                    // output's name. Only that path is looked up: replacing every name of the
                    // plan in every reason was 3 % of a 576-image batch's CPU (`perf`).
                    if let Some(v) = &mut d.verdict {
                        let cited = v.matches.first().map(|m| m.file.display().to_string());
                        if let Some((path, file)) =
                            cited.and_then(|p| self.names.get(&p).map(|f| (p, f)))
                        {
                            v.reason = v.reason.replace(path.as_str(), file);
                        }
                        if v.verdict != crate::dedup::VerdictKind::Distinct {
                            on_event(Event::Verdict {
                                index: job.index,
                                file: job.file.clone(),
                                verdict: v.verdict,
                                held: d.hold,
                                reason: v.reason.clone(),
                            });
                        }
                    }
                    row.dedup = d.kind();
                    row.dedup_reason = d
                        .verdict
                        .as_ref()
                        .map(|v| v.reason.clone())
                        .or_else(|| d.note.clone());
                    if d.hold {
                        // Held back: the staged file goes with the staging directory; the
                        // review page keeps a thumbnail of it beside what it matched.
                        if self.part_dir.is_none() {
                            crate::report::thumbnail_of_staged(
                                self.out,
                                &staged,
                                job.kind,
                                row.duration,
                                &row.sha256,
                            )?;
                        }
                        self.replace_aside(job, "was held back", record, on_event)?;
                        row.status = Status::Rejected;
                        record.rejected += 1;
                    } else {
                        self.keep_other_variant(job, book, record, on_event)?;
                        self.queued.push((job.index, staged, Some(d)));
                        row.status = Status::Exported;
                        record.rendered += 1;
                    }
                } else {
                    self.keep_other_variant(job, book, record, on_event)?;
                    self.queued.push((job.index, staged, None));
                    row.status = Status::Exported;
                    record.rendered += 1;
                }
            }
            Err(e) if e.is_cancelled() => {
                self.replace_aside(job, "was stopped", record, on_event)?;
                row.status = Status::Skipped;
                row.error = Some(e.to_string());
                record.skipped += 1;
            }
            Err(e) => {
                self.replace_aside(job, "failed", record, on_event)?;
                row.status = Status::Failed;
                row.error = Some(e.to_string());
                row.error_kind = Some(e.kind);
                record.failed += 1;
            }
        }
        book.rows[job.index] = Some(row);
        book.done.insert(job.index);
        self.regions.insert(job.region.clone());
        // Rewriting the manifest costs what it holds: after every output, a catalog of 588
        // images spent a fifth of its CPU serialising rows it had written before. It is
        // rewritten when that has been at most 1/`MANIFEST_SHARE` of the time since.
        if self.last_write.elapsed() >= self.write_cost * MANIFEST_SHARE {
            self.flush(plan, book, record)?;
        }
        Ok(())
    }

    /// Publishes the outputs decided since the last flush, records them in the library, and
    /// rewrites the manifests of their regions. Files are renamed into place just before the
    /// manifest that lists them is written, so a killed run leaves each file listed or in
    /// staging, as when this ran after every output.
    fn flush(&mut self, plan: &Plan, book: &Book, record: &RunRecord) -> Result<(), ExecError> {
        if self.queued.is_empty() && self.regions.is_empty() {
            return Ok(());
        }
        let mut moves = Vec::with_capacity(self.queued.len());
        for (index, staged, decision) in std::mem::take(&mut self.queued) {
            let dest = export::ready_to_publish(&staged, self.out, &plan.jobs[index])?;
            // Recorded before it is in place: after a crash in between, the rerun exports the
            // same bytes under the same path, which the library already holds.
            if let (Some(lib), Some(d)) = (self.library, &decision) {
                let at = match (dest.parent().map(Path::canonicalize), dest.file_name()) {
                    (Some(Ok(dir)), Some(name)) => dir.join(name),
                    _ => dest.clone(),
                };
                crate::clock::cpu_into(&mut self.gate_cpu, || {
                    crate::dedup::gate::remember(lib, d, &at)
                })?;
            }
            moves.push((staged, dest));
        }
        let regions = std::mem::take(&mut self.regions);
        let regions: Vec<&str> = regions.iter().map(String::as_str).collect();
        let t0 = Instant::now();
        let manifests = book.stage(record, &regions)?;
        for (staged, dest) in &moves {
            export::put_in_place(staged, dest)?;
        }
        manifests.commit()?;
        self.write_cost = t0.elapsed();
        self.last_write = Instant::now();
        Ok(())
    }
}

/// The manifest is rewritten once the run has spent this many times as long on other work
/// as the last rewrite took: at most 1/20 of the time goes to it, whatever the batch's size.
const MANIFEST_SHARE: u32 = 20;

/// The visible label an output of `job` carries: it shows generated content and a rule pack
/// of its region asks for one.
pub(crate) fn ai_label<'p>(
    t: &Template,
    job: &Job,
    preset: &crate::preset::Preset,
    packs: &'p crate::lint::RulePacks,
) -> Option<&'p crate::lint::AiLabel> {
    if !crate::plan::ai_generated(t, job, preset) {
        return None;
    }
    let names = [preset.id.clone(), preset.platform.clone()];
    packs.ai_label_for(&job.region, &names).map(|(_, l)| l)
}

/// The ad text an output of subtitle option `subtitle` carries in `region`.
fn ad_text(
    t: &Template,
    region: &str,
    subtitle: Option<usize>,
) -> std::collections::BTreeMap<String, String> {
    t.regions
        .iter()
        .find(|r| r.code == region)
        .zip(subtitle)
        .map(|(r, i)| t.ad_text_for(r, i))
        .unwrap_or_default()
}

fn base_row(
    t: &Template,
    job: &Job,
    presets: &PresetSet,
    hashes: &AssetHashes,
    packs: &crate::lint::RulePacks,
) -> ManifestRow {
    let preset = presets.get(&job.preset);
    ManifestRow {
        file: job.file.clone(),
        status: Status::Skipped,
        variant: job.variant_n,
        variant_id: job.variant_id.clone(),
        template: t.name.clone(),
        template_version: t.version,
        preset: job.preset.clone(),
        platform: presets
            .get(&job.preset)
            .map(|p| p.platform.clone())
            .unwrap_or_default(),
        kind: job.kind,
        region: job.region.clone(),
        locale: job.locale.clone(),
        modules: job.modules.clone(),
        width: job.width,
        height: job.height,
        duration: job.duration,
        frames: 0,
        bytes: 0,
        sha256: String::new(),
        tracking_url: job.tracking_url.clone(),
        tracking: job.tracking.clone(),
        rules_applied: Vec::new(),
        fonts: Vec::new(),
        scenes: Vec::new(),
        loudness_lufs: None,
        true_peak_dbtp: None,
        encode: None,
        frames_reused: None,
        dedup: None,
        dedup_reason: None,
        error: None,
        error_kind: None,
        same_output_as: None,
        lint: Vec::new(),
        ad_text: ad_text(t, &job.region, job.choices.subtitle),
        licence_expires: crate::plan::licence::earliest_expiry(t, job, preset),
        ai_generated: preset.is_some_and(|p| crate::plan::ai_generated(t, job, p)),
        ai_label: preset
            .and_then(|p| ai_label(t, job, p, packs))
            .map(|l| l.text.clone()),
        review: None,
        // Which files made this output, for audits (hashed once per run, in `hashes`).
        inputs: crate::plan::job_inputs(t, job, preset, hashes),
    }
}
