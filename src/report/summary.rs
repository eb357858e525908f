//! Pure aggregation over records: counts per verdict, mismatches, incompleteness. Feeds the
//! table's summary, the JSON summary and the exit code.

use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::exit::Exit;
use crate::record::Record;
use crate::verdict::Verdict;

/// Run totals.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Records seen.
    pub total: u64,
    /// Records as expected.
    pub ok: u64,
    /// Records not as expected (including those with no expectation for this vantage).
    pub mismatches: u64,
    /// Records with no expectation for this run's vantage (`ok: null`).
    pub no_expectation: u64,
    /// Records with verdict `local-error`.
    pub local_errors: u64,
    /// Whether the run was cut short by a signal.
    pub interrupted: bool,
    /// Interrupted or local errors: the run did not give a verdict for everything.
    pub incomplete: bool,
    /// Count per verdict (every verdict present, zeros included).
    #[serde(serialize_with = "counts_map")]
    pub counts: [u64; Verdict::ALL.len()],
    /// Wall time of the scan in milliseconds.
    pub elapsed_ms: f64,
    /// Where the scan ran from.
    pub vantage: String,
    /// Start of the scan, seconds since the Unix epoch.
    pub started_at: f64,
    /// Positive controls not as expected (non-zero: blocked-type verdicts are untrusted, exit 3).
    pub controls_failed: u64,
    /// Records marked `trusted: false`.
    pub untrusted: u64,
    /// Records whose attempts disagreed.
    pub flaky: u64,
    /// `open` records on hosts that also accepted the wildcard-check port.
    pub wildcard: u64,
    /// Probes skipped by excludes.
    pub excluded: u64,
    /// With an interrupt: probes never started (from the plan; names count one address).
    pub not_started: u64,
    /// With `--baseline`: the rendered drift, which the table prints under its totals.
    #[serde(skip)]
    pub drift: Option<String>,
}

fn counts_map<S: Serializer>(c: &[u64; Verdict::ALL.len()], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(c.len()))?;
    for (v, n) in Verdict::ALL.iter().zip(c) {
        m.serialize_entry(v.as_str(), n)?;
    }
    m.end()
}

impl Summary {
    /// Count one record.
    pub fn add(&mut self, r: &Record) {
        self.total += 1;
        if r.passed() {
            self.ok += 1;
        } else {
            self.mismatches += 1;
        }
        self.no_expectation += u64::from(r.ok.is_none());
        if r.verdict == Verdict::LocalError {
            self.local_errors += 1;
        }
        if let Some(i) = Verdict::ALL.iter().position(|v| *v == r.verdict) {
            self.counts[i] += 1;
        }
        if r.control && !r.passed() {
            self.controls_failed += 1;
        }
        self.untrusted += u64::from(!r.trusted);
        self.flaky += u64::from(r.flaky);
        self.wildcard += u64::from(r.wildcard);
        self.incomplete = self.interrupted || self.local_errors > 0 || self.controls_failed > 0;
    }

    /// Mark the run as interrupted.
    pub fn set_interrupted(&mut self) {
        self.interrupted = true;
        self.incomplete = true;
    }

    /// Record the wall time.
    pub fn set_elapsed(&mut self, d: Duration) {
        self.elapsed_ms = (d.as_secs_f64() * 1e6).round() / 1e3;
    }

    /// Count of one verdict.
    pub fn count(&self, v: Verdict) -> u64 {
        Verdict::ALL
            .iter()
            .position(|x| *x == v)
            .map_or(0, |i| self.counts[i])
    }

    /// The process exit status this run deserves.
    pub fn exit(&self) -> Exit {
        if self.incomplete {
            Exit::Incomplete
        } else if self.mismatches > 0 {
            Exit::Mismatch
        } else {
            Exit::Ok
        }
    }
}
