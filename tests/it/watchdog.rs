//! The watchdog: a job that makes no progress is abandoned and reported with the stage it
//! was stuck in, and the batch goes on; a stop signal does not wait for a stuck job.
//!
//! Inputs cannot block: every reader refuses what is not a regular file (a named pipe
//! swapped in under a running batch fails its variant at once, first test). What can block
//! is the file system under the output directory (a hung network mount); the stuck job here
//! is one whose staged file is a named pipe nobody reads, so its encoder's `open` blocks in
//! the kernel, as it would on such a mount.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::project::*;

/// Three variants, one per background clip, rendered in that order with `--jobs 1`.
const TEMPLATE: &str = r##"
[template]
name = "stall"
version = 1
kind = "video"
duration = 1.0
fps = 10

[output]
presets = ["tiny-video"]
regions = ["US"]

[[background]]
id = "a"
video = "assets/a.mp4"

[[background]]
id = "b"
video = "assets/b.mp4"

[[background]]
id = "c"
video = "assets/c.mp4"

[[product]]
id = "disc"
source = "assets/product.png"
scale = 0.5

[[subtitle]]
id = "hook"
text = { en = "Run lighter." }
size = 0.1
min_size = 0.05

[[audio]]
id = "tone"
source = "assets/music.m4a"
"##;

fn project() -> Project {
    let p = Project::new();
    for name in ["a", "b", "c"] {
        std::fs::copy(
            p.path("assets/clip.mp4"),
            p.path(&format!("assets/{name}.mp4")),
        )
        .unwrap();
    }
    p.write("t.toml", TEMPLATE);
    p
}

/// Where the test puts a named pipe once the first job has started.
#[derive(Clone, Copy)]
enum Pipe {
    /// In place of `assets/b.mp4`, the second job's background.
    Input,
    /// At the second job's staged file.
    Output,
}

fn mkfifo(path: &std::path::Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// The staged file of the job for background `b` inside `out/.staging-PID/`, from the plan.
fn staged_b(p: &Project, pid: u32) -> PathBuf {
    let o = p.factory(&["plan", "t.toml", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let job = plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["modules"]["background"] == "b")
        .unwrap()
        .clone();
    let name = job["file"].as_str().unwrap().replace('/', "__");
    p.path(&format!(
        "out/.staging-{pid}/{:05}-{name}",
        job["index"].as_u64().unwrap()
    ))
}

/// Starts the render (`--jobs 1`, clips streamed so each job opens its own) and, when the
/// first job starts, puts the pipe in place. Calls `on_first_done` when the first job
/// finishes (the second, over `b`, is then starting); returns the exit status, every event,
/// and how long the run went on after that.
fn run_with_pipe(
    p: &Project,
    pipe: Pipe,
    extra: &[&str],
    on_first_done: impl Fn(&Child),
) -> (ExitStatus, Vec<serde_json::Value>, Duration) {
    let mut child = crate::support::factory()
        .current_dir(p.dir.path())
        .args(["render", "t.toml", "--out", "out", "--progress", "json"])
        .args(["--jobs", "1", "--clip-cache-mib", "0"])
        .args(extra)
        .arg("--presets-dir")
        .arg(p.path("presets"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let staged = staged_b(p, child.id());
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut events = Vec::new();
    let mut first_done = None;
    for line in reader.lines() {
        let ev: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if ev["event"] == "job_started"
            && events
                .iter()
                .all(|e: &serde_json::Value| e["event"] != "job_started")
        {
            match pipe {
                Pipe::Input => {
                    let fifo = p.path("assets/pipe");
                    mkfifo(&fifo);
                    std::fs::rename(&fifo, p.path("assets/b.mp4")).unwrap();
                }
                Pipe::Output => mkfifo(&staged),
            }
        }
        if ev["event"] == "job_finished" && first_done.is_none() {
            first_done = Some(Instant::now());
            on_first_done(&child);
        }
        events.push(ev);
    }
    // Nothing hangs: a run still going a minute later has failed this test.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status,
        events,
        first_done.expect("a job finished").elapsed(),
    )
}

fn row<'a>(m: &'a serde_json::Value, bg: &str) -> &'a serde_json::Value {
    m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["modules"]["background"] == bg)
        .unwrap_or_else(|| panic!("no row for {bg}"))
}

