//! criterion benches of the per-request work done in the core, without a
//! socket: key resolution, authorization, route matching, response rendering,
//! and the whole of `HyperionApi::handle` for one hosting detail.
//!
//! ```text
//! cargo bench --bench core                 # all of them
//! cargo bench --bench core -- route        # only those whose name holds "route"
//! ```
//!
//! CI compiles them (`cargo clippy --all-targets`) but does not run them;
//! the figures are in BENCHMARKS.md.

// `criterion_group!` defines a public function it cannot document.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use hyperion::memory::{MemoryKeyStore, MemoryOwnerDirectory};
use hyperion::model::{HostingSelector, OwnerId};
use hyperion::{
    ApiError, ApiResponse, CapSet, Capability, Cluster, GrantLevel, HyperionApi, KeyScope,
    KeyStore, ListQuery, NewKey, RequestHead,
};
use hyperion_core::sim::SimClusterSpec;
// Internals measured one by one (feature `bench-internals` of the core).
use hyperion_core::bench_internals::{
    Access, Principal, authenticate, match_route, require_hosting_access,
};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn cluster(spec: &SimClusterSpec) -> Cluster {
    Cluster::new(spec.build_nodes())
}

fn bearer(secret: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&format!("Bearer {secret}")).expect("a valid header");
    headers.insert(http::header::AUTHORIZATION, value);
    headers
}

/// Key resolution: Bearer parsing, SHA-256, the store look-up and the owner's
/// current capabilities, with 1 and 10,000 keys in the store.
fn key_resolution(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("key_resolution");
    for keys in [1usize, 10_000] {
        let store = MemoryKeyStore::new();
        let owners = MemoryOwnerDirectory::new();
        let owner: OwnerId = "owner-1".parse().expect("valid owner");
        owners.set(owner.clone(), CapSet::all());
        let mut last = None;
        rt.block_on(async {
            for n in 0..keys {
                let minted = NewKey::new(format!("key {n}"), owner.clone(), CapSet::all()).mint();
                store.insert(minted.record).await.expect("stored");
                last = Some(minted.secret);
            }
        });
        let headers = bearer(last.expect("at least one key").expose());
        group.bench_with_input(BenchmarkId::new("authenticate", keys), &headers, |b, h| {
            b.to_async(&rt)
                .iter(|| async { authenticate(black_box(h), &store, &owners).await.unwrap() });
        });
    }
    let unknown = bearer(
        NewKey::new("x", "o".parse().unwrap(), CapSet::all())
            .mint()
            .secret
            .expose(),
    );
    let store = MemoryKeyStore::new();
    let owners = MemoryOwnerDirectory::new();
    group.bench_function("authenticate/unknown key", |b| {
        b.to_async(&rt).iter(|| async {
            authenticate(black_box(&unknown), &store, &owners)
                .await
                .unwrap_err()
        });
    });
    group.finish();
}

fn principal(scope: KeyScope) -> Principal {
    let mut record = NewKey::new("bench", "owner-1".parse().unwrap(), CapSet::all())
        .mint()
        .record;
    record.scope = scope;
    Principal::of_key(Arc::new(record))
}

/// Authorization of a read of one hosting: the capability, the scope, and
/// the look-up through the (warm) locator on a 20-node simulated cluster.
fn authorization(c: &mut Criterion) {
    let rt = runtime();
    let spec = SimClusterSpec {
        nodes: 20,
        hostings: 2_000,
        ..SimClusterSpec::default()
    };
    let cluster = cluster(&spec);
    let target = spec.hosting_id(1_999);
    let by_id = HostingSelector::Id(target.clone());
    let by_domain = HostingSelector::Domain("site-2000.example.test".parse().unwrap());
    let all = principal(KeyScope::All);
    let grants: BTreeMap<_, _> = (1_000..2_000)
        .map(|index| (spec.hosting_id(index), GrantLevel::View))
        .collect();
    let granted = principal(KeyScope::Grants(grants));
    let outside = principal(KeyScope::Grants(
        [(spec.hosting_id(0), GrantLevel::Manage)].into(),
    ));
    // Warm the locator, as any earlier request would have.
    rt.block_on(cluster.locate(&by_id))
        .expect("the hosting exists");
    rt.block_on(cluster.locate(&by_domain))
        .expect("the hosting exists");

    let mut group = c.benchmark_group("authorization");
    for (name, who, selector) in [
        ("scope all, by id", &all, &by_id),
        ("scope all, by domain", &all, &by_domain),
        ("1000 grants, by id", &granted, &by_id),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                require_hosting_access(
                    who,
                    &cluster,
                    black_box(selector),
                    Capability::HostingView,
                    Access::Read,
                )
                .await
                .unwrap()
            });
        });
    }
    group.bench_function("out of scope, refused before any node call", |b| {
        b.to_async(&rt).iter(|| async {
            let refused = require_hosting_access(
                &outside,
                &cluster,
                black_box(&by_id),
                Capability::HostingView,
                Access::Read,
            )
            .await;
            assert!(matches!(refused, Err(ApiError::OutOfScope)));
        });
    });
    group.finish();
}

