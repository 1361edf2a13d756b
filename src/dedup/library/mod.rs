//! The persistent library of past outputs, so tonight's batch is scored against last week's
//! and several `factory` processes can add at the same time. Stores identities,
//! compositions, frame hashes and keypoint descriptors — never the media itself.
//!
//! Two backends behind one [`Library`], with the same schema and semantics:
//! - `sqlite.rs`, the embedded default: one file on a local disk (a path).
//! - `postgres.rs`: a `postgres://…` URL, for a library written by many machines and teams
//!   (SQLite's WAL does not work over a network file system).
//!
//! Schema versions (table `schema_version`, in both): 1 = files, compositions, frames,
//! features; 2 = licences (what each output's assets are licensed until, for
//! `factory library expiring`); 3 = results (platform metrics read back by
//! `factory results import`); 4 = reviews (each `factory review` decision, who and when,
//! appended); 5 = `frames.thumb` (a video second's grey thumbnail, issue #13; rows added
//! before have none and are compared by hashes alone). Each backend lists its steps in
//! `MIGRATIONS` (step N takes a library from version N to N+1) and `migrate` runs the
//! missing ones in one transaction when a library is opened; `SCHEMA_VERSION` is their count. A library written by a newer build
//! is refused rather than guessed at.
//!
//! The near-duplicate search never runs in the database: [`Library::index`] loads the hash
//! columns once per run into a [`HashIndex`] and the exact scan runs in memory (figures for
//! both backends in BENCHMARKS.md).

mod pg_tls;
mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rayon::prelude::*;

use super::composition::{AssetLicence, Candidate, Composition};
use super::fingerprint::{Fingerprint, MediaKind};
use super::geometry::{self, Features};
use super::pdq::Hash256;
use super::DedupError;

pub use postgres::redact_url;

pub(crate) const SCHEMA_VERSION: i64 = 5;

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

/// A licence of an output in the library that ends by a given day.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Expiring {
    /// The library entry.
    pub id: i64,
    pub path: PathBuf,
    pub variant_id: Option<String>,
    /// Retired outputs are no longer running; listed so nothing is missed, but marked.
    pub retired: bool,
    pub licence: AssetLicence,
}

/// One `factory review` decision on one output, as the library keeps it: a history, one row
/// per decision, so a later change of mind does not erase who approved what first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReviewRow {
    /// The batch: its template's name.
    pub template: String,
    pub variant_id: String,
    /// The output as the manifest names it (`REGION/NAME.ext`).
    pub file: String,
    /// Of the file that was reviewed: a later render of the same name is another output.
    pub sha256: String,
    /// `approved` or `rejected`.
    pub decision: String,
    pub reviewer: String,
    /// UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub at: String,
    pub note: Option<String>,
}

/// One row of a platform's results report, as stored: the key is (platform, ad id,
/// reporting range), so importing the same export again replaces rather than adds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResultRow {
    pub platform: String,
    pub ad_id: String,
    /// `YYYY-MM-DD` when the export gives dates; empty for a lifetime total without dates.
    pub date_start: String,
    pub date_end: String,
    pub ad_name: String,
    /// The variant the row was joined to; `None` for a row that matched nothing (kept, and
    /// listed by import and report, so nothing is silently dropped).
    pub variant_id: Option<String>,
    pub impressions: i64,
    pub clicks: i64,
    pub conversions: f64,
    pub spend: f64,
    pub revenue: f64,
    pub currency: String,
    /// The export file it came from.
    pub source: String,
    pub imported_at: i64,
}

#[derive(Debug, Clone)]
pub struct StoredFrame {
    pub t: f32,
    pub crops: Vec<Hash256>,
    pub quality: u8,
    pub hash: Hash256,
    pub scene: Option<Hash256>,
    pub textless: Option<Hash256>,
    /// Video seconds: `FrameHash::thumb` (empty when added before schema 5).
    pub thumb: geometry::Thumb,
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
    pub(super) fn empty() -> HashIndex {
        HashIndex {
            file_ids: Vec::new(),
            cols: Default::default(),
        }
    }

