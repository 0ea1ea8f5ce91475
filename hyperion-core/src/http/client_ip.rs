//! The client's address: the socket peer, unless the peer is a trusted proxy.
//!
//! Forwarding headers are believed only when the peer is in the configured
//! list of trusted proxies, and then only the one header the operator named
//! ([`ForwardedHeader`]: `X-Forwarded-For` or `Forwarded`, never "whichever
//! is present", since a proxy passes the other one through from the client).
//! Its hops are walked from the right, skipping trusted hops: the first
//! untrusted address is the client. Entries to its left were written by the
//! client itself and are never believed, so prepending a fake address
//! changes nothing. A hop that cannot be read (`unknown`, an obfuscated
//! name, garbage, a non-ASCII byte) makes the client unknown: never the
//! proxy, whose address an allowlist may well cover.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

/// Which header the trusted proxies write the client's address into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, ...` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// Who sent a request, as far as can be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientAddress {
    /// The client's address; `None` when it cannot be determined.
    pub ip: Option<IpAddr>,
    /// Why it could not be, for the audit of a refusal.
    pub why_unknown: Option<&'static str>,
}

impl ClientAddress {
    fn known(ip: IpAddr) -> Self {
        ClientAddress {
            ip: Some(ip),
            why_unknown: None,
        }
    }

    fn unknown(why: &'static str) -> Self {
        ClientAddress {
            ip: None,
            why_unknown: Some(why),
        }
    }
}

/// Whether `ip` (IPv4-mapped IPv6 treated as IPv4) is inside one of `nets`.
fn trusted(nets: &[IpNet], ip: IpAddr) -> bool {
    nets.iter().any(|net| net.contains(&canonical(ip)))
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as plain IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The network one client stands for, when counting per client: an IPv4
/// address itself, an IPv6 address's /64 (one host is given a whole /64).
pub(crate) fn network_of(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from_bits(
            v6.to_bits() & !u128::from(u64::MAX),
        )),
        v4 => v4,
    }
}

/// Parses one hop: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`,
/// possibly quoted. `None` for anything else (`unknown`, obfuscated names).
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let hop = raw.trim();
    let hop = hop
        .strip_prefix('"')
        .and_then(|h| h.strip_suffix('"'))
        .unwrap_or(hop);
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    let inner = hop.strip_prefix('[')?.split(']').next()?;
    inner.parse().ok()
}

/// Splits `text` at every `separator` outside a quoted string (RFC 7230
/// quoted-string, with backslash escapes).
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Every hop of the configured header, in order: `None` when the header is
/// absent, `Err` when one of its values cannot be read as text.
fn hops(headers: &HeaderMap, header: ForwardedHeader) -> Option<Result<Vec<String>, ()>> {
    let name = match header {
        ForwardedHeader::XForwardedFor => http::HeaderName::from_static("x-forwarded-for"),
        ForwardedHeader::Forwarded => http::header::FORWARDED,
    };
    let mut values = headers.get_all(&name).iter().peekable();
    values.peek()?;
    let mut hops = Vec::new();
    for value in values {
        let Ok(text) = value.to_str() else {
            return Some(Err(()));
        };
        for element in split_unquoted(text, ',') {
            let hop = match header {
                ForwardedHeader::XForwardedFor => Some(element.trim().to_owned()),
                ForwardedHeader::Forwarded => {
                    let fors: Vec<String> = split_unquoted(element, ';')
                        .into_iter()
                        .filter_map(|pair| {
                            let (name, value) = pair.split_once('=')?;
                            name.trim()
                                .eq_ignore_ascii_case("for")
                                .then(|| value.trim().to_owned())
                        })
                        .collect();
                    // A parameter given twice in one element is malformed
                    // (RFC 7239): unreadable, so the client is unknown.
                    match <[String; 1]>::try_from(fors) {
                        Ok([hop]) => Some(hop),
                        Err(_) => None,
                    }
                }
            };
            hops.push(hop.unwrap_or_default());
        }
    }
    Some(Ok(hops))
}

/// The client address of a request from `peer` with `headers`, given the
/// trusted proxies and the header they write.
pub(crate) fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[IpNet],
    header: ForwardedHeader,
) -> ClientAddress {
    let Some(peer) = peer.map(canonical) else {
        return ClientAddress::unknown("the connection has no peer address");
    };
    if !trusted(trusted_proxies, peer) {
        return ClientAddress::known(peer);
    }
    let hops = match hops(headers, header) {
        // The trusted proxy itself, talking to us directly.
        None => return ClientAddress::known(peer),
        Some(Err(())) => {
            return ClientAddress::unknown("a forwarding header holds bytes that are not text");
        }
        Some(Ok(hops)) => hops,
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return ClientAddress::unknown("a forwarding hop is not an IP address");
        };
        client = canonical(ip);
        if !trusted(trusted_proxies, client) {
            return ClientAddress::known(client);
        }
    }
    ClientAddress::known(client)
}

