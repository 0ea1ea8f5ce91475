//! The route table: every `/api/v1` route, as data. Adapters mount one
//! catch-all under [`BASE_PATH`](super::BASE_PATH) and the core matches here,
//! so 404 and 405 (with `Allow`) are the same on every framework.

use std::sync::LazyLock;

use http::Method;
use percent_encoding::percent_decode_str;

use crate::error::ApiError;

/// What a route does; the dispatcher in [`crate::api`] maps each to its function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /openapi.json` (no key needed)
    OpenApi,
    /// `GET /docs` (no key needed)
    Docs,
    /// `GET /me`
    Me,
    /// `GET /hostings`
    ListHostings,
    /// `POST /hostings`
    CreateHosting,
    /// `GET /hostings/{id}`
    GetHosting,
    /// `POST /hostings/{id}/suspend`
    SuspendHosting,
    /// `POST /hostings/{id}/resume`
    ResumeHosting,
    /// `DELETE /hostings/{id}`
    DeleteHosting,
    /// `PATCH /hostings/{id}/limits`
    PatchLimits,
    /// `PATCH /hostings/{id}/php`
    PatchPhp,
    /// `PATCH /hostings/{id}/vhost`
    PatchVhost,
    /// `PATCH /hostings/{id}/expiry`
    PatchExpiry,
    /// `PATCH /hostings/{id}/quota`
    PatchQuota,
    /// `POST /hostings/{id}/backup`
    StartBackup,
    /// `GET /hostings/{id}/backups`
    ListBackups,
    /// `POST /hostings/{id}/restore`
    StartRestore,
    /// `POST /hostings/{id}/cert`
    IssueCertificate,
    /// `POST /hostings/{id}/wp/install`
    InstallWordPress,
    /// `POST /certs/renew-all`
    RenewAllCertificates,
    /// `GET /nodes`
    ListNodes,
    /// `GET /jobs/{id}`
    GetJob,
    /// `POST /keys`
    MintKey,
    /// `GET /keys`
    ListKeys,
    /// `GET /keys/{id}`
    GetKey,
    /// `DELETE /keys/{id}`
    RevokeKey,
    /// `GET /audit`
    ListAudit,
}

impl Endpoint {
    /// Whether it answers 202 and does its work in a job, whose `kind` is
    /// its [`Endpoint::action`].
    pub const fn starts_job(self) -> bool {
        matches!(
            self,
            Endpoint::DeleteHosting
                | Endpoint::StartBackup
                | Endpoint::StartRestore
                | Endpoint::IssueCertificate
                | Endpoint::InstallWordPress
                | Endpoint::RenewAllCertificates
        )
    }

    /// The action name the audit log records (`hosting.suspend`, `key.mint`,
    /// ...); for an endpoint that starts a job, the job's `kind` too.
    pub const fn action(self) -> &'static str {
        match self {
            Endpoint::OpenApi => "openapi.read",
            Endpoint::Docs => "docs.read",
            Endpoint::Me => "me.read",
            Endpoint::ListHostings => "hostings.list",
            Endpoint::CreateHosting => "hosting.create",
            Endpoint::GetHosting => "hosting.read",
            Endpoint::SuspendHosting => "hosting.suspend",
            Endpoint::ResumeHosting => "hosting.resume",
            Endpoint::DeleteHosting => "hosting.delete",
            Endpoint::PatchLimits => "hosting.limits",
            Endpoint::PatchPhp => "hosting.php",
            Endpoint::PatchVhost => "hosting.vhost",
            Endpoint::PatchExpiry => "hosting.expiry",
            Endpoint::PatchQuota => "hosting.quota",
            Endpoint::StartBackup => "hosting.backup",
            Endpoint::ListBackups => "hosting.backups",
            Endpoint::StartRestore => "hosting.restore",
            Endpoint::IssueCertificate => "hosting.cert",
            Endpoint::InstallWordPress => "hosting.wp_install",
            Endpoint::RenewAllCertificates => "certs.renew_all",
            Endpoint::ListNodes => "nodes.list",
            Endpoint::GetJob => "job.read",
            Endpoint::MintKey => "key.mint",
            Endpoint::ListKeys => "keys.list",
            Endpoint::GetKey => "key.read",
            Endpoint::RevokeKey => "key.revoke",
            Endpoint::ListAudit => "audit.list",
        }
    }
}

