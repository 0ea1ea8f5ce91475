//! # hyperion-axum
//!
//! Mounts the Hyperion `/api/v1` on axum. This crate only converts: an axum
//! request becomes a [`RequestHead`] plus a body stream, the core answers, and
//! its [`hyperion_core::ApiResponse`] is copied back. Status codes, JSON,
//! keys and limits are all decided in `hyperion-core`.
//!
//! ```no_run
//! # async fn run(api: hyperion_core::HyperionApi) -> std::io::Result<()> {
//! let app = axum::Router::new()
//!     .route("/health", axum::routing::get(|| async { "ok" }))
//!     .merge(hyperion_axum::router(api));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // `into_make_service_with_connect_info` gives the core the client address.
//! axum::serve(
//!     listener,
//!     app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
//! )
//! .await
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::response::Response;
use axum::routing::any;
pub use hyperion_core::server::ServeOptions;
use hyperion_core::server::{Incoming, PeerAddr};
use hyperion_core::{HyperionApi, RequestHead};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// An axum router serving every `/api/v1` route, for any outer state `S`:
/// merge or nest it into your own app, beside your own routes and layers.
/// Nested (`Router::new().nest("/panel", router(api))`), the API answers at
/// `/panel/api/v1`, and its links (`Location`, the OpenAPI server URL)
/// carry `/panel`.
///
/// The peer address comes from [`ConnectInfo`] when the app is served with
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router<S>(api: HyperionApi) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/api/v1", any(answer))
        .route("/api/v1/", any(answer))
        .route("/api/v1/{*rest}", any(answer))
        .with_state(api)
}

async fn answer(State(api): State<HyperionApi>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    // Nested (`.nest("/panel", router(api))`), axum hands over the path
    // without the prefix; the original URI still has it, and every link the
    // API answers must carry it.
    let prefix = parts
        .extensions
        .get::<OriginalUri>()
        .and_then(|OriginalUri(original)| original.path().strip_suffix(parts.uri.path()))
        .unwrap_or_default()
        .to_owned();
    let head = RequestHead::new(parts.method, &parts.uri, parts.headers, peer).with_prefix(prefix);
    api.handle(head, body.into_data_stream())
        .await
        .into_http()
        .map(Body::from)
}

/// Serves `app` (the [`router`], alone or merged into your own app) on
/// `listener` until `shutdown` resolves, with the deadlines of
/// [`hyperion_core::server`]: a request head must arrive within
/// `options.header_timeout`, and shutdown closes idle and stalled
/// connections at once and returns within `options.shutdown_grace`
/// whatever clients do. Every request carries [`ConnectInfo`] with the peer.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let service = app.map_request(|mut request: Request<Incoming>| {
        if let Some(PeerAddr(peer)) = request.extensions().get::<PeerAddr>().copied() {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        request
    });
    hyperion_core::server::serve(listener, service, options, shutdown).await
}
