//! Deterministic photo-like test scenes (gradients, textures, shapes, grain) so that tests
//! and the evaluation harness need no downloaded media. Not used by the gate itself: it
//! lives with the tests, and `benches/dedup_eval.rs` includes this file by path.

use image::{Rgba, RgbaImage};
use imageproc::drawing::{draw_filled_circle_mut, draw_filled_rect_mut, draw_polygon_mut};
use imageproc::point::Point;
use imageproc::rect::Rect;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn f(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        lo + (self.next() % (hi - lo).max(1) as u64) as i32
    }
    fn color(&mut self) -> Rgba<u8> {
        Rgba([
            self.range(0, 256) as u8,
            self.range(0, 256) as u8,
            self.range(0, 256) as u8,
            255,
        ])
    }
}

/// A `w`×`h` scene that differs entirely for different seeds.
pub fn scene(seed: u64, w: u32, h: u32) -> RgbaImage {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for _ in 0..4 {
        r.next();
    }
    let (c0, c1) = (r.color(), r.color());
    let angle = r.f() * std::f32::consts::TAU;
    let (fx, fy, ph) = (1.0 + r.f() * 5.0, 1.0 + r.f() * 5.0, r.f() * 6.0);
    let (dx, dy) = (angle.cos(), angle.sin());
    let mut img = RgbaImage::from_fn(w, h, |x, y| {
        let u = x as f32 / w as f32;
        let v = y as f32 / h as f32;
        let t = ((u - 0.5) * dx + (v - 0.5) * dy + 0.5).clamp(0.0, 1.0);
        let tex = 18.0 * ((u * fx * 6.3 + ph).sin() * (v * fy * 6.3).cos());
        let mix =
            |a: u8, b: u8| (a as f32 * (1.0 - t) + b as f32 * t + tex).clamp(0.0, 255.0) as u8;
        Rgba([mix(c0[0], c1[0]), mix(c0[1], c1[1]), mix(c0[2], c1[2]), 255])
    });
    let s = w.min(h) as i32;
    for _ in 0..14 {
        let c = r.color();
        let (x, y) = (r.range(0, w as i32), r.range(0, h as i32));
        match r.range(0, 3) {
            0 => draw_filled_circle_mut(&mut img, (x, y), r.range(s / 30, s / 6), c),
            1 => draw_filled_rect_mut(
                &mut img,
                Rect::at(x, y)
                    .of_size(r.range(s / 20, s / 3) as u32, r.range(s / 20, s / 3) as u32),
                c,
            ),
            _ => {
                let k = s / 5;
                let pts = [
                    Point::new(x, y),
                    Point::new(x + r.range(-k, k), y + r.range(k / 3, k)),
                    Point::new(x + r.range(k / 3, k), y + r.range(-k, k)),
                ];
                if pts[0] != pts[1] && pts[1] != pts[2] && pts[0] != pts[2] {
                    draw_polygon_mut(&mut img, &pts, c);
                }
            }
        }
    }
    for p in img.pixels_mut() {
        let n = (r.next() % 17) as i32 - 8;
        for ch in 0..3 {
            p[ch] = (p[ch] as i32 + n).clamp(0, 255) as u8;
        }
    }
    img
}

/// A product-like cut-out: a bold shape with highlights on a transparent canvas.
pub fn product(seed: u64, w: u32, h: u32) -> RgbaImage {
    let mut r = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
    let mut img = RgbaImage::from_pixel(w, h, Rgba([0, 0, 0, 0]));
    let body = r.color();
    // Different seeds give different silhouettes (a box, a bottle, a round item, a wedge),
    // not just different colours: "another product" must look like one to keypoints too.
    let (wi, hi) = (w as i32, h as i32);
    match r.range(0, 4) {
        0 => {
            draw_filled_rect_mut(
                &mut img,
                Rect::at(wi / 8, hi / 3).of_size(w * 3 / 4, h / 2),
                body,
            );
            draw_filled_circle_mut(&mut img, (wi / 2, hi / 3), wi / 4, body);
        }
        1 => {
            draw_filled_rect_mut(
                &mut img,
                Rect::at(wi * 3 / 8, hi / 10).of_size(w / 4, h * 8 / 10),
                body,
            );
            draw_filled_rect_mut(
                &mut img,
                Rect::at(wi / 4, hi * 2 / 5).of_size(w / 2, h / 2),
                body,
            );
        }
        2 => draw_filled_circle_mut(&mut img, (wi / 2, hi / 2), wi * 2 / 5, body),
        _ => draw_polygon_mut(
            &mut img,
            &[
                Point::new(wi / 10, hi * 9 / 10),
                Point::new(wi * 9 / 10, hi * 9 / 10),
                Point::new(wi * 3 / 4, hi / 8),
            ],
            body,
        ),
    }
    for _ in 0..10 {
        let c = r.color();
        let (x, y) = (
            r.range(w as i32 / 6, w as i32 * 5 / 6),
            r.range(h as i32 / 4, h as i32 * 4 / 5),
        );
        draw_filled_circle_mut(&mut img, (x, y), r.range(3, (w / 10) as i32), c);
        draw_filled_rect_mut(
            &mut img,
            Rect::at(x, y).of_size(r.range(4, (w / 6) as i32) as u32, 4),
            c,
        );
    }
    img
}

/// Draws `overlay` onto `base` at (x, y) with its alpha.
pub fn paste(base: &mut RgbaImage, overlay: &RgbaImage, x: i64, y: i64) {
    image::imageops::overlay(base, overlay, x, y);
}

/// Uniformly random-looking 256-bit hashes from a seed: what a large library looks like to
/// the scan (unrelated images sit at ~128 bits from each other), for tests and benches.
pub fn random_hashes(seed: u64) -> impl Iterator<Item = creative_factory::dedup::pdq::Hash256> {
    let mut r = Rng(seed | 1);
    std::iter::repeat_with(move || {
        let mut b = [0u8; 32];
        for c in b.chunks_mut(8) {
            c.copy_from_slice(&r.next().to_le_bytes());
        }
        creative_factory::dedup::pdq::Hash256(b)
    })
}
