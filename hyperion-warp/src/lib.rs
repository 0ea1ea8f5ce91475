//! # hyperion-warp
//!
//! Mounts the Hyperion `/api/v1` on warp. This crate only converts: a warp
//! request becomes a [`RequestHead`] plus a body stream, the core answers, and
//! its [`hyperion_core::ApiResponse`] is returned as the reply. Status codes,
//! JSON, keys and limits are all decided in `hyperion-core`.
//!
//! ```no_run
//! use warp::Filter;
//! # async fn run(api: hyperion_core::HyperionApi) {
//! let health = warp::path("health").map(|| "ok");
//! let app = health.or(hyperion_warp::routes(api));
//! warp::serve(app).run(([127, 0, 0, 1], 8080)).await;
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use hyperion_core::server::PeerAddr;
pub use hyperion_core::server::ServeOptions;
use hyperion_core::{HyperionApi, RequestHead};
use tokio::net::TcpListener;
use warp::Filter;
use warp::filters::path::{FullPath, Peek};
use warp::http::{HeaderMap, Method, Response};

/// A filter answering every request under `/api/v1` (any method), and
/// rejecting (so that your other routes get a chance) everything else.
/// Behind a prefix (`warp::path("panel").and(routes(api))`), the API
/// answers at `/panel/api/v1`, and its links (`Location`, the OpenAPI
/// server URL) carry `/panel`.
///
/// The peer address comes from [`warp::addr::remote`] (warp's own server),
/// or from [`serve`].
pub fn routes(
    api: HyperionApi,
) -> impl Filter<Extract = (Response<Bytes>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    // Before `/api/v1` is matched: the whole path, and what is left of it
    // after the filters in front of this one (a prefix such as
    // `warp::path("panel")`), so that links can carry that prefix.
    warp::path::full()
        .and(warp::path::peek())
        .and(warp::path!("api" / "v1" / ..))
        .and(warp::method())
        .and(raw_query)
        .and(warp::header::headers_cloned())
        .and(peer_address())
        .and(warp::body::stream())
        .then(
            move |full: FullPath,
                  rest: Peek,
                  method: Method,
                  query: String,
                  headers: HeaderMap,
                  peer,
                  body| {
                let api = api.clone();
                async move {
                    let (prefix, path) = split_mount(full.as_str(), rest.as_str());
                    let head = RequestHead {
                        method,
                        path,
                        query: (!query.is_empty()).then_some(query),
                        headers,
                        peer,
                        prefix,
                    };
                    api.handle(head, body).await.into_http()
                }
            },
        )
}

/// Splits a request path into the prefix the app mounted the API under and
/// the path from `/api/v1` on; `rest` is what the filters in front left.
fn split_mount(full: &str, rest: &str) -> (String, String) {
    let path = format!("/{rest}");
    let prefix = full.strip_suffix(path.as_str()).unwrap_or_default();
    (prefix.to_owned(), path)
}

/// The peer: warp's own server's, else the one [`serve`] put in the request.
fn peer_address()
-> impl Filter<Extract = (Option<SocketAddr>,), Error = std::convert::Infallible> + Clone {
    warp::addr::remote()
        .and(warp::ext::optional::<PeerAddr>())
        .map(|remote: Option<SocketAddr>, ours: Option<PeerAddr>| {
            remote.or(ours.map(|PeerAddr(peer)| peer))
        })
}

/// Serves `filter` (the [`routes`], alone or combined with your own) on
/// `listener` until `shutdown` resolves, with the deadlines of
/// [`hyperion_core::server`]: a request head must arrive within
/// `options.header_timeout`, and shutdown closes idle and stalled
/// connections at once and returns within `options.shutdown_grace`
/// whatever clients do.
pub async fn serve<F>(
    listener: TcpListener,
    filter: F,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    F: Filter<Error = warp::Rejection> + Clone + Send + Sync + 'static,
    F::Extract: warp::Reply,
    F::Future: Send + 'static,
{
    hyperion_core::server::serve(listener, warp::service(filter), options, shutdown).await
}
