//! What every store shares: how a storage failure is reported, and how a
//! backend hands its stores to the API ([`Stores`]). The stores' traits live
//! with their concerns (`KeyStore`, `AuditSink`, `JobArchive`,
//! `IdempotencyStore`, ...); the in-memory stores together in
//! [`crate::memory`], the durable ones in `crate::sqlite` and
//! `crate::postgres`, which know nothing of the API builder.

use std::sync::Arc;

use crate::audit::{AuditLog, AuditSink};
use crate::idempotency::IdempotencyStore;
use crate::jobs::JobRunner;
use crate::keys::KeyStore;
use crate::ratelimit::RateLimitStore;
use crate::reservations::NameReservations;

/// The stores an API keeps its state in, each optional: what a backend
/// provides (`SqliteStores::provide`, `PostgresStores::provide`), or what
/// an integrator sets one by one; the builder keeps the in-memory store
/// for every one left out.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Stores {
    /// Where keys are stored.
    pub keys: Option<Arc<dyn KeyStore>>,
    /// What runs slow operations, and keeps their records.
    pub jobs: Option<Arc<dyn JobRunner>>,
    /// Where audit events go.
    pub audit: Option<Arc<dyn AuditSink>>,
    /// What `GET /audit` reads.
    pub audit_log: Option<Arc<dyn AuditLog>>,
    /// Where idempotent answers are kept.
    pub idempotency: Option<Arc<dyn IdempotencyStore>>,
    /// Where the keys' rate limits are counted.
    pub rate_limits: Option<Arc<dyn RateLimitStore>>,
    /// Where the names of creates in flight are held.
    pub reservations: Option<Arc<dyn NameReservations>>,
}

impl Stores {
    /// `self`, with every store `other` provides in place of its own.
    pub fn overlaid_with(self, other: Stores) -> Stores {
        Stores {
            keys: other.keys.or(self.keys),
            jobs: other.jobs.or(self.jobs),
            audit: other.audit.or(self.audit),
            audit_log: other.audit_log.or(self.audit_log),
            idempotency: other.idempotency.or(self.idempotency),
            rate_limits: other.rate_limits.or(self.rate_limits),
            reservations: other.reservations.or(self.reservations),
        }
    }
}

/// A storage failure: the database could not be read or written. Clients
/// see it only as `internal`; the message goes to the operator's logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);

/// The columns the database stores (SQLite, PostgreSQL) keep each record
/// in, in the order their rows are read back: one list for both.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod columns {
    /// An API key record (`keys`).
    pub(crate) const KEYS: &str = "id, hash, prefix, label, owner, caps, scope, created_at, expires_at, revoked_at, created_by, ip_allowlist, rate_limit_per_min";
    /// A job record (`jobs`).
    pub(crate) const JOBS: &str = "id, kind, target, state, progress, step, error, result, actor, started_by, created_at, updated_at, finished_at, plan, attempt";
    /// An audit event (`audit`).
    pub(crate) const AUDIT: &str = "id, at, request_id, actor, key_id, key_prefix, action, target, outcome, status, client_ip, detail, owner, client_request_id, count";
}
