//! The cases. Each takes a running server and asserts what a client sees.

mod delegation;
mod hardening;
mod provisioning;
pub use delegation::*;
pub use hardening::*;
pub use provisioning::*;

use hyperion::keys::{GrantLevel, KeyScope};
use hyperion::{CapSet, Capability, NewKey};
use reqwest::Method;
use serde_json::{Value, json};

use super::harness::{Reply, SPEC, SUSPENDED, TestServer, domain, hosting_id};

/// One call of the authorization matrix.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    cap: Option<Capability>,
    ok: u16,
}

impl Call {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    async fn send(&self, s: &TestServer, authorization: Option<&str>) -> Reply {
        let mut request = s
            .client
            .request(self.method.clone(), format!("{}{}", s.base, self.path));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        s.send(request).await
    }

    async fn send_with_key(&self, s: &TestServer, key: &str) -> Reply {
        self.send(s, Some(&format!("Bearer {key}"))).await
    }
}

/// Every endpoint, each on its own hosting or key so that they do not
/// interfere, with the capability it needs and its success status.
async fn matrix(s: &TestServer) -> Vec<Call> {
    let job = s.start_job(28).await;
    let viewer_key = s.key_id("viewer").await;
    let spare_key = s.key_id("spare").await;
    let call = |method: Method, path: String, cap: Option<Capability>, ok: u16| Call {
        method,
        path: format!("/api/v1{path}"),
        body: None,
        cap,
        ok,
    };
    use Capability::*;
    let with_body = |mut call: Call, body: Value| {
        call.body = Some(body);
        call
    };
    let config = |setting: &str| format!("/hostings/{}/{setting}", hosting_id(4));
    let ops = |op: &str| format!("/hostings/{}/{op}", hosting_id(5));
    vec![
        call(Method::GET, "/me".into(), None, 200),
        call(Method::GET, "/hostings".into(), Some(HostingView), 200),
        with_body(
            call(Method::POST, "/hostings".into(), Some(HostingCreate), 201),
            json!({"domain": "matrix.example.test"}),
        ),
        call(
            Method::GET,
            format!("/hostings/{}", hosting_id(1)),
            Some(HostingView),
            200,
        ),
        call(
            Method::GET,
            format!("/hostings/{}", domain(2)),
            Some(HostingView),
            200,
        ),
        call(
            Method::POST,
            format!("/hostings/{}/suspend", hosting_id(0)),
            Some(HostingSuspend),
            200,
        ),
        call(
            Method::POST,
            format!("/hostings/{}/resume", domain(3)),
            Some(HostingSuspend),
            200,
        ),
        call(
            Method::DELETE,
            format!("/hostings/{}", hosting_id(29)),
            Some(HostingDelete),
            202,
        ),
        with_body(
            call(
                Method::PATCH,
                config("limits"),
                Some(HostingEditConfig),
                200,
            ),
            json!({"memory_mb": 1024}),
        ),
        with_body(
            call(Method::PATCH, config("php"), Some(HostingEditConfig), 200),
            json!({"version": "8.2"}),
        ),
        with_body(
            call(Method::PATCH, config("vhost"), Some(HostingEditConfig), 200),
            json!({"force_https": true}),
        ),
        with_body(
            call(
                Method::PATCH,
                config("expiry"),
                Some(HostingEditConfig),
                200,
            ),
            json!({"expires_at": null}),
        ),
        with_body(
            call(Method::PATCH, config("quota"), Some(HostingEditConfig), 200),
            json!({"memory_mb": 4096}),
        ),
        call(Method::POST, ops("backup"), Some(BackupRun), 202),
        call(Method::GET, ops("backups"), Some(BackupRun), 200),
        with_body(
            call(Method::POST, ops("restore"), Some(BackupRestore), 202),
            json!({"backup_id": "initial"}),
        ),
        with_body(
            call(Method::POST, ops("cert"), Some(CertManage), 202),
            json!({"staging": true}),
        ),
        with_body(
            call(Method::POST, ops("wp/install"), Some(WpManage), 202),
            wp_body(),
        ),
        call(
            Method::POST,
            "/certs/renew-all".into(),
            Some(CertManage),
            202,
        ),
        call(Method::GET, "/nodes".into(), Some(NodesView), 200),
        call(Method::GET, format!("/jobs/{job}"), None, 200),
        with_body(
            call(Method::POST, "/keys".into(), Some(ApiKeysManage), 201),
            json!({"label": "matrix", "caps": [], "scope": "all"}),
        ),
        call(Method::GET, "/keys".into(), Some(ApiKeysManage), 200),
        call(
            Method::GET,
            format!("/keys/{viewer_key}"),
            Some(ApiKeysManage),
            200,
        ),
        call(
            Method::DELETE,
            format!("/keys/{spare_key}"),
            Some(ApiKeysManage),
            200,
        ),
    ]
}

/// A valid WordPress install body.
fn wp_body() -> Value {
    json!({
        "site_url": "https://blog.example.test",
        "title": "My blog",
        "admin_user": "editor",
        "admin_email": "editor@example.test",
        "admin_password": WP_PASSWORD,
    })
}

/// The WordPress admin password of [`wp_body`]: it must never come back.
pub const WP_PASSWORD: &str = "pw-never-shown-7f3a";

async fn all_refused_with_401(s: &TestServer, key: &str) {
    for call in matrix(s).await {
        call.send_with_key(s, key)
            .await
            .assert_error_for(&call.label(), 401, "unauthorized");
    }
}

