//! Tenant keys: per-hosting grants, and what a tenant may and may not see or do.

use super::prelude::*;

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

/// Every endpoint on one hosting `selector`, with what it needs of the
/// scope, as the kit declares them. Deletion comes last: it ends the
/// hosting.
fn hosting_calls(selector: &str) -> Vec<(Call, Needs)> {
    let mut calls: Vec<(Call, Needs)> = hyperion_core::endpoints()
        .filter_map(|endpoint| {
            let needs = match (endpoint.hosting?, endpoint.cluster_scope) {
                (_, true) => Needs::Operator,
                (Access::Manage, false) => Needs::Manage,
                (Access::Read, false) => Needs::Read,
            };
            Some((call_of(&endpoint, selector), needs))
        })
        .collect();
    calls.sort_by_key(|(call, _)| call.method == Method::DELETE);
    calls
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
        let key = s.mint(&format!("{kind:?} {index}"), caps, scope).await;
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

/// Case: Tenant matrix scope all.
pub async fn tenant_matrix_scope_all(s: &TestServer) {
    tenant_matrix(s, Tenant::ScopeAll).await;
}

/// Case: Tenant matrix manage grant.
pub async fn tenant_matrix_manage_grant(s: &TestServer) {
    tenant_matrix(s, Tenant::ManageGrant).await;
}

/// Case: Tenant matrix view grant.
pub async fn tenant_matrix_view_grant(s: &TestServer) {
    tenant_matrix(s, Tenant::ViewGrant).await;
}

/// Case: Tenant matrix no grant is indistinguishable from missing.
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

/// Case: Tenant matrix grant without capability.
pub async fn tenant_matrix_grant_without_capability(s: &TestServer) {
    tenant_matrix(s, Tenant::GrantWithoutCapability).await;
}

/// Case: Tenant list shows only granted hostings.
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

/// Case: Cluster wide endpoints need scope all.
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

/// Case: Jobs are read by their starter or a scope all key.
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
