//! The `host:` field: a DNS name, an IP address or a CIDR block, validated where it is parsed
//! (its YAML visitor is in `raw::values`).

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// Where to send probes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// One address.
    Ip(IpAddr),
    /// A block, expanded lazily (IPv4 network and broadcast addresses skipped below /31).
    Net(IpNet),
    /// A name, resolved once per run with the system resolver.
    Name(String),
}

impl Host {
    /// Parse and validate.
    pub fn parse(s: &str) -> Result<Host, String> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            check_ip(ip)?;
            return Ok(Host::Ip(ip));
        }
        if s.contains('/') {
            let net: IpNet = s
                .parse()
                .map_err(|_| format!("bad CIDR `{s}`, expected e.g. 127.0.0.0/30 or fd00::/126"))?;
            if net.prefix_len() == 0 {
                return Err(format!("refusing `{s}`: a /0 is the whole address space"));
            }
            if net.trunc() != net {
                return Err(format!(
                    "bad CIDR `{s}`: host bits are set, expected the network address ({})",
                    net.trunc()
                ));
            }
            check_ip(net.network()).map_err(|e| format!("refusing `{s}`: {e}"))?;
            return Ok(Host::Net(net));
        }
        if is_dns_name(s) {
            return Ok(Host::Name(s.to_ascii_lowercase()));
        }
        Err(format!(
            "bad host `{s}`, expected a DNS name, an IPv4/IPv6 address or a CIDR block"
        ))
    }

    /// How many addresses this host stands for (1 for a name: its addresses are known later).
    pub fn address_count(&self) -> u128 {
        match self {
            Host::Ip(_) | Host::Name(_) => 1,
            Host::Net(IpNet::V4(n)) => {
                let size = 1u128 << (32 - n.prefix_len());
                if n.prefix_len() >= 31 { size } else { size - 2 }
            }
            Host::Net(IpNet::V6(n)) => 1u128
                .checked_shl(128 - u32::from(n.prefix_len()))
                .unwrap_or(u128::MAX),
        }
    }

    /// Addresses of an IP or a block, lazily; empty for a name.
    pub fn addresses(&self) -> Box<dyn Iterator<Item = IpAddr> + Send + '_> {
        match self {
            Host::Ip(ip) => Box::new(std::iter::once(*ip)),
            Host::Net(net) => Box::new(net.hosts()),
            Host::Name(_) => Box::new(std::iter::empty()),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Net(net) => write!(f, "{net}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

fn check_ip(ip: IpAddr) -> Result<(), String> {
    if ip.is_unspecified() {
        return Err(format!(
            "refusing {ip}: the unspecified address is not a target"
        ));
    }
    if ip.is_multicast() {
        return Err(format!("refusing {ip}: multicast is not a TCP target"));
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return Err(format!("refusing {ip}: broadcast is not a TCP target"));
        }
        if v4.octets()[0] >= 240 {
            return Err(format!("refusing {ip}: 240.0.0.0/4 is reserved"));
        }
    }
    Ok(())
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            Host::parse("127.0.0.1").unwrap(),
            Host::Ip("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            Host::parse("::1").unwrap(),
            Host::Ip("::1".parse().unwrap())
        );
        assert!(matches!(Host::parse("127.0.0.0/30").unwrap(), Host::Net(_)));
        assert_eq!(
            Host::parse("DB.internal").unwrap(),
            Host::Name("db.internal".into())
        );
    }

    #[test]
    fn cidr_expansion_skips_network_and_broadcast() {
        let h = Host::parse("127.0.0.0/30").unwrap();
        let got: Vec<String> = h.addresses().map(|a| a.to_string()).collect();
        assert_eq!(got, vec!["127.0.0.1", "127.0.0.2"]);
        assert_eq!(h.address_count(), 2);
        let h31 = Host::parse("127.0.0.0/31").unwrap();
        assert_eq!(h31.addresses().count(), 2);
        assert_eq!(h31.address_count(), 2);
        let h32 = Host::parse("127.0.0.9/32").unwrap();
        assert_eq!(h32.addresses().count(), 1);
        let v6 = Host::parse("fd00::/126").unwrap();
        assert_eq!(v6.addresses().count(), 4);
        assert_eq!(v6.address_count(), 4);
        assert_eq!(
            Host::parse("fd00::/64").unwrap().address_count(),
            1u128 << 64
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "0.0.0.0/0",
            "::/0",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "ff02::1",
            "224.0.0.0/4",
        ] {
            assert!(Host::parse(bad).unwrap_err().contains("refusing"), "{bad}");
        }
        assert!(
            Host::parse("127.0.0.1/30")
                .unwrap_err()
                .contains("host bits")
        );
        assert!(
            Host::parse("127.0.0.0/33")
                .unwrap_err()
                .contains("bad CIDR")
        );
        assert!(Host::parse("bad host!").unwrap_err().contains("bad host"));
    }
}
