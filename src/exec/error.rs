//! Job failures as values: which job, at which stage, of what kind, and the module error
//! behind it. They become text only at the edges — the manifest's `error`, the CLI's lines
//! and the JSON events — and that text is what the executor printed before it kept types.

use std::io;

use ffmpeg_next as ffmpeg;
use serde::Serialize;

use crate::encode::xmp::XmpError;
use crate::encode::EncodeError;
pub(crate) use crate::export::ErrorKind;
use crate::export::ExportError;
use crate::media::MediaError;
use crate::plan::Job;
use crate::render::RenderError;
use crate::text::{FontSource, TextError};

/// The step of a job that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stage {
    /// Finding the preset and region, decoding inputs, laying out text.
    Prepare,
    /// Mixing and mastering the soundtrack (videos).
    Soundtrack,
    /// Writing the staged file.
    Encode,
    /// Reading the staged file back and checking it against the job.
    Verify,
}

impl Stage {
    /// What the job was doing, for messages: "while …".
    pub(crate) fn doing(self) -> &'static str {
        match self {
            Stage::Prepare => "preparing (opening inputs, laying out text)",
            Stage::Soundtrack => "mixing the soundtrack",
            Stage::Encode => "rendering and encoding frames",
            Stage::Verify => "reading the staged file back",
        }
    }
}

/// What went wrong in a job, by the module that found it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JobFailure {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("unknown preset `{0}`")]
    UnknownPreset(String),
    #[error("unknown region")]
    UnknownRegion,
    #[error("image preset without [image] settings")]
    NoImageSettings,
    #[error("video preset without [video] and [audio] settings")]
    NoVideoSettings,
    #[error("video preset without [audio]")]
    NoAudioSettings,
    /// The soundtrack never reached the encoder thread.
    #[error("no soundtrack")]
    NoSoundtrack,
    /// Names the thread: "encoder" or "soundtrack".
    #[error("{0} thread panicked")]
    Panicked(&'static str),
    /// `--fail-fast` stopped this job after another one failed, or a signal stopped the run.
    #[error("cancelled")]
    Cancelled,
    /// An input `media::probe` refused before the run; the message names the file.
    #[error(transparent)]
    Input(std::sync::Arc<crate::media::probe::ProbeError>),
    /// A licence of what the output shows has ended, or does not cover its region; the
    /// message names licence, asset, variant and region (`plan::licence::refusal`).
    #[error("{0}")]
    Licence(String),
    /// The watchdog gave up on the job (`--stall-timeout`).
    #[error(
        "made no progress for {seconds} s while {}; abandoned (raise --stall-timeout if the \
         job is only slow)",
        stage.doing()
    )]
    Stalled { stage: Stage, seconds: u64 },
    /// `factory merge`: the shard that owns the job has no part among those merged.
    #[error("not merged: shard {shard} has no part among the directories given; render it and merge again")]
    PartMissing { shard: crate::plan::shard::Shard },
    #[error("not merged: shard {shard}'s part ({}) does not list it; render that shard again", dir.display())]
    NotInPart {
        shard: crate::plan::shard::Shard,
        dir: std::path::PathBuf,
    },
    #[error("failed in shard {shard} ({}): {error}", dir.display())]
    FailedInPart {
        shard: crate::plan::shard::Shard,
        dir: std::path::PathBuf,
        error: String,
        kind: ErrorKind,
    },
}

/// The job a failure belongs to, as the operator knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobName {
    /// The job's index in the plan.
    pub index: usize,
    /// The plan's variant number.
    pub variant: u32,
    pub file: String,
    pub preset: String,
    pub region: String,
}

impl From<&Job> for JobName {
    fn from(job: &Job) -> JobName {
        JobName {
            index: job.index,
            variant: job.variant_n,
            file: job.file.clone(),
            preset: job.preset.clone(),
            region: job.region.clone(),
        }
    }
}

impl std::fmt::Display for JobName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let JobName {
            variant,
            file,
            preset,
            region,
            ..
        } = self;
        write!(f, "variant {variant} ({file}, {preset}, {region})")
    }
}

/// One failed job. Displays as `variant N (FILE, PRESET, REGION): MESSAGE`.
#[derive(Debug, thiserror::Error)]
#[error("{job}: {}{note}", crate::display::escape_for_display(&.source.to_string()), note = disk_full_note(.disk_full))]
pub(crate) struct JobError {
    pub job: JobName,
    pub stage: Stage,
    pub kind: ErrorKind,
    disk_full: bool,
    /// Boxed so a job's `Result` stays small.
    #[source]
    pub source: Box<JobFailure>,
}