    pub(super) fn push(&mut self, id: i64, h: &Hash256) {
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

/// How long an ordinary operation waits for another process's write lock: a nightly job and
/// an operator adding files take turns instead of failing with SQLITE_BUSY.
const BUSY_WAIT: Duration = Duration::from_secs(30);

/// How long a run's preflight ([`Library::preflight`]) waits for the write lock: long enough
/// for another run's short insert, short enough that a held lock stops the run before it
/// renders instead of after.
pub(crate) const PREFLIGHT_WAIT: Duration = Duration::from_secs(3);

pub use crate::template::is_postgres_url;

fn postgres_url(location: &Path) -> Option<&str> {
    location.to_str().filter(|s| is_postgres_url(s))
}

/// The hashes a stored frame row contributes to the search: the frame's own, then its
/// crops' (stills).
fn row_hashes<'a>(hash: &'a [u8], crops: Option<&'a [u8]>) -> impl Iterator<Item = Hash256> + 'a {
    std::iter::once(hash)
        .chain(crops.unwrap_or_default().chunks_exact(32))
        .filter_map(Hash256::from_slice)
}

/// What [`Library::add`] stores, computed once whatever the backend.
struct AddRow<'a> {
    path: String,
    sha256: &'a str,
    bytes: i64,
    kind: &'static str,
    width: u32,
    height: u32,
    duration: f64,
    variant_id: Option<&'a str>,
    created_at: i64,
    added_at: i64,
    frames: Vec<FrameRow>,
    /// `None` for a still whose keypoints no rule needed while it was scored: they are
    /// measured from its file the first time a comparison does (`features_or_measure`).
    features: Option<Vec<u8>>,
    composition: Option<(&'a Composition, String)>,
    licences: &'a [AssetLicence],
}

struct FrameRow {
    t: f32,
    quality: u8,
    hash: [u8; 32],
    scene: Option<Vec<u8>>,
    textless: Option<Vec<u8>>,
    crops: Option<Vec<u8>>,
    thumb: Option<Vec<u8>>,
}

enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// Runs the same call on whichever backend the library has.
macro_rules! on_backend {
    ($self:expr, $b:ident => $e:expr) => {
        match &$self.backend {
            Backend::Sqlite($b) => $e,
            Backend::Postgres($b) => $e,
        }
    };
}

pub struct Library {
    /// The file, or the URL with its password elided: what messages name.
    path: PathBuf,
    backend: Backend,
}

impl Library {
    /// Opens the library at `path` — an SQLite file, or a `postgres://` URL — creating it
    /// (the file, or the tables) only when nothing is there yet. An existing file that is
    /// empty or not an SQLite database is refused ([`DedupError::NotALibrary`]): taking it
    /// for a new library would lose all history and call every output distinct.
    pub fn open(path: &Path) -> Result<Library, DedupError> {
        Library::open_waiting(path, BUSY_WAIT)
    }

    fn open_waiting(path: &Path, wait: Duration) -> Result<Library, DedupError> {
        Ok(match postgres_url(path) {
            Some(url) => Library {
                path: PathBuf::from(redact_url(url)),
                backend: Backend::Postgres(postgres::Postgres::open(url, wait)?),
            },
            None => Library {
                path: path.to_path_buf(),
                backend: Backend::Sqlite(sqlite::Sqlite::open(path, wait)?),
            },
        })
    }

    /// Opens the library for a run and proves it usable before any work is done: it is a
    /// library (SQLite: `PRAGMA quick_check` finds it intact, [`DedupError::Damaged`];
    /// PostgreSQL: the server answers and the schema is there) and its write lock can be
    /// taken within `wait` ([`DedupError::Locked`]). Afterwards operations wait the usual
    /// 30 s, since by then a lock is someone's short insert.
    pub fn preflight(path: &Path, wait: Duration) -> Result<Library, DedupError> {
        let mut lib = Library::open_waiting(path, wait)?;
        lib.check()?;
        match &mut lib.backend {
            Backend::Sqlite(b) => b.relax_wait()?,
            Backend::Postgres(b) => b.relax_wait()?,
        }
        Ok(lib)
    }

    /// Integrity and a write-lock probe (see [`Library::preflight`]).
    pub fn check(&self) -> Result<(), DedupError> {
        on_backend!(self, b => b.check())
    }

    /// The file, or the URL without its password.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the library is a shared PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Whether the connection to the server is TLS-encrypted, as the server sees it
    /// (`pg_stat_ssl`); always false for an SQLite file, which has no connection.
    pub fn is_encrypted(&self) -> Result<bool, DedupError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(false),
            Backend::Postgres(b) => b.is_encrypted(),
        }
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
        self.add_licensed(fp, variant_id, composition, created_at, &[])
    }

