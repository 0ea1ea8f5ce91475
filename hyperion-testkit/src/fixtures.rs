//! Set-ups that tests, benches and fuzz targets all need, in one call each:
//! a simulated cluster, and an API over it with an admin key.

use std::sync::Arc;

use hyperion_core::memory::MemoryOwnerDirectory;
use hyperion_core::model::OwnerId;
use hyperion_core::sim::{SimClusterSpec, SimNode};
use hyperion_core::{AuditActor, CapSet, Cluster, HyperionApi, NewKey, Node};

/// A simulated cluster: the nodes, to steer their faults and latency, and
/// the same nodes as the API takes them.
pub struct SimCluster {
    /// Each simulated node (see [`SimNode::set_fault`]).
    pub nodes: Vec<Arc<SimNode>>,
    /// The same nodes, for [`Cluster::new`] or [`HyperionApi::builder`].
    pub as_dyn: Vec<Arc<dyn Node>>,
}

/// Builds the cluster `spec` describes.
pub fn sim_cluster(spec: SimClusterSpec) -> SimCluster {
    let nodes = spec.build();
    let as_dyn = nodes
        .iter()
        .map(|node| Arc::clone(node) as Arc<dyn Node>)
        .collect();
    SimCluster { nodes, as_dyn }
}

/// An API ready to be called, with the raw key of a full admin.
pub struct ApiWithAdmin {
    /// The API (in-memory stores, default settings).
    pub api: HyperionApi,
    /// A key holding every capability with scope `all`.
    pub admin_key: String,
    /// The owners: `admin` holds every capability; add or change owners to
    /// test what their keys may do.
    pub owners: Arc<MemoryOwnerDirectory>,
}

/// The owner of [`ApiWithAdmin::admin_key`].
pub fn admin_owner() -> OwnerId {
    "admin".parse().expect("a valid owner id")
}

/// An API over `nodes` with in-memory stores and a full admin key, minted
/// as `fixture:admin` in the audit log. Node calls have the default
/// deadline (10 s); [`api_with_admin_on`] takes a cluster of your own.
pub async fn api_with_admin(nodes: Vec<Arc<dyn Node>>) -> ApiWithAdmin {
    api_with_admin_on(Cluster::new(nodes)).await
}

/// [`api_with_admin`] over `cluster`, e.g. one with a short deadline, so
/// that a test of a hanging node does not wait 10 s:
/// `Cluster::new(nodes).with_deadline(Duration::from_millis(200))`.
pub async fn api_with_admin_on(cluster: Cluster) -> ApiWithAdmin {
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set(admin_owner(), CapSet::all());
    let api = HyperionApi::builder(cluster, owners.clone()).build();
    let actor = AuditActor::new("fixture:admin").expect("a valid actor");
    let minted = api
        .mint_key(&actor, NewKey::new("admin", admin_owner(), CapSet::all()))
        .await
        .expect("the admin key is minted");
    ApiWithAdmin {
        api,
        admin_key: minted.secret.expose().to_owned(),
        owners,
    }
}
