//! What the in-process tests of the API share: an API over simulated
//! nodes with an admin key, keys minted from Rust, and requests handed
//! straight to `HyperionApi::handle`.
#![allow(dead_code)] // each test file uses its own part of it

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};
use hyperion_core::memory::MemoryOwnerDirectory;
use hyperion_core::model::HostingId;
use hyperion_core::sim::{SimClusterSpec, SimNode};
use hyperion_core::{
    ApiConfig, ApiResponse, AuditActor, CapSet, Capability, Cluster, GrantLevel, HyperionApi,
    KeyScope, NewKey, Node, RequestHead,
};
use serde_json::Value;

/// An API over simulated nodes, and its admin key.
pub struct Setup {
    pub api: HyperionApi,
    pub nodes: Vec<Arc<SimNode>>,
    pub admin: String,
}

/// An API over the default simulated cluster.
pub async fn setup(config: ApiConfig) -> Setup {
    let nodes = SimClusterSpec::default().build();
    let serving = nodes
        .iter()
        .map(|n| Arc::clone(n) as Arc<dyn Node>)
        .collect();
    setup_over(nodes, serving, config).await
}

/// An API serving `serving` (the simulated `nodes`, or wrappers of them),
/// with an admin key.
pub async fn setup_over(
    nodes: Vec<Arc<SimNode>>,
    serving: Vec<Arc<dyn Node>>,
    config: ApiConfig,
) -> Setup {
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set("o".parse().unwrap(), CapSet::all());
    let api = HyperionApi::builder(Cluster::new(serving), owners)
        .config(config)
        .build();
    let admin = mint(
        &api,
        NewKey::new("admin", "o".parse().unwrap(), CapSet::all()),
    )
    .await;
    Setup { api, nodes, admin }
}

pub async fn mint(api: &HyperionApi, new: NewKey) -> String {
    api.mint_key(&AuditActor::new("test").unwrap(), new)
        .await
        .unwrap()
        .secret
        .expose()
        .to_owned()
}

/// Sends `GET path` with `key` from the address `from`.
pub async fn get(api: &HyperionApi, path: &str, key: &str, from: &str) -> ApiResponse {
    call(api, Method::GET, path, key, from, None).await
}

/// Sends `method path` with `key` from the address `from`, and `body` as
/// JSON when there is one.
pub async fn call(
    api: &HyperionApi,
    method: Method,
    path: &str,
    key: &str,
    from: &str,
    body: Option<&Value>,
) -> ApiResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {key}").parse().unwrap(),
    );
    let body = body.map_or_else(Bytes::new, |body| Bytes::from(body.to_string()));
    if !body.is_empty() {
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        headers.insert(http::header::CONTENT_LENGTH, body.len().into());
    }
    let peer = (from.parse::<IpAddr>().unwrap(), 40_000).into();
    let head = RequestHead::new(method, &path.parse().unwrap(), headers, Some(peer));
    let body = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
    api.handle(head, body).await
}

/// A tenant key that may view `hosting` alone.
pub async fn mint_viewer_of(api: &HyperionApi, hosting: &HostingId) -> String {
    let mut tenant = NewKey::new(
        "tenant",
        "o".parse().unwrap(),
        [Capability::HostingView].into_iter().collect(),
    );
    tenant.scope = KeyScope::Grants([(hosting.clone(), GrantLevel::View)].into());
    mint(api, tenant).await
}

pub fn json(response: &ApiResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}
