//! Audit events as the API answers them (`GET /api/v1/audit`), and the
//! bounding every event gets before anything stores or logs it.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::keys::KeyId;
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
    /// When it happened.
    #[serde(with = "crate::model::timestamp")]
    pub at: OffsetDateTime,
    /// The request it came from: always the server's own id.
    pub request_id: String,
    /// The request id the client sent, when sane (never trusted as ours).
    #[serde(default)]
    pub client_request_id: Option<String>,
    /// Who: `apikey:<label>`, `anonymous`, or the server's `AuditActor`
    /// (such as `panel:alice`) for changes made from Rust.
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

/// The actor of requests that presented no usable key.
pub const ANONYMOUS_ACTOR: &str = "anonymous";

impl AuditEvent {
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
