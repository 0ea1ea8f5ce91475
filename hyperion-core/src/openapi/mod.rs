//! The OpenAPI 3.1 contract of `/api/v1`, built from the route table (every
//! route, every method) and the schemas of the request and response types,
//! and served by every adapter byte for byte the same. `GET /docs` renders
//! the same document as a page that needs no network.

mod html;
mod schemas;

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::authz::{Access, HostingRule, route_rule};
use crate::capability::Capability;
use crate::http::query::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::http::routes::{Endpoint, ROUTES};
use schemas::schema_ref;

/// Who may call an operation beyond its capability.
#[derive(Clone, Copy)]
enum Reach {
    /// No key needed.
    Public,
    /// Any authenticated key (the capability decides).
    AnyKey,
    /// Scope `all` only.
    ClusterWide,
    /// A hosting the key can read (scope all or any grant).
    ReadHosting,
    /// A hosting the key can manage (scope all or a manage grant).
    ManageHosting,
}

/// What the document says about one operation.
struct Operation {
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    cap: Option<Capability>,
    reach: Reach,
    params: Vec<Value>,
    body: Option<(&'static str, bool)>,
    success: (u16, &'static str, &'static str),
    /// Error statuses beyond those every authenticated operation has.
    errors: &'static [u16],
    /// Whether the success answer carries `Location`.
    location: bool,
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn path_param(description: &str, schema: Value) -> Value {
    json!({"name": "id", "in": "path", "required": true, "description": description, "schema": schema})
}

fn hosting_param() -> Value {
    path_param(
        "Hosting id, or one of its domains (a value with a dot is a domain)",
        json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,253}$"}),
    )
}

fn page_params(cursor: &str) -> Vec<Value> {
    vec![
        query_param(
            "limit",
            "Page size",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE}),
        ),
        query_param(
            "cursor",
            "Where the page starts: `next_cursor` of the previous page (empty: the first page)",
            json!({"type": "string", "pattern": format!("^({cursor})?$")}),
        ),
    ]
}

fn idempotency_param() -> Value {
    json!({
        "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "Makes retries safe: the first successful answer is replayed for 24 hours",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}
    })
}

fn flag_param(name: &str, description: &str) -> Value {
    query_param(
        name,
        description,
        json!({"type": "string", "enum": ["", "true", "false", "1", "0"]}),
    )
}