pub async fn no_key_is_401_everywhere(s: &TestServer) {
    for call in matrix(s).await {
        let reply = call.send(s, None).await;
        reply.assert_error_for(&call.label(), 401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
}

pub async fn malformed_authorization_is_401_everywhere(s: &TestServer) {
    let admin = &s.keys.admin;
    let malformed = [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Basic {admin}"),
        admin.clone(),
        format!("Bearer {admin}x"),
        format!("Bearer {}", &admin[..admin.len() - 1]),
        format!("Bearer key_{}", &admin[4..]),
        format!("Bearer {}", "hyp_".repeat(2000)),
    ];
    for call in matrix(s).await {
        for header in &malformed {
            call.send(s, Some(header))
                .await
                .assert_error_for(&call.label(), 401, "unauthorized");
        }
    }
}

pub async fn unknown_key_is_401_everywhere(s: &TestServer) {
    let never_stored = NewKey::new("ghost", "admin".parse().unwrap(), CapSet::all()).mint();
    all_refused_with_401(s, never_stored.secret.expose()).await;
}

pub async fn revoked_key_is_401_everywhere(s: &TestServer) {
    all_refused_with_401(s, &s.keys.revoked).await;
}

pub async fn expired_key_is_401_everywhere(s: &TestServer) {
    all_refused_with_401(s, &s.keys.expired).await;
}

pub async fn key_lacking_capabilities_is_403_where_one_is_needed(s: &TestServer) {
    for call in matrix(s).await {
        let reply = call.send_with_key(s, &s.keys.powerless).await;
        match call.cap {
            Some(cap) => {
                reply.assert_error_for(&call.label(), 403, "forbidden");
                let message = reply.body["error"]["message"].as_str().unwrap();
                assert!(message.contains(cap.as_str()), "{message}");
            }
            // Reading a job needs a capability unless the key started it.
            None if call.path.starts_with("/api/v1/jobs/") => {
                reply.assert_error_for(&call.label(), 404, "not_found")
            }
            None => reply.assert_ok_for(&call.label(), call.ok),
        }
    }
}

pub async fn demoted_owner_shrinks_the_key_at_once(s: &TestServer) {
    let me = s.get("/api/v1/me", &s.keys.demotable).await;
    assert_eq!(
        me.body["caps"].as_array().unwrap().len(),
        Capability::ALL.len()
    );
    s.owners.set(
        "demotable".parse().unwrap(),
        [Capability::HostingView].into_iter().collect(),
    );
    let me = s.get("/api/v1/me", &s.keys.demotable).await;
    assert_eq!(me.body["caps"], json!(["hosting_view"]));
    for call in matrix(s).await {
        let reply = call.send_with_key(s, &s.keys.demotable).await;
        match call.cap {
            None | Some(Capability::HostingView) => reply.assert_ok_for(&call.label(), call.ok),
            Some(_) => reply.assert_error_for(&call.label(), 403, "forbidden"),
        }
    }
}

pub async fn removed_owner_kills_the_key_at_once(s: &TestServer) {
    s.get("/api/v1/me", &s.keys.demotable).await.assert_ok(200);
    s.owners.remove(&"demotable".parse().unwrap());
    all_refused_with_401(s, &s.keys.demotable).await;
}

pub async fn scope_all_key_reaches_every_endpoint(s: &TestServer) {
    for call in matrix(s).await {
        call.send_with_key(s, &s.keys.admin)
            .await
            .assert_ok_for(&call.label(), call.ok);
    }
}

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort_unstable();
    keys
}

fn assert_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|err| panic!("{text}: {err}"));
}

pub async fn me_shows_the_key_and_its_effective_rights(s: &TestServer) {
    let reply = s.get("/api/v1/me", &s.keys.admin).await;
    reply.assert_ok(200);
    assert_eq!(
        sorted_keys(&reply.body),
        ["caps", "expires_at", "key", "scope"]
    );
    assert_eq!(
        sorted_keys(&reply.body["key"]),
        ["id", "label", "owner", "prefix"]
    );
    let names: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(reply.body["caps"], json!(names));
    assert_eq!(reply.body["scope"], "all");
    assert_eq!(reply.body["expires_at"], Value::Null);
    assert_eq!(reply.body["key"]["label"], "admin");
    assert_eq!(reply.body["key"]["owner"], "admin");
    let prefix = reply.body["key"]["prefix"].as_str().unwrap();
    assert_eq!(prefix.len(), 12);
    assert!(s.keys.admin.starts_with(prefix));
    assert!(
        !reply.text.contains(&s.keys.admin[12..]),
        "the raw key leaked"
    );
    let viewer = s.get("/api/v1/me", &s.keys.viewer).await;
    assert_eq!(viewer.body["caps"], json!(["hosting_view"]));
}

const SUMMARY_FIELDS: [&str; 6] = [
    "created_at",
    "domain",
    "id",
    "node_id",
    "php_version",
    "state",
];

pub async fn hosting_list_has_the_documented_shape(s: &TestServer) {
    let reply = s.get("/api/v1/hostings?limit=5", &s.keys.admin).await;
    reply.assert_ok(200);
    assert_eq!(
        sorted_keys(&reply.body),
        [
            "items",
            "next_cursor",
            "partial",
            "total",
            "unavailable_nodes"
        ]
    );
    assert_eq!(reply.body["total"], 30);
    assert_eq!(reply.body["unavailable_nodes"], json!([]));
    assert_eq!(reply.body["partial"], false);
    let items = reply.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for item in items {
        assert_eq!(sorted_keys(item), SUMMARY_FIELDS);
        assert_timestamp(&item["created_at"]);
    }
    assert_eq!(reply.body["next_cursor"], items[4]["id"]);
}

pub async fn hosting_detail_has_the_documented_shape(s: &TestServer) {
    let reply = s
        .get(
            &format!("/api/v1/hostings/{}", hosting_id(0)),
            &s.keys.admin,
        )
        .await;
    reply.assert_ok(200);
    let mut expected: Vec<&str> = SUMMARY_FIELDS.to_vec();
    expected.extend([
        "aliases",
        "database",
        "expires_at",
        "kind",
        "limits",
        "proxy_upstream_url",
        "quota",
        "root_dir",
        "suspended_by",
        "system_user",
        "vhost",
    ]);
    expected.sort_unstable();
    assert_eq!(sorted_keys(&reply.body), expected);
    let body = &reply.body;
    assert_eq!(body["id"], hosting_id(0).as_str());
    assert_eq!(body["domain"], domain(0));
    assert_eq!(body["node_id"], "node-1");
    assert_eq!(body["state"], "active");
    assert_eq!(body["kind"], "php");
    assert_eq!(body["aliases"], json!([format!("www.{}", domain(0))]));
    assert_eq!(
        sorted_keys(&body["limits"]),
        ["cpu_percent", "max_processes", "memory_mb"]
    );
    assert_eq!(
        sorted_keys(&body["vhost"]),
        [
            "basic_auth",
            "cache",
            "force_https",
            "maintenance",
            "redirect"
        ]
    );
    assert_eq!(
        sorted_keys(&body["quota"]),
        [
            "action_on_breach",
            "bandwidth_hard_gb",
            "bandwidth_soft_gb",
            "disk_hard_mb",
            "disk_soft_mb",
            "memory_mb"
        ]
    );
}

pub async fn nodes_list_every_node(s: &TestServer) {
    let reply = s.get("/api/v1/nodes", &s.keys.admin).await;
    reply.assert_ok(200);
    assert_eq!(sorted_keys(&reply.body), ["items"]);
    let items = reply.body["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|n| n["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["node-1", "node-2", "node-3"]);
    for node in items {
        assert_eq!(
            sorted_keys(node),
            ["draining", "hostings", "hostname", "id", "status"]
        );
        assert_eq!(node["hostings"], 10);
        assert_eq!(node["status"], "online");
        assert_eq!(node["draining"], false);
    }
}

