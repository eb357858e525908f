//! The bounded probe pool: decides when and how many probes run.
//!
//! A dispatcher pulls probes lazily from the inventory iterator. For each address it passes the
//! [`Gate`] — a per-address permit, a global permit, a rate slot — *before* spawning the probe as
//! its own task (holding the permits is the backpressure). Each task sends its
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
//! With `--timing auto` the run shares one [`Clock`] between its probes. A `filtered` decided on
//! a short wait is held back ([`hold`]): when its address's answers turn out to come late it is
//! probed again at the fixed timeout — as soon as the dispatcher sees the late mark, or at the
//! end — and otherwise sent as it is once every probe has finished (or when too many are held).
//!
//! When `shutdown` fires, the dispatcher stops launching, and in-flight probes end at once as
//! `interrupted` (held verdicts are then sent as measured).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::inventory::{Excludes, Host, Probe, Target};
use crate::probe::{self, Outcome};
use crate::record::{Record, RunMeta};
use crate::resolve::{Resolution, Resolver};
use crate::shutdown::Shutdown;
use crate::timing::{self, Clock, Timing};
use crate::verdict::Verdict;

mod gate;
mod hold;

pub use gate::{Admission, Gate};
use hold::{Due, Held, Holding, rechecked};

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
    /// How probes speak to services (`--style`, `--hello`, ...).
    pub services: crate::service::policy::Policy,
    /// `--source`: the local address every probe binds to, unless its target has `source:`.
    pub source: Option<IpAddr>,
    /// `--timing`: how connect waits are chosen.
    pub timing: timing::Mode,
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
    /// The permits and rate slots every connect of the scan passes (shared with the wildcard
    /// check).
    pub gate: Arc<Gate>,
}

