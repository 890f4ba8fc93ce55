//! Where webhooks may go (server-side request forgery). A target must be https and reach only
//! public addresses, unless the operator allowed its host, IP or network with
//! `--webhook-allow-hosts`. Names are checked where they are resolved, when the connection is
//! made (so a name that resolves to a public address when checked and to 127.0.0.1 when used
//! cannot slip through); IP literals before anything is sent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{bail, Context};
use url::{Host, Url};

/// What `--webhook-allow-hosts` lets webhooks reach besides the public internet.
#[derive(Debug, Default)]
pub struct Allow {
    hosts: Vec<String>,
    nets: Vec<(IpAddr, u8)>,
}

impl Allow {
    /// Hosts (`hooks.internal`), IPs (`127.0.0.1`, `::1`) and networks (`10.0.0.0/8`).
    pub fn parse(list: &[String]) -> anyhow::Result<Allow> {
        let mut allow = Allow::default();
        for item in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let bare = item.trim_start_matches('[').trim_end_matches(']');
            if let Some((addr, bits)) = bare.split_once('/') {
                let addr: IpAddr = addr.parse().with_context(|| format!("--webhook-allow-hosts: {item:?} is not a network"))?;
                let bits: u8 = bits.parse().with_context(|| format!("--webhook-allow-hosts: {item:?} has no prefix length"))?;
                if bits > if addr.is_ipv4() { 32 } else { 128 } {
                    bail!("--webhook-allow-hosts: {item:?} has a prefix longer than its address");
                }
                allow.nets.push((addr, bits));
            } else if let Ok(addr) = bare.parse::<IpAddr>() {
                allow.nets.push((addr, if addr.is_ipv4() { 32 } else { 128 }));
            } else if bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') && !bare.starts_with('.') {
                allow.hosts.push(bare.to_ascii_lowercase());
            } else {
                bail!("--webhook-allow-hosts: {item:?} is not a host name, an IP address or a network");
            }
        }
        Ok(allow)
    }

    fn net_allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|&(net, bits)| within(ip, canonical(net), bits))
    }

    /// Whether the URL may be sent to at all, before any connection: its scheme, and an IP
    /// literal's address (names are checked when resolved: `filter`).
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        let (listed, literal) = match url.host() {
            Some(Host::Domain(name)) => (self.hosts.iter().any(|h| h.eq_ignore_ascii_case(name)), None),
            Some(Host::Ipv4(ip)) => (self.net_allows(IpAddr::V4(ip)), Some(IpAddr::V4(ip))),
            Some(Host::Ipv6(ip)) => (self.net_allows(IpAddr::V6(ip)), Some(IpAddr::V6(ip))),
            None => return Err("the webhook URL has no host".into()),
        };
        match url.scheme() {
            "https" => {}
            "http" if listed => {}
            "http" => {
                return Err(format!(
                    "refused: http to {} (webhooks use https; allow the host with --webhook-allow-hosts to use http)",
                    url.host_str().unwrap_or("")
                ))
            }
            other => return Err(format!("refused: the scheme {other:?} (webhooks use https)")),
        }
        match literal {
            Some(ip) if !listed && !is_public(ip) => Err(refusal(&ip.to_string(), ip)),
            _ => Ok(()),
        }
    }

    /// The addresses `host` resolved to that webhooks may connect to; an error naming why
    /// when none is left.
    pub fn filter(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return Ok(addrs);
        }
        let first = addrs.first().map(|a| a.ip());
        let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| is_public(a.ip()) || self.net_allows(a.ip())).collect();
        match (allowed.is_empty(), first) {
            (false, _) => Ok(allowed),
            (true, Some(ip)) => Err(refusal(host, ip)),
            (true, None) => Err(format!("{host} did not resolve")),
        }
    }
}

fn refusal(host: &str, ip: IpAddr) -> String {
    format!("refused: {host} is {ip}, a {} address webhooks may not reach (allow it with --webhook-allow-hosts)", kind(ip))
}

/// An IPv4 address inside IPv6 (mapped, or NAT64's well-known prefix) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            // NAT64's well-known prefix and the old IPv4-compatible form ::a.b.c.d (not :: or
            // ::1) carry an IPv4 address in their last 32 bits
            let compatible = s[..6] == [0, 0, 0, 0, 0, 0] && (s[6] != 0 || s[7] > 1);
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || compatible {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            ip
        }
        v4 => v4,
    }
}

