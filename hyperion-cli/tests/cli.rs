//! The `hyperion` command, run as a process against a server on loopback:
//! each command's success path, its main refusals and their exit codes, and
//! JSON output read back into the API's types.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use hyperion_core::sim::{SimClusterSpec, SimNode};
use hyperion_core::{HostingPage, Job, JobState, Me, NewKeyAnswer, StateChange};
use hyperion_testkit::fixtures::{api_with_admin, sim_cluster};

/// A server over the simulated cluster, its admin key and its nodes.
struct Server {
    url: String,
    key: String,
    nodes: Vec<std::sync::Arc<SimNode>>,
    home: tempfile::TempDir,
}

async fn server() -> Server {
    let cluster = sim_cluster(SimClusterSpec::default());
    let fixture = api_with_admin(cluster.as_dyn).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(hyperion_axum::serve(
        listener,
        hyperion_axum::router(fixture.api),
        hyperion_axum::ServeOptions::default(),
        std::future::pending(),
    ));
    Server {
        url,
        key: fixture.admin_key,
        nodes: cluster.nodes,
        home: tempfile::tempdir().unwrap(),
    }
}

/// What a run printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Server {
    /// Runs `hyperion args` with the URL and key in the environment.
    async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, Some(&self.key), None).await
    }

    /// Runs `hyperion args` with `key` in `HYPERION_KEY` (if any) and
    /// `stdin` on its standard input.
    async fn run_with(&self, args: &[&str], key: Option<&str>, stdin: Option<&str>) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hyperion"));
        command
            .args(args)
            .env("HYPERION_URL", &self.url)
            .env("XDG_CONFIG_HOME", self.home.path())
            .env_remove("HYPERION_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(key) = key {
            command.env("HYPERION_KEY", key);
        }
        let stdin = stdin.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let mut child = command.spawn().expect("hyperion starts");
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).unwrap();
            }
            drop(input);
            let out = child.wait_with_output().unwrap();
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8(out.stdout).unwrap(),
                stderr: String::from_utf8(out.stderr).unwrap(),
            }
        })
        .await
        .unwrap()
    }
}

