//! Refusals at the door, counted apart: a request refused before its key
//! was accepted (401), or with a key refused for its address or its rate
//! limit (403, 429), is not recorded on its own but counted per key, client
//! address and minute (and, for a known key, per action and status), and each count becomes one audit event when its
//! minute is over (or when the audit log is read). So a flood of bogus keys,
//! or of a stolen key from elsewhere, costs the audit log at most one event
//! per key, address and minute, and past [`MAX_ADDRESSES_PER_MINUTE`] of
//! those, one more for all the others.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use crate::audit::AuditEvent;
use crate::keys::KeyId;

/// Distinct client addresses counted apart within one minute.
pub(crate) const MAX_ADDRESSES_PER_MINUTE: usize = 1000;

/// The counts of the current minute.
#[derive(Default)]
pub(crate) struct RefusalCounter {
    state: Mutex<Minute>,
}

#[derive(Default)]
struct Minute {
    /// Unix time / 60 of the events counted.
    minute: i64,
    /// Per slot, the first refusal and how many there were.
    counts: HashMap<Slot, Count>,
}

/// Where a refusal is counted: per key (none for 401s) and client address
/// (`None`: unknown, or one too many) and, for a known key, per action and
/// status, so that the log can still be searched by what was refused (a
/// key's refusals cost at most one event per action it names, a bounded set).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Slot {
    key: Option<KeyId>,
    client: Option<IpAddr>,
    refused: Option<(String, Option<u16>)>,
}

impl Slot {
    fn of(event: &AuditEvent) -> Self {
        Slot {
            key: event.key_id.clone(),
            client: event.client_ip,
            refused: event
                .key_id
                .is_some()
                .then(|| (event.action.clone(), event.status)),
        }
    }

    /// The one slot for every refusal past the bound.
    fn overflow() -> Self {
        Slot {
            key: None,
            client: None,
            refused: None,
        }
    }
}

/// The first refusal of one slot, how many there were, and whether they
/// presented different keys (then no one prefix stands for them all).
struct Count {
    first: AuditEvent,
    count: u64,
    mixed_prefixes: bool,
}

fn minute_of(event: &AuditEvent) -> i64 {
    event.at.unix_timestamp().div_euclid(60)
}

impl Minute {
    /// The events of every count, which this minute no longer holds.
    fn take(&mut self) -> Vec<AuditEvent> {
        self.counts
            .drain()
            .map(|(slot, count)| summary(slot.client, count))
            .collect()
    }
}

/// One audit event for `count` refusals from `client` in one minute.
fn summary(client: Option<IpAddr>, counted: Count) -> AuditEvent {
    let Count {
        mut first,
        count,
        mixed_prefixes,
    } = counted;
    if mixed_prefixes {
        // The first request's prefix would name a key the others did not
        // present (anyone can send a known prefix with a bogus rest).
        first.key_prefix = None;
    }
    if count > 1 {
        let from = match (client, first.client_ip) {
            (Some(_), _) => "from this address",
            (None, Some(_)) => "from many addresses",
            (None, None) => "from clients whose address is unknown",
        };
        let why = match first.status {
            Some(401) => "without a usable key".to_owned(),
            Some(status) => format!("with this key ({status})"),
            None => String::new(),
        };
        first.detail = Some(format!(
            "{count} requests {why} refused {from} in this minute{}; the first: {}",
            if mixed_prefixes {
                ", presenting different keys"
            } else {
                ""
            },
            first.detail.as_deref().unwrap_or("")
        ));
        first.client_ip = client;
    }
    first.count = count;
    first
}

impl RefusalCounter {
    /// Counts one refusal; answers the events of a minute that has ended,
    /// to be recorded now, and how many refusals its slot (its key or
    /// address) has had in this minute, this one included.
    pub(crate) fn count(&self, event: AuditEvent) -> (Vec<AuditEvent>, u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let minute = minute_of(&event);
        let finished = if minute != state.minute {
            state.minute = minute;
            state.take()
        } else {
            Vec::new()
        };
        let full = state.counts.len() >= MAX_ADDRESSES_PER_MINUTE;
        let mut slot = Slot::of(&event);
        if full && !state.counts.contains_key(&slot) {
            slot = Slot::overflow();
        }
        let so_far = match state.counts.entry(slot) {
            Entry::Occupied(mut counted) => {
                let counted = counted.get_mut();
                counted.count += 1;
                counted.mixed_prefixes |= counted.first.key_prefix != event.key_prefix;
                counted.count
            }
            Entry::Vacant(slot) => {
                slot.insert(Count {
                    first: event,
                    count: 1,
                    mixed_prefixes: false,
                });
                1
            }
        };
        (finished, so_far)
    }

