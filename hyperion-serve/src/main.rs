//! The main job: serve `/api/v1` on a simulated cluster, on axum or warp.
//!
//! ```text
//! cargo run --release -p hyperion-serve -- --adapter warp --nodes 5 --hostings 1000
//! ```
//!
//! It mints one all-powerful admin key. Without `--key-file` the key is
//! printed once on stdout; with `--key-file PATH` it is written to PATH
//! (mode 0600) and only the path and the display prefix are printed, so the
//! raw key never appears in the output or the logs. With `--data-dir` on a
//! directory that already holds keys, none is minted unless `--mint-admin`
//! asks for one (the break-glass path when every admin key is gone). With
//! `--postgres URL`, the same rule holds for the database, and several
//! `serve` processes on one database serve as replicas of one API.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use hyperion::memory::{MemoryKeyStore, MemoryOwnerDirectory};
use hyperion::model::{NodeId, OwnerId};
use hyperion::postgres::{PostgresOptions, PostgresStores};
use hyperion::sim::{SimClusterSpec, SimFault};
use hyperion::sqlite::{AuditRetention, SqliteStores};
use hyperion::{
    ApiConfig, AuditActor, CapSet, Cluster, ForwardedHeader, HyperionApi, KeyStore, NewKey, Node,
    TokioJobRunner,
};
use ipnet::IpNet;
use tokio::net::TcpListener;

/// `--forwarded-header`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ForwardedHeaderArg {
    /// `X-Forwarded-For`.
    Xff,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Adapter {
    Axum,
    Warp,
}

/// Serve the Hyperion /api/v1 on a simulated cluster.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Web framework to serve with.
    #[arg(long, value_enum, default_value_t = Adapter::Axum)]
    adapter: Adapter,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Number of simulated nodes (node-1 .. node-K).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    nodes: u32,
    /// Number of simulated hostings, spread over the nodes.
    #[arg(long, default_value_t = 30)]
    hostings: usize,
    /// Latency of every simulated node call, in milliseconds.
    #[arg(long, default_value_t = 0)]
    node_latency_ms: u64,
    /// Seed of the simulated hosting ids (same seed, same ids).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the admin key to this file (mode 0600) instead of printing it.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// A proxy (CIDR or address) whose X-Forwarded-For / Forwarded headers are believed; repeatable.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = parse_cidr)]
    trusted_proxies: Vec<IpNet>,
    /// The header the trusted proxies write the client's address into; the
    /// other one is ignored (a proxy passes it through from the client).
    #[arg(long, value_enum, default_value_t = ForwardedHeaderArg::Xff)]
    forwarded_header: ForwardedHeaderArg,
    /// Deadline of one node call, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    node_timeout_ms: u64,
    /// Deadline of one node call made by a background job, in seconds (a
    /// job whose node hangs fails after it).
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    job_node_timeout_secs: u64,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = ApiConfig::default().body_limit)]
    body_limit: usize,
    /// Make this simulated node fail every call; repeatable.
    #[arg(long = "fail-node", value_name = "ID")]
    fail_nodes: Vec<NodeId>,
    /// Make this simulated node never answer; repeatable.
    #[arg(long = "hang-node", value_name = "ID")]
    hang_nodes: Vec<NodeId>,
    /// Keep keys, jobs, the audit log and idempotency records in SQLite in
    /// this directory (created if missing). Without it, everything is in memory.
    #[arg(long, conflicts_with = "postgres")]
    data_dir: Option<PathBuf>,
    /// Keep keys, jobs, the audit log, idempotency records, rate limits and
    /// create reservations in this PostgreSQL database
    /// (`postgres://user:password@host:port/db`), shared with every other
    /// replica using it. Without it (and --data-dir), everything is in memory.
    #[arg(
        long,
        value_name = "URL",
        env = "HYPERION_POSTGRES",
        hide_env_values = true
    )]
    postgres: Option<String>,
    /// With --postgres: seconds a replica's hold on its running jobs lasts
    /// unrenewed; after that, another replica marks them failed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..))]
    job_lease_secs: u64,
    /// With --data-dir: audit events older than this many days are deleted.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=36_500))]
    audit_max_age_days: u64,
    /// With --data-dir: past this many audit events, the oldest are deleted.
    #[arg(long, default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    audit_max_events: u64,
    /// Break glass: mint (and print, or write to --key-file) a fresh admin
    /// key even though the data directory already holds keys, e.g. after
    /// every admin key was lost or revoked.
    #[arg(long)]
    mint_admin: bool,
    /// Seconds a request head may take to arrive before the connection is closed.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,
    /// How long SIGTERM waits for requests being answered, then for running jobs, in seconds.
    #[arg(long, default_value_t = 30)]
    shutdown_grace_secs: u64,
    /// How long each 401 waits once a client address has had more than
    /// 30 of them in a minute, in milliseconds (0: never wait).
    #[arg(long, default_value_t = 500)]
    refusal_delay_ms: u64,
}

