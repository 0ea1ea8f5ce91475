//! The panel's customers: owner, plan and labels on hostings, the filters
//! on them, and keys scoped to one customer, tried from the attacker's side.

use super::prelude::*;

/// The fixture's customer `cust-02` holds hostings 1, 8, 15, 22 and 29 (the
/// simulated cluster gives hosting `i` to `cust-0{i % 7 + 1}`).
const CUSTOMER: &str = "cust-02";
const CUSTOMERS_HOSTINGS: [usize; 5] = [1, 8, 15, 22, 29];
/// A hosting of another customer (`cust-03`), on node-3.
const OTHERS: usize = 2;

fn scoped_to(owner: &str, level: GrantLevel) -> KeyScope {
    KeyScope::Owner {
        owner: owner.parse().expect("a valid owner id"),
        level,
    }
}

fn sorted_ids(indices: &[usize]) -> Vec<String> {
    let mut ids: Vec<String> = indices.iter().map(|i| hosting_id(*i).to_string()).collect();
    ids.sort_unstable();
    ids
}

/// Every way of naming hosting `index`: id, domain, alias, domain shouted.
fn every_name(index: usize) -> Vec<String> {
    vec![
        hosting_id(index).to_string(),
        domain(index),
        format!("www.{}", domain(index)),
        domain(index).to_uppercase(),
    ]
}

/// Asserts that `reply` is, word for word, the answer for a hosting that
/// does not exist.
#[track_caller]
fn assert_absent(reply: &Reply, absent: &Reply, what: &str) {
    reply.assert_error_for(what, 404, "not_found");
    assert_eq!(
        reply.body["error"]["message"], absent.body["error"]["message"],
        "{what}: not the answer for a hosting that does not exist"
    );
}

/// Case: Hostings show their owner, plan and labels, and lists filter on them.
pub async fn hostings_carry_owner_plan_and_labels_and_lists_filter_on_them(s: &TestServer) {
    let admin = &s.keys.admin;
    let one = s
        .get(&format!("/api/v1/hostings/{}", domain(1)), admin)
        .await;
    one.assert_ok(200);
    assert_eq!(one.body["owner"], CUSTOMER);
    assert!(one.body["plan"].is_string(), "{}", one.body);
    assert_eq!(one.body["labels"]["region"], "us");
    let of_customer = s
        .get(&format!("/api/v1/hostings?owner={CUSTOMER}&limit=2"), admin)
        .await;
    assert_eq!(of_customer.body["total"], CUSTOMERS_HOSTINGS.len());
    let mut seen = ids_of(&of_customer.body);
    let cursor = of_customer.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = s
        .get(
            &format!("/api/v1/hostings?owner={CUSTOMER}&cursor={cursor}"),
            admin,
        )
        .await;
    seen.extend(ids_of(&rest.body));
    assert_eq!(
        seen,
        sorted_ids(&CUSTOMERS_HOSTINGS),
        "keyset order, every one"
    );
    // Labels ANDed, with the plan and the owner.
    let gold_eu = s
        .get(
            "/api/v1/hostings?label=region=eu&label=tier=gold&limit=200",
            admin,
        )
        .await;
    let gold_eu_ids = ids_of(&gold_eu.body);
    let expected: Vec<usize> = (0..30).filter(|i| i % 4 == 0).collect();
    assert_eq!(gold_eu_ids, sorted_ids(&expected));
    let basic = s.get("/api/v1/hostings?plan=basic&limit=200", admin).await;
    let expected: Vec<usize> = (0..30).filter(|i| i % 3 == 0).collect();
    assert_eq!(ids_of(&basic.body), sorted_ids(&expected));
    let none = s
        .get(
            &format!("/api/v1/hostings?owner={CUSTOMER}&plan=pro&label=tier=gold"),
            admin,
        )
        .await;
    let expected: Vec<usize> = CUSTOMERS_HOSTINGS
        .into_iter()
        .filter(|i| i % 3 == 1 && i % 4 == 0)
        .collect();
    assert_eq!(ids_of(&none.body), sorted_ids(&expected));
    for bad in ["owner=a%20b", "plan=-x", "label=tier", "label=Bad%20Key=x"] {
        s.get(&format!("/api/v1/hostings?{bad}"), admin)
            .await
            .assert_error_for(bad, 400, "validation");
    }
    let too_many: Vec<String> = (0..33).map(|n| format!("label=k{n}=v")).collect();
    s.get(&format!("/api/v1/hostings?{}", too_many.join("&")), admin)
        .await
        .assert_error(400, "validation");
}

