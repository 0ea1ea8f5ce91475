//! The one error type of the API. Each variant knows its wire code and HTTP
//! status, so no adapter ever chooses a status code.

use http::{Method, StatusCode};

use hyperion_wire::ErrorCode;

use crate::model::InvalidValue;
use crate::node::NodeError;

/// Everything that can make a request fail, as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No key, a malformed header, an unknown, expired or revoked key, or an owner gone.
    #[error("{0}")]
    Unauthorized(String),
    /// The key lacks a capability, has only a view grant, or the client address is not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown route or resource, or a resource the key may not see.
    #[error("{0}")]
    NotFound(String),
    /// A hosting the key may not see. On the wire it is, word for word,
    /// [`ApiError::hosting_not_found`]; only the audit log tells them apart.
    #[error("hosting not found")]
    OutOfScope,
    /// The path exists but not for this method.
    #[error("method {method} is not allowed on this path (allowed: {})", allow_list(.allow))]
    MethodNotAllowed {
        /// The method the client used.
        method: Method,
        /// The methods the path accepts.
        allow: Vec<Method>,
    },
    /// A malformed body, parameter or value.
    #[error("{0}")]
    Validation(String),
    /// The request collides with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The body is over the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The key is over its rate limit.
    #[error(
        "rate limit of {limit_per_min} requests per minute exceeded; retry in {retry_after_secs} s"
    )]
    RateLimited {
        /// The key's limit.
        limit_per_min: u32,
        /// Whole seconds until a request would be accepted.
        retry_after_secs: u64,
    },
    /// The body did not arrive within its deadline.
    #[error("the request body did not arrive within {secs} s")]
    RequestTimeout {
        /// The deadline, in whole seconds (rounded up).
        secs: u64,
    },
    /// The server's budget for request bodies being read is spent.
    #[error(
        "the server is reading too many request bodies right now; retry in {retry_after_secs} s"
    )]
    Overloaded {
        /// Whole seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// The server's stores did not answer in time (a database out of
    /// reach): the request is turned away rather than decided on what the
    /// server last knew. On the wire, `overloaded` with `Retry-After`.
    #[error("the server cannot reach its stores right now; retry in {retry_after_secs} s")]
    StoresUnavailable {
        /// Whole seconds to wait before retrying.
        retry_after_secs: u64,
    },
    /// A node failed.
    #[error("{0}")]
    Upstream(String),
    /// A node did not answer within the deadline.
    #[error("{0}")]
    UpstreamTimeout(String),
    /// A bug. The detail goes to the log, never to the client.
    #[error("internal error")]
    Internal {
        /// What went wrong, for the log only.
        detail: String,
    },
}

fn allow_list(allow: &[Method]) -> String {
    allow
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

impl ApiError {
    /// The wire code.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::NotFound(_) | ApiError::OutOfScope => ErrorCode::NotFound,
            ApiError::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            ApiError::Validation(_) => ErrorCode::Validation,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::RequestTimeout { .. } => ErrorCode::RequestTimeout,
            ApiError::Overloaded { .. } | ApiError::StoresUnavailable { .. } => {
                ErrorCode::Overloaded
            }
            ApiError::Upstream(_) => ErrorCode::Upstream,
            ApiError::UpstreamTimeout(_) => ErrorCode::UpstreamTimeout,
            ApiError::Internal { .. } => ErrorCode::Internal,
        }
    }

    /// The HTTP status: the one its code is always answered with.
    pub fn status(&self) -> StatusCode {
        self.code().status()
    }

    /// The answer for a hosting that does not exist *or* that the key may not
    /// see: one constructor, so the two can never be told apart.
    pub fn hosting_not_found() -> Self {
        // Keep in step with the message of `OutOfScope`.
        ApiError::NotFound("hosting not found".to_owned())
    }

    /// Whether this is a refusal (401, 403, 404 by scope, 429), which the
    /// audit log records as `denied`.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ApiError::Unauthorized(_)
                | ApiError::Forbidden(_)
                | ApiError::OutOfScope
                | ApiError::RateLimited { .. }
        )
    }

    /// A bug, with its detail kept for the log.
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::Internal {
            detail: detail.into(),
        }
    }
}

impl From<InvalidValue> for ApiError {
    fn from(err: InvalidValue) -> Self {
        ApiError::Validation(err.0)
    }
}

impl From<NodeError> for ApiError {
    fn from(err: NodeError) -> Self {
        match err {
            NodeError::NotFound => ApiError::hosting_not_found(),
            NodeError::Conflict(msg) => ApiError::Conflict(msg),
            NodeError::Validation(msg) => ApiError::Validation(msg),
            NodeError::Timeout { node } => {
                ApiError::UpstreamTimeout(format!("node {node} did not answer in time"))
            }
            NodeError::Unavailable { node, reason } => {
                ApiError::Upstream(format!("node {node} is unavailable: {reason}"))
            }
            NodeError::Unsupported(what) => {
                ApiError::Upstream(format!("the node does not support {what}"))
            }
            NodeError::Other(msg) => ApiError::Upstream(format!("node error: {msg}")),
        }
    }
}

/// A storage failure reaches the client as `internal`; its message stays in
/// the server's logs.
impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        ApiError::internal(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_for_the_contract() {
        let every = [
            ApiError::Unauthorized(String::new()),
            ApiError::Forbidden(String::new()),
            ApiError::NotFound(String::new()),
            ApiError::OutOfScope,
            ApiError::MethodNotAllowed {
                method: Method::GET,
                allow: Vec::new(),
            },
            ApiError::Validation(String::new()),
            ApiError::Conflict(String::new()),
            ApiError::PayloadTooLarge { limit: 1 },
            ApiError::RequestTimeout { secs: 1 },
            ApiError::RateLimited {
                limit_per_min: 1,
                retry_after_secs: 1,
            },
            ApiError::Overloaded {
                retry_after_secs: 1,
            },
            ApiError::StoresUnavailable {
                retry_after_secs: 1,
            },
            ApiError::Upstream(String::new()),
            ApiError::UpstreamTimeout(String::new()),
            ApiError::internal(""),
        ];
        let used: std::collections::HashSet<_> = every.iter().map(ApiError::code).collect();
        assert_eq!(
            used.len(),
            ErrorCode::ALL.len(),
            "a code no error answers with"
        );
    }

    #[test]
    fn unreachable_stores_are_a_503_with_a_wait() {
        let err = ApiError::StoresUnavailable {
            retry_after_secs: 2,
        };
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.code().as_str(), "overloaded");
        let answer = crate::http::ApiResponse::error(&err, "req_x");
        assert_eq!(answer.headers[http::header::RETRY_AFTER], "2");
    }

    #[test]
    fn internal_never_shows_its_detail() {
        let err = ApiError::internal("db password is hunter2");
        assert_eq!(err.to_string(), "internal error");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn method_not_allowed_lists_methods() {
        let err = ApiError::MethodNotAllowed {
            method: Method::PUT,
            allow: vec![Method::GET, Method::DELETE],
        };
        assert_eq!(err.code().as_str(), "method_not_allowed");
        assert!(err.to_string().contains("GET, DELETE"));
    }
}
