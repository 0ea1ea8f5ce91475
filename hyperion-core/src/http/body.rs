use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::keys::KeyId;

/// The part of the budget one holder may take while it already reads
/// another body: a sixteenth.
const SHARE_DIVISOR: usize = 16;

/// The bytes of request bodies being read at once, across all requests: a
/// client cannot hold memory by starting bodies it never finishes. Each
/// body reserves its declared length (or its route's limit, when it
/// declares none) before its first byte is read, and gives it back when
/// read. No one holder, neither a family of keys (a key and every key its
/// minting chain's first key made) nor a client network (an address, an
/// IPv6 /64), takes more than a sixteenth of the budget: past its first
/// body, a holder's bodies must fit in its share, so one tenant stalling
/// many bodies leaves the rest of the budget to everyone else.
pub(crate) struct BodyBudget {
    kib: Arc<Semaphore>,
    /// The whole budget, in KiB: no body asks for more than all of it.
    total_kib: usize,
    /// What one holder may hold past its first body, in KiB.
    share_kib: usize,
    /// KiB held now, per holder.
    held: Arc<Mutex<HashMap<Holder, usize>>>,
}

/// Who a body's bytes are counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Holder {
    /// The first key of a minting chain, for every key below it.
    Family(KeyId),
    /// A client address (an IPv6 /64 as one), or the unknown ones together.
    Network(Option<IpAddr>),
}

/// Room for one body, given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    _permit: OwnedSemaphorePermit,
    kib: usize,
    holders: [Holder; 2],
    held: Arc<Mutex<HashMap<Holder, usize>>>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        for holder in &self.holders {
            if let Some(kib) = held.get_mut(holder) {
                *kib = kib.saturating_sub(self.kib);
                if *kib == 0 {
                    held.remove(holder);
                }
            }
        }
    }
}

impl BodyBudget {
    /// A budget of `bytes` (at least 1 KiB).
    pub(crate) fn new(bytes: usize) -> Self {
        let kib = bytes.div_ceil(1024).clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            kib: Arc::new(Semaphore::new(kib)),
            total_kib: kib,
            share_kib: (kib / SHARE_DIVISOR).max(1),
            held: Arc::default(),
        }
    }

    /// Reserves room for one body of `holders`, or refuses at once with
    /// 503: when the budget is spent, or when one of them already reads a
    /// body and this one would take it past its share.
    pub(crate) fn reserve(
        &self,
        declared_len: Option<u64>,
        limit: usize,
        holders: [Holder; 2],
    ) -> Result<Reservation, ApiError> {
        let busy = || ApiError::Overloaded {
            retry_after_secs: 1,
        };
        let bytes = declared_len.map_or(limit, |len| len.min(limit as u64) as usize);
        // A body limit above the whole budget still lets one body in at a time.
        let kib = bytes.div_ceil(1024).clamp(1, self.total_kib);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let over_share = holders.iter().any(|holder| {
            held.get(holder)
                .is_some_and(|now| now + kib > self.share_kib)
        });
        if over_share {
            return Err(busy());
        }
        let permit = Arc::clone(&self.kib)
            .try_acquire_many_owned(u32::try_from(kib).unwrap_or(u32::MAX))
            .map_err(|_| busy())?;
        for holder in &holders {
            *held.entry(holder.clone()).or_default() += kib;
        }
        drop(held);
        Ok(Reservation {
            _permit: permit,
            kib,
            holders,
            held: Arc::clone(&self.held),
        })
    }
}

/// [`read_limited`] within `deadline`: a body that has not arrived by then
/// is answered 408.
pub(crate) async fn read_within<S, B, E>(
    body: S,
    limit: usize,
    declared_len: Option<u64>,
    deadline: Duration,
) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    tokio::time::timeout(deadline, read_limited(body, limit, declared_len))
        .await
        .unwrap_or(Err(ApiError::RequestTimeout {
            secs: deadline.as_secs() + u64::from(deadline.subsec_nanos() > 0),
        }))
}

