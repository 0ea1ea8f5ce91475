//! Addressing: a hosting by id, by domain and by alias; what a missing or malformed selector answers.

use super::prelude::*;

/// Case: Id domain and alias address the same hosting.
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

/// Case: Missing hosting is 404 by id and by domain.
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

/// Case: Malformed selectors are validation errors.
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

/// An API nested under a path prefix (as an integrator mounts it inside a
/// panel) answers there, and every link it gives carries the prefix: the
/// `Location` of a created hosting, a started job and a minted key, and the
/// OpenAPI document's server URL.
pub async fn a_nested_mount_keeps_every_link(s: &TestServer) {
    let app = s.serve_nested().await;
    let api = format!("{app}{NESTED_PREFIX}/api/v1");
    let admin = &s.keys.admin;
    let send = |method: Method, path: &str, body: Option<Value>| {
        let mut request = s
            .client
            .request(method, format!("{api}{path}"))
            .bearer_auth(admin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        s.send(request)
    };
    let me = send(Method::GET, "/me", None).await;
    me.assert_ok(200);
    assert_eq!(me.body["key"]["label"], "admin");

    let created = send(
        Method::POST,
        "/hostings",
        Some(json!({"domain": "nested.example.test"})),
    )
    .await;
    created.assert_ok(201);
    let id = created.body["id"].as_str().expect("an id");
    let location = created.header("location").expect("a Location");
    assert_eq!(
        location,
        format!("{NESTED_PREFIX}/api/v1/hostings/{id}"),
        "the Location carries the prefix"
    );
    let followed = s
        .send(s.client.get(format!("{app}{location}")).bearer_auth(admin))
        .await;
    followed.assert_ok(200);
    assert_eq!(followed.body["id"], id);

    let deleted = send(Method::DELETE, &format!("/hostings/{id}"), None).await;
    deleted.assert_ok(202);
    let job = deleted.header("location").expect("a job Location");
    assert!(
        job.starts_with(&format!("{NESTED_PREFIX}/api/v1/jobs/")),
        "the job's Location carries the prefix: {job}"
    );
    let polled = s
        .send(s.client.get(format!("{app}{job}")).bearer_auth(admin))
        .await;
    polled.assert_ok(200);

    let minted = send(
        Method::POST,
        "/keys",
        Some(json!({"label": "nested", "caps": [], "scope": "all"})),
    )
    .await;
    minted.assert_ok(201);
    let key_location = minted.header("location").expect("a key Location");
    assert!(
        key_location.starts_with(&format!("{NESTED_PREFIX}/api/v1/keys/")),
        "the key's Location carries the prefix: {key_location}"
    );

    let doc = s.send(s.client.get(format!("{api}/openapi.json"))).await;
    doc.assert_ok(200);
    assert_eq!(
        doc.body["servers"][0]["url"], NESTED_PREFIX,
        "the document's server URL is where the API is mounted"
    );
    // A path that doubles the first slash must never give a link to another
    // host (`//panel/...` is host `panel` to a client): where the app routes
    // it to the API at all, its links still start with one slash.
    let doubled = s
        .send(
            s.client
                .post(format!("{app}/{NESTED_PREFIX}/api/v1/hostings"))
                .bearer_auth(admin)
                .json(&json!({"domain": "doubled.example.test"})),
        )
        .await;
    if let Some(location) = doubled.header("location") {
        assert!(
            location.starts_with(&format!("{NESTED_PREFIX}/api/v1/")),
            "a link stays on this server: {location}"
        );
    }

    // Mounted at the root, the same API still says `/`.
    let root_doc = s.call(Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(root_doc.body["servers"][0]["url"], "/");
}
