//! Still images (backgrounds, product cut-outs) via the `image` crate, with decode limits.

use std::io::Cursor;
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage, RgbaImage};

use super::{Limits, MediaError};

pub(super) fn load_image(path: &Path, limits: &Limits) -> Result<RgbaImage, MediaError> {
    load_dynamic(path, limits).map(DynamicImage::into_rgba8)
}

/// A picture as decoded: RGB when the file has no alpha channel (a JPEG), else RGBA.
pub(crate) enum Picture {
    Opaque(RgbImage),
    Alpha(RgbaImage),
}

pub(super) fn load_picture(path: &Path, limits: &Limits) -> Result<Picture, MediaError> {
    let img = load_dynamic(path, limits)?;
    Ok(if img.color().has_alpha() {
        Picture::Alpha(img.into_rgba8())
    } else {
        Picture::Opaque(img.into_rgb8())
    })
}

/// A JPEG decoded by libjpeg-turbo with its DCT scaling at the smallest of 1/8, 1/4, 1/2
/// and 1 that still covers its size fitted inside `max`×`max`, as RGB, with the file's own
/// size; `None` when the file is not a JPEG or is larger than `limits` allows (the caller's
/// full decode then says why). No EXIF orientation is applied: it is for the factory's own
/// outputs, which carry none.
pub(super) fn load_jpeg_covering(
    path: &Path,
    max: u32,
    limits: &Limits,
) -> Result<Option<(RgbImage, u32, u32)>, MediaError> {
    use turbojpeg::{Decompressor, Image, PixelFormat};
    let bytes = std::fs::read(path).map_err(|source| MediaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(None);
    }
    let failed =
        |e: turbojpeg::Error| MediaError::decode(path, format!("cannot decode JPEG image ({e})"));
    let mut d = Decompressor::new().map_err(failed)?;
    let head = d.read_header(&bytes).map_err(failed)?;
    let (fw, fh) = (head.width, head.height);
    if fw as u64 * fh as u64 > limits.max_image_pixels {
        return Ok(None);
    }
    let (w, h) = super::fit_inside(fw as u32, fh as u32, max, max);
    // libjpeg-turbo scales a side by 1/k as ceil(side / k); asked for exactly that size it
    // decodes at 1/k.
    let (sw, sh) = [8, 4, 2, 1]
        .into_iter()
        .map(|k: usize| (fw.div_ceil(k), fh.div_ceil(k)))
        .find(|&(sw, sh)| sw >= w as usize && sh >= h as usize)
        .unwrap_or((fw, fh));
    let mut pixels = vec![0u8; sw * sh * 3];
    d.decompress(
        &bytes,
        Image {
            pixels: pixels.as_mut_slice(),
            width: sw,
            pitch: sw * 3,
            height: sh,
            format: PixelFormat::RGB,
        },
    )
    .map_err(failed)?;
    let img =
        RgbImage::from_raw(sw as u32, sh as u32, pixels).expect("a buffer of the image's size");
    Ok(Some((img, fw as u32, fh as u32)))
}

fn load_dynamic(path: &Path, limits: &Limits) -> Result<DynamicImage, MediaError> {
    let decode = |message: String| MediaError::decode(path, message);
    let meta = std::fs::metadata(path).map_err(|source| MediaError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(decode("not a regular file".into()));
    }
    let bytes = std::fs::read(path).map_err(|source| MediaError::Io {
        path: path.to_path_buf(),
        source,
    })?;

    // Sniff the content rather than trusting the extension: a renamed text file or a JPEG
    // saved as `.png` should get a message about what the bytes are.
    let format = match image::guess_format(&bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP)) => f,
        Ok(other) => {
            return Err(decode(format!(
                "not a PNG/JPEG/WebP image (content looks like {other:?}, which is not supported)"
            )))
        }
        Err(_) => {
            let head: String = bytes
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ");
            return Err(decode(format!(
                "not a PNG/JPEG/WebP image (unrecognised content, first bytes: {head})"
            )));
        }
    };

    // Check the header's dimensions before any pixel buffer exists: a 50 000×50 000 PNG is a
    // few KB on disk and 10 GB in memory.
    let (w, h) = ImageReader::with_format(Cursor::new(&bytes[..]), format)
        .into_dimensions()
        .map_err(|e| {
            MediaError::decode_failed(
                path,
                format_args!("corrupt {} header", format_name(format)),
                e,
            )
        })?;
    let pixels = w as u64 * h as u64;
    if pixels > limits.max_image_pixels {
        return Err(MediaError::Limit {
            path: path.to_path_buf(),
            message: format!(
                "{w}×{h} = {pixels} pixels exceeds the limit of {} pixels; downscale the image \
                 (the largest canvas needs far fewer) or raise the image pixel limit",
                limits.max_image_pixels
            ),
        });
    }
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(w);
    lim.max_image_height = Some(h);
    // 16 bytes per pixel covers 16-bit RGBA plus the RGBA8 copy we convert into.
    lim.max_alloc = Some(limits.max_image_pixels.saturating_mul(16));
    let mut reader = ImageReader::with_format(Cursor::new(&bytes[..]), format);
    reader.limits(lim);
    let corrupt = |e: image::ImageError| {
        MediaError::decode_failed(
            path,
            format_args!("cannot decode {} image", format_name(format)),
            e,
        )
    };
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // Phone photos store pixels sideways plus an EXIF orientation tag; composing them
    // without applying it puts products on their side.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        _ => "image",
    }
}