fn ids_of(reply_body: &Value) -> Vec<String> {
    reply_body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn pagination_covers_every_hosting_once_in_order(s: &TestServer) {
    let mut expected: Vec<String> = (0..SPEC.hostings)
        .map(|i| hosting_id(i).to_string())
        .collect();
    expected.sort_unstable();
    let mut seen = Vec::new();
    let mut path = "/api/v1/hostings?limit=7".to_owned();
    let mut pages = 0;
    loop {
        let reply = s.get(&path, &s.keys.admin).await;
        reply.assert_ok(200);
        assert_eq!(reply.body["total"], 30);
        seen.extend(ids_of(&reply.body));
        pages += 1;
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/hostings?limit=7&cursor={cursor}"),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 5);
    assert_eq!(seen, expected);
}

pub async fn page_size_defaults_and_bounds(s: &TestServer) {
    let all = s.get("/api/v1/hostings", &s.keys.admin).await;
    assert_eq!(ids_of(&all.body).len(), 30);
    assert_eq!(all.body["next_cursor"], Value::Null);
    let one = s.get("/api/v1/hostings?limit=1", &s.keys.admin).await;
    assert_eq!(ids_of(&one.body).len(), 1);
    assert_eq!(
        one.body["next_cursor"].as_str(),
        Some(ids_of(&one.body)[0].as_str())
    );
    s.get("/api/v1/hostings?limit=200", &s.keys.admin)
        .await
        .assert_ok(200);
    for bad in ["0", "201", "-1", "abc", "1.5", "99999999999999999999999"] {
        s.get(&format!("/api/v1/hostings?limit={bad}"), &s.keys.admin)
            .await
            .assert_error_for(bad, 400, "validation");
    }
}

pub async fn malformed_cursor_is_a_validation_error(s: &TestServer) {
    for bad in ["%FF%FE", "a.b", "a%2Fb", &"x".repeat(65)] {
        s.get(&format!("/api/v1/hostings?cursor={bad}"), &s.keys.admin)
            .await
            .assert_error_for(bad, 400, "validation");
    }
    let past_the_end = s.get("/api/v1/hostings?cursor=zzzz", &s.keys.admin).await;
    assert_eq!(past_the_end.body["items"], json!([]));
    assert_eq!(past_the_end.body["next_cursor"], Value::Null);
    assert_eq!(past_the_end.body["total"], 30);
}

pub async fn filter_by_state(s: &TestServer) {
    let reply = s
        .get("/api/v1/hostings?state=suspended", &s.keys.admin)
        .await;
    assert_eq!(reply.body["total"], 3);
    let mut expected: Vec<String> = SUSPENDED
        .iter()
        .map(|i| hosting_id(*i).to_string())
        .collect();
    expected.sort_unstable();
    assert_eq!(ids_of(&reply.body), expected);
    let active = s
        .get("/api/v1/hostings?state=active&limit=200", &s.keys.admin)
        .await;
    assert_eq!(active.body["total"], 27);
    assert!(
        active.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["state"] == "active")
    );
}

pub async fn filter_by_node(s: &TestServer) {
    let reply = s.get("/api/v1/hostings?node=node-2", &s.keys.admin).await;
    assert_eq!(reply.body["total"], 10);
    assert!(
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["node_id"] == "node-2")
    );
    let both = s
        .get(
            "/api/v1/hostings?node=node-2&state=suspended",
            &s.keys.admin,
        )
        .await;
    // Hostings 3, 13 and 23 sit on nodes 1, 2 and 3 (round-robin).
    assert_eq!(both.body["total"], 1);
    assert_eq!(ids_of(&both.body), [hosting_id(13).to_string()]);
}

pub async fn filter_by_domain_substring_ignores_case(s: &TestServer) {
    let reply = s.get("/api/v1/hostings?q=SITE-001", &s.keys.admin).await;
    assert_eq!(reply.body["total"], 10);
    assert!(
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["domain"].as_str().unwrap().contains("site-001"))
    );
    let none = s.get("/api/v1/hostings?q=nomatch", &s.keys.admin).await;
    assert_eq!(none.body["total"], 0);
    assert_eq!(none.body["items"], json!([]));
}

pub async fn malformed_filters_are_validation_errors(s: &TestServer) {
    for query in [
        "state=paused",
        "node=node-9",
        "node=bad%2Fnode",
        "limit=1&limit=2",
        &format!("q={}", "a".repeat(300)),
    ] {
        s.get(&format!("/api/v1/hostings?{query}"), &s.keys.admin)
            .await
            .assert_error_for(query, 400, "validation");
    }
}

pub async fn id_domain_and_alias_address_the_same_hosting(s: &TestServer) {
    let by_id = s
        .get(
            &format!("/api/v1/hostings/{}", hosting_id(4)),
            &s.keys.admin,
        )
        .await;
    by_id.assert_ok(200);
    for selector in [
        domain(4),
        domain(4).to_uppercase(),
        format!("www.{}", domain(4)),
    ] {
        let reply = s
            .get(&format!("/api/v1/hostings/{selector}"), &s.keys.admin)
            .await;
        assert_eq!(reply.body, by_id.body, "{selector}");
    }
}

pub async fn missing_hosting_is_404_by_id_and_by_domain(s: &TestServer) {
    for selector in ["hnothere", "nothere.example.test"] {
        for (method, suffix) in [
            (Method::GET, ""),
            (Method::POST, "/suspend"),
            (Method::POST, "/resume"),
            (Method::DELETE, ""),
        ] {
            let path = format!("/api/v1/hostings/{selector}{suffix}");
            s.call(method, &path, Some(&s.keys.admin))
                .await
                .assert_error_for(&path, 404, "not_found");
        }
    }
}

pub async fn malformed_selectors_are_validation_errors(s: &TestServer) {
    for selector in [
        "bad..domain",
        "a_b.example",
        "%FF",
        "a%2Fb",
        "b%C3%BCcher.example",
        "a%00b",
        &"x".repeat(65),
    ] {
        s.get(&format!("/api/v1/hostings/{selector}"), &s.keys.admin)
            .await
            .assert_error_for(selector, 400, "validation");
    }
}

pub async fn suspend_and_resume_are_idempotent(s: &TestServer) {
    let id = hosting_id(0);
    let expect_state = |reply: &super::harness::Reply, state: &str| {
        reply.assert_ok(200);
        assert_eq!(reply.body, json!({"id": id.as_str(), "state": state}));
    };
    let suspend = format!("/api/v1/hostings/{id}/suspend");
    let resume = format!("/api/v1/hostings/{}/resume", domain(0));
    let admin = Some(s.keys.admin.as_str());
    expect_state(&s.call(Method::POST, &suspend, admin).await, "suspended");
    expect_state(&s.call(Method::POST, &suspend, admin).await, "suspended");
    let detail = s
        .get(&format!("/api/v1/hostings/{id}"), &s.keys.admin)
        .await;
    assert_eq!(detail.body["state"], "suspended");
    expect_state(&s.call(Method::POST, &resume, admin).await, "active");
    expect_state(&s.call(Method::POST, &resume, admin).await, "active");
    let detail = s
        .get(&format!("/api/v1/hostings/{id}"), &s.keys.admin)
        .await;
    assert_eq!(detail.body["state"], "active");
}

