//! The progress bar: indicatif on stderr, only when stderr is a terminal and not `--no-progress`.
//! Updated from the collector only (never from probe tasks); the message with live counts is
//! refreshed at most every 100 ms, and indicatif itself redraws at most 20 times a second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::Summary;
use crate::verdict::Verdict;

/// A bar that may be hidden; finishes (clears) on drop.
pub struct Progress {
    bar: Option<ProgressBar>,
    last: Instant,
}

impl Progress {
    /// A bar for `total` probes, drawn only if `wanted` and stderr is a terminal.
    pub fn new(total: u64, wanted: bool) -> Progress {
        let bar = (wanted && std::io::stderr().is_terminal()).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(10));
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            last: Instant::now(),
        }
    }

    /// One more result.
    pub fn update(&mut self, s: &Summary) {
        let Some(bar) = &self.bar else { return };
        if s.total > bar.length().unwrap_or(0) {
            bar.set_length(s.total);
        }
        bar.set_position(s.total);
        if self.last.elapsed() >= Duration::from_millis(100) {
            self.last = Instant::now();
            let counts: Vec<String> = Verdict::ALL
                .iter()
                .filter(|v| s.count(**v) > 0)
                .map(|v| format!("{v} {}", s.count(*v)))
                .collect();
            let rate = s.total as f64 / bar.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!("{rate:.0}/s · {}", counts.join(" · ")));
        }
    }

    /// Print a line above the bar (or plainly on stderr).
    pub fn println(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
