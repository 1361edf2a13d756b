//! The executor: the only module that knows about threads and channels.
//!
//! `--jobs N` worker threads take jobs from a queue in plan order. A video job runs as two
//! threads joined by a bounded channel — the renderer composes frames, the encoder thread owns
//! the FFmpeg context — so at most a few frames per job are alive at once (gifski's shape).
//! Workers report typed `Event`s to the calling thread, which hands them to the UI callback.
//! Results are gathered by job index, so nothing downstream depends on thread timing.

mod error;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded, Sender};
use serde::Serialize;

use crate::encode::{self, Stamp, VideoSettings, VideoWriter};
use crate::export::{self, ExportError, ManifestRow, Staging, Status, Verified};
use crate::media::Limits;
use crate::plan::{AssetHashes, Job, Plan};
use crate::preset::{PresetKind, PresetSet};
use crate::render::{self, Assets};
use crate::template::{DedupPolicy, Template};
use crate::text::{FontBook, TextCache};

use error::at;
pub use error::{ErrorKind, JobError, JobFailure, JobName, Stage};

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("duplicate gate: {0}")]
    Dedup(#[from] crate::dedup::DedupError),
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    /// Jobs rendered at once.
    pub jobs: usize,
    pub fail_fast: bool,
    pub limits: Limits,
}

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
    Finished {
        exported: usize,
        failed: usize,
        rejected: usize,
        skipped: usize,
        seconds: f64,
    },
}

#[derive(Debug)]
pub struct RunReport {
    pub rows: Vec<ManifestRow>,
    pub exported: usize,
    pub failed: usize,
    pub rejected: usize,
    pub skipped: usize,
}

/// What the renderer learned about an output that the manifest reports.
#[derive(Debug, Clone, Default)]
struct Extra {
    rules_applied: Vec<String>,
    fonts: Vec<String>,
    scenes: Vec<export::SceneSpan>,
    /// A video's fingerprint, hashed from the frames the renderer made (1 fps) rather than
    /// by decoding the file again; `None` for stills and with the gate off.
    fingerprint: Option<crate::dedup::Fingerprint>,
    product_box: Option<crate::render::NormBox>,
    text_boxes: Vec<crate::render::NormBox>,
    loudness_lufs: Option<f64>,
    true_peak_dbtp: Option<f64>,
}

/// A job's result: its staged, verified file and what the renderer learned, or the error.
type JobResult = Result<(PathBuf, Verified, Extra), JobError>;

/// What a worker hands back for one job: the staged, verified file or the error.
struct Outcome {
    index: usize,
    result: JobResult,
}

/// Tracking metadata stamped inside a file (and repeated in the manifest).
pub fn stamp_for(t: &Template, job: &Job) -> Stamp {
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
    Stamp(m)
}

