//! Durable stores in one embedded SQLite database (feature `sqlite`; the
//! library is bundled, nothing needs installing): keys, job records, the
//! audit log and idempotency records survive restarts and crashes.
//!
//! - WAL mode and a busy timeout; one connection behind a mutex, so writers
//!   queue in-process and never see "database is locked".
//! - Versioned migrations run at open; a database from a newer build is
//!   refused with a clear error instead of being misread.
//! - Every SQLite call runs on a blocking thread (`spawn_blocking` or the job
//!   writer thread), never on an async worker.

mod audit;
mod idempotency;
mod jobs;
mod keys;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::keys::StoreError;

pub use audit::{AuditRetention, SqliteAuditLog};
pub use idempotency::SqliteIdempotencyStore;
pub use jobs::{INTERRUPTED, SqliteJobArchive};
pub use keys::SqliteKeyStore;

/// The schema, one migration per version; append only.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        hash BLOB NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        label TEXT NOT NULL,
        owner TEXT NOT NULL,
        caps INTEGER NOT NULL,
        scope TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        created_by TEXT,
        ip_allowlist TEXT NOT NULL,
        rate_limit_per_min INTEGER NOT NULL
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        state TEXT NOT NULL,
        progress INTEGER NOT NULL,
        step TEXT,
        error TEXT,
        result TEXT,
        actor TEXT NOT NULL,
        started_by TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX jobs_by_state ON jobs(state);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        request_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        key_id TEXT,
        key_prefix TEXT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER,
        client_ip TEXT,
        detail TEXT
    );
    CREATE INDEX audit_by_actor ON audit(actor);
    CREATE INDEX audit_by_action ON audit(action);
    CREATE TABLE idempotency (
        api_key TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint BLOB NOT NULL,
        done INTEGER NOT NULL,
        status INTEGER,
        headers TEXT,
        body BLOB,
        at INTEGER NOT NULL,
        PRIMARY KEY (api_key, key)
    );",
    // 2: the owner of the key, the client's own request id and a count in
    // every audit event; keys by owner and by minter.
    "ALTER TABLE audit ADD COLUMN owner TEXT;
    ALTER TABLE audit ADD COLUMN client_request_id TEXT;
    ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX audit_by_key ON audit(key_id);
    CREATE INDEX keys_by_owner ON keys(owner);
    CREATE INDEX keys_by_creator ON keys(created_by);",
];

/// How often the stores' upkeep runs in the background.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(10 * 60);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The directory or file cannot be created, read or written.
    #[error("cannot use {path}: {reason}")]
    Unusable {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The database was written by a newer build.
    #[error(
        "the database at {path} has schema version {found}, newer than this build's {supported}; upgrade hyperion"
    )]
    TooNew {
        /// The path.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
}

/// One open database, shared by the stores.
#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
}

fn sql_err(err: rusqlite::Error) -> StoreError {
    StoreError(format!("sqlite: {err}"))
}

pub(crate) fn stamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn parse_stamp(text: &str) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
    })
}

pub(crate) fn parse_opt_stamp(text: Option<String>) -> rusqlite::Result<Option<OffsetDateTime>> {
    text.as_deref().map(parse_stamp).transpose()
}

/// A value read back that does not parse: the database was altered by hand.
pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} does not parse: {err}").into(),
    )
}

impl Database {
    /// Opens (creating if needed) `dir/hyperion.db`, creating `dir` too,
    /// and brings its schema up to date.
    pub fn open_dir(dir: &Path) -> Result<Database, OpenError> {
        std::fs::create_dir_all(dir).map_err(|err| OpenError::Unusable {
            path: dir.to_owned(),
            reason: err.to_string(),
        })?;
        Self::open(&dir.join("hyperion.db"))
    }

    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Database, OpenError> {
        let unusable = |err: rusqlite::Error| OpenError::Unusable {
            path: path.to_owned(),
            reason: err.to_string(),
        };
        let mut conn = Connection::open(path).map_err(unusable)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(unusable)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(unusable)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(unusable)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(unusable)?;
        if found > SCHEMA_VERSION {
            return Err(OpenError::TooNew {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
            let tx = conn.transaction().map_err(unusable)?;
            tx.execute_batch(migration).map_err(unusable)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)
                .map_err(unusable)?;
            tx.commit().map_err(unusable)?;
        }
        Ok(Database {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `work` with the connection on a blocking thread.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn)
        })
        .await
        .map_err(|err| StoreError(format!("sqlite task failed: {err}")))?
        .map_err(sql_err)
    }

