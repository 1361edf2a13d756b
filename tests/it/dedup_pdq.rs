//! PDQ: reference known answers, and the robustness an operator relies on.

use creative_factory::dedup::pdq::{self, Hash256};
use image::{imageops, Rgba, RgbaImage};

use crate::support::synth;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dedup")
        .join(name)
}

fn hex(s: &str) -> Hash256 {
    Hash256::from_hex(s).unwrap()
}

#[test]
fn matches_the_reference_hash_of_the_bridge_photo() {
    // Expected values from Meta's reference implementation (ThreatExchange PDQ test data,
    // as reproduced by the pdqhash crate's tests). Our JPEG decoder (zune-jpeg via image
    // 0.25) may round a few pixels differently from the reference's, so allow a couple of bits.
    let img = image::open(fixture("bridge-1-original.jpg"))
        .unwrap()
        .to_rgba8();
    let h = pdq::hash(&img);
    let want = hex("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22");
    assert!(
        h.hash.hamming(&want) <= 2,
        "got {} (distance {})",
        h.hash.to_hex(),
        h.hash.hamming(&want)
    );
    assert_eq!(h.quality, 100);

    // The dihedral variants derived from the DCT land on the reference hashes of the
    // actually rotated/flipped photos.
    let d = pdq::hash_dihedral(&img);
    for (name, want) in [
        (
            "rotate-90",
            "30a10efd71cc3d429013d48d0ffffc52e34e0e17ada952a9d29685211ea9e5af",
        ),
        (
            "rotate-180",
            "adad5a64b5a142e75b62a09857da895ae63b847fc23794b766b319361bc93188",
        ),
        (
            "rotate-270",
            "a5f0a457a48995e8c9065c275aaa5498b61ba4bdf8fcf80387c32f8b1bfc4f05",
        ),
        (
            "flip-x",
            "f8f80f31e0f417b20e37f5cd028f980fb36ed02a9662c1e233e64c634e9c64dd",
        ),
        (
            "flip-y",
            "0dad2599b1a1bd1a5362576742da32a5e63b7380c2374b4866b366c91bc9ce77",
        ),
        (
            "flip-plus-1",
            "f0a5e102f1ccc0bd945308720fff038de34ef1e8ada9a956d2967ade5ea91a50",
        ),
        (
            "flip-minus-1",
            "a5f05aa8a4896a17c906a2d85aaaab07b61b5b42f8fc07fc87c3d0741bfcb0fa",
        ),
    ] {
        let dist = d.min_distance(&hex(want));
        assert!(dist <= 16, "{name}: closest orientation at {dist}");
    }
}

fn jpeg_roundtrip(img: &RgbaImage, quality: u8) -> RgbaImage {
    let mut buf = Vec::new();
    let rgb = image::DynamicImage::ImageRgba8(img.clone()).to_rgb8();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality)
        .encode_image(&rgb)
        .unwrap();
    image::load_from_memory(&buf).unwrap().to_rgba8()
}

