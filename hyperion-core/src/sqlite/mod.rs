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

use crate::store::StoreError;

pub use audit::{AuditRetention, SqliteAuditLog};
pub use idempotency::SqliteIdempotencyStore;
pub use jobs::{INTERRUPTED, SqliteJobArchive};
pub use keys::SqliteKeyStore;
/// The rusqlite these stores are built on (0.43, `bundled`): a panel that
/// needs SQLite itself uses this one, since one build links one `sqlite3`.
#[doc(no_inline)]
pub use rusqlite;

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
    // 3: refusals are kept apart from real events by the retention.
    "CREATE INDEX audit_by_outcome ON audit(outcome, id);",
    // 4: jobs as data: how to run one again, and which run a record follows.
    "ALTER TABLE jobs ADD COLUMN plan TEXT;
    ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;",
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
        /// The database or directory at fault.
        path: PathBuf,
        /// What SQLite or the file system said.
        reason: String,
    },
    /// Another process holds the data directory.
    #[error(
        "the data directory {path} is in use by another process (pid {holder}, see hyperion.lock); stop it first"
    )]
    Locked {
        /// The directory.
        path: PathBuf,
        /// The holder's process id, as it wrote it (`unknown` if unreadable).
        holder: String,
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
        /// The newest version this build knows.
        supported: i64,
    },
}

/// One open database, shared by the stores.
#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
    /// The exclusive lock on the data directory, held while any clone lives.
    _lock: Option<Arc<std::fs::File>>,
    /// The key records read so far, shared by every key store of this
    /// database: this process owns the database, so the stores' own writes
    /// are every change there is.
    pub(crate) key_records: Arc<crate::keys::KeyRecordCache>,
}

/// The lock file of a data directory.
const LOCK_FILE: &str = "hyperion.lock";

/// Takes the exclusive lock of `dir` for this process, writing our pid into
/// the lock file; refuses with the holder's pid when another process has it.
fn lock_dir(dir: &Path) -> Result<std::fs::File, OpenError> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(LOCK_FILE);
    let unusable = |err: std::io::Error| OpenError::Unusable {
        path: path.clone(),
        reason: err.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(unusable)?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(OpenError::Locked {
                path: dir.to_owned(),
                holder: if holder.is_empty() { "unknown" } else { holder }.to_owned(),
            });
        }
        Err(fs4::TryLockError::Error(err)) => return Err(unusable(err)),
    }
    file.set_len(0).map_err(unusable)?;
    file.rewind().map_err(unusable)?;
    writeln!(file, "{}", std::process::id()).map_err(unusable)?;
    Ok(file)
}

/// Makes `path` readable and writable by its owner only, if it exists.
fn owner_only(path: &Path) -> Result<(), std::io::Error> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(_) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    }
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
    /// and brings its schema up to date. The directory is created readable
    /// by its owner only (0700) and the database files are 0600: they hold
    /// key hashes and the audit log. One process at a time: the directory is
    /// locked exclusively while the database is open, and a second process
    /// is refused with the holder's pid ([`OpenError::Locked`]).
    pub fn open_dir(dir: &Path) -> Result<Database, OpenError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|err| OpenError::Unusable {
                path: dir.to_owned(),
                reason: err.to_string(),
            })?;
        let lock = lock_dir(dir)?;
        let mut database = Self::open(&dir.join("hyperion.db"))?;
        database._lock = Some(Arc::new(lock));
        Ok(database)
    }

    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Database, OpenError> {
        let unusable = |err: rusqlite::Error| OpenError::Unusable {
            path: path.to_owned(),
            reason: err.to_string(),
        };
        // Created 0600 (SQLite gives its -wal and -shm files the same mode);
        // a file an older build left world-readable is tightened.
        let file_error = |err: std::io::Error| OpenError::Unusable {
            path: path.to_owned(),
            reason: err.to_string(),
        };
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(file_error)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            owner_only(Path::new(&file)).map_err(file_error)?;
        }
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
            _lock: None,
            key_records: Arc::new(crate::keys::KeyRecordCache::enabled()),
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

/// The audit retention, then the purge of expired idempotency records.
async fn upkeep(
    audit: &SqliteAuditLog,
    idempotency: &SqliteIdempotencyStore,
) -> Result<(), StoreError> {
    let pruned = audit.prune().await?;
    let purged = idempotency.purge_expired().await?;
    if pruned + purged > 0 {
        tracing::debug!(pruned, purged, "storage upkeep");
    }
    Ok(())
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
    /// and at most 10 million events). Call it before [`SqliteStores::provide`].
    pub fn set_audit_retention(&mut self, retention: AuditRetention) {
        self.audit = Arc::new((*self.audit).clone().with_retention(retention));
    }

    /// Runs the stores' upkeep now: the audit retention and the purge of
    /// expired idempotency records. [`SqliteStores::provide`] runs it every
    /// [`MAINTENANCE_EVERY`] in the background.
    pub async fn maintain(&self) -> Result<(), StoreError> {
        upkeep(&self.audit, &self.idempotency).await
    }

    /// Runs [`SqliteStores::maintain`] every [`MAINTENANCE_EVERY`] while the
    /// stores live (nothing without a tokio runtime).
    fn spawn_maintenance(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // Weak: the upkeep must not keep the database (and its lock) open.
        let audit = Arc::downgrade(&self.audit);
        let idempotency = Arc::downgrade(&self.idempotency);
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(MAINTENANCE_EVERY).await;
                let (Some(audit), Some(idempotency)) = (audit.upgrade(), idempotency.upgrade())
                else {
                    return;
                };
                if let Err(err) = upkeep(&audit, &idempotency).await {
                    tracing::warn!(error = %err, "storage upkeep failed");
                }
            }
        });
    }

    /// Starts their upkeep in the background and hands over every store
    /// it keeps, for `HyperionApiBuilder::stores` (audit events also go to
    /// `tracing`). Rate limits and create reservations stay in memory: one
    /// process holds a data directory.
    pub fn provide(&self) -> crate::Stores {
        self.spawn_maintenance();
        let audit =
            crate::audit::TeeAuditSink(Arc::clone(&self.audit), crate::audit::TracingAuditSink);
        crate::Stores {
            keys: Some(self.keys.clone()),
            jobs: Some(self.jobs.clone()),
            audit: Some(Arc::new(audit)),
            audit_log: Some(self.audit.clone()),
            idempotency: Some(self.idempotency.clone()),
            ..crate::Stores::default()
        }
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
    fn the_data_directory_is_private_and_held_by_one_process() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("data");
        let db = Database::open_dir(&dir).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for name in [
            "hyperion.db",
            "hyperion.db-wal",
            "hyperion.db-shm",
            LOCK_FILE,
        ] {
            let path = dir.join(name);
            if path.exists() {
                assert_eq!(mode(&path), 0o600, "{name}");
            }
        }
        // A second open while the first is alive is refused, naming our pid.
        let err = Database::open_dir(&dir).err().unwrap();
        assert!(matches!(err, OpenError::Locked { .. }), "{err}");
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(db);
        // Once it is gone, the directory opens again.
        drop(Database::open_dir(&dir).unwrap());
        // A world-readable database an older build left is tightened.
        std::fs::set_permissions(
            dir.join("hyperion.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        drop(Database::open_dir(&dir).unwrap());
        assert_eq!(mode(&dir.join("hyperion.db")), 0o600);
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
