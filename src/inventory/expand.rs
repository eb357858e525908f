//! Lazy expansion of targets into probes: memory does not grow with the number of probes.
//!
//! Within a CIDR target the order is port-major (every address on port 1, then every address
//! on port 2, ...), which spreads load across hosts instead of hammering one.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpAddrRange;

use super::{Host, Target};

/// One unit of work before name resolution: a target, an address (None for a name) and a port.
#[derive(Clone, Debug)]
pub struct Probe {
    /// The inventory entry.
    pub target: Arc<Target>,
    /// The address, or None when the host is a name still to be resolved.
    pub addr: Option<IpAddr>,
    /// The port.
    pub port: u16,
    /// Position in the whole inventory's expansion order (before name resolution); shards
    /// split on it.
    pub index: u128,
}

/// Iterator over every probe of an inventory.
pub struct Probes {
    targets: Vec<Arc<Target>>,
    ti: usize,
    /// Cursor into the current target's port set (see [`super::PortSet::next_at`]).
    port_at: (usize, u32),
    cur_port: u16,
    addrs: Option<IpAddrRange>,
    /// Probe position within the current target.
    local: u128,
    /// Keep only shard `k` of `n` (see [`crate::shard`]).
    shard: Option<(u32, u32)>,
}

impl Probes {
    pub(super) fn new(targets: Vec<Arc<Target>>) -> Probes {
        Probes {
            targets,
            ti: 0,
            port_at: (0, 0),
            cur_port: 0,
            addrs: None,
            local: 0,
            shard: None,
        }
    }

    /// Keep only shard `k` of `n` (1-based `k`): probes whose inventory index is `k-1` modulo
    /// `n`. Split at the probe level, so a large CIDR is spread over every shard.
    pub fn shard(mut self, k: u32, n: u32) -> Probes {
        if n > 1 {
            self.shard = Some((k, n));
        }
        self
    }

    fn next_any(&mut self) -> Option<Probe> {
        loop {
            let t = self.targets.get(self.ti)?;
            let index = t.first_index + self.local;
            match &t.host {
                Host::Ip(_) | Host::Name(_) => {
                    if let Some(port) = t.ports.next_at(&mut self.port_at) {
                        self.local += 1;
                        let addr = if let Host::Ip(ip) = t.host {
                            Some(ip)
                        } else {
                            None
                        };
                        return Some(Probe {
                            target: t.clone(),
                            addr,
                            port,
                            index,
                        });
                    }
                }
                Host::Net(net) => {
                    if let Some(a) = self.addrs.as_mut().and_then(Iterator::next) {
                        self.local += 1;
                        return Some(Probe {
                            target: t.clone(),
                            addr: Some(a),
                            port: self.cur_port,
                            index,
                        });
                    }
                    if let Some(port) = t.ports.next_at(&mut self.port_at) {
                        self.cur_port = port;
                        self.addrs = Some(net.hosts());
                        continue;
                    }
                }
            }
            self.ti += 1;
            self.port_at = (0, 0);
            self.local = 0;
            self.addrs = None;
        }
    }
}

impl Iterator for Probes {
    type Item = Probe;

    fn next(&mut self) -> Option<Probe> {
        loop {
            let p = self.next_any()?;
            match self.shard {
                Some((k, n)) if !crate::shard::contains(p.index, k, n) => continue,
                _ => return Some(p),
            }
        }
    }
}
