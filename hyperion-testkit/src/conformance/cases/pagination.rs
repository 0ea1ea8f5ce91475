//! Pagination and filters of the hosting list.

use super::prelude::*;

/// Case: Pagination covers every hosting once in order.
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

/// Case: Page size defaults and bounds.
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

/// Case: Malformed cursor is a validation error.
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

/// Case: Filter by state.
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

/// Case: Filter by node.
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

/// Case: Filter by domain substring ignores case.
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

/// Case: Malformed filters are validation errors.
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
    // A control character in an audit filter never reaches the store (a
    // database may not even hold one): 400, not 500.
    for query in ["actor=%00", "action=a%00b", "target=%1b[2J"] {
        s.get(&format!("/api/v1/audit?{query}"), &s.keys.admin)
            .await
            .assert_error_for(query, 400, "validation");
    }
}
