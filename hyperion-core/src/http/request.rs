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
        }
    }
}
