//! The adapters' `serve` helpers, in process: a connection whose request
//! head does not arrive in time is closed, and shutdown closes idle and
//! stalled connections at once.

use std::time::Duration;

use hyperion::memory::MemoryOwnerDirectory;
use hyperion::sim::SimClusterSpec;
use hyperion::{Cluster, HyperionApi};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn api() -> HyperionApi {
    let nodes = SimClusterSpec::default().build_nodes();
    HyperionApi::builder(
        Cluster::new(nodes),
        std::sync::Arc::new(MemoryOwnerDirectory::new()),
    )
    .build()
}

/// Starts `adapter`'s helper with `options`; answers its address, the
/// trigger of its shutdown and its task.
async fn start(
    adapter: &str,
    options: hyperion::axum::ServeOptions,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = match adapter {
        "axum" => tokio::spawn(hyperion::axum::serve(
            listener,
            hyperion::axum::router(api()),
            options,
            shutdown,
        )),
        _ => tokio::spawn(hyperion::warp::serve(
            listener,
            hyperion::warp::routes(api()),
            options,
            shutdown,
        )),
    };
    (addr, stop, task)
}

/// Whether the server closed `stream` (within 10 s).
async fn closed(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    matches!(
        tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn a_request_head_that_does_not_arrive_in_time_closes_the_connection() {
    for adapter in ["axum", "warp"] {
        let options = hyperion::axum::ServeOptions {
            header_timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let (addr, _stop, _task) = start(adapter, options).await;
        let mut stalled = TcpStream::connect(&addr).await.unwrap();
        stalled
            .write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        assert!(closed(&mut stalled).await, "{adapter}: still open");
        // A whole request is answered as usual.
        let mut whole = TcpStream::connect(&addr).await.unwrap();
        whole
            .write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), whole.read_to_string(&mut answer)).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{adapter}: {answer}");
    }
}

#[tokio::test]
async fn shutdown_closes_idle_and_stalled_connections_at_once() {
    for adapter in ["axum", "warp"] {
        let (addr, stop, task) = start(adapter, Default::default()).await;
        let mut stalled = TcpStream::connect(&addr).await.unwrap();
        stalled
            .write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut idle = TcpStream::connect(&addr).await.unwrap();
        idle.write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut first = [0u8; 12];
        idle.read_exact(&mut first).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();
        // Default grace is 30 s: returning well before it means nothing waited on them.
        let returned = tokio::time::timeout(Duration::from_secs(10), task).await;
        assert!(
            returned.is_ok(),
            "{adapter}: the server waited on idle connections"
        );
        assert!(closed(&mut stalled).await, "{adapter}: stalled still open");
    }
}