/// The document's description of `endpoint`. An exhaustive match: a new
/// route does not compile until it is documented.
fn operation(endpoint: Endpoint) -> Operation {
    use Capability as C;
    use Endpoint as E;
    let op = |id, tag, summary, cap, reach, success| Operation {
        id,
        tag,
        summary,
        cap,
        reach,
        params: Vec::new(),
        body: None,
        success,
        errors: &[],
        location: false,
    };
    let hosting =
        |id, summary, cap, reach, success, body: Option<(&'static str, bool)>, errors| Operation {
            params: vec![hosting_param()],
            body,
            errors,
            ..op(id, "hostings", summary, Some(cap), reach, success)
        };
    let job_started = (202, "Accepted", "The job was started; poll `Location`");
    match endpoint {
        E::OpenApi => op(
            "getOpenApi",
            "meta",
            "This OpenAPI document",
            None,
            Reach::Public,
            (200, "", "The document"),
        ),
        E::Docs => op(
            "getDocs",
            "meta",
            "This contract as a readable page",
            None,
            Reach::Public,
            (200, "", "An HTML page"),
        ),
        E::Me => op(
            "getMe",
            "keys",
            "The presented key, its effective capabilities, scope and expiry",
            None,
            Reach::AnyKey,
            (200, "Me", "The key"),
        ),
        E::ListHostings => {
            let mut params = page_params("[A-Za-z0-9_-]{1,64}");
            params.extend([
                query_param(
                    "state",
                    "Only hostings in this state",
                    schema_ref("HostingState"),
                ),
                query_param(
                    "node",
                    "Only hostings on this node",
                    json!({"type": "string", "pattern": schemas::ID_PATTERN}),
                ),
                query_param(
                    "q",
                    "Only hostings whose domain contains this (any case)",
                    json!({"type": "string", "maxLength": 253}),
                ),
                query_param(
                    "allow_partial",
                    "Answer with the healthy nodes' hostings when some fail (default true)",
                    json!({"type": "boolean"}),
                ),
            ]);
            Operation {
                params,
                errors: &[400, 502, 504],
                ..op(
                    "listHostings",
                    "hostings",
                    "The hostings the key may read, by id",
                    Some(C::HostingView),
                    Reach::AnyKey,
                    (200, "HostingPage", "One page"),
                )
            }
        }
        E::CreateHosting => Operation {
            params: vec![idempotency_param()],
            body: Some(("CreateHosting", true)),
            errors: &[400, 409, 413, 502, 504],
            location: true,
            ..op(
                "createHosting",
                "hostings",
                "Create a hosting (granted to a tenant key that creates it)",
                Some(C::HostingCreate),
                Reach::AnyKey,
                (201, "HostingDetail", "The new hosting"),
            )
        },
        E::GetHosting => hosting(
            "getHosting",
            "One hosting",
            C::HostingView,
            Reach::ReadHosting,
            (200, "HostingDetail", "The hosting"),
            None,
            &[400, 404, 502, 504],
        ),
        E::SuspendHosting => hosting(
            "suspendHosting",
            "Suspend (a no-op when suspended)",
            C::HostingSuspend,
            Reach::ManageHosting,
            (200, "StateChange", "The new state"),
            None,
            &[400, 404, 409, 502, 504],
        ),
        E::ResumeHosting => hosting(
            "resumeHosting",
            "Resume (a no-op when active)",
            C::HostingSuspend,
            Reach::ManageHosting,
            (200, "StateChange", "The new state"),
            None,
            &[400, 404, 409, 502, 504],
        ),
        E::DeleteHosting => {
            let mut op = hosting(
                "deleteHosting",
                "Delete, in a job",
                C::HostingDelete,
                Reach::ManageHosting,
                job_started,
                None,
                &[400, 404, 409, 502, 504],
            );
            op.params
                .push(flag_param("keep_user", "Keep the system user"));
            op.params
                .push(flag_param("keep_database", "Keep the database"));
            op.location = true;
            op
        }
        E::PatchLimits => hosting(
            "patchLimits",
            "Change resource limits",
            C::HostingEditConfig,
            Reach::ManageHosting,
            (200, "Limits", "The new limits"),
            Some(("LimitsPatch", true)),
            &[400, 404, 409, 413, 502, 504],
        ),
        E::PatchPhp => hosting(
            "patchPhp",
            "Change the PHP version",
            C::HostingEditConfig,
            Reach::ManageHosting,
            (200, "PhpValue", "The new version"),
            Some(("PhpPatch", true)),
            &[400, 404, 409, 413, 502, 504],
        ),
        E::PatchVhost => hosting(
            "patchVhost",
            "Change web-server options (the basic-auth password is write-only)",
            C::HostingEditConfig,
            Reach::ManageHosting,
            (200, "VhostOptions", "The new options"),
            Some(("VhostPatch", true)),
            &[400, 404, 409, 413, 502, 504],
        ),
        E::PatchExpiry => hosting(
            "patchExpiry",
            "Set or clear (null) the expiry",
            C::HostingEditConfig,
            Reach::ManageHosting,
            (200, "ExpiryValue", "The new expiry"),
            Some(("ExpiryPatch", true)),
            &[400, 404, 409, 413, 502, 504],
        ),
        E::PatchQuota => hosting(
            "patchQuota",
            "Change quotas",
            C::HostingEditConfig,
            Reach::ManageHosting,
            (200, "Quota", "The new quota"),
            Some(("QuotaPatch", true)),
            &[400, 404, 409, 413, 502, 504],
        ),
        E::StartBackup => {
            let mut op = hosting(
                "startBackup",
                "Back up, in a job (its result holds the backup id)",
                C::BackupRun,
                Reach::ManageHosting,
                job_started,
                Some(("NoOptions", false)),
                &[400, 404, 409, 413, 502, 504],
            );
            op.params.push(idempotency_param());
            op.location = true;
            op
        }
        E::ListBackups => hosting(
            "listBackups",
            "The hosting's backups, newest first",
            C::BackupRun,
            Reach::ReadHosting,
            (200, "BackupList", "The backups"),
            None,
            &[400, 404, 502, 504],
        ),
        E::StartRestore => {
            let mut op = hosting(
                "startRestore",
                "Restore a backup, in a job",
                C::BackupRestore,
                Reach::ManageHosting,
                job_started,
                Some(("RestoreRequest", true)),
                &[400, 404, 409, 413, 502, 504],
            );
            op.params.push(idempotency_param());
            op.location = true;
            op
        }
        E::IssueCertificate => {
            let mut op = hosting(
                "issueCertificate",
                "Issue the certificate, in a job",
                C::CertManage,
                Reach::ManageHosting,
                job_started,
                Some(("CertificateRequest", false)),
                &[400, 404, 409, 413, 502, 504],
            );
            op.params.push(idempotency_param());
            op.location = true;
            op
        }
        E::InstallWordPress => {
            let mut op = hosting(
                "installWordPress",
                "Install WordPress, in a job (the password never reappears)",
                C::WpManage,
                Reach::ManageHosting,
                job_started,
                Some(("WpInstallRequest", true)),
                &[400, 404, 409, 413, 502, 504],
            );
            op.params.push(idempotency_param());
            op.location = true;
            op
        }
        E::RenewAllCertificates => Operation {
            params: vec![idempotency_param()],
            body: Some(("NoOptions", false)),
            errors: &[400, 409, 413],
            location: true,
            ..op(
                "renewAllCertificates",
                "certificates",
                "Renew every due certificate on every node, in one job",
                Some(C::CertManage),
                Reach::ClusterWide,
                job_started,
            )
        },
        E::ListNodes => op(
            "listNodes",
            "nodes",
            "The nodes of the cluster",
            Some(C::NodesView),
            Reach::ClusterWide,
            (200, "NodeList", "The nodes"),
        ),
        E::GetJob => Operation {
            params: vec![path_param(
                "Job id",
                json!({"type": "string", "pattern": "^job_[A-Za-z0-9]{1,64}$"}),
            )],
            errors: &[400, 404],
            ..op(
                "getJob",
                "jobs",
                "A job (scope-all keys read every job, others the jobs they started)",
                None,
                Reach::AnyKey,
                (200, "Job", "The job"),
            )
        },
        E::MintKey => Operation {
            body: Some(("MintRequest", true)),
            errors: &[400, 409, 413, 502, 504],
            location: true,
            ..op(
                "mintKey",
                "keys",
                "Mint a key: never more than the caller holds; the raw key is in this answer only",
                Some(C::ApiKeysManage),
                Reach::AnyKey,
                (201, "MintedKey", "The new key"),
            )
        },
        E::ListKeys => Operation {
            params: page_params("key_[A-Za-z0-9]{1,64}"),
            errors: &[400],
            ..op(
                "listKeys",
                "keys",
                "Keys (scope-all keys see all, others the keys they minted)",
                Some(C::ApiKeysManage),
                Reach::AnyKey,
                (200, "KeyPage", "One page"),
            )
        },
        E::GetKey => Operation {
            params: vec![path_param(
                "Key id",
                json!({"type": "string", "pattern": "^key_[A-Za-z0-9]{1,64}$"}),
            )],
            errors: &[400, 404],
            ..op(
                "getKey",
                "keys",
                "One key (never the raw key, never its hash)",
                Some(C::ApiKeysManage),
                Reach::AnyKey,
                (200, "Key", "The key"),
            )
        },
        E::RevokeKey => Operation {
            params: vec![path_param(
                "Key id",
                json!({"type": "string", "pattern": "^key_[A-Za-z0-9]{1,64}$"}),
            )],
            errors: &[400, 404, 409],
            ..op(
                "revokeKey",
                "keys",
                "Revoke a key and every key it minted: their next requests are 401 (409 for the last full admin key)",
                Some(C::ApiKeysManage),
                Reach::AnyKey,
                (200, "Key", "The revoked key"),
            )
        },
        E::ListAudit => {
            let mut params = page_params("[0-9]{1,19}");
            params.extend([
                query_param(
                    "actor",
                    "Only this actor (`apikey:<label>` or `anonymous`)",
                    json!({"type": "string"}),
                ),
                query_param(
                    "action",
                    "Only this action (`hosting.suspend`, ...)",
                    json!({"type": "string"}),
                ),
                query_param("target", "Only this target", json!({"type": "string"})),
                query_param(
                    "key_id",
                    "Only events of this key (labels can repeat across owners; ids cannot)",
                    json!({"type": "string", "pattern": "^key_[A-Za-z0-9]{1,64}$"}),
                ),
                query_param(
                    "outcome",
                    "Only this outcome",
                    json!({"type": "string", "enum": ["ok", "failed", "denied"]}),
                ),
            ]);
            Operation {
                params,
                errors: &[400, 404],
                ..op(
                    "listAudit",
                    "audit",
                    "The audit log, newest first",
                    Some(C::AuditView),
                    Reach::ClusterWide,
                    (200, "AuditPage", "One page"),
                )
            }
        }
    }
}