/// Renders, encodes, verifies and exports every job of the plan.
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
    let staging = Staging::create(&opts.out)?;
    on_event(Event::Loading {
        assets: crate::plan::asset_paths(t).len(),
    });
    let assets = Assets::load(t, plan, presets, &opts.limits);
    let text_cache = TextCache::default();
    on_event(Event::Started {
        jobs: plan.jobs.len(),
    });

    let cancel = AtomicBool::new(false);
    let (job_tx, job_rx) = bounded::<&Job>(plan.jobs.len().max(1));
    for job in &plan.jobs {
        job_tx.send(job).expect("queue holds the whole plan");
    }
    drop(job_tx);
    let (ev_tx, ev_rx) = unbounded::<Event>();
    let (out_tx, out_rx) = unbounded::<Outcome>();

    let mut outcomes: Vec<Option<JobResult>> = (0..plan.jobs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            let (job_rx, ev_tx, out_tx) = (job_rx.clone(), ev_tx.clone(), out_tx.clone());
            let (assets, staging, cancel, text_cache) = (&assets, &staging, &cancel, &text_cache);
            s.spawn(move || {
                for job in job_rx.iter() {
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let t0 = Instant::now();
                    let result = run_job(
                        t,
                        job,
                        presets,
                        (assets, fonts, text_cache),
                        staging,
                        &ev_tx,
                        cancel,
                    );
                    let failed = result.is_err();
                    let (status, bytes, error, error_kind) = match &result {
                        Ok((_, v, _)) => (Status::Exported, v.bytes, None, None),
                        Err(e) => (Status::Failed, 0, Some(e.to_string()), Some(e.kind)),
                    };
                    let _ = ev_tx.send(Event::JobFinished {
                        index: job.index,
                        file: job.file.clone(),
                        status,
                        bytes,
                        seconds: t0.elapsed().as_secs_f64(),
                        error,
                        error_kind,
                    });
                    let _ = out_tx.send(Outcome {
                        index: job.index,
                        result,
                    });
                    if failed && opts.fail_fast {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
        drop(ev_tx);
        drop(out_tx);
        // The calling thread only relays events; the UI callback never blocks a worker for
        // long because the event channel is unbounded and events are small.
        for ev in ev_rx.iter() {
            on_event(ev);
        }
    });
    for o in out_rx.try_iter() {
        outcomes[o.index] = Some(o.result);
    }

    // The duplicate gate scores everything that rendered, before anything is exported.
    let mut decisions: Vec<Option<crate::dedup::gate::Decision>> =
        (0..plan.jobs.len()).map(|_| None).collect();
    let library = match (&t.dedup.library, t.dedup.policy) {
        (Some(path), p) if p != DedupPolicy::Off => Some(crate::dedup::Library::open(path)?),
        _ => None,
    };
    if t.dedup.policy != DedupPolicy::Off {
        let offers: Vec<crate::dedup::gate::Offer> = plan
            .jobs
            .iter()
            .zip(&outcomes)
            .filter_map(|(job, o)| match o {
                Some(Ok((staged, _, extra))) => Some(crate::dedup::gate::Offer {
                    job_index: job.index,
                    staged: staged.clone(),
                    variant_n: job.variant_n,
                    variant_id: job.variant_id.clone(),
                    composition: crate::dedup::gate::composition(
                        t,
                        job,
                        presets.get(&job.preset).expect("planned presets exist"),
                        hashes,
                    ),
                    product_box: extra.product_box,
                    text_boxes: extra.text_boxes.clone(),
                    fingerprint: extra.fingerprint.clone(),
                }),
                _ => None,
            })
            .collect();
        on_event(Event::Scoring {
            outputs: offers.len(),
            library: t.dedup.library.clone(),
        });
        let cfg = crate::dedup::gate::config(t);
        // Verdicts name the files they matched; inside the batch those are staged paths, which
        // mean nothing to an operator, so they are replaced by the output names.
        let names: Vec<(String, String)> = offers
            .iter()
            .map(|o| {
                (
                    o.staged.display().to_string(),
                    plan.jobs[o.job_index].file.clone(),
                )
            })
            .collect();
        for mut d in crate::dedup::gate::decide(offers, library.as_ref(), &cfg, t.dedup.policy)? {
            let i = d.job_index;
            if let Some(v) = &mut d.verdict {
                for (staged, file) in &names {
                    v.reason = v.reason.replace(staged.as_str(), file);
                }
            }
            if let Some(v) = &d.verdict {
                if v.verdict != crate::dedup::VerdictKind::Distinct {
                    on_event(Event::Verdict {
                        index: i,
                        file: plan.jobs[i].file.clone(),
                        verdict: v.verdict,
                        held: d.hold,
                        reason: v.reason.clone(),
                    });
                }
            }
            decisions[i] = Some(d);
        }
    }

    // Export in plan order.
    let mut rows = Vec::with_capacity(plan.jobs.len());
    let (mut exported, mut failed, mut skipped, mut rejected) = (0, 0, 0, 0);
    for ((job, outcome), decision) in plan.jobs.iter().zip(outcomes).zip(decisions) {
        let mut row = base_row(t, job, presets);
        // Which files made this output, for audits (hashed once per run, in `hashes`).
        row.inputs = crate::plan::job_inputs(t, job, presets.get(&job.preset), hashes);
        if let Some(d) = &decision {
            row.dedup = d.kind();
            row.dedup_reason = d
                .verdict
                .as_ref()
                .map(|v| v.reason.clone())
                .or_else(|| d.note.clone());
        }
        match outcome {
            Some(Ok((staged, verified, extra))) => {
                row.bytes = verified.bytes;
                row.sha256 = verified.sha256;
                row.frames = verified.frames;
                row.duration = verified.duration;
                row.rules_applied = extra.rules_applied;
                row.fonts = extra.fonts;
                row.scenes = extra.scenes;
                row.loudness_lufs = extra.loudness_lufs;
                row.true_peak_dbtp = extra.true_peak_dbtp;
                if decision.as_ref().map(|d| d.hold).unwrap_or(false) {
                    // Held back: the staged file goes with the staging directory.
                    row.status = Status::Rejected;
                    rejected += 1;
                } else {
                    let dest = export::publish(&staged, &opts.out, job)?;
                    if let (Some(lib), Some(d)) = (&library, &decision) {
                        crate::dedup::gate::remember(
                            lib,
                            d,
                            &dest.canonicalize().unwrap_or(dest.clone()),
                        )?;
                    }
                    row.status = Status::Exported;
                    exported += 1;
                }
            }
            Some(Err(e)) => {
                row.status = Status::Failed;
                row.error = Some(e.to_string());
                row.error_kind = Some(e.kind);
                failed += 1;
            }
            None => {
                row.status = Status::Skipped;
                row.error = Some("not attempted: --fail-fast stopped the run".into());
                skipped += 1;
            }
        }
        rows.push(row);
    }
    export::write_manifests(&opts.out, &t.name, t.version, &rows)?;
    drop(staging);
    on_event(Event::Finished {
        exported,
        failed,
        rejected,
        skipped,
        seconds: started.elapsed().as_secs_f64(),
    });
    Ok(RunReport {
        rows,
        exported,
        failed,
        rejected,
        skipped,
    })
}

fn base_row(t: &Template, job: &Job, presets: &PresetSet) -> ManifestRow {
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
        dedup: None,
        dedup_reason: None,
        error: None,
        error_kind: None,
        inputs: Vec::new(),
    }
}

/// One job, start to verified staged file. Errors name the job and the stage that failed;
/// they become text (naming the variant, preset and region) only when reported.
fn run_job(
    t: &Template,
    job: &Job,
    presets: &PresetSet,
    (assets, fonts, text_cache): (&Assets, &FontBook, &TextCache),
    staging: &Staging,
    events: &Sender<Event>,
    cancel: &AtomicBool,
) -> JobResult {
    let preset = presets.get(&job.preset).ok_or_else(|| {
        JobError::new(
            job,
            Stage::Prepare,
            JobFailure::UnknownPreset(job.preset.clone()),
        )
    })?;
    let region = t
        .regions
        .iter()
        .find(|r| r.code == job.region)
        .ok_or_else(|| JobError::new(job, Stage::Prepare, JobFailure::UnknownRegion))?;
    let creative = render::prepare(t, job, preset, region, assets, fonts, text_cache)
        .map_err(at(job, Stage::Prepare))?;
    let staged = staging.path_for(job);
    let stamp = stamp_for(t, job);
    let mut extra = Extra {
        rules_applied: creative.rules_applied.clone(),
        fonts: creative.fonts.clone(),
        scenes: creative
            .scenes
            .iter()
            .map(|(id, start, end)| export::SceneSpan {
                id: id.clone(),
                start: *start,
                end: *end,
            })
            .collect(),
        product_box: creative.product_box,
        text_boxes: creative.text_boxes.clone(),
        ..Extra::default()
    };
    let _ = events.send(Event::JobStarted {
        index: job.index,
        file: job.file.clone(),
        frames: creative.frames,
    });

    let mut samples: Vec<image::RgbaImage> = Vec::new();
    match preset.kind {
        PresetKind::Image => {
            let frame = creative.frame(0);
            let spec = preset
                .image
                .as_ref()
                .ok_or_else(|| JobError::new(job, Stage::Prepare, JobFailure::NoImageSettings))?;
            encode::write_image(&staged, &frame, spec, &stamp).map_err(at(job, Stage::Encode))?;
            let _ = events.send(Event::Frames {
                index: job.index,
                done: 1,
                total: 1,
            });
        }
        PresetKind::Video => {
            let (Some(video), Some(aspec)) = (&preset.video, &preset.audio) else {
                return Err(JobError::new(
                    job,
                    Stage::Prepare,
                    JobFailure::NoVideoSettings,
                ));
            };
            // x264's thread count changes its output bytes, so it follows the machine, never
            // `--jobs`: the same template gives the same files however many jobs run.
            let mut settings = VideoSettings::new(
                creative.width,
                creative.height,
                creative.fps,
                video.clone(),
                aspec.clone(),
            );
            settings.threads = std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(2)
                .min(8);
            settings.frames = Some(creative.frames);
            // Few frames in flight: memory stays flat however long the clip or the batch.
            let (ftx, frx) = bounded::<image::RgbaImage>(3);
            // Encoded frames come back to be drawn over, and no more than IN_FLIGHT are ever
            // made: a fresh 8 MB buffer per frame, freed by the encoder's thread, had glibc
            // give its heap back and map it again, zeroing it page by page (3 % of a render).
            const IN_FLIGHT: usize = 5; // three queued, one being encoded, one being drawn
            let (recycle_tx, recycle_rx) = bounded::<image::RgbaImage>(IN_FLIGHT);
            let mut made = 0;
            // The soundtrack is mixed and mastered while the pictures render: it needs nothing
            // from them, and done first it held up the first frame by half a second of one core.
            let (atx, arx) = bounded::<(
                Arc<crate::media::AudioPcm>,
                Option<Arc<crate::media::AacStream>>,
            )>(1);
            let sound_failed = AtomicBool::new(false);
            // The duplicate gate samples one frame a second; keeping them small here spares it
            // decoding the whole file again (the costliest part of fingerprinting).
            let sample_every = (creative.fps / crate::dedup::fingerprint::VIDEO_FPS).max(1);
            let gate_on = t.dedup.policy != crate::template::DedupPolicy::Off;
            let encode = at(job, Stage::Encode);
            let result: Result<render::Soundtrack, JobError> = std::thread::scope(|s| {
                let sound = s.spawn(|| -> Result<render::Soundtrack, JobError> {
                    let atx = atx;
                    let sound = render::soundtrack(t, job, preset, region, assets)
                        .map_err(at(job, Stage::Soundtrack))
                        .and_then(|s| {
                            s.ok_or_else(|| {
                                JobError::new(job, Stage::Soundtrack, JobFailure::NoAudioSettings)
                            })
                        });
                    match &sound {
                        Ok(s) => {
                            let _ = atx.send((Arc::clone(&s.pcm), s.coded.clone()));
                        }
                        Err(_) => sound_failed.store(true, Ordering::Relaxed),
                    }
                    sound
                });
                let encoder = s.spawn(|| -> Result<(), JobError> {
                    // Owned here, so the frame loop's wait for a buffer ends if this thread does.
                    let recycle_tx = recycle_tx;
                    let mut w = VideoWriter::create_without_audio(&staged, &settings, &stamp)
                        .map_err(&encode)?;
                    for f in frx.iter() {
                        if let Ok((pcm, coded)) = arx.try_recv() {
                            w.set_audio(pcm, coded).map_err(&encode)?;
                        }
                        w.push(&f).map_err(&encode)?;
                        let _ = recycle_tx.try_send(f);
                    }
                    if !w.has_audio() {
                        // The sound thread's own error is the one reported.
                        let (pcm, coded) = arx.recv().map_err(|_| {
                            JobError::new(job, Stage::Encode, JobFailure::NoSoundtrack)
                        })?;
                        w.set_audio(pcm, coded).map_err(&encode)?;
                    }
                    w.finish().map_err(&encode)
                });
                for i in 0..creative.frames {
                    if cancel.load(Ordering::Relaxed) || sound_failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut frame = match recycle_rx.try_recv() {
                        Ok(f) => f,
                        Err(_) if made < IN_FLIGHT => {
                            made += 1;
                            image::RgbaImage::new(creative.width, creative.height)
                        }
                        Err(_) => match recycle_rx.recv() {
                            Ok(f) => f,
                            Err(_) => break, // the encoder stopped; its error is reported below
                        },
                    };
                    creative.frame_into(i, &mut frame);
                    if gate_on && i % sample_every == 0 {
                        samples.push(crate::dedup::fingerprint::sample_frame(&frame));
                    }
                    if ftx.send(frame).is_err() {
                        break; // the encoder stopped; its error is reported below
                    }
                    if i % 15 == 14 || i + 1 == creative.frames {
                        let _ = events.send(Event::Frames {
                            index: job.index,
                            done: i + 1,
                            total: creative.frames,
                        });
                    }
                }
                drop(ftx);
                let encoded = encoder.join().map_err(|_| {
                    JobError::new(job, Stage::Encode, JobFailure::Panicked("encoder"))
                })?;
                let sound = sound.join().map_err(|_| {
                    JobError::new(job, Stage::Soundtrack, JobFailure::Panicked("soundtrack"))
                })??;
                encoded.map(|()| sound)
            });
            let sound = result?;
            extra.loudness_lufs = sound.loudness_lufs;
            extra.true_peak_dbtp = sound.true_peak_dbtp;
            extra.rules_applied.extend(sound.notes);
            if cancel.load(Ordering::Relaxed) {
                return Err(JobError::new(job, Stage::Encode, JobFailure::Cancelled));
            }
        }
    }
    let verified = export::verify(&staged, job, creative.frames, creative.fps)
        .map_err(at(job, Stage::Verify))?;
    if !samples.is_empty() {
        let frames: Vec<&image::RgbaImage> = samples.iter().collect();
        let masks = crate::dedup::fingerprint::Masks {
            product_box: creative.product_box,
            text_boxes: creative.text_boxes.clone(),
        };
        let (w, h) = samples[0].dimensions();
        // A failure (e.g. every sample too flat to hash) leaves it to the gate, which decodes
        // the file and reports the reason.
        extra.fingerprint = crate::dedup::Fingerprint::from_frames(
            &staged,
            verified.sha256.clone(),
            verified.bytes,
            &frames,
            w,
            h,
            verified.duration,
            &masks,
        )
        .ok();
    }
    Ok((staged, verified, extra))
}