/// Case: The operator moves a hosting between customers, audited with both.
pub async fn the_operator_changes_owner_plan_and_labels_audited(s: &TestServer) {
    let admin = &s.keys.admin;
    let path = |what: &str| format!("/api/v1/hostings/{}/{what}", domain(8));
    let moved = s
        .call_json(
            Method::PATCH,
            &path("owner"),
            admin,
            &json!({"owner": "cust-05"}),
        )
        .await;
    moved.assert_ok(200);
    assert_eq!(moved.body, json!({"owner": "cust-05"}));
    let plan = s
        .call_json(
            Method::PATCH,
            &path("plan"),
            admin,
            &json!({"plan": "business"}),
        )
        .await;
    assert_eq!(plan.body, json!({"plan": "business"}));
    let labels = s
        .call_json(
            Method::PATCH,
            &path("labels"),
            admin,
            &json!({"labels": {"tier": "gold", "region": null, "billing.example.com/invoice": "2026-12"}}),
        )
        .await;
    assert_eq!(
        labels.body,
        json!({"labels": {"billing.example.com/invoice": "2026-12", "tier": "gold"}})
    );
    let detail = s
        .get(&format!("/api/v1/hostings/{}", domain(8)), admin)
        .await;
    assert_eq!(detail.body["owner"], "cust-05");
    assert_eq!(detail.body["plan"], "business");
    assert_eq!(detail.body["labels"]["tier"], "gold");
    let audit = s.get("/api/v1/audit?action=hosting.owner", admin).await;
    let event = &audit.body["items"][0];
    assert_eq!(event["target"], hosting_id(8).to_string());
    assert_eq!(event["detail"], "owner cust-02 -> cust-05");
    // Bad bodies: named, refused, nothing changed.
    for (what, body) in [
        ("owner", json!({})),
        ("owner", json!({"owner": "a b"})),
        ("plan", json!({"plan": 3})),
        ("labels", json!({"labels": {"-x": "y"}})),
        ("labels", json!({"labels": {"x": "y!"}})),
    ] {
        s.call_json(Method::PATCH, &path(what), admin, &body)
            .await
            .assert_error_for(&format!("{what} {body}"), 400, "validation");
    }
    let many: serde_json::Map<String, Value> =
        (0..40).map(|n| (format!("k{n}"), json!("v"))).collect();
    s.call_json(
        Method::PATCH,
        &path("labels"),
        admin,
        &json!({"labels": many}),
    )
    .await
    .assert_error(400, "validation");
    // A tenant reads them but never changes them.
    let tenant = s
        .mint(
            "tenant of 8",
            CapSet::all(),
            grants(&[(8, GrantLevel::Manage)]),
        )
        .await;
    for what in ["owner", "plan", "labels"] {
        let body = match what {
            "owner" => json!({"owner": "cust-01"}),
            "plan" => json!({"plan": "free"}),
            _ => json!({"labels": {"tier": "free"}}),
        };
        s.call_json(Method::PATCH, &path(what), &tenant, &body)
            .await
            .assert_error_for(what, 403, "forbidden");
    }
    let seen = s
        .get(&format!("/api/v1/hostings/{}", domain(8)), &tenant)
        .await;
    assert_eq!(seen.body["owner"], "cust-05");
}