pub async fn delete_runs_a_job_to_success_then_the_hosting_is_gone(s: &TestServer) {
    let id = hosting_id(5);
    let reply = s
        .call(
            Method::DELETE,
            &format!(
                "/api/v1/hostings/{}?keep_user=true&keep_database",
                domain(5)
            ),
            Some(&s.keys.admin),
        )
        .await;
    reply.assert_ok(202);
    assert_eq!(sorted_keys(&reply.body), ["job_id", "status"]);
    assert_eq!(reply.body["status"], "accepted");
    let job_id = reply.body["job_id"].as_str().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/jobs/{job_id}").as_str())
    );

    let job = s.wait_for_job(job_id, &s.keys.admin).await;
    assert_eq!(
        sorted_keys(&job),
        [
            "actor",
            "created_at",
            "error",
            "finished_at",
            "id",
            "kind",
            "progress",
            "result",
            "state",
            "step",
            "target",
            "updated_at"
        ]
    );
    assert_eq!(job["id"], job_id);
    assert_eq!(job["state"], "succeeded");
    assert_eq!(job["progress"], 100);
    assert_eq!(job["kind"], "hosting.delete");
    assert_eq!(job["target"], id.as_str());
    assert_eq!(job["actor"], "apikey:admin");
    assert_eq!(job["error"], Value::Null);
    for field in ["created_at", "updated_at", "finished_at"] {
        assert_timestamp(&job[field]);
    }

    for selector in [id.to_string(), domain(5)] {
        s.get(&format!("/api/v1/hostings/{selector}"), &s.keys.admin)
            .await
            .assert_error(404, "not_found");
    }
    let list = s.get("/api/v1/hostings?limit=200", &s.keys.admin).await;
    assert_eq!(list.body["total"], 29);
    assert!(!ids_of(&list.body).contains(&id.to_string()));
    s.call(
        Method::DELETE,
        &format!("/api/v1/hostings/{id}"),
        Some(&s.keys.admin),
    )
    .await
    .assert_error(404, "not_found");
}

pub async fn delete_flags_are_validated(s: &TestServer) {
    for query in [
        "keep_user=maybe",
        "keep_database=2",
        "keep_user=true&keep_user=false",
    ] {
        let path = format!("/api/v1/hostings/{}?{query}", hosting_id(6));
        s.call(Method::DELETE, &path, Some(&s.keys.admin))
            .await
            .assert_error_for(query, 400, "validation");
    }
    // Nothing was started: the hosting is still there.
    s.get(
        &format!("/api/v1/hostings/{}", hosting_id(6)),
        &s.keys.admin,
    )
    .await
    .assert_ok(200);
}

pub async fn unknown_or_malformed_job_ids_are_404(s: &TestServer) {
    for id in ["job_doesnotexist", "xyz", "job_", "job_a.b"] {
        s.get(&format!("/api/v1/jobs/{id}"), &s.keys.admin)
            .await
            .assert_error_for(id, 404, "not_found");
    }
}

pub async fn unknown_routes_answer_a_json_404(s: &TestServer) {
    for path in [
        "/api/v1",
        "/api/v1/",
        "/api/v1/nope",
        "/api/v1/hostings/x/y/z",
        "/api/v1/me/extra",
    ] {
        for key in [None, Some(s.keys.admin.as_str())] {
            s.call(Method::GET, path, key)
                .await
                .assert_error_for(path, 404, "not_found");
        }
    }
}

pub async fn wrong_method_answers_405_with_allow(s: &TestServer) {
    let cases = [
        (
            Method::PUT,
            "/api/v1/hostings".to_owned(),
            "GET, HEAD, POST",
        ),
        (
            Method::PATCH,
            format!("/api/v1/hostings/{}", hosting_id(0)),
            "GET, HEAD, DELETE",
        ),
        (
            Method::GET,
            format!("/api/v1/hostings/{}/suspend", hosting_id(0)),
            "POST",
        ),
        (Method::DELETE, "/api/v1/me".to_owned(), "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let reply = s.call(method, &path, Some(&s.keys.admin)).await;
        reply.assert_error_for(&path, 405, "method_not_allowed");
        assert_eq!(reply.header("allow"), Some(allow), "{path}");
    }
}

/// HEAD on any GET route answers as GET would, without the body: the same
/// status and headers (length included), errors too.
pub async fn head_answers_as_get_without_a_body(s: &TestServer) {
    let admin = &s.keys.admin;
    for path in [
        "/api/v1/me".to_owned(),
        "/api/v1/hostings?limit=3".to_owned(),
        format!("/api/v1/hostings/{}", domain(0)),
        "/api/v1/hostings/nowhere.example.test".to_owned(),
        "/api/v1/openapi.json".to_owned(),
    ] {
        let get = s.call(Method::GET, &path, Some(admin)).await;
        let head = s.call(Method::HEAD, &path, Some(admin)).await;
        assert_eq!(head.status, get.status, "{path}");
        assert!(head.text.is_empty(), "{path}: {}", head.text);
        for name in ["content-type", "content-length", "cache-control"] {
            assert_eq!(head.header(name), get.header(name), "{path}: {name}");
        }
        assert!(head.header("x-request-id").is_some(), "{path}");
    }
    // Keys are checked as for GET; mutations are not reachable by HEAD.
    let refused = s.call(Method::HEAD, "/api/v1/me", None).await;
    assert_eq!(refused.status, 401);
    let post_only = s
        .call(
            Method::HEAD,
            &format!("/api/v1/hostings/{}/suspend", hosting_id(0)),
            Some(admin),
        )
        .await;
    assert_eq!(post_only.status, 405);
    assert_eq!(post_only.header("allow"), Some("POST"));
}

pub async fn request_id_is_echoed_when_sane_and_generated_otherwise(s: &TestServer) {
    // The server always uses an id of its own; a sane client id is echoed beside it.
    let request = s
        .client
        .get(format!("{}/api/v1/nope", s.base))
        .header("x-request-id", "trace-42.a_b");
    let reply = s.send(request).await;
    reply.assert_error(404, "not_found");
    assert!(reply.header("x-request-id").unwrap().starts_with("req_"));
    assert_eq!(reply.header("x-client-request-id"), Some("trace-42.a_b"));

    for insane in ["has space", &"x".repeat(200), "<script>"] {
        let request = s
            .client
            .get(format!("{}/api/v1/me", s.base))
            .bearer_auth(&s.keys.admin)
            .header("x-request-id", insane);
        let reply = s.send(request).await;
        reply.assert_ok(200);
        let generated = reply.header("x-request-id").unwrap();
        assert!(generated.starts_with("req_"), "{generated}");
        assert_eq!(reply.header("x-client-request-id"), None);
    }
    let a = s.get("/api/v1/me", &s.keys.admin).await;
    let b = s.get("/api/v1/me", &s.keys.admin).await;
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}

/// A client cannot give its events the id of another request: the audit's
/// request id is the server's; the client's is kept apart.
pub async fn audit_request_ids_are_the_servers(s: &TestServer) {
    let real = s
        .call(
            Method::POST,
            &format!("/api/v1/hostings/{}/suspend", hosting_id(0)),
            Some(&s.keys.admin),
        )
        .await;
    real.assert_ok(200);
    let real_id = real.header("x-request-id").unwrap().to_owned();
    // An anonymous request claiming the real request's id.
    let forged = s
        .client
        .post(format!(
            "{}/api/v1/hostings/{}/resume",
            s.base,
            hosting_id(0)
        ))
        .header("x-request-id", real_id.as_str());
    s.send(forged).await.assert_error(401, "unauthorized");
    let audit = s.get("/api/v1/audit?limit=200", &s.keys.admin).await;
    let events = audit.body["items"].as_array().unwrap();
    let with_real_id: Vec<&Value> = events
        .iter()
        .filter(|e| e["request_id"] == real_id.as_str())
        .collect();
    assert_eq!(with_real_id.len(), 1, "{}", audit.text);
    assert_eq!(with_real_id[0]["action"], "hosting.suspend");
    let anonymous = events
        .iter()
        .find(|e| e["actor"] == "anonymous" && e["action"] == "hosting.resume")
        .expect("the refusal is audited");
    assert_ne!(anonymous["request_id"], real_id.as_str());
    assert_eq!(anonymous["client_request_id"], real_id.as_str());
}

// ---------------------------------------------------------------------------
// Tenant keys: per-hosting grants.

/// A grants scope over fixture hostings, by id.
fn grants(pairs: &[(usize, GrantLevel)]) -> KeyScope {
    KeyScope::Grants(
        pairs
            .iter()
            .map(|(i, level)| (hosting_id(*i), *level))
            .collect(),
    )
}

/// What a tenant key kind may do, for the hosting-endpoint matrix.
#[derive(Clone, Copy, Debug)]
enum Tenant {
    ScopeAll,
    ManageGrant,
    ViewGrant,
    NoGrant,
    GrantWithoutCapability,
}

/// What an endpoint on one hosting asks of the key's scope.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Any grant.
    Read,
    /// A manage grant.
    Manage,
    /// Scope all: an operator setting (limits, expiry, quota).
    Operator,
}