impl JobError {
    /// Stopped by `--fail-fast` or a signal rather than failed.
    pub(crate) fn is_cancelled(&self) -> bool {
        matches!(*self.source, JobFailure::Cancelled)
    }

    pub(crate) fn new(
        job: impl Into<JobName>,
        stage: Stage,
        source: impl Into<JobFailure>,
    ) -> JobError {
        let source = source.into();
        let disk_full = chain_has_full_disk(&source);
        JobError {
            job: job.into(),
            stage,
            // A full disk surfaces through whichever writer hit it first (FFmpeg's muxer, the
            // image writer, the manifest); the operator's fix is the same in every case.
            // EFBIG (a file-size limit) is the file system's too, though not a full disk.
            kind: if disk_full || chain_has(&source, &[io::ErrorKind::FileTooLarge]) {
                ErrorKind::Io
            } else {
                source.kind()
            },
            disk_full,
            source: Box::new(source),
        }
    }

    /// Whether the file system ran out of space or quota.
    #[cfg(test)]
    pub(crate) fn disk_full(&self) -> bool {
        self.disk_full
    }
}

/// FFmpeg and the OS say "No space left on device" or "Disk quota exceeded"; both mean the
/// same to an operator, and neither word is what they search the manifest for.
fn disk_full_note(full: &bool) -> &'static str {
    if *full {
        " (disk full)"
    } else {
        ""
    }
}

/// `map_err` adapter: errors of `job` at `stage`.
pub(super) fn at<E: Into<JobFailure>>(job: &Job, stage: Stage) -> impl Fn(E) -> JobError + '_ {
    move |e| JobError::new(job, stage, e)
}

impl JobFailure {
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            JobFailure::Render(e) => render_kind(e),
            JobFailure::Encode(e) => encode_kind(e),
            JobFailure::Export(e) => export_kind(e),
            // Presets are files the operator may write; a preset missing its settings
            // section is theirs to fix.
            JobFailure::NoImageSettings
            | JobFailure::NoVideoSettings
            | JobFailure::NoAudioSettings => ErrorKind::BadInput,
            // The plan only names presets and regions that exist, so these are our bugs.
            JobFailure::UnknownPreset(_)
            | JobFailure::UnknownRegion
            | JobFailure::NoSoundtrack
            | JobFailure::Panicked(_)
            | JobFailure::Cancelled => ErrorKind::Internal,
            JobFailure::Input(e) => probe_kind(e),
            // A licence to renew, or a region to leave out: the operator's.
            JobFailure::Licence(_) => ErrorKind::BadInput,
            // An input that stops delivering data (a hung mount, a pipe): the system's.
            JobFailure::Stalled { .. } => ErrorKind::Io,
            // A part that is not there yet: the file system's, fixed by rendering it.
            JobFailure::PartMissing { .. } | JobFailure::NotInPart { .. } => ErrorKind::Io,
            JobFailure::FailedInPart { kind, .. } => *kind,
        }
    }
}

// The matches below are exhaustive on purpose: a new variant must be given a kind.

fn render_kind(e: &RenderError) -> ErrorKind {
    match e {
        RenderError::Media { source, .. } => media_kind(source),
        RenderError::Text { source, .. } => text_kind(source),
        RenderError::MissingCopy { .. } | RenderError::MissingVoiceover { .. } => {
            ErrorKind::BadInput
        }
    }
}

fn probe_kind(e: &crate::media::probe::ProbeError) -> ErrorKind {
    use crate::media::probe::ProbeError as P;
    match e {
        P::Media(m) => media_kind(m),
        P::VideoTooLarge { .. } => ErrorKind::ResourceLimit,
        P::Font { source, .. } => text_kind(source),
        P::Truncated { .. }
        | P::NoVideo { .. }
        | P::NoAudio { .. }
        | P::Rotation { .. }
        | P::Hdr { .. }
        | P::Animated { .. }
        | P::TruncatedJpeg { .. } => ErrorKind::BadInput,
    }
}

fn media_kind(e: &MediaError) -> ErrorKind {
    match e {
        MediaError::Decode { .. } => ErrorKind::BadInput,
        MediaError::Limit { .. } => ErrorKind::ResourceLimit,
        MediaError::Io { source, .. } => input_io_kind(source),
    }
}

fn text_kind(e: &TextError) -> ErrorKind {
    match e {
        TextError::BadFont {
            source: Some(FontSource::Io(io)),
            ..
        } => input_io_kind(io),
        TextError::MissingGlyph { .. }
        | TextError::UnknownFamily { .. }
        | TextError::BadFont { .. }
        | TextError::DoesNotFit { .. } => ErrorKind::BadInput,
    }
}

