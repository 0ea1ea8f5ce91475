//! `FaultyNode` makes any node misbehave on the calls a test chooses, and
//! the API answers each fault as it answers a real one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyperion_core::sim::SimClusterSpec;
use hyperion_core::{Cluster, HyperionApi, Node, RequestHead};
use hyperion_testkit::faults::{Fault, Faults, FaultyNode, NodeCall};
use hyperion_testkit::fixtures::{ApiWithAdmin, api_with_admin, api_with_admin_on};

/// One simulated node behind a fault wrapper, with an API over it.
async fn faulty_api() -> (ApiWithAdmin, Arc<Faults>) {
    let spec = SimClusterSpec {
        nodes: 1,
        ..SimClusterSpec::default()
    };
    let node = FaultyNode::new(spec.build_nodes().remove(0));
    let faults = node.faults();
    (
        api_with_admin(vec![Arc::new(node) as Arc<dyn Node>]).await,
        faults,
    )
}

async fn get(api: &HyperionApi, key: &str, path: &str) -> (u16, serde_json::Value) {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    let uri: http::Uri = path.parse().unwrap();
    let head = RequestHead::new(http::Method::GET, &uri, headers, None);
    let body = futures::stream::empty::<Result<Bytes, std::io::Error>>();
    let answer = api.handle(head, body).await;
    let json = serde_json::from_slice(&answer.body).unwrap_or_default();
    (answer.status.as_u16(), json)
}

#[tokio::test]
async fn each_fault_is_answered_as_the_api_answers_a_real_one() {
    let (fixture, faults) = faulty_api().await;
    let (api, key) = (&fixture.api, fixture.admin_key.as_str());
    let detail = "/api/v1/hostings/site-0001.example.test";
    assert_eq!(get(api, key, detail).await.0, 200, "no fault yet");

    faults.set(NodeCall::FindHosting, Fault::Fail);
    let (status, body) = get(api, key, detail).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "upstream_error");
    // Only the call aimed at: lists still work.
    assert_eq!(get(api, key, "/api/v1/hostings").await.0, 200);

    faults.set(NodeCall::FindHosting, Fault::Panic);
    assert_eq!(get(api, key, detail).await.0, 500);

    faults.clear();
    assert_eq!(get(api, key, detail).await.0, 200, "healed");
    assert!(faults.calls(NodeCall::FindHosting) >= 4);
    assert_eq!(faults.injected(), 2);
}

#[tokio::test]
async fn a_hang_ends_at_the_clusters_deadline() {
    let spec = SimClusterSpec {
        nodes: 1,
        ..SimClusterSpec::default()
    };
    let node = FaultyNode::new(spec.build_nodes().remove(0));
    node.faults().set_all(Fault::Hang);
    let cluster = Cluster::new(vec![Arc::new(node) as Arc<dyn Node>])
        .with_deadline(Duration::from_millis(200));
    let fixture = api_with_admin_on(cluster).await;
    let (status, body) = get(
        &fixture.api,
        &fixture.admin_key,
        "/api/v1/hostings/site-0001.example.test",
    )
    .await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "upstream_timeout");
}

#[tokio::test]
async fn latency_delays_the_call_and_lets_it_through() {
    let (fixture, faults) = faulty_api().await;
    faults.set(
        NodeCall::FindHosting,
        Fault::Latency(Duration::from_millis(50)),
    );
    let (status, _) = get(
        &fixture.api,
        &fixture.admin_key,
        "/api/v1/hostings/site-0001.example.test",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(faults.injected(), 0, "latency stops nothing");
}
