//! The endpoint logic, written once for every framework.
//!
//! [`HyperionApi::handle`] takes a framework-neutral request and answers a
//! finished [`ApiResponse`](crate::ApiResponse): route → authenticate → read the body if the route
//! takes one → endpoint. Whatever fails, the answer is the JSON envelope;
//! even a panicking endpoint becomes a `500 internal`.

mod audit;
mod builder;
mod config;
mod context;
mod dispatch;
mod hostings;
mod idempotent;
mod jobs;
mod keys;
mod me;
mod nodes;
mod operations;
mod pipeline;
mod provisioning;
mod rendered;
mod rerun;
mod settings;
#[cfg(test)]
mod tests;

pub use builder::HyperionApiBuilder;
pub(crate) use builder::Services;

use std::sync::Arc;

use crate::cluster::Cluster;

pub use config::ApiConfig;
pub(crate) use context::{AuditTarget, RequestContext};

/// The whole `/api/v1`, ready to be mounted by an adapter. Cheap to clone.
#[derive(Clone)]
pub struct HyperionApi {
    services: Arc<Services>,
}
impl HyperionApi {
    /// Writes the audit events still held in memory: the counts of
    /// requests refused at the door in the current minute, which are
    /// otherwise written when their minute is over. Call it when the server
    /// has stopped answering, so that a restart loses none of them.
    pub async fn flush_audit(&self) {
        self.services.record_refusal_counts().await;
    }

    /// The cluster it serves.
    pub fn cluster(&self) -> &Cluster {
        &self.services.cluster
    }
}
