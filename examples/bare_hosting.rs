//! The yardstick of the load comparison (`benches/load_compare.py`): a bare
//! axum handler or warp filter that answers `GET /api/v1/hostings/{id}` with
//! fixed JSON bytes and does nothing else (no key, no authorization, no node
//! call, no rendering). What `serve` costs above this is Hyperion's overhead.
//!
//! ```text
//! cargo run --release --example bare_hosting -- --framework warp --body detail.json
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
    /// Spin this many microseconds per request before answering: a known
    /// per-request cost, to calibrate what a microsecond of handler work
    /// costs in throughput on this machine (0: answer at once).
    #[arg(long, default_value_t = 0)]
    busy_us: u64,
}

/// Spins (does not sleep) for `busy`, as handler work would.
fn spin(busy: Duration) {
    let started = Instant::now();
    while started.elapsed() < busy {
        std::hint::spin_loop();
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let body = std::fs::read(&args.body)
        .map_err(|err| format!("cannot read {}: {err}", args.body.display()))?;
    // Leaked once so every response borrows the same bytes, as a static would.
    let body: &'static [u8] = Box::leak(body.into_boxed_slice());
    let busy = Duration::from_micros(args.busy_us);
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", args.addr))?;
    println!("bare {:?} handler on http://{}", args.framework, args.addr);
    match args.framework {
        Framework::Axum => {
            let app = axum::Router::new().route(
                "/api/v1/hostings/{id}",
                axum::routing::get(move |Path(_id): Path<String>| async move {
                    spin(busy);
                    (
                        [
                            (axum::http::header::CONTENT_TYPE, "application/json"),
                            (axum::http::header::CACHE_CONTROL, "no-store"),
                        ],
                        body,
                    )
                }),
            );
            axum::serve(listener, app)
                .await
                .map_err(|err| format!("server error: {err}"))?;
        }
        Framework::Warp => {
            let route = warp::get()
                .and(warp::path!("api" / "v1" / "hostings" / String))
                .map(move |_id: String| {
                    spin(busy);
                    let reply = warp::reply::with_header(body, "content-type", "application/json");
                    warp::reply::with_header(reply, "cache-control", "no-store")
                });
            warp::serve(route).incoming(listener).run().await;
        }
    }
    Ok(())
}
