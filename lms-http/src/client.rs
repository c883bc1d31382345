//! Who the client is, for rate limits and logs: the socket peer, or, when
//! the peer is one of our own proxies (`LMS_TRUSTED_PROXIES`), the address
//! that proxy put in `X-Forwarded-For`.
//!
//! `X-Forwarded-For` is read from the right: each trusted proxy appends the
//! address it saw, so the rightmost entry not from a trusted proxy is the
//! first one nobody of ours vouches for less. Everything to its left was
//! written by the client and is ignored; a client can therefore never pick
//! the address it is limited by.

use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use ipnet::IpNet;

static FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");

/// The client's address, or `None` for a request that came without a
/// socket (in-process).
pub fn address(peer: Option<SocketAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let mut client = canonical(peer?.ip());
    if !is_trusted(client, trusted) {
        return Some(client);
    }
    let hops = headers
        .get_all(&FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // A proxy of ours wrote nothing unreadable, so this came from
            // the client: the last trusted hop's peer is what we know.
            break;
        };
        client = ip;
        if !is_trusted(ip, trusted) {
            break;
        }
    }
    Some(client)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// An IPv4 client reached over an IPv6 socket as itself.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

/// Parses `LMS_TRUSTED_PROXIES` entries: an address or a CIDR block.
pub fn parse_proxy(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| "must be an IP address or a CIDR block such as 10.0.0.0/8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append(&FORWARDED_FOR, v.parse().unwrap());
        }
        h
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(address(peer("198.51.100.1"), &h, &[]), ip("198.51.100.1"));
    }

    #[test]
    fn an_untrusted_peer_cannot_name_its_address() {
        let trusted = [parse_proxy("10.0.0.0/8").unwrap()];
        let h = headers(&["203.0.113.9"]);
        assert_eq!(
            address(peer("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = [
            parse_proxy("10.0.0.0/8").unwrap(),
            parse_proxy("192.0.2.10").unwrap(),
        ];
        // The client forged the first entry; our proxies added the rest.
        let h = headers(&["6.6.6.6, 203.0.113.9", "10.1.2.3"]);
        assert_eq!(address(peer("192.0.2.10"), &h, &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn garbage_or_a_missing_header_leaves_the_last_trusted_hop() {
        let trusted = [parse_proxy("10.0.0.0/8").unwrap()];
        let h = headers(&["not-an-ip, 10.0.0.7"]);
        assert_eq!(address(peer("10.0.0.1"), &h, &trusted), ip("10.0.0.7"));
        assert_eq!(
            address(peer("10.0.0.1"), &HeaderMap::new(), &trusted),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn ports_and_mapped_addresses_are_understood() {
        let trusted = [parse_proxy("10.0.0.1").unwrap()];
        let h = headers(&["[2001:db8::5]:4711"]);
        assert_eq!(
            address(peer("::ffff:10.0.0.1"), &h, &trusted),
            ip("2001:db8::5")
        );
        let h = headers(&["203.0.113.9:80"]);
        assert_eq!(address(peer("10.0.0.1"), &h, &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn in_process_requests_have_no_address() {
        assert_eq!(address(None, &headers(&["203.0.113.9"]), &[]), None);
        assert!(parse_proxy("nonsense").is_err());
    }
}
