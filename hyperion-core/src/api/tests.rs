//! mockall tests of what reaches a node: a refused request never does; an
//! allowed one does exactly once, with the canonical id.

use std::sync::Arc;

use http::{HeaderMap, Method, StatusCode};
use mockall::predicate::eq;

use crate::HyperionApi;
use crate::capability::{CapSet, Capability};
use crate::cluster::Cluster;
use crate::http::{ApiResponse, RequestHead};
use crate::keys::{GrantLevel, KeyScope, NewKey};
use crate::memory::{MemoryKeyStore, MemoryOwnerDirectory};
use crate::model::{HostingDetail, HostingId, HostingSelector, HostingState, NodeId};
use crate::node::MockNode;
use crate::sim::SimClusterSpec;

const DOMAIN: &str = "site-0001.example.test";

fn sample_hosting(state: HostingState) -> HostingDetail {
    let spec = SimClusterSpec::default();
    let mut hosting = spec.hosting(0, &"node-1".parse().unwrap());
    hosting.summary.state = state;
    hosting
}

fn node_with_id() -> MockNode {
    let mut node = MockNode::new();
    node.expect_id()
        .return_const("node-1".parse::<NodeId>().unwrap());
    node
}

struct Harness {
    api: HyperionApi,
    key: String,
}

async fn harness(node: MockNode, caps: CapSet, scope: KeyScope) -> Harness {
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set("owner".parse().unwrap(), CapSet::all());
    let api = HyperionApi::builder(Cluster::new(vec![Arc::new(node)]))
        .key_store(Arc::new(MemoryKeyStore::new()))
        .owner_directory(owners)
        .build();
    let mut new = NewKey::new("test", "owner".parse().unwrap(), caps);
    new.scope = scope;
    let minted = api.mint_key(new).await.unwrap();
    Harness {
        api,
        key: minted.secret.expose().to_owned(),
    }
}

impl Harness {
    async fn request(&self, method: Method, path: &str) -> ApiResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {}", self.key).parse().unwrap(),
        );
        let head = RequestHead::new(method, &path.parse().unwrap(), headers, None);
        let body = futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
        self.api.handle(head, body).await
    }
}

fn code_of(response: &ApiResponse) -> String {
    let value: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    value["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_key_without_the_capability_never_reaches_the_node() {
    let mut node = node_with_id();
    node.expect_find_hosting().times(0);
    node.expect_suspend().times(0);
    let caps = [Capability::HostingView].into_iter().collect();
    let h = harness(node, caps, KeyScope::All).await;
    let response = h
        .request(Method::POST, &format!("/api/v1/hostings/{DOMAIN}/suspend"))
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(code_of(&response), "forbidden");
}

#[tokio::test]
async fn an_id_outside_the_grants_never_reaches_the_node() {
    let mut node = node_with_id();
    node.expect_find_hosting().times(0);
    node.expect_suspend().times(0);
    let granted: HostingId = "hgranted".parse().unwrap();
    let scope = KeyScope::Grants([(granted, GrantLevel::Manage)].into());
    let h = harness(node, CapSet::all(), scope).await;
    let response = h
        .request(Method::POST, "/api/v1/hostings/hother/suspend")
        .await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_allowed_suspend_by_domain_reaches_the_node_once_with_the_canonical_id() {
    let hosting = sample_hosting(HostingState::Active);
    let id = hosting.summary.id.clone();
    let mut node = node_with_id();
    node.expect_find_hosting()
        .with(eq(HostingSelector::Domain(DOMAIN.parse().unwrap())))
        .times(1)
        .returning(move |_| Ok(Some(hosting.clone())));
    node.expect_suspend()
        .with(eq(id.clone()))
        .times(1)
        .returning(|_| Ok(HostingState::Suspended));
    let h = harness(node, CapSet::all(), KeyScope::All).await;
    let response = h
        .request(Method::POST, &format!("/api/v1/hostings/{DOMAIN}/suspend"))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"id": id.as_str(), "state": "suspended"})
    );
}

#[tokio::test]
async fn suspending_a_suspended_hosting_does_not_call_the_node() {
    let hosting = sample_hosting(HostingState::Suspended);
    let mut node = node_with_id();
    node.expect_find_hosting()
        .returning(move |_| Ok(Some(hosting.clone())));
    node.expect_suspend().times(0);
    let h = harness(node, CapSet::all(), KeyScope::All).await;
    let response = h
        .request(Method::POST, &format!("/api/v1/hostings/{DOMAIN}/suspend"))
        .await;
    assert_eq!(response.status, StatusCode::OK);
}

#[tokio::test]
async fn a_view_grant_is_refused_before_the_node_changes_anything() {
    let hosting = sample_hosting(HostingState::Active);
    let scope = KeyScope::Grants([(hosting.summary.id.clone(), GrantLevel::View)].into());
    let mut node = node_with_id();
    node.expect_find_hosting()
        .returning(move |_| Ok(Some(hosting.clone())));
    node.expect_suspend().times(0);
    node.expect_delete().times(0);
    let h = harness(node, CapSet::all(), scope).await;
    for (method, path) in [
        (Method::POST, format!("/api/v1/hostings/{DOMAIN}/suspend")),
        (Method::DELETE, format!("/api/v1/hostings/{DOMAIN}")),
    ] {
        let response = h.request(method, &path).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
    }
}

#[tokio::test]
async fn a_panicking_node_becomes_an_internal_envelope() {
    let mut node = node_with_id();
    node.expect_find_hosting()
        .returning(|_| panic!("node implementation bug"));
    let h = harness(node, CapSet::all(), KeyScope::All).await;
    let response = h
        .request(Method::GET, &format!("/api/v1/hostings/{DOMAIN}"))
        .await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(code_of(&response), "internal");
    let text = String::from_utf8_lossy(&response.body);
    assert!(!text.contains("implementation bug"), "{text}");
    assert!(response.headers.contains_key("x-request-id"));
}
