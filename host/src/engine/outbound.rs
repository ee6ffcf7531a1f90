//! Where delivery may send: the outbound network policy. HTTPS only unless the operator allows
//! plain HTTP, and never to an internal address (loopback, private, link-local, shared, multicast,
//! unspecified or reserved ranges) unless the operator allows that network explicitly.
//!
//! Addresses are checked after DNS resolution, inside the resolver the HTTP client connects
//! through, so a name that resolves to `127.0.0.1` (or is re-pointed there between a check and
//! the connection) is refused as surely as the literal address is.
//!
//! May depend on: serde, reqwest's resolver interface, tokio's name lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The operator's outbound network policy for vendor requests. The default is the strict one:
/// HTTPS to public addresses only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundPolicy {
    /// Allow plain `http://` URLs. Off by default: a request carrying credentials in the clear
    /// can be read by anyone on the path.
    pub allow_http: bool,
    /// Internal networks vendor requests may reach anyway, in CIDR form (`127.0.0.0/8`,
    /// `10.1.2.0/24`, `::1/128`): a vendor stand-in on loopback, a relay on the private network.
    pub allow_networks: Vec<String>,
}

/// A network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Network {
    base: IpAddr,
    prefix: u8,
}

impl OutboundPolicy {
    /// Plain HTTP to loopback allowed: for a demo or a test whose vendor stand-in listens on
    /// `127.0.0.1`. Never a production setting.
    pub fn local_stand_ins() -> Self {
        OutboundPolicy { allow_http: true, allow_networks: vec!["127.0.0.0/8".into(), "::1/128".into()] }
    }
}

impl Network {
    /// Parses `10.0.0.0/8`, `::1/128`, or a bare address (one host).
    pub(crate) fn parse(text: &str) -> Result<Network, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let base: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a network; write it as CIDR, for example `10.0.0.0/8`"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(Network { base, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.base, canonical(ip)) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The policy, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    pub allow_http: bool,
    allowed: Arc<[Network]>,
}

impl Outbound {
    pub(crate) fn new(policy: &OutboundPolicy) -> Result<Self, String> {
        let allowed = policy
            .allow_networks
            .iter()
            .map(|n| Network::parse(n).map_err(|e| format!("engine.delivery.outbound.allow_networks: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Outbound { allow_http: policy.allow_http, allowed: allowed.into() })
    }

    /// Why a request to `ip` is refused, if it is.
    pub(crate) fn refuses(&self, ip: IpAddr) -> Option<String> {
        let range = internal_range(ip)?;
        if self.allowed.iter().any(|n| n.contains(ip)) {
            return None;
        }
        Some(format!(
            "address {ip} is {range}; vendor requests go to public addresses only \
             (an operator may allow this network in `engine.delivery.outbound.allow_networks`)"
        ))
    }

    /// The resolver the HTTP client connects through.
    pub(crate) fn resolver(&self) -> GuardedResolver {
        GuardedResolver(self.clone())
    }
}

/// Resolves names like the system does, then drops every address the policy refuses; a name
/// with no address left fails with [`AddressRefused`].
pub(crate) struct GuardedResolver(Outbound);

/// Every address a name resolved to is refused by the outbound policy.
#[derive(Debug)]
pub(crate) struct AddressRefused(pub String);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressRefused {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match policy.refuses(addr.ip()) {
                    Some(reason) => {
                        refusal.get_or_insert(reason);
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty() {
                let reason = refusal.unwrap_or_else(|| "no address".to_owned());
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(AddressRefused(format!("host `{host}` resolves to {reason}")));
                return Err(refused);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An IPv4 address inside an IPv6 one (mapped, or NAT64), as itself.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// The internal range `ip` belongs to, named for the error message; `None` for a public address.
fn internal_range(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match (a, b) {
        _ if ip.is_unspecified() || a == 0 => "unspecified (0.0.0.0/8)",
        (127, _) => "loopback (127.0.0.0/8)",
        (10, _) => "private (10.0.0.0/8)",
        (172, 16..=31) => "private (172.16.0.0/12)",
        (192, 168) => "private (192.168.0.0/16)",
        (169, 254) => "link-local (169.254.0.0/16, cloud metadata)",
        (100, 64..=127) => "shared address space (100.64.0.0/10)",
        (192, 0) if ip.octets()[2] == 0 => "reserved (192.0.0.0/24)",
        (198, 18..=19) => "benchmarking (198.18.0.0/15)",
        (224..=239, _) => "multicast (224.0.0.0/4)",
        (240..=255, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_unspecified() {
        "unspecified (::)"
    } else if ip.is_loopback() {
        "loopback (::1)"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local (fe80::/10)"
    } else if first & 0xfe00 == 0xfc00 {
        "unique local (fc00::/7)"
    } else if first & 0xff00 == 0xff00 {
        "multicast (ff00::/8)"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Outbound {
        Outbound::new(&OutboundPolicy::default()).unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_and_public_ones_pass() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(strict().refuses(refused.parse().unwrap()).is_some(), "{refused}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111"] {
            assert_eq!(strict().refuses(public.parse().unwrap()), None, "{public}");
        }
    }

    #[test]
    fn an_allowed_network_passes_and_only_it() {
        let policy =
            OutboundPolicy { allow_http: false, allow_networks: vec!["127.0.0.0/8".into(), "::1".into()] };
        let outbound = Outbound::new(&policy).unwrap();
        assert_eq!(outbound.refuses("127.0.0.1".parse().unwrap()), None);
        assert_eq!(outbound.refuses("::1".parse().unwrap()), None);
        assert!(outbound.refuses("10.0.0.1".parse().unwrap()).is_some());
        assert!(
            Outbound::new(&OutboundPolicy { allow_networks: vec!["10.0.0.0/40".into()], ..policy }).is_err()
        );
    }
}
