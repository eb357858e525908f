//! Laying the verdict table and its summary out. The table's columns are measured as rows
//! arrive ([`Shape`]); at the end one [`Plan`] says where every cell goes, and each row is
//! written by it as it comes back from the sort, so memory stays bounded.
//!
//! Without a width (a pipe, a file) every row is one line of aligned columns, in full. With a
//! width (a terminal) the table is fitted in steps, each taken only if the one before did not
//! fit: drop NOTES when no row has notes and ADDRESS when every address is its host; cut
//! DETAIL with `…` if that leaves it [`DETAIL_MIN`] columns; move DETAIL onto an indented line
//! under its row; move EXPECTED there too (`expected X; DETAIL`); narrow NAME and HOST. Every
//! line is finally cut to the width, so nothing wraps. The summary's MEANING moves under its
//! verdict, word-wrapped, when a one-line summary would not fit.

use std::io::{self, Write};

use super::Summary;
use super::term::{self, Style};
use crate::verdict::Verdict;

/// Every column, FLAKY included (shown only when some row has attempts).
pub const HEAD: [&str; 10] = [
    "NAME", "HOST", "ADDRESS", "PORT", "VERDICT", "EXPECTED", "TIME", "NOTES", "FLAKY", "DETAIL",
];
const NAME: usize = 0;
const HOST: usize = 1;
const ADDRESS: usize = 2;
const VERDICT: usize = 4;
const EXPECTED: usize = 5;
const TIME: usize = 6;
const NOTES: usize = 7;
const FLAKY: usize = 8;
const DETAIL: usize = 9;

/// Cutting DETAIL on the row's line is worth it only if this many columns of it stay.
pub const DETAIL_MIN: usize = 30;
/// Indent of the line under a row (moved columns) and of a wrapped MEANING.
const INDENT: &str = "  ";
/// Narrowest NAME and HOST may become (an IPv4 address fits in 15).
const SHRINK: [(usize, usize); 2] = [(NAME, 10), (HOST, 15)];
/// Explains the TIME cells `a+bms`.
pub const TIME_LEGEND: &str = "TIME a+b ms: connected in a ms, the peer closed or reset b ms later";

/// What the rows seen so far say about the columns.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Widest cell per column (header included), in terminal columns.
    width: Vec<usize>,
    /// Some row has attempts (the FLAKY column).
    flaky: bool,
    /// Some row has notes.
    notes: bool,
    /// Some row's address is not its host as written.
    addr_differs: bool,
    /// Some row's TIME has the `a+b` form.
    closed_times: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            width: HEAD.iter().map(|h| term::width(h)).collect(),
            flaky: false,
            notes: false,
            addr_differs: false,
            closed_times: false,
        }
    }
}

impl Shape {
    /// Count one row's cells (all of [`HEAD`], in order).
    pub fn add(&mut self, cells: &[String], flaky: bool) {
        self.flaky |= flaky;
        for (w, cell) in self.width.iter_mut().zip(cells) {
            *w = (*w).max(term::width(cell));
        }
        let cell = |i: usize| cells.get(i).map_or("-", String::as_str);
        self.notes |= cell(NOTES) != "-";
        self.addr_differs |= cell(ADDRESS) != "-" && cell(ADDRESS) != cell(HOST);
        self.closed_times |= cell(TIME).contains('+');
    }
}

/// Where every cell goes.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Columns on the row's line, with their widths.
    main: Vec<(usize, usize)>,
    /// Columns on the indented line under the row.
    below: Vec<usize>,
    limit: Option<usize>,
    color: bool,
    legend: bool,
    /// Some text was cut to fit.
    cut: bool,
}

/// Width of a line of these columns: the cells and two blanks between each.
fn total(main: &[(usize, usize)]) -> usize {
    main.iter().map(|(_, w)| w).sum::<usize>() + 2 * main.len().saturating_sub(1)
}

impl Plan {
    /// The plan for rows of `shape` written with `style`.
    pub fn new(shape: &Shape, style: Style) -> Plan {
        let mut main: Vec<(usize, usize)> = (0..HEAD.len())
            .filter(|&c| c != FLAKY || shape.flaky)
            .map(|c| (c, shape.width[c]))
            .collect();
        let mut below = Vec::new();
        if let Some(limit) = style.width {
            fit(shape, limit, &mut main, &mut below);
        }
        Plan {
            main,
            below,
            limit: style.width,
            color: style.color,
            legend: shape.closed_times,
            cut: false,
        }
    }

