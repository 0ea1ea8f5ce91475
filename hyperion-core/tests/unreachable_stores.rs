//! A request whose key cannot be told because the stores do not answer (a
//! database out of reach, an owner directory that hangs) is turned away
//! with 503 `overloaded` and `Retry-After` once `key_lookup_deadline` has
//! passed: never answered from what the server last knew, never left to
//! hang with its store.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyperion_core::memory::MemoryOwnerDirectory;
use hyperion_core::model::OwnerId;
use hyperion_core::{ApiConfig, CapSet, Cluster, HyperionApi, NewKey, OwnerDirectory, StoreError};
use support::{get, json, mint};

/// The panel's owner directory, which can be made to stop answering.
struct Stalling {
    inner: MemoryOwnerDirectory,
    stalled: AtomicBool,
}

#[async_trait::async_trait]
impl OwnerDirectory for Stalling {
    async fn current_caps(&self, owner: &OwnerId) -> Result<Option<CapSet>, StoreError> {
        if self.stalled.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.inner.current_caps(owner).await
    }
}

#[tokio::test(start_paused = true)]
async fn a_key_that_cannot_be_told_in_time_is_a_503_with_a_wait() {
    let owners = Arc::new(Stalling {
        inner: MemoryOwnerDirectory::new(),
        stalled: AtomicBool::new(false),
    });
    owners.inner.set("o".parse().unwrap(), CapSet::all());
    let deadline = Duration::from_secs(3);
    let api = HyperionApi::builder(
        Cluster::new(hyperion_core::sim::SimClusterSpec::default().build_nodes()),
        Arc::clone(&owners) as Arc<dyn OwnerDirectory>,
    )
    .config(ApiConfig {
        key_lookup_deadline: deadline,
        ..ApiConfig::default()
    })
    .build();
    let key = mint(
        &api,
        NewKey::new("admin", "o".parse().unwrap(), CapSet::all()),
    )
    .await;
    assert_eq!(get(&api, "/api/v1/me", &key, "127.0.0.1").await.status, 200);
    owners.stalled.store(true, Ordering::SeqCst);
    // The clock is paused: the time measured is the wait the API chose.
    let started = tokio::time::Instant::now();
    let refused = get(&api, "/api/v1/me", &key, "127.0.0.1").await;
    assert_eq!(started.elapsed(), deadline);
    assert_eq!(refused.status, 503);
    assert_eq!(json(&refused)["error"]["code"], "overloaded");
    assert_eq!(refused.headers[http::header::RETRY_AFTER], "3");
    owners.stalled.store(false, Ordering::SeqCst);
    assert_eq!(get(&api, "/api/v1/me", &key, "127.0.0.1").await.status, 200);
}
