//! The one function each adapter provides to be tested: serve this API on
//! this bound listener, until the test ends. Both use the adapters' own
//! `serve` helpers, with their deadlines, as `serve` (the main job) does.

use hyperion::HyperionApi;
use tokio::net::TcpListener;

/// axum, through `hyperion::axum::serve` (the peer reaches the core as `ConnectInfo`).
pub async fn axum(api: HyperionApi, listener: TcpListener) {
    let app = hyperion::axum::router(api);
    hyperion::axum::serve(
        listener,
        app,
        hyperion::axum::ServeOptions::default(),
        std::future::pending(),
    )
    .await
    .expect("axum serves");
}

/// warp, through `hyperion::warp::serve`.
pub async fn warp(api: HyperionApi, listener: TcpListener) {
    hyperion::warp::serve(
        listener,
        hyperion::warp::routes(api),
        hyperion::warp::ServeOptions::default(),
        std::future::pending(),
    )
    .await
    .expect("warp serves");
}
