//! A PostgreSQL database for tests (feature `postgres`): the one that
//! `HYPERION_TEST_POSTGRES` names (`postgres://user@127.0.0.1:port/db`), or
//! else a throwaway cluster this process starts from the PostgreSQL
//! installed on the machine, with a fresh schema per use so that tests
//! never see each other's rows. The database is taken to be a throwaway
//! one: schemas are left behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use hyperion_core::postgres::{PostgresOptions, PostgresStores};

/// The variable naming the test database.
pub const DATABASE_VARIABLE: &str = "HYPERION_TEST_POSTGRES";

/// Set (to anything) where the database must be the one
/// [`DATABASE_VARIABLE`] names, as in CI: without it the tests fail rather
/// than start a cluster of their own.
pub const REQUIRE_VARIABLE: &str = "HYPERION_REQUIRE_POSTGRES";

/// How to run the PostgreSQL tests where they cannot run.
pub const HOW_TO_ENABLE: &str = "install PostgreSQL (Debian: `apt-get install postgresql`) and the tests start a throwaway cluster themselves, or set HYPERION_TEST_POSTGRES to a database they may fill";

/// The test database's URL: the one [`DATABASE_VARIABLE`] names, or else a
/// throwaway cluster started once for this process (and stopped, its
/// directory removed, when the process ends). Panics, saying how to enable
/// them, where neither can be had: a test that did not run never passes.
pub fn test_database() -> String {
    if let Ok(url) = std::env::var(DATABASE_VARIABLE)
        && !url.is_empty()
    {
        return url;
    }
    assert!(
        std::env::var_os(REQUIRE_VARIABLE).is_none(),
        "{REQUIRE_VARIABLE} is set but {DATABASE_VARIABLE} is not: no PostgreSQL to test against"
    );
    static STARTED: OnceLock<Result<Throwaway, String>> = OnceLock::new();
    match STARTED.get_or_init(Throwaway::start) {
        Ok(cluster) => cluster.url.clone(),
        Err(why) => panic!("the PostgreSQL tests cannot run here ({why}): {HOW_TO_ENABLE}"),
    }
}

/// The newest `initdb` of Debian's layout, or the one on `PATH`.
fn initdb() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin/initdb"))
        .filter(|initdb| initdb.is_file())
        .collect();
    found.sort_by_key(|path| {
        let version = path.components().nth(4).map(|c| c.as_os_str().to_owned());
        version.and_then(|v| v.to_str()?.parse::<u32>().ok())
    });
    found.pop().or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("initdb"))
                .find(|initdb| initdb.is_file())
        })
    })
}

/// A cluster in a temporary directory, on a free loopback port, run by an
/// unprivileged user (PostgreSQL refuses root). Its server runs under a
/// shell that waits for this process's end (its standard input closes),
/// then stops the server and removes the directory.
struct Throwaway {
    url: String,
    _keeper: Mutex<Child>,
}

impl Throwaway {
    fn start() -> Result<Self, String> {
        let initdb = initdb().ok_or("PostgreSQL is not installed")?;
        let bin = initdb.parent().ok_or("initdb has no directory")?;
        let dir = tempfile::Builder::new()
            .prefix("hyperion-pg-")
            .tempdir()
            .map_err(|err| format!("no temporary directory: {err}"))?
            .keep();
        let (user, through_su) = run_as_user(&dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|err| format!("no free port: {err}"))?
            .port();
        let (bin, data) = (quote(bin), quote(&dir.join("data")));
        let root = quote(&dir);
        shell(
            through_su.then_some(&user),
            &format!("{bin}/initdb -D {data} -U {user} --auth=trust --no-sync -E UTF8 >{root}/initdb.log 2>&1"),
        )
        .status()
        .map_err(|err| format!("initdb did not run: {err}"))?
        .success()
        .then_some(())
        .ok_or_else(|| format!("initdb failed; see {}/initdb.log", dir.display()))?;
        let server = format!(
            "{bin}/postgres -D {data} -c listen_addresses=127.0.0.1 -p {port} -k {root} \
             -c fsync=off -c max_connections=300 >{root}/server.log 2>&1 & pid=$!; \
             cat >/dev/null; kill -INT $pid; wait $pid; rm -rf {root}"
        );
        let mut keeper = shell(through_su.then_some(&user), &server)
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|err| format!("postgres did not start: {err}"))?;
        let ready = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > ready || keeper.try_wait().ok().flatten().is_some() {
                drop(keeper.stdin.take());
                return Err(format!(
                    "postgres did not listen within 30 s; see {}/server.log",
                    dir.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Throwaway {
            url: format!("postgres://{user}@127.0.0.1:{port}/postgres"),
            _keeper: Mutex::new(keeper),
        })
    }
}

/// The user the cluster runs as, and whether it is another one (run
/// through `su`): this one, or, for root, a system user made for it
/// (`hyperion-ci`, as CI's script makes), given `dir`.
fn run_as_user(dir: &Path) -> Result<(String, bool), String> {
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .map_err(|err| format!("{program} did not run: {err}"))
    };
    let uid = output("id", &["-u"])?;
    let me = output("id", &["-un"])?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Ok((String::from_utf8_lossy(&me.stdout).trim().to_owned(), false));
    }
    let user = "hyperion-ci";
    if !output("id", &[user])?.status.success() {
        let made = output(
            "useradd",
            &[
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ],
        )?;
        if !made.status.success() {
            return Err(format!("cannot make the user {user} to run PostgreSQL as"));
        }
    }
    let path = dir
        .to_str()
        .ok_or("a temporary directory that is not UTF-8")?;
    if !output("chown", &[user, path])?.status.success() {
        return Err(format!("cannot give {path} to {user}"));
    }
    Ok((user.to_owned(), true))
}

/// `script` run by `sh`, as `other` (through `su`) when given.
fn shell(other: Option<&String>, script: &str) -> Command {
    match other {
        Some(user) => {
            let mut command = Command::new("su");
            command.args(["-s", "/bin/sh", user, "-c", script]);
            command
        }
        None => {
            let mut command = Command::new("sh");
            command.args(["-c", script]);
            command
        }
    }
}

/// `path` quoted for `sh`.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// A schema name no other test uses.
pub fn fresh_schema() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "t_{}_{}_{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Every store, in a fresh schema of the database at `url`.
pub async fn fresh_stores(url: &str) -> PostgresStores {
    stores_in(url, &fresh_schema()).await
}

/// Every store, in `schema` of the database at `url` (replicas of one test
/// share a schema).
pub async fn stores_in(url: &str, schema: &str) -> PostgresStores {
    let mut options = PostgresOptions::default();
    options.schema = Some(schema.to_owned());
    options.pool_size = 4;
    PostgresStores::connect(url, options)
        .await
        .expect("connect to the test PostgreSQL")
}

/// A fresh, empty database on the server at `url` (for `serve` processes,
/// which take a URL and no schema); answers its URL.
pub async fn fresh_database(url: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test PostgreSQL");
    tokio::spawn(connection);
    let name = fresh_schema();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let (base, _) = url.rsplit_once('/').expect("a URL ending in /database");
    format!("{base}/{name}")
}
