//! Refusals, counted apart: a request refused at the door (no usable key,
//! an address or rate limit the key does not pass, a capability it lacks)
//! or inside an endpoint (a hosting outside the key's scope, a view grant
//! used to change a hosting) is not recorded on its own but counted, and
//! each count becomes one audit event when its minute is over (or when the
//! audit log is read). A known key's refusals are counted per key, action
//! and status, wherever they come from, so one key costs the audit log at
//! most one event per action and status it names (a bounded set) a minute;
//! the refusals of requests without a usable key are counted per client
//! address, and past [`MAX_ADDRESSES_PER_MINUTE`] of those, one more event
//! counts all the others.
//!
//! The same counter paces guessing: how many refusals one subject (a known
//! key, or a client address, IPv6 per /64) has had this minute. That count
//! is kept exactly for up to [`MAX_PACED_PER_MINUTE`] subjects, so a flood
//! from many addresses never makes the first refusal of a stranger wait.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use crate::audit::AuditEvent;
use crate::http::client_ip::network_of;
use crate::keys::KeyId;

/// Distinct client addresses whose refusals without a usable key are
/// counted apart within one minute.
pub(crate) const MAX_ADDRESSES_PER_MINUTE: usize = 1000;

/// Distinct subjects (keys, addresses, IPv6 /64s) whose refusals are paced
/// apart within one minute; past it, new subjects share one count.
pub(crate) const MAX_PACED_PER_MINUTE: usize = 100_000;

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
    /// How many of `counts` are [`Slot::Address`] slots.
    address_slots: usize,
    /// Per subject, how many refusals it had: what pacing reads. Kept
    /// until the minute ends, also when the counts are taken early.
    paced: HashMap<Subject, u64>,
}

/// Where a refusal is counted for the audit log: a known key's per key,
/// action and status (from any address: a stolen key used from many places
/// is still one key), apart when the client's address could not be told
/// (so that reason stays searchable); a refusal without a usable key per
/// client address (`None`: unknown, or one too many).
#[derive(Clone, PartialEq, Eq, Hash)]
enum Slot {
    Key {
        key: KeyId,
        action: String,
        status: Option<u16>,
        address_known: bool,
    },
    Address(Option<IpAddr>),
}

impl Slot {
    fn of(event: &AuditEvent) -> Self {
        match &event.key_id {
            Some(key) => Slot::Key {
                key: key.clone(),
                action: event.action.clone(),
                status: event.status,
                address_known: event.client_ip.is_some(),
            },
            None => Slot::Address(event.client_ip),
        }
    }
}

/// Who a refusal is paced against: the known key, or the client's network
/// (an IPv4 address, an IPv6 /64: one host holds a whole /64).
#[derive(Clone, PartialEq, Eq, Hash)]
enum Subject {
    Key(KeyId),
    Network(Option<IpAddr>),
    /// Every subject past [`MAX_PACED_PER_MINUTE`].
    Overflow,
}

impl Subject {
    fn of(event: &AuditEvent) -> Self {
        match &event.key_id {
            Some(key) => Subject::Key(key.clone()),
            None => Subject::Network(event.client_ip.map(network_of)),
        }
    }
}

/// The first refusal of one slot, how many there were, and whether they
/// presented different keys (then no one prefix stands for them all) or
/// came from different addresses.
struct Count {
    first: AuditEvent,
    count: u64,
    mixed_prefixes: bool,
    mixed_clients: bool,
}

fn minute_of(event: &AuditEvent) -> i64 {
    event.at.unix_timestamp().div_euclid(60)
}

impl Minute {
    /// The events of every count, which this minute no longer holds.
    fn take(&mut self) -> Vec<AuditEvent> {
        self.address_slots = 0;
        self.counts
            .drain()
            .map(|(_, count)| summary(count))
            .collect()
    }

    /// Counts one refusal of `subject` for pacing; answers its count.
    fn pace(&mut self, mut subject: Subject) -> u64 {
        if self.paced.len() >= MAX_PACED_PER_MINUTE && !self.paced.contains_key(&subject) {
            subject = Subject::Overflow;
        }
        let count = self.paced.entry(subject).or_default();
        *count += 1;
        *count
    }
}

/// One audit event for the refusals counted in one slot.
fn summary(counted: Count) -> AuditEvent {
    let Count {
        mut first,
        count,
        mixed_prefixes,
        mixed_clients,
    } = counted;
    if mixed_prefixes {
        // The first request's prefix would name a key the others did not
        // present (anyone can send a known prefix with a bogus rest).
        first.key_prefix = None;
    }
    if count > 1 {
        let from = match (mixed_clients, first.client_ip) {
            (false, Some(_)) => "from this address",
            (true, _) => "from many addresses",
            (false, None) => "from clients whose address is unknown",
        };
        let why = match first.status {
            Some(401) => "without a usable key".to_owned(),
            Some(status) => format!("with this key ({status})"),
            None => String::new(),
        };
        let ended = match first.outcome {
            crate::audit::AuditOutcome::Denied => "refused",
            crate::audit::AuditOutcome::Failed => "turned away",
            crate::audit::AuditOutcome::Ok => "answered again without doing anything",
        };
        first.detail = Some(format!(
            "{count} requests {why} {ended} {from} in this minute{}; the first: {}",
            if mixed_prefixes {
                ", presenting different keys"
            } else {
                ""
            },
            first.detail.as_deref().unwrap_or("")
        ));
        if mixed_clients {
            first.client_ip = None;
        }
    }
    first.count = count;
    first
}