/// One route: method, path pattern below the base path (`{name}` is one
/// path segment), and what it does.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    /// The HTTP method.
    pub method: Method,
    /// The pattern, e.g. `/hostings/{id}`.
    pub pattern: &'static str,
    /// What it does.
    pub endpoint: Endpoint,
    /// Whether the endpoint reads a request body.
    pub takes_body: bool,
    /// The most body bytes the route can legitimately need (0 when it
    /// takes none): a longer body is 413 before its first byte is read,
    /// whatever larger `ApiConfig::body_limit` the server allows.
    pub body_limit: usize,
    /// Whether an `Idempotency-Key` makes retries safe (creating and
    /// job-starting POSTs).
    pub idempotent: bool,
    /// Whether it is served without a key (the contract and its page).
    pub public: bool,
}

const fn route(method: Method, pattern: &'static str, endpoint: Endpoint) -> RouteSpec {
    RouteSpec {
        method,
        pattern,
        endpoint,
        takes_body: false,
        body_limit: 0,
        idempotent: false,
        public: false,
    }
}

/// A route served without a key.
const fn public(pattern: &'static str, endpoint: Endpoint) -> RouteSpec {
    RouteSpec {
        method: Method::GET,
        pattern,
        endpoint,
        takes_body: false,
        body_limit: 0,
        idempotent: false,
        public: true,
    }
}

/// A route that reads a JSON body of at most `body_limit` bytes.
const fn with_body(
    method: Method,
    pattern: &'static str,
    endpoint: Endpoint,
    body_limit: usize,
) -> RouteSpec {
    RouteSpec {
        method,
        pattern,
        endpoint,
        takes_body: true,
        body_limit,
        idempotent: false,
        public: false,
    }
}

/// A POST that creates something or starts a job: reads a body of at most
/// `body_limit` bytes, honours `Idempotency-Key`.
const fn creating(pattern: &'static str, endpoint: Endpoint, body_limit: usize) -> RouteSpec {
    RouteSpec {
        method: Method::POST,
        pattern,
        endpoint,
        takes_body: true,
        body_limit,
        idempotent: true,
        public: false,
    }
}

/// Every job kind: the actions of the endpoints that start jobs.
pub(crate) fn job_kinds() -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|route| route.endpoint.starts_job())
        .map(|route| route.endpoint.action())
        .collect()
}

/// A setting's body: a few named values.
const SETTING_BODY: usize = 4 * 1024;
/// A form of options: a vhost's, an operation's (URLs, names, an email).
const FORM_BODY: usize = 16 * 1024;
/// A new hosting: its names (up to 50 aliases) and its settings.
const CREATE_BODY: usize = 64 * 1024;
/// A new key: up to 1,000 grants by id or domain, and an allowlist.
const KEY_BODY: usize = 512 * 1024;

