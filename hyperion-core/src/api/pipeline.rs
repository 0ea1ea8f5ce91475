//! The request pipeline, written once for every framework: route, serve
//! the public routes, authenticate, admit, check what the route alone
//! decides, read the body, run the endpoint, audit, answer. Whatever fails,
//! the answer is the JSON envelope.

use hyperion_wire::headers::{
    CLIENT_REQUEST_ID_HEADER, IDEMPOTENT_REPLAYED_HEADER, REQUEST_ID_HEADER,
};
use std::panic::AssertUnwindSafe;

use bytes::{Buf, Bytes};
use futures::{FutureExt, Stream};
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Method, StatusCode};
use tracing::Instrument;

use crate::audit::{AuditOutcome, AuditSink, Happening, LogSafe, RequestFacts, Requester};
use crate::auth::{admit, authenticate_naming, presented_prefix};
use crate::authz::{Principal, check_route};
use crate::error::ApiError;
use crate::http::body::Holder;
use crate::http::client_ip::client_address;
use crate::http::client_ip::network_of;
use crate::http::request_id::{client_request_id, fresh};
use crate::http::routes::{Endpoint, match_route};
use crate::http::{ApiResponse, Query, RequestHead, read_within};
use crate::openapi;
use crate::ratelimit::RateDecision;

use super::{AuditTarget, HyperionApi, RequestContext, Services, idempotent};

use super::dispatch::dispatch;

/// The server's id of a request, and the client's own when it sent a sane one.
#[derive(Clone, Copy)]
struct RequestIds<'a> {
    server: &'a str,
    client: Option<&'a str>,
}

impl HyperionApi {
    /// Answers one request. `body` is the request body as a stream of data
    /// chunks: any `Stream<Item = Result<B, E>> + Send + 'static` with
    /// `B: bytes::Buf` and `E: Display`. axum's `Body::into_data_stream()`
    /// and warp's `warp::body::stream()` fit as they are; for hyper's
    /// `Incoming` it is `http_body_util::BodyExt::into_data_stream(incoming)`.
    /// It is read only when the route takes a body, never past the
    /// configured limit, within the body deadline. Call it on a tokio
    /// runtime: a request that may change something (any method but
    /// GET, HEAD and OPTIONS) runs as a task of its own on the tokio runtime:
    /// once it has reached a node it runs to its end, is audited and keeps
    /// its idempotency record, even if the caller stops waiting (the client
    /// hung up and the framework dropped this future).
    pub async fn handle<S, B, E>(&self, head: RequestHead, body: S) -> ApiResponse
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        B: Buf + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let request_id = fresh();
        let client_id = client_request_id(&head.headers);
        // At DEBUG, as tower-http's request spans are: at INFO, building the
        // span cost about a tenth of serve's throughput. Responses, audit
        // events and internal-error logs carry the request id themselves;
        // `RUST_LOG=info,hyperion_core::api=debug` puts it on every log line.
        let span = tracing::debug_span!(
            "api_request",
            request_id = %request_id,
            method = %head.method,
            path = %LogSafe(&head.path),
        );
        let reads_only = matches!(head.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if reads_only {
            // Boxed once here: the framework moves the request's future
            // through each of its layers, and this one is kilobytes.
            return Box::pin(Self::answer_caught(
                self.clone(),
                head,
                body,
                request_id,
                client_id,
            ))
            .instrument(span)
            .await;
        }
        let ids = (request_id.clone(), client_id.clone());
        let answering =
            Self::answer_caught(self.clone(), head, body, request_id, client_id).instrument(span);
        match tokio::spawn(answering).await {
            Ok(response) => response,
            // The task itself failed (the runtime is shutting down).
            Err(_) => with_request_ids(
                ApiResponse::error(&ApiError::internal("the request handler panicked"), &ids.0),
                ids.0,
                ids.1,
            ),
        }
    }

