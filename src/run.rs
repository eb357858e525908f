//! Running a scan: inventory → pool → collector → sinks → exit code.
//!
//! The collector is the only consumer of results: it aggregates the summary, drives the progress
//! bar and feeds the sink. It also applies the run-level checks that need more than one record:
//! positive controls (probed first; if one fails, later blocked-type verdicts are untrusted) and
//! wildcard detection (an `open` result is held back until the host's wildcard-check port has
//! answered). It owns interruption too: when the injected shutdown fires it marks the run
//! interrupted, waits for in-flight probes to report `interrupted`, and still finishes the sink
//! (a complete, valid document marked incomplete).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::config::ScanConfig;
use crate::diff::{self, DiffFormat, Report, ReportRecord};
use crate::exit::Exit;
use crate::inventory::{DEFAULT_TIMEOUT, Host, Inventory};
use crate::limits;
use crate::plan::Plan;
use crate::pool::{self, PoolRun};
use crate::probe;
use crate::progress::Progress;
use crate::record::Record;
use crate::report::{self, Format, Output, Sink, Summary};
use crate::shutdown::{self, Shutdown, Trigger};
use crate::verdict::Verdict;

/// Below this connect timeout, ICMP answers that come after the first SYN retransmit read as
/// `filtered` (IPv6 rejects over loopback arrive after ~1.02 s).
pub const ICMP_SAFE_TIMEOUT: Duration = Duration::from_millis(1200);

/// Scan `inv` with `cfg`, writing the configured format; returns the exit status.
pub async fn scan(inv: Inventory, cfg: &ScanConfig, shutdown: Shutdown) -> Exit {
    scan_to(inv, cfg, shutdown, false).await
}

/// [`scan`]; with `narrative`, a table going to stdout is `probe`'s narrative instead. Every
/// output path is resolved and opened before anything else happens (a bad one: exit 2, nothing
/// probed); a dry run only checks them.
pub async fn scan_to(
    inv: Inventory,
    cfg: &ScanConfig,
    shutdown: Shutdown,
    narrative: bool,
) -> Exit {
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
        match outputs.open(&shutdown).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("telltale: {}; nothing scanned", e.message);
                return if e.interrupted {
                    Exit::Incomplete
                } else {
                    Exit::Usage
                };
            }
        }
    };
    scan_into(inv, cfg, shutdown, sink).await
}

/// Scan into a given sink (used by `probe`'s narrative too).
pub async fn scan_into(
    mut inv: Inventory,
    cfg: &ScanConfig,
    shutdown: Shutdown,
    sink: Box<dyn Sink>,
) -> Exit {
    for w in &inv.warnings {
        eprintln!("telltale: warning: {w}");
    }
    for e in &cfg.excludes {
        if let Err(m) = inv.excludes.add(e) {
            eprintln!("telltale: --exclude: {m}");
            return Exit::Usage;
        }
    }
    if let Err(e) = inv.check_size(cfg.allow_large) {
        eprintln!("telltale: {e}");
        return Exit::Usage;
    }
    let baseline = match &cfg.baseline {
        Some(p) => {
            let (p, max) = (p.clone(), cfg.max_input);
            let load = move || Report::load_capped(&p, max);
            match crate::input::interruptible(&shutdown, load).await {
                Some(Ok(r)) => Some(r),
                Some(Err(e)) => {
                    eprintln!("telltale: --baseline: {e}");
                    return Exit::Usage;
                }
                None => {
                    eprintln!("telltale: interrupted while reading --baseline: nothing scanned");
                    return Exit::Incomplete;
                }
            }
        }
        None => None,
    };
    if let Some(old) = &baseline {
        if let Err(m) = baseline_vantage(old, &cfg.meta.vantage, &cfg.vantage_map) {
            eprintln!("telltale: --baseline: {m}; nothing scanned");
            return Exit::Usage;
        }
    }
    let mut limits = cfg.limits;
    if !cfg.dry_run {
        let (clamped, note) = limits::clamp_concurrency(limits.concurrency, limits.dns_concurrency);
        limits.concurrency = clamped;
        if let Some(n) = note {
            eprintln!("telltale: {n}");
        }
    }
    if let Some(t) = inv.shortest_timeout().filter(|t| *t < ICMP_SAFE_TIMEOUT) {
        eprintln!(
            "telltale: warning: connect timeout {} is below ~1.2s: ICMP rejects that arrive after the first SYN \
             retransmit (e.g. IPv6) and a single lost SYN will read as `filtered`",
            humantime::format_duration(t)
        );
    }
    if let Some((k, n)) = cfg.shard {
        inv.set_shard(k, n);
    }
    let mut meta = cfg.meta.clone();
    meta.inventory_digest = inv.digest().into();
    meta.inventory_probes = u64::try_from(inv.total_probes()).unwrap_or(u64::MAX);
    meta.shard = cfg.shard.map(|(k, n)| format!("{k}/{n}").into());
    let plan = Plan::of(&inv, &limits);
    if shutdown.is_set() {
        eprintln!("telltale: interrupted before scanning: nothing scanned");
        return Exit::Incomplete;
    }
    if cfg.show_plan {
        eprintln!("telltale: {plan}");
    }
    if cfg.dry_run {
        if cfg.output.is_some() || !cfg.also.is_empty() {
            eprintln!(
                "telltale: --dry-run writes the plan to stdout only: -o/--also files are left as they are"
            );
        }
        return crate::dry_run::list(&inv, cfg.format);
    }
    let names = dedup_names(&inv);
    let (stop, inner) = shutdown::channel();
    let (tx, rx) = mpsc::channel(1024);
    let started = Instant::now();
    let mut phases = Vec::new();
    if inv.targets.iter().any(|t| t.control) {
        phases.push(inv.probes_where(true));
    }
    phases.push(inv.probes_where(false));
    let run = PoolRun {
        names,
        limits,
        meta,
        excludes: std::sync::Arc::new(inv.excludes.clone()),
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
        progress: Progress::new(u64::try_from(plan.probes).unwrap_or(u64::MAX), cfg.progress),
        sink,
        output_error: None,
        stop,
        controls_failed: false,
        wildcard: cfg
            .wildcard_port
            .map(|port| Wildcard::new(port, cfg, inner)),
        kept: baseline.as_ref().map(|_| Vec::new()),
    };
    c.collect(rx, shutdown.clone()).await;
    if let Ok(stats) = pool.await {
        c.summary.excluded = stats.excluded;
    }
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
        summary,
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
        return output_failed(&e);
    }
    if let Err(e) = sink.finish(&summary) {
        return output_failed(&e);
    }
    let exit = summary.exit();
    match (baseline, kept) {
        (Some(old), Some(records)) => drift_section(&old, records, cfg, exit),
        _ => exit,
    }
}

