//! From parsed arguments to an exit status: builds the runtime, wires SIGINT/SIGTERM to the
//! shutdown signal (first: stop and flush; second: exit at once), and runs the subcommand.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Cli, Command, DiffArgs, LabArgs, MergeArgs, ProbeArgs};
use crate::config::ScanConfig;
use crate::diff::{DiffError, Report};
use crate::exit::Exit;
use crate::input;
use crate::inventory::{Host, Inventory, PortSet, parse_port_list};
use crate::lab::{self, Behaviour};
use crate::report::{Output, Target};
use crate::shutdown::{self, Shutdown, Trigger};
use crate::verdict::Expect;
use crate::{demo, run};

/// Run the command; the runtime is shut down without waiting for stuck resolver threads.
pub fn main_with(cli: Cli) -> Exit {
    // The runtime's signal driver needs fds and tokio panics if it cannot get them: check first,
    // and catch the panic as a backstop (the check and the build can race other processes).
    if !crate::limits::fd_headroom(16) {
        eprintln!(
            "telltale: too few free file descriptors to start (a limit of this host, not of the inventory: raise `ulimit -n`); nothing scanned"
        );
        return Exit::Incomplete;
    }
    let build = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    let rt = match std::panic::catch_unwind(build) {
        Ok(Ok(rt)) => rt,
        Ok(Err(e)) => {
            eprintln!("telltale: cannot start the runtime: {e}; nothing scanned");
            return Exit::Incomplete;
        }
        Err(_) => {
            eprintln!(
                "telltale: cannot start the runtime (out of file descriptors?); nothing scanned"
            );
            return Exit::Incomplete;
        }
    };
    let exit = rt.block_on(async {
        let (trigger, shutdown) = shutdown::channel();
        tokio::spawn(on_signals(trigger));
        dispatch(cli, shutdown).await
    });
    // A hung getaddrinfo cannot be cancelled: do not wait for it.
    rt.shutdown_timeout(Duration::from_millis(100));
    exit
}

async fn on_signals(trigger: Trigger) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    trigger.fire();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("telltale: interrupted twice: exiting at once");
    crate::report::exit_now(130);
}

async fn dispatch(cli: Cli, shutdown: Shutdown) -> Exit {
    match cli.command {
        Command::Scan(a) => {
            let cfg = ScanConfig::from(&a.opts);
            scan(a.inventories, cfg, shutdown).await
        }
        Command::Probe(a) => probe(a, shutdown).await,
        Command::Demo(a) => demo::run(ScanConfig::from(&a.opts), shutdown).await,
        Command::Lab(a) => serve_lab(a, shutdown).await,
        Command::Diff(a) => diff(&a, &shutdown).await,
        Command::Merge(a) => merge(&a, &shutdown).await,
        Command::Completions { shell } => crate::manual::completions(shell),
        Command::Man(a) => crate::manual::man(&a),
    }
}

/// `scan`: load the inventories on a blocking thread (interruptible), then scan.
async fn scan(paths: Vec<PathBuf>, cfg: ScanConfig, shutdown: Shutdown) -> Exit {
    let once = paths.iter().chain(&cfg.baseline).map(PathBuf::as_path);
    if let Err(e) = input::stdin_at_most_once(once) {
        eprintln!("telltale: {e}; nothing scanned");
        return Exit::Usage;
    }
    let (ov, max) = (cfg.overrides, cfg.max_input);
    let load = move || Inventory::load_capped(&paths, ov, max);
    match input::interruptible(&shutdown, load).await {
        None => {
            eprintln!("telltale: interrupted while reading the inventory: nothing scanned");
            Exit::Incomplete
        }
        Some(Ok(inv)) => run::scan(inv, &cfg, shutdown).await,
        Some(Err(e)) if e.local => {
            eprintln!("telltale: {e}; nothing scanned");
            Exit::Incomplete
        }
        Some(Err(e)) => {
            eprintln!("telltale: {e}");
            eprintln!("telltale: inventory invalid: nothing scanned");
            Exit::Usage
        }
    }
}

/// Load reports on a blocking thread: `None` when interrupted (already reported).
async fn load_reports(
    cmd: &str,
    paths: &[PathBuf],
    max: u64,
    shutdown: &Shutdown,
) -> Option<Result<Vec<Report>, DiffError>> {
    if let Err(message) = input::stdin_at_most_once(paths.iter().map(PathBuf::as_path)) {
        return Some(Err(DiffError::Input(input::InputError {
            file: input::STDIN_LABEL.into(),
            line: 0,
            column: 0,
            message,
            local: false,
        })));
    }
    let paths = paths.to_vec();
    let load = move || {
        paths
            .iter()
            .map(|p| Report::load_capped(p, max))
            .collect::<Result<Vec<_>, _>>()
    };
    let loaded = input::interruptible(shutdown, load).await;
    if loaded.is_none() {
        eprintln!("telltale {cmd}: interrupted while reading the reports: nothing compared");
    }
    loaded
}

