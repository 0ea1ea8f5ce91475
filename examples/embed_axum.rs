//! Embedding: the API merged into an existing axum app that has its own
//! routes, its own state and a tower layer around everything.
//!
//! ```text
//! cargo run --example embed_axum
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use hyperion::memory::MemoryOwnerDirectory;
use hyperion::model::OwnerId;
use hyperion::sim::SimClusterSpec;
use hyperion::{AuditActor, CapSet, Cluster, HyperionApi, NewKey};

/// The panel's own state, unrelated to the API.
#[derive(Clone)]
struct PanelState {
    name: &'static str,
}

/// The panel's own page.
async fn home(State(panel): State<PanelState>) -> String {
    format!("welcome to {}", panel.name)
}

/// A layer the panel puts around all of its routes, the API's included.
async fn tag_responses(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert("x-served-by", "my-panel".parse().expect("valid header"));
    response
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();

    // The integrator's side: nodes, owners (their panel's users) and a key.
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

    // The panel's app, with the API merged in beside its own routes.
    let app = Router::new()
        .route("/", get(home))
        .with_state(PanelState { name: "my panel" })
        .merge(hyperion::axum::router(api))
        .layer(middleware::from_fn(tag_responses));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
    println!("panel on http://127.0.0.1:8081/ , API under /api/v1");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
