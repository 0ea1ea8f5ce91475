//! Property tests of the authorization rules, through the real request
//! handler on a simulated cluster:
//! - a grants-scoped key never reads or manages a hosting outside its grants,
//!   and never manages one it may only view;
//! - no key minted over the API ever holds a capability, a scope or a grant
//!   level that its minter lacked.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderMap, Method};
use hyperion_core::memory::{MemoryKeyStore, MemoryOwnerDirectory};
use hyperion_core::sim::SimClusterSpec;
use hyperion_core::{
    ApiResponse, CapSet, Capability, Cluster, HyperionApi, NewKey, Node, RequestHead,
};
use hyperion_core::{GrantLevel, KeyScope};
use proptest::prelude::*;
use serde_json::{Value, json};

const HOSTINGS: usize = 12;

const SPEC: SimClusterSpec = SimClusterSpec {
    seed: 3,
    nodes: 3,
    hostings: HOSTINGS,
    latency: std::time::Duration::ZERO,
};

fn caps_from_bits(bits: u32) -> CapSet {
    Capability::ALL
        .into_iter()
        .enumerate()
        .filter(|(bit, _)| bits & (1 << bit) != 0)
        .map(|(_, cap)| cap)
        .collect()
}

fn scope_from(grants: &BTreeMap<usize, bool>) -> KeyScope {
    KeyScope::Grants(
        grants
            .iter()
            .map(|(index, manage)| {
                let level = if *manage {
                    GrantLevel::Manage
                } else {
                    GrantLevel::View
                };
                (SPEC.hosting_id(*index), level)
            })
            .collect(),
    )
}

fn api() -> HyperionApi {
    let nodes = SPEC
        .build()
        .into_iter()
        .map(|n| n as Arc<dyn Node>)
        .collect();
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set("owner".parse().unwrap(), CapSet::all());
    HyperionApi::builder(Cluster::new(nodes), owners)
        .key_store(Arc::new(MemoryKeyStore::new()))
        .build()
}

