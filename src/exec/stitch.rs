//! Scenes encoded once (issue #14): the run's segment cache and a stitched video job.
//!
//! Before any job starts, `SegmentCache::plan` cuts every video output of the *whole plan*
//! into pieces (`plan::stitch`) and keeps the shared ones that at least two outputs show.
//! Deciding on the whole plan, not on the jobs this process renders, keeps an output's
//! bytes the same in a rerun, a shard or with any `--jobs`: a piece's bytes do not depend on
//! which job codes it, and whether an output is stitched does not depend on what else runs.
//!
//! At run time the first job to reach a shared piece codes it into the staging directory
//! (`segments/KEY.seg`); a job reaching it meanwhile waits, beating its heartbeat, and
//! codes it itself if the first job gives up. A job never waits while holding a piece, so
//! waits cannot form a cycle whatever `--jobs` is. The directory goes with staging.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;

use super::error::{at, JobError, JobFailure, Stage};
use super::job::{Samples, VideoJob};
use super::Event;
use crate::encode::{EncodeError, SegmentEncoder, SegmentFile, VideoWriter};
use crate::plan::stitch::{self, Piece, Pieces};
use crate::plan::{AssetHashes, Job};
use crate::preset::PresetSet;
use crate::template::Template;

/// How long a job waits for another to finish coding a piece before coding it itself.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

/// One output's pieces and how many of its frames come from a piece an earlier output (in
/// plan order) shows too.
pub(super) struct JobStitch {
    pub pieces: Pieces,
    pub reused: u32,
}

enum Slot {
    Coding,
    Ready(Arc<SegmentFile>),
}

/// The run's shared segments: which outputs are stitched from which pieces, and the pieces
/// coded so far (on disk; only their paths and extradata in memory).
pub(super) struct SegmentCache {
    dir: PathBuf,
    plans: HashMap<usize, JobStitch>,
    slots: Mutex<HashMap<String, Slot>>,
    changed: Condvar,
}

impl SegmentCache {
    /// Cuts every video job of `jobs` (the whole plan) into pieces; `labelled` says which
    /// outputs get a label over every frame.
    pub(crate) fn plan(
        t: &Template,
        jobs: &[Job],
        presets: &PresetSet,
        hashes: &AssetHashes,
        labelled: &dyn Fn(&Job) -> bool,
        staging: &Path,
    ) -> SegmentCache {
        let keys = stitch::KeyContext::new(hashes);
        let mut cuts: Vec<(usize, stitch::Cut)> = Vec::new();
        for job in jobs {
            let (Some(preset), Some(region)) = (presets.get(&job.preset), t.region(&job.region))
            else {
                continue;
            };
            if let Ok(c) = stitch::pieces(t, job, preset, region, &keys, labelled(job)) {
                cuts.push((job.index, c));
            }
        }
        let mut points: HashMap<String, Vec<u32>> = HashMap::new();
        for (_, c) in &cuts {
            for (key, p) in c.points() {
                let v = points.entry(key).or_default();
                if !v.contains(&p) {
                    v.push(p);
                }
            }
        }
        let cut: Vec<(usize, Pieces)> = cuts
            .into_iter()
            .map(|(i, c)| {
                (
                    i,
                    c.into_pieces(&|k| points.get(k).cloned().unwrap_or_default()),
                )
            })
            .collect();
        // Each key's outputs, in plan order.
        let mut users: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, p) in &cut {
            for key in p.pieces.iter().filter_map(|p| p.key.as_ref()) {
                let u = users.entry(key.clone()).or_default();
                if u.last() != Some(index) {
                    u.push(*index);
                }
            }
        }
        let mut plans = HashMap::new();
        for (index, p) in cut {
            let Ok(p) = stitch::keep_shared(p, &|k| users.get(k).map_or(0, Vec::len)) else {
                continue;
            };
            let reused = p
                .pieces
                .iter()
                .filter(|piece| {
                    piece
                        .key
                        .as_ref()
                        .is_some_and(|k| users[k].first() != Some(&index))
                })
                .map(Piece::len)
                .sum();
            plans.insert(index, JobStitch { pieces: p, reused });
        }
        SegmentCache {
            dir: staging.join("segments"),
            plans,
            slots: Mutex::new(HashMap::new()),
            changed: Condvar::new(),
        }
    }

    /// The pieces of the job at plan position `index`, if it is stitched.
    pub(crate) fn plan_for(&self, index: usize) -> Option<&JobStitch> {
        self.plans.get(&index)
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // Plain data: a panic elsewhere leaves it readable.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The piece `key`: coded already, or this job's to code. `None` when the run stops.
    fn claim(&self, key: &str, tick: &dyn Fn(), stopped: &dyn Fn() -> bool) -> Option<Claim<'_>> {
        let since = Instant::now();
        let mut slots = self.slots();
        loop {
            match slots.get(key) {
                Some(Slot::Ready(f)) => return Some(Claim::Ready(Arc::clone(f))),
                None => {
                    slots.insert(key.to_string(), Slot::Coding);
                    return Some(Claim::Mine(Coding {
                        cache: self,
                        key: key.to_string(),
                        done: false,
                    }));
                }
                Some(Slot::Coding) if since.elapsed() > WAIT_LIMIT => {
                    // The coder may be stuck in a system call: code a private copy.
                    return Some(Claim::Private);
                }
                Some(Slot::Coding) => {
                    if stopped() {
                        return None;
                    }
                    slots = self
                        .changed
                        .wait_timeout(slots, Duration::from_secs(1))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                    // Waiting is progress as far as the watchdog is concerned: the job
                    // coding the piece beats for both.
                    tick();
                }
            }
        }
    }

    fn piece_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.seg"))
    }

    fn own_path(&self, job: usize, k: usize) -> PathBuf {
        self.dir.join(format!("job{job}-{k}.seg"))
    }
}

