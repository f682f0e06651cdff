//! Where orderhook will send a client's events: http(s) only, and never to
//! loopback, private, link-local, metadata or other non-public addresses
//! (SSRF) unless `delivery.allow_private_destinations` says so. Checked at
//! registration, and again at every delivery by the client's DNS resolver,
//! so a name that later resolves somewhere private is still refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("not a valid URL")]
    Invalid,
    #[error("only http and https destinations are allowed")]
    Scheme,
    #[error("{0} is not a public address")]
    NotPublic(IpAddr),
    #[error("the host does not resolve")]
    Unresolvable,
}

/// Whether an address is reachable on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => is_public_v4(mapped),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the cloud metadata service
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64, which reaches IPv4 space
}

/// Checks a registration's URL: scheme, and every address its host has now.
pub async fn check(url: &str, allow_private: bool) -> Result<(), DestinationError> {
    let url = url::Url::parse(url).map_err(|_| DestinationError::Invalid)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(DestinationError::Scheme);
    }
    if allow_private {
        return Ok(());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Domain(domain)) => tokio::net::lookup_host((domain, port))
            .await
            .map_err(|_| DestinationError::Unresolvable)?
            .collect(),
        None => return Err(DestinationError::Invalid),
    };
    if addrs.is_empty() {
        return Err(DestinationError::Unresolvable);
    }
    match addrs.iter().find(|addr| !is_public(addr.ip())) {
        Some(addr) => Err(DestinationError::NotPublic(addr.ip())),
        None => Ok(()),
    }
}

/// A URL whose host is a literal address skips DNS, so the resolver below
/// never sees it: delivery checks those itself.
pub fn literal_ip(url: &str) -> Option<IpAddr> {
    match url::Url::parse(url).ok()?.host()? {
        url::Host::Ipv4(ip) => Some(ip.into()),
        url::Host::Ipv6(ip) => Some(ip.into()),
        url::Host::Domain(_) => None,
    }
}

/// The delivery client's resolver: the system's, with non-public addresses
/// dropped. The connection then uses exactly the addresses that passed.
#[derive(Clone, Copy, Debug)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn registration_checks_scheme_and_literal_addresses() {
        assert_eq!(
            check("ftp://example.com/x", true).await,
            Err(DestinationError::Scheme)
        );
        assert_eq!(
            check("nonsense", false).await,
            Err(DestinationError::Invalid)
        );
        assert!(matches!(
            check("http://127.0.0.1:8080/hook", false).await,
            Err(DestinationError::NotPublic(_))
        ));
        assert!(matches!(
            check("http://169.254.169.254/latest/meta-data", false).await,
            Err(DestinationError::NotPublic(_))
        ));
        assert!(matches!(
            check("http://[::1]/hook", false).await,
            Err(DestinationError::NotPublic(_))
        ));
        assert!(matches!(
            check("http://localhost:9/hook", false).await,
            Err(DestinationError::NotPublic(_))
        ));
        assert_eq!(check("http://127.0.0.1:8080/hook", true).await, Ok(()));
        assert_eq!(check("https://8.8.8.8/hook", false).await, Ok(()));
    }
}
