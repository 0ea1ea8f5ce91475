//! Security, part 1, from the attacker's side: a minted key never does more
//! than the key that minted it, now or later; a tenant learns nothing about
//! hostings and nodes outside its grants; the operator's decisions stay the
//! operator's. Each case is the request that got through before.

use super::prelude::*;

/// Mints over HTTP as `minter`; asserts 201 and answers (raw key, key id).
async fn mint_as(s: &TestServer, minter: &str, body: Value) -> (String, String) {
    let reply = s.mint_over_http(minter, body).await;
    reply.assert_ok(201);
    (
        reply.body["key"].as_str().unwrap().to_owned(),
        reply.body["id"].as_str().unwrap().to_owned(),
    )
}

fn grant_body(label: &str, caps: &[&str], grants: &[(usize, &str)]) -> Value {
    let grants: Vec<Value> = grants
        .iter()
        .map(|(i, level)| json!({"hosting": hosting_id(*i).as_str(), "level": level}))
        .collect();
    json!({"label": label, "caps": caps, "scope": {"grants": grants}})
}

async fn revoke(s: &TestServer, key: &str, id: &str) -> Reply {
    s.call(Method::DELETE, &format!("/api/v1/keys/{id}"), Some(key))
        .await
}

/// Issue point 1: A child inherits its parent's allowlist and rate limit, cannot widen
/// them, and every request of the family counts against the parent.
pub async fn minted_keys_stay_inside_their_parents_network_and_rate_limits(s: &TestServer) {
    let (parent, _) = mint_as(
        s,
        &s.keys.admin,
        json!({"label": "limited parent", "caps": ["hosting_view", "api_keys_manage"], "scope": "all",
               "ip_allowlist": ["127.0.0.1/32"], "rate_limit_per_min": 10}),
    )
    .await;
    // Asking for more than the parent holds is 403, naming what was too much.
    for (extra, named) in [
        (json!({"ip_allowlist": ["0.0.0.0/0"]}), "ip_allowlist"),
        (json!({"ip_allowlist": ["127.0.0.2/32"]}), "ip_allowlist"),
        (json!({"rate_limit_per_min": 11}), "rate_limit_per_min"),
    ] {
        let mut body =
            json!({"label": format!("wider {named}"), "caps": ["hosting_view"], "scope": "all"});
        for (field, value) in extra.as_object().unwrap() {
            body[field] = value.clone();
        }
        let reply = s.mint_over_http(&parent, body).await;
        reply.assert_error_for(named, 403, "forbidden");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{message}");
    }
    // Left out, both are the parent's.
    let child = s
        .mint_over_http(
            &parent,
            json!({"label": "child", "caps": ["hosting_view"], "scope": "all"}),
        )
        .await;
    child.assert_ok(201);
    assert_eq!(child.body["ip_allowlist"], json!(["127.0.0.1/32"]));
    assert_eq!(child.body["rate_limit_per_min"], 10);
    let child = child.body["key"].as_str().unwrap().to_owned();
    // From another address the child is refused, as its parent is.
    let elsewhere = s.client_from("127.0.0.3");
    let reply = s
        .send(
            elsewhere
                .get(format!("{}/api/v1/me", s.base))
                .bearer_auth(&child),
        )
        .await;
    reply.assert_error(403, "forbidden");
    // The family shares the parent's 10 a minute: the parent already spent
    // 5 on its mints, so the child runs out before its own 10, and then the
    // parent is limited too, with the true wait.
    let mut passed = 0;
    for _ in 0..15 {
        let reply = s.get("/api/v1/me", &child).await;
        if reply.status == 429 {
            break;
        }
        reply.assert_ok(200);
        passed += 1;
    }
    assert!((4..10).contains(&passed), "the child passed {passed} times");
    let limited = s.get("/api/v1/me", &parent).await;
    limited.assert_error(429, "rate_limited");
    let wait: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=6).contains(&wait), "{wait}");
}

