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

const SUMMARY_FIELDS: [&str; 6] = [
    "created_at",
    "domain",
    "id",
    "node_id",
    "php_version",
    "state",
];

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
    for item in items {
        assert_eq!(sorted_keys(item), SUMMARY_FIELDS);
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
    let mut expected: Vec<&str> = SUMMARY_FIELDS.to_vec();
    expected.extend([
        "aliases",
        "database",
        "expires_at",
        "kind",
        "limits",
        "proxy_upstream_url",
        "quota",
        "root_dir",
        "suspended_by",
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