    /// Every count so far, as events (the audit log is about to be read,
    /// or the server is stopping).
    pub(crate) fn take_all(&self) -> Vec<AuditEvent> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The counts of minutes that have ended by `now`.
    pub(crate) fn take_finished(&self, now: time::OffsetDateTime) -> Vec<AuditEvent> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.minute < now.unix_timestamp().div_euclid(60) {
            state.take()
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditOutcome;

    fn refusal(at: time::OffsetDateTime, client: &str) -> AuditEvent {
        AuditEvent {
            id: 0,
            at,
            request_id: "req_x".into(),
            client_request_id: None,
            actor: "anonymous".into(),
            key_id: None,
            owner: None,
            key_prefix: None,
            action: "hosting.read".into(),
            target: "h1".into(),
            outcome: AuditOutcome::Denied,
            status: Some(401),
            client_ip: client.parse().ok(),
            detail: Some("unknown API key".into()),
            count: 1,
        }
    }

    #[test]
    fn counts_per_address_and_minute() {
        let counter = RefusalCounter::default();
        let t = time::macros::datetime!(2026-11-29 10:00:05 UTC);
        for _ in 0..500 {
            assert!(counter.count(refusal(t, "192.0.2.1")).0.is_empty());
        }
        assert!(counter.count(refusal(t, "192.0.2.2")).0.is_empty());
        let next_minute = t + time::Duration::minutes(1);
        let (mut finished, so_far) = counter.count(refusal(next_minute, "192.0.2.1"));
        assert_eq!(so_far, 1, "a new minute counts from one");
        finished.sort_by_key(|e| std::cmp::Reverse(e.count));
        assert_eq!(finished.len(), 2);
        assert_eq!(finished[0].count, 500);
        assert!(
            finished[0]
                .detail
                .as_deref()
                .unwrap()
                .starts_with("500 requests")
        );
        assert_eq!(finished[1].count, 1);
        assert_eq!(finished[1].detail.as_deref(), Some("unknown API key"));
        assert!(counter.take_finished(next_minute).is_empty());
        assert_eq!(
            counter
                .take_finished(next_minute + time::Duration::minutes(1))
                .len(),
            1
        );
    }

    #[test]
    fn addresses_past_the_bound_share_one_count() {
        let counter = RefusalCounter::default();
        let t = time::macros::datetime!(2026-11-29 10:00:05 UTC);
        for n in 0..(MAX_ADDRESSES_PER_MINUTE + 500) {
            let client = format!("2001:db8::{:x}", n + 1);
            counter.count(refusal(t, &client));
        }
        let events = counter.take_all();
        assert_eq!(events.len(), MAX_ADDRESSES_PER_MINUTE + 1);
        let many = events.iter().find(|e| e.client_ip.is_none()).unwrap();
        assert_eq!(many.count, 500);
        assert!(many.detail.as_deref().unwrap().contains("many addresses"));
    }

    #[test]
    fn a_keys_refusals_are_counted_apart_from_the_anonymous_ones() {
        let counter = RefusalCounter::default();
        let t = time::macros::datetime!(2026-11-29 10:00:05 UTC);
        let mut stolen = refusal(t, "192.0.2.9");
        stolen.key_id = KeyId::parse("key_stolen");
        stolen.status = Some(403);
        for _ in 0..1000 {
            counter.count(stolen.clone());
            counter.count(refusal(t, "192.0.2.9"));
        }
        let events = counter.take_all();
        assert_eq!(events.len(), 2);
        let keyed = events.iter().find(|e| e.key_id.is_some()).unwrap();
        assert_eq!(keyed.count, 1000);
        assert!(
            keyed
                .detail
                .as_deref()
                .unwrap()
                .contains("with this key (403)")
        );
    }

    #[test]
    fn a_keys_refusals_of_different_actions_stay_searchable_apart() {
        let counter = RefusalCounter::default();
        let t = time::macros::datetime!(2026-11-29 10:00:05 UTC);
        let mut refused = refusal(t, "192.0.2.9");
        refused.key_id = KeyId::parse("key_viewer");
        refused.status = Some(403);
        for action in ["audit.list", "hosting.delete", "audit.list", "key.mint"] {
            refused.action = action.to_owned();
            counter.count(refused.clone());
        }
        let mut events = counter.take_all();
        events.sort_by(|a, b| a.action.cmp(&b.action));
        let seen: Vec<(&str, u64)> = events
            .iter()
            .map(|e| (e.action.as_str(), e.count))
            .collect();
        assert_eq!(
            seen,
            [("audit.list", 2), ("hosting.delete", 1), ("key.mint", 1)]
        );
    }
}
