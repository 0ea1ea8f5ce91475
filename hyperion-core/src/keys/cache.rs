//! Key records a store has read, shared (`Arc`) with every request that
//! presents them, so that authenticating a known key costs a hash-map look-up
//! instead of a database round trip and a copy of the record (with its
//! grants). Used by the stores whose records live outside this process's
//! memory: SQLite (one process owns the data directory, so its own writes
//! are every change) and PostgreSQL (every replica hears every change).
//!
//! A read that started before a change must not put back what the change
//! removed: every change bumps a generation, and a read keeps its record
//! only when the generation it started under is still current.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use super::secret::KeyHash;
use super::{ApiKeyRecord, KeyId};

/// Records kept at most; past it the cache starts again empty.
const MAX_ENTRIES: usize = 100_000;

/// The cache. Disabled (`enabled == false`) it keeps and serves nothing.
#[derive(Default)]
pub(crate) struct KeyRecordCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Only while every change is known to reach `forget` is the cache used.
    enabled: bool,
    /// Until when that is known (`None`: for as long as it is enabled):
    /// a store that hears changes over a network vouches for a while at a
    /// time, and past it the cache serves nothing.
    trusted_until: Option<Instant>,
    /// Bumped by every change, so that a read that started before a change
    /// does not put back what the change removed.
    generation: u64,
    by_hash: HashMap<[u8; 32], Arc<ApiKeyRecord>>,
    hash_of: HashMap<KeyId, [u8; 32]>,
}

impl State {
    /// Whether what the cache holds may be served now.
    fn usable(&self) -> bool {
        self.enabled
            && self
                .trusted_until
                .is_none_or(|until| Instant::now() < until)
    }

    fn forget_all(&mut self) {
        self.generation += 1;
        self.by_hash.clear();
        self.hash_of.clear();
    }
}

