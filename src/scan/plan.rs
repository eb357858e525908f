//! Before the scan: how big and how long. The worst case assumes every probe waits its full
//! timeout (all retries and attempts used) plus its linger window, in waves of the effective
//! concurrency, and that the busiest host and the rate limit can only make it longer.
//!
//! Names are not resolved before the scan (`--dry-run` must send nothing), so a name counts one
//! probe per port and the line says so: "1 probe to 1 name (per address; addresses not yet
//! known)".

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::fmt;
use std::time::Duration;

use crate::inventory::{Host, Inventory, LARGE_INVENTORY};
use crate::pool::Limits;

/// Size and worst-case duration of a scan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Probes after expansion and exclusion (a name counts one address).
    pub probes: u128,
    /// Probes skipped by excludes (before resolution).
    pub excluded: u128,
    /// Distinct hosts (addresses, and names as one each).
    pub hosts: u128,
    /// Of `probes`, those to names (one per port; each address a name resolves to gets them all).
    pub name_probes: u128,
    /// Of `hosts`, the names.
    pub names: u128,
    /// Concurrency after the per-host cap: min(concurrency, per_host × hosts).
    pub effective_concurrency: u128,
    /// Worst-case wall time.
    pub worst: Duration,
    /// `--timing`, and the longest fixed timeout it bounds waits by.
    pub timing: (crate::timing::Mode, Duration),
}

impl Plan {
    /// Compute the plan; iterates the probes only when excludes must be applied.
    pub fn of(inv: &Inventory, limits: &Limits) -> Plan {
        let Counts {
            probes,
            excluded,
            hosts,
            busiest,
            name_probes,
            names,
        } = if inv.probe_count() <= LARGE_INVENTORY {
            exact_counts(inv)
        } else {
            approximate_counts(inv)
        };
        // Saturating throughout: an estimate past Duration::MAX reads as "forever", not a panic.
        let tries = limits.retries.saturating_add(1);
        let per_probe = inv
            .targets
            .iter()
            .map(|t| {
                t.timeout
                    .saturating_mul(tries)
                    .saturating_add(window(t, &limits.services))
            })
            .max()
            .unwrap_or_default();
        // Auto timing: a short wait and its confirmation (under one timeout) may precede the
        // fixed-timeout recheck of an address whose answers came late.
        let per_probe = match limits.timing {
            crate::timing::Mode::Auto => {
                let longest = inv.targets.iter().map(|t| t.timeout).max();
                per_probe.saturating_add(longest.unwrap_or_default())
            }
            crate::timing::Mode::Fixed => per_probe,
        };
        let per_probe = per_probe.saturating_mul(limits.attempts).saturating_add(
            limits
                .attempt_gap
                .saturating_mul(limits.attempts.saturating_sub(1)),
        );
        let conc = limits.concurrency.max(1) as u128;
        let per = limits.per_host.max(1) as u128;
        let effective = conc.min(per.saturating_mul(hosts.max(1)));
        let waves = |n: u128, width: u128| n.div_ceil(width.max(1));
        let mut worst = mul(per_probe, waves(probes, effective));
        worst = worst.max(mul(per_probe, waves(busiest, per)));
        if let (Some(rate), true) = (limits.rate, probes > 0) {
            // The last probe starts (probes - 1) / rate after the first, then takes its time.
            let spread =
                Duration::try_from_secs_f64((probes - 1) as f64 / rate).unwrap_or(Duration::MAX);
            worst = worst.max(spread.saturating_add(per_probe));
        }
        let longest = inv.targets.iter().map(|t| t.timeout).max();
        Plan {
            probes,
            excluded,
            hosts,
            name_probes,
            names,
            effective_concurrency: effective,
            worst,
            timing: (limits.timing, longest.unwrap_or_default()),
        }
    }
}

