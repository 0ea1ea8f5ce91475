//! The endpoint logic, written once for every framework.
//!
//! [`HyperionApi::handle`] takes a framework-neutral request and answers a
//! finished [`ApiResponse`]: route → authenticate → read the body if the route
//! takes one → endpoint. Whatever fails, the answer is the JSON envelope;
//! even a panicking endpoint becomes a `500 internal`.

mod audit;
mod config;
mod context;
mod hostings;
mod idempotent;
mod jobs;
mod keys;
mod me;
mod nodes;
mod operations;
mod provisioning;
mod rendered;
mod rerun;
mod settings;
#[cfg(test)]
mod tests;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::{FutureExt, Stream};
use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Method, StatusCode};
use tracing::Instrument;

use crate::audit::{
    AuditEvent, AuditLog, AuditOutcome, AuditSink, Happening, LogSafe, RequestFacts, Requester,
    TeeAuditSink, TracingAuditSink,
};
use crate::auth::{admit, authenticate_naming, presented_prefix};
use crate::authz::{Principal, check_route};
use crate::cluster::Cluster;
use crate::cluster::{FewestHostings, PlacementStrategy};
use crate::error::ApiError;
use crate::http::body::{BodyBudget, Holder};
use crate::http::client_ip::client_address;
use crate::http::client_ip::network_of;
use crate::http::request_id::{client_request_id, fresh};
use crate::http::routes::{Endpoint, match_route};
use crate::http::{ApiResponse, Query, RequestHead, read_within};
use crate::idempotency::IdempotencyStore;
use crate::jobs::{JobRunner, TokioJobRunner};
use crate::keys::KeyStore;
use crate::memory::{
    MemoryAuditSink, MemoryIdempotencyStore, MemoryKeyStore, MemoryNameReservations,
};
use crate::model::now;
use crate::openapi;
use crate::owner::OwnerDirectory;
use crate::ratelimit::{MemoryRateLimiter, RateDecision, RateLimitStore};
use crate::refusals::RefusalCounter;
use crate::reservations::NameReservations;

pub use config::ApiConfig;
pub(crate) use context::{AuditTarget, RequestContext};
pub use idempotent::{IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};

pub use crate::http::request_id::{CLIENT_REQUEST_ID_HEADER, REQUEST_ID_HEADER};

/// The server's id of a request, and the client's own when it sent a sane one.
#[derive(Clone, Copy)]
struct RequestIds<'a> {
    server: &'a str,
    client: Option<&'a str>,
}

impl Services {
    /// Records every count of unauthenticated refusals kept so far (before
    /// the audit log is read, so that it is complete).
    pub(crate) async fn record_refusal_counts(&self) {
        for event in self.refusals.take_all() {
            self.audit.record(event).await;
        }
    }
}

/// How often the counts of ended minutes are written out.
const REFUSAL_FLUSH_EVERY: Duration = Duration::from_secs(15);

/// Writes the refusal counts of ended minutes while the API lives.
fn spawn_refusal_flusher(services: &Arc<Services>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let services = Arc::downgrade(services);
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(REFUSAL_FLUSH_EVERY).await;
            let Some(services) = services.upgrade() else {
                return;
            };
            for event in services.refusals.take_finished(now()) {
                services.audit.record(event).await;
            }
        }
    });
}

/// How often the API looks for jobs whose runner stopped before they ended
/// (a replica whose lease lapsed, a previous process of this server).
const TAKE_OVER_EVERY: Duration = Duration::from_secs(2);

/// While the API lives: takes over the jobs whose runner stopped (see
/// [`crate::jobs::JobRunner::take_over`]) and runs again, here, those that
/// are safe to repeat. The first look is at once: a server restarted on
/// its data resumes what its previous process left.
fn spawn_job_keeper(services: &Arc<Services>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let services = Arc::downgrade(services);
    runtime.spawn(async move {
        loop {
            let Some(alive) = services.upgrade() else {
                return;
            };
            match alive.jobs.take_over().await {
                Ok(jobs) => {
                    for job in jobs {
                        rerun::resume(&alive, job).await;
                    }
                }
                Err(err) => tracing::warn!(error = %err, "could not look for jobs to take over"),
            }
            drop(alive);
            tokio::time::sleep(TAKE_OVER_EVERY).await;
        }
    });
}