/// Issue point 2: Revoking a key ends everything it minted, at once; so does a
/// revocation written straight into the store (the chain is read live).
pub async fn revoking_a_key_ends_its_whole_minting_chain(s: &TestServer) {
    let tenant = s
        .mint(
            "chain root",
            CapSet::all(),
            grants(&[(1, GrantLevel::Manage)]),
        )
        .await;
    let (child, child_id) = mint_as(
        s,
        &tenant,
        grant_body(
            "chain child",
            &["hosting_view", "api_keys_manage"],
            &[(1, "manage")],
        ),
    )
    .await;
    let (grandchild, grandchild_id) = mint_as(
        s,
        &child,
        grant_body("chain grandchild", &["hosting_view"], &[(1, "view")]),
    )
    .await;
    s.get("/api/v1/me", &grandchild).await.assert_ok(200);
    revoke(s, &s.keys.admin, &child_id).await.assert_ok(200);
    s.get("/api/v1/me", &child)
        .await
        .assert_error(401, "unauthorized");
    s.get("/api/v1/me", &grandchild)
        .await
        .assert_error(401, "unauthorized");
    let shown = s
        .get(&format!("/api/v1/keys/{grandchild_id}"), &s.keys.admin)
        .await;
    assert!(shown.body["revoked_at"].is_string(), "{}", shown.text);
    s.get("/api/v1/me", &tenant).await.assert_ok(200);

    // A revocation the integrator writes into its own store, not through the
    // API, reaches down the chain as well.
    let (second_child, _) = mint_as(
        s,
        &tenant,
        grant_body("second child", &["hosting_view"], &[(1, "view")]),
    )
    .await;
    s.get("/api/v1/me", &second_child).await.assert_ok(200);
    let tenant_id = s.key_id("chain root").await;
    s.key_store
        .revoke(&tenant_id.parse().unwrap(), hyperion_core::model::now())
        .await
        .unwrap();
    s.get("/api/v1/me", &second_child)
        .await
        .assert_error(401, "unauthorized");
}

/// Issue point 3: A key revokes only keys within its own rights (or below it), and the
/// last full admin key cannot be revoked over the API.
pub async fn revoking_needs_the_rights_of_the_key_revoked(s: &TestServer) {
    let manager = s
        .mint(
            "key manager",
            [Capability::ApiKeysManage].into_iter().collect(),
            KeyScope::All,
        )
        .await;
    let admin_id = s.key_id("admin").await;
    let spare_id = s.key_id("spare").await;
    // The admin key holds more than the manager: not visible, not revocable.
    s.get(&format!("/api/v1/keys/{admin_id}"), &manager)
        .await
        .assert_error(404, "not_found");
    revoke(s, &manager, &admin_id)
        .await
        .assert_error(404, "not_found");
    let listed = s.get("/api/v1/keys?limit=200", &manager).await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&admin_id.as_str()), "{}", listed.text);
    assert!(ids.contains(&spare_id.as_str()), "{}", listed.text);
    // A key holding nothing more than the manager is its to revoke.
    revoke(s, &manager, &spare_id).await.assert_ok(200);
    s.get("/api/v1/me", &s.keys.admin).await.assert_ok(200);

    // Two full admin keys: the second one may go, the last may not.
    let demotable_id = s.key_id("demotable").await;
    revoke(s, &s.keys.admin, &demotable_id).await.assert_ok(200);
    let last = revoke(s, &s.keys.admin, &admin_id).await;
    last.assert_error(409, "conflict");
    assert!(
        last.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("last"),
        "{}",
        last.text
    );
    s.get("/api/v1/me", &s.keys.admin).await.assert_ok(200);
}