/// Walk the (sharded) probes once: kept, excluded, distinct hosts, probes on the busiest host.
/// Past this many distinct hosts the walk stops tracking them (memory would grow with a large
/// CIDR sweep) and the host figures are approximated; the probe counts stay exact.
const HOSTS_TRACKED: usize = 1 << 16;

/// What one walk (or estimate) of the probes found.
#[derive(Default)]
struct Counts {
    probes: u128,
    excluded: u128,
    hosts: u128,
    busiest: u128,
    name_probes: u128,
    names: u128,
}

fn exact_counts(inv: &Inventory) -> Counts {
    let mut per_host: HashMap<HostKey, u128> = HashMap::new();
    let mut names: HashSet<&str> = HashSet::new();
    let (mut c, mut overflow) = (Counts::default(), false);
    for p in inv.probes() {
        if inv.excludes.probe(&p) {
            c.excluded += 1;
            continue;
        }
        c.probes += 1;
        if overflow {
            continue;
        }
        let key = match (p.addr, &p.target.host) {
            (Some(a), _) => HostKey::Addr(a),
            (None, Host::Name(n)) => HostKey::Name(n.clone()),
            (None, h) => HostKey::Name(h.to_string()),
        };
        if per_host.len() >= HOSTS_TRACKED && !per_host.contains_key(&key) {
            overflow = true;
            per_host = HashMap::new();
            continue;
        }
        *per_host.entry(key).or_default() += 1;
    }
    // Names are few next to their probes: count them per target, not per probe.
    for t in inv.targets.iter().filter(|t| inv.in_shard(t)) {
        if let Host::Name(n) = &t.host {
            if !inv.excludes.name(n) {
                c.name_probes += inv.probes_in_shard(t);
                names.insert(n.as_str());
            }
        }
    }
    c.names = names.len() as u128;
    if overflow {
        let approx = approximate_counts(inv);
        return Counts {
            hosts: approx.hosts,
            busiest: approx.busiest,
            ..c
        };
    }
    c.busiest = per_host.values().copied().max().unwrap_or(0);
    c.hosts = per_host.len() as u128;
    c
}

/// For inventories too large to walk: hosts by address count per distinct host entry.
fn approximate_counts(inv: &Inventory) -> Counts {
    let mut per_host: HashMap<&Host, u128> = HashMap::new();
    let mut c = Counts::default();
    for t in &inv.targets {
        *per_host.entry(&t.host).or_default() += u128::from(t.ports.len());
        if matches!(t.host, Host::Name(_)) {
            c.name_probes += inv.probes_in_shard(t);
        }
    }
    c.hosts = per_host
        .keys()
        .map(|h| h.address_count())
        .fold(0, u128::saturating_add);
    c.names = per_host
        .keys()
        .filter(|h| matches!(h, Host::Name(_)))
        .count() as u128;
    c.busiest = per_host.values().copied().max().unwrap_or(0);
    c.probes = inv.probe_count();
    c
}

#[derive(PartialEq, Eq, Hash)]
enum HostKey {
    Addr(std::net::IpAddr),
    Name(String),
}

fn mul(d: Duration, n: u128) -> Duration {
    d.checked_mul(u32::try_from(n).unwrap_or(u32::MAX))
        .unwrap_or(Duration::MAX)
}

/// The longest a connected probe of `t` can take after the handshake: its linger, or the
/// greeting window (plus the goodbye) when one of its ports speaks a service.
fn window(t: &crate::inventory::Target, policy: &crate::service::policy::Policy) -> Duration {
    let speaks = |port: u16| {
        policy.plan(t.service, t.hello, port, t.linger).style
            == crate::service::policy::Style::Service
    };
    let any_service = match t.service {
        Some(_) => speaks(0),
        None => crate::service::WELL_KNOWN.iter().any(|(p, _)| {
            t.ports
                .ranges()
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(p))
                && speaks(*p)
        }),
    };
    match policy.style {
        crate::service::policy::Style::Connect => Duration::ZERO,
        _ if any_service => t
            .linger
            .max(policy.greeting_wait)
            .saturating_add(crate::probe::GOODBYE_WAIT),
        _ => t.linger,
    }
}

