//! Audit: every mutation is recorded with who did it (`apikey:<label>`),
//! what, on what, and how it ended. Secrets never enter an event: events are
//! built from ids, labels and outcomes only.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::{KeyId, StoreError};
use crate::model::{OwnerId, wire_enum};

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
    /// When.
    #[serde(with = "crate::model::timestamp")]
    pub at: OffsetDateTime,
    /// The request it came from: always the server's own id.
    pub request_id: String,
    /// The request id the client sent, when sane (never trusted as ours).
    #[serde(default)]
    pub client_request_id: Option<String>,
    /// Who: `apikey:<label>`, or `anonymous`.
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
pub const MAX_AUDIT_TEXT_CHARS: usize = 256;

/// `text` fit for a log line and a store: every control character escaped
/// (`\n`, `\u{1b}`, ...), so no client can start a forged line or send
/// terminal escapes, and at most `max_chars` characters, cut with a marker.
pub fn bounded_text(text: &str, max_chars: usize) -> String {
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
pub struct LogSafe<'a>(pub &'a str);

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

impl AuditEvent {
    /// The event with every client-controlled text escaped and capped (see
    /// [`bounded_text`]): what every sink may write as it is.
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

    /// Whether it records a request that presented no usable key.
    pub fn is_anonymous(&self) -> bool {
        self.key_id.is_none()
    }
}

/// Where audit events go.
#[cfg_attr(feature = "mock", mockall::automock)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
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
        tracing::info!(
            target: "hyperion::audit",
            request_id = %event.request_id,
            client_request_id = event.client_request_id.as_deref(),
            actor = %event.actor,
            key_id = event.key_id.as_ref().map(KeyId::as_str),
            owner = event.owner.as_ref().map(OwnerId::as_str),
            key_prefix = event.key_prefix.as_deref(),
            action = %event.action,
            target_id = %event.target,
            outcome = %event.outcome,
            status = event.status,
            client_ip = event.client_ip.map(|ip| ip.to_string()),
            detail = event.detail.as_deref(),
            count = event.count,
            "audit"
        );
    }
}

/// How many events [`MemoryAuditSink`] keeps unless told otherwise.
pub const DEFAULT_AUDIT_WINDOW: usize = 10_000;

/// Keeps the newest events in memory, up to a bound, and reads them back.
/// Events of unauthenticated requests are kept in a window of their own, so
/// that no flood of them can push out the events of real keys.
#[derive(Debug)]
pub struct MemoryAuditSink {
    events: Mutex<Windows>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Windows {
    authenticated: VecDeque<AuditEvent>,
    anonymous: VecDeque<AuditEvent>,
    next_id: u64,
}

impl Default for MemoryAuditSink {
    fn default() -> Self {
        Self::new(DEFAULT_AUDIT_WINDOW)
    }
}

impl MemoryAuditSink {
    /// A sink that keeps the newest `capacity` events of keys, and apart from
    /// them the newest `capacity` events of unauthenticated requests.
    pub fn new(capacity: usize) -> Self {
        MemoryAuditSink {
            events: Mutex::new(Windows {
                next_id: 1,
                ..Windows::default()
            }),
            capacity: capacity.max(1),
        }
    }

    /// The kept events, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        let windows = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let mut events: Vec<AuditEvent> = windows
            .authenticated
            .iter()
            .chain(&windows.anonymous)
            .cloned()
            .collect();
        events.sort_unstable_by_key(|e| e.id);
        events
    }
}

#[async_trait]
impl AuditLog for MemoryAuditSink {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let windows = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let mut matching: Vec<&AuditEvent> = windows
            .authenticated
            .iter()
            .chain(&windows.anonymous)
            .filter(|e| query.matches(e))
            .collect();
        matching.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
        let total = matching.len() as u64;
        let limit = query.limit.max(1);
        let mut items: Vec<AuditEvent> = matching
            .into_iter()
            .filter(|e| query.before.is_none_or(|before| e.id < before))
            .take(limit + 1)
            .cloned()
            .collect();
        let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.to_string());
        items.truncate(limit);
        Ok(AuditPage {
            items,
            next_cursor,
            total,
        })
    }
}

#[async_trait]
impl AuditSink for MemoryAuditSink {
    async fn record(&self, event: AuditEvent) {
        let mut event = event.bounded();
        let mut windows = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        event.id = windows.next_id;
        windows.next_id += 1;
        let window = if event.is_anonymous() {
            &mut windows.anonymous
        } else {
            &mut windows.authenticated
        };
        if window.len() == self.capacity {
            window.pop_front();
        }
        window.push_back(event);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> AuditEvent {
        AuditEvent {
            id: 0,
            key_prefix: None,
            at: crate::model::now(),
            request_id: format!("r{n}"),
            client_request_id: None,
            actor: "anonymous".into(),
            key_id: None,
            owner: None,
            action: "hosting.suspend".into(),
            target: "h1".into(),
            outcome: AuditOutcome::Ok,
            status: Some(200),
            client_ip: None,
            detail: None,
            count: 1,
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

    #[tokio::test]
    async fn anonymous_events_cannot_push_out_a_keys_events() {
        let sink = MemoryAuditSink::new(3);
        let mut real = event(0);
        real.key_id = crate::keys::KeyId::parse("key_real");
        sink.record(real).await;
        for n in 1..100 {
            sink.record(event(n)).await;
        }
        let kept = sink.events();
        assert_eq!(kept.len(), 4);
        assert_eq!(kept[0].request_id, "r0", "the key's event is still there");
        assert_eq!(kept[3].request_id, "r99");
    }

    #[test]
    fn client_text_is_escaped_and_capped() {
        let forged =
            "x\n2030-01-01T00:00:00Z  INFO hyperion::audit: audit actor=apikey:admin\u{1b}[31m";
        let safe = bounded_text(forged, 256);
        assert!(!safe.chars().any(char::is_control), "{safe}");
        assert!(safe.contains("\\n2030"), "{safe}");
        assert!(safe.contains("\\u{1b}"), "{safe}");
        let long = "a".repeat(60_000);
        let cut = bounded_text(&long, 256);
        assert_eq!(cut.chars().count(), 256 + "…[cut]".chars().count());
        assert!(cut.ends_with("…[cut]"));
        let mut event = event(1);
        event.target = long;
        event.detail = Some("b\rc".to_owned());
        let event = event.bounded();
        assert!(event.target.len() < 300);
        assert_eq!(event.detail.as_deref(), Some("b\\rc"));
        // Plain text passes unchanged.
        assert_eq!(bounded_text("hosting h1 ok", 256), "hosting h1 ok");
    }

    #[tokio::test]
    async fn reads_newest_first_with_a_cursor_and_filters() {
        let sink = MemoryAuditSink::new(100);
        for n in 0..5 {
            let mut e = event(n);
            if n % 2 == 0 {
                e.outcome = AuditOutcome::Denied;
            }
            sink.record(e).await;
        }
        let page = sink
            .query(&AuditQuery {
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        let ids: Vec<u64> = page.items.iter().map(|e| e.id).collect();
        assert_eq!(ids, [5, 4]);
        assert_eq!(page.total, 5);
        assert_eq!(page.next_cursor.as_deref(), Some("4"));
        let next = sink
            .query(&AuditQuery {
                limit: 2,
                before: Some(4),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(next.items.iter().map(|e| e.id).collect::<Vec<_>>(), [3, 2]);
        let denied = sink
            .query(&AuditQuery {
                limit: 10,
                outcome: Some(AuditOutcome::Denied),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(denied.total, 3);
    }
}
