//! `serve`, run as a real process: SIGTERM whatever clients do, the
//! break-glass path (`--mint-admin`) and one process per data directory.
//!
//! On a data directory that already holds keys, `serve` mints nothing, unless asked to
//! mint a fresh admin key, which then works at once (and the old keys too).
//! Runs the real `serve` binary that Cargo builds for this test.

mod processes;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use processes::{SERVE, ServeProcess, free_port};

/// Starts `serve` with `args`; answers the child and what it printed up to
/// its "serving" line.
fn start(args: &[&str]) -> (Child, Vec<String>) {
    let mut child = Command::new(SERVE)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines().take(10) {
        let line = line.expect("a line of output");
        let serving = line.starts_with("serving");
        lines.push(line);
        if serving {
            break;
        }
    }
    (child, lines)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends SIGTERM to `server` and waits (15 s at most) for it to exit.
async fn terminate(server: &mut Child) -> Option<std::process::ExitStatus> {
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for _ in 0..300 {
        if let Some(status) = server.try_wait().unwrap() {
            return Some(status);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

async fn me(port: u16, key: &str) -> (u16, serde_json::Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut last = None;
    for _ in 0..100 {
        match client
            .get(format!("http://127.0.0.1:{port}/api/v1/me"))
            .bearer_auth(key)
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                return (status, response.json().await.unwrap_or_default());
            }
            Err(err) => last = Some(err),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("serve did not answer: {last:?}");
}

#[tokio::test]
async fn mint_admin_breaks_the_glass_on_a_directory_that_holds_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (first_key, second_key) = (dir.path().join("first.key"), dir.path().join("second.key"));
    let data = data.to_str().unwrap();
    let addr = |port: u16| format!("127.0.0.1:{port}");

    let port = free_port();
    let (child, out) = start(&[
        "--addr",
        &addr(port),
        "--data-dir",
        data,
        "--key-file",
        first_key.to_str().unwrap(),
    ]);
    stop(child);
    assert!(out[0].starts_with("admin key written to"), "{out:?}");

    // Restarted on the same directory: nothing minted, and it says how to.
    let port = free_port();
    let (child, out) = start(&["--addr", &addr(port), "--data-dir", data]);
    stop(child);
    assert!(out[0].contains("none minted"), "{out:?}");
    assert!(out[0].contains("--mint-admin"), "{out:?}");

    // Break the glass: a fresh admin key, written to the file, working at once.
    let port = free_port();
    let (child, out) = start(&[
        "--addr",
        &addr(port),
        "--data-dir",
        data,
        "--mint-admin",
        "--key-file",
        second_key.to_str().unwrap(),
    ]);
    let fresh = std::fs::read_to_string(&second_key).unwrap();
    let old = std::fs::read_to_string(&first_key).unwrap();
    let (status, body) = me(port, fresh.trim()).await;
    let (old_status, _) = me(port, old.trim()).await;
    stop(child);
    assert!(out[0].starts_with("admin key written to"), "{out:?}");
    assert!(
        !out.iter().any(|line| line.contains(fresh.trim())),
        "{out:?}"
    );
    assert_eq!(status, 200, "{body}");
    let label = body["key"]["label"].as_str().unwrap_or_default();
    assert!(label.starts_with("break-glass admin "), "{label}");
    assert_eq!(body["scope"], "all");
    assert_eq!(old_status, 200);
}

/// A second `serve` on a data directory in use refuses to start, naming the
/// process that holds it, and changes nothing there.
#[tokio::test]
async fn a_second_process_cannot_open_a_data_directory_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let port = free_port();
    let (first, out) = start(&["--addr", &format!("127.0.0.1:{port}"), "--data-dir", data]);
    assert!(out[0].starts_with("admin key (shown once)"), "{out:?}");
    let second = Command::new(SERVE)
        .args([
            "--addr",
            &format!("127.0.0.1:{}", free_port()),
            "--data-dir",
            data,
        ])
        .output()
        .expect("serve runs");
    let pid = first.id();
    stop(first);
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("in use"), "{said}");
    assert!(said.contains(&pid.to_string()), "{said}");
    // The files are the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(Path::new(data)), 0o700);
    assert_eq!(mode(&Path::new(data).join("hyperion.db")), 0o600);
}

/// SIGTERM ends `serve` within its grace period even while clients hold
/// connections: stalled in their request head, idle after a request, and
/// trickling an authenticated body.
#[tokio::test]
async fn sigterm_ends_serve_within_the_grace_period_whatever_clients_do() {
    use tokio::io::AsyncWriteExt;
    for adapter in ["axum", "warp"] {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("admin.key");
        let port = free_port();
        let (mut server, out) = start(&[
            "--adapter",
            adapter,
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--key-file",
            key_file.to_str().unwrap(),
            "--shutdown-grace-secs",
            "2",
        ]);
        assert!(out.last().unwrap().starts_with("serving"), "{out:?}");
        let key = std::fs::read_to_string(&key_file).unwrap();
        let (status, _) = me(port, key.trim()).await;
        assert_eq!(status, 200);
        let addr = format!("127.0.0.1:{port}");
        let mut held = Vec::new();
        for _ in 0..10 {
            let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
            stalled
                .write_all(b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
            held.push(stalled);
        }
        let mut trickle = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /api/v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"la",
            key.trim()
        );
        trickle.write_all(head.as_bytes()).await.unwrap();
        held.push(trickle);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;

        let signalled = std::time::Instant::now();
        let exited = terminate(&mut server).await;
        let waited = signalled.elapsed();
        if exited.is_none() {
            stop(server);
            panic!("{adapter}: serve was still running {waited:?} after SIGTERM");
        }
        assert!(exited.unwrap().success(), "{adapter}: {exited:?}");
        // Grace 2 s; the rest is slack for a loaded machine, not a timing target.
        assert!(
            waited < std::time::Duration::from_secs(12),
            "{adapter}: {waited:?}"
        );
        drop(held);
    }
}

/// Requests refused at the door are counted per minute, not recorded one by
/// one; a SIGTERM within that minute still writes their count to the log,
/// which the next process on the data directory reads.
#[tokio::test]
async fn refusals_counted_before_a_sigterm_are_in_the_log_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let key_file = dir.path().join("admin.key");
    let port = free_port();
    let (server, out) = start(&[
        "--addr",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
        data,
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    assert!(out.last().unwrap().starts_with("serving"), "{out:?}");
    let key = std::fs::read_to_string(&key_file).unwrap();
    let bogus = format!("hyp_{}", "Z".repeat(43));
    for _ in 0..3 {
        let (status, _) = me(port, &bogus).await;
        assert_eq!(status, 401);
    }
    let mut server = server;
    assert!(terminate(&mut server).await.is_some(), "serve stopped");

    let port = free_port();
    let (server, _) = start(&["--addr", &format!("127.0.0.1:{port}"), "--data-dir", data]);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let _ = me(port, key.trim()).await;
    let audit: serde_json::Value = client
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/audit?outcome=denied"
        ))
        .bearer_auth(key.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stop(server);
    let counted: u64 = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["status"] == 401)
        .map(|event| event["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 3, "{audit}");
}

/// A symbolic link planted where the key file goes is refused, and the file
/// it points at is left as it was: the admin key is never written through it.
#[test]
fn a_key_file_that_is_a_symbolic_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("authorized_keys");
    std::fs::write(&victim, "precious\n").unwrap();
    let planted = dir.path().join("admin.key");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let port = free_port();
    let out = Command::new(SERVE)
        .args([
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--key-file",
            planted.to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("serve runs");
    assert!(!out.status.success(), "serve went on: {out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("symbolic link"), "{said}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(std::fs::symlink_metadata(&planted).unwrap().is_symlink());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hyp_"));
    // Nor a directory, a path under a file, or a directory that is not there.
    let a_file = dir.path().join("a-file");
    std::fs::write(&a_file, "x").unwrap();
    for bad in [
        dir.path().to_path_buf(),
        a_file.join("key"),
        dir.path().join("nowhere/key"),
    ] {
        let refused = Command::new(SERVE)
            .args(["--addr", &format!("127.0.0.1:{port}"), "--key-file"])
            .arg(&bad)
            .stdin(Stdio::null())
            .output()
            .expect("serve runs");
        assert!(!refused.status.success(), "{}", bad.display());
    }
    // With a data directory, nothing is minted before the refusal: the next
    // start on it, with a proper key file, mints the admin key.
    let data = dir.path().join("data");
    let refused = Command::new(SERVE)
        .args(["--addr", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&data)
        .arg("--key-file")
        .arg(&planted)
        .stdin(Stdio::null())
        .output()
        .expect("serve runs");
    assert!(!refused.status.success());
    let key_file = dir.path().join("admin.key.real");
    let (child, out) = start(&[
        "--addr",
        &format!("127.0.0.1:{}", free_port()),
        "--data-dir",
        data.to_str().unwrap(),
        "--key-file",
        key_file.to_str().unwrap(),
    ]);
    stop(child);
    assert!(out[0].starts_with("admin key written to"), "{out:?}");
}

/// The key file is a fresh file of mode 0600, even where an older file of
/// another mode stood.
#[test]
fn a_key_file_replaces_an_old_one_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.key");
    std::fs::write(&path, "old\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let port = free_port();
    let (child, out) = start(&[
        "--addr",
        &format!("127.0.0.1:{port}"),
        "--key-file",
        path.to_str().unwrap(),
    ]);
    stop(child);
    assert!(out[0].starts_with("admin key written to"), "{out:?}");
    let key = std::fs::read_to_string(&path).unwrap();
    assert!(
        key.starts_with("hyp_"),
        "the key file holds {} bytes",
        key.len()
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "temporary files left behind");
}

/// A delete accepted before `serve` is killed (-9) mid-way is run again when
/// `serve` starts again on its data directory: the job ends `succeeded`, the
/// hosting is gone, and the job's end is audited once. A backup, not safe to
/// repeat, is failed instead, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_cut_short_by_a_crash_are_resumed_or_failed_at_the_next_start() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let mut first = tokio::task::block_in_place(|| {
        ServeProcess::start(&["--data-dir", data_dir, "--node-latency-ms", "3000"])
    });
    let admin = first.admin_key.trim().to_owned();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let call = |request: reqwest::RequestBuilder| {
        let admin = admin.clone();
        async move {
            let response = request.bearer_auth(admin).send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response
                    .json::<serde_json::Value>()
                    .await
                    .unwrap_or_default(),
            )
        }
    };
    let (_, page) = call(http.get(format!("{}/api/v1/hostings?limit=2", first.url))).await;
    let deleted = page["items"][0]["id"].as_str().unwrap().to_owned();
    let backed_up = page["items"][1]["id"].as_str().unwrap().to_owned();
    let (status, delete) =
        call(http.delete(format!("{}/api/v1/hostings/{deleted}", first.url))).await;
    assert_eq!(status, 202, "{delete}");
    let (status, backup) = call(
        http.post(format!("{}/api/v1/hostings/{backed_up}/backup", first.url))
            .json(&serde_json::json!({})),
    )
    .await;
    assert_eq!(status, 202, "{backup}");
    // Both jobs are inside their 3 s node calls.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    first.kill();

    let second = tokio::task::block_in_place(|| ServeProcess::start(&["--data-dir", data_dir]));
    let job =
        |id: &serde_json::Value| format!("{}/api/v1/jobs/{}", second.url, id.as_str().unwrap());
    let mut ended = (serde_json::Value::Null, serde_json::Value::Null);
    for _ in 0..100 {
        ended = (
            call(http.get(job(&delete["job_id"]))).await.1,
            call(http.get(job(&backup["job_id"]))).await.1,
        );
        if ended.0["finished_at"].is_string() && ended.1["finished_at"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (delete_job, backup_job) = ended;
    assert_eq!(delete_job["state"], "succeeded", "{delete_job}");
    assert_eq!(backup_job["state"], "failed", "{backup_job}");
    let error = backup_job["error"].as_str().unwrap();
    assert!(error.starts_with(hyperion::sqlite::INTERRUPTED), "{error}");
    assert!(error.contains("not safe to repeat"), "{error}");
    let (status, _) = call(http.get(format!("{}/api/v1/hostings/{deleted}", second.url))).await;
    assert_eq!(status, 404);
    let (_, audit) = call(http.get(format!(
        "{}/api/v1/audit?action=hosting.delete&limit=200",
        second.url
    )))
    .await;
    let ends: Vec<_> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["status"].is_null())
        .collect();
    assert_eq!(ends.len(), 1, "{audit}");
    assert_eq!(ends[0]["outcome"], "ok", "{audit}");
}
