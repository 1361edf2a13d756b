//! JPEG/PNG/WebP output with the stamp as XMP.

use std::io::Write;
use std::path::Path;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::{codec, encoder, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbaImage};

use super::{xmp, EncodeError, Stamp};
use crate::media::ffio;
use crate::preset::{ImageFormat, ImageSpec};

/// `opaque`: whether every pixel of `img` has alpha 255, which the caller has measured.
pub(super) fn write_image(
    path: &Path,
    img: &RgbaImage,
    opaque: bool,
    spec: &ImageSpec,
    stamp: &Stamp,
    over: Option<(&crate::render::OverPlate, &super::JpegPlates)>,
) -> Result<(), EncodeError> {
    let xmp_err = |source| EncodeError::Xmp {
        path: path.to_path_buf(),
        source,
    };
    let image_err = |what: &str, source: image::ImageError| EncodeError::Image {
        path: path.to_path_buf(),
        message: format!("{what} ({source})"),
        source: Box::new(source),
    };
    let packet = xmp::build_packet(&stamp.0).map_err(xmp_err)?;
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(EncodeError::Format {
            path: path.to_path_buf(),
            message: "image has no pixels".into(),
        });
    }
    let bytes = match spec.format {
        ImageFormat::Jpeg => {
            if w > u32::from(u16::MAX) || h > u32::from(u16::MAX) {
                return Err(EncodeError::Format {
                    path: path.to_path_buf(),
                    message: format!("{w}×{h} is larger than JPEG allows (65,535 on a side)"),
                });
            }
            let buf =
                super::bands::encode_banded(img, opaque, spec.quality, over).map_err(|source| {
                    EncodeError::Jpeg {
                        path: path.to_path_buf(),
                        source,
                    }
                })?;
            xmp::jpeg_insert(&buf, &packet).map_err(xmp_err)?
        }
        ImageFormat::Png => {
            let mut buf = Vec::new();
            // Opaque images are written as RGB: a quarter smaller, and some marketplaces
            // reject main images that carry an alpha channel.
            if opaque {
                let rgb = flatten_on_white(img);
                PngEncoder::new(&mut buf).write_image(&rgb, w, h, ExtendedColorType::Rgb8)
            } else {
                PngEncoder::new(&mut buf).write_image(img.as_raw(), w, h, ExtendedColorType::Rgba8)
            }
            .map_err(|e| image_err("PNG encoding failed", e))?;
            xmp::png_insert(&buf, &packet).map_err(xmp_err)?
        }
        ImageFormat::Webp => {
            let alpha = !opaque;
            let buf = encode_webp(img, spec.quality, alpha)
                .map_err(|e| EncodeError::ffmpeg(path, "WebP encoding failed", e))?;
            xmp::webp_insert(&buf, &packet, w, h, alpha).map_err(xmp_err)?
        }
    };
    let mut f = std::fs::File::create(path).map_err(|source| EncodeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    f.write_all(&bytes)
        .and_then(|_| f.sync_data())
        .map_err(|source| EncodeError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// How a JPEG stores its colour: `Full` (4:4:4) for outputs, whose small coloured captions
/// 4:2:0 would blur; `Half` (4:2:0) for the review page's thumbnails, shown at a fraction of
/// an output's size, where halved colour is not seen and the encode costs about a third
/// less (thumbnails were 13 % of a 576-image catalog batch's CPU, `perf` 2026-12-06).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chroma {
    Full,
    Half,
}

/// A review-page thumbnail's JPEG, at `Chroma::Half`.
pub(crate) fn encode_thumbnail_jpeg(
    img: &RgbaImage,
    quality: u8,
) -> Result<Vec<u8>, turbojpeg::Error> {
    encode_rgba(img, is_opaque(img), quality, Chroma::Half)
}

fn encode_rgba(
    img: &RgbaImage,
    opaque: bool,
    quality: u8,
    chroma: Chroma,
) -> Result<Vec<u8>, turbojpeg::Error> {
    let (pixels, pitch, format) = jpeg_source(img, opaque);
    let image = turbojpeg::Image {
        pixels: &pixels[..],
        width: img.width() as usize,
        pitch,
        height: img.height() as usize,
        format,
    };
    compress_jpeg(image, quality, chroma)
}

/// What libjpeg-turbo reads for `img`, with its row pitch: the RGBA as it is when `opaque`
/// (the encoder drops alpha), else RGB composited on white.
pub(super) fn jpeg_source(
    img: &RgbaImage,
    opaque: bool,
) -> (std::borrow::Cow<'_, [u8]>, usize, turbojpeg::PixelFormat) {
    let w = img.width() as usize;
    if opaque {
        (
            img.as_raw().as_slice().into(),
            w * 4,
            turbojpeg::PixelFormat::RGBA,
        )
    } else {
        (
            flatten_on_white(img).into(),
            w * 3,
            turbojpeg::PixelFormat::RGB,
        )
    }
}

/// Packed RGB as a JPEG (`compress_jpeg`), with its `Chroma`.
pub(crate) fn encode_jpeg_rgb(
    rgb: &[u8],
    w: usize,
    h: usize,
    quality: u8,
    chroma: Chroma,
) -> Result<Vec<u8>, turbojpeg::Error> {
    use turbojpeg::{Image, PixelFormat};
    compress_jpeg(
        Image {
            pixels: rgb,
            width: w,
            pitch: w * 3,
            height: h,
            format: PixelFormat::RGB,
        },
        quality,
        chroma,
    )
}

/// Baseline JPEG through libjpeg-turbo (the TurboJPEG API; SIMD colour conversion, DCT and
/// Huffman coding). Measured against jpeg-encoder 0.7's AVX2 path at quality 90, 4:4:4, on the
/// catalog's own renders (min of 60 encodes each, 2026-12-05): 800×800 7.3 → 2.7 ms and
/// 11.0 → 2.3 ms, 1080×1440 18.8 → 6.8 ms and 43.3 → 8.9 ms, 1000×1000 white 27.1 → 3.4 ms
/// (2.7–7.9×); files 0.1–0.3 % larger and 0.2–0.3 dB lower PSNR against the render at the
/// same quality setting (libjpeg's integer DCT). jpeg-encoder had replaced `image`'s scalar
/// encoder, 40 % of a catalog batch's CPU with the gate off; it was still 41 % after the
/// backdrop cache (BENCHMARKS.md, *Main images at catalog scale*). The `turbojpeg` 0.5 crate,
/// linked through pkg-config: Debian 12 ships libturbojpeg 2.1, and the crate's 1.x needs
/// 3.0. Chroma is kept at full resolution (4:4:4), as before: main images carry small
/// coloured captions whose edges 4:2:0 would blur. Opaque pictures are read as RGBA directly
/// (the encoder drops alpha); others are composited on white first. Outputs are encoded
/// in bands of rows (`bands::encode_banded`).
pub(super) fn compress_jpeg(
    image: turbojpeg::Image<&[u8]>,
    quality: u8,
    chroma: Chroma,
) -> Result<Vec<u8>, turbojpeg::Error> {
    use turbojpeg::{Compressor, Subsamp};
    thread_local! {
        // One compressor per thread: creating one allocates libjpeg's state and tables.
        static COMPRESSOR: std::cell::RefCell<Option<Compressor>> = const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let c = match &mut *cell {
            Some(c) => c,
            None => cell.insert(Compressor::new()?),
        };
        c.set_quality(i32::from(quality.clamp(1, 100)));
        c.set_subsamp(match chroma {
            Chroma::Full => Subsamp::None,
            Chroma::Half => Subsamp::Sub2x2,
        });
        c.compress_to_vec(image)
    })
}

