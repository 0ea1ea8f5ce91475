//! The key records a replica read recently, kept only while it hears every
//! key change. Every write that changes a stored key (`add_grant`,
//! `revoke`) announces the key's id with `NOTIFY`; each replica listens on
//! a connection of its own and drops what it heard of. While that
//! connection is down, nothing is served from the cache (it is emptied),
//! so a change can never be missed: at worst a replica asks the database.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::AsyncMessage;

use super::Database;
use crate::keys::KeyRecordCache;

/// The channel key changes are announced on.
pub(super) const CHANNEL: &str = "hyperion_key_changes";

/// Listens for key changes while `cache` lives, reconnecting after a loss.
pub(super) fn spawn_listener(db: Database, cache: Weak<KeyRecordCache>) {
    tokio::spawn(async move {
        loop {
            if cache.strong_count() == 0 {
                return;
            }
            match listen(&db, &cache).await {
                Ok(()) => return,
                Err(err) => {
                    if let Some(cache) = cache.upgrade() {
                        cache.set_enabled(false);
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
async fn listen(db: &Database, cache: &Weak<KeyRecordCache>) -> Result<(), String> {
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
        Some(cache) => cache.set_enabled(true),
        None => {
            driver.abort();
            return Ok(());
        }
    }
    let outcome = loop {
        match notifications.next().await {
            Some(Some(id)) => match cache.upgrade() {
                Some(cache) => cache.forget(&id),
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
pub(super) fn start(db: &Database) -> Arc<KeyRecordCache> {
    let cache = Arc::new(KeyRecordCache::default());
    spawn_listener(db.clone(), Arc::downgrade(&cache));
    cache
}