/// Every endpoint on one hosting `selector`, with what it needs of the scope.
/// Deletion comes last: it ends the hosting.
fn hosting_calls(selector: &str) -> Vec<(Call, Needs)> {
    let call = |method: Method, suffix: &str, body: Option<Value>, manages: bool, ok: u16| {
        let needs = match (manages, suffix) {
            (_, "/limits" | "/expiry" | "/quota") => Needs::Operator,
            (true, _) => Needs::Manage,
            (false, _) => Needs::Read,
        };
        let call = Call {
            method,
            path: format!("/api/v1/hostings/{selector}{suffix}"),
            body,
            cap: None,
            ok,
        };
        (call, needs)
    };
    vec![
        call(Method::GET, "", None, false, 200),
        call(Method::GET, "/backups", None, false, 200),
        call(
            Method::PATCH,
            "/limits",
            Some(json!({"max_processes": 64})),
            true,
            200,
        ),
        call(
            Method::PATCH,
            "/php",
            Some(json!({"version": "8.4"})),
            true,
            200,
        ),
        call(
            Method::PATCH,
            "/vhost",
            Some(json!({"maintenance": true})),
            true,
            200,
        ),
        call(
            Method::PATCH,
            "/expiry",
            Some(json!({"expires_at": "2999-01-01T00:00:00Z"})),
            true,
            200,
        ),
        call(
            Method::PATCH,
            "/quota",
            Some(json!({"disk_hard_mb": 10240})),
            true,
            200,
        ),
        call(Method::POST, "/backup", None, true, 202),
        call(
            Method::POST,
            "/restore",
            Some(json!({"backup_id": "initial"})),
            true,
            202,
        ),
        call(Method::POST, "/cert", None, true, 202),
        call(Method::POST, "/wp/install", Some(wp_body()), true, 202),
        call(Method::POST, "/suspend", None, true, 200),
        call(Method::POST, "/resume", None, true, 200),
        call(Method::DELETE, "", None, true, 202),
    ]
}

/// Runs every hosting endpoint, by id and by domain, on a hosting the kind
/// is set up for and on one that does not exist, and checks each answer.
async fn tenant_matrix(s: &TestServer, kind: Tenant) {
    // Each (kind, addressing) pair works on its own active hosting: deletes
    // must not collide, and an operator's suspension is not a tenant's to undo.
    let base = [10, 15, 17, 19, 21][kind as usize];
    for (index, by_domain) in [(base, false), (base + 1, true)] {
        let (caps, scope) = match kind {
            Tenant::ScopeAll => (CapSet::all(), KeyScope::All),
            Tenant::ManageGrant => (CapSet::all(), grants(&[(index, GrantLevel::Manage)])),
            Tenant::ViewGrant => (CapSet::all(), grants(&[(index, GrantLevel::View)])),
            Tenant::NoGrant => (CapSet::all(), grants(&[(0, GrantLevel::Manage)])),
            Tenant::GrantWithoutCapability => {
                (CapSet::empty(), grants(&[(index, GrantLevel::Manage)]))
            }
        };
        let key = s.mint(&format!("{kind:?}"), caps, scope).await;
        let existing = if by_domain {
            domain(index)
        } else {
            hosting_id(index).to_string()
        };
        let missing = if by_domain {
            "missing.example.test"
        } else {
            "hmissing"
        };
        for (selector, exists) in [(existing.as_str(), true), (missing, false)] {
            for (call, needs) in hosting_calls(selector) {
                let reply = call.send_with_key(s, &key).await;
                let what = format!("{kind:?}: {}", call.label());
                match (kind, exists, needs) {
                    (Tenant::GrantWithoutCapability, _, _) => {
                        reply.assert_error_for(&what, 403, "forbidden")
                    }
                    // Decided before any look-up, so it says nothing about existence.
                    (
                        Tenant::ManageGrant | Tenant::ViewGrant | Tenant::NoGrant,
                        _,
                        Needs::Operator,
                    ) => reply.assert_error_for(&what, 403, "forbidden"),
                    (_, false, _) | (Tenant::NoGrant, _, _) => {
                        reply.assert_error_for(&what, 404, "not_found")
                    }
                    (Tenant::ViewGrant, true, Needs::Manage) => {
                        reply.assert_error_for(&what, 403, "forbidden")
                    }
                    _ => reply.assert_ok_for(&what, call.ok),
                }
            }
        }
    }
}

pub async fn tenant_matrix_scope_all(s: &TestServer) {
    tenant_matrix(s, Tenant::ScopeAll).await;
}

pub async fn tenant_matrix_manage_grant(s: &TestServer) {
    tenant_matrix(s, Tenant::ManageGrant).await;
}

pub async fn tenant_matrix_view_grant(s: &TestServer) {
    tenant_matrix(s, Tenant::ViewGrant).await;
}

