//! A PostgreSQL database for tests (feature `postgres`): the one that
//! `HYPERION_TEST_POSTGRES` names (`postgres://user@127.0.0.1:port/db`),
//! with a fresh schema per use so that tests never see each other's rows.
//! The database is taken to be a throwaway one: schemas are left behind.

use hyperion_core::postgres::{PostgresOptions, PostgresStores};

/// The variable naming the test database.
pub const DATABASE_VARIABLE: &str = "HYPERION_TEST_POSTGRES";

/// Set (to anything) where a missing database must fail the tests rather
/// than skip them, as in CI.
pub const REQUIRE_VARIABLE: &str = "HYPERION_REQUIRE_POSTGRES";

/// The test database's URL, or `None` after saying on stderr why the test
/// is skipped. Panics when it is missing and [`REQUIRE_VARIABLE`] is set.
pub fn test_database() -> Option<String> {
    match std::env::var(DATABASE_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os(REQUIRE_VARIABLE).is_none(),
                "{REQUIRE_VARIABLE} is set but {DATABASE_VARIABLE} is not: no PostgreSQL to test against"
            );
            eprintln!(
                "skipped: no PostgreSQL ({DATABASE_VARIABLE} is not set; `source .ci/postgres.sh` starts one)"
            );
            None
        }
    }
}

/// A schema name no other test uses.
pub fn fresh_schema() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "t_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Every store, in a fresh schema of the database at `url`.
pub async fn fresh_stores(url: &str) -> PostgresStores {
    stores_in(url, &fresh_schema()).await
}

/// Every store, in `schema` of the database at `url` (replicas of one test
/// share a schema).
pub async fn stores_in(url: &str, schema: &str) -> PostgresStores {
    let mut options = PostgresOptions::default();
    options.schema = Some(schema.to_owned());
    options.pool_size = 4;
    PostgresStores::connect(url, options)
        .await
        .expect("connect to the test PostgreSQL")
}

/// A fresh, empty database on the server at `url` (for `serve` processes,
/// which take a URL and no schema); answers its URL.
pub async fn fresh_database(url: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL");
    tokio::spawn(connection);
    let name = fresh_schema();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let (base, _) = url.rsplit_once('/').expect("a URL ending in /database");
    format!("{base}/{name}")
}
