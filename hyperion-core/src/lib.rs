//! # hyperion-core
//!
//! Everything of the Hyperion API kit that is not HTTP-framework code. Most
//! integrators use it through the `hyperion` facade; adapter authors and
//! node implementors depend on it directly.
//!
//! ## What you build, and with what
//!
//! - **An API** ([`HyperionApi`]): [`HyperionApi::builder`] takes your
//!   [`Cluster`] of [`Node`]s and your [`OwnerDirectory`]; every store you do
//!   not give is in memory ([`memory`]), or durable with `sqlite` (feature
//!   `sqlite`). [`ApiConfig`] holds the limits and deadlines.
//! - **Keys from Rust**: [`HyperionApi::mint_key`] and
//!   [`HyperionApi::revoke_key`], checked as `POST /keys` is and audited
//!   under the [`AuditActor`] you name.
//! - **An adapter** for a web framework: turn each request into a
//!   [`RequestHead`] plus a body stream, call [`HyperionApi::handle`], and
//!   copy the [`ApiResponse`] back. `server` (feature `server`) is a ready
//!   HTTP/1.1 server with deadlines for adapters that want one.
//! - **A node** ([`Node`]): the one trait between the API and the machines
//!   that host sites. [`ListQuery::page`] answers a list request in one call;
//!   the `hyperion-testkit` crate checks an implementation against the
//!   contract the API relies on.
//! - **Stores of your own**: [`KeyStore`], [`AuditSink`] and [`AuditLog`],
//!   [`JobRunner`] and [`JobArchive`], [`IdempotencyStore`],
//!   [`PlacementStrategy`].
//!
//! The wire types (hostings, settings, operations) are in [`model`]; the
//! OpenAPI document is in [`openapi`]; names of the headers the API reads
//! and writes are in [`headers`]. `sim` (feature `sim`) is a simulated
//! node for examples and tests; `mock` (feature `mock`) has mockall mocks of
//! every integration trait.

// Every `pub` item is reachable from outside, or it says `pub(crate)`: the
// public surface is what lib.rs re-exports, decided here. Checked in every
// build (the modules the benches' hidden internals reach say so).
#![warn(unreachable_pub)]

mod api;
mod audit;
mod auth;
mod authz;
mod cluster;
mod error;
mod http;
mod idempotency;
mod jobs;
mod keys;
pub mod memory;
mod node;
pub mod openapi;
mod owner;
#[cfg(feature = "postgres")]
pub mod postgres;
mod ratelimit;
mod refusals;
mod reservations;
#[cfg(feature = "server")]
pub mod server;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod store;
mod upstream;

pub use api::{ApiConfig, HyperionApi, HyperionApiBuilder};
pub use audit::{
    AuditActor, AuditEvent, AuditLog, AuditOutcome, AuditPage, AuditQuery, AuditSink, TeeAuditSink,
    TracingAuditSink,
};
pub use cluster::{Cluster, FewestHostings, PlacementStrategy};
pub use error::ApiError;
pub use http::client_ip::ForwardedHeader;
pub use http::{ApiResponse, RequestHead};
pub use hyperion_wire::model;
use hyperion_wire::random;
pub use hyperion_wire::{Access, EndpointInfo, endpoints};
pub use hyperion_wire::{
    BackupList, ErrorCode, ExpiryValue, HostingPage, JobAccepted, KeyPage, KeySummary, LabelsValue,
    Me, NewKeyAnswer, NodeList, OwnerValue, PhpValue, PlanValue, StateChange,
};
pub use hyperion_wire::{CapSet, Capability};
pub use idempotency::{Claim, IdempotencyScope, IdempotencyStore, StoredResponse};
pub use jobs::{
    Job, JobArchive, JobFailure, JobId, JobOutcome, JobProgress, JobRunner, JobSpec, JobState,
    JobTask, TokioJobRunner,
};
pub use keys::{
    ApiKeyRecord, Grant, GrantLevel, KeyChangeLock, KeyHash, KeyId, KeyScope, KeyStore, KeyView,
    MintRequest, MintedKey, NewKey, RawApiKey, RequestedGrant,
};
pub use node::{DeleteOptions, ListQuery, Node, NodeError, NodePage};
pub use owner::OwnerDirectory;
pub use ratelimit::{RateDecision, RateLimitStore, rate_decision};
pub use reservations::NameReservations;
pub use store::{StoreError, Stores};

/// Names of the HTTP headers the API reads and writes beyond the standard
/// ones, for clients and for adapters that log them.
pub use hyperion_wire::headers;

/// mockall mocks of every integration trait (feature `mock`), for testing a
/// panel's code against a node, a store or an owner directory that answers
/// what the test says.
#[cfg(feature = "mock")]
pub mod mock {
    pub use crate::audit::MockAuditSink;
    pub use crate::idempotency::MockIdempotencyStore;
    pub use crate::jobs::MockJobRunner;
    pub use crate::keys::MockKeyStore;
    pub use crate::node::MockNode;
    pub use crate::owner::MockOwnerDirectory;
    pub use crate::ratelimit::MockRateLimitStore;
    pub use crate::reservations::MockNameReservations;
}

/// Internals that the workspace's benchmarks measure one by one (feature
/// `bench-internals`). Not part of the API: anything here may change in
/// any release.
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod bench_internals {
    pub use crate::auth::authenticate;
    pub use crate::authz::{Access, ChainLimit, Principal, require_hosting_access};
    pub use crate::http::routes::match_route;
    pub use crate::keys::reach::Reach;
}
