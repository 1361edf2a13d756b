//! Production runs into an existing output directory: reruns that render only what changed,
//! subset runs that merge, `kill -9` and signals that lose nothing, encoder faults that end
//! the job and not the batch.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::support::project::*;

/// Two backgrounds × two subtitles, two presets, two regions: 16 outputs, half of them using
/// the subtitle "sale".
const TEMPLATE: &str = r##"
[template]
name = "sneaker"
version = 2
kind = "both"
duration = 1.0
fps = 10

[output]
presets = ["tiny-video", "tiny-post"]
regions = ["US", "SA"]

[[background]]
id = "photo"
image = "assets/photo.png"
fit = "cover"

[[background]]
id = "clip"
video = "assets/clip.mp4"
loop = true

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.5

[[subtitle]]
id = "hook"
text = { en = "Run lighter.", ar = "اركض بخفة" }
size = 0.1
min_size = 0.05

[[subtitle]]
id = "sale"
text = { en = "Half price today.", ar = "نصف السعر اليوم" }
size = 0.1
min_size = 0.05

[[audio]]
id = "tone"
source = "assets/music.m4a"
fade_out = 0.3
"##;

fn render_json(p: &Project, extra: &[&str]) -> (std::process::Output, Vec<serde_json::Value>) {
    let mut args = vec!["render", "t.toml", "--out", "out", "--progress", "json"];
    args.extend_from_slice(extra);
    let o = p.factory(&args);
    let events = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (o, events)
}

fn files_of(events: &[serde_json::Value], kind: &str) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e["event"] == kind)
        .map(|e| e["file"].as_str().unwrap().to_string())
        .collect()
}

fn finished(events: &[serde_json::Value]) -> &serde_json::Value {
    events
        .iter()
        .find(|e| e["event"] == "finished")
        .expect("a finished event")
}

/// Output files under `out` as a user lists them (hidden entries and manifests aside).
fn files_in(out: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            // Hidden ones and the review page with its thumbnails (rebuilt by every run) are
            // not outputs.
            if name.starts_with('.')
                || (dir == out && (name == "report.html" || name == "report_files"))
            {
                continue;
            }
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if !name.starts_with("manifest.") {
                let rel = path
                    .strip_prefix(out)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                found.insert(rel);
            }
        }
    }
    found
}

fn sha256(path: &Path) -> String {
    creative_factory::plan::sha256_file(path).unwrap()
}

/// What an auditor checks after any run, finished or killed: the manifest lists exactly the
/// files present, each with its true sha256, and nothing half-written is in sight.
fn assert_manifest_describes_directory(out: &Path) {
    let present = files_in(out);
    let m = manifest(out);
    let mut listed = BTreeSet::new();
    for r in m["outputs"].as_array().unwrap() {
        if r["status"] != "exported" {
            continue;
        }
        let file = r["file"].as_str().unwrap();
        let path = out.join(file);
        assert!(path.exists(), "listed but missing: {file}");
        assert_eq!(sha256(&path), r["sha256"].as_str().unwrap(), "{file}");
        listed.insert(file.to_string());
    }
    assert_eq!(present, listed, "files present vs files listed as exported");
}

fn mtimes(out: &Path) -> BTreeMap<String, std::time::SystemTime> {
    files_in(out)
        .into_iter()
        .map(|f| {
            let t = std::fs::metadata(out.join(&f)).unwrap().modified().unwrap();
            (f, t)
        })
        .collect()
}

