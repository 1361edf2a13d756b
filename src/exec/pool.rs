//! The worker pool and its watchdog.
//!
//! `--jobs` threads take jobs from a queue. Each keeps a [`Beat`]: the job it is on, the
//! stage, and when it last made progress (any event it sends, e.g. every 15 frames). The
//! calling thread, while it relays messages, checks the beats: a job silent for longer than
//! `--stall-timeout` is reported failed with its stage, and a new worker takes its place so
//! the batch goes on.
//!
//! Workers are detached threads that own what they use (an `Arc<Shared>`), not scoped ones:
//! a thread stuck in a system call (an `open` of a named pipe that nobody writes, a read
//! from a hung network mount) cannot be interrupted, and a scope would wait for it forever.
//! An abandoned thread is left behind; if it ever returns, it sees it was abandoned, deletes
//! its staged file and ends without reporting. The process exits without waiting for it.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::error::{JobError, JobFailure, Stage};
use super::{offer, run_job, Event, Msg, Outcome, Status};
use crate::dedup::GateConfig;
use crate::media::probe::ProbeError;
use crate::plan::{AssetHashes, Job};
use crate::preset::PresetSet;
use crate::render::Assets;
use crate::template::Template;
use crate::text::{FontBook, TextCache};

/// After a stop (a signal, `--fail-fast`), how long running jobs get to notice and end
/// before they are abandoned: a frame loop checks every frame, so a few seconds is plenty
/// unless the thread is stuck in a system call.
const HALT_GRACE: Duration = Duration::from_secs(5);

/// Stops a run: `--fail-fast` after a failure, or a signal (its number) from the binary.
pub(super) struct Halt {
    pub cancel: AtomicBool,
    pub stop: Arc<AtomicUsize>,
}

impl Halt {
    pub(crate) fn halted(&self) -> bool {
        self.cancel.load(Ordering::Relaxed) || self.stop.load(Ordering::Relaxed) != 0
    }
}

/// Everything a worker reads, owned so that a worker can outlive the run that started it.
pub(super) struct Shared {
    pub t: Template,
    pub presets: PresetSet,
    pub fonts: FontBook,
    pub assets: Assets,
    pub text_cache: TextCache,
    pub hashes: AssetHashes,
    pub cfg: GateConfig,
    pub gate_on: bool,
    pub fail_fast: bool,
    pub staging_dir: PathBuf,
    pub halt: Halt,
    /// Inputs the probe refused, by canonical path: the jobs that use them fail at once.
    pub refused: HashMap<PathBuf, Arc<ProbeError>>,
    /// `factory merge`: outputs are taken from these shard parts, not rendered.
    pub parts: Option<Arc<super::merge::Parts>>,
    /// The day licences are checked against, `YYYY-MM-DD`.
    pub today: String,
    /// For the visible AI labels (`super::ai_label`).
    pub rule_packs: crate::lint::RulePacks,
    /// The run's shared scene segments; `None` with `--no-stitch` and in a merge.
    pub segments: Option<super::stitch::SegmentCache>,
    /// The JPEG bands of the baked plates stills share (`encode::JpegPlates`).
    pub plates: crate::encode::JpegPlates,
    /// The output directory (a shard's part), whose review page a still's job makes its
    /// thumbnail for, and a merge copies the parts' thumbnails into.
    pub out: PathBuf,
}

impl Shared {
    fn refused_input(&self, job: &Job) -> Option<Arc<ProbeError>> {
        if self.refused.is_empty() {
            return None;
        }
        crate::plan::job_input_paths(&self.t, job, self.presets.get(&job.preset))
            .iter()
            .find_map(|p| self.refused.get(p).cloned())
    }
}

struct BeatState {
    job: Option<usize>,
    stage: Stage,
    started: Instant,
    last: Instant,
    abandoned: bool,
}

/// One worker's heartbeat: which job, which stage, last progress; shared with the watchdog.
pub(super) struct Beat(Mutex<BeatState>);