/// A key never sees or revokes a key above it in its own minting chain: a
/// child minted with everything its scope-all parent holds could otherwise
/// list the parent and revoke it, and with it every sibling.
pub async fn a_key_never_turns_on_the_keys_that_minted_it(s: &TestServer) {
    let caps = ["hosting_view", "api_keys_manage"];
    let root = s
        .mint(
            "chain top",
            [Capability::HostingView, Capability::ApiKeysManage]
                .into_iter()
                .collect(),
            KeyScope::All,
        )
        .await;
    let root_id = s.key_id("chain top").await;
    let body = |label: &str| json!({"label": label, "caps": caps, "scope": "all"});
    let (middle, middle_id) = mint_as(s, &root, body("chain middle")).await;
    let (child, child_id) = mint_as(s, &middle, body("chain bottom")).await;
    for (key, above) in [
        (&child, vec![&middle_id, &root_id]),
        (&middle, vec![&root_id]),
    ] {
        let listed = s.get("/api/v1/keys?limit=200", key).await;
        listed.assert_ok(200);
        let ids = ids_of(&listed.body);
        for id in above {
            assert!(!ids.contains(id), "{id} listed: {}", listed.text);
            s.get(&format!("/api/v1/keys/{id}"), key)
                .await
                .assert_error(404, "not_found");
            revoke(s, key, id).await.assert_error(404, "not_found");
        }
    }
    // Every key of the chain still works; the chain still runs downwards.
    for key in [&root, &middle, &child] {
        s.get("/api/v1/me", key).await.assert_ok(200);
    }
    revoke(s, &root, &child_id).await.assert_ok(200);
    s.get("/api/v1/me", &child)
        .await
        .assert_error(401, "unauthorized");
    s.get("/api/v1/me", &middle).await.assert_ok(200);
}

/// Issue point 4: Audit events carry the key id and owner; a label cannot be borrowed.
pub async fn audit_actors_cannot_be_impersonated(s: &TestServer) {
    let tenant = s
        .mint(
            "impersonator",
            CapSet::all(),
            grants(&[(1, GrantLevel::Manage)]),
        )
        .await;
    let borrowed = s
        .mint_over_http(
            &tenant,
            grant_body("admin", &["hosting_suspend"], &[(1, "manage")]),
        )
        .await;
    borrowed.assert_error(400, "validation");
    // Look-alikes of `admin` that a log reader cannot tell apart from it:
    // other case, invisible characters, a bidi override.
    for look_alike in [
        "Admin",
        "admin\u{2060}",
        "admin\u{200b}",
        "\u{202e}nimda",
        "\u{feff}admin",
    ] {
        s.mint_over_http(
            &tenant,
            grant_body(look_alike, &["hosting_suspend"], &[(1, "manage")]),
        )
        .await
        .assert_error_for(&format!("{look_alike:?}"), 400, "validation");
    }
    let (child, child_id) = mint_as(
        s,
        &tenant,
        grant_body("helper", &["hosting_suspend"], &[(1, "manage")]),
    )
    .await;
    s.call(
        Method::POST,
        &format!("/api/v1/hostings/{}/suspend", hosting_id(1)),
        Some(&child),
    )
    .await
    .assert_ok(200);
    let events = s
        .get(&format!("/api/v1/audit?key_id={child_id}"), &s.keys.admin)
        .await;
    events.assert_ok(200);
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", events.text);
    assert_eq!(items[0]["action"], "hosting.suspend");
    assert_eq!(items[0]["actor"], "apikey:helper");
    assert_eq!(items[0]["key_id"], child_id.as_str());
    assert_eq!(items[0]["owner"], "admin");
    s.get("/api/v1/audit?key_id=not-a-key", &s.keys.admin)
        .await
        .assert_error(400, "validation");
}

/// Issue point 5: Minting is capped per owner (the fixture allows 40 active keys).
pub async fn minting_is_capped_per_owner(s: &TestServer) {
    let mut refused = None;
    for n in 0..60 {
        let reply = s
            .mint_over_http(
                &s.keys.admin,
                json!({"label": format!("bulk {n}"), "caps": [], "scope": "all"}),
            )
            .await;
        if reply.status != 201 {
            refused = Some((n, reply));
            break;
        }
    }
    let (n, reply) = refused.expect("minting stops at the cap");
    reply.assert_error(409, "conflict");
    assert!(n > 20 && n < 40, "{n}");
    // Revoking one makes room for one.
    let listed = s.get("/api/v1/keys?limit=200", &s.keys.admin).await;
    let bulk = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "bulk 0")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    revoke(s, &s.keys.admin, &bulk).await.assert_ok(200);
    s.mint_over_http(
        &s.keys.admin,
        json!({"label": "one more", "caps": [], "scope": "all"}),
    )
    .await
    .assert_ok(201);
}