    /// Runs `work` with the connection on the current (blocking) thread.
    pub(crate) fn run_blocking<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        work(&mut conn).map_err(sql_err)
    }
}

/// Every durable store of one database, ready to give to the API builder.
pub struct SqliteStores {
    /// The database.
    pub database: Database,
    /// API keys.
    pub keys: Arc<SqliteKeyStore>,
    /// The job runner, archiving every job record.
    pub jobs: Arc<crate::jobs::TokioJobRunner>,
    /// The audit log.
    pub audit: Arc<SqliteAuditLog>,
    /// Idempotency records.
    pub idempotency: Arc<SqliteIdempotencyStore>,
}

impl SqliteStores {
    /// Opens `dir/hyperion.db` (creating both if needed) and its stores.
    pub fn open_dir(dir: &Path) -> Result<SqliteStores, OpenError> {
        let database = Database::open_dir(dir)?;
        let unusable = |err: StoreError| OpenError::Unusable {
            path: dir.to_owned(),
            reason: err.0,
        };
        let archive = SqliteJobArchive::open(database.clone()).map_err(unusable)?;
        let idempotency = SqliteIdempotencyStore::open(database.clone()).map_err(unusable)?;
        Ok(SqliteStores {
            keys: Arc::new(SqliteKeyStore::new(database.clone())),
            jobs: Arc::new(crate::jobs::TokioJobRunner::default().with_archive(Arc::new(archive))),
            audit: Arc::new(SqliteAuditLog::new(database.clone())),
            idempotency: Arc::new(idempotency),
            database,
        })
    }

    /// Keeps the audit log as `retention` says (the default keeps 400 days
    /// and at most 10 million events). Call it before [`SqliteStores::install`].
    pub fn set_audit_retention(&mut self, retention: AuditRetention) {
        self.audit = Arc::new((*self.audit).clone().with_retention(retention));
    }

    /// Runs the stores' upkeep now: the audit retention and the purge of
    /// expired idempotency records. [`SqliteStores::install`] runs it every
    /// [`MAINTENANCE_EVERY`] in the background.
    pub async fn maintain(&self) -> Result<(), StoreError> {
        let pruned = self.audit.prune().await?;
        let purged = self.idempotency.purge_expired().await?;
        if pruned + purged > 0 {
            tracing::debug!(pruned, purged, "storage upkeep");
        }
        Ok(())
    }

    /// Runs [`SqliteStores::maintain`] every [`MAINTENANCE_EVERY`] while the
    /// stores live (nothing without a tokio runtime).
    fn spawn_maintenance(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let stores = SqliteStores {
            database: self.database.clone(),
            keys: Arc::clone(&self.keys),
            jobs: Arc::clone(&self.jobs),
            audit: Arc::clone(&self.audit),
            idempotency: Arc::clone(&self.idempotency),
        };
        let alive = Arc::downgrade(&self.audit);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(MAINTENANCE_EVERY).await;
                // Stop once the stores handed out are all gone (ours aside).
                if alive.strong_count() <= 1 {
                    return;
                }
                if let Err(err) = stores.maintain().await {
                    tracing::warn!(error = %err, "storage upkeep failed");
                }
            }
        });
    }

    /// Gives every store to `builder` (audit events also go to `tracing`)
    /// and starts their upkeep in the background.
    pub fn install(&self, builder: crate::HyperionApiBuilder) -> crate::HyperionApiBuilder {
        self.spawn_maintenance();
        let audit =
            crate::audit::TeeAuditSink(Arc::clone(&self.audit), crate::audit::TracingAuditSink);
        builder
            .key_store(self.keys.clone())
            .job_runner(self.jobs.clone())
            .audit_sink(Arc::new(audit))
            .audit_log(self.audit.clone())
            .idempotency_store(self.idempotency.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_schema_is_refused_and_an_unusable_path_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(Database::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Database::open(&path).err().unwrap();
        assert!(matches!(err, OpenError::TooNew { .. }), "{err}");
        assert!(err.to_string().contains("newer"));

        let file = dir.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let err = Database::open_dir(&file.join("sub")).err().unwrap();
        assert!(matches!(err, OpenError::Unusable { .. }), "{err}");
    }

    #[test]
    fn reopening_keeps_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        drop(Database::open_dir(dir.path()).unwrap());
        let db = Database::open_dir(dir.path()).unwrap();
        let version: i64 = db
            .run_blocking(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }
}
