//! A ready HTTP/1.1 server with the deadlines a public API needs (feature
//! `server`): the adapters' `serve` helpers run an axum router or a warp
//! filter on it. Framework-neutral: it serves any tower service of hyper
//! requests.
//!
//! - A request head must arrive within [`ServeOptions::header_timeout`],
//!   or the connection is closed (an idle keep-alive connection too).
//! - Bodies have their own deadline in the core (`ApiConfig::body_deadline`).
//! - On shutdown it stops accepting, closes at once every connection with
//!   no request being answered (idle, or stalled in its head), lets the
//!   requests being answered finish, and after
//!   [`ServeOptions::shutdown_grace`] closes whatever is left: it returns
//!   within the grace period whatever clients do.
//!
//! Integrators who run their own server must set the same: a header read
//! timeout (hyper's `http1::Builder::header_read_timeout` with a timer), a
//! bound on graceful shutdown, and the peer address in each request.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// The body of a request as the server receives it.
pub use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How long a request head may take to arrive unless configured otherwise.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long shutdown waits for requests being answered unless configured otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The deadlines of [`serve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// A connection whose request head has not arrived within this is closed.
    pub header_timeout: Duration,
    /// After shutdown begins, requests being answered get this long to finish.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// What [`serve`] runs: a tower service of hyper requests that answers
/// without failing (an axum `Router`, `warp::service(filter)`, ...).
pub trait HttpService<B>:
    tower_service::Service<
        http::Request<Incoming>,
        Response = http::Response<B>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S, B> HttpService<B> for S where
    S: tower_service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// A response body [`serve`] can send.
pub trait ResponseBody:
    http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send + 'static
{
}

impl<B> ResponseBody for B where
    B: http_body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static
{
}

/// The socket peer of a connection: [`serve`] puts it in every request's
/// extensions, where the adapters read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Serves `service` on `listener` until `shutdown` resolves, then shuts
/// down within [`ServeOptions::shutdown_grace`] (see the module docs).
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: HttpService<B>,
    B: ResponseBody,
{
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection = serve_connection(stream, peer, service.clone(), options, stopping.clone());
                    connections.spawn(connection);
                }
                // Out of descriptors or a connection reset while queued: go on.
                Err(err) => {
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(options.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "closing connections still open after the shutdown grace period"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
    Ok(())
}

/// One connection: HTTP/1.1 with the header deadline, until it ends or the
/// server stops (then at once if no request is being answered).
async fn serve_connection<S, B>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    service: S,
    options: ServeOptions,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) where
    S: HttpService<B>,
    B: ResponseBody,
{
    let answering = Arc::new(AtomicUsize::new(0));
    let service = WithPeer {
        inner: service,
        peer,
        answering: Arc::clone(&answering),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut connection = pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        }
        () = async {
            // The guard it answers must not live across an await.
            let _ = stopping.wait_for(|stop| *stop).await.map(|_| ());
        } => {
            if answering.load(Ordering::SeqCst) == 0 {
                // Idle, or stalled before its request: nothing to finish.
                return;
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Puts the peer address in each request and counts the requests being answered.
#[derive(Clone)]
struct WithPeer<S> {
    inner: S,
    peer: SocketAddr,
    answering: Arc<AtomicUsize>,
}

/// Counts one request being answered while it lives.
struct Answering(Arc<AtomicUsize>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<S, B> tower_service::Service<http::Request<Incoming>> for WithPeer<S>
where
    S: tower_service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        >,
    S::Future: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<B>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(PeerAddr(self.peer));
        self.answering.fetch_add(1, Ordering::SeqCst);
        let counted = Answering(Arc::clone(&self.answering));
        let answer = self.inner.call(request);
        Box::pin(async move {
            let _counted = counted;
            answer.await
        })
    }
}
