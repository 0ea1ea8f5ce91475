//! The in-memory audit log: a bounded window of the newest events.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;

use crate::audit::{AuditEvent, AuditLog, AuditPage, AuditQuery, AuditSink};
use crate::keys::KeyId;
use crate::store::StoreError;

/// How many events [`MemoryAuditSink`] keeps unless told otherwise.
pub const DEFAULT_AUDIT_WINDOW: usize = 10_000;

/// Keeps the newest events in memory, up to a bound, and reads them back.
/// The events of requests that changed nothing (refusals, and requests
/// turned away with a 4xx; see [`AuditEvent::changed_nothing`]) are kept in
/// a window of their own, so that no flood of them can push out a real
/// event. In each window, once full, the key holding the most events gives
/// up its oldest: one key's flood pushes out its own events first, never
/// another key's while it holds more.
#[derive(Debug)]
pub struct MemoryAuditSink {
    events: Mutex<Windows>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Windows {
    real: Window,
    refusals: Window,
    next_id: u64,
}

/// A bounded run of events, oldest first, with how many each key (or no
/// key: anonymous requests, the integrator's own changes) holds.
#[derive(Debug, Default)]
struct Window {
    events: VecDeque<AuditEvent>,
    held: HashMap<Option<KeyId>, usize>,
}

impl Window {
    /// Keeps `event`; when `capacity` is reached, the oldest event of the
    /// key holding the most (counting `event`) goes first.
    fn push(&mut self, event: AuditEvent, capacity: usize) {
        *self.held.entry(event.key_id.clone()).or_default() += 1;
        if self.events.len() >= capacity {
            self.evict();
        }
        self.events.push_back(event);
    }

    fn evict(&mut self) {
        let heaviest = self
            .held
            .iter()
            .max_by_key(|(_, count)| **count)
            .map(|(key, _)| key.clone());
        let at = heaviest
            .and_then(|key| self.events.iter().position(|e| e.key_id == key))
            .unwrap_or(0);
        if let Some(gone) = self.events.remove(at) {
            match self.held.get_mut(&gone.key_id) {
                Some(count) if *count > 1 => *count -= 1,
                _ => {
                    self.held.remove(&gone.key_id);
                }
            }
        }
    }
}

impl Default for MemoryAuditSink {
    fn default() -> Self {
        Self::new(DEFAULT_AUDIT_WINDOW)
    }
}

impl MemoryAuditSink {
    /// A sink that keeps the newest `capacity` real events, and apart from
    /// them the newest `capacity` events of requests that changed nothing.
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
            .real
            .events
            .iter()
            .chain(&windows.refusals.events)
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
            .real
            .events
            .iter()
            .chain(&windows.refusals.events)
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
        let window = if event.changed_nothing() {
            &mut windows.refusals
        } else {
            &mut windows.real
        };
        window.push(event, self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditOutcome, bounded_text};

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
    async fn refusals_cannot_push_out_a_real_event() {
        let sink = MemoryAuditSink::new(3);
        let mut real = event(0);
        real.key_id = crate::keys::KeyId::parse("key_real");
        sink.record(real).await;
        for n in 1..100 {
            let mut refused = event(n);
            // Refused anonymously, or with a key: a refusal either way.
            if n % 2 == 0 {
                refused.key_id = crate::keys::KeyId::parse("key_tenant");
            }
            refused.outcome = AuditOutcome::Denied;
            sink.record(refused).await;
        }
        let kept = sink.events();
        assert_eq!(kept.len(), 4);
        assert_eq!(kept[0].request_id, "r0", "the key's event is still there");
        assert_eq!(kept[3].request_id, "r99");
    }

    #[tokio::test]
    async fn one_keys_changes_push_out_its_own_events_first() {
        let sink = MemoryAuditSink::new(10);
        let by = |key: &str, n: u32| {
            let mut e = event(n);
            e.key_id = crate::keys::KeyId::parse(key);
            e
        };
        for n in 0..5 {
            sink.record(by("key_admin", n)).await;
        }
        for n in 5..200 {
            sink.record(by("key_busy", n)).await;
        }
        let kept: Vec<String> = sink.events().into_iter().map(|e| e.request_id).collect();
        assert_eq!(kept[..5], ["r0", "r1", "r2", "r3", "r4"]);
        assert_eq!(kept[5..], ["r195", "r196", "r197", "r198", "r199"]);
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
