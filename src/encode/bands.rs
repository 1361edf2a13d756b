//! Output JPEGs in bands of rows, with a restart marker between bands, so that the stills
//! sharing a baked plate (`render::OverPlate`) encode only the bands their copy touches and
//! take the others' bytes from the first still that encoded them.
//!
//! Why it is exact: at 4:4:4 every 8×8 block is converted, transformed and quantized from its
//! own pixels alone, so a band encoded on its own holds the same coefficients as the same rows
//! of the whole picture. A restart marker byte-aligns the entropy-coded data and resets the DC
//! predictions, which is exactly how a band encoded on its own begins (DC predictions at zero)
//! and ends (its last byte padded with one-bits). libjpeg-turbo writes the same tables for every
//! band of a quality (the standard Huffman tables; Huffman optimization is off in TurboJPEG), so
//! one header serves them all: `stitch` checks that and falls back to one whole encode if not.
//! A stitched file decodes to the same pixels as one encode of the whole picture
//! (`tests::stitched_bands_decode_like_one_encode`), and is 2 bytes a band larger.
//!
//! Every output JPEG is written in bands, shared or not, so its bytes do not depend on which
//! bands a cache held: the same template gives the same files however jobs are ordered.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use image::RgbaImage;
use turbojpeg::Image;

use super::still::{compress_jpeg, jpeg_source, Chroma};
use crate::cache::Bounded;
use crate::render::OverPlate;

/// Rows per band, a multiple of 8 (one MCU row at 4:4:4). Encoding an 800×800 and a
/// 1080×1440 catalog image in bands of 8, 16, 32, 64 and 128 rows against one encode (best of
/// 30, 2026-12-06): 64 costs 1–3 % more than one encode, 16 costs 8–17 %; a caption line of a
/// main image spans two or three bands of 64.
const BAND_ROWS: u32 = 64;

/// Bytes of band JPEGs kept for plates at once. Stills come copy fastest, so the ones sharing
/// a plate are encoded one after another: a few plates per worker are what is reused. A
/// 1080×1440 plate's bands are ~0.35 MB at quality 90.
const PLATE_BANDS_BYTES: usize = 32 << 20;

/// One band of rows encoded on its own: a whole JPEG, whose entropy-coded data is the band's.
struct Band {
    jpeg: Vec<u8>,
    /// Where the frame header's height is (2 bytes, big-endian).
    height_at: usize,
    /// Where the start-of-scan segment begins and ends: the band's data follows it.
    sos: Range<usize>,
}

impl Band {
    fn encode(image: Image<&[u8]>, quality: u8) -> Result<Band, turbojpeg::Error> {
        let jpeg = compress_jpeg(image, quality, Chroma::Full)?;
        let (height_at, sos) = layout(&jpeg).ok_or_else(|| {
            turbojpeg::Error::TurboJpegError(
                "libjpeg-turbo wrote a JPEG without a baseline frame and scan".into(),
            )
        })?;
        Ok(Band {
            jpeg,
            height_at,
            sos,
        })
    }

    /// The entropy-coded data, without the end-of-image marker.
    fn data(&self) -> &[u8] {
        &self.jpeg[self.sos.end..self.jpeg.len() - 2]
    }

    /// Whether `other` was written with the same header, its height aside.
    fn same_header(&self, other: &Band) -> bool {
        let (a, b) = (&self.jpeg, &other.jpeg);
        self.height_at == other.height_at
            && self.sos == other.sos
            && a[..self.height_at] == b[..self.height_at]
            && a[self.height_at + 2..self.sos.end] == b[self.height_at + 2..self.sos.end]
    }
}

/// Where a TurboJPEG output's frame height and start-of-scan segment are, if it is one
/// baseline frame and one scan ending with the end-of-image marker.
fn layout(jpeg: &[u8]) -> Option<(usize, Range<usize>)> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) || !jpeg.ends_with(&[0xFF, 0xD9]) {
        return None;
    }
    let mut i = 2;
    let mut height_at = None;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        let end = i + 2 + len;
        match marker {
            0xC0 => height_at = Some(i + 5),
            // Any other frame type (progressive, arithmetic…) or a restart interval of its
            // own: the bands could not be joined.
            0xC1..=0xCF | 0xDD if marker != 0xC4 && marker != 0xC8 && marker != 0xCC => {
                return None
            }
            0xDA => return Some((height_at?, i..end)).filter(|_| end <= jpeg.len() - 2),
            _ => {}
        }
        i = end;
    }
    None
}

