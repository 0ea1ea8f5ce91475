//! Every in-memory store together: keys, owners, the audit log,
//! idempotency records, rate limits and the names of creates in flight. For
//! examples, tests, benches and small deployments that accept losing state
//! on restart; `sqlite` and `postgres` (features of the same names) have the
//! durable ones.

mod audit;
mod idempotency;
mod keys;
mod owners;
mod ratelimit;
mod reservations;

pub use audit::{DEFAULT_AUDIT_WINDOW, MemoryAuditSink};
pub use idempotency::MemoryIdempotencyStore;
pub use keys::MemoryKeyStore;
pub use owners::MemoryOwnerDirectory;
pub use ratelimit::MemoryRateLimiter;
pub use reservations::MemoryNameReservations;