/// How many refusals in this minute, this one included, its subject (its
/// key, or its client's address or /64) has had, and its client's network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pace {
    pub(crate) subject: u64,
    pub(crate) network: u64,
}

impl Pace {
    /// Whether this refusal is past the `free` ones and should wait: never
    /// the first refusal of a network never seen this minute.
    pub(crate) fn past(self, free: u64) -> bool {
        self.subject > free && self.network > 1
    }
}

impl RefusalCounter {
    /// Counts one refusal; answers the events of a minute that has ended,
    /// to be recorded now, and its [`Pace`].
    pub(crate) fn count(&self, event: AuditEvent) -> (Vec<AuditEvent>, Pace) {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        let minute = minute_of(&event);
        let finished = if minute != state.minute {
            state.minute = minute;
            state.paced.clear();
            state.take()
        } else {
            Vec::new()
        };
        let network = Subject::Network(event.client_ip.map(network_of));
        let subject = Subject::of(&event);
        let so_far = if subject == network {
            let count = state.pace(subject);
            Pace {
                subject: count,
                network: count,
            }
        } else {
            Pace {
                subject: state.pace(subject),
                network: state.pace(network),
            }
        };
        let mut slot = Slot::of(&event);
        if matches!(slot, Slot::Address(_))
            && state.address_slots >= MAX_ADDRESSES_PER_MINUTE
            && !state.counts.contains_key(&slot)
        {
            slot = Slot::Address(None);
        }
        match state.counts.entry(slot) {
            Entry::Occupied(mut counted) => {
                let counted = counted.get_mut();
                counted.count += 1;
                counted.mixed_prefixes |= counted.first.key_prefix != event.key_prefix;
                counted.mixed_clients |= counted.first.client_ip != event.client_ip;
            }
            Entry::Vacant(slot) => {
                if matches!(slot.key(), Slot::Address(_)) {
                    state.address_slots += 1;
                }
                slot.insert(Count {
                    first: event,
                    count: 1,
                    mixed_prefixes: false,
                    mixed_clients: false,
                });
            }
        }
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
        assert_eq!(so_far.subject, 1, "a new minute counts from one");
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
    fn a_stranger_is_not_paced_for_a_flood_from_many_addresses() {
        let counter = RefusalCounter::default();
        let t = time::macros::datetime!(2026-11-29 10:00:05 UTC);
        // A flood from more addresses than the audit counts apart, each
        // refused past the free refusals.
        for n in 0..(MAX_ADDRESSES_PER_MINUTE + 200) {
            let client = format!("198.18.{}.{}", n / 250, n % 250 + 1);
            for _ in 0..40 {
                counter.count(refusal(t, &client));
            }
        }
        let (_, so_far) = counter.count(refusal(t, "192.0.2.77"));
        assert_eq!(
            so_far.subject, 1,
            "the first refusal of a stranger counts as its first"
        );
        // Reading the audit log early does not reset anyone's pacing.
        let _ = counter.take_all();
        let (_, so_far) = counter.count(refusal(t, "198.18.0.1"));
        assert_eq!(so_far.subject, 41);
    }

    #[test]
    fn a_known_key_from_a_fresh_address_is_not_paced_on_its_first_refusal() {
        let counter = RefusalCounter::default();
        let t = time::macros::datetime!(2026-11-29 10:00:05 UTC);
        let mut revoked = refusal(t, "192.0.2.1");
        revoked.key_id = KeyId::parse("key_revoked");
        let free = 30;
        for n in 0..35u8 {
            revoked.client_ip = Some(IpAddr::from([127, 0, 10, n + 2]));
            let (_, pace) = counter.count(revoked.clone());
            assert!(!pace.past(free), "a first refusal from 127.0.10.{}", n + 2);
        }
        // The same key again from an address it used: past the free ones.
        let (_, pace) = counter.count(revoked.clone());
        assert_eq!(pace.subject, 36);
        assert!(pace.past(free));
    }

    #[test]
    fn an_ipv6_host_is_paced_per_64() {
        let counter = RefusalCounter::default();
        let t = time::macros::datetime!(2026-11-29 10:00:05 UTC);
        for n in 0..50u32 {
            counter.count(refusal(t, &format!("2001:db8:1:2::{:x}", n + 1)));
        }
        let (_, same_64) = counter.count(refusal(t, "2001:db8:1:2:ffff::9"));
        assert_eq!(same_64.subject, 51);
        let (_, next_64) = counter.count(refusal(t, "2001:db8:1:3::1"));
        assert_eq!(next_64.subject, 1);
        let (_, mapped) = counter.count(refusal(t, "::ffff:192.0.2.5"));
        let (_, plain) = counter.count(refusal(t, "192.0.2.5"));
        assert_eq!((mapped.subject, plain.subject), (1, 2));
    }

    #[test]
    fn a_keys_refusals_from_many_addresses_are_one_count() {
        let counter = RefusalCounter::default();
        let t = time::macros::datetime!(2026-11-29 10:00:05 UTC);
        let mut refused = refusal(t, "192.0.2.9");
        refused.key_id = KeyId::parse("key_tenant");
        refused.status = Some(404);
        for n in 0..5000u32 {
            refused.client_ip = Some(IpAddr::from(std::net::Ipv4Addr::from(0xC612_0000 + n)));
            refused.target = format!("h{n}");
            counter.count(refused.clone());
        }
        let events = counter.take_all();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].count, 5000);
        assert_eq!(events[0].client_ip, None);
        assert!(
            events[0]
                .detail
                .as_deref()
                .unwrap()
                .contains("many addresses")
        );
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
