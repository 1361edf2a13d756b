//! Criterion benches for the per-frame work of the compositor at the TikTok canvas size.

use creative_factory::render::{look::Look, ops};
use creative_factory::template::{Effects, Fit, Grade, Rgba};
use criterion::{criterion_group, criterion_main, Criterion};
use image::RgbaImage;

fn photo(w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([
            (x * 7 % 256) as u8,
            (y * 3 % 256) as u8,
            ((x ^ y) % 256) as u8,
            255,
        ])
    })
}

fn product(side: u32) -> RgbaImage {
    let c = side as f32 / 2.0;
    RgbaImage::from_fn(side, side, |x, y| {
        let d = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt();
        image::Rgba([220, 40, 40, ((c - d).clamp(0.0, 1.0) * 255.0) as u8])
    })
}

fn benches(c: &mut Criterion) {
    let src = photo(1280, 720);
    let prod = ops::premultiply(product(700));
    let caption = ops::premultiply(product(900));
    let mut g = c.benchmark_group("1080x1920");
    g.sample_size(20);
    g.bench_function("resize_cover_1280x720", |b| {
        b.iter(|| ops::fit(&src, 1080, 1920, Fit::Cover, Rgba::BLACK))
    });
    g.bench_function("resize_blur_pad_1280x720", |b| {
        b.iter(|| ops::fit(&src, 1080, 1920, Fit::BlurPad, Rgba::BLACK))
    });
    let plate = ops::fit(&src, 1080, 1920, Fit::Cover, Rgba::BLACK);
    let grade = Some(Grade {
        brightness: 0.02,
        contrast: 1.1,
        saturation: 1.15,
        ..Grade::default()
    });
    let look = Look::new(&Effects {
        grade,
        ..Effects::default()
    })
    .expect("a grade is a look");
    g.bench_function("compose_frame_video_bg", |b| {
        // Everything a frame over a moving background costs: fit, product, grade, caption.
        b.iter(|| {
            let mut f = ops::fit(&src, 1080, 1920, Fit::Cover, Rgba::BLACK);
            ops::blend(&mut f, &prod, 190, 600, 1.0);
            look.apply_layer(&mut f);
            ops::blend(&mut f, &caption, 90, 1300, 1.0);
            f
        })
    });
    g.bench_function("compose_frame_still_bg", |b| {
        // A still background: the plate is composed once, each frame is a copy plus caption.
        b.iter(|| {
            let mut f = plate.clone();
            ops::blend(&mut f, &caption, 90, 1300, 1.0);
            f
        })
    });
    g.finish();
}

criterion_group!(compose, benches);
criterion_main!(compose);