    /// The header (two lines when columns moved under the rows).
    pub fn write_head(&mut self, w: &mut dyn Write) -> io::Result<()> {
        let head: Vec<String> = HEAD.iter().map(|h| h.to_string()).collect();
        self.write_cells(w, &head, true)
    }

    /// One row: all of [`HEAD`]'s cells, in order.
    pub fn write_row(&mut self, w: &mut dyn Write, cells: &[String]) -> io::Result<()> {
        self.write_cells(w, cells, false)
    }

    /// What follows the rows: the TIME legend when some row has `a+b` times, and on a terminal
    /// a note if anything was cut.
    pub fn write_notes(&mut self, w: &mut dyn Write) -> io::Result<()> {
        if self.legend {
            self.write_text(w, TIME_LEGEND)?;
        }
        if self.cut {
            if let Some(limit) = self.limit {
                let note = format!(
                    "… marks text cut to fit {limit} columns; `| less -S` shows whole rows"
                );
                self.write_text(w, &note)?;
            }
        }
        Ok(())
    }

    fn write_text(&self, w: &mut dyn Write, text: &str) -> io::Result<()> {
        match self.limit {
            None => writeln!(w, "{text}"),
            Some(limit) => term::wrap(text, limit, "", "  ")
                .iter()
                .try_for_each(|l| writeln!(w, "{l}")),
        }
    }

    fn write_cells(&mut self, w: &mut dyn Write, cells: &[String], head: bool) -> io::Result<()> {
        let cell = |c: usize| cells.get(c).map_or("", String::as_str);
        let limit = self.limit.unwrap_or(usize::MAX);
        let mut line = String::new();
        let mut used = 0;
        for (k, &(c, cw)) in self.main.iter().enumerate() {
            let sep = if k == 0 { 0 } else { 2 };
            let room = limit.saturating_sub(used + sep);
            if room == 0 {
                self.cut = true;
                break;
            }
            let last = k + 1 == self.main.len();
            let text = term::truncate(cell(c), if last { room } else { cw.min(room) });
            self.cut |= text.len() != cell(c).len();
            let tw = term::width(&text);
            line.push_str(&"  "[..sep]);
            if self.color && c == VERDICT && !head {
                line.push_str(&term::paint_verdict_cell(&text));
            } else {
                line.push_str(&text);
            }
            used += sep + tw;
            if !last {
                let pad = cw.min(room).saturating_sub(tw);
                line.push_str(&" ".repeat(pad));
                used += pad;
            }
        }
        writeln!(w, "{}", line.trim_end())?;
        let parts: Vec<String> = self
            .below
            .iter()
            .map(|&c| match (c, head) {
                (EXPECTED, false) => format!("expected {}", cell(c)),
                _ => cell(c).to_string(),
            })
            .filter(|p| !p.is_empty())
            .collect();
        if !parts.is_empty() {
            let text = format!("{INDENT}{}", parts.join("; "));
            let shown = term::truncate(&text, limit);
            self.cut |= shown.len() != text.len();
            writeln!(w, "{shown}")?;
        }
        Ok(())
    }
}

/// Fit `main` into `limit` columns, moving columns to `below` (see the module doc).
fn fit(shape: &Shape, limit: usize, main: &mut Vec<(usize, usize)>, below: &mut Vec<usize>) {
    if total(main) <= limit {
        return;
    }
    let unused = |c: usize| c == NOTES && !shape.notes || c == ADDRESS && !shape.addr_differs;
    main.retain(|&(c, _)| !unused(c));
    if total(main) <= limit {
        return;
    }
    let detail_at = total(&main[..main.len() - 1]) + 2;
    if detail_at + DETAIL_MIN <= limit {
        return;
    }
    for moved in [DETAIL, EXPECTED] {
        main.retain(|&(c, _)| c != moved);
        below.insert(0, moved);
        if total(main) <= limit {
            return;
        }
    }
    for (col, min) in SHRINK {
        let excess = total(main).saturating_sub(limit);
        if let Some((_, w)) = main.iter_mut().find(|(c, _)| *c == col) {
            *w -= excess.min(w.saturating_sub(min));
        }
    }
}

