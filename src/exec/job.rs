//! One job on a worker thread: render, encode, verify, stage.

use super::*;

/// One job, start to verified staged file. Errors name the job and the stage that failed;
/// they become text (naming the variant, preset and region) only when reported.
pub(super) fn run_job(
    t: &Template,
    job: &Job,
    presets: &PresetSet,
    (assets, fonts, text_cache, ai_label): (
        &Assets,
        &FontBook,
        &TextCache,
        Option<&crate::lint::AiLabel>,
    ),
    // Where the file goes, the run's shared scene segments (`None`: encoded whole) and
    // plate bands, and the output directory (a shard's part) whose review page gets a
    // still's thumbnail.
    (staged, segments, plates, out): (
        PathBuf,
        Option<&super::stitch::SegmentCache>,
        &encode::JpegPlates,
        &std::path::Path,
    ),
    events: &dyn Fn(Event),
    (halt, beat): (&pool::Halt, &pool::Beat),
) -> JobResult {
    // The watchdog abandons a job that stopped making progress; it must stop too.
    let stopped = || halt.halted() || beat.abandoned();
    let preset = presets.get(&job.preset).ok_or_else(|| {
        JobError::new(
            job,
            Stage::Prepare,
            JobFailure::UnknownPreset(job.preset.clone()),
        )
    })?;
    let region = t
        .region(&job.region)
        .ok_or_else(|| JobError::new(job, Stage::Prepare, JobFailure::UnknownRegion))?;
    let mut creative = render::prepare(
        render::Sources {
            t,
            assets,
            fonts,
            text_cache,
        },
        job,
        preset,
        region,
    )
    .map_err(at(job, Stage::Prepare))?;
    if let Some(label) = ai_label {
        creative
            .add_ai_label(
                &label.text,
                label.height,
                &label.fonts,
                preset,
                region,
                fonts,
                text_cache,
            )
            .map_err(at(job, Stage::Prepare))?;
    }
    let ai_generated = crate::plan::ai_generated(t, job, preset);
    let stamp = stamp_for(t, job, ai_generated);
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
    events(Event::JobStarted {
        index: job.index,
        file: job.file.clone(),
        frames: creative.frames,
    });

    beat.stage(Stage::Encode);
    let gate_on = t.dedup.policy != crate::template::DedupPolicy::Off;
    let mut samples = Samples::default();
    let mut still: Option<image::RgbaImage> = None;
    let mut opaque = false;
    match preset.kind {
        PresetKind::Image => {
            let mut frame = spare_canvas(creative.width, creative.height);
            creative
                .frame_into(0, &mut frame)
                .map_err(at(job, Stage::Prepare))?;
            let spec = preset
                .image
                .as_ref()
                .ok_or_else(|| JobError::new(job, Stage::Prepare, JobFailure::NoImageSettings))?;
            opaque = encode::is_opaque(&frame);
            let over = creative.over_plate();
            encode::write_image_as(
                &staged,
                &frame,
                opaque,
                spec,
                &stamp,
                over.as_ref().map(|o| (o, plates)),
            )
            .map_err(at(job, Stage::Encode))?;
            events(Event::Frames {
                index: job.index,
                done: 1,
                total: 1,
            });
            still = Some(frame);
        }
        PresetKind::Video => {
            let (Some(video), Some(aspec)) = (&preset.video, &preset.audio) else {
                return Err(JobError::new(
                    job,
                    Stage::Prepare,
                    JobFailure::NoVideoSettings,
                ));
            };
            // `VideoSettings::new` fixes x264's slice count (`encode::X264_SLICES`): it is part
            // of the output bytes, so the same template gives the same files on any machine
            // and with any `--jobs` (shards merged from several machines equal a single run).
            let mut settings = VideoSettings::new(
                creative.width,
                creative.height,
                creative.fps,
                video.clone(),
                aspec.clone(),
            );
            settings.frames = Some(creative.frames);
            let v = VideoJob {
                t,
                job,
                preset,
                region,
                assets,
                creative: &creative,
                settings: &settings,
                stamp: &stamp,
                events,
                stopped: &stopped,
                beat,
                // The duplicate gate samples one frame a second; keeping them small here
                // spares it decoding the whole file again (the costliest part of
                // fingerprinting).
                sample_every: (creative.fps / crate::dedup::fingerprint::VIDEO_FPS).max(1),
                gate_on,
            };
            // Shared scenes are stitched only when the prepared composition is the one the
            // pieces were cut from; anything else is encoded whole.
            let stitch = segments
                .and_then(|c| c.plan_for(job.index).map(|p| (c, p)))
                .filter(|(_, p)| p.pieces.agrees_with(&creative.timing()));
            let mut result = None;
            if let Some((cache, plan)) = stitch {
                match super::stitch::encode_stitched(&v, &staged, cache, plan, &mut samples) {
                    Ok(super::stitch::Stitched::Done(sound)) => {
                        extra.encode = Some(export::EncodeMode::Stitched);
                        extra.frames_reused = Some(plan.reused);
                        result = Some(Ok(sound));
                    }
                    Ok(super::stitch::Stitched::Refused(reason)) => {
                        samples.frames.clear();
                        extra.rules_applied.push(format!("encoded whole: {reason}"));
                    }
                    Err(e) => result = Some(Err(e)),
                }
            }
            let result = match result {
                Some(r) => r,
                None => {
                    extra.encode = Some(export::EncodeMode::Full);
                    extra.frames_reused = Some(0);
                    encode_full(&v, &staged, &mut samples)
                }
            };
            // A stop ends the frame loop early, so the encoder then reports fewer frames than
            // announced: that error is the stop's doing, and the job is skipped, not failed.
            if stopped() {
                return Err(JobError::new(job, Stage::Encode, JobFailure::Cancelled));
            }
            let sound = result?;
            extra.loudness_lufs = sound.loudness_lufs;
            extra.true_peak_dbtp = sound.true_peak_dbtp;
            extra.rules_applied.extend(sound.notes);
        }
    }
    beat.stage(Stage::Verify);
    let verified = export::verify(&staged, job, creative.frames, creative.fps)
        .map_err(at(job, Stage::Verify))?;
    let masks = crate::dedup::fingerprint::Masks {
        product_box: creative.product_box,
        text_boxes: creative.text_boxes.clone(),
    };
    if let Some(frame) = &still {
        // Averaged in whole blocks (it is made for opaque pictures) to at most 512 px, which
        // the thumbnail is resized from, and again to the gate's hash plane.
        let reduced = opaque.then(|| crate::dedup::fingerprint::reduce_within(frame, 512));
        // Best effort: the review page's build makes a thumbnail that is missing from the
        // file, and reports it if that fails too.
        let _ = crate::report::thumbnail_of_frame(
            out,
            frame,
            reduced.as_deref(),
            opaque,
            &verified.sha256,
        );
        // The gate hashes the still it was handed, as it does a video's frames, rather than
        // decoding the JPEG again: decoding each output was 10 % of a catalog batch's CPU, and
        // at the encoder's quality the two hash a few bits apart (BENCHMARKS.md, *Main images
        // at catalog scale*). The file's sha256 is still the file's own. A still with
        // transparency is flattened by the JPEG encoder: the gate then reads the file, so
        // that it hashes what was exported.
        if let Some(reduced) = reduced.filter(|_| gate_on) {
            extra.fingerprint = Some(crate::clock::cpu_into(&mut extra.gate_cpu, || {
                crate::dedup::Fingerprint::from_still_deferred(
                    &staged,
                    (verified.sha256.clone(), verified.bytes),
                    frame.dimensions(),
                    &crate::dedup::fingerprint::hash_plane(&reduced),
                    &masks,
                    t.dedup.library.is_some(),
                )
            }));
        }
    }
    if let Some(frame) = still {
        keep_canvas(frame);
    }
    extra.gate_cpu += samples.cpu;
    if !samples.frames.is_empty() {
        let frames: Vec<&image::RgbaImage> = samples.frames.iter().collect();
        let (w, h) = samples.frames[0].dimensions();
        // A failure (e.g. every sample too flat to hash) leaves it to the gate, which decodes
        // the file and reports the reason.
        extra.fingerprint = crate::clock::cpu_into(&mut extra.gate_cpu, || {
            crate::dedup::Fingerprint::from_frames(
                &staged,
                verified.sha256.clone(),
                verified.bytes,
                &frames,
                w,
                h,
                verified.duration,
                &masks,
            )
        })
        .ok();
    }
    Ok((staged, verified, extra))
}

