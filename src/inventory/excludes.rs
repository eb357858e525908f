//! Exclusions (`exclude:` of every file plus `--exclude`): addresses, CIDR blocks and names that
//! are never probed, applied after expansion and to the addresses a name resolves to.
//!
//! Lookups cost one hash probe per distinct prefix length (at most 33 + 129), not one comparison
//! per entry: a long exclude list must not make every probe of a large inventory slower.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Host, Probe};

/// Addresses, CIDR blocks and names that are never probed.
#[derive(Clone, Default)]
pub struct Excludes {
    /// Entries in the order given (this order feeds the inventory digest).
    nets: Vec<IpNet>,
    names: Vec<String>,
    /// `(is IPv6, prefix length)` → the truncated blocks of that length.
    by_len: BTreeMap<(bool, u8), HashSet<IpNet>>,
    name_set: HashSet<String>,
}

impl fmt::Debug for Excludes {
    /// Only the entries, in order: the digest of an inventory hashes this text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Excludes")
            .field("nets", &self.nets)
            .field("names", &self.names)
            .finish()
    }
}

impl Excludes {
    /// Add one entry: an address, a CIDR block or a name.
    pub fn add(&mut self, s: &str) -> Result<(), String> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            self.add_net(IpNet::from(ip));
        } else if let Ok(net) = s.parse::<IpNet>() {
            self.add_net(net.trunc());
        } else if matches!(Host::parse(s), Ok(Host::Name(_))) {
            let name = s.to_ascii_lowercase();
            self.name_set.insert(name.clone());
            self.names.push(name);
        } else {
            return Err(format!(
                "bad exclude `{s}`, expected an address, a CIDR block or a name"
            ));
        }
        Ok(())
    }

    fn add_net(&mut self, net: IpNet) {
        let key = (matches!(net, IpNet::V6(_)), net.prefix_len());
        self.by_len.entry(key).or_default().insert(net);
        self.nets.push(net);
    }

    /// Whether nothing is excluded.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty() && self.names.is_empty()
    }

    /// Whether `ip` is excluded.
    pub fn ip(&self, ip: IpAddr) -> bool {
        let v6 = ip.is_ipv6();
        self.by_len
            .range((v6, 0)..=(v6, u8::MAX))
            .any(|(&(_, len), set)| IpNet::new(ip, len).is_ok_and(|n| set.contains(&n.trunc())))
    }

    /// Whether the name is excluded.
    pub fn name(&self, name: &str) -> bool {
        self.name_set.contains(name)
    }

    /// Whether a probe is excluded before resolution.
    pub fn probe(&self, p: &Probe) -> bool {
        match (&p.target.host, p.addr) {
            (_, Some(ip)) => self.ip(ip),
            (Host::Name(n), None) => self.name(n),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_blocks_and_names() {
        let mut e = Excludes::default();
        for s in [
            "127.0.0.2",
            "127.0.9.0/24",
            "fd00::/64",
            "::1",
            "Legacy-DB.internal",
        ] {
            e.add(s).unwrap();
        }
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(e.ip(ip("127.0.0.2")));
        assert!(!e.ip(ip("127.0.0.3")));
        assert!(e.ip(ip("127.0.9.200")));
        assert!(!e.ip(ip("127.0.10.1")));
        assert!(e.ip(ip("fd00::5")));
        assert!(!e.ip(ip("fd01::5")));
        assert!(e.ip(ip("::1")));
        assert!(!e.ip(ip("::2")));
        assert!(e.name("legacy-db.internal"));
        assert!(!e.name("db.internal"));
        assert!(e.add("not a host!").is_err());
        // Host bits of a block are dropped, as before.
        e.add("127.5.5.5/16").unwrap();
        assert!(e.ip(ip("127.5.0.1")));
        assert_eq!(
            format!("{e:?}"),
            "Excludes { nets: [127.0.0.2/32, 127.0.9.0/24, fd00::/64, ::1/128, 127.5.0.0/16], \
             names: [\"legacy-db.internal\"] }"
        );
    }
}
