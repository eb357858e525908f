//! `wait`'s core: outputs opened and the inventory checked as for a scan (nothing is probed
//! when anything is wrong), then every target of the inventory watched on its own clock
//! ([`unit`]) until all are ready or the deadline cuts them, the progress shown on stderr
//! ([`live`]), and the final state — one record set per target, `waited_ms` and `rounds`
//! filled in — written to the sinks like a scan's results.
//!
//! The deadline is a hard bound: one trigger fires at the deadline (or at the first
//! SIGINT/SIGTERM), every round's pool sees it, and probes in flight end at once.

mod live;
mod unit;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::ScanConfig;
use crate::exit::{self, Exit};
use crate::inventory::Inventory;
use crate::pool::Gate;
use crate::report::{self, Summary};
use crate::scan;
use crate::shutdown::{self, Shutdown};
use crate::verdict::Verdict;

use live::Live;
pub use live::waiting_for;
pub use unit::Timing;

/// Targets one wait watches at most: each has its own clock (a task); a sweep of more is a
/// `scan`.
pub const MAX_TARGETS: u128 = 65_536;

/// How long to wait and how often to look.
#[derive(Clone, Copy, Debug)]
pub struct WaitPlan {
    /// Hard bound on the whole wait, from its start.
    pub deadline: Duration,
    /// Pause before the first probe (inside the deadline).
    pub initial_delay: Duration,
    /// Every target's clock.
    pub timing: Timing,
}

/// Wait for `inv` with `cfg`; the exit status of the wait.
pub async fn run(inv: Inventory, cfg: &ScanConfig, plan: WaitPlan, shutdown: Shutdown) -> Exit {
    let outputs = report::Outputs {
        format: cfg.format,
        output: cfg.output.as_deref(),
        also: &cfg.also,
        table: cfg.table,
        narrative: false,
    };
    let sink =
        match scan::open_outputs(&outputs, &shutdown, "telltale wait", "nothing probed").await {
            Ok(s) => s,
            Err(exit) => return exit,
        };
    if let Err(exit) = check(&inv, cfg) {
        return exit;
    }
    let limits = scan::clamped_limits(cfg);
    let start = Instant::now();
    let shared = Arc::new(unit::Shared {
        gate: Gate::new(&limits),
        limits,
        meta: scan::run_meta(&inv, cfg),
        excludes: Arc::new(inv.excludes.clone()),
        timing: plan.timing,
        start,
    });
    let probes: Vec<_> = inv.probes().collect();
    let labels: Vec<String> = probes.iter().map(label).collect();
    eprintln!(
        "telltale wait: {} target(s), deadline {}, every {} (backing off to {}), ready after {} as-expected result(s) in a row",
        probes.len(),
        report::units::fmt_duration(plan.deadline),
        report::units::fmt_duration(plan.timing.interval),
        report::units::fmt_duration(plan.timing.max_interval.max(plan.timing.interval)),
        plan.timing.stable
    );
    let (trigger, cut) = shutdown::channel();
    let deadline = start + plan.deadline;
    let mut user = shutdown.clone();
    // The deadline or the first signal, whichever comes first, cuts every round at once.
    let watchdog = tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            () = user.wait() => {}
        }
        trigger.fire();
    });
    let mut live = Live::new(labels, plan.timing.stable, cfg.progress, start);
    let (news_tx, mut news) = mpsc::unbounded_channel();
    let delay = plan.initial_delay;
    let mut tasks: FuturesUnordered<_> = probes
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let (shared, cut, news_tx) = (shared.clone(), cut.clone(), news_tx.clone());
            tokio::spawn(async move {
                let mut sd = cut.clone();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = sd.wait() => {}
                }
                (i, unit::watch(i, p, shared, cut, news_tx).await)
            })
        })
        .collect();
    drop(news_tx);
    let mut finished = Vec::with_capacity(tasks.len());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            Some(s) = news.recv() => live.update(s),
            _ = tick.tick() => live.tick(),
            t = tasks.next() => match t {
                Some(Ok(done)) => finished.push(done),
                Some(Err(e)) => eprintln!("telltale wait: a target's task failed: {e}"),
                None => break,
            },
        }
    }
    while let Ok(s) = news.try_recv() {
        live.update(s);
    }
    live.finish();
    watchdog.abort();
    let by_user = shutdown.is_set();
    finished.sort_by_key(|(i, _)| *i);
    finish(finished, sink, cfg, start, by_user)
}

/// The scan's checks, before anything is sent: warnings, size, the wait's own cap.
fn check(inv: &Inventory, cfg: &ScanConfig) -> Result<(), Exit> {
    for w in &inv.warnings {
        eprintln!("telltale: warning: {w}");
    }
    if let Err(e) = inv.check_size(cfg.allow_large) {
        eprintln!("telltale wait: {e}");
        return Err(Exit::Usage);
    }
    let n = inv.probe_count();
    if n > MAX_TARGETS {
        eprintln!(
            "telltale wait: {n} targets (host:port pairs) to wait for; wait watches at most {MAX_TARGETS}, each on its own clock: use `telltale scan` for a sweep; nothing probed"
        );
        return Err(Exit::Usage);
    }
    scan::warn_short_timeout(inv);
    Ok(())
}

/// `db:5432`, `[::1]:8080`, or the target's name with its port.
fn label(p: &crate::inventory::Probe) -> String {
    let host = match (&p.target.name, p.addr) {
        (Some(n), _) => n.to_string(),
        (None, Some(std::net::IpAddr::V6(a))) => format!("[{a}]"),
        (None, Some(a)) => a.to_string(),
        (None, None) => p.target.host_label.to_string(),
    };
    format!("{host}:{}", p.port)
}

/// Write the final records, in inventory order, and decide the exit.
fn finish(
    finished: Vec<(usize, unit::Finished)>,
    mut sink: Box<dyn report::Sink>,
    cfg: &ScanConfig,
    start: Instant,
    by_user: bool,
) -> Exit {
    let mut summary = Summary {
        vantage: cfg.meta.vantage.to_string(),
        started_at: SystemTime::now()
            .checked_sub(start.elapsed())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64()),
        ..Summary::default()
    };
    let (mut ready, mut local) = (0usize, false);
    let total = finished.len();
    let mut failed = None;
    for (_, f) in &finished {
        ready += usize::from(f.ready);
        for r in &f.records {
            local |= r.verdict == Verdict::LocalError;
            summary.add(r);
            if failed.is_none() {
                if let Err(e) = sink.record(r) {
                    failed = Some(e);
                }
            }
        }
    }
    if by_user {
        summary.set_interrupted();
    }
    summary.set_elapsed(start.elapsed());
    let secs = start.elapsed().as_secs_f64();
    if by_user {
        eprintln!(
            "telltale wait: interrupted after {secs:.1}s: {ready} of {total} target(s) ready; the final state follows"
        );
    } else if ready == total {
        eprintln!("telltale wait: all {total} target(s) ready after {secs:.1}s");
    } else {
        eprintln!(
            "telltale wait: deadline passed after {secs:.1}s: {} of {total} target(s) not ready",
            total - ready
        );
    }
    if let Some(e) = failed {
        return exit::output_failed("telltale wait", &e);
    }
    if let Err(e) = sink.finish(&summary) {
        return exit::output_failed("telltale wait", &e);
    }
    if by_user || local {
        Exit::Incomplete
    } else if ready == total {
        Exit::Ok
    } else {
        Exit::Mismatch
    }
}
