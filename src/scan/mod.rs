//! The scan pipeline: outputs opened → inventory checked and planned → pool (resolve, connect,
//! linger) → [`collector`] → sinks → exit code, with the run-level checks beside it: positive
//! controls, [`wildcard`] detection, [`drift`] against a baseline, and [`dry_run`] (the plan,
//! sent nowhere). [`plan`] estimates the size and time before anything is sent.

mod collector;
mod drift;
pub mod dry_run;
pub mod plan;
mod wildcard;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::config::ScanConfig;
use crate::diff::Report;
use crate::exit::{self, Exit};
use crate::inventory::{Host, Inventory};
use crate::limits;
use crate::pool::{self, Gate, Limits, PoolRun};
use crate::progress::Progress;
use crate::record::RunMeta;
use crate::report::{self, Format, Output, Sink, Summary};
use crate::shutdown::{self, Shutdown};
use collector::Collector;
use plan::Plan;
use wildcard::Wildcard;

/// Below this connect timeout, ICMP answers that come after the first SYN retransmit read as
/// `filtered` (IPv6 rejects over loopback arrive after ~1.02 s).
pub const ICMP_SAFE_TIMEOUT: Duration = Duration::from_millis(1200);

/// Scan `inv` with `cfg`, writing the configured format; returns the exit status.
pub async fn run(inv: Inventory, cfg: &ScanConfig, shutdown: Shutdown) -> Exit {
    run_to(inv, cfg, shutdown, false).await
}

/// [`run`]; with `narrative`, a table going to stdout is `probe`'s narrative instead. Every
/// output path is resolved and opened before anything else happens (a bad one: exit 2, nothing
/// probed); a dry run only checks them.
pub async fn run_to(inv: Inventory, cfg: &ScanConfig, shutdown: Shutdown, narrative: bool) -> Exit {
    let outputs = report::Outputs {
        format: cfg.format,
        output: cfg.output.as_deref(),
        also: &cfg.also,
        table: cfg.table,
        narrative,
    };
    let sink = if cfg.dry_run {
        if let Err(m) = outputs.check() {
            eprintln!("telltale: {m}; nothing scanned");
            return Exit::Usage;
        }
        report::sink(cfg.format, Output::stdout(), cfg.table)
    } else {
        match open_outputs(&outputs, &shutdown, "telltale", "nothing scanned").await {
            Ok(s) => s,
            Err(exit) => return exit,
        }
    };
    run_into(inv, cfg, shutdown, sink).await
}

/// Open every output before anything is sent; on failure the message (`who: ...; nothing`) is
/// printed and the exit returned: a bad path is a usage error, a signal while waiting for a
/// FIFO's reader is an interrupt.
pub(crate) async fn open_outputs(
    outputs: &report::Outputs<'_>,
    shutdown: &Shutdown,
    who: &str,
    nothing: &str,
) -> Result<Box<dyn Sink>, Exit> {
    outputs.open(shutdown).await.map_err(|e| {
        eprintln!("{who}: {}; {nothing}", e.message);
        if e.interrupted {
            Exit::Incomplete
        } else {
            Exit::Usage
        }
    })
}

/// Everything decided before the first probe.
struct Prepared {
    inv: Inventory,
    limits: Limits,
    meta: RunMeta,
    plan: Plan,
    baseline: Option<Report>,
}