fn json<T: serde::de::DeserializeOwned>(run: &Run) -> T {
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|err| panic!("{err}: {}", run.stdout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_lifecycle_from_the_shell() {
    let s = server().await;
    let me: Me = json(&s.run(&["me", "--output", "json"]).await);
    assert_eq!(me.key.label, "admin");
    let table = s.run(&["me"]).await;
    assert!(table.stdout.starts_with("KEY"), "{}", table.stdout);
    assert!(!table.stdout.contains(&s.key), "the key is never printed");

    let all = s
        .run(&[
            "hostings", "list", "--all", "--limit", "7", "--output", "json",
        ])
        .await;
    assert_eq!(all.code, 0, "{}", all.stderr);
    let pages: Vec<HostingPage> = all
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(pages.len(), 5, "one document per page");
    assert_eq!(pages.iter().map(|p| p.items.len()).sum::<usize>(), 30);
    let listed = s.run(&["hostings", "list", "--state", "suspended"]).await;
    assert_eq!(listed.stdout.lines().count(), 1 + 3, "{}", listed.stdout);

    let got = s.run(&["hostings", "get", "SITE-0002.example.test"]).await;
    assert!(
        got.stdout.contains("site-0002.example.test"),
        "{}",
        got.stdout
    );
    let suspended: StateChange = json(
        &s.run(&[
            "hostings",
            "suspend",
            "site-0002.example.test",
            "--output",
            "json",
        ])
        .await,
    );
    assert_eq!(suspended.state.as_str(), "suspended");
    let resumed: StateChange = json(
        &s.run(&[
            "hostings",
            "resume",
            "site-0002.example.test",
            "--output",
            "json",
        ])
        .await,
    );
    assert_eq!(resumed.state.as_str(), "active");

    let created = s
        .run(&[
            "hostings",
            "create",
            "--domain",
            "shell.example.test",
            "--alias",
            "www.shell.example.test",
            "--database",
            "--output",
            "json",
        ])
        .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    for (args, code) in [
        (
            vec!["hostings", "create", "--domain", "shell.example.test"],
            5,
        ),
        (vec!["hostings", "create", "--domain", "not a domain"], 2),
        (vec!["hostings", "get", "missing.example.test"], 3),
        (
            vec![
                "hostings",
                "set-limits",
                "shell.example.test",
                "--memory-mb",
                "1",
            ],
            5,
        ),
    ] {
        let refused = s.run(&args).await;
        assert_eq!(refused.code, code, "{args:?}: {}", refused.stderr);
    }
    let missing = s.run(&["hostings", "get", "missing.example.test"]).await;
    assert!(
        missing.stderr.contains("req_"),
        "names the request id: {}",
        missing.stderr
    );

    for args in [
        vec!["hostings", "set-php", "shell.example.test", "8.3"],
        vec![
            "hostings",
            "set-limits",
            "shell.example.test",
            "--max-processes",
            "64",
        ],
        vec![
            "hostings",
            "set-vhost",
            "shell.example.test",
            "--maintenance",
            "true",
        ],
        vec![
            "hostings",
            "set-expiry",
            "shell.example.test",
            "2999-01-01T00:00:00Z",
        ],
        vec!["hostings", "set-expiry", "shell.example.test", "never"],
        vec![
            "hostings",
            "set-quota",
            "shell.example.test",
            "--disk-hard-mb",
            "10240",
        ],
        vec!["backups", "list", "shell.example.test"],
        vec!["nodes", "list"],
        vec!["keys", "list"],
        vec!["audit", "list", "--action", "hosting.suspend"],
    ] {
        let run = s.run(&args).await;
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    }
    let openapi: serde_json::Value = json(&s.run(&["openapi"]).await);
    assert_eq!(openapi["openapi"], "3.1.0");

    let deleted: Job = json(
        &s.run(&[
            "hostings",
            "delete",
            "shell.example.test",
            "--wait",
            "--output",
            "json",
        ])
        .await,
    );
    assert_eq!(deleted.state, JobState::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_on_a_slow_job_shows_progress_on_stderr_only() {
    let s = server().await;
    for node in &s.nodes {
        node.set_latency(Duration::from_millis(150));
    }
    let run = s
        .run(&[
            "backups",
            "create",
            "site-0001.example.test",
            "--wait",
            "--output",
            "json",
        ])
        .await;
    let job: Job = json(&run);
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(run.stdout.lines().count(), 1, "only the job on stdout");
    assert!(
        run.stderr.contains("100%"),
        "progress lines: {}",
        run.stderr
    );
    let started = s
        .run(&[
            "certs",
            "issue",
            "site-0001.example.test",
            "--output",
            "json",
        ])
        .await;
    assert_eq!(started.code, 0, "{}", started.stderr);
    let accepted: serde_json::Value = serde_json::from_str(started.stdout.trim()).unwrap();
    let id = accepted["job_id"].as_str().unwrap();
    let waited: Job = json(&s.run(&["jobs", "wait", id, "--output", "json"]).await);
    assert_eq!(waited.state, JobState::Succeeded);
    let got: Job = json(&s.run(&["jobs", "get", id, "--output", "json"]).await);
    assert_eq!(got.id, waited.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_minted_once_read_from_stdin_and_never_printed_again() {
    let s = server().await;
    let minted = s
        .run(&[
            "keys",
            "mint",
            "--label",
            "ci",
            "--cap",
            "hosting_view",
            "--grant",
            "site-0001.example.test:view",
        ])
        .await;
    assert_eq!(minted.code, 0, "{}", minted.stderr);
    let key = minted.stdout.trim().to_owned();
    assert!(
        key.starts_with("hyp_") && !key.contains(' '),
        "only the key on stdout"
    );
    // The new key, piped in.
    let me: Me = json(
        &s.run_with(&["me", "--key", "-", "--output", "json"], None, Some(&key))
            .await,
    );
    assert_eq!(me.key.label, "ci");
    let tenant_view = s
        .run_with(
            &["hostings", "get", "site-0002.example.test", "--key", "-"],
            None,
            Some(&key),
        )
        .await;
    assert_eq!(tenant_view.code, 3, "outside its grant: not found");
    let refused = s
        .run_with(&["nodes", "list", "--key", "-"], None, Some(&key))
        .await;
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    // A key on the command line is refused (any process could read it).
    let on_the_line = s.run_with(&["me", "--key", &key], None, None).await;
    assert_eq!(on_the_line.code, 2);
    let minted_json: NewKeyAnswer = json(
        &s.run(&["keys", "mint", "--label", "ci2", "--output", "json"])
            .await,
    );
    let revoked = s
        .run(&["keys", "revoke", minted_json.view.id.as_str()])
        .await;
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let dead = s
        .run_with(&["me", "--key", "-"], None, Some(&minted_json.key))
        .await;
    assert_eq!(dead.code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_saves_a_working_key_readable_by_the_user_alone() {
    let s = server().await;
    let bad = s
        .run_with(&["login"], None, Some(&format!("hyp_{}\n", "x".repeat(43))))
        .await;
    assert_eq!(bad.code, 4, "a key that does not work is not saved");
    let login = s
        .run_with(&["login"], None, Some(&format!("{}\n", s.key)))
        .await;
    assert_eq!(login.code, 0, "{}", login.stderr);
    assert!(!login.stderr.contains(&s.key));
    let file = s.home.path().join("hyperion").join("login.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let me: Me = json(&s.run_with(&["me", "--output", "json"], None, None).await);
    assert_eq!(me.key.label, "admin");
    let no_url = Command::new(env!("CARGO_BIN_EXE_hyperion"))
        .arg("me")
        .env("XDG_CONFIG_HOME", tempfile::tempdir().unwrap().path())
        .env_remove("HYPERION_URL")
        .env_remove("HYPERION_KEY")
        .output()
        .unwrap();
    assert_eq!(no_url.status.code(), Some(2));
    let completions = s.run(&["completions", "bash"]).await;
    assert!(
        completions.stdout.contains("hyperion"),
        "{}",
        completions.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_are_said_and_odd_ends_are_clean() {
    let s = server().await;
    // An empty name never reaches another endpoint.
    assert_eq!(s.run(&["hostings", "get", ""]).await.code, 2);
    // A rate-limited key: the wait for Retry-After is said on stderr.
    let minted = s
        .run(&["keys", "mint", "--label", "slow", "--rate-limit", "60"])
        .await;
    let key = minted.stdout.trim().to_owned();
    let mut said = String::new();
    for _ in 0..70 {
        let run = s.run_with(&["me", "--key", "-"], None, Some(&key)).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        said.push_str(&run.stderr);
        if said.contains("rate limited") {
            break;
        }
    }
    assert!(said.contains("trying again in"), "{said}");
    // A job that outlives --wait-timeout (each node call takes 2.5 s, the
    // wait 1 s): exit 6, the job goes on.
    for node in &s.nodes {
        node.set_latency(Duration::from_millis(2500));
    }
    let run = s
        .run(&[
            "backups",
            "create",
            "site-0001.example.test",
            "--wait",
            "--wait-timeout",
            "1",
        ])
        .await;
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr.contains("still running after 1 s"),
        "{}",
        run.stderr
    );
    // A reader that goes away (`| head`) ends the command quietly.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyperion"))
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_follows_its_pages_and_json_refusals_are_envelopes() {
    let s = server().await;
    for n in 0..4 {
        let label = format!("paged-{n}");
        assert_eq!(s.run(&["keys", "mint", "--label", &label]).await.code, 0);
    }
    let keys = s
        .run(&["keys", "list", "--all", "--limit", "2", "--output", "json"])
        .await;
    assert_eq!(keys.code, 0, "{}", keys.stderr);
    let listed: Vec<hyperion_core::KeyPage> = keys
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(listed.len(), 3, "five keys in pages of two");
    assert_eq!(listed.iter().map(|p| p.items.len()).sum::<usize>(), 5);
    let audit = s
        .run(&["audit", "list", "--all", "--limit", "2", "--output", "json"])
        .await;
    assert_eq!(audit.code, 0, "{}", audit.stderr);
    let events: usize = audit
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str::<hyperion_core::AuditPage>(line)
                .unwrap()
                .items
                .len()
        })
        .sum();
    assert!(events >= 5, "the admin key's mint and four more: {events}");
    let table = s.run(&["keys", "list", "--limit", "2"]).await;
    assert!(table.stderr.contains("more: --cursor"), "{}", table.stderr);

    let refused = s
        .run(&[
            "hostings",
            "get",
            "missing.example.test",
            "--output",
            "json",
        ])
        .await;
    assert_eq!(refused.code, 3);
    assert!(refused.stdout.is_empty());
    let envelope: serde_json::Value = serde_json::from_str(refused.stderr.trim()).unwrap();
    assert_eq!(envelope["error"]["code"], "not_found");
    assert_eq!(envelope["error"]["status"], 404);
    assert!(
        envelope["error"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_hostings_from_the_shell() {
    let s = server().await;
    // The simulated cluster gives hosting `i` to `cust-0{i % 7 + 1}`.
    let of_customer: HostingPage = json(
        &s.run(&["hostings", "list", "--owner", "cust-02", "--output", "json"])
            .await,
    );
    assert_eq!(of_customer.total, 5);
    assert!(
        of_customer
            .items
            .iter()
            .all(|h| h.owner.as_ref().map(|o| o.as_str()) == Some("cust-02"))
    );
    let table = s.run(&["hostings", "list", "--owner", "cust-02"]).await;
    assert!(table.stdout.contains("OWNER"), "{}", table.stdout);
    let moved = s
        .run(&["hostings", "set-owner", "site-0002.example.test", "cust-05"])
        .await;
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    let planned = s
        .run(&["hostings", "set-plan", "site-0002.example.test", "gold"])
        .await;
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    let labelled = s
        .run(&[
            "hostings",
            "set-labels",
            "site-0002.example.test",
            "tier=platinum",
            "region-",
        ])
        .await;
    assert_eq!(labelled.code, 0, "{}", labelled.stderr);
    let found: HostingPage = json(
        &s.run(&[
            "hostings",
            "list",
            "--owner",
            "cust-05",
            "--plan",
            "gold",
            "-l",
            "tier=platinum",
            "--output",
            "json",
        ])
        .await,
    );
    assert_eq!(found.items.len(), 1);
    assert!(
        found.items[0]
            .labels
            .get(&"region".parse().unwrap())
            .is_none()
    );
    let created = s
        .run(&[
            "hostings",
            "create",
            "--domain",
            "shell.example.test",
            "--owner",
            "cust-05",
            "-l",
            "tier=gold",
        ])
        .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let bad = s
        .run(&[
            "hostings",
            "set-labels",
            "site-0002.example.test",
            "Bad Key=x",
        ])
        .await;
    assert_eq!(bad.code, 2, "a bad label is a usage error: {}", bad.stderr);
    // A key for the customer, minted from the shell, sees its hostings only.
    let minted = s
        .run(&[
            "keys",
            "mint",
            "--label",
            "cust-05",
            "--cap",
            "hosting_view",
            "--owner",
            "cust-05",
            "--level",
            "view",
        ])
        .await;
    assert_eq!(minted.code, 0, "{}", minted.stderr);
    let key = minted.stdout.trim().to_owned();
    let seen: HostingPage = json(
        &s.run_with(
            &["hostings", "list", "--key", "-", "--output", "json"],
            None,
            Some(&key),
        )
        .await,
    );
    assert_eq!(
        seen.total,
        4 + 1 + 1,
        "its own, the one moved to it, the one created"
    );
}
