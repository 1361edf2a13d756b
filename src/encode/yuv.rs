//! RGBA → 4:2:0 YUV for the encoders.
//!
//! Not through swscale: at 1080×1920 its generic path took 12–15 ms per frame on this
//! project's 2-core build machine, about a quarter of the whole libx264 `veryfast` encode. Our
//! own fixed-point loop took 3 ms of CPU per frame, still 8 % of a video render (BENCHMARKS.md,
//! motion); yuvutils-rs's AVX2/SSE kernels (runtime-detected, scalar elsewhere) do the same
//! 2×2-averaged conversion in a fraction of that. Tests check it against swscale and the
//! textbook BT.709 values.

use ffmpeg::format::Pixel;
use ffmpeg::frame;
use ffmpeg_next as ffmpeg;
use image::RgbaImage;
use yuvutils_rs::{BufferStoreMut, YuvConversionMode, YuvPlanarImageMut, YuvRange};

/// Limited-range ("TV") Y'CbCr matrix.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Matrix {
    /// HD video; what we signal in the H.264 VUI.
    BT709,
}

impl Matrix {
    fn yuvutils(self) -> yuvutils_rs::YuvStandardMatrix {
        match self {
            Matrix::BT709 => yuvutils_rs::YuvStandardMatrix::Bt709,
        }
    }
}

/// Converts `img` (even width and height; alpha ignored) to a new `YUV420P` frame. Chroma
/// is the average of each 2×2 block.
#[cfg(test)]
pub(crate) fn rgba_to_yuv420(img: &RgbaImage, m: Matrix) -> frame::Video {
    let (w, h) = img.dimensions();
    let mut f = frame::Video::new(Pixel::YUV420P, w, h);
    rgba_to_yuv420_into(img, m, &mut f);
    f
}

