//! `telltale probe TARGET [PORTS]` (`probe db:5432`, `probe web 80,443`, `probe '[::1]:22'`,
//! and the older `probe HOST PORT`): one host from the command line, told like telnet would but
//! explained (one narrative per address and port), or in any machine format with `--format`.

use crate::cli::ProbeArgs;
use crate::config::{Args, ScanConfig};
use crate::exit::Exit;
use crate::inventory::{self, Fallback, Host, Inventory, PortSet};
use crate::scan;
use crate::shutdown::Shutdown;
use crate::verdict::Expect;

/// Run `telltale probe TARGET [PORTS]`.
pub async fn run(a: ProbeArgs, shutdown: Shutdown) -> Exit {
    let args = Args::probing(&a.probe, &a.output);
    let cfg = match ScanConfig::from_args(args) {
        Ok(c) => c,
        Err(m) => {
            eprintln!("telltale: {m}");
            return Exit::Usage;
        }
    };
    let inv = match one_target(&a, &cfg) {
        Ok(inv) => inv,
        Err(m) => {
            eprintln!("telltale: {m}");
            eprintln!("telltale: nothing probed");
            return Exit::Usage;
        }
    };
    // Without `--format`, a table for stdout (no `-o`, `-o -`, `-o /dev/stdout`) is the
    // narrative, and one probe needs no pre-scan plan line; `--also` applies.
    let narrative = a.output.format.is_none();
    let cfg = ScanConfig {
        show_plan: !narrative,
        ..cfg
    };
    scan::run_to(inv, &cfg, shutdown, narrative).await
}

/// What `probe` accepts besides the inventory's forms.
const SHAPES: &str = "expected HOST:PORT[,PORT...], [IPV6]:PORT, or HOST PORTS";

/// The command line's one host, through the same validation as an inventory entry: TARGET is
/// `argv[1]`, PORTS `argv[2]`.
fn one_target(a: &ProbeArgs, cfg: &ScanConfig) -> Result<Inventory, String> {
    let t = &a.target;
    let mut expect = Expect::EMPTY;
    for w in a.expect.split(',') {
        expect = expect.union(Expect::parse_word(w).map_err(|e| format!("--expect: {e}"))?);
    }
    let ports = match &a.ports {
        None => None,
        Some(p) => Some(
            inventory::parse_port_list(p)
                .map(PortSet::from_ranges)
                .map_err(|m| format!("argv[2]: `{p}`: {m}"))?,
        ),
    };
    let w = inventory::parse_target(t)
        .map_err(|e| format!("argv[1]: `{t}`: {}; {SHAPES}", e.message))?;
    if let Host::Net(_) = w.host {
        return Err(format!(
            "argv[1]: `{t}`: probe takes one host; use scan for CIDR blocks"
        ));
    }
    if w.ports.is_none() && ports.is_none() {
        let with = if t.contains(':') && !t.starts_with('[') {
            format!("[{t}]:PORT")
        } else {
            format!("{t}:PORT")
        };
        return Err(format!(
            "argv[1]: `{t}` has no port: write `{with}` or give PORTS (`probe {t} 22`)"
        ));
    }
    if w.ports.is_some() && ports.is_some() {
        return Err(format!(
            "argv[2]: `{t}` already names its ports; give them once (`host:80` or `host 80`)"
        ));
    }
    let fb = Fallback {
        ports,
        expect: Some(expect),
    };
    let mut inv = Inventory::default();
    inv.add_written("argv[1]", w, &fb, cfg.overrides)
        .map_err(|m| format!("argv[1]: {m}"))?;
    inv.finish();
    Ok(inv)
}
