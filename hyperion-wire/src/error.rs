//! The one error shape of the API: `{"error":{"code","message","request_id"}}`,
//! with a closed list of codes, each answered with one HTTP status.

use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::model::wire_enum;

/// The machine-readable code of a refusal or failure. The list is closed:
/// a client can match on it exhaustively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 401: no usable key.
    Unauthorized,
    /// 403: the key may not do this, or not from this address.
    Forbidden,
    /// 404: no such route or resource, or one the key may not see.
    NotFound,
    /// 405: the path exists, not for this method.
    MethodNotAllowed,
    /// 400: a malformed body, parameter or value.
    Validation,
    /// 409: the request collides with the current state.
    Conflict,
    /// 413: the body is over the route's limit.
    PayloadTooLarge,
    /// 408: the body did not arrive in time.
    RequestTimeout,
    /// 429: the key is over its rate limit.
    RateLimited,
    /// 503: the server turns the request away for now; retry after `Retry-After`.
    Overloaded,
    /// 502: a node failed.
    Upstream,
    /// 504: a node did not answer in time.
    UpstreamTimeout,
    /// 500: a bug on the server.
    Internal,
}

wire_enum!(ErrorCode, "error code", {
    Unauthorized => "unauthorized",
    Forbidden => "forbidden",
    NotFound => "not_found",
    MethodNotAllowed => "method_not_allowed",
    Validation => "validation",
    Conflict => "conflict",
    PayloadTooLarge => "payload_too_large",
    RequestTimeout => "request_timeout",
    RateLimited => "rate_limited",
    Overloaded => "overloaded",
    Upstream => "upstream_error",
    UpstreamTimeout => "upstream_timeout",
    Internal => "internal",
});

impl ErrorCode {
    /// The HTTP status every answer with this code carries.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Validation => StatusCode::BAD_REQUEST,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Upstream => StatusCode::BAD_GATEWAY,
            ErrorCode::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error itself.
    pub error: ErrorBody,
}

/// The inside of an [`ErrorEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What kind of refusal or failure.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
    /// The server's id of the request, also sent as `X-Request-Id`.
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_itself() {
        for &code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        assert!(serde_json::from_str::<ErrorCode>("\"teapot\"").is_err());
    }
}
