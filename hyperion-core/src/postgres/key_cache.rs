//! The key records a replica read recently, kept only while it can prove
//! it hears every key change. Every write that changes a stored key
//! (`add_grant`, `revoke`) announces the key's id with `NOTIFY`; each
//! replica listens on a connection of its own and drops what it heard of.
//!
//! Hearing nothing proves nothing: a link that silently stops carrying
//! packets (a partition, lost NAT state) reports no error. So the listener
//! also sends itself a heartbeat every [`HEARTBEAT_EVERY`] on a channel of
//! its own; PostgreSQL delivers notifications in commit order, so the echo
//! of a heartbeat proves that every change committed before it was sent has
//! been heard. The cache serves for [`TRUST_FOR`] after the sending of the
//! last heartbeat echoed, and not a moment longer: a replica cut off from
//! the database stops answering from its cache within that bound, and
//! starts again empty when it hears again.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;
use tokio_postgres::AsyncMessage;

use super::Database;
use crate::keys::KeyRecordCache;

/// The channel key changes are announced on.
pub(super) const CHANNEL: &str = "hyperion_key_changes";

/// How often the listener proves it still hears the database.
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_millis(500);

/// How long after a heartbeat was sent its echo lets the cache serve.
pub(crate) const TRUST_FOR: Duration = Duration::from_millis(1500);

/// Without an echo for this long, the connection is given up and opened
/// anew (a stalled link may never report an error of its own).
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

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
                    db.link_lost();
                    tracing::warn!(error = %err, "lost the key-change listener; keys are read from the database until it is back");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// What the connection's driver hands over: a notification's channel and
/// payload, or `None` once the connection is gone.
type Heard = Option<(String, String)>;

/// One listening connection: answers `Ok` when the cache is gone, `Err`
/// when the connection is lost or stops answering.
async fn listen(db: &Database, cache: &Weak<KeyRecordCache>) -> Result<(), String> {
    let connecting = tokio::time::timeout(GIVE_UP_AFTER, db.dedicated());
    let (client, mut connection) = connecting
        .await
        .map_err(|_| "connecting took too long".to_owned())?
        .map_err(|e| e.to_string())?;
    let (heard, mut notifications) = futures::channel::mpsc::unbounded::<Heard>();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    let note = (note.channel().to_owned(), note.payload().to_owned());
                    if heard.unbounded_send(Some(note)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = heard.unbounded_send(None);
    });
    let client = Arc::new(client);
    let outcome = hear(&client, &mut notifications, cache).await;
    driver.abort();
    outcome
}

/// Listens on `client`, sends the heartbeats and renews the cache's trust
/// with their echoes.
async fn hear(
    client: &Arc<tokio_postgres::Client>,
    notifications: &mut futures::channel::mpsc::UnboundedReceiver<Heard>,
    cache: &Weak<KeyRecordCache>,
) -> Result<(), String> {
    // Heard by this listener alone: other replicas are spared its beats.
    let beats = format!("hyperion_alive_{}", crate::random::hex(8));
    let listen = format!("LISTEN {CHANNEL}; LISTEN {beats}");
    tokio::time::timeout(GIVE_UP_AFTER, client.batch_execute(&listen))
        .await
        .map_err(|_| "LISTEN took too long".to_owned())?
        .map_err(|e| e.to_string())?;
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut next_beat = 0u64;
    let mut last_echo = Instant::now();
    let mut ticker = tokio::time::interval(HEARTBEAT_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if cache.strong_count() == 0 {
                    return Ok(());
                }
                if last_echo.elapsed() > GIVE_UP_AFTER {
                    return Err(format!("no heartbeat came back for {GIVE_UP_AFTER:?}"));
                }
                // A beat is sent only when the previous ones came back or
                // lapsed, so a stalled link holds a bounded few.
                sent.retain(|_, at| at.elapsed() < GIVE_UP_AFTER);
                if sent.len() < 4 {
                    sent.insert(next_beat, Instant::now());
                    let beat = format!("NOTIFY {beats}, '{next_beat}'");
                    next_beat += 1;
                    let client = Arc::clone(client);
                    tokio::spawn(async move {
                        let _ = client.batch_execute(&beat).await;
                    });
                }
            }
            note = notifications.next() => {
                let Some(Some((channel, payload))) = note else {
                    return Err("the listening connection closed".to_owned());
                };
                let Some(cache) = cache.upgrade() else {
                    return Ok(());
                };
                if channel == beats {
                    let echoed = payload.parse().ok().and_then(|beat| sent.remove(&beat));
                    if let Some(at) = echoed {
                        last_echo = Instant::now();
                        cache.trust_until(at + TRUST_FOR);
                    }
                } else {
                    cache.forget(&payload);
                }
            }
        }
    }
}

/// The cache of one store, with its listener started.
pub(super) fn start(db: &Database) -> Arc<KeyRecordCache> {
    let cache = Arc::new(KeyRecordCache::default());
    spawn_listener(db.clone(), Arc::downgrade(&cache));
    cache
}
