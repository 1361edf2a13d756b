//! RGBA → 4:2:0 YUV for the encoders.
//!
//! Written here instead of going through swscale: at 1080×1920 swscale's generic path took
//! 12–15 ms per frame on this project's 2-core build machine, about a quarter of the whole
//! libx264 `veryfast` encode; this fixed-point version with rows split over rayon takes a
//! fraction of that. A test checks it against swscale's output (see below).

use ffmpeg::format::Pixel;
use ffmpeg::frame;
use ffmpeg_next as ffmpeg;
use image::RgbaImage;
use rayon::prelude::*;

/// Limited-range ("TV") Y'CbCr matrix given by its luma weights.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Matrix {
    kr: f64,
    kb: f64,
}

impl Matrix {
    /// HD video; what we signal in the H.264 VUI.
    pub(crate) const BT709: Matrix = Matrix {
        kr: 0.2126,
        kb: 0.0722,
    };
}

/// 16.16 fixed-point coefficients, scaled from full-range RGB to limited-range YUV
/// (Y 16–235, C 16–240).
struct Coeffs {
    y: [i32; 3],
    cb: [i32; 3],
    cr: [i32; 3],
}

impl Coeffs {
    fn new(m: Matrix) -> Coeffs {
        let kg = 1.0 - m.kr - m.kb;
        let sy = 219.0 / 255.0 * 65536.0;
        let sc = 224.0 / 255.0 * 65536.0;
        let q = |v: f64| v.round() as i32;
        let db = 2.0 * (1.0 - m.kb);
        let dr = 2.0 * (1.0 - m.kr);
        Coeffs {
            y: [q(m.kr * sy), q(kg * sy), q(m.kb * sy)],
            cb: [q(-m.kr / db * sc), q(-kg / db * sc), q(0.5 * sc)],
            cr: [q(0.5 * sc), q(-kg / dr * sc), q(-m.kb / dr * sc)],
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
    let c = Coeffs::new(m);
    let (w, h) = (w as usize, h as usize);
    let src = img.as_raw();

    // Each plane is cut into the rows that belong to one pair of source rows, so the pairs
    // can be converted independently.
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
    let rows = src
        .par_chunks_exact(w * 8)
        .zip(yp.par_chunks_mut(2 * ys))
        .zip(up.par_chunks_mut(us))
        .zip(vp.par_chunks_mut(vs));
    rows.for_each(|(((rgba, yrows), urow), vrow)| {
        let (top, bottom) = rgba.split_at(w * 4);
        let (y0, y1) = yrows.split_at_mut(ys);
        let luma = |p: &[u8]| {
            (16 + ((c.y[0] * p[0] as i32 + c.y[1] * p[1] as i32 + c.y[2] * p[2] as i32 + 32768)
                >> 16)) as u8
        };
        let blocks = top
            .chunks_exact(8)
            .zip(bottom.chunks_exact(8))
            .zip(y0[..w].chunks_exact_mut(2).zip(y1[..w].chunks_exact_mut(2)))
            .zip(urow[..w / 2].iter_mut().zip(vrow[..w / 2].iter_mut()));
        for (((t, b), (ya, yb)), (u, v)) in blocks {
            ya[0] = luma(&t[0..4]);
            ya[1] = luma(&t[4..8]);
            yb[0] = luma(&b[0..4]);
            yb[1] = luma(&b[4..8]);
            let sr = t[0] as i32 + t[4] as i32 + b[0] as i32 + b[4] as i32;
            let sg = t[1] as i32 + t[5] as i32 + b[1] as i32 + b[5] as i32;
            let sb = t[2] as i32 + t[6] as i32 + b[2] as i32 + b[6] as i32;
            // Sums of four pixels: two more bits to shift out.
            let cb = 128 + ((c.cb[0] * sr + c.cb[1] * sg + c.cb[2] * sb + (1 << 17)) >> 18);
            let cr = 128 + ((c.cr[0] * sr + c.cr[1] * sg + c.cr[2] * sb + (1 << 17)) >> 18);
            *u = cb.clamp(16, 240) as u8;
            *v = cr.clamp(16, 240) as u8;
        }
    });
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
            assert_eq!(yuv_at(&f, 2, 1), want, "{rgb:?}");
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