/// Every route of the API.
pub(crate) const ROUTES: &[RouteSpec] = &[
    public("/openapi.json", Endpoint::OpenApi),
    public("/docs", Endpoint::Docs),
    route(Method::GET, "/me", Endpoint::Me),
    route(Method::GET, "/hostings", Endpoint::ListHostings),
    creating("/hostings", Endpoint::CreateHosting, CREATE_BODY),
    route(Method::GET, "/hostings/{id}", Endpoint::GetHosting),
    route(Method::DELETE, "/hostings/{id}", Endpoint::DeleteHosting),
    route(
        Method::POST,
        "/hostings/{id}/suspend",
        Endpoint::SuspendHosting,
    ),
    route(
        Method::POST,
        "/hostings/{id}/resume",
        Endpoint::ResumeHosting,
    ),
    with_body(
        Method::PATCH,
        "/hostings/{id}/limits",
        Endpoint::PatchLimits,
        SETTING_BODY,
    ),
    with_body(
        Method::PATCH,
        "/hostings/{id}/php",
        Endpoint::PatchPhp,
        SETTING_BODY,
    ),
    with_body(
        Method::PATCH,
        "/hostings/{id}/vhost",
        Endpoint::PatchVhost,
        FORM_BODY,
    ),
    with_body(
        Method::PATCH,
        "/hostings/{id}/expiry",
        Endpoint::PatchExpiry,
        SETTING_BODY,
    ),
    with_body(
        Method::PATCH,
        "/hostings/{id}/quota",
        Endpoint::PatchQuota,
        SETTING_BODY,
    ),
    creating("/hostings/{id}/backup", Endpoint::StartBackup, FORM_BODY),
    route(Method::GET, "/hostings/{id}/backups", Endpoint::ListBackups),
    creating("/hostings/{id}/restore", Endpoint::StartRestore, FORM_BODY),
    creating("/hostings/{id}/cert", Endpoint::IssueCertificate, FORM_BODY),
    creating(
        "/hostings/{id}/wp/install",
        Endpoint::InstallWordPress,
        FORM_BODY,
    ),
    creating(
        "/certs/renew-all",
        Endpoint::RenewAllCertificates,
        FORM_BODY,
    ),
    route(Method::GET, "/nodes", Endpoint::ListNodes),
    route(Method::GET, "/jobs/{id}", Endpoint::GetJob),
    with_body(Method::POST, "/keys", Endpoint::MintKey, KEY_BODY),
    route(Method::GET, "/keys", Endpoint::ListKeys),
    route(Method::GET, "/keys/{id}", Endpoint::GetKey),
    route(Method::DELETE, "/keys/{id}", Endpoint::RevokeKey),
    route(Method::GET, "/audit", Endpoint::ListAudit),
];

/// A matched route and its decoded path parameters.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    /// The route that matched.
    pub spec: &'static RouteSpec,
    params: Vec<(&'static str, String)>,
}

impl RouteMatch {
    /// The decoded value of path parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn no_route() -> ApiError {
    ApiError::NotFound("no such route".to_owned())
}

/// One part of a route pattern: a literal segment or a named parameter.
enum Part {
    Literal(&'static str),
    Param(&'static str),
}

/// [`ROUTES`] with each pattern split into parts once, not per request.
/// Segments of the longest route after `/api/v1` (a test keeps it true).
const MAX_SEGMENTS: usize = 4;

static COMPILED: LazyLock<Vec<(Vec<Part>, &'static RouteSpec)>> = LazyLock::new(|| {
    ROUTES
        .iter()
        .map(|spec| {
            let parts = spec
                .pattern
                .split('/')
                .skip(1)
                .map(
                    |part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                        Some(name) => Part::Param(name),
                        None => Part::Literal(part),
                    },
                )
                .collect();
            (parts, spec)
        })
        .collect()
});