    /// [`HyperionApi::respond`] on owned values (so that it can run as a
    /// task of its own), with a panic caught as `500 internal`; the answer
    /// carries the request ids.
    async fn answer_caught<S, B, E>(
        api: HyperionApi,
        head: RequestHead,
        body: S,
        server_id: String,
        client_id: Option<String>,
    ) -> ApiResponse
    where
        S: Stream<Item = Result<B, E>> + Send,
        B: Buf + Send,
        E: std::fmt::Display + Send,
    {
        let ids = RequestIds {
            server: &server_id,
            client: client_id.as_deref(),
        };
        let response = AssertUnwindSafe(api.respond(&head, body, ids))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                ApiResponse::error(
                    &ApiError::internal("the request handler panicked"),
                    &server_id,
                )
            });
        with_request_ids(response, server_id, client_id)
    }

    /// The request pipeline, stage by stage: route; serve the public routes;
    /// authenticate; admit (allowlist, rate limit); check what the route
    /// alone decides, before any body byte is read; read the body; run the
    /// endpoint (once per `Idempotency-Key`); audit; answer.
    async fn respond<S, B, E>(
        &self,
        head: &RequestHead,
        body: S,
        ids: RequestIds<'_>,
    ) -> ApiResponse
    where
        S: Stream<Item = Result<B, E>> + Send,
        B: Buf + Send,
        E: std::fmt::Display + Send,
    {
        let services = &*self.services;
        let route = match match_route(&head.method, &head.path) {
            Ok(route) => route,
            Err(err) => return ApiResponse::error(&err, ids.server),
        };
        if route.spec.public {
            return public_answer(route.spec.endpoint, &head.link_prefix());
        }
        let address = client_address(
            head.peer.map(|peer| peer.ip()),
            &head.headers,
            &services.config.trusted_proxies,
            services.config.forwarded_header,
        );
        let door = Door {
            services,
            request: RequestFacts {
                request_id: ids.server,
                client_request_id: ids.client,
                client_ip: address.ip,
            },
            action: route.spec.endpoint.action(),
            target: route.param("id").unwrap_or_default(),
        };
        let principal = match door.authenticate(&head.headers).await {
            Ok(principal) => principal,
            Err(refused) => return refused,
        };
        let rate = match door.admit(&principal, address.why_unknown).await {
            Ok(rate) => rate,
            Err(refused) => return refused,
        };
        if let Err(refused) = door.check_route(&principal, route.spec.endpoint).await {
            return with_rate_headers(refused, rate);
        }
        let body = if route.spec.takes_body() {
            let holders = [
                Holder::Family(principal.family().clone()),
                Holder::Network(address.ip.map(network_of)),
            ];
            let limit = route.spec.body_limit().min(services.config.body_limit);
            Box::pin(read_body(services, &head.headers, body, limit, holders)).await
        } else {
            Ok(Bytes::new())
        };
        let prefix = head.link_prefix();
        let ctx = RequestContext {
            api: self,
            services,
            principal,
            request_id: ids.server,
            client_request_id: ids.client,
            raw_path: &head.path,
            prefix: &prefix,
            route,
            query: Query::parse(head.query.as_deref()),
            body: body.as_ref().cloned().unwrap_or_default(),
            peer: address.ip,
        };
        let (target, result) = match body {
            Err(err) => (AuditTarget::default(), Err(err)),
            Ok(_) => run_endpoint(&ctx, &head.headers).await,
        };
        audit_outcome(&ctx, &target, &result).await;
        let result = result.map_err(|err| hide_nodes_from_tenants(&ctx.principal, err));
        let response = result.unwrap_or_else(|err| ApiResponse::error(&err, ids.server));
        with_rate_headers(response, rate)
    }
}

/// The contract and its page, served without a key.
fn public_answer(endpoint: Endpoint, prefix: &str) -> ApiResponse {
    match endpoint {
        Endpoint::Docs => ApiResponse::rendered(
            StatusCode::OK,
            "text/html; charset=utf-8",
            openapi::docs_page(),
        ),
        _ => ApiResponse::rendered(
            StatusCode::OK,
            "application/json",
            openapi::document_bytes_under(prefix),
        ),
    }
}

/// The stages at the door, before any body byte is read: each refusal is
/// answered at once and counted (per key or address and minute, never one
/// audit event each), so that no flood of refused requests can crowd out
/// the events of real keys.
struct Door<'a> {
    services: &'a Services,
    request: RequestFacts<'a>,
    action: &'static str,
    target: &'a str,
}