enum Claim<'a> {
    Ready(Arc<SegmentFile>),
    Mine(Coding<'a>),
    Private,
}

/// A piece this job codes for the run. Dropped unfinished (an error, a stop), it frees the
/// key so that a waiting job codes the piece instead.
struct Coding<'a> {
    cache: &'a SegmentCache,
    key: String,
    done: bool,
}

impl Coding<'_> {
    fn ready(mut self, f: SegmentFile) -> Arc<SegmentFile> {
        let f = Arc::new(f);
        self.cache
            .slots()
            .insert(self.key.clone(), Slot::Ready(Arc::clone(&f)));
        self.done = true;
        self.cache.changed.notify_all();
        f
    }
}

impl Drop for Coding<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.cache.slots().remove(&self.key);
            self.cache.changed.notify_all();
        }
    }
}

/// How a stitched job ended.
pub(super) enum Stitched {
    Done(crate::render::Soundtrack),
    /// The pieces could not be joined without re-encoding (`EncodeError::Unstitchable`):
    /// nothing is staged, and the caller encodes the whole video.
    Refused(String),
}

/// The output made of its pieces: own and not yet coded shared pieces rendered and coded,
/// pieces coded by other jobs taken from disk, then all muxed with this output's own
/// soundtrack (mixed meanwhile on its own thread).
pub(super) fn encode_stitched(
    v: &VideoJob<'_>,
    staged: &Path,
    cache: &SegmentCache,
    plan: &JobStitch,
    samples: &mut Samples,
) -> Result<Stitched, JobError> {
    let job = v.job;
    let encode = at(job, Stage::Encode);
    std::fs::create_dir_all(&cache.dir)
        .map_err(|source| EncodeError::Io {
            path: cache.dir.clone(),
            source,
        })
        .map_err(&encode)?;
    let mut own: Vec<PathBuf> = Vec::new();
    let result = std::thread::scope(|s| {
        let sound = s.spawn(v.soundtrack());
        let pieces = code_pieces(v, cache, plan, samples, &mut own);
        let sound = sound.join().map_err(|_| {
            JobError::new(job, Stage::Soundtrack, JobFailure::Panicked("soundtrack"))
        })?;
        // The soundtrack's own error is the one reported, as in a whole encode.
        let sound = sound?;
        let pieces = pieces?;
        let mut w = VideoWriter::create_stitched(staged, v.settings, v.stamp).map_err(&encode)?;
        w.set_audio(std::sync::Arc::clone(&sound.pcm), sound.coded.clone())
            .map_err(&encode)?;
        for (f, at) in &pieces {
            match w.push_segment(f, *at) {
                Ok(()) => {}
                Err(EncodeError::Unstitchable { reason, .. }) => {
                    drop(w);
                    let _ = std::fs::remove_file(staged);
                    return Ok(Stitched::Refused(reason));
                }
                Err(e) => return Err(encode(e)),
            }
        }
        w.finish().map_err(&encode)?;
        Ok(Stitched::Done(sound))
    });
    for p in own {
        let _ = std::fs::remove_file(p);
    }
    result
}

