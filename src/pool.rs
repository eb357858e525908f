//! The bounded probe pool: decides when and how many probes run.
//!
//! A dispatcher pulls probes lazily from the inventory iterator. For each address it takes a
//! per-address permit and a global permit *before* spawning the probe as its own task (holding
//! the permits is the backpressure), waits for the rate limiter, and spawns. Each task sends its
//! record to the one collector over a bounded channel. A slow collector therefore only delays
//! the *start* of new probes; it never stalls a running probe's timers (as polling futures
//! through `buffer_unordered` on the output path would, faking timeouts).
//!
//! Probes come in phases: positive controls first, and the next phase starts only when every
//! probe of the previous one has reported, so the collector knows whether the scanner itself can
//! reach anything before it sees a single "blocked" verdict.
//!
//! A name is resolved off the dispatch path: its probes are parked until its lookup answers, so
//! address targets never wait behind a slow resolver.
//!
//! When `shutdown` fires, the dispatcher stops launching, and in-flight probes end at once as
//! `interrupted`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::inventory::{Excludes, Host, Probes, Target};
use crate::probe::{self, Outcome};
use crate::record::{Record, RunMeta};
use crate::resolve::{Resolution, Resolver};
use crate::shutdown::Shutdown;
use crate::verdict::Verdict;

/// Per-address semaphores kept before idle ones are pruned.
const PRUNE_AT: usize = 4096;

/// Pool limits and probe policy.
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
    /// Independent attempts per probe whose majority is the verdict (`--attempts`).
    pub attempts: u32,
    /// Pause between those attempts.
    pub attempt_gap: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            concurrency: 1024,
            per_host: 256,
            rate: None,
            retries: 1,
            dns_concurrency: 8,
            attempts: 1,
            attempt_gap: Duration::from_millis(200),
        }
    }
}

/// What the pool counted besides the records it sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolStats {
    /// Probes skipped by `--exclude` / `exclude:` (resolved addresses included).
    pub excluded: u64,
}

/// Everything one pool run needs besides the probes.
pub struct PoolRun {
    /// Names to start resolving at once (deduplicated).
    pub names: Vec<String>,
    /// Limits and policy.
    pub limits: Limits,
    /// Copied into every record.
    pub meta: RunMeta,
    /// Skipped addresses and names.
    pub excludes: Arc<Excludes>,
}

/// Run `phases` in order; records arrive on `tx`. Returns when every launched probe has
/// finished (the channel closes when the last sender drops).
pub async fn run(
    phases: Vec<Probes>,
    run: PoolRun,
    shutdown: Shutdown,
    tx: mpsc::Sender<Record>,
) -> PoolStats {
    let resolver = Resolver::new(run.limits.dns_concurrency);
    for n in &run.names {
        if !run.excludes.name(n) {
            resolver.prefetch(n);
        }
    }
    let mut d = Dispatcher {
        global: Arc::new(Semaphore::new(run.limits.concurrency.max(1))),
        per_host: HashMap::new(),
        prune_at: PRUNE_AT,
        limits: run.limits,
        meta: run.meta,
        excludes: run.excludes,
        next_slot: Instant::now(),
        shutdown,
        tx,
        stats: PoolStats::default(),
        pending: Vec::new(),
        track: false,
    };
    let n = phases.len();
    for (i, phase) in phases.into_iter().enumerate() {
        d.track = i + 1 < n;
        d.dispatch(phase, &resolver).await;
        for h in std::mem::take(&mut d.pending) {
            let _ = h.await;
        }
    }
    d.stats
}

struct Dispatcher {
    global: Arc<Semaphore>,
    per_host: HashMap<IpAddr, Arc<Semaphore>>,
    /// Size of `per_host` at which idle entries are dropped.
    prune_at: usize,
    limits: Limits,
    meta: RunMeta,
    excludes: Arc<Excludes>,
    next_slot: Instant,
    shutdown: Shutdown,
    tx: mpsc::Sender<Record>,
    stats: PoolStats,
    /// Tasks of the current phase, kept only when a later phase must wait for them.
    pending: Vec<JoinHandle<()>>,
    track: bool,
}

