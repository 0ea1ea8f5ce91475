//! The error catalogue and the contract: JSON 404 and 405 envelopes, HEAD, request ids, and the OpenAPI document.

use super::prelude::*;

/// Case: Unknown routes answer a json 404.
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

/// Case: Wrong method answers 405 with allow.
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

/// Case: Request id is echoed when sane and generated otherwise.
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

/// Case: The contract is served without a key.
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
        &hyperion_core::openapi::document_bytes()[..]
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
