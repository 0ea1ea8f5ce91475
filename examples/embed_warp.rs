//! Embedding: the API composed with an existing warp app's own filters.
//!
//! ```text
//! cargo run --example embed_warp
//! ```

use std::sync::Arc;

use hyperion::memory::MemoryOwnerDirectory;
use hyperion::model::OwnerId;
use hyperion::sim::SimClusterSpec;
use hyperion::{AuditActor, CapSet, Cluster, HyperionApi, NewKey};
use warp::Filter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();

    let nodes = SimClusterSpec::default().build_nodes();
    let owners = Arc::new(MemoryOwnerDirectory::new());
    let owner: OwnerId = "panel-admin".parse().expect("valid owner id");
    owners.set(owner.clone(), CapSet::all());
    let api = HyperionApi::builder(Cluster::new(nodes), owners).build();
    let key = api
        .mint_key(
            &AuditActor::new("panel:setup").expect("a valid actor"),
            NewKey::new("embed-demo", owner, CapSet::all()),
        )
        .await
        .map_err(std::io::Error::other)?;
    println!("admin key (shown once): {}", key.secret.expose());

    // The panel's own routes, then the API; the API only answers under /api/v1.
    let home = warp::path::end().map(|| "welcome to my panel");
    let health = warp::path("health").map(|| "ok");
    let app = home
        .or(health)
        .or(hyperion::warp::routes(api))
        .with(warp::reply::with::header("x-served-by", "my-panel"));

    println!("panel on http://127.0.0.1:8082/ , API under /api/v1");
    warp::serve(app).run(([127, 0, 0, 1], 8082)).await;
    Ok(())
}
