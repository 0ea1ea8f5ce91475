//! Stores shared by every replica in one PostgreSQL database (feature
//! `postgres`): keys, job records with leases, the audit log, idempotency
//! records, rate limits and the names of creates in flight. Several
//! `HyperionApi` processes on one database serve one cluster as one.
//!
//! - A pool of connections (deadpool over tokio-postgres): no call blocks
//!   an async worker, and concurrent requests never see "database is locked";
//!   PostgreSQL's row locks and `ON CONFLICT` decide races between replicas.
//! - Versioned migrations run at connect, under an advisory lock so that two
//!   replicas starting at once migrate once; a database from a newer build
//!   is refused with a clear error.
//! - Times that must agree across replicas (rate limits, leases, expiries)
//!   are read from the database's clock, never from a replica's.
//! - Key records are cached per replica only while it can prove it hears
//!   the key changes every replica announces (LISTEN/NOTIFY, and a
//!   heartbeat echoed back at least every second): a revocation reaches the
//!   other replicas' caches as soon as it commits (in milliseconds), and a
//!   replica that loses its listening connection, or whose link silently
//!   stops, stops using its cache within `key_cache::TRUST_FOR` until it
//!   hears again. Nothing is ever cached by time alone.

mod audit;
mod idempotency;
mod jobs;
mod key_cache;
mod keys;
mod limits;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::store::StoreError;

pub use audit::PostgresAuditLog;
pub use idempotency::PostgresIdempotencyStore;
pub use jobs::{PostgresJobArchive, REPLICA_STOPPED};
pub use keys::PostgresKeyStore;
pub use limits::{PostgresNameReservations, PostgresRateLimits};

/// The schema, one migration per version; append only.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        hash BYTEA NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        label TEXT NOT NULL,
        owner TEXT NOT NULL,
        caps BIGINT NOT NULL,
        scope TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ,
        revoked_at TIMESTAMPTZ,
        created_by TEXT,
        ip_allowlist TEXT NOT NULL,
        rate_limit_per_min BIGINT NOT NULL
    );
    CREATE INDEX keys_by_owner ON keys(owner);
    CREATE INDEX keys_by_creator ON keys(created_by);
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        state TEXT NOT NULL,
        progress SMALLINT NOT NULL,
        step TEXT,
        error TEXT,
        result TEXT,
        actor TEXT NOT NULL,
        started_by TEXT,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        replica TEXT NOT NULL,
        lease_until TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX jobs_unfinished ON jobs(lease_until) WHERE state IN ('queued', 'running');
    CREATE TABLE audit (
        id BIGSERIAL PRIMARY KEY,
        at TIMESTAMPTZ NOT NULL,
        request_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        key_id TEXT,
        key_prefix TEXT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER,
        client_ip TEXT,
        detail TEXT,
        owner TEXT,
        client_request_id TEXT,
        count BIGINT NOT NULL DEFAULT 1
    );
    CREATE INDEX audit_by_actor ON audit(actor);
    CREATE INDEX audit_by_action ON audit(action);
    CREATE INDEX audit_by_key ON audit(key_id);
    CREATE TABLE idempotency (
        api_key TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint BYTEA NOT NULL,
        done BOOLEAN NOT NULL,
        status INTEGER,
        headers TEXT,
        body BYTEA,
        at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (api_key, key)
    );
    CREATE TABLE rate_limits (
        key_id TEXT PRIMARY KEY,
        tat_micros BIGINT NOT NULL
    );
    CREATE TABLE name_reservations (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    );",
    // 2: jobs as data: how to run one again, and which run a record follows.
    "ALTER TABLE jobs ADD COLUMN plan TEXT;
    ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock the migrations run under (any constant of our own).
const MIGRATION_LOCK: i64 = 0x4859_5045_5249_4f4e; // "HYPERION"

/// How the stores connect and behave.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// Connections in the pool (default 16).
    pub pool_size: usize,
    /// How long a replica's hold on its running jobs lasts without being
    /// renewed (default 30 s). A replica renews it every third of that; once
    /// it lapses, another replica takes the job over: it runs again a job
    /// that is safe to repeat, and fails any other ([`REPLICA_STOPPED`]).
    pub job_lease: Duration,
    /// How long a request in flight holds what it claimed for others to
    /// wait on: its idempotency key and the names of a create (default
    /// 2 min). A replica that dies mid-request frees them after this. Keep
    /// it above the longest a request may take (its node calls' deadlines).
    pub request_claim_lapse: Duration,
    /// The PostgreSQL schema the tables live in (created if missing;
    /// default: the connection's `search_path`, usually `public`). Letters,
    /// digits and `_` only.
    pub schema: Option<String>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 16,
            job_lease: Duration::from_secs(30),
            request_claim_lapse: Duration::from_secs(2 * 60),
            schema: None,
        }
    }
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL or an option is not usable.
    #[error("invalid PostgreSQL settings: {0}")]
    Invalid(String),
    /// The server could not be reached or refused us.
    #[error("cannot use the PostgreSQL database: {0}")]
    Unreachable(String),
    /// The database was written by a newer build.
    #[error(
        "the PostgreSQL database has hyperion schema version {found}, newer than this build's {supported}; upgrade hyperion"
    )]
    TooNew {
        /// Its version.
        found: i32,
        /// The newest version this build knows.
        supported: i32,
    },
}

