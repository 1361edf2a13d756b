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

/// `subject` over the centre of `bg`, saved as the JPEG `out`.
fn centred(bg: &image::RgbaImage, subject: &image::RgbaImage, out: &Path) -> PathBuf {
    let mut img = bg.clone();
    imageops::overlay(
        &mut img,
        subject,
        (bg.width() - subject.width()) as i64 / 2,
        (bg.height() - subject.height()) as i64 / 2,
    );
    save_jpeg(&img, out);
    out.to_path_buf()
}

/// A library in `dir` holding the bridge photo, and the photo.
fn library_of_the_bridge(dir: &Path) -> (PathBuf, image::RgbaImage) {
    let lib = dir.join("lib.sqlite");
    let mut add = factory();
    add.args(["library", "add", "--library"])
        .arg(&lib)
        .arg(bridge());
    assert!(add.status().unwrap().success());
    (lib, image::open(bridge()).unwrap().to_rgba8())
}

#[test]
fn dedup_tells_a_new_subject_on_a_reused_background_and_an_inset_from_a_headline() {
    let dir = tempfile::tempdir().unwrap();
    let (lib, bg) = library_of_the_bridge(dir.path());
    let photo = bridge();
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
    let new_subject = centred(&bg, &subject, &dir.path().join("new-subject.jpg"));

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

/// A smooth product photo over the same background holds too few corners of its own for
/// keypoints to see a region there; the thumbnails kept with the keypoints see it whole.
/// A library written before thumbnails were kept (its features cut back to the keypoints,
/// as such a library holds them) gets one measured from the file when it is still there;
/// when it is gone, keypoints alone judge: a duplicate, what this pair got before.
#[test]
fn a_smooth_new_subject_is_seen_in_pixels_and_a_library_without_thumbnails_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("bridge.jpg");
    std::fs::copy(bridge(), &photo).unwrap();
    let lib = dir.path().join("lib.sqlite");
    let mut add = factory();
    add.args(["library", "add", "--library"])
        .arg(&lib)
        .arg(&photo);
    assert!(add.status().unwrap().success());
    let bg = image::open(&photo).unwrap().to_rgba8();
    let side = bg.height() * 55 / 100;
    let subject = imageops::resize(
        &synth::scene(30, 320, 320),
        side,
        side,
        FilterType::Triangle,
    );
    let new_subject = centred(&bg, &subject, &dir.path().join("smooth-subject.jpg"));
    let pixels = |v: &serde_json::Value| {
        assert_eq!(v["verdict"], "similar", "{v:#}");
        assert_eq!(v["matches"][0]["rule"], "new_subject", "{v:#}");
        let reason = v["reason"].as_str().unwrap();
        assert!(
            reason.contains("different subject in the centre"),
            "{reason}"
        );
        let evidence = v["matches"][0]["evidence"].to_string();
        assert!(evidence.contains("agrees pixel for pixel"), "{evidence}");
    };
    pixels(&dedup_verdict(&lib, &new_subject));

    // The same library as written before thumbnails: keypoint records only.
    let db = rusqlite::Connection::open(&lib).unwrap();
    let blob_len = |db: &rusqlite::Connection| -> usize {
        db.query_row("SELECT length(data) FROM features", [], |r| r.get(0))
            .unwrap()
    };
    let strip = |db: &rusqlite::Connection| {
        let blob: Vec<u8> = db
            .query_row("SELECT data FROM features", [], |r| r.get(0))
            .unwrap();
        let n = blob.len();
        let pixels = u16::from_le_bytes([blob[n - 8], blob[n - 7]]) as usize
            * u16::from_le_bytes([blob[n - 6], blob[n - 5]]) as usize;
        let records = (n - 8 - 8 - pixels) / 40;
        db.execute(
            "UPDATE features SET data = ?1",
            rusqlite::params![&blob[..8 + 40 * records]],
        )
        .unwrap();
        8 + 40 * records
    };
    let keypoints_only = strip(&db);
    // The file is still there: measured again, and the row keeps the thumbnail from now on.
    pixels(&dedup_verdict(&lib, &new_subject));
    assert!(blob_len(&db) > keypoints_only, "the thumbnail was kept");

    // Gone: the stored keypoints alone.
    strip(&db);
    std::fs::remove_file(&photo).unwrap();
    let v = dedup_verdict(&lib, &new_subject);
    let evidence = v["matches"][0]["evidence"].to_string();
    assert!(!evidence.contains("pixel for pixel"), "{v:#}");
    assert_eq!(v["verdict"], "duplicate", "{v:#}");
    assert!(
        v["matches"][0]["inliers"].as_u64().unwrap() >= 12,
        "the keypoints still read: {v:#}"
    );
}
