//! Audit: every mutation is recorded with who did it (`apikey:<label>`),
//! what, on what, and how it ended. Secrets never enter an event: events are
//! built from ids, labels and outcomes only.

use std::net::IpAddr;

use async_trait::async_trait;

use hyperion_wire::audit::ANONYMOUS_ACTOR;
#[cfg(test)]
pub(crate) use hyperion_wire::audit::bounded_text;
pub use hyperion_wire::audit::{AuditEvent, AuditOutcome, AuditPage};

use crate::keys::KeyId;
use crate::model::{InvalidValue, OwnerId};
use crate::store::StoreError;

/// Shows a client-controlled text in a log line with every control
/// character escaped, without allocating (for spans and log fields).
pub(crate) struct LogSafe<'a>(pub &'a str);

impl std::fmt::Display for LogSafe<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for c in self.0.chars() {
            if c.is_control() || c == '\\' {
                for escaped in c.escape_default() {
                    f.write_char(escaped)?;
                }
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Who made a change from Rust (the integrator's panel, a script), as the
/// audit log names them: for example `panel:alice`. It can never pass for
/// an API key or for an unauthenticated request: `apikey:...` and
/// `anonymous` are refused, and so are control characters and names longer
/// than 100 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditActor(String);

/// The longest [`AuditActor`], in characters.
pub(crate) const MAX_ACTOR_CHARS: usize = 100;

impl AuditActor {
    /// Checks and wraps `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidValue> {
        let name = name.into();
        if name.is_empty() || name.chars().count() > MAX_ACTOR_CHARS {
            return Err(InvalidValue(format!(
                "an audit actor must be 1 to {MAX_ACTOR_CHARS} characters"
            )));
        }
        if !name.chars().all(crate::model::is_shown) {
            return Err(InvalidValue(
                "an audit actor must not hold control or invisible characters".to_owned(),
            ));
        }
        if name.starts_with("apikey:") || name == ANONYMOUS_ACTOR {
            return Err(InvalidValue(format!(
                "`{name}` is how the audit log names API keys and unauthenticated requests"
            )));
        }
        Ok(AuditActor(name))
    }

    /// The name as the audit log shows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who an audit event names: an API key (with its id and owner), an
/// integrator's [`AuditActor`], or `anonymous`.
#[derive(Clone, Debug)]
pub(crate) struct Requester {
    pub(crate) actor: String,
    pub(crate) key_id: Option<KeyId>,
    pub(crate) owner: Option<OwnerId>,
    /// The display prefix of a presented key that was refused, if it parsed.
    pub(crate) key_prefix: Option<String>,
}

impl Requester {
    /// A request that presented no usable key (`key_prefix`: what it presented).
    pub(crate) fn anonymous(key_prefix: Option<String>) -> Self {
        Requester {
            actor: ANONYMOUS_ACTOR.to_owned(),
            key_id: None,
            owner: None,
            key_prefix,
        }
    }
}

/// The request an event records: the server's id, the client's own, and
/// the client's address. Empty for changes made from Rust.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RequestFacts<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) client_request_id: Option<&'a str>,
    pub(crate) client_ip: Option<IpAddr>,
}

/// What happened: the action, on what, how it ended.
#[derive(Clone, Debug)]
pub(crate) struct Happening<'a> {
    pub(crate) action: &'a str,
    pub(crate) target: &'a str,
    pub(crate) outcome: AuditOutcome,
    pub(crate) status: Option<u16>,
    pub(crate) detail: Option<String>,
}

/// The one way events are built: who, in which request, did what. The
/// event comes bounded (see [`AuditEvent::bounded`]).
pub(crate) fn event(who: Requester, request: RequestFacts<'_>, what: Happening<'_>) -> AuditEvent {
    AuditEvent {
        id: 0,
        at: crate::model::now(),
        request_id: request.request_id.to_owned(),
        client_request_id: request.client_request_id.map(str::to_owned),
        actor: who.actor,
        key_id: who.key_id,
        owner: who.owner,
        key_prefix: who.key_prefix,
        action: what.action.to_owned(),
        target: what.target.to_owned(),
        outcome: what.outcome,
        status: what.status,
        client_ip: request.client_ip,
        detail: what.detail,
        count: 1,
    }
    .bounded()
}

/// An event of a change made from Rust by `actor`: no request, no key,
/// no client address.
pub(crate) fn integrator_event(actor: &AuditActor, what: Happening<'_>) -> AuditEvent {
    let who = Requester {
        actor: actor.0.clone(),
        key_id: None,
        owner: None,
        key_prefix: None,
    };
    event(who, RequestFacts::default(), what)
}

/// Where audit events go.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Records one event. Must not fail the request: a sink that cannot write
    /// logs the problem itself.
    async fn record(&self, event: AuditEvent);
}