    /// [`Library::add`], also recording the licences of what the output shows (replacing
    /// those recorded before for the same bytes).
    fn add_licensed(
        &self,
        fp: &Fingerprint,
        variant_id: Option<&str>,
        composition: Option<&Composition>,
        created_at: Option<i64>,
        licences: &[AssetLicence],
    ) -> Result<i64, DedupError> {
        let now = crate::clock::unix_now();
        let path = std::path::absolute(&fp.path).unwrap_or_else(|_| fp.path.clone());
        let row = AddRow {
            path: path.to_string_lossy().into_owned(),
            sha256: &fp.sha256,
            bytes: fp.bytes as i64,
            kind: fp.kind.as_str(),
            width: fp.width,
            height: fp.height,
            duration: fp.duration,
            variant_id,
            created_at: created_at.unwrap_or(now),
            added_at: now,
            frames: fp
                .frames
                .iter()
                .map(|f| FrameRow {
                    t: f.t,
                    quality: f.quality,
                    hash: f.hash().0,
                    scene: f.scene.map(|h| h.0.to_vec()),
                    textless: f.textless.map(|h| h.0.to_vec()),
                    crops: (!f.crops.is_empty())
                        .then(|| f.crops.iter().flat_map(|h| h.0).collect()),
                    thumb: f.thumb.to_bytes(),
                })
                .collect(),
            features: fp.measured_features().map(geometry::encode),
            composition: composition
                .map(|c| (c, serde_json::to_string(c).expect("composition serialises"))),
            licences,
        };
        on_backend!(self, b => b.add(&row))
    }

    /// Records a scored candidate with its composition and creation time.
    pub fn add_candidate(&self, c: &Candidate, fp: &Fingerprint) -> Result<i64, DedupError> {
        self.add_licensed(
            fp,
            c.variant_id.as_deref(),
            c.composition.as_ref(),
            Some(c.created_at),
            &c.licences,
        )
    }

    /// Every recorded licence that ends on or before `until` (`YYYY-MM-DD`), soonest first:
    /// the outputs to pull from running ads before their assets stop being licensed.
    pub fn expiring(&self, until: &str) -> Result<Vec<Expiring>, DedupError> {
        on_backend!(self, b => b.expiring(until))
    }

    /// All entries, oldest first.
    pub fn list(&self) -> Result<Vec<LibraryEntry>, DedupError> {
        on_backend!(self, b => b.list())
    }

    pub(crate) fn entry(&self, id: i64) -> Result<Option<LibraryEntry>, DedupError> {
        on_backend!(self, b => b.entry(id))
    }

    /// Finds an entry by numeric id, sha256, or stored path (as given or made absolute).
    pub fn find(&self, key: &str) -> Result<LibraryEntry, DedupError> {
        let abs = std::path::absolute(key)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let id = on_backend!(self, b => b.find_id(key, &abs))?;
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
        on_backend!(self, b => b.forget(e.id))?;
        Ok(e)
    }

