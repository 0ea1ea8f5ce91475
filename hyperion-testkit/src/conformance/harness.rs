//! The fixture (a simulated cluster, owners and keys of every kind), the
//! server under test and a small HTTP client.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyperion_core::memory::{MemoryKeyStore, MemoryOwnerDirectory};
use hyperion_core::model::{HostingId, OwnerId};
use hyperion_core::sim::{SimClusterSpec, SimNode};
use hyperion_core::{
    ApiConfig, AuditActor, CapSet, Capability, Cluster, HyperionApi, KeyScope, KeyStore, NewKey,
    Node,
};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::net::TcpListener;

/// What an adapter author writes to be tested: serve `api` on the bound
/// `listener` until the test ends, with `/api/v1` mounted under `prefix`
/// (empty: at the root of the app; otherwise a path such as `/panel`, which
/// every link the API answers must then carry).
pub type ServeFn = fn(
    api: HyperionApi,
    listener: TcpListener,
    prefix: &'static str,
) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where the keys, jobs, audit log and idempotency records of the API under
/// test live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stores {
    /// The in-memory stores (the builder's defaults).
    Memory,
    /// The durable SQLite stores, in a fresh temporary directory (feature
    /// `sqlite` of this crate).
    #[cfg(feature = "sqlite")]
    Sqlite,
    /// The shared PostgreSQL stores, in a fresh schema of the test database
    /// (see [`crate::postgres::test_database`]; feature `postgres` of this
    /// crate).
    #[cfg(feature = "postgres")]
    Postgres,
}

/// The prefix the nested-mount case serves the API under.
pub const NESTED_PREFIX: &str = "/panel/hyp";

/// The integrator the fixture's keys are minted by, in the audit log.
pub fn fixture_actor() -> AuditActor {
    AuditActor::new("panel:fixture").expect("a valid actor")
}

/// The simulated cluster every case runs against: 3 nodes, 30 hostings.
pub const SPEC: SimClusterSpec = SimClusterSpec {
    seed: 7,
    nodes: 3,
    hostings: 30,
    latency: Duration::ZERO,
};

/// The deadline of one node call: short, so that a hung node costs a test
/// little, yet far above what an in-memory node takes.
pub const NODE_DEADLINE: Duration = Duration::from_secs(1);

/// The fixture's cap on active keys per owner: low, so a case can reach it.
pub const MAX_ACTIVE_KEYS_PER_OWNER: usize = 40;

/// The fixture's body limit.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The one trusted proxy: a second loopback address, which a test client can
/// bind to (see [`TestServer::client_from`]).
pub const TRUSTED_PROXY: &str = "127.0.0.2/32";

/// The id of fixture hosting `index` (0-based).
pub fn hosting_id(index: usize) -> HostingId {
    SPEC.hosting_id(index)
}

/// The primary domain of fixture hosting `index`.
pub fn domain(index: usize) -> String {
    format!("site-{:04}.example.test", index + 1)
}

/// Indices of the fixture hostings that start suspended.
pub const SUSPENDED: [usize; 3] = [3, 13, 23];

fn owner(name: &str) -> OwnerId {
    name.parse().expect("valid owner id")
}

/// Every raw key a fixture minted, so that a test can look for them where
/// they must never be (logs).
pub static FIXTURE_KEYS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Raw keys of every kind the matrix needs.
pub struct Keys {
    /// All capabilities, scope all.
    pub admin: String,
    /// `hosting_view` only.
    pub viewer: String,
    /// No capability at all.
    pub powerless: String,
    /// All capabilities, revoked before the server started.
    pub revoked: String,
    /// Expired a minute ago.
    pub expired: String,
    /// All capabilities, owned by `demotable` (whose rights tests change).
    pub demotable: String,
    /// An admin-owned key that exists to be revoked.
    pub spare: String,
}

/// The fixture's settings.
pub fn fixture_config() -> ApiConfig {
    ApiConfig {
        body_limit: BODY_LIMIT,
        trusted_proxies: vec![TRUSTED_PROXY.parse().expect("valid CIDR")],
        max_active_keys_per_owner: MAX_ACTIVE_KEYS_PER_OWNER,
        ..ApiConfig::default()
    }
}

/// Everything a case may reach into.
pub struct TestServer {
    /// `http://127.0.0.1:port`
    pub base: String,
    /// How the adapter under test serves an API.
    pub serve: ServeFn,
    /// The client, with a timeout so that nothing hangs a test.
    pub client: reqwest::Client,
    /// The API under test.
    pub api: HyperionApi,
    /// Its key store.
    pub key_store: Arc<dyn KeyStore>,
    /// The directory of the SQLite database, when the stores are durable.
    pub data_dir: Option<tempfile::TempDir>,
    /// Its owner directory.
    pub owners: Arc<MemoryOwnerDirectory>,
    /// Its nodes.
    pub nodes: Vec<Arc<SimNode>>,
    /// Raw keys.
    pub keys: Keys,
}

