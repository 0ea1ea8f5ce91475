//! The API's own settings ([`ApiConfig`]): limits, deadlines, trusted
//! proxies. The hostings' settings (PHP, limits, vhost) are the model's
//! `settings` and the `PATCH` endpoints in `settings.rs`.

use std::time::Duration;

use crate::http::client_ip::ForwardedHeader;

/// Request bodies larger than this are refused unless configured otherwise.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How long a job may wait on one node call unless configured otherwise.
pub(crate) const DEFAULT_JOB_NODE_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// Tunables of the API.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Largest accepted request body, in bytes: it lowers, never raises,
    /// each route's own bound (the OpenAPI document's `x-max-body-bytes`).
    pub body_limit: usize,
    /// Deadline of one node call made by a background job (they are slow by nature).
    pub job_node_deadline: Duration,
    /// Proxies whose forwarding headers are believed: a request from one of
    /// them is from the client its [`ApiConfig::forwarded_header`] names
    /// (walked right to left, past other trusted proxies). Empty:
    /// `X-Forwarded-For` and `Forwarded` are ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one header the trusted proxies write the client into; the other
    /// is ignored, since a proxy passes it through from the client.
    pub forwarded_header: ForwardedHeader,
    /// How long a request body may take to arrive; past it, 408.
    pub body_deadline: Duration,
    /// Bytes of request bodies being read at once, across all requests
    /// (each reserves its declared length, or its route's bound); past it,
    /// 503 with `Retry-After`. A family of keys, or a client address, that
    /// already reads a body holds at most a sixteenth of it.
    pub body_bytes_in_flight: usize,
    /// How many active keys one owner may hold; minting past it is 409.
    pub max_active_keys_per_owner: usize,
    /// Networks a grants-scoped key may still point a reverse proxy at,
    /// although they are loopback, link-local, private or unspecified
    /// (refused by default, so that no tenant can make a node call inside
    /// the provider's network).
    pub tenant_upstream_allowed: Vec<ipnet::IpNet>,
    /// How many requests without a usable key (401) from one client address
    /// (or with one known but unusable key) are answered at once in a
    /// minute; past it, each further one waits [`ApiConfig::refusal_delay`]. A
    /// client with a mistyped key never gets there; a flood of guessed keys
    /// is slowed to what its connections can wait for, so that it cannot
    /// take the server's time from the keys that work.
    pub refusals_before_delay: u64,
    /// How long a refusal past [`ApiConfig::refusals_before_delay`] waits
    /// before it is answered (zero: never).
    pub refusal_delay: Duration,
    /// How long the stores may take to tell who a request's key is (its
    /// record, its minting chain, its owner's rights); past it, 503
    /// `overloaded` with `Retry-After`, never an answer from what the
    /// server last knew and never a request that hangs with its database.
    pub key_lookup_deadline: Duration,
}

/// How long a body may take to arrive unless configured otherwise.
pub(crate) const DEFAULT_BODY_DEADLINE: Duration = Duration::from_secs(60);

/// Bytes of bodies read at once unless configured otherwise.
pub(crate) const DEFAULT_BODY_BYTES_IN_FLIGHT: usize = 64 * 1024 * 1024;

/// Active keys one owner may hold unless configured otherwise.
pub(crate) const DEFAULT_MAX_ACTIVE_KEYS_PER_OWNER: usize = 1000;

pub(crate) const DEFAULT_REFUSALS_BEFORE_DELAY: u64 = 30;
pub(crate) const DEFAULT_REFUSAL_DELAY: Duration = Duration::from_millis(500);

/// How long telling who a key is may take unless configured otherwise.
pub(crate) const DEFAULT_KEY_LOOKUP_DEADLINE: Duration = Duration::from_secs(2);

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            body_limit: DEFAULT_BODY_LIMIT,
            job_node_deadline: DEFAULT_JOB_NODE_DEADLINE,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            body_deadline: DEFAULT_BODY_DEADLINE,
            body_bytes_in_flight: DEFAULT_BODY_BYTES_IN_FLIGHT,
            max_active_keys_per_owner: DEFAULT_MAX_ACTIVE_KEYS_PER_OWNER,
            tenant_upstream_allowed: Vec::new(),
            refusals_before_delay: DEFAULT_REFUSALS_BEFORE_DELAY,
            refusal_delay: DEFAULT_REFUSAL_DELAY,
            key_lookup_deadline: DEFAULT_KEY_LOOKUP_DEADLINE,
        }
    }
}
