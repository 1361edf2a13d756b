//! What the gate measures about one file: identity (sha256, bytes), PDQ hashes per still or
//! per sampled second, masked variants (product box hidden = "scene", text boxes hidden =
//! "textless") when the composition says where those layers were drawn, and keypoint
//! features of one key frame.

use std::io::Read;
use std::path::{Path, PathBuf};

use image::RgbaImage;
use sha2::{Digest, Sha256};

use super::geometry::{self, Features};
use super::pdq::{self, Hash256};
use super::DedupError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<MediaKind> {
        match s {
            "image" => Some(MediaKind::Image),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }

    pub(crate) fn of_path(path: &Path) -> Option<MediaKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jpg" | "jpeg" | "png" | "webp" => Some(MediaKind::Image),
            "mp4" | "mov" | "m4v" | "webm" | "mkv" => Some(MediaKind::Video),
            _ => None,
        }
    }
}

/// One hashed frame. For stills there is exactly one, at `t = 0`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FrameHash {
    /// Seconds from the start.
    pub t: f32,
    /// Border-trimmed full frame, all eight orientations (index 0 is as shown; only that one
    /// is stored in the library, the others serve queries).
    pub orientations: [Hash256; 8],
    pub quality: u8,
    /// Product box masked: what the background alone looks like.
    pub scene: Option<Hash256>,
    /// Text boxes masked: the frame as it would look without its caption/logo.
    pub textless: Option<Hash256>,
    /// Stills only: hashes of centred 90 % and 80 % crops. Used for retrieval alone, so a
    /// cropped re-upload of this file finds it and keypoint geometry can confirm it; PDQ of
    /// the whole frame misses crops of 10 % or more.
    pub crops: Vec<Hash256>,
    /// Query side only (not stored). Stills: hashes of the centre of the still turned back
    /// by each of `TURNS`. A copy rotated by a few degrees hashes far from its source (PDQ
    /// tolerates under 3°), so without these it is never retrieved for keypoint geometry;
    /// turned back by the nearest step its centre hashes close to the source's stored
    /// centre crop. Video frames: the whole frame turned back by each of `video::TURNS`,
    /// then with each corner painted over (`video_turned_hashes`, `video_corner_hashes`),
    /// the views `video::compare_verified` chooses from.
    pub turned: Vec<Hash256>,
    /// Video frames: the frame as a grey picture `geometry::SECOND_THUMB_SIDE` pixels on its
    /// long side, stored with the frame, to compare two videos' seconds pixel for pixel
    /// where their hashes do not agree (`rules`, issue #13). Empty for stills, whose
    /// thumbnail is kept with their keypoints.
    pub thumb: geometry::Thumb,
}

impl FrameHash {
    pub fn hash(&self) -> Hash256 {
        self.orientations[0]
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub kind: MediaKind,
    pub width: u32,
    pub height: u32,
    /// Seconds (0 for stills).
    pub duration: f64,
    /// Frames that passed the quality floor (videos) or the one still (kept even when flat,
    /// so that a plain white image still has an identity).
    pub frames: Vec<FrameHash>,
    /// Keypoints of the still, or of the middle sampled frame of a video.
    pub features: Features,
    /// Stills: keypoints of the mirrored still, to recognise a mirrored copy by geometry
    /// when its hash does not (query side only, not stored). Empty for videos, whose
    /// per-second hashes already compare all eight orientations.
    pub features_mirrored: Features,
    /// Stills, query side only (not stored): share of flat pixels per cell of a grid
    /// (`scene::flatness`), to tell a pasted logo or caption from a new subject. Empty for
    /// videos.
    #[serde(default)]
    pub flatness: Vec<u8>,
    /// A still scored inside `factory render`: its keypoints, their mirror image, its
    /// flatness and its turned-back hashes are measured only if a rule asks for them
    /// (`detail`, `turned`), from the staged file at `path`; until then those fields are
    /// empty. Never serialised: what leaves the process (a shard's gate data) is `completed`
    /// first.
    #[serde(skip)]
    later: Option<std::sync::Arc<Later>>,
    /// Settled (`settle`) without its keypoints ever being measured: the empty fields
    /// above mean "not measured", not "no keypoints".
    #[serde(skip)]
    unmeasured: bool,
}

/// What a deferred fingerprint measured once asked. The still itself is not kept while
/// nothing asks (a megabyte per output waiting to be published added up); it is read again
/// from the file, which is the staged output until the verdict is given, once for every
/// measurement asked of it.
#[derive(Default)]
struct Later {
    reduced: std::sync::OnceLock<Option<RgbaImage>>,
    made: std::sync::OnceLock<Detail>,
    turned: std::sync::OnceLock<Vec<Hash256>>,
}

impl Later {
    /// The file reduced as `from_still_deferred` reduced the frame; `None` if it can no
    /// longer be read (it was verified when staged, so only a disk failing under the run
    /// does that).
    fn reduced(&self, path: &Path) -> Option<&RgbaImage> {
        self.reduced
            .get_or_init(|| load_still(path).ok().map(|img| sample_frame(&img)))
            .as_ref()
    }
}

impl std::fmt::Debug for Later {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Later")
            .field("read", &self.reduced.get().is_some())
            .field("made", &self.made.get().is_some())
            .field("turned", &self.turned.get().is_some())
            .finish()
    }
}