/// Finds the route for `method` and the raw (percent-encoded) `path`.
///
/// Unknown paths are [`ApiError::NotFound`]; a known path with another
/// method is [`ApiError::MethodNotAllowed`] listing the methods it takes.
pub fn match_route(method: &Method, path: &str) -> Result<RouteMatch, ApiError> {
    let rest = path.strip_prefix(super::BASE_PATH).ok_or_else(no_route)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(no_route());
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    // No route has more segments than this: a longer path is no route,
    // and the segments of a shorter one are split without an allocation.
    let mut split = [""; MAX_SEGMENTS];
    let mut count = 0;
    for segment in rest.split('/').skip(1) {
        if count == MAX_SEGMENTS {
            return Err(no_route());
        }
        split[count] = segment;
        count += 1;
    }
    let segments = &split[..count];

    // HEAD is GET without the body (the HTTP server drops it and keeps the
    // headers, `Content-Length` included).
    let wanted = if *method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    let mut allow = Vec::new();
    for (parts, spec) in COMPILED.iter() {
        if !fits(parts, segments) {
            continue;
        }
        if spec.method != *wanted {
            allow.push(spec.method.clone());
            if spec.method == Method::GET {
                allow.push(Method::HEAD);
            }
            continue;
        }
        let mut params = Vec::new();
        for (part, raw) in parts.iter().zip(segments) {
            if let Part::Param(name) = part {
                let value = percent_decode_str(raw).decode_utf8().map_err(|_| {
                    ApiError::Validation(format!("path parameter `{name}` is not valid UTF-8"))
                })?;
                params.push((*name, value.into_owned()));
            }
        }
        return Ok(RouteMatch { spec, params });
    }
    if allow.is_empty() {
        Err(no_route())
    } else {
        Err(ApiError::MethodNotAllowed {
            method: method.clone(),
            allow,
        })
    }
}

/// Whether `segments` fit the pattern `parts` (a parameter takes any
/// non-empty segment).
fn fits(parts: &[Part], segments: &[&str]) -> bool {
    parts.len() == segments.len()
        && parts
            .iter()
            .zip(segments)
            .all(|(part, segment)| match part {
                Part::Literal(literal) => literal == segment,
                Part::Param(_) => !segment.is_empty(),
            })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_fits_the_segments_split_on_the_stack() {
        for (parts, spec) in super::COMPILED.iter() {
            assert!(parts.len() <= super::MAX_SEGMENTS, "{}", spec.pattern);
        }
    }

    use super::*;

    #[test]
    fn matches_literal_and_parameter_routes() {
        let m = match_route(&Method::GET, "/api/v1/me").unwrap();
        assert_eq!(m.spec.endpoint, Endpoint::Me);
        let m = match_route(&Method::POST, "/api/v1/hostings/site.example.test/suspend").unwrap();
        assert_eq!(m.spec.endpoint, Endpoint::SuspendHosting);
        assert_eq!(m.param("id"), Some("site.example.test"));
        let m = match_route(&Method::GET, "/api/v1/hostings/").unwrap();
        assert_eq!(m.spec.endpoint, Endpoint::ListHostings);
    }

    #[test]
    fn decodes_parameters_once() {
        let m = match_route(&Method::GET, "/api/v1/hostings/a%2Fb").unwrap();
        assert_eq!(m.param("id"), Some("a/b"));
        let err = match_route(&Method::GET, "/api/v1/hostings/%FF").unwrap_err();
        assert_eq!(err.code(), "validation");
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "/api/v1",
            "/api/v1x/me",
            "/api/v2/me",
            "/api/v1/hostings//suspend",
            "/api/v1/me/extra",
            "/other",
        ] {
            let err = match_route(&Method::GET, path).unwrap_err();
            assert_eq!(err.code(), "not_found", "{path}");
        }
    }

    #[test]
    fn wrong_method_lists_what_is_allowed() {
        let err = match_route(&Method::PUT, "/api/v1/hostings/h1").unwrap_err();
        assert_eq!(
            err,
            ApiError::MethodNotAllowed {
                method: Method::PUT,
                allow: vec![Method::GET, Method::HEAD, Method::DELETE]
            }
        );
        // HEAD matches the GET route.
        let head = match_route(&Method::HEAD, "/api/v1/hostings/h1").unwrap();
        assert_eq!(head.spec.method, Method::GET);
    }

    #[test]
    fn every_pattern_is_reachable() {
        for spec in ROUTES {
            let path = format!("/api/v1{}", spec.pattern.replace("{id}", "x1"));
            let m = match_route(&spec.method, &path).unwrap();
            assert_eq!(m.spec.endpoint, spec.endpoint, "{path}");
        }
    }
}