/// Route matching on the route table: a hit at each depth and a miss.
fn route_matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("route_matching");
    for (method, path) in [
        (Method::GET, "/api/v1/hostings"),
        (Method::GET, "/api/v1/hostings/h04e1e249f26d04f5"),
        (Method::PATCH, "/api/v1/hostings/h04e1e249f26d04f5/php"),
        (Method::GET, "/api/v1/no/such/route"),
    ] {
        group.bench_function(format!("{method} {path}"), |b| {
            b.iter(|| {
                let _ = black_box(match_route(black_box(&method), black_box(path)));
            });
        });
    }
    group.finish();
}

/// Rendering of response bodies: one hosting detail, a page of 50 hostings,
/// and an error envelope.
fn response_rendering(c: &mut Criterion) {
    let spec = SimClusterSpec::default();
    let node = "node-1".parse().unwrap();
    let detail = spec.hosting(0, &node);
    let page: Vec<_> = (0..50)
        .map(|index| spec.hosting(index, &node).summary)
        .collect();
    let error = ApiError::Validation("field `domain`: not a valid domain name".to_owned());
    let mut group = c.benchmark_group("response_rendering");
    group.bench_function("hosting detail", |b| {
        b.iter(|| ApiResponse::json(StatusCode::OK, black_box(&detail)));
    });
    group.bench_function("page of 50 hostings", |b| {
        b.iter(|| ApiResponse::json(StatusCode::OK, black_box(&page)));
    });
    group.bench_function("error envelope", |b| {
        b.iter(|| ApiResponse::error(black_box(&error), "req_0123456789abcdefghij"));
    });
    group.finish();
}

/// An API over `spec`'s simulated cluster with an admin key, and that key's
/// `Authorization` header.
fn api_with_admin(rt: &Runtime, spec: &SimClusterSpec) -> (HyperionApi, HeaderMap) {
    let fixture = rt.block_on(hyperion_testkit::fixtures::api_with_admin_on(cluster(spec)));
    (fixture.api, bearer(&fixture.admin_key))
}

