//! # hyperion-client
//!
//! A typed async client of the Hyperion API kit's `/api/v1`, for scripts
//! and services on the other end of the wire. Every answer is read into the
//! type the server renders it from ([`hyperion_wire`], re-exported as
//! [`wire`]), and every call is built from the kit's declaration of its
//! endpoint, so client and server cannot disagree on a field or a path.
//!
//! - Errors are typed: the API's envelope ([`Error::Api`]: status, code,
//!   message, request id), apart from transport failures.
//! - Retries follow the contract ([`RetryPolicy`]): a 429 waits exactly its
//!   `Retry-After`; a 502, 503, 504 or broken connection is tried again only
//!   where that is safe (`GET`, and `POST`s sent with an `Idempotency-Key`,
//!   which the client adds to job-starting calls unless given one).
//! - Lists are streams that follow `next_cursor` ([`Client::hostings`]),
//!   beside one-page calls; [`Client::wait_job`] polls a job to its end.
//!
//! ```no_run
//! # async fn run() -> Result<(), hyperion_client::Error> {
//! use futures::TryStreamExt;
//! use hyperion_client::{Client, HostingFilter};
//!
//! let client = Client::builder("http://127.0.0.1:8080")
//!     .key(std::env::var("HYPERION_KEY").unwrap_or_default())
//!     .build()?;
//! let active: Vec<_> = client
//!     .hostings(HostingFilter { state: Some("active".into()), ..HostingFilter::default() })
//!     .try_collect()
//!     .await?;
//! let started = client.start_backup("shop.example.com").await?;
//! let job = client
//!     .wait_job(started.job_id.as_str(), std::time::Duration::from_secs(600), |job| {
//!         eprintln!("{}% {}", job.progress, job.step.as_deref().unwrap_or(""));
//!     })
//!     .await?;
//! # let _ = (active, job); Ok(()) }
//! ```

