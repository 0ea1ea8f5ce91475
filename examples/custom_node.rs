//! Implementing [`Node`] for your own backend: here a pretend agent that keeps
//! its sites in a `Mutex<Vec<...>>`. A real one would call the agent running
//! on each server (over HTTP, SSH, a queue...). The core does everything
//! else: keys, authorization, routing, pagination across nodes, jobs, audit.
//!
//! ```text
//! cargo run --example custom_node
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hyperion::memory::MemoryOwnerDirectory;
use hyperion::model::{
    Hosting, HostingDetail, HostingId, HostingKind, HostingSelector, HostingState, Limits, NodeId,
    NodeInfo, NodeStatus, OwnerId, PhpVersion, Quota, SuspendedBy, VhostOptions,
};
use hyperion::{
    AuditActor, CapSet, Cluster, DeleteOptions, HyperionApi, ListQuery, NewKey, Node, NodeError,
    NodePage,
};

/// A pretend backend: one server and the sites it says it runs.
struct PretendBackend {
    id: NodeId,
    sites: Mutex<Vec<HostingDetail>>,
}

impl PretendBackend {
    fn new(id: &str, domains: &[&str]) -> Self {
        let node: NodeId = id.parse().expect("valid node id");
        let sites = domains
            .iter()
            .enumerate()
            .map(|(n, domain)| HostingDetail {
                summary: Hosting {
                    id: format!("{id}-site{n}").parse().expect("valid id"),
                    domain: domain.parse().expect("valid domain"),
                    state: HostingState::Active,
                    php_version: Some(PhpVersion::V8_3),
                    node_id: Some(node.clone()),
                    created_at: hyperion::model::now(),
                    // The panel's customer, plan and labels, as its own
                    // tables say.
                    owner: Some("cust-1".parse().expect("valid owner")),
                    plan: Some("basic".parse().expect("valid plan")),
                    labels: Default::default(),
                },
                kind: HostingKind::Php,
                aliases: Vec::new(),
                system_user: format!("site{n}"),
                root_dir: format!("/srv/{domain}"),
                limits: Limits::default(),
                vhost: VhostOptions::default(),
                quota: Quota::default(),
                database: false,
                proxy_upstream_url: None,
                expires_at: None,
                suspended_by: None,
            })
            .collect();
        PretendBackend::holding(node, sites)
    }

    /// A backend that holds exactly `sites` (what the contract suite seeds).
    fn holding(id: NodeId, sites: Vec<HostingDetail>) -> Self {
        PretendBackend {
            id,
            sites: Mutex::new(sites),
        }
    }

    /// Applies `change` to the site `id`, or answers NotFound.
    fn with_site<T>(
        &self,
        id: &HostingId,
        change: impl FnOnce(&mut HostingDetail) -> T,
    ) -> Result<T, NodeError> {
        let mut sites = self
            .sites
            .lock()
            .map_err(|_| NodeError::Other("poisoned".into()))?;
        let site = sites
            .iter_mut()
            .find(|site| site.summary.id == *id)
            .ok_or(NodeError::NotFound)?;
        Ok(change(site))
    }
}

#[async_trait]
impl Node for PretendBackend {
    fn id(&self) -> &NodeId {
        &self.id
    }

    async fn info(&self) -> Result<NodeInfo, NodeError> {
        let count = self
            .sites
            .lock()
            .map_err(|_| NodeError::Other("poisoned".into()))?
            .len();
        Ok(NodeInfo {
            id: self.id.clone(),
            hostname: format!("{}.internal", self.id),
            status: NodeStatus::Online,
            hostings: count as u64,
            draining: false,
        })
    }

    /// Filter, order by id, cut after the cursor: the contract of `list_hostings`.
    async fn list_hostings(&self, query: &ListQuery) -> Result<NodePage, NodeError> {
        let sites = self
            .sites
            .lock()
            .map_err(|_| NodeError::Other("poisoned".into()))?;
        // The whole list contract (filters, id order, cursor, `limit + 1`,
        // total) in one call.
        Ok(query.page(sites.iter().map(|site| &site.summary)))
    }

    async fn find_hosting(
        &self,
        selector: &HostingSelector,
    ) -> Result<Option<Arc<HostingDetail>>, NodeError> {
        let sites = self
            .sites
            .lock()
            .map_err(|_| NodeError::Other("poisoned".into()))?;
        // A fresh `Arc` per call is fine: the API compares what it gets with
        // what it rendered last. Keeping `Arc`s in `sites` would spare the copy.
        Ok(sites
            .iter()
            .find(|site| match selector {
                HostingSelector::Id(id) => site.summary.id == *id,
                HostingSelector::Domain(domain) => site.answers_to(domain),
            })
            .cloned()
            .map(Arc::new))
    }

    async fn suspend(&self, id: &HostingId, by: SuspendedBy) -> Result<HostingState, NodeError> {
        self.with_site(id, |site| {
            site.summary.state = HostingState::Suspended;
            // Remember whose decision it was: an operator's is not a tenant's to undo.
            if site.suspended_by != Some(SuspendedBy::Operator) {
                site.suspended_by = Some(by);
            }
            site.summary.state
        })
    }

    async fn resume(&self, id: &HostingId) -> Result<HostingState, NodeError> {
        self.with_site(id, |site| {
            site.summary.state = HostingState::Active;
            site.suspended_by = None;
            site.summary.state
        })
    }

    async fn delete(&self, id: &HostingId, _options: DeleteOptions) -> Result<(), NodeError> {
        let mut sites = self
            .sites
            .lock()
            .map_err(|_| NodeError::Other("poisoned".into()))?;
        let before = sites.len();
        sites.retain(|site| site.summary.id != *id);
        if sites.len() == before {
            Err(NodeError::NotFound)
        } else {
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let nodes: Vec<Arc<dyn Node>> = vec![
        Arc::new(PretendBackend::new(
            "web-a",
            &["shop.example.com", "blog.example.com"],
        )),
        Arc::new(PretendBackend::new("web-b", &["docs.example.org"])),
    ];
    let owners = Arc::new(MemoryOwnerDirectory::new());
    let owner: OwnerId = "ops".parse().expect("valid owner id");
    owners.set(owner.clone(), CapSet::all());
    let api = HyperionApi::builder(Cluster::new(nodes), owners).build();
    let key = api
        .mint_key(
            &AuditActor::new("panel:setup").expect("a valid actor"),
            NewKey::new("custom-node-demo", owner, CapSet::all()),
        )
        .await
        .map_err(std::io::Error::other)?;
    println!("admin key (shown once): {}", key.secret.expose());
    println!("try: curl -H 'Authorization: Bearer <key>' http://127.0.0.1:8083/api/v1/hostings");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8083").await?;
    let app = hyperion::axum::router::<()>(api).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await
}

/// The example's node passes the contract the API relies on (run by
/// `cargo test --workspace --all-features`).
#[cfg(test)]
mod contract {
    use super::*;
    use hyperion_testkit::node_contract::NodeSeed;

    async fn pretend_backend(seed: NodeSeed) -> Arc<dyn Node> {
        Arc::new(PretendBackend::holding(seed.node, seed.hostings))
    }

    hyperion_testkit::node_contract_suite!(pretend_backend);
}
