//! Several replicas on one PostgreSQL database serve one cluster as one:
//! keys, rate limits, idempotency, create reservations, the audit log and
//! jobs hold across them. Two `HyperionApi` instances share one set of
//! simulated nodes in this process; two `serve` processes (each with its
//! own simulated nodes) check what must hold across processes.
//!
//! Needs a PostgreSQL: the one `HYPERION_TEST_POSTGRES` names, or a
//! throwaway cluster the tests start from the machine's PostgreSQL (see
//! `hyperion_testkit::postgres::test_database`). Where none is installed,
//! one ignored test says so, and how to enable them.
#![cfg(not(hyperion_no_postgres))]

mod processes;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyperion::memory::MemoryOwnerDirectory;
use hyperion::model::HostingId;
use hyperion::model::OwnerId;
use hyperion::sim::SimClusterSpec;
use hyperion::{
    ApiKeyRecord, AuditActor, CapSet, Cluster, GrantLevel, HyperionApi, KeyChangeLock, KeyHash,
    KeyId, KeyStore, NewKey, Node, StoreError,
};
use hyperion_testkit::postgres::{fresh_database, fresh_schema, stores_in, test_database};
use processes::ServeProcess;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Two replicas on one schema and one set of nodes, served with axum.
struct Pair {
    a: String,
    b: String,
    admin: String,
    second_admin: String,
    http: reqwest::Client,
}

async fn pair(latency: Duration) -> Pair {
    pair_with(latency, Duration::ZERO).await
}

/// A key store whose full listing takes `delay` longer: it widens the
/// window between a key change's check and its write.
struct SlowListing {
    inner: Arc<dyn KeyStore>,
    delay: Duration,
}

#[async_trait::async_trait]
impl KeyStore for SlowListing {
    async fn insert(&self, record: ApiKeyRecord) -> Result<(), StoreError> {
        self.inner.insert(record).await
    }
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        self.inner.find_by_hash(hash).await
    }
    async fn get(&self, id: &KeyId) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        self.inner.get(id).await
    }
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.list().await
    }
    async fn add_grant(
        &self,
        id: &KeyId,
        hosting: &HostingId,
        level: GrantLevel,
    ) -> Result<bool, StoreError> {
        self.inner.add_grant(id, hosting, level).await
    }
    async fn revoke(&self, id: &KeyId, at: time::OffsetDateTime) -> Result<bool, StoreError> {
        self.inner.revoke(id, at).await
    }
    async fn lock_changes(&self) -> Result<KeyChangeLock, StoreError> {
        self.inner.lock_changes().await
    }
}

async fn pair_with(latency: Duration, key_list_delay: Duration) -> Pair {
    let url = test_database();
    pair_over(latency, key_list_delay, [url.clone(), url]).await
}

/// Two replicas reaching the database at `urls` (the same database, maybe
/// through a relay).
async fn pair_over(latency: Duration, key_list_delay: Duration, urls: [String; 2]) -> Pair {
    let schema = fresh_schema();
    let nodes = SimClusterSpec {
        seed: 11,
        nodes: 2,
        hostings: 10,
        latency,
    }
    .build();
    let admin_owner: OwnerId = "admin".parse().unwrap();
    let owners = Arc::new(MemoryOwnerDirectory::new());
    owners.set(admin_owner.clone(), CapSet::all());
    let mut bases = Vec::new();
    let mut apis = Vec::new();
    for url in &urls {
        let stores = stores_in(url, &schema).await;
        let cluster = Cluster::new(
            nodes
                .iter()
                .map(|n| Arc::clone(n) as Arc<dyn Node>)
                .collect(),
        );
        let slow = SlowListing {
            inner: stores.keys.clone(),
            delay: key_list_delay,
        };
        let api = HyperionApi::builder(cluster, owners.clone())
            .stores(stores.provide())
            .key_store(Arc::new(slow))
            .build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        bases.push(format!("http://{}/api/v1", listener.local_addr().unwrap()));
        tokio::spawn(hyperion::axum::serve(
            listener,
            hyperion::axum::router(api.clone()),
            hyperion::axum::ServeOptions::default(),
            std::future::pending(),
        ));
        apis.push(api);
    }
    let actor = AuditActor::new("test:replicas").unwrap();
    let admin = apis[0]
        .mint_key(
            &actor,
            NewKey::new("admin", admin_owner.clone(), CapSet::all()),
        )
        .await
        .unwrap();
    // A second admin key minted by the panel, not under the first.
    let second_admin = apis[0]
        .mint_key(&actor, NewKey::new("admin 2", admin_owner, CapSet::all()))
        .await
        .unwrap();
    Pair {
        a: bases[0].clone(),
        b: bases[1].clone(),
        admin: admin.secret.expose().to_owned(),
        second_admin: second_admin.secret.expose().to_owned(),
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
    }
}

