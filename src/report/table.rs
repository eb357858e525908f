//! The human verdict table: rows for results not as expected (all with `--all`), then a summary
//! that says, per verdict, what it most likely means and who to ask; then totals.

use std::io::{self, Write};

use super::{Output, Sink, Summary, TableOptions, columns};
use crate::record::Record;
use crate::verdict::Verdict;

pub struct Table {
    out: Output,
    opts: TableOptions,
    rows: Vec<Record>,
}

impl Table {
    pub fn new(out: Output, opts: TableOptions) -> Self {
        Table {
            out,
            opts,
            rows: Vec::new(),
        }
    }
}

const HEAD: [&str; 9] = [
    "NAME", "HOST", "ADDRESS", "PORT", "VERDICT", "EXPECTED", "TIME", "NOTES", "DETAIL",
];

/// Flags worth a glance: control, untrusted, wildcard.
fn notes(r: &Record) -> String {
    let mut n: Vec<&str> = Vec::new();
    if r.control {
        n.push("control");
    }
    if !r.trusted {
        n.push("UNTRUSTED");
    }
    if r.wildcard {
        n.push("WILDCARD");
    }
    if n.is_empty() {
        "-".into()
    } else {
        n.join(",")
    }
}

/// The FLAKY column (shown with `--attempts`): whether the attempts agreed, and how many did.
fn flaky(r: &Record) -> String {
    match &r.attempt_verdicts {
        Some(v) => {
            let agree = v.iter().filter(|x| **x == r.verdict).count();
            let tag = if r.flaky { "flaky" } else { "no" };
            format!("{tag} {agree}/{}", v.len())
        }
        None => "-".into(),
    }
}

fn cells(r: &Record, with_flaky: bool) -> Vec<String> {
    let time = match (r.connect_ms, r.closed_after_ms) {
        (Some(c), Some(a)) => format!("{c:.1}+{a:.1}ms"),
        (Some(c), None) => format!("{c:.1}ms"),
        _ => "-".to_string(),
    };
    let mut detail = r.detail.clone();
    if let Some(b) = &r.banner {
        let shown: String = b.chars().take(60).collect();
        let more = if shown.len() < b.len() { "…" } else { "" };
        detail = format!("{detail}; banner \"{shown}{more}\"");
    }
    let mark = match r.ok {
        Some(true) if r.trusted => "",
        Some(false) => " ✗",
        _ => " ?",
    };
    let mut c = vec![
        r.name.as_deref().unwrap_or("-").to_string(),
        r.host.to_string(),
        r.addr.map_or_else(|| "-".to_string(), |a| a.to_string()),
        r.port.to_string(),
        format!("{}{mark}", r.verdict),
        r.expect.to_string(),
        time,
        notes(r),
    ];
    if with_flaky {
        c.push(flaky(r));
    }
    c.push(detail);
    c
}

/// Render rows as aligned columns (the last column is not padded); a FLAKY column appears
/// when any row was probed with `--attempts`.
pub fn render_rows(w: &mut impl Write, rows: &[Record]) -> io::Result<()> {
    let with_flaky = rows.iter().any(|r| r.attempt_verdicts.is_some());
    let mut head: Vec<String> = HEAD.iter().map(|h| h.to_string()).collect();
    if with_flaky {
        head.insert(head.len() - 1, "FLAKY".to_string());
    }
    let body: Vec<Vec<String>> = rows.iter().map(|r| cells(r, with_flaky)).collect();
    let all = || std::iter::once(head.as_slice()).chain(body.iter().map(Vec::as_slice));
    let width = columns::widths(all());
    for row in all() {
        columns::write_row(w, "", row, &width)?;
    }
    Ok(())
}

/// The summary block: counts per verdict with meaning and who to ask, then totals.
pub fn render_summary(w: &mut impl Write, s: &Summary) -> io::Result<()> {
    writeln!(
        w,
        "{:<15} {:>7}  {:<30} MEANING",
        "VERDICT", "COUNT", "WHO TO ASK"
    )?;
    for v in Verdict::ALL {
        let n = s.count(v);
        if n > 0 {
            writeln!(
                w,
                "{:<15} {:>7}  {:<30} {}",
                v.as_str(),
                n,
                v.who(),
                v.meaning()
            )?;
        }
    }
    let secs = s.elapsed_ms / 1000.0;
    write!(
        w,
        "\n{} probes, {} as expected, {} not as expected",
        s.total, s.ok, s.mismatches
    )?;
    if s.local_errors > 0 {
        write!(w, ", {} local errors (no verdict: rerun)", s.local_errors)?;
    }
    if s.excluded > 0 {
        write!(w, ", {} excluded", s.excluded)?;
    }
    if s.flaky > 0 {
        write!(w, ", {} flaky", s.flaky)?;
    }
    if s.wildcard > 0 {
        write!(w, ", {} open on wildcard hosts", s.wildcard)?;
    }
    if s.controls_failed > 0 {
        write!(
            w,
            "; {} CONTROL(S) FAILED: {} blocked-type verdicts untrusted",
            s.controls_failed, s.untrusted
        )?;
    }
    if s.interrupted {
        write!(
            w,
            "; INTERRUPTED: partial results, {} probes not started",
            s.not_started
        )?;
    }
    writeln!(w, " in {secs:.2}s")?;
    if !s.vantage.is_empty() {
        writeln!(w, "vantage: {}", s.vantage)?;
    }
    Ok(())
}

impl Sink for Table {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        if self.opts.all || !r.passed() {
            self.rows.push(r.clone());
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, s: &Summary) -> io::Result<()> {
        self.rows.sort_by(|a, b| {
            (a.ok, a.label(), &a.host, a.addr, a.port).cmp(&(
                b.ok,
                b.label(),
                &b.host,
                b.addr,
                b.port,
            ))
        });
        if self.rows.is_empty() {
            if s.total > 0 {
                writeln!(self.out, "All {} probes as expected.\n", s.total)?;
            }
        } else {
            render_rows(&mut self.out, &self.rows)?;
            writeln!(self.out)?;
        }
        render_summary(&mut self.out, s)?;
        self.out.commit()
    }
}