thread_local! {
    /// The worker's last stills' canvases, one per size, for its next stills: `frame_into`
    /// replaces every pixel, so they need no clearing. A fresh canvas was zeroed by the
    /// kernel page by page and then overwritten by the plate: 4–5 % of a 576-image catalog
    /// batch's CPU (`perf`, 2026-12-06). One per size because a variant's presets are
    /// rendered one after another (800×800, 1080×1440, 1000×1000, …): a single spare was
    /// the wrong size for nearly every job of a three-preset catalog. At most
    /// `SPARE_SIZES` per worker, so memory stays flat in the batch's size.
    static SPARE_CANVASES: std::cell::RefCell<Vec<image::RgbaImage>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Canvas sizes a worker keeps: a catalog's presets, a few.
const SPARE_SIZES: usize = 4;

/// A `w`×`h` canvas whose pixels are all about to be written: the worker's spare of that
/// size, else a new one.
fn spare_canvas(w: u32, h: u32) -> image::RgbaImage {
    SPARE_CANVASES.with_borrow_mut(|spares| {
        match spares.iter().position(|c| c.dimensions() == (w, h)) {
            Some(i) => spares.remove(i),
            None => image::RgbaImage::new(w, h),
        }
    })
}

/// A still's canvas back to the worker's spares (the oldest size goes past `SPARE_SIZES`).
fn keep_canvas(canvas: image::RgbaImage) {
    SPARE_CANVASES.with_borrow_mut(|spares| {
        spares.push(canvas);
        if spares.len() > SPARE_SIZES {
            spares.remove(0);
        }
    });
}

/// The frames the duplicate gate fingerprints a video from (one a second, made small), and
/// the CPU spent making them, which the run reports as the gate's.
#[derive(Default)]
pub(super) struct Samples {
    pub frames: Vec<image::RgbaImage>,
    pub cpu: std::time::Duration,
}

impl Samples {
    pub(super) fn take(&mut self, frame: &image::RgbaImage) {
        let small = crate::clock::cpu_into(&mut self.cpu, || {
            crate::dedup::fingerprint::sample_frame(frame)
        });
        self.frames.push(small);
    }
}

/// What a video job's encoding reads: the prepared creative and where its frames go.
pub(super) struct VideoJob<'a> {
    pub t: &'a Template,
    pub job: &'a Job,
    pub preset: &'a crate::preset::Preset,
    pub region: &'a crate::template::Region,
    pub assets: &'a Assets,
    pub creative: &'a render::Creative,
    pub settings: &'a VideoSettings,
    pub stamp: &'a Stamp,
    pub events: &'a dyn Fn(Event),
    pub stopped: &'a dyn Fn() -> bool,
    pub beat: &'a pool::Beat,
    pub sample_every: u32,
    pub gate_on: bool,
}

