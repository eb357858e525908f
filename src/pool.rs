//! The bounded probe pool: decides when and how many probes run.
//!
//! A dispatcher pulls probes lazily from the inventory iterator. For each address it takes a
//! per-address permit and a global permit *before* spawning the probe as its own task (holding
//! the permits is the backpressure), waits for the rate limiter, and spawns. Each task sends its
//! record to the one collector over a bounded channel. A slow collector therefore only delays
//! the *start* of new probes; it never stalls a running probe's timers (as polling futures
//! through `buffer_unordered` on the output path would, faking timeouts).
//!
//! When `shutdown` fires, the dispatcher stops launching, and in-flight probes end at once as
//! `interrupted`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;

use crate::inventory::{Host, Probe, Target};
use crate::probe::{self, Outcome};
use crate::record::Record;
use crate::resolve::{Resolution, Resolver};
use crate::shutdown::Shutdown;
use crate::verdict::Verdict;

/// Pool limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Probes in flight at once (already clamped to the fd budget).
    pub concurrency: usize,
    /// Probes in flight per address.
    pub per_host: usize,
    /// New connects per second; None = unlimited.
    pub rate: Option<f64>,
    /// Extra attempts for `filtered`/`local-error`.
    pub retries: u32,
    /// Concurrent name lookups.
    pub dns_concurrency: usize,
}

/// Start the pool; records arrive on `tx`. Returns when every launched probe has finished
/// (the channel closes when the last sender drops).
pub async fn run(
    probes: impl Iterator<Item = Probe> + Send + 'static,
    names: Vec<String>,
    limits: Limits,
    shutdown: Shutdown,
    tx: mpsc::Sender<Record>,
) {
    let resolver = Resolver::new(limits.dns_concurrency);
    for n in &names {
        resolver.prefetch(n);
    }
    let mut d = Dispatcher {
        global: Arc::new(Semaphore::new(limits.concurrency.max(1))),
        per_host: HashMap::new(),
        limits,
        next_slot: Instant::now(),
        shutdown,
        tx,
    };
    for p in probes {
        if d.shutdown.is_set() {
            break;
        }
        match (&p.target.host, p.addr) {
            (_, Some(addr)) => d.launch(&p.target, addr, p.port).await,
            (Host::Name(name), None) => {
                let mut sd = d.shutdown.clone();
                let res = tokio::select! {
                    r = resolver.resolve(name) => r,
                    () = sd.wait() => break,
                };
                match &*res {
                    Resolution::Addrs(addrs) => {
                        for a in addrs {
                            d.launch(&p.target, *a, p.port).await;
                        }
                    }
                    Resolution::Failed { code, detail } => {
                        d.emit(&p.target, p.port, Verdict::DnsError, code, detail)
                            .await;
                    }
                    Resolution::Local { code, detail } => {
                        d.emit(&p.target, p.port, Verdict::LocalError, code, detail)
                            .await;
                    }
                }
            }
            (_, None) => {}
        }
    }
}

struct Dispatcher {
    global: Arc<Semaphore>,
    per_host: HashMap<IpAddr, Arc<Semaphore>>,
    limits: Limits,
    next_slot: Instant,
    shutdown: Shutdown,
    tx: mpsc::Sender<Record>,
}

impl Dispatcher {
    async fn acquire(&self, sem: Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
        let mut sd = self.shutdown.clone();
        tokio::select! {
            p = sem.acquire_owned() => p.ok(),
            () = sd.wait() => None,
        }
    }

    async fn launch(&mut self, target: &Arc<Target>, addr: IpAddr, port: u16) {
        let per = self.limits.per_host.max(1);
        let host_sem = self
            .per_host
            .entry(addr)
            .or_insert_with(|| Arc::new(Semaphore::new(per)))
            .clone();
        let Some(host_permit) = self.acquire(host_sem).await else {
            return;
        };
        let Some(permit) = self.acquire(self.global.clone()).await else {
            return;
        };
        if let Some(rate) = self.limits.rate {
            let now = Instant::now();
            if self.next_slot > now {
                let mut sd = self.shutdown.clone();
                tokio::select! {
                    () = tokio::time::sleep_until(self.next_slot) => {}
                    () = sd.wait() => return,
                }
            }
            self.next_slot = self.next_slot.max(now) + Duration::from_secs_f64(1.0 / rate);
        }
        let settings = probe::Settings {
            timeout: target.timeout,
            linger: target.linger,
            retries: self.limits.retries,
        };
        let (target, tx, sd) = (target.clone(), self.tx.clone(), self.shutdown.clone());
        tokio::spawn(async move {
            let outcome = probe::probe(SocketAddr::new(addr, port), settings, sd).await;
            drop((permit, host_permit));
            let _ = tx
                .send(Record::new(&target, Some(addr), port, outcome))
                .await;
        });
    }

    async fn emit(&self, target: &Target, port: u16, verdict: Verdict, code: &str, detail: &str) {
        let o = Outcome::without_connect(verdict, Some(code.to_string()), detail.to_string());
        let _ = self.tx.send(Record::new(target, None, port, o)).await;
    }
}