/// Case: A key scoped to a customer reaches its hostings and nothing else.
pub async fn an_owner_scoped_key_reaches_its_customer_and_nothing_else(s: &TestServer) {
    let key = s
        .mint(
            "cust-02 manager",
            CapSet::all(),
            scoped_to(CUSTOMER, GrantLevel::Manage),
        )
        .await;
    let admin = &s.keys.admin;
    // The operator's page of the same request, rendered just before, is
    // never what the customer's key is answered (nor the other way round).
    let operators = s.get("/api/v1/hostings", admin).await;
    assert_eq!(operators.body["total"], 30);
    let all = s.get("/api/v1/hostings", &key).await;
    assert_eq!(all.body["total"], CUSTOMERS_HOSTINGS.len());
    let operators = s.get("/api/v1/hostings", admin).await;
    assert_eq!(operators.body["total"], 30);
    assert_eq!(ids_of(&all.body), sorted_ids(&CUSTOMERS_HOSTINGS));
    for item in all.body["items"].as_array().unwrap() {
        assert_eq!(item["owner"], CUSTOMER);
        assert!(item["node_id"].is_null(), "node names never reach a tenant");
    }
    // A filter for another customer is an empty list, word for word the
    // one for a customer nowhere.
    let theirs = s.get("/api/v1/hostings?owner=cust-03", &key).await;
    let nobody = s.get("/api/v1/hostings?owner=cust-nobody", &key).await;
    assert_eq!(theirs.body["total"], 0);
    assert_eq!(theirs.body, nobody.body);
    let absent = s.get("/api/v1/hostings/absent.example.test", &key).await;
    for name in every_name(OTHERS) {
        let read = s.get(&format!("/api/v1/hostings/{name}"), &key).await;
        assert_absent(&read, &absent, &format!("GET {name}"));
        let suspend = s
            .call(
                Method::POST,
                &format!("/api/v1/hostings/{name}/suspend"),
                Some(&key),
            )
            .await;
        assert_absent(&suspend, &absent, &format!("suspend {name}"));
    }
    s.get(&format!("/api/v1/hostings/{}", domain(OTHERS)), admin)
        .await
        .assert_ok(200);
    // Its own: read and managed, by any name.
    for name in every_name(15) {
        s.get(&format!("/api/v1/hostings/{name}"), &key)
            .await
            .assert_ok_for(&name, 200);
    }
    s.call(
        Method::POST,
        &format!("/api/v1/hostings/{}/suspend", domain(15)),
        Some(&key),
    )
    .await
    .assert_ok(200);
    // The operator's settings and the ownership stay the operator's.
    for (what, body) in [
        ("limits", json!({"cpu_percent": 200})),
        ("owner", json!({"owner": "cust-02"})),
        ("plan", json!({"plan": "free"})),
    ] {
        s.call_json(
            Method::PATCH,
            &format!("/api/v1/hostings/{}/{what}", domain(15)),
            &key,
            &body,
        )
        .await
        .assert_error_for(what, 403, "forbidden");
    }
    // Moved away: out of reach at once, in every answer.
    s.call_json(
        Method::PATCH,
        &format!("/api/v1/hostings/{}/owner", domain(22)),
        admin,
        &json!({"owner": "cust-03"}),
    )
    .await
    .assert_ok(200);
    for name in every_name(22) {
        let read = s.get(&format!("/api/v1/hostings/{name}"), &key).await;
        assert_absent(&read, &absent, &format!("GET {name} after the move"));
    }
    let after = s.get("/api/v1/hostings", &key).await;
    assert_eq!(after.body["total"], CUSTOMERS_HOSTINGS.len() - 1);
    // Given to the customer later: in reach at once.
    let later = s
        .call_json(
            Method::POST,
            "/api/v1/hostings",
            admin,
            &json!({"domain": "later.example.test", "owner": CUSTOMER}),
        )
        .await;
    later.assert_ok(201);
    s.get("/api/v1/hostings/later.example.test", &key)
        .await
        .assert_ok(200);
}

