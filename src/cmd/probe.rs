//! `telltale probe HOST PORT`: one target from the command line, told like telnet would but
//! explained (the narrative), or in any machine format with `--format`.

use crate::cli::ProbeArgs;
use crate::config::{Args, ScanConfig};
use crate::exit::Exit;
use crate::inventory::{Host, Inventory};
use crate::scan;
use crate::shutdown::Shutdown;
use crate::verdict::Expect;

/// Run `telltale probe HOST PORT`.
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

/// The command line's one target, through the same validation as an inventory entry.
fn one_target(a: &ProbeArgs, cfg: &ScanConfig) -> Result<Inventory, String> {
    let host = match Host::parse(&a.host)? {
        Host::Net(_) => {
            return Err(format!(
                "`{}`: probe takes one host; use scan for CIDR blocks",
                a.host
            ));
        }
        h => h,
    };
    let mut expect = Expect::EMPTY;
    for w in a.expect.split(',') {
        expect = expect.union(Expect::parse_word(w).map_err(|e| format!("--expect: {e}"))?);
    }
    let yaml = format!(
        "targets:\n  - host: \"{host}\"\n    port: {}\n    expect: [{}]\n",
        a.port,
        expect.names().join(", ")
    );
    let mut inv = Inventory::default();
    inv.add_text("<command line>", &yaml, cfg.overrides)
        .map_err(|e| e.to_string())?;
    Ok(inv)
}