impl Door<'_> {
    /// The key presented, with its whole minting chain, or the refusal.
    async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiResponse> {
        let services = self.services;
        let deadline = services.config.key_lookup_deadline;
        let lookup = authenticate_naming(headers, services.keys.as_ref(), services.owners.as_ref());
        let Ok(looked_up) = tokio::time::timeout(deadline, lookup).await else {
            tracing::warn!(?deadline, "the key stores did not answer in time");
            let busy = ApiError::StoresUnavailable {
                retry_after_secs: deadline.as_secs().max(1),
            };
            return Err(ApiResponse::error(&busy, self.request.request_id));
        };
        let refused = match looked_up {
            Ok(principal) => return Ok(principal),
            Err(refused) => refused,
        };
        let err = refused.error;
        if !err.is_refusal() {
            return Err(ApiResponse::error(&err, self.request.request_id));
        }
        // A known key (revoked, expired, its chain or owner gone) is counted
        // against that key; an unknown one with the anonymous refusals.
        let who = match refused.key {
            Some(key) => Requester {
                actor: format!("apikey:{}", key.label),
                key_id: Some(key.id.clone()),
                owner: Some(key.owner.clone()),
                key_prefix: Some(key.prefix.clone()),
            },
            None => Requester::anonymous(presented_prefix(headers)),
        };
        Err(Box::pin(self.refuse(&err, who, None)).await)
    }

    /// The key's network and rate limits, with the rate it has left.
    async fn admit(
        &self,
        principal: &Principal,
        why_unknown: Option<&'static str>,
    ) -> Result<Option<RateDecision>, ApiResponse> {
        match admit(
            principal,
            self.request.client_ip,
            self.services.limiter.as_ref(),
        )
        .await
        {
            Ok(rate) => Ok(rate),
            Err((err, rate)) => {
                let detail =
                    why_unknown.map(|why| format!("{err} (client address unknown: {why})"));
                let refused = Box::pin(self.refuse(&err, principal.requester(), detail)).await;
                Err(with_rate_headers(refused, rate))
            }
        }
    }

    /// What the route alone decides (capability, scope `all`).
    async fn check_route(
        &self,
        principal: &Principal,
        endpoint: Endpoint,
    ) -> Result<(), ApiResponse> {
        match check_route(principal, endpoint) {
            Ok(()) => Ok(()),
            Err(err) => Err(Box::pin(self.refuse(&err, principal.requester(), None)).await),
        }
    }

    /// Counts the refusal `err` of `who` (recording the counts of minutes
    /// that have ended) and answers its envelope.
    async fn refuse(&self, err: &ApiError, who: Requester, detail: Option<String>) -> ApiResponse {
        let what = Happening {
            action: self.action,
            target: self.target,
            outcome: AuditOutcome::Denied,
            status: Some(err.status().as_u16()),
            detail: Some(detail.unwrap_or_else(|| err.to_string())),
        };
        let event = crate::audit::event(who, self.request, what);
        let (finished, pace) = self.services.refusals.count(event);
        for event in finished {
            self.services.audit.record(event).await;
        }
        let config = &self.services.config;
        if matches!(err, ApiError::Unauthorized(_)) && pace.past(config.refusals_before_delay) {
            // A flood of guessed keys: each answer waits, so the flood
            // goes no faster than its connections can wait.
            tokio::time::sleep(config.refusal_delay).await;
        }
        ApiResponse::error(err, self.request.request_id)
    }
}

/// The body of a route that takes one, of at most `limit` bytes: a longer
/// declared body is 413 at once; then room in the server's budget, counted
/// against its `holders`; then the body itself, within its deadline.
async fn read_body<S, B, E>(
    services: &Services,
    headers: &HeaderMap,
    body: S,
    limit: usize,
    holders: [Holder; 2],
) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, E>> + Send,
    B: Buf + Send,
    E: std::fmt::Display + Send,
{
    let declared = content_length(headers);
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let _reserved = services.body_budget.reserve(declared, limit, holders)?;
    read_within(body, limit, declared, services.config.body_deadline).await
}

/// Runs the endpoint (through the `Idempotency-Key` wrapper where the
/// route takes one), a panic caught as `500`; hands back what it acted on.
async fn run_endpoint(
    ctx: &RequestContext<'_>,
    headers: &HeaderMap,
) -> (AuditTarget, Result<ApiResponse, ApiError>) {
    let mut target = AuditTarget::default();
    let result = AssertUnwindSafe(async {
        let endpoint = dispatch(ctx, &mut target);
        if ctx.route.spec.idempotent {
            Box::pin(idempotent::run_idempotent(ctx, headers, endpoint)).await
        } else {
            endpoint.await
        }
    })
    .catch_unwind()
    .await
    .unwrap_or_else(|_| Err(ApiError::internal("an endpoint panicked")));
    (target, result)
}

