//! Keypoint geometry recovers what PDQ cannot: crops, small rotations.

use creative_factory::dedup::{geometry, pdq};
use image::{imageops, Rgba};
use imageproc::geometric_transformations::{rotate_about_center, Interpolation};

use crate::support::synth;

#[test]
fn crop_and_rotation_keep_many_inliers_unrelated_scenes_few() {
    let a = synth::scene(3, 640, 640);
    let fa = geometry::extract(&a);
    let cropped = imageops::crop_imm(&a, 64, 64, 512, 512).to_image();
    let rotated = rotate_about_center(
        &a,
        5f32.to_radians(),
        Interpolation::Bilinear,
        Rgba([0, 0, 0, 255]),
    );

    // PDQ alone loses these…
    let hd = |x: &image::RgbaImage| {
        pdq::fingerprint(x).hashes[0].hamming(&pdq::fingerprint(&a).hashes[0])
    };
    assert!(hd(&cropped) > pdq::MATCH_DISTANCE || hd(&rotated) > pdq::MATCH_DISTANCE);

    // …the geometry keeps them, with the transform it found.
    let gc = geometry::match_features(&geometry::extract(&cropped), &fa);
    assert!(gc.inliers >= 40, "crop 20 %: {} inliers", gc.inliers);
    assert!(
        (gc.scale - 1.25).abs() < 0.1,
        "crop rescales by 640/512: {}",
        gc.scale
    );
    let gr = geometry::match_features(&geometry::extract(&rotated), &fa);
    assert!(gr.inliers >= 40, "rotate 5°: {} inliers", gr.inliers);
    assert!(
        (gr.angle_deg.abs() - 5.0).abs() < 1.5,
        "angle {}",
        gr.angle_deg
    );

    for s in 50..54 {
        let g = geometry::match_features(&geometry::extract(&synth::scene(s, 640, 640)), &fa);
        assert!(g.inliers < 25, "unrelated scene {s}: {} inliers", g.inliers);
    }
    // Stored form round-trips.
    assert_eq!(geometry::decode(&geometry::encode(&fa)).unwrap(), fa);
}

#[test]
fn quarter_turn_is_recovered_by_steered_descriptors() {
    let a = synth::scene(8, 640, 480);
    let g = geometry::match_features(
        &geometry::extract(&imageops::rotate90(&a)),
        &geometry::extract(&a),
    );
    assert!(g.inliers >= 40, "rotate 90°: {} inliers", g.inliers);
}

#[test]
fn a_mirrored_copy_is_matched_through_the_mirrored_keypoints() {
    let a = synth::scene(21, 640, 480);
    let m = imageops::flip_horizontal(&a);
    let fa = geometry::extract(&a);
    // BRIEF is not reflection-invariant: the mirror image alone finds little…
    let direct = geometry::match_features(&geometry::extract(&m), &fa);
    let g = geometry::match_either(&geometry::extract(&m), &geometry::extract_mirrored(&m), &fa);
    assert!(g.mirrored && g.inliers >= 40, "mirrored: {g:?}");
    assert!(direct.inliers < g.inliers / 2, "direct {}", direct.inliers);
    // …and inlier points come back in the query's own coordinates.
    let left = g.inlier_points.iter().filter(|p| p.0 < 0.5).count();
    assert!(left > 0 && left < g.inlier_points.len());
}

#[test]
fn a_stretched_copy_fits_once_the_stretch_is_undone() {
    let a = synth::scene(22, 480, 480);
    let s = imageops::resize(&a, 640, 480, imageops::FilterType::Triangle);
    let g = geometry::match_features(&geometry::extract(&s), &geometry::extract(&a));
    assert!(g.inliers >= 40, "stretch 4:3: {} inliers", g.inliers);
}
