//! The yardstick of the load comparisons (`benches/load_compare.py`,
//! `benches/hot_path.py`): a bare axum handler or warp filter that answers
//! `GET /api/v1/hostings/{id}` with fixed JSON bytes, and `GET
//! /api/v1/hostings` with another fixed page when given one, and does
//! nothing else (no key, no authorization, no node call, no rendering). What
//! `serve` costs above this is Hyperion's overhead.
//!
//! ```text
//! cargo run --release -p hyperion-serve --example bare_hosting -- --framework warp --body detail.json
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::extract::Path;
use clap::{Parser, ValueEnum};
use tokio::net::TcpListener;
use warp::Filter;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Framework {
    Axum,
    Warp,
}

/// Serve fixed JSON bytes at GET /api/v1/hostings/{id}.
#[derive(Parser, Debug)]
#[command(about)]
struct Args {
    /// Web framework to serve with.
    #[arg(long, value_enum, default_value_t = Framework::Axum)]
    framework: Framework,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    addr: SocketAddr,
    /// File holding the JSON body to answer with.
    #[arg(long)]
    body: PathBuf,
    /// File holding the JSON page to answer `GET /api/v1/hostings` with
    /// (whatever the query); without it that path is not served.
    #[arg(long)]
    list_body: Option<PathBuf>,
    /// Spin this many microseconds per request before answering: a known
    /// per-request cost, to calibrate what a microsecond of handler work
    /// costs in throughput on this machine (0: answer at once).
    #[arg(long, default_value_t = 0)]
    busy_us: u64,
    /// Serve through the kit's hardened server loop (`hyperion::axum::serve`
    /// / `hyperion::warp::serve`: header deadline, peer address, graceful
    /// shutdown), as `serve` does, instead of the framework's own: shows
    /// what that loop costs apart from the API.
    #[arg(long)]
    kit_server: bool,
}

/// Spins (does not sleep) for `busy`, as handler work would.
fn spin(busy: Duration) {
    let started = Instant::now();
    while started.elapsed() < busy {
        std::hint::spin_loop();
    }
}

/// The file's bytes, leaked once so every response borrows the same bytes,
/// as a static would.
fn read_leaked(path: &PathBuf) -> Result<&'static [u8], String> {
    let bytes =
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    Ok(Box::leak(bytes.into_boxed_slice()))
}

/// The headers both bare servers answer with, as `serve` does.
const JSON: (&str, &str) = ("content-type", "application/json");
const NO_STORE: (&str, &str) = ("cache-control", "no-store");

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let body = read_leaked(&args.body)?;
    let list_body = match &args.list_body {
        Some(path) => read_leaked(path)?,
        None => &[],
    };
    let busy = Duration::from_micros(args.busy_us);
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", args.addr))?;
    println!("bare {:?} handler on http://{}", args.framework, args.addr);
    match args.framework {
        Framework::Axum => {
            let app = axum::Router::new()
                .route(
                    "/api/v1/hostings/{id}",
                    axum::routing::get(move |Path(_id): Path<String>| async move {
                        spin(busy);
                        ([JSON, NO_STORE], body)
                    }),
                )
                .route(
                    "/api/v1/hostings",
                    axum::routing::get(move || async move {
                        spin(busy);
                        ([JSON, NO_STORE], list_body)
                    }),
                );
            if args.kit_server {
                hyperion::axum::serve(
                    listener,
                    app,
                    hyperion::axum::ServeOptions::default(),
                    std::future::pending(),
                )
                .await
                .map_err(|err| format!("server error: {err}"))?;
            } else {
                axum::serve(listener, app)
                    .await
                    .map_err(|err| format!("server error: {err}"))?;
            }
        }
        Framework::Warp => {
            let detail = warp::path!("api" / "v1" / "hostings" / String).map(move |_id: String| {
                spin(busy);
                warp::reply::with_header(
                    warp::reply::with_header(body, JSON.0, JSON.1),
                    NO_STORE.0,
                    NO_STORE.1,
                )
            });
            let list = warp::path!("api" / "v1" / "hostings").map(move || {
                spin(busy);
                warp::reply::with_header(
                    warp::reply::with_header(list_body, JSON.0, JSON.1),
                    NO_STORE.0,
                    NO_STORE.1,
                )
            });
            let routes = warp::get().and(detail.or(list));
            if args.kit_server {
                hyperion::warp::serve(
                    listener,
                    routes,
                    hyperion::warp::ServeOptions::default(),
                    std::future::pending(),
                )
                .await
                .map_err(|err| format!("server error: {err}"))?;
            } else {
                warp::serve(routes).incoming(listener).run().await;
            }
        }
    }
    Ok(())
}