pub async fn tenant_matrix_no_grant_is_indistinguishable_from_missing(s: &TestServer) {
    tenant_matrix(s, Tenant::NoGrant).await;
    // Word for word the same answer as for a hosting that does not exist.
    let key = s
        .mint("probe", CapSet::all(), grants(&[(0, GrantLevel::Manage)]))
        .await;
    let hidden = s
        .get(&format!("/api/v1/hostings/{}", domain(5)), &key)
        .await;
    let absent = s.get("/api/v1/hostings/absent.example.test", &key).await;
    assert_eq!(hidden.status, absent.status);
    assert_eq!(
        hidden.body["error"]["message"],
        absent.body["error"]["message"]
    );
}

pub async fn tenant_matrix_grant_without_capability(s: &TestServer) {
    tenant_matrix(s, Tenant::GrantWithoutCapability).await;
}

pub async fn tenant_list_shows_only_granted_hostings(s: &TestServer) {
    let granted = [1, 2, 13, 25];
    let key = s
        .mint(
            "lister",
            CapSet::all(),
            grants(&[
                (1, GrantLevel::View),
                (2, GrantLevel::Manage),
                (13, GrantLevel::View),
                (25, GrantLevel::Manage),
            ]),
        )
        .await;
    let mut expected: Vec<String> = granted.iter().map(|i| hosting_id(*i).to_string()).collect();
    expected.sort_unstable();
    let all = s.get("/api/v1/hostings", &key).await;
    assert_eq!(all.body["total"], 4);
    assert_eq!(ids_of(&all.body), expected);

    let mut seen = Vec::new();
    let mut path = "/api/v1/hostings?limit=1".to_owned();
    for _ in 0..10 {
        let page = s.get(&path, &key).await;
        assert_eq!(page.body["total"], 4);
        seen.extend(ids_of(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/hostings?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);

    let suspended = s.get("/api/v1/hostings?state=suspended", &key).await;
    assert_eq!(suspended.body["total"], 1);
    assert_eq!(ids_of(&suspended.body), [hosting_id(13).to_string()]);
    // Node names never reach a tenant: the node filter answers the same for
    // a node that exists and one that does not.
    let on_node_2 = s.get("/api/v1/hostings?node=node-2", &key).await;
    let on_node_9 = s.get("/api/v1/hostings?node=node-9", &key).await;
    let on_no_node = s.get("/api/v1/hostings?node=", &key).await;
    on_node_2.assert_error(400, "validation");
    on_node_9.assert_error(400, "validation");
    on_no_node.assert_error(400, "validation");
    assert_eq!(
        on_node_2.body["error"]["message"],
        on_node_9.body["error"]["message"]
    );
    assert_eq!(
        on_node_2.body["error"]["message"],
        on_no_node.body["error"]["message"]
    );
    let by_name = s
        .get(&format!("/api/v1/hostings?q={}", domain(25)), &key)
        .await;
    assert_eq!(by_name.body["total"], 1);

    let nothing = s
        .mint("empty", CapSet::all(), KeyScope::Grants(Default::default()))
        .await;
    let none = s.get("/api/v1/hostings", &nothing).await;
    assert_eq!(
        none.body,
        json!({"items": [], "next_cursor": null, "total": 0, "partial": false, "unavailable_nodes": []})
    );
}

pub async fn cluster_wide_endpoints_need_scope_all(s: &TestServer) {
    let tenant = s
        .mint("tenant", CapSet::all(), grants(&[(1, GrantLevel::Manage)]))
        .await;
    let reply = s.get("/api/v1/nodes", &tenant).await;
    reply.assert_error(403, "forbidden");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("all")
    );
}

pub async fn jobs_are_read_by_their_starter_or_a_scope_all_key(s: &TestServer) {
    let starter = s
        .mint(
            "starter",
            CapSet::all(),
            grants(&[(20, GrantLevel::Manage)]),
        )
        .await;
    let other = s
        .mint("other", CapSet::all(), grants(&[(20, GrantLevel::Manage)]))
        .await;
    let reply = s
        .call(
            Method::DELETE,
            &format!("/api/v1/hostings/{}", domain(20)),
            Some(&starter),
        )
        .await;
    reply.assert_ok(202);
    let job = reply.body["job_id"].as_str().unwrap().to_owned();
    let finished = s.wait_for_job(&job, &starter).await;
    assert_eq!(finished["actor"], "apikey:starter");
    s.get(&format!("/api/v1/jobs/{job}"), &s.keys.admin)
        .await
        .assert_ok(200);
    s.get(&format!("/api/v1/jobs/{job}"), &other)
        .await
        .assert_error(404, "not_found");
    let admins_job = s.start_job(21).await;
    s.get(&format!("/api/v1/jobs/{admins_job}"), &starter)
        .await
        .assert_error(404, "not_found");
}

// ---------------------------------------------------------------------------
// Key management over HTTP.

pub async fn minted_key_is_shown_once_and_works_at_once(s: &TestServer) {
    let reply = s
        .mint_over_http(
            &s.keys.admin,
            json!({
                "label": "reseller",
                "caps": ["hosting_view", "hosting_suspend"],
                "scope": {"grants": [{"hosting": domain(4).to_uppercase(), "level": "view"}]},
                "rate_limit_per_min": 120,
                "ip_allowlist": ["127.0.0.1"]
            }),
        )
        .await;
    reply.assert_ok(201);
    assert_eq!(
        sorted_keys(&reply.body),
        [
            "caps",
            "created_at",
            "created_by",
            "expires_at",
            "id",
            "ip_allowlist",
            "key",
            "label",
            "owner",
            "prefix",
            "rate_limit_per_min",
            "revoked_at",
            "scope"
        ]
    );
    let raw = reply.body["key"].as_str().unwrap().to_owned();
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert!(raw.starts_with(reply.body["prefix"].as_str().unwrap()));
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/keys/{id}").as_str())
    );
    assert_eq!(reply.body["owner"], "admin");
    assert_eq!(reply.body["created_by"], s.key_id("admin").await);
    assert_eq!(
        reply.body["caps"],
        json!(["hosting_view", "hosting_suspend"])
    );
    // The domain was resolved to the canonical id.
    assert_eq!(
        reply.body["scope"],
        json!({"grants": [{"hosting": hosting_id(4).as_str(), "level": "view"}]})
    );
    assert_eq!(reply.body["ip_allowlist"], json!(["127.0.0.1/32"]));
    assert_eq!(reply.body["rate_limit_per_min"], 120);

    let me = s.get("/api/v1/me", &raw).await;
    me.assert_ok(200);
    assert_eq!(me.body["scope"], reply.body["scope"]);
    s.get(&format!("/api/v1/hostings/{}", domain(4)), &raw)
        .await
        .assert_ok(200);
    s.get(&format!("/api/v1/hostings/{}", domain(5)), &raw)
        .await
        .assert_error(404, "not_found");

    for path in [
        format!("/api/v1/keys/{id}"),
        "/api/v1/keys?limit=200".to_owned(),
    ] {
        let shown = s.get(&path, &s.keys.admin).await;
        shown.assert_ok(200);
        assert!(
            !shown.text.contains(&raw[12..]),
            "{path} leaked the raw key"
        );
        assert!(!shown.text.contains("\"key\""), "{path} has a key field");
        assert!(!shown.text.contains("hash"), "{path} shows a hash");
    }
}