#[test]
fn an_unchanged_rerun_renders_nothing_and_reuses_every_output() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let (o, first) = render_json(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(finished(&first)["exported"], 16);
    // What the run cost, and the duplicate gate's part of it, read from the run itself.
    let f = finished(&first);
    let (cpu, gate) = (
        f["cpu_seconds"].as_f64().unwrap(),
        f["gate_cpu_seconds"].as_f64().unwrap(),
    );
    assert!(gate > 0.0 && gate < cpu, "gate {gate} of {cpu} CPU-s");
    let out = p.path("out");
    let run = &manifest(&out)["run"];
    assert_eq!(
        (
            run["cpu_seconds"].as_f64(),
            run["gate_cpu_seconds"].as_f64()
        ),
        (Some(cpu), Some(gate))
    );
    let before = mtimes(&out);

    let (o, again) = render_json(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        files_of(&again, "job_started").is_empty(),
        "nothing is rendered"
    );
    assert_eq!(files_of(&again, "reused").len(), 16);
    let f = finished(&again);
    assert_eq!(
        (f["exported"].as_u64(), f["reused"].as_u64()),
        (Some(0), Some(16))
    );
    assert_eq!(mtimes(&out), before, "no file was touched");
    let m = manifest(&out);
    assert_eq!(m["outputs"].as_array().unwrap().len(), 16);
    assert_eq!(m["run"]["reused"], 16);
    assert_eq!(m["run"]["rendered"], 0);
    assert_eq!(m["run"]["factory_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["run"]["template_sha256"], sha256(&p.path("t.toml")));
    assert!(m["run"]["finished"].is_string());
    assert_manifest_describes_directory(&out);

    // A file edited by hand no longer matches its recorded sha256: it is rendered again.
    let victim = out.join("US/US_Feed_Post_v1.png");
    std::fs::write(&victim, b"not the export").unwrap();
    let (o, third) = render_json(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        files_of(&third, "job_started"),
        BTreeSet::from(["US/US_Feed_Post_v1.png".to_string()])
    );
    assert_manifest_describes_directory(&out);

    // --force renders everything again.
    let (o, forced) = render_json(&p, &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files_of(&forced, "job_started").len(), 16);
    assert_manifest_describes_directory(&out);
}

#[test]
fn changing_one_caption_renders_exactly_the_outputs_that_use_it() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let (o, _) = render_json(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = p.path("out");
    let uses_sale: BTreeSet<String> = manifest(&out)["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["modules"]["subtitle"] == "sale")
        .map(|r| r["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(uses_sale.len(), 8, "every region and preset");

    // Its text in every locale belongs to the option, so every output showing it is
    // rendered again (the Arabic outputs too: one option, one id); nothing else is.
    p.write(
        "t.toml",
        &TEMPLATE.replace("Half price today.", "Half price, today only."),
    );
    let (o, events) = render_json(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files_of(&events, "job_started"), uses_sale);
    assert_eq!(files_of(&events, "reused").len(), 8);
    assert_manifest_describes_directory(&out);
}

#[test]
fn outputs_that_left_the_plan_are_moved_aside_and_leave_the_manifest() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let (o, _) = render_json(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = p.path("out");
    let sale: Vec<(String, String)> = manifest(&out)["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["modules"]["subtitle"] == "sale")
        .map(|r| {
            (
                r["file"].as_str().unwrap().into(),
                r["sha256"].as_str().unwrap().into(),
            )
        })
        .collect();

    let start = TEMPLATE.find("[[subtitle]]\nid = \"sale\"").unwrap();
    let end = TEMPLATE.find("[[audio]]").unwrap();
    let without = format!("{}{}", &TEMPLATE[..start], &TEMPLATE[end..]);
    p.write("t.toml", &without);
    let (o, events) = render_json(&p, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Every output that showed "sale" is gone from the pack, and kept under OUT/.removed/,
    // byte for byte, whether its name left the plan or now belongs to another variant.
    let moved: Vec<std::path::PathBuf> = events
        .iter()
        .filter(|e| e["event"] == "removed")
        .map(|e| std::path::PathBuf::from(e["moved_to"].as_str().unwrap()))
        .collect();
    let moved: Vec<std::path::PathBuf> = moved.iter().map(|m| p.dir.path().join(m)).collect();
    for m in &moved {
        assert!(m.starts_with(out.join(".removed")), "{m:?}");
    }
    let moved_shas: BTreeSet<String> = moved.iter().map(|m| sha256(m)).collect();
    for (file, sha) in &sale {
        assert!(moved_shas.contains(sha), "{file} was not kept aside");
    }
    let m = manifest(&out);
    assert_eq!(m["outputs"].as_array().unwrap().len(), 8);
    assert_manifest_describes_directory(&out);
}

#[test]
fn a_subset_run_merges_its_rows_into_the_manifest() {
    let p = Project::new();
    p.write("t.toml", TEMPLATE);
    let (o, _) = render_json(&p, &["--presets", "tiny-video"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = p.path("out");
    assert_eq!(manifest(&out)["outputs"].as_array().unwrap().len(), 8);

    let (o, events) = render_json(&p, &["--presets", "tiny-post", "--regions", "US"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(files_of(&events, "job_started").len(), 4);
    assert!(
        files_of(&events, "removed").is_empty(),
        "other presets are not removed"
    );
    let m = manifest(&out);
    let rows = m["outputs"].as_array().unwrap();
    assert_eq!(rows.len(), 12, "8 videos kept, 4 US images added");
    assert_manifest_describes_directory(&out);
    // The region pack's own manifest lists its images and its videos.
    let us = manifest(&out.join("US"));
    assert_eq!(us["outputs"].as_array().unwrap().len(), 8);
}

/// Starts a render whose JSON events the test reads as they come.
fn spawn_render(p: &Project, extra: &[&str]) -> Child {
    let mut cmd = crate::support::factory();
    cmd.current_dir(p.dir.path())
        .args([
            "render",
            "t.toml",
            "--out",
            "out",
            "--progress",
            "json",
            "--jobs",
            "1",
        ])
        .args(extra)
        .arg("--presets-dir")
        .arg(p.path("presets"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// Reads events until `stop_at` says so, then signals the process; returns its status.
fn interrupt_when(
    mut child: Child,
    signal: &str,
    mut stop_at: impl FnMut(&serde_json::Value) -> bool,
) -> std::process::ExitStatus {
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut sent = false;
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let ev: serde_json::Value = serde_json::from_str(&line).unwrap();
        if !sent && stop_at(&ev) {
            Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap();
            sent = true;
        }
    }
    child.wait().unwrap()
}

/// When to kill: given each event and a counter it may keep.
type KillPoint = fn(&serde_json::Value, &mut u32) -> bool;

#[test]
fn kill_9_at_any_point_loses_nothing_and_the_rerun_finishes_the_batch() {
    let points: [(&str, KillPoint); 5] = [
        ("before the first output", |e, _| e["event"] == "started"),
        ("mid-encode", |e, _| {
            e["event"] == "job_started" && e["file"].as_str().unwrap().ends_with(".mp4")
        }),
        ("between outputs", |e, n| {
            *n += u32::from(e["event"] == "job_finished");
            *n == 5
        }),
        ("while scoring and publishing", |e, n| {
            *n += u32::from(e["event"] == "job_finished");
            *n == 9
        }),
        ("at the end, writing the manifest", |e, n| {
            *n += u32::from(e["event"] == "job_finished");
            *n == 16
        }),
    ];
    for (when, at) in points {
        let p = Project::new();
        p.write("t.toml", TEMPLATE);
        let mut seen = 0;
        let status = interrupt_when(spawn_render(&p, &[]), "-9", |e| at(e, &mut seen));
        let out = p.path("out");
        assert_eq!(status.code(), None, "{when}: killed");
        if out.join("manifest.json").exists() {
            assert_manifest_describes_directory(&out);
        }
        let published = files_in(&out).len();

        let (o, events) = render_json(&p, &[]);
        assert!(o.status.success(), "{when}: {}", stderr(&o));
        let f = finished(&events);
        assert_eq!(
            f["reused"].as_u64().unwrap() + f["exported"].as_u64().unwrap(),
            16,
            "{when}"
        );
        assert!(
            f["reused"].as_u64().unwrap() as usize >= published.saturating_sub(1),
            "{when}"
        );
        assert_manifest_describes_directory(&out);
        assert_eq!(files_in(&out).len(), 16, "{when}");
        let staging: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".staging-"))
            .collect();
        assert!(staging.is_empty(), "{when}: staging removed");
    }
}

#[test]
fn sigint_and_sigterm_stop_cleanly_keeping_what_was_finished() {
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let p = Project::new();
        p.write("t.toml", TEMPLATE);
        let mut done = 0;
        let status = interrupt_when(spawn_render(&p, &[]), signal, |e| {
            done += u32::from(e["event"] == "job_finished");
            done == 3
        });
        assert_eq!(status.code(), Some(code), "{signal}");
        let out = p.path("out");
        assert_manifest_describes_directory(&out);
        let m = manifest(&out);
        let rows = m["outputs"].as_array().unwrap();
        let exported = rows.iter().filter(|r| r["status"] == "exported").count();
        assert!((1..16).contains(&exported), "{signal}: {exported} exported");
        let skipped = rows.iter().filter(|r| r["status"] == "skipped").count();
        let others: Vec<String> = rows
            .iter()
            .filter(|r| r["status"] != "exported" && r["status"] != "skipped")
            .map(|r| format!("{} {} {}", r["file"], r["status"], r["error"]))
            .collect();
        assert_eq!(
            exported + skipped,
            16,
            "{signal}: every other output is listed as skipped, not {others:?}"
        );
        let staging = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".staging-"));
        assert!(!staging, "{signal}: staging cleaned");
        let (o, _) = render_json(&p, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(files_in(&out).len(), 16);
    }
}

#[test]
fn an_encoder_write_error_fails_its_job_and_the_batch_goes_on() {
    // A file-size limit makes every write past it fail (EFBIG): a real write error from the
    // kernel, as a full disk gives. Large, nearly lossless videos exceed it; stills and the
    // manifests do not.
    let p = Project::new();
    let big = crate::support::presets::VideoPreset {
        width: 480,
        height: 480,
        crf: 4,
        ..crate::support::presets::TINY_VIDEO
    };
    p.write("presets/big-video.toml", &big.toml());
    p.write(
        "t.toml",
        &TEMPLATE
            .replace(
                r#"presets = ["tiny-video", "tiny-post"]"#,
                r#"presets = ["big-video", "tiny-post"]"#,
            )
            .replace("duration = 1.0", "duration = 2.0"),
    );
    let script = format!(
        "trap '' XFSZ; ulimit -f 48; exec {} render t.toml --out out --progress json --jobs 2 --presets-dir presets",
        env!("CARGO_BIN_EXE_factory")
    );
    let mut child = Command::new("bash")
        .args(["-c", &script])
        .current_dir(p.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A hang is the fault under test: give up after a minute rather than wait forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the render hung after the encoder failed");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = p.path("out");
    let m = manifest(&out);
    let rows = m["outputs"].as_array().unwrap();
    let failed: Vec<&serde_json::Value> = rows.iter().filter(|r| r["status"] == "failed").collect();
    assert!(!failed.is_empty(), "some video outgrew the limit");
    for r in &failed {
        assert_eq!(r["kind"], "video", "{r}");
        assert_eq!(r["error_kind"], "io", "{r}");
        let e = r["error"].as_str().unwrap();
        assert!(e.contains("File too large"), "{e}");
    }
    for r in rows.iter().filter(|r| r["kind"] == "image") {
        assert_eq!(r["status"], "exported", "{r}");
    }
    assert_manifest_describes_directory(&out);
}