#[test]
fn everyday_edits_stay_within_the_match_distance_and_unrelated_scenes_do_not() {
    let a = synth::scene(7, 640, 480);
    let base = pdq::fingerprint(&a);
    let h0 = base.hashes[0];
    let check = |name: &str, img: &RgbaImage| {
        let d = pdq::fingerprint(img).hashes[0]
            .hamming(&h0)
            .min(base.min_distance(&pdq::fingerprint(img).hashes[0]));
        assert!(d <= pdq::MATCH_DISTANCE, "{name}: distance {d}");
    };
    check("jpeg q40", &jpeg_roundtrip(&a, 40));
    check(
        "half size",
        &imageops::resize(&a, 320, 240, imageops::FilterType::Triangle),
    );
    check(
        "stretched",
        &imageops::resize(&a, 800, 420, imageops::FilterType::Triangle),
    );
    check("brighter", &imageops::colorops::brighten(&a, 30));
    check("contrast", &imageops::colorops::contrast(&a, 20.0));
    let mut captioned = a.clone();
    // A caption line: glyph-sized strokes, the way text covers a picture (not a solid box).
    for k in 0..16 {
        let r = imageproc::rect::Rect::at(40 + k * 11, 430).of_size(7, 16);
        imageproc::drawing::draw_filled_rect_mut(&mut captioned, r, Rgba([255, 255, 255, 255]));
    }
    check("small caption", &captioned);
    // Mirror: the query's orientations include the flip.
    let mirrored = imageops::flip_horizontal(&a);
    assert!(base.min_distance(&pdq::fingerprint(&mirrored).hashes[0]) <= pdq::MATCH_DISTANCE);
    let rot = imageops::rotate90(&a);
    assert!(base.min_distance(&pdq::fingerprint(&rot).hashes[0]) <= pdq::MATCH_DISTANCE);

    let mut min_unrelated = 256;
    for s in 100..110 {
        let h = pdq::fingerprint(&synth::scene(s, 640, 480)).hashes[0];
        min_unrelated = min_unrelated.min(h.hamming(&h0));
    }
    assert!(
        min_unrelated >= 80,
        "an unrelated scene came within {min_unrelated}"
    );
}

#[test]
fn letterboxing_is_trimmed_before_hashing() {
    let a = synth::scene(11, 640, 360);
    // 16:9 picture padded into a 9:16 canvas with black bars.
    let mut boxed = RgbaImage::from_pixel(360, 640, Rgba([0, 0, 0, 255]));
    let small = imageops::resize(&a, 360, 203, imageops::FilterType::Triangle);
    imageops::overlay(&mut boxed, &small, 0, (640 - 203) / 2);
    let boxed = jpeg_roundtrip(&boxed, 85);
    let (x, y, w, h) = pdq::border_box(&boxed);
    assert!(
        x == 0 && w == 360 && (y as i32 - 218).abs() <= 3 && (h as i32 - 203).abs() <= 6,
        "box {x},{y},{w},{h}"
    );
    let untrimmed = pdq::hash(&boxed).hash.hamming(&pdq::hash(&a).hash);
    let trimmed = pdq::fingerprint(&boxed).hashes[0].hamming(&pdq::fingerprint(&a).hashes[0]);
    assert!(trimmed <= pdq::MATCH_DISTANCE, "trimmed distance {trimmed}");
    assert!(
        untrimmed > pdq::MATCH_DISTANCE,
        "untrimmed distance {untrimmed} (bars should matter)"
    );
}

#[test]
fn a_flat_frame_reports_low_quality() {
    let flat = RgbaImage::from_pixel(200, 200, Rgba([40, 40, 40, 255]));
    assert!(pdq::hash(&flat).quality < pdq::MIN_QUALITY);
}

#[test]
fn a_turned_still_is_retrievable_through_its_turned_back_hashes() {
    use creative_factory::dedup::fingerprint::{Fingerprint, Masks};
    use imageproc::geometric_transformations::{rotate_about_center, Interpolation};
    let a = synth::scene(31, 480, 480);
    let turned = rotate_about_center(
        &a,
        10f32.to_radians(),
        Interpolation::Bilinear,
        Rgba([0, 0, 0, 255]),
    );
    let fp = |img: &RgbaImage| {
        Fingerprint::from_still(
            std::path::Path::new("x.png"),
            String::new(),
            0,
            img,
            &Masks::default(),
        )
    };
    let (src, q) = (fp(&a), fp(&turned));
    let whole = q.frames[0]
        .orientations
        .iter()
        .map(|h| h.hamming(&src.frames[0].hash()))
        .min()
        .unwrap();
    let back = q.frames[0]
        .turned
        .iter()
        .flat_map(|t| src.frames[0].crops.iter().map(move |c| t.hamming(c)))
        .min()
        .unwrap();
    assert!(whole > 60, "a 10° turn is out of PDQ's reach: {whole}");
    assert!(back <= pdq::MATCH_DISTANCE, "turned back: {back}");
}
