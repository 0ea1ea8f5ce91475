//! Authentication and the capability matrix: every endpoint refuses a missing, malformed, unknown, revoked or expired key, and asks for its capability.

use super::prelude::*;

async fn all_refused_with_401(s: &TestServer, key: &str) {
    for call in matrix(s).await {
        call.send_with_key(s, key)
            .await
            .assert_error_for(&call.label(), 401, "unauthorized");
    }
}

/// Case: No key is 401 everywhere.
pub async fn no_key_is_401_everywhere(s: &TestServer) {
    for call in matrix(s).await {
        let reply = call.send(s, None).await;
        reply.assert_error_for(&call.label(), 401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
}

/// Case: Malformed authorization is 401 everywhere.
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

/// Case: Unknown key is 401 everywhere.
pub async fn unknown_key_is_401_everywhere(s: &TestServer) {
    let never_stored = NewKey::new("ghost", "admin".parse().unwrap(), CapSet::all()).mint();
    all_refused_with_401(s, never_stored.secret.expose()).await;
}

/// Case: Revoked key is 401 everywhere.
pub async fn revoked_key_is_401_everywhere(s: &TestServer) {
    all_refused_with_401(s, &s.keys.revoked).await;
}

/// Case: Expired key is 401 everywhere.
pub async fn expired_key_is_401_everywhere(s: &TestServer) {
    all_refused_with_401(s, &s.keys.expired).await;
}

/// Case: Key lacking capabilities is 403 where one is needed.
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

/// Case: Demoted owner shrinks the key at once.
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

/// Case: Removed owner kills the key at once.
pub async fn removed_owner_kills_the_key_at_once(s: &TestServer) {
    s.get("/api/v1/me", &s.keys.demotable).await.assert_ok(200);
    s.owners.remove(&"demotable".parse().unwrap());
    all_refused_with_401(s, &s.keys.demotable).await;
}

/// Case: Scope all key reaches every endpoint.
pub async fn scope_all_key_reaches_every_endpoint(s: &TestServer) {
    for call in matrix(s).await {
        call.send_with_key(s, &s.keys.admin)
            .await
            .assert_ok_for(&call.label(), call.ok);
    }
}
