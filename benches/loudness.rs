//! Criterion benches for the soundtrack's measuring and limiting on a 15 s, 48 kHz stereo mix
//! (the TikTok default duration): what leveling costs a video job.

use creative_factory::media::{loudness, AudioPcm};
use criterion::{criterion_group, criterion_main, Criterion};

/// 15 s of a two-tone "music" bed with a loud burst every 3 s, so the limiter has work.
fn mix() -> AudioPcm {
    let rate = 48_000;
    let samples = (0..15 * rate)
        .flat_map(|i| {
            let t = i as f32 / rate as f32;
            let bed = 0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.2 * (2.0 * std::f32::consts::PI * 3_300.0 * t).sin();
            let burst = if i % (3 * rate) < rate / 10 {
                0.9 * (2.0 * std::f32::consts::PI * 9_000.0 * t).sin()
            } else {
                0.0
            };
            [bed + burst, bed - burst]
        })
        .collect();
    AudioPcm {
        sample_rate: rate as u32,
        channels: 2,
        samples,
    }
}

fn benches(c: &mut Criterion) {
    let m = mix();
    let mut g = c.benchmark_group("15s_48k_stereo");
    g.sample_size(10);
    g.bench_function("integrated_lufs", |b| {
        b.iter(|| loudness::integrated_lufs(&m))
    });
    g.bench_function("true_peak_dbtp", |b| {
        b.iter(|| loudness::true_peak_dbtp(&m))
    });
    g.bench_function("limit_true_peak", |b| {
        b.iter(|| {
            let mut x = m.clone();
            loudness::limit_true_peak(&mut x, -1.0);
            x
        })
    });
    g.bench_function("aac_roundtrip_128k", |b| {
        b.iter(|| creative_factory::media::aac_roundtrip(&m, 128).unwrap().0)
    });
    g.finish();
}

criterion_group!(loudness_benches, benches);
criterion_main!(loudness_benches);
