//! The library: persistence across runs, concurrent writers, exemptions.

use crate::support::dedup::*;
use creative_factory::dedup::fingerprint::{Fingerprint, Masks};
use creative_factory::dedup::{score, Candidate, GateConfig, Library, VerdictKind};

fn fp(path: &std::path::Path) -> Fingerprint {
    Fingerprint::compute(path, &Masks::default()).unwrap()
}

#[test]
fn entries_survive_reopening_and_hashes_come_back_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lib.sqlite");
    let a = write_scene(dir.path(), "a.png", 1, 320, 240);
    let f = fp(&a);
    let id = {
        let lib = Library::open(&db).unwrap();
        lib.add(&f, Some("v-a"), None, Some(1_700_000_000)).unwrap()
    };
    let lib = Library::open(&db).unwrap();
    let e = lib.find(a.to_str().unwrap()).unwrap();
    assert_eq!(e.id, id);
    assert_eq!(e.variant_id.as_deref(), Some("v-a"));
    assert_eq!(e.created_at, 1_700_000_000);
    assert_eq!(lib.frames(id).unwrap()[0].hash, f.frames[0].hash());
    assert_eq!(lib.features(id).unwrap().unwrap(), f.features);
    // Re-adding the same bytes does not create a second entry.
    lib.add(&f, None, None, None).unwrap();
    assert_eq!(lib.list().unwrap().len(), 1);
}

#[test]
fn two_writers_with_separate_connections_both_land() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lib.sqlite");
    Library::open(&db).unwrap();
    let files: Vec<_> = (0..16)
        .map(|i| write_scene(dir.path(), &format!("s{i}.png"), 100 + i, 160, 120))
        .collect();
    let fps: Vec<Fingerprint> = files.iter().map(|p| fp(p)).collect();
    std::thread::scope(|s| {
        for half in fps.chunks(8) {
            let db = db.clone();
            s.spawn(move || {
                let lib = Library::open(&db).unwrap();
                for f in half {
                    lib.add(f, None, None, None).unwrap();
                }
            });
        }
    });
    let lib = Library::open(&db).unwrap();
    assert_eq!(lib.list().unwrap().len(), 16);
    // Each still contributes its frame hash plus two retrieval crop hashes.
    assert_eq!(lib.index(0).unwrap().len(), 16 * 3);
}

#[test]
fn old_and_retired_entries_are_exempt() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lib.sqlite");
    let lib = Library::open(&db).unwrap();
    let a = write_scene(dir.path(), "a.png", 5, 400, 300);
    let b = write_scene(dir.path(), "b.png", 6, 400, 300);
    let copy_a = dir.path().join("copy_a.jpg");
    let copy_b = dir.path().join("copy_b.jpg");
    ffmpeg(&[
        "-i",
        a.to_str().unwrap(),
        "-q:v",
        "6",
        copy_a.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-i",
        b.to_str().unwrap(),
        "-q:v",
        "6",
        copy_b.to_str().unwrap(),
    ]);
    let cfg = GateConfig::default();
    // `a` ran 200 days ago; `b` is recent but no longer running.
    lib.add(&fp(&a), None, None, Some(cfg.now - 200 * 86_400))
        .unwrap();
    lib.add(&fp(&b), None, None, None).unwrap();
    let v = score(
        &[Candidate::file(&copy_a), Candidate::file(&copy_b)],
        Some(&lib),
        &cfg,
    )
    .unwrap();
    assert_eq!(
        v[0].verdict,
        VerdictKind::Distinct,
        "180-day exemption: {:?}",
        v[0]
    );
    assert_eq!(v[1].verdict, VerdictKind::Duplicate);
    lib.retire(b.to_str().unwrap()).unwrap();
    let v = score(&[Candidate::file(&copy_b)], Some(&lib), &cfg).unwrap();
    assert_eq!(
        v[0].verdict,
        VerdictKind::Distinct,
        "retired entries are exempt"
    );
    // With a longer window the old one counts again.
    let cfg = GateConfig {
        max_age_days: 365,
        ..GateConfig::default()
    };
    let v = score(&[Candidate::file(&copy_a)], Some(&lib), &cfg).unwrap();
    assert_eq!(v[0].verdict, VerdictKind::Duplicate);
}

#[test]
fn the_scan_returns_every_file_within_distance_and_the_k_nearest() {
    use creative_factory::dedup::library::HashIndex;
    use creative_factory::dedup::pdq::Hash256;
    let flip = |n: usize| {
        let mut b = [0u8; 32];
        for i in 0..n {
            b[i / 8] |= 1 << (i % 8);
        }
        Hash256(b)
    };
    // File 1 at distance 5 (twice, as a frame and a crop), 2 at 20, 3 at 90, 4 at 120, 5 at 200.
    let idx = HashIndex::from_hashes([
        (1, flip(5)),
        (1, flip(7)),
        (2, flip(20)),
        (3, flip(90)),
        (4, flip(120)),
        (5, flip(200)),
    ]);
    let r = idx.nearest(&[flip(0)], 31, 1);
    assert_eq!(r, vec![(1, 5), (2, 20)]);
    let r = idx.nearest(&[flip(0)], 31, 4);
    assert_eq!(r, vec![(1, 5), (2, 20), (3, 90), (4, 120)]);
    let r = idx.nearest(&[flip(0)], 0, 0);
    assert!(r.is_empty());
}

#[test]
fn the_vectorised_scan_agrees_with_a_plain_hamming_count() {
    use creative_factory::dedup::library::HashIndex;
    use creative_factory::dedup::pdq::Hash256;
    let mut random = crate::support::synth::random_hashes(0x9E37_79B9_7F4A_7C15);
    let mut rand_hash = || random.next().unwrap();
    let queries: Vec<Hash256> = (0..3).map(|_| rand_hash()).collect();
    // Lengths that are not a multiple of the SIMD width or of the parallel chunk, files
    // owning several hashes, and a few planted near-copies of each query.
    let mut items: Vec<(i64, Hash256)> = (0..20_011).map(|i| (i / 3, rand_hash())).collect();
    for (k, q) in queries.iter().enumerate() {
        for (j, bits) in [3usize, 17, 30, 45].iter().enumerate() {
            let mut h = *q;
            for b in (0..*bits).map(|b| b * 5) {
                h.0[b / 8] ^= 1 << (b % 8);
            }
            items.insert(5_000 * (j + 1) + k, (100_000 + (k * 4 + j) as i64, h));
        }
    }
    let idx = HashIndex::from_hashes(items.iter().copied());
    let mut best: std::collections::BTreeMap<i64, u32> = Default::default();
    for (id, h) in &items {
        let d = queries.iter().map(|q| q.hamming(h)).min().unwrap();
        let e = best.entry(*id).or_insert(256);
        *e = (*e).min(d);
    }
    let mut want: Vec<(i64, u32)> = best.into_iter().collect();
    want.sort_by_key(|(id, d)| (*d, *id));
    let got = idx.nearest(&queries, 31, 20);
    let within: Vec<_> = want.iter().filter(|(_, d)| *d <= 31).copied().collect();
    assert_eq!(within.len(), 9, "planted copies within 31 bits");
    assert_eq!(&got[..within.len()], &within[..]);
    // Past the threshold: the k nearest, as distances (ties may order ids either way).
    let far: Vec<u32> = got.iter().map(|(_, d)| *d).collect();
    let want_far: Vec<u32> = want
        .iter()
        .take(20.max(within.len()))
        .map(|(_, d)| *d)
        .collect();
    assert_eq!(far, want_far);
}
