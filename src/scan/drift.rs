//! `scan --baseline`: the earlier report is read before anything is sent (capped,
//! interruptible) and refused if it comes from another vantage; after the scan, the drift
//! against it goes into the table sink, under its totals (and on stderr for machine formats).

use crate::config::ScanConfig;
use crate::diff::{self, DiffFormat, Report, ReportRecord};
use crate::exit::{self, Exit};
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

/// The drift against the baseline, rendered as the drift table under a `DRIFT since` line,
/// and whether anything drifted. The table sink prints it under its totals (so it goes wherever
/// the table goes: stdout, `-o`, `--also table=`); machine formats get it on stderr too.
pub(super) fn compare(
    old: &Report,
    records: Vec<ReportRecord>,
    cfg: &ScanConfig,
) -> Result<(String, bool), Exit> {
    let new = Report::from_records("this scan", records);
    let drift = diff::diff(old, &new, &cfg.vantage_map).map_err(|e| {
        eprintln!("telltale: --baseline: {e}");
        Exit::Usage
    })?;
    let mut text = format!("\nDRIFT since {}\n", old.source).into_bytes();
    diff::render(&drift, DiffFormat::Table, &mut text)
        .map_err(|e| exit::output_failed("telltale", &e))?;
    Ok((
        String::from_utf8_lossy(&text).into_owned(),
        !drift.is_empty(),
    ))
}

/// The scan's exit, given the drift: `--fail-on-drift` turns a pass into 1.
pub(super) fn exit_with(cfg: &ScanConfig, drifted: bool, exit: Exit) -> Exit {
    if cfg.fail_on_drift && drifted && exit == Exit::Ok {
        Exit::Mismatch
    } else {
        exit
    }
}