/// Run `phases` in order; records arrive on `tx`. Returns when every launched probe has
/// finished (the channel closes when the last sender drops).
pub async fn run<P: IntoIterator<Item = Probe>>(
    phases: Vec<P>,
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
    let timing = match run.limits.timing {
        timing::Mode::Fixed => Timing::Fixed,
        timing::Mode::Auto => Timing::Auto(Arc::new(Clock::new())),
    };
    let (held, holding) = match timing {
        Timing::Fixed => (None, None),
        _ => {
            let (t, h) = Holding::new();
            (Some(t), Some(h))
        }
    };
    let mut d = Dispatcher {
        timing,
        held,
        holding,
        gate: run.gate,
        limits: run.limits,
        meta: run.meta,
        excludes: run.excludes,
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
    d.held = None;
    d.sweep().await;
    d.stats
}

struct Dispatcher {
    /// How probes are timed (one clock for the whole run in auto mode).
    timing: Timing,
    /// Where probes send a provisional `filtered` (auto mode; None once dispatch is over).
    held: Option<mpsc::UnboundedSender<Held>>,
    /// The provisional verdicts held back (auto mode).
    holding: Option<Holding>,
    gate: Arc<Gate>,
    limits: Limits,
    meta: RunMeta,
    excludes: Arc<Excludes>,
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
    async fn dispatch(
        &mut self,
        probes: impl IntoIterator<Item = Probe>,
        resolver: &Arc<Resolver>,
    ) {
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

    async fn launch(&mut self, target: &Arc<Target>, addr: IpAddr, port: u16) {
        if self.excludes.ip(addr) {
            self.stats.excluded += 1;
            return;
        }
        self.look_at_held().await;
        let timing = self.timing.clone();
        self.spawn(target, addr, port, timing, None).await;
    }

    /// Recheck the held verdicts whose address has turned late, and send the oldest when too
    /// many are held.
    async fn look_at_held(&mut self) {
        let (Some(h), Timing::Auto(clock)) = (self.holding.as_mut(), &self.timing) else {
            return;
        };
        let clock = clock.clone();
        let due = h.look(&clock);
        self.act_on(due, &clock).await;
    }

    async fn act_on(&mut self, due: Due, clock: &Arc<Clock>) {
        for h in due.release {
            let (target, addr, port, o) = h.into_final();
            let _ = self
                .tx
                .send(Record::new(&target, Some(addr), port, o, &self.meta))
                .await;
        }
        for h in due.recheck {
            let timing = Timing::Recheck(clock.clone());
            self.spawn(&h.target, h.addr, h.port, timing, Some(h.outcome))
                .await;
        }
    }

    /// Pass the gate, then run one probe as its own task. `prior` is the held outcome a
    /// recheck replaces.
    async fn spawn(
        &mut self,
        target: &Arc<Target>,
        addr: IpAddr,
        port: u16,
        timing: Timing,
        prior: Option<Outcome>,
    ) {
        let warm = match &timing {
            Timing::Auto(c) => {
                let mut sd = self.shutdown.clone();
                tokio::select! {
                    p = c.warm_up() => p,
                    () = sd.wait() => return,
                }
            }
            _ => None,
        };
        let Some(admission) = self
            .gate
            .admit(SocketAddr::new(addr, port), &self.shutdown)
            .await
        else {
            // Interrupted before a recheck could start: the held verdict goes out as measured.
            if let Some(mut o) = prior {
                o.provisional = false;
                let _ = self
                    .tx
                    .send(Record::new(target, Some(addr), port, o, &self.meta))
                    .await;
            }
            return;
        };
        let plan = self
            .limits
            .services
            .plan(target.service, target.hello, port, target.linger);
        let settings = probe::Settings {
            timeout: target.timeout,
            linger: target.linger,
            // A recheck's one full wait (the kernel resends its SYN within it) follows two SYNs
            // already unanswered: as many as a fixed probe with its retry sends.
            retries: match timing {
                Timing::Recheck(_) => 0,
                _ => self.limits.retries,
            },
            attempts: self.limits.attempts,
            attempt_gap: self.limits.attempt_gap,
            plan,
            // HTTP `Host:` and TLS server name: the name as written, else the address probed.
            host: match &target.host {
                crate::inventory::Host::Ip(_) | crate::inventory::Host::Net(_) if plan.hello => {
                    Arc::from(addr.to_string())
                }
                _ => target.host_label.clone(),
            },
            source: target.source.or(self.limits.source),
            timing,
        };
        let (target, tx, sd, meta) = (
            target.clone(),
            self.tx.clone(),
            self.shutdown.clone(),
            self.meta.clone(),
        );
        let held = self.held.clone();
        let handle = tokio::spawn(async move {
            let sa = SocketAddr::new(addr, port);
            let mut outcome = probe::probe(sa, &settings, sd.clone()).await;
            if let Some(prior) = prior {
                outcome = rechecked(prior, outcome);
            }
            // The address is late already: probe again now rather than hold it.
            match &settings.timing {
                Timing::Auto(c) if outcome.provisional && c.is_late(addr) => {
                    let again = probe::Settings {
                        timing: Timing::Recheck(c.clone()),
                        retries: 0,
                        ..settings.clone()
                    };
                    outcome = rechecked(outcome, probe::probe(sa, &again, sd).await);
                }
                _ => {}
            }
            if let (true, Some(h)) = (outcome.provisional, &held) {
                let target = target.clone();
                match h.send(Held {
                    target,
                    addr,
                    port,
                    outcome,
                }) {
                    Ok(()) => return,
                    Err(e) => outcome = e.0.outcome,
                }
            }
            let _ = tx
                .send(Record::new(&target, Some(addr), port, outcome, &meta))
                .await;
            // Only now: a slow collector must hold back new probes, not pile up finished ones.
            drop(admission);
            drop(warm);
        });
        if self.track {
            self.pending.push(handle);
        }
    }

    /// Every probe has finished: probe the held `filtered` of late addresses again at the fixed
    /// timeout, send the others as they are (all of them as measured after an interrupt).
    async fn sweep(&mut self) {
        let (Some(h), Timing::Auto(clock)) = (self.holding.take(), self.timing.clone()) else {
            return;
        };
        let mut due = Due::default();
        for h in h.drain().await {
            if self.shutdown.is_set() || !clock.is_late(h.addr) {
                due.release.push(h);
            } else {
                due.recheck.push(h);
            }
        }
        self.act_on(due, &clock).await;
    }

    async fn emit(&self, target: &Target, port: u16, verdict: Verdict, code: &str, detail: &str) {
        let o = Outcome::without_connect(verdict, Some(code.to_string()), detail.to_string());
        let _ = self
            .tx
            .send(Record::new(target, None, port, o, &self.meta))
            .await;
    }
}