/// `1 probe`, `2 probes`.
fn count(n: u128, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (addr_probes, addr_hosts) = (
            self.probes.saturating_sub(self.name_probes),
            self.hosts.saturating_sub(self.names),
        );
        if addr_probes > 0 || self.name_probes == 0 {
            write!(
                f,
                "{} to {}",
                count(addr_probes, "probe", "probes"),
                count(addr_hosts, "host", "hosts")
            )?;
            if self.name_probes > 0 {
                f.write_str(" and ")?;
            }
        }
        if self.name_probes > 0 {
            write!(
                f,
                "{} to {} (per address; addresses not yet known)",
                count(self.name_probes, "probe", "probes"),
                count(self.names, "name", "names")
            )?;
        }
        if self.excluded > 0 {
            write!(f, " ({} excluded)", self.excluded)?;
        }
        // Round up: an estimate that reads shorter than the scan is worse than none.
        let secs = Duration::from_secs(self.worst.as_secs_f64().ceil() as u64);
        write!(
            f,
            "; effective concurrency {}; worst case {} (every probe timing out)",
            self.effective_concurrency,
            crate::report::units::fmt_duration(secs)
        )?;
        match self.timing {
            (crate::timing::Mode::Fixed, _) => Ok(()),
            (mode, fixed) => write!(f, "; {}", crate::timing::explain(mode, fixed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Overrides;

    #[test]
    fn worst_case_is_waves_of_timeout_plus_linger() {
        let mut inv = Inventory::default();
        inv.add_text(
            "p.yaml",
            "defaults: {timeout: 1s, linger: 0}\ntargets:\n  - {host: 127.0.0.1, ports: \"1-3000\"}\n",
            Overrides::default(),
        )
        .unwrap();
        let limits = Limits {
            concurrency: 1000,
            per_host: 1000,
            retries: 0,
            timing: crate::timing::Mode::Fixed,
            ..Limits::default()
        };
        let p = Plan::of(&inv, &limits);
        assert_eq!(p.probes, 3000);
        assert_eq!(p.hosts, 1);
        assert_eq!(p.worst, Duration::from_secs(3));
        // Auto timing adds one timeout per wave: a short-wait `filtered` may be rechecked.
        let auto = Limits {
            timing: crate::timing::Mode::Auto,
            ..limits
        };
        assert_eq!(Plan::of(&inv, &auto).worst, Duration::from_secs(6));
        // The per-host cap bounds a one-host sweep.
        let capped = Plan::of(
            &inv,
            &Limits {
                per_host: 100,
                ..limits
            },
        );
        assert_eq!(capped.worst, Duration::from_secs(30));
        // Retries double the timeout part; a rate limit can dominate.
        let slow = Plan::of(
            &inv,
            &Limits {
                retries: 1,
                rate: Some(10.0),
                ..limits
            },
        );
        assert_eq!(slow.worst, Duration::from_millis(299_900 + 2_000));
        inv.excludes.add("127.0.0.1").unwrap();
        let none = Plan::of(&inv, &limits);
        assert_eq!((none.probes, none.excluded), (0, 3000));
    }

    #[test]
    fn large_sweeps_stop_tracking_hosts_but_count_probes_exactly() {
        let mut inv = Inventory::default();
        inv.add_text(
            "big.yaml",
            "targets:\n  - {host: 127.0.0.0/14, port: 80}\n",
            Overrides::default(),
        )
        .unwrap();
        inv.excludes.add("127.1.0.0/16").unwrap();
        let p = Plan::of(&inv, &Limits::default());
        assert_eq!(p.excluded, 65_536);
        assert_eq!(p.probes, 262_142 - 65_536);
        assert_eq!(
            p.hosts, 262_142,
            "approximated from the address count once past the cap"
        );
    }
}