/// Issue point 6 and 7: With a node failing, a tenant cannot tell another customer's
/// hosting from a missing one, and never sees a node's name.
pub async fn a_failing_node_tells_a_tenant_nothing(s: &TestServer) {
    s.nodes[2].set_fault(SimFault::Fail);
    let tenant = s
        .mint("tenant", CapSet::all(), grants(&[(0, GrantLevel::Manage)]))
        .await;
    let other = s
        .get(&format!("/api/v1/hostings/{}", domain(1)), &tenant)
        .await;
    let missing = s
        .get("/api/v1/hostings/nowhere.example.test", &tenant)
        .await;
    other.assert_error(404, "not_found");
    missing.assert_error(404, "not_found");
    assert_eq!(
        other.body["error"]["message"],
        missing.body["error"]["message"]
    );
    // Minting a grant on either is the same 400.
    for name in [domain(1), "nowhere.example.test".to_owned()] {
        let reply = s
            .mint_over_http(
                &tenant,
                json!({"label": format!("probe {name}"), "caps": [], "scope": {"grants": [{"hosting": name, "level": "view"}]}}),
            )
            .await;
        reply.assert_error_for(&name, 400, "validation");
    }
    // Its own hosting still answers by domain.
    s.get(&format!("/api/v1/hostings/{}", domain(0)), &tenant)
        .await
        .assert_ok(200);
    // Its hostings come without the node that runs them.
    let own = s
        .get(&format!("/api/v1/hostings/{}", domain(0)), &tenant)
        .await;
    assert_eq!(own.body["node_id"], Value::Null, "{}", own.text);
    assert!(!own.text.contains("node-1"), "{}", own.text);
    // Lists say "partial" without naming the node, even when refused.
    let list = s.get("/api/v1/hostings", &tenant).await;
    list.assert_ok(200);
    assert_eq!(list.body["partial"], true, "{}", list.text);
    assert_eq!(
        list.body["items"][0]["node_id"],
        Value::Null,
        "{}",
        list.text
    );
    assert_eq!(list.body["unavailable_nodes"], json!([]));
    let strict = s.get("/api/v1/hostings?allow_partial=false", &tenant).await;
    strict.assert_error(502, "upstream_error");
    assert!(!strict.text.contains("node-3"), "{}", strict.text);
    // The operator still sees which node failed.
    let admin = s.get("/api/v1/hostings", &s.keys.admin).await;
    assert_eq!(admin.body["unavailable_nodes"], json!(["node-3"]));
    // Its own job's step and error do not name the node either.
    let deleted = s
        .call(
            Method::DELETE,
            &format!("/api/v1/hostings/{}", hosting_id(0)),
            Some(&tenant),
        )
        .await;
    deleted.assert_ok(202);
    let job_id = deleted.body["job_id"].as_str().unwrap();
    let job = s.wait_for_job(job_id, &tenant).await;
    let seen = s.get(&format!("/api/v1/jobs/{job_id}"), &tenant).await;
    assert!(!seen.text.contains("node-1"), "{job}");
    let admin_view = s
        .get(&format!("/api/v1/jobs/{job_id}"), &s.keys.admin)
        .await;
    assert!(admin_view.text.contains("node-1"), "{}", admin_view.text);
}

