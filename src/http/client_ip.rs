//! Who is calling: the socket peer, unless the peer is a trusted proxy (nginx
//! in front), in which case the right-most `X-Forwarded-For` address that is
//! not itself a trusted proxy. Left-most entries are whatever the caller
//! wrote, so they are never believed.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// An IP address or CIDR; a bare address is a network of one.
pub fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|entry| entry.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

/// Whether `ip` may call, given an allowlist (empty allows everyone).
pub fn allowed(ip: IpAddr, allowlist: &[IpNet]) -> bool {
    allowlist.is_empty() || allowlist.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let trusted = [parse_net("10.0.0.0/8").unwrap()];
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let spoofed = headers("1.2.3.4, 198.51.100.7");
        assert_eq!(client_ip(stranger, &spoofed, &trusted), stranger);
        assert_eq!(
            client_ip(proxy, &spoofed, &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(proxy, &headers("198.51.100.7, 10.0.0.9"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(client_ip(proxy, &headers("garbage"), &trusted), proxy);
    }

    #[test]
    fn allowlists_take_addresses_and_networks() {
        let list = [
            parse_net("192.0.2.0/24").unwrap(),
            parse_net("2001:db8::1").unwrap(),
        ];
        assert!(allowed("192.0.2.77".parse().unwrap(), &list));
        assert!(allowed("2001:db8::1".parse().unwrap(), &list));
        assert!(!allowed("192.0.3.1".parse().unwrap(), &list));
        assert!(allowed("192.0.3.1".parse().unwrap(), &[]));
        assert!(parse_net("300.1.1.1").is_none());
        assert!(parse_net("10.0.0.0/33").is_none());
    }
}
