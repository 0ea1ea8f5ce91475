//! Request ids: every request gets a fresh one of the server's own, which
//! the response, the logs and the audit log carry. A client's own
//! `X-Request-Id`, when sane, is kept beside it (`X-Client-Request-Id` in the
//! response, `client_request_id` in the audit), never in its place: a client
//! must not be able to give a forged event the id of a real request.
//!
//! A request id correlates a response, the logs and the audit log; it is not
//! a secret. So a fresh one is a process-wide random part, drawn once from
//! the OS, and a counter: unique within the process, unique across restarts
//! with overwhelming probability (59 random bits), and free of a system call
//! per request (the OS generator was a measurable share of a request's cost).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::HeaderMap;

use crate::random;

use hyperion_wire::headers::REQUEST_ID_HEADER;

/// Longest client-chosen request id that is kept.
pub(crate) const MAX_CLIENT_REQUEST_ID_LEN: usize = 128;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Random part of every id this process generates.
static PROCESS_PART: LazyLock<String> = LazyLock::new(|| random::base62(10));

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The client's `X-Request-Id` when it is 1..=128 of `[A-Za-z0-9._-]`.
pub(crate) fn client_request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_acceptable(id))
        .map(str::to_owned)
}

fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CLIENT_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A fresh id of the server's: `req_`, the process part, then the counter in
/// 10 base62 digits (62^10 > 2^59: it does not wrap within any process's life).
pub(crate) fn fresh() -> String {
    let mut n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut digits = [b'0'; 10];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let mut id = String::with_capacity(24);
    id.push_str("req_");
    id.push_str(&PROCESS_PART);
    id.extend(digits.iter().map(|&b| char::from(b)));
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::collections::HashSet;

    #[test]
    fn fresh_ids_are_distinct_and_well_formed() {
        let ids: HashSet<String> = (0..10_000).map(|_| fresh()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            let rest = id.strip_prefix("req_").expect("prefixed");
            assert_eq!(rest.len(), 20, "{id}");
            assert!(random::is_base62(rest), "{id}");
        }
    }

    #[test]
    fn keeps_a_sane_client_id_and_drops_any_other() {
        let mut headers = HeaderMap::new();
        headers.insert(&REQUEST_ID_HEADER, HeaderValue::from_static("trace-1.a_B"));
        assert_eq!(client_request_id(&headers).as_deref(), Some("trace-1.a_B"));
        for bad in ["", "has space", "semi;colon", &"x".repeat(129)] {
            headers.insert(&REQUEST_ID_HEADER, HeaderValue::from_str(bad).unwrap());
            assert_eq!(client_request_id(&headers), None, "{bad:?}");
        }
        headers.insert(
            &REQUEST_ID_HEADER,
            HeaderValue::from_str(&"x".repeat(128)).unwrap(),
        );
        assert_eq!(client_request_id(&headers), Some("x".repeat(128)));
    }
}
