//! An adapter for plain hyper 1.x, written against the kit's public API
//! alone. Like every adapter it only converts: a hyper request becomes a
//! `RequestHead` plus a body stream, `HyperionApi::handle` answers, and the
//! answer is copied back.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyperion::{HyperionApi, RequestHead};
use tokio::net::TcpListener;

/// How long a request head may take to arrive.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Answers one request. `prefix` is where the app mounts `/api/v1` (empty
/// at the root): a path under it reaches the API without it, and the API's
/// links carry it; any other path reaches the API whole, which answers its
/// JSON 404.
pub async fn answer(
    api: HyperionApi,
    request: Request<Incoming>,
    peer: SocketAddr,
    prefix: &str,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let mut head = RequestHead::new(parts.method, &parts.uri, parts.headers, Some(peer));
    let under_prefix = head
        .path
        .strip_prefix(prefix)
        .filter(|rest| !prefix.is_empty() && rest.starts_with('/'))
        .map(str::to_owned);
    if let Some(rest) = under_prefix {
        head.path = rest;
        head.prefix = prefix.to_owned();
    }
    // The body as the core takes it: a stream of data chunks.
    let body = body.into_data_stream();
    api.handle(head, body).await.into_http().map(Full::new)
}

/// Serves `api` on `listener` under `prefix` until `shutdown` resolves:
/// one task per connection, a deadline on request heads.
pub async fn serve(
    api: HyperionApi,
    listener: TcpListener,
    prefix: &'static str,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let api = api.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(answer(api, request, peer, prefix).await) }
            });
            // A client that stalls or hangs up ends its own connection only.
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