/// The width and height a JPEG file's bytes declare, once they are known to be one whole
/// baseline JPEG: the start-of-image marker, a frame header libjpeg-turbo reads, and the
/// end-of-image marker last, which a file cut short by a full disk or a crash lacks. This
/// is how a staged JPEG is read back (`export::verify`): opening it through FFmpeg's
/// demuxer to read the same header was 5 % of a 576-image catalog batch's CPU (`perf`,
/// 2026-12-06), and the bytes are read once for the sha256 anyway.
pub(crate) fn read_back_jpeg(path: &Path, data: &[u8]) -> Result<(u32, u32), EncodeError> {
    let bad = |message: String| EncodeError::Format {
        path: path.to_path_buf(),
        message,
    };
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err(bad("not a JPEG file (no start-of-image marker)".into()));
    }
    if !data.ends_with(&[0xFF, 0xD9]) {
        return Err(bad(format!(
            "JPEG cut short: {} bytes and no end-of-image marker",
            data.len()
        )));
    }
    let header =
        turbojpeg::read_header(data).map_err(|e| bad(format!("unreadable JPEG header: {e}")))?;
    // libjpeg-turbo reads a header-less SOI…EOI as 0×0 without an error.
    if header.width == 0 || header.height == 0 {
        return Err(bad("unreadable JPEG header: no frame size".into()));
    }
    let side = |v: usize| u32::try_from(v).map_err(|_| bad(format!("JPEG side {v} px")));
    Ok((side(header.width)?, side(header.height)?))
}

