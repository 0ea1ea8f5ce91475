//! The panel: its nodes, its owners, the API mounted under `/panel` on
//! plain hyper, and a first admin key.
//!
//! ```text
//! cargo run --manifest-path examples/outside-panel/Cargo.toml
//! ```

use std::sync::Arc;

use hyperion::memory::MemoryOwnerDirectory;
use hyperion::model::OwnerId;
use hyperion::sim::SimClusterSpec;
use hyperion::{AuditActor, CapSet, Cluster, HyperionApi, NewKey, Node};
use outside_panel::adapter;
use outside_panel::node::MapNode;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two servers, each with the hostings the simulated spec describes.
    let spec = SimClusterSpec::default();
    let nodes: Vec<Arc<dyn Node>> = ["web-1", "web-2"]
        .into_iter()
        .enumerate()
        .map(|(n, name)| {
            let id = name.parse().expect("a valid node id");
            let hostings = (n..spec.hostings)
                .step_by(2)
                .map(|index| spec.hosting(index, &id))
                .collect::<Vec<_>>();
            Arc::new(MapNode::new(id, hostings)) as Arc<dyn Node>
        })
        .collect();
    let owners = Arc::new(MemoryOwnerDirectory::new());
    let owner: OwnerId = "panel-admin".parse()?;
    owners.set(owner.clone(), CapSet::all());
    let api = HyperionApi::builder(Cluster::new(nodes), owners).build();
    let actor = AuditActor::new("panel:setup")?;
    let minted = api
        .mint_key(&actor, NewKey::new("first admin", owner, CapSet::all()))
        .await?;
    println!("admin key (shown once): {}", minted.secret.expose());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8084").await?;
    println!("API on http://127.0.0.1:8084/panel/api/v1");
    adapter::serve(api, listener, "/panel", async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
