//! Debian's `chromium`, headless, for pages a person opens in a browser: the DOM after the
//! page's scripts ran, and what the browser logged while loading it.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What chromium made of a page.
pub struct Loaded {
    pub dom: String,
    pub log: String,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Loads `url` in headless chromium and returns the serialised DOM and the log. Fails (never
/// skips) when chromium is missing; kills it after 60 s.
pub fn dump_dom(url: &str) -> Loaded {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        "--allow-file-access-from-files",
        "--virtual-time-budget=5000",
        "--window-size=1280,2000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    // Chromium's sandbox refuses to start as root (CI containers); a user keeps it.
    if is_root() {
        cmd.arg("--no-sandbox");
    }
    cmd.arg("--dump-dom").arg(url);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start `chromium` ({e}): install it with `sudo bash scripts/setup-deps.sh`"
            )
        });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish loading {url} within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = reader.join().unwrap();
    let log = err_reader.join().unwrap();
    assert!(
        status.success(),
        "chromium failed on {url}: {status}\n{log}"
    );
    Loaded { dom, log }
}

/// `file://` URL of a local file, with a fragment.
pub fn file_url(path: &Path, fragment: &str) -> String {
    let abs = path.canonicalize().unwrap();
    let mut u = String::from("file://");
    for b in abs.to_str().unwrap().bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            u.push(b as char);
        } else {
            u.push_str(&format!("%{b:02X}"));
        }
    }
    if !fragment.is_empty() {
        u.push('#');
        u.push_str(fragment);
    }
    u
}

/// Console messages and failed loads in chromium's log: what a page that works has none of.
pub fn page_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Uncaught")
                || l.contains("net::ERR_")
                || l.contains("Failed to load")
        })
        .collect()
}