/// Case: A customer's key creates for that customer only.
pub async fn an_owner_scoped_key_creates_for_its_customer_only(s: &TestServer) {
    let key = s
        .mint(
            "cust-02 creator",
            CapSet::all(),
            scoped_to(CUSTOMER, GrantLevel::Manage),
        )
        .await;
    for body in [
        json!({"domain": "theirs.example.test", "owner": "cust-03"}),
        json!({"domain": "nowhere.example.test", "owner": "cust-nobody"}),
    ] {
        let refused = s
            .call_json(Method::POST, "/api/v1/hostings", &key, &body)
            .await;
        refused.assert_error(400, "validation");
    }
    let own = s
        .call_json(
            Method::POST,
            "/api/v1/hostings",
            &key,
            &json!({"domain": "mine.example.test"}),
        )
        .await;
    own.assert_ok(201);
    assert_eq!(own.body["owner"], CUSTOMER);
    for body in [
        json!({"domain": "planned.example.test", "plan": "free"}),
        json!({"domain": "labelled.example.test", "labels": {"tier": "gold"}}),
    ] {
        s.call_json(Method::POST, "/api/v1/hostings", &key, &body)
            .await
            .assert_error(400, "validation");
    }
    // A view level on the customer's hostings creates none.
    let viewer = s
        .mint(
            "cust-02 viewer",
            CapSet::all(),
            scoped_to(CUSTOMER, GrantLevel::View),
        )
        .await;
    s.call_json(
        Method::POST,
        "/api/v1/hostings",
        &viewer,
        &json!({"domain": "viewed.example.test"}),
    )
    .await
    .assert_error(403, "forbidden");
    // A replayed create tells a hosting moved to another customer from one
    // deleted in no way: both are the same 409, never the old 201.
    let create = |idempotency: &str, name: &str| {
        s.client
            .post(format!("{}/api/v1/hostings", s.base))
            .bearer_auth(&key)
            .header("idempotency-key", idempotency)
            .json(&json!({"domain": name}))
    };
    let moved = s.send(create("replay-moved", "moved.example.test")).await;
    moved.assert_ok(201);
    let moved_id = moved.body["id"].as_str().unwrap().to_owned();
    let deleted = s
        .send(create("replay-deleted", "deleted.example.test"))
        .await;
    deleted.assert_ok(201);
    let deleted_id = deleted.body["id"].as_str().unwrap().to_owned();
    s.send(create("replay-moved", "moved.example.test"))
        .await
        .assert_ok(201);
    s.call_json(
        Method::PATCH,
        &format!("/api/v1/hostings/{moved_id}/owner"),
        &s.keys.admin,
        &json!({"owner": "cust-03"}),
    )
    .await
    .assert_ok(200);
    let gone = s
        .call(
            Method::DELETE,
            &format!("/api/v1/hostings/{deleted_id}"),
            Some(&s.keys.admin),
        )
        .await;
    gone.assert_ok(202);
    s.wait_for_job(gone.body["job_id"].as_str().unwrap(), &s.keys.admin)
        .await;
    let after_move = s.send(create("replay-moved", "moved.example.test")).await;
    let after_delete = s
        .send(create("replay-deleted", "deleted.example.test"))
        .await;
    after_move.assert_error(409, "conflict");
    after_delete.assert_error(409, "conflict");
    assert_eq!(
        after_move.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&moved_id, "X"),
        after_delete.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&deleted_id, "X")
    );
    // A grants-scoped tenant names no owner either.
    let tenant = s
        .mint("tenant", CapSet::all(), grants(&[(1, GrantLevel::Manage)]))
        .await;
    s.call_json(
        Method::POST,
        "/api/v1/hostings",
        &tenant,
        &json!({"domain": "gift.example.test", "owner": CUSTOMER}),
    )
    .await
    .assert_error(400, "validation");
}

