//! The merge matrix as one self-contained HTML page: inline CSS and script, no external assets;
//! a colour per verdict, mismatches outlined, a sticky header and a row filter.

use std::fmt::Write as _;

use super::render::row_label;
use super::{Cell, Merged, Row};
use crate::verdict::Verdict;

fn esc(s: &str) -> String {
    crate::report::xml_escape(s)
}

/// Background of a cell: green for open, orange for denied, one colour per blocked verdict.
fn colour(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Open => "#2e7d32",
        Verdict::ClosedByPeer | Verdict::ResetByPeer | Verdict::Rejected => "#ef6c00",
        Verdict::Refused => "#6d4c41",
        Verdict::Unreachable => "#ad1457",
        Verdict::Filtered => "#6a1b9a",
        Verdict::DnsError => "#455a64",
        Verdict::LocalError | Verdict::Interrupted => "#757575",
    }
}

const STYLE: &str = "<style>\n\
    body{font-family:system-ui,sans-serif;margin:1rem;color:#222}\n\
    h1{font-size:1.2rem}\n\
    #filter{padding:.4rem;width:24rem;margin-bottom:.6rem}\n\
    table{border-collapse:collapse;font-size:.9rem}\n\
    th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}\n\
    thead th{position:sticky;top:0;background:#263238;color:#fff}\n\
    td.cell{color:#fff;font-weight:600}\n\
    td.miss{outline:3px dashed #000;outline-offset:-3px}\n\
    td.none{background:#eee;color:#777}\n\
    </style>";

const FILTER: &str = "<input id=\"filter\" placeholder=\"filter rows (name, host, address, port, verdict)\" oninput=\"f(this.value)\">\n";

const FOOT: &str = "</tbody></table>\n<script>\nfunction f(q){q=q.toLowerCase();\
    for(const tr of document.querySelectorAll('#matrix tbody tr')){\
    tr.style.display=tr.textContent.toLowerCase().includes(q)?'':'none';}}\n</script>\n</body></html>\n";

/// A self-contained page: inline CSS and script, no external assets.
pub fn html(m: &Merged) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>telltale matrix</title>\n\
         {STYLE}</head><body>\n<h1>telltale: {} rows × {} vantages, {} not as expected</h1>\n\
         {FILTER}<table id=\"matrix\"><thead><tr><th>name</th><th>host</th><th>address</th><th>port</th>",
        m.rows.len(),
        m.vantages.len(),
        m.mismatches
    );
    for v in &m.vantages {
        let _ = write!(h, "<th>{}</th>", esc(v));
    }
    h.push_str("</tr></thead><tbody>\n");
    for r in &m.rows {
        row(&mut h, m, r);
    }
    h.push_str(FOOT);
    h
}

fn row(h: &mut String, m: &Merged, r: &Row) {
    h.push_str("<tr>");
    for c in row_label(r) {
        let _ = write!(h, "<td>{}</td>", esc(&c));
    }
    for v in &m.vantages {
        match r.cells.get(v) {
            Some(c) => cell(h, c),
            None => h.push_str("<td class=\"none\">—</td>"),
        }
    }
    h.push_str("</tr>\n");
}

fn cell(h: &mut String, c: &Cell) {
    let miss = if c.passed() { "" } else { " miss" };
    let _ = write!(
        h,
        "<td class=\"cell{miss}\" style=\"background:{}\" title=\"expected {}: {}\">{} {}</td>",
        colour(c.verdict),
        esc(&c.expect.join("|")),
        esc(&c.detail),
        esc(c.verdict.as_str()),
        c.mark()
    );
}