/// Every piece of the output as a coded segment, with the frame it starts at.
fn code_pieces(
    v: &VideoJob<'_>,
    cache: &SegmentCache,
    plan: &JobStitch,
    samples: &mut Samples,
    own: &mut Vec<PathBuf>,
) -> Result<Vec<(Arc<SegmentFile>, u32)>, JobError> {
    let job = v.job;
    let cancelled = || JobError::new(job, Stage::Encode, JobFailure::Cancelled);
    let mut done = 0;
    let mut out = Vec::with_capacity(plan.pieces.pieces.len());
    for (k, piece) in plan.pieces.pieces.iter().enumerate() {
        if (v.stopped)() {
            return Err(cancelled());
        }
        let file = match &piece.key {
            None => {
                let path = cache.own_path(job.index, k);
                own.push(path.clone());
                Arc::new(code_piece(v, piece, &path, samples, &mut done)?)
            }
            Some(key) => {
                let tick = || v.beat.tick();
                match cache.claim(key, &tick, v.stopped).ok_or_else(cancelled)? {
                    Claim::Ready(f) => {
                        sample_piece(v, piece, samples, &mut done)?;
                        f
                    }
                    Claim::Mine(coding) => {
                        let f = code_piece(v, piece, &cache.piece_path(key), samples, &mut done)?;
                        coding.ready(f)
                    }
                    Claim::Private => {
                        let path = cache.own_path(job.index, k);
                        own.push(path.clone());
                        Arc::new(code_piece(v, piece, &path, samples, &mut done)?)
                    }
                }
            }
        };
        out.push((file, piece.start));
    }
    // The last progress says every frame is done, as a whole encode's does.
    progress(v, done);
    Ok(out)
}

fn progress(v: &VideoJob<'_>, done: u32) {
    (v.events)(Event::Frames {
        index: v.job.index,
        done,
        total: v.creative.frames,
    });
}

/// A piece coded by another job: only the frames the duplicate gate samples are drawn, so
/// its fingerprint is the one a whole encode would give.
fn sample_piece(
    v: &VideoJob<'_>,
    piece: &Piece,
    samples: &mut Samples,
    done: &mut u32,
) -> Result<(), JobError> {
    if v.gate_on {
        // These frames are drawn for the gate alone: drawing them is its cost too.
        let t0 = crate::clock::thread_cpu();
        let mut frame = image::RgbaImage::new(v.creative.width, v.creative.height);
        for i in (piece.start..piece.end).filter(|i| i % v.sample_every == 0) {
            v.creative
                .frame_into(i, &mut frame)
                .map_err(at(v.job, Stage::Prepare))?;
            samples
                .frames
                .push(crate::dedup::fingerprint::sample_frame(&frame));
        }
        samples.cpu += crate::clock::thread_cpu().saturating_sub(t0);
    }
    *done += piece.len();
    progress(v, *done);
    Ok(())
}

/// Renders a piece's frames and codes them into `path`: the renderer here, the encoder on
/// its own thread, a few frame buffers recycled between them (as in a whole encode).
fn code_piece(
    v: &VideoJob<'_>,
    piece: &Piece,
    path: &Path,
    samples: &mut Samples,
    done: &mut u32,
) -> Result<SegmentFile, JobError> {
    let job = v.job;
    let encode = at(job, Stage::Encode);
    const IN_FLIGHT: usize = 5;
    let (ftx, frx) = bounded::<image::RgbaImage>(3);
    let (recycle_tx, recycle_rx) = bounded::<image::RgbaImage>(IN_FLIGHT);
    let coded = std::thread::scope(|s| {
        let encoder = s.spawn(|| -> Result<SegmentFile, JobError> {
            // Owned, so the renderer's waits end if this thread does (see `encode_full`).
            let (recycle_tx, frx) = (recycle_tx, frx);
            let mut e = SegmentEncoder::create(path, v.settings).map_err(&encode)?;
            for f in frx.iter() {
                e.push(&f).map_err(&encode)?;
                let _ = recycle_tx.try_send(f);
            }
            e.finish().map_err(&encode)
        });
        let mut made = 0;
        for i in piece.start..piece.end {
            if (v.stopped)() {
                break;
            }
            let mut frame = match recycle_rx.try_recv() {
                Ok(f) => f,
                Err(_) if made < IN_FLIGHT => {
                    made += 1;
                    image::RgbaImage::new(v.creative.width, v.creative.height)
                }
                Err(_) => match recycle_rx.recv() {
                    Ok(f) => f,
                    Err(_) => break,
                },
            };
            v.creative
                .frame_into(i, &mut frame)
                .map_err(at(job, Stage::Prepare))?;
            if v.gate_on && i % v.sample_every == 0 {
                samples.take(&frame);
            }
            if ftx.send(frame).is_err() {
                break;
            }
            *done += 1;
            if (*done).is_multiple_of(15) {
                progress(v, *done);
            }
        }
        drop(ftx);
        encoder
            .join()
            .map_err(|_| JobError::new(job, Stage::Encode, JobFailure::Panicked("encoder")))?
    })?;
    if (v.stopped)() {
        return Err(JobError::new(job, Stage::Encode, JobFailure::Cancelled));
    }
    if coded.frames != piece.len() {
        return Err(encode(EncodeError::Format {
            path: path.to_path_buf(),
            message: format!(
                "segment has {} frames, {} were rendered for it",
                coded.frames,
                piece.len()
            ),
        }));
    }
    Ok(coded)
}
