//! The embedded backend: one SQLite file (WAL, busy timeout, short IMMEDIATE
//! transactions), so two `factory` processes on one machine can add at the same time. WAL
//! needs shared memory between the writers, so the file must be on a local disk: for a
//! library shared between machines use the PostgreSQL backend.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{
    row_hashes, AddRow, AssetLicence, Expiring, HashIndex, LibraryEntry, ResultRow, ReviewRow,
    StoredFrame, BUSY_WAIT, SCHEMA_VERSION,
};
use crate::dedup::composition::Composition;
use crate::dedup::geometry::{self, Features};
use crate::dedup::pdq::Hash256;
use crate::dedup::{DedupError, MediaKind, NotLibrary};

/// The first 16 bytes of every SQLite 3 database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

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

/// Version 2: the licences of what each output shows (`factory library expiring`).
const SCHEMA_V2: &str = "
CREATE TABLE licences (
    file_id     INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    asset       TEXT NOT NULL,      -- the licensed file, relative to its template
    holder      TEXT NOT NULL,
    licence_id  TEXT NOT NULL,
    expires     TEXT,               -- YYYY-MM-DD, last day covered; NULL: perpetual
    PRIMARY KEY (file_id, asset)
);
CREATE INDEX licences_expires ON licences(expires);
";

/// Version 3: platform results read back by `factory results import`, one row per platform,
/// ad and reporting range (a re-import replaces its rows instead of adding to them).
const SCHEMA_V3: &str = "
CREATE TABLE results (
    platform     TEXT NOT NULL,
    ad_id        TEXT NOT NULL,
    date_start   TEXT NOT NULL,
    date_end     TEXT NOT NULL,
    ad_name      TEXT NOT NULL,
    variant_id   TEXT,
    impressions  INTEGER NOT NULL,
    clicks       INTEGER NOT NULL,
    conversions  REAL NOT NULL,
    spend        REAL NOT NULL,
    revenue      REAL NOT NULL,
    currency     TEXT NOT NULL,
    source       TEXT NOT NULL,
    imported_at  INTEGER NOT NULL,
    PRIMARY KEY (platform, ad_id, date_start, date_end)
);
CREATE INDEX results_variant ON results(variant_id);
";

const SCHEMA_V4: &str = "
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    template    TEXT NOT NULL,
    variant_id  TEXT NOT NULL,
    file        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reviewer    TEXT NOT NULL,
    at          TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX reviews_variant ON reviews(variant_id);
";

/// Version 5: a video second's grey thumbnail (`FrameHash::thumb`), to compare seconds pixel
/// for pixel where hashes do not agree. Older rows keep none.
const SCHEMA_V5: &str = "ALTER TABLE frames ADD COLUMN thumb BLOB;";

/// Step N takes a library from version N to N+1.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] =
    [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5];

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
        let lib = Sqlite::connect(&tmp, flags, BUSY_WAIT)?;
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
            source: Box::new(source),
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

pub(super) struct Sqlite {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// The busy timeout in force, for the message when it runs out.
    wait: Duration,
}

impl Sqlite {
    /// Opens the library at `path`, creating it only when nothing is there yet. An existing
    /// file that is empty or not an SQLite database is refused ([`DedupError::NotALibrary`]):
    /// taking it for a new library would lose all history and call every output distinct.
    pub(super) fn open(path: &Path, wait: Duration) -> Result<Sqlite, DedupError> {
        Sqlite::open_waiting(path, wait)
    }

    /// After the preflight, operations wait the usual 30 s: by then a lock is someone's short
    /// insert.
    pub(super) fn relax_wait(&mut self) -> Result<(), DedupError> {
        self.conn().busy_timeout(BUSY_WAIT).map_err(self.err())?;
        self.wait = BUSY_WAIT;
        Ok(())
    }

