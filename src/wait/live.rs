//! What a wait shows while it runs, on stderr. On a terminal: a live line per pending target
//! (at most [`MAX_LINES`], then one line for the rest) with its latest verdict, what that means
//! for the wait, and how long it has been waiting, redrawn by indicatif. Without a terminal (CI
//! logs): one line when each target becomes ready, and nothing else until the end.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

use super::unit::Status;
use crate::verdict::Verdict;

/// Live lines drawn at most; the rest are counted on one more line.
pub const MAX_LINES: usize = 20;

/// The display of one wait.
pub(super) struct Live {
    /// The terminal's lines (None without a terminal or with `--no-progress`).
    bars: Option<Bars>,
    /// Each target's label.
    labels: Vec<String>,
    start: Instant,
    stable: u32,
    /// Each target's latest news.
    latest: Vec<Option<Status>>,
    ready: usize,
}

struct Bars {
    multi: MultiProgress,
    /// One line per pending target shown, by target index.
    lines: Vec<(usize, ProgressBar)>,
    /// "… and N more".
    more: Option<ProgressBar>,
}

impl Live {
    /// A display for targets labelled `labels`; live lines only if `wanted` and stderr is a
    /// terminal.
    pub fn new(labels: Vec<String>, stable: u32, wanted: bool, start: Instant) -> Live {
        let n = labels.len();
        let bars = (wanted && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            let style = ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let lines = (0..n.min(MAX_LINES))
                .map(|i| {
                    let b = multi.add(ProgressBar::new_spinner());
                    b.set_style(style.clone());
                    b.enable_steady_tick(Duration::from_millis(250));
                    b.set_message(format!("{} … first probe", labels[i]));
                    (i, b)
                })
                .collect();
            let more = (n > MAX_LINES).then(|| {
                let b = multi.add(ProgressBar::new_spinner());
                b.set_style(style.clone());
                b.set_message(format!("… and {} more pending", n - MAX_LINES));
                b
            });
            Bars { multi, lines, more }
        });
        Live {
            bars,
            labels,
            start,
            stable,
            latest: vec![None; n],
            ready: 0,
        }
    }

    /// A round finished somewhere.
    pub fn update(&mut self, s: Status) {
        let unit = s.unit;
        let secs = self.start.elapsed().as_secs_f64();
        if s.ready {
            self.ready += 1;
            let line = format!(
                "telltale wait: {} ready after {secs:.1}s (round {}): {}",
                self.labels[unit], s.rounds, s.verdict
            );
            match &self.bars {
                Some(b) => b.multi.suspend(|| eprintln!("{line}")),
                None => eprintln!("{line}"),
            }
        }
        self.latest[unit] = Some(s);
        self.redraw();
    }

    /// Once a second: the waiting times move on.
    pub fn tick(&mut self) {
        self.redraw();
    }

    /// Refresh the live lines: pending targets in list order.
    fn redraw(&mut self) {
        let Some(bars) = &mut self.bars else { return };
        let pending: Vec<usize> = (0..self.labels.len())
            .filter(|i| !self.latest[*i].as_ref().is_some_and(|s| s.ready))
            .collect();
        let secs = self.start.elapsed().as_secs_f64();
        for (slot, (shown, bar)) in bars.lines.iter_mut().enumerate() {
            match pending.get(slot) {
                Some(&i) => {
                    *shown = i;
                    bar.set_message(line(
                        &self.labels[i],
                        self.latest[i].as_ref(),
                        self.stable,
                        secs,
                    ));
                }
                None => bar.finish_and_clear(),
            }
        }
        if let Some(more) = &bars.more {
            let rest = pending.len().saturating_sub(bars.lines.len());
            if rest == 0 {
                more.finish_and_clear();
            } else {
                more.set_message(format!(
                    "… and {rest} more pending ({} of {} ready)",
                    self.ready,
                    self.labels.len()
                ));
            }
        }
    }

    /// Clear the live lines (before the final table).
    pub fn finish(self) {
        if let Some(b) = self.bars {
            for (_, bar) in b.lines {
                bar.finish_and_clear();
            }
            if let Some(m) = b.more {
                m.finish_and_clear();
            }
            let _ = b.multi.clear();
        }
    }
}

/// `db:5432 refused — nothing listening yet, 14s (round 5)`.
fn line(label: &str, s: Option<&Status>, stable: u32, secs: f64) -> String {
    match s {
        None => format!("{label} … first probe, {secs:.0}s"),
        Some(s) if s.streak > 0 => format!(
            "{label} {} — as expected, {} of {stable} in a row, {secs:.0}s (round {})",
            s.verdict, s.streak, s.rounds
        ),
        Some(s) => format!(
            "{label} {} — {}, {secs:.0}s (round {})",
            s.verdict,
            waiting_for(s.verdict),
            s.rounds
        ),
    }
}

/// What a verdict that is not yet as expected means for someone waiting.
pub fn waiting_for(v: Verdict) -> &'static str {
    match v {
        Verdict::Open => "still open: the rule that should block it has not landed",
        Verdict::ClosedByPeer | Verdict::ResetByPeer => {
            "the service is up but closes on us (an access rule)"
        }
        Verdict::Rejected => "the service is up but refuses us in words",
        Verdict::Refused => "nothing listening yet",
        Verdict::Unreachable => "ICMP unreachable: a firewall rejects, or no route yet",
        Verdict::Filtered => "no answer: a firewall drops the packets, or the host is not up",
        Verdict::DnsError => "the name does not resolve yet",
        Verdict::LocalError => "a local error on this host",
        Verdict::Interrupted => "cut before it answered",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(verdict: Verdict, streak: u32) -> Status {
        Status {
            unit: 0,
            verdict,
            streak,
            rounds: 5,
            ready: false,
        }
    }

    #[test]
    fn a_pending_line_says_why_and_how_long() {
        let s = status(Verdict::Refused, 0);
        assert_eq!(
            line("db:5432", Some(&s), 1, 14.2),
            "db:5432 refused — nothing listening yet, 14s (round 5)"
        );
    }

    #[test]
    fn a_passing_line_counts_towards_stable() {
        let s = status(Verdict::Open, 2);
        assert_eq!(
            line("db:5432", Some(&s), 3, 9.0),
            "db:5432 open — as expected, 2 of 3 in a row, 9s (round 5)"
        );
    }
}
