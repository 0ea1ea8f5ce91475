//! Audit: every mutation is recorded with who did it (`apikey:<label>`),
//! what, on what, and how it ended. Secrets never enter an event: events are
//! built from ids, labels and outcomes only.

use std::net::IpAddr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::KeyId;
use crate::model::{InvalidValue, OwnerId, wire_enum};
use crate::store::StoreError;

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
    /// Position in the log, assigned by the log when recorded (newer is larger).
    pub id: u64,
    /// When it happened.
    #[serde(with = "crate::model::timestamp")]
    pub at: OffsetDateTime,
    /// The request it came from: always the server's own id.
    pub request_id: String,
    /// The request id the client sent, when sane (never trusted as ours).
    #[serde(default)]
    pub client_request_id: Option<String>,
    /// Who: `apikey:<label>`, `anonymous`, or an [`AuditActor`] for changes made from Rust.
    pub actor: String,
    /// The key used, if one was: the actor's label is the key's name, this
    /// is its identity.
    pub key_id: Option<KeyId>,
    /// The owner of the key used, if one was.
    #[serde(default)]
    pub owner: Option<OwnerId>,
    /// The display prefix of a presented key that was refused (401), if it parsed.
    pub key_prefix: Option<String>,
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
    /// How many requests this event stands for: 1, or more for refusals of
    /// unauthenticated requests, which are counted per client address and
    /// minute instead of recorded one by one.
    #[serde(default = "one")]
    pub count: u64,
}

fn one() -> u64 {
    1
}

/// Longest kept text of any audit field a client controls (target, detail,
/// request ids, key prefix), in characters.
pub(crate) const MAX_AUDIT_TEXT_CHARS: usize = 256;

/// `text` fit for a log line and a store: every control character escaped
/// (`\n`, `\u{1b}`, ...), so no client can start a forged line or send
/// terminal escapes, and at most `max_chars` characters, cut with a marker.
pub(crate) fn bounded_text(text: &str, max_chars: usize) -> String {
    const MARKER: &str = "…[cut]";
    let mut out = String::with_capacity(text.len().min(max_chars + MARKER.len()));
    let mut kept = 0;
    for c in text.chars() {
        let piece: String = if c.is_control() || c == '\\' {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        let width = piece.chars().count();
        if kept + width > max_chars {
            out.push_str(MARKER);
            return out;
        }
        out.push_str(&piece);
        kept += width;
    }
    out
}

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

/// The actor of requests that presented no usable key.
pub(crate) const ANONYMOUS_ACTOR: &str = "anonymous";

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

impl AuditEvent {
    /// The one way events are built: who, in which request, did what. The
    /// event comes bounded (see [`AuditEvent::bounded`]).
    pub(crate) fn new(who: Requester, request: RequestFacts<'_>, what: Happening<'_>) -> Self {
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
    pub(crate) fn of_integrator(actor: &AuditActor, what: Happening<'_>) -> Self {
        let who = Requester {
            actor: actor.0.clone(),
            key_id: None,
            owner: None,
            key_prefix: None,
        };
        AuditEvent::new(who, RequestFacts::default(), what)
    }

    /// The event with every client-controlled text made fit for a log line:
    /// control characters escaped, each text capped at 256 characters. The
    /// API records only bounded events; what every sink may write as it is.
    pub fn bounded(mut self) -> Self {
        let cap = |text: &mut String| {
            if text.len() > MAX_AUDIT_TEXT_CHARS
                || text.chars().any(|c| c.is_control() || c == '\\')
            {
                *text = bounded_text(text, MAX_AUDIT_TEXT_CHARS);
            }
        };
        cap(&mut self.request_id);
        cap(&mut self.actor);
        cap(&mut self.action);
        cap(&mut self.target);
        for text in [
            &mut self.client_request_id,
            &mut self.key_prefix,
            &mut self.detail,
        ]
        .into_iter()
        .flatten()
        {
            cap(text);
        }
        self
    }

    /// Whether it records a request that presented no usable key (not a
    /// change an integrator made from Rust, which has no key either).
    pub fn is_anonymous(&self) -> bool {
        self.key_id.is_none() && self.actor == ANONYMOUS_ACTOR
    }

    /// Whether it records a request that changed nothing: a refusal, a
    /// request turned away with a 4xx, one turned away as `overloaded`
    /// (503, before anything was done), or one a node failed or did not
    /// answer (502, 504). Such
    /// events are counted per key, action, status and minute rather than
    /// recorded one by one, and the stores keep them apart from the events
    /// that changed something (or failed in the server), so that no client
    /// can push those out by sending what is refused.
    pub fn changed_nothing(&self) -> bool {
        self.outcome == AuditOutcome::Denied
            || (self.outcome == AuditOutcome::Failed
                && self.status.is_some_and(|status| {
                    (400..500).contains(&status) || (502..=504).contains(&status)
                }))
    }
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

/// One page of the audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditEvent>,
    /// Where the next (older) page starts.
    pub next_cursor: Option<String>,
    /// How many events match.
    pub total: u64,
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
