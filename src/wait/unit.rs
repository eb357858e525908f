//! One target of a wait (one probe of the inventory's expansion: a host:port, or a name:port
//! whose addresses are all probed each round): probe it, and again on its own clock until it
//! has been as expected `stable` times in a row or the wait is cut. Each round is one run of the
//! ordinary pool over this one probe, through the scan's shared [`Gate`], so per-host caps,
//! `--rate` and the one-probe-per-address:port rule hold across every target of the wait.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::inventory::{Excludes, Probe};
use crate::pool::{self, Gate, Limits, PoolRun};
use crate::record::{Record, RunMeta};
use crate::shutdown::Shutdown;
use crate::verdict::Verdict;

/// What every target's loop shares.
pub(super) struct Shared {
    pub gate: Arc<Gate>,
    pub limits: Limits,
    pub meta: RunMeta,
    pub excludes: Arc<Excludes>,
    pub timing: Timing,
    /// When the wait began (`waited_ms` counts from here).
    pub start: Instant,
}

/// The clock of every target.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// First pause, and the pause after a change or an as-expected result.
    pub interval: Duration,
    /// Cap of the growing pause.
    pub max_interval: Duration,
    /// As-expected results in a row that make a target ready.
    pub stable: u32,
}

impl Timing {
    /// The pause after `pause` when nothing changed: half as long again, capped.
    pub fn grow(&self, pause: Duration) -> Duration {
        (pause + pause / 2).min(self.max_interval.max(self.interval))
    }
}

/// One round's news for the display.
#[derive(Clone, Debug)]
pub(super) struct Status {
    /// Which target (index into the wait's list).
    pub unit: usize,
    /// The round's worst verdict (the first record not as expected, else the first).
    pub verdict: Verdict,
    /// As-expected results in a row so far.
    pub streak: u32,
    /// Rounds so far.
    pub rounds: u32,
    /// The target is ready (streak reached `stable`).
    pub ready: bool,
}

/// How one target's wait ended.
pub(super) struct Finished {
    /// Its final records (one per address), `waited_ms` and `rounds` filled in.
    pub records: Vec<Record>,
    /// Ready in time.
    pub ready: bool,
}

/// Wait for one target; `cut` fires at the deadline or on an interrupt.
pub(super) async fn watch(
    unit: usize,
    probe: Probe,
    shared: Arc<Shared>,
    cut: Shutdown,
    news: mpsc::UnboundedSender<Status>,
) -> Finished {
    let t = shared.timing;
    let (mut last, mut streak, mut rounds) = (None::<Vec<Record>>, 0u32, 0u32);
    let mut pause = t.interval;
    let mut before: Option<Verdict> = None;
    let mut cut_round: Option<Vec<Record>> = None;
    loop {
        if cut.is_set() {
            break;
        }
        let began = Instant::now();
        let records = round(&probe, &shared, cut.clone()).await;
        if records.is_empty() && !cut.is_set() {
            // Every address excluded: nothing to wait for.
            return Finished {
                records,
                ready: true,
            };
        }
        if cut.is_set() && records.iter().any(|r| r.verdict == Verdict::Interrupted) {
            rounds += 1;
            cut_round = Some(records);
            break;
        }
        if records.is_empty() {
            break;
        }
        rounds += 1;
        let passed = records.iter().all(Record::passed);
        streak = if passed { streak + 1 } else { 0 };
        let worst = records.iter().find(|r| !r.passed()).unwrap_or(&records[0]);
        let verdict = worst.verdict;
        let ready = streak >= t.stable;
        let _ = news.send(Status {
            unit,
            verdict,
            streak,
            rounds,
            ready,
        });
        last = Some(records);
        if ready {
            let waited = shared.start.elapsed();
            return Finished {
                records: stamp(last.unwrap_or_default(), waited, rounds, None),
                ready: true,
            };
        }
        pause = if passed || before != Some(verdict) {
            t.interval
        } else {
            t.grow(pause)
        };
        before = Some(verdict);
        let mut sd = cut.clone();
        tokio::select! {
            () = tokio::time::sleep_until(began + pause) => {}
            () = sd.wait() => break,
        }
    }
    let waited = shared.start.elapsed();
    let records = match (last, cut_round) {
        (Some(done), cut) => {
            let note = cut.map(|_| {
                format!(
                    "; the wait ended at {:.1}s with a later probe (round {rounds}) unanswered",
                    waited.as_secs_f64()
                )
            });
            stamp(done, waited, rounds, note)
        }
        (None, Some(cut)) => {
            let note = format!(
                "; the wait ended at {:.1}s with this probe unanswered (round {rounds})",
                waited.as_secs_f64()
            );
            stamp(cut, waited, rounds, Some(note))
        }
        (None, None) => Vec::new(),
    };
    Finished {
        records,
        ready: false,
    }
}

/// One probe of the target through the pool (a name is resolved again each round: DNS that
/// is not there yet is a reason to wait too).
async fn round(probe: &Probe, shared: &Shared, cut: Shutdown) -> Vec<Record> {
    let (tx, mut rx) = mpsc::channel(16);
    let run = PoolRun {
        names: match &probe.target.host {
            crate::inventory::Host::Name(n) => vec![n.clone()],
            _ => Vec::new(),
        },
        limits: shared.limits,
        meta: shared.meta.clone(),
        excludes: shared.excludes.clone(),
        gate: shared.gate.clone(),
    };
    let pool = tokio::spawn(pool::run(
        vec![std::iter::once(probe.clone())],
        run,
        cut,
        tx,
    ));
    let mut out = Vec::new();
    while let Some(r) = rx.recv().await {
        out.push(r);
    }
    let _ = pool.await;
    out
}

/// Fill in `waited_ms` and `rounds`, and add `note` to every detail.
fn stamp(
    mut records: Vec<Record>,
    waited: Duration,
    rounds: u32,
    note: Option<String>,
) -> Vec<Record> {
    for r in &mut records {
        r.waited_ms = Some((waited.as_secs_f64() * 1e6).round() / 1e3);
        r.rounds = Some(rounds);
        if let Some(n) = &note {
            r.detail.push_str(n);
        }
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_grows_by_half_up_to_the_cap() {
        let t = Timing {
            interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(10),
            stable: 1,
        };
        let mut p = t.interval;
        let mut seen = Vec::new();
        for _ in 0..6 {
            p = t.grow(p);
            seen.push(p.as_millis());
        }
        assert_eq!(seen, [3000, 4500, 6750, 10000, 10000, 10000]);
    }

    #[test]
    fn a_cap_below_the_interval_keeps_the_interval() {
        let t = Timing {
            interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(1),
            stable: 1,
        };
        assert_eq!(t.grow(t.interval), Duration::from_secs(2));
    }
}
