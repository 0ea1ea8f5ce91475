//! The conformance suite against the axum adapter.

mod conformance;

use std::net::SocketAddr;

use hyperion::HyperionApi;
use tokio::net::TcpListener;

/// What an adapter provides to be tested: serve this API on this listener.
async fn serve(api: HyperionApi, listener: TcpListener) {
    let app = hyperion::axum::router::<()>(api)
        .into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await.expect("axum serves");
}

conformance::conformance_suite!(serve);
