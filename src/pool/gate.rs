//! The gate every probe of a scan passes before it may connect: the address:port's one permit
//! (never two probes in flight to one address:port: records that share one wait for each
//! other, so a service's per-client slots — sshd `MaxStartups`, vsftpd `max_per_ip` — are never
//! filled by the scan itself), a global permit, a per-address permit and a slot from the rate
//! limiter. The dispatcher and the run-level checks (the
//! wildcard probe) share one gate, so no connect of a scan escapes `-c`, `--per-host` or
//! `--rate`.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

// foldhash, not SipHash: the keys are the user's own targets, so flood resistance buys nothing
// and SipHash was ~3 % of a 30,000-probe scan's user time.
use foldhash::{HashMap, HashMapExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::Limits;
use crate::shutdown::Shutdown;

/// Semaphores kept (per address, per address:port) before idle ones are first pruned; after a
/// prune the next one comes at twice the entries left, so a map holds at most about twice the
/// probes in flight (each prune is paid for by as many new entries). An address:port's entry
/// is normally removed as its permit comes back ([`PortPermit`]), so that map stays at the
/// probes in flight and waiting; its prune only catches entries whose waiter gave up (shutdown).
const PRUNE_AT: usize = 256;

/// Permits held by one probe; dropping it gives them back.
pub struct Admission {
    _port: PortPermit,
    _host: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

/// The address:port's one permit. Dropped, it gives the permit back and removes the
/// address:port's semaphore from the map when nobody else holds or waits for it: every clone of
/// a map entry is taken under the map's lock, so a count of one (the map's own) under that lock
/// means no probe holds or waits, and the next probe of that address:port makes a fresh one.
struct PortPermit {
    permit: Option<OwnedSemaphorePermit>,
    map: Arc<Mutex<PerPort>>,
    to: SocketAddr,
}

impl Drop for PortPermit {
    fn drop(&mut self) {
        let mut pp = self.map.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.permit.take());
        if pp
            .map
            .get(&self.to)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            pp.map.remove(&self.to);
        }
    }
}

/// Limits shared by every connect of one scan.
pub struct Gate {
    global: Arc<Semaphore>,
    per_host: Mutex<PerHost>,
    per_port: Arc<Mutex<PerPort>>,
    per: usize,
    /// Seconds between connects (`--rate`), and the next free slot.
    rate: Option<(Duration, Mutex<Instant>)>,
}

struct PerHost {
    map: HashMap<IpAddr, Arc<Semaphore>>,
    /// Size of `map` at which idle entries are dropped.
    prune_at: usize,
}

struct PerPort {
    map: HashMap<SocketAddr, Arc<Semaphore>>,
    /// Size of `map` at which idle entries are dropped.
    prune_at: usize,
}

impl Gate {
    /// A gate for `limits` (concurrency already clamped to the fd budget).
    pub fn new(limits: &Limits) -> Arc<Gate> {
        Arc::new(Gate {
            global: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            per_host: Mutex::new(PerHost {
                map: HashMap::new(),
                prune_at: PRUNE_AT,
            }),
            per_port: Arc::new(Mutex::new(PerPort {
                map: HashMap::new(),
                prune_at: PRUNE_AT,
            })),
            per: limits.per_host.max(1),
            rate: limits
                .rate
                .map(|r| (Duration::from_secs_f64(1.0 / r), Mutex::new(Instant::now()))),
        })
    }

    /// Wait for the address:port's permit, a per-address permit, a global permit and a rate
    /// slot, in that order (so one busy address never holds global permits it cannot use);
    /// `None` once `shutdown` fires.
    pub async fn admit(&self, to: SocketAddr, shutdown: &Shutdown) -> Option<Admission> {
        let port = PortPermit {
            permit: Some(acquire(self.port_semaphore(to), shutdown).await?),
            map: self.per_port.clone(),
            to,
        };
        let host = acquire(self.host_semaphore(to.ip()), shutdown).await?;
        let global = acquire(self.global.clone(), shutdown).await?;
        if let Some((gap, next)) = &self.rate {
            let slot = {
                let mut next = next.lock().unwrap_or_else(|p| p.into_inner());
                let slot = (*next).max(Instant::now());
                *next = slot + *gap;
                slot
            };
            let mut sd = shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep_until(slot) => {}
                () = sd.wait() => return None,
            }
        }
        Some(Admission {
            _port: port,
            _host: host,
            _global: global,
        })
    }

    fn host_semaphore(&self, addr: IpAddr) -> Arc<Semaphore> {
        let mut ph = self.per_host.lock().unwrap_or_else(|p| p.into_inner());
        if ph.map.len() >= ph.prune_at {
            // Forget idle hosts (every permit back) so a sweep over a large CIDR does not keep
            // one semaphore per address it has ever probed.
            let per = self.per;
            ph.map.retain(|_, s| s.available_permits() < per);
            ph.prune_at = (2 * ph.map.len()).max(PRUNE_AT);
        }
        ph.map
            .entry(addr)
            .or_insert_with(|| Arc::new(Semaphore::new(self.per)))
            .clone()
    }
}

impl Gate {
    fn port_semaphore(&self, to: SocketAddr) -> Arc<Semaphore> {
        let mut pp = self.per_port.lock().unwrap_or_else(|p| p.into_inner());
        if pp.map.len() >= pp.prune_at {
            // Forget address:ports with no probe in flight (as for hosts).
            pp.map.retain(|_, s| s.available_permits() == 0);
            pp.prune_at = (2 * pp.map.len()).max(PRUNE_AT);
        }
        pp.map
            .entry(to)
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }
}

async fn acquire(sem: Arc<Semaphore>, shutdown: &Shutdown) -> Option<OwnedSemaphorePermit> {
    let mut sd = shutdown.clone();
    tokio::select! {
        p = sem.acquire_owned() => p.ok(),
        () = sd.wait() => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> Arc<Gate> {
        Gate::new(&Limits {
            concurrency: 8,
            per_host: 8,
            rate: None,
            retries: 0,
            dns_concurrency: 1,
            attempts: 1,
            attempt_gap: Duration::ZERO,
            services: crate::service::policy::Policy::default(),
            source: None,
            timing: crate::timing::Mode::Fixed,
        })
    }

    fn ports(g: &Gate) -> usize {
        g.per_port.lock().map(|p| p.map.len()).unwrap_or(usize::MAX)
    }

    #[tokio::test]
    async fn one_probe_per_address_port_and_none_remembered_after() {
        let g = gate();
        let (_t, sd) = crate::shutdown::channel();
        let to: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let first = g.admit(to, &sd).await.expect("admitted");
        let other = g.admit("127.0.0.1:81".parse().unwrap(), &sd).await;
        assert!(other.is_some());
        let second = g.admit(to, &sd);
        tokio::pin!(second);
        assert!(
            futures::poll!(&mut second).is_pending(),
            "two probes of {to} at once"
        );
        drop(first);
        let second = second.await.expect("admitted after the first");
        // The waiter held the entry: it was kept, and is the one in use.
        assert_eq!(ports(&g), 2);
        drop(second);
        drop(other);
        assert_eq!(ports(&g), 0, "idle address:ports are forgotten at once");
    }
}
