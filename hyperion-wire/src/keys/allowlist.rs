use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::InvalidValue;

/// Most entries one key's allowlist may hold.
pub const MAX_ALLOWLIST_ENTRIES: usize = 100;

/// Parses one allowlist entry: a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a
/// single address. An IPv4-mapped IPv6 entry is stored as IPv4, so that both
/// spellings of one client match the same way.
pub fn parse_allowlist_entry(entry: &str) -> Result<IpNet, InvalidValue> {
    let net = entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            InvalidValue(format!(
                "ip_allowlist: `{entry}` is neither an IP address nor a CIDR"
            ))
        })?;
    Ok(match net {
        IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
            Some(v4) if v6.prefix_len() >= 96 => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96)
                .map_err(|_| {
                InvalidValue(format!("ip_allowlist: `{entry}` has a bad prefix"))
            })?,
            _ => net,
        },
        IpNet::V4(_) => net,
    }
    .trunc())
}

/// Checks and normalises an allowlist given by a client.
pub fn normalize_allowlist(entries: &[String]) -> Result<Vec<String>, InvalidValue> {
    if entries.len() > MAX_ALLOWLIST_ENTRIES {
        return Err(InvalidValue(format!(
            "ip_allowlist holds more than {MAX_ALLOWLIST_ENTRIES} entries"
        )));
    }
    entries
        .iter()
        .map(|entry| parse_allowlist_entry(entry).map(|net| net.to_string()))
        .collect()
}

/// Whether `client` is allowed by `allowlist` (empty = anywhere). A malformed
/// stored entry matches nothing.
pub fn allowlist_permits(allowlist: &[String], client: IpAddr) -> bool {
    if allowlist.is_empty() {
        return true;
    }
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        IpAddr::V4(_) => client,
    };
    allowlist
        .iter()
        .filter_map(|entry| parse_allowlist_entry(entry).ok())
        .any(|net| net.contains(&client))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_normalised() {
        let list = normalize_allowlist(&[
            "10.1.2.3/8".into(),
            "192.0.2.7".into(),
            "2001:db8::1/32".into(),
            "::ffff:198.51.100.0/120".into(),
        ])
        .unwrap();
        assert_eq!(
            list,
            [
                "10.0.0.0/8",
                "192.0.2.7/32",
                "2001:db8::/32",
                "198.51.100.0/24"
            ]
        );
        for bad in ["", "10.0.0.0/33", "example.com", "1.2.3", "10.0.0.0/8 "] {
            assert!(normalize_allowlist(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_treats_mapped_ipv6_as_ipv4() {
        let list = normalize_allowlist(&["203.0.113.0/24".into(), "2001:db8::/32".into()]).unwrap();
        assert!(allowlist_permits(&list, "203.0.113.9".parse().unwrap()));
        assert!(allowlist_permits(
            &list,
            "::ffff:203.0.113.9".parse().unwrap()
        ));
        assert!(allowlist_permits(&list, "2001:db8::5".parse().unwrap()));
        assert!(!allowlist_permits(&list, "203.0.114.1".parse().unwrap()));
        assert!(allowlist_permits(&[], "203.0.114.1".parse().unwrap()));
        assert!(!allowlist_permits(
            &["garbage".into()],
            "203.0.114.1".parse().unwrap()
        ));
    }
}