/// Scan into a given sink.
pub async fn run_into(
    inv: Inventory,
    cfg: &ScanConfig,
    shutdown: Shutdown,
    sink: Box<dyn Sink>,
) -> Exit {
    let p = match prepare(inv, cfg, &shutdown).await {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    if cfg.dry_run {
        if cfg.output.is_some() || !cfg.also.is_empty() {
            eprintln!(
                "telltale: --dry-run writes the plan to stdout only: -o/--also files are left as they are"
            );
        }
        return dry_run::list(&p.inv, cfg.format);
    }
    execute(p, cfg, shutdown, sink).await
}

/// Checks and plans; `Err` is the exit, already explained on stderr (nothing sent).
async fn prepare(
    mut inv: Inventory,
    cfg: &ScanConfig,
    shutdown: &Shutdown,
) -> Result<Prepared, Exit> {
    for w in &inv.warnings {
        eprintln!("telltale: warning: {w}");
    }
    for e in &cfg.excludes {
        if let Err(m) = inv.excludes.add(e) {
            eprintln!("telltale: --exclude: {m}");
            return Err(Exit::Usage);
        }
    }
    if let Err(e) = inv.check_size(cfg.allow_large) {
        eprintln!("telltale: {e}");
        return Err(Exit::Usage);
    }
    let baseline = drift::load(cfg, shutdown).await?;
    let limits = clamped_limits(cfg);
    warn_short_timeout(&inv);
    if let Some((k, n)) = cfg.shard {
        inv.set_shard(k, n);
    }
    let meta = run_meta(&inv, cfg);
    let plan = Plan::of(&inv, &limits);
    if shutdown.is_set() {
        eprintln!("telltale: interrupted before scanning: nothing scanned");
        return Err(Exit::Incomplete);
    }
    if cfg.show_plan {
        eprintln!("telltale: {plan}");
    }
    if plan.probes == 0 && plan.excluded > 0 {
        // Excludes left nothing: a scan of nothing must not read as a pass.
        eprintln!(
            "telltale: every probe is excluded ({} by exclude: and --exclude): nothing scanned",
            plan.excluded
        );
        return Err(Exit::Usage);
    }
    Ok(Prepared {
        inv,
        limits,
        meta,
        plan,
        baseline,
    })
}

/// Concurrency clamped to the fd budget (with a note), except for a dry run.
pub(crate) fn clamped_limits(cfg: &ScanConfig) -> Limits {
    let mut limits = cfg.limits;
    if !cfg.dry_run {
        let fds = match limits.timing {
            crate::timing::Mode::Fixed => 1,
            crate::timing::Mode::Auto => 2,
        };
        let (clamped, note) =
            limits::clamp_concurrency(limits.concurrency, limits.dns_concurrency, fds);
        limits.concurrency = clamped;
        if let Some(n) = note {
            eprintln!("telltale: {n}");
        }
    }
    limits
}

pub(crate) fn warn_short_timeout(inv: &Inventory) {
    if let Some(t) = inv.shortest_timeout().filter(|t| *t < ICMP_SAFE_TIMEOUT) {
        eprintln!(
            "telltale: warning: connect timeout {} is below ~1.2s: a single lost SYN (the kernel resends it \
             after 1s) will read as `filtered`; --timing auto confirms a silent port with a second SYN instead",
            crate::report::units::fmt_duration(t)
        );
    }
}

/// What every record carries about the run.
pub(crate) fn run_meta(inv: &Inventory, cfg: &ScanConfig) -> RunMeta {
    let mut meta = cfg.meta.clone();
    meta.inventory_digest = inv.digest().into();
    meta.inventory_probes = u64::try_from(inv.total_probes()).unwrap_or(u64::MAX);
    meta.shard = cfg.shard.map(|(k, n)| format!("{k}/{n}").into());
    meta
}

/// Run the pool and the collector, then finish the sinks and the drift.
async fn execute(p: Prepared, cfg: &ScanConfig, shutdown: Shutdown, sink: Box<dyn Sink>) -> Exit {
    let (stop, inner) = shutdown::channel();
    let (tx, rx) = mpsc::channel(1024);
    let started = Instant::now();
    let gate = Gate::new(&p.limits);
    let mut phases = Vec::new();
    if p.inv.targets.iter().any(|t| t.control) {
        phases.push(p.inv.probes_where(true));
    }
    phases.push(p.inv.probes_where(false));
    let run = PoolRun {
        names: dedup_names(&p.inv),
        limits: p.limits,
        meta: p.meta,
        excludes: Arc::new(p.inv.excludes.clone()),
        gate: gate.clone(),
    };
    let pool = tokio::spawn(pool::run(phases, run, inner.clone(), tx));
    let mut c = Collector {
        summary: Summary {
            vantage: cfg.meta.vantage.to_string(),
            started_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            ..Summary::default()
        },
        progress: Progress::new(
            u64::try_from(p.plan.probes).unwrap_or(u64::MAX),
            cfg.progress,
        ),
        sink,
        output_error: None,
        stop,
        controls_failed: false,
        wildcard: cfg
            .wildcard_port
            .map(|port| Wildcard::new(port, cfg, inner, gate)),
        kept: p.baseline.as_ref().map(|_| Vec::new()),
    };
    c.collect(rx, shutdown.clone()).await;
    if let Ok(stats) = pool.await {
        c.summary.excluded = stats.excluded;
    }
    finish(c, &p.plan, p.baseline, cfg, &shutdown, started)
}

/// Totals, the controls note, the sink's last words, the drift; the exit code.
fn finish(
    mut c: Collector,
    plan: &Plan,
    baseline: Option<Report>,
    cfg: &ScanConfig,
    shutdown: &Shutdown,
    started: Instant,
) -> Exit {
    if shutdown.is_set() {
        c.summary.set_interrupted();
    }
    if c.summary.interrupted {
        // Probes the plan counted (after exclusion) that never produced a record; approximate
        // when names resolve to several addresses.
        let done = u128::from(c.summary.total);
        c.summary.not_started = u64::try_from(plan.probes.saturating_sub(done)).unwrap_or(u64::MAX);
    }
    c.summary.set_elapsed(started.elapsed());
    let Collector {
        mut summary,
        progress,
        sink,
        output_error,
        kept,
        ..
    } = c;
    drop(progress);
    if summary.controls_failed > 0 {
        eprintln!(
            "telltale: {} positive control(s) failed: the scanner may not reach anything, so {} blocked-type verdict(s) are marked untrusted",
            summary.controls_failed, summary.untrusted
        );
    }
    if let Some(e) = output_error {
        return exit::output_failed("telltale", &e);
    }
    // The drift goes into the sink (under the table); a failure to compare still finishes it.
    let drift = match (baseline, kept) {
        (Some(old), Some(records)) => Some(drift::compare(&old, records, cfg)),
        _ => None,
    };
    let mut drifted = false;
    let mut drift_failed = None;
    match drift {
        Some(Ok((text, d))) => {
            drifted = d;
            if cfg.format != Format::Table {
                eprint!("{text}");
            }
            summary.drift = Some(text);
        }
        Some(Err(exit)) => drift_failed = Some(exit),
        None => {}
    }
    if let Err(e) = sink.finish(&summary) {
        return exit::output_failed("telltale", &e);
    }
    let exit = summary.exit();
    if let Some(failed) = drift_failed {
        return exit.max(failed);
    }
    if summary.total == 0 && summary.excluded > 0 && !summary.interrupted {
        // Only known after resolution: every address the names gave is excluded.
        eprintln!(
            "telltale: every probe is excluded ({} after resolving names, by exclude: and --exclude): nothing scanned",
            summary.excluded
        );
        return exit.max(Exit::Usage);
    }
    drift::exit_with(cfg, drifted, exit)
}

/// Each name once, in inventory order, for the resolver to start on at once.
pub(crate) fn dedup_names(inv: &Inventory) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for t in inv.targets.iter().filter(|t| inv.in_shard(t)) {
        if let Host::Name(n) = &t.host {
            if seen.insert(n.as_str()) {
                names.push(n.clone());
            }
        }
    }
    names
}
