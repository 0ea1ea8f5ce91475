use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, HeaderName, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::ratelimit::RateDecision;

/// A finished response: status, headers and the JSON body, already rendered.
/// Adapters copy it into their framework's response type unchanged.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// Headers, including `content-type`.
    pub headers: HeaderMap,
    /// The rendered JSON body.
    pub body: Bytes,
}

/// The wire shape of every error: `{"error":{"code","message","request_id"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorEnvelope {
    /// The error itself.
    pub error: ErrorBody,
}

/// The inside of an [`ErrorEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    /// Stable machine-readable code (`not_found`, `validation`, ...).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request id, also sent as `X-Request-Id`.
    pub request_id: String,
}

/// Starting size of a rendered JSON body, in bytes.
const INITIAL_BODY_CAPACITY: usize = 1024;

impl ApiResponse {
    /// A JSON response with `status` and `value` as its body.
    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Self {
        // Most bodies (one hosting, an error) fit; a page grows it a few times
        // instead of a dozen.
        let mut body = Vec::with_capacity(INITIAL_BODY_CAPACITY);
        match serde_json::to_writer(&mut body, value) {
            Ok(()) => Self::raw_json(status, body.into()),
            Err(err) => {
                tracing::error!(error = %err, "could not render a response body");
                let fallback =
                    br#"{"error":{"code":"internal","message":"internal error","request_id":""}}"#;
                Self::raw_json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Bytes::from_static(fallback),
                )
            }
        }
    }

    /// A JSON response whose body is already rendered.
    pub(crate) fn json_bytes(status: StatusCode, body: Bytes) -> Self {
        Self::raw_json(status, body)
    }

    /// A response whose body is already rendered, with its content type.
    pub fn rendered(status: StatusCode, content_type: &'static str, body: Bytes) -> Self {
        let mut response = Self::raw_json(status, body);
        response
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }

    fn raw_json(status: StatusCode, body: Bytes) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        ApiResponse {
            status,
            headers,
            body,
        }
    }

    /// The error envelope for `err`, with the headers its code calls for.
    pub fn error(err: &ApiError, request_id: &str) -> Self {
        if let ApiError::Internal { detail } = err {
            tracing::error!(request_id, detail, "internal error");
        }
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: err.code().to_owned(),
                message: err.to_string(),
                request_id: request_id.to_owned(),
            },
        };
        let mut response = Self::json(err.status(), &envelope);
        match err {
            ApiError::MethodNotAllowed { allow, .. } => {
                let allow = allow
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                response.set_header(http::header::ALLOW, &allow);
            }
            ApiError::RateLimited {
                retry_after_secs, ..
            }
            | ApiError::Overloaded { retry_after_secs } => {
                response.set_header(http::header::RETRY_AFTER, &retry_after_secs.to_string());
            }
            ApiError::Unauthorized(_) => {
                response.set_header(http::header::WWW_AUTHENTICATE, "Bearer");
            }
            _ => {}
        }
        response
    }

    /// Sets a header; a value that is not a valid header value is dropped and logged.
    pub fn set_header(&mut self, name: HeaderName, value: &str) {
        match HeaderValue::from_str(value) {
            Ok(value) => {
                self.headers.insert(name, value);
            }
            Err(_) => tracing::warn!(header = %name, "dropped an invalid header value"),
        }
    }

    /// The `RateLimit-*` headers of a limited key (the legacy trio and the
    /// IETF draft's `RateLimit-Policy` / `RateLimit` fields).
    pub fn set_rate_limit_headers(&mut self, rate: &RateDecision) {
        let (limit, remaining, reset) = (rate.limit, rate.remaining, rate.reset_secs);
        // Numbers become header values without a string or a validity check
        // in between: a limited key's every answer carries five of these.
        let headers = &mut self.headers;
        headers.insert(
            HeaderName::from_static("ratelimit-limit"),
            HeaderValue::from(limit),
        );
        headers.insert(
            HeaderName::from_static("ratelimit-remaining"),
            HeaderValue::from(remaining),
        );
        headers.insert(
            HeaderName::from_static("ratelimit-reset"),
            HeaderValue::from(reset),
        );
        self.set_header(
            HeaderName::from_static("ratelimit-policy"),
            &format!("\"per-key\";q={limit};w=60"),
        );
        self.set_header(
            HeaderName::from_static("ratelimit"),
            &format!("\"per-key\";r={remaining};t={reset}"),
        );
    }

    /// The response as an `http::Response`, for adapters.
    pub fn into_http(self) -> http::Response<Bytes> {
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}
