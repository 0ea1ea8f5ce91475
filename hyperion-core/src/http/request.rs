use std::borrow::Cow;
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

    /// [`RequestHead::prefix`] as links may carry it: one leading slash,
    /// no empty segment, no trailing slash. A prefix read from a request
    /// such as `//evil.example/api/v1` must never become a link that
    /// leaves the server (`//evil.example/...` is another host to a client).
    pub(crate) fn link_prefix(&self) -> Cow<'_, str> {
        let prefix = self.prefix.as_str();
        let clean = prefix.is_empty()
            || (prefix.starts_with('/') && !prefix.contains("//") && !prefix.ends_with('/'));
        if clean {
            return Cow::Borrowed(prefix);
        }
        let segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
        if segments.is_empty() {
            Cow::Borrowed("")
        } else {
            Cow::Owned(format!("/{}", segments.join("/")))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixed(prefix: &str) -> String {
        let uri: http::Uri = "/api/v1/me".parse().unwrap();
        RequestHead::new(http::Method::GET, &uri, HeaderMap::new(), None)
            .with_prefix(prefix)
            .link_prefix()
            .into_owned()
    }

    #[test]
    fn link_prefixes_never_leave_the_server() {
        assert_eq!(prefixed(""), "");
        assert_eq!(prefixed("/panel"), "/panel");
        assert_eq!(prefixed("/panel/hyp"), "/panel/hyp");
        assert_eq!(prefixed("//evil.example"), "/evil.example");
        assert_eq!(prefixed("/panel//hyp/"), "/panel/hyp");
        assert_eq!(prefixed("panel"), "/panel");
        assert_eq!(prefixed("//"), "");
    }
}
