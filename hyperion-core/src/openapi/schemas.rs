//! JSON Schemas (2020-12, as OpenAPI 3.1 uses) of every request and response
//! body. Enumerations come from the Rust enums themselves, so a new state,
//! PHP version or capability shows up here without anyone touching this file.

use serde_json::{Map, Value, json};

use crate::Capability;
use crate::audit::AuditOutcome;
use crate::jobs::JobState;
use crate::keys::{GrantLevel, MAX_ALLOWLIST_ENTRIES, MAX_GRANTS, MAX_LABEL_CHARS};
use crate::model::bounds::{
    Bounds, CACHE_TTL_SECONDS, CPU_PERCENT, MAX_BASIC_AUTH_USER, MAX_EMAIL_LEN, MAX_PROCESSES,
    MAX_SYSTEM_USER, MAX_WP_ADMIN_USER, MEMORY_MB, PASSWORD_CHARS, PROGRESS_PERCENT, QUOTA,
    REDIRECT_STATUSES, WP_TITLE_CHARS,
};
use crate::model::{
    BreachAction, HostingKind, HostingState, MAX_ALIASES, MAX_DOMAIN_LEN, MAX_LABELS,
    MAX_URL_CHARS, NodeStatus, PhpVersion, RestoreMode, SuspendedBy,
};