/// Issue point 8: Tenants cannot pick system users, reserved accounts are refused for
/// everyone, system users are unique, and a tenant cannot move in under a
/// hosting it does not manage.
pub async fn names_cannot_be_taken_across_tenants(s: &TestServer) {
    let tenant = s
        .mint("builder", CapSet::all(), grants(&[(0, GrantLevel::Manage)]))
        .await;
    let create = |key: &str, body: Value| {
        let key = key.to_owned();
        async move {
            s.call_json(Method::POST, "/api/v1/hostings", &key, &body)
                .await
        }
    };
    create(
        &tenant,
        json!({"domain": "mine.example.org", "system_user": "shop"}),
    )
    .await
    .assert_error(400, "validation");
    create(
        &tenant,
        json!({"domain": "mine.example.org", "node": "node-1"}),
    )
    .await
    .assert_error(400, "validation");
    for user in ["root", "www-data", "systemd-network"] {
        create(
            &s.keys.admin,
            json!({"domain": format!("{user}.example.org"), "system_user": user}),
        )
        .await
        .assert_error_for(user, 400, "validation");
    }
    // Another customer's system user (fixture hosting 1 runs as site0002).
    create(
        &s.keys.admin,
        json!({"domain": "copy.example.org", "system_user": "site0002"}),
    )
    .await
    .assert_error(409, "conflict");
    // Under another customer's hosting: exactly the answer a taken name gets.
    let under = create(&tenant, json!({"domain": format!("shop.{}", domain(1))})).await;
    under.assert_error(409, "conflict");
    let taken = create(&tenant, json!({"domain": domain(1)})).await;
    taken.assert_error(409, "conflict");
    let strip = |reply: &Reply, name: &str| {
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace(name, "NAME")
    };
    assert_eq!(
        strip(&under, &format!("shop.{}", domain(1))),
        strip(&taken, &domain(1))
    );
    // Nor above it: taking `example.test` would shut every other customer
    // out of every new name under it.
    let above = create(&tenant, json!({"domain": "example.test"})).await;
    above.assert_error(409, "conflict");
    assert_eq!(strip(&above, "example.test"), strip(&taken, &domain(1)));
    // Under its own hosting it may.
    let own = create(&tenant, json!({"domain": format!("shop.{}", domain(0))})).await;
    own.assert_ok(201);
    assert_eq!(own.body["node_id"], Value::Null, "{}", own.text);
    assert!(own.body["system_user"].as_str().unwrap().starts_with('u'));
}

/// Issue point 9: A tenant's reverse proxy cannot point inside the operator's network.
pub async fn tenant_reverse_proxies_cannot_point_inside(s: &TestServer) {
    let tenant = s
        .mint("proxier", CapSet::all(), grants(&[(0, GrantLevel::Manage)]))
        .await;
    let proxy = |n: usize, url: &str| json!({"domain": format!("proxy{n}.example.org"), "kind": "reverse_proxy", "proxy_upstream_url": url});
    for (n, url) in [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:2019/config/",
        "http://[::1]:8080/",
        "http://10.0.0.5:8080/",
        "http://localhost:9000/",
    ]
    .into_iter()
    .enumerate()
    {
        let reply = s
            .call_json(Method::POST, "/api/v1/hostings", &tenant, &proxy(n, url))
            .await;
        reply.assert_error_for(url, 400, "validation");
        assert!(reply.text.contains("proxy_upstream_url"), "{}", reply.text);
    }
    s.call_json(
        Method::POST,
        "/api/v1/hostings",
        &tenant,
        &proxy(10, "https://203.0.113.10/"),
    )
    .await
    .assert_ok(201);
    // The operator decides its own network.
    s.call_json(
        Method::POST,
        "/api/v1/hostings",
        &s.keys.admin,
        &proxy(11, "http://10.0.0.5:8080/"),
    )
    .await
    .assert_ok(201);
}

