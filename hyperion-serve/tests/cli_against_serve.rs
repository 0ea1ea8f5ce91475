//! The README's walk-through, done with the `hyperion` command alone against
//! the real `serve` process: login with the key on stdin, then every step of
//! the curl walk-through.

mod processes;

use processes::{ServeProcess, cli_is_built, hyperion};

#[test]
fn the_walk_through_with_the_cli_alone() {
    if !cli_is_built() {
        return;
    }
    let serve = ServeProcess::start(&[]);
    let url = serve.url.clone();
    let home = serve.dir.path();
    let key = serve.admin_key.clone();
    let run = |args: &[&str], stdin: &str| {
        let done = hyperion(home, &url, args, stdin);
        assert_eq!(done.code, 0, "{args:?}: {}", done.stderr);
        done.stdout
    };
    run(&["login"], &key);
    assert!(run(&["me"], "").contains("admin"));
    let listed = run(
        &["hostings", "list", "--limit", "5", "--state", "active"],
        "",
    );
    assert_eq!(listed.lines().count(), 1 + 5);
    run(
        &["hostings", "list", "--q", "site-001", "--node", "node-2"],
        "",
    );
    run(&["hostings", "get", "site-0001.example.test"], "");
    run(&["hostings", "suspend", "site-0001.example.test"], "");
    run(&["hostings", "resume", "site-0001.example.test"], "");
    let deleted = run(
        &[
            "hostings",
            "delete",
            "site-0002.example.test",
            "--keep-database",
            "--wait",
            "--output",
            "json",
        ],
        "",
    );
    assert!(deleted.contains("\"succeeded\""), "{deleted}");
    run(&["nodes", "list"], "");

    run(
        &[
            "hostings",
            "create",
            "--domain",
            "shop.example.com",
            "--alias",
            "www.shop.example.com",
            "--database",
            "--php",
            "8.3",
        ],
        "",
    );
    run(
        &[
            "hostings",
            "set-limits",
            "shop.example.com",
            "--memory-mb",
            "1024",
        ],
        "",
    );
    run(
        &[
            "hostings",
            "set-vhost",
            "shop.example.com",
            "--force-https",
            "true",
            "--basic-auth-user",
            "staff",
        ],
        "a-long-secret-1\n",
    );
    run(&["hostings", "set-expiry", "shop.example.com", "never"], "");
    run(
        &[
            "hostings",
            "set-quota",
            "shop.example.com",
            "--disk-soft-mb",
            "5000",
            "--disk-hard-mb",
            "6000",
            "--action-on-breach",
            "suspend",
        ],
        "",
    );
    let backup = run(
        &[
            "backups",
            "create",
            "shop.example.com",
            "--wait",
            "--output",
            "json",
        ],
        "",
    );
    let backup: serde_json::Value = serde_json::from_str(backup.trim()).unwrap();
    let backup_id = backup["result"]["backup_id"].as_str().unwrap().to_owned();
    run(&["backups", "list", "shop.example.com"], "");
    run(
        &[
            "backups",
            "restore",
            "shop.example.com",
            &backup_id,
            "--mode",
            "db_only",
            "--wait",
        ],
        "",
    );
    run(&["certs", "issue", "shop.example.com", "--wait"], "");
    run(&["hostings", "set-php", "shop.example.com", "8.2"], "");
    let started = run(
        &["certs", "issue", "shop.example.com", "--output", "json"],
        "",
    );
    let started: serde_json::Value = serde_json::from_str(started.trim()).unwrap();
    let job = started["job_id"].as_str().unwrap();
    assert!(run(&["jobs", "wait", job], "").contains("succeeded"));
    assert!(run(&["jobs", "get", job], "").contains("succeeded"));
    let document = run(&["openapi"], "");
    let document: serde_json::Value = serde_json::from_str(document.trim()).unwrap();
    assert!(document["paths"]["/api/v1/hostings/{id}"].is_object());
    run(
        &[
            "wordpress",
            "install",
            "shop.example.com",
            "--site-url",
            "https://shop.example.com",
            "--title",
            "Shop",
            "--admin-user",
            "owner",
            "--admin-email",
            "owner@shop.example.com",
            "--wait",
        ],
        "another-long-secret\n",
    );
    run(&["certs", "renew-all", "--wait"], "");

    let tenant = run(
        &[
            "keys",
            "mint",
            "--label",
            "customer-42",
            "--cap",
            "hosting_view",
            "--cap",
            "hosting_suspend",
            "--grant",
            "site-0003.example.test:manage",
            "--grant",
            "site-0004.example.test:view",
            "--expires-at",
            "2999-12-31T00:00:00Z",
        ],
        "",
    );
    let keys = run(&["keys", "list", "--output", "json"], "");
    let keys: serde_json::Value = serde_json::from_str(keys.trim()).unwrap();
    let id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "customer-42")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    run(&["keys", "revoke", &id], "");
    let refused = hyperion(home, &url, &["me", "--key", "-"], &tenant);
    assert_eq!(
        refused.code, 4,
        "a revoked key is refused: {}",
        refused.stderr
    );
    let audit = run(&["audit", "list", "--action", "key.revoke"], "");
    assert!(audit.contains("key.revoke"), "{audit}");
}