/// Reads a request body into memory, refusing it with
/// [`ApiError::PayloadTooLarge`] as soon as it would pass `limit` bytes: the
/// rest is never read.
///
/// `declared_len` is the `Content-Length`, if the client sent one; a declared
/// length over the limit is refused before reading anything.
pub(crate) async fn read_limited<S, B, E>(
    body: S,
    limit: usize,
    declared_len: Option<u64>,
) -> Result<Bytes, ApiError>
where
    S: Stream<Item = Result<B, E>>,
    B: Buf,
    E: std::fmt::Display,
{
    if declared_len.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = std::pin::pin!(body);
    let mut collected = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|err| {
            ApiError::Validation(format!("could not read the request body: {err}"))
        })?;
        if collected.len() + chunk.remaining() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            collected.extend_from_slice(part);
            let read = part.len();
            chunk.advance(read);
        }
    }
    Ok(collected.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Result<&'static [u8], String>> {
        futures::stream::iter(parts.iter().map(|p| Ok(*p)).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn collects_chunks_within_the_limit() {
        let body = read_limited(chunks(&[b"ab", b"cd"]), 4, None)
            .await
            .unwrap();
        assert_eq!(&body[..], b"abcd");
    }

    #[tokio::test]
    async fn stops_at_the_first_chunk_over_the_limit() {
        let endless = futures::stream::repeat_with(|| Ok::<_, String>(&b"xxxxxxxx"[..]));
        let err = read_limited(endless, 20, None).await.unwrap_err();
        assert_eq!(err, ApiError::PayloadTooLarge { limit: 20 });
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_arrive_in_time_is_408() {
        let stalled = futures::stream::pending::<Result<&'static [u8], String>>();
        let err = read_within(stalled, 10, Some(5), Duration::from_secs(60))
            .await
            .unwrap_err();
        assert_eq!(err, ApiError::RequestTimeout { secs: 60 });
        assert_eq!(err.status(), http::StatusCode::REQUEST_TIMEOUT);
    }

    fn holders(key: &str, ip: &str) -> [Holder; 2] {
        [
            Holder::Family(KeyId::parse(key).unwrap()),
            Holder::Network(ip.parse().ok()),
        ]
    }

    #[test]
    fn the_budget_refuses_past_its_bytes_and_recovers() {
        let budget = BodyBudget::new(100 * 1024);
        let first = budget
            .reserve(Some(60 * 1024), 64 * 1024, holders("key_a", "192.0.2.1"))
            .unwrap();
        let refused = budget
            .reserve(Some(60 * 1024), 64 * 1024, holders("key_b", "192.0.2.2"))
            .unwrap_err();
        assert_eq!(refused.code().as_str(), "overloaded");
        // Unknown lengths reserve the limit.
        assert!(
            budget
                .reserve(None, 64 * 1024, holders("key_b", "192.0.2.2"))
                .is_err()
        );
        assert!(
            budget
                .reserve(Some(10), 64 * 1024, holders("key_b", "192.0.2.2"))
                .is_ok()
        );
        drop(first);
        assert!(
            budget
                .reserve(Some(60 * 1024), 64 * 1024, holders("key_b", "192.0.2.2"))
                .is_ok()
        );
        // A budget below the body limit still admits one body at a time.
        let small = BodyBudget::new(10 * 1024);
        let one = small
            .reserve(None, 64 * 1024, holders("key_a", "192.0.2.1"))
            .unwrap();
        assert!(
            small
                .reserve(Some(1), 64 * 1024, holders("key_b", "192.0.2.2"))
                .is_err()
        );
        drop(one);
        assert!(
            small
                .reserve(None, 64 * 1024, holders("key_b", "192.0.2.2"))
                .is_ok()
        );
    }

    #[test]
    fn one_holder_takes_no_more_than_its_share() {
        let budget = BodyBudget::new(64 * 1024 * 1024);
        let body = 1024 * 1024;
        // One family of keys, from many addresses: four bodies of 1 MiB
        // fill its sixteenth.
        let mut kept: Vec<Reservation> = (0..4)
            .map(|n| {
                budget
                    .reserve(
                        Some(body as u64),
                        body,
                        holders("key_t", &format!("192.0.2.{n}")),
                    )
                    .unwrap()
            })
            .collect();
        let refused = budget.reserve(Some(body as u64), body, holders("key_t", "192.0.2.9"));
        assert_eq!(refused.err().map(|e| e.code().as_str()), Some("overloaded"));
        // One address, with many keys: the same.
        for n in 0..4 {
            kept.push(
                budget
                    .reserve(
                        Some(body as u64),
                        body,
                        holders(&format!("key_{n}"), "198.51.100.7"),
                    )
                    .unwrap(),
            );
        }
        assert!(
            budget
                .reserve(Some(body as u64), body, holders("key_x", "198.51.100.7"))
                .is_err()
        );
        // Everyone else is served.
        assert!(
            budget
                .reserve(Some(body as u64), body, holders("key_admin", "203.0.113.1"))
                .is_ok()
        );
        // Given back, the share is whole again.
        kept.clear();
        assert!(budget.held.lock().unwrap().is_empty());
        assert!(
            budget
                .reserve(Some(body as u64), body, holders("key_t", "192.0.2.9"))
                .is_ok()
        );
    }

    #[tokio::test]
    async fn refuses_a_declared_length_over_the_limit_without_reading() {
        let never = futures::stream::pending::<Result<&'static [u8], String>>();
        let err = read_limited(never, 10, Some(11)).await.unwrap_err();
        assert_eq!(err, ApiError::PayloadTooLarge { limit: 10 });
    }
}
