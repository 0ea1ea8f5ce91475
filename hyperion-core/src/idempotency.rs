//! Idempotent retries of creating requests (`Idempotency-Key`).
//!
//! The first successful answer to a request is kept (at least 24 hours) per
//! (API key, idempotency key). A retry with the same method, path and body
//! gets that answer again, marked `Idempotent-Replayed: true`; the same key
//! with another request is 409; a retry while the first is still running is
//! 409 too, and never runs twice. Only successful answers are kept: after a
//! failure the client may retry and the request runs again.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::keys::KeyId;
use crate::store::StoreError;

/// How long answers are kept unless configured otherwise.
pub(crate) const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Longest accepted `Idempotency-Key`.
pub(crate) const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// Whose retry this is: the API key that sent it and the client's idempotency key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyScope {
    /// The API key.
    pub api_key: KeyId,
    /// The client's `Idempotency-Key`.
    pub key: String,
}

/// A kept answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers worth replaying (`location`, `content-type`).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

/// What a store says when a request with an idempotency key arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// First time: run it (the key is now held as in flight).
    Fresh,
    /// Already answered: replay this.
    Replay(StoredResponse),
    /// The same request is still running.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

/// Where idempotency records live.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `scope` for a request whose method, path and body hash to `fingerprint`.
    async fn claim(
        &self,
        scope: &IdempotencyScope,
        fingerprint: [u8; 32],
    ) -> Result<Claim, StoreError>;
    /// Keeps the answer of a claimed request.
    async fn complete(
        &self,
        scope: &IdempotencyScope,
        response: StoredResponse,
    ) -> Result<(), StoreError>;
    /// Forgets a claim whose request failed, so that a retry runs again.
    async fn release(&self, scope: &IdempotencyScope) -> Result<(), StoreError>;
}
