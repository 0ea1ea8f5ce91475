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

use bytes::Bytes;
use hyperion_core::{HyperionApi, RequestHead};
use warp::Filter;
use warp::filters::path::FullPath;
use warp::http::{HeaderMap, Method, Response};

/// A filter answering every request under `/api/v1` (any method), and
/// rejecting (so that your other routes get a chance) everything else.
///
/// The peer address comes from [`warp::addr::remote`].
pub fn routes(
    api: HyperionApi,
) -> impl Filter<Extract = (Response<Bytes>,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::path!("api" / "v1" / ..)
        .and(warp::method())
        .and(warp::path::full())
        .and(raw_query)
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::body::stream())
        .then(
            move |method: Method, path: FullPath, query: String, headers: HeaderMap, peer, body| {
                let api = api.clone();
                async move {
                    let head = RequestHead {
                        method,
                        path: path.as_str().to_owned(),
                        query: (!query.is_empty()).then_some(query),
                        headers,
                        peer,
                    };
                    api.handle(head, body).await.into_http()
                }
            },
        )
}
