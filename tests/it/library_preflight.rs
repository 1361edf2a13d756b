//! Library damage does not go unnoticed (issue #11): a library file that is empty, not a
//! library, damaged or locked stops the run before anything renders, naming the file; only
//! a path where nothing exists yet makes a new library.

use std::time::{Duration, Instant};

use creative_factory::dedup::{DedupError, Library, NotLibrary};

use crate::support::project::*;

const TEMPLATE: &str = r##"
[template]
name = "guarded"
kind = "image"

[output]
presets = ["tiny-image"]
regions = ["US"]

[[background]]
id = "photo"
image = "assets/photo.png"

[dedup]
policy = "warn"
library = "lib.sqlite"
"##;

/// Renders `TEMPLATE` into `out`; returns the process output and how long it took.
fn render(p: &Project) -> (std::process::Output, Duration) {
    p.write("t.toml", TEMPLATE);
    let t0 = Instant::now();
    let o = p.factory(&["render", "t.toml", "--out", "out", "--progress", "plain"]);
    (o, t0.elapsed())
}

/// Nothing was rendered or published: no manifest, no region directory.
fn assert_nothing_rendered(p: &Project) {
    assert!(!p.path("out/manifest.json").exists());
    assert!(!p.path("out/US").exists());
}

#[test]
fn an_empty_library_file_is_refused_and_nothing_renders() {
    let p = Project::new();
    let lib = p.write("lib.sqlite", "");
    let (o, _) = render(&p);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "library {} is not a factory library: the file is empty (0 bytes); to start a new \
             library on purpose, remove the file or point `[dedup] library` (or `--library`) at \
             a path that does not exist yet",
            lib.display()
        )),
        "{err}"
    );
    assert_nothing_rendered(&p);
    assert_eq!(std::fs::metadata(&lib).unwrap().len(), 0, "left as it was");

    // Removing it is how a new library is started: the run then makes one.
    std::fs::remove_file(&lib).unwrap();
    let (o, _) = render(&p);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(Library::open(&lib).unwrap().list().unwrap().len(), 1);
}

#[test]
fn a_file_that_is_not_a_library_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.sqlite");
    std::fs::write(&path, "name,sha256\nad.mp4,00ff\n").unwrap();
    let e = Library::open(&path).err().expect("refused");
    assert!(
        matches!(
            e,
            DedupError::NotALibrary {
                why: NotLibrary::NotSqlite,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().starts_with(&format!(
        "library {} is not a factory library: it is not an SQLite database; ",
        path.display()
    )));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "name,sha256\nad.mp4,00ff\n"
    );
    let e = Library::open(dir.path())
        .err()
        .expect("a directory is refused");
    assert!(matches!(
        e,
        DedupError::NotALibrary {
            why: NotLibrary::NotAFile,
            ..
        }
    ));
}

#[test]
fn a_damaged_library_is_refused_by_the_preflight() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.sqlite");
    drop(Library::open(&path).unwrap());
    // Keep SQLite's 100-byte header, overwrite the schema page after it.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 4096);
    for (i, b) in bytes[100..4096].iter_mut().enumerate() {
        *b = (i * 7 + 13) as u8;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = Library::preflight(&path, Duration::from_secs(1))
        .err()
        .expect("refused");
    assert!(matches!(e, DedupError::Damaged { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("library {} is damaged (", path.display())),
        "{e}"
    );
}

#[test]
fn a_locked_library_stops_the_run_before_it_renders() {
    let p = Project::new();
    let lib = p.path("lib.sqlite");
    drop(Library::open(&lib).unwrap());
    // Another process (here: this one) holds the write lock for as long as it likes.
    let holder = rusqlite::Connection::open(&lib).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (o, took) = render(&p);
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "library {} is locked: another process holds its write lock and did not release it \
             within 3 s; let that process finish (or stop it) and run again",
            lib.display()
        )),
        "{err}"
    );
    assert_nothing_rendered(&p);
    // Found by the preflight (3 s), not after the batch and a 30 s busy wait.
    assert!(took < Duration::from_secs(20), "took {took:?}");

    // Released, the same run goes through.
    drop(holder);
    let (o, _) = render(&p);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// The preflight on its own: a lock held elsewhere is reported after the short wait.
#[test]
fn the_preflight_gives_up_on_a_held_lock_after_its_wait() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lib.sqlite");
    drop(Library::open(&path).unwrap());
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let t0 = Instant::now();
    let e = Library::preflight(&path, Duration::from_secs(1))
        .err()
        .expect("refused");
    let took = t0.elapsed();
    assert!(
        matches!(e, DedupError::Locked { waited_secs: 1, .. }),
        "{e:?}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    assert!(Library::preflight(&path, Duration::from_secs(1)).is_ok());
}
