//! The PostgreSQL server the library tests run against: started by
//! `scripts/pg-test-server.sh` (which `make test` runs), found through
//! `FACTORY_TEST_PG_URL`. Each test gets a database of its own, dropped when it ends, so the
//! tests run side by side in the one test process without seeing each other's entries.

use postgres::{Client, NoTls};

pub const URL_VAR: &str = "FACTORY_TEST_PG_URL";

/// The server's URL. Panics (the test fails, it is not skipped) when the server was not
/// started: these tests are `#[ignore]`d so a bare `cargo test` passes, and `make test` runs
/// them with the server up.
pub fn server_url() -> String {
    std::env::var(URL_VAR).unwrap_or_else(|_| {
        panic!(
            "{URL_VAR} is not set: the PostgreSQL tests need the test server; run them with \
             `make test`, or `scripts/pg-test-server.sh run cargo test --test it dedup_postgres \
             -- --ignored`"
        )
    })
}

/// The CA that signed the test server's certificate (for `sslrootcert=`).
pub fn server_ca() -> String {
    test_var("FACTORY_TEST_PG_CA")
}

/// A CA that did not sign it.
pub fn other_ca() -> String {
    test_var("FACTORY_TEST_PG_OTHER_CA")
}

fn test_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the PostgreSQL tests need the test server; run them with \
             `make test`, or `scripts/pg-test-server.sh run cargo test --test it dedup_postgres \
             -- --ignored`"
        )
    })
}

/// `url` with its database replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let slash = base.rfind('/').expect("URL with a database");
    let mut out = format!("{}/{db}", &base[..slash]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A fresh, empty database on the test server; dropped (with whatever is still connected
/// to it) when this goes out of scope.
pub struct TestDb {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new(tag: &str) -> TestDb {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let admin_url = server_url();
        let name = format!(
            "t_{}_{}_{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut c = Client::connect(&admin_url, NoTls).expect("connect to the test server");
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        let url = with_database(&admin_url, &name);
        TestDb {
            admin_url,
            name,
            url,
        }
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(&self.admin_url, NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