/// Every error status an operation may answer.
const ERROR_STATUSES: [u16; 12] = [400, 401, 403, 404, 408, 409, 413, 429, 500, 502, 503, 504];

fn error_response(status: u16) -> Value {
    let description = match status {
        400 => "A malformed body, parameter or value (`validation`)",
        401 => "No key, a malformed header, or an unknown, expired or revoked key (`unauthorized`)",
        403 => {
            "The key lacks the capability or scope, has only a view grant, or the address is not allowed (`forbidden`)"
        }
        404 => "Not found, or not visible to this key (`not_found`)",
        409 => "Conflicts with the current state, or an Idempotency-Key reused (`conflict`)",
        408 => "The body did not arrive within its deadline (`request_timeout`)",
        413 => "The body is over the limit (`payload_too_large`)",
        503 => {
            "The server's budget for bodies being read is spent; `Retry-After` says when to come back (`overloaded`)"
        }
        429 => "Over the key's rate limit; `Retry-After` is the true wait (`rate_limited`)",
        502 => "A node failed (`upstream_error`)",
        504 => "A node did not answer in time (`upstream_timeout`)",
        _ => "A bug; details are never shown (`internal`)",
    };
    let mut headers = common_headers();
    if status == 429 || status == 503 {
        headers.insert("Retry-After".into(), json!({"description": "Seconds until a request would pass", "schema": {"type": "integer"}, "required": true}));
    }
    json!({
        "description": description,
        "headers": headers,
        "content": {"application/json": {"schema": schema_ref("Error")}}
    })
}

