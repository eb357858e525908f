//! The gate every probe of a scan passes before it may connect: a global permit, a per-address
//! permit and a slot from the rate limiter. The dispatcher and the run-level checks (the
//! wildcard probe) share one gate, so no connect of a scan escapes `-c`, `--per-host` or
//! `--rate`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::Limits;
use crate::shutdown::Shutdown;

/// Per-address semaphores kept before idle ones are pruned.
const PRUNE_AT: usize = 4096;

/// Permits held by one probe; dropping it gives them back.
pub struct Admission {
    _host: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

/// Limits shared by every connect of one scan.
pub struct Gate {
    global: Arc<Semaphore>,
    per_host: Mutex<PerHost>,
    per: usize,
    /// Seconds between connects (`--rate`), and the next free slot.
    rate: Option<(Duration, Mutex<Instant>)>,
}

struct PerHost {
    map: HashMap<IpAddr, Arc<Semaphore>>,
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
            per: limits.per_host.max(1),
            rate: limits
                .rate
                .map(|r| (Duration::from_secs_f64(1.0 / r), Mutex::new(Instant::now()))),
        })
    }

    /// Wait for a per-address permit, a global permit and a rate slot, in that order (so one
    /// busy address never holds global permits it cannot use); `None` once `shutdown` fires.
    pub async fn admit(&self, addr: IpAddr, shutdown: &Shutdown) -> Option<Admission> {
        let host = acquire(self.host_semaphore(addr), shutdown).await?;
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

async fn acquire(sem: Arc<Semaphore>, shutdown: &Shutdown) -> Option<OwnedSemaphorePermit> {
    let mut sd = shutdown.clone();
    tokio::select! {
        p = sem.acquire_owned() => p.ok(),
        () = sd.wait() => None,
    }
}