/// Runs `hyperion` against one `serve` with its admin key on stdin.
fn as_admin(serve: &ServeProcess, url: &str, args: &[&str]) -> processes::Run {
    let mut with_key = args.to_vec();
    with_key.extend(["--key", "-"]);
    hyperion(serve.dir.path(), url, &with_key, &serve.admin_key)
}

fn json(run: &processes::Run) -> serde_json::Value {
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(run.stdout.trim()).expect("one JSON document on stdout")
}

#[test]
fn a_slow_job_is_waited_with_its_progress_on_stderr() {
    if !cli_is_built() {
        return;
    }
    let serve = ServeProcess::start(&["--node-latency-ms", "150"]);
    let run = as_admin(
        &serve,
        &serve.url,
        &["backups", "create", "site-0001.example.test", "--wait"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("succeeded"), "{}", run.stdout);
    // Not on a terminal: plain progress lines, each with the job's step.
    let progress: Vec<&str> = run.stderr.lines().filter(|l| l.contains('%')).collect();
    assert!(progress.len() >= 2, "progress lines: {}", run.stderr);
    assert!(progress.last().unwrap().contains("100%"), "{}", run.stderr);
    // With --output json, stdout holds the job alone, as the API wrote it.
    let run = as_admin(
        &serve,
        &serve.url,
        &[
            "certs",
            "issue",
            "site-0001.example.test",
            "--wait",
            "--output",
            "json",
        ],
    );
    let job = json(&run);
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["kind"], "hosting.cert");
}