/// A page request over the audit log: newest first, keyset on the event id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events older than this id (the cursor).
    pub before: Option<u64>,
    /// Page size.
    pub limit: usize,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only events of this key.
    pub key_id: Option<KeyId>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this target.
    pub target: Option<String>,
    /// Only this outcome.
    pub outcome: Option<AuditOutcome>,
}

impl AuditQuery {
    /// The filters that are set, as (column, value) pairs, for a store that
    /// asks a database: columns `actor`, `key_id`, `action`, `target` and
    /// `outcome` (not the cursor).
    pub fn column_filters(&self) -> Vec<(&'static str, String)> {
        [
            ("actor", self.actor.clone()),
            ("key_id", self.key_id.as_ref().map(|k| k.to_string())),
            ("action", self.action.clone()),
            ("target", self.target.clone()),
            ("outcome", self.outcome.map(|o| o.as_str().to_owned())),
        ]
        .into_iter()
        .filter_map(|(column, value)| value.map(|value| (column, value)))
        .collect()
    }

    /// Whether `event` passes the filters (not the cursor).
    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.actor.as_ref().is_none_or(|a| *a == event.actor)
            && self
                .key_id
                .as_ref()
                .is_none_or(|k| event.key_id.as_ref() == Some(k))
            && self.action.as_ref().is_none_or(|a| *a == event.action)
            && self.target.as_ref().is_none_or(|t| *t == event.target)
            && self.outcome.is_none_or(|o| o == event.outcome)
    }
}

/// Reads the audit log back, for `GET /api/v1/audit`.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// One page of events, newest first.
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError>;
}

/// Writes each event as a structured `tracing` event (target `hyperion::audit`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingAuditSink;

#[async_trait]
impl AuditSink for TracingAuditSink {
    async fn record(&self, event: AuditEvent) {
        let event = event.bounded();
        // Every text a client or a panel chose (a key's label in `actor`, a
        // target) is logged as a quoted string, so that a label such as
        // `ops owner="root"` cannot pass for fields of its own in the line.
        tracing::info!(
            target: "hyperion::audit",
            request_id = %event.request_id,
            client_request_id = event.client_request_id.as_deref(),
            actor = event.actor.as_str(),
            key_id = event.key_id.as_ref().map(KeyId::as_str),
            owner = event.owner.as_ref().map(OwnerId::as_str),
            key_prefix = event.key_prefix.as_deref(),
            action = %event.action,
            target_id = event.target.as_str(),
            outcome = %event.outcome,
            status = event.status,
            client_ip = event.client_ip.map(|ip| ip.to_string()),
            detail = event.detail.as_deref(),
            count = event.count,
            "audit"
        );
    }
}

/// Sends every event to two sinks (e.g. memory for the API and tracing for the logs).
pub struct TeeAuditSink<A, B>(pub A, pub B);

#[async_trait]
impl<T: AuditSink + ?Sized> AuditSink for std::sync::Arc<T> {
    async fn record(&self, event: AuditEvent) {
        (**self).record(event).await;
    }
}

#[async_trait]
impl<A: AuditSink, B: AuditSink> AuditSink for TeeAuditSink<A, B> {
    async fn record(&self, event: AuditEvent) {
        self.0.record(event.clone()).await;
        self.1.record(event).await;
    }
}
