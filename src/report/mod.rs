//! The review page: `OUT/report.html`, built from the manifest alone (so `factory report OUT`
//! rebuilds it without the template), with the thumbnails it shows in `OUT/report_files/`.
//!
//! The page is static and self-contained: CSS and script are inlined, images are files next
//! to it, outputs are linked by their relative paths. Nothing is fetched from a network.
//! Thumbnails are keyed by the output's sha256, so a rebuild makes only the missing ones, and
//! a held-back output's thumbnail is made from its staged file at render time (the file itself
//! is gone once the run ends: `thumbnail_of_staged`).
//!
//! Platform results (issue #15) join the page once `factory report OUT` has read them from a
//! library (`results::refresh`): a "Results" section with the plots and each card's CTR.

mod html;
pub mod results;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use image::RgbaImage;
use rayon::prelude::*;

use crate::export::rerun::Previous;
use crate::export::{ExportError, ManifestRow, Status};
use crate::media::{self, Limits, MediaError};
use crate::preset::PresetKind;

/// The page, in the output directory.
pub const PAGE: &str = "report.html";
/// The page's files (thumbnails), beside it; the name browsers give a saved page's folder.
pub const FILES_DIR: &str = "report_files";
/// Longest side of a thumbnail: two columns of a retina contact sheet at 160 CSS pixels.
const THUMB_MAX: u32 = 320;
const THUMB_QUALITY: u8 = 78;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot make the review page's thumbnail: {source}")]
    Thumbnail {
        path: PathBuf,
        #[source]
        source: MediaError,
    },
    #[error("{path}: cannot encode the review page's thumbnail: {source}")]
    Encode {
        path: PathBuf,
        #[source]
        source: turbojpeg::Error,
    },
    #[error(
        "{out}: no manifest.json, so there is no batch to report on (run `factory render` first)"
    )]
    NoManifest { out: PathBuf },
    #[error("{path}: cannot read the results the page shows (delete it and run `factory report OUT --library LIB` again): {source}")]
    Snapshot {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Results(#[from] crate::results::ResultsError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `build` wrote.
#[derive(Debug, Clone)]
pub struct Built {
    pub page: PathBuf,
    pub page_bytes: u64,
    /// Outputs on the page (manifest rows).
    pub outputs: usize,
    /// Thumbnails made by this call (the others were already there).
    pub thumbnails_made: usize,
}

/// Where the thumbnail of an output with this sha256 lives, relative to the output directory.
pub(crate) fn thumbnail_rel(sha256: &str) -> String {
    format!("{FILES_DIR}/thumbs/{}.jpg", &sha256[..sha256.len().min(16)])
}

/// Builds `OUT/report.html` from `OUT/manifest.json`, making the thumbnails that are missing
/// and removing those no row refers to. `today` (`YYYY-MM-DD`) decides which licences the
/// page marks as ended.
pub fn build(out: &Path, today: &str) -> Result<Built, ReportError> {
    if !out.join("manifest.json").is_file() {
        return Err(ReportError::NoManifest {
            out: out.to_path_buf(),
        });
    }
    let previous = Previous::read(out)?;
    let rows = &previous.rows;
    let thumbs = out.join(FILES_DIR).join("thumbs");
    fs::create_dir_all(&thumbs).map_err(io(&thumbs))?;

    // One thumbnail per file (rows of variants it also serves share it).
    let mut wanted: Vec<&ManifestRow> = Vec::new();
    let mut seen = HashSet::new();
    for r in rows.iter().filter(|r| has_file(r)) {
        if seen.insert(r.sha256.as_str()) {
            wanted.push(r);
        }
    }
    let made: Vec<bool> = wanted
        .par_iter()
        .map(|r| {
            let dest = out.join(thumbnail_rel(&r.sha256));
            if dest.is_file() {
                return Ok(false);
            }
            write_thumbnail(&out.join(&r.file), r.kind, r.duration, &dest)?;
            Ok(true)
        })
        .collect::<Result<_, ReportError>>()?;
    let keep: HashSet<String> = rows
        .iter()
        .filter(|r| !r.sha256.is_empty())
        .map(|r| thumbnail_rel(&r.sha256))
        .collect();
    for e in fs::read_dir(&thumbs).map_err(io(&thumbs))?.flatten() {
        let rel = format!("{FILES_DIR}/thumbs/{}", e.file_name().to_string_lossy());
        if !keep.contains(&rel) {
            let _ = fs::remove_file(e.path());
        }
    }
    let has_thumb =
        |r: &ManifestRow| !r.sha256.is_empty() && out.join(thumbnail_rel(&r.sha256)).is_file();
    let results = results::read(out)?;
    let page = html::page(&previous, today, &has_thumb, results.as_ref());
    let path = out.join(PAGE);
    crate::export::write_atomic(&path, page.as_bytes())?;
    Ok(Built {
        page: path,
        page_bytes: page.len() as u64,
        outputs: rows.len(),
        thumbnails_made: made.iter().filter(|m| **m).count(),
    })
}

/// Rows whose file is in the output directory.
fn has_file(r: &ManifestRow) -> bool {
    r.status == Status::Exported && !r.sha256.is_empty()
}

/// Makes the thumbnail of a held-back output from its staged file, before staging goes: the
/// page shows what the gate held back next to what it matched.
pub(crate) fn thumbnail_of_staged(
    out: &Path,
    staged: &Path,
    kind: PresetKind,
    duration: f64,
    sha256: &str,
) -> Result<(), ReportError> {
    match missing_thumbnail(out, sha256)? {
        Some(dest) => write_thumbnail(staged, kind, duration, &dest),
        None => Ok(()),
    }
}

/// Where the thumbnail of the output with this sha256 goes, its directory made; `None` when
/// it is already there.
fn missing_thumbnail(out: &Path, sha256: &str) -> Result<Option<PathBuf>, ReportError> {
    let dest = out.join(thumbnail_rel(sha256));
    if dest.is_file() {
        return Ok(None);
    }
    let dir = dest.parent().expect("thumbnail paths have a directory");
    fs::create_dir_all(dir).map_err(io(dir))?;
    Ok(Some(dest))
}

/// A JPEG of at most `THUMB_MAX` pixels a side: a still scaled down, or a video's poster
/// frame (a second in, or its middle when shorter: the first frame is often a fade from black).
fn write_thumbnail(
    src: &Path,
    kind: PresetKind,
    duration: f64,
    dest: &Path,
) -> Result<(), ReportError> {
    let failed = |source| ReportError::Thumbnail {
        path: src.to_path_buf(),
        source,
    };
    let (rgb, w, h) = match kind {
        PresetKind::Image => {
            match media::load_jpeg_covering(src, THUMB_MAX, &Limits::default()).map_err(failed)? {
                // A JPEG output (what the thumbnail of almost every main image is made from) is
                // decoded at the smallest DCT scale that still covers the thumbnail, then
                // resized: the full decode was most of the thumbnails' cost.
                Some((small, fw, fh)) => {
                    let (w, h) = media::fit_inside(fw, fh, THUMB_MAX, THUMB_MAX);
                    (media::resize_rgb(&small, w, h).into_raw(), w, h)
                }
                None => match media::load_picture(src, &Limits::default()).map_err(failed)? {
                    // An opaque PNG or WebP is resized as the RGB it decodes to: widening it
                    // to RGBA and weighing by an alpha of 255 cost as much as the resize.
                    media::Picture::Opaque(full) => {
                        let (w, h) =
                            media::fit_inside(full.width(), full.height(), THUMB_MAX, THUMB_MAX);
                        (media::resize_rgb(&full, w, h).into_raw(), w, h)
                    }
                    media::Picture::Alpha(full) => {
                        let (w, h) =
                            media::fit_inside(full.width(), full.height(), THUMB_MAX, THUMB_MAX);
                        // fast_image_resize (AVX2): `image`'s thumbnail filter was 3.5 % of a
                        // catalog batch's CPU.
                        (over_white(&media::resize(&full, w, h, None)), w, h)
                    }
                },
            }
        }
        PresetKind::Video => {
            let img = poster(src, duration).map_err(failed)?;
            (over_white(&img), img.width(), img.height())
        }
    };
    save_thumbnail(&rgb, w, h, dest)
}

/// The thumbnail of a still made from the frame the renderer encoded, as the job ends,
/// where `build` then finds it: decoding every output again for its thumbnail at the end
/// of the run was 8 % of a catalog batch's CPU (`perf`, 2026-12-05). `reduced` is the
/// frame averaged in whole blocks to ≤ 512 px (`dedup::fingerprint::reduce_within`, which
/// the gate's hash plane is then reduced from);
/// the thumbnail is resized from it when it is at least the thumbnail's size, which costs
/// a fraction of resizing the frame. At 320 px the JPEG's own losses do not show. A
/// thumbnail of an output that is then not published is removed by the next `build`,
/// which keeps only those its rows name.
pub(crate) fn thumbnail_of_frame(
    out: &Path,
    frame: &RgbaImage,
    reduced: Option<&RgbaImage>,
    opaque: bool,
    sha256: &str,
) -> Result<(), ReportError> {
    let Some(dest) = missing_thumbnail(out, sha256)? else {
        return Ok(());
    };
    let (w, h) = media::fit_inside(frame.width(), frame.height(), THUMB_MAX, THUMB_MAX);
    let small = reduced
        .filter(|r| r.width() >= w && r.height() >= h)
        .unwrap_or(frame);
    let resized = media::resize_as(small, w, h, opaque);
    // An opaque one goes to the encoder as the RGBA it is; converting it was 3 %. Its
    // opacity is measured again (a tenth of the frame's pixels) rather than assumed from
    // the frame's: the resize need not leave every alpha at exactly 255.
    let buf = crate::encode::encode_thumbnail_jpeg(&resized, THUMB_QUALITY).map_err(|source| {
        ReportError::Encode {
            path: dest.to_path_buf(),
            source,
        }
    })?;
    write_whole(&dest, &buf)
}

/// A shard part's thumbnail of the output with this sha256 copied beside the merged output,
/// so the merged page shows what a single run's shows; nothing when the part has none (the
/// page's build then makes it from the file).
pub(crate) fn adopt_thumbnail(out: &Path, part: &Path, sha256: &str) -> Result<(), ReportError> {
    let from = part.join(thumbnail_rel(sha256));
    if !from.is_file() {
        return Ok(());
    }
    match missing_thumbnail(out, sha256)? {
        Some(dest) => write_whole(&dest, &fs::read(&from).map_err(io(&from))?),
        None => Ok(()),
    }
}

/// RGB of `img` over white, like the JPEG outputs themselves.
fn over_white(img: &RgbaImage) -> Vec<u8> {
    img.pixels()
        .flat_map(|p| {
            let a = u16::from(p[3]);
            [0, 1, 2].map(|c| ((u16::from(p[c]) * a + 255 * (255 - a)) / 255) as u8)
        })
        .collect()
}

/// Baseline 4:4:4 JPEG at `THUMB_QUALITY` through libjpeg-turbo, as the outputs are: the
/// thumbnails' own encoder (jpeg-encoder) was 6 % of a catalog batch's CPU once every other
/// cost had shrunk (`perf`, 2026-12-05).
fn save_thumbnail(rgb: &[u8], w: u32, h: u32, dest: &Path) -> Result<(), ReportError> {
    let buf = crate::encode::encode_jpeg_rgb(
        rgb,
        w as usize,
        h as usize,
        THUMB_QUALITY,
        crate::encode::Chroma::Half,
    )
    .map_err(|source| ReportError::Encode {
        path: dest.to_path_buf(),
        source,
    })?;
    write_whole(dest, &buf)
}

/// Beside its final name and renamed: a page never references half a JPEG.
fn write_whole(dest: &Path, buf: &[u8]) -> Result<(), ReportError> {
    let dir = dest.parent().expect("thumbnail paths have a directory");
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    std::io::Write::write_all(&mut tmp, buf).map_err(io(dest))?;
    tmp.persist(dest).map_err(|e| ReportError::Io {
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

fn poster(src: &Path, duration: f64) -> Result<RgbaImage, MediaError> {
    let at = if duration > 2.0 { 1.0 } else { duration / 2.0 };
    let mut stream = media::ClipStream::open(src, at, 1.0, 1, THUMB_MAX, THUMB_MAX)?;
    match stream.frame(0)? {
        Some(f) => Ok(f.clone()),
        None => Err(MediaError::decode(src, "no frame to show as a poster")),
    }
}