/// `{"$ref": "#/components/schemas/<name>"}`
pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn nullable(schema: Value) -> Value {
    json!({ "oneOf": [schema, {"type": "null"}] })
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> Value {
    Value::from(all.iter().map(|v| name(*v)).collect::<Vec<_>>())
}

/// A write-only password a client sets.
fn password() -> Value {
    let mut schema = text(PASSWORD_CHARS);
    schema["writeOnly"] = Value::Bool(true);
    schema
}

/// An object with these properties, all required unless listed in `optional`.
fn object(properties: Value, optional: &[&str]) -> Value {
    let required: Vec<&String> = properties
        .as_object()
        .expect("properties are an object")
        .keys()
        .filter(|k| !optional.contains(&k.as_str()))
        .collect();
    json!({ "type": "object", "properties": properties, "required": required })
}

/// A request body object: unknown fields are refused, so the schema says so.
fn closed(properties: Value, optional: &[&str]) -> Value {
    let mut schema = object(properties, optional);
    schema["additionalProperties"] = Value::Bool(false);
    schema
}

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// The pattern of ids (hostings, nodes, owners): no dot, which is how a
/// selector tells them from domains.
pub(crate) const ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";
const DOMAIN_PATTERN: &str = "^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$";
const HTTP_URL_PATTERN: &str = "^https?://[^\\s/?#]+";

/// A name as label keys, label values and plans spell it (Kubernetes'
/// rule): 1 to 63 of `[A-Za-z0-9._-]`, a letter or digit at each end.
const NAME: &str = "[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?";
/// A label key's optional prefix: a lowercase DNS subdomain and `/`.
const LABEL_PREFIX: &str =
    "([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*/)?";

pub(crate) fn plan() -> Value {
    json!({"type": "string", "pattern": format!("^{NAME}$"), "maxLength": 63})
}

pub(crate) fn label_key() -> String {
    format!("^{LABEL_PREFIX}{NAME}$")
}

pub(crate) fn label_value() -> String {
    format!("^({NAME})?$")
}

fn labels() -> Value {
    json!({
        "type": "object",
        "maxProperties": MAX_LABELS,
        "propertyNames": {"pattern": label_key(), "maxLength": 317},
        "additionalProperties": {"type": "string", "pattern": label_value(), "maxLength": 63},
    })
}

fn domain() -> Value {
    json!({"type": "string", "pattern": DOMAIN_PATTERN, "maxLength": MAX_DOMAIN_LEN})
}

fn id() -> Value {
    json!({"type": "string", "pattern": ID_PATTERN})
}

fn bounded(bounds: Bounds) -> Value {
    json!({"type": "integer", "minimum": bounds.min, "maximum": bounds.max})
}

/// A string of `bounds` characters.
fn text(bounds: Bounds) -> Value {
    json!({"type": "string", "minLength": bounds.min, "maxLength": bounds.max})
}

/// Every schema of `components.schemas`.
pub(crate) fn all() -> Map<String, Value> {
    let capability = json!({"type": "string", "enum": names(&Capability::ALL, Capability::as_str)});
    let level = json!({"type": "string", "enum": names(GrantLevel::ALL, GrantLevel::as_str)});
    let php = json!({"type": "string", "enum": names(PhpVersion::ALL, PhpVersion::as_str)});
    let mut schemas = Map::new();
    let mut add = |name: &str, schema: Value| {
        schemas.insert(name.to_owned(), schema);
    };

    add(
        "Error",
        object(
            json!({"error": object(json!({
        "code": {"type": "string", "enum": hyperion_wire::ErrorCode::ALL},
        "message": {"type": "string"},
        "request_id": {"type": "string"}
    }), &[])}),
            &[],
        ),
    );
    add("Capability", capability.clone());
    add(
        "HostingState",
        json!({"type": "string", "enum": names(HostingState::ALL, HostingState::as_str)}),
    );
    add("PhpVersion", php.clone());
    add(
        "HostingKind",
        json!({"type": "string", "enum": names(HostingKind::ALL, HostingKind::as_str)}),
    );
    add(
        "Hosting",
        object(
            json!({
                "id": id(),
                "domain": domain(),
                "state": schema_ref("HostingState"),
                "php_version": nullable(schema_ref("PhpVersion")),
                "node_id": nullable(json!({"type": "string", "pattern": ID_PATTERN, "description": "The node that runs it; null for a grants-scoped key, which never learns node names"})),
                "created_at": timestamp(),
                "owner": nullable(json!({"type": "string", "pattern": ID_PATTERN, "description": "The panel's customer it belongs to"})),
                "plan": nullable(plan()),
                "labels": labels(),
            }),
            &[],
        ),
    );
    add(
        "Limits",
        object(
            json!({
                "cpu_percent": bounded(CPU_PERCENT),
                "memory_mb": bounded(MEMORY_MB),
                "max_processes": bounded(MAX_PROCESSES),
            }),
            &[],
        ),
    );
    add(
        "Redirect",
        closed(
            json!({
                "to": {"type": "string", "pattern": HTTP_URL_PATTERN, "maxLength": MAX_URL_CHARS},
                "status": {"type": "integer", "enum": REDIRECT_STATUSES},
            }),
            &["status"],
        ),
    );
    add(
        "CacheSettings",
        closed(
            json!({
                "enabled": {"type": "boolean"},
                "ttl_seconds": bounded(CACHE_TTL_SECONDS),
            }),
            &[],
        ),
    );
    add(
        "VhostOptions",
        object(
            json!({
                "force_https": {"type": "boolean"},
                "maintenance": {"type": "boolean"},
                "basic_auth": nullable(object(json!({"user": {"type": "string"}, "password_set": {"type": "boolean"}}), &[])),
                "redirect": nullable(schema_ref("Redirect")),
                "cache": schema_ref("CacheSettings"),
            }),
            &[],
        ),
    );
    let quota_value = || nullable(bounded(QUOTA));
    add(
        "BreachAction",
        json!({"type": "string", "enum": names(BreachAction::ALL, BreachAction::as_str)}),
    );
    add(
        "Quota",
        object(
            json!({
                "disk_soft_mb": quota_value(),
                "disk_hard_mb": quota_value(),
                "memory_mb": quota_value(),
                "bandwidth_soft_gb": quota_value(),
                "bandwidth_hard_gb": quota_value(),
                "action_on_breach": schema_ref("BreachAction"),
            }),
            &[],
        ),
    );
    let mut detail = object(
        json!({
            "kind": schema_ref("HostingKind"),
            "aliases": {"type": "array", "items": domain()},
            "system_user": {"type": "string"},
            "root_dir": {"type": "string"},
            "limits": schema_ref("Limits"),
            "vhost": schema_ref("VhostOptions"),
            "quota": schema_ref("Quota"),
            "database": {"type": "boolean"},
            "proxy_upstream_url": nullable(json!({"type": "string"})),
            "expires_at": nullable(timestamp()),
            "suspended_by": nullable(json!({"type": "string", "enum": names(SuspendedBy::ALL, SuspendedBy::as_str)})),
        }),
        &[],
    );
    detail = json!({"allOf": [schema_ref("Hosting"), detail]});
    add("HostingDetail", detail);
    add(
        "HostingPage",
        object(
            json!({
                "items": {"type": "array", "items": schema_ref("Hosting")},
                "next_cursor": nullable(json!({"type": "string"})),
                "total": {"type": "integer", "minimum": 0},
                "partial": {"type": "boolean"},
                "unavailable_nodes": {"type": "array", "items": id()},
            }),
            &[],
        ),
    );
    add(
        "StateChange",
        object(
            json!({"id": id(), "state": schema_ref("HostingState")}),
            &[],
        ),
    );
    add(
        "Accepted",
        object(
            json!({
                "job_id": {"type": "string"},
                "status": {"type": "string", "const": "accepted"},
            }),
            &[],
        ),
    );
    add(
        "NodeInfo",
        object(
            json!({
                "id": id(),
                "hostname": {"type": "string"},
                "status": {"type": "string", "enum": names(NodeStatus::ALL, NodeStatus::as_str)},
                "hostings": {"type": "integer", "minimum": 0},
                "draining": {"type": "boolean"},
            }),
            &[],
        ),
    );
    add(
        "NodeList",
        object(
            json!({"items": {"type": "array", "items": schema_ref("NodeInfo")}}),
            &[],
        ),
    );
    add(
        "Job",
        object(
            json!({
                "id": {"type": "string"},
                "kind": {"type": "string", "enum": hyperion_wire::endpoints::job_kinds()},
                "target": {"type": "string"},
                "state": {"type": "string", "enum": names(JobState::ALL, JobState::as_str)},
                "progress": bounded(PROGRESS_PERCENT),
                "step": nullable(json!({"type": "string"})),
                "error": nullable(json!({"type": "string"})),
                "result": {},
                "actor": {"type": "string"},
                "created_at": timestamp(),
                "updated_at": timestamp(),
                "finished_at": nullable(timestamp()),
            }),
            &[],
        ),
    );
    add(
        "Grant",
        object(
            json!({"hosting": {"type": "string"}, "level": level.clone()}),
            &[],
        ),
    );
    add(
        "Scope",
        json!({"oneOf": [
            {"type": "string", "const": "all"},
            closed(json!({"grants": {"type": "array", "items": schema_ref("Grant")}}), &[]),
            closed(json!({"owner": id(), "level": level.clone()}), &[]),
        ]}),
    );
    add(
        "Me",
        object(
            json!({
                "key": object(json!({
                    "id": {"type": "string"}, "prefix": {"type": "string"},
                    "label": {"type": "string"}, "owner": {"type": "string"},
                }), &[]),
                "caps": {"type": "array", "items": schema_ref("Capability")},
                "scope": schema_ref("Scope"),
                "expires_at": nullable(timestamp()),
            }),
            &[],
        ),
    );
    let key_view = json!({
        "id": {"type": "string"},
        "prefix": {"type": "string"},
        "label": {"type": "string"},
        "owner": {"type": "string"},
        "caps": {"type": "array", "items": schema_ref("Capability")},
        "scope": schema_ref("Scope"),
        "created_at": timestamp(),
        "expires_at": nullable(timestamp()),
        "revoked_at": nullable(timestamp()),
        "created_by": nullable(json!({"type": "string"})),
        "ip_allowlist": {"type": "array", "items": {"type": "string"}},
        "rate_limit_per_min": {"type": "integer", "minimum": 0},
    });
    add("Key", object(key_view.clone(), &[]));
    let mut minted = key_view;
    minted["key"] =
        json!({"type": "string", "description": "The raw key: shown this once, never again."});
    add("MintedKey", object(minted, &[]));
    add(
        "KeyPage",
        object(
            json!({
                "items": {"type": "array", "items": schema_ref("Key")},
                "next_cursor": nullable(json!({"type": "string"})),
                "total": {"type": "integer", "minimum": 0},
            }),
            &[],
        ),
    );
    add(
        "MintRequest",
        closed(
            json!({
                "label": {"type": "string", "minLength": 1, "maxLength": MAX_LABEL_CHARS},
                "caps": {"type": "array", "items": capability},
                "scope": {"oneOf": [
                    {"type": "string", "const": "all"},
                    closed(json!({"grants": {"type": "array", "maxItems": MAX_GRANTS, "items": closed(json!({
                        "hosting": {"type": "string", "description": "Hosting id or domain"},
                        "level": level,
                    }), &[])}}), &[]),
                    closed(json!({"owner": id(), "level": level}), &[]),
                ]},
                "expires_at": nullable(timestamp()),
                "ip_allowlist": {"type": "array", "maxItems": MAX_ALLOWLIST_ENTRIES, "items": {"type": "string"}},
                "rate_limit_per_min": {"type": "integer", "minimum": 0, "maximum": u32::MAX},
            }),
            &["expires_at", "ip_allowlist", "rate_limit_per_min"],
        ),
    );
    add(
        "CreateHosting",
        closed(
            json!({
                "domain": domain(),
                "php_version": php.clone(),
                "kind": schema_ref("HostingKind"),
                "aliases": {"type": "array", "maxItems": MAX_ALIASES, "items": domain()},
                "database": {"type": "boolean"},
                "system_user": {"type": "string", "pattern": format!("^[a-z_][a-z0-9_-]{{0,{}}}$", MAX_SYSTEM_USER - 1)},
                "proxy_upstream_url": {"type": "string", "pattern": HTTP_URL_PATTERN, "maxLength": MAX_URL_CHARS},
                "node": id(),
                "owner": id(),
                "plan": plan(),
                "labels": labels(),
            }),
            &[
                "php_version",
                "kind",
                "aliases",
                "database",
                "system_user",
                "proxy_upstream_url",
                "node",
                "owner",
                "plan",
                "labels",
            ],
        ),
    );
    add(
        "LimitsPatch",
        closed(
            json!({
                "cpu_percent": bounded(CPU_PERCENT),
                "memory_mb": bounded(MEMORY_MB),
                "max_processes": bounded(MAX_PROCESSES),
            }),
            &["cpu_percent", "memory_mb", "max_processes"],
        ),
    );
    add("PhpPatch", closed(json!({"version": php}), &[]));
    add(
        "PhpValue",
        object(
            json!({"php_version": nullable(schema_ref("PhpVersion"))}),
            &[],
        ),
    );
    add(
        "VhostPatch",
        closed(
            json!({
                "force_https": {"type": "boolean"},
                "maintenance": {"type": "boolean"},
                "basic_auth": nullable(closed(json!({
                    "user": {"type": "string", "pattern": format!("^[A-Za-z0-9._-]{{1,{MAX_BASIC_AUTH_USER}}}$")},
                    "password": password(),
                }), &["password"])),
                "redirect": nullable(schema_ref("Redirect")),
                "cache": schema_ref("CacheSettings"),
            }),
            &[
                "force_https",
                "maintenance",
                "basic_auth",
                "redirect",
                "cache",
            ],
        ),
    );
    add(
        "ExpiryPatch",
        closed(json!({"expires_at": nullable(timestamp())}), &[]),
    );
    add(
        "ExpiryValue",
        object(json!({"expires_at": nullable(timestamp())}), &[]),
    );
    add("OwnerPatch", closed(json!({"owner": nullable(id())}), &[]));
    add("OwnerValue", object(json!({"owner": nullable(id())}), &[]));
    add("PlanPatch", closed(json!({"plan": nullable(plan())}), &[]));
    add("PlanValue", object(json!({"plan": nullable(plan())}), &[]));
    let mut label_changes = labels();
    label_changes["additionalProperties"] =
        nullable(json!({"type": "string", "pattern": label_value(), "maxLength": 63}));
    label_changes
        .as_object_mut()
        .map(|changes| changes.remove("maxProperties"));
    add("LabelsPatch", closed(json!({"labels": label_changes}), &[]));
    add("LabelsValue", object(json!({"labels": labels()}), &[]));
    add(
        "QuotaPatch",
        closed(
            json!({
                "disk_soft_mb": quota_value(),
                "disk_hard_mb": quota_value(),
                "memory_mb": quota_value(),
                "bandwidth_soft_gb": quota_value(),
                "bandwidth_hard_gb": quota_value(),
                "action_on_breach": schema_ref("BreachAction"),
            }),
            &[
                "disk_soft_mb",
                "disk_hard_mb",
                "memory_mb",
                "bandwidth_soft_gb",
                "bandwidth_hard_gb",
                "action_on_breach",
            ],
        ),
    );
    add("NoOptions", closed(json!({}), &[]));
    add(
        "Backup",
        object(
            json!({
                "id": id(),
                "created_at": timestamp(),
                "size_bytes": {"type": "integer", "minimum": 0},
                "includes_database": {"type": "boolean"},
            }),
            &[],
        ),
    );
    add(
        "BackupList",
        object(
            json!({"items": {"type": "array", "items": schema_ref("Backup")}}),
            &[],
        ),
    );
    add(
        "RestoreRequest",
        closed(
            json!({
                "backup_id": id(),
                "mode": {"type": "string", "enum": names(RestoreMode::ALL, RestoreMode::as_str)},
            }),
            &["mode"],
        ),
    );
    add(
        "CertificateRequest",
        closed(json!({"staging": {"type": "boolean"}}), &["staging"]),
    );
    add(
        "WpInstallRequest",
        closed(
            json!({
                "site_url": {"type": "string", "pattern": HTTP_URL_PATTERN, "maxLength": MAX_URL_CHARS},
                "title": text(WP_TITLE_CHARS),
                "admin_user": {"type": "string", "pattern": format!("^[A-Za-z0-9._@-]{{1,{MAX_WP_ADMIN_USER}}}$")},
                "admin_email": {"type": "string", "maxLength": MAX_EMAIL_LEN, "pattern": "^[^@\\s]+@[^@\\s]+$"},
                "admin_password": password(),
                "locale": {"type": "string", "pattern": "^[a-z]{2}(_[A-Z]{2})?$"},
            }),
            &["locale"],
        ),
    );
    add(
        "AuditEvent",
        object(
            json!({
                "id": {"type": "integer", "minimum": 0},
                "at": timestamp(),
                "request_id": {"type": "string"},
                "client_request_id": nullable(json!({"type": "string"})),
                "actor": {"type": "string"},
                "key_id": nullable(json!({"type": "string"})),
                "owner": nullable(json!({"type": "string"})),
                "key_prefix": nullable(json!({"type": "string"})),
                "action": {"type": "string"},
                "target": {"type": "string"},
                "outcome": {"type": "string", "enum": names(AuditOutcome::ALL, AuditOutcome::as_str)},
                "status": nullable(json!({"type": "integer"})),
                "client_ip": nullable(json!({"type": "string"})),
                "detail": nullable(json!({"type": "string"})),
                "count": {"type": "integer", "minimum": 1, "description": "How many requests the event stands for (refusals of requests without a usable key are counted per address and minute)"},
            }),
            &[],
        ),
    );
    add(
        "AuditPage",
        object(
            json!({
                "items": {"type": "array", "items": schema_ref("AuditEvent")},
                "next_cursor": nullable(json!({"type": "string"})),
                "total": {"type": "integer", "minimum": 0},
            }),
            &[],
        ),
    );
    schemas
}