/// How long a session may sit inside a transaction doing nothing before the
/// server ends it (the longest a key change or a job write may pause).
const IDLE_IN_TRANSACTION_LIMIT: Duration = Duration::from_secs(10);

/// How long unanswered packets (or an unanswered connect) may wait before
/// a connection to the database is given up.
const DEAD_LINK_AFTER: Duration = Duration::from_secs(5);

/// A pool of connections to one database, shared by the stores.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    /// How to open a connection of its own (the key cache's listener).
    config: tokio_postgres::Config,
    /// When this replica last found its link to the database dead (see
    /// [`Database::link_lost`]); pooled connections made before are not
    /// used again.
    lost_at: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// Turns a driver or pool error into a [`StoreError`].
fn store_error(err: impl std::fmt::Display) -> StoreError {
    StoreError(format!("postgres: {err}"))
}

impl Database {
    /// Connects to `url` (`postgres://user@host:port/db`) and brings the
    /// schema up to date.
    pub async fn connect(url: &str, options: &PostgresOptions) -> Result<Database, ConnectError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|err| ConnectError::Invalid(format!("{err}")))?;
        if let Some(schema) = &options.schema {
            let plain = !schema.is_empty()
                && schema.len() <= 63
                && schema
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !schema.starts_with(|c: char| c.is_ascii_digit());
            if !plain {
                return Err(ConnectError::Invalid(format!(
                    "schema `{schema}`: lowercase letters, digits and `_` only"
                )));
            }
            config.options(format!("-c search_path={schema}"));
        }
        // A replica stalled inside a transaction (paused, cut off) must not
        // hold its locks, and with them the takeover of its jobs, for ever:
        // the server ends such a session after a while.
        let given = config.get_options().unwrap_or_default();
        config.options(format!(
            "{given} -c idle_in_transaction_session_timeout={}",
            IDLE_IN_TRANSACTION_LIMIT.as_millis()
        ));
        // A link that silently stops carrying packets fails its
        // connections within seconds, not the kernel's quarter of an hour
        // (unless the URL says otherwise).
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEAD_LINK_AFTER);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(DEAD_LINK_AFTER);
            config
                .keepalives(true)
                .keepalives_idle(DEAD_LINK_AFTER)
                .keepalives_interval(Duration::from_secs(1))
                .keepalives_retries(3);
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let lost_at: Arc<std::sync::Mutex<Option<std::time::Instant>>> = Arc::default();
        let lost = Arc::clone(&lost_at);
        // A connection made before the link was last found dead may be one
        // of those the dead link swallowed: it is closed, not handed out.
        let fresh_only = deadpool_postgres::Hook::sync_fn(move |_, metrics| {
            let lost = *lost
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match lost {
                Some(at) if metrics.created <= at => Err(deadpool_postgres::HookError::message(
                    "made before the link to the database was lost",
                )),
                _ => Ok(()),
            }
        });
        let pool = Pool::builder(manager)
            .pre_recycle(fresh_only)
            .max_size(options.pool_size.max(1))
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|err| ConnectError::Invalid(err.to_string()))?;
        let database = Database {
            pool,
            config,
            lost_at,
        };
        database.migrate(options.schema.as_deref()).await?;
        Ok(database)
    }

    /// A connection of its own, outside the pool, with the task that drives
    /// it; for listening to notifications.
    pub(crate) async fn dedicated(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
        ),
        StoreError,
    > {
        self.config.connect(NoTls).await.map_err(store_error)
    }

    /// The link to the database was found dead (a heartbeat did not come
    /// back): the pooled connections made until now are not used again, so
    /// that a link that silently swallowed them does not keep swallowing
    /// requests once the network carries new connections.
    pub(crate) fn link_lost(&self) {
        *self
            .lost_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(std::time::Instant::now());
    }

    /// A connection from the pool.
    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(store_error)
    }

    async fn migrate(&self, schema: Option<&str>) -> Result<(), ConnectError> {
        let unreachable = |err: &dyn std::fmt::Display| ConnectError::Unreachable(err.to_string());
        let mut client = self.pool.get().await.map_err(|e| unreachable(&e))?;
        let tx = client.transaction().await.map_err(|e| unreachable(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| unreachable(&e))?;
        if let Some(schema) = schema {
            // The name was checked to be plain above.
            tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .map_err(|e| unreachable(&e))?;
        }
        tx.batch_execute("CREATE TABLE IF NOT EXISTS hyperion_schema (version INTEGER NOT NULL)")
            .await
            .map_err(|e| unreachable(&e))?;
        let found: Option<i32> = tx
            .query_opt("SELECT version FROM hyperion_schema", &[])
            .await
            .map_err(|e| unreachable(&e))?
            .map(|row| row.get(0));
        let found = match found {
            Some(version) => version,
            None => {
                tx.execute("INSERT INTO hyperion_schema (version) VALUES (0)", &[])
                    .await
                    .map_err(|e| unreachable(&e))?;
                0
            }
        };
        if found > SCHEMA_VERSION {
            return Err(ConnectError::TooNew {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for migration in &MIGRATIONS[found.max(0) as usize..] {
            tx.batch_execute(migration)
                .await
                .map_err(|e| unreachable(&e))?;
        }
        tx.execute(
            "UPDATE hyperion_schema SET version = $1",
            &[&SCHEMA_VERSION],
        )
        .await
        .map_err(|e| unreachable(&e))?;
        tx.commit().await.map_err(|e| unreachable(&e))
    }
}

/// How often the stores' upkeep runs in the background.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(10 * 60);

/// Every shared store of one database, ready to give to the API builder.
pub struct PostgresStores {
    /// The database.
    pub database: Database,
    /// API keys.
    pub keys: Arc<PostgresKeyStore>,
    /// The job runner, archiving every job record with this replica's lease.
    pub jobs: Arc<crate::jobs::TokioJobRunner>,
    /// The archive under [`PostgresStores::jobs`].
    pub job_archive: Arc<PostgresJobArchive>,
    /// The audit log.
    pub audit: Arc<PostgresAuditLog>,
    /// Idempotency records.
    pub idempotency: Arc<PostgresIdempotencyStore>,
    /// Rate limits.
    pub rate_limits: Arc<PostgresRateLimits>,
    /// Names of creates in flight.
    pub reservations: Arc<PostgresNameReservations>,
}

impl PostgresStores {
    /// Connects to `url`, migrates, and opens every store. Starts, in the
    /// background, the renewal of this replica's job leases and the search
    /// for jobs whose replica stopped.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self, ConnectError> {
        let database = Database::connect(url, &options).await?;
        let job_archive = Arc::new(PostgresJobArchive::open(
            database.clone(),
            options.job_lease,
        ));
        Ok(PostgresStores {
            keys: Arc::new(PostgresKeyStore::new(database.clone())),
            jobs: Arc::new(
                crate::jobs::TokioJobRunner::default()
                    .with_archive(Arc::clone(&job_archive) as Arc<dyn crate::jobs::JobArchive>),
            ),
            job_archive,
            audit: Arc::new(PostgresAuditLog::new(database.clone())),
            idempotency: Arc::new(PostgresIdempotencyStore::new(
                database.clone(),
                options.request_claim_lapse,
            )),
            rate_limits: Arc::new(PostgresRateLimits::new(database.clone())),
            reservations: Arc::new(PostgresNameReservations::new(
                database.clone(),
                options.request_claim_lapse,
            )),
            database,
        })
    }

    /// Runs the stores' upkeep now: expired idempotency records, recovered
    /// rate limits and lapsed name reservations go.
    pub async fn maintain(&self) -> Result<(), StoreError> {
        self.idempotency.purge_expired().await?;
        limits::purge(&self.database).await
    }

    fn spawn_maintenance(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let idempotency = Arc::downgrade(&self.idempotency);
        let database = self.database.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(MAINTENANCE_EVERY).await;
                let Some(idempotency) = idempotency.upgrade() else {
                    return;
                };
                let upkeep = async {
                    idempotency.purge_expired().await?;
                    limits::purge(&database).await
                };
                if let Err(err) = upkeep.await {
                    tracing::warn!(error = %err, "storage upkeep failed");
                }
            }
        });
    }

    /// Starts their upkeep in the background and hands over every store,
    /// for `HyperionApiBuilder::stores` (audit events also go to `tracing`).
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
            rate_limits: Some(self.rate_limits.clone()),
            reservations: Some(self.reservations.clone()),
        }
    }
}
