//! Convolution resizing of RGBA8 pictures (fast_image_resize, AVX2 where the CPU has it):
//! the renderer's layers and the gate's sampled frames both go through it.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{RgbImage, RgbaImage};

/// Resizes `src` (or the `crop` rectangle of it, in source pixels) to exactly `w`×`h`.
pub(crate) fn resize(
    src: &RgbaImage,
    w: u32,
    h: u32,
    crop: Option<(f64, f64, f64, f64)>,
) -> RgbaImage {
    // Alpha-aware resizing (premultiply, resize, divide) keeps cut-out edges free of dark
    // fringes.
    resize_with(src, w, h, crop, true)
}

/// `resize` for pictures known to be opaque: skipping the alpha round trip is cheaper. A
/// full convolution (unlike `resize_opaque`), so large downscales do not alias.
pub(crate) fn resize_no_alpha(src: &RgbaImage, w: u32, h: u32) -> RgbaImage {
    resize_with(src, w, h, None, false)
}

/// `resize_no_alpha` for a picture the caller knows to be opaque, else `resize`: weighing
/// an opaque picture by its alpha changes nothing but costs a pass over every pixel.
pub(crate) fn resize_as(src: &RgbaImage, w: u32, h: u32, opaque: bool) -> RgbaImage {
    resize_with(src, w, h, None, !opaque)
}

fn resize_with(
    src: &RgbaImage,
    w: u32,
    h: u32,
    crop: Option<(f64, f64, f64, f64)>,
    alpha: bool,
) -> RgbaImage {
    let mut dst = RgbaImage::new(w.max(1), h.max(1));
    let mut opts = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .use_alpha(alpha);
    if let Some((x, y, cw, ch)) = crop {
        opts = opts.crop(x, y, cw, ch);
    }
    with_resizer(|r| {
        r.resize(src, &mut dst, &opts)
            .expect("RGBA8 to RGBA8 resize cannot fail on sizes ≥ 1")
    });
    dst
}

/// One `Resizer` per thread, for every resize of the crate: it keeps its scratch buffers
/// between calls, which a new one allocates and clears each time (1 % of a catalog batch's
/// CPU, `perf` 2026-12-06; the per-frame backdrop resample would fault in a fresh one).
pub(crate) fn with_resizer<T>(f: impl FnOnce(&mut Resizer) -> T) -> T {
    thread_local! {
        static RESIZER: std::cell::RefCell<Resizer> = std::cell::RefCell::new(Resizer::new());
    }
    RESIZER.with(|r| f(&mut r.borrow_mut()))
}

/// Resizes an RGB picture (no alpha: nothing to weigh) to exactly `w`×`h`, with the same
/// filter as `resize`.
pub(crate) fn resize_rgb(src: &RgbImage, w: u32, h: u32) -> RgbImage {
    let mut dst = RgbImage::new(w.max(1), h.max(1));
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    with_resizer(|r| {
        r.resize(src, &mut dst, &opts)
            .expect("RGB8 to RGB8 resize cannot fail on sizes ≥ 1")
    });
    dst
}
