//! One writer per output directory, and staging that belongs to the run that made it.
//!
//! The lock is an advisory `flock` on `OUT/.factory-lock`, taken for the whole run. The kernel
//! drops it when the process dies however it dies (`kill -9` included), so a lock left by a
//! killed run is stale by construction and the next run simply takes it; the file's contents
//! (pid, host, start time) only serve to name the holder in the refusal and to say whose lock
//! was taken over. `flock` on NFS is emulated with byte-range locks on Linux ≥ 2.6.12, which is
//! what shared output directories need; across machines without a lock manager it is not
//! reliable, and the scale-out work gives each machine its own shard directory instead.
//!
//! Staging directories carry a marker file naming their run. Only directories with that
//! marker are ever removed, and only while this run holds the lock — so a user's
//! `OUT/.staging-notes/` is never touched, and no live run's staging can be taken away.

use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds (or held) an output directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// Unix seconds.
    pub started: i64,
}

impl Holder {
    pub fn current() -> Holder {
        Holder {
            pid: std::process::id(),
            host: host_name(),
            started: unix_now(),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {} on {} (started {})",
            self.pid,
            self.host,
            format_utc(self.started)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{dir}: another factory run is writing this output directory: {holder}; \
         wait for it to finish or stop it (lock file {lock})"
    )]
    Busy {
        dir: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LockError + '_ {
    move |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub const LOCK_FILE: &str = ".factory-lock";
pub const STAGING_PREFIX: &str = ".staging-";
/// Present in every staging directory this program makes; nothing without it is removed.
pub const STAGING_MARKER: &str = ".factory-staging";

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct OutLock {
    file: fs::File,
    path: PathBuf,
    /// The earlier holder whose lock this run took over (it was no longer running).
    pub took_over: Option<Holder>,
}

impl OutLock {
    /// Takes the lock on `out` (created if missing) or says who holds it.
    pub fn acquire(out: &Path) -> Result<OutLock, LockError> {
        fs::create_dir_all(out).map_err(io(out))?;
        let path = out.join(LOCK_FILE);
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        let mut previous = String::new();
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let _ = file.read_to_string(&mut previous);
                let holder = serde_json::from_str::<Holder>(&previous)
                    .map(|h| h.to_string())
                    .unwrap_or_else(|_| "a process that has not yet said who it is".into());
                return Err(LockError::Busy {
                    dir: out.to_path_buf(),
                    lock: path,
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        let _ = file.read_to_string(&mut previous);
        let took_over = serde_json::from_str::<Holder>(&previous).ok();
        let me = serde_json::to_vec(&Holder::current()).expect("holder serialises");
        file.set_len(0).map_err(io(&path))?;
        file.rewind().map_err(io(&path))?;
        file.write_all(&me).map_err(io(&path))?;
        file.sync_all().map_err(io(&path))?;
        Ok(OutLock {
            file,
            path,
            took_over,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        // Emptied before unlocking: an empty lock file means "finished cleanly".
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Removes staging directories that earlier runs of this program left in `out`. Only call
/// with the lock held: then no other live run can own one.
pub fn remove_stale_staging(out: &Path, _lock: &OutLock) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(out) else {
        return removed;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let path = e.path();
        // `symlink_metadata`: a symlink named like staging is not followed into someone's data.
        let is_dir = fs::symlink_metadata(&path)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if name.starts_with(STAGING_PREFIX) && is_dir && path.join(STAGING_MARKER).is_file() {
            if fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
        }
    }
    removed
}

/// Writes the marker that makes `dir` a staging directory of this run.
pub fn mark_staging(dir: &Path) -> std::io::Result<()> {
    let me = serde_json::to_vec(&Holder::current()).expect("holder serialises");
    fs::write(dir.join(STAGING_MARKER), me)
}

pub fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, without a date crate (civil-from-days, H. Hinnant).
pub fn format_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_796_215_872), "2026-12-02T12:51:12Z");
    }

    #[test]
    fn second_lock_names_the_holder_and_a_released_lock_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let first = OutLock::acquire(d.path()).unwrap();
        // flock locks belong to the open file description, so a second open in the same
        // process conflicts exactly as another process would.
        let err = OutLock::acquire(d.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("process {} on ", std::process::id())),
            "{err}"
        );
        assert!(err.contains("another factory run is writing"), "{err}");
        drop(first);
        let again = OutLock::acquire(d.path()).unwrap();
        assert_eq!(again.took_over, None, "a clean release leaves no holder");
    }

    #[test]
    fn only_marked_staging_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let lock = OutLock::acquire(d.path()).unwrap();
        let ours = d.path().join(".staging-123-abc");
        fs::create_dir_all(&ours).unwrap();
        mark_staging(&ours).unwrap();
        fs::write(ours.join("half.mp4"), b"partial").unwrap();
        let notes = d.path().join(".staging-notes");
        fs::create_dir_all(&notes).unwrap();
        fs::write(notes.join("todo.txt"), b"mine").unwrap();
        let removed = remove_stale_staging(d.path(), &lock);
        assert_eq!(removed, vec![ours.clone()]);
        assert!(!ours.exists());
        assert_eq!(fs::read(notes.join("todo.txt")).unwrap(), b"mine");
    }
}
