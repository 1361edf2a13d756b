//! The near-duplicate search on each library backend at 1 M stored hashes (issue #17):
//! loading the hash columns (`Library::index`, once per run), the in-memory exact scan over
//! what was loaded (`HashIndex::nearest`), and — for comparison — the same exact scan done
//! inside PostgreSQL.
//!
//!     scripts/pg-test-server.sh run cargo bench --bench library_backends
//!
//! Without `FACTORY_TEST_PG_URL` only SQLite is measured. The libraries are filled with
//! 100,000 video entries of 10 frame hashes each, generated inside each database.

use std::path::Path;
use std::time::Instant;

use creative_factory::dedup::library::HashIndex;
use creative_factory::dedup::pdq::Hash256;
use creative_factory::dedup::Library;

const FILES: i64 = 100_000;
const FRAMES: i64 = 10;

fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0])
}

fn time_ms(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect(),
    )
}

fn queries() -> Vec<Hash256> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..14)
        .map(|_| {
            let mut b = [0u8; 32];
            for c in b.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.copy_from_slice(&x.to_le_bytes());
            }
            Hash256(b)
        })
        .collect()
}

/// Load and scan figures for one library.
fn measure(name: &str, lib: &Library) -> HashIndex {
    let (load, load_min) = time_ms(5, || {
        std::hint::black_box(lib.index(0).unwrap());
    });
    let idx = lib.index(0).unwrap();
    assert_eq!(idx.len() as i64, FILES * FRAMES);
    let q = queries();
    idx.nearest(&q, 31, 16);
    let (scan, scan_min) = time_ms(31, || {
        std::hint::black_box(idx.nearest(&q, 31, 16));
    });
    println!(
        "{name}: {} hashes; load (Library::index) {load:.0} ms median of 5 (best {load_min:.0}); \
         exact scan of a 14-hash still query {scan:.2} ms median of 31 (best {scan_min:.2})",
        idx.len()
    );
    idx
}

fn sqlite(dir: &Path) -> HashIndex {
    let path = dir.join("lib.sqlite");
    drop(Library::open(&path).unwrap());
    let t = Instant::now();
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {FILES})
         INSERT INTO files (id, path, sha256, bytes, kind, width, height, duration, created_at, added_at)
           SELECT i, '/lib/v' || i || '.mp4', lower(hex(randomblob(32))), 1000, 'video', 1080, 1920, 10.0,
                  strftime('%s', 'now'), strftime('%s', 'now') FROM n;
         WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < {FRAMES} - 1)
         INSERT INTO frames (file_id, idx, t, quality, hash)
           SELECT f.id, k.j, k.j, 80, randomblob(32) FROM files f, k;
         COMMIT;"
    ))
    .unwrap();
    drop(c);
    println!("sqlite: filled in {:.1} s", t.elapsed().as_secs_f64());
    measure("sqlite", &Library::open(&path).unwrap())
}

fn postgres(url: &str) -> HashIndex {
    use postgres::{Client, NoTls};
    let mut admin = Client::connect(url, NoTls).unwrap();
    let db = format!("bench_library_{}", std::process::id());
    // One statement per call: DROP/CREATE DATABASE and VACUUM refuse to run inside the
    // implicit transaction of a multi-statement batch.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let base = url.rsplit_once('/').unwrap().0;
    // Plain TCP, as the figures in BENCHMARKS.md were taken (the test server also offers
    // TLS, which `prefer` would pick): TLS costs the load, not the in-memory scan.
    let db_url = format!("{base}/{db}?sslmode=disable");
    drop(Library::open(Path::new(&db_url)).unwrap());
    let t = Instant::now();
    let mut c = Client::connect(&db_url, NoTls).unwrap();
    c.batch_execute(&format!(
        "BEGIN;
         INSERT INTO files (id, path, sha256, bytes, kind, width, height, duration, created_at, added_at)
           SELECT i, '/lib/v' || i || '.mp4', md5(i::text) || md5((-i)::text), 1000, 'video', 1080, 1920, 10.0,
                  extract(epoch from now())::bigint, extract(epoch from now())::bigint
           FROM generate_series(1, {FILES}) i;
         INSERT INTO frames (file_id, idx, t, quality, hash)
           SELECT f, k, k, 80, decode(md5(f || ':' || k) || md5(k || ':' || f), 'hex')
           FROM generate_series(1, {FILES}) f, generate_series(0, {FRAMES} - 1) k;
         COMMIT;"
    ))
    .unwrap();
    c.batch_execute("VACUUM ANALYZE files").unwrap();
    c.batch_execute("VACUUM ANALYZE frames").unwrap();
    println!("postgres: filled in {:.1} s", t.elapsed().as_secs_f64());
    let idx = measure("postgres", &Library::open(Path::new(&db_url)).unwrap());

    // The alternative: the exact scan inside the database (PostgreSQL 14+ `bit_count`), one
    // query hash at a time, the 16 nearest files.
    let q = queries();
    let hex = hex::encode(q[0].0);
    let sql = format!(
        "SELECT file_id, min(bit_count(('x' || encode(hash, 'hex'))::bit(256) # x'{hex}'::bit(256))) AS d
         FROM frames GROUP BY file_id ORDER BY d, file_id LIMIT 16"
    );
    let (one, one_min) = time_ms(3, || {
        std::hint::black_box(c.query(sql.as_str(), &[]).unwrap());
    });
    println!(
        "postgres, scan in the database (SQL bit_count over bytea→bit(256)): {one:.0} ms per \
         1-hash query, median of 3 (best {one_min:.0}); a still's query has 14 hashes"
    );
    drop(c);
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
    idx
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!(
        "library search at {} M hashes ({FILES} entries × {FRAMES} frames), rayon {} threads",
        FILES * FRAMES / 1_000_000,
        rayon::current_num_threads()
    );
    let s = sqlite(dir.path());
    match std::env::var("FACTORY_TEST_PG_URL") {
        Ok(url) => {
            let p = postgres(&url);
            // Same scan over the same amount of data: the backend only changes the load.
            assert_eq!(s.len(), p.len());
        }
        Err(_) => println!(
            "postgres: skipped (FACTORY_TEST_PG_URL unset; run under scripts/pg-test-server.sh run)"
        ),
    }
}