/// Issue point 10: Expiry, limits and quota are the operator's; so is resuming what
/// the operator suspended.
pub async fn operator_decisions_stay_the_operators(s: &TestServer) {
    let tenant = s
        .mint(
            "tenant",
            CapSet::all(),
            grants(&[
                (0, GrantLevel::Manage),
                (1, GrantLevel::Manage),
                (SUSPENDED[0], GrantLevel::Manage),
            ]),
        )
        .await;
    let patch = |suffix: &str, body: Value| {
        let path = format!("/api/v1/hostings/{}/{suffix}", hosting_id(0));
        let tenant = tenant.clone();
        async move { s.call_json(Method::PATCH, &path, &tenant, &body).await }
    };
    for (suffix, body) in [
        ("expiry", json!({"expires_at": null})),
        ("quota", json!({"disk_hard_mb": 1_048_576})),
        ("limits", json!({"memory_mb": 65536})),
    ] {
        patch(suffix, body)
            .await
            .assert_error_for(suffix, 403, "forbidden");
    }
    patch("php", json!({"version": "8.4"})).await.assert_ok(200);
    let post = |key: &str, index: usize, action: &str| {
        let path = format!("/api/v1/hostings/{}/{action}", hosting_id(index));
        let key = key.to_owned();
        async move { s.call(Method::POST, &path, Some(&key)).await }
    };
    // The fixture's suspended hostings were suspended by the operator.
    let refused = post(&tenant, SUSPENDED[0], "resume").await;
    refused.assert_error(403, "forbidden");
    assert!(refused.text.contains("operator"), "{}", refused.text);
    // Its own suspension is its own to lift.
    post(&tenant, 0, "suspend").await.assert_ok(200);
    let detail = s
        .get(&format!("/api/v1/hostings/{}", hosting_id(0)), &tenant)
        .await;
    assert_eq!(detail.body["suspended_by"], "tenant");
    post(&tenant, 0, "resume").await.assert_ok(200);
    // Once the operator suspends it too, it is the operator's.
    post(&tenant, 1, "suspend").await.assert_ok(200);
    post(&s.keys.admin, 1, "suspend").await.assert_ok(200);
    post(&tenant, 1, "resume")
        .await
        .assert_error(403, "forbidden");
    post(&s.keys.admin, 1, "resume").await.assert_ok(200);
    // The contract says so.
    let doc = s.get("/api/v1/openapi.json", &tenant).await;
    assert_eq!(
        doc.body["paths"]["/api/v1/hostings/{id}/expiry"]["patch"]["x-required-scope"],
        "all"
    );
}

/// Issue point 11: Reading a job needs a capability; the starter always reads its own.
pub async fn reading_a_job_needs_a_capability(s: &TestServer) {
    let job = s.start_job(5).await;
    let path = format!("/api/v1/jobs/{job}");
    s.get(&path, &s.keys.powerless)
        .await
        .assert_error(404, "not_found");
    s.get(&path, &s.keys.viewer).await.assert_ok(200);
    let certs_only = s
        .mint(
            "certs only",
            [Capability::CertManage].into_iter().collect(),
            KeyScope::All,
        )
        .await;
    s.get(&path, &certs_only)
        .await
        .assert_error(404, "not_found");
    // A starter whose capabilities are gone still reads its own job.
    let new = NewKey::new(
        "starter",
        "demotable".parse().unwrap(),
        [Capability::HostingDelete].into_iter().collect(),
    );
    let starter = s
        .api
        .mint_key(&fixture_actor(), new)
        .await
        .unwrap()
        .secret
        .expose()
        .to_owned();
    let started = s
        .call(
            Method::DELETE,
            &format!("/api/v1/hostings/{}", hosting_id(6)),
            Some(&starter),
        )
        .await;
    started.assert_ok(202);
    let own = format!("/api/v1/jobs/{}", started.body["job_id"].as_str().unwrap());
    s.owners.set("demotable".parse().unwrap(), CapSet::empty());
    s.get(&own, &starter).await.assert_ok(200);
}

/// Issue point 12: An idempotent replay goes only to a key that may still make the
/// request: a demoted owner's key is refused like a fresh request.
pub async fn idempotent_replays_recheck_the_caller(s: &TestServer) {
    let mut new = NewKey::new(
        "replayer",
        "demotable".parse().unwrap(),
        [Capability::BackupRun, Capability::HostingView]
            .into_iter()
            .collect(),
    );
    new.scope = grants(&[(0, GrantLevel::Manage)]);
    let key = s
        .api
        .mint_key(&fixture_actor(), new)
        .await
        .unwrap()
        .secret
        .expose()
        .to_owned();
    let backup = || {
        s.client
            .post(format!(
                "{}/api/v1/hostings/{}/backup",
                s.base,
                hosting_id(0)
            ))
            .bearer_auth(&key)
            .header("idempotency-key", "backup-1")
    };
    s.send(backup()).await.assert_ok(202);
    let replayed = s.send(backup()).await;
    replayed.assert_ok(202);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    s.owners.set(
        "demotable".parse().unwrap(),
        [Capability::HostingView].into_iter().collect(),
    );
    s.send(backup()).await.assert_error(403, "forbidden");
}