/// Case: A customer's key cannot widen itself through the keys it mints.
pub async fn an_owner_scoped_key_cannot_widen_through_children(s: &TestServer) {
    let manager = s
        .mint(
            "cust-02 parent",
            CapSet::all(),
            scoped_to(CUSTOMER, GrantLevel::Manage),
        )
        .await;
    let viewer = s
        .mint(
            "cust-02 viewer",
            CapSet::all(),
            scoped_to(CUSTOMER, GrantLevel::View),
        )
        .await;
    let mint = |scope: Value| json!({"label": format!("child {scope}"), "caps": ["hosting_view", "hosting_suspend"], "scope": scope});
    for scope in [json!("all"), json!({"owner": "cust-03", "level": "view"})] {
        s.mint_over_http(&manager, mint(scope.clone()))
            .await
            .assert_error_for(&scope.to_string(), 403, "forbidden");
    }
    // Another customer's hosting is as unknown as one that does not exist.
    let theirs = s
        .mint_over_http(
            &manager,
            mint(json!({"grants": [{"hosting": domain(OTHERS), "level": "view"}]})),
        )
        .await;
    let absent = s
        .mint_over_http(
            &manager,
            mint(json!({"grants": [{"hosting": "absent.example.test", "level": "view"}]})),
        )
        .await;
    theirs.assert_error(400, "validation");
    assert_eq!(
        theirs.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&domain(OTHERS), "X"),
        absent.body["error"]["message"]
            .as_str()
            .unwrap()
            .replace("absent.example.test", "X")
    );
    // A view level cannot mint manage; a grants-scoped key cannot mint an owner.
    s.mint_over_http(&viewer, mint(json!({"owner": CUSTOMER, "level": "manage"})))
        .await
        .assert_error(403, "forbidden");
    let tenant = s
        .mint("grants", CapSet::all(), grants(&[(1, GrantLevel::Manage)]))
        .await;
    s.mint_over_http(&tenant, mint(json!({"owner": CUSTOMER, "level": "view"})))
        .await
        .assert_error(403, "forbidden");
    // A view level reads but never manages (it knows the hosting: 403).
    s.call(
        Method::POST,
        &format!("/api/v1/hostings/{}/suspend", domain(29)),
        Some(&viewer),
    )
    .await
    .assert_error(403, "forbidden");
    // A child granted one of the customer's hostings loses it the moment
    // the hosting leaves the customer: its parent's reach clamps it.
    let child = s
        .mint_over_http(
            &manager,
            mint(json!({"grants": [{"hosting": domain(1), "level": "manage"}]})),
        )
        .await;
    child.assert_ok(201);
    let child = child.body["key"].as_str().unwrap().to_owned();
    s.get(&format!("/api/v1/hostings/{}", domain(1)), &child)
        .await
        .assert_ok(200);
    s.call_json(
        Method::PATCH,
        &format!("/api/v1/hostings/{}/owner", domain(1)),
        &s.keys.admin,
        &json!({"owner": "cust-03"}),
    )
    .await
    .assert_ok(200);
    s.get(&format!("/api/v1/hostings/{}", domain(1)), &child)
        .await
        .assert_error(404, "not_found");
    assert_eq!(
        s.get("/api/v1/hostings", &child).await.body["total"],
        0,
        "and it is gone from the child's list"
    );
}

/// Case: A customer's key learns nothing from a node that fails or hangs.
pub async fn a_down_node_tells_an_owner_scoped_key_nothing(s: &TestServer) {
    let key = s
        .mint(
            "cust-02 prober",
            CapSet::all(),
            scoped_to(CUSTOMER, GrantLevel::Manage),
        )
        .await;
    // Learnt by the API first, so that a known name is on the warm path.
    s.get(
        &format!("/api/v1/hostings/{}", domain(OTHERS)),
        &s.keys.admin,
    )
    .await
    .assert_ok(200);
    let others_node = &s.nodes[OTHERS % s.nodes.len()];
    for fault in [SimFault::Fail, SimFault::Hang] {
        others_node.set_fault(fault);
        let absent = s.get("/api/v1/hostings/hmissing", &key).await;
        absent.assert_error(404, "not_found");
        for name in every_name(OTHERS) {
            let read = s.get(&format!("/api/v1/hostings/{name}"), &key).await;
            assert_absent(&read, &absent, &format!("{fault:?}: GET {name}"));
        }
        let list = s.get("/api/v1/hostings?owner=cust-03", &key).await;
        assert_eq!(list.body["total"], 0, "{fault:?}");
        assert_eq!(list.body["unavailable_nodes"], json!([]), "{fault:?}");
    }
    others_node.set_fault(SimFault::None);
}
