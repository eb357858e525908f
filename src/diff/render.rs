//! Writing drift: a table grouped by change kind with a count line (`no drift` when nothing
//! changed), one change object per line (NDJSON), or one JSON document with the counts.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use serde::Serialize;

use super::{Change, ChangeKind, DiffFormat, Drift, REPORT_FORMAT_VERSION};
use crate::report::columns;

#[derive(Serialize)]
struct DriftDoc<'a> {
    format_version: u32,
    changes: &'a [Change],
    counts: BTreeMap<ChangeKind, usize>,
    /// Distinct targets changed (a target may count under several kinds in `counts`).
    targets_changed: usize,
}

/// Write `drift` in `format`.
pub fn render(drift: &Drift, format: DiffFormat, w: &mut impl Write) -> io::Result<()> {
    match format {
        DiffFormat::Ndjson => {
            for c in &drift.changes {
                serde_json::to_writer(&mut *w, c)?;
                w.write_all(b"\n")?;
            }
        }
        DiffFormat::Json => {
            let doc = DriftDoc {
                format_version: REPORT_FORMAT_VERSION,
                changes: &drift.changes,
                counts: drift.counts(),
                targets_changed: drift.by_target().len(),
            };
            serde_json::to_writer(&mut *w, &doc)?;
            w.write_all(b"\n")?;
        }
        DiffFormat::Table => render_table(drift, w)?,
    }
    w.flush()
}

/// Control characters (from names or hosts) shown escaped, so a row stays one line.
fn visible(s: &str) -> String {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        s.to_string()
    }
}

fn render_table(drift: &Drift, w: &mut impl Write) -> io::Result<()> {
    if drift.is_empty() {
        return writeln!(w, "no drift");
    }
    let vantages: BTreeSet<&str> = drift.changes.iter().map(|c| c.vantage.as_str()).collect();
    let with_vantage = vantages.len() > 1;
    let mut head = vec!["NAME", "HOST", "ADDRESS", "PORT", "CHANGE", "DETAIL"];
    if with_vantage {
        head.insert(0, "VANTAGE");
    }
    let head: Vec<String> = head.iter().map(|h| (*h).to_string()).collect();
    let rows: Vec<(ChangeKind, Vec<String>)> = drift
        .changes
        .iter()
        .map(|c| (c.kind, table_row(c, with_vantage)))
        .collect();
    let width = columns::widths(
        std::iter::once(head.as_slice()).chain(rows.iter().map(|(_, r)| r.as_slice())),
    );
    let line = |w: &mut dyn Write, row: &[String]| columns::write_row(w, "  ", row, &width);
    if let (false, Some(v)) = (with_vantage, vantages.first()) {
        if !v.is_empty() {
            writeln!(w, "vantage: {}\n", visible(v))?;
        }
    }
    let counts = drift.counts();
    let kinds = ChangeKind::ALL
        .into_iter()
        .filter_map(|k| counts.get(&k).filter(|n| **n > 0).map(|n| (k, *n)));
    for (i, (kind, n)) in kinds.enumerate() {
        if i > 0 {
            writeln!(w)?;
        }
        writeln!(w, "{} ({n})", kind.heading())?;
        line(w, &head)?;
        for (_, row) in rows.iter().filter(|(k, _)| *k == kind) {
            line(w, row)?;
        }
    }
    writeln!(w)?;
    writeln!(w, "{}", drift.summary())
}

/// One change as table cells (the vantage first when the drift spans several).
fn table_row(c: &Change, with_vantage: bool) -> Vec<String> {
    // Banners are quoted: they may be empty or end in spaces.
    let side = |v: &Option<String>| match (v, c.kind) {
        (None, _) => "-".to_string(),
        (Some(b), ChangeKind::BannerChanged) => format!("\"{}\"", visible(b)),
        (Some(v), _) => visible(v),
    };
    let mut row = vec![
        visible(c.name.as_deref().unwrap_or("-")),
        visible(&c.host),
        c.addr.clone().unwrap_or_else(|| "-".to_string()),
        c.port.to_string(),
        format!("{} → {}", side(&c.old), side(&c.new)),
        visible(&c.detail),
    ];
    if with_vantage {
        row.insert(0, visible(&c.vantage));
    }
    row
}