fn within(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// What kind of non-public address `ip` is ("public" when it is none).
fn kind(ip: IpAddr) -> &'static str {
    match canonical(ip) {
        IpAddr::V4(v4) => kind_v4(v4),
        IpAddr::V6(v6) => kind_v6(v6),
    }
}

fn kind_v4(ip: Ipv4Addr) -> &'static str {
    let o = ip.octets();
    if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() || o[0] == 0 {
        "unspecified"
    } else if ip.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) || (o[0] == 198 && (18..20).contains(&o[1])) {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_broadcast() || o[0] >= 240 || (o[0] == 192 && o[1] == 0 && o[2] == 0) {
        "reserved"
    } else {
        "public"
    }
}

fn kind_v6(ip: Ipv6Addr) -> &'static str {
    let first = ip.segments()[0];
    // NAT64 for local use (64:ff9b:1::/48)
    if first == 0x64 && ip.segments()[1] == 0xff9b && ip.segments()[2] == 1 {
        "private"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_multicast() {
        "multicast"
    } else if first & 0xfe00 == 0xfc00 {
        "private"
    } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
        "link-local"
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        "reserved"
    } else {
        "public"
    }
}

pub fn is_public(ip: IpAddr) -> bool {
    kind(ip) == "public"
}

/// The resolver of the webhook client: the system's, then `Allow::filter`.
pub struct Resolver(pub Arc<Allow>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = allow.filter(&host, addrs)?;
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(list: &[&str]) -> Allow {
        Allow::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn check(a: &Allow, url: &str) -> Result<(), String> {
        a.check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn addresses_webhooks_may_not_reach() {
        for ip in [
            "127.0.0.1",
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "::127.0.0.1",
            "::7f00:1",
            "::a00:1",
            "64:ff9b:1::a00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111", "::ffff:1.1.1.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn https_to_public_addresses_only_unless_allowed() {
        let none = allow(&[]);
        assert!(check(&none, "https://example.com/hook").is_ok());
        assert!(check(&none, "https://1.1.1.1/hook").is_ok());
        assert!(check(&none, "http://example.com/hook").unwrap_err().contains("https"));
        assert!(check(&none, "https://127.0.0.1/hook").unwrap_err().contains("loopback"));
        assert!(check(&none, "https://[::1]/hook").unwrap_err().contains("loopback"));
        assert!(check(&none, "https://169.254.169.254/latest").unwrap_err().contains("link-local"));
        assert!(check(&none, "ftp://example.com/").is_err());
        let some = allow(&["127.0.0.1", "hooks.internal", "10.0.0.0/8", "[::1]"]);
        assert!(check(&some, "http://127.0.0.1:8080/hook").is_ok());
        assert!(check(&some, "http://[::1]:8080/hook").is_ok());
        assert!(check(&some, "http://HOOKS.internal/hook").is_ok());
        assert!(check(&some, "https://10.9.8.7/hook").is_ok());
        assert!(check(&some, "http://127.0.0.2/hook").is_err());
        assert!(check(&some, "https://127.0.0.2/hook").unwrap_err().contains("127.0.0.2"));
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let a = allow(&["10.0.0.0/8", "trusted.local"]);
        let addr = |s: &str| SocketAddr::new(s.parse().unwrap(), 443);
        assert_eq!(a.filter("x.example", vec![addr("127.0.0.1"), addr("1.1.1.1")]).unwrap(), vec![addr("1.1.1.1")]);
        assert_eq!(a.filter("x.example", vec![addr("10.1.1.1")]).unwrap(), vec![addr("10.1.1.1")]);
        assert!(a.filter("x.example", vec![addr("192.168.0.1")]).unwrap_err().contains("private"));
        assert_eq!(a.filter("trusted.local", vec![addr("127.0.0.1")]).unwrap(), vec![addr("127.0.0.1")]);
    }

    #[test]
    fn bad_allow_lists_fail_at_start() {
        for bad in ["10.0.0.0/33", "not a host", "1.2.3.4/x", "a/b/c"] {
            assert!(Allow::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }
}