/// A baseline from another vantage cannot be compared verdict by verdict: say so before
/// scanning, and name both ways out (scan as that vantage, or map it to this one).
fn baseline_vantage(old: &Report, ours: &str, map: &[(String, String)]) -> Result<(), String> {
    let mapped: std::collections::BTreeSet<String> = old
        .vantages()
        .into_iter()
        .map(|v| {
            map.iter()
                .find(|(o, _)| *o == v)
                .map_or(v, |(_, n)| n.clone())
        })
        .collect();
    let others: Vec<&String> = mapped
        .iter()
        .filter(|v| !v.is_empty() && v.as_str() != ours)
        .collect();
    match others.first() {
        None => Ok(()),
        Some(v) if map.is_empty() => Err(format!(
            "{} was scanned from vantage `{v}`, this scan runs as vantage `{ours}`: pass \
             `--vantage {v}` to scan as that vantage, or `--vantage-map {v}={ours}` to compare \
             across vantages",
            old.source
        )),
        Some(v) => Err(format!(
            "{} has vantage `{v}` after --vantage-map, this scan runs as vantage `{ours}`: map \
             every vantage of the baseline to `{ours}`",
            old.source
        )),
    }
}

/// Print the drift against the baseline under the table (or on stderr for machine formats).
fn drift_section(old: &Report, records: Vec<ReportRecord>, cfg: &ScanConfig, exit: Exit) -> Exit {
    let new = Report::from_records("this scan", records);
    let drift = match diff::diff(old, &new, &cfg.vantage_map) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("telltale: --baseline: {e}");
            return exit.max(Exit::Usage);
        }
    };
    let to_stdout = cfg.format == Format::Table && cfg.output.is_none();
    let res = if to_stdout {
        let mut w = io::stdout().lock();
        writeln!(w, "\nDRIFT since {}", old.source)
            .and_then(|()| diff::render(&drift, DiffFormat::Table, &mut w))
    } else {
        let mut w = io::stderr().lock();
        writeln!(w, "\nDRIFT since {}", old.source)
            .and_then(|()| diff::render(&drift, DiffFormat::Table, &mut w))
    };
    if let Err(e) = res {
        return output_failed(&e);
    }
    if cfg.fail_on_drift && !drift.is_empty() && exit == Exit::Ok {
        Exit::Mismatch
    } else {
        exit
    }
}

struct Collector {
    summary: Summary,
    progress: Progress,
    sink: Box<dyn Sink>,
    output_error: Option<io::Error>,
    stop: Trigger,
    controls_failed: bool,
    wildcard: Option<Wildcard>,
    /// Records kept for the baseline diff (only with `--baseline`).
    kept: Option<Vec<ReportRecord>>,
}