/// `rgba_to_yuv420` into an existing `YUV420P` frame of the image's size (every byte of
/// every plane, padding included, is written).
pub(crate) fn rgba_to_yuv420_into(img: &RgbaImage, m: Matrix, f: &mut frame::Video) {
    let (w, h) = img.dimensions();
    assert!(w % 2 == 0 && h % 2 == 0, "4:2:0 needs even dimensions");
    assert_eq!(
        (f.format(), f.width(), f.height()),
        (Pixel::YUV420P, w, h),
        "YUV frame of the image's size"
    );
    let (w, h) = (w as usize, h as usize);
    let src = img.as_raw();

    let (ys, us, vs) = (f.stride(0), f.stride(1), f.stride(2));
    // SAFETY: the three planes are disjoint regions of the frame's buffer, each at least
    // stride × rows bytes (av_frame_get_buffer); we only hand out one slice per plane, and
    // they live no longer than `f`'s mutable borrow in this function.
    let (yp, up, vp) = unsafe {
        let p = f.as_mut_ptr();
        (
            std::slice::from_raw_parts_mut((*p).data[0], ys * h),
            std::slice::from_raw_parts_mut((*p).data[1], us * (h / 2)),
            std::slice::from_raw_parts_mut((*p).data[2], vs * (h / 2)),
        )
    };

    // The stride padding past each row is never part of the picture; give it defined bytes
    // so nothing downstream can depend on what the allocator left there.
    for (plane, stride, used, fill) in [
        (&mut *yp, ys, w, 0u8),
        (&mut *up, us, w / 2, 128),
        (&mut *vp, vs, w / 2, 128),
    ] {
        if stride > used {
            plane
                .chunks_exact_mut(stride)
                .for_each(|row| row[used..].fill(fill));
        }
    }
    // One call on the encoder's thread: split over rayon it took longer in wall time on two
    // cores (0.9 ms single-threaded against 1.2 ms in bands at 1080×1920), and x264 keeps the
    // other core busy anyway.
    let mut planar = YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(yp),
        y_stride: ys as u32,
        u_plane: BufferStoreMut::Borrowed(up),
        u_stride: us as u32,
        v_plane: BufferStoreMut::Borrowed(vp),
        v_stride: vs as u32,
        width: w as u32,
        height: h as u32,
    };
    yuvutils_rs::rgba_to_yuv420(
        &mut planar,
        src,
        (w * 4) as u32,
        YuvRange::Limited,
        m.yuvutils(),
        YuvConversionMode::Balanced,
    )
    .expect("planes and strides sized from the frame");
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg::software::scaling;

    fn yuv_at(f: &frame::Video, x: usize, y: usize) -> (u8, u8, u8) {
        (
            f.data(0)[y * f.stride(0) + x],
            f.data(1)[y / 2 * f.stride(1) + x / 2],
            f.data(2)[y / 2 * f.stride(2) + x / 2],
        )
    }

    #[test]
    fn textbook_bt709_values() {
        crate::media::ffio::init();
        let colours = [
            ([255, 255, 255], (235, 128, 128)),
            ([0, 0, 0], (16, 128, 128)),
            ([255, 0, 0], (63, 102, 240)),
            ([0, 255, 0], (173, 42, 26)),
            ([0, 0, 255], (32, 240, 118)),
        ];
        for (rgb, want) in colours {
            let img = RgbaImage::from_pixel(4, 2, image::Rgba([rgb[0], rgb[1], rgb[2], 255]));
            let f = rgba_to_yuv420(&img, Matrix::BT709);
            let got = yuv_at(&f, 2, 1);
            // One code value is the rounding any 8-bit fixed-point converter may differ by.
            let close = |a: u8, b: u8| a.abs_diff(b) <= 1;
            assert!(
                close(got.0, want.0) && close(got.1, want.1) && close(got.2, want.2),
                "{rgb:?}: got {got:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn matches_swscale_bt709() {
        crate::media::ffio::init();
        let (w, h) = (96u32, 64u32);
        let img = RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x + y) * 255 / (w + h)) as u8,
                255,
            ])
        });
        let ours = rgba_to_yuv420(&img, Matrix::BT709);
        let mut ctx = scaling::Context::get(
            Pixel::RGBA,
            w,
            h,
            Pixel::YUV420P,
            w,
            h,
            scaling::Flags::BILINEAR,
        )
        .unwrap();
        unsafe {
            let c = ffmpeg::ffi::sws_getCoefficients(ffmpeg::ffi::SWS_CS_ITU709);
            ffmpeg::ffi::sws_setColorspaceDetails(
                ctx.as_mut_ptr(),
                c,
                1,
                c,
                0,
                0,
                1 << 16,
                1 << 16,
            );
        }
        let mut src = frame::Video::new(Pixel::RGBA, w, h);
        super::super::still::copy_rgba_into(&img, &mut src);
        let mut theirs = frame::Video::new(Pixel::YUV420P, w, h);
        ctx.run(&src, &mut theirs).unwrap();
        let mut max_y = 0;
        for y in 0..h as usize {
            for x in 0..w as usize {
                let d = (yuv_at(&ours, x, y).0 as i32 - yuv_at(&theirs, x, y).0 as i32).abs();
                max_y = max_y.max(d);
            }
        }
        assert!(max_y <= 1, "luma differs from swscale by {max_y}");
        // Chroma filters differ (box vs swscale's bilinear taps); on this smooth ramp the
        // mean stays well under one code value.
        let mut sum = 0i64;
        let mut n = 0i64;
        for y in (0..h as usize).step_by(2) {
            for x in (0..w as usize).step_by(2) {
                let (_, u0, v0) = yuv_at(&ours, x, y);
                let (_, u1, v1) = yuv_at(&theirs, x, y);
                sum += (u0 as i64 - u1 as i64).abs() + (v0 as i64 - v1 as i64).abs();
                n += 2;
            }
        }
        assert!(
            (sum as f64 / n as f64) < 1.0,
            "chroma mean diff {}",
            sum as f64 / n as f64
        );
    }
}

#[cfg(test)]
mod speed {
    use super::*;
    use ffmpeg::software::scaling;

    /// `cargo test --release --lib -- --ignored --nocapture yuv_speed`
    #[test]
    #[ignore]
    fn yuv_speed_1080x1920() {
        crate::media::ffio::init();
        let img = RgbaImage::from_fn(1080, 1920, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 100, 255])
        });
        let n = 30;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(rgba_to_yuv420(&img, Matrix::BT709));
        }
        let ours = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let mut ctx = scaling::Context::get(
            Pixel::RGBA,
            1080,
            1920,
            Pixel::YUV420P,
            1080,
            1920,
            scaling::Flags::BILINEAR,
        )
        .unwrap();
        let t = std::time::Instant::now();
        for _ in 0..n {
            let mut src = frame::Video::new(Pixel::RGBA, 1080, 1920);
            crate::encode::still::copy_rgba_into(&img, &mut src);
            let mut out = frame::Video::new(Pixel::YUV420P, 1080, 1920);
            ctx.run(&src, &mut out).unwrap();
        }
        let sws = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
        println!("RGBA→YUV420P 1080×1920: ours {ours:.2} ms/frame, swscale {sws:.2} ms/frame");
    }
}
