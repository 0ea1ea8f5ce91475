//! Provisioning and operations: create, placement, idempotency, config
//! PATCHes, backups, restores, certificates, WordPress, renew-all.

use super::prelude::*;

async fn create(s: &TestServer, key: &str, body: Value) -> Reply {
    s.call_json(Method::POST, "/api/v1/hostings", key, &body)
        .await
}

async fn create_with_idempotency(s: &TestServer, idempotency_key: &str, body: &Value) -> Reply {
    let request = s
        .client
        .post(format!("{}/api/v1/hostings", s.base))
        .bearer_auth(&s.keys.admin)
        .header("idempotency-key", idempotency_key)
        .json(body);
    s.send(request).await
}

async fn total_hostings(s: &TestServer) -> u64 {
    let list = s.get("/api/v1/hostings?limit=1", &s.keys.admin).await;
    list.body["total"].as_u64().unwrap()
}

/// Runs a job-starting request and waits for the job; returns the job.
async fn run_job(
    s: &TestServer,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = s
        .client
        .request(method, format!("{}{path}", s.base))
        .bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let reply = s.send(request).await;
    reply.assert_ok_for(path, 202);
    let job_id = reply.body["job_id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/jobs/{job_id}").as_str())
    );
    s.wait_for_job(&job_id, key).await
}

/// Case: Create answers 201 with the hosting and its location.
pub async fn create_answers_201_with_the_hosting_and_its_location(s: &TestServer) {
    let reply = create(
        s,
        &s.keys.admin,
        json!({"domain": "Shop.Example.TEST", "aliases": ["www.shop.example.test"], "database": true, "php_version": "8.2"}),
    )
    .await;
    reply.assert_ok(201);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/hostings/{id}").as_str())
    );
    assert_eq!(reply.body["domain"], "shop.example.test");
    assert_eq!(reply.body["aliases"], json!(["www.shop.example.test"]));
    assert_eq!(reply.body["php_version"], "8.2");
    assert_eq!(reply.body["kind"], "php");
    assert_eq!(reply.body["database"], true);
    assert_eq!(reply.body["state"], "active");
    assert_timestamp(&reply.body["created_at"]);
    let fetched = s
        .get(&format!("/api/v1/hostings/{id}"), &s.keys.admin)
        .await;
    assert_eq!(fetched.body, reply.body);
    let by_alias = s
        .get("/api/v1/hostings/www.shop.example.test", &s.keys.admin)
        .await;
    assert_eq!(by_alias.body["id"], id.as_str());
    assert_eq!(total_hostings(s).await, 31);

    let proxy = create(
        s,
        &s.keys.admin,
        json!({"domain": "api.example.test", "kind": "reverse_proxy", "proxy_upstream_url": "http://10.0.0.7:8080/"}),
    )
    .await;
    proxy.assert_ok(201);
    assert_eq!(proxy.body["php_version"], Value::Null);
    assert_eq!(proxy.body["proxy_upstream_url"], "http://10.0.0.7:8080/");
    let static_site = create(
        s,
        &s.keys.admin,
        json!({"domain": "static.example.test", "kind": "static", "system_user": "static_site"}),
    )
    .await;
    static_site.assert_ok(201);
    assert_eq!(static_site.body["system_user"], "static_site");
}

