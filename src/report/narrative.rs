//! `telltale probe`: what telnet would have shown, explained — each address tried, what
//! happened with timings, the verdict, what it means, who to ask, and any banner. On a terminal
//! (see [`super::term`]) the verdict is coloured and `NOT as expected` is red.

use std::io::{self, Write};

use super::{Output, Sink, Summary, term};
use crate::record::Record;

/// The narrative sink.
pub struct Narrative {
    out: Output,
    color: bool,
}

impl Narrative {
    /// A narrative to `out`, with ANSI colours when `color`.
    pub fn new(out: Output, color: bool) -> Self {
        Narrative { out, color }
    }
}

impl Sink for Narrative {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        let w = &mut self.out;
        match r.addr {
            Some(a) => writeln!(w, "Trying {a} port {}...", r.port)?,
            None => writeln!(w, "Resolving {}...", r.host)?,
        }
        writeln!(w, "  {}", r.detail)?;
        if r.attempts > 1 && r.attempt_verdicts.is_none() {
            writeln!(
                w,
                "  tried {} times (--retries re-probes `filtered` and `local-error`), each up to the connect timeout",
                r.attempts
            )?;
        }
        if let Some(b) = &r.banner {
            writeln!(w, "  banner: \"{b}\"")?;
        }
        if let Some(v) = &r.attempt_verdicts {
            let list: Vec<&str> = v.iter().map(|x| x.as_str()).collect();
            let tag = if r.flaky {
                "FLAKY: attempts disagree"
            } else {
                "stable"
            };
            writeln!(
                w,
                "  attempts: {} ({tag}; the verdict is the majority)",
                list.join(", ")
            )?;
        }
        if r.wildcard {
            writeln!(
                w,
                "  WILDCARD: this host accepts on a port nobody should serve; open does not prove a service"
            )?;
        }
        if !r.trusted {
            writeln!(
                w,
                "  UNTRUSTED: a positive control failed, so this blocked-type verdict proves nothing"
            )?;
        }
        let mark = match (r.passed(), self.color) {
            (true, _) => "as expected".to_string(),
            (false, false) => "NOT as expected".to_string(),
            (false, true) => term::paint("NOT as expected", "1;31"),
        };
        writeln!(
            w,
            "  verdict: {} ({mark}: expected {})",
            term::verdict(r.verdict, self.color),
            r.expect
        )?;
        writeln!(w, "  meaning: {}", r.verdict.meaning())?;
        writeln!(w, "  who to ask: {}", r.who())?;
        w.flush()
    }

    fn finish(mut self: Box<Self>, s: &Summary) -> io::Result<()> {
        if s.total > 1 {
            writeln!(
                self.out,
                "{} probes: {} as expected, {} not",
                s.total, s.ok, s.mismatches
            )?;
        }
        if s.interrupted {
            writeln!(self.out, "interrupted")?;
        }
        self.out.commit()
    }
}
