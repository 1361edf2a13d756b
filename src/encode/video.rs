//! MP4 writer: libx264 video + native AAC audio, interleaved as frames arrive.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ffmpeg::format::Pixel;
use ffmpeg::{codec, encoder, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;
use image::RgbaImage;

use super::{EncodeError, Stamp, VideoSettings};
use crate::media::{ffio, AacEncoder, AacPacket, AacStream, AudioPcm};

/// One MP4 being written. Frames are pushed in order; audio is interleaved from `audio`.
///
/// The file is complete only after `finish`; dropping a writer early leaves a truncated file
/// (the executor writes into a staging directory, so nothing half-written is exported).
pub struct VideoWriter {
    path: PathBuf,
    octx: ffmpeg::format::context::Output,
    venc: encoder::Video,
    aac: AacEncoder,
    pics: Pictures,
    fps: u32,
    vtb: Rational,
    vst_tb: Rational,
    atb: Rational,
    ast_tb: Rational,
    /// The soundtrack at the preset's rate and channels; `None` until `set_audio` (the
    /// muxer holds the video packets meanwhile).
    audio: Option<Arc<AudioPcm>>,
    audio_rate: u32,
    audio_channels: u16,
    audio_kbps: u32,
    /// The soundtrack as packets already coded by an identical AAC encoder, muxed as they
    /// are; `None` codes `audio` here.
    coded: Option<Arc<AacStream>>,
    /// The next of `coded`'s packets to mux.
    coded_next: usize,
    /// The frame count announced in the settings.
    expected_frames: Option<u32>,
    /// Sample frames handed to the AAC encoder so far.
    audio_pos: u64,
    /// Pictures come as segments already coded (`push_segment`), not as frames.
    stitched: bool,
    /// The last video packet's decoding time (encoder time base), when stitching.
    last_dts: Option<i64>,
}

// SAFETY: every FFmpeg object here (the muxer and both encoders) is owned
// exclusively by this writer and is only touched through `&mut self`, so at most one thread
// uses them at a time. FFmpeg contexts are not tied to the thread that created them, so the
// writer may be created on one thread and driven by another.
unsafe impl Send for VideoWriter {}

/// "Needs more input" and "fully flushed" end a drain loop; anything else is a real failure.
pub(crate) fn drained(e: &ffmpeg::Error) -> bool {
    matches!(e, ffmpeg::Error::Eof)
        || *e
            == (ffmpeg::Error::Other {
                errno: ffmpeg::util::error::EAGAIN,
            })
}

/// Makes bytes the program never wrote the same in every run: glibc fills each heap block
/// with one fixed byte when it hands it out (`M_PERTURB`), instead of leaving what the last
/// user of that memory wrote there.
///
/// Why: libx264 (Debian's 0.164) reads memory it never initialised when the width is not a
/// multiple of 16 (1080 is not), and that memory shapes its decisions. In a fresh process the
/// heap is zeroed pages, so every first encode agrees; later encodes in the same process got
/// whatever earlier work left behind, and a video's bytes changed with the jobs that ran
/// before it. Measured on a 72×128 clip video: 20 encodes in one process gave 2–5 different
/// files (the same input frames, checked by hash); with the fill, 20 of 20 were identical.
/// Widths that are multiples of 16 were identical without it. The fill costs a memset per
/// heap allocation and free below the mmap threshold (BENCHMARKS.md, *Determinism*).
fn fixed_heap_fill() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            extern "C" {
                fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
            }
            // glibc's malloc.h: M_PERTURB. Allocations get the byte's complement (0xa5).
            const M_PERTURB: std::ffi::c_int = -6;
            // SAFETY: mallopt only sets a tunable of glibc's allocator; it is thread-safe.
            unsafe { mallopt(M_PERTURB, 0x5a) };
        }
    });
}

const VIDEO: usize = 0;
const AUDIO: usize = 1;

