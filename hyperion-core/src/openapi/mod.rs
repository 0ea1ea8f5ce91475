//! The OpenAPI 3.1 contract of `/api/v1`, built from the route table (every
//! route, every method) and the schemas of the request and response types,
//! and served by every adapter byte for byte the same. `GET /docs` renders
//! the same document as a page that needs no network.

mod html;
mod schemas;

use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::http::query::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::http::routes::{Endpoint, ROUTES, RouteSpec};
use crate::model::MAX_LABELS;
use hyperion_wire::endpoints::{Access, HostingRule, Param};
use schemas::schema_ref;

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

/// The parameters `param` stands for, as the document lists them.
fn param_values(param: Param) -> Vec<Value> {
    match param {
        Param::Hosting => vec![hosting_param()],
        Param::Job => vec![path_param(
            "Job id",
            json!({"type": "string", "pattern": "^job_[A-Za-z0-9]{1,64}$"}),
        )],
        Param::Key => vec![path_param(
            "Key id",
            json!({"type": "string", "pattern": "^key_[A-Za-z0-9]{1,64}$"}),
        )],
        Param::Page(cursor) => page_params(cursor),
        Param::Flag(name, description) => vec![flag_param(name, description)],
        Param::HostingFilters => vec![
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
                "owner",
                "Only hostings of this customer of the panel",
                json!({"type": "string", "pattern": schemas::ID_PATTERN}),
            ),
            query_param("plan", "Only hostings on this plan", schemas::plan()),
            query_param(
                "label",
                "Only hostings carrying this label (`key=value`); given several times, every one",
                json!({"type": "array", "maxItems": MAX_LABELS, "items": {
                    "type": "string",
                    "pattern": format!(
                        "{}={}",
                        schemas::label_key().trim_end_matches('$'),
                        schemas::label_value().trim_start_matches('^')
                    ),
                }}),
            ),
            query_param(
                "allow_partial",
                "Answer with the healthy nodes' hostings when some fail (default true)",
                json!({"type": "boolean"}),
            ),
        ],
        Param::AuditFilters => vec![
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
        ],
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
            "The server's budget for bodies being read is spent (or this key's or address's share of it), or its stores did not answer in time; `Retry-After` says when to come back (`overloaded`)"
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

/// The document's operation for one declared endpoint.
fn operation_object(route: &RouteSpec) -> Value {
    let op = &route.doc;
    let mut responses = Map::new();
    let (status, schema, description) = op.success;
    let mut headers = common_headers();
    if op.location {
        headers.insert("Location".into(), json!({"description": "Where the new resource or job is", "schema": {"type": "string"}, "required": true}));
    }
    if route.idempotent {
        headers.insert(
            "Idempotent-Replayed".into(),
            json!({"description": "`true` on a replayed answer", "schema": {"type": "string"}}),
        );
    }
    let content = match route.endpoint {
        Endpoint::OpenApi => json!({"application/json": {"schema": {"type": "object"}}}),
        Endpoint::Docs => json!({"text/html": {"schema": {"type": "string"}}}),
        _ => json!({"application/json": {"schema": schema_ref(schema)}}),
    };
    responses.insert(
        status.to_string(),
        json!({"description": description, "headers": headers, "content": content}),
    );
    let mut errors: Vec<u16> = op.errors.to_vec();
    if !route.public {
        // 503: also when the key stores do not answer in time.
        errors.extend([401, 403, 429, 503]);
    }
    if route.body.is_some() {
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
    let mut params: Vec<Value> = op.params.iter().copied().flat_map(param_values).collect();
    if route.idempotent {
        params.push(idempotency_param());
    }
    let mut object = json!({
        "operationId": op.id,
        "tags": [op.tag],
        "summary": op.summary,
        "parameters": params,
        "responses": responses,
    });
    let rule = route.rule;
    match (route.public, rule.cluster_scope, rule.hosting) {
        (true, _, _) => object["security"] = json!([]),
        (_, true, _) => object["x-required-scope"] = json!("all"),
        (_, false, HostingRule::Access(Access::Read)) => {
            object["x-required-scope"] = json!("all, or any grant on the hosting")
        }
        (_, false, HostingRule::Access(Access::Manage)) => {
            object["x-required-scope"] = json!("all, or a manage grant on the hosting")
        }
        (_, false, HostingRule::None) => {}
    }
    if let Some(cap) = rule.cap {
        object["x-required-capability"] = json!(cap.as_str());
    }
    if let Some(body) = route.body {
        object["requestBody"] = json!({
            "required": body.required,
            "content": {"application/json": {"schema": schema_ref(body.schema)}},
            "description": format!(
                "At most {} bytes (less if the server is configured so); a longer body is 413 before it is read.",
                body.limit
            ),
            "x-max-body-bytes": body.limit,
        });
    }
    object
}

fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES {
        let path = format!("{}{}", crate::http::BASE_PATH, route.pattern);
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation_object(route);
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
    use super::*;

    /// The operator's settings are documented as needing scope all.
    #[test]
    fn operator_settings_are_documented_as_cluster_wide() {
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
        // A job's kind is one of the actions of the endpoints that start jobs.
        let kinds = &doc["components"]["schemas"]["Job"]["properties"]["kind"]["enum"];
        for kind in ["hosting.delete", "hosting.backup", "certs.renew_all"] {
            assert!(kinds.as_array().unwrap().contains(&kind.into()), "{kinds}");
        }
        assert!(
            !kinds
                .as_array()
                .unwrap()
                .contains(&"hosting.suspend".into())
        );
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
        for route in ROUTES {
            let op = &doc["paths"][format!("/api/v1{}", route.pattern)]
                [route.method.as_str().to_ascii_lowercase()];
            assert!(op["summary"].is_string() && op["tags"].is_array());
            assert!(op["responses"]["500"]["$ref"].is_string());
        }
    }

    #[test]
    fn enumerations_come_from_the_code() {
        let caps = &document()["components"]["schemas"]["Capability"]["enum"];
        assert_eq!(caps.as_array().unwrap().len(), crate::Capability::ALL.len());
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
