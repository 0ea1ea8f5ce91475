//! The `Idempotency-Key` wrapper around creating and job-starting endpoints
//! (the rules are in [`crate::idempotency`]).

use std::future::Future;
use std::sync::Arc;

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use super::RequestContext;
use crate::authz::{HostingRule, require_hosting_access};
use crate::error::ApiError;
use crate::http::ApiResponse;
use crate::http::routes::Endpoint;
use crate::idempotency::{
    Claim, IdempotencyScope, IdempotencyStore, MAX_IDEMPOTENCY_KEY_LEN, StoredResponse,
};
use crate::model::{HostingId, HostingSelector, OwnerId};

use hyperion_wire::headers::{IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER};

/// Headers of an answer worth keeping for a replay.
const KEPT_HEADERS: [HeaderName; 2] = [http::header::LOCATION, http::header::CONTENT_TYPE];

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let mut values = headers.get_all(&IDEMPOTENCY_KEY_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = || {
        ApiError::Validation(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters, given once"
        ))
    };
    if values.next().is_some() {
        return Err(bad());
    }
    let key = value.to_str().map_err(|_| bad())?;
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(bad());
    }
    Ok(Some(key.to_owned()))
}

/// Frees a claim if the endpoint never finished (a panic; a client that
/// hangs up does not stop it, see [`crate::HyperionApi::handle`]), so that
/// the key does not stay "in flight" for a day.
struct ClaimGuard {
    store: Option<Arc<dyn IdempotencyStore>>,
    scope: IdempotencyScope,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if let Some(store) = self.store.take() {
            let scope = self.scope.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(err) = store.release(&scope).await {
                        tracing::warn!(error = %err, "could not release an idempotency claim");
                    }
                });
            }
        }
    }
}

/// Runs `endpoint` at most once per (API key, `Idempotency-Key`), replaying
/// its first successful answer to retries.
pub(crate) async fn run_idempotent<F>(
    ctx: &RequestContext<'_>,
    headers: &HeaderMap,
    endpoint: F,
) -> Result<ApiResponse, ApiError>
where
    F: Future<Output = Result<ApiResponse, ApiError>>,
{
    let Some(key) = idempotency_key(headers)? else {
        return endpoint.await;
    };
    let scope = IdempotencyScope {
        api_key: ctx.principal.key_id().clone(),
        key,
    };
    let fingerprint: [u8; 32] = Sha256::new()
        .chain_update(ctx.route.spec.method.as_str())
        .chain_update([0])
        .chain_update(ctx.raw_path)
        .chain_update([0])
        .chain_update(&ctx.body)
        .finalize()
        .into();
    let store = &ctx.services.idempotency;
    match store.claim(&scope, fingerprint).await? {
        Claim::Fresh => {}
        Claim::Replay(stored) => {
            still_allowed(ctx).await?;
            still_there(ctx, &stored).await?;
            return Ok(replay(stored));
        }
        Claim::InFlight => {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed".to_owned(),
            ));
        }
        Claim::Mismatch => {
            return Err(ApiError::Conflict(
                "this Idempotency-Key was already used for a different request".to_owned(),
            ));
        }
    }
    let mut guard = ClaimGuard {
        store: Some(Arc::clone(store)),
        scope,
    };
    let answer = endpoint.await;
    let store = guard
        .store
        .take()
        .expect("the guard holds the store until here");
    match &answer {
        Ok(response) if response.status.is_success() => {
            let kept = StoredResponse {
                status: response.status.as_u16(),
                headers: KEPT_HEADERS
                    .iter()
                    .filter_map(|name| {
                        let value = response.headers.get(name)?.to_str().ok()?;
                        Some((name.as_str().to_owned(), value.to_owned()))
                    })
                    .collect(),
                body: response.body.clone(),
            };
            store.complete(&guard.scope, kept).await?;
        }
        _ => store.release(&guard.scope).await?,
    }
    answer
}

/// A replay is an answer to a request made now: the caller must still be
/// allowed to make it (the route's capability and scope were checked before
/// the body was read; this adds the hosting it names). A key that lost its
/// grant, or whose owner was demoted, is refused as a fresh request would be.
async fn still_allowed(ctx: &RequestContext<'_>) -> Result<(), ApiError> {
    let rule = ctx.route.spec.rule;
    if let (HostingRule::Access(access), Some(cap)) = (rule.hosting, rule.cap) {
        let selector = ctx.hosting_selector()?;
        require_hosting_access(
            &ctx.principal,
            &ctx.services.cluster,
            &selector,
            cap,
            access,
        )
        .await?;
    }
    Ok(())
}

/// A replayed create must not point at a hosting that is gone: a client
/// would take the 201 for a hosting it can use. Then the key is spent (409),
/// and a new one creates the hosting again. For a tenant, a hosting out of
/// its reach now (moved to another customer) is gone alike, in the same
/// words, so that a replay never tells a moved hosting from a deleted one.
async fn still_there(ctx: &RequestContext<'_>, stored: &StoredResponse) -> Result<(), ApiError> {
    if ctx.route.spec.endpoint != Endpoint::CreateHosting {
        return Ok(());
    }
    let created = serde_json::from_slice::<serde_json::Value>(&stored.body)
        .ok()
        .and_then(|body| {
            body["id"]
                .as_str()
                .and_then(|id| id.parse::<HostingId>().ok())
        });
    let Some(id) = created else {
        return Ok(());
    };
    let reach = ctx.principal.scope();
    let visible = |id: &HostingId, owner: Option<&OwnerId>| reach.level_on(id, owner).is_some();
    let gone = || {
        let since = if reach.is_all() {
            "which has been deleted since"
        } else {
            "which is out of this key's reach since (deleted, or moved to another customer)"
        };
        ApiError::Conflict(format!(
            "this Idempotency-Key created hosting `{id}`, {since}; send a new key to create it again"
        ))
    };
    let selector = HostingSelector::Id(id.clone());
    match ctx
        .services
        .cluster
        .locate_visible(&selector, &visible)
        .await
    {
        Ok(located)
            if visible(
                &located.hosting.summary.id,
                located.hosting.summary.owner.as_ref(),
            ) =>
        {
            Ok(())
        }
        Ok(_) | Err(ApiError::NotFound(_)) => Err(gone()),
        // A failing node tells a tenant nothing either.
        Err(_) if !reach.is_all() => Err(gone()),
        Err(err) => Err(err),
    }
}

fn replay(stored: StoredResponse) -> ApiResponse {
    let mut headers = HeaderMap::new();
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    headers.insert(IDEMPOTENT_REPLAYED_HEADER, HeaderValue::from_static("true"));
    ApiResponse {
        status: StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK),
        headers,
        body: stored.body,
    }
}