#[test]
fn refusals_exit_by_class_and_name_their_request() {
    if !cli_is_built() {
        return;
    }
    let serve = ServeProcess::start(&[]);
    let url = &serve.url;
    let exit = |args: &[&str]| as_admin(&serve, url, args);
    // 2: usage, before any request.
    assert_eq!(exit(&["hostings", "frobnicate"]).code, 2);
    assert_eq!(
        exit(&["hostings", "set-expiry", "x.example", "soon"]).code,
        2
    );
    let bad_level = exit(&[
        "keys",
        "mint",
        "--label",
        "x",
        "--grant",
        "site-0001.example.test:own",
    ]);
    assert_eq!(bad_level.code, 2, "{}", bad_level.stderr);
    assert!(bad_level.stderr.contains("HOSTING:view or HOSTING:manage"));
    // 3: not found, naming the request id.
    let missing = exit(&["hostings", "get", "nowhere.example.test"]);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(missing.stderr.contains("request"), "{}", missing.stderr);
    // 4: a key the server does not know.
    let stranger = hyperion(
        serve.dir.path(),
        url,
        &["me", "--key", "-"],
        "hyp_0000000000000000000000000000000000000000",
    );
    assert_eq!(stranger.code, 4, "{}", stranger.stderr);
    // 5: a conflict and a validation failure; with --output json the
    // refusal is the API's envelope, parsed back from stderr.
    let taken = exit(&["hostings", "create", "--domain", "site-0001.example.test"]);
    assert_eq!(taken.code, 5, "{}", taken.stderr);
    let invalid = exit(&[
        "hostings",
        "set-limits",
        "site-0001.example.test",
        "--memory-mb",
        "0",
        "--output",
        "json",
    ]);
    assert_eq!(invalid.code, 5, "{}", invalid.stderr);
    let envelope: serde_json::Value =
        serde_json::from_str(invalid.stderr.trim()).expect("the envelope on stderr");
    assert_eq!(envelope["error"]["code"], "validation");
    assert!(envelope["error"]["request_id"].is_string());
    // 6: a node is down. Lists say they are partial; a name that node
    // might hold cannot be answered (it is not "not found").
    let degraded = ServeProcess::start(&["--fail-node", "node-2"]);
    let url = &degraded.url;
    let exit = |args: &[&str]| as_admin(&degraded, url, args);
    let listed = json(&exit(&["hostings", "list", "--output", "json"]));
    assert_eq!(listed["partial"], true, "{listed}");
    let unsure = exit(&["hostings", "get", "nowhere.example.test"]);
    assert_eq!(unsure.code, 6, "{}", unsure.stderr);
    assert!(unsure.stderr.contains("node-2"), "{}", unsure.stderr);
}

