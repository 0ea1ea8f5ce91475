//! Every case, one file per section. Each takes a running [`TestServer`]
//! and asserts what a client of the adapter under test sees.

mod addressing;
mod authentication;
mod delegation;
mod errors;
mod hardening;
mod keys;
mod lifecycle;
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
pub use pagination::*;
pub use provisioning::*;
pub use tenants::*;
pub use wire_shapes::*;

/// What every section needs: the harness, the request and JSON types, and
/// the shared helpers below.
mod prelude {
    pub(super) use super::super::harness::*;
    pub(super) use super::{
        Call, WP_PASSWORD, assert_timestamp, grants, ids_of, matrix, sorted_keys, wp_body,
    };
    pub(super) use hyperion_core::sim::SimFault;
    pub(super) use hyperion_core::{
        CapSet, Capability, ForwardedHeader, GrantLevel, KeyScope, NewKey,
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

/// Every endpoint, each on its own hosting or key so that they do not
/// interfere, with the capability it needs and its success status.
async fn matrix(s: &TestServer) -> Vec<Call> {
    let job = s.start_job(28).await;
    let viewer_key = s.key_id("viewer").await;
    let spare_key = s.key_id("spare").await;
    let call = |method: Method, path: String, cap: Option<Capability>, ok: u16| Call {
        method,
        path: format!("/api/v1{path}"),
        body: None,
        cap,
        ok,
    };
    use Capability::*;
    let with_body = |mut call: Call, body: Value| {
        call.body = Some(body);
        call
    };
    let config = |setting: &str| format!("/hostings/{}/{setting}", hosting_id(4));
    let ops = |op: &str| format!("/hostings/{}/{op}", hosting_id(5));
    vec![
        call(Method::GET, "/me".into(), None, 200),
        call(Method::GET, "/hostings".into(), Some(HostingView), 200),
        with_body(
            call(Method::POST, "/hostings".into(), Some(HostingCreate), 201),
            json!({"domain": "matrix.example.test"}),
        ),
        call(
            Method::GET,
            format!("/hostings/{}", hosting_id(1)),
            Some(HostingView),
            200,
        ),
        call(
            Method::GET,
            format!("/hostings/{}", domain(2)),
            Some(HostingView),
            200,
        ),
        call(
            Method::POST,
            format!("/hostings/{}/suspend", hosting_id(0)),
            Some(HostingSuspend),
            200,
        ),
        call(
            Method::POST,
            format!("/hostings/{}/resume", domain(3)),
            Some(HostingSuspend),
            200,
        ),
        call(
            Method::DELETE,
            format!("/hostings/{}", hosting_id(29)),
            Some(HostingDelete),
            202,
        ),
        with_body(
            call(
                Method::PATCH,
                config("limits"),
                Some(HostingEditConfig),
                200,
            ),
            json!({"memory_mb": 1024}),
        ),
        with_body(
            call(Method::PATCH, config("php"), Some(HostingEditConfig), 200),
            json!({"version": "8.2"}),
        ),
        with_body(
            call(Method::PATCH, config("vhost"), Some(HostingEditConfig), 200),
            json!({"force_https": true}),
        ),
        with_body(
            call(
                Method::PATCH,
                config("expiry"),
                Some(HostingEditConfig),
                200,
            ),
            json!({"expires_at": null}),
        ),
        with_body(
            call(Method::PATCH, config("quota"), Some(HostingEditConfig), 200),
            json!({"memory_mb": 4096}),
        ),
        call(Method::POST, ops("backup"), Some(BackupRun), 202),
        call(Method::GET, ops("backups"), Some(BackupRun), 200),
        with_body(
            call(Method::POST, ops("restore"), Some(BackupRestore), 202),
            json!({"backup_id": "initial"}),
        ),
        with_body(
            call(Method::POST, ops("cert"), Some(CertManage), 202),
            json!({"staging": true}),
        ),
        with_body(
            call(Method::POST, ops("wp/install"), Some(WpManage), 202),
            wp_body(),
        ),
        call(
            Method::POST,
            "/certs/renew-all".into(),
            Some(CertManage),
            202,
        ),
        call(Method::GET, "/nodes".into(), Some(NodesView), 200),
        call(Method::GET, format!("/jobs/{job}"), None, 200),
        with_body(
            call(Method::POST, "/keys".into(), Some(ApiKeysManage), 201),
            json!({"label": "matrix", "caps": [], "scope": "all"}),
        ),
        call(Method::GET, "/keys".into(), Some(ApiKeysManage), 200),
        call(
            Method::GET,
            format!("/keys/{viewer_key}"),
            Some(ApiKeysManage),
            200,
        ),
        call(
            Method::DELETE,
            format!("/keys/{spare_key}"),
            Some(ApiKeysManage),
            200,
        ),
    ]
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
