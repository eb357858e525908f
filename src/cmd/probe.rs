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
    let args = Args {
        probe: &a.probe,
        output: &a.output,
        pool: None,
        audit: None,
        input: None,
    };
    let cfg = match ScanConfig::from_args(args) {
        Ok(c) => c,
        Err(m) => {
            eprintln!("telltale: {m}");
            return Exit::Usage;
        }
    };
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
    let narrative = a.output.format.is_none();
    let cfg = ScanConfig {
        show_plan: !narrative,
        ..cfg
    };
    scan::run_to(inv, &cfg, shutdown, narrative).await
}