/// Case: Default placement spreads over the least loaded nodes.
pub async fn default_placement_spreads_over_the_least_loaded_nodes(s: &TestServer) {
    // The fixture holds 10 hostings per node; ties go to the node enrolled first.
    let mut placed = Vec::new();
    for n in 0..4 {
        let reply = create(
            s,
            &s.keys.admin,
            json!({"domain": format!("spread{n}.example.test")}),
        )
        .await;
        reply.assert_ok(201);
        placed.push(reply.body["node_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(placed, ["node-1", "node-2", "node-3", "node-1"]);
}

/// Case: Explicit placement and draining nodes.
pub async fn explicit_placement_and_draining_nodes(s: &TestServer) {
    let reply = create(
        s,
        &s.keys.admin,
        json!({"domain": "pinned.example.test", "node": "node-3"}),
    )
    .await;
    reply.assert_ok(201);
    assert_eq!(reply.body["node_id"], "node-3");
    let unknown = create(
        s,
        &s.keys.admin,
        json!({"domain": "lost.example.test", "node": "node-9"}),
    )
    .await;
    unknown.assert_error(400, "validation");
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("node")
    );

    s.nodes[0].set_draining(true);
    let nodes = s.get("/api/v1/nodes", &s.keys.admin).await;
    assert_eq!(nodes.body["items"][0]["draining"], true);
    for n in 0..3 {
        let reply = create(
            s,
            &s.keys.admin,
            json!({"domain": format!("drain{n}.example.test")}),
        )
        .await;
        reply.assert_ok(201);
        assert_ne!(reply.body["node_id"], "node-1");
    }
    create(
        s,
        &s.keys.admin,
        json!({"domain": "forced.example.test", "node": "node-1"}),
    )
    .await
    .assert_error(409, "conflict");
    for node in &s.nodes {
        node.set_draining(true);
    }
    create(s, &s.keys.admin, json!({"domain": "nowhere.example.test"}))
        .await
        .assert_error(409, "conflict");
}

/// Case: Create validation names the field.
pub async fn create_validation_names_the_field(s: &TestServer) {
    let long_domain = format!("{}.example.test", vec!["a".repeat(60); 5].join("."));
    let cases = [
        (json!({"domain": "not a domain"}), "domain"),
        (json!({"domain": "nodot"}), "domain"),
        (json!({"domain": long_domain}), "domain"),
        (json!({"domain": "bücher.example.test"}), "domain"),
        (json!({"domain": "-bad.example.test"}), "domain"),
        (
            json!({"domain": "ok.example.test", "php_version": "5.6"}),
            "php_version",
        ),
        (json!({"domain": "ok.example.test", "kind": "java"}), "kind"),
        (
            json!({"domain": "ok.example.test", "kind": "reverse_proxy"}),
            "proxy_upstream_url",
        ),
        (
            json!({"domain": "ok.example.test", "proxy_upstream_url": "http://x.example.test"}),
            "proxy_upstream_url",
        ),
        (
            json!({"domain": "ok.example.test", "kind": "reverse_proxy", "proxy_upstream_url": "nope"}),
            "proxy_upstream_url",
        ),
        (
            json!({"domain": "ok.example.test", "kind": "static", "php_version": "8.3"}),
            "php_version",
        ),
        (
            json!({"domain": "ok.example.test", "aliases": ["ok.example.test"]}),
            "aliases",
        ),
        (
            json!({"domain": "ok.example.test", "aliases": ["bad alias"]}),
            "aliases",
        ),
        (
            json!({"domain": "ok.example.test", "system_user": "Root!"}),
            "system_user",
        ),
        (
            json!({"domain": "ok.example.test", "database": "yes"}),
            "database",
        ),
        (
            json!({"domain": "ok.example.test", "node": "bad/node"}),
            "node",
        ),
        (
            json!({"domain": "ok.example.test", "colour": "blue"}),
            "colour",
        ),
        (json!({"aliases": []}), "domain"),
        (json!("ok.example.test"), "JSON"),
    ];
    for (body, needle) in cases {
        let reply = create(s, &s.keys.admin, body.clone()).await;
        reply.assert_error_for(&body.to_string(), 400, "validation");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    assert_eq!(
        total_hostings(s).await,
        30,
        "a refused create made a hosting"
    );
}

/// Case: Create of an existing name is a conflict.
pub async fn create_of_an_existing_name_is_a_conflict(s: &TestServer) {
    for body in [
        json!({"domain": domain(0)}),
        json!({"domain": domain(0).to_uppercase()}),
        json!({"domain": format!("www.{}", domain(1))}),
        json!({"domain": "fresh.example.test", "aliases": [domain(2)]}),
    ] {
        create(s, &s.keys.admin, body.clone())
            .await
            .assert_error_for(&body.to_string(), 409, "conflict");
    }
    assert_eq!(total_hostings(s).await, 30);
}

fn body_of_once() -> Value {
    json!({"domain": "once.example.test"})
}

/// Case: Idempotent create replays and never creates twice.
pub async fn idempotent_create_replays_and_never_creates_twice(s: &TestServer) {
    let body = body_of_once();
    let first = create_with_idempotency(s, "retry-1", &body).await;
    first.assert_ok(201);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = create_with_idempotency(s, "retry-1", &body).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.text, first.text);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(total_hostings(s).await, 31);
    // The audit log tells the create from its replay.
    let id = first.body["id"].as_str().unwrap();
    let events = s
        .get(
            &format!("/api/v1/audit?action=hosting.create&target={id}"),
            &s.keys.admin,
        )
        .await;
    let details: Vec<&Value> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["detail"])
        .collect();
    assert_eq!(details.len(), 2, "{}", events.text);
    assert!(details.contains(&&Value::Null), "{}", events.text);
    assert!(
        details
            .iter()
            .any(|d| d.as_str().is_some_and(|d| d.contains("replay"))),
        "{}",
        events.text
    );

    create_with_idempotency(s, "retry-1", &json!({"domain": "twice.example.test"}))
        .await
        .assert_error(409, "conflict");
    // Another key is another request; here it collides on the domain.
    create_with_idempotency(s, "retry-2", &body)
        .await
        .assert_error(409, "conflict");

    // Ten concurrent retries of one request: exactly one hosting.
    let body = json!({"domain": "burst.example.test"});
    let replies =
        futures::future::join_all((0..10).map(|_| create_with_idempotency(s, "burst", &body)))
            .await;
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(!created.is_empty());
    assert!(
        created
            .iter()
            .all(|r| r.body["id"] == created[0].body["id"])
    );
    for reply in &replies {
        assert!(reply.status == 201 || reply.status == 409, "{}", reply.text);
    }
    assert_eq!(total_hostings(s).await, 32);

    // A replay never points at a hosting that is gone: once it is deleted,
    // the key is spent (409), and a new key creates it again.
    let once = first.body["id"].as_str().unwrap().to_owned();
    let deleted = s
        .call(
            Method::DELETE,
            &format!("/api/v1/hostings/{once}"),
            Some(&s.keys.admin),
        )
        .await;
    deleted.assert_ok(202);
    s.wait_for_job(deleted.body["job_id"].as_str().unwrap(), &s.keys.admin)
        .await;
    let stale = create_with_idempotency(s, "retry-1", &body_of_once()).await;
    stale.assert_error(409, "conflict");
    assert!(stale.text.contains("deleted"), "{}", stale.text);
    create_with_idempotency(s, "retry-3", &body_of_once())
        .await
        .assert_ok(201);

    for bad in ["", &"k".repeat(256), "tab\there"] {
        let request = s
            .client
            .post(format!("{}/api/v1/hostings", s.base))
            .bearer_auth(&s.keys.admin)
            .header("idempotency-key", bad)
            .json(&json!({"domain": "badkey.example.test"}));
        s.send(request)
            .await
            .assert_error_for(bad, 400, "validation");
    }
}

/// Case: Idempotent job posts start one job.
pub async fn idempotent_job_posts_start_one_job(s: &TestServer) {
    let path = format!("{}/api/v1/hostings/{}/cert", s.base, hosting_id(3));
    let send = |body: Value| {
        s.client
            .post(&path)
            .bearer_auth(&s.keys.admin)
            .header("idempotency-key", "cert-1")
            .json(&body)
    };
    let first = s.send(send(json!({"staging": true}))).await;
    first.assert_ok(202);
    let second = s.send(send(json!({"staging": true}))).await;
    assert_eq!(second.status, 202);
    assert_eq!(second.body["job_id"], first.body["job_id"]);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    s.send(send(json!({"staging": false})))
        .await
        .assert_error(409, "conflict");
}

/// Case: A tenants new hosting is granted to it.
pub async fn a_tenants_new_hosting_is_granted_to_it(s: &TestServer) {
    let tenant = s
        .mint("tenant", CapSet::all(), grants(&[(1, GrantLevel::View)]))
        .await;
    let reply = create(s, &tenant, json!({"domain": "mine.example.test"})).await;
    reply.assert_ok(201);
    let id = reply.body["id"].as_str().unwrap();
    s.get(&format!("/api/v1/hostings/{id}"), &tenant)
        .await
        .assert_ok(200);
    s.call(
        Method::POST,
        "/api/v1/hostings/mine.example.test/suspend",
        Some(&tenant),
    )
    .await
    .assert_ok(200);
    let me = s.get("/api/v1/me", &tenant).await;
    let granted = me.body["scope"]["grants"].as_array().unwrap();
    assert!(
        granted.contains(&json!({"hosting": id, "level": "manage"})),
        "{}",
        me.text
    );
    let list = s.get("/api/v1/hostings", &tenant).await;
    assert_eq!(list.body["total"], 2);
}

/// Case: Config patches answer the new value.
pub async fn config_patches_answer_the_new_value(s: &TestServer) {
    let base = format!("/api/v1/hostings/{}", domain(4));
    let admin = s.keys.admin.as_str();
    let patch = |setting: &str, body: Value| {
        let path = format!("{base}/{setting}");
        async move { s.call_json(Method::PATCH, &path, admin, &body).await }
    };
    let limits = patch("limits", json!({"memory_mb": 2048, "cpu_percent": 200})).await;
    limits.assert_ok(200);
    assert_eq!(
        limits.body,
        json!({"cpu_percent": 200, "memory_mb": 2048, "max_processes": 32})
    );
    let php = patch("php", json!({"version": "8.4"})).await;
    assert_eq!(php.body, json!({"php_version": "8.4"}));
    let vhost = patch(
        "vhost",
        json!({"force_https": true, "basic_auth": {"user": "staff", "password": "hunter2-hunter2"},
               "redirect": {"to": "https://elsewhere.example.test/", "status": 302},
               "cache": {"enabled": true, "ttl_seconds": 600}}),
    )
    .await;
    vhost.assert_ok(200);
    assert_eq!(
        vhost.body["basic_auth"],
        json!({"user": "staff", "password_set": true})
    );
    assert_eq!(vhost.body["redirect"]["status"], 302);
    assert!(!vhost.text.contains("hunter2"), "the password was echoed");
    let off = patch("vhost", json!({"redirect": null, "maintenance": true})).await;
    assert_eq!(off.body["redirect"], Value::Null);
    assert_eq!(off.body["force_https"], true);
    let expiry = patch("expiry", json!({"expires_at": "2999-05-01T00:00:00Z"})).await;
    assert_eq!(expiry.body, json!({"expires_at": "2999-05-01T00:00:00Z"}));
    let cleared = patch("expiry", json!({"expires_at": null})).await;
    assert_eq!(cleared.body, json!({"expires_at": null}));
    let quota = patch(
        "quota",
        json!({"disk_soft_mb": 1000, "disk_hard_mb": 2000, "bandwidth_hard_gb": 50, "action_on_breach": "suspend"}),
    )
    .await;
    quota.assert_ok(200);
    assert_eq!(quota.body["disk_hard_mb"], 2000);
    assert_eq!(quota.body["action_on_breach"], "suspend");

    let detail = s.get(&base, admin).await;
    assert_eq!(detail.body["limits"], limits.body);
    assert_eq!(detail.body["php_version"], "8.4");
    assert_eq!(detail.body["vhost"]["maintenance"], true);
    assert_eq!(detail.body["quota"], quota.body);
    assert!(!detail.text.contains("hunter2"));
}

/// Case: Config patches refuse bad values.
pub async fn config_patches_refuse_bad_values(s: &TestServer) {
    let base = format!("/api/v1/hostings/{}", hosting_id(4));
    let cases = [
        ("limits", json!({"memory_mb": 1}), 400, "memory_mb"),
        ("limits", json!({"cpu_percent": "lots"}), 400, "cpu_percent"),
        ("limits", json!({"max_processes": -1}), 400, "max_processes"),
        ("limits", json!({"disk": 1}), 400, "disk"),
        ("php", json!({"version": "7.4"}), 400, "version"),
        ("php", json!({}), 400, "version"),
        (
            "vhost",
            json!({"basic_auth": {"user": "x"}}),
            400,
            "password",
        ),
        (
            "vhost",
            json!({"basic_auth": {"user": "x", "password": "short"}}),
            400,
            "password",
        ),
        (
            "vhost",
            json!({"redirect": {"to": "javascript:alert(1)"}}),
            400,
            "redirect",
        ),
        (
            "vhost",
            json!({"cache": {"enabled": true}}),
            400,
            "ttl_seconds",
        ),
        ("expiry", json!({}), 400, "expires_at"),
        (
            "expiry",
            json!({"expires_at": "2001-01-01T00:00:00Z"}),
            400,
            "expires_at",
        ),
        ("expiry", json!({"expires_at": 12}), 400, "expires_at"),
        (
            "quota",
            json!({"disk_soft_mb": 5, "disk_hard_mb": 1}),
            400,
            "disk_soft_mb",
        ),
        (
            "quota",
            json!({"action_on_breach": "explode"}),
            400,
            "action_on_breach",
        ),
        ("quota", json!({"memory_mb": 0}), 400, "memory_mb"),
    ];
    for (setting, body, status, needle) in cases {
        let reply = s
            .call_json(
                Method::PATCH,
                &format!("{base}/{setting}"),
                &s.keys.admin,
                &body,
            )
            .await;
        reply.assert_error_for(&format!("{setting} {body}"), status, "validation");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{setting} {body}: {message}");
    }
    for raw in ["", "{", "[]", "null"] {
        let request = s
            .client
            .patch(format!("{}{base}/limits", s.base))
            .bearer_auth(&s.keys.admin)
            .body(raw);
        s.send(request)
            .await
            .assert_error_for(raw, 400, "validation");
    }
    // PHP on a static hosting collides with what the hosting is.
    let static_site = s
        .call_json(
            Method::POST,
            "/api/v1/hostings",
            &s.keys.admin,
            &json!({"domain": "plain.example.test", "kind": "static"}),
        )
        .await;
    static_site.assert_ok(201);
    s.call_json(
        Method::PATCH,
        "/api/v1/hostings/plain.example.test/php",
        &s.keys.admin,
        &json!({"version": "8.3"}),
    )
    .await
    .assert_error(409, "conflict");
    // Nothing changed on the refused hosting.
    let detail = s.get(&base, &s.keys.admin).await;
    assert_eq!(detail.body["limits"]["memory_mb"], 512);
}

/// Case: Backup then restore through jobs.
pub async fn backup_then_restore_through_jobs(s: &TestServer) {
    let base = format!("/api/v1/hostings/{}", domain(6));
    let job = run_job(
        s,
        &s.keys.admin,
        Method::POST,
        &format!("{base}/backup"),
        None,
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["kind"], "hosting.backup");
    let backup_id = job["result"]["backup_id"].as_str().unwrap().to_owned();
    let backups = s.get(&format!("{base}/backups"), &s.keys.admin).await;
    backups.assert_ok(200);
    let items = backups.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], backup_id.as_str(), "newest first");
    assert_eq!(
        sorted_keys(&items[0]),
        ["created_at", "id", "includes_database", "size_bytes"]
    );

    let job = run_job(
        s,
        &s.keys.admin,
        Method::POST,
        &format!("{base}/restore"),
        Some(json!({"backup_id": backup_id, "mode": "db_only"})),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        job["result"],
        json!({"backup_id": backup_id, "mode": "db_only"})
    );

    // Refused before any job starts.
    let restore = format!("{base}/restore");
    for (body, status, code) in [
        (json!({"backup_id": "bk-404"}), 404, "not_found"),
        (json!({}), 400, "validation"),
        (json!({"backup_id": "a/b"}), 400, "validation"),
        (
            json!({"backup_id": "initial", "mode": "everything"}),
            400,
            "validation",
        ),
    ] {
        s.call_json(Method::POST, &restore, &s.keys.admin, &body)
            .await
            .assert_error_for(&body.to_string(), status, code);
    }
    s.call_json(
        Method::POST,
        &format!("{base}/backup"),
        &s.keys.admin,
        &json!({"full": true}),
    )
    .await
    .assert_error(400, "validation");
}

