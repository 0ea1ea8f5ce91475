use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, HeaderName, StatusCode};
use hyperion_wire::{ErrorBody, ErrorEnvelope};
use serde::Serialize;

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

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A piece of a rate-limit header value.
enum Part<'a> {
    Text(&'a str),
    Number(u64),
}

/// Appends `number` in decimal.
fn push_decimal(buffer: &mut bytes::BytesMut, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    buffer.extend_from_slice(&digits[at..]);
}

/// Headers an answer has room for from the start.
const RESPONSE_HEADERS: usize = 10;

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
        // Room for what any answer carries (type, cache, request ids, the
        // five rate-limit headers) without growing the map on the way.
        let mut headers = HeaderMap::with_capacity(RESPONSE_HEADERS);
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
                code: err.code(),
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
            | ApiError::Overloaded { retry_after_secs }
            | ApiError::StoresUnavailable { retry_after_secs } => {
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
        let (limit, remaining, reset) = (
            u64::from(rate.limit),
            u64::from(rate.remaining),
            rate.reset_secs,
        );
        // A limited key's every answer carries these five: they are written
        // into one buffer without the formatting machinery, and each value
        // shares it (one allocation); the names are built at compile time.
        let mut buffer = bytes::BytesMut::with_capacity(96);
        let mut value = |parts: &[Part<'_>]| {
            for part in parts {
                match part {
                    Part::Text(text) => buffer.extend_from_slice(text.as_bytes()),
                    Part::Number(number) => push_decimal(&mut buffer, *number),
                }
            }
            HeaderValue::from_maybe_shared(buffer.split().freeze())
        };
        use Part::{Number, Text};
        let values = [
            (RATELIMIT_LIMIT, value(&[Number(limit)])),
            (RATELIMIT_REMAINING, value(&[Number(remaining)])),
            (RATELIMIT_RESET, value(&[Number(reset)])),
            (
                RATELIMIT_POLICY,
                value(&[Text("\"per-key\";q="), Number(limit), Text(";w=60")]),
            ),
            (
                RATELIMIT,
                value(&[
                    Text("\"per-key\";r="),
                    Number(remaining),
                    Text(";t="),
                    Number(reset),
                ]),
            ),
        ];
        for (name, value) in values {
            // Digits, quotes and `;=`: always a valid header value.
            if let Ok(value) = value {
                self.headers.insert(name, value);
            }
        }
    }

    /// The response as an `http::Response`, for adapters.
    pub fn into_http(self) -> http::Response<Bytes> {
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(response: &'a ApiResponse, name: &str) -> &'a str {
        response.headers[name].to_str().unwrap()
    }

    #[test]
    fn rate_limit_headers_say_the_decision() {
        let mut response = ApiResponse::json_bytes(StatusCode::OK, Bytes::new());
        response.set_rate_limit_headers(&RateDecision {
            allowed: true,
            limit: 4_294_967_295,
            remaining: 0,
            reset_secs: 10,
            retry_after_secs: 0,
        });
        assert_eq!(header(&response, "ratelimit-limit"), "4294967295");
        assert_eq!(header(&response, "ratelimit-remaining"), "0");
        assert_eq!(header(&response, "ratelimit-reset"), "10");
        assert_eq!(
            header(&response, "ratelimit-policy"),
            r#""per-key";q=4294967295;w=60"#
        );
        assert_eq!(header(&response, "ratelimit"), r#""per-key";r=0;t=10"#);
    }

    #[test]
    fn decimals_are_written_whole() {
        for number in [0, 7, 10, 99, 100, 12_345, u64::MAX] {
            let mut buffer = bytes::BytesMut::new();
            push_decimal(&mut buffer, number);
            assert_eq!(&buffer[..], number.to_string().as_bytes());
        }
    }
}
