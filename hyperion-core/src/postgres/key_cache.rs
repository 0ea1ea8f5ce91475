//! The key records a replica read recently, kept only while it hears every
//! key change. Every write that changes a stored key (`add_grant`,
//! `revoke`) announces the key's id with `NOTIFY`; each replica listens on
//! a connection of its own and drops what it heard of. While that
//! connection is down, nothing is served from the cache (it is emptied),
//! so a change can never be missed: at worst a replica asks the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::AsyncMessage;

use super::Database;
use crate::keys::{ApiKeyRecord, KeyHash, KeyId};

/// The channel key changes are announced on.
pub(super) const CHANNEL: &str = "hyperion_key_changes";

/// Records kept at most; past it the cache starts again empty.
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub(super) struct KeyCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Whether the listener hears every change now: only then is the cache used.
    listening: bool,
    /// Bumped by every change heard, so that a read that started before a
    /// change does not put back what the change removed.
    generation: u64,
    by_hash: HashMap<[u8; 32], ApiKeyRecord>,
    hash_of: HashMap<KeyId, [u8; 32]>,
}

impl State {
    fn forget_all(&mut self) {
        self.generation += 1;
        self.by_hash.clear();
        self.hash_of.clear();
    }

    fn forget(&mut self, id: &str) {
        self.generation += 1;
        let Some(id) = KeyId::parse(id) else {
            // Not a key id: whatever changed, start again empty.
            self.forget_all();
            return;
        };
        if let Some(hash) = self.hash_of.remove(&id) {
            self.by_hash.remove(&hash);
        }
    }
}

impl KeyCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached record whose hash is `hash`.
    pub(super) fn by_hash(&self, hash: &KeyHash) -> Option<ApiKeyRecord> {
        let state = self.state();
        state
            .listening
            .then(|| state.by_hash.get(hash.as_bytes()).cloned())
            .flatten()
    }

    /// The cached record with id `id`.
    pub(super) fn by_id(&self, id: &KeyId) -> Option<ApiKeyRecord> {
        let state = self.state();
        if !state.listening {
            return None;
        }
        let hash = state.hash_of.get(id)?;
        state.by_hash.get(hash).cloned()
    }

    /// A ticket for caching what a read is about to return: `None` while
    /// not listening.
    pub(super) fn ticket(&self) -> Option<u64> {
        let state = self.state();
        state.listening.then_some(state.generation)
    }

    /// Keeps `record`, read with `ticket`, unless a change was heard since.
    pub(super) fn keep(&self, ticket: Option<u64>, record: &ApiKeyRecord) {
        let mut state = self.state();
        if !state.listening || ticket != Some(state.generation) {
            return;
        }
        if state.by_hash.len() >= MAX_ENTRIES {
            state.forget_all();
            return;
        }
        let hash = *record.hash.as_bytes();
        state.hash_of.insert(record.id.clone(), hash);
        state.by_hash.insert(hash, record.clone());
    }

    /// Drops key `id` (a change this replica made itself).
    pub(super) fn forget(&self, id: &KeyId) {
        self.state().forget(id.as_str());
    }

    /// Drops every record, and every read under way (a key change is
    /// about to check what it reads).
    pub(super) fn forget_everything(&self) {
        self.state().forget_all();
    }

    fn set_listening(&self, listening: bool) {
        let mut state = self.state();
        // Whatever changed while nobody listened is unknown: start empty.
        state.forget_all();
        state.listening = listening;
    }
}

/// Listens for key changes while `cache` lives, reconnecting after a loss.
pub(super) fn spawn_listener(db: Database, cache: Weak<KeyCache>) {
    tokio::spawn(async move {
        loop {
            if cache.strong_count() == 0 {
                return;
            }
            match listen(&db, &cache).await {
                Ok(()) => return,
                Err(err) => {
                    if let Some(cache) = cache.upgrade() {
                        cache.set_listening(false);
                    }
                    tracing::warn!(error = %err, "lost the key-change listener; keys are read from the database until it is back");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// One listening connection: answers `Ok` when the cache is gone, `Err`
/// when the connection is lost.
async fn listen(db: &Database, cache: &Weak<KeyCache>) -> Result<(), String> {
    let (client, mut connection) = db.dedicated().await.map_err(|e| e.to_string())?;
    let (heard, mut notifications) = futures::channel::mpsc::unbounded();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    if heard
                        .unbounded_send(Some(note.payload().to_owned()))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = heard.unbounded_send(None);
    });
    let listening = client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(|e| e.to_string());
    if let Err(err) = listening {
        driver.abort();
        return Err(err);
    }
    match cache.upgrade() {
        Some(cache) => cache.set_listening(true),
        None => {
            driver.abort();
            return Ok(());
        }
    }
    let outcome = loop {
        match notifications.next().await {
            Some(Some(id)) => match cache.upgrade() {
                Some(cache) => cache.state().forget(&id),
                None => break Ok(()),
            },
            _ => break Err("the listening connection closed".to_owned()),
        }
    };
    driver.abort();
    drop(client);
    outcome
}

/// The cache of one store, with its listener started.
pub(super) fn start(db: &Database) -> Arc<KeyCache> {
    let cache = Arc::new(KeyCache::default());
    spawn_listener(db.clone(), Arc::downgrade(&cache));
    cache
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::CapSet;
    use crate::keys::NewKey;

    fn record(label: &str) -> ApiKeyRecord {
        NewKey::new(label, "owner".parse().unwrap(), CapSet::all())
            .mint()
            .record
    }

    #[test]
    fn nothing_is_served_unless_every_change_is_heard() {
        let cache = KeyCache::default();
        let key = record("a");
        // Not listening: nothing is kept, nothing is served.
        cache.keep(cache.ticket(), &key);
        assert!(cache.by_hash(&key.hash).is_none());
        cache.set_listening(true);
        cache.keep(cache.ticket(), &key);
        assert_eq!(cache.by_id(&key.id).unwrap().id, key.id);
        // Losing the listener forgets everything, and keeps forgetting.
        cache.set_listening(false);
        assert!(cache.by_hash(&key.hash).is_none());
        cache.keep(cache.ticket(), &key);
        assert!(cache.by_id(&key.id).is_none());
    }

    #[test]
    fn a_read_that_raced_a_change_is_not_kept() {
        let cache = KeyCache::default();
        cache.set_listening(true);
        let key = record("a");
        let ticket = cache.ticket();
        // A revocation is heard while the read is on its way back.
        cache.state().forget(key.id.as_str());
        cache.keep(ticket, &key);
        assert!(cache.by_hash(&key.hash).is_none());
        // A change of another key drops only that one.
        let other = record("b");
        cache.keep(cache.ticket(), &key);
        cache.keep(cache.ticket(), &other);
        cache.forget(&other.id);
        assert!(cache.by_hash(&key.hash).is_some());
        assert!(cache.by_hash(&other.hash).is_none());
        // A key change starting drops the rest, and any read under way.
        let ticket = cache.ticket();
        cache.forget_everything();
        assert!(cache.by_hash(&key.hash).is_none());
        cache.keep(ticket, &other);
        assert!(cache.by_hash(&other.hash).is_none());
    }
}