/// The summary block: counts per verdict with who to ask and what it means, then the totals
/// and the vantage. With a width, MEANING goes under its verdict (word-wrapped) unless the
/// one-line form fits.
pub fn write_summary(w: &mut dyn Write, s: &Summary, style: Style) -> io::Result<()> {
    let present: Vec<Verdict> = Verdict::ALL
        .into_iter()
        .filter(|v| s.count(*v) > 0)
        .collect();
    // `VERDICT` (15) COUNT (7) WHO TO ASK (30) and the blanks between them.
    const MEANING_AT: usize = 15 + 1 + 7 + 2 + 30 + 1;
    let widest = present.iter().map(|v| term::width(v.meaning())).max();
    let one_line = match style.width {
        None => true,
        Some(limit) => MEANING_AT + widest.unwrap_or(0) <= limit,
    };
    let limit = style.width.unwrap_or(usize::MAX);
    let line = |w: &mut dyn Write, v: Option<Verdict>, text: String| -> io::Result<()> {
        if term::width(&text) > limit {
            return writeln!(w, "{}", term::truncate(&text, limit));
        }
        match v {
            Some(v) if style.color => {
                let rest = &text[v.as_str().len()..];
                writeln!(w, "{}{rest}", term::verdict(v, true))
            }
            _ => writeln!(w, "{text}"),
        }
    };
    if one_line {
        let head = format!(
            "{:<15} {:>7}  {:<30} MEANING",
            "VERDICT", "COUNT", "WHO TO ASK"
        );
        line(w, None, head)?;
    } else {
        let head = format!("{:<15} {:>7}  WHO TO ASK", "VERDICT", "COUNT");
        line(w, None, head)?;
        line(w, None, format!("{INDENT}MEANING"))?;
    }
    for v in present {
        let n = s.count(v);
        if one_line {
            let text = format!(
                "{:<15} {:>7}  {:<30} {}",
                v.as_str(),
                n,
                v.who(),
                v.meaning()
            );
            line(w, Some(v), text)?;
        } else {
            line(
                w,
                Some(v),
                format!("{:<15} {:>7}  {}", v.as_str(), n, v.who()),
            )?;
            for l in term::wrap(v.meaning(), limit, INDENT, INDENT) {
                writeln!(w, "{l}")?;
            }
        }
    }
    writeln!(w)?;
    let mut wrapped = |text: &str| -> io::Result<()> {
        match style.width {
            None => writeln!(w, "{text}"),
            Some(limit) => term::wrap(text, limit, "", "  ")
                .iter()
                .try_for_each(|l| writeln!(w, "{l}")),
        }
    };
    wrapped(&totals(s))?;
    if !s.vantage.is_empty() {
        wrapped(&format!("vantage: {}", s.vantage))?;
    }
    Ok(())
}

/// `8 probes, 8 as expected, 0 not as expected in 3.00s`, with what else happened.
fn totals(s: &Summary) -> String {
    let mut t = format!(
        "{} probes, {} as expected, {} not as expected",
        s.total, s.ok, s.mismatches
    );
    if s.local_errors > 0 {
        t += &format!(", {} local errors (no verdict: rerun)", s.local_errors);
    }
    if s.excluded > 0 {
        t += &format!(", {} excluded", s.excluded);
    }
    if s.flaky > 0 {
        t += &format!(", {} flaky", s.flaky);
    }
    if s.wildcard > 0 {
        t += &format!(", {} open on wildcard hosts", s.wildcard);
    }
    if s.controls_failed > 0 {
        t += &format!(
            "; {} CONTROL(S) FAILED: {} blocked-type verdicts untrusted",
            s.controls_failed, s.untrusted
        );
    }
    if s.interrupted {
        t += &format!(
            "; INTERRUPTED: partial results, {} probes not started",
            s.not_started
        );
    }
    t + &format!(" in {:.2}s", s.elapsed_ms / 1000.0)
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
