//! Provisional verdicts of `--timing auto`: a `filtered` decided on a short wait and its
//! confirmation waits here to see whether its address's answers turn out to come late. The
//! dispatcher looks in as it launches: a held verdict whose address has been marked late since
//! is probed again at the fixed timeout at once, not at the end of the scan. Memory is bounded:
//! past [`HELD_MAX`] the oldest (whose address had the longest to turn late) are sent as they
//! are. What is still held when every probe has finished is swept the same way.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::inventory::Target;
use crate::probe::Outcome;
use crate::timing::Clock;

/// Held verdicts kept at most (a few hundred bytes each).
pub(super) const HELD_MAX: usize = 4096;

/// How often, at most, the held verdicts are checked against new late marks during dispatch.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// A provisional `filtered` held back.
pub(super) struct Held {
    pub(super) target: Arc<Target>,
    pub(super) addr: IpAddr,
    pub(super) port: u16,
    pub(super) outcome: Outcome,
}

impl Held {
    /// The verdict as measured, final.
    pub(super) fn into_final(self) -> (Arc<Target>, IpAddr, u16, Outcome) {
        let mut o = self.outcome;
        o.provisional = false;
        (self.target, self.addr, self.port, o)
    }
}

/// What the held verdicts need now.
#[derive(Default)]
pub(super) struct Due {
    /// Their address turned late: probe again at the fixed timeout.
    pub(super) recheck: Vec<Held>,
    /// Over the bound: send as measured.
    pub(super) release: Vec<Held>,
}

/// The held verdicts and the channel probes send them on.
pub(super) struct Holding {
    rx: mpsc::UnboundedReceiver<Held>,
    kept: VecDeque<Held>,
    /// The clock's late marks when the kept verdicts were last checked.
    marks: u64,
    looked: Instant,
}

impl Holding {
    pub(super) fn new() -> (mpsc::UnboundedSender<Held>, Holding) {
        let (tx, rx) = mpsc::unbounded_channel();
        let h = Holding {
            rx,
            kept: VecDeque::new(),
            marks: 0,
            looked: Instant::now(),
        };
        (tx, h)
    }

    /// Take in what probes have held since the last look; say which are due.
    pub(super) fn look(&mut self, clock: &Clock) -> Due {
        while let Ok(h) = self.rx.try_recv() {
            self.kept.push_back(h);
        }
        let mut due = Due::default();
        if self.kept.is_empty() {
            return due;
        }
        if self.looked.elapsed() >= LOOK_EVERY {
            self.looked = Instant::now();
            let marks = clock.late_marks();
            if marks != self.marks {
                self.marks = marks;
                let (late, keep): (VecDeque<Held>, VecDeque<Held>) = std::mem::take(&mut self.kept)
                    .into_iter()
                    .partition(|h| clock.is_late(h.addr));
                self.kept = keep;
                due.recheck = late.into();
            }
        }
        // Over the bound: the oldest go out, rechecked if their address is late by now (it may
        // have turned late after the last look's count but before they arrived).
        while self.kept.len() > HELD_MAX {
            if let Some(h) = self.kept.pop_front() {
                if clock.is_late(h.addr) {
                    due.recheck.push(h);
                } else {
                    due.release.push(h);
                }
            }
        }
        due
    }

    /// Every probe has finished (the senders are gone): everything still held, oldest first.
    pub(super) async fn drain(mut self) -> VecDeque<Held> {
        while let Some(h) = self.rx.recv().await {
            self.kept.push_back(h);
        }
        self.kept
    }
}

/// A provisional `filtered` probed again at the full timeout: the new verdict, with every wait
/// and attempt of both.
pub(super) fn rechecked(prior: Outcome, mut now: Outcome) -> Outcome {
    let mut waits = prior.waits;
    waits.extend(&now.waits);
    now.waits = waits;
    now.attempts += prior.attempts;
    now.srtt_ms = prior.srtt_ms;
    now.detail = format!(
        "rechecked at the fixed timeout (answers from this address came late): {}",
        now.detail
    );
    now
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::inventory::{Inventory, Overrides};
    use crate::verdict::Verdict;

    fn held(target: &Arc<Target>, addr: &str, port: u16) -> Held {
        let mut outcome = Outcome::without_connect(Verdict::Filtered, None, "short".into());
        outcome.provisional = true;
        Held {
            target: target.clone(),
            addr: addr.parse().unwrap(),
            port,
            outcome,
        }
    }

    #[tokio::test]
    async fn a_late_mark_rechecks_its_group_and_the_bound_sends_the_oldest() {
        let text = "targets:\n  - {host: 127.0.0.1, port: 1}\n";
        let inv = Inventory::parse_str("t.yaml", text, Overrides::default()).unwrap();
        let t = inv.targets[0].clone();
        let clock = Clock::new();
        let (tx, mut h) = Holding::new();
        tx.send(held(&t, "127.0.0.1", 1)).unwrap();
        tx.send(held(&t, "127.0.1.1", 2)).unwrap();
        let due = h.look(&clock);
        assert!(due.recheck.is_empty() && due.release.is_empty());
        // A late answer from another address of 127.0.0.0/24 makes the group late.
        clock.late("127.0.0.9".parse().unwrap());
        tokio::time::sleep(LOOK_EVERY).await;
        let due = h.look(&clock);
        let ports: Vec<u16> = due.recheck.iter().map(|h| h.port).collect();
        assert_eq!(ports, [1]);
        assert!(due.release.is_empty());
        // Past the bound the oldest go out as measured, and final.
        for p in 0..=HELD_MAX as u16 {
            tx.send(held(&t, "127.0.2.1", 100 + p)).unwrap();
        }
        let due = h.look(&clock);
        let ports: Vec<u16> = due.release.iter().map(|h| h.port).collect();
        assert_eq!(ports, [2, 100]);
        let (_, _, _, o) = due.release.into_iter().next().unwrap().into_final();
        assert!(!o.provisional);
        drop(tx);
        assert_eq!(h.drain().await.len(), HELD_MAX);
    }
}