/// [`client_address`] with `X-Forwarded-For`, as an address alone.
#[cfg(test)]
fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[IpNet],
) -> Option<IpAddr> {
    client_address(
        peer,
        headers,
        trusted_proxies,
        ForwardedHeader::XForwardedFor,
    )
    .ip
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn headers_are_ignored_without_trusted_proxies() {
        let h = headers(&[
            ("x-forwarded-for", "10.9.9.9"),
            ("forwarded", "for=10.9.9.9"),
        ]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.5")), &h, &[]),
            Some(ip("203.0.113.5"))
        );
        let proxies = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.5")), &h, &proxies),
            Some(ip("203.0.113.5"))
        );
    }

    #[test]
    fn walks_from_the_right_skipping_trusted_hops() {
        let proxies = nets(&["10.0.0.0/8"]);
        // The client prepended a fake 192.0.2.1; the proxies appended the real hops.
        let h = headers(&[("x-forwarded-for", "192.0.2.1, 198.51.100.7, 10.0.0.2")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &proxies),
            Some(ip("198.51.100.7"))
        );
        let split = headers(&[
            ("x-forwarded-for", "192.0.2.1"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &split, &proxies),
            Some(ip("198.51.100.7"))
        );
    }

    fn rfc7239(peer: &str, h: &HeaderMap, proxies: &[IpNet]) -> Option<IpAddr> {
        client_address(Some(ip(peer)), h, proxies, ForwardedHeader::Forwarded).ip
    }

    #[test]
    fn understands_rfc7239() {
        let proxies = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        let h = headers(&[(
            "forwarded",
            r#"for=192.0.2.1, for="[2001:db8:cafe::17]:4711";proto=https, For=10.1.1.1"#,
        )]);
        assert_eq!(rfc7239("10.0.0.1", &h, &proxies), Some(ip("192.0.2.1")));
        let h = headers(&[("forwarded", r#"for="[2001:db9::1]:80""#)]);
        assert_eq!(rfc7239("10.0.0.1", &h, &proxies), Some(ip("2001:db9::1")));
    }

    #[test]
    fn quoted_strings_do_not_split_elements() {
        let proxies = nets(&["10.0.0.0/8"]);
        // A `,` or `;` inside quotes belongs to the value: the last element is
        // one hop written by the proxy, not two.
        let h = headers(&[(
            "forwarded",
            r#"for=192.0.2.1, for=198.51.100.7;by="a,b;for=10.0.0.9""#,
        )]);
        assert_eq!(rfc7239("10.0.0.1", &h, &proxies), Some(ip("198.51.100.7")));
        let h = headers(&[("forwarded", r#"for=198.51.100.7;host="x\",for=10.0.0.9""#)]);
        assert_eq!(rfc7239("10.0.0.1", &h, &proxies), Some(ip("198.51.100.7")));
        assert_eq!(split_unquoted(r#"a="x,y",b"#, ','), [r#"a="x,y""#, "b"]);
        // `for` twice in one element is malformed: the client is unknown.
        let h = headers(&[("forwarded", "for=10.1.1.1;for=203.0.113.5")]);
        assert_eq!(rfc7239("10.0.0.1", &h, &proxies), None);
    }

    #[test]
    fn only_the_configured_header_is_believed() {
        let proxies = nets(&["10.0.0.0/8"]);
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=192.0.2.44"),
        ]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &proxies),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(rfc7239("10.0.0.1", &h, &proxies), Some(ip("192.0.2.44")));
        // The header the operator did not name is ignored even alone.
        let only_forwarded = headers(&[("forwarded", "for=192.0.2.44")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &only_forwarded, &proxies),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn malformed_hops_make_the_client_unknown_never_the_proxy() {
        let proxies = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "192.0.2.1, garbage")]);
        let unknown = client_address(
            Some(ip("10.0.0.1")),
            &h,
            &proxies,
            ForwardedHeader::XForwardedFor,
        );
        assert_eq!(unknown.ip, None);
        assert!(unknown.why_unknown.is_some());
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(rfc7239("10.0.0.1", &h, &proxies), None);
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            http::HeaderValue::from_bytes(b"192.0.2.1, 198.51.100.\xe2\x98\x83").unwrap(),
        );
        assert_eq!(client_ip(Some(ip("10.0.0.1")), &h, &proxies), None);
        let h = headers(&[("x-forwarded-for", "::ffff:198.51.100.7")]);
        assert_eq!(
            client_ip(Some(ip("::ffff:10.0.0.1")), &h, &proxies),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(client_ip(None, &h, &proxies), None);
        // An untrusted peer is the client whatever it sends.
        let h = headers(&[("x-forwarded-for", "garbage")]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.5")), &h, &proxies),
            Some(ip("203.0.113.5"))
        );
    }
}