/// One `GET` through `HyperionApi::handle`, as an adapter calls it; checks 200.
async fn get(api: &HyperionApi, headers: &HeaderMap, uri: &Uri) -> ApiResponse {
    let peer = Some("127.0.0.1:40000".parse().unwrap());
    let head = RequestHead::new(Method::GET, uri, headers.clone(), peer);
    let response = api
        .handle(
            head,
            futures::stream::empty::<Result<bytes::Bytes, Infallible>>(),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{uri}");
    response
}

/// The whole core path of `GET /api/v1/hostings/{id}`, as an adapter calls it:
/// what `serve` adds over a bare handler, minus HTTP parsing and the socket;
/// with a scope-all key, and with the keys whose extra checks must cost
/// little (a rate limit, an allowlist, a thousand grants); and the first
/// page of 50.
fn handle_request(c: &mut Criterion) {
    let rt = runtime();
    let spec = SimClusterSpec {
        hostings: 1_000,
        ..SimClusterSpec::default()
    };
    let fixture = rt.block_on(hyperion_testkit::fixtures::api_with_admin_on(cluster(
        &spec,
    )));
    let api = fixture.api;
    let owner = hyperion_testkit::fixtures::admin_owner();
    let mint = |new: NewKey| {
        let actor = hyperion::AuditActor::new("bench").expect("a valid actor");
        let minted = rt
            .block_on(api.mint_key(&actor, new))
            .expect("the key is minted");
        bearer(minted.secret.expose())
    };
    let mut limited = NewKey::new("limited", owner.clone(), CapSet::all());
    limited.rate_limit_per_min = u32::MAX;
    let mut allowlisted = NewKey::new("allowlisted", owner.clone(), CapSet::all());
    allowlisted.ip_allowlist = vec![
        "10.0.0.0/8".to_owned(),
        "192.168.0.0/16".to_owned(),
        "127.0.0.1".to_owned(),
    ];
    let mut tenant = NewKey::new("tenant", owner, CapSet::all());
    tenant.scope = KeyScope::Grants(
        (0..spec.hostings)
            .map(|index| (spec.hosting_id(index), GrantLevel::View))
            .collect(),
    );
    let keys = [
        ("scope all", bearer(&fixture.admin_key)),
        ("rate-limited key", mint(limited)),
        ("allowlisted key", mint(allowlisted)),
        ("1,000 grants", mint(tenant)),
    ];
    let detail: Uri = format!("/api/v1/hostings/{}", spec.hosting_id(0))
        .parse()
        .unwrap();
    let mut group = c.benchmark_group("handle");
    for (name, headers) in &keys {
        rt.block_on(get(&api, headers, &detail));
        group.bench_function(format!("GET hosting detail, {name}"), |b| {
            b.to_async(&rt).iter(|| get(&api, headers, &detail));
        });
    }
    let page: Uri = "/api/v1/hostings?limit=50".parse().unwrap();
    rt.block_on(get(&api, &keys[0].1, &page));
    group.bench_function("GET page of 50, scope all", |b| {
        b.to_async(&rt).iter(|| get(&api, &keys[0].1, &page));
    });
    group.finish();
}

/// Page and detail cost through `handle` with 2,000 and 200,000 hostings on
/// 20 nodes: what the cluster size adds, free of the socket and of the
/// scheduling noise an HTTP client on a 2-core machine brings.
fn cluster_size(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("cluster_size");
    for hostings in [2_000usize, 200_000] {
        let spec = SimClusterSpec {
            nodes: 20,
            hostings,
            ..SimClusterSpec::default()
        };
        let (api, headers) = api_with_admin(&rt, &spec);
        let last = hostings - 1;
        let requests = [
            ("first list page", "/api/v1/hostings?limit=50".to_owned()),
            (
                "list page half-way",
                "/api/v1/hostings?limit=50&cursor=h8000000000000000".to_owned(),
            ),
            (
                "state-filtered page",
                "/api/v1/hostings?limit=50&state=suspended".to_owned(),
            ),
            (
                "owner-filtered page",
                "/api/v1/hostings?limit=50&owner=cust-03".to_owned(),
            ),
            (
                "owner and label-filtered page",
                "/api/v1/hostings?limit=50&owner=cust-03&label=region=eu".to_owned(),
            ),
            (
                "detail by id",
                format!("/api/v1/hostings/{}", spec.hosting_id(last)),
            ),
            (
                "detail by domain",
                format!("/api/v1/hostings/site-{:04}.example.test", last + 1),
            ),
        ];
        for (name, path) in requests {
            let uri: Uri = path.parse().unwrap();
            rt.block_on(get(&api, &headers, &uri)); // the locator learns it, as in use
            group.bench_function(BenchmarkId::new(name, hostings), |b| {
                b.to_async(&rt).iter(|| get(&api, &headers, &uri));
            });
        }
    }
    group.finish();
}

/// A page of 50 asked of every node of a 200,000-hosting cluster (20
/// nodes), unfiltered and filtered by owner, plan and labels: what the
/// nodes' indexes keep a customer's page from costing (no page cache: the
/// nodes answer every time).
fn owner_filter(c: &mut Criterion) {
    let rt = runtime();
    let spec = SimClusterSpec {
        nodes: 20,
        hostings: 200_000,
        ..SimClusterSpec::default()
    };
    let cluster = cluster(&spec);
    let owner = |name: &str| Some(name.parse().unwrap());
    let queries = [
        ("unfiltered", ListQuery::default()),
        (
            "owner filter",
            ListQuery {
                owner: owner("cust-03"),
                ..ListQuery::default()
            },
        ),
        (
            "owner-scoped key",
            ListQuery {
                only_owner: owner("cust-03"),
                ..ListQuery::default()
            },
        ),
        (
            "owner, plan and label",
            ListQuery {
                owner: owner("cust-03"),
                plan: Some("pro".parse().unwrap()),
                labels: vec!["region=eu".parse().unwrap()],
                ..ListQuery::default()
            },
        ),
    ];
    let mut group = c.benchmark_group("owner_filter");
    for (name, mut query) in queries {
        query.limit = 50;
        group.bench_function(format!("page of 50 over 200,000, {name}"), |b| {
            b.to_async(&rt).iter(|| cluster.list(None, &query));
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    key_resolution,
    authorization,
    route_matching,
    response_rendering,
    handle_request,
    cluster_size,
    owner_filter
);
criterion_main!(benches);
