use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};

use crate::error::ApiError;

/// Reads a request body into memory, refusing it with
/// [`ApiError::PayloadTooLarge`] as soon as it would pass `limit` bytes: the
/// rest is never read.
///
/// `declared_len` is the `Content-Length`, if the client sent one; a declared
/// length over the limit is refused before reading anything.
pub async fn read_limited<S, B, E>(
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

    #[tokio::test]
    async fn refuses_a_declared_length_over_the_limit_without_reading() {
        let never = futures::stream::pending::<Result<&'static [u8], String>>();
        let err = read_limited(never, 10, Some(11)).await.unwrap_err();
        assert_eq!(err, ApiError::PayloadTooLarge { limit: 10 });
    }
}
