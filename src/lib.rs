#![doc = include_str!("../README.md")]

// The facade names everything it re-exports, so that what the core adds
// later becomes public here only by a decision made in this file.

pub use hyperion_core::{
    Access, ApiConfig, ApiError, ApiKeyRecord, ApiResponse, AuditActor, AuditEvent, AuditLog,
    AuditOutcome, AuditPage, AuditQuery, AuditSink, CapSet, Capability, Claim, Cluster,
    DeleteOptions, EndpointInfo, FewestHostings, ForwardedHeader, Grant, GrantLevel, HyperionApi,
    HyperionApiBuilder, IdempotencyScope, IdempotencyStore, Job, JobArchive, JobFailure, JobId,
    JobOutcome, JobProgress, JobRunner, JobSpec, JobState, JobTask, KeyChangeLock, KeyHash, KeyId,
    KeyScope, KeyStore, KeyView, ListQuery, MintedKey, NameReservations, NewKey, Node, NodeError,
    NodePage, OwnerDirectory, PlacementStrategy, RateDecision, RateLimitStore, RawApiKey,
    RequestHead, RequestedGrant, StoreError, StoredResponse, Stores, TeeAuditSink, TokioJobRunner,
    TracingAuditSink,
};
/// The answers of the API as the wire carries them.
pub use hyperion_core::{
    BackupList, ErrorCode, ExpiryValue, HostingPage, JobAccepted, KeyPage, KeySummary, LabelsValue,
    Me, MintRequest, NewKeyAnswer, NodeList, OwnerValue, PhpValue, PlanValue, StateChange,
};
pub use hyperion_core::{endpoints, headers, memory, model, openapi, rate_decision};

/// mockall mocks of every integration trait (feature `mock`).
#[cfg(feature = "mock")]
pub use hyperion_core::mock;

/// The simulated node and cluster (feature `sim`), for examples and tests.
#[cfg(feature = "sim")]
pub use hyperion_core::sim;

/// Stores shared by several replicas in PostgreSQL (feature `postgres`).
#[cfg(feature = "postgres")]
pub use hyperion_core::postgres;
/// Durable stores in one SQLite file (feature `sqlite`).
#[cfg(feature = "sqlite")]
pub use hyperion_core::sqlite;

/// The axum adapter (feature `axum`): [`axum::router`] mounts `/api/v1`.
#[cfg(feature = "axum")]
pub use hyperion_axum as axum;

/// The warp adapter (feature `warp`): [`warp::routes`] mounts `/api/v1`.
#[cfg(feature = "warp")]
pub use hyperion_warp as warp;