/// The bands, in order, as one JPEG of `height` rows with a restart marker between bands;
/// `None` if their headers differ.
fn stitch(bands: &[Arc<Band>], width: u32, height: u32) -> Option<Vec<u8>> {
    let first = bands.first()?;
    if !bands.iter().all(|b| first.same_header(b)) {
        return None;
    }
    let h = u16::try_from(height).ok()?;
    let interval = u16::try_from(width.div_ceil(8) * (BAND_ROWS / 8)).ok()?;
    let data: usize = bands.iter().map(|b| b.data().len() + 2).sum();
    let mut out = Vec::with_capacity(first.sos.end + 6 + data + 2);
    out.extend_from_slice(&first.jpeg[..first.sos.start]);
    out[first.height_at..first.height_at + 2].copy_from_slice(&h.to_be_bytes());
    // Define Restart Interval: the MCUs of one band (8×8 pixels each at 4:4:4).
    out.extend_from_slice(&[0xFF, 0xDD, 0x00, 0x04]);
    out.extend_from_slice(&interval.to_be_bytes());
    out.extend_from_slice(&first.jpeg[first.sos.clone()]);
    for (i, b) in bands.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(&[0xFF, 0xD0 + ((i - 1) % 8) as u8]);
        }
        out.extend_from_slice(b.data());
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    Some(out)
}

/// The bands of baked plates encoded so far, by plate and quality: what the stills drawn over
/// a plate take instead of encoding those rows again. Owned by the run (`exec`).
pub(crate) struct JpegPlates {
    cache: Bounded<(usize, u8), PlateBands>,
}

impl Default for JpegPlates {
    fn default() -> Self {
        JpegPlates {
            cache: Bounded::new(PLATE_BANDS_BYTES, |p: &PlateBands| {
                p.bytes.load(Ordering::Relaxed)
            }),
        }
    }
}

struct PlateBands {
    /// Keeps the plate's allocation, so no other picture takes its address (the key) while
    /// the entry lives; the pixels themselves go when the last job drops the plate.
    _plate: Weak<RgbaImage>,
    bands: Mutex<Vec<Option<Arc<Band>>>>,
    bytes: AtomicUsize,
}

impl JpegPlates {
    fn of(&self, plate: &Arc<RgbaImage>, quality: u8) -> Arc<PlateBands> {
        let n = plate.height().div_ceil(BAND_ROWS) as usize;
        self.cache
            .get_or_make((Arc::as_ptr(plate) as usize, quality), || {
                Ok::<_, std::convert::Infallible>(PlateBands {
                    _plate: Arc::downgrade(plate),
                    bands: Mutex::new(vec![None; n]),
                    bytes: AtomicUsize::new(0),
                })
            })
            .unwrap_or_else(|never| match never {})
    }
}

impl PlateBands {
    fn get(&self, i: usize) -> Option<Arc<Band>> {
        self.lock().get(i).cloned().flatten()
    }