/// Case: Certificate job reports the certificate.
pub async fn certificate_job_reports_the_certificate(s: &TestServer) {
    let path = format!("/api/v1/hostings/{}/cert", hosting_id(7));
    let job = run_job(
        s,
        &s.keys.admin,
        Method::POST,
        &path,
        Some(json!({"staging": true})),
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["staging"], true);
    assert_timestamp(&job["result"]["expires_at"]);
    let plain = run_job(s, &s.keys.admin, Method::POST, &path, None).await;
    assert_eq!(plain["result"]["staging"], false);
    s.call_json(
        Method::POST,
        &path,
        &s.keys.admin,
        &json!({"staging": "yes"}),
    )
    .await
    .assert_error(400, "validation");
}

/// Case: Wordpress install never shows the password.
pub async fn wordpress_install_never_shows_the_password(s: &TestServer) {
    let path = format!("/api/v1/hostings/{}/wp/install", domain(8));
    let job = run_job(s, &s.keys.admin, Method::POST, &path, Some(wp_body())).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert!(
        !job.to_string().contains(WP_PASSWORD),
        "the password is in the job"
    );
    // Installing twice fails in the job, not silently.
    let again = run_job(s, &s.keys.admin, Method::POST, &path, Some(wp_body())).await;
    assert_eq!(again["state"], "failed");
    assert!(
        again["error"]
            .as_str()
            .unwrap()
            .contains("already installed")
    );
    for (field, value) in [
        ("site_url", json!("not a url")),
        ("title", json!("")),
        ("admin_user", json!("has space")),
        ("admin_email", json!("nobody")),
        ("admin_password", json!("short")),
        ("locale", json!("klingon")),
    ] {
        let mut body = wp_body();
        body[field] = value;
        let reply = s.call_json(Method::POST, &path, &s.keys.admin, &body).await;
        reply.assert_error_for(field, 400, "validation");
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field)
        );
        assert!(!reply.text.contains(WP_PASSWORD));
    }
}

