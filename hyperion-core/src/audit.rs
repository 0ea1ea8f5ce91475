//! Audit: every mutation is recorded with who did it (`apikey:<label>`),
//! what, on what, and how it ended. Secrets never enter an event: events are
//! built from ids, labels and outcomes only.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::KeyId;
use crate::model::wire_enum;

/// How an audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    /// It was done (or accepted, for a job that then succeeded).
    Ok,
    /// It was attempted and failed.
    Failed,
    /// It was refused.
    Denied,
}
wire_enum!(AuditOutcome, "audit outcome", {
    Ok => "ok",
    Failed => "failed",
    Denied => "denied",
});

/// One audit record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The request it came from.
    pub request_id: String,
    /// Who: `apikey:<label>`, or `anonymous`.
    pub actor: String,
    /// The key used, if one was.
    pub key_id: Option<KeyId>,
    /// What: `hosting.suspend`, `key.mint`, ...
    pub action: String,
    /// On what: a hosting id, a key id, ...
    pub target: String,
    /// How it ended.
    pub outcome: AuditOutcome,
    /// The HTTP status answered, if any.
    pub status: Option<u16>,
    /// The client address.
    pub client_ip: Option<IpAddr>,
    /// A short reason for failures and refusals.
    pub detail: Option<String>,
}

/// Where audit events go.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Records one event. Must not fail the request: a sink that cannot write
    /// logs the problem itself.
    async fn record(&self, event: AuditEvent);
}

/// Writes each event as a structured `tracing` event (target `hyperion::audit`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingAuditSink;

#[async_trait]
impl AuditSink for TracingAuditSink {
    async fn record(&self, event: AuditEvent) {
        tracing::info!(
            target: "hyperion::audit",
            request_id = %event.request_id,
            actor = %event.actor,
            key_id = event.key_id.as_ref().map(KeyId::as_str),
            action = %event.action,
            target_id = %event.target,
            outcome = %event.outcome,
            status = event.status,
            client_ip = event.client_ip.map(|ip| ip.to_string()),
            detail = event.detail.as_deref(),
            "audit"
        );
    }
}

/// How many events [`MemoryAuditSink`] keeps unless told otherwise.
pub const DEFAULT_AUDIT_WINDOW: usize = 10_000;

/// Keeps the newest events in memory, up to a bound.
#[derive(Debug)]
pub struct MemoryAuditSink {
    events: Mutex<VecDeque<AuditEvent>>,
    capacity: usize,
}

impl Default for MemoryAuditSink {
    fn default() -> Self {
        Self::new(DEFAULT_AUDIT_WINDOW)
    }
}

impl MemoryAuditSink {
    /// A sink that keeps the newest `capacity` events.
    pub fn new(capacity: usize) -> Self {
        MemoryAuditSink {
            events: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    /// The kept events, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl AuditSink for MemoryAuditSink {
    async fn record(&self, event: AuditEvent) {
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        if events.len() == self.capacity {
            events.pop_front();
        }
        events.push_back(event);
    }
}

/// Sends every event to two sinks (e.g. memory for the API and tracing for the logs).
pub struct TeeAuditSink<A, B>(pub A, pub B);

#[async_trait]
impl<A: AuditSink, B: AuditSink> AuditSink for TeeAuditSink<A, B> {
    async fn record(&self, event: AuditEvent) {
        self.0.record(event.clone()).await;
        self.1.record(event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> AuditEvent {
        AuditEvent {
            at: crate::model::now(),
            request_id: format!("r{n}"),
            actor: "anonymous".into(),
            key_id: None,
            action: "hosting.suspend".into(),
            target: "h1".into(),
            outcome: AuditOutcome::Ok,
            status: Some(200),
            client_ip: None,
            detail: None,
        }
    }

    #[tokio::test]
    async fn memory_sink_keeps_a_bounded_window() {
        let sink = MemoryAuditSink::new(2);
        for n in 0..3 {
            sink.record(event(n)).await;
        }
        let kept: Vec<_> = sink.events().into_iter().map(|e| e.request_id).collect();
        assert_eq!(kept, ["r1", "r2"]);
    }
}