/// What only some comparisons of a still need, and costs most to measure: keypoint
/// extraction of the still and its mirror was 24 % of a catalog batch's CPU with the gate on
/// (BENCHMARKS.md, *Main images at catalog scale*), for outputs whose verdicts their
/// compositions decide.
#[derive(Debug, Default)]
struct Detail {
    features: Features,
    features_mirrored: Features,
    flatness: Vec<u8>,
}

impl Detail {
    fn measure(still: Option<&RgbaImage>) -> Detail {
        let Some(still) = still else {
            return Detail::default();
        };
        let (features, features_mirrored) = geometry::extract_both(still);
        Detail {
            features,
            features_mirrored,
            flatness: super::scene::flatness(still),
        }
    }
}

/// A fingerprint's keypoints, mirrored keypoints and flatness, wherever they are held.
#[derive(Clone, Copy)]
pub(crate) struct DetailRef<'a> {
    pub features: &'a Features,
    pub features_mirrored: &'a Features,
    pub flatness: &'a [u8],
}

/// Where layers were drawn, normalised `[x, y, w, h]`, to compute the masked hashes.
#[derive(Debug, Clone, Default)]
pub struct Masks {
    pub product_box: Option<[f32; 4]>,
    pub text_boxes: Vec<[f32; 4]>,
}

/// Sampling rate of video fingerprints: vPDQ's 1 frame per second.
pub(crate) const VIDEO_FPS: u32 = 1;
/// Longest stretch of a video that is sampled; ad creatives are ≤ 60 s, this bounds memory
/// for a stray long file.
pub(crate) const MAX_VIDEO_SECONDS: f64 = 600.0;
const FRAME_SIDE: u32 = 512;

/// A rendered frame reduced to what a video fingerprint samples (at most `FRAME_SIDE` on
/// each side), so the renderer can keep its 1 fps samples instead of the gate decoding the
/// file again.
pub(crate) fn sample_frame(img: &RgbaImage) -> RgbaImage {
    sample_frame_as(img, crate::encode::is_opaque(img))
}

/// `sample_frame` of a frame whose opacity the caller knows (a pass over every pixel).
pub(crate) fn sample_frame_as(img: &RgbaImage, opaque: bool) -> RgbaImage {
    let (w, h) = crate::media::fit_inside(img.width(), img.height(), FRAME_SIDE, FRAME_SIDE);
    if (w, h) == img.dimensions() {
        return img.clone();
    }
    // The alpha pass over an opaque frame was 12 % of a catalog batch's CPU (`perf`,
    // 2026-12-05); the result is the same without it
    // (`tests::an_opaque_frame_samples_the_same_without_the_alpha_pass`).
    crate::media::resize_as(img, w, h, opaque)
}

/// The picture a still's PDQ hashes are made from: the still averaged over whole blocks of
/// `k`×`k` pixels (`media::box_reduce`), `k` the least factor that brings both sides to at
/// most `HASH_SIDE`; the still itself when they already are. Whole blocks rather than a
/// resize to an exact size: one cheap pass (in a render job, from the ≤ 512-px reduction the
/// review page's thumbnail is resized from, `exec/job.rs`). PDQ samples 64×64 points, so
/// 256 px leave it four pixels a point: the row pass, masked copies and all, cost a quarter
/// of what they did at 512, which was half the gate's CPU in a catalog batch. On the
/// evaluation harness every edit's recall, the 0 false positives and the hard negatives
/// held; PDQ alone, before keypoints, catches fewer mirrored, quarter-turned and
/// letterboxed copies (BENCHMARKS.md, *Duplicate gate*, session 31).
pub(crate) fn hash_plane(img: &RgbaImage) -> std::borrow::Cow<'_, RgbaImage> {
    reduce_within(img, HASH_SIDE)
}

