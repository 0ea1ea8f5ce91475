//! RFC 3339 timestamps on the wire, for `#[serde(with = ...)]`.
//!
//! Reading is `time`'s. Writing takes a short path for the common case, a
//! UTC time in whole seconds (every simulated hosting's `created_at`): it
//! spells the 20 bytes out directly instead of going through `time`'s
//! general formatter and a `String`, which was a visible share of rendering
//! a page of hostings. Any other time is written by `time`, so the output is
//! the same bytes either way (a test compares them).

use serde::{Deserializer, Serializer};
use time::{OffsetDateTime, UtcOffset};

/// Writes `at` as RFC 3339.
pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    match whole_second_utc(at) {
        Some(bytes) => {
            // Only ASCII digits and separators were written.
            let text = std::str::from_utf8(&bytes).map_err(serde::ser::Error::custom)?;
            serializer.serialize_str(text)
        }
        None => time::serde::rfc3339::serialize(at, serializer),
    }
}

/// Reads an RFC 3339 timestamp.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    time::serde::rfc3339::deserialize(deserializer)
}

/// `YYYY-MM-DDTHH:MM:SSZ` when `at` is UTC, in whole seconds, in years 0..=9999.
fn whole_second_utc(at: &OffsetDateTime) -> Option<[u8; 20]> {
    if at.offset() != UtcOffset::UTC || at.nanosecond() != 0 || !(0..=9999).contains(&at.year()) {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00Z";
    let year = at.year() as u32; // 0..=9999, checked above
    put_digits(&mut out[0..4], year);
    put_digits(&mut out[5..7], u32::from(u8::from(at.month())));
    put_digits(&mut out[8..10], u32::from(at.day()));
    put_digits(&mut out[11..13], u32::from(at.hour()));
    put_digits(&mut out[14..16], u32::from(at.minute()));
    put_digits(&mut out[17..19], u32::from(at.second()));
    Some(out)
}

/// Writes `value` in decimal into `slot`, zero-padded to its width.
fn put_digits(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The same for `Option<OffsetDateTime>`: `null` when absent.
pub mod option {
    use super::*;

    /// Writes `at` as RFC 3339, or `null`.
    pub fn serialize<S: Serializer>(
        at: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::serialize(at, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads an RFC 3339 timestamp or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        time::serde::rfc3339::option::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;
    use time::macros::datetime;

    fn ours(at: OffsetDateTime) -> String {
        serialize(&at, serde_json::value::Serializer)
            .map(|value| value.as_str().expect("a string").to_owned())
            .expect("serializable")
    }

    #[test]
    fn writes_the_same_bytes_as_time() {
        for at in [
            datetime!(2026-01-02 02:00:00 UTC),
            datetime!(0001-01-01 00:00:00 UTC),
            datetime!(9999-12-31 23:59:59 UTC),
            datetime!(2026-11-26 21:06:27.123 UTC),
            datetime!(2026-11-26 21:06:27.000_000_001 UTC),
            datetime!(2026-11-26 21:06:27 +02:00),
            datetime!(2026-11-26 21:06:27 -00:30),
        ] {
            assert_eq!(ours(at), at.format(&Rfc3339).unwrap(), "{at}");
        }
        // Times spread over a leap year, 367 s apart.
        let start = datetime!(2024-01-01 00:00:00 UTC);
        for step in 0..86_400i64 {
            let at = start + time::Duration::seconds(step * 367);
            assert_eq!(ours(at), at.format(&Rfc3339).unwrap(), "{at}");
        }
    }

    #[test]
    fn reads_what_it_writes() {
        let at = datetime!(2026-01-02 02:00:00 UTC);
        let text = serde_json::to_string(&Wrapper(at)).unwrap();
        let back: Wrapper = serde_json::from_str(&text).unwrap();
        assert_eq!(back.0, at);
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Wrapper(#[serde(with = "super")] OffsetDateTime);
}
