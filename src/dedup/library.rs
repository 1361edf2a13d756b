//! The persistent library of past outputs: an SQLite file (WAL, busy timeout, short
//! IMMEDIATE transactions) so tonight's batch is scored against last week's and two
//! `factory` processes can add at the same time. Stores identities, compositions, frame
//! hashes and keypoint descriptors — never the media itself.
//!
//! Schema versions (table `schema_version`): 1 = files, compositions, frames, features.
//! A migration adds a `migrate_N_to_N+1` step in `migrate` and bumps `SCHEMA_VERSION`;
//! a library written by a newer build is refused rather than guessed at.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rayon::prelude::*;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::composition::{now_unix, Candidate, Composition};
use super::fingerprint::{Fingerprint, MediaKind};
use super::geometry::{self, Features};
use super::pdq::Hash256;
use super::{DedupError, NotLibrary};

pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA_V1: &str = "
CREATE TABLE files (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL UNIQUE,
    bytes       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    duration    REAL NOT NULL,
    variant_id  TEXT,
    created_at  INTEGER NOT NULL,   -- unix seconds the creative was made (exemption clock)
    added_at    INTEGER NOT NULL,   -- unix seconds it entered the library
    retired     INTEGER NOT NULL DEFAULT 0,
    retired_at  INTEGER
);
CREATE INDEX files_path ON files(path);
CREATE INDEX files_variant ON files(variant_id);
CREATE TABLE compositions (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    template        TEXT NOT NULL,
    preset          TEXT NOT NULL,
    background_id   TEXT NOT NULL,
    background_sha  TEXT NOT NULL,
    product_id      TEXT,
    product_sha     TEXT,
    audio_id        TEXT,
    audio_sha       TEXT,
    copy            TEXT NOT NULL,
    structure       TEXT NOT NULL,
    json            TEXT NOT NULL     -- the full Composition, boxes included
);
CREATE INDEX comp_background ON compositions(background_sha);
CREATE INDEX comp_product ON compositions(product_sha);
CREATE TABLE frames (
    file_id   INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    idx       INTEGER NOT NULL,
    t         REAL NOT NULL,
    quality   INTEGER NOT NULL,
    hash      BLOB NOT NULL,          -- 32-byte PDQ, border-trimmed frame
    scene     BLOB,                   -- product box masked
    textless  BLOB,                   -- text boxes masked
    crops     BLOB,                   -- stills: 32-byte hashes of centred 90 %/80 % crops
    PRIMARY KEY (file_id, idx)
);
CREATE TABLE features (
    file_id   INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    data      BLOB NOT NULL           -- geometry::encode of the key frame
);
";

/// One stored output.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LibraryEntry {
    pub id: i64,
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
    pub kind: MediaKind,
    pub width: u32,
    pub height: u32,
    pub duration: f64,
    pub variant_id: Option<String>,
    pub created_at: i64,
    pub added_at: i64,
    pub retired: bool,
    pub frames: usize,
    pub composition: Option<Composition>,
}

#[derive(Debug, Clone)]
pub struct StoredFrame {
    pub t: f32,
    pub crops: Vec<Hash256>,
    pub quality: u8,
    pub hash: Hash256,
    pub scene: Option<Hash256>,
    pub textless: Option<Hash256>,
}

/// Every stored frame hash in memory, for the exact popcount scan.
///
/// Stored column-wise (word 0 of every hash, then word 1, …) so that one SIMD load brings
/// the same word of eight hashes and the distance of eight hashes is four XOR/POPCNT/ADD
/// steps with no horizontal reduction. The scan is exact: every stored hash is compared.
/// Early exit or a multi-index prefilter cannot help here: the k nearest files are wanted
/// whatever their distance (keypoint geometry recovers crops and rotations far beyond
/// PDQ's threshold), and at the ~100-bit cut-off that implies for 1 M random-looking hashes
/// no partial sum can rule a hash out. The scan is bound by memory bandwidth (32 MB per
/// million hashes), so the work per hash is kept to one pass plus a byte of output.
pub struct HashIndex {
    file_ids: Vec<i64>,
    cols: [Vec<u64>; 4],
}