#[test]
fn a_named_pipe_swapped_in_for_an_input_fails_its_variant_without_blocking() {
    let p = project();
    let (status, _, _) = run_with_pipe(&p, Pipe::Input, &[], |_| {});
    assert_eq!(status.code(), Some(1), "one variant failed");
    let m = manifest(&p.path("out"));
    assert_eq!(row(&m, "a")["status"], "exported");
    assert_eq!(row(&m, "c")["status"], "exported", "the batch went on");
    let b = row(&m, "b");
    assert_eq!(b["status"], "failed");
    assert_eq!(b["error_kind"], "bad_input", "{b}");
    let pipe = p.path("assets/b.mp4");
    assert_eq!(
        b["error"].as_str().unwrap(),
        format!(
            "variant 2 ({}, tiny-video, US): background `b`: {}: not a regular file",
            b["file"].as_str().unwrap(),
            pipe.display()
        )
    );
}

#[test]
fn a_stuck_job_is_abandoned_with_its_stage_and_the_batch_goes_on() {
    let p = project();
    let (status, events, _) = run_with_pipe(&p, Pipe::Output, &["--stall-timeout", "2"], |_| {});
    assert_eq!(status.code(), Some(1), "one variant failed");
    let m = manifest(&p.path("out"));
    let rows = m["outputs"].as_array().unwrap();
    let by_bg = |bg: &str| {
        rows.iter()
            .find(|r| r["modules"]["background"] == bg)
            .unwrap_or_else(|| panic!("no row for {bg}"))
    };
    assert_eq!(by_bg("a")["status"], "exported");
    assert_eq!(by_bg("c")["status"], "exported", "the batch went on");
    let stuck = by_bg("b");
    assert_eq!(stuck["status"], "failed");
    assert_eq!(stuck["error_kind"], "io", "{stuck}");
    let error = stuck["error"].as_str().unwrap();
    assert_eq!(
        error,
        format!(
            "variant 2 ({}, tiny-video, US): made no progress for 2 s while rendering and \
             encoding frames; abandoned (raise --stall-timeout if the job is only slow)",
            stuck["file"].as_str().unwrap()
        )
    );
    for r in [by_bg("a"), by_bg("c")] {
        assert!(p.path("out").join(r["file"].as_str().unwrap()).is_file());
    }
    assert!(!p.path("out").join(stuck["file"].as_str().unwrap()).exists());
    // The event stream reports it once, as failed, with the same message.
    let finished: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "job_finished" && e["file"] == stuck["file"])
        .collect();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0]["status"], "failed");
    assert_eq!(finished[0]["error"], error);
    // No staging directory left behind.
    for e in std::fs::read_dir(p.path("out")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".staging"), "{name}");
    }
}

#[test]
fn a_stop_signal_does_not_wait_for_a_stuck_job() {
    let p = project();
    // Watchdog off: only the stop can end the stuck job.
    let (status, _, after) = run_with_pipe(&p, Pipe::Output, &["--stall-timeout", "0"], |child| {
        // Give the second job time to reach its blocking open.
        std::thread::sleep(Duration::from_millis(300));
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
    });
    assert_eq!(status.code(), Some(143), "ended by SIGTERM");
    // Within the grace period for running jobs (5 s), not never; generous for a busy machine.
    assert!(after < Duration::from_secs(30), "took {after:?}");
    let m = manifest(&p.path("out"));
    let rows = m["outputs"].as_array().unwrap();
    let status_of = |bg: &str| {
        rows.iter()
            .find(|r| r["modules"]["background"] == bg)
            .map(|r| r["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status_of("a").as_deref(), Some("exported"));
    assert_eq!(status_of("c").as_deref(), Some("skipped"));
}
