//! Wire shapes: the documented JSON of `/me`, hosting lists and details, and nodes.

use super::prelude::*;

/// Case: Me shows the key and its effective rights.
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

/// The fields the served OpenAPI document gives schema `name` (through
/// its `allOf` parts), sorted: what an answer of that schema must hold.
async fn documented_fields(s: &TestServer, name: &str) -> Vec<String> {
    let document = s.get("/api/v1/openapi.json", &s.keys.admin).await.body;
    let schemas = &document["components"]["schemas"];
    let mut fields = Vec::new();
    let mut pending = vec![schemas[name].clone()];
    while let Some(schema) = pending.pop() {
        if let Some(reference) = schema["$ref"].as_str() {
            let referred = reference.rsplit('/').next().unwrap_or_default();
            pending.push(schemas[referred].clone());
        }
        if let Some(parts) = schema["allOf"].as_array() {
            pending.extend(parts.iter().cloned());
        }
        if let Some(properties) = schema["properties"].as_object() {
            fields.extend(properties.keys().cloned());
        }
    }
    fields.sort_unstable();
    fields
}

/// Case: Hosting list has the documented shape.
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
    let documented = documented_fields(s, "Hosting").await;
    for item in items {
        assert_eq!(sorted_keys(item), documented);
        assert_timestamp(&item["created_at"]);
    }
    assert_eq!(reply.body["next_cursor"], items[4]["id"]);
}

/// Case: Hosting detail has the documented shape.
pub async fn hosting_detail_has_the_documented_shape(s: &TestServer) {
    let reply = s
        .get(
            &format!("/api/v1/hostings/{}", hosting_id(0)),
            &s.keys.admin,
        )
        .await;
    reply.assert_ok(200);
    let documented = documented_fields(s, "HostingDetail").await;
    assert_eq!(sorted_keys(&reply.body), documented);
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

/// Case: Nodes list every node.
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

/// Every answer reads back into the core's own type for it, field for
/// field: what a client built on those types (`hyperion-client`) parses is
/// what the server sends, on this adapter.
pub async fn every_answer_reads_back_into_its_type(s: &TestServer) {
    use hyperion_core::model::HostingDetail;
    use hyperion_core::{
        AuditPage, BackupList, HostingPage, Job, JobAccepted, KeyPage, KeyView, Me, NewKeyAnswer,
        NodeList, StateChange,
    };
    fn read<T: serde::de::DeserializeOwned + serde::Serialize>(what: &str, reply: &Reply) -> T {
        let typed: T = serde_json::from_str(&reply.text)
            .unwrap_or_else(|err| panic!("{what}: {err}: {}", reply.text));
        // Nothing is lost on the way: the type writes back the same JSON.
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            reply.body,
            "{what} round trip"
        );
        typed
    }
    let admin = &s.keys.admin;
    let me: Me = read("me", &s.get("/api/v1/me", admin).await);
    assert_eq!(me.key.label, "admin");
    let page: HostingPage = read("hostings", &s.get("/api/v1/hostings?limit=3", admin).await);
    assert_eq!(page.items.len(), 3);
    let id = hosting_id(2);
    let _: HostingDetail = read(
        "detail",
        &s.get(&format!("/api/v1/hostings/{id}"), admin).await,
    );
    let _: NodeList = read("nodes", &s.get("/api/v1/nodes", admin).await);
    let _: BackupList = read(
        "backups",
        &s.get(&format!("/api/v1/hostings/{id}/backups"), admin)
            .await,
    );
    let suspended: StateChange = read(
        "suspend",
        &s.call(
            Method::POST,
            &format!("/api/v1/hostings/{id}/suspend"),
            Some(admin),
        )
        .await,
    );
    assert_eq!(suspended.id, id);
    let accepted: JobAccepted = read(
        "backup",
        &s.call(
            Method::POST,
            &format!("/api/v1/hostings/{id}/backup"),
            Some(admin),
        )
        .await,
    );
    s.wait_for_job(accepted.job_id.as_str(), admin).await;
    let job: Job = read(
        "job",
        &s.get(&format!("/api/v1/jobs/{}", accepted.job_id), admin)
            .await,
    );
    assert_eq!(job.id, accepted.job_id);
    let minted: NewKeyAnswer = read(
        "mint",
        &s.mint_over_http(admin, json!({"label": "typed", "caps": [], "scope": "all"}))
            .await,
    );
    assert!(
        !format!("{minted:?}").contains(&minted.key),
        "Debug hides the key"
    );
    let _: KeyView = read(
        "key",
        &s.get(&format!("/api/v1/keys/{}", minted.view.id), admin)
            .await,
    );
    let _: KeyPage = read("keys", &s.get("/api/v1/keys?limit=5", admin).await);
    let _: AuditPage = read("audit", &s.get("/api/v1/audit?limit=5", admin).await);
    // A tenant never learns node names: its hostings read back with none.
    let tenant = s
        .mint(
            "typed tenant",
            CapSet::all(),
            grants(&[(1, GrantLevel::View)]),
        )
        .await;
    let own: HostingDetail = read(
        "tenant detail",
        &s.get(&format!("/api/v1/hostings/{}", hosting_id(1)), &tenant)
            .await,
    );
    assert_eq!(own.summary.node_id, None);
    let listed: HostingPage = read("tenant list", &s.get("/api/v1/hostings", &tenant).await);
    assert!(listed.items.iter().all(|hosting| hosting.node_id.is_none()));
}
