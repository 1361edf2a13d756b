//! Video fingerprints at 1 fps and the segment rule.

use crate::support::dedup::*;
use creative_factory::dedup::fingerprint::{Fingerprint, Masks};
use creative_factory::dedup::{score, video, Candidate, GateConfig, Rule, VerdictKind};

#[test]
fn replacing_one_of_five_segments_leaves_80_percent_reused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let orig = write_video(d, "orig.mp4", &[1, 2, 3, 4, 5], 2, 320, 240);
    let one = write_video(d, "one.mp4", &[1, 2, 3, 4, 99], 2, 320, 240);
    let four = write_video(d, "four.mp4", &[1, 96, 97, 98, 99], 2, 320, 240);
    let other = write_video(d, "other.mp4", &[51, 52, 53, 54, 55], 2, 320, 240);
    // Audio swap / re-encode: same pictures, different bytes.
    let reenc = d.join("reenc.mp4");
    ffmpeg(&[
        "-i",
        orig.to_str().unwrap(),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=10",
        "-shortest",
        "-c:v",
        "libx264",
        "-crf",
        "30",
        "-vf",
        "scale=480:360",
        "-c:a",
        "aac",
        reenc.to_str().unwrap(),
    ]);

    let fp = |p: &std::path::Path| Fingerprint::compute(p, &Masks::default()).unwrap();
    let (fo, f1, f4, fx, fr) = (fp(&orig), fp(&one), fp(&four), fp(&other), fp(&reenc));
    assert!(
        (9..=11).contains(&fo.frames.len()),
        "10 s at 1 fps → {} frames",
        fo.frames.len()
    );

    let b1 = video::compare(&f1.frames, &fo.hashes());
    assert!((70.0..=90.0).contains(&b1.q), "1 of 5 replaced: q {}", b1.q);
    assert!((70.0..=90.0).contains(&b1.c), "1 of 5 replaced: c {}", b1.c);
    let b4 = video::compare(&f4.frames, &fo.hashes());
    assert!((10.0..=30.0).contains(&b4.q), "4 of 5 replaced: q {}", b4.q);
    assert_eq!(video::compare(&fx.frames, &fo.hashes()).q, 0.0);
    let br = video::compare(&fr.frames, &fo.hashes());
    assert!(br.q >= 90.0 && br.c >= 90.0, "re-encode: {br:?}");

    let lib_dir = tempfile::tempdir().unwrap();
    let lib = creative_factory::dedup::Library::open(&lib_dir.path().join("l.sqlite")).unwrap();
    lib.add(&fo, None, None, None).unwrap();
    let cands = [
        Candidate::file(&one),
        Candidate::file(&four),
        Candidate::file(&other),
        Candidate::file(&reenc),
    ];
    let v = score(&cands, Some(&lib), &GateConfig::default()).unwrap();
    let lib_match = |i: usize| v[i].matches.iter().find(|m| m.source == "library");
    assert_eq!(v[0].verdict, VerdictKind::Duplicate, "{:?}", v[0]);
    assert_eq!(lib_match(0).unwrap().rule, Rule::ReusedSegments);
    assert!(v[0].reason.contains("30 %"), "{}", v[0].reason);
    // 20 % reused is under the platform's 30 % and under the 25 % warning line.
    assert!(
        lib_match(1).is_none(),
        "4 of 5 replaced should not match the library: {:?}",
        v[1]
    );
    assert!(lib_match(2).is_none());
    assert_eq!(lib_match(3).unwrap().rule, Rule::VisualEdit);
}

#[test]
fn skipping_non_reference_frames_samples_the_same_pictures() {
    use creative_factory::dedup::pdq;
    use creative_factory::media::VideoClip;
    let dir = tempfile::tempdir().unwrap();
    let src = write_video(dir.path(), "src.mp4", &[11, 12, 13], 1, 192, 144);
    // Re-encoded the way the engine encodes: B-frames, some of them never referenced.
    let bf = dir.path().join("bframes.mp4");
    ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-bf",
        "3",
        "-g",
        "20",
        "-r",
        "30",
        bf.to_str().unwrap(),
    ]);
    let sparse = VideoClip::open_sparse(&bf, 0.0, 600.0, 1, 512, 512, &Default::default()).unwrap();
    let clip = VideoClip::open(&bf, 0.0, 600.0, 1, 512, 512, &Default::default()).unwrap();
    assert_eq!(sparse.len(), clip.len());
    assert_eq!((sparse.width, sparse.height), (clip.width, clip.height));
    for i in 0..clip.len() {
        let d = pdq::hash(sparse.frame(i))
            .hash
            .hamming(&pdq::hash(clip.frame(i)).hash);
        assert!(d <= 8, "second {i}: {d} bits from the full decode");
    }
}