/// The services every endpoint reaches through its [`RequestContext`].
pub(crate) struct Services {
    pub(crate) cluster: Cluster,
    pub(crate) keys: Arc<dyn KeyStore>,
    pub(crate) owners: Arc<dyn OwnerDirectory>,
    pub(crate) jobs: Arc<dyn JobRunner>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) audit_log: Option<Arc<dyn AuditLog>>,
    pub(crate) limiter: Arc<dyn RateLimitStore>,
    pub(crate) idempotency: Arc<dyn IdempotencyStore>,
    pub(crate) placement: Arc<dyn PlacementStrategy>,
    pub(crate) reservations: Arc<dyn NameReservations>,
    /// Held while a mint or a revocation over HTTP checks and writes, so
    /// that two at once cannot both pass the last-admin check, the per-owner
    /// cap or the label check.
    pub(crate) key_changes: tokio::sync::Mutex<()>,
    /// Refusals of requests without a usable key, counted per address and minute.
    pub(crate) refusals: RefusalCounter,
    /// Bytes of request bodies being read at once.
    pub(crate) body_budget: BodyBudget,
    /// Hosting details as rendered JSON, reused while unchanged.
    pub(crate) rendered: rendered::RenderedHostings,
    /// Pages of hostings as rendered JSON, reused while no node changed.
    pub(crate) pages: rendered::RenderedPages,
    pub(crate) config: ApiConfig,
}

/// The whole `/api/v1`, ready to be mounted by an adapter. Cheap to clone.
#[derive(Clone)]
pub struct HyperionApi {
    services: Arc<Services>,
}

/// Builds a [`HyperionApi`]; every store not given is the in-memory one.
pub struct HyperionApiBuilder {
    cluster: Cluster,
    keys: Option<Arc<dyn KeyStore>>,
    owners: Arc<dyn OwnerDirectory>,
    jobs: Option<Arc<dyn JobRunner>>,
    audit: Option<Arc<dyn AuditSink>>,
    audit_log: Option<Arc<dyn AuditLog>>,
    idempotency: Option<Arc<dyn IdempotencyStore>>,
    placement: Option<Arc<dyn PlacementStrategy>>,
    rate_limits: Option<Arc<dyn RateLimitStore>>,
    reservations: Option<Arc<dyn NameReservations>>,
    config: ApiConfig,
}

