//! Issue #13, videos with camera motion: `factory dedup` on files from elsewhere calls a
//! slow zoom over a still (the engine's own Ken Burns) a duplicate when a small logo is put
//! in a corner or the whole video is turned by a few degrees — the rule calls logo-only and
//! rotation-only changes duplicates — and keeps an unrelated video with the same motion
//! apart.

use std::path::{Path, PathBuf};

use crate::support::dedup::{dedup_verdict, factory, ffmpeg};

fn sample(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(rel)
}

/// 6 s of a slow push-in over `still` on a 320×568 canvas, at 5 fps: the gate samples one
/// frame a second, so more frames would only cost encoding time.
fn ken_burns(still: &Path, out: &Path) {
    ffmpeg(&[
        "-loop",
        "1",
        "-i",
        still.to_str().unwrap(),
        "-vf",
        "scale=-2:1136,zoompan=z='1+0.008*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=30:s=320x568:fps=5,format=yuv420p",
        "-t",
        "6",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        out.to_str().unwrap(),
    ]);
}

fn edit(input: &Path, extra: &[&str], graph_flag: &str, graph: &str, out: &Path) {
    let mut args = vec!["-i", input.to_str().unwrap()];
    args.extend(extra);
    args.extend([
        graph_flag,
        graph,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        out.to_str().unwrap(),
    ]);
    ffmpeg(&args);
}

/// A library in `d` holding `original`, and two copies of it: with a corner logo and
/// turned by 4°.
fn library_logo_and_turn(d: &Path, original: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let lib = d.join("lib.sqlite");
    let add = factory()
        .args(["library", "add", "--library"])
        .arg(&lib)
        .arg(original)
        .output()
        .unwrap();
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let logo = d.join("logo.mp4");
    let badge = sample("product/badge.png");
    edit(
        original,
        &["-i", badge.to_str().unwrap()],
        "-filter_complex",
        "[1]scale=iw*0.09:-1[l];[0][l]overlay=W-w-8:8",
        &logo,
    );
    let turned = d.join("turned.mp4");
    edit(original, &[], "-vf", "rotate=4*PI/180", &turned);
    (lib, logo, turned)
}

#[test]
fn dedup_calls_a_logo_or_a_small_turn_on_a_moving_video_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let original = d.join("original.mp4");
    ken_burns(&sample("bg/rocket.jpg"), &original);
    let (lib, logo, turned) = library_logo_and_turn(d, &original);

    let v = dedup_verdict(&lib, &logo);
    assert_eq!(v["verdict"], "duplicate", "corner logo: {v:#}");
    assert_eq!(v["matches"][0]["file"], original.to_str().unwrap(), "{v:#}");

    let v = dedup_verdict(&lib, &turned);
    assert_eq!(v["verdict"], "duplicate", "turned 4°: {v:#}");
    assert_eq!(v["matches"][0]["file"], original.to_str().unwrap(), "{v:#}");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("original.mp4"), "{reason}");

    // The same push-in over another picture shares the motion only.
    let other = d.join("other.mp4");
    ken_burns(&sample("bg/space.jpg"), &other);
    let v = dedup_verdict(&lib, &other);
    assert_eq!(
        v["verdict"], "distinct",
        "unrelated video with the same motion: {v:#}"
    );
}

/// A push-in over a soft, low-contrast picture: its seconds hash far apart under a corner
/// logo or a 4° turn, so hashes alone (a library written before schema 5 kept the seconds'
/// thumbnails) call the logo version similar and the turned one distinct. Each second's
/// thumbnail, compared where the key frames' keypoints put it, shows the same picture.
#[test]
fn a_soft_moving_video_under_a_logo_or_a_turn_is_matched_pixel_for_pixel() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let soft = d.join("soft.png");
    ffmpeg(&[
        "-i",
        sample("bg/rocket.jpg").to_str().unwrap(),
        "-vf",
        "gblur=sigma=4,eq=contrast=0.7",
        soft.to_str().unwrap(),
    ]);
    let original = d.join("original.mp4");
    ffmpeg(&[
        "-loop",
        "1",
        "-i",
        soft.to_str().unwrap(),
        "-vf",
        "scale=1280:-2,zoompan=z='1+0.0125*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=40:s=320x180:fps=5,format=yuv420p",
        "-t",
        "8",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        original.to_str().unwrap(),
    ]);
    let (lib, logo, turned) = library_logo_and_turn(d, &original);

    for (file, what) in [(&logo, "corner logo"), (&turned, "turned 4°")] {
        let v = dedup_verdict(&lib, file);
        assert_eq!(v["verdict"], "duplicate", "{what}: {v:#}");
        assert_eq!(v["matches"][0]["file"], original.to_str().unwrap(), "{v:#}");
        assert!(
            v["matches"][0]["evidence"]
                .to_string()
                .contains("pixel for pixel where the key frames' keypoints put them"),
            "{what}: {v:#}"
        );
    }

    // Without a library, the original as an earlier file of the same run: its seconds'
    // thumbnails are read back from the run's spill file.
    let out = factory()
        .args(["dedup", "--json"])
        .arg(&original)
        .arg(&turned)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[1]["verdict"], "duplicate", "{:#}", lines[1]);
    assert_eq!(lines[1]["matches"][0]["source"], "batch", "{:#}", lines[1]);

    // The library as written before schema 5: no second has a thumbnail.
    let db = rusqlite::Connection::open(&lib).unwrap();
    assert!(db.execute("UPDATE frames SET thumb = NULL", []).unwrap() >= 8);
    drop(db);
    assert_ne!(dedup_verdict(&lib, &logo)["verdict"], "duplicate");
    assert_eq!(dedup_verdict(&lib, &turned)["verdict"], "distinct");
}