impl VideoWriter {
    /// Opens `path` for writing and sets up both encoders. On failure nothing is left at
    /// `path` (a partly set-up MP4 is removed).
    pub fn create(
        path: &Path,
        settings: &VideoSettings,
        stamp: &Stamp,
        audio: Arc<AudioPcm>,
    ) -> Result<VideoWriter, EncodeError> {
        let mut w = Self::create_without_audio(path, settings, stamp)?;
        if let Err(e) = w.set_audio(audio, None) {
            drop(w);
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        Ok(w)
    }

    /// `create` with the soundtrack to come later through `set_audio`, so pictures can be
    /// encoded while the sound is still being mixed and mastered. Video packets wait in the
    /// muxer until the sound catches up, so the file is interleaved all the same.
    pub fn create_without_audio(
        path: &Path,
        settings: &VideoSettings,
        stamp: &Stamp,
    ) -> Result<VideoWriter, EncodeError> {
        let mut opened = false;
        let result = Self::create_inner(path, settings, stamp, &mut opened);
        if result.is_err() && opened {
            let _ = std::fs::remove_file(path);
        }
        result
    }

    /// `create_without_audio` for a video whose pictures arrive as segments already coded by
    /// `encode::SegmentEncoder` (`push_segment`), muxed without re-encoding. The writer still
    /// opens its own libx264 with the same settings: its stream parameters are the file's,
    /// and every segment's extradata must equal its extradata byte for byte.
    pub fn create_stitched(
        path: &Path,
        settings: &VideoSettings,
        stamp: &Stamp,
    ) -> Result<VideoWriter, EncodeError> {
        let mut w = Self::create_without_audio(path, settings, stamp)?;
        w.stitched = true;
        Ok(w)
    }

    /// Appends a coded segment whose first picture is frame `at` of the video: its packets
    /// are muxed with their timestamps moved by `at`. Refuses (`EncodeError::Unstitchable`,
    /// before writing any of its packets) a segment whose extradata or B-frame delay differs
    /// from this writer's encoder or that does not start with a keyframe, and refuses a
    /// packet whose decoding time does not follow the last one's — a file made of such
    /// pieces would not decode as one stream.
    pub fn push_segment(
        &mut self,
        segment: &super::SegmentFile,
        at: u32,
    ) -> Result<(), EncodeError> {
        let unstitchable = |reason: String| EncodeError::Unstitchable {
            path: segment.path.clone(),
            reason,
        };
        if !self.stitched {
            return Err(EncodeError::Format {
                path: self.path.clone(),
                message: "segments go only to a writer made by create_stitched".into(),
            });
        }
        let own = extradata(&self.venc);
        if segment.extradata != own {
            return Err(unstitchable(format!(
                "its extradata ({} bytes) differs from the file's encoder ({} bytes)",
                segment.extradata.len(),
                own.len()
            )));
        }
        // SAFETY: a plain field of the encoder context we own.
        let delay = i64::from(unsafe { (*self.venc.as_ptr()).has_b_frames });
        if segment.delay != delay {
            return Err(unstitchable(format!(
                "its B-frame delay is {} frames, the file's encoder has {delay}",
                segment.delay
            )));
        }
        if at as u64 != self.pics.count {
            return Err(unstitchable(format!(
                "it starts at frame {at}, the video so far has {} frames",
                self.pics.count
            )));
        }
        let mut first = true;
        for p in super::stitch::read_packets(&segment.path)? {
            let p = p?;
            if first && !p.key {
                return Err(unstitchable("it does not start with a keyframe".into()));
            }
            first = false;
            let (pts, dts) = (p.pts + at as i64, p.dts + at as i64);
            if self.last_dts.is_some_and(|last| dts <= last) || pts < dts {
                return Err(unstitchable(format!(
                    "packet pts {pts} / dts {dts} does not follow dts {:?}",
                    self.last_dts
                )));
            }
            self.last_dts = Some(dts);
            let mut pkt = Packet::copy(&p.data);
            pkt.set_pts(Some(pts));
            pkt.set_dts(Some(dts));
            pkt.set_duration(p.duration);
            if p.key {
                pkt.set_flags(ffmpeg::packet::Flags::KEY);
            }
            pkt.set_stream(VIDEO);
            pkt.rescale_ts(self.vtb, self.vst_tb);
            pkt.write_interleaved(&mut self.octx)
                .map_err(|e| self.fail("writing video packet", e))?;
            self.pics.count += 1;
            self.audio_level_with_video()?;
        }
        Ok(())
    }

    /// Hands over the soundtrack (converted to the preset's rate and channels if needed);
    /// audio up to the frames already pushed is encoded with the next picture.
    ///
    /// `coded` is the same soundtrack already through AAC at the preset's settings
    /// (`media::aac_roundtrip`); its packets are muxed instead of coding again when they fit
    /// as they are: same rate, channels and bitrate, and exactly the length of the announced
    /// frames (`VideoSettings::frames`). Otherwise the writer codes `audio` itself.
    pub fn set_audio(
        &mut self,
        audio: Arc<AudioPcm>,
        coded: Option<Arc<AacStream>>,
    ) -> Result<(), EncodeError> {
        let fits = audio.sample_rate == self.audio_rate && audio.channels == self.audio_channels;
        let total = self.expected_frames.map(|n| self.samples_for(n as u64));
        self.coded = coded.filter(|c| {
            fits && c.sample_rate == self.audio_rate
                && c.channels == self.audio_channels
                && c.bitrate_kbps == self.audio_kbps
                && Some(c.samples) == total
        });
        self.coded_next = 0;
        let audio = if fits {
            audio
        } else {
            Arc::new(
                audio
                    .convert(self.audio_rate, self.audio_channels)
                    .map_err(|e| {
                        EncodeError::ffmpeg(&self.path, "cannot resample the soundtrack", e)
                    })?,
            )
        };
        self.audio = Some(audio);
        Ok(())
    }

    fn create_inner(
        path: &Path,
        settings: &VideoSettings,
        stamp: &Stamp,
        opened: &mut bool,
    ) -> Result<VideoWriter, EncodeError> {
        ffio::init();
        fixed_heap_fill();
        let fail = |what: &str, e| EncodeError::ffmpeg(path, what, e);
        let bad = |m: String| EncodeError::Format {
            path: path.to_path_buf(),
            message: m,
        };
        let VideoSettings {
            width, height, fps, ..
        } = *settings;
        if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
            return Err(bad(format!(
                "{width}×{height}: yuv420p H.264 needs even, non-zero dimensions"
            )));
        }
        if fps == 0 {
            return Err(bad("fps must be positive".into()));
        }
        let vs = &settings.video;
        if vs.codec != "h264" {
            return Err(bad(format!(
                "video codec `{}` is not supported (only h264)",
                vs.codec
            )));
        }
        let aspec = &settings.audio;
        if aspec.codec != "aac" {
            return Err(bad(format!(
                "audio codec `{}` is not supported (only aac)",
                aspec.codec
            )));
        }
        if aspec.sample_rate == 0 || aspec.channels == 0 {
            return Err(bad(format!(
                "invalid audio format {} Hz × {} ch",
                aspec.sample_rate, aspec.channels
            )));
        }
        for k in stamp.0.keys() {
            if !super::xmp::valid_key(k) {
                return Err(bad(format!(
                    "stamp key `{k}` is not a plain ASCII identifier"
                )));
            }
        }
        let url = path
            .to_str()
            .ok_or_else(|| bad("path is not valid UTF-8".into()))?;
        // `file:` keeps FFmpeg from reading a scheme out of an odd output name.
        let url = format!("file:{url}");
        let mut octx =
            ffmpeg::format::output_as(&url, "mp4").map_err(|e| fail("cannot create", e))?;
        *opened = true;
        // Hold packets until every stream has one, however far apart: with the soundtrack
        // handed over late (`create_without_audio`) the default 10 s limit would flush all
        // the video first and leave the file un-interleaved.
        // SAFETY: a plain field of the context we own, set before the header is written.
        unsafe { (*octx.as_mut_ptr()).max_interleave_delta = 0 };
        let global_header = octx
            .format()
            .flags()
            .contains(ffmpeg::format::Flags::GLOBAL_HEADER);

        // --- video: libx264 ---
        let (x264, venc) = open_x264(path, settings, global_header)?;
        let vtb = Rational(1, fps as i32);
        {
            let mut ost = octx
                .add_stream(x264)
                .map_err(|e| fail("add video stream", e))?;
            ost.set_parameters(&venc);
            ost.set_time_base(vtb);
            ost.set_avg_frame_rate(Rational(fps as i32, 1));
        }

        // --- audio: FFmpeg's native AAC (LC), opened as the loudness round trip opens it ---
        let atb = Rational(1, aspec.sample_rate as i32);
        let aac = AacEncoder::open(aspec.sample_rate, aspec.channels, aspec.bitrate_kbps).map_err(
            |e| {
                let what = format!(
                    "AAC encoder rejected {} Hz × {} ch at {} kbit/s",
                    aspec.sample_rate, aspec.channels, aspec.bitrate_kbps
                );
                fail(&what, e)
            },
        )?;
        {
            let mut ost = octx
                .add_stream(codec::Id::AAC)
                .map_err(|e| fail("add audio stream", e))?;
            ost.set_parameters(&aac.encoder);
            ost.set_time_base(atb);
        }

        let mut meta = Dictionary::new();
        for (k, v) in &stamp.0 {
            meta.set(k, v);
        }
        octx.set_metadata(meta);
        let mut hopts = Dictionary::new();
        // faststart: index first, so players and ad platforms can start before the whole
        // file arrives. use_metadata_tags: arbitrary keys survive only as QuickTime `mdta`
        // keys; the default iTunes-style `ilst` atoms know a fixed list (title, comment, …)
        // and silently drop the rest.
        hopts.set("movflags", "+faststart+use_metadata_tags");
        octx.write_header_with(hopts)
            .map_err(|e| fail("cannot write MP4 header", e))?;
        let vst_tb = octx.stream(VIDEO).expect("video stream added").time_base();
        let ast_tb = octx.stream(AUDIO).expect("audio stream added").time_base();

        Ok(VideoWriter {
            path: path.to_path_buf(),
            octx,
            venc,
            aac,
            pics: Pictures::new(width, height),
            fps,
            vtb,
            vst_tb,
            atb,
            ast_tb,
            audio: None,
            audio_rate: aspec.sample_rate,
            audio_channels: aspec.channels,
            audio_kbps: aspec.bitrate_kbps,
            coded: None,
            coded_next: 0,
            expected_frames: settings.frames,
            audio_pos: 0,
            stitched: false,
            last_dts: None,
        })
    }