fn parse_cidr(text: &str) -> Result<IpNet, String> {
    // A network, or one address (a network of one).
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither an IP address nor a network in CIDR notation"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in a log file.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("serve: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    // Refused before anything is minted: a key minted into a durable store
    // and then not written anywhere would leave no one holding it.
    if let Some(path) = &args.key_file {
        refuse_a_link(path)
            .map_err(|err| format!("cannot write the key file {}: {err}", path.display()))?;
    }
    let spec = SimClusterSpec {
        seed: args.seed,
        nodes: args.nodes as usize,
        hostings: args.hostings,
        latency: Duration::from_millis(args.node_latency_ms),
    };
    let sim_nodes = spec.build();
    for (ids, fault) in [
        (&args.fail_nodes, SimFault::Fail),
        (&args.hang_nodes, SimFault::Hang),
    ] {
        for id in ids {
            let node = sim_nodes
                .iter()
                .find(|node| node.id() == id)
                .ok_or_else(|| {
                    format!(
                        "no simulated node `{id}` (there are node-1 .. node-{})",
                        spec.nodes
                    )
                })?;
            node.set_fault(fault);
        }
    }
    let nodes: Vec<Arc<dyn Node>> = sim_nodes
        .into_iter()
        .map(|node| node as Arc<dyn Node>)
        .collect();
    let cluster = Cluster::new(nodes).with_deadline(Duration::from_millis(args.node_timeout_ms));
    let admin: OwnerId = "admin".parse().expect("valid owner id");
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set(admin.clone(), CapSet::all());
    let mut builder = HyperionApi::builder(cluster, owners);
    let (jobs, fresh_keys) = match (&args.data_dir, &args.postgres) {
        (_, Some(url)) => {
            let mut options = PostgresOptions::default();
            options.job_lease = Duration::from_secs(args.job_lease_secs);
            // A create makes a few node calls in a row: its claims outlast them.
            options.request_claim_lapse = options
                .request_claim_lapse
                .max(Duration::from_millis(args.node_timeout_ms) * 6);
            let stores = PostgresStores::connect(url, options)
                .await
                .map_err(|err| err.to_string())?;
            builder = builder.stores(stores.provide());
            let empty = holds_no_keys(stores.keys.as_ref()).await?;
            (stores.jobs.clone(), empty)
        }
        (Some(dir), None) => {
            let mut stores = SqliteStores::open_dir(dir).map_err(|err| err.to_string())?;
            stores.set_audit_retention(AuditRetention {
                max_age: Some(Duration::from_secs(args.audit_max_age_days * 24 * 60 * 60)),
                max_events: Some(args.audit_max_events),
            });
            builder = builder.stores(stores.provide());
            let empty = holds_no_keys(stores.keys.as_ref()).await?;
            (stores.jobs.clone(), empty)
        }
        (None, None) => {
            let jobs = Arc::new(TokioJobRunner::default());
            builder = builder
                .key_store(Arc::new(MemoryKeyStore::new()))
                .job_runner(jobs.clone());
            (jobs, true)
        }
    };
    let api = builder
        .config(ApiConfig {
            body_limit: args.body_limit,
            job_node_deadline: Duration::from_secs(args.job_node_timeout_secs),
            trusted_proxies: args.trusted_proxies.clone(),
            forwarded_header: match args.forwarded_header {
                ForwardedHeaderArg::Xff => ForwardedHeader::XForwardedFor,
                ForwardedHeaderArg::Forwarded => ForwardedHeader::Forwarded,
            },
            refusal_delay: Duration::from_millis(args.refusal_delay_ms),
            ..ApiConfig::default()
        })
        .build();

    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", args.addr))?;
    let mut out = std::io::stdout().lock();
    if fresh_keys || args.mint_admin {
        // A break-glass key's label names its moment: an owner's active
        // keys never share a label.
        let label = if fresh_keys {
            "admin".to_owned()
        } else {
            format!(
                "break-glass admin {}",
                time::OffsetDateTime::now_utc().unix_timestamp()
            )
        };
        let actor = AuditActor::new("serve:startup").expect("a valid actor");
        let minted = api
            .mint_key(&actor, NewKey::new(label, admin, CapSet::all()))
            .await
            .map_err(|err| format!("cannot mint the admin key: {err}"))?;
        match &args.key_file {
            Some(path) => {
                write_key_file(path, minted.secret.expose()).map_err(|err| {
                    format!("cannot write the key file {}: {err}", path.display())
                })?;
                writeln!(
                    out,
                    "admin key written to {} (prefix {})",
                    path.display(),
                    minted.record.prefix
                )
            }
            None => writeln!(out, "admin key (shown once): {}", minted.secret.expose()),
        }
        .map_err(|err| format!("cannot write to stdout: {err}"))?;
    } else {
        writeln!(
            out,
            "the {} already holds keys: none minted (--mint-admin mints a fresh admin key)",
            if args.postgres.is_some() {
                "database"
            } else {
                "data directory"
            }
        )
        .map_err(|err| format!("cannot write to stdout: {err}"))?;
    }
    writeln!(
        out,
        "serving /api/v1 with {:?} on http://{} ({} nodes, {} hostings{})",
        args.adapter,
        args.addr,
        spec.nodes,
        spec.hostings,
        match (&args.data_dir, &args.postgres) {
            (_, Some(_)) => ", state shared in PostgreSQL".to_owned(),
            (Some(dir), None) => format!(", data in {}", dir.display()),
            (None, None) => String::new(),
        }
    )
    .and_then(|()| out.flush())
    .map_err(|err| format!("cannot write to stdout: {err}"))?;
    drop(out);

    // Both adapters' serve helpers: a header deadline, and a shutdown that
    // closes idle and stalled connections at once and returns within the
    // grace period whatever clients do.
    let options = hyperion::axum::ServeOptions {
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
    };
    let served = match args.adapter {
        Adapter::Axum => {
            hyperion::axum::serve(
                listener,
                hyperion::axum::router(api.clone()),
                options,
                shutdown_signal(),
            )
            .await
        }
        Adapter::Warp => {
            hyperion::warp::serve(
                listener,
                hyperion::warp::routes(api.clone()),
                options,
                shutdown_signal(),
            )
            .await
        }
    };
    served.map_err(|err| format!("server error: {err}"))?;
    // No new requests now: the refusals counted this minute go to the log.
    api.flush_audit().await;
    // Answered or cut at the grace period. Let running jobs end.
    let grace = Duration::from_secs(args.shutdown_grace_secs);
    let unfinished = jobs.drain(grace).await;
    if unfinished > 0 {
        tracing::warn!(
            unfinished,
            "jobs still running after the shutdown grace period"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// Whether a durable key store is still empty (a fresh database or directory).
async fn holds_no_keys(keys: &dyn KeyStore) -> Result<bool, String> {
    keys.list_page(None, 1)
        .await
        .map(|page| page.is_empty())
        .map_err(|err| format!("cannot read the key store: {err}"))
}

/// Writes the key with mode 0600 into a fresh file beside `path`, renamed
/// into place: a link planted at `path` (or at the temporary name) is never
/// followed, so the admin key cannot be aimed at another file. A `path` that
/// is a symbolic link is refused outright.
fn write_key_file(path: &Path, key: &str) -> std::io::Result<()> {
    refuse_a_link(path)?;
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut fresh = name.to_owned();
    fresh.push(format!(".{}.new", std::process::id()));
    let fresh = dir.join(fresh);
    let _ = std::fs::remove_file(&fresh);
    // create_new: O_CREAT | O_EXCL, which fails on any existing entry,
    // a symbolic link included, instead of following it.
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&fresh)?;
        writeln!(file, "{key}")?;
        file.sync_all()?;
        std::fs::rename(&fresh, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&fresh);
    }
    written
}

/// Refuses a key file path that cannot take the key as a plain file of
/// its own: a symbolic link, anything but a regular file (a directory, a
/// device, a pipe), or a path whose directory is not one.
fn refuse_a_link(path: &Path) -> std::io::Result<()> {
    let refuse = |why: &str| {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            why.to_owned(),
        ))
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return refuse("it is a symbolic link; name the file itself");
        }
        Ok(meta) if !meta.is_file() => {
            return refuse("it is not a regular file (a directory, a device or a pipe)");
        }
        _ => {}
    }
    if path.as_os_str().to_string_lossy().ends_with('/') {
        return refuse("it names a directory");
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !std::fs::metadata(dir).is_ok_and(|meta| meta.is_dir()) {
        return refuse("its directory does not exist");
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
