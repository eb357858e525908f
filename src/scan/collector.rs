//! The collector: the only consumer of results. It aggregates the summary, drives the progress
//! bar and feeds the sink, and applies the run-level checks that need more than one record:
//! positive controls (if one fails, later blocked-type verdicts are untrusted) and wildcard
//! detection (an `open` result is held back until its host's check port has answered). When the
//! injected shutdown fires it marks the run interrupted and stops the pool; in-flight probes
//! still report (`interrupted`), so the sink ends with a complete, valid document.

use std::io;
use std::net::IpAddr;

use tokio::sync::mpsc;

use super::wildcard::Wildcard;
use crate::diff::ReportRecord;
use crate::progress::Progress;
use crate::record::Record;
use crate::report::{Sink, Summary, relay};
use crate::shutdown::{Shutdown, Trigger};
use crate::verdict::Verdict;

/// The one consumer of results: summary, progress, controls, wildcard hold-back, sink.
pub(super) struct Collector {
    pub(super) summary: Summary,
    pub(super) progress: Progress,
    pub(super) sink: Box<dyn Sink>,
    pub(super) output_error: Option<io::Error>,
    pub(super) stop: Trigger,
    pub(super) controls_failed: bool,
    pub(super) wildcard: Option<Wildcard>,
    /// Records kept for the baseline diff (only with `--baseline`).
    pub(super) kept: Option<Vec<ReportRecord>>,
}

impl Collector {
    /// Consume records until the pool is done and every wildcard check has answered.
    pub(super) async fn collect(&mut self, mut rx: mpsc::Receiver<Record>, mut external: Shutdown) {
        let (wtx, mut wrx) = mpsc::channel::<(IpAddr, Option<String>)>(64);
        let mut open = true;
        loop {
            let checks = self.wildcard.as_ref().map_or(0, |w| w.in_flight);
            if !open && checks == 0 {
                break;
            }
            // A stream output whose reader is slow: take no record until it drains (the channel
            // fills and holds back new probes; running ones keep their timers).
            let full = relay::backlogged();
            tokio::select! {
                () = relay::drained(), if full => {}
                r = rx.recv(), if open && !full => match r {
                    Some(r) => self.on_record(r, &wtx),
                    None => open = false,
                },
                Some((ip, found)) = wrx.recv(), if checks > 0 => self.on_wildcard(ip, found),
                () = external.wait(), if !self.summary.interrupted => {
                    self.summary.set_interrupted();
                    self.progress.println("telltale: interrupted: no new probes; in-flight ones end now; flushing results (again to exit at once)");
                    self.stop.fire();
                }
            }
        }
    }

    fn on_record(&mut self, mut r: Record, wtx: &mpsc::Sender<(IpAddr, Option<String>)>) {
        if r.control && !r.passed() {
            self.controls_failed = true;
        }
        if self.controls_failed && !r.control && r.verdict.is_blocked() {
            r.trusted = false;
        }
        if let (Some(w), Verdict::Open, Some(ip)) = (self.wildcard.as_mut(), r.verdict, r.addr) {
            match w.hosts.get_mut(&ip) {
                None => {
                    w.start(ip, r.source, wtx.clone());
                    w.hosts.insert(ip, WState::Checking(vec![r]));
                    return;
                }
                Some(WState::Checking(held)) => {
                    held.push(r);
                    return;
                }
                Some(WState::Done(found)) => {
                    if let Some(d) = found {
                        r.wildcard = true;
                        r.detail = format!("{}; {d}", r.detail);
                    }
                }
            }
        }
        self.emit(r);
    }

    fn on_wildcard(&mut self, ip: IpAddr, found: Option<String>) {
        let Some(w) = self.wildcard.as_mut() else {
            return;
        };
        w.in_flight = w.in_flight.saturating_sub(1);
        let held = match w.hosts.insert(ip, WState::Done(found.clone())) {
            Some(WState::Checking(held)) => held,
            _ => Vec::new(),
        };
        if let Some(d) = &found {
            self.progress.println(&format!(
                "telltale: warning: {ip}: {d}, so this host may answer every port (SYN proxy, CDN, port \
                 forwarder): its open results do not prove a service"
            ));
        }
        for mut r in held {
            if let Some(d) = &found {
                r.wildcard = true;
                r.detail = format!("{}; {d}", r.detail);
            }
            self.emit(r);
        }
    }

    fn emit(&mut self, r: Record) {
        self.summary.add(&r);
        self.progress.update(&self.summary);
        if let Some(kept) = self.kept.as_mut() {
            kept.push(ReportRecord::from(&r));
        }
        if self.output_error.is_none() {
            if let Err(e) = self.sink.record(&r) {
                self.output_error = Some(e);
                self.stop.fire();
            }
        }
    }
}

/// A host's wildcard check: still running (its open records held back), or its finding.
pub(super) enum WState {
    Checking(Vec<Record>),
    Done(Option<String>),
}