    fn fail(&self, what: &str, e: ffmpeg::Error) -> EncodeError {
        EncodeError::ffmpeg(&self.path, what, e)
    }

    /// Whether `set_audio` (or `create`) has handed over the soundtrack.
    pub fn has_audio(&self) -> bool {
        self.audio.is_some()
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> u64 {
        self.pics.count
    }

    pub fn push(&mut self, frame: &RgbaImage) -> Result<(), EncodeError> {
        if self.stitched {
            return Err(EncodeError::Format {
                path: self.path.clone(),
                message: "a stitched video takes coded segments, not frames".into(),
            });
        }
        let (venc, path) = (&mut self.venc, &self.path);
        self.pics.send(venc, frame, path, "video")?;
        self.drain_video()?;
        self.audio_level_with_video()
    }

    /// Keeps audio level with video so the muxer can interleave in small chunks.
    fn audio_level_with_video(&mut self) -> Result<(), EncodeError> {
        let due = self.pics.count * self.atb.denominator() as u64 / self.fps as u64;
        if self.coded.is_some() {
            return self.mux_coded(Some(due as i64));
        }
        while self.audio.is_some() && self.audio_pos + self.aac.frame as u64 <= due {
            self.send_audio(self.aac.frame)?;
        }
        Ok(())
    }

    /// Flushes both encoders and writes the index. Audio is cut or padded with silence to the
    /// video's length (frames / fps).
    pub fn finish(mut self) -> Result<(), EncodeError> {
        if self.audio.is_none() {
            return Err(EncodeError::Format {
                path: self.path.clone(),
                message: "the soundtrack never arrived (set_audio was not called)".into(),
            });
        }
        self.venc
            .send_eof()
            .map_err(|e| self.fail("libx264 flush", e))?;
        self.drain_video()?;
        if self.coded.is_some() {
            if self.expected_frames.map(u64::from) != Some(self.pics.count) {
                return Err(EncodeError::Format {
                    path: self.path.clone(),
                    message: format!(
                        "{} frames pushed, {:?} announced: the pre-coded soundtrack no longer fits",
                        self.pics.count, self.expected_frames
                    ),
                });
            }
            self.mux_coded(None)?;
            return self
                .octx
                .write_trailer()
                .map_err(|e| self.fail("cannot finish the MP4 (trailer/faststart)", e));
        }
        let total = self.samples_for(self.pics.count);
        while self.audio_pos < total {
            let n = self.aac.next_len((total - self.audio_pos) as usize);
            self.send_audio(n)?;
        }
        self.aac
            .encoder
            .send_eof()
            .map_err(|e| self.fail("AAC flush", e))?;
        self.drain_audio()?;
        self.octx
            .write_trailer()
            .map_err(|e| self.fail("cannot finish the MP4 (trailer/faststart)", e))?;
        Ok(())
    }

    /// Audio sample frames that last as long as `frames` pictures, rounded.
    fn samples_for(&self, frames: u64) -> u64 {
        (frames * self.atb.denominator() as u64 + self.fps as u64 / 2) / self.fps as u64
    }

    /// Muxes the pre-coded packets that start before `until` (samples), or all that are left.
    fn mux_coded(&mut self, until: Option<i64>) -> Result<(), EncodeError> {
        let Some(stream) = self.coded.clone() else {
            return Ok(());
        };
        while let Some(p) = stream.packets.get(self.coded_next) {
            if until.is_some_and(|u| p.pts >= u) {
                break;
            }
            self.write_coded(p)?;
            self.coded_next += 1;
        }
        Ok(())
    }

    fn write_coded(&mut self, p: &AacPacket) -> Result<(), EncodeError> {
        let mut pkt = Packet::copy(&p.data);
        pkt.set_pts(Some(p.pts));
        pkt.set_dts(Some(p.dts));
        pkt.set_duration(p.duration);
        if p.key {
            pkt.set_flags(ffmpeg::packet::Flags::KEY);
        }
        pkt.set_stream(AUDIO);
        pkt.rescale_ts(self.atb, self.ast_tb);
        pkt.write_interleaved(&mut self.octx)
            .map_err(|e| self.fail("writing audio packet", e))
    }

    fn send_audio(&mut self, n: usize) -> Result<(), EncodeError> {
        let audio = self
            .audio
            .as_ref()
            .expect("send_audio only runs with a soundtrack");
        // Past the end of the soundtrack: silence.
        let f = AacEncoder::frame_of(audio, self.audio_pos as usize, n);
        self.aac
            .encoder
            .send_frame(&f)
            .map_err(|e| self.fail("AAC encoder refused samples", e))?;
        self.audio_pos += n as u64;
        self.drain_audio()
    }

    fn drain_video(&mut self) -> Result<(), EncodeError> {
        let mut pkt = Packet::empty();
        loop {
            match self.venc.receive_packet(&mut pkt) {
                Ok(()) => {}
                Err(e) if drained(&e) => return Ok(()),
                Err(e) => return Err(self.fail("libx264 failed", e)),
            }
            pkt.set_stream(VIDEO);
            pkt.rescale_ts(self.vtb, self.vst_tb);
            pkt.write_interleaved(&mut self.octx)
                .map_err(|e| self.fail("writing video packet", e))?;
        }
    }

    fn drain_audio(&mut self) -> Result<(), EncodeError> {
        let mut pkt = Packet::empty();
        loop {
            match self.aac.encoder.receive_packet(&mut pkt) {
                Ok(()) => {}
                Err(e) if drained(&e) => return Ok(()),
                Err(e) => return Err(self.fail("AAC encoder failed", e)),
            }
            pkt.set_stream(AUDIO);
            pkt.rescale_ts(self.atb, self.ast_tb);
            pkt.write_interleaved(&mut self.octx)
                .map_err(|e| self.fail("writing audio packet", e))?;
        }
    }
}

/// Opens libx264 with the preset's settings. Every encoder of a video — the whole-file one
/// and each stitched segment's (`encode::stitch`) — comes from here, so their streams have
/// the same parameters and byte-identical `avcC` extradata, which is what lets segments be
/// concatenated without re-encoding.
pub(crate) fn open_x264(
    path: &Path,
    settings: &VideoSettings,
    global_header: bool,
) -> Result<(ffmpeg::Codec, encoder::Video), EncodeError> {
    let fail = |what: &str, e| EncodeError::ffmpeg(path, what, e);
    let VideoSettings {
        width, height, fps, ..
    } = *settings;
    let vs = &settings.video;
    let x264 = encoder::find_by_name("libx264").ok_or_else(|| EncodeError::Ffmpeg {
        path: path.to_path_buf(),
        message: "FFmpeg was built without libx264".into(),
        source: None,
    })?;
    let mut venc = codec::context::Context::new_with_codec(x264)
        .encoder()
        .video()
        .map_err(|e| fail("libx264 context", e))?;
    let vtb = Rational(1, fps as i32);
    venc.set_width(width);
    venc.set_height(height);
    venc.set_format(Pixel::YUV420P);
    venc.set_time_base(vtb);
    venc.set_frame_rate(Some(Rational(fps as i32, 1)));
    venc.set_colorspace(ffmpeg::color::Space::BT709);
    venc.set_color_range(ffmpeg::color::Range::MPEG);
    unsafe {
        let p = venc.as_mut_ptr();
        (*p).color_primaries = ffmpeg::ffi::AVColorPrimaries::AVCOL_PRI_BT709;
        (*p).color_trc = ffmpeg::ffi::AVColorTransferCharacteristic::AVCOL_TRC_BT709;
    }
    // Closed GOPs: FFmpeg's libx264 wrapper turns x264's open GOPs on unless told otherwise,
    // and then every keyframe after the first is a non-IDR I-frame whose leading B-frames
    // reference the GOP before it, though the MP4 lists it as a sync sample. A player
    // seeking there (a browser's scrubbing, a platform's poster frame) decodes those
    // B-frames from missing references ("mmco: unref short failure" in FFmpeg). With
    // closed GOPs every keyframe is an IDR, a clean random-access point.
    let mut flags = codec::Flags::CLOSED_GOP;
    if global_header {
        flags |= codec::Flags::GLOBAL_HEADER;
    }
    venc.set_flags(flags);
    let mut vopts = Dictionary::new();
    vopts.set("preset", &vs.speed);
    vopts.set("profile", &vs.profile);
    vopts.set("crf", &vs.crf.to_string());
    if vs.gop > 0 {
        vopts.set("g", &vs.gop.to_string());
    }
    if let Some(kbps) = vs.max_bitrate_kbps {
        // A VBV buffer of two seconds at the cap: platforms publish peak rates, and two
        // seconds keeps quality steady across scene cuts without breaking the cap.
        vopts.set("maxrate", &(kbps as u64 * 1000).to_string());
        vopts.set("bufsize", &(kbps as u64 * 2000).to_string());
    }
    vopts.set("threads", &settings.threads.to_string());
    // Slices, not frame threads: x264's frame threads gave different bytes in 2 of 25
    // identical runs here (the same input frames, checked by hash); sliced threads gave
    // the same file 25 times in 25, at about the same speed and 2.7 % more bytes
    // (docs/ARCHITECTURE.md, *Determinism*).
    vopts.set("x264-params", "sliced-threads=1");
    let venc = venc.open_with(vopts).map_err(|e| EncodeError::Ffmpeg {
        path: path.to_path_buf(),
        message: format!(
            "libx264 rejected the settings (profile `{}`, preset `{}`, crf {}): {e}",
            vs.profile, vs.speed, vs.crf
        ),
        source: Some(e),
    })?;
    Ok((x264, venc))
}

/// Pictures going into one x264 encoder: the size it was opened at, how many went in, and
/// the last one's buffer to reuse.
pub(crate) struct Pictures {
    width: u32,
    height: u32,
    pub(crate) count: u64,
    /// The YUV frame reused for every picture (made writable again when the encoder still
    /// holds a reference to it).
    yuv: Option<ffmpeg::frame::Video>,
}

impl Pictures {
    pub(crate) fn new(width: u32, height: u32) -> Pictures {
        Pictures {
            width,
            height,
            count: 0,
            yuv: None,
        }
    }