impl KeyRecordCache {
    /// A cache in use from the start (for a store whose every change goes
    /// through itself).
    #[cfg(any(test, feature = "sqlite"))]
    pub(crate) fn enabled() -> Self {
        let cache = KeyRecordCache::default();
        cache.set_enabled(true);
        cache
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The record with this hash, if kept.
    pub(crate) fn by_hash(&self, hash: &KeyHash) -> Option<Arc<ApiKeyRecord>> {
        let state = self.state();
        if !state.usable() {
            return None;
        }
        state.by_hash.get(hash.as_bytes()).cloned()
    }

    /// The record with this id, if kept.
    pub(crate) fn by_id(&self, id: &KeyId) -> Option<Arc<ApiKeyRecord>> {
        let state = self.state();
        if !state.usable() {
            return None;
        }
        let hash = state.hash_of.get(id)?;
        state.by_hash.get(hash).cloned()
    }

    /// Taken before a read from the store: what `keep` needs to tell
    /// whether a change came in between (`None`: the cache is not in use).
    pub(crate) fn ticket(&self) -> Option<u64> {
        let state = self.state();
        state.usable().then_some(state.generation)
    }

    /// Keeps what a read found, unless a change came since its `ticket`.
    pub(crate) fn keep(&self, ticket: Option<u64>, record: &Arc<ApiKeyRecord>) {
        let mut state = self.state();
        if !state.usable() || ticket != Some(state.generation) {
            return;
        }
        if state.by_hash.len() >= MAX_ENTRIES {
            state.forget_all();
            return;
        }
        let hash = *record.hash.as_bytes();
        state.hash_of.insert(record.id.clone(), hash);
        state.by_hash.insert(hash, Arc::clone(record));
    }

    /// A change of the key with this id (given as text, as a notification
    /// carries it): drops it, and any read under way.
    pub(crate) fn forget(&self, id: &str) {
        let mut state = self.state();
        state.generation += 1;
        let Some(id) = KeyId::parse(id) else {
            state.forget_all();
            return;
        };
        if let Some(hash) = state.hash_of.remove(&id) {
            state.by_hash.remove(&hash);
        }
    }

    /// Drops everything, and any read under way.
    #[cfg(any(test, feature = "postgres"))]
    pub(crate) fn forget_everything(&self) {
        self.state().forget_all();
    }

    /// Turns the cache on or off; either way it starts empty.
    pub(crate) fn set_enabled(&self, enabled: bool) {
        let mut state = self.state();
        state.forget_all();
        state.enabled = enabled;
        state.trusted_until = None;
    }

    /// The store has just proved it hears every change (one made before
    /// the proof was asked for would have arrived first): the cache may
    /// serve until `until`. After a time it could not (never trusted, or
    /// the trust had lapsed, so a change may have been missed), it starts
    /// again empty.
    #[cfg(any(test, feature = "postgres"))]
    pub(crate) fn trust_until(&self, until: Instant) {
        let mut state = self.state();
        if !state.usable() {
            state.forget_all();
            state.enabled = true;
            state.trusted_until = Some(until);
        } else if state.trusted_until.is_some_and(|now| now < until) {
            state.trusted_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CapSet;
    use crate::keys::NewKey;

    fn record(label: &str) -> Arc<ApiKeyRecord> {
        Arc::new(
            NewKey::new(label, "owner".parse().unwrap(), CapSet::all())
                .mint()
                .record,
        )
    }

    #[test]
    fn nothing_is_served_while_disabled() {
        let cache = KeyRecordCache::default();
        let key = record("a");
        cache.keep(cache.ticket(), &key);
        assert!(cache.by_hash(&key.hash).is_none());
        cache.set_enabled(true);
        cache.keep(cache.ticket(), &key);
        assert_eq!(cache.by_id(&key.id).unwrap().id, key.id);
        // Turned off, it forgets everything, and keeps forgetting.
        cache.set_enabled(false);
        assert!(cache.by_hash(&key.hash).is_none());
        cache.keep(cache.ticket(), &key);
        assert!(cache.by_id(&key.id).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_served_once_the_trust_lapses() {
        let trust = std::time::Duration::from_millis(1500);
        let cache = KeyRecordCache::default();
        let key = record("a");
        cache.trust_until(Instant::now() + trust);
        cache.keep(cache.ticket(), &key);
        assert!(cache.by_hash(&key.hash).is_some());
        // Renewed in time, it goes on serving.
        tokio::time::advance(trust / 2).await;
        cache.trust_until(Instant::now() + trust);
        tokio::time::advance(trust - std::time::Duration::from_millis(1)).await;
        assert!(cache.by_id(&key.id).is_some());
        // Not renewed: nothing is served, nothing kept.
        tokio::time::advance(std::time::Duration::from_millis(2)).await;
        assert!(cache.by_hash(&key.hash).is_none());
        assert_eq!(cache.ticket(), None);
        // Trusted again, it starts empty: a change may have been missed.
        cache.trust_until(Instant::now() + trust);
        assert!(cache.by_hash(&key.hash).is_none());
        cache.keep(cache.ticket(), &key);
        assert!(cache.by_hash(&key.hash).is_some());
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = KeyRecordCache::enabled();
        let key = record("a");
        let ticket = cache.ticket();
        // A revocation comes in while the read is on its way back.
        cache.forget(key.id.as_str());
        cache.keep(ticket, &key);
        assert!(cache.by_hash(&key.hash).is_none());
        // A change of another key drops only that one.
        let other = record("b");
        cache.keep(cache.ticket(), &key);
        cache.keep(cache.ticket(), &other);
        cache.forget(other.id.as_str());
        assert!(cache.by_hash(&key.hash).is_some());
        assert!(cache.by_hash(&other.hash).is_none());
        // Forgetting everything drops the rest, and any read under way.
        let ticket = cache.ticket();
        cache.forget_everything();
        assert!(cache.by_hash(&key.hash).is_none());
        cache.keep(ticket, &other);
        assert!(cache.by_hash(&other.hash).is_none());
    }
}
