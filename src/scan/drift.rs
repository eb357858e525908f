//! `scan --baseline`: the earlier report is read before anything is sent (capped,
//! interruptible) and refused if it comes from another vantage; after the scan, the drift
//! against it is printed under the table (or on stderr for machine formats).

use std::io::{self, Write};

use crate::config::ScanConfig;
use crate::diff::{self, DiffFormat, Report, ReportRecord};
use crate::exit::{self, Exit};
use crate::report::Format;
use crate::shutdown::Shutdown;

/// Read the baseline and check its vantage; `Err` is the exit, already explained on stderr.
pub(super) async fn load(cfg: &ScanConfig, shutdown: &Shutdown) -> Result<Option<Report>, Exit> {
    let Some(p) = &cfg.baseline else {
        return Ok(None);
    };
    let (p, max) = (p.clone(), cfg.max_input);
    let load = move || Report::load_capped(&p, max);
    let old = match crate::input::interruptible(shutdown, load).await {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            eprintln!("telltale: --baseline: {e}");
            return Err(Exit::Usage);
        }
        None => {
            eprintln!("telltale: interrupted while reading --baseline: nothing scanned");
            return Err(Exit::Incomplete);
        }
    };
    if let Err(m) = vantage_check(&old, &cfg.meta.vantage, &cfg.vantage_map) {
        eprintln!("telltale: --baseline: {m}; nothing scanned");
        return Err(Exit::Usage);
    }
    Ok(Some(old))
}

/// A baseline from another vantage cannot be compared verdict by verdict: say so before
/// scanning, and name both ways out (scan as that vantage, or map it to this one).
fn vantage_check(old: &Report, ours: &str, map: &[(String, String)]) -> Result<(), String> {
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
pub(super) fn drift_section(
    old: &Report,
    records: Vec<ReportRecord>,
    cfg: &ScanConfig,
    exit: Exit,
) -> Exit {
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
        return exit::output_failed("telltale", &e);
    }
    if cfg.fail_on_drift && !drift.is_empty() && exit == Exit::Ok {
        Exit::Mismatch
    } else {
        exit
    }
}
