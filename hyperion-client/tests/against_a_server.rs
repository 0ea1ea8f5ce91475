//! The client against a real server on loopback (the axum adapter's own
//! `serve`, over the simulated cluster): every kind of answer read into its
//! type, refusals typed, and the retry rules of the contract.

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use hyperion_client::{AuditFilter, Client, Error, HostingFilter, RetryPolicy};
use hyperion_core::sim::SimClusterSpec;
use hyperion_core::{AuditActor, CapSet, Cluster, HyperionApi, JobState, NewKey, Node};
use hyperion_testkit::faults::{Fault, Faults, FaultyNode, NodeCall};
use hyperion_testkit::fixtures::{ApiWithAdmin, admin_owner, api_with_admin, api_with_admin_on};

/// Serves `api` on a loopback port; answers its base URL.
async fn serve(api: HyperionApi) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(hyperion_axum::serve(
        listener,
        hyperion_axum::router(api),
        hyperion_axum::ServeOptions::default(),
        std::future::pending(),
    ));
    base
}

async fn fixture() -> (ApiWithAdmin, Client) {
    let fixture = api_with_admin(SimClusterSpec::default().build_nodes()).await;
    let base = serve(fixture.api.clone()).await;
    let client = Client::builder(base)
        .key(fixture.admin_key.clone())
        .build()
        .unwrap();
    (fixture, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_answer_is_read_into_its_type() {
    let (_fixture, client) = fixture().await;
    assert_eq!(client.me().await.unwrap().key.label, "admin");
    assert_eq!(client.nodes().await.unwrap().items.len(), 3);
    let all: Vec<_> = client
        .hostings(HostingFilter {
            limit: Some(7),
            ..HostingFilter::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 30, "five pages of 7 and one of 2, followed");
    assert!(all.windows(2).all(|pair| pair[0].id < pair[1].id));
    let pages: Vec<_> = client
        .hosting_pages(HostingFilter {
            limit: Some(7),
            ..HostingFilter::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 5);
    assert!(pages.iter().all(|page| !page.partial));
    let suspended: Vec<_> = client
        .hostings(HostingFilter {
            state: Some("suspended".into()),
            ..HostingFilter::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(suspended.len(), 3);

    let detail = client.hosting("SITE-0002.example.test").await.unwrap();
    assert_eq!(detail.summary.domain.as_str(), "site-0002.example.test");
    let id = detail.summary.id.to_string();
    assert!(!client.backups(&id).await.unwrap().items.is_empty());
    assert_eq!(
        client.suspend(&id).await.unwrap().state.as_str(),
        "suspended"
    );
    assert_eq!(client.resume(&id).await.unwrap().state.as_str(), "active");

    let started = client.start_backup(&id).await.unwrap();
    let mut heard = 0;
    let job = client
        .wait_job(started.job_id.as_str(), Duration::from_secs(30), |_| {
            heard += 1
        })
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert!(heard >= 1);
    let deleted = client.delete_hosting(&id, false, true).await.unwrap();
    let job = client
        .wait_job(deleted.job_id.as_str(), Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Succeeded);

    let keys = client.keys_page(Some(10), None).await.unwrap();
    let mine = &keys.items[0];
    assert_eq!(client.key(mine.id.as_str()).await.unwrap(), *mine);
    let audit = client
        .audit_page(&AuditFilter {
            action: Some("hosting.suspend".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(client.openapi().await.unwrap()["openapi"], "3.1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_typed_with_their_request_id() {
    let (fixture, client) = fixture().await;
    match client.hosting("missing.example.test").await {
        Err(Error::Api {
            status,
            code,
            request_id,
            ..
        }) => {
            assert_eq!((status, code.as_str()), (404, "not_found"));
            assert!(request_id.starts_with("req_"), "{request_id}");
        }
        other => panic!("{other:?}"),
    }
    let base = serve(fixture.api.clone()).await;
    let stranger = Client::builder(base)
        .key(format!("hyp_{}", "x".repeat(43)))
        .build()
        .unwrap();
    let refused = stranger.me().await.unwrap_err();
    assert_eq!(
        (refused.status(), refused.code()),
        (Some(401), Some(hyperion_wire::ErrorCode::Unauthorized))
    );
    assert!(
        !format!("{stranger:?}").contains("xxxx"),
        "Debug never shows the key"
    );
    assert!(matches!(
        Client::builder("ftp://example.test").build(),
        Err(Error::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_its_retry_after_and_goes_on() {
    let (fixture, client) = fixture().await;
    let mut limited = NewKey::new("limited", admin_owner(), CapSet::all());
    limited.rate_limit_per_min = 60;
    let actor = AuditActor::new("test").unwrap();
    let limited = fixture.api.mint_key(&actor, limited).await.unwrap();
    let base = client.base().to_owned();
    let patient = Client::builder(&base)
        .key(limited.secret.expose())
        .build()
        .unwrap();
    let impatient = Client::builder(&base)
        .key(limited.secret.expose())
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    // The burst spent, a client without retries is refused...
    let mut refused = None;
    for _ in 0..80 {
        if let Err(err) = impatient.me().await {
            refused = Some(err);
            break;
        }
    }
    let refused = refused.expect("a 429 within the burst and a half");
    assert_eq!(
        (refused.status(), refused.code()),
        (Some(429), Some(hyperion_wire::ErrorCode::RateLimited))
    );
    // ...while one that follows Retry-After gets through.
    patient.me().await.unwrap();
}

/// One faulty node behind an API with a short deadline.
async fn faulty() -> (Client, Arc<Faults>) {
    let spec = SimClusterSpec {
        nodes: 1,
        ..SimClusterSpec::default()
    };
    let node = FaultyNode::new(spec.build_nodes().remove(0));
    let faults = node.faults();
    let cluster = Cluster::new(vec![Arc::new(node) as Arc<dyn Node>])
        .with_deadline(Duration::from_millis(300));
    let fixture = api_with_admin_on(cluster).await;
    let base = serve(fixture.api.clone()).await;
    let client = Client::builder(base)
        .key(fixture.admin_key.clone())
        .build()
        .unwrap();
    (client, faults)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_start_is_retried_through_502s_and_starts_once() {
    let (client, faults) = faulty().await;
    faults.set(NodeCall::FindHosting, Fault::Fail);
    let healer = Arc::clone(&faults);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        healer.clear();
    });
    let started = client.start_backup("site-0001.example.test").await.unwrap();
    let job = client
        .wait_job(started.job_id.as_str(), Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert!(faults.injected() >= 1, "the first attempts met the fault");
    assert_eq!(
        faults.calls(NodeCall::Backup),
        1,
        "one backup, whatever the retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsafe_call_is_not_repeated_after_a_502() {
    let (client, faults) = faulty().await;
    faults.set(NodeCall::FindHosting, Fault::Fail);
    let refused = client.suspend("site-0001.example.test").await.unwrap_err();
    assert_eq!(refused.status(), Some(502));
    assert_eq!(faults.calls(NodeCall::FindHosting), 1, "sent once");
    // A read is repeated, up to the policy's attempts.
    let _ = client.hosting("site-0001.example.test").await.unwrap_err();
    assert_eq!(faults.calls(NodeCall::FindHosting), 1 + 5);
}

/// Whether `path` (below `/api/v1`) is one `pattern` stands for.
fn fits(pattern: &str, path: &str) -> bool {
    let (pattern, path): (Vec<_>, Vec<_>) =
        (pattern.split('/').collect(), path.split('/').collect());
    pattern.len() == path.len()
        && pattern
            .iter()
            .zip(&path)
            .all(|(want, got)| want.starts_with('{') || want == got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_the_kit_declares_has_a_method() {
    use hyperion_core::model::{
        CreateHostingRequest, ExpiryPatch, LabelsPatch, LimitsPatch, OwnerPatch, PhpPatch,
        PhpVersion, PlanPatch, RestoreRequest, SecretString, VhostPatch, WpInstallRequest,
    };
    // The server notes every request that reaches it; the client then
    // calls each of its methods once, whatever the answer.
    let fixture = api_with_admin(SimClusterSpec::default().build_nodes()).await;
    let reached = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let noted = reached.clone();
    let router = hyperion_axum::router(fixture.api.clone()).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            noted.lock().unwrap().push((
                request.method().to_string(),
                request.uri().path().to_owned(),
            ));
            next.run(request)
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(hyperion_axum::serve(
        listener,
        router,
        hyperion_axum::ServeOptions::default(),
        std::future::pending(),
    ));
    let client = Client::builder(base)
        .key(fixture.admin_key.clone())
        .retry(RetryPolicy::never())
        .build()
        .unwrap();

    let hosting = "site-0001.example.test";
    let _ = client.openapi().await;
    let _ = client.docs().await;
    let _ = client.me().await;
    let _ = client.nodes().await;
    let _ = client.hostings_page(&HostingFilter::default(), None).await;
    let create = CreateHostingRequest::new("every.example.test".parse().unwrap());
    let _ = client.create_hosting(&create).await;
    let _ = client.hosting(hosting).await;
    let _ = client.suspend(hosting).await;
    let _ = client.resume(hosting).await;
    let _ = client.set_limits(hosting, &LimitsPatch::default()).await;
    let _ = client
        .set_php(
            hosting,
            &PhpPatch {
                version: PhpVersion::V8_3,
            },
        )
        .await;
    let _ = client.set_vhost(hosting, &VhostPatch::default()).await;
    let _ = client
        .set_expiry(
            hosting,
            &ExpiryPatch {
                expires_at: Some(None),
            },
        )
        .await;
    let _ = client.set_quota(hosting, &Default::default()).await;
    let to_owner = OwnerPatch {
        owner: Some(Some("cust-09".parse().unwrap())),
    };
    assert_eq!(
        client.set_owner(hosting, &to_owner).await.unwrap().owner,
        Some("cust-09".parse().unwrap())
    );
    let plan = PlanPatch {
        plan: Some(Some("gold".parse().unwrap())),
    };
    let _ = client.set_plan(hosting, &plan).await;
    let labels: LabelsPatch =
        serde_json::from_value(serde_json::json!({"labels": {"tier": "gold"}})).unwrap();
    let set = client.set_labels(hosting, &labels).await.unwrap();
    assert_eq!(
        set.labels.get(&"tier".parse().unwrap()).map(|v| v.as_str()),
        Some("gold")
    );
    let of_owner = client
        .hostings_page(
            &HostingFilter {
                owner: Some("cust-09".into()),
                labels: vec!["tier=gold".into()],
                ..HostingFilter::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(of_owner.total, 1, "the filters reach the server");
    let _ = client.start_backup(hosting).await;
    let _ = client.backups(hosting).await;
    let restore = RestoreRequest {
        backup_id: "bkp_none".to_owned().try_into().unwrap(),
        mode: Default::default(),
    };
    let _ = client.start_restore(hosting, &restore).await;
    let _ = client.issue_certificate(hosting, true).await;
    let install = WpInstallRequest {
        site_url: "https://every.example.test".into(),
        title: "Every".into(),
        admin_user: "editor".into(),
        admin_email: "editor@every.example.test".into(),
        admin_password: SecretString::new("a-long-password-1"),
        locale: None,
    };
    let _ = client.install_wordpress(hosting, &install).await;
    let _ = client.renew_all_certificates().await;
    let _ = client.job("job_none").await;
    let mint = hyperion_core::MintRequest {
        label: "every".into(),
        caps: vec!["hosting_view".into()],
        scope: serde_json::json!("all"),
        expires_at: None,
        ip_allowlist: Vec::new(),
        rate_limit_per_min: 0,
    };
    let _ = client.mint_key(&mint).await;
    let _ = client.keys_page(None, None).await;
    let _ = client.key("key_none").await;
    let _ = client.revoke_key("key_none").await;
    let _ = client.audit_page(&AuditFilter::default()).await;
    let _ = client.delete_hosting(hosting, false, false).await;

    let reached = reached.lock().unwrap();
    for endpoint in hyperion_wire::endpoints() {
        assert!(
            reached
                .iter()
                .any(|(method, path)| method == endpoint.method
                    && path
                        .strip_prefix("/api/v1")
                        .is_some_and(|path| fits(endpoint.path, path))),
            "no method of the client calls {} {} ({})",
            endpoint.method,
            endpoint.path,
            endpoint.operation_id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_bodies_are_the_core_types_the_server_reads() {
    use hyperion_core::model::{
        CreateHostingRequest, ExpiryPatch, LimitsPatch, PhpPatch, PhpVersion, QuotaPatch,
        RestoreRequest, SecretString, VhostPatch, WpInstallRequest,
    };
    let (_fixture, client) = fixture().await;
    let mut create = CreateHostingRequest::new("typed.example.test".parse().unwrap());
    create.aliases = vec!["www.typed.example.test".parse().unwrap()];
    create.database = true;
    let created = client.create_hosting(&create).await.unwrap();
    let id = created.summary.id.to_string();
    assert_eq!(created.aliases, create.aliases);

    let limits = client
        .set_limits(
            &id,
            &LimitsPatch {
                max_processes: Some(64),
                ..LimitsPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(limits.max_processes, 64);
    let php = client
        .set_php(
            &id,
            &PhpPatch {
                version: PhpVersion::ALL[0],
            },
        )
        .await
        .unwrap();
    assert_eq!(php.php_version, Some(PhpVersion::ALL[0]));
    let vhost = client
        .set_vhost(
            &id,
            &VhostPatch {
                maintenance: Some(true),
                // `Some(None)` is sent as `null`: basic auth off.
                basic_auth: Some(None),
                ..VhostPatch::default()
            },
        )
        .await
        .unwrap();
    assert!(vhost.maintenance);
    let expiry = client
        .set_expiry(
            &id,
            &ExpiryPatch {
                expires_at: Some(None),
            },
        )
        .await
        .unwrap();
    assert_eq!(expiry.expires_at, None);
    let quota = client
        .set_quota(
            &id,
            &QuotaPatch {
                disk_hard_mb: Some(Some(10_240)),
                ..QuotaPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(quota.disk_hard_mb, Some(10_240));

    let backups = client.backups(&id).await;
    let restore_from = match backups {
        Ok(list) if !list.items.is_empty() => list.items[0].id.clone(),
        _ => {
            let started = client.start_backup(&id).await.unwrap();
            let job = client
                .wait_job(started.job_id.as_str(), Duration::from_secs(30), |_| {})
                .await
                .unwrap();
            serde_json::from_value(job.result.unwrap()["backup_id"].clone()).unwrap()
        }
    };
    let restore = RestoreRequest {
        backup_id: restore_from,
        mode: Default::default(),
    };
    let started = client.start_restore(&id, &restore).await.unwrap();
    let job = client
        .wait_job(started.job_id.as_str(), Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");

    let install = WpInstallRequest {
        site_url: "https://typed.example.test".into(),
        title: "Typed".into(),
        admin_user: "editor".into(),
        admin_email: "editor@typed.example.test".into(),
        admin_password: SecretString::new("a-long-password-1"),
        locale: None,
    };
    let started = client.install_wordpress(&id, &install).await.unwrap();
    let job = client
        .wait_job(started.job_id.as_str(), Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Succeeded, "{job:?}");
    assert!(
        !serde_json::to_string(&job)
            .unwrap()
            .contains("a-long-password-1")
    );

    let cert = client.issue_certificate(&id, true).await.unwrap();
    client
        .wait_job(cert.job_id.as_str(), Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    let sweep = client.renew_all_certificates().await.unwrap();
    client
        .wait_job(sweep.job_id.as_str(), Duration::from_secs(30), |_| {})
        .await
        .unwrap();

    let minted = client
        .mint_key(&hyperion_core::MintRequest {
            label: "from the client".into(),
            caps: vec!["hosting_view".into()],
            scope: serde_json::json!("all"),
            expires_at: None,
            ip_allowlist: Vec::new(),
            rate_limit_per_min: 0,
        })
        .await
        .unwrap();
    let viewer = Client::builder(client.base())
        .key(minted.key.clone())
        .build()
        .unwrap();
    assert_eq!(viewer.me().await.unwrap().key.label, "from the client");
    let revoked = client.revoke_key(minted.view.id.as_str()).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(viewer.me().await.unwrap_err().status(), Some(401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_retried_through_502s_makes_one_hosting() {
    use hyperion_core::model::CreateHostingRequest;
    let (client, faults) = faulty().await;
    faults.set(NodeCall::Create, Fault::Fail);
    let healer = Arc::clone(&faults);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        healer.clear();
    });
    let request = CreateHostingRequest::new("retried.example.test".parse().unwrap());
    let created = client.create_hosting(&request).await.unwrap();
    assert!(faults.injected() >= 1, "the first attempts met the fault");
    let named: Vec<_> = client
        .hostings(HostingFilter {
            q: Some("retried".into()),
            ..HostingFilter::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(named.len(), 1, "one hosting, whatever the retries");
    assert_eq!(named[0].id, created.summary.id);
}