/// The longest side of a still's `hash_plane`.
const HASH_SIDE: u32 = 256;

/// `img` averaged over whole blocks of the least factor that brings both sides to at most
/// `side`; `img` itself when they already are.
pub(crate) fn reduce_within(img: &RgbaImage, side: u32) -> std::borrow::Cow<'_, RgbaImage> {
    let k = img.width().max(img.height()).div_ceil(side).max(1);
    match k {
        1 => std::borrow::Cow::Borrowed(img),
        _ => std::borrow::Cow::Owned(crate::media::box_reduce(img, k)),
    }
}

pub(crate) fn sha256_file(path: &Path) -> Result<(String, u64), DedupError> {
    let io = |source| DedupError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(io)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((hex::encode(h.finalize()), n))
}

pub(crate) fn load_still(path: &Path) -> Result<RgbaImage, DedupError> {
    let err = |message: String| DedupError::Image {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = image::ImageReader::open(path)
        .map_err(|source| DedupError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .with_guessed_format()
        .map_err(|source| DedupError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    limits.max_alloc = Some(512 << 20);
    reader.limits(limits);
    Ok(reader.decode().map_err(|e| err(e.to_string()))?.to_rgba8())
}

/// Pixel rectangles `(x0, y0, x1, y1)` of normalised boxes.
fn mask_rects(w: u32, h: u32, boxes: &[[f32; 4]]) -> Vec<(u32, u32, u32, u32)> {
    boxes
        .iter()
        .map(|b| {
            let x0 = ((b[0].clamp(0.0, 1.0)) * w as f32) as u32;
            let y0 = ((b[1].clamp(0.0, 1.0)) * h as f32) as u32;
            let x1 = (((b[0] + b[2]).clamp(0.0, 1.0)) * w as f32).ceil() as u32;
            let y1 = (((b[1] + b[3]).clamp(0.0, 1.0)) * h as f32).ceil() as u32;
            (x0, y0, x1, y1)
        })
        .collect()
}

/// The masked hashes of a frame. A constant fill: both sides of a comparison mask the same
/// way, so the box itself contributes identical (flat) energy and only the rest of the
/// frame decides.
fn masked_hash(luma: &pdq::View, across: &pdq::Across, boxes: &[[f32; 4]]) -> Hash256 {
    let (w, h) = (luma.width as u32, luma.height as u32);
    across.masked_hash(luma, &mask_rects(w, h, boxes))
}

/// A frame's hashes from its luma plane, also returning the border-trimmed plane. The
/// plane's row pass is made once and serves its masked hashes too (`pdq::Across`).
fn hash_luma<'a>(
    luma: &'a pdq::Luma,
    img: &RgbaImage,
    t: f32,
    masks: &Masks,
) -> (FrameHash, pdq::View<'a>) {
    let (w, h) = img.dimensions();
    let (bx, by, bw, bh) = pdq::border_box(img);
    let whole = luma.view();
    let across = pdq::Across::of(&whole);
    let (trimmed, d) = if (bx, by, bw, bh) == (0, 0, w, h) {
        (whole, across.dihedral())
    } else {
        let v = whole.crop(bx, by, bw, bh);
        (v, v.hash_dihedral())
    };
    let scene = masks
        .product_box
        .map(|b| masked_hash(&whole, &across, &[b]));
    let textless =
        (!masks.text_boxes.is_empty()).then(|| masked_hash(&whole, &across, &masks.text_boxes));
    let frame = FrameHash {
        t,
        orientations: d.hashes,
        quality: d.quality,
        scene,
        textless,
        crops: Vec::new(),
        turned: Vec::new(),
        thumb: geometry::Thumb::default(),
    };
    (frame, trimmed)
}

fn crop_hashes(trimmed: &pdq::View) -> Vec<Hash256> {
    let (w, h) = (trimmed.width as u32, trimmed.height as u32);
    [0.9f32, 0.8]
        .iter()
        .map(|f| {
            let (cw, ch) = (((w as f32) * f) as u32, ((h as f32) * f) as u32);
            trimmed
                .crop((w - cw) / 2, (h - ch) / 2, cw.max(1), ch.max(1))
                .hash()
                .hash
        })
        .collect()
}

/// Rotations undone on the query side, in degrees. 3° apart, so any turn up to 10.5° is
/// within 1.5° of a step, which PDQ absorbs.
const TURNS: [f32; 6] = [-9.0, -6.0, -3.0, 3.0, 6.0, 9.0];

fn turned_hashes(img: &RgbaImage) -> Vec<Hash256> {
    // PDQ filters down to 64×64: turning a 256-px copy costs a fraction of the full image
    // and hashes the same. The copy is turned as a luma plane and only the stored side's
    // 80 % centre window (what survives both turns' corners) is computed: turning the whole
    // RGBA copy six times through imageproc was 6 % of a catalog batch's CPU.
    let (w, h) = img.dimensions();
    let s = (256.0 / w.max(h) as f32).min(1.0);
    let (sw, sh) = (
        ((w as f32 * s) as u32).max(1),
        ((h as f32 * s) as u32).max(1),
    );
    let small = crate::media::resize_no_alpha(img, sw, sh);
    let luma = pdq::Luma::of(&small);
    let (cw, ch) = ((sw * 4 / 5).max(1) as usize, (sh * 4 / 5).max(1) as usize);
    TURNS
        .iter()
        .map(|deg| luma.turned_window(deg.to_radians(), cw, ch).hash().hash)
        .collect()
}

/// A video frame's query-only turned hashes: the whole (border-trimmed) frame turned back
/// by each of `video::TURNS`, compared with the old video's stored whole-frame hashes — a
/// video stores no crops to meet a centre window, as a still does. The corners a turn
/// uncovers are black on both the copy and its turn back, a few % of the frame, which PDQ
/// absorbs; the 3° steps leave at most 1.5° for it to absorb on top.
fn video_turned_hashes(trimmed: &pdq::Luma) -> Vec<Hash256> {
    super::video::TURNS
        .iter()
        .map(|deg| {
            trimmed
                .turned_window(deg.to_radians(), trimmed.width, trimmed.height)
                .hash()
                .hash
        })
        .collect()
}

/// A video frame's query-only hashes with each corner painted over (`video::CORNERS`): a
/// logo or badge in a corner of a low-texture frame outweighs the rest of it in PDQ, and
/// painted over by what surrounds it the frame hashes close to the frame without it. The
/// box is 30 % of the shorter side, square, which holds a corner logo of 10–15 % of the
/// width with its margin; filled from its two inner edges (each pixel the distance-weighted
/// mean of the nearest pixel beyond each edge), which continues a smooth background where
/// a flat fill would add an edge of its own.
fn video_corner_hashes(img: &RgbaImage) -> Vec<Hash256> {
    let (bx, by, bw, bh) = pdq::border_box(img);
    let side = ((bw.min(bh) as f32 * 0.3) as u32).clamp(1, bw.min(bh).saturating_sub(1).max(1));
    (0..super::video::CORNERS)
        .map(|c| {
            let (right, bottom) = (c % 2 == 1, c >= 2);
            let x0 = if right { bx + bw - side } else { bx };
            let y0 = if bottom { by + bh - side } else { by };
            // The column and row just outside the box, towards the frame's centre.
            let ex = if right {
                x0.saturating_sub(1)
            } else {
                x0 + side
            };
            let ey = if bottom {
                y0.saturating_sub(1)
            } else {
                y0 + side
            };
            let mut out = img.clone();
            for y in y0..y0 + side {
                for x in x0..x0 + side {
                    let dx = (x as f32 - ex as f32).abs().max(1.0);
                    let dy = (y as f32 - ey as f32).abs().max(1.0);
                    let (a, b) = (img.get_pixel(ex, y).0, img.get_pixel(x, ey).0);
                    let (wa, wb) = (1.0 / dx, 1.0 / dy);
                    let mix = |i: usize| ((a[i] as f32 * wa + b[i] as f32 * wb) / (wa + wb)) as u8;
                    out.put_pixel(x, y, image::Rgba([mix(0), mix(1), mix(2), 255]));
                }
            }
            let luma = pdq::Luma::of(&out);
            let trimmed = if (bx, by, bw, bh) == (0, 0, img.width(), img.height()) {
                luma
            } else {
                luma.crop(bx, by, bw, bh)
            };
            trimmed.hash().hash
        })
        .collect()
}

impl Fingerprint {
    /// Decodes and measures `path`. `masks` come from the composition when the engine made
    /// the file; files from elsewhere get none.
    pub fn compute(path: &Path, masks: &Masks) -> Result<Fingerprint, DedupError> {
        let kind = MediaKind::of_path(path).ok_or_else(|| DedupError::Unsupported {
            path: path.to_path_buf(),
        })?;
        let (sha256, bytes) = sha256_file(path)?;
        match kind {
            MediaKind::Image => {
                let img = load_still(path)?;
                Ok(Self::from_still(path, sha256, bytes, &img, masks))
            }
            MediaKind::Video => {
                // Frames at most 512 px on the long side: PDQ filters down to 64×64 anyway,
                // and keypoints work at 512. Sparse: one frame a second does not need the
                // frames nothing refers to, and not decoding them halves the cost (on the
                // engine's renders the sampled hashes came out identical).
                let clip = crate::media::VideoClip::open_sparse(
                    path,
                    0.0,
                    MAX_VIDEO_SECONDS,
                    VIDEO_FPS,
                    FRAME_SIDE,
                    FRAME_SIDE,
                    &crate::media::Limits::default(),
                )
                .map_err(|source| DedupError::Video {
                    path: path.to_path_buf(),
                    source,
                })?;
                let frames: Vec<&RgbaImage> = (0..clip.len()).map(|i| clip.frame(i)).collect();
                Self::from_frames(
                    path,
                    sha256,
                    bytes,
                    &frames,
                    clip.width,
                    clip.height,
                    clip.duration,
                    masks,
                )
            }
        }
    }

    pub fn from_still(
        path: &Path,
        sha256: String,
        bytes: u64,
        img: &RgbaImage,
        masks: &Masks,
    ) -> Fingerprint {
        let plane = hash_plane(img);
        let mut fp = Self::still_hashes(path, sha256, bytes, img.dimensions(), &plane, masks, true);
        let reduced = sample_frame(img);
        fp.absorb(Detail::measure(Some(&reduced)), turned_hashes(&reduced));
        fp
    }

    /// As `from_still`, measuring only the hashes now; keypoints, flatness and turned-back
    /// hashes wait until a rule needs them (`detail`, `turned`) and are then measured from
    /// the file at `path`, which must hold the still as encoded. `plane` is the still's
    /// `hash_plane`; `size` is the still's own.
    ///
    /// The centre crops' hashes only when `crops`: they let a cropped copy made elsewhere
    /// find this output *in a library*; within a run, two composed outputs are never a
    /// crop of each other, and without a library the crops only ordered the earlier
    /// outputs for keypoint geometry, which composed stills do not run. They were 1.6 % of
    /// a 576-image catalog batch's CPU (`perf`, 2026-12-06).
    pub(crate) fn from_still_deferred(
        path: &Path,
        (sha256, bytes): (String, u64),
        size: (u32, u32),
        plane: &RgbaImage,
        masks: &Masks,
        crops: bool,
    ) -> Fingerprint {
        let mut fp = Self::still_hashes(path, sha256, bytes, size, plane, masks, crops);
        fp.later = Some(std::sync::Arc::default());
        fp
    }

    /// The hashes of a still of `width`×`height`, from its `hash_plane`: PDQ filters down
    /// to 64×64 anyway, and the Jarosz filter over a full 1080×1440 plane, once per hash,
    /// was the largest cost of scoring a main image. The evaluation harness
    /// (`benches/dedup_eval.rs`) measured the same recall and no false positive with it
    /// (BENCHMARKS.md, *Duplicate gate*).
    fn still_hashes(
        path: &Path,
        sha256: String,
        bytes: u64,
        (width, height): (u32, u32),
        plane: &RgbaImage,
        masks: &Masks,
        crops: bool,
    ) -> Fingerprint {
        let luma = pdq::Luma::of(plane);
        let (frame, trimmed) = hash_luma(&luma, plane, 0.0, masks);
        Fingerprint {
            path: path.to_path_buf(),
            sha256,
            bytes,
            kind: MediaKind::Image,
            width,
            height,
            duration: 0.0,
            frames: vec![FrameHash {
                crops: match crops {
                    true => crop_hashes(&trimmed),
                    false => Vec::new(),
                },
                ..frame
            }],
            features: Features::default(),
            features_mirrored: Features::default(),
            flatness: Vec::new(),
            later: None,
            unmeasured: false,
        }
    }

    /// Keypoints, mirrored keypoints and flatness, measured now if they were deferred.
    pub(crate) fn detail(&self) -> DetailRef<'_> {
        match &self.later {
            None => DetailRef {
                features: &self.features,
                features_mirrored: &self.features_mirrored,
                flatness: &self.flatness,
            },
            Some(l) => {
                let d = l
                    .made
                    .get_or_init(|| Detail::measure(l.reduced(&self.path)));
                DetailRef {
                    features: &d.features,
                    features_mirrored: &d.features_mirrored,
                    flatness: &d.flatness,
                }
            }
        }
    }

    /// A still's hashes of its centre turned back by each of `TURNS` (measured now if they
    /// were deferred); empty for videos.
    pub(crate) fn turned(&self) -> &[Hash256] {
        match &self.later {
            None => self.frames.first().map(|f| &f.turned[..]).unwrap_or(&[]),
            Some(l) => l
                .turned
                .get_or_init(|| l.reduced(&self.path).map(turned_hashes).unwrap_or_default()),
        }
    }

    /// The keypoints, if they were measured (a deferred still's only once a rule asked).
    pub(crate) fn measured_features(&self) -> Option<&Features> {
        match &self.later {
            None if self.unmeasured => None,
            None => Some(&self.features),
            Some(l) => l.made.get().map(|d| &d.features),
        }
    }

    /// Once scored: what was measured stays, what was not never will be (the staged file it
    /// would be read from is about to be published under another name). Scoring it again
    /// would see no keypoints; nothing does.
    pub(crate) fn settle(mut self) -> Fingerprint {
        let Some(l) = self.later.take() else {
            return self;
        };
        match std::sync::Arc::try_unwrap(l) {
            Ok(l) => {
                let turned = l.turned.into_inner().unwrap_or_default();
                match l.made.into_inner() {
                    Some(d) => self.absorb(d, turned),
                    None => {
                        self.frames[0].turned = turned;
                        self.unmeasured = true;
                    }
                }
            }
            Err(shared) => self.later = Some(shared),
        }
        self
    }

    /// Every measurement made, the deferred ones too: for a fingerprint that leaves the
    /// process or must compare like one made from the file.
    pub(crate) fn completed(mut self) -> Fingerprint {
        if self.later.is_none() {
            return self;
        }
        let turned = self.turned().to_vec();
        let d = self.detail();
        let d = Detail {
            features: d.features.clone(),
            features_mirrored: d.features_mirrored.clone(),
            flatness: d.flatness.to_vec(),
        };
        self.later = None;
        self.absorb(d, turned);
        self
    }

    /// A still's deferred measurements into the fields every reader sees.
    fn absorb(&mut self, d: Detail, turned: Vec<Hash256>) {
        self.features = d.features;
        self.features_mirrored = d.features_mirrored;
        self.flatness = d.flatness;
        self.frames[0].turned = turned;
    }

    /// Frames sampled at 1 fps; frames with quality < 50 are dropped as in vPDQ.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_frames(
        path: &Path,
        sha256: String,
        bytes: u64,
        frames: &[&RgbaImage],
        width: u32,
        height: u32,
        duration: f64,
        masks: &Masks,
    ) -> Result<Fingerprint, DedupError> {
        use rayon::prelude::*;
        let hashed: Vec<FrameHash> = frames
            .par_iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let luma = pdq::Luma::of(f);
                let (frame, trimmed) = hash_luma(&luma, f, i as f32 / VIDEO_FPS as f32, masks);
                (frame.quality >= pdq::MIN_QUALITY).then(|| {
                    let mut views = video_turned_hashes(&trimmed.copied());
                    views.extend(video_corner_hashes(f));
                    FrameHash {
                        turned: views,
                        thumb: geometry::Thumb::of_frame(f, geometry::SECOND_THUMB_SIDE),
                        ..frame
                    }
                })
            })
            .collect();
        if hashed.is_empty() {
            return Err(DedupError::NoFrames {
                path: path.to_path_buf(),
                min_quality: pdq::MIN_QUALITY,
            });
        }
        let key = (hashed[hashed.len() / 2].t * VIDEO_FPS as f32).round() as usize;
        let features = geometry::extract(frames[key.min(frames.len() - 1)]);
        Ok(Fingerprint {
            path: path.to_path_buf(),
            sha256,
            bytes,
            kind: MediaKind::Video,
            width,
            height,
            duration,
            frames: hashed,
            features,
            features_mirrored: Features::default(),
            flatness: Vec::new(),
            later: None,
            unmeasured: false,
        })
    }

    pub fn hashes(&self) -> Vec<Hash256> {
        self.frames.iter().map(|f| f.hash()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opaque_frame_samples_the_same_without_the_alpha_pass() {
        let img = RgbaImage::from_fn(1080, 1440, |x, y| {
            image::Rgba([
                (x * 7 % 256) as u8,
                (y * 3 % 256) as u8,
                ((x ^ y) % 256) as u8,
                255,
            ])
        });
        let (w, h) = crate::media::fit_inside(1080, 1440, FRAME_SIDE, FRAME_SIDE);
        assert_eq!(sample_frame(&img), crate::media::resize(&img, w, h, None));
    }

    /// The hashes the gate made before luma planes were shared: each one from its own copy
    /// of the frame, masked or cropped in RGBA.
    fn reference(img: &RgbaImage, masks: &Masks) -> FrameHash {
        let mask = |boxes: &[[f32; 4]]| {
            let mut out = img.clone();
            for (x0, y0, x1, y1) in mask_rects(img.width(), img.height(), boxes) {
                for y in y0..y1.min(img.height()) {
                    for x in x0..x1.min(img.width()) {
                        out.put_pixel(x, y, image::Rgba([128, 128, 128, 255]));
                    }
                }
            }
            out
        };
        let d = pdq::fingerprint(img);
        let trimmed = pdq::trim_borders(img);
        let (w, h) = trimmed.dimensions();
        let crops = [0.9f32, 0.8]
            .iter()
            .map(|f| {
                let (cw, ch) = (((w as f32) * f) as u32, ((h as f32) * f) as u32);
                let c = image::imageops::crop_imm(
                    &trimmed,
                    (w - cw) / 2,
                    (h - ch) / 2,
                    cw.max(1),
                    ch.max(1),
                );
                pdq::hash(&c.to_image()).hash
            })
            .collect();
        FrameHash {
            t: 0.0,
            orientations: d.hashes,
            quality: d.quality,
            scene: masks.product_box.map(|b| pdq::hash(&mask(&[b])).hash),
            textless: (!masks.text_boxes.is_empty())
                .then(|| pdq::hash(&mask(&masks.text_boxes)).hash),
            crops,
            turned: Vec::new(),
            thumb: geometry::Thumb::default(),
        }
    }

    /// A still with a letterbox bar (so trimming crops), texture, and boxes that run off
    /// the frame: every hash made from the shared plane equals the per-copy hash.
    #[test]
    fn shared_luma_plane_hashes_like_separate_copies() {
        let (w, h) = (203u32, 157u32);
        let img = RgbaImage::from_fn(w, h, |x, y| {
            if y < 20 {
                image::Rgba([0, 0, 0, 255])
            } else {
                let v = ((x * 37 + y * 11) ^ (x * y)) as u8;
                image::Rgba([v, v.wrapping_mul(3), 255 - v, 255])
            }
        });
        let masks = Masks {
            product_box: Some([0.3, 0.25, 0.5, 0.6]),
            text_boxes: vec![[0.05, 0.8, 0.9, 0.3], [-0.1, 0.0, 0.2, 0.1]],
        };
        let want = reference(&img, &masks);
        let fp = Fingerprint::from_still(Path::new("x.png"), String::new(), 0, &img, &masks);
        let got = &fp.frames[0];
        assert_eq!(got.orientations, want.orientations);
        assert_eq!(got.quality, want.quality);
        assert_eq!(got.scene, want.scene);
        assert_eq!(got.textless, want.textless);
        assert_eq!(got.crops, want.crops);
        assert_eq!(fp.features, geometry::extract(&img));
        assert_eq!(fp.features_mirrored, geometry::extract_mirrored(&img));
    }
}