    fn put(&self, i: usize, band: &Arc<Band>) {
        if let Some(slot) = self.lock().get_mut(i) {
            if slot.is_none() {
                self.bytes.fetch_add(band.jpeg.len(), Ordering::Relaxed);
                *slot = Some(band.clone());
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Arc<Band>>>> {
        // Written only with whole bands: a panic elsewhere leaves it usable.
        self.bands.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `img` as an output JPEG at `quality` (4:4:4), in bands. With `over` (the plate `img` was
/// drawn over, and the run's plate bands), the bands outside the rows the still drew take the
/// plate's bytes when an earlier still encoded them, and leave theirs for the next one.
/// `opaque`: the caller's measurement of `img` (`is_opaque`); translucent pictures are
/// composited on white and share nothing.
pub(crate) fn encode_banded(
    img: &RgbaImage,
    opaque: bool,
    quality: u8,
    over: Option<(&OverPlate, &JpegPlates)>,
) -> Result<Vec<u8>, turbojpeg::Error> {
    let (w, h) = img.dimensions();
    let (source, pitch, format) = jpeg_source(img, opaque);
    let pixels = &source[..];
    let shared = over
        .filter(|(o, _)| opaque && o.plate.dimensions() == (w, h))
        .map(|(o, plates)| (plates.of(&o.plate, quality), &o.rows));
    let n = h.div_ceil(BAND_ROWS);
    let mut bands = Vec::with_capacity(n as usize);
    for i in 0..n {
        let rows = i * BAND_ROWS..((i + 1) * BAND_ROWS).min(h);
        let memo = shared.as_ref().and_then(|(memo, drawn)| {
            let untouched = drawn
                .iter()
                .all(|d| d.end <= rows.start || d.start >= rows.end);
            untouched.then_some(memo)
        });
        if let Some(band) = memo.and_then(|m| m.get(i as usize)) {
            bands.push(band);
            continue;
        }
        let band = Arc::new(Band::encode(
            Image {
                pixels: &pixels[rows.start as usize * pitch..rows.end as usize * pitch],
                width: w as usize,
                pitch,
                height: rows.len(),
                format,
            },
            quality,
        )?);
        if let Some(m) = memo {
            m.put(i as usize, &band);
        }
        bands.push(band);
    }
    match stitch(&bands, w, h) {
        Some(jpeg) => Ok(jpeg),
        // Not expected of libjpeg-turbo (see the module's doc); one encode is still right.
        None => compress_jpeg(
            Image {
                pixels,
                width: w as usize,
                pitch,
                height: h as usize,
                format,
            },
            quality,
            Chroma::Full,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use turbojpeg::PixelFormat;

    /// A picture with detail in every block, so that a wrong band shows.
    fn picture(w: u32, h: u32, seed: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let v = x.wrapping_mul(31) ^ y.wrapping_mul(17) ^ seed;
            image::Rgba([
                (v % 251) as u8,
                (x * 3 + y) as u8,
                (y * 5 + seed) as u8,
                255,
            ])
        })
    }

    /// libjpeg-turbo's decode (Chromium's decoder) as RGB.
    fn decode(jpeg: &[u8]) -> Vec<u8> {
        turbojpeg::decompress(jpeg, PixelFormat::RGB)
            .expect("libjpeg-turbo decodes it")
            .pixels
    }

    /// The `image` crate's (zune-jpeg), a decoder of its own.
    fn decode_zune(jpeg: &[u8]) -> Vec<u8> {
        image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
            .expect("zune-jpeg decodes it")
            .into_rgb8()
            .into_raw()
    }

    fn whole(img: &RgbaImage) -> Vec<u8> {
        compress_jpeg(
            Image {
                pixels: img.as_raw(),
                width: img.width() as usize,
                pitch: img.width() as usize * 4,
                height: img.height() as usize,
                format: PixelFormat::RGBA,
            },
            90,
            Chroma::Full,
        )
        .unwrap()
    }

    /// Sizes that are not multiples of 8 nor of a band, and one band alone: the stitched file
    /// decodes (libjpeg-turbo and FFmpeg) to exactly what one encode of the picture does.
    #[test]
    fn stitched_bands_decode_like_one_encode() {
        for (w, h) in [(203, 150), (64, 64), (17, 200), (800, 129)] {
            let img = picture(w, h, 7);
            let banded = encode_banded(&img, true, 90, None).unwrap();
            assert_eq!(decode(&banded), decode(&whole(&img)), "{w}×{h}");
            let n = h.div_ceil(BAND_ROWS) as usize;
            let restarts = banded
                .windows(2)
                .filter(|p| p[0] == 0xFF && (0xD0..=0xD7).contains(&p[1]))
                .count();
            assert_eq!(restarts, n - 1, "{w}×{h}: a restart marker between bands");
            let header = turbojpeg::read_header(&banded).unwrap();
            assert_eq!((header.width, header.height), (w as usize, h as usize));
        }
        let img = picture(203, 150, 3);
        let (banded, whole) = (encode_banded(&img, true, 90, None).unwrap(), whole(&img));
        assert_eq!(
            decode_zune(&banded),
            decode_zune(&whole),
            "zune-jpeg reads it alike"
        );
    }

    /// Stills over one plate: the second takes the bands the first left and encodes only the
    /// rows it drew, and each decodes like one encode of its own picture.
    #[test]
    fn a_still_takes_the_plate_bands_an_earlier_still_encoded() {
        let plate = Arc::new(picture(160, 300, 1));
        let plates = JpegPlates::default();
        let draw = |rows: Range<u32>, seed: u32| {
            let mut img = (*plate).clone();
            let copy = picture(160, rows.len() as u32, seed);
            for y in rows.clone() {
                for x in 0..160 {
                    img.put_pixel(x, y, *copy.get_pixel(x, y - rows.start));
                }
            }
            (
                img,
                OverPlate {
                    plate: plate.clone(),
                    rows: vec![rows],
                },
            )
        };
        let (a, over_a) = draw(10..40, 2);
        let (b, over_b) = draw(200..230, 3);
        let ja = encode_banded(&a, true, 90, Some((&over_a, &plates))).unwrap();
        let memo = plates.of(&plate, 90);
        let held: Vec<bool> = memo.lock().iter().map(Option::is_some).collect();
        assert_eq!(
            held,
            [false, true, true, true, true],
            "band 0 holds a's copy"
        );
        let jb = encode_banded(&b, true, 90, Some((&over_b, &plates))).unwrap();
        let held: Vec<bool> = memo.lock().iter().map(Option::is_some).collect();
        assert_eq!(held, [true, true, true, true, true], "b left band 0");
        assert_eq!(decode(&ja), decode(&whole(&a)));
        assert_eq!(decode(&jb), decode(&whole(&b)));
        // The same bytes as without the plate: a file does not depend on what was cached.
        assert_eq!(jb, encode_banded(&b, true, 90, None).unwrap());
    }
}