/// Hashes per parallel work item: 256 KiB of hash words, enough to amortise rayon's
/// scheduling while leaving both cores work to steal.
const SCAN_CHUNK: usize = 8_192;

impl HashIndex {
    fn empty() -> HashIndex {
        HashIndex {
            file_ids: Vec::new(),
            cols: Default::default(),
        }
    }

    fn push(&mut self, id: i64, h: &Hash256) {
        self.file_ids.push(id);
        for (col, w) in self.cols.iter_mut().zip(h.words()) {
            col.push(w);
        }
    }

    /// An index over given hashes (for measurements and callers with their own store).
    pub fn from_hashes(items: impl IntoIterator<Item = (i64, Hash256)>) -> HashIndex {
        let mut idx = HashIndex::empty();
        for (id, h) in items {
            idx.push(id, &h);
        }
        idx
    }

    pub fn len(&self) -> usize {
        self.file_ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.file_ids.is_empty()
    }

    /// Files to look at for a query: every file with a hash within `max_distance`, plus the
    /// `k` nearest files whatever their distance (for keypoint geometry, which recovers edits
    /// PDQ cannot). Each file comes with its smallest distance (saturated at 255); sorted by
    /// distance then id. One pass over the stored hashes per call (all queries at once),
    /// with no per-file map over the whole library.
    pub fn nearest(&self, queries: &[Hash256], max_distance: u32, k: usize) -> Vec<(i64, u32)> {
        if queries.is_empty() || self.is_empty() {
            return Vec::new();
        }
        let q: Vec<[u64; 4]> = queries.iter().map(|h| h.words()).collect();
        let n = self.len();
        let mut dist = vec![0u8; n];
        // Distances and their histogram in the same pass: the histogram gives the cut-off
        // for the k nearest without sorting a million distances.
        let hist = dist
            .par_chunks_mut(SCAN_CHUNK)
            .enumerate()
            .map(|(c, out)| {
                let lo = c * SCAN_CHUNK;
                let cols = self.cols.each_ref().map(|col| &col[lo..lo + out.len()]);
                scan(&q, cols, out);
                let mut h = [0u32; 256];
                for d in out.iter() {
                    h[*d as usize] += 1;
                }
                h
            })
            .reduce(
                || [0u32; 256],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                    a
                },
            );
        // A file can own several hashes (frames, crops): over-select so that k distinct files
        // survive.
        let take = (k * 64).min(n);
        let (mut cut, mut acc) = (0u32, 0usize);
        for (d, c) in hist.iter().enumerate() {
            acc += *c as usize;
            cut = d as u32;
            if acc >= take {
                break;
            }
        }
        let limit = cut.max(max_distance).min(255) as u8;
        let picked: Vec<(u8, u32)> = dist
            .par_chunks(SCAN_CHUNK)
            .enumerate()
            .flat_map_iter(|(c, ds)| {
                ds.iter()
                    .enumerate()
                    .filter(move |(_, d)| **d <= limit)
                    .map(move |(i, d)| (*d, (c * SCAN_CHUNK + i) as u32))
            })
            .collect();
        let mut picked: Vec<(u32, i64)> = picked
            .into_iter()
            .map(|(d, i)| (d as u32, self.file_ids[i as usize]))
            .collect();
        picked.sort_unstable();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (d, id) in picked {
            if seen.insert(id) && (d <= max_distance || out.len() < k) {
                out.push((id, d));
            }
        }
        out
    }
}