async fn merge(a: &MergeArgs, shutdown: &Shutdown) -> Exit {
    let loaded = load_reports("merge", &a.reports, a.input.max_input_size, shutdown).await;
    let merged = match loaded {
        None => return Exit::Incomplete,
        Some(r) => r
            .map_err(crate::merge::MergeError::from)
            .and_then(|r| crate::merge::merge_reports(r, a.allow_partial)),
    };
    let m = match merged {
        Ok(m) => m,
        Err(e) => {
            eprintln!("telltale merge: {e}");
            return Exit::Usage;
        }
    };
    for w in &m.warnings {
        eprintln!("telltale merge: warning: {w}");
    }
    let mut out = match &a.output {
        Some(p) => match open_output(p, shutdown).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("telltale merge: -o {}: {e}", p.display());
                return if e.kind() == std::io::ErrorKind::Interrupted {
                    Exit::Incomplete
                } else {
                    Exit::Usage
                };
            }
        },
        None => Output::stdout(),
    };
    let written = crate::merge::render(&m, a.format, &mut out).and_then(|()| out.commit());
    let ok = if m.mismatches > 0 {
        Exit::Mismatch
    } else {
        Exit::Ok
    };
    crate::exit::after_write("telltale merge", written, ok)
}

/// Resolve `-o PATH` by the output rules ([`Target::resolve`]) and open it.
async fn open_output(p: &std::path::Path, shutdown: &Shutdown) -> std::io::Result<Output> {
    Output::open(&Target::resolve(p)?, shutdown).await
}

async fn diff(a: &DiffArgs, shutdown: &Shutdown) -> Exit {
    let paths = [a.old.clone(), a.new.clone()];
    let (old, new) = match load_reports("diff", &paths, a.input.max_input_size, shutdown).await {
        None => return Exit::Incomplete,
        Some(Ok(mut r)) if r.len() == 2 => {
            let new = r.remove(1);
            (r.remove(0), new)
        }
        Some(Ok(_)) => return Exit::Usage,
        Some(Err(e)) => {
            eprintln!("telltale diff: {e}");
            return Exit::Usage;
        }
    };
    let drift = match crate::diff::diff(&old, &new, &a.vantage_map) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("telltale diff: {e}");
            return Exit::Usage;
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = crate::diff::render(&drift, a.format, &mut out)
        .and_then(|()| std::io::Write::flush(&mut out));
    let ok = if drift.is_empty() {
        Exit::Ok
    } else {
        Exit::Mismatch
    };
    crate::exit::after_write("telltale diff", written, ok)
}

async fn probe(a: ProbeArgs, shutdown: Shutdown) -> Exit {
    let cfg = ScanConfig::from(&a.opts);
    let fail = |m: String| {
        eprintln!("telltale: {m}");
        Exit::Usage
    };
    let host = match Host::parse(&a.host) {
        Ok(Host::Net(_)) => {
            return fail(format!(
                "`{}`: probe takes one host; use scan for CIDR blocks",
                a.host
            ));
        }
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let mut expect = Expect::EMPTY;
    for w in a.expect.split(',') {
        match Expect::parse_word(w) {
            Ok(e) => expect = expect.union(e),
            Err(e) => return fail(format!("--expect: {e}")),
        }
    }
    let yaml = format!(
        "targets:\n  - host: \"{host}\"\n    port: {}\n    expect: [{}]\n",
        a.port,
        expect.names().join(", ")
    );
    let mut inv = Inventory::default();
    if let Err(e) = inv.add_text("<command line>", &yaml, cfg.overrides) {
        return fail(e.to_string());
    }
    // Without `--format`, a table for stdout (no `-o`, `-o -`, `-o /dev/stdout`) is the
    // narrative, and one probe needs no pre-scan plan line; `--also` applies.
    let narrative = a.opts.format.is_none();
    let cfg = ScanConfig {
        show_plan: !narrative,
        ..cfg
    };
    run::scan_to(inv, &cfg, shutdown, narrative).await
}

async fn serve_lab(a: LabArgs, mut shutdown: Shutdown) -> Exit {
    let groups = [
        (Behaviour::Open, &a.open),
        (Behaviour::Banner, &a.banner),
        (Behaviour::Closed, &a.closed),
        (Behaviour::ClosedMsg, &a.closed_msg),
        (Behaviour::Reset, &a.reset),
        (Behaviour::BannerReset, &a.banner_reset),
        (Behaviour::Refused, &a.refused),
        (Behaviour::Filtered, &a.filtered),
        (Behaviour::Stream, &a.stream),
        (Behaviour::Alternate, &a.alternate),
    ];
    let mut plan = Vec::new();
    for (b, lists) in groups {
        for list in lists {
            if list.trim() == "0" {
                plan.push((b, 0));
                continue;
            }
            match parse_port_list(list) {
                Ok(r) => plan.extend(PortSet::from_ranges(r).iter().map(|p| (b, p))),
                Err(e) => {
                    eprintln!("telltale lab: --{}: {e}", b.name());
                    return Exit::Usage;
                }
            }
        }
    }
    let lab = match lab::start(a.ip, &plan) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("telltale lab: {e}");
            return Exit::Incomplete;
        }
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for (b, addr) in &lab.services {
            let _ = writeln!(out, "{} {addr}", b.name());
        }
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }
    shutdown.wait().await;
    drop(lab);
    Exit::Ok
}