impl TestServer {
    /// Builds a fresh fixture with in-memory stores and serves it with
    /// `serve` on a loopback port.
    pub async fn start(serve: ServeFn) -> TestServer {
        Self::start_with(serve, Stores::Memory).await
    }

    /// Builds a fresh fixture on `stores` and serves it with `serve` on a
    /// loopback port.
    pub async fn start_with(serve: ServeFn, stores: Stores) -> TestServer {
        let nodes = SPEC.build();
        let cluster = Cluster::new(
            nodes
                .iter()
                .map(|n| Arc::clone(n) as Arc<dyn Node>)
                .collect(),
        )
        .with_deadline(NODE_DEADLINE);
        let owners = Arc::new(MemoryOwnerDirectory::new());
        owners.set(owner("admin"), CapSet::all());
        owners.set(owner("demotable"), CapSet::all());
        let builder = HyperionApi::builder(cluster, owners.clone());
        let (data_dir, builder, key_store): (_, _, Arc<dyn KeyStore>) = match stores {
            Stores::Memory => (None, builder, Arc::new(MemoryKeyStore::new())),
            #[cfg(feature = "sqlite")]
            Stores::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let durable =
                    hyperion_core::sqlite::SqliteStores::open_dir(dir.path()).expect("open SQLite");
                let keys = durable.keys.clone();
                (Some(dir), builder.stores(durable.provide()), keys)
            }
            #[cfg(feature = "postgres")]
            Stores::Postgres => {
                let url = crate::postgres::test_database();
                let shared = crate::postgres::fresh_stores(&url).await;
                let keys = shared.keys.clone();
                (None, builder.stores(shared.provide()), keys)
            }
        };
        let api = builder
            .key_store(key_store.clone())
            .config(fixture_config())
            .build();

        let actor = fixture_actor();
        let mint = |label: &str, owner_name: &str, caps: CapSet| {
            NewKey::new(label, owner(owner_name), caps)
        };
        let raw = |minted: hyperion_core::MintedKey| minted.secret.expose().to_owned();
        let admin = raw(api
            .mint_key(&actor, mint("admin", "admin", CapSet::all()))
            .await
            .unwrap());
        let viewer_caps = [Capability::HostingView].into_iter().collect();
        let viewer = raw(api
            .mint_key(&actor, mint("viewer", "admin", viewer_caps))
            .await
            .unwrap());
        let powerless = raw(api
            .mint_key(&actor, mint("powerless", "admin", CapSet::empty()))
            .await
            .unwrap());
        let revoked_key = api
            .mint_key(&actor, mint("revoked", "admin", CapSet::all()))
            .await
            .unwrap();
        key_store
            .revoke(&revoked_key.record.id, hyperion_core::model::now())
            .await
            .unwrap();
        // Already expired: stored straight, as no mint accepts a past expiry.
        let mut expiring = mint("expired", "admin", CapSet::all());
        expiring.expires_at = Some(hyperion_core::model::now() - time::Duration::minutes(1));
        let expiring = expiring.mint();
        key_store.insert(expiring.record.clone()).await.unwrap();
        let expired = raw(expiring);
        let demotable = raw(api
            .mint_key(&actor, mint("demotable", "demotable", CapSet::all()))
            .await
            .unwrap());
        let spare = raw(api
            .mint_key(&actor, mint("spare", "admin", CapSet::empty()))
            .await
            .unwrap());

