//! Every case, one file per section. Each takes a running [`TestServer`]
//! and asserts what a client of the adapter under test sees.

mod addressing;
mod authentication;
mod delegation;
mod errors;
mod hardening;
mod keys;
mod lifecycle;
mod owners;
mod pagination;
mod provisioning;
mod tenants;
mod wire_shapes;

pub use addressing::*;
pub use authentication::*;
pub use delegation::*;
pub use errors::*;
pub use hardening::*;
pub use keys::*;
pub use lifecycle::*;
pub use owners::*;
pub use pagination::*;
pub use provisioning::*;
pub use tenants::*;
pub use wire_shapes::*;

/// What every section needs: the harness, the request and JSON types, and
/// the shared helpers below.
mod prelude {
    pub(super) use super::super::harness::*;
    pub(super) use super::{
        Call, WP_PASSWORD, assert_timestamp, call_of, grants, ids_of, matrix, sorted_keys, wp_body,
    };
    pub(super) use hyperion_core::sim::SimFault;
    pub(super) use hyperion_core::{
        Access, CapSet, Capability, EndpointInfo, ForwardedHeader, GrantLevel, KeyScope, NewKey,
    };
    pub(super) use reqwest::Method;
    pub(super) use serde_json::{Value, json};
}

use prelude::*;

/// One call of the authorization matrix.
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    cap: Option<Capability>,
    ok: u16,
}

impl Call {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    async fn send(&self, s: &TestServer, authorization: Option<&str>) -> Reply {
        let mut request = s
            .client
            .request(self.method.clone(), format!("{}{}", s.base, self.path));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        s.send(request).await
    }

    async fn send_with_key(&self, s: &TestServer, key: &str) -> Reply {
        self.send(s, Some(&format!("Bearer {key}"))).await
    }
}

/// A body each body schema the kit declares accepts on the fixture; a new
/// schema needs one here (the suite says so).
fn example_body(schema: &str) -> Option<Value> {
    match schema {
        "NoOptions" => None,
        "CreateHosting" => Some(json!({"domain": "matrix.example.test"})),
        "LimitsPatch" => Some(json!({"max_processes": 64})),
        "PhpPatch" => Some(json!({"version": "8.4"})),
        "VhostPatch" => Some(json!({"maintenance": true})),
        "ExpiryPatch" => Some(json!({"expires_at": "2999-01-01T00:00:00Z"})),
        "QuotaPatch" => Some(json!({"disk_hard_mb": 10240})),
        "OwnerPatch" => Some(json!({"owner": "cust-matrix"})),
        "PlanPatch" => Some(json!({"plan": "matrix"})),
        "LabelsPatch" => Some(json!({"labels": {"matrix": "yes"}})),
        "RestoreRequest" => Some(json!({"backup_id": "initial"})),
        "CertificateRequest" => Some(json!({"staging": true})),
        "WpInstallRequest" => Some(wp_body()),
        "MintRequest" => Some(json!({"label": "matrix", "caps": [], "scope": "all"})),
        other => panic!("the conformance suite has no example body for `{other}`: add one"),
    }
}

/// The call of `endpoint` with `{id}` standing for `id`, its example body,
/// the capability it needs and its success status, all as the kit declares
/// them.
fn call_of(endpoint: &EndpointInfo, id: &str) -> Call {
    Call {
        method: endpoint.method.parse().expect("an HTTP method"),
        path: format!("/api/v1{}", endpoint.path.replace("{id}", id)),
        body: endpoint.body_schema.and_then(example_body),
        cap: endpoint.capability,
        ok: endpoint.success_status,
    }
}

/// Every endpoint that needs a key, each on its own hosting (by id or by
/// domain, in turn) or key so that they do not interfere, with the
/// capability it needs and its success status.
async fn matrix(s: &TestServer) -> Vec<Call> {
    let job = s.start_job(28).await;
    let viewer_key = s.key_id("viewer").await;
    let spare_key = s.key_id("spare").await;
    hyperion_core::endpoints()
        .enumerate()
        .filter(|(_, endpoint)| !endpoint.public)
        .map(|(at, endpoint)| {
            let id = match (endpoint.hosting, endpoint.path, endpoint.method) {
                (Some(_), _, _) if at % 2 == 0 => hosting_id(at).to_string(),
                (Some(_), _, _) => domain(at),
                (None, path, _) if path.starts_with("/jobs/") => job.clone(),
                (None, path, "DELETE") if path.starts_with("/keys/") => spare_key.clone(),
                (None, _, _) => viewer_key.clone(),
            };
            call_of(&endpoint, &id)
        })
        .collect()
}

/// A valid WordPress install body.
fn wp_body() -> Value {
    json!({
        "site_url": "https://blog.example.test",
        "title": "My blog",
        "admin_user": "editor",
        "admin_email": "editor@example.test",
        "admin_password": WP_PASSWORD,
    })
}

/// The WordPress admin password of [`wp_body`]: it must never come back.
pub const WP_PASSWORD: &str = "pw-never-shown-7f3a";

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort_unstable();
    keys
}

fn assert_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|err| panic!("{text}: {err}"));
}

/// A grants scope over fixture hostings, by id.
fn grants(pairs: &[(usize, GrantLevel)]) -> KeyScope {
    KeyScope::Grants(
        pairs
            .iter()
            .map(|(i, level)| (hosting_id(*i), *level))
            .collect(),
    )
}

/// The ids of a list answer's items, in order.
fn ids_of(reply_body: &Value) -> Vec<String> {
    reply_body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_owned())
        .collect()
}