async fn send(
    api: &HyperionApi,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> ApiResponse {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    let head = RequestHead::new(method, &path.parse().unwrap(), headers, None);
    let body = body
        .map(|b| bytes::Bytes::from(b.to_string()))
        .unwrap_or_default();
    api.handle(head, futures::stream::iter([Ok::<_, std::io::Error>(body)]))
        .await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The hosting endpoints: (method, path suffix, capability, manages).
const ENDPOINTS: [(&str, &str, Capability, bool); 4] = [
    ("GET", "", Capability::HostingView, false),
    ("POST", "/suspend", Capability::HostingSuspend, true),
    ("POST", "/resume", Capability::HostingSuspend, true),
    ("DELETE", "", Capability::HostingDelete, true),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn a_grants_key_never_reaches_outside_its_grants(
        cap_bits in 0u32..(1 << 12),
        grants in prop::collection::btree_map(0..HOSTINGS, any::<bool>(), 0..6),
        requests in prop::collection::vec((0..ENDPOINTS.len() + 1, 0..HOSTINGS + 2, any::<bool>()), 1..12),
    ) {
        let caps = caps_from_bits(cap_bits);
        runtime().block_on(async {
            let api = api();
            let mut new = NewKey::new("prop", "owner".parse().unwrap(), caps);
            new.scope = scope_from(&grants);
            let key = api.mint_key(&hyperion_core::AuditActor::new("test").unwrap(), new).await.unwrap().secret.expose().to_owned();
            for (endpoint, target, by_domain) in requests {
                if endpoint == ENDPOINTS.len() {
                    let reply = send(&api, &key, Method::GET, "/api/v1/hostings?limit=200", None).await;
                    if caps.contains(Capability::HostingView) {
                        let body: Value = serde_json::from_slice(&reply.body).unwrap();
                        let granted: Vec<String> =
                            grants.keys().map(|i| SPEC.hosting_id(*i).to_string()).collect();
                        for item in body["items"].as_array().unwrap() {
                            prop_assert!(granted.contains(&item["id"].as_str().unwrap().to_owned()));
                        }
                        prop_assert!(body["total"].as_u64().unwrap() <= grants.len() as u64);
                    } else {
                        prop_assert_eq!(reply.status.as_u16(), 403);
                    }
                    continue;
                }
                let (method, suffix, cap, manages) = ENDPOINTS[endpoint];
                let selector = match (target < HOSTINGS, by_domain) {
                    (true, false) => SPEC.hosting_id(target).to_string(),
                    (true, true) => format!("site-{:04}.example.test", target + 1),
                    (false, false) => format!("hmissing{target}"),
                    (false, true) => format!("missing{target}.example.test"),
                };
                let path = format!("/api/v1/hostings/{selector}{suffix}");
                let status = send(&api, &key, method.parse().unwrap(), &path, None).await.status.as_u16();
                let grant = grants.get(&target).filter(|_| target < HOSTINGS);
                let allowed = caps.contains(cap) && grant.is_some_and(|manage| *manage || !manages);
                if (200..300).contains(&status) {
                    prop_assert!(allowed, "{} {} answered {} without the right", method, path, status);
                }
                if !caps.contains(cap) {
                    prop_assert_eq!(status, 403, "{} {}", method, path);
                } else if grant.is_none() {
                    prop_assert_eq!(status, 404, "{} {}", method, path);
                } else if grant == Some(&false) && manages {
                    prop_assert_eq!(status, 403, "{} {}", method, path);
                }
            }
            Ok(())
        })?;
    }

    #[test]
    fn no_minted_key_holds_more_than_its_minter(
        minter_bits in 0u32..(1 << 12),
        minter_grants in prop::option::of(prop::collection::btree_map(0..HOSTINGS, any::<bool>(), 0..5)),
        asked_bits in 0u32..(1 << 12),
        asked_grants in prop::option::of(prop::collection::btree_map(0..HOSTINGS + 1, any::<bool>(), 0..5)),
    ) {
        let minter_caps = caps_from_bits(minter_bits);
        let asked_caps = caps_from_bits(asked_bits);
        runtime().block_on(async {
            let api = api();
            let mut new = NewKey::new("minter", "owner".parse().unwrap(), minter_caps);
            new.scope = minter_grants.as_ref().map_or(KeyScope::All, scope_from);
            let minter = api.mint_key(&hyperion_core::AuditActor::new("test").unwrap(), new).await.unwrap().secret.expose().to_owned();
            let scope = match &asked_grants {
                None => json!("all"),
                Some(grants) => json!({"grants": grants.iter().map(|(i, manage)| json!({
                    "hosting": if *i < HOSTINGS { SPEC.hosting_id(*i).to_string() } else { "hmissing".to_owned() },
                    "level": if *manage { "manage" } else { "view" },
                })).collect::<Vec<_>>()}),
            };
            let names: Vec<&str> = asked_caps.iter().map(Capability::as_str).collect();
            let body = json!({"label": "child", "caps": names, "scope": scope});
            let reply = send(&api, &minter, Method::POST, "/api/v1/keys", Some(body)).await;

            let within_scope = match (&minter_grants, &asked_grants) {
                (None, Some(asked)) => asked.keys().all(|i| *i < HOSTINGS),
                (None, None) => true,
                (Some(_), None) => false,
                (Some(own), Some(asked)) => asked.iter().all(|(i, manage)| {
                    own.get(i).is_some_and(|own_manage| *own_manage || !*manage)
                }),
            };
            let may = minter_caps.contains(Capability::ApiKeysManage)
                && asked_caps.is_subset(minter_caps)
                && within_scope;
            prop_assert_eq!(reply.status.as_u16() == 201, may, "{}", String::from_utf8_lossy(&reply.body));
            if reply.status.as_u16() != 201 {
                return Ok(());
            }
            let minted: Value = serde_json::from_slice(&reply.body).unwrap();
            let child = minted["key"].as_str().unwrap();
            let me: Value = serde_json::from_slice(&send(&api, child, Method::GET, "/api/v1/me", None).await.body).unwrap();
            let child_caps: CapSet = serde_json::from_value(me["caps"].clone()).unwrap();
            prop_assert!(child_caps.is_subset(minter_caps));
            let child_scope: KeyScope = serde_json::from_value(me["scope"].clone()).unwrap();
            if let Some(own) = &minter_grants {
                let KeyScope::Grants(child_grants) = child_scope else {
                    return Err(TestCaseError::fail("a grants minter minted scope all"));
                };
                let own = scope_from(own);
                for (hosting, level) in child_grants {
                    prop_assert!(own.level_on(&hosting, None).is_some_and(|own_level| own_level >= level));
                }
            }
            Ok(())
        })?;
    }
}