fn encode_kind(e: &EncodeError) -> ErrorKind {
    match e {
        EncodeError::Ffmpeg { .. }
        | EncodeError::Format { .. }
        | EncodeError::Image { .. }
        | EncodeError::Jpeg { .. } => ErrorKind::Encoder,
        EncodeError::Io { .. } => ErrorKind::Io,
        // The executor encodes the whole video instead; reaching a report is a bug.
        EncodeError::Unstitchable { .. } => ErrorKind::Internal,
        EncodeError::Xmp { source, .. } => match source {
            // Stamp keys and values come from the template's tracking table.
            XmpError::BadKey(_) | XmpError::ControlCharacter { .. } => ErrorKind::BadInput,
            XmpError::TooLargeForJpeg(_) => ErrorKind::BadInput,
            XmpError::NotContainer(_) => ErrorKind::Encoder,
        },
    }
}

fn export_kind(e: &ExportError) -> ErrorKind {
    match e {
        ExportError::Io { .. } | ExportError::Lock(_) => ErrorKind::Io,
        ExportError::Probe { source, .. } => encode_kind(source),
        // The file we just wrote is not what the job asked for.
        ExportError::Verify { .. } => ErrorKind::Encoder,
        ExportError::Manifest { .. } => ErrorKind::BadInput,
    }
}

/// An input that is missing or unreadable is the operator's to fix; any other failure
/// reading it is the file system's.
fn input_io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => ErrorKind::BadInput,
        _ => ErrorKind::Io,
    }
}

/// ENOSPC or EDQUOT anywhere in the chain, as an `io::Error` or as FFmpeg's errno (its muxer
/// reports write failures that way).
fn chain_has_full_disk(e: &(dyn std::error::Error + 'static)) -> bool {
    chain_has(
        e,
        &[io::ErrorKind::StorageFull, io::ErrorKind::QuotaExceeded],
    )
}

/// Any of `kinds` anywhere in the chain, as an `io::Error` or as FFmpeg's errno.
fn chain_has(e: &(dyn std::error::Error + 'static), kinds: &[io::ErrorKind]) -> bool {
    let full = |e: &io::Error| kinds.contains(&e.kind());
    let mut next = Some(e);
    while let Some(e) = next {
        if e.downcast_ref::<io::Error>().is_some_and(full) {
            return true;
        }
        if let Some(ffmpeg::Error::Other { errno }) = e.downcast_ref::<ffmpeg::Error>() {
            if full(&io::Error::from_raw_os_error(*errno)) {
                return true;
            }
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn job() -> JobName {
        JobName {
            index: 3,
            variant: 2,
            file: "US/a.mp4".into(),
            preset: "tiktok".into(),
            region: "US".into(),
        }
    }

    #[test]
    fn text_is_the_executors_and_kind_follows_the_source() {
        let e = JobError::new(job(), Stage::Prepare, JobFailure::UnknownRegion);
        assert_eq!(
            e.to_string(),
            "variant 2 (US/a.mp4, tiktok, US): unknown region"
        );
        assert_eq!(e.kind, ErrorKind::Internal);

        let limit = MediaError::Limit {
            path: PathBuf::from("big.png"),
            message: "too big".into(),
        };
        let e = JobError::new(
            job(),
            Stage::Prepare,
            RenderError::Media {
                pool: "product",
                option: "p".into(),
                source: std::sync::Arc::new(limit),
            },
        );
        assert_eq!(e.kind, ErrorKind::ResourceLimit);
        assert_eq!(
            e.to_string(),
            "variant 2 (US/a.mp4, tiktok, US): product `p`: big.png: too big"
        );
    }

    #[test]
    fn a_full_disk_is_io_and_says_so() {
        let enospc = EncodeError::ffmpeg(
            std::path::Path::new("out.mp4"),
            "writing video packet",
            ffmpeg::Error::Other { errno: 28 },
        );
        let e = JobError::new(job(), Stage::Encode, enospc);
        assert_eq!(e.kind, ErrorKind::Io);
        assert!(e.disk_full());
        assert!(e.to_string().ends_with(" (disk full)"), "{e}");

        let quota = ExportError::Io {
            path: PathBuf::from("out"),
            source: io::Error::from_raw_os_error(122),
        };
        let e = JobError::new(job(), Stage::Verify, quota);
        assert_eq!((e.kind, e.disk_full()), (ErrorKind::Io, true));

        let codec = EncodeError::ffmpeg(
            std::path::Path::new("out.mp4"),
            "libx264 failed",
            ffmpeg::Error::InvalidData,
        );
        let e = JobError::new(job(), Stage::Encode, codec);
        assert_eq!((e.kind, e.disk_full()), (ErrorKind::Encoder, false));
    }
}
