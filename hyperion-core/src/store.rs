//! What every store shares: how a storage failure is reported. The stores
//! themselves live with their traits (`KeyStore`, `AuditSink`, `JobArchive`,
//! `IdempotencyStore`); the in-memory ones together in [`crate::memory`],
//! the durable ones in `crate::sqlite`.

/// A storage failure: the database could not be read or written. Clients
/// see it only as `internal`; the message goes to the operator's logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StoreError(pub String);
