//! The human verdict table: rows for results not as expected (all with `--all`), then a summary
//! that says, per verdict, what it most likely means and who to ask; then totals.

use std::io::{self, Write};
use std::net::IpAddr;

use super::spill::{self, Dec, Item, Sorter};
use super::{Output, Sink, Summary, TableOptions, columns};
use crate::record::Record;
use crate::verdict::Verdict;

/// The table sink. Rows go through an external sort (memory stays bounded however many rows
/// there are) while the column widths are tracked as they arrive.
pub struct Table {
    out: Output,
    opts: TableOptions,
    rows: Sorter<Row>,
    cols: Columns,
    seq: u64,
}

impl Table {
    pub fn new(out: Output, opts: TableOptions) -> Self {
        Table {
            out,
            opts,
            rows: Sorter::new(spill::SORT_BUDGET),
            cols: Columns::new(),
            seq: 0,
        }
    }
}

/// Every column, FLAKY included (it is dropped at the end unless a row has attempts).
const HEAD: [&str; 10] = [
    "NAME", "HOST", "ADDRESS", "PORT", "VERDICT", "EXPECTED", "TIME", "NOTES", "FLAKY", "DETAIL",
];
/// Index of the FLAKY column in [`HEAD`].
const FLAKY_COL: usize = 8;

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

/// Column widths over the header and every row seen, and whether any row has attempts.
struct Columns {
    width: Vec<usize>,
    flaky: bool,
}

impl Columns {
    fn new() -> Columns {
        Columns {
            width: HEAD.iter().map(|h| h.chars().count()).collect(),
            flaky: false,
        }
    }

    /// The cells of `r` (FLAKY included), widening the columns to fit them.
    fn add(&mut self, r: &Record) -> Vec<String> {
        self.flaky |= r.attempt_verdicts.is_some();
        let c = cells(r);
        for (w, cell) in self.width.iter_mut().zip(&c) {
            *w = (*w).max(cell.chars().count());
        }
        c
    }

    /// The widths of the shown columns.
    fn shown(&self) -> Vec<usize> {
        let mut w = self.width.clone();
        if !self.flaky {
            w.remove(FLAKY_COL);
        }
        w
    }

    /// One row (or the header), without the FLAKY cell when no row has attempts.
    fn write(&self, w: &mut dyn Write, mut row: Vec<String>, width: &[usize]) -> io::Result<()> {
        if !self.flaky && row.len() > FLAKY_COL {
            row.remove(FLAKY_COL);
        }
        columns::write_row(w, "", &row, width)
    }

    fn head() -> Vec<String> {
        HEAD.iter().map(|h| h.to_string()).collect()
    }
}

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

/// Render rows as aligned columns (the last column is not padded); a FLAKY column appears
/// when any row was probed with `--attempts`.
pub fn render_rows(w: &mut impl Write, rows: &[Record]) -> io::Result<()> {
    let mut cols = Columns::new();
    let body: Vec<Vec<String>> = rows.iter().map(|r| cols.add(r)).collect();
    let width = cols.shown();
    cols.write(w, Columns::head(), &width)?;
    for row in body {
        cols.write(w, row, &width)?;
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
            let cells = self.cols.add(r);
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
            let width = self.cols.shown();
            self.cols.write(&mut self.out, Columns::head(), &width)?;
            let rows = std::mem::replace(&mut self.rows, Sorter::new(0));
            for row in rows.finish()? {
                self.cols.write(&mut self.out, row?.cells, &width)?;
            }
            writeln!(self.out)?;
        }
        render_summary(&mut self.out, s)?;
        self.out.commit()
    }
}
