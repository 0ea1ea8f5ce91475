//! Where a tenant may point a reverse proxy. A node proxies to the upstream
//! from inside the operator's network, so an upstream on loopback, a
//! link-local address (cloud metadata at 169.254.169.254), a private range
//! or an unspecified address would let a tenant reach what only the
//! operator should. Such upstreams are refused for grants-scoped keys unless
//! the operator allows their network in
//! [`ApiConfig::tenant_upstream_allowed`](crate::ApiConfig).
//!
//! Names are resolved here, and every address they resolve to must be
//! allowed. (A name that later resolves elsewhere is the node's to refuse:
//! this check cannot see the future of DNS.)

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;

use crate::error::ApiError;

/// How long resolving an upstream's name may take.
const RESOLVE_DEADLINE: Duration = Duration::from_secs(3);

/// Whether `ip` is an address a tenant's upstream must not reach: loopback,
/// link-local, private (RFC 1918, shared CGNAT space, IPv6 unique-local),
/// unspecified, broadcast or multicast; IPv4-mapped IPv6 is judged as IPv4.
pub(crate) fn is_internal_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        // "this network" 0.0.0.0/8, reserved 240.0.0.0/4, the shared address
        // space 100.64.0.0/10, benchmarking 198.18.0.0/15, IETF 192.0.0.0/24.
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && c == 0)
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
    };
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // unique-local fc00::/7, link-local fe80::/10, site-local fec0::/10
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        // discard-only 100::/64 and local-use NAT64 64:ff9b:1::/48
        || s[..4] == [0x100, 0, 0, 0]
        || s[..3] == [0x64, 0xff9b, 1]
        // Forms that carry an IPv4 address a gateway may unwrap: IPv4-compatible
        // ::a.b.c.d, SIIT ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:a.b.c.d::.
        || (s[..6] == [0; 6] && is_internal_v4(embedded_v4(s[6], s[7])))
        || (s[..6] == [0, 0, 0, 0, 0xffff, 0] && is_internal_v4(embedded_v4(s[6], s[7])))
        || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && is_internal_v4(embedded_v4(s[6], s[7])))
        || (s[0] == 0x2002 && is_internal_v4(embedded_v4(s[1], s[2])))
}

/// Checks the upstream URL a grants-scoped key asks for: every address its
/// host stands for must be outside the internal ranges, or inside a network
/// the operator allowed. The URL's form was checked before.
pub(crate) async fn check_tenant_upstream(url: &str, allowed: &[IpNet]) -> Result<(), ApiError> {
    let refused = |why: String| ApiError::Validation(format!("proxy_upstream_url: {why}"));
    let uri: http::Uri = url
        .parse()
        .map_err(|_| refused("not an absolute http or https URL".to_owned()))?;
    let host = uri
        .host()
        .ok_or_else(|| refused("the URL names no host".to_owned()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => {
            let lower = host.to_ascii_lowercase();
            if lower == "localhost" || lower.ends_with(".localhost") {
                vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
            } else {
                let resolved =
                    tokio::time::timeout(RESOLVE_DEADLINE, tokio::net::lookup_host((host, port)))
                        .await;
                match resolved {
                    Ok(Ok(found)) => found.map(|addr| addr.ip()).collect(),
                    _ => Vec::new(),
                }
            }
        }
    };
    if addresses.is_empty() {
        return Err(refused(format!("the host `{host}` does not resolve")));
    }
    for ip in addresses {
        if is_internal_address(ip) && !allowed.iter().any(|net| net.contains(&ip)) {
            return Err(refused(format!(
                "`{host}` is an internal address ({ip}); a reverse proxy may only point at public addresses"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_address_table() {
        for (ip, internal) in [
            ("127.0.0.1", true),
            ("127.8.9.10", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("172.32.0.1", false),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("0.0.0.0", true),
            ("0.1.2.3", true),
            ("100.64.0.1", true),
            ("100.128.0.1", false),
            ("255.255.255.255", true),
            ("224.0.0.1", true),
            ("203.0.113.10", false),
            ("8.8.8.8", false),
            ("::1", true),
            ("::", true),
            ("fd00::1", true),
            ("fe80::1", true),
            ("::ffff:127.0.0.1", true),
            ("::ffff:169.254.169.254", true),
            ("2001:db8::1", false),
            ("198.18.0.1", true),
            ("240.0.0.1", true),
            ("192.0.0.1", true),
            ("::127.0.0.1", true),
            ("::a9fe:a9fe", true),
            ("::ffff:0:7f00:1", true),
            ("64:ff9b::7f00:1", true),
            ("64:ff9b::a9fe:a9fe", true),
            ("64:ff9b::808:808", false),
            ("64:ff9b:1::a00:1", true),
            ("2002:7f00:1::", true),
            ("2002:a9fe:a9fe::", true),
            ("2002:808:808::", false),
            ("fec0::1", true),
            ("100::1", true),
            ("2606:4700::1111", false),
        ] {
            assert_eq!(is_internal_address(ip.parse().unwrap()), internal, "{ip}");
        }
    }

    #[tokio::test]
    async fn tenant_upstreams_are_checked_and_the_operator_can_widen() {
        for (url, allowed) in [
            ("http://169.254.169.254/latest/meta-data/", false),
            ("http://127.0.0.1:2019/config/", false),
            ("http://[::1]:8080/", false),
            ("http://localhost:8080/", false),
            ("http://api.localhost/", false),
            ("http://10.0.0.5:8080", false),
            ("http://[::ffff:10.0.0.5]:8080", false),
            ("https://203.0.113.10/", true),
            ("http://[2001:db8::1]:8080/", true),
        ] {
            let got = check_tenant_upstream(url, &[]).await;
            assert_eq!(got.is_ok(), allowed, "{url}: {got:?}");
            if let Err(err) = got {
                assert_eq!(err.code().as_str(), "validation");
            }
        }
        let widened: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        assert!(
            check_tenant_upstream("http://10.0.0.5:8080", &widened)
                .await
                .is_ok()
        );
        assert!(
            check_tenant_upstream("http://10.0.1.5:8080", &widened)
                .await
                .is_err()
        );
    }
}