impl Collector {
    async fn collect(&mut self, mut rx: mpsc::Receiver<Record>, mut external: Shutdown) {
        let (wtx, mut wrx) = mpsc::channel::<(IpAddr, Option<String>)>(64);
        let mut open = true;
        loop {
            let checks = self.wildcard.as_ref().map_or(0, |w| w.in_flight);
            if !open && checks == 0 {
                break;
            }
            tokio::select! {
                r = rx.recv(), if open => match r {
                    Some(r) => self.on_record(r, &wtx),
                    None => open = false,
                },
                Some((ip, found)) = wrx.recv(), if checks > 0 => self.on_wildcard(ip, found),
                () = external.wait(), if !self.summary.interrupted => {
                    self.summary.set_interrupted();
                    self.progress.println("telltale: interrupted: no new probes; in-flight ones end now; flushing results (again to exit at once)");
                    self.stop.fire();
                }
            }
        }
    }

    fn on_record(&mut self, mut r: Record, wtx: &mpsc::Sender<(IpAddr, Option<String>)>) {
        if r.control && !r.passed() {
            self.controls_failed = true;
        }
        if self.controls_failed
            && !r.control
            && matches!(
                r.verdict,
                Verdict::Filtered | Verdict::Unreachable | Verdict::Refused
            )
        {
            r.trusted = false;
        }
        if let (Some(w), Verdict::Open, Some(ip)) = (self.wildcard.as_mut(), r.verdict, r.addr) {
            match w.hosts.get_mut(&ip) {
                None => {
                    w.start(ip, wtx.clone());
                    w.hosts.insert(ip, WState::Checking(vec![r]));
                    return;
                }
                Some(WState::Checking(held)) => {
                    held.push(r);
                    return;
                }
                Some(WState::Done(found)) => {
                    if let Some(d) = found {
                        r.wildcard = true;
                        r.detail = format!("{}; {d}", r.detail);
                    }
                }
            }
        }
        self.emit(r);
    }

    fn on_wildcard(&mut self, ip: IpAddr, found: Option<String>) {
        let Some(w) = self.wildcard.as_mut() else {
            return;
        };
        w.in_flight = w.in_flight.saturating_sub(1);
        let held = match w.hosts.insert(ip, WState::Done(found.clone())) {
            Some(WState::Checking(held)) => held,
            _ => Vec::new(),
        };
        if let Some(d) = &found {
            self.progress.println(&format!(
                "telltale: warning: {ip}: {d}, so this host may answer every port (SYN proxy, CDN, port \
                 forwarder): its open results do not prove a service"
            ));
        }
        for mut r in held {
            if let Some(d) = &found {
                r.wildcard = true;
                r.detail = format!("{}; {d}", r.detail);
            }
            self.emit(r);
        }
    }

    fn emit(&mut self, r: Record) {
        self.summary.add(&r);
        self.progress.update(&self.summary);
        if let Some(kept) = self.kept.as_mut() {
            kept.push(ReportRecord::from(&r));
        }
        if self.output_error.is_none() {
            if let Err(e) = self.sink.record(&r) {
                self.output_error = Some(e);
                self.stop.fire();
            }
        }
    }
}

enum WState {
    Checking(Vec<Record>),
    Done(Option<String>),
}

/// Accept-all detection: one probe of a port nobody should serve, per host with open results.
struct Wildcard {
    port: u16,
    settings: probe::Settings,
    hosts: HashMap<IpAddr, WState>,
    in_flight: usize,
    shutdown: Shutdown,
}

impl Wildcard {
    fn new(port: u16, cfg: &ScanConfig, shutdown: Shutdown) -> Wildcard {
        let settings = probe::Settings {
            timeout: cfg.overrides.timeout.unwrap_or(DEFAULT_TIMEOUT),
            linger: Duration::ZERO,
            retries: 0,
            attempts: 1,
            attempt_gap: Duration::ZERO,
        };
        Wildcard {
            port,
            settings,
            hosts: HashMap::new(),
            in_flight: 0,
            shutdown,
        }
    }

    fn start(&mut self, ip: IpAddr, tx: mpsc::Sender<(IpAddr, Option<String>)>) {
        self.in_flight += 1;
        let (port, settings, sd) = (self.port, self.settings, self.shutdown.clone());
        tokio::spawn(async move {
            let o = probe::probe(SocketAddr::new(ip, port), settings, sd).await;
            let found = matches!(
                o.verdict,
                Verdict::Open | Verdict::ClosedByPeer | Verdict::ResetByPeer
            )
            .then(|| format!("WILDCARD: the check port {port} accepts too"));
            let _ = tx.send((ip, found)).await;
        });
    }
}

fn output_failed(e: &io::Error) -> Exit {
    crate::exit::output_failed("telltale", e)
}

fn dedup_names(inv: &Inventory) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for t in inv.targets.iter().filter(|t| inv.in_shard(t)) {
        if let Host::Name(n) = &t.host {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    names
}