    /// Marks an entry as no longer running: the platform rule exempts it from comparison,
    /// but its history is kept.
    pub fn retire(&self, key: &str) -> Result<LibraryEntry, DedupError> {
        let e = self.find(key)?;
        on_backend!(self, b => b.retire(e.id, crate::clock::unix_now()))?;
        Ok(LibraryEntry { retired: true, ..e })
    }

    pub fn frames(&self, id: i64) -> Result<Vec<StoredFrame>, DedupError> {
        on_backend!(self, b => b.frames(id))
    }

    pub fn features(&self, id: i64) -> Result<Option<Features>, DedupError> {
        on_backend!(self, b => b.features(id))
    }

    /// An entry's keypoints; for a still recorded without them (its verdict did not need
    /// them), or with keypoints but no thumbnail (added before thumbnails were kept, issue
    /// #13), measured from its file now and kept, if the file is still where it was
    /// exported with the bytes it had. Otherwise what is stored (keypoints alone judge then),
    /// or `None`: the comparison goes on without geometry, as for any entry whose file is
    /// gone.
    pub(crate) fn features_or_measure(
        &self,
        id: i64,
        path: &Path,
        sha256: &str,
        kind: MediaKind,
    ) -> Result<Option<Features>, DedupError> {
        let stored = self.features(id)?;
        if stored.as_ref().is_some_and(|f| !f.thumb.is_empty()) || kind != MediaKind::Image {
            return Ok(stored);
        }
        if !crate::dedup::fingerprint::sha256_file(path).is_ok_and(|(s, _)| s == sha256) {
            return Ok(stored);
        }
        let Ok(img) = crate::dedup::fingerprint::load_still(path) else {
            return Ok(stored);
        };
        let f = geometry::extract(&crate::dedup::fingerprint::sample_frame(&img));
        let data = geometry::encode(&f);
        // Keeping them only saves the next query the measurement: a library opened read-only
        // (or a full disk) still gets this comparison right.
        let _ = on_backend!(self, b => b.put_features(id, &data, stored.is_some()));
        Ok(Some(f))
    }

    /// Loads the hashes of entries that can still count against a new upload: not retired
    /// and created at or after `created_since` (unix seconds).
    pub fn index(&self, created_since: i64) -> Result<HashIndex, DedupError> {
        on_backend!(self, b => b.index(created_since))
    }

    /// Stores platform result rows in one transaction, replacing rows with the same key
    /// (platform, ad id, reporting range). Returns how many keys were new.
    pub fn put_results(&self, rows: &[ResultRow]) -> Result<usize, DedupError> {
        on_backend!(self, b => b.put_results(rows))
    }

    /// Every stored result row.
    pub fn results(&self) -> Result<Vec<ResultRow>, DedupError> {
        on_backend!(self, b => b.results())
    }

    /// Appends review decisions in one transaction.
    pub fn put_reviews(&self, rows: &[ReviewRow]) -> Result<(), DedupError> {
        on_backend!(self, b => b.put_reviews(rows))
    }

    /// Every review decision, oldest first.
    pub fn reviews(&self) -> Result<Vec<ReviewRow>, DedupError> {
        on_backend!(self, b => b.reviews())
    }

    /// Entries (live, recent) that share the background or product asset with `c`: the
    /// exact retrieval path, which finds re-used assets even when the pixels moved.
    pub fn sharing_assets(
        &self,
        c: &Composition,
        created_since: i64,
    ) -> Result<Vec<i64>, DedupError> {
        on_backend!(self, b => b.sharing_assets(c, created_since))
    }

    /// Whether any live, recent entry was added without a composition (a file from
    /// elsewhere): only those can be a turned copy that a composed output's turned-back
    /// hashes would retrieve.
    pub(crate) fn has_pixels_only(&self, created_since: i64) -> Result<bool, DedupError> {
        on_backend!(self, b => b.has_pixels_only(created_since))
    }
}
