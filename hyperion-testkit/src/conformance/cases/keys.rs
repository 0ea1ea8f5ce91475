//! Key management over HTTP: minting, listing, revoking and expiry; minting never escalates.

use super::prelude::*;

// ---------------------------------------------------------------------------
// Key management over HTTP.

/// Case: Minted key is shown once and works at once.
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

/// Case: Key lists are scoped to what the caller minted.
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

/// Case: Revoked key dies at once.
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

/// Case: Expiring key dies when it expires.
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

/// Case: Me shows grants and expiry.
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

/// Case: Minting never escalates.
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

/// Case: Mint requests are validated.
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
        "x".repeat(BODY_LIMIT + 1024)
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