/// `response` with the server's request id and the client's own (each
/// becomes its header value without a copy).
fn with_request_ids(
    mut response: ApiResponse,
    server_id: String,
    client_id: Option<String>,
) -> ApiResponse {
    for (name, id) in [
        (REQUEST_ID_HEADER, Some(server_id)),
        (CLIENT_REQUEST_ID_HEADER, client_id),
    ] {
        // Both are checked to be plain ASCII (`fresh`, `client_request_id`).
        if let Some(value) = id.and_then(|id| http::HeaderValue::try_from(id).ok()) {
            response.headers.insert(name, value);
        }
    }
    response
}

/// `response` with the `RateLimit` headers of `rate`, for a limited key.
fn with_rate_headers(mut response: ApiResponse, rate: Option<RateDecision>) -> ApiResponse {
    if let Some(rate) = rate {
        response.set_rate_limit_headers(&rate);
    }
    response
}

/// Records a request in the audit log: every mutation, whatever its outcome,
/// and every refusal. Those that changed nothing (refusals, 4xx) are
/// counted per key, action, status and minute (see [`RefusalCounter`]).
/// Successful reads are not audited.
async fn audit_outcome(
    ctx: &RequestContext<'_>,
    target: &AuditTarget,
    result: &Result<ApiResponse, ApiError>,
) {
    let replayed = result
        .as_ref()
        .is_ok_and(|response| response.headers.contains_key(IDEMPOTENT_REPLAYED_HEADER));
    let (outcome, status, detail) = match result {
        // A replay did nothing new: its event says so.
        Ok(response) if replayed => (
            AuditOutcome::Ok,
            response.status.as_u16(),
            Some("an idempotent replay of the first answer; nothing was done again".to_owned()),
        ),
        Ok(response) => (AuditOutcome::Ok, response.status.as_u16(), target.noted()),
        Err(err) if err.is_refusal() => (
            AuditOutcome::Denied,
            err.status().as_u16(),
            Some(err.to_string()),
        ),
        // Validation messages may quote what the client sent (a password of the
        // wrong type, say): the audit keeps only the code.
        Err(err @ ApiError::Validation(_)) => (
            AuditOutcome::Failed,
            err.status().as_u16(),
            Some(err.code().to_string()),
        ),
        Err(err) => (
            AuditOutcome::Failed,
            err.status().as_u16(),
            Some(err.to_string()),
        ),
    };
    let is_mutation = ctx.route.spec.method != Method::GET;
    if is_mutation || outcome == AuditOutcome::Denied {
        let action = ctx.route.spec.endpoint.action();
        let mut on = ctx.target(target);
        if on.is_empty() {
            // A replayed create never ran the endpoint: what it made is
            // where its answer points.
            let location = result
                .as_ref()
                .ok()
                .and_then(|response| response.headers.get(http::header::LOCATION))
                .and_then(|location| location.to_str().ok());
            if let Some(made) = location.and_then(|location| location.rsplit('/').next()) {
                on = made.to_owned();
            }
        }
        let event = ctx.audit_event(action, &on, outcome, Some(status), detail);
        let services = ctx.services;
        if replayed || event.changed_nothing() {
            // Counted, as the door's refusals are: a key probing hostings
            // outside its scope, sending what is refused, or replaying an
            // answer, costs the log one event per action and status a
            // minute, never one per request.
            let (finished, _) = services.refusals.count(event);
            for event in finished {
                services.audit.record(event).await;
            }
        } else {
            services.audit.record(event).await;
        }
    }
}

/// Node names never reach a grants-scoped key: a node failure it meets is
/// told without naming the node (the audit keeps the full message).
fn hide_nodes_from_tenants(principal: &Principal, err: ApiError) -> ApiError {
    match err {
        _ if principal.scope().is_all() => err,
        ApiError::Upstream(_) => {
            ApiError::Upstream("a node serving this request failed; try again later".to_owned())
        }
        ApiError::UpstreamTimeout(_) => ApiError::UpstreamTimeout(
            "a node serving this request did not answer in time; try again later".to_owned(),
        ),
        err => err,
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}
