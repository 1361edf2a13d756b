//! One writer per output directory, and staging that belongs to the run that made it.
//!
//! The lock is an advisory `flock` on the output directory itself, taken for the whole run. The
//! kernel drops it when the process dies however it dies (`kill -9` included), so a lock left
//! by a killed run is stale by construction and the next run simply takes it. Locking the
//! directory rather than a lock file leaves nothing in `OUT` that a user would pick up, and
//! there is no lock file whose removal could race a third run. Who holds the lock is written in
//! the holder's staging marker (pid, host, start time), which is what a refused run quotes.
//! `flock` is only reliable on local file systems; machines sharing storage write to their own
//! shard directories instead.
//!
//! Staging directories carry that marker. Only directories with it are ever removed, and only
//! while this run holds the lock — so a user's `OUT/.staging-notes/` is never touched, and no
//! live run's staging can be taken away.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds (or held) an output directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Holder {
    pub pid: u32,
    pub host: String,
    /// Unix seconds.
    pub started: i64,
}

impl Holder {
    pub(crate) fn current() -> Holder {
        Holder {
            pid: std::process::id(),
            host: host_name(),
            started: crate::clock::unix_now(),
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
            crate::clock::format_utc(self.started)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{dir}: another factory run is writing this output directory: {holder}; \
         wait for it to finish or stop it"
    )]
    Busy { dir: PathBuf, holder: String },
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

pub(crate) const STAGING_PREFIX: &str = ".staging-";
/// Present in every staging directory this program makes; nothing without it is removed.
pub(crate) const STAGING_MARKER: &str = ".factory-staging";

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub(crate) struct OutLock {
    dir: fs::File,
    /// Earlier holders whose staging this run found (they were no longer running).
    #[cfg(test)]
    pub took_over: Vec<Holder>,
}

impl OutLock {
    /// Takes the lock on `out` (created if missing) or says who holds it.
    pub(crate) fn acquire(out: &Path) -> Result<OutLock, LockError> {
        fs::create_dir_all(out).map_err(io(out))?;
        let dir = fs::File::open(out).map_err(io(out))?;
        match dir.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = staging_holders(out)
                    .last()
                    .map(|(_, h)| h.to_string())
                    .unwrap_or_else(|| "a process that has not yet said who it is".into());
                return Err(LockError::Busy {
                    dir: out.to_path_buf(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(out)(e)),
        }
        Ok(OutLock {
            dir,
            #[cfg(test)]
            took_over: staging_holders(out).into_iter().map(|(_, h)| h).collect(),
        })
    }
}

impl Drop for OutLock {
    fn drop(&mut self) {
        let _ = self.dir.unlock();
    }
}

/// Marked staging directories in `out` with the run that made each, oldest first.
fn staging_holders(out: &Path) -> Vec<(PathBuf, Holder)> {
    let mut found: Vec<(PathBuf, Holder)> = marked_staging(out)
        .into_iter()
        .filter_map(|p| {
            let h = serde_json::from_slice::<Holder>(&fs::read(p.join(STAGING_MARKER)).ok()?);
            Some((p, h.ok()?))
        })
        .collect();
    found.sort_by_key(|(_, h)| h.started);
    found
}

fn marked_staging(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(out) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|path| {
            let named = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(STAGING_PREFIX));
            // `symlink_metadata`: a symlink named like staging is not followed into someone's data.
            let is_dir = fs::symlink_metadata(path)
                .map(|m| m.is_dir())
                .unwrap_or(false);
            named && is_dir && path.join(STAGING_MARKER).is_file()
        })
        .collect()
}

/// Removes staging directories that earlier runs of this program left in `out`. Only call
/// with the lock held: then no other live run can own one.
pub(crate) fn remove_stale_staging(out: &Path, _lock: &OutLock) -> Vec<PathBuf> {
    marked_staging(out)
        .into_iter()
        .filter(|p| fs::remove_dir_all(p).is_ok())
        .collect()
}

/// Writes the marker that makes `dir` a staging directory of this run.
pub(crate) fn mark_staging(dir: &Path) -> std::io::Result<()> {
    let me = serde_json::to_vec(&Holder::current()).expect("holder serialises");
    fs::write(dir.join(STAGING_MARKER), me)
}

pub(crate) fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_holder_and_a_released_lock_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let first = OutLock::acquire(d.path()).unwrap();
        let staging = d.path().join(".staging-1");
        fs::create_dir_all(&staging).unwrap();
        mark_staging(&staging).unwrap();
        // flock locks belong to the open file description, so a second open in the same
        // process conflicts exactly as another process would.
        let err = OutLock::acquire(d.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "another factory run is writing this output directory: process {} on ",
                std::process::id()
            )),
            "{err}"
        );
        drop(first);
        let again = OutLock::acquire(d.path()).unwrap();
        assert_eq!(again.took_over.len(), 1, "the dead run's staging names it");
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
