//! # hyperion-core
//!
//! Everything of the Hyperion API kit that is not HTTP-framework code:
//! hostings and how they are addressed, capabilities, API keys,
//! authentication and authorization, the [`Node`] and [`JobRunner`] traits,
//! jobs, audit, the route table, the error envelope and the `/api/v1`
//! endpoint logic. Adapters (`hyperion-axum`, `hyperion-warp`) only convert a
//! framework's request into a [`RequestHead`] plus a body stream, call
//! [`HyperionApi::handle`], and copy the [`ApiResponse`] back.

pub mod api;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod capability;
pub mod client_ip;
pub mod cluster;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod jobs;
pub mod keys;
pub mod locator;
pub mod memory;
pub mod model;
pub mod node;
pub mod openapi;
pub mod owner;
pub mod placement;
mod random;
pub mod ratelimit;
mod refusals;
pub mod request_id;
#[cfg(feature = "server")]
pub mod server;
pub mod sim;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod upstream;

pub use api::{ApiConfig, HyperionApi, HyperionApiBuilder};
pub use audit::{AuditEvent, AuditOutcome, AuditSink, MemoryAuditSink, TracingAuditSink};
pub use authz::Principal;
pub use capability::{CapSet, Capability};
pub use client_ip::ForwardedHeader;
pub use cluster::Cluster;
pub use error::ApiError;
pub use http::{ApiResponse, RequestHead};
pub use jobs::{Job, JobId, JobRunner, JobState, TokioJobRunner};
pub use keys::{ApiKeyRecord, KeyScope, KeyStore, MintedKey, NewKey};
pub use model::{
    Domain, Hosting, HostingDetail, HostingId, HostingSelector, HostingState, NodeId, NodeInfo,
    OwnerId, SuspendedBy,
};
pub use node::{Node, NodeError};
pub use owner::OwnerDirectory;

/// mockall mocks of the integration traits (feature `mock`).
#[cfg(feature = "mock")]
pub mod mock {
    pub use crate::audit::MockAuditSink;
    pub use crate::idempotency::MockIdempotencyStore;
    pub use crate::jobs::MockJobRunner;
    pub use crate::keys::MockKeyStore;
    pub use crate::node::MockNode;
    pub use crate::owner::MockOwnerDirectory;
}
