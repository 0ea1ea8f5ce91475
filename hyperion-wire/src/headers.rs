//! The HTTP headers the API reads and writes beyond the standard ones.

use http::HeaderName;

/// A request id: the client's in the request, the server's in the answer.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The answer's echo of a sane request id the client chose.
pub const CLIENT_REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-client-request-id");

/// The key under which a mutation is done once, however often it is sent.
pub const IDEMPOTENCY_KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// Set on an answer replayed for a repeated idempotency key.
pub const IDEMPOTENT_REPLAYED_HEADER: HeaderName = HeaderName::from_static("idempotent-replayed");
