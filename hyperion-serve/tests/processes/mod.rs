//! `serve` and `hyperion` run as the processes an operator runs, for the
//! tests that drive them over loopback. Cargo builds `serve` for this
//! crate's tests; `cargo test --workspace` builds `hyperion` beside it.
#![allow(dead_code)] // each test crate uses the part it needs

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `serve` binary of this crate, as Cargo built it for the tests.
pub const SERVE: &str = env!("CARGO_BIN_EXE_serve");

/// The `hyperion` command line: `target/<profile>/hyperion`, beside `serve`
/// (another crate's binary, built by `cargo test --workspace`).
pub fn cli_binary() -> PathBuf {
    Path::new(SERVE).with_file_name("hyperion")
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A `serve` process on a free loopback port, its admin key written to a
/// file in its own temporary directory; killed when dropped.
pub struct ServeProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// The admin key `serve` minted at start.
    pub admin_key: String,
    /// Its temporary directory, also a home for `hyperion login`.
    pub dir: tempfile::TempDir,
}

impl ServeProcess {
    /// Starts `serve` with `args` (besides `--addr` and `--key-file`) and
    /// waits until it is serving.
    pub fn start(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let key_file = dir.path().join("admin.key");
        let port = free_port();
        let mut child = Command::new(SERVE)
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(["--key-file", key_file.to_str().expect("a UTF-8 path")])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let serving = BufReader::new(stdout)
            .lines()
            .take(10)
            .map_while(Result::ok)
            .any(|line| line.starts_with("serving"));
        let admin_key = std::fs::read_to_string(&key_file).unwrap_or_default();
        let process = ServeProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
            admin_key,
            dir,
        };
        assert!(serving, "serve never said it was serving");
        process
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one run of `hyperion` did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `hyperion args` against `url` with `stdin` as its input, its
/// configuration under `home`, and no key in its environment.
pub fn hyperion(home: &Path, url: &str, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(cli_binary())
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .env("HYPERION_URL", url)
        .env_remove("HYPERION_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hyperion starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("hyperion reads its input");
    let out = child.wait_with_output().expect("hyperion ends");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 output"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 errors"),
    }
}

/// Whether the `hyperion` binary was built (it is, by the README's test
/// command); says why a test is skipped when not.
pub fn cli_is_built() -> bool {
    let cli = cli_binary();
    if !cli.exists() {
        eprintln!(
            "skipped: {} is not built (run `cargo test --workspace --all-features`)",
            cli.display()
        );
    }
    cli.exists()
}

impl ServeProcess {
    /// Kills the process at once (SIGKILL): nothing of it runs after.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    /// Sends `signal` (`STOP`, `CONT`, `TERM`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal}");
    }
}
