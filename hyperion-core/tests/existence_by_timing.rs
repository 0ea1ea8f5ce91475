//! A tenant learns nothing from how long a refusal takes: while a node
//! hangs, a name that another customer's hosting answers to is refused no
//! sooner than a name that exists nowhere, whether it is read, changed or
//! granted to a new key.

mod support;

use http::Method;
use hyperion_core::sim::{SimClusterSpec, SimFault};
use hyperion_core::{ApiConfig, Capability, GrantLevel, KeyScope, NewKey};
use serde_json::json;
use std::sync::Arc;

use hyperion_core::Node;
use support::{call, mint, setup_over};

#[tokio::test(start_paused = true)]
async fn a_name_outside_the_grants_is_refused_as_late_as_a_name_nowhere() {
    // Every node call takes a while, as a real node's does: a refusal
    // that asked one node more would take longer.
    let spec = SimClusterSpec {
        latency: std::time::Duration::from_millis(50),
        ..SimClusterSpec::default()
    };
    let nodes = spec.build();
    let serving = nodes
        .iter()
        .map(|n| Arc::clone(n) as Arc<dyn Node>)
        .collect();
    let setup = setup_over(nodes, serving, ApiConfig::default()).await;
    // Hostings are spread round-robin: 0 and 3 are on the first node, which
    // answers; the third node hangs.
    let mut tenant = NewKey::new(
        "tenant",
        "o".parse().unwrap(),
        [
            Capability::HostingView,
            Capability::HostingSuspend,
            Capability::ApiKeysManage,
        ]
        .into_iter()
        .collect(),
    );
    tenant.scope = KeyScope::Grants([(spec.hosting_id(0), GrantLevel::Manage)].into());
    let tenant = mint(&setup.api, tenant).await;
    let foreign = "site-0004.example.test";
    let nowhere = "nowhere-at-all.example.test";
    // The operator has read the other customer's hosting by name, so the
    // API knows its node (the quickest way to a refusal).
    let read = call(
        &setup.api,
        Method::GET,
        &format!("/api/v1/hostings/{foreign}"),
        &setup.admin,
        "127.0.0.1",
        None,
    )
    .await;
    assert_eq!(read.status, 200);
    setup.nodes[2].set_fault(SimFault::Hang);

    let grant = |name: &str| {
        json!({"label": format!("probe {name}"), "caps": ["hosting_view"],
               "scope": {"grants": [{"hosting": name, "level": "view"}]}})
    };
    for (method, path, status) in [
        (Method::GET, "/api/v1/hostings/{}", 404),
        (Method::POST, "/api/v1/hostings/{}/suspend", 404),
        (Method::POST, "/api/v1/keys", 400),
    ] {
        let mut waited = Vec::new();
        for name in [foreign, nowhere] {
            let body = (path == "/api/v1/keys").then(|| grant(name));
            // The clock is paused: it moves only while every task waits, so
            // the time measured is the waits the API chose, nothing else.
            let started = tokio::time::Instant::now();
            let refused = call(
                &setup.api,
                method.clone(),
                &path.replace("{}", name),
                &tenant,
                "127.0.0.1",
                body.as_ref(),
            )
            .await;
            assert_eq!(refused.status, status, "{method} {path} for {name}");
            waited.push(started.elapsed());
        }
        assert_eq!(
            waited[0], waited[1],
            "{method} {path}: another customer's name answered after {:?}, a name nowhere after {:?}",
            waited[0], waited[1]
        );
    }
    // The tenant's own hosting is still answered at once by name.
    let started = tokio::time::Instant::now();
    let own = call(
        &setup.api,
        Method::GET,
        "/api/v1/hostings/site-0001.example.test",
        &tenant,
        "127.0.0.1",
        None,
    )
    .await;
    assert_eq!(own.status, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
}
