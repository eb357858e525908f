//! Running a scan: inventory → pool → collector → sinks → exit code.
//!
//! The collector is the only consumer of results: it aggregates the summary, drives the progress
//! bar and feeds the sink. It also owns interruption: when the injected shutdown fires it marks
//! the run interrupted, waits for in-flight probes to report `interrupted`, and still finishes
//! the sink (a complete, valid document marked incomplete).

use std::io;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::config::ScanConfig;
use crate::exit::Exit;
use crate::inventory::{Host, Inventory};
use crate::limits;
use crate::pool;
use crate::progress::Progress;
use crate::report::{self, Output, Sink, Summary};
use crate::shutdown::{self, Shutdown};

/// Below this connect timeout, ICMP answers that come after the first SYN retransmit read as
/// `filtered` (IPv6 rejects over loopback arrive after ~1.02 s).
pub const ICMP_SAFE_TIMEOUT: Duration = Duration::from_millis(1200);

/// Scan `inv` with `cfg`, writing the configured format; returns the exit status.
pub async fn scan(inv: Inventory, cfg: &ScanConfig, shutdown: Shutdown) -> Exit {
    let out = match &cfg.output {
        Some(path) => match Output::file(path) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("telltale: cannot write {}: {e}", path.display());
                return Exit::Usage;
            }
        },
        None => Output::stdout(),
    };
    let sink = report::sink(cfg.format, out, cfg.table);
    scan_into(inv, cfg, shutdown, sink).await
}

/// Scan into a given sink (used by `probe`'s narrative too).
pub async fn scan_into(
    inv: Inventory,
    cfg: &ScanConfig,
    shutdown: Shutdown,
    mut sink: Box<dyn Sink>,
) -> Exit {
    for w in &inv.warnings {
        eprintln!("telltale: warning: {w}");
    }
    if let Err(e) = inv.check_size(cfg.allow_large) {
        eprintln!("telltale: {e}");
        return Exit::Usage;
    }
    let mut limits = cfg.limits;
    let (clamped, note) = limits::clamp_concurrency(limits.concurrency, limits.dns_concurrency);
    limits.concurrency = clamped;
    if let Some(n) = note {
        eprintln!("telltale: {n}");
    }
    if let Some(t) = inv.shortest_timeout().filter(|t| *t < ICMP_SAFE_TIMEOUT) {
        eprintln!(
            "telltale: warning: connect timeout {} is below ~1.2s: ICMP rejects that arrive after the first SYN \
             retransmit (e.g. IPv6) and a single lost SYN will read as `filtered`",
            humantime::format_duration(t)
        );
    }
    let total = inv.probe_count();
    let names: Vec<String> = dedup_names(&inv);
    eprintln!(
        "telltale: {total} probes from {} targets{}; concurrency {}, per host {}",
        inv.targets.len(),
        if names.is_empty() {
            String::new()
        } else {
            format!(" ({} names to resolve)", names.len())
        },
        limits.concurrency,
        limits.per_host
    );

    // The pool listens to an internal shutdown that fires on the external one or when the
    // output goes away (closed pipe).
    let (stop, inner) = shutdown::channel();
    let (tx, mut rx) = mpsc::channel(1024);
    let started = Instant::now();
    let pool = tokio::spawn(pool::run(inv.probes(), names, limits, inner, tx));

    let mut summary = Summary::default();
    let mut progress = Progress::new(u64::try_from(total).unwrap_or(u64::MAX), cfg.progress);
    let mut external = shutdown.clone();
    let mut output_error: Option<io::Error> = None;
    loop {
        tokio::select! {
            r = rx.recv() => {
                let Some(r) = r else { break };
                summary.add(&r);
                progress.update(&summary);
                if output_error.is_none() {
                    if let Err(e) = sink.record(&r) {
                        output_error = Some(e);
                        stop.fire();
                    }
                }
            }
            () = external.wait(), if !summary.interrupted => {
                summary.set_interrupted();
                progress.println("telltale: interrupted: no new probes; in-flight ones end now; flushing results (again to exit at once)");
                stop.fire();
            }
        }
    }
    let _ = pool.await;
    if shutdown.is_set() {
        summary.set_interrupted();
    }
    summary.set_elapsed(started.elapsed());
    drop(progress);
    if let Some(e) = output_error {
        return output_failed(&e);
    }
    match sink.finish(&summary) {
        Ok(()) => summary.exit(),
        Err(e) => output_failed(&e),
    }
}

fn output_failed(e: &io::Error) -> Exit {
    if e.kind() != io::ErrorKind::BrokenPipe {
        eprintln!("telltale: writing output failed: {e}; results incomplete");
    }
    Exit::Incomplete
}

fn dedup_names(inv: &Inventory) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for t in &inv.targets {
        if let Host::Name(n) = &t.host {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    names
}