impl VideoJob<'_> {
    /// The soundtrack, mixed and levelled for this output, or the job's error: a function of
    /// what it reads (not of `self`, whose callbacks stay on the job's thread), so it can
    /// run on a thread of its own.
    pub(super) fn soundtrack(
        &self,
    ) -> impl FnOnce() -> Result<render::Soundtrack, JobError> + Send + '_ {
        let (t, job, preset, region, assets) =
            (self.t, self.job, self.preset, self.region, self.assets);
        move || {
            render::soundtrack(t, job, preset, region, assets)
                .map_err(at(job, Stage::Soundtrack))
                .and_then(|s| {
                    s.ok_or_else(|| {
                        JobError::new(job, Stage::Soundtrack, JobFailure::NoAudioSettings)
                    })
                })
        }
    }
}

/// Every frame rendered and encoded into one MP4, the soundtrack mixed meanwhile.
fn encode_full(
    v: &VideoJob<'_>,
    staged: &std::path::Path,
    samples: &mut Samples,
) -> Result<render::Soundtrack, JobError> {
    let VideoJob {
        job,
        creative,
        settings,
        stamp,
        events,
        stopped,
        sample_every,
        gate_on,
        ..
    } = *v;
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
    let encode = at(job, Stage::Encode);
    std::thread::scope(|s| {
        let soundtrack = v.soundtrack();
        let sound = s.spawn(|| -> Result<render::Soundtrack, JobError> {
            let atx = atx;
            let sound = soundtrack();
            match &sound {
                Ok(s) => {
                    let _ = atx.send((Arc::clone(&s.pcm), s.coded.clone()));
                }
                Err(_) => sound_failed.store(true, Ordering::Relaxed),
            }
            sound
        });
        let encoder = s.spawn(|| -> Result<(), JobError> {
            // Owned here, so the frame loop's wait for a buffer, and its send of a frame,
            // end if this thread does (an encoder or disk error): borrowed, a full
            // channel blocked the frame loop forever.
            let recycle_tx = recycle_tx;
            let frx = frx;
            let mut w =
                VideoWriter::create_without_audio(staged, settings, stamp).map_err(&encode)?;
            for f in frx.iter() {
                if let Ok((pcm, coded)) = arx.try_recv() {
                    w.set_audio(pcm, coded).map_err(&encode)?;
                }
                w.push(&f).map_err(&encode)?;
                let _ = recycle_tx.try_send(f);
            }
            if !w.has_audio() {
                // The sound thread's own error is the one reported.
                let (pcm, coded) = arx
                    .recv()
                    .map_err(|_| JobError::new(job, Stage::Encode, JobFailure::NoSoundtrack))?;
                w.set_audio(pcm, coded).map_err(&encode)?;
            }
            w.finish().map_err(&encode)
        });
        for i in 0..creative.frames {
            if stopped() || sound_failed.load(Ordering::Relaxed) {
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
            // A streamed clip that stops decoding fails the job like a bad input.
            // (`ftx` is moved into this closure, so returning drops it and the
            // encoder thread ends before the scope joins it.)
            creative
                .frame_into(i, &mut frame)
                .map_err(at(job, Stage::Prepare))?;
            if gate_on && i % sample_every == 0 {
                samples.take(&frame);
            }
            if ftx.send(frame).is_err() {
                break; // the encoder stopped; its error is reported below
            }
            if i % 15 == 14 || i + 1 == creative.frames {
                events(Event::Frames {
                    index: job.index,
                    done: i + 1,
                    total: creative.frames,
                });
            }
        }
        drop(ftx);
        let encoded = encoder
            .join()
            .map_err(|_| JobError::new(job, Stage::Encode, JobFailure::Panicked("encoder")))?;
        let sound = sound.join().map_err(|_| {
            JobError::new(job, Stage::Soundtrack, JobFailure::Panicked("soundtrack"))
        })??;
        encoded.map(|()| sound)
    })
}
