//! What the hot path reuses must never answer what is no longer true: a
//! hosting changed on its node (not through the API) is answered changed at
//! once, a tenant never gets the bytes that name the node, and a flood of
//! guessed keys waits while the keys that work do not.

mod support;

use std::sync::Arc;
use std::time::Duration;

use hyperion_core::model::{HostingId, SuspendedBy};
use hyperion_core::sim::{SimClusterSpec, SimNode};
use hyperion_core::{ApiConfig, AuditActor, CapSet, NewKey, Node};
use serde_json::Value;
use support::{Setup, get, json, mint, mint_viewer_of, setup, setup_over};

/// The first hosting of the first node, and that node.
async fn first_hosting(setup: &Setup) -> (HostingId, Arc<SimNode>) {
    let page = get(
        &setup.api,
        "/api/v1/hostings?limit=1",
        &setup.admin,
        "127.0.0.1",
    )
    .await;
    let id: HostingId = json(&page)["items"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for node in &setup.nodes {
        if node
            .find_hosting(&hyperion_core::model::HostingSelector::Id(id.clone()))
            .await
            .unwrap()
            .is_some()
        {
            return (id, Arc::clone(node));
        }
    }
    panic!("no node holds {id}");
}

#[tokio::test]
async fn a_hosting_changed_on_its_node_is_answered_changed_at_once() {
    let setup = setup(ApiConfig::default()).await;
    let (id, node) = first_hosting(&setup).await;
    let path = format!("/api/v1/hostings/{id}");
    // Read twice: the second answer is the rendered one, reused.
    for _ in 0..2 {
        let read = get(&setup.api, &path, &setup.admin, "127.0.0.1").await;
        assert_eq!(json(&read)["state"], "active");
    }
    // The panel suspends it on the node itself, not through the API.
    node.suspend(&id, SuspendedBy::Operator).await.unwrap();
    let read = get(&setup.api, &path, &setup.admin, "127.0.0.1").await;
    assert_eq!(json(&read)["state"], "suspended");
    assert_eq!(json(&read)["suspended_by"], "operator");
}

#[tokio::test]
async fn a_tenant_never_gets_the_node_after_an_operator_read_it() {
    let setup = setup(ApiConfig::default()).await;
    let (id, _) = first_hosting(&setup).await;
    let path = format!("/api/v1/hostings/{id}");
    let tenant = mint_viewer_of(&setup.api, &id).await;
    // The operator's rendering is cached first, then the tenant's, in turn.
    for _ in 0..2 {
        let operator = get(&setup.api, &path, &setup.admin, "127.0.0.1").await;
        assert!(json(&operator)["node_id"].is_string());
        let read = get(&setup.api, &path, &tenant, "127.0.0.1").await;
        assert_eq!(read.status, 200);
        assert!(json(&read)["node_id"].is_null(), "{:?}", read.body);
        assert!(!String::from_utf8_lossy(&read.body).contains("node-"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_guessed_keys_waits_and_working_keys_do_not() {
    let delay = Duration::from_secs(5);
    let setup = setup(ApiConfig {
        refusal_delay: delay,
        ..ApiConfig::default()
    })
    .await;
    let free = ApiConfig::default().refusals_before_delay;
    let guessed = |n: u64| format!("hyp_{:0>43}", n);
    // The paused clock moves only when every task waits: elapsed time is
    // the waits the API imposed, not how fast this machine is.
    let started = tokio::time::Instant::now();
    for n in 0..free {
        let refused = get(&setup.api, "/api/v1/me", &guessed(n), "192.0.2.7").await;
        assert_eq!(refused.status, 401);
    }
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "a few mistakes are answered at once"
    );
    let refused = get(&setup.api, "/api/v1/me", &guessed(free), "192.0.2.7").await;
    assert_eq!(refused.status, 401);
    assert_eq!(json(&refused)["error"]["code"], "unauthorized");
    assert!(
        started.elapsed() >= delay,
        "the refusal past the free ones waited"
    );
    // A working key from the same address, and a mistake from another
    // address, are answered at once.
    let before = tokio::time::Instant::now();
    let me = get(&setup.api, "/api/v1/me", &setup.admin, "192.0.2.7").await;
    assert_eq!(me.status, 200);
    let elsewhere = get(&setup.api, "/api/v1/me", &guessed(0), "198.51.100.1").await;
    assert_eq!(elsewhere.status, 401);
    assert_eq!(before.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_revoked_key_replayed_in_a_flood_waits_too() {
    let setup = setup(ApiConfig {
        refusal_delay: Duration::from_secs(5),
        ..ApiConfig::default()
    })
    .await;
    let stolen = mint(
        &setup.api,
        NewKey::new("stolen", "o".parse().unwrap(), CapSet::all()),
    )
    .await;
    let id = json(&get(&setup.api, "/api/v1/me", &stolen, "192.0.2.7").await)["key"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    setup
        .api
        .revoke_key(&AuditActor::new("test").unwrap(), &id)
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    for _ in 0..=ApiConfig::default().refusals_before_delay {
        assert_eq!(
            get(&setup.api, "/api/v1/me", &stolen, "192.0.2.7")
                .await
                .status,
            401
        );
    }
    assert!(started.elapsed() >= Duration::from_secs(5));
}

async fn page(setup: &Setup, key: &str) -> Value {
    let read = get(&setup.api, "/api/v1/hostings?limit=50", key, "127.0.0.1").await;
    assert_eq!(read.status, 200);
    json(&read)
}

fn state_of(page: &Value, id: &HostingId) -> Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id.as_str())
        .map(|item| item["state"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_page_is_answered_changed_once_a_node_changed_behind_the_api() {
    let setup = setup(ApiConfig::default()).await;
    let (id, node) = first_hosting(&setup).await;
    // Twice: the second is the rendered page, reused.
    for _ in 0..2 {
        assert_eq!(state_of(&page(&setup, &setup.admin).await, &id), "active");
    }
    node.suspend(&id, SuspendedBy::Operator).await.unwrap();
    assert_eq!(
        state_of(&page(&setup, &setup.admin).await, &id),
        "suspended"
    );
    // A hosting added on the node, not through the API, is listed and counted.
    let before = page(&setup, &setup.admin).await["total"].as_u64().unwrap();
    let mut added = SimClusterSpec::default().hosting(0, node.id());
    added.summary.id = "h0000000000000000".parse().unwrap();
    added.summary.domain = "added-behind.example.test".parse().unwrap();
    added.aliases.clear();
    node.insert(added);
    let after = page(&setup, &setup.admin).await;
    assert_eq!(after["total"].as_u64().unwrap(), before + 1);
    assert_eq!(after["items"][0]["id"], "h0000000000000000");
}

#[tokio::test]
async fn a_node_failing_after_a_page_was_rendered_makes_the_next_page_partial() {
    let setup = setup(ApiConfig::default()).await;
    assert_eq!(page(&setup, &setup.admin).await["partial"], false);
    setup.nodes[1].set_fault(hyperion_core::sim::SimFault::Fail);
    let partial = page(&setup, &setup.admin).await;
    assert_eq!(partial["partial"], true);
    assert_eq!(
        partial["unavailable_nodes"],
        serde_json::json!([setup.nodes[1].id().as_str()])
    );
}

#[tokio::test]
async fn a_tenant_never_gets_the_page_rendered_for_an_operator() {
    let setup = setup(ApiConfig::default()).await;
    let (id, _) = first_hosting(&setup).await;
    let tenant = mint_viewer_of(&setup.api, &id).await;
    for _ in 0..2 {
        assert!(page(&setup, &setup.admin).await["total"].as_u64().unwrap() > 1);
        let own = page(&setup, &tenant).await;
        assert_eq!(own["total"], 1);
        assert_eq!(own["items"][0]["id"], id.as_str());
        assert!(own["items"][0]["node_id"].is_null());
    }
}

/// A node that keeps no revision (the trait's default), delegating the rest.
struct Unvouched(Arc<SimNode>, std::sync::atomic::AtomicUsize);

#[async_trait::async_trait]
impl Node for Unvouched {
    fn id(&self) -> &hyperion_core::model::NodeId {
        self.0.id()
    }
    async fn info(&self) -> Result<hyperion_core::model::NodeInfo, hyperion_core::NodeError> {
        self.0.info().await
    }
    async fn list_hostings(
        &self,
        query: &hyperion_core::ListQuery,
    ) -> Result<hyperion_core::NodePage, hyperion_core::NodeError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.list_hostings(query).await
    }
    async fn find_hosting(
        &self,
        selector: &hyperion_core::model::HostingSelector,
    ) -> Result<Option<Arc<hyperion_core::model::HostingDetail>>, hyperion_core::NodeError> {
        self.0.find_hosting(selector).await
    }
    async fn suspend(
        &self,
        id: &HostingId,
        by: SuspendedBy,
    ) -> Result<hyperion_core::model::HostingState, hyperion_core::NodeError> {
        self.0.suspend(id, by).await
    }
    async fn resume(
        &self,
        id: &HostingId,
    ) -> Result<hyperion_core::model::HostingState, hyperion_core::NodeError> {
        self.0.resume(id).await
    }
    async fn delete(
        &self,
        id: &HostingId,
        options: hyperion_core::DeleteOptions,
    ) -> Result<(), hyperion_core::NodeError> {
        self.0.delete(id, options).await
    }
}

#[tokio::test]
async fn a_node_that_keeps_no_revision_is_asked_for_every_page() {
    let sims = SimClusterSpec::default().build();
    let nodes: Vec<Arc<Unvouched>> = sims
        .iter()
        .map(|sim| Arc::new(Unvouched(Arc::clone(sim), Default::default())))
        .collect();
    let serving = nodes
        .iter()
        .map(|n| Arc::clone(n) as Arc<dyn Node>)
        .collect();
    let setup = setup_over(sims, serving, ApiConfig::default()).await;
    for _ in 0..3 {
        page(&setup, &setup.admin).await;
    }
    for node in &nodes {
        assert_eq!(node.1.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
