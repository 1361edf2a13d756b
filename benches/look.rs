//! Criterion benches for the look effects at the TikTok canvas (1080×1920), one op at a time,
//! through the same `Look` methods the renderer calls. Figures: BENCHMARKS.md.

use std::path::Path;
use std::sync::Arc;

use creative_factory::render::look::Look;
use creative_factory::template::{Blur, BlurTarget, Effects, Grade, Grain, Lut, Sharpen, Vignette};
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

fn look(e: Effects) -> Look {
    Look::new(&e).expect("each bench case changes something")
}

fn benches(c: &mut Criterion) {
    let frame = photo(1080, 1920);
    let lut = Arc::new(
        Lut::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/luts/teal-orange.cube"))
            .expect("sample LUT"),
    );
    let grade = Some(Grade {
        brightness: 0.02,
        contrast: 1.1,
        saturation: 1.15,
        temperature: 0.2,
        tint: 0.05,
    });
    let vignette = Some(Vignette {
        strength: 0.4,
        radius: 0.75,
        softness: 0.5,
    });
    let grain = |size| {
        Some(Grain {
            amount: 0.3,
            seed: 1,
            size,
        })
    };
    let blur = |radius, target| Some(Blur { radius, target });

    let mut g = c.benchmark_group("look_1080x1920");
    g.sample_size(20);
    let mut case = |name: &str, l: Look, apply: fn(&Look, &mut RgbaImage)| {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || frame.clone(),
                |f| apply(&l, f),
                criterion::BatchSize::LargeInput,
            );
        });
    };
    case(
        "grade",
        look(Effects {
            grade: grade.clone(),
            ..Effects::default()
        }),
        Look::apply_layer,
    );
    case(
        "lut_17",
        look(Effects {
            lut: Some(lut.clone()),
            ..Effects::default()
        }),
        Look::apply_layer,
    );
    case(
        "grade_and_lut",
        look(Effects {
            grade,
            lut: Some(lut),
            lut_strength: 0.8,
            ..Effects::default()
        }),
        Look::apply_layer,
    );
    case(
        "blur_background_0.02",
        look(Effects {
            blur: blur(0.02, BlurTarget::Background),
            ..Effects::default()
        }),
        Look::apply_background,
    );
    case(
        "blur_frame_0.004",
        look(Effects {
            blur: blur(0.004, BlurTarget::Frame),
            ..Effects::default()
        }),
        Look::apply_picture,
    );
    case(
        "sharpen_1px",
        look(Effects {
            sharpen: Some(Sharpen {
                amount: 0.6,
                radius: 1.0,
            }),
            ..Effects::default()
        }),
        Look::apply_picture,
    );
    case(
        "vignette",
        look(Effects {
            vignette: vignette.clone(),
            ..Effects::default()
        }),
        |l, f| l.apply_frame(f, 7),
    );
    case(
        "grain",
        look(Effects {
            grain: grain(1.0),
            ..Effects::default()
        }),
        |l, f| l.apply_frame(f, 7),
    );
    case(
        "grain_size_3",
        look(Effects {
            grain: grain(3.0),
            ..Effects::default()
        }),
        |l, f| l.apply_frame(f, 7),
    );
    case(
        "vignette_and_grain",
        look(Effects {
            vignette,
            grain: grain(1.0),
            ..Effects::default()
        }),
        |l, f| l.apply_frame(f, 7),
    );
    g.bench_function("frame_copy_baseline", |b| b.iter(|| frame.clone()));
    g.finish();
}

criterion_group!(look_ops, benches);
criterion_main!(look_ops);
