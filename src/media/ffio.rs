//! The one door through which FFmpeg sees input paths.
//!
//! FFmpeg treats its "filename" as a URL: `http://…`, `concat:…`, `subfile,…` or a playlist
//! that names further URLs would all be followed. Inputs here are operator-supplied template
//! paths, so we (1) require an existing regular file, (2) hand FFmpeg an explicit
//! `file:`-prefixed absolute path so nothing in the name is parsed as a scheme, and (3) set
//! `protocol_whitelist=file` so nested opens (HLS, concat, …) cannot reach other protocols,
//! plus a demuxer whitelist that leaves out playlist/indirection demuxers entirely.

use std::path::{Path, PathBuf};
use std::sync::Once;

use ffmpeg_next as ffmpeg;

/// Demuxers we accept for media inputs. Playlist and indirection demuxers (`hls`, `concat`,
/// `dash`, `ffmetadata`, image sequences via glob, …) are deliberately absent.
const DEMUXER_WHITELIST: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,mpeg,\
mp3,aac,wav,w64,ogg,flac,aiff,caf,image2,png_pipe,jpeg_pipe,webp_pipe,gif,asf";

static INIT: Once = Once::new();

/// Initialises FFmpeg once per process and keeps its logging to real errors, so encoder
/// banners do not tear through the CLI's progress bars.
pub(crate) fn init() {
    INIT.call_once(|| {
        // init() only fails on ancient FFmpeg builds without registration; nothing to do then.
        let _ = ffmpeg::init();
        use ffmpeg::util::log::Level;
        // FACTORY_FFMPEG_LOG=error|warning|info|debug shows FFmpeg's own messages when
        // diagnosing an input; by default failures reach the user through our typed errors.
        let level = match std::env::var("FACTORY_FFMPEG_LOG").as_deref() {
            Ok("error") => Level::Error,
            Ok("warning") => Level::Warning,
            Ok("info") => Level::Info,
            Ok("debug") => Level::Debug,
            _ => Level::Fatal,
        };
        ffmpeg::util::log::set_level(level);
    });
}

/// Why an input path was refused before FFmpeg saw it, or why FFmpeg failed to open it.
#[derive(Debug)]
pub(crate) enum OpenError {
    Io(std::io::Error),
    NotRegular(&'static str),
    Ffmpeg(ffmpeg::Error),
}

/// Checks that `path` is an existing regular file and returns the URL FFmpeg should open.
pub(crate) fn local_url(path: &Path) -> Result<String, OpenError> {
    let meta = std::fs::metadata(path).map_err(OpenError::Io)?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular("not a regular file"));
    }
    let abs: PathBuf = std::fs::canonicalize(path).map_err(OpenError::Io)?;
    let s = abs
        .to_str()
        .ok_or(OpenError::NotRegular("path is not valid UTF-8"))?;
    Ok(format!("file:{s}"))
}

/// Opens a local media file for demuxing with the protocol and demuxer whitelists set.
pub(crate) fn open_input(path: &Path) -> Result<ffmpeg::format::context::Input, OpenError> {
    init();
    let url = local_url(path)?;
    let mut opts = ffmpeg::Dictionary::new();
    opts.set("protocol_whitelist", "file");
    opts.set("format_whitelist", DEMUXER_WHITELIST);
    ffmpeg::format::input_with_dictionary(&url, opts).map_err(OpenError::Ffmpeg)
}