impl HyperionApiBuilder {
    /// Where keys are stored (default: [`MemoryKeyStore`]).
    #[must_use]
    pub fn key_store(mut self, keys: Arc<dyn KeyStore>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// What runs slow operations (default: [`TokioJobRunner`]).
    #[must_use]
    pub fn job_runner(mut self, jobs: Arc<dyn JobRunner>) -> Self {
        self.jobs = Some(jobs);
        self
    }

    /// Where audit events go (default: a bounded [`MemoryAuditSink`], also
    /// written to `tracing`). Give an [`HyperionApiBuilder::audit_log`] too,
    /// or `GET /audit` has nothing to read.
    #[must_use]
    pub fn audit_sink(mut self, audit: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// What `GET /audit` reads (default: the default sink's memory).
    #[must_use]
    pub fn audit_log(mut self, log: Arc<dyn AuditLog>) -> Self {
        self.audit_log = Some(log);
        self
    }

    /// Where idempotent answers are kept (default: [`MemoryIdempotencyStore`]).
    #[must_use]
    pub fn idempotency_store(mut self, store: Arc<dyn IdempotencyStore>) -> Self {
        self.idempotency = Some(store);
        self
    }

    /// How new hostings are placed (default: [`FewestHostings`]).
    #[must_use]
    pub fn placement(mut self, strategy: Arc<dyn PlacementStrategy>) -> Self {
        self.placement = Some(strategy);
        self
    }

    /// Where the keys' rate limits are kept (default: this process's
    /// memory). Replicas serving one cluster share one, or each grants a
    /// key its whole limit again.
    #[must_use]
    pub fn rate_limits(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.rate_limits = Some(store);
        self
    }

    /// Where the names of creates in flight are held (default: this
    /// process's memory). Replicas serving one cluster share one, or two
    /// creates of one domain on two replicas could both succeed.
    #[must_use]
    pub fn name_reservations(mut self, store: Arc<dyn NameReservations>) -> Self {
        self.reservations = Some(store);
        self
    }

    /// Tunables (default: [`ApiConfig::default`]).
    #[must_use]
    pub fn config(mut self, config: ApiConfig) -> Self {
        self.config = config;
        self
    }

    /// The API.
    pub fn build(self) -> HyperionApi {
        let (audit, audit_log): (Arc<dyn AuditSink>, Option<Arc<dyn AuditLog>>) = match self.audit {
            Some(audit) => (audit, self.audit_log),
            None => {
                let memory = Arc::new(MemoryAuditSink::default());
                let sink = Arc::new(TeeAuditSink(Arc::clone(&memory), TracingAuditSink));
                (sink, Some(self.audit_log.unwrap_or(memory)))
            }
        };
        let services = Arc::new(Services {
            cluster: self.cluster,
            keys: self.keys.unwrap_or_else(|| Arc::new(MemoryKeyStore::new())),
            owners: self.owners,
            jobs: self
                .jobs
                .unwrap_or_else(|| Arc::new(TokioJobRunner::default())),
            audit,
            audit_log,
            limiter: self
                .rate_limits
                .unwrap_or_else(|| Arc::new(MemoryRateLimiter::default())),
            idempotency: self
                .idempotency
                .unwrap_or_else(|| Arc::new(MemoryIdempotencyStore::default())),
            placement: self.placement.unwrap_or_else(|| Arc::new(FewestHostings)),
            reservations: self
                .reservations
                .unwrap_or_else(|| Arc::new(MemoryNameReservations::default())),
            key_changes: tokio::sync::Mutex::new(()),
            refusals: RefusalCounter::default(),
            body_budget: BodyBudget::new(self.config.body_bytes_in_flight),
            rendered: rendered::RenderedHostings::default(),
            pages: rendered::RenderedPages::default(),
            config: self.config,
        });
        spawn_refusal_flusher(&services);
        spawn_job_keeper(&services);
        HyperionApi { services }
    }
}

impl HyperionApi {
    /// Starts building an API over `cluster`, whose keys belong to the
    /// owners in `owners`: your panel's users (or resellers), and what each
    /// may do now. A key works only while its owner is there, and never does
    /// more than its owner may; there is no default, since an empty
    /// directory would make every key fail with 401.
    pub fn builder(cluster: Cluster, owners: Arc<dyn OwnerDirectory>) -> HyperionApiBuilder {
        HyperionApiBuilder {
            cluster,
            keys: None,
            owners,
            jobs: None,
            audit: None,
            audit_log: None,
            idempotency: None,
            placement: None,
            rate_limits: None,
            reservations: None,
            config: ApiConfig::default(),
        }
    }

    /// Writes the audit events still held in memory: the counts of
    /// requests refused at the door in the current minute, which are
    /// otherwise written when their minute is over. Call it when the server
    /// has stopped answering, so that a restart loses none of them.
    pub async fn flush_audit(&self) {
        self.services.record_refusal_counts().await;
    }

    /// The cluster it serves.
    pub fn cluster(&self) -> &Cluster {
        &self.services.cluster
    }

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
        let event = AuditEvent::new(who, self.request, what);
        let (finished, so_far) = self.services.refusals.count(event);
        for event in finished {
            self.services.audit.record(event).await;
        }
        let config = &self.services.config;
        if matches!(err, ApiError::Unauthorized(_)) && so_far > config.refusals_before_delay {
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
    let (outcome, status, detail) = match result {
        // A replay did nothing new: its event says so.
        Ok(response) if response.headers.contains_key(IDEMPOTENT_REPLAYED_HEADER) => (
            AuditOutcome::Ok,
            response.status.as_u16(),
            Some("an idempotent replay of the first answer; nothing was done again".to_owned()),
        ),
        Ok(response) => (AuditOutcome::Ok, response.status.as_u16(), None),
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
            Some(err.code().to_owned()),
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
        if event.changed_nothing() {
            // Counted, as the door's refusals are: a key probing hostings
            // outside its scope, or sending what is refused, costs the log
            // one event per action and status a minute, never one per
            // request.
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

/// Calls the endpoint function of the matched route. Only the reads every
/// client makes all the time run in place; every other endpoint's future is
/// boxed, so that the request's future (moved whole through each layer of
/// the framework) stays the size of a read, not of the largest endpoint.
async fn dispatch(
    ctx: &RequestContext<'_>,
    target: &mut AuditTarget,
) -> Result<ApiResponse, ApiError> {
    use settings::Setting;
    match ctx.route.spec.endpoint {
        // Served before authentication, in `respond`.
        Endpoint::OpenApi | Endpoint::Docs => {
            Err(ApiError::internal("a public route reached dispatch"))
        }
        Endpoint::Me => me::show(ctx).await,
        Endpoint::ListHostings => hostings::list(ctx).await,
        Endpoint::CreateHosting => Box::pin(provisioning::create(ctx, target)).await,
        Endpoint::GetHosting => hostings::show(ctx).await,
        Endpoint::SuspendHosting => Box::pin(hostings::suspend(ctx, target)).await,
        Endpoint::ResumeHosting => Box::pin(hostings::resume(ctx, target)).await,
        Endpoint::DeleteHosting => Box::pin(hostings::delete(ctx, target)).await,
        Endpoint::PatchLimits => Box::pin(settings::patch(ctx, target, Setting::Limits)).await,
        Endpoint::PatchPhp => Box::pin(settings::patch(ctx, target, Setting::Php)).await,
        Endpoint::PatchVhost => Box::pin(settings::patch(ctx, target, Setting::Vhost)).await,
        Endpoint::PatchExpiry => Box::pin(settings::patch(ctx, target, Setting::Expiry)).await,
        Endpoint::PatchQuota => Box::pin(settings::patch(ctx, target, Setting::Quota)).await,
        Endpoint::StartBackup => Box::pin(operations::backup(ctx, target)).await,
        Endpoint::ListBackups => Box::pin(operations::list_backups(ctx)).await,
        Endpoint::StartRestore => Box::pin(operations::restore(ctx, target)).await,
        Endpoint::IssueCertificate => Box::pin(operations::issue_certificate(ctx, target)).await,
        Endpoint::InstallWordPress => Box::pin(operations::install_wordpress(ctx, target)).await,
        Endpoint::RenewAllCertificates => Box::pin(operations::renew_all(ctx, target)).await,
        Endpoint::ListNodes => Box::pin(nodes::list(ctx)).await,
        Endpoint::GetJob => Box::pin(jobs::show(ctx)).await,
        Endpoint::MintKey => Box::pin(keys::mint(ctx, target)).await,
        Endpoint::ListKeys => Box::pin(keys::list(ctx)).await,
        Endpoint::GetKey => Box::pin(keys::show(ctx)).await,
        Endpoint::RevokeKey => Box::pin(keys::revoke(ctx, target)).await,
        Endpoint::ListAudit => Box::pin(audit::list(ctx)).await,
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}