    /// Integrity (`PRAGMA quick_check`: pages, records and indexes, without the slower
    /// cross-checks of `integrity_check`) and a write-lock probe (`BEGIN IMMEDIATE;
    /// ROLLBACK`, which waits the current busy timeout).
    pub(super) fn check(&self) -> Result<(), DedupError> {
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

    fn open_waiting(path: &Path, wait: Duration) -> Result<Sqlite, DedupError> {
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
        let lib = Sqlite::connect(path, flags, wait)?;
        lib.migrate()?;
        Ok(lib)
    }

    fn connect(path: &Path, flags: OpenFlags, wait: Duration) -> Result<Sqlite, DedupError> {
        let err = |source| classify(path, wait, source);
        let conn = Connection::open_with_flags(path, flags).map_err(err)?;
        conn.busy_timeout(wait).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        Ok(Sqlite {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            wait,
        })
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
        let found = found.unwrap_or(0);
        if found > SCHEMA_VERSION {
            return Err(DedupError::SchemaTooNew {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for step in &MIGRATIONS[found as usize..] {
            tx.execute_batch(step).map_err(self.err())?;
        }
        if found < SCHEMA_VERSION {
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [SCHEMA_VERSION],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    /// Stores result rows in one transaction; a row whose key is already there replaces it.
    /// Returns how many keys were new.
    pub(super) fn put_results(&self, rows: &[ResultRow]) -> Result<usize, DedupError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        let mut new = 0;
        {
            let mut exists = tx
                .prepare("SELECT 1 FROM results WHERE platform = ?1 AND ad_id = ?2 AND date_start = ?3 AND date_end = ?4")
                .map_err(self.err())?;
            let mut put = tx
                .prepare(
                    "INSERT OR REPLACE INTO results (platform, ad_id, date_start, date_end, ad_name, variant_id, impressions,
                     clicks, conversions, spend, revenue, currency, source, imported_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(self.err())?;
            for r in rows {
                let key = params![r.platform, r.ad_id, r.date_start, r.date_end];
                if !exists.exists(key).map_err(self.err())? {
                    new += 1;
                }
                put.execute(params![
                    r.platform,
                    r.ad_id,
                    r.date_start,
                    r.date_end,
                    r.ad_name,
                    r.variant_id,
                    r.impressions,
                    r.clicks,
                    r.conversions,
                    r.spend,
                    r.revenue,
                    r.currency,
                    r.source,
                    r.imported_at
                ])
                .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())?;
        Ok(new)
    }

    /// Every stored result row, in key order.
    pub(super) fn put_reviews(&self, rows: &[ReviewRow]) -> Result<(), DedupError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        {
            let mut put = tx
                .prepare(
                    "INSERT INTO reviews (template, variant_id, file, sha256, decision, reviewer, at, note)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(self.err())?;
            for r in rows {
                put.execute(params![
                    r.template,
                    r.variant_id,
                    r.file,
                    r.sha256,
                    r.decision,
                    r.reviewer,
                    r.at,
                    r.note
                ])
                .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())
    }

    pub(super) fn reviews(&self) -> Result<Vec<ReviewRow>, DedupError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT template, variant_id, file, sha256, decision, reviewer, at, note FROM reviews
                 ORDER BY id",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| {
                Ok(ReviewRow {
                    template: r.get(0)?,
                    variant_id: r.get(1)?,
                    file: r.get(2)?,
                    sha256: r.get(3)?,
                    decision: r.get(4)?,
                    reviewer: r.get(5)?,
                    at: r.get(6)?,
                    note: r.get(7)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub(super) fn results(&self) -> Result<Vec<ResultRow>, DedupError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT platform, ad_id, date_start, date_end, ad_name, variant_id, impressions, clicks, conversions,
                 spend, revenue, currency, source, imported_at FROM results
                 ORDER BY platform, ad_id, date_start, date_end",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| {
                Ok(ResultRow {
                    platform: r.get(0)?,
                    ad_id: r.get(1)?,
                    date_start: r.get(2)?,
                    date_end: r.get(3)?,
                    ad_name: r.get(4)?,
                    variant_id: r.get(5)?,
                    impressions: r.get(6)?,
                    clicks: r.get(7)?,
                    conversions: r.get(8)?,
                    spend: r.get(9)?,
                    revenue: r.get(10)?,
                    currency: r.get(11)?,
                    source: r.get(12)?,
                    imported_at: r.get(13)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub(super) fn add(&self, a: &AddRow<'_>) -> Result<i64, DedupError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        let existing: Option<i64> = tx
            .query_row("SELECT id FROM files WHERE sha256 = ?1", [a.sha256], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())?;
        let id = if let Some(id) = existing {
            tx.execute(
                "UPDATE files SET path = ?2, variant_id = coalesce(?3, variant_id) WHERE id = ?1",
                params![id, a.path, a.variant_id],
            )
            .map_err(self.err())?;
            id
        } else {
            tx.execute(
                "INSERT INTO files (path, sha256, bytes, kind, width, height, duration, variant_id, created_at, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    a.path,
                    a.sha256,
                    a.bytes,
                    a.kind,
                    a.width,
                    a.height,
                    a.duration,
                    a.variant_id,
                    a.created_at,
                    a.added_at
                ],
            )
            .map_err(self.err())?;
            let id = tx.last_insert_rowid();
            {
                let mut st = tx
                    .prepare("INSERT INTO frames (file_id, idx, t, quality, hash, scene, textless, crops, thumb) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                    .map_err(self.err())?;
                for (i, f) in a.frames.iter().enumerate() {
                    st.execute(params![
                        id,
                        i as i64,
                        f.t,
                        f.quality,
                        &f.hash[..],
                        f.scene,
                        f.textless,
                        f.crops,
                        f.thumb
                    ])
                    .map_err(self.err())?;
                }
            }
            if let Some(data) = &a.features {
                tx.execute(
                    "INSERT INTO features (file_id, data) VALUES (?1, ?2)",
                    params![id, data],
                )
                .map_err(self.err())?;
            }
            id
        };
        if let Some((c, json)) = &a.composition {
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
        tx.execute("DELETE FROM licences WHERE file_id = ?1", [id])
            .map_err(self.err())?;
        for l in a.licences {
            tx.execute(
                "INSERT OR REPLACE INTO licences (file_id, asset, holder, licence_id, expires) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, l.asset, l.holder, l.id, l.expires],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())?;
        Ok(id)
    }

    pub(super) fn expiring(&self, until: &str) -> Result<Vec<Expiring>, DedupError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(
                "SELECT f.id, f.path, f.variant_id, f.retired, l.asset, l.holder, l.licence_id, l.expires
                 FROM licences l JOIN files f ON f.id = l.file_id
                 WHERE l.expires IS NOT NULL AND l.expires <= ?1
                 ORDER BY l.expires, f.path, l.asset",
            )
            .map_err(self.err())?;
        let rows = st
            .query_map([until], |r| {
                Ok(Expiring {
                    id: r.get(0)?,
                    path: PathBuf::from(r.get::<_, String>(1)?),
                    variant_id: r.get(2)?,
                    retired: r.get::<_, i64>(3)? != 0,
                    licence: AssetLicence {
                        asset: r.get(4)?,
                        holder: r.get(5)?,
                        id: r.get(6)?,
                        expires: r.get(7)?,
                    },
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
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
    pub(super) fn list(&self) -> Result<Vec<LibraryEntry>, DedupError> {
        let conn = self.conn();
        let mut st = conn
            .prepare(&format!("{} ORDER BY f.id", Self::ENTRY_SQL))
            .map_err(self.err())?;
        let rows = st.query_map([], Self::row_to_entry).map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    pub(super) fn entry(&self, id: i64) -> Result<Option<LibraryEntry>, DedupError> {
        let conn = self.conn();
        conn.query_row(
            &format!("{} WHERE f.id = ?1", Self::ENTRY_SQL),
            [id],
            Self::row_to_entry,
        )
        .optional()
        .map_err(self.err())
    }

    /// The newest entry whose id, sha256 or stored path is `key` (or `abs`, the key made
    /// absolute).
    pub(super) fn find_id(&self, key: &str, abs: &str) -> Result<Option<i64>, DedupError> {
        self.conn()
            .query_row(
                "SELECT id FROM files WHERE CAST(id AS TEXT) = ?1 OR sha256 = lower(?1) OR path = ?1 OR path = ?2
                 ORDER BY id DESC LIMIT 1",
                params![key, abs],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    pub(super) fn forget(&self, id: i64) -> Result<(), DedupError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err())?;
        tx.execute("DELETE FROM files WHERE id = ?1", [id])
            .map_err(self.err())?;
        tx.commit().map_err(self.err())
    }

    pub(super) fn retire(&self, id: i64, now: i64) -> Result<(), DedupError> {
        self.conn()
            .execute(
                "UPDATE files SET retired = 1, retired_at = ?2 WHERE id = ?1",
                params![id, now],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub(super) fn frames(&self, id: i64) -> Result<Vec<StoredFrame>, DedupError> {
        let conn = self.conn();
        let mut st = conn
            .prepare("SELECT t, quality, hash, scene, textless, crops, thumb FROM frames WHERE file_id = ?1 ORDER BY idx")
            .map_err(self.err())?;
        let rows = st
            .query_map([id], |r| {
                let h: Vec<u8> = r.get(2)?;
                let s: Option<Vec<u8>> = r.get(3)?;
                let tl: Option<Vec<u8>> = r.get(4)?;
                let cr: Option<Vec<u8>> = r.get(5)?;
                let th: Option<Vec<u8>> = r.get(6)?;
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
                    thumb: th
                        .map(|b| geometry::Thumb::from_bytes(&b))
                        .unwrap_or_default(),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Keypoints measured after the entry was added; another process may have measured them
    /// first, and then its row stands — unless `replace` (the row holds keypoints from
    /// before thumbnails were kept: the same file measures the same, thumbnail included).
    pub(super) fn put_features(
        &self,
        id: i64,
        data: &[u8],
        replace: bool,
    ) -> Result<(), DedupError> {
        self.conn()
            .execute(
                if replace {
                    "INSERT INTO features (file_id, data) VALUES (?1, ?2) ON CONFLICT (file_id) DO UPDATE SET data = excluded.data"
                } else {
                    "INSERT INTO features (file_id, data) VALUES (?1, ?2) ON CONFLICT (file_id) DO NOTHING"
                },
                params![id, data],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub(super) fn features(&self, id: i64) -> Result<Option<Features>, DedupError> {
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
    pub(super) fn index(&self, created_since: i64) -> Result<HashIndex, DedupError> {
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
            // Borrowed, not copied: a million rows are read here.
            let hash = r.get_ref(1).map_err(self.err())?.as_blob().unwrap_or(&[]);
            let crops = r
                .get_ref(2)
                .map_err(self.err())?
                .as_blob_or_null()
                .ok()
                .flatten();
            for h in row_hashes(hash, crops) {
                idx.push(id, &h);
            }
        }
        Ok(idx)
    }

    /// Entries (live, recent) that share the background or product asset with `c`: the
    /// exact retrieval path, which finds re-used assets even when the pixels moved.
    pub(super) fn has_pixels_only(&self, created_since: i64) -> Result<bool, DedupError> {
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM files f LEFT JOIN compositions c ON c.file_id = f.id
                 WHERE c.file_id IS NULL AND f.retired = 0 AND f.created_at >= ?1)",
                [created_since],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    pub(super) fn sharing_assets(
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
