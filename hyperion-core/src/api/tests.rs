//! mockall tests of what reaches a node: a refused request never does; an
//! allowed one does exactly once, with the canonical id.

use std::sync::Arc;

use http::{HeaderMap, Method, StatusCode};
use mockall::predicate::eq;

use crate::HyperionApi;
use crate::cluster::Cluster;
use crate::http::{ApiResponse, RequestHead};
use crate::keys::{GrantLevel, KeyScope, KeyStore, NewKey};
use crate::memory::{MemoryKeyStore, MemoryOwnerDirectory};
use crate::model::{HostingDetail, HostingId, HostingSelector, HostingState, NodeId, SuspendedBy};
use crate::node::MockNode;
use crate::sim::SimClusterSpec;
use crate::{CapSet, Capability};

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
    let keys = Arc::new(MemoryKeyStore::new());
    let api = HyperionApi::builder(Cluster::new(vec![Arc::new(node)]), owners)
        .key_store(keys.clone())
        .build();
    let mut new = NewKey::new("test", "owner".parse().unwrap(), caps);
    new.scope = scope;
    let key = stored_key(&keys, new).await;
    Harness { api, key }
}

/// The raw key of `new`, stored straight into `keys`: not through
/// `mint_key`, whose checks and audit event would reach the mocks.
async fn stored_key(keys: &MemoryKeyStore, new: NewKey) -> String {
    let minted = new.mint();
    keys.insert(minted.record).await.unwrap();
    minted.secret.expose().to_owned()
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
        .returning(move |_| Ok(Some(Arc::new(hosting.clone()))));
    // A scope-all key suspends as the operator.
    node.expect_suspend()
        .with(eq(id.clone()), eq(SuspendedBy::Operator))
        .times(1)
        .returning(|_, _| Ok(HostingState::Suspended));
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
        .returning(move |_| Ok(Some(Arc::new(hosting.clone()))));
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
        .returning(move |_| Ok(Some(Arc::new(hosting.clone()))));
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

mod provisioning {
    use std::sync::{Arc, Mutex};

    use http::{HeaderMap, Method, StatusCode};

    use super::{DOMAIN, node_with_id, sample_hosting};
    use crate::CapSet;
    use crate::HyperionApi;
    use crate::audit::{AuditEvent, MockAuditSink};
    use crate::cluster::Cluster;
    use crate::http::{ApiResponse, RequestHead};
    use crate::keys::NewKey;
    use crate::memory::{MemoryKeyStore, MemoryOwnerDirectory};
    use crate::model::{ConfigChange, HostingState};
    use crate::node::MockNode;

    const PASSWORD: &str = "correct-horse-battery";

    async fn api_with(node: MockNode, audit: MockAuditSink) -> (HyperionApi, String) {
        let owners = Arc::new(MemoryOwnerDirectory::new());
        owners.set("owner".parse().unwrap(), CapSet::all());
        let keys = Arc::new(MemoryKeyStore::new());
        let api = HyperionApi::builder(Cluster::new(vec![Arc::new(node)]), owners)
            .key_store(keys.clone())
            .audit_sink(Arc::new(audit))
            .build();
        let new = NewKey::new("ops", "owner".parse().unwrap(), CapSet::all());
        (api, super::stored_key(&keys, new).await)
    }

    async fn send(
        api: &HyperionApi,
        key: &str,
        method: Method,
        path: &str,
        body: &str,
    ) -> ApiResponse {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
        let head = RequestHead::new(method, &path.parse().unwrap(), headers, None);
        let chunk = bytes::Bytes::from(body.to_owned());
        api.handle(
            head,
            futures::stream::iter([Ok::<_, std::io::Error>(chunk)]),
        )
        .await
    }

    /// An audit sink that keeps every event it is given.
    fn recording_sink(events: Arc<Mutex<Vec<AuditEvent>>>) -> MockAuditSink {
        let mut audit = MockAuditSink::new();
        audit
            .expect_record()
            .returning(move |event| events.lock().unwrap().push(event));
        audit
    }

    #[tokio::test]
    async fn a_refused_create_never_reaches_a_node() {
        let mut node = node_with_id();
        node.expect_create().times(0);
        node.expect_info().times(0);
        node.expect_find_hosting().times(0);
        let (api, key) = api_with(node, recording_sink(Arc::default())).await;
        for body in [
            r#"{"domain": "bad domain"}"#,
            r#"{"domain": "a.example", "php_version": "4"}"#,
            "{",
        ] {
            let response = send(&api, &key, Method::POST, "/api/v1/hostings", body).await;
            assert_eq!(response.status, StatusCode::BAD_REQUEST, "{body}");
        }
    }

    #[tokio::test]
    async fn a_refused_patch_or_restore_never_changes_the_node() {
        let hosting = sample_hosting(HostingState::Active);
        let mut node = node_with_id();
        node.expect_find_hosting()
            .returning(move |_| Ok(Some(Arc::new(hosting.clone()))));
        node.expect_update_config().times(0);
        node.expect_list_backups().returning(|_| Ok(Vec::new()));
        node.expect_restore().times(0);
        let (api, key) = api_with(node, recording_sink(Arc::default())).await;
        let limits = send(
            &api,
            &key,
            Method::PATCH,
            &format!("/api/v1/hostings/{DOMAIN}/limits"),
            r#"{"memory_mb": 1}"#,
        )
        .await;
        assert_eq!(limits.status, StatusCode::BAD_REQUEST);
        let restore = send(
            &api,
            &key,
            Method::POST,
            &format!("/api/v1/hostings/{DOMAIN}/restore"),
            r#"{"backup_id": "nope"}"#,
        )
        .await;
        assert_eq!(restore.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn passwords_reach_the_node_but_never_the_audit_sink() {
        let hosting = sample_hosting(HostingState::Active);
        let id = hosting.summary.id.clone();
        let mut node = node_with_id();
        let found = hosting.clone();
        node.expect_find_hosting()
            .returning(move |_| Ok(Some(Arc::new(found.clone()))));
        let updated = hosting.clone();
        node.expect_update_config()
            .withf(|_, change| {
                matches!(change, ConfigChange::Vhost(v)
                    if v.basic_auth_password.as_ref().map(|p| p.expose()) == Some(PASSWORD))
            })
            .times(1)
            .returning(move |_, _| Ok(updated.clone()));
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        let done = Mutex::new(Some(done));
        node.expect_install_wordpress()
            .withf(move |hosting, install, _| {
                *hosting == id && install.admin_password.expose() == PASSWORD
            })
            .times(1)
            .returning(move |_, _, _| {
                if let Some(done) = done.lock().unwrap().take() {
                    let _ = done.send(());
                }
                Ok(())
            });
        let events = Arc::new(Mutex::new(Vec::new()));
        let (api, key) = api_with(node, recording_sink(Arc::clone(&events))).await;

        let vhost = format!(r#"{{"basic_auth": {{"user": "staff", "password": "{PASSWORD}"}}}}"#);
        let response = send(
            &api,
            &key,
            Method::PATCH,
            &format!("/api/v1/hostings/{DOMAIN}/vhost"),
            &vhost,
        )
        .await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(!String::from_utf8_lossy(&response.body).contains(PASSWORD));

        let install = format!(
            r#"{{"site_url": "https://{DOMAIN}", "title": "t", "admin_user": "a", "admin_email": "a@{DOMAIN}", "admin_password": "{PASSWORD}"}}"#
        );
        let response = send(
            &api,
            &key,
            Method::POST,
            &format!("/api/v1/hostings/{DOMAIN}/wp/install"),
            &install,
        )
        .await;
        assert_eq!(response.status, StatusCode::ACCEPTED);
        finished.await.unwrap();
        let job: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        let job_path = format!("/api/v1/jobs/{}", job["job_id"].as_str().unwrap());
        // Wait for the job to record its end (and its audit event).
        for _ in 0..1000 {
            let job = send(&api, &key, Method::GET, &job_path, "").await;
            let text = String::from_utf8_lossy(&job.body).into_owned();
            assert!(
                !text.contains(PASSWORD),
                "the job record holds the password"
            );
            if text.contains("succeeded") {
                break;
            }
            tokio::task::yield_now().await;
        }
        for _ in 0..1000 {
            if events.lock().unwrap().len() >= 3 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let events = events.lock().unwrap();
        // The PATCH, the install's acceptance, and the install job's end.
        assert_eq!(events.len(), 3, "{events:?}");
        for event in events.iter() {
            let printed = format!("{event:?} {}", serde_json::to_string(event).unwrap());
            assert!(!printed.contains(PASSWORD), "{printed}");
        }
    }
}

mod location {
    use std::sync::Arc;

    use http::{HeaderMap, Method, StatusCode};

    use super::{DOMAIN, sample_hosting};
    use crate::CapSet;
    use crate::HyperionApi;
    use crate::cluster::Cluster;
    use crate::http::RequestHead;
    use crate::keys::NewKey;
    use crate::memory::{MemoryKeyStore, MemoryOwnerDirectory};
    use crate::model::{HostingState, NodeId};
    use crate::node::MockNode;

    fn node(name: &str) -> MockNode {
        let mut node = MockNode::new();
        node.expect_id()
            .return_const(name.parse::<NodeId>().unwrap());
        node
    }

    #[tokio::test]
    async fn a_known_hosting_costs_one_call_to_its_node() {
        let hosting = sample_hosting(HostingState::Active);
        let mut holder = node("node-1");
        holder
            .expect_find_hosting()
            .times(3)
            .returning(move |_| Ok(Some(Arc::new(hosting.clone()))));
        let mut other = node("node-2");
        // At most once, in the first round; never again once the location is known.
        other
            .expect_find_hosting()
            .times(0..=1)
            .returning(|_| Ok(None));
        let owners = Arc::new(MemoryOwnerDirectory::new());
        owners.set("o".parse().unwrap(), CapSet::all());
        let keys = Arc::new(MemoryKeyStore::new());
        let api = HyperionApi::builder(
            Cluster::new(vec![Arc::new(holder), Arc::new(other)]),
            owners,
        )
        .key_store(keys.clone())
        .build();
        let key =
            super::stored_key(&keys, NewKey::new("k", "o".parse().unwrap(), CapSet::all())).await;
        for _ in 0..3 {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
            let path = format!("/api/v1/hostings/{DOMAIN}");
            let head = RequestHead::new(Method::GET, &path.parse().unwrap(), headers, None);
            let body = futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
            assert_eq!(api.handle(head, body).await.status, StatusCode::OK);
        }
    }
}

#[tokio::test]
async fn a_limited_key_is_refused_when_its_shared_limit_cannot_be_read() {
    use crate::ratelimit::MockRateLimitStore;
    use crate::store::StoreError;
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set("owner".parse().unwrap(), CapSet::all());
    let keys = Arc::new(MemoryKeyStore::new());
    let mut limits = MockRateLimitStore::new();
    limits
        .expect_check_all()
        .returning(|_| Err(StoreError("database down".to_owned())));
    // The node is never asked: no expectation is set on it.
    let api = HyperionApi::builder(Cluster::new(vec![Arc::new(node_with_id())]), owners)
        .key_store(keys.clone())
        .rate_limits(Arc::new(limits))
        .build();
    let mut limited = NewKey::new("limited", "owner".parse().unwrap(), CapSet::all());
    limited.rate_limit_per_min = 60;
    let harness = Harness {
        key: stored_key(&keys, limited).await,
        api,
    };
    let response = harness
        .request(Method::POST, &format!("/api/v1/hostings/{DOMAIN}/suspend"))
        .await;
    assert!(
        response.status.is_server_error(),
        "fails closed: {}",
        response.status
    );
    let body = String::from_utf8_lossy(&response.body);
    assert!(!body.contains("database down"), "{body}");
}

#[tokio::test]
async fn a_create_whose_names_another_replica_holds_is_a_conflict_before_any_node_call() {
    use crate::reservations::MockNameReservations;
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set("owner".parse().unwrap(), CapSet::all());
    let keys = Arc::new(MemoryKeyStore::new());
    let mut names = MockNameReservations::new();
    names
        .expect_reserve()
        .returning(|_, names| Ok(names.iter().position(|n| n.starts_with("domain:"))));
    names.expect_release().never();
    let api = HyperionApi::builder(Cluster::new(vec![Arc::new(node_with_id())]), owners)
        .key_store(keys.clone())
        .name_reservations(Arc::new(names))
        .build();
    let key = stored_key(
        &keys,
        NewKey::new("admin", "owner".parse().unwrap(), CapSet::all()),
    )
    .await;
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        "application/json".parse().unwrap(),
    );
    let head = RequestHead::new(
        Method::POST,
        &"/api/v1/hostings".parse().unwrap(),
        headers,
        None,
    );
    let body = futures::stream::once(async {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(
            br#"{"domain":"held.example.com"}"#,
        ))
    });
    let response = api.handle(head, body).await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    let text = String::from_utf8_lossy(&response.body);
    assert!(text.contains("being created right now"), "{text}");
}