        FIXTURE_KEYS.lock().unwrap().extend(
            [&admin, &viewer, &powerless, &expired, &demotable, &spare].map(|k| k.to_string()),
        );

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr: SocketAddr = listener.local_addr().expect("local addr");
        tokio::spawn(serve(api.clone(), listener, ""));
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("http client");
        TestServer {
            base: format!("http://{addr}"),
            serve,
            client,
            api,
            key_store,
            data_dir,
            owners,
            nodes,
            keys: Keys {
                admin,
                viewer,
                powerless,
                revoked: raw(revoked_key),
                expired,
                demotable,
                spare,
            },
        }
    }

    /// A client whose connections come from `local` (a loopback address).
    pub fn client_from(&self, local: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .local_address(local.parse::<std::net::IpAddr>().expect("an address"))
            .build()
            .expect("http client")
    }

    /// Serves the same cluster, keys and owners with other settings (the
    /// fixture's, changed by `change`) on the adapter under test; returns
    /// its base URL.
    pub async fn serve_with_config(&self, change: impl FnOnce(&mut ApiConfig)) -> String {
        let mut config = fixture_config();
        change(&mut config);
        let api = HyperionApi::builder(self.api.cluster().clone(), self.owners.clone())
            .key_store(self.key_store.clone())
            .config(config)
            .build();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn((self.serve)(api, listener, ""));
        format!("http://{addr}")
    }

    /// Serves the same API on the adapter under test with `/api/v1` nested
    /// under [`NESTED_PREFIX`]; returns the base URL of the app (the API is
    /// at `<base>/panel/hyp/api/v1`).
    pub async fn serve_nested(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn((self.serve)(self.api.clone(), listener, NESTED_PREFIX));
        format!("http://{addr}")
    }

    /// Serves the same API with another adapter too; returns its base URL.
    pub async fn serve_also(&self, serve: ServeFn) -> String {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(serve(self.api.clone(), listener, ""));
        format!("http://{addr}")
    }

    /// Mints one more key with `caps` and `scope`, owned by `admin`.
    pub async fn mint(&self, label: &str, caps: CapSet, scope: KeyScope) -> String {
        let mut new = NewKey::new(label, owner("admin"), caps);
        new.scope = scope;
        self.api
            .mint_key(&fixture_actor(), new)
            .await
            .unwrap()
            .secret
            .expose()
            .to_owned()
    }

    /// The id of the (first) key labelled `label`.
    pub async fn key_id(&self, label: &str) -> String {
        let keys = self.api.list_keys(None).await.unwrap();
        let key = keys
            .iter()
            .find(|k| k.label == label)
            .expect("a key with that label");
        key.id.to_string()
    }

    /// Sends `method path` with a JSON body and `key`.
    pub async fn call_json(&self, method: Method, path: &str, key: &str, body: &Value) -> Reply {
        let request = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(key)
            .json(body);
        self.send(request).await
    }

    /// `POST /api/v1/keys` with `body`, as `key`.
    pub async fn mint_over_http(&self, key: &str, body: Value) -> Reply {
        self.call_json(Method::POST, "/api/v1/keys", key, &body)
            .await
    }

    /// Sends `method path` with `Authorization: Bearer <key>` when a key is given.
    pub async fn call(&self, method: Method, path: &str, key: Option<&str>) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        self.send(request).await
    }

    /// `GET path` with `key`.
    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(Method::GET, path, Some(key)).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a readable body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
        }
    }

    /// Starts a delete of fixture hosting `index` as admin and returns the job id.
    pub async fn start_job(&self, index: usize) -> String {
        let reply = self
            .call(
                Method::DELETE,
                &format!("/api/v1/hostings/{}", hosting_id(index)),
                Some(&self.keys.admin),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        reply.body["job_id"].as_str().expect("job_id").to_owned()
    }

    /// Polls a job until it has finished (bounded: 200 polls).
    pub async fn wait_for_job(&self, job_id: &str, key: &str) -> Value {
        for _ in 0..200 {
            let reply = self.get(&format!("/api/v1/jobs/{job_id}"), key).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            if matches!(reply.body["state"].as_str(), Some("succeeded" | "failed")) {
                return reply.body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {job_id} did not finish");
    }
}

/// One answer, parsed.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Every response header.
    pub headers: HeaderMap,
    /// Raw body.
    pub text: String,
    /// Body as JSON (`Null` if it was not JSON).
    pub body: Value,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the answer is the error envelope with `status` and `code`:
    /// JSON content type, exactly `{"error":{"code","message","request_id"}}`,
    /// and the request id equal to the `X-Request-Id` header.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        self.assert_error_for("", status, code);
    }

    /// [`Reply::assert_error`], naming `what` was called in a failure.
    #[track_caller]
    pub fn assert_error_for(&self, what: &str, status: u16, code: &str) {
        assert_eq!(self.status, status, "{what}: status; body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.text
        );
        let object = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("not JSON: {}", self.text));
        assert_eq!(object.len(), 1, "{}", self.text);
        let error = self.body["error"].as_object().expect("error object");
        let mut fields: Vec<&str> = error.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["code", "message", "request_id"], "{}", self.text);
        assert_eq!(self.body["error"]["code"], code, "{}", self.text);
        assert!(!self.body["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(
            self.body["error"]["request_id"].as_str(),
            self.header("x-request-id"),
            "envelope and header request ids differ"
        );
    }

    /// Asserts a success with `status` and a JSON body.
    #[track_caller]
    pub fn assert_ok(&self, status: u16) {
        self.assert_ok_for("", status);
    }

    /// [`Reply::assert_ok`], naming `what` was called in a failure.
    #[track_caller]
    pub fn assert_ok_for(&self, what: &str, status: u16) {
        assert_eq!(self.status, status, "{what}: status; body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert!(!self.body.is_null(), "{}", self.text);
    }
}