fn common_headers() -> Map<String, Value> {
    let mut headers = Map::new();
    headers.insert("X-Request-Id".into(), json!({"description": "The server's id of this request (the audit log and logs carry it)", "schema": {"type": "string"}, "required": true}));
    headers.insert("X-Client-Request-Id".into(), json!({"description": "The client's own X-Request-Id, echoed when it is 1 to 128 of [A-Za-z0-9._-]", "schema": {"type": "string"}}));
    for (name, description) in [
        (
            "RateLimit-Limit",
            "The key's limit per minute (limited keys only)",
        ),
        (
            "RateLimit-Remaining",
            "Requests left now (limited keys only)",
        ),
        (
            "RateLimit-Reset",
            "Seconds until the full burst is back (limited keys only)",
        ),
    ] {
        headers.insert(
            name.into(),
            json!({"description": description, "schema": {"type": "integer"}}),
        );
    }
    headers
}

fn operation_object(endpoint: Endpoint) -> Value {
    let op = operation(endpoint);
    let mut responses = Map::new();
    let (status, schema, description) = op.success;
    let mut headers = common_headers();
    if op.location {
        headers.insert("Location".into(), json!({"description": "Where the new resource or job is", "schema": {"type": "string"}, "required": true}));
    }
    // The route table itself says where an Idempotency-Key is taken and
    // how large a body may be.
    let route = ROUTES.iter().find(|route| route.endpoint == endpoint);
    if route.is_some_and(|route| route.idempotent) {
        headers.insert(
            "Idempotent-Replayed".into(),
            json!({"description": "`true` on a replayed answer", "schema": {"type": "string"}}),
        );
    }
    let content = match endpoint {
        Endpoint::OpenApi => json!({"application/json": {"schema": {"type": "object"}}}),
        Endpoint::Docs => json!({"text/html": {"schema": {"type": "string"}}}),
        _ => json!({"application/json": {"schema": schema_ref(schema)}}),
    };
    responses.insert(
        status.to_string(),
        json!({"description": description, "headers": headers, "content": content}),
    );
    let mut errors: Vec<u16> = op.errors.to_vec();
    if !matches!(op.reach, Reach::Public) {
        // 503: also when the key stores do not answer in time.
        errors.extend([401, 403, 429, 503]);
    }
    let body_limit = route
        .filter(|route| route.takes_body)
        .map(|route| route.body_limit);
    if body_limit.is_some() {
        errors.extend([408, 413, 503]);
    }
    errors.push(500);
    errors.sort_unstable();
    errors.dedup();
    for status in errors {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/Error{status}")}),
        );
    }
    let mut object = json!({
        "operationId": op.id,
        "tags": [op.tag],
        "summary": op.summary,
        "parameters": op.params,
        "responses": responses,
    });
    // The scope comes from the one rule table the server enforces.
    let rule = route_rule(endpoint);
    match (op.reach, rule.cluster_scope, rule.hosting) {
        (Reach::Public, _, _) => object["security"] = json!([]),
        (_, true, _) => object["x-required-scope"] = json!("all"),
        (_, false, HostingRule::Access(Access::Read)) => {
            object["x-required-scope"] = json!("all, or any grant on the hosting")
        }
        (_, false, HostingRule::Access(Access::Manage)) => {
            object["x-required-scope"] = json!("all, or a manage grant on the hosting")
        }
        (_, false, HostingRule::None) => {}
    }
    if let Some(cap) = op.cap {
        object["x-required-capability"] = json!(cap.as_str());
    }
    if let Some((schema, required)) = op.body {
        object["requestBody"] = json!({
            "required": required,
            "content": {"application/json": {"schema": schema_ref(schema)}}
        });
        if let Some(limit) = body_limit {
            object["requestBody"]["description"] = json!(format!(
                "At most {limit} bytes (less if the server is configured so); a longer body is 413 before it is read."
            ));
            object["requestBody"]["x-max-body-bytes"] = json!(limit);
        }
    }
    object
}

fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES {
        let path = format!("{}{}", crate::http::BASE_PATH, route.pattern);
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation_object(route.endpoint);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Hyperion API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Remote management of a web-hosting cluster. Every error is {\"error\":{\"code\",\"message\",\"request_id\"}}; a wrong method on a known path is 405 with Allow."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "meta"}, {"name": "hostings"}, {"name": "certificates"}, {"name": "nodes"},
            {"name": "jobs"}, {"name": "keys"}, {"name": "audit"}
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "hyp_<43 base62>"}},
            "schemas": schemas::all(),
            "responses": ERROR_STATUSES
                .iter()
                .map(|status| (format!("Error{status}"), error_response(*status)))
                .collect::<Map<String, Value>>(),
        }
    })
}

/// The OpenAPI document.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

/// The OpenAPI document as served: the same bytes on every adapter.
pub fn document_bytes() -> Bytes {
    static BYTES: OnceLock<Bytes> = OnceLock::new();
    BYTES
        .get_or_init(|| {
            Bytes::from(serde_json::to_vec_pretty(document()).expect("the document serializes"))
        })
        .clone()
}

/// The OpenAPI document as served from an app that mounted `/api/v1`
/// under `prefix` (e.g. `/panel`): the same document, its server URL the
/// prefix, so that clients generated from it call the right paths.
pub fn document_bytes_under(prefix: &str) -> Bytes {
    if prefix.is_empty() {
        return document_bytes();
    }
    let mut document = document().clone();
    document["servers"] = serde_json::json!([{ "url": prefix }]);
    Bytes::from(serde_json::to_vec_pretty(&document).expect("the document serializes"))
}

