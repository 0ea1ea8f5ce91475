//! The wire types of the Hyperion API kit's `/api/v1`: what requests carry
//! and answers hold (hostings, jobs, keys as the API shows them, audit
//! events, capabilities), the error envelope with its closed list of codes,
//! and the headers. The server renders its answers with these types and the
//! typed client reads them back with the same ones, so the two cannot
//! disagree on a field; a program that only names them needs nothing else
//! of the kit.

#![warn(unreachable_pub)]

mod answers;
pub mod audit;
mod capability;
pub mod endpoints;
pub mod error;
pub mod headers;
pub mod jobs;
pub mod keys;
pub mod model;
#[doc(hidden)]
pub mod random;

pub use answers::{
    BackupList, ExpiryValue, HostingPage, JobAccepted, KeyPage, KeySummary, LabelsValue, Me,
    NewKeyAnswer, NodeList, OwnerValue, PhpValue, PlanValue, StateChange,
};
pub use audit::{AuditEvent, AuditOutcome, AuditPage};
pub use capability::{CapSet, Capability};
pub use endpoints::{Access, Endpoint, EndpointInfo, endpoints};
pub use error::{ErrorBody, ErrorCode, ErrorEnvelope};
pub use jobs::{Job, JobId, JobState};
pub use keys::{Grant, GrantLevel, KeyId, KeyScope, KeyView, MintRequest, RequestedGrant};
