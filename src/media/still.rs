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