/// A gateway in front of `serve` that answers the first `lose` POSTs whose
/// path ends with `ending` with a bare 503: the first before passing it on
/// (the upstream was unreachable), the others after `serve` has answered
/// (the answer was lost on its way back). Everything else passes through.
async fn losing_gateway(upstream: String, ending: &'static str, lose: usize) -> String {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, Response, StatusCode};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let lost = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let forward = move |request: Request<Body>| {
        let (upstream, client, lost) = (upstream.clone(), client.clone(), lost.clone());
        async move {
            let (parts, body) = request.into_parts();
            let target = parts.method == "POST" && parts.uri.path().ends_with(ending);
            let lose_this = target && lost.fetch_add(1, Ordering::SeqCst) < lose;
            let unavailable = || {
                Response::builder()
                    .status(StatusCode::SERVICE_UNAVAILABLE)
                    .body(Body::from("upstream unavailable"))
                    .unwrap()
            };
            if lose_this && lost.load(Ordering::SeqCst) == 1 {
                return unavailable();
            }
            let body = to_bytes(body, 1 << 20).await.unwrap();
            let mut sent = client.request(parts.method, format!("{upstream}{}", parts.uri));
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    sent = sent.header(name, value);
                }
            }
            let answer = sent.body(body).send().await.unwrap();
            if lose_this {
                return unavailable();
            }
            let mut back = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    back = back.header(name, value);
                }
            }
            back.body(Body::from(answer.bytes().await.unwrap()))
                .unwrap()
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(forward))
            .await
            .unwrap()
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_retried_through_lost_answers_makes_one_hosting() {
    if !cli_is_built() {
        return;
    }
    let serve = ServeProcess::start(&[]);
    let gateway = losing_gateway(serve.url.clone(), "/hostings", 3).await;
    let run = tokio::task::block_in_place(|| {
        as_admin(
            &serve,
            &gateway,
            &[
                "hostings",
                "create",
                "--domain",
                "shop.example.com",
                "--output",
                "json",
            ],
        )
    });
    let created = json(&run);
    assert_eq!(
        run.stderr.matches("trying again in").count(),
        3,
        "each 503 said: {}",
        run.stderr
    );
    // Straight to serve: one hosting, one audited create.
    let found = json(&as_admin(
        &serve,
        &serve.url,
        &[
            "hostings",
            "list",
            "--q",
            "shop.example.com",
            "--output",
            "json",
        ],
    ));
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["id"], created["id"]);
    let audit = json(&as_admin(
        &serve,
        &serve.url,
        &[
            "audit",
            "list",
            "--action",
            "hosting.create",
            "--output",
            "json",
        ],
    ));
    let events = audit["items"].as_array().unwrap();
    let done: Vec<_> = events.iter().filter(|e| e["detail"].is_null()).collect();
    assert_eq!(done.len(), 1, "one create was done: {audit}");
    assert!(
        events
            .iter()
            .all(|e| e["target"] == created["id"] && e["status"] == 201),
        "the others are replays of its answer: {audit}"
    );

    // A job started through the same gateway: one job, one backup.
    let gateway = losing_gateway(serve.url.clone(), "/backups", 2).await;
    let run = tokio::task::block_in_place(|| {
        as_admin(
            &serve,
            &gateway,
            &[
                "backups",
                "create",
                "shop.example.com",
                "--wait",
                "--output",
                "json",
            ],
        )
    });
    assert_eq!(json(&run)["state"], "succeeded");
    let backups = json(&as_admin(
        &serve,
        &serve.url,
        &["backups", "list", "shop.example.com", "--output", "json"],
    ));
    assert_eq!(backups["items"].as_array().unwrap().len(), 1, "{backups}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_key_waits_its_retry_after_and_gets_every_page() {
    if !cli_is_built() {
        return;
    }
    let serve = ServeProcess::start(&[]);
    let minted = as_admin(
        &serve,
        &serve.url,
        &[
            "keys",
            "mint",
            "--label",
            "slow",
            "--cap",
            "hosting_view",
            "--rate-limit",
            "60",
        ],
    );
    assert_eq!(minted.code, 0, "{}", minted.stderr);
    let limited = minted.stdout.trim().to_owned();
    // Spend the key's burst of 60 until the server refuses it.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut refused = false;
    for _ in 0..80 {
        let answer = client
            .get(format!("{}/api/v1/me", serve.url))
            .bearer_auth(&limited)
            .send()
            .await
            .unwrap();
        if answer.status() == 429 {
            refused = true;
            break;
        }
    }
    assert!(
        refused,
        "a key limited to 60 a minute is refused by the 61st"
    );
    // Three pages at once on an empty bucket: at most one passes before the
    // next token, so the CLI waits at least twice and still lists all 30.
    let run = tokio::task::block_in_place(|| {
        hyperion(
            serve.dir.path(),
            &serve.url,
            &["hostings", "list", "--all", "--limit", "10", "--key", "-"],
            &limited,
        )
    });
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1 + 30, "{}", run.stdout);
    assert!(
        run.stderr
            .matches("rate limited (429); trying again in")
            .count()
            >= 2,
        "{}",
        run.stderr
    );
}

#[test]
fn on_a_terminal_the_wait_draws_a_bar_with_the_step() {
    if !cli_is_built() {
        return;
    }
    // util-linux's `script` runs the command on a pseudo-terminal.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let serve = ServeProcess::start(&["--node-latency-ms", "150"]);
    let cli = processes::cli_binary();
    let command = format!(
        "{} backups create site-0001.example.test --wait",
        cli.display()
    );
    let out = std::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env("HYPERION_URL", &serve.url)
        .env("HYPERION_KEY", serve.admin_key.trim())
        .env("XDG_CONFIG_HOME", serve.dir.path())
        .env("COLUMNS", "100")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen}");
    // Each update redraws one line in place: carriage return, erase line, bar.
    let redraws = screen.matches("\r\x1b[2K[").count();
    assert!(redraws >= 2, "a bar redrawn in place: {screen:?}");
    assert!(
        screen.contains(&format!("[{}] 100%", "#".repeat(20))),
        "{screen:?}"
    );
    assert!(screen.contains("succeeded"), "then the job: {screen:?}");
}
