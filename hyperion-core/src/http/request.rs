use std::net::SocketAddr;

use http::{HeaderMap, Method};

/// Everything about a request except its body, as an adapter received it.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The HTTP method.
    pub method: Method,
    /// The path as sent, still percent-encoded (e.g. `/api/v1/hostings/h1`).
    pub path: String,
    /// The raw query string without `?`, if any.
    pub query: Option<String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The socket peer, when the framework knows it.
    pub peer: Option<SocketAddr>,
    /// Where the app mounted `/api/v1`, when it nested the API under a
    /// path (e.g. `/panel`); empty at the root. `path` starts at `/api/v1`
    /// either way; every link the API answers (`Location` headers, the
    /// OpenAPI server URL) starts with this prefix.
    pub prefix: String,
}

impl RequestHead {
    /// Builds a head from an `http::request::Parts`-like set of values.
    pub fn new(
        method: Method,
        uri: &http::Uri,
        headers: HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Self {
        RequestHead {
            method,
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers,
            peer,
            prefix: String::new(),
        }
    }

    /// The same head, for an API mounted under `prefix` (see
    /// [`RequestHead::prefix`]): an adapter whose framework strips the
    /// prefix from the path it hands over gives it back here.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}
