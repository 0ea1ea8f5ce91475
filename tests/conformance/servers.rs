//! The one function each adapter provides to be tested: serve this API on
//! this bound listener, until the test ends.

use std::net::SocketAddr;

use hyperion::HyperionApi;
use tokio::net::TcpListener;

/// axum, with `ConnectInfo` so the core sees the peer address.
pub async fn axum(api: HyperionApi, listener: TcpListener) {
    let app = hyperion::axum::router::<()>(api).into_make_service_with_connect_info::<SocketAddr>();
    ::axum::serve(listener, app).await.expect("axum serves");
}

/// warp.
pub async fn warp(api: HyperionApi, listener: TcpListener) {
    ::warp::serve(hyperion::warp::routes(api))
        .incoming(listener)
        .run()
        .await;
}
