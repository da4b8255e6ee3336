//! Who is calling: the client's address, for the per-address rate limit.
//! It is the connection's peer, unless the peer is a proxy the server is
//! told to trust (`TRUSTED_PROXIES`): then the address that proxy says it
//! forwarded for, from `Forwarded` (RFC 7239) or `X-Forwarded-For`, read
//! from the right and skipping trusted proxies. A client that sends its
//! own `X-Forwarded-For` straight to the server gains nothing: its peer
//! address is not trusted, so the header is not read.

use std::net::IpAddr;
use std::str::FromStr;

use hyper::HeaderMap;

/// A network of addresses: one address, or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        match (self.base, address) {
            (IpAddr::V4(base), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(base) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(base) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("{raw:?} is not an IP address or a CIDR block such as 10.0.0.0/8");
        let (address, prefix) = match raw.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw, None),
        };
        let base = canonical(address.trim().parse::<IpAddr>().map_err(|_| invalid())?);
        let most = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= most)
                .ok_or_else(invalid)?,
            None => most,
        };
        Ok(Self { base, prefix })
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR blocks.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(Network::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(address))
    }

    /// The client's address, for a request from `peer` with `headers`.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers);
        // From the nearest hop back: the first address no trusted proxy
        // has, or the farthest one if every hop is trusted.
        chain
            .iter()
            .rev()
            .find(|address| !self.trusts(**address))
            .or(chain.first())
            .copied()
            .unwrap_or(peer)
    }
}

/// The addresses a request passed through, farthest first: from
/// `Forwarded` if present, else from `X-Forwarded-For`. An entry that is
/// not an address (`unknown`, an obfuscated name) ends the chain there.
fn forwarded_chain(headers: &HeaderMap) -> Vec<IpAddr> {
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    let entries: Vec<String> = if forwarded.is_empty() {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|entry| entry.trim().to_owned())
            .collect()
    } else {
        forwarded
            .iter()
            .flat_map(|value| value.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.trim().split_once('=')?;
                    name.eq_ignore_ascii_case("for")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect()
    };
    let mut chain = Vec::new();
    for entry in entries.iter().rev() {
        match parse_node(entry) {
            Some(address) => chain.push(address),
            None => break,
        }
    }
    chain.reverse();
    chain
}

/// An address as a forwarding header writes it: bare, `[v6]`, with a port.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (v6, _) = rest.split_once(']')?;
        return v6.parse().ok().map(canonical);
    }
    let (v4, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    v4.parse().ok().map(canonical)
}

/// An IPv4 address mapped into IPv6 is the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;
    use rstest::rstest;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(raw: &str) -> IpAddr {
        raw.parse().expect("an address")
    }

    #[rstest]
    #[case::untrusted_peer_sends_its_own_header("10.0.0.0/8", "203.0.113.9", &[("x-forwarded-for", "198.51.100.1")], "203.0.113.9")]
    #[case::trusted_proxy_forwards("10.0.0.0/8", "10.1.2.3", &[("x-forwarded-for", "198.51.100.1")], "198.51.100.1")]
    #[case::forged_entry_left_of_the_real_one("10.0.0.0/8", "10.1.2.3", &[("x-forwarded-for", "1.1.1.1, 198.51.100.1")], "198.51.100.1")]
    #[case::two_trusted_hops("10.0.0.0/8", "10.1.2.3", &[("x-forwarded-for", "198.51.100.1, 10.9.9.9")], "198.51.100.1")]
    #[case::forwarded_header("10.0.0.0/8", "10.1.2.3", &[("forwarded", "for=198.51.100.7;proto=https")], "198.51.100.7")]
    #[case::forwarded_v6_with_port("10.0.0.0/8", "10.1.2.3", &[("forwarded", "for=\"[2001:db8::1]:4711\"")], "2001:db8::1")]
    #[case::trusted_proxy_without_header("10.0.0.0/8", "10.1.2.3", &[], "10.1.2.3")]
    #[case::unknown_hop_stops_the_chain("10.0.0.0/8", "10.1.2.3", &[("x-forwarded-for", "198.51.100.1, unknown")], "10.1.2.3")]
    #[case::no_trusted_proxies("", "127.0.0.1", &[("x-forwarded-for", "198.51.100.1")], "127.0.0.1")]
    #[case::mapped_v4_peer("127.0.0.1", "::ffff:127.0.0.1", &[("x-forwarded-for", "198.51.100.1")], "198.51.100.1")]
    fn the_client_is_the_first_untrusted_hop(
        #[case] trusted: &str,
        #[case] peer: &str,
        #[case] sent: &[(&'static str, &'static str)],
        #[case] client: &str,
    ) {
        let proxies = TrustedProxies::parse(trusted).expect("valid");
        assert_eq!(proxies.client_address(ip(peer), &headers(sent)), ip(client));
    }

    #[rstest]
    #[case("10.0.0.0/33")]
    #[case("nowhere")]
    #[case("10.0.0.0/x")]
    fn invalid_networks_are_refused(#[case] raw: &str) {
        assert!(TrustedProxies::parse(raw).is_err());
    }
}