pub async fn key_lists_are_scoped_to_what_the_caller_minted(s: &TestServer) {
    let all = s.get("/api/v1/keys?limit=200", &s.keys.admin).await;
    all.assert_ok(200);
    let total = all.body["total"].as_u64().unwrap();
    assert!(total >= 7, "{}", all.text);
    let mut seen = Vec::new();
    let mut path = "/api/v1/keys?limit=2".to_owned();
    for _ in 0..20 {
        let page = s.get(&path, &s.keys.admin).await;
        seen.extend(ids_of(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/keys?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids_of(&all.body));

    let tenant = s
        .mint("tenant", CapSet::all(), grants(&[(1, GrantLevel::Manage)]))
        .await;
    let child = s
        .mint_over_http(
            &tenant,
            json!({"label": "child", "caps": ["hosting_view"], "scope": {"grants": [{"hosting": hosting_id(1).as_str(), "level": "view"}]}}),
        )
        .await;
    child.assert_ok(201);
    let child_id = child.body["id"].as_str().unwrap();
    let mine = s.get("/api/v1/keys", &tenant).await;
    assert_eq!(ids_of(&mine.body), [child_id]);
    assert_eq!(mine.body["total"], 1);
    s.get(&format!("/api/v1/keys/{child_id}"), &tenant)
        .await
        .assert_ok(200);
    let viewer_id = s.key_id("viewer").await;
    s.get(&format!("/api/v1/keys/{viewer_id}"), &tenant)
        .await
        .assert_error(404, "not_found");
    s.call(
        Method::DELETE,
        &format!("/api/v1/keys/{viewer_id}"),
        Some(&tenant),
    )
    .await
    .assert_error(404, "not_found");
    s.get("/api/v1/me", &s.keys.viewer).await.assert_ok(200);
    for bad in ["key_nope", "nope", "key_a.b"] {
        s.get(&format!("/api/v1/keys/{bad}"), &s.keys.admin)
            .await
            .assert_error_for(bad, 404, "not_found");
    }
}

pub async fn revoked_key_dies_at_once(s: &TestServer) {
    let reply = s
        .mint_over_http(
            &s.keys.admin,
            json!({"label": "short-lived", "caps": ["hosting_view"], "scope": "all"}),
        )
        .await;
    let raw = reply.body["key"].as_str().unwrap().to_owned();
    let id = reply.body["id"].as_str().unwrap().to_owned();
    s.get("/api/v1/hostings", &raw).await.assert_ok(200);
    let revoked = s
        .call(
            Method::DELETE,
            &format!("/api/v1/keys/{id}"),
            Some(&s.keys.admin),
        )
        .await;
    revoked.assert_ok(200);
    assert_timestamp(&revoked.body["revoked_at"]);
    s.get("/api/v1/hostings", &raw)
        .await
        .assert_error(401, "unauthorized");
    let again = s
        .call(
            Method::DELETE,
            &format!("/api/v1/keys/{id}"),
            Some(&s.keys.admin),
        )
        .await;
    again.assert_ok(200);
    assert_eq!(again.body["revoked_at"], revoked.body["revoked_at"]);
}

pub async fn expiring_key_dies_when_it_expires(s: &TestServer) {
    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let stamp = expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let reply = s
        .mint_over_http(
            &s.keys.admin,
            json!({"label": "ttl", "caps": ["hosting_view"], "scope": "all", "expires_at": stamp}),
        )
        .await;
    reply.assert_ok(201);
    let raw = reply.body["key"].as_str().unwrap().to_owned();
    let me = s.get("/api/v1/me", &raw).await;
    me.assert_ok(200);
    assert_timestamp(&me.body["expires_at"]);
    let wait = expires_at - time::OffsetDateTime::now_utc() + time::Duration::milliseconds(100);
    tokio::time::sleep(wait.try_into().unwrap_or_default()).await;
    let reply = s.get("/api/v1/me", &raw).await;
    reply.assert_error(401, "unauthorized");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

pub async fn me_shows_grants_and_expiry(s: &TestServer) {
    let expires_at = "2999-01-01T00:00:00Z";
    let reply = s
        .mint_over_http(
            &s.keys.admin,
            json!({
                "label": "tenant",
                "caps": ["hosting_view"],
                "scope": {"grants": [
                    {"hosting": hosting_id(2).as_str(), "level": "manage"},
                    {"hosting": domain(1), "level": "view"}
                ]},
                "expires_at": expires_at
            }),
        )
        .await;
    let raw = reply.body["key"].as_str().unwrap();
    let me = s.get("/api/v1/me", raw).await;
    let mut expected = vec![
        json!({"hosting": hosting_id(2).as_str(), "level": "manage"}),
        json!({"hosting": hosting_id(1).as_str(), "level": "view"}),
    ];
    expected.sort_by_key(|g| g["hosting"].as_str().unwrap().to_owned());
    assert_eq!(me.body["scope"], json!({"grants": expected}));
    assert_eq!(me.body["expires_at"], expires_at);
    assert_eq!(me.body["caps"], json!(["hosting_view"]));
}

/// Asserts a mint request is refused with `status` and `code`, and that the
/// message mentions `needle`.
async fn assert_mint_refused(
    s: &TestServer,
    key: &str,
    body: Value,
    status: u16,
    code: &str,
    needle: &str,
) {
    let reply = s.mint_over_http(key, body.clone()).await;
    reply.assert_error_for(&body.to_string(), status, code);
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "{body}: {message}");
}

pub async fn minting_never_escalates(s: &TestServer) {
    use Capability::*;
    let minter_caps: CapSet = [HostingView, HostingSuspend, ApiKeysManage]
        .into_iter()
        .collect();
    let tenant = s
        .mint(
            "minter",
            minter_caps,
            grants(&[(1, GrantLevel::View), (2, GrantLevel::Manage)]),
        )
        .await;
    let view_grant = json!([{"hosting": hosting_id(1).as_str(), "level": "view"}]);
    // More capabilities than it holds.
    assert_mint_refused(
        s,
        &tenant,
        json!({"label": "x", "caps": ["hosting_view", "hosting_delete", "nodes_view"], "scope": {"grants": view_grant}}),
        403,
        "forbidden",
        "hosting_delete, nodes_view",
    )
    .await;
    // A grants-scoped key cannot mint a scope-all key.
    assert_mint_refused(
        s,
        &tenant,
        json!({"label": "x", "caps": [], "scope": "all"}),
        403,
        "forbidden",
        "all",
    )
    .await;
    // No higher level than its own grant.
    assert_mint_refused(
        s,
        &tenant,
        json!({"label": "x", "caps": [], "scope": {"grants": [{"hosting": domain(1), "level": "manage"}]}}),
        403,
        "forbidden",
        "manage",
    )
    .await;
    // A hosting it cannot see is answered like one that does not exist.
    let hidden = s
        .mint_over_http(&tenant, json!({"label": "x", "caps": [], "scope": {"grants": [{"hosting": domain(7), "level": "view"}]}}))
        .await;
    let absent = s
        .mint_over_http(&tenant, json!({"label": "x", "caps": [], "scope": {"grants": [{"hosting": "absent.example.test", "level": "view"}]}}))
        .await;
    hidden.assert_error(400, "validation");
    absent.assert_error(400, "validation");
    assert_eq!(
        hidden.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&domain(7), "X"),
        absent.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace("absent.example.test", "X"),
    );
    let hidden_by_id = s
        .mint_over_http(&tenant, json!({"label": "x", "caps": [], "scope": {"grants": [{"hosting": hosting_id(7).as_str(), "level": "view"}]}}))
        .await;
    hidden_by_id.assert_error(400, "validation");
    // Within its rights, it works, and the owner is the minter's owner.
    let ok = s
        .mint_over_http(
            &tenant,
            json!({"label": "ok", "caps": ["hosting_view"], "scope": {"grants": [{"hosting": domain(2), "level": "manage"}, {"hosting": domain(1), "level": "view"}]}}),
        )
        .await;
    ok.assert_ok(201);
    assert_eq!(ok.body["owner"], "admin");

    // An owner's demotion clamps what its keys may mint, at once.
    s.owners.set(
        "demotable".parse().unwrap(),
        [HostingView, ApiKeysManage].into_iter().collect(),
    );
    assert_mint_refused(
        s,
        &s.keys.demotable,
        json!({"label": "x", "caps": ["hosting_delete"], "scope": "all"}),
        403,
        "forbidden",
        "hosting_delete",
    )
    .await;
    let child = s
        .mint_over_http(
            &s.keys.demotable,
            json!({"label": "child", "caps": ["hosting_view"], "scope": "all"}),
        )
        .await;
    child.assert_ok(201);
    assert_eq!(child.body["owner"], "demotable");
    // ... and the child dies with its owner.
    s.owners.remove(&"demotable".parse().unwrap());
    s.get("/api/v1/me", child.body["key"].as_str().unwrap())
        .await
        .assert_error(401, "unauthorized");

    // A key that expires cannot mint one that outlives it.
    let expiring = s
        .mint_over_http(&s.keys.admin, json!({"label": "expiring", "caps": ["api_keys_manage"], "scope": "all", "expires_at": "2990-01-01T00:00:00Z"}))
        .await;
    let expiring = expiring.body["key"].as_str().unwrap().to_owned();
    assert_mint_refused(
        s,
        &expiring,
        json!({"label": "x", "caps": [], "scope": "all"}),
        403,
        "forbidden",
        "expire",
    )
    .await;
    assert_mint_refused(
        s,
        &expiring,
        json!({"label": "x", "caps": [], "scope": "all", "expires_at": "2995-01-01T00:00:00Z"}),
        403,
        "forbidden",
        "expire",
    )
    .await;
}

pub async fn mint_requests_are_validated(s: &TestServer) {
    let admin = &s.keys.admin;
    let good = json!({"label": "x", "caps": [], "scope": "all"});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let cases = [
        (with("caps", json!(["hosting_view", "root"])), "root"),
        (with("caps", json!("hosting_view")), "caps"),
        (with("label", json!("")), "label"),
        (with("label", json!("   ")), "label"),
        (with("label", json!("x".repeat(101))), "label"),
        (
            with("expires_at", json!("2001-01-01T00:00:00Z")),
            "expires_at",
        ),
        (with("expires_at", json!("next week")), "expires_at"),
        (with("scope", json!("everything")), "scope"),
        (with("scope", json!({"grants": "all"})), "scope"),
        (
            with(
                "scope",
                json!({"grants": [{"hosting": "h1", "level": "owner"}]}),
            ),
            "scope",
        ),
        (
            with(
                "scope",
                json!({"grants": [{"hosting": "absent.example.test", "level": "view"}]}),
            ),
            "unknown hosting",
        ),
        (
            with(
                "scope",
                json!({"grants": [{"hosting": domain(1), "level": "view"}, {"hosting": hosting_id(1).as_str(), "level": "manage"}]}),
            ),
            "more than once",
        ),
        (with("ip_allowlist", json!(["10.0.0.0/40"])), "ip_allowlist"),
        (with("rate_limit_per_min", json!(-5)), "rate_limit_per_min"),
        (
            with("rate_limit_per_min", json!("fast")),
            "rate_limit_per_min",
        ),
        (with("capabilities", json!([])), "capabilities"),
        (json!({"caps": [], "scope": "all"}), "label"),
        (json!([1, 2]), "JSON"),
    ];
    for (body, needle) in cases {
        assert_mint_refused(s, admin, body, 400, "validation", needle).await;
    }
    for raw in ["", "{", "not json", "{\"label\": \"x\",}"] {
        let request = s
            .client
            .post(format!("{}/api/v1/keys", s.base))
            .bearer_auth(admin)
            .header("content-type", "application/json")
            .body(raw);
        s.send(request)
            .await
            .assert_error_for(raw, 400, "validation");
    }
    // Just over the limit: small enough to sit in the socket's buffer, so
    // the early 413 never races the client's write (the hardening cases
    // send far larger bodies over raw sockets).
    let huge = format!(
        "{{\"label\": \"{}\", \"caps\": [], \"scope\": \"all\"}}",
        "x".repeat(super::harness::BODY_LIMIT + 1024)
    );
    let request = s
        .client
        .post(format!("{}/api/v1/keys", s.base))
        .bearer_auth(admin)
        .body(huge);
    s.send(request).await.assert_error(413, "payload_too_large");
    // Nothing was minted by any of these.
    let keys = s.get("/api/v1/keys?limit=200", admin).await;
    assert!(
        keys.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["label"] != "x")
    );
}

pub async fn the_contract_is_served_without_a_key(s: &TestServer) {
    let doc = s.call(Method::GET, "/api/v1/openapi.json", None).await;
    doc.assert_ok(200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    assert!(
        doc.body["paths"]["/api/v1/hostings/{id}"]["get"]["x-required-capability"]
            == "hosting_view"
    );
    assert_eq!(
        doc.text.as_bytes(),
        &hyperion::openapi::document_bytes()[..]
    );
    let page = s.call(Method::GET, "/api/v1/docs", None).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text.contains("createHosting"));
    let wrong = s.call(Method::POST, "/api/v1/openapi.json", None).await;
    wrong.assert_error(405, "method_not_allowed");
    assert_eq!(wrong.header("allow"), Some("GET, HEAD"));
}
