//! The SQLite stores: everything written survives closing and reopening the
//! database, a killed process leaves no job `running` forever, and dozens of
//! concurrent writers never see "database is locked".

#![cfg(feature = "sqlite")]

use std::sync::Arc;
use std::time::Duration;

use hyperion_core::sqlite::SqliteStores;
use hyperion_core::{
    AuditEvent, AuditLog, AuditOutcome, AuditQuery, AuditSink, CapSet, Claim, GrantLevel,
    IdempotencyScope, IdempotencyStore, JobId, JobRunner, JobSpec, JobState, KeyId, KeyScope,
    KeyStore, NewKey, StoredResponse,
};

fn spec() -> JobSpec {
    JobSpec {
        kind: "test".into(),
        target: "t".into(),
        actor: "apikey:test".into(),
        started_by: Some(KeyId::parse("key_starter").unwrap()),
        plan: None,
    }
}

fn event(n: u32) -> AuditEvent {
    AuditEvent {
        id: 0,
        at: hyperion_core::model::now(),
        request_id: format!("r{n}"),
        actor: "apikey:test".into(),
        key_id: None,
        owner: None,
        client_request_id: None,
        count: 1,
        key_prefix: Some("hyp_abcdefgh".into()),
        action: "hosting.suspend".into(),
        target: "h1".into(),
        outcome: AuditOutcome::Denied,
        status: Some(403),
        client_ip: Some("192.0.2.1".parse().unwrap()),
        detail: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut new = NewKey::new("tenant", "owner".parse().unwrap(), CapSet::all());
    new.scope = KeyScope::Grants([("h1".parse().unwrap(), GrantLevel::View)].into());
    new.expires_at = Some(hyperion_core::model::now() + time::Duration::days(1));
    new.ip_allowlist = vec!["10.0.0.0/8".into()];
    let minted = new.mint();
    let revoked = NewKey::new("gone", "owner".parse().unwrap(), CapSet::empty()).mint();
    let scope = IdempotencyScope {
        api_key: minted.record.id.clone(),
        key: "k1".into(),
    };
    let kept = StoredResponse {
        status: 201,
        headers: vec![("location".into(), "/api/v1/hostings/h9".into())],
        body: bytes::Bytes::from_static(b"{\"id\":\"h9\"}"),
    };
    let job_id: JobId;
    {
        let stores = SqliteStores::open_dir(dir.path()).unwrap();
        stores.keys.insert(minted.record.clone()).await.unwrap();
        stores.keys.insert(revoked.record.clone()).await.unwrap();
        assert!(
            stores
                .keys
                .revoke(&revoked.record.id, hyperion_core::model::now())
                .await
                .unwrap()
        );
        assert!(
            stores
                .keys
                .add_grant(
                    &minted.record.id,
                    &"h2".parse().unwrap(),
                    GrantLevel::Manage
                )
                .await
                .unwrap()
        );
        for n in 0..3 {
            stores.audit.record(event(n)).await;
        }
        assert_eq!(
            stores.idempotency.claim(&scope, [7; 32]).await.unwrap(),
            Claim::Fresh
        );
        stores
            .idempotency
            .complete(&scope, kept.clone())
            .await
            .unwrap();
        let job = stores
            .jobs
            .submit(
                spec(),
                Box::new(|p| {
                    Box::pin(async move {
                        p.step("working", 50);
                        Ok(Some(serde_json::json!({"backup_id": "bk-1"})))
                    })
                }),
            )
            .await
            .unwrap();
        job_id = job.id.clone();
        assert_eq!(stores.jobs.drain(Duration::from_secs(10)).await, 0);
    }
    let stores = SqliteStores::open_dir(dir.path()).unwrap();
    let found = stores
        .keys
        .find_by_hash(&minted.secret.hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.caps, minted.record.caps);
    assert_eq!(found.expires_at, minted.record.expires_at);
    assert_eq!(found.ip_allowlist, ["10.0.0.0/8"]);
    assert_eq!(
        found.scope.level_on(&"h1".parse().unwrap(), None),
        Some(GrantLevel::View)
    );
    assert_eq!(
        found.scope.level_on(&"h2".parse().unwrap(), None),
        Some(GrantLevel::Manage)
    );
    let gone = stores.keys.get(&revoked.record.id).await.unwrap().unwrap();
    assert!(gone.revoked_at.is_some());
    assert_eq!(stores.keys.list().await.unwrap().len(), 2);
    let log = stores
        .audit
        .query(&AuditQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.total, 3);
    assert_eq!(log.items[0].request_id, "r2");
    assert_eq!(log.items[0].client_ip, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(
        stores.idempotency.claim(&scope, [7; 32]).await.unwrap(),
        Claim::Replay(kept)
    );
    assert_eq!(
        stores.idempotency.claim(&scope, [8; 32]).await.unwrap(),
        Claim::Mismatch
    );
    let job = stores.jobs.get(&job_id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.result, Some(serde_json::json!({"backup_id": "bk-1"})));
    assert_eq!(job.started_by, Some(KeyId::parse("key_starter").unwrap()));
    assert!(job.finished_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dozens_of_concurrent_writers_never_see_a_locked_database() {
    let dir = tempfile::tempdir().unwrap();
    let stores = Arc::new(SqliteStores::open_dir(dir.path()).unwrap());
    let writers = (0..48).map(|n| {
        let stores = Arc::clone(&stores);
        tokio::spawn(async move {
            let minted =
                NewKey::new(format!("k{n}"), "owner".parse().unwrap(), CapSet::all()).mint();
            stores.keys.insert(minted.record).await.unwrap();
            stores.audit.record(event(n)).await;
            let scope = IdempotencyScope {
                api_key: KeyId::parse("key_x").unwrap(),
                key: format!("i{n}"),
            };
            assert_eq!(
                stores.idempotency.claim(&scope, [1; 32]).await.unwrap(),
                Claim::Fresh
            );
            stores
                .jobs
                .submit(
                    spec(),
                    Box::new(|p| {
                        Box::pin(async move {
                            for step in 0..5 {
                                p.step("step", step * 20);
                            }
                            Ok(None)
                        })
                    }),
                )
                .await
                .unwrap();
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.unwrap();
    }
    assert_eq!(stores.jobs.drain(Duration::from_secs(30)).await, 0);
    assert_eq!(stores.keys.list().await.unwrap().len(), 48);
    let log = stores
        .audit
        .query(&AuditQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.total, 48);
}

/// The child half of the crash test below, which runs this test binary again
/// with `HYPERION_CRASH_CHILD_DIR` set: starts a job that never ends, says so,
/// and waits to be killed. Ignored in normal runs: it never ends by itself.
#[tokio::test]
#[ignore = "started as a child process by the crash test"]
async fn crash_child() {
    let dir = std::env::var("HYPERION_CRASH_CHILD_DIR").expect("started by the crash test");
    let stores = SqliteStores::open_dir(std::path::Path::new(&dir)).unwrap();
    let job = stores
        .jobs
        .submit(
            spec(),
            Box::new(|p| {
                Box::pin(async move {
                    p.step("halfway", 50);
                    std::future::pending::<()>().await;
                    Ok(None)
                })
            }),
        )
        .await
        .unwrap();
    // Wait until the running state is on disk, then tell the parent.
    let db = rusqlite::Connection::open(std::path::Path::new(&dir).join("hyperion.db")).unwrap();
    loop {
        let state: Option<String> = db
            .query_row(
                "SELECT state FROM jobs WHERE id = ?1",
                [job.id.as_str()],
                |r| r.get(0),
            )
            .ok();
        if state.as_deref() == Some("running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::fs::write(std::path::Path::new(&dir).join("job-id"), job.id.as_str()).unwrap();
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_job_running_when_the_process_is_killed_ends_failed_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("HYPERION_CRASH_CHILD_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let marker = dir.path().join("job-id");
    for _ in 0..3000 {
        if marker.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let job_id = std::fs::read_to_string(&marker).expect("the child started its job");
    child.kill().unwrap(); // SIGKILL: no destructor, no flush
    child.wait().unwrap();

    let stores = SqliteStores::open_dir(dir.path()).unwrap();
    // What the API's job keeper does as it starts: the job has no plan (its
    // work is not safe to repeat), so it is failed, not run again.
    assert!(stores.jobs.take_over().await.unwrap().is_empty());
    let job = stores
        .jobs
        .get(&JobId::parse(&job_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.state, JobState::Failed);
    let error = job.error.as_deref().unwrap();
    assert!(
        error.starts_with(hyperion_core::sqlite::INTERRUPTED),
        "{error}"
    );
    assert!(error.contains("not safe to repeat"), "{error}");
    assert_eq!(job.step.as_deref(), Some("halfway"));
    assert!(job.finished_at.is_some());
}

/// A revocation written before a restart still ends the keys minted below
/// the revoked key: the chain is stored (`created_by`) and read on every
/// request, so nothing has to be cascaded at revocation time to hold.
#[tokio::test]
async fn a_revoked_parent_ends_its_children_across_a_restart() {
    use hyperion_core::memory::MemoryOwnerDirectory;
    use hyperion_core::{Cluster, HyperionApi, RequestHead};

    let dir = tempfile::tempdir().unwrap();
    let owner: hyperion_core::model::OwnerId = "o".parse().unwrap();
    let (child_secret, parent_id) = {
        let stores = SqliteStores::open_dir(dir.path()).unwrap();
        let parent = NewKey::new("parent", owner.clone(), CapSet::all()).mint();
        stores.keys.insert(parent.record.clone()).await.unwrap();
        let mut child = NewKey::new("child", owner.clone(), CapSet::all());
        child.created_by = Some(parent.record.id.clone());
        let child = child.mint();
        stores.keys.insert(child.record.clone()).await.unwrap();
        // Written straight into the store: no cascade marked the child.
        stores
            .keys
            .revoke(&parent.record.id, hyperion_core::model::now())
            .await
            .unwrap();
        (child.secret.expose().to_owned(), parent.record.id)
    };
    let stores = SqliteStores::open_dir(dir.path()).unwrap();
    let child_record = stores.keys.list().await.unwrap();
    let child_record = child_record.iter().find(|k| k.label == "child").unwrap();
    assert!(
        child_record.revoked_at.is_none(),
        "the child itself is not marked"
    );
    assert_eq!(child_record.created_by.as_ref(), Some(&parent_id));
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set(owner, CapSet::all());
    let api = HyperionApi::builder(Cluster::new(Vec::new()), owners)
        .stores(stores.provide())
        .build();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {child_secret}").parse().unwrap(),
    );
    let uri: http::Uri = "/api/v1/me".parse().unwrap();
    let head = RequestHead::new(http::Method::GET, &uri, headers, None);
    let refused = api
        .handle(
            head,
            futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>(),
        )
        .await;
    assert_eq!(refused.status, http::StatusCode::UNAUTHORIZED);
    let body = String::from_utf8_lossy(&refused.body).into_owned();
    assert!(body.contains("minting chain"), "{body}");
}

/// 4,000 keyless requests for a 60,000-character path used to grow the
/// database by hundreds of megabytes: now they are one counted event, its
/// target capped, and the file stays small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_floods_do_not_grow_the_database() {
    use hyperion_core::memory::MemoryOwnerDirectory;
    use hyperion_core::sim::SimClusterSpec;
    use hyperion_core::{Cluster, HyperionApi, Node, RequestHead};

    let dir = tempfile::tempdir().unwrap();
    let stores = SqliteStores::open_dir(dir.path()).unwrap();
    let nodes: Vec<Arc<dyn Node>> = SimClusterSpec::default()
        .build()
        .into_iter()
        .map(|n| n as Arc<dyn Node>)
        .collect();
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set("o".parse().unwrap(), CapSet::all());
    // The flood is sent at full speed: the pacing of refusals has its own
    // test (in the conformance suite).
    let api = HyperionApi::builder(Cluster::new(nodes), owners)
        .stores(stores.provide())
        .config(hyperion_core::ApiConfig {
            refusal_delay: std::time::Duration::ZERO,
            ..hyperion_core::ApiConfig::default()
        })
        .build();
    let admin = api
        .mint_key(
            &hyperion_core::AuditActor::new("test").unwrap(),
            NewKey::new("admin", "o".parse().unwrap(), CapSet::all()),
        )
        .await
        .unwrap();
    let long: http::Uri = format!("/api/v1/hostings/{}", "x".repeat(60_000))
        .parse()
        .unwrap();
    let empty = || futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
    for _ in 0..4000 {
        let head = RequestHead::new(http::Method::GET, &long, http::HeaderMap::new(), None);
        assert_eq!(api.handle(head, empty()).await.status, 401);
    }
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {}", admin.secret.expose()).parse().unwrap(),
    );
    let audit: http::Uri = "/api/v1/audit?actor=anonymous".parse().unwrap();
    let read = api
        .handle(
            RequestHead::new(http::Method::GET, &audit, headers, None),
            empty(),
        )
        .await;
    assert_eq!(read.status, 200);
    let page: serde_json::Value = serde_json::from_slice(&read.body).unwrap();
    let events = page["items"].as_array().unwrap();
    assert!(events.len() <= 2, "{page}");
    let counted: u64 = events.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 4000);
    assert!(events[0]["target"].as_str().unwrap().chars().count() < 300);
    let size: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        size < 2 * 1024 * 1024,
        "the data directory holds {size} bytes"
    );
}

/// The request ids of the events `log` keeps, newest first.
async fn kept_request_ids(log: &hyperion_core::sqlite::SqliteAuditLog) -> Vec<String> {
    let kept = log
        .query(&AuditQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    kept.items.into_iter().map(|e| e.request_id).collect()
}

/// The audit retention deletes what is too old, then what is too many.
#[tokio::test]
async fn audit_retention_keeps_what_it_says() {
    use hyperion_core::sqlite::{AuditRetention, SqliteAuditLog};
    let dir = tempfile::tempdir().unwrap();
    let stores = SqliteStores::open_dir(dir.path()).unwrap();
    let log = SqliteAuditLog::new(stores.database.clone()).with_retention(AuditRetention {
        max_age: Some(Duration::from_secs(24 * 60 * 60)),
        max_events: Some(3),
    });
    for n in 0..10 {
        let mut old = event(n);
        old.at = hyperion_core::model::now() - time::Duration::days(2);
        log.record(old).await;
    }
    for n in 10..15 {
        log.record(event(n)).await;
    }
    assert_eq!(log.prune().await.unwrap(), 12);
    assert_eq!(kept_request_ids(&log).await, ["r14", "r13", "r12"]);
    assert_eq!(log.prune().await.unwrap(), 0);
}

/// The count limit holds refusals apart from real events: a key's flood of
/// refusals, however long, never deletes the operator's events.
#[tokio::test]
async fn refusals_never_push_real_events_out_of_the_retention() {
    use hyperion_core::sqlite::{AuditRetention, SqliteAuditLog};
    let dir = tempfile::tempdir().unwrap();
    let stores = SqliteStores::open_dir(dir.path()).unwrap();
    let log = SqliteAuditLog::new(stores.database.clone()).with_retention(AuditRetention {
        max_age: None,
        max_events: Some(3),
    });
    for n in 0..2 {
        let mut real = event(n);
        real.outcome = AuditOutcome::Ok;
        real.status = Some(200);
        log.record(real).await;
    }
    for n in 2..50 {
        log.record(event(n)).await;
    }
    assert_eq!(log.prune().await.unwrap(), 45);
    assert_eq!(
        kept_request_ids(&log).await,
        ["r49", "r48", "r47", "r1", "r0"]
    );
}

/// Half of the writers crash test, run by it as a child process with
/// `HYPERION_WRITERS_CHILD_DIR` set: 40 concurrent writers submit jobs and
/// append the id of every job the runner accepted to a file, until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started as a child process by the writers crash test"]
async fn crash_writers_child() {
    use std::io::Write;
    let dir = std::env::var("HYPERION_WRITERS_CHILD_DIR").expect("started by the crash test");
    let dir = std::path::PathBuf::from(dir);
    let stores = SqliteStores::open_dir(&dir).unwrap();
    let accepted = Arc::new(std::sync::Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("accepted"))
            .unwrap(),
    ));
    for _ in 0..40 {
        {
            let jobs = Arc::clone(&stores.jobs);
            let accepted = Arc::clone(&accepted);
            tokio::spawn(async move {
                loop {
                    let job = jobs
                        .submit(spec(), Box::new(|_| Box::pin(async { Ok(None) })))
                        .await
                        .unwrap();
                    // What a client would now hold: the id of an accepted job.
                    writeln!(accepted.lock().unwrap(), "{}", job.id).unwrap();
                }
            });
        }
    }
    // The writers run until this process is killed.
    std::future::pending::<()>().await;
}

/// Every job a runner accepted (answered 202 for) is on disk, even when the
/// process is killed under 40 concurrent writers.
#[tokio::test]
async fn accepted_jobs_survive_a_kill_under_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writers_child",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("HYPERION_WRITERS_CHILD_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let accepted_file = dir.path().join("accepted");
    for _ in 0..3000 {
        let lines = std::fs::read_to_string(&accepted_file)
            .map(|text| text.lines().count())
            .unwrap_or(0);
        if lines >= 2000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL while the writers are busy
    child.wait().unwrap();
    let text = std::fs::read_to_string(&accepted_file).unwrap();
    // The last line may have been cut by the kill.
    let accepted: Vec<&str> = text
        .lines()
        .filter(|line| JobId::parse(line).is_some())
        .collect();
    assert!(
        accepted.len() >= 2000,
        "only {} jobs accepted",
        accepted.len()
    );
    let stores = SqliteStores::open_dir(dir.path()).unwrap();
    let mut lost = Vec::new();
    for id in &accepted {
        if stores
            .jobs
            .get(&JobId::parse(id).unwrap())
            .await
            .unwrap()
            .is_none()
        {
            lost.push(*id);
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} accepted jobs were lost, e.g. {:?}",
        lost.len(),
        accepted.len(),
        &lost[..lost.len().min(3)]
    );
}

/// The key records read are kept in memory; a revocation or a new grant
/// written through any key store of the database is read at once, never
/// the kept record.
#[tokio::test]
async fn a_kept_key_record_never_outlives_a_change() {
    let dir = tempfile::tempdir().unwrap();
    let stores = SqliteStores::open_dir(dir.path()).unwrap();
    let other = hyperion_core::sqlite::SqliteKeyStore::new(stores.database.clone());
    let mut new = NewKey::new("tenant", "o".parse().unwrap(), CapSet::all());
    new.scope = KeyScope::Grants(Default::default());
    let minted = new.mint();
    stores.keys.insert(minted.record.clone()).await.unwrap();
    let hash = minted.record.hash;
    let id = minted.record.id.clone();
    // Read (and kept) through both stores.
    for keys in [&*stores.keys, &other] {
        let kept = keys.find_by_hash(&hash).await.unwrap().unwrap();
        assert!(kept.revoked_at.is_none());
        assert_eq!(keys.get(&id).await.unwrap().unwrap().id, id);
    }
    let hosting: hyperion_core::model::HostingId = "h-granted".parse().unwrap();
    assert!(
        other
            .add_grant(&id, &hosting, GrantLevel::Manage)
            .await
            .unwrap()
    );
    let read = stores.keys.find_by_hash(&hash).await.unwrap().unwrap();
    assert_eq!(
        read.scope.level_on(&hosting, None),
        Some(GrantLevel::Manage)
    );
    assert!(
        other
            .revoke(&id, hyperion_core::model::now())
            .await
            .unwrap()
    );
    for keys in [&*stores.keys, &other] {
        assert!(
            keys.find_by_hash(&hash)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
        assert!(keys.get(&id).await.unwrap().unwrap().revoked_at.is_some());
    }
}