/// Smallest distance (saturated at 255) from each stored hash to any query, with the widest
/// popcount the CPU has: AVX-512 VPOPCNTDQ (eight hashes per instruction), AVX2 (LLVM's
/// nibble-table popcount), POPCNT, or the portable bit count (~5× slower than POPCNT).
fn scan(q: &[[u64; 4]], cols: [&[u64]; 4], out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
        {
            // SAFETY: the features were detected at run time just above.
            unsafe { scan_avx512(q, cols, out) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
        {
            // SAFETY: as above.
            unsafe { scan_avx2(q, cols, out) };
            return;
        }
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: as above.
            unsafe { scan_popcnt(q, cols, out) };
            return;
        }
    }
    scan_portable(q, cols, out)
}

#[inline(always)]
fn scan_portable(q: &[[u64; 4]], cols: [&[u64]; 4], out: &mut [u8]) {
    let [a, b, c, d] = cols;
    for i in 0..out.len() {
        let mut best = 255u32;
        for x in q {
            let dist = (a[i] ^ x[0]).count_ones()
                + (b[i] ^ x[1]).count_ones()
                + (c[i] ^ x[2]).count_ones()
                + (d[i] ^ x[3]).count_ones();
            best = best.min(dist);
        }
        out[i] = best as u8;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn scan_popcnt(q: &[[u64; 4]], cols: [&[u64]; 4], out: &mut [u8]) {
    scan_portable(q, cols, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn scan_avx2(q: &[[u64; 4]], cols: [&[u64]; 4], out: &mut [u8]) {
    scan_portable(q, cols, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq")]
unsafe fn scan_avx512(q: &[[u64; 4]], cols: [&[u64]; 4], out: &mut [u8]) {
    use std::arch::x86_64::*;
    let n = out.len();
    let full = n / 8 * 8;
    let qv: Vec<[__m512i; 4]> = q
        .iter()
        .map(|x| x.map(|w| _mm512_set1_epi64(w as i64)))
        .collect();
    let cap = _mm512_set1_epi64(255);
    let mut i = 0;
    while i < full {
        // SAFETY: i + 8 <= n and every column has n words; unaligned loads are allowed.
        let w = cols.map(|c| unsafe { _mm512_loadu_si512(c.as_ptr().add(i) as *const _) });
        let mut best = cap;
        for x in &qv {
            let d = _mm512_add_epi64(
                _mm512_add_epi64(
                    _mm512_popcnt_epi64(_mm512_xor_si512(w[0], x[0])),
                    _mm512_popcnt_epi64(_mm512_xor_si512(w[1], x[1])),
                ),
                _mm512_add_epi64(
                    _mm512_popcnt_epi64(_mm512_xor_si512(w[2], x[2])),
                    _mm512_popcnt_epi64(_mm512_xor_si512(w[3], x[3])),
                ),
            );
            best = _mm512_min_epu64(best, d);
        }
        // SAFETY: writes the eight bytes out[i..i + 8].
        unsafe {
            _mm_storel_epi64(
                out.as_mut_ptr().add(i) as *mut __m128i,
                _mm512_cvtepi64_epi8(best),
            )
        };
        i += 8;
    }
    let [a, b, c, d] = cols;
    scan_portable(
        q,
        [&a[full..], &b[full..], &c[full..], &d[full..]],
        &mut out[full..],
    );
}

/// An existing path must be a library already: a regular, non-empty SQLite file.
fn check_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), DedupError> {
    let refuse = |why| DedupError::NotALibrary {
        path: path.to_path_buf(),
        why,
    };
    if !meta.is_file() {
        return Err(refuse(NotLibrary::NotAFile));
    }
    if meta.len() == 0 {
        return Err(refuse(NotLibrary::Empty));
    }
    let mut head = [0u8; 16];
    let read = std::fs::File::open(path).and_then(|mut f| {
        use std::io::Read;
        let mut n = 0;
        while n < head.len() {
            match f.read(&mut head[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    });
    match read {
        Ok(16) if &head == SQLITE_MAGIC => Ok(()),
        Ok(_) => Err(refuse(NotLibrary::NotSqlite)),
        Err(source) => Err(DedupError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Makes a new library at `path`, which did not exist: built beside it and linked into place
/// whole, so a second process starting at the same moment sees either no file or a complete
/// library — never the empty file SQLite creates first, which it would rightly refuse.
fn create(path: &Path) -> Result<(), DedupError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| DedupError::Io { path: p, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".new-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let lib = Library::connect(&tmp, flags, BUSY_WAIT)?;
        lib.migrate()?;
        // Dropped here: the last connection checkpoints the WAL into the file.
    }
    let linked = match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        // Another process made it first: theirs is used.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A file system without hard links: a rename, which could replace a library created
        // in the same instant; only done if there still is none.
        Err(_) if !path.exists() => std::fs::rename(&tmp, path).map_err(io(path)),
        Err(_) => Ok(()),
    };
    let _ = std::fs::remove_file(&tmp);
    for ext in ["-wal", "-shm"] {
        let mut side = tmp.as_os_str().to_owned();
        side.push(ext);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    linked
}

/// An SQLite error in the terms an operator acts on: locked (someone else is writing),
/// damaged (restore or start again), or anything else with its own message.
fn classify(path: &Path, wait: Duration, source: rusqlite::Error) -> DedupError {
    use rusqlite::ErrorCode;
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => DedupError::Locked {
            path: path.to_path_buf(),
            waited_secs: wait.as_secs(),
            source,
        },
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => DedupError::Damaged {
            path: path.to_path_buf(),
            detail: source.to_string(),
            source: Some(source),
        },
        _ => DedupError::Library {
            path: path.to_path_buf(),
            source,
        },
    }
}

pub struct Library {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// The busy timeout in force, for the message when it runs out.
    wait: Duration,
}

/// How long an ordinary operation waits for another process's write lock: a nightly job and
/// an operator adding files take turns instead of failing with SQLITE_BUSY.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// How long a run's preflight ([`Library::preflight`]) waits for the write lock: long enough
/// for another run's short insert, short enough that a held lock stops the run before it
/// renders instead of after.
pub const PREFLIGHT_WAIT: Duration = Duration::from_secs(3);

/// The first 16 bytes of every SQLite 3 database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

impl Library {
    /// Opens the library at `path`, creating it only when nothing is there yet. An existing
    /// file that is empty or not an SQLite database is refused ([`DedupError::NotALibrary`]):
    /// taking it for a new library would lose all history and call every output distinct.
    pub fn open(path: &Path) -> Result<Library, DedupError> {
        Library::open_waiting(path, BUSY_WAIT)
    }

    /// Opens the library for a run and proves it usable before any work is done: it is a
    /// library, `PRAGMA quick_check` finds it intact ([`DedupError::Damaged`]) and its write
    /// lock can be taken within `wait` ([`DedupError::Locked`]). Afterwards operations wait
    /// the usual 30 s, since by then a lock is someone's short insert.
    pub fn preflight(path: &Path, wait: Duration) -> Result<Library, DedupError> {
        let mut lib = Library::open_waiting(path, wait)?;
        lib.check()?;
        lib.conn().busy_timeout(BUSY_WAIT).map_err(lib.err())?;
        lib.wait = BUSY_WAIT;
        Ok(lib)
    }

    /// Integrity (`PRAGMA quick_check`: pages, records and indexes, without the slower
    /// cross-checks of `integrity_check`) and a write-lock probe (`BEGIN IMMEDIATE;
    /// ROLLBACK`, which waits the current busy timeout).
    pub fn check(&self) -> Result<(), DedupError> {
        let conn = self.conn();
        let problems: Vec<String> = {
            let mut st = conn.prepare("PRAGMA quick_check").map_err(self.err())?;
            let rows = st
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(self.err())?;
            rows.collect::<Result<_, _>>().map_err(self.err())?
        };
        if problems.first().map(String::as_str) != Some("ok") {
            let mut detail = problems.into_iter().take(3).collect::<Vec<_>>().join("; ");
            if detail.is_empty() {
                detail = "the integrity check returned nothing".into();
            }
            return Err(DedupError::Damaged {
                path: self.path.clone(),
                detail,
                source: None,
            });
        }
        conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK")
            .map_err(self.err())
    }

    fn open_waiting(path: &Path, wait: Duration) -> Result<Library, DedupError> {
        match std::fs::metadata(path) {
            Ok(meta) => check_file(path, &meta)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path)?,
            Err(source) => {
                return Err(DedupError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        // The file exists now; never let SQLite create an empty one in its place (if it was
        // removed meanwhile, that is an error, not a new library).
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let lib = Library::connect(path, flags, wait)?;
        lib.migrate()?;
        Ok(lib)
    }

    fn connect(path: &Path, flags: OpenFlags, wait: Duration) -> Result<Library, DedupError> {
        let err = |source| classify(path, wait, source);
        let conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(wait).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        Ok(Library {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            wait,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> DedupError + '_ {
        move |source| classify(&self.path, self.wait, source)
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<(), DedupError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(self.err())?;
        let found: Option<i64> = tx
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
            .map_err(self.err())?;
        match found {
            None => {
                tx.execute_batch(SCHEMA_V1).map_err(self.err())?;
                tx.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(self.err())?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(DedupError::SchemaTooNew {
                    path: self.path.clone(),
                    found: v,
                    supported: SCHEMA_VERSION,
                })
            }
            Some(_) => {}
        }
        tx.commit().map_err(self.err())
    }

    /// Records `fp` (and what it was made of). Re-adding the same bytes updates the entry's
    /// path and composition instead of duplicating it. Returns the entry id.
    pub fn add(
        &self,
        fp: &Fingerprint,
        variant_id: Option<&str>,
        composition: Option<&Composition>,
        created_at: Option<i64>,
    ) -> Result<i64, DedupError> {
        let now = now_unix();
        let created = created_at.unwrap_or(now);
        let path = std::path::absolute(&fp.path).unwrap_or_else(|_| fp.path.clone());
        let features = geometry::encode(&fp.features);
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM files WHERE sha256 = ?1",
                [&fp.sha256],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        let id = if let Some(id) = existing {
            tx.execute(
                "UPDATE files SET path = ?2, variant_id = coalesce(?3, variant_id) WHERE id = ?1",
                params![id, path.to_string_lossy(), variant_id],
            )
            .map_err(self.err())?;
            id
        } else {
            tx.execute(
                "INSERT INTO files (path, sha256, bytes, kind, width, height, duration, variant_id, created_at, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    path.to_string_lossy(),
                    fp.sha256,
                    fp.bytes as i64,
                    fp.kind.as_str(),
                    fp.width,
                    fp.height,
                    fp.duration,
                    variant_id,
                    created,
                    now
                ],
            )
            .map_err(self.err())?;
            let id = tx.last_insert_rowid();
            {
                let mut st = tx
                    .prepare("INSERT INTO frames (file_id, idx, t, quality, hash, scene, textless, crops) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                    .map_err(self.err())?;
                for (i, f) in fp.frames.iter().enumerate() {
                    st.execute(params![
                        id,
                        i as i64,
                        f.t,
                        f.quality,
                        &f.hash().0[..],
                        f.scene.map(|h| h.0.to_vec()),
                        f.textless.map(|h| h.0.to_vec()),
                        (!f.crops.is_empty()).then(|| f
                            .crops
                            .iter()
                            .flat_map(|h| h.0)
                            .collect::<Vec<u8>>())
                    ])
                    .map_err(self.err())?;
                }
            }
            tx.execute(
                "INSERT INTO features (file_id, data) VALUES (?1, ?2)",
                params![id, features],
            )
            .map_err(self.err())?;
            id
        };
        if let Some(c) = composition {
            let json = serde_json::to_string(c).expect("composition serialises");
            tx.execute(
                "INSERT OR REPLACE INTO compositions (file_id, template, preset, background_id, background_sha, product_id,
                 product_sha, audio_id, audio_sha, copy, structure, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    id,
                    c.template,
                    c.preset,
                    c.background.id,
                    c.background.sha256,
                    c.product.as_ref().map(|a| &a.id),
                    c.product.as_ref().map(|a| &a.sha256),
                    c.audio.as_ref().map(|a| &a.id),
                    c.audio.as_ref().map(|a| &a.sha256),
                    c.copy,
                    c.structure,
                    json
                ],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())?;
        Ok(id)
    }

    /// Records a scored candidate with its composition and creation time.
    pub fn add_candidate(&self, c: &Candidate, fp: &Fingerprint) -> Result<i64, DedupError> {
        self.add(
            fp,
            c.variant_id.as_deref(),
            c.composition.as_ref(),
            Some(c.created_at),
        )
    }

    const ENTRY_SQL: &'static str = "SELECT f.id, f.path, f.sha256, f.bytes, f.kind, f.width, f.height, f.duration, f.variant_id,
        f.created_at, f.added_at, f.retired, (SELECT count(*) FROM frames WHERE file_id = f.id), c.json
        FROM files f LEFT JOIN compositions c ON c.file_id = f.id";

    fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<LibraryEntry> {
        let kind: String = r.get(4)?;
        let json: Option<String> = r.get(13)?;
        Ok(LibraryEntry {
            id: r.get(0)?,
            path: PathBuf::from(r.get::<_, String>(1)?),
            sha256: r.get(2)?,
            bytes: r.get::<_, i64>(3)? as u64,
            kind: MediaKind::parse(&kind).unwrap_or(MediaKind::Image),
            width: r.get(5)?,
            height: r.get(6)?,
            duration: r.get(7)?,
            variant_id: r.get(8)?,
            created_at: r.get(9)?,
            added_at: r.get(10)?,
            retired: r.get::<_, i64>(11)? != 0,
            frames: r.get::<_, i64>(12)? as usize,
            composition: json.and_then(|j| serde_json::from_str(&j).ok()),
        })
    }

    /// All entries, oldest first.
    pub fn list(&self) -> Result<Vec<LibraryEntry>, DedupError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(&format!("{} ORDER BY f.id", Self::ENTRY_SQL))
            .map_err(self.err())?;
        let rows = st.query_map([], Self::row_to_entry).map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub fn entry(&self, id: i64) -> Result<Option<LibraryEntry>, DedupError> {
        let conn = self.conn();
        conn.query_row(
            &format!("{} WHERE f.id = ?1", Self::ENTRY_SQL),
            [id],
            Self::row_to_entry,
        )
        .optional()
        .map_err(self.err())
    }

    /// Finds an entry by numeric id, sha256, or stored path (as given or made absolute).
    pub fn find(&self, key: &str) -> Result<LibraryEntry, DedupError> {
        let abs = std::path::absolute(key)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let conn = self.conn();
        let id: Option<i64> = conn
            .query_row(
                "SELECT id FROM files WHERE CAST(id AS TEXT) = ?1 OR sha256 = lower(?1) OR path = ?1 OR path = ?2
                 ORDER BY id DESC LIMIT 1",
                params![key, abs],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        drop(conn);
        match id {
            Some(id) => Ok(self.entry(id)?.expect("entry just found")),
            None => Err(DedupError::NotInLibrary {
                path: self.path.clone(),
                key: key.to_string(),
            }),
        }
    }

    /// Removes an entry and its hashes (e.g. a file added by mistake).
    pub fn forget(&self, key: &str) -> Result<LibraryEntry, DedupError> {
        let e = self.find(key)?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        tx.execute("DELETE FROM files WHERE id = ?1", [e.id])
            .map_err(self.err())?;
        tx.commit().map_err(self.err())?;
        Ok(e)
    }

    /// Marks an entry as no longer running: the platform rule exempts it from comparison,
    /// but its history is kept.
    pub fn retire(&self, key: &str) -> Result<LibraryEntry, DedupError> {
        let e = self.find(key)?;
        let conn = self.conn();
        conn.execute(
            "UPDATE files SET retired = 1, retired_at = ?2 WHERE id = ?1",
            params![e.id, now_unix()],
        )
        .map_err(self.err())?;
        drop(conn);
        Ok(LibraryEntry { retired: true, ..e })
    }

    pub fn frames(&self, id: i64) -> Result<Vec<StoredFrame>, DedupError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT t, quality, hash, scene, textless, crops FROM frames WHERE file_id = ?1 ORDER BY idx")
            .map_err(self.err())?;
        let rows = st
            .query_map([id], |r| {
                let h: Vec<u8> = r.get(2)?;
                let s: Option<Vec<u8>> = r.get(3)?;
                let tl: Option<Vec<u8>> = r.get(4)?;
                let cr: Option<Vec<u8>> = r.get(5)?;
                Ok(StoredFrame {
                    t: r.get(0)?,
                    crops: cr
                        .unwrap_or_default()
                        .chunks_exact(32)
                        .filter_map(Hash256::from_slice)
                        .collect(),
                    quality: r.get(1)?,
                    hash: Hash256::from_slice(&h).unwrap_or(Hash256([0; 32])),
                    scene: s.and_then(|b| Hash256::from_slice(&b)),
                    textless: tl.and_then(|b| Hash256::from_slice(&b)),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub fn features(&self, id: i64) -> Result<Option<Features>, DedupError> {
        let conn = self.conn();
        let b: Option<Vec<u8>> = conn
            .query_row("SELECT data FROM features WHERE file_id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())?;
        Ok(b.and_then(|b| geometry::decode(&b)))
    }

    /// Loads the hashes of entries that can still count against a new upload: not retired
    /// and created at or after `created_since` (unix seconds).
    pub fn index(&self, created_since: i64) -> Result<HashIndex, DedupError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT fr.file_id, fr.hash, fr.crops FROM frames fr JOIN files f ON f.id = fr.file_id
                 WHERE f.retired = 0 AND f.created_at >= ?1",
            )
            .map_err(self.err())?;
        let mut idx = HashIndex::empty();
        let mut rows = st.query([created_since]).map_err(self.err())?;
        while let Some(r) = rows.next().map_err(self.err())? {
            let id: i64 = r.get(0).map_err(self.err())?;
            let b: Vec<u8> = r.get(1).map_err(self.err())?;
            let crops: Option<Vec<u8>> = r.get(2).map_err(self.err())?;
            let crops = crops.unwrap_or_default();
            for h in std::iter::once(&b[..])
                .chain(crops.chunks_exact(32))
                .filter_map(Hash256::from_slice)
            {
                idx.push(id, &h);
            }
        }
        Ok(idx)
    }

    /// Entries (live, recent) that share the background or product asset with `c`: the
    /// exact retrieval path, which finds re-used assets even when the pixels moved.
    pub fn sharing_assets(
        &self,
        c: &Composition,
        created_since: i64,
    ) -> Result<Vec<i64>, DedupError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT c.file_id FROM compositions c JOIN files f ON f.id = c.file_id
                 WHERE f.retired = 0 AND f.created_at >= ?3
                   AND (c.background_sha = ?1 OR (?2 IS NOT NULL AND c.product_sha = ?2))
                 ORDER BY c.file_id",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map(
                params![
                    c.background.sha256,
                    c.product.as_ref().map(|p| &p.sha256),
                    created_since
                ],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        rows.collect::<Result<Vec<i64>, _>>().map_err(self.err())
    }
}