impl Beat {
    fn new() -> Beat {
        let now = Instant::now();
        Beat(Mutex::new(BeatState {
            job: None,
            stage: Stage::Prepare,
            started: now,
            last: now,
            abandoned: false,
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BeatState> {
        // A worker that panicked holding the lock left plain data behind; still readable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self, index: usize) {
        let mut s = self.state();
        let now = Instant::now();
        (s.job, s.stage, s.started, s.last) = (Some(index), Stage::Prepare, now, now);
    }

    /// The job moved on to `stage` (which counts as progress).
    pub(crate) fn stage(&self, stage: Stage) {
        let mut s = self.state();
        (s.stage, s.last) = (stage, Instant::now());
    }

    pub(crate) fn tick(&self) {
        self.state().last = Instant::now();
    }

    /// The watchdog gave up on this job: its frame loop stops at the next frame.
    pub(crate) fn abandoned(&self) -> bool {
        self.state().abandoned
    }

    /// The job is done; `false` if the watchdog already reported it (its result is dropped).
    fn finish(&self) -> bool {
        let mut s = self.state();
        s.job = None;
        !s.abandoned
    }
}

struct Worker {
    beat: Arc<Beat>,
    handle: Option<JoinHandle<()>>,
}

/// The pool as the calling thread sees it: messages in job order of arrival, with the
/// outcomes of abandoned jobs made up by the watchdog.
pub(super) struct Pool {
    shared: Arc<Shared>,
    queue: Receiver<Job>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    workers: Vec<Worker>,
    /// Workers not abandoned and not yet exited.
    live: usize,
    stall: Duration,
    jobs: HashMap<usize, Job>,
    made_up: VecDeque<Msg>,
    halted_at: Option<Instant>,
    last_check: Instant,
}

/// Sent by a worker that ran out of jobs (or was stopped), with its number.
pub(super) struct Exit(usize);

impl Pool {
    /// Starts `n` workers over `jobs` (rendered in that order).
    pub(crate) fn start(shared: Arc<Shared>, jobs: Vec<Job>, n: usize, stall: Duration) -> Pool {
        let (qtx, queue) = crossbeam_channel::bounded::<Job>(jobs.len().max(1));
        let by_index = jobs.iter().map(|j| (j.index, j.clone())).collect();
        for job in jobs {
            qtx.send(job).expect("queue holds every job");
        }
        drop(qtx);
        let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
        let mut pool = Pool {
            shared,
            queue,
            tx,
            rx,
            workers: Vec::new(),
            live: 0,
            stall,
            jobs: by_index,
            made_up: VecDeque::new(),
            halted_at: None,
            last_check: Instant::now(),
        };
        for _ in 0..n.max(1) {
            pool.spawn();
        }
        pool
    }

    fn spawn(&mut self) {
        let beat = Arc::new(Beat::new());
        let (shared, queue, tx, b) = (
            Arc::clone(&self.shared),
            self.queue.clone(),
            self.tx.clone(),
            Arc::clone(&beat),
        );
        let id = self.workers.len();
        let handle = std::thread::Builder::new()
            .name(format!("job-{id}"))
            .spawn(move || work(id, &shared, &queue, &tx, &b))
            .expect("spawn a worker thread");
        self.workers.push(Worker {
            beat,
            handle: Some(handle),
        });
        self.live += 1;
    }

    /// The next message; `None` once every worker still counted has exited.
    pub(crate) fn next(&mut self) -> Option<Msg> {
        let tick = (self.stall / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            if let Some(m) = self.made_up.pop_front() {
                return Some(m);
            }
            if self.live == 0 {
                return None;
            }
            if self.last_check.elapsed() >= tick {
                self.watch();
                continue;
            }
            match self.rx.recv_timeout(tick) {
                Ok(Msg::Exit(Exit(id))) => {
                    self.live -= 1;
                    if let Some(h) = self.workers[id].handle.take() {
                        let _ = h.join();
                    }
                }
                Ok(m) => return Some(m),
                Err(RecvTimeoutError::Timeout) => self.watch(),
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Abandons jobs silent for longer than the stall timeout, or still running
    /// `HALT_GRACE` after the run was stopped, and makes up their outcomes.
    fn watch(&mut self) {
        self.last_check = Instant::now();
        let halted = self.shared.halt.halted();
        if halted && self.halted_at.is_none() {
            self.halted_at = Some(Instant::now());
        }
        let overdue = self.halted_at.is_some_and(|h| h.elapsed() >= HALT_GRACE);
        let mut replace = 0;
        for w in &mut self.workers {
            if w.handle.is_none() {
                continue;
            }
            let mut s = w.beat.state();
            let Some(index) = s.job else { continue };
            let silent = s.last.elapsed();
            let stalled = !self.stall.is_zero() && silent >= self.stall;
            if s.abandoned || !(stalled || overdue) {
                continue;
            }
            s.abandoned = true;
            let (stage, seconds) = (s.stage, s.started.elapsed().as_secs_f64());
            drop(s);
            // Left to run into the ground: joining it could wait forever.
            w.handle = None;
            self.live -= 1;
            let job = &self.jobs[&index];
            let failure = if stalled {
                JobFailure::Stalled {
                    stage,
                    seconds: silent.as_secs(),
                }
            } else {
                JobFailure::Cancelled
            };
            let e = JobError::new(job, stage, failure);
            self.made_up.push_back(Msg::Event(Event::JobFinished {
                index,
                file: job.file.clone(),
                status: Status::Failed,
                bytes: 0,
                seconds,
                error: Some(e.to_string()),
                error_kind: Some(e.kind),
            }));
            self.made_up.push_back(Msg::Done(Box::new(Outcome {
                index,
                result: Err(e),
                prepared: None,
                gate_cpu: std::time::Duration::ZERO,
            })));
            if stalled && self.shared.fail_fast {
                self.shared.halt.cancel.store(true, Ordering::Relaxed);
            }
            if !halted {
                replace += 1;
            }
        }
        for _ in 0..replace {
            self.spawn();
        }
    }
}

/// One worker: jobs from the queue until it is empty or the run stops.
fn work(id: usize, sh: &Shared, queue: &Receiver<Job>, tx: &Sender<Msg>, beat: &Beat) {
    for job in queue.iter() {
        if sh.halt.halted() {
            break;
        }
        beat.start(job.index);
        let t0 = Instant::now();
        let send = |e: Event| {
            beat.tick();
            let _ = tx.send(Msg::Event(e));
        };
        let staged = crate::export::staged_path(&sh.staging_dir, &job);
        let licence =
            crate::plan::licence::refusal(&sh.t, &job, sh.presets.get(&job.preset), &sh.today);
        let result = match (sh.refused_input(&job), &sh.parts) {
            (Some(e), _) => Err(JobError::new(&job, Stage::Prepare, JobFailure::Input(e))),
            (None, _) if licence.is_some() => Err(JobError::new(
                &job,
                Stage::Prepare,
                JobFailure::Licence(licence.unwrap_or_default()),
            )),
            (None, Some(parts)) => super::merge::adopt(&job, parts, &staged, &sh.out),
            (None, None) => run_job(
                &sh.t,
                &job,
                &sh.presets,
                (
                    &sh.assets,
                    &sh.fonts,
                    &sh.text_cache,
                    sh.presets
                        .get(&job.preset)
                        .and_then(|p| super::ai_label(&sh.t, &job, p, &sh.rule_packs)),
                ),
                (staged.clone(), sh.segments.as_ref(), &sh.plates, &sh.out),
                &send,
                (&sh.halt, beat),
            ),
        };
        if !beat.finish() {
            // The watchdog reported this job and a new worker took this one's place.
            let _ = std::fs::remove_file(&staged);
            return;
        }
        let failed = result.is_err();
        let (status, bytes, error, error_kind) = match &result {
            Ok((_, v, _)) => (Status::Exported, v.bytes, None, None),
            Err(e) => (Status::Failed, 0, Some(e.to_string()), Some(e.kind)),
        };
        let _ = tx.send(Msg::Event(Event::JobFinished {
            index: job.index,
            file: job.file.clone(),
            status,
            bytes,
            seconds: t0.elapsed().as_secs_f64(),
            error,
            error_kind,
        }));
        // Fingerprinting a still decodes it: done here, in parallel, not by the thread that
        // publishes.
        let mut gate_cpu = match &result {
            Ok((_, _, extra)) => extra.gate_cpu,
            Err(_) => std::time::Duration::ZERO,
        };
        let prepared = match (&result, sh.gate_on) {
            (Ok((staged, _, extra)), true) => Some(crate::clock::cpu_into(&mut gate_cpu, || {
                offer(
                    &sh.t,
                    &job,
                    &sh.presets,
                    &sh.hashes,
                    staged.clone(),
                    Some(extra),
                )
                .prepare(&sh.cfg)
            })),
            _ => None,
        };
        let _ = tx.send(Msg::Done(Box::new(Outcome {
            index: job.index,
            result,
            prepared,
            gate_cpu,
        })));
        if failed && sh.fail_fast {
            sh.halt.cancel.store(true, Ordering::Relaxed);
        }
    }
    let _ = tx.send(Msg::Exit(Exit(id)));
}