/// Case: Renew all sweeps every node and reports each.
pub async fn renew_all_sweeps_every_node_and_reports_each(s: &TestServer) {
    let job = run_job(
        s,
        &s.keys.admin,
        Method::POST,
        "/api/v1/certs/renew-all",
        None,
    )
    .await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["target"], "cluster");
    let succeeded: Vec<&str> = job["result"]["succeeded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert_eq!(succeeded, ["node-1", "node-2", "node-3"]);
    assert_eq!(job["result"]["failed"], json!([]));

    s.nodes[1].set_fault(SimFault::Fail);
    let job = run_job(
        s,
        &s.keys.admin,
        Method::POST,
        "/api/v1/certs/renew-all",
        None,
    )
    .await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["result"]["succeeded"].as_array().unwrap().len(), 2);
    assert_eq!(job["result"]["failed"][0]["node"], "node-2");
    assert!(job["error"].as_str().unwrap().contains("1 of 3"));

    // A grant on a hosting of the failing node cannot be checked now:
    // the tenant holds one on a hosting of a healthy node.
    let tenant = s
        .mint("tenant", CapSet::all(), grants(&[(0, GrantLevel::Manage)]))
        .await;
    s.call(Method::POST, "/api/v1/certs/renew-all", Some(&tenant))
        .await
        .assert_error(403, "forbidden");
}
