//! Issue #13, pixels only: `factory dedup` on files from elsewhere tells "same scene, new
//! subject" and "old picture inset into another scene" (similar: the scene repeats) from an
//! edit of the same picture (a duplicate), as an operator reads it in `--json`.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};

use crate::support::dedup::*;
use crate::support::synth;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

fn bridge() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dedup/bridge-1-original.jpg")
}

fn save_jpeg(img: &image::RgbaImage, path: &Path) {
    image::DynamicImage::ImageRgba8(img.clone())
        .to_rgb8()
        .save(path)
        .unwrap();
}

#[test]
fn dedup_tells_a_new_subject_on_a_reused_background_and_an_inset_from_a_headline() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib.sqlite");
    let photo = bridge();
    let mut add = factory();
    add.args(["library", "add", "--library"])
        .arg(&lib)
        .arg(&photo);
    assert!(add.status().unwrap().success());
    let bg = image::open(&photo).unwrap().to_rgba8();
    let (w, h) = bg.dimensions();

    // A new subject over the centre of the same background: a product card 65 % of the
    // frame's height across, as busy as a product photo (a mosaic of synthetic scenes: a
    // single smooth one gives too few corners of its own to be seen).
    let side = h * 65 / 100;
    let tile = side / 4 + 1;
    let mut subject = image::RgbaImage::new(side, side);
    for k in 0..16u32 {
        let t = imageops::resize(
            &synth::scene(30 + k as u64, 320, 320),
            tile,
            tile,
            FilterType::Triangle,
        );
        imageops::replace(
            &mut subject,
            &t,
            ((k % 4) * tile) as i64,
            ((k / 4) * tile) as i64,
        );
    }
    let mut img = bg.clone();
    imageops::overlay(
        &mut img,
        &subject,
        (w - side) as i64 / 2,
        (h - side) as i64 / 2,
    );
    let new_subject = dir.path().join("new-subject.jpg");
    save_jpeg(&img, &new_subject);

    // The photo at a fifth of the frame's area, in the corner of an unrelated scene.
    let scene = synth::scene(11, 1200, 800);
    let (iw, ih) = (1200 * 45 / 100, 1200 * 45 / 100 * h / w);
    let mut img = scene.clone();
    imageops::overlay(
        &mut img,
        &imageops::resize(&bg, iw, ih, FilterType::Triangle),
        40,
        40,
    );
    let inset = dir.path().join("inset.jpg");
    save_jpeg(&img, &inset);

    // A big headline (h/7 text across the middle) over the same photo.
    let headline = dir.path().join("headline.jpg");
    let text = if Path::new(FONT).exists() {
        format!("drawtext=fontfile={FONT}:text='BIG SALE NOW':fontsize=h/7:fontcolor=white:borderw=3:x=(w-tw)/2:y=h*0.4")
    } else {
        "drawbox=x=iw*0.1:y=ih*0.4:w=iw*0.8:h=ih/7:color=white:t=fill".into()
    };
    ffmpeg(&[
        "-i",
        photo.to_str().unwrap(),
        "-vf",
        &text,
        "-q:v",
        "3",
        headline.to_str().unwrap(),
    ]);

    let v = dedup_verdict(&lib, &new_subject);
    assert_eq!(v["verdict"], "similar", "{v:#}");
    assert_eq!(v["matches"][0]["rule"], "new_subject", "{v:#}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("same background as")
            && reason.contains("bridge-1-original.jpg")
            && reason.contains("different subject in the centre"),
        "{reason}"
    );
    assert!(
        v["matches"][0]["dimensions"]
            .as_array()
            .unwrap()
            .contains(&"scene".into()),
        "{v:#}"
    );

    let v = dedup_verdict(&lib, &inset);
    assert_ne!(v["verdict"], "duplicate", "{v:#}");
    if v["verdict"] == "similar" {
        assert_eq!(v["matches"][0]["rule"], "inset", "{v:#}");
    }

    let v = dedup_verdict(&lib, &headline);
    assert_eq!(v["verdict"], "duplicate", "{v:#}");
    assert_eq!(v["matches"][0]["rule"], "visual_edit", "{v:#}");
}