impl Pair {
    async fn send(
        &self,
        base: &str,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        let answer = request.send().await.unwrap();
        let (status, headers) = (answer.status(), answer.headers().clone());
        let body = answer.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    async fn get(&self, base: &str, key: &str, path: &str) -> (StatusCode, Value) {
        let (status, _, body) = self
            .send(base, key, reqwest::Method::GET, path, None, None)
            .await;
        (status, body)
    }

    /// Revokes key `id` on `base` with `key`: answers the status.
    async fn revoke(&self, base: &str, key: &str, id: &str) -> StatusCode {
        let path = format!("/keys/{id}");
        let (status, _, _) = self
            .send(base, key, reqwest::Method::DELETE, &path, None, None)
            .await;
        status
    }

    /// Mints a key with scope all on `base` with `key`: answers its raw key
    /// and id. `extra` adds fields to the request (a rate limit, ...).
    async fn mint(
        &self,
        base: &str,
        key: &str,
        label: &str,
        caps: &[&str],
        extra: Value,
    ) -> (String, String) {
        let mut body = json!({"label": label, "caps": caps, "scope": "all"});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, minted) = self.post(base, key, "/keys", body).await;
        assert_eq!(status, StatusCode::CREATED, "{minted}");
        (
            minted["key"].as_str().unwrap().to_owned(),
            minted["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Asks `/me` with each key until all are refused (401), for a second
    /// at most; answers how long it took.
    async fn refused_within_a_second(&self, base: &str, keys: &[&str]) -> Duration {
        let started = Instant::now();
        for key in keys {
            loop {
                let status = self.get(base, key, "/me").await.0;
                if status == StatusCode::UNAUTHORIZED {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(1),
                    "still {status} a second after the revocation"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        started.elapsed()
    }

    async fn post(&self, base: &str, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let (status, _, body) = self
            .send(base, key, reqwest::Method::POST, path, Some(body), None)
            .await;
        (status, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_minted_or_revoked_on_one_replica_holds_on_the_other_at_once() {
    let p = pair(Duration::ZERO).await;
    let managing = ["hosting_view", "api_keys_manage"];
    let (reseller, reseller_id) = p
        .mint(&p.a, &p.admin, "reseller", &managing, json!({}))
        .await;
    // Minted on A, used on B at once; and B mints a key under it.
    assert_eq!(p.get(&p.b, &reseller, "/me").await.0, StatusCode::OK);
    let (child, _) = p
        .mint(&p.b, &reseller, "customer", &["hosting_view"], json!({}))
        .await;
    assert_eq!(p.get(&p.a, &child, "/me").await.0, StatusCode::OK);
    // B has both in its cache now. Revoked on A: within a second B refuses
    // the key and the key it minted.
    let status = p.revoke(&p.a, &p.admin, &reseller_id).await;
    assert!(status.is_success(), "{status}");
    let waited = p.refused_within_a_second(&p.b, &[&reseller, &child]).await;
    eprintln!("revoke on A to 401 on B (cached there): {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_stops_hearing_key_changes_stops_trusting_its_cache() {
    let p = pair(Duration::ZERO).await;
    let (key, key_id) = p
        .mint(&p.a, &p.admin, "cached", &["hosting_view"], json!({}))
        .await;
    assert_eq!(p.get(&p.b, &key, "/me").await.0, StatusCode::OK);
    // Cut every listening connection: no replica hears the revocation below.
    let url = test_database();
    let (admin_db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin_db
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE (query LIKE 'LISTEN %' OR query LIKE 'NOTIFY hyperion_alive_%')
               AND pid <> pg_backend_pid()",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = p.revoke(&p.a, &p.admin, &key_id).await;
    assert!(status.is_success(), "{status}");
    p.refused_within_a_second(&p.b, &[&key]).await;
}

/// A TCP relay to the database that can stop forwarding without closing
/// anything, as a partition or a NAT that forgot the connection does: no
/// error reaches either end.
struct Relay {
    port: u16,
    paused: Arc<std::sync::atomic::AtomicBool>,
    /// Connections numbered below this are swallowed: what they carry is
    /// read and dropped, while newer ones are forwarded.
    swallowed_below: Arc<std::sync::atomic::AtomicU64>,
    opened: Arc<std::sync::atomic::AtomicU64>,
}

impl Relay {
    async fn to(url: &str) -> Relay {
        let target = host_port(url).to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let paused = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swallowed_below = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let opened = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (held, cut, count) = (
            Arc::clone(&paused),
            Arc::clone(&swallowed_below),
            Arc::clone(&opened),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let number = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (from_client, to_client) = client.into_split();
                let (from_server, to_server) = server.into_split();
                let link = Link {
                    paused: Arc::clone(&held),
                    swallowed_below: Arc::clone(&cut),
                    number,
                };
                tokio::spawn(pump(from_client, to_server, link.clone()));
                tokio::spawn(pump(from_server, to_client, link));
            }
        });
        Relay {
            port,
            paused,
            swallowed_below,
            opened,
        }
    }

    /// From now on, every connection open so far is swallowed (no error
    /// reaches either end); new ones are forwarded.
    fn swallow_open_connections(&self) {
        let opened = self.opened.load(std::sync::atomic::Ordering::SeqCst);
        self.swallowed_below
            .store(opened, std::sync::atomic::Ordering::SeqCst);
    }

    /// `url` with the relay in place of the server.
    fn url(&self, url: &str) -> String {
        url.replace(host_port(url), &format!("127.0.0.1:{}", self.port))
    }

    fn pause(&self, paused: bool) {
        self.paused
            .store(paused, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The `host:port` of a `postgres://user@host:port/db` URL.
fn host_port(url: &str) -> &str {
    let after_user = &url[url.find('@').unwrap() + 1..];
    &after_user[..after_user.find('/').unwrap()]
}

/// What one relayed connection obeys.
#[derive(Clone)]
struct Link {
    paused: Arc<std::sync::atomic::AtomicBool>,
    swallowed_below: Arc<std::sync::atomic::AtomicU64>,
    number: u64,
}

/// Copies `from` to `to`, holding what it read while paused, and dropping
/// it once the connection is swallowed.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: Link,
) {
    use std::sync::atomic::Ordering::SeqCst;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        while link.paused.load(SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if link.number < link.swallowed_below.load(SeqCst) {
            continue;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// Two replicas, B reaching the database through a relay; a key minted on
/// A that B has answered (so B holds it in its cache): the pair, the relay,
/// the key and its id.
async fn b_through_a_relay_with_a_key_it_cached() -> (Pair, Relay, String, String) {
    let url = test_database();
    let relay = Relay::to(&url).await;
    let p = pair_over(
        Duration::ZERO,
        Duration::ZERO,
        [url.clone(), relay.url(&url)],
    )
    .await;
    let (key, key_id) = p
        .mint(&p.a, &p.admin, "cached on b", &["hosting_view"], json!({}))
        .await;
    assert_eq!(p.get(&p.b, &key, "/me").await.0, StatusCode::OK);
    (p, relay, key, key_id)
}

/// A replica whose link to the database stops carrying packets, without
/// any error, stops answering from its key cache within the trust bound:
/// a key revoked on the other replica meanwhile is never accepted after
/// it (401, or 503 while the database cannot be reached at all), and is
/// 401 once the link carries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_from_the_database_stops_trusting_its_cache() {
    let (p, relay, key, key_id) = b_through_a_relay_with_a_key_it_cached().await;
    relay.pause(true);
    let status = p.revoke(&p.a, &p.admin, &key_id).await;
    assert!(status.is_success(), "{status}");
    let revoked = Instant::now();
    // Trusted for 1.5 s after the last heartbeat that came back; then the
    // database is asked (2 s at most) and cannot answer: 503.
    let mut last_ok = None;
    let mut refused = Vec::new();
    while revoked.elapsed() < Duration::from_secs(6) {
        let (status, body) = p.get(&p.b, &key, "/me").await;
        match status {
            StatusCode::OK => last_ok = Some(revoked.elapsed()),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["error"]["code"], "overloaded", "{body}");
                refused.push(status);
            }
            other => panic!("{other}: {body}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        last_ok.is_none_or(|at| at < Duration::from_millis(1600)),
        "the revoked key was still accepted {last_ok:?} after its revocation"
    );
    assert!(!refused.is_empty());
    // The link carries again: the revocation is read, not the old record.
    relay.pause(false);
    let healed = Instant::now();
    loop {
        let status = p.get(&p.b, &key, "/me").await.0;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_ne!(status, StatusCode::OK, "accepted after the link healed");
        assert!(healed.elapsed() < Duration::from_secs(15), "still {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A replica whose open connections to the database are all swallowed
/// (what they carry is dropped, no error comes back) while new connections
/// would be carried, as after a NAT forgot them, recovers on new ones: it
/// never accepts a key revoked meanwhile, and answers again within seconds
/// instead of holding on to the dead connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_connections_are_swallowed_recovers_on_new_ones() {
    let (p, relay, key, key_id) = b_through_a_relay_with_a_key_it_cached().await;
    // Use several of B's pooled connections, then swallow them all.
    let reads = (0..8).map(|_| p.get(&p.b, &p.admin, "/keys"));
    futures::future::join_all(reads).await;
    relay.swallow_open_connections();
    let status = p.revoke(&p.a, &p.admin, &key_id).await;
    assert!(status.is_success(), "{status}");
    let revoked = Instant::now();
    let recovered = loop {
        let (revoked_status, _) = p.get(&p.b, &key, "/me").await;
        assert!(
            revoked_status != StatusCode::OK || revoked.elapsed() < Duration::from_millis(1600),
            "the revoked key was accepted {:?} after its revocation",
            revoked.elapsed()
        );
        if p.get(&p.b, &p.admin, "/me").await.0 == StatusCode::OK
            && revoked_status == StatusCode::UNAUTHORIZED
        {
            break revoked.elapsed();
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(30),
            "B did not recover on new connections"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("B answered again on new connections after {recovered:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_is_one_limit_across_replicas() {
    let p = pair(Duration::ZERO).await;
    let limit = json!({"rate_limit_per_min": 60});
    let (limited, _) = p
        .mint(&p.a, &p.admin, "limited", &["hosting_view"], limit)
        .await;
    let started = Instant::now();
    let mut passed = 0;
    let mut refused_by = [false, false];
    for n in 0..130 {
        let base = if n % 2 == 0 { &p.a } else { &p.b };
        let answer = p
            .http
            .get(format!("{base}/me"))
            .bearer_auth(&limited)
            .send()
            .await
            .unwrap();
        match answer.status() {
            StatusCode::OK => passed += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                let wait: u64 = answer.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&wait), "Retry-After {wait}");
                refused_by[n % 2] = true;
            }
            other => panic!("{other}"),
        }
    }
    // 60 in all (plus one per second the loop took), not 60 per replica.
    let refills = started.elapsed().as_secs() as usize + 1;
    assert!(
        (60..=60 + refills).contains(&passed),
        "{passed} passed in {:?}",
        started.elapsed()
    );
    assert_eq!(refused_by, [true, true], "both replicas refuse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_on_the_other_replica_replays_and_a_race_runs_once() {
    let p = pair(Duration::from_millis(200)).await;
    let create = |domain: &str| json!({"domain": domain});
    // Sent to A, then retried on B: B replays A's answer.
    let mut answers = Vec::new();
    for (base, replayed) in [(&p.a, None), (&p.b, Some("true"))] {
        let (status, headers, body) = p
            .send(
                base,
                &p.admin,
                reqwest::Method::POST,
                "/hostings",
                Some(create("replayed.example.com")),
                Some("retry-1"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let header = headers.get("idempotent-replayed");
        assert_eq!(header.and_then(|h| h.to_str().ok()), replayed);
        answers.push(body);
    }
    assert_eq!(answers[0], answers[1]);

    // The same idempotency key at once on both: the operation runs once.
    let send = |base: String| {
        let p = &p;
        async move {
            p.send(
                &base,
                &p.admin,
                reqwest::Method::POST,
                "/hostings",
                Some(create("raced.example.com")),
                Some("race-1"),
            )
            .await
            .0
        }
    };
    let (one, other) = tokio::join!(send(p.a.clone()), send(p.b.clone()));
    let statuses = [one, other];
    assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
    let (_, listed) = p.get(&p.a, &p.admin, "/hostings?q=raced.example.com").await;
    let created = listed["items"].as_array().unwrap().len();
    assert_eq!(created, 1, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_domain_over_two_replicas_give_one_201() {
    let p = pair(Duration::from_millis(150)).await;
    let attempts = (0..6).map(|n| {
        let p = &p;
        async move {
            let base = if n % 2 == 0 { &p.a } else { &p.b };
            // Half by the domain, half by an alias of another domain.
            let body = if n % 3 == 0 {
                json!({"domain": format!("other{n}.example.com"), "aliases": ["contested.example.com"]})
            } else {
                json!({"domain": "contested.example.com"})
            };
            p.post(base, &p.admin, "/hostings", body).await.0
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_audit_log_and_jobs_readable_from_either_replica() {
    let p = pair(Duration::from_millis(150)).await;
    let (_, first) = p.get(&p.a, &p.admin, "/hostings?limit=1").await;
    let hosting = first["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, suspended) = p
        .post(
            &p.a,
            &p.admin,
            &format!("/hostings/{hosting}/suspend"),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{suspended}");
    let (status, resumed) = p
        .post(
            &p.b,
            &p.admin,
            &format!("/hostings/{hosting}/resume"),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{resumed}");
    // Both events, in one order, whichever replica is asked.
    let (_, from_b) = p.get(&p.b, &p.admin, "/audit").await;
    let actions = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["target"] == hosting.as_str())
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(actions(&from_b), ["hosting.resume", "hosting.suspend"]);
    let (_, again_from_a) = p.get(&p.a, &p.admin, "/audit").await;
    assert_eq!(actions(&again_from_a), actions(&from_b));

    // A job started on A is followed on B to its end.
    let (status, accepted) = p
        .post(
            &p.a,
            &p.admin,
            &format!("/hostings/{hosting}/backup"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let job = accepted["job_id"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    for _ in 0..200 {
        let (status, record) = p.get(&p.b, &p.admin, &format!("/jobs/{job}")).await;
        assert_eq!(status, StatusCode::OK, "{record}");
        seen.push(record["progress"].as_u64().unwrap());
        if record["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.last(), Some(&100), "{seen:?}");
    assert!(seen.len() > 1, "B saw the job before it ended: {seen:?}");
}

/// Sends `n` requests to `url` with `key` at once; answers the statuses.
async fn at_once(http: &reqwest::Client, requests: Vec<(String, Value)>, key: &str) -> Vec<u16> {
    let sends = requests.into_iter().map(|(url, body)| {
        let request = http.post(url).bearer_auth(key).json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    futures::future::join_all(sends).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_keys_and_create_reservations() {
    let url = test_database();
    let database = fresh_database(&url).await;
    let start =
        |database: &str| ServeProcess::start(&["--postgres", database, "--node-latency-ms", "300"]);
    let a = tokio::task::block_in_place(|| start(&database));
    let b = tokio::task::block_in_place(|| start(&database));
    assert!(
        !a.admin_key.is_empty(),
        "the first replica mints the admin key"
    );
    assert!(
        b.admin_key.is_empty(),
        "the second finds keys and mints none"
    );
    let admin = a.admin_key.trim().to_owned();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let me = |base: &str, key: &str| {
        let request = http
            .get(format!("{base}/api/v1/me"))
            .bearer_auth(key.to_owned());
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(me(&b.url, &admin).await, StatusCode::OK);
    let minted: Value = http
        .post(format!("{}/api/v1/keys", a.url))
        .bearer_auth(&admin)
        .json(&json!({"label": "ops", "caps": ["hosting_view"], "scope": "all"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops = minted["key"].as_str().unwrap();
    assert_eq!(me(&b.url, ops).await, StatusCode::OK);
    let revoked = http
        .delete(format!(
            "{}/api/v1/keys/{}",
            a.url,
            minted["id"].as_str().unwrap()
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    let since_revoke = Instant::now();
    while me(&b.url, ops).await != StatusCode::UNAUTHORIZED {
        assert!(
            since_revoke.elapsed() < Duration::from_secs(1),
            "B still takes the key"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("revoke on A to 401 on B: {:?}", since_revoke.elapsed());

    // Each process has its own simulated nodes: only the shared reservation
    // stands between two creates of one domain.
    let creates = (0..4)
        .map(|n| {
            let base = if n % 2 == 0 { &a.url } else { &b.url };
            (
                format!("{base}/api/v1/hostings"),
                json!({"domain": "one.example.com"}),
            )
        })
        .collect();
    let statuses = at_once(&http, creates, &admin).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
}

/// Polls job `job` on `base` until `done` holds for its record (30 s at most);
/// answers the last record read.
async fn poll_job(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    job: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    let mut last = Value::Null;
    while started.elapsed() < Duration::from_secs(30) {
        last = get_json(http, &format!("{base}/api/v1/jobs/{job}"), key).await;
        if done(&last) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// What [`a_job_on_a_slow_replica`] starts.
#[derive(Clone, Copy, PartialEq)]
enum SlowJob {
    /// A backup: not safe to repeat.
    Backup,
    /// A delete: safe to repeat.
    Delete,
}

/// Two `serve` replicas with 3 s job leases; A's nodes take `a_latency_ms`
/// per call. Starts `what` on A; answers both, the admin key, a client, the
/// job's id and the hosting's.
async fn a_job_on_a_slow_replica(
    a_latency_ms: &str,
    what: SlowJob,
) -> (
    ServeProcess,
    ServeProcess,
    String,
    reqwest::Client,
    String,
    String,
) {
    let url = test_database();
    let database = fresh_database(&url).await;
    let start = |latency: &str| {
        ServeProcess::start(&[
            "--postgres",
            &database,
            "--node-latency-ms",
            latency,
            "--job-lease-secs",
            "3",
        ])
    };
    let a = tokio::task::block_in_place(|| start(a_latency_ms));
    let b = tokio::task::block_in_place(|| start("0"));
    let admin = a.admin_key.trim().to_owned();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let hostings = get_json(&http, &format!("{}/api/v1/hostings?limit=1", b.url), &admin).await;
    let hosting = hostings["items"][0]["id"].as_str().unwrap().to_owned();
    let request = match what {
        SlowJob::Backup => http
            .post(format!("{}/api/v1/hostings/{hosting}/backup", a.url))
            .json(&json!({})),
        SlowJob::Delete => http.delete(format!("{}/api/v1/hostings/{hosting}", a.url)),
    };
    let accepted = request.bearer_auth(&admin).send().await.unwrap();
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let job = accepted.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (a, b, admin, http, job, hosting)
}

/// The audit events of `action` on `base`, newest first.
async fn audit_of(http: &reqwest::Client, base: &str, key: &str, action: &str) -> Vec<Value> {
    let page = get_json(
        http,
        &format!("{base}/api/v1/audit?action={action}&limit=200"),
        key,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

/// `GET url` with `key`, read as JSON.
async fn get_json(http: &reqwest::Client, url: &str, key: &str) -> Value {
    http.get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The events that record a job's end (the request's own event carries
/// its 202).
fn job_ends(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["status"].is_null()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_replica_is_killed_is_failed_by_the_survivor_after_its_lease() {
    let (mut a, b, admin, http, job, _) = a_job_on_a_slow_replica("4000", SlowJob::Backup).await;
    a.kill();
    let killed = Instant::now();
    let last = poll_job(&http, &b.url, &admin, &job, |j| j["state"] == "failed").await;
    assert_eq!(last["state"], "failed", "{last}");
    let error = last["error"].as_str().unwrap();
    assert!(
        error.starts_with(hyperion::postgres::REPLICA_STOPPED),
        "{last}"
    );
    assert!(error.contains("not safe to repeat"), "{last}");
    eprintln!(
        "a backup orphaned by kill -9 failed by the survivor after {:?} (lease 3 s)",
        killed.elapsed()
    );
}

/// A delete is safe to repeat: when its replica is killed mid-delete, the
/// survivor takes the job over after the lease and runs it again; the job
/// ends `succeeded`, the hosting is gone, and its end is audited once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_whose_replica_is_killed_mid_way_finishes_on_the_survivor() {
    let (mut a, b, admin, http, job, hosting) =
        a_job_on_a_slow_replica("4000", SlowJob::Delete).await;
    // A is inside its 4 s node call when it dies.
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.kill();
    let killed = Instant::now();
    let last = poll_job(&http, &b.url, &admin, &job, |j| {
        j["state"] == "succeeded" || j["state"] == "failed"
    })
    .await;
    assert_eq!(last["state"], "succeeded", "{last}");
    eprintln!(
        "a delete orphaned by kill -9 finished by the survivor after {:?} (lease 3 s)",
        killed.elapsed()
    );
    let gone = http
        .get(format!("{}/api/v1/hostings/{hosting}", b.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let events = audit_of(&http, &b.url, &admin, "hosting.delete").await;
    let ends = job_ends(&events);
    assert_eq!(ends.len(), 1, "{events:?}");
    assert_eq!(ends[0]["outcome"], "ok", "{events:?}");
    assert_eq!(ends[0]["target"], hosting.as_str());
    assert_eq!(ends[0]["actor"], "apikey:admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_revoking_each_other_on_two_replicas_leave_one() {
    // Each check reads every key for 300 ms: without a lock shared by the
    // replicas, both revocations would pass their checks.
    let p = pair_with(Duration::ZERO, Duration::from_millis(300)).await;
    let second_key = p.second_admin.clone();
    let second_id = p.get(&p.a, &second_key, "/me").await.1["key"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_id = p.get(&p.a, &p.admin, "/me").await.1["key"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Each admin revokes the other, on its own replica, at once: the
    // last-admin rule must hold across replicas, so one revocation loses.
    let revoke = |base: String, key: String, id: String| {
        let p = &p;
        async move { p.revoke(&base, &key, &id).await }
    };
    let (one, other) = tokio::join!(
        revoke(p.a.clone(), p.admin.clone(), second_id),
        revoke(p.b.clone(), second_key.clone(), first_id),
    );
    let statuses = [one, other];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    let working = [
        p.get(&p.a, &p.admin, "/me").await.0,
        p.get(&p.b, &second_key, "/me").await.0,
    ];
    assert_eq!(
        working.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "one admin key is left: {working:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_minted_while_its_parent_is_revoked_elsewhere_is_not_left_active() {
    // The revocation reads every key for 300 ms while it holds key changes.
    let p = pair_with(Duration::ZERO, Duration::from_millis(300)).await;
    let managing = ["hosting_view", "api_keys_manage"];
    let (reseller_key, reseller_id) = p
        .mint(&p.a, &p.admin, "reseller", &managing, json!({}))
        .await;
    let revoke = p.revoke(&p.a, &p.admin, &reseller_id);
    // The mint is let in on B while the revocation on A is under way.
    let mint = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        p.post(
            &p.b,
            &reseller_key,
            "/keys",
            json!({"label": "racing child", "caps": ["hosting_view"], "scope": "all"}),
        )
        .await
    };
    let (revoked, (minted, child)) = tokio::join!(revoke, mint);
    assert_eq!(revoked, StatusCode::OK);
    assert_eq!(minted, StatusCode::UNAUTHORIZED, "{child}");
    let (_, keys) = p.get(&p.a, &p.admin, "/keys?limit=100").await;
    let active_child = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["label"] == "racing child" && k["revoked_at"].is_null());
    assert!(!active_child, "{keys}");
}

/// A finished job stays finished: a replica only stalled past its lease
/// (SIGSTOP) whose backup the survivor failed comes back and finishes the
/// backup, but the record keeps the end it was given, on both replicas, and
/// the stalled run audits nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_stays_finished_when_its_stalled_replica_comes_back() {
    let (a, b, admin, http, job, _) = a_job_on_a_slow_replica("1000", SlowJob::Backup).await;
    a.signal("STOP");
    let given_up = poll_job(&http, &b.url, &admin, &job, |j| j["state"] == "failed").await;
    assert_eq!(given_up["state"], "failed", "{given_up}");
    // The stalled replica goes on: its node call ends within a second, and
    // it tries to record a success.
    a.signal("CONT");
    let came_back = Instant::now();
    while came_back.elapsed() < Duration::from_secs(4) {
        for base in [&b.url, &a.url] {
            let now = poll_job(&http, base, &admin, &job, |_| true).await;
            assert_eq!(now["state"], "failed", "on {base}: {now}");
            assert_eq!(now["error"], given_up["error"], "on {base}: {now}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let events = audit_of(&http, &b.url, &admin, "hosting.backup").await;
    assert!(job_ends(&events).is_empty(), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_build_is_refused_with_a_clear_message() {
    let url = test_database();
    let schema = fresh_schema();
    drop(stores_in(&url, &schema).await);
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    db.batch_execute(&format!(
        "UPDATE {schema}.hyperion_schema SET version = version + 1"
    ))
    .await
    .unwrap();
    let mut options = hyperion::postgres::PostgresOptions::default();
    options.schema = Some(schema);
    let refused = hyperion::postgres::PostgresStores::connect(&url, options)
        .await
        .err()
        .expect("a newer schema is refused");
    let message = refused.to_string();
    assert!(
        matches!(refused, hyperion::postgres::ConnectError::TooNew { .. }),
        "{message}"
    );
    assert!(message.contains("newer than this build"), "{message}");
}
