//! The serve functions the conformance suite proves: each adapter's own
//! `serve` helper, with its deadlines, as `serve` (the main job) uses it,
//! nested under the prefix the suite asks for.

use hyperion::HyperionApi;
use tokio::net::TcpListener;

/// axum, through `hyperion::axum::serve`; nested with `Router::nest`.
#[allow(dead_code)] // not every test crate serves axum
pub async fn axum(api: HyperionApi, listener: TcpListener, prefix: &'static str) {
    let app = if prefix.is_empty() {
        hyperion::axum::router(api)
    } else {
        axum::Router::new().nest(prefix, hyperion::axum::router(api))
    };
    hyperion::axum::serve(
        listener,
        app,
        hyperion::axum::ServeOptions::default(),
        std::future::pending(),
    )
    .await
    .expect("axum serves");
}

/// warp, through `hyperion::warp::serve`; nested behind `warp::path` filters.
#[allow(dead_code)] // not every test crate serves warp
pub async fn warp(api: HyperionApi, listener: TcpListener, prefix: &'static str) {
    use warp::Filter;
    let options = hyperion::warp::ServeOptions::default();
    let routes = hyperion::warp::routes(api);
    let served = if prefix.is_empty() {
        hyperion::warp::serve(listener, routes, options, std::future::pending()).await
    } else {
        let mut mount = warp::any().boxed();
        for segment in prefix.split('/').filter(|segment| !segment.is_empty()) {
            mount = mount.and(warp::path(segment)).boxed();
        }
        hyperion::warp::serve(listener, mount.and(routes), options, std::future::pending()).await
    };
    served.expect("warp serves");
}
