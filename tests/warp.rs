//! The conformance suite against the warp adapter.

mod conformance;

use hyperion::HyperionApi;
use tokio::net::TcpListener;

/// What an adapter provides to be tested: serve this API on this listener.
async fn serve(api: HyperionApi, listener: TcpListener) {
    warp::serve(hyperion::warp::routes(api))
        .incoming(listener)
        .run()
        .await;
}

conformance::conformance_suite!(serve);