/// Whether every pixel's alpha is 255. Pixels are ANDed as words, 64 at a time, rather
/// than tested one by one with an early exit, which does not vectorise: the per-pixel test
/// was 1.6 % of a catalog batch's CPU (`perf`, 2026-12-05).
pub(crate) fn is_opaque(img: &RgbaImage) -> bool {
    const ALPHA: u64 = u64::from_le_bytes([0, 0, 0, 255, 0, 0, 0, 255]);
    let raw = img.as_raw();
    let mut blocks = raw.chunks_exact(256);
    let all = |b: &[u8]| {
        let mut words = b.chunks_exact(8);
        let and = words.by_ref().fold(u64::MAX, |a, w| {
            a & u64::from_le_bytes(w.try_into().expect("8 bytes"))
        });
        // A block's last pixel when its length is an odd number of pixels.
        let last = words.remainder().get(3).is_none_or(|&a| a == 255);
        and & ALPHA == ALPHA && last
    };
    blocks.all(&all) && all(blocks.remainder())
}

/// RGB8 of `img` composited over white (JPEG has no alpha; white is what marketplaces show
/// behind a cut-out).
fn flatten_on_white(img: &RgbaImage) -> Vec<u8> {
    let mut rgba = img.as_raw().clone();
    crate::media::over_backdrop::<255, true>(&mut rgba);
    rgba.chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// Encodes through FFmpeg's libwebp wrapper. Lossy (VP8) at `quality` 1–99, which is what ad
/// platforms expect from WebP; `quality` 100 switches to lossless (VP8L) from the exact RGBA.
fn encode_webp(img: &RgbaImage, quality: u8, alpha: bool) -> Result<Vec<u8>, ffmpeg::Error> {
    ffio::init();
    let (w, h) = img.dimensions();
    let lossless = quality >= 100;
    let pix = if lossless {
        // libwebp's packed input is AV_PIX_FMT_RGB32, i.e. BGRA byte order on the
        // little-endian machines we build for.
        Pixel::BGRA
    } else if alpha {
        Pixel::YUVA420P
    } else {
        Pixel::YUV420P
    };
    let codec = encoder::find_by_name("libwebp").ok_or(ffmpeg::Error::EncoderNotFound)?;
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()?;
    enc.set_width(w);
    enc.set_height(h);
    enc.set_format(pix);
    enc.set_time_base(Rational(1, 1));
    let mut opts = Dictionary::new();
    opts.set("lossless", if lossless { "1" } else { "0" });
    opts.set("quality", &quality.clamp(1, 100).to_string());
    let mut enc = enc.open_with(opts)?;
    let frame = if lossless {
        // Exact RGBA → BGRA byte swap; no colour conversion may touch lossless pixels.
        let mut f = ffmpeg::frame::Video::new(Pixel::BGRA, w, h);
        let stride = f.stride(0);
        let data = f.data_mut(0);
        for (y, row) in img.as_raw().chunks_exact(w as usize * 4).enumerate() {
            for (d, s) in data[y * stride..]
                .chunks_exact_mut(4)
                .zip(row.chunks_exact(4))
            {
                d.copy_from_slice(&[s[2], s[1], s[0], s[3]]);
            }
        }
        f
    } else {
        Rgb2Yuv::bt601(w, h, pix)?.convert(img, pix)?
    };
    enc.send_frame(&frame)?;
    enc.send_eof()?;
    let mut pkt = Packet::empty();
    let mut out = Vec::new();
    while enc.receive_packet(&mut pkt).is_ok() {
        // libwebp's packet is a complete RIFF/WEBP file.
        out.extend_from_slice(pkt.data().unwrap_or(&[]));
    }
    if out.is_empty() {
        return Err(ffmpeg::Error::InvalidData);
    }
    Ok(out)
}

/// RGBA → yuv420p through swscale, BT.601 limited range: used for WebP (what VP8 assumes),
/// where odd dimensions must work and one conversion per file makes speed irrelevant. Video
/// frames go through `yuv::rgba_to_yuv420` instead.
pub(crate) struct Rgb2Yuv {
    ctx: scaling::Context,
}

impl Rgb2Yuv {
    pub(crate) fn bt601(w: u32, h: u32, dst: Pixel) -> Result<Rgb2Yuv, ffmpeg::Error> {
        Ok(Rgb2Yuv {
            ctx: scaling::Context::get(Pixel::RGBA, w, h, dst, w, h, scaling::Flags::BILINEAR)?,
        })
    }

    pub(crate) fn convert(
        &mut self,
        img: &RgbaImage,
        dst: Pixel,
    ) -> Result<frame::Video, ffmpeg::Error> {
        let (w, h) = img.dimensions();
        let mut src = frame::Video::new(Pixel::RGBA, w, h);
        copy_rgba_into(img, &mut src);
        let mut out = frame::Video::new(dst, w, h);
        self.ctx.run(&src, &mut out)?;
        Ok(out)
    }
}

pub(crate) fn copy_rgba_into(img: &RgbaImage, f: &mut frame::Video) {
    let w = img.width() as usize * 4;
    let stride = f.stride(0);
    let data = f.data_mut(0);
    for (y, row) in img.as_raw().chunks_exact(w).enumerate() {
        data[y * stride..y * stride + w].copy_from_slice(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole JPEG reads back at its size; cut anywhere, or not a JPEG, it is refused with
    /// the file named and the reason.
    #[test]
    fn a_jpeg_reads_back_whole_and_a_cut_one_is_refused() {
        let img = RgbaImage::from_fn(48, 32, |x, y| {
            image::Rgba([x as u8 * 5, y as u8 * 7, 90, 255])
        });
        let data = super::super::bands::encode_banded(&img, true, 90, None).unwrap();
        let path = Path::new("out/US_Tmall_Main_v1.jpg");
        assert_eq!(read_back_jpeg(path, &data).unwrap(), (48, 32));
        for cut in [data.len() - 1, data.len() / 2, 3] {
            let e = read_back_jpeg(path, &data[..cut]).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("out/US_Tmall_Main_v1.jpg: JPEG cut short: {cut} bytes and no end-of-image marker")
            );
        }
        let e = read_back_jpeg(path, b"\x89PNG....")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "out/US_Tmall_Main_v1.jpg: not a JPEG file (no start-of-image marker)"
        );
        // Both markers but no frame header between them.
        let e = read_back_jpeg(path, &[0xFF, 0xD8, 0xFF, 0xD9])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("out/US_Tmall_Main_v1.jpg: unreadable JPEG header: "),
            "{e}"
        );
    }

    /// One pixel short of opaque, in a whole block of 64 or in the tail, is not opaque.
    #[test]
    fn is_opaque_finds_one_translucent_pixel_anywhere() {
        let mut img = RgbaImage::from_pixel(67, 3, image::Rgba([10, 20, 30, 255]));
        assert!(is_opaque(&img));
        for (x, y) in [(0, 0), (63, 0), (64, 1), (66, 2)] {
            let mut one = img.clone();
            one.put_pixel(x, y, image::Rgba([255, 255, 255, 254]));
            assert!(!is_opaque(&one), "({x}, {y})");
        }
        img.put_pixel(5, 1, image::Rgba([0, 0, 0, 0]));
        assert!(!is_opaque(&img));
    }
}
