//! The hyper adapter passes the whole conformance suite, through
//! `hyperion-testkit` alone.

use hyperion::HyperionApi;
use tokio::net::TcpListener;

async fn serve(api: HyperionApi, listener: TcpListener, prefix: &'static str) {
    outside_panel::adapter::serve(api, listener, prefix, std::future::pending())
        .await
        .expect("hyper serves");
}

hyperion_testkit::conformance_suite!(serve);