mod error;
mod retry;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, Stream, TryStreamExt};
use http::{HeaderMap, Method, StatusCode};
use hyperion_wire::headers::IDEMPOTENCY_KEY_HEADER;
use hyperion_wire::model::{
    CreateHostingRequest, ExpiryPatch, Hosting, HostingDetail, HostingId, LabelsPatch, Limits,
    LimitsPatch, OwnerPatch, PhpPatch, PlanPatch, Quota, QuotaPatch, RestoreRequest, VhostOptions,
    VhostPatch, WpInstallRequest,
};
use hyperion_wire::{
    AuditPage, BackupList, Endpoint, ErrorEnvelope, ExpiryValue, HostingPage, Job, JobAccepted,
    JobState, KeyPage, KeyView, LabelsValue, Me, MintRequest, NewKeyAnswer, NodeList, OwnerValue,
    PhpValue, PlanValue, StateChange,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;

pub use error::Error;
pub use hyperion_wire as wire;
pub use retry::RetryPolicy;

/// What a path segment may hold unescaped (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Hears each wait before a retry: how long, and why (so that a
/// command-line tool can say it is waiting, not hanging).
pub type RetryObserver = Arc<dyn Fn(Duration, &str) + Send + Sync>;

/// Builds a [`Client`].
pub struct ClientBuilder {
    base: String,
    key: Option<String>,
    retry: RetryPolicy,
    timeout: Duration,
    observer: Option<RetryObserver>,
}

impl ClientBuilder {
    /// The API key every call sends as `Authorization: Bearer`.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// How persistent the client is (default: [`RetryPolicy::default`]).
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Calls `observer` before each wait for a retry, with the wait and
    /// its reason (`rate limited (429)`, `503`, `connection failed`).
    #[must_use]
    pub fn on_retry(mut self, observer: impl Fn(Duration, &str) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The deadline of one attempt (default 30 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The client.
    pub fn build(self) -> Result<Client, Error> {
        let base = self.base.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base)
            .map_err(|err| Error::Invalid(format!("base URL `{base}`: {err}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Invalid(format!(
                "base URL `{base}`: http or https only"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(Error::Transport)?;
        if let Some(key) = &self.key
            && http::HeaderValue::from_str(&format!("Bearer {key}")).is_err()
        {
            return Err(Error::Invalid(
                "the API key holds characters no HTTP header may carry".into(),
            ));
        }
        Ok(Client {
            http,
            base,
            key: self.key,
            retry: self.retry,
            observer: self.observer,
        })
    }
}

/// A client of one API. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Where the app serves the API, without `/api/v1` (a path prefix such
    /// as `/panel` included).
    base: String,
    key: Option<String>,
    retry: RetryPolicy,
    observer: Option<RetryObserver>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// Filters of `GET /hostings` (every one optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostingFilter {
    /// Only hostings in this state (`active`, `suspended`, ...).
    pub state: Option<String>,
    /// Only hostings on this node (scope-all keys).
    pub node: Option<String>,
    /// Only hostings whose domain holds this text, in any case.
    pub q: Option<String>,
    /// Only hostings of this customer of the panel.
    pub owner: Option<String>,
    /// Only hostings on this plan.
    pub plan: Option<String>,
    /// Only hostings carrying every one of these labels (`key=value`).
    pub labels: Vec<String>,
    /// Page size (the API's default when `None`).
    pub limit: Option<u32>,
    /// Refuse an answer that misses a node (502/504) instead of a partial one.
    pub complete_only: bool,
}

/// Filters of `GET /audit` (every one optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this actor (`apikey:<label>`, `anonymous`, ...).
    pub actor: Option<String>,
    /// Only events of this key id.
    pub key_id: Option<String>,
    /// Only this action (`hosting.suspend`, ...).
    pub action: Option<String>,
    /// Only this target.
    pub target: Option<String>,
    /// Only this outcome (`ok`, `failed`, `denied`).
    pub outcome: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Where the page starts (`next_cursor` of the page before).
    pub cursor: Option<String>,
}

/// One request, before it is sent.
struct Call<'a> {
    method: Method,
    path: String,
    query: Vec<(&'a str, String)>,
    body: Option<serde_json::Value>,
    idempotency_key: Option<String>,
}

impl<'a> Call<'a> {
    /// A call of `endpoint`, its `{...}` path segments filled with `names`
    /// in order: the method and path are the kit's declaration, and a call
    /// that starts something goes with a fresh `Idempotency-Key`, so that a
    /// retry never starts it twice.
    fn to(endpoint: Endpoint, names: &[&str]) -> Result<Self, Error> {
        let spec = endpoint.spec();
        let mut names = names.iter();
        let mut path = String::new();
        for part in spec.pattern.split('/').skip(1) {
            path.push('/');
            if part.starts_with('{') {
                let name = names.next().ok_or_else(|| {
                    Error::Invalid(format!("`{}` names a segment more", spec.pattern))
                })?;
                path.push_str(&segment(name)?);
            } else {
                path.push_str(part);
            }
        }
        Ok(Call {
            method: spec.method.clone(),
            path,
            query: Vec::new(),
            body: None,
            idempotency_key: spec.idempotent.then(fresh_idempotency_key),
        })
    }

    /// With `body` as its JSON body.
    fn body(mut self, body: &impl serde::Serialize) -> Result<Self, Error> {
        let body = serde_json::to_value(body)
            .map_err(|err| Error::Invalid(format!("the request body: {err}")))?;
        self.body = Some(body);
        Ok(self)
    }

    /// `name` once for each of `values` (a filter the API ANDs).
    fn queries(mut self, name: &'a str, values: &[String]) -> Self {
        for value in values {
            self.query.push((name, value.clone()));
        }
        self
    }

    fn query(mut self, name: &'a str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.query.push((name, value.to_string()));
        }
        self
    }

    /// Whether sending it again cannot do a thing twice.
    fn safe_to_repeat(&self) -> bool {
        self.method == Method::GET || self.idempotency_key.is_some()
    }
}

/// A random key for one logical request (its retries share it).
fn fresh_idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    // Without the OS's randomness, a retry may run twice: say so by not
    // pretending (no key, so no retry on 5xx).
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `{id}` of a path: a hosting's id or domain, a key id, a job id.
/// An empty name would reach another endpoint (`/hostings/` is the list).
fn segment(name: &str) -> Result<String, Error> {
    if name.trim().is_empty() {
        return Err(Error::Invalid(
            "an empty name (a hosting, key or job must be named)".into(),
        ));
    }
    Ok(utf8_percent_encode(name, SEGMENT).to_string())
}

impl Client {
    /// Starts building a client of the API served at `base` (e.g.
    /// `https://panel.example.com` or, nested, `https://example.com/panel`):
    /// the client adds `/api/v1`.
    pub fn builder(base: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base.into(),
            key: None,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            observer: None,
        }
    }

    /// Where it sends calls: the base URL it was built with, `/api/v1` not
    /// included.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends `call` by the retry rules; answers the final status, headers
    /// and body.
    async fn send(&self, mut call: Call<'_>) -> Result<(StatusCode, HeaderMap, Vec<u8>), Error> {
        if call.idempotency_key.as_deref() == Some("") {
            call.idempotency_key = None;
        }
        let url = format!("{}/api/v1{}", self.base, call.path);
        let started = Instant::now();
        let policy = self.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(call.method.clone(), &url)
                .query(&call.query);
            if let Some(key) = &self.key {
                request = request.bearer_auth(key);
            }
            if let Some(idempotency_key) = &call.idempotency_key {
                request = request.header(IDEMPOTENCY_KEY_HEADER, idempotency_key);
            }
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            let last_try = attempt >= policy.max_attempts.max(1);
            let (wait, why) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let wait = match status.as_u16() {
                        429 => Some(retry_after(response.headers())),
                        502..=504 if call.safe_to_repeat() => Some(policy.backoff(attempt)),
                        _ => None,
                    };
                    match wait {
                        Some(wait)
                            if !last_try && started.elapsed() + wait <= policy.max_elapsed =>
                        {
                            let why = if status.as_u16() == 429 {
                                "rate limited (429)".to_owned()
                            } else {
                                format!("the server answered {}", status.as_u16())
                            };
                            (wait, why)
                        }
                        _ => {
                            let headers = response.headers().clone();
                            let body = response.bytes().await.map_err(Error::Transport)?;
                            return Ok((status, headers, body.to_vec()));
                        }
                    }
                }
                Err(err) => {
                    // Never connected: nothing reached the API.
                    let may_repeat = err.is_connect() || call.safe_to_repeat();
                    let wait = policy.backoff(attempt);
                    if !may_repeat || last_try || started.elapsed() + wait > policy.max_elapsed {
                        return Err(Error::Transport(err));
                    }
                    let why = if err.is_connect() {
                        "the connection failed"
                    } else {
                        "the connection broke"
                    };
                    (wait, why.to_owned())
                }
            };
            if let Some(observer) = &self.observer {
                observer(wait, &why);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends `call` and reads a success into `T`, a refusal into
    /// [`Error::Api`].
    async fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, Error> {
        let (status, _, body) = self.send(call).await?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|err| Error::Unexpected {
                status: status.as_u16(),
                detail: format!("the body does not fit its type: {err}"),
            });
        }
        Err(api_error(status, &body))
    }

    // ---- the key and the cluster ----

    /// `GET /me`: the key used, and what it may do now.
    pub async fn me(&self) -> Result<Me, Error> {
        self.call(Call::to(Endpoint::Me, &[])?).await
    }

    /// `GET /nodes`: every node (scope-all keys).
    pub async fn nodes(&self) -> Result<NodeList, Error> {
        self.call(Call::to(Endpoint::ListNodes, &[])?).await
    }

    /// `GET /docs`: the contract as a page for people (HTML).
    pub async fn docs(&self) -> Result<String, Error> {
        let (status, _, body) = self.send(Call::to(Endpoint::Docs, &[])?).await?;
        if !status.is_success() {
            return Err(api_error(status, &body));
        }
        String::from_utf8(body).map_err(|err| Error::Unexpected {
            status: status.as_u16(),
            detail: format!("the page is not UTF-8: {err}"),
        })
    }

    /// `GET /openapi.json`: the contract, as served.
    pub async fn openapi(&self) -> Result<serde_json::Value, Error> {
        self.call(Call::to(Endpoint::OpenApi, &[])?).await
    }

    // ---- hostings ----

    /// `GET /hostings`: one page, from `cursor` on (`None`: the first).
    pub async fn hostings_page(
        &self,
        filter: &HostingFilter,
        cursor: Option<&HostingId>,
    ) -> Result<HostingPage, Error> {
        let call = Call::to(Endpoint::ListHostings, &[])?
            .query("state", filter.state.as_ref())
            .query("node", filter.node.as_ref())
            .query("q", filter.q.as_ref())
            .query("owner", filter.owner.as_ref())
            .query("plan", filter.plan.as_ref())
            .queries("label", &filter.labels)
            .query("limit", filter.limit)
            .query("allow_partial", filter.complete_only.then_some(false))
            .query("cursor", cursor);
        self.call(call).await
    }

    /// Every page of `GET /hostings`, following `next_cursor`; each page
    /// says whether it is partial (a node did not answer).
    pub fn hosting_pages(
        &self,
        filter: HostingFilter,
    ) -> impl Stream<Item = Result<HostingPage, Error>> + '_ {
        stream::try_unfold(Some(None), move |next: Option<Option<HostingId>>| {
            let filter = filter.clone();
            async move {
                let Some(cursor) = next else {
                    return Ok(None);
                };
                let page = self.hostings_page(&filter, cursor.as_ref()).await?;
                let after = page.next_cursor.clone().map(Some);
                Ok(Some((page, after)))
            }
        })
    }

    /// Every hosting `GET /hostings` lists, page after page.
    pub fn hostings(
        &self,
        filter: HostingFilter,
    ) -> impl Stream<Item = Result<Hosting, Error>> + '_ {
        self.hosting_pages(filter)
            .map_ok(|page| stream::iter(page.items.into_iter().map(Ok)))
            .try_flatten()
    }

    /// `GET /hostings/{id}`: one hosting, by id, domain or alias.
    pub async fn hosting(&self, hosting: &str) -> Result<HostingDetail, Error> {
        self.call(Call::to(Endpoint::GetHosting, &[hosting])?).await
    }

    /// `POST /hostings/{id}/suspend`.
    pub async fn suspend(&self, hosting: &str) -> Result<StateChange, Error> {
        self.call(Call::to(Endpoint::SuspendHosting, &[hosting])?)
            .await
    }

    /// `POST /hostings/{id}/resume`.
    pub async fn resume(&self, hosting: &str) -> Result<StateChange, Error> {
        self.call(Call::to(Endpoint::ResumeHosting, &[hosting])?)
            .await
    }

    /// `DELETE /hostings/{id}`: starts the delete job.
    pub async fn delete_hosting(
        &self,
        hosting: &str,
        keep_user: bool,
        keep_database: bool,
    ) -> Result<JobAccepted, Error> {
        let call = Call::to(Endpoint::DeleteHosting, &[hosting])?
            .query("keep_user", keep_user.then_some(true))
            .query("keep_database", keep_database.then_some(true));
        self.call(call).await
    }

    /// `GET /hostings/{id}/backups`: newest first.
    pub async fn backups(&self, hosting: &str) -> Result<BackupList, Error> {
        self.call(Call::to(Endpoint::ListBackups, &[hosting])?)
            .await
    }

    /// `POST /hostings/{id}/backup`: starts a backup job (sent once, with a
    /// fresh `Idempotency-Key`, however often it is retried).
    pub async fn start_backup(&self, hosting: &str) -> Result<JobAccepted, Error> {
        self.call(Call::to(Endpoint::StartBackup, &[hosting])?)
            .await
    }

    /// `POST /hostings/{id}/cert`: starts a certificate job (`staging`: from
    /// the CA's test environment).
    pub async fn issue_certificate(
        &self,
        hosting: &str,
        staging: bool,
    ) -> Result<JobAccepted, Error> {
        let mut call = Call::to(Endpoint::IssueCertificate, &[hosting])?;
        call.body = Some(serde_json::json!({ "staging": staging }));
        self.call(call).await
    }

    /// `POST /certs/renew-all`: one job sweeping every node (scope-all keys).
    pub async fn renew_all_certificates(&self) -> Result<JobAccepted, Error> {
        self.call(Call::to(Endpoint::RenewAllCertificates, &[])?)
            .await
    }

    /// `POST /hostings`: creates a hosting (sent with a fresh
    /// `Idempotency-Key`, so that a retried create never makes two).
    pub async fn create_hosting(
        &self,
        request: &CreateHostingRequest,
    ) -> Result<HostingDetail, Error> {
        self.create_hosting_once(request, &fresh_idempotency_key())
            .await
    }

    /// [`Client::create_hosting`] with the caller's own `Idempotency-Key`
    /// (to retry a create across runs of a script, say).
    pub async fn create_hosting_once(
        &self,
        request: &CreateHostingRequest,
        idempotency_key: &str,
    ) -> Result<HostingDetail, Error> {
        let mut call = Call::to(Endpoint::CreateHosting, &[])?.body(request)?;
        call.idempotency_key = Some(idempotency_key.to_owned());
        self.call(call).await
    }

    /// `PATCH /hostings/{id}/limits` (scope-all keys): the limits now set.
    pub async fn set_limits(&self, hosting: &str, patch: &LimitsPatch) -> Result<Limits, Error> {
        self.patch(Endpoint::PatchLimits, hosting, patch).await
    }

    /// `PATCH /hostings/{id}/php`: the version now set.
    pub async fn set_php(&self, hosting: &str, patch: &PhpPatch) -> Result<PhpValue, Error> {
        self.patch(Endpoint::PatchPhp, hosting, patch).await
    }

    /// `PATCH /hostings/{id}/vhost`: the vhost options now set.
    pub async fn set_vhost(
        &self,
        hosting: &str,
        patch: &VhostPatch,
    ) -> Result<VhostOptions, Error> {
        self.patch(Endpoint::PatchVhost, hosting, patch).await
    }

    /// `PATCH /hostings/{id}/expiry` (scope-all keys): the expiry now set.
    pub async fn set_expiry(
        &self,
        hosting: &str,
        patch: &ExpiryPatch,
    ) -> Result<ExpiryValue, Error> {
        self.patch(Endpoint::PatchExpiry, hosting, patch).await
    }

    /// `PATCH /hostings/{id}/quota` (scope-all keys): the quota now set.
    pub async fn set_quota(&self, hosting: &str, patch: &QuotaPatch) -> Result<Quota, Error> {
        self.patch(Endpoint::PatchQuota, hosting, patch).await
    }

    /// `PATCH /hostings/{id}/owner` (scope-all keys): moves the hosting to
    /// another of the panel's customers, or to none.
    pub async fn set_owner(&self, hosting: &str, patch: &OwnerPatch) -> Result<OwnerValue, Error> {
        self.patch(Endpoint::PatchOwner, hosting, patch).await
    }

    /// `PATCH /hostings/{id}/plan` (scope-all keys): the plan now set.
    pub async fn set_plan(&self, hosting: &str, patch: &PlanPatch) -> Result<PlanValue, Error> {
        self.patch(Endpoint::PatchPlan, hosting, patch).await
    }

    /// `PATCH /hostings/{id}/labels` (scope-all keys): sets (a value) or
    /// removes (`None`) labels; answers every label now set.
    pub async fn set_labels(
        &self,
        hosting: &str,
        patch: &LabelsPatch,
    ) -> Result<LabelsValue, Error> {
        self.patch(Endpoint::PatchLabels, hosting, patch).await
    }

    async fn patch<T: DeserializeOwned>(
        &self,
        setting: Endpoint,
        hosting: &str,
        patch: &impl serde::Serialize,
    ) -> Result<T, Error> {
        self.call(Call::to(setting, &[hosting])?.body(patch)?).await
    }

    /// `POST /hostings/{id}/restore`: starts a restore job.
    pub async fn start_restore(
        &self,
        hosting: &str,
        request: &RestoreRequest,
    ) -> Result<JobAccepted, Error> {
        self.call(Call::to(Endpoint::StartRestore, &[hosting])?.body(request)?)
            .await
    }

    /// `POST /hostings/{id}/wp/install`: starts a WordPress install job (the
    /// password is sent once and never comes back).
    pub async fn install_wordpress(
        &self,
        hosting: &str,
        request: &WpInstallRequest,
    ) -> Result<JobAccepted, Error> {
        self.call(Call::to(Endpoint::InstallWordPress, &[hosting])?.body(request)?)
            .await
    }

    // ---- jobs ----

    /// `GET /jobs/{id}`.
    pub async fn job(&self, job_id: &str) -> Result<Job, Error> {
        self.call(Call::to(Endpoint::GetJob, &[job_id])?).await
    }

    /// Polls a job until it ends (succeeded or failed: read `state`), at
    /// most `timeout` ([`Error::JobTimeout`] then; the job goes on).
    /// `progress` hears each change of progress or step. Polls start every
    /// 200 ms and slow to one every 5 s on long jobs.
    pub async fn wait_job(
        &self,
        job_id: &str,
        timeout: Duration,
        mut progress: impl FnMut(&Job),
    ) -> Result<Job, Error> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(200);
        let mut last: Option<(u8, Option<String>)> = None;
        loop {
            let job = self.job(job_id).await?;
            let now = (job.progress, job.step.clone());
            if last.as_ref() != Some(&now) {
                progress(&job);
                last = Some(now);
            }
            if matches!(job.state, JobState::Succeeded | JobState::Failed) {
                return Ok(job);
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(Error::JobTimeout {
                    job_id: job_id.to_owned(),
                    waited,
                });
            }
            // The last poll falls on the timeout, not before it.
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = pause.mul_f64(1.5).min(Duration::from_secs(5));
        }
    }

    // ---- keys and audit ----

    /// `GET /keys`: one page of the keys the caller may manage.
    pub async fn keys_page(
        &self,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<KeyPage, Error> {
        let call = Call::to(Endpoint::ListKeys, &[])?
            .query("limit", limit)
            .query("cursor", cursor);
        self.call(call).await
    }

    /// Every page of `GET /keys`, following `next_cursor`.
    pub fn key_pages(&self, limit: Option<u32>) -> impl Stream<Item = Result<KeyPage, Error>> + '_ {
        stream::try_unfold(Some(None), move |next: Option<Option<String>>| async move {
            let Some(cursor) = next else {
                return Ok(None);
            };
            let page = self.keys_page(limit, cursor.as_deref()).await?;
            let after = page.next_cursor.as_ref().map(|id| Some(id.to_string()));
            Ok(Some((page, after)))
        })
    }

    /// `POST /keys`: mints a key no more powerful than the caller's; the
    /// answer holds the raw key, this once.
    pub async fn mint_key(&self, request: &MintRequest) -> Result<NewKeyAnswer, Error> {
        self.call(Call::to(Endpoint::MintKey, &[])?.body(request)?)
            .await
    }

    /// `GET /keys/{id}`: never the raw key.
    pub async fn key(&self, key_id: &str) -> Result<KeyView, Error> {
        self.call(Call::to(Endpoint::GetKey, &[key_id])?).await
    }

    /// `DELETE /keys/{id}`: revokes the key and every key it minted.
    pub async fn revoke_key(&self, key_id: &str) -> Result<KeyView, Error> {
        self.call(Call::to(Endpoint::RevokeKey, &[key_id])?).await
    }

    /// `GET /audit`: one page of the log, newest first.
    pub async fn audit_page(&self, filter: &AuditFilter) -> Result<AuditPage, Error> {
        let call = Call::to(Endpoint::ListAudit, &[])?
            .query("actor", filter.actor.as_ref())
            .query("key_id", filter.key_id.as_ref())
            .query("action", filter.action.as_ref())
            .query("target", filter.target.as_ref())
            .query("outcome", filter.outcome.as_ref())
            .query("limit", filter.limit)
            .query("cursor", filter.cursor.as_ref());
        self.call(call).await
    }

    /// Every page of `GET /audit` from `filter.cursor` on, newest first,
    /// following `next_cursor`.
    pub fn audit_pages(
        &self,
        filter: AuditFilter,
    ) -> impl Stream<Item = Result<AuditPage, Error>> + '_ {
        let first = Some(filter.cursor.clone());
        stream::try_unfold(first, move |next: Option<Option<String>>| {
            let mut filter = filter.clone();
            async move {
                let Some(cursor) = next else {
                    return Ok(None);
                };
                filter.cursor = cursor;
                let page = self.audit_page(&filter).await?;
                let after = page.next_cursor.clone().map(Some);
                Ok(Some((page, after)))
            }
        })
    }
}

/// How long a 429 asks to wait: its `Retry-After` in seconds (1 s if absent
/// or unreadable, which the API never sends).
fn retry_after(headers: &HeaderMap) -> Duration {
    let seconds = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(1);
    Duration::from_secs(seconds)
}

/// The API's refusal, from its envelope.
fn api_error(status: StatusCode, body: &[u8]) -> Error {
    match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(ErrorEnvelope { error }) => Error::Api {
            status: status.as_u16(),
            code: error.code,
            message: error.message,
            request_id: error.request_id,
        },
        Err(_) => Error::Unexpected {
            status: status.as_u16(),
            detail: format!(
                "not the error envelope: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        },
    }
}
