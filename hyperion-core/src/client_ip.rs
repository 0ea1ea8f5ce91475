//! The client's address: the socket peer, unless the peer is a trusted proxy.
//!
//! Forwarding headers are believed only when the peer is in the configured
//! list of trusted proxies. Then `Forwarded` (RFC 7239), or else
//! `X-Forwarded-For`, is walked from the right, skipping trusted hops: the
//! first untrusted address is the client. Entries to its left were written
//! by the client itself and are never believed, so prepending a fake address
//! changes nothing. With no trusted proxy configured, the headers are ignored.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

/// Whether `ip` (IPv4-mapped IPv6 treated as IPv4) is inside one of `nets`.
fn trusted(nets: &[IpNet], ip: IpAddr) -> bool {
    nets.iter().any(|net| net.contains(&canonical(ip)))
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as plain IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Parses one hop: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`,
/// possibly quoted. `None` for anything else (`unknown`, obfuscated names).
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let hop = raw.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    let inner = hop.strip_prefix('[')?.split(']').next()?;
    inner.parse().ok()
}

/// The `for=` hops of every `Forwarded` header, in order.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<String>> {
    let mut hops = Vec::new();
    let mut seen = false;
    for value in headers.get_all(http::header::FORWARDED) {
        seen = true;
        let text = value.to_str().ok()?;
        for element in text.split(',') {
            let hop = element.split(';').find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim().to_owned())
            });
            hops.push(hop.unwrap_or_default());
        }
    }
    seen.then_some(hops)
}

/// The hops of every `X-Forwarded-For` header, in order.
fn x_forwarded_for_hops(headers: &HeaderMap) -> Option<Vec<String>> {
    let mut hops = Vec::new();
    let mut seen = false;
    for value in headers.get_all("x-forwarded-for") {
        seen = true;
        hops.extend(
            value
                .to_str()
                .ok()?
                .split(',')
                .map(|hop| hop.trim().to_owned()),
        );
    }
    seen.then_some(hops)
}

/// The client address of a request from `peer` with `headers`, given the
/// trusted proxies. A malformed hop stops the walk at the proxy that wrote
/// it (fail closed: that proxy, not a claimed address, is the client).
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted_proxies: &[IpNet],
) -> Option<IpAddr> {
    let peer = canonical(peer?);
    if !trusted(trusted_proxies, peer) {
        return Some(peer);
    }
    let Some(hops) = forwarded_hops(headers).or_else(|| x_forwarded_for_hops(headers)) else {
        return Some(peer);
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return Some(client);
        };
        client = canonical(ip);
        if !trusted(trusted_proxies, client) {
            return Some(client);
        }
    }
    Some(client)
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

    #[test]
    fn understands_rfc7239() {
        let proxies = nets(&["10.0.0.0/8", "2001:db8::/32"]);
        let h = headers(&[(
            "forwarded",
            r#"for=192.0.2.1, for="[2001:db8:cafe::17]:4711";proto=https, For=10.1.1.1"#,
        )]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &proxies),
            Some(ip("192.0.2.1"))
        );
        let h = headers(&[("forwarded", r#"for="[2001:db9::1]:80""#)]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &proxies),
            Some(ip("2001:db9::1"))
        );
    }

    #[test]
    fn malformed_hops_fail_closed_and_mapped_addresses_are_ipv4() {
        let proxies = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "192.0.2.1, garbage")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &proxies),
            Some(ip("10.0.0.1"))
        );
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &proxies),
            Some(ip("10.0.0.1"))
        );
        let h = headers(&[("x-forwarded-for", "::ffff:198.51.100.7")]);
        assert_eq!(
            client_ip(Some(ip("::ffff:10.0.0.1")), &h, &proxies),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(client_ip(None, &h, &proxies), None);
    }
}
