//! The cases. Each takes a running server and asserts what a client sees.

use hyperion::{CapSet, Capability, NewKey};
use reqwest::Method;
use serde_json::{Value, json};

use super::harness::{SPEC, SUSPENDED, TestServer, domain, hosting_id};

/// One call of the authorization matrix.
struct Call {
    method: Method,
    path: String,
    cap: Option<Capability>,
    ok: u16,
}

impl Call {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Every endpoint, each on its own hosting so that they do not interfere,
/// with the capability it needs and its success status.
async fn matrix(s: &TestServer) -> Vec<Call> {
    let job = s.start_job(28).await;
    let call = |method: Method, path: String, cap: Option<Capability>, ok: u16| Call {
        method,
        path: format!("/api/v1{path}"),
        cap,
        ok,
    };
    use Capability::*;
    vec![
        call(Method::GET, "/me".into(), None, 200),
        call(Method::GET, "/hostings".into(), Some(HostingView), 200),
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
        call(Method::GET, "/nodes".into(), Some(NodesView), 200),
        call(Method::GET, format!("/jobs/{job}"), None, 200),
    ]
}

async fn all_refused_with_401(s: &TestServer, key: &str) {
    for call in matrix(s).await {
        s.call(call.method.clone(), &call.path, Some(key))
            .await
            .assert_error_for(&call.label(), 401, "unauthorized");
    }
}

pub async fn no_key_is_401_everywhere(s: &TestServer) {
    for call in matrix(s).await {
        let reply = s.call(call.method.clone(), &call.path, None).await;
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
            let request = s
                .client
                .request(call.method.clone(), format!("{}{}", s.base, call.path))
                .header("authorization", header);
            s.send(request)
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
        let reply = s
            .call(call.method.clone(), &call.path, Some(&s.keys.powerless))
            .await;
        match call.cap {
            Some(cap) => {
                reply.assert_error_for(&call.label(), 403, "forbidden");
                let message = reply.body["error"]["message"].as_str().unwrap();
                assert!(message.contains(cap.as_str()), "{message}");
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
        let reply = s
            .call(call.method.clone(), &call.path, Some(&s.keys.demotable))
            .await;
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
        s.call(call.method.clone(), &call.path, Some(&s.keys.admin))
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
    assert_eq!(sorted_keys(&reply.body), ["items", "next_cursor", "total"]);
    assert_eq!(reply.body["total"], 30);
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
        "expires_at",
        "kind",
        "limits",
        "root_dir",
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
    assert_eq!(sorted_keys(&body["vhost"]), ["force_https", "maintenance"]);
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
        (Method::PUT, "/api/v1/hostings".to_owned(), "GET"),
        (
            Method::PATCH,
            format!("/api/v1/hostings/{}", hosting_id(0)),
            "GET, DELETE",
        ),
        (
            Method::GET,
            format!("/api/v1/hostings/{}/suspend", hosting_id(0)),
            "POST",
        ),
        (Method::DELETE, "/api/v1/me".to_owned(), "GET"),
    ];
    for (method, path, allow) in cases {
        let reply = s.call(method, &path, Some(&s.keys.admin)).await;
        reply.assert_error_for(&path, 405, "method_not_allowed");
        assert_eq!(reply.header("allow"), Some(allow), "{path}");
    }
}

pub async fn request_id_is_echoed_when_sane_and_generated_otherwise(s: &TestServer) {
    let request = s
        .client
        .get(format!("{}/api/v1/nope", s.base))
        .header("x-request-id", "trace-42.a_b");
    let reply = s.send(request).await;
    reply.assert_error(404, "not_found");
    assert_eq!(reply.header("x-request-id"), Some("trace-42.a_b"));

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
    }
    let a = s.get("/api/v1/me", &s.keys.admin).await;
    let b = s.get("/api/v1/me", &s.keys.admin).await;
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}