/// The readable page of the contract, self-contained (no network needed).
pub fn docs_page() -> Bytes {
    static PAGE: OnceLock<Bytes> = OnceLock::new();
    PAGE.get_or_init(|| Bytes::from(html::render(document())))
        .clone()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Drift: the document holds exactly the route table's paths and methods.
    #[test]
    fn capabilities_and_scopes_are_the_servers() {
        for route in ROUTES {
            let op = operation(route.endpoint);
            let rule = route_rule(route.endpoint);
            assert_eq!(op.cap, rule.cap, "{:?}", route.endpoint);
        }
        let doc = document();
        for (path, method) in [
            ("/api/v1/hostings/{id}/expiry", "patch"),
            ("/api/v1/hostings/{id}/limits", "patch"),
            ("/api/v1/hostings/{id}/quota", "patch"),
        ] {
            assert_eq!(
                doc["paths"][path][method]["x-required-scope"], "all",
                "{path}"
            );
        }
        assert_eq!(
            doc["paths"]["/api/v1/hostings/{id}/php"]["patch"]["x-required-scope"],
            "all, or a manage grant on the hosting"
        );
    }

    /// Drift: an operation is documented as starting a job (202) exactly
    /// when its endpoint starts one, and jobs' kinds are those endpoints'
    /// actions.
    #[test]
    fn job_starting_operations_are_the_routes_that_start_jobs() {
        let doc = document();
        for route in ROUTES {
            let path = format!("/api/v1{}", route.pattern);
            let method = route.method.as_str().to_ascii_lowercase();
            let answers_202 = doc["paths"][&path][&method]["responses"]
                .get("202")
                .is_some();
            assert_eq!(answers_202, route.endpoint.starts_job(), "{method} {path}");
        }
        let kinds = &doc["components"]["schemas"]["Job"]["properties"]["kind"]["enum"];
        assert_eq!(kinds.as_array().map(Vec::len), Some(6), "{kinds}");
        assert!(
            kinds
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k == "hosting.delete")
        );
    }

    /// Drift: `Idempotency-Key` and `Idempotent-Replayed` are documented on
    /// exactly the routes that take the key.
    #[test]
    fn idempotency_is_documented_where_it_is_taken() {
        let doc = document();
        for route in ROUTES.iter().filter(|route| !route.public) {
            let path = format!("/api/v1{}", route.pattern);
            let method = route.method.as_str().to_ascii_lowercase();
            let op = &doc["paths"][&path][&method];
            let takes_key = op["parameters"]
                .as_array()
                .is_some_and(|params| params.iter().any(|p| p["name"] == "Idempotency-Key"));
            assert_eq!(takes_key, route.idempotent, "{method} {path}: parameter");
            let (status, answer) = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .unwrap();
            let replays = answer["headers"].get("Idempotent-Replayed").is_some();
            assert_eq!(
                replays, route.idempotent,
                "{method} {path} {status}: header"
            );
        }
    }

    #[test]
    fn every_route_and_nothing_else_is_documented() {
        let doc = document();
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (path.clone(), method.to_ascii_uppercase()))
            })
            .collect();
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|r| {
                (
                    format!("/api/v1{}", r.pattern),
                    r.method.as_str().to_owned(),
                )
            })
            .collect();
        assert_eq!(documented, routed);
    }

    #[test]
    fn every_reference_resolves_and_every_operation_is_complete() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for (at, _) in text.match_indices("#/components/schemas/") {
            let name: String = text[at + 21..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(schemas.contains_key(&name), "dangling reference to {name}");
        }
        let responses = doc["components"]["responses"].as_object().unwrap();
        for (at, _) in text.match_indices("#/components/responses/") {
            let name: String = text[at + 23..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(
                responses.contains_key(&name),
                "dangling reference to {name}"
            );
        }
        let mut ids = BTreeSet::new();
        for route in ROUTES {
            let op = &doc["paths"][format!("/api/v1{}", route.pattern)]
                [route.method.as_str().to_ascii_lowercase()];
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_owned()),
                "duplicate operationId"
            );
            assert!(op["summary"].is_string() && op["tags"].is_array());
            assert!(op["responses"]["500"]["$ref"].is_string());
            if route.takes_body && !matches!(route.endpoint, Endpoint::OpenApi | Endpoint::Docs) {
                assert!(
                    op["requestBody"].is_object(),
                    "{} {} has no body schema",
                    route.method,
                    route.pattern
                );
            }
        }
    }

    #[test]
    fn enumerations_come_from_the_code() {
        let caps = &document()["components"]["schemas"]["Capability"]["enum"];
        assert_eq!(caps.as_array().unwrap().len(), Capability::ALL.len());
        assert_eq!(caps[11], "api_keys_manage");
    }

    #[test]
    fn the_docs_page_needs_no_network() {
        let page = String::from_utf8(docs_page().to_vec()).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("listHostings"));
        for remote in ["http://", "https://", "//cdn", "<script src", "<link"] {
            assert!(!page.contains(remote), "the page loads {remote}");
        }
    }
}
