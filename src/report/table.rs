//! The human verdict table: rows for results not as expected (all with `--all`), then a summary
//! that says, per verdict, what it most likely means and who to ask; then totals. The cells are
//! made here; where they go (and how a terminal's width is met) is [`super::layout`]'s.

use std::io::{self, Write};
use std::net::IpAddr;

use super::layout::{Plan, Shape, write_summary};
use super::spill::{self, Dec, Item, Sorter};
use super::term::Style;
use super::{Output, Sink, Summary, TableOptions};
use crate::record::Record;

/// The table sink. Rows go through an external sort (memory stays bounded however many rows
/// there are) while the column widths are tracked as they arrive.
pub struct Table {
    out: Output,
    opts: TableOptions,
    style: Style,
    rows: Sorter<Row>,
    shape: Shape,
    seq: u64,
}

impl Table {
    /// A table written to `out` with full rows, coloured only with `--color always` (a file,
    /// `--also`); [`Table::styled`] gives one for a terminal.
    pub fn new(out: Output, opts: TableOptions) -> Self {
        Table::styled(out, opts, Style::elsewhere(opts.color))
    }

    /// A table written to `out` with `style`.
    pub fn styled(out: Output, opts: TableOptions, style: Style) -> Self {
        Table {
            out,
            opts,
            style,
            rows: Sorter::new(spill::SORT_BUDGET),
            shape: Shape::default(),
            seq: 0,
        }
    }
}

/// One table row: its sort key (`ok`, label, host, address, port, then arrival order, so rows
/// with equal keys keep it, as a stable sort would) and its cells.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    ok: Option<bool>,
    label: String,
    host: String,
    addr: Option<IpAddr>,
    port: u16,
    seq: u64,
    cells: Vec<String>,
}

impl Item for Row {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(match self.ok {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        spill::put_str(out, &self.label);
        spill::put_str(out, &self.host);
        spill::put_addr(out, self.addr);
        out.extend_from_slice(&self.port.to_le_bytes());
        spill::put_u64(out, self.seq);
        out.push(u8::try_from(self.cells.len()).unwrap_or(u8::MAX));
        for c in self.cells.iter().take(usize::from(u8::MAX)) {
            spill::put_str(out, c);
        }
    }

    fn decode(d: &mut Dec<'_>) -> io::Result<Self> {
        let ok = match d.u8()? {
            0 => None,
            1 => Some(false),
            _ => Some(true),
        };
        let label = d.string()?;
        let host = d.string()?;
        let addr = d.addr()?;
        let port = d.take(2)?;
        let port = u16::from_le_bytes([port[0], port[1]]);
        let seq = d.u64()?;
        let n = d.u8()?;
        let cells = (0..n).map(|_| d.string()).collect::<io::Result<_>>()?;
        Ok(Row {
            ok,
            label,
            host,
            addr,
            port,
            seq,
            cells,
        })
    }

    fn heap_bytes(&self) -> usize {
        self.label.capacity()
            + self.host.capacity()
            + self.cells.capacity() * std::mem::size_of::<String>()
            + self.cells.iter().map(String::capacity).sum::<usize>()
    }
}

/// Flags worth a glance: control, untrusted, wildcard, and the source address it was probed
/// from (`--source`, `source:`).
fn notes(r: &Record) -> String {
    let mut n: Vec<String> = Vec::new();
    if r.control {
        n.push("control".into());
    }
    if !r.trusted {
        n.push("UNTRUSTED".into());
    }
    if r.wildcard {
        n.push("WILDCARD".into());
    }
    if let Some(src) = r.source {
        n.push(format!("from {src}"));
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

fn cells(r: &Record) -> Vec<String> {
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
    // A pass is unmarked in the table; ✗ and ? follow the verdict.
    let mark = match crate::verdict::mark(r.ok, r.trusted) {
        "✓" => String::new(),
        m => format!(" {m}"),
    };
    vec![
        r.name.as_deref().unwrap_or("-").to_string(),
        r.host.to_string(),
        r.addr.map_or_else(|| "-".to_string(), |a| a.to_string()),
        r.port.to_string(),
        format!("{}{mark}", r.verdict),
        r.expect.to_string(),
        time,
        notes(r),
        flaky(r),
        detail,
    ]
}

/// Render rows as aligned columns in full, as a table does into a file: the header, the rows
/// in the given order, and the TIME legend when a row has `a+b` times. A FLAKY column appears
/// when any row was probed with `--attempts`.
pub fn render_rows(w: &mut impl Write, rows: &[Record]) -> io::Result<()> {
    let mut shape = Shape::default();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let c = cells(r);
            shape.add(&c, r.attempt_verdicts.is_some());
            c
        })
        .collect();
    let mut plan = Plan::new(&shape, Style::default());
    plan.write_head(w)?;
    for row in body {
        plan.write_row(w, &row)?;
    }
    plan.write_notes(w)
}

impl Sink for Table {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        if self.opts.all || !r.passed() {
            let cells = cells(r);
            self.shape.add(&cells, r.attempt_verdicts.is_some());
            self.rows.push(Row {
                ok: r.ok,
                label: r.label().to_string(),
                host: r.host.to_string(),
                addr: r.addr,
                port: r.port,
                seq: self.seq,
                cells,
            })?;
            self.seq += 1;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, s: &Summary) -> io::Result<()> {
        if self.seq == 0 {
            if s.total > 0 {
                writeln!(self.out, "All {} probes as expected.\n", s.total)?;
            }
        } else {
            let mut plan = Plan::new(&self.shape, self.style);
            plan.write_head(&mut self.out)?;
            let rows = std::mem::replace(&mut self.rows, Sorter::new(0));
            for row in rows.finish()? {
                plan.write_row(&mut self.out, &row?.cells)?;
            }
            plan.write_notes(&mut self.out)?;
            writeln!(self.out)?;
        }
        write_summary(&mut self.out, s, self.style)?;
        if let Some(drift) = &s.drift {
            self.out.write_all(drift.as_bytes())?;
        }
        self.out.commit()
    }
}