    /// Sends `frame` as the next picture; `of` names what `path` is ("video", "segment").
    pub(crate) fn send(
        &mut self,
        venc: &mut encoder::Video,
        frame: &RgbaImage,
        path: &Path,
        of: &str,
    ) -> Result<(), EncodeError> {
        if frame.dimensions() != (self.width, self.height) {
            return Err(EncodeError::Format {
                path: path.to_path_buf(),
                message: format!(
                    "frame {} is {}×{}, the {of} is {}×{}",
                    self.count,
                    frame.width(),
                    frame.height(),
                    self.width,
                    self.height
                ),
            });
        }
        let mut yuv = to_yuv(self.yuv.take(), frame);
        yuv.set_pts(Some(self.count as i64));
        venc.send_frame(&yuv)
            .map_err(|e| EncodeError::ffmpeg(path, "libx264 refused a frame", e))?;
        self.yuv = Some(yuv);
        self.count += 1;
        Ok(())
    }
}

/// `frame` as the encoder takes it: BT.709 matrix, limited range, matching the VUI flags
/// `open_x264` sets. `reused` is the previous picture's frame; `av_frame_make_writable`
/// gives it a new buffer only if the encoder still shares the old one, so the encoder never
/// sees the next picture early.
fn to_yuv(reused: Option<ffmpeg::frame::Video>, frame: &RgbaImage) -> ffmpeg::frame::Video {
    let reused = reused.and_then(|mut f| {
        // SAFETY: a valid, allocated frame we own.
        (unsafe { ffmpeg::ffi::av_frame_make_writable(f.as_mut_ptr()) } >= 0).then_some(f)
    });
    let mut yuv = reused.unwrap_or_else(|| {
        ffmpeg::frame::Video::new(
            ffmpeg::format::Pixel::YUV420P,
            frame.width(),
            frame.height(),
        )
    });
    super::yuv::rgba_to_yuv420_into(frame, super::yuv::Matrix::BT709, &mut yuv);
    yuv
}

/// An encoder's global header (SPS/PPS as `avcC` for MP4).
pub(crate) fn extradata(enc: &encoder::Video) -> Vec<u8> {
    // SAFETY: FFmpeg owns `extradata_size` bytes at `extradata` for the context's lifetime,
    // and we only read them while `enc` is borrowed.
    unsafe {
        let p = enc.as_ptr();
        if (*p).extradata.is_null() || (*p).extradata_size <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize).to_vec()
    }
}
