//! The README's walk-through, done with the `hyperion` command alone against
//! the real `serve` process: login with the key on stdin, then every step of
//! the curl walk-through.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// `target/<profile>/<name>`, built by `cargo test --workspace`.
fn binary(name: &str, example: bool) -> PathBuf {
    let test_exe = std::env::current_exe().expect("the test's own path");
    let profile = test_exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    if example {
        profile.join("examples").join(name)
    } else {
        profile.join(name)
    }
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hyperion(home: &Path, url: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(binary("hyperion", false))
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
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_walk_through_with_the_cli_alone() {
    let cli = binary("hyperion", false);
    if !cli.exists() {
        eprintln!(
            "skipped: {} is not built (run `cargo test --workspace --all-features`)",
            cli.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("admin.key");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(binary("serve", true))
        .args([
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--key-file",
            key_file.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout = child.stdout.take().unwrap();
    let _serve = Serve(child);
    for line in BufReader::new(stdout).lines().take(10) {
        if line.unwrap().starts_with("serving") {
            break;
        }
    }
    let url = format!("http://127.0.0.1:{port}");
    let home = dir.path();
    let key = std::fs::read_to_string(&key_file).unwrap();
    let run = |args: &[&str], stdin: &str| {
        let (code, out, err) = hyperion(home, &url, args, stdin);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
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
    let (code, _, err) = hyperion(home, &url, &["me", "--key", "-"], &tenant);
    assert_eq!(code, 4, "a revoked key is refused: {err}");
    let audit = run(&["audit", "list", "--action", "key.revoke"], "");
    assert!(audit.contains("key.revoke"), "{audit}");
}