impl Dispatcher {
    /// Launch every probe of `probes`. A name's probes wait for its lookup *off* the dispatch
    /// path: they are parked under the name while one task awaits the resolver, so address
    /// targets behind a slow or hung lookup are launched at once (a resolver that hangs for
    /// seconds must not delay an IP target). Returns when every probe has been launched (or
    /// answered by its name's failure), or at shutdown.
    async fn dispatch(&mut self, probes: Probes, resolver: &Arc<Resolver>) {
        let (rtx, mut rrx) = mpsc::unbounded_channel::<(String, Arc<Resolution>)>();
        let mut parked: HashMap<String, Vec<(Arc<Target>, u16)>> = HashMap::new();
        let mut known: HashMap<String, Arc<Resolution>> = HashMap::new();
        for p in probes {
            if self.shutdown.is_set() {
                return;
            }
            while let Ok((name, res)) = rrx.try_recv() {
                self.unpark(&name, &res, &mut parked).await;
                known.insert(name, res);
            }
            match (&p.target.host, p.addr) {
                (_, Some(addr)) => self.launch(&p.target, addr, p.port).await,
                (Host::Name(name), None) => {
                    if self.excludes.name(name) {
                        self.stats.excluded += 1;
                    } else if let Some(res) = known.get(name) {
                        let res = res.clone();
                        self.launch_resolved(&p.target, p.port, &res).await;
                    } else if let Some(queue) = parked.get_mut(name) {
                        queue.push((p.target.clone(), p.port));
                    } else {
                        parked.insert(name.clone(), vec![(p.target.clone(), p.port)]);
                        let (r, tx, n) = (resolver.clone(), rtx.clone(), name.clone());
                        tokio::spawn(async move {
                            let res = r.resolve(&n).await;
                            let _ = tx.send((n, res));
                        });
                    }
                }
                (_, None) => {}
            }
        }
        while !parked.is_empty() {
            let mut sd = self.shutdown.clone();
            let (name, res) = tokio::select! {
                r = rrx.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
                () = sd.wait() => return,
            };
            self.unpark(&name, &res, &mut parked).await;
        }
    }

    /// A name's lookup finished: launch (or answer) the probes parked under it.
    async fn unpark(
        &mut self,
        name: &str,
        res: &Resolution,
        parked: &mut HashMap<String, Vec<(Arc<Target>, u16)>>,
    ) {
        for (target, port) in parked.remove(name).unwrap_or_default() {
            if self.shutdown.is_set() {
                return;
            }
            self.launch_resolved(&target, port, res).await;
        }
    }

    /// One name probe whose lookup is known: a probe per address, or the lookup's failure.
    async fn launch_resolved(&mut self, target: &Arc<Target>, port: u16, res: &Resolution) {
        match res {
            Resolution::Addrs(addrs) => {
                for a in addrs {
                    self.launch(target, *a, port).await;
                }
            }
            Resolution::Failed { code, detail } => {
                self.emit(target, port, Verdict::DnsError, code, detail)
                    .await;
            }
            Resolution::Local { code, detail } => {
                self.emit(target, port, Verdict::LocalError, code, detail)
                    .await;
            }
        }
    }

    async fn acquire(&self, sem: Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
        let mut sd = self.shutdown.clone();
        tokio::select! {
            p = sem.acquire_owned() => p.ok(),
            () = sd.wait() => None,
        }
    }

    async fn launch(&mut self, target: &Arc<Target>, addr: IpAddr, port: u16) {
        if self.excludes.ip(addr) {
            self.stats.excluded += 1;
            return;
        }
        let per = self.limits.per_host.max(1);
        if self.per_host.len() >= self.prune_at {
            // Forget idle hosts (every permit back) so a sweep over a large CIDR does not keep
            // one semaphore per address it has ever probed.
            self.per_host.retain(|_, s| s.available_permits() < per);
            self.prune_at = (2 * self.per_host.len()).max(PRUNE_AT);
        }
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
            attempts: self.limits.attempts,
            attempt_gap: self.limits.attempt_gap,
        };
        let (target, tx, sd, meta) = (
            target.clone(),
            self.tx.clone(),
            self.shutdown.clone(),
            self.meta.clone(),
        );
        let handle = tokio::spawn(async move {
            let outcome = probe::probe(SocketAddr::new(addr, port), settings, sd).await;
            let _ = tx
                .send(Record::new(&target, Some(addr), port, outcome, &meta))
                .await;
            // Only now: a slow collector must hold back new probes, not pile up finished ones.
            drop((permit, host_permit));
        });
        if self.track {
            self.pending.push(handle);
        }
    }

    async fn emit(&self, target: &Target, port: u16, verdict: Verdict, code: &str, detail: &str) {
        let o = Outcome::without_connect(verdict, Some(code.to_string()), detail.to_string());
        let _ = self
            .tx
            .send(Record::new(target, None, port, o, &self.meta))
            .await;
    }
}
