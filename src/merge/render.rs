//! Writing a merge as text: the matrix as a table (with warnings and a count line) or as CSV
//! (a verdict and an `_ok` column per vantage), the merged records as NDJSON, or matrix and
//! records as one JSON document. HTML is in `html`.

use std::io::{self, Write};

use super::{Cell, MergeFormat, Merged, Row};
use crate::report::columns;

/// Whether a cell passed, for machines: `true`, `false`, `untrusted`, or empty (no expectation).
fn ok_word(c: &Cell) -> &'static str {
    match c.ok {
        Some(true) if c.trusted => "true",
        Some(true) => "untrusted",
        Some(false) => "false",
        None => "",
    }
}

/// One matrix row: its label cells, then `cell` of each vantage's cell (or `missing`), flattened.
fn matrix_row<const N: usize>(
    m: &Merged,
    r: &Row,
    missing: [&str; N],
    cell: impl Fn(&Cell) -> [String; N],
) -> Vec<String> {
    let mut line = row_label(r).to_vec();
    for v in &m.vantages {
        match r.cells.get(v) {
            Some(c) => line.extend(cell(c)),
            None => line.extend(missing.iter().map(|s| (*s).to_string())),
        }
    }
    line
}

/// Name, host, address and port of a row, `-` for what is absent.
pub(super) fn row_label(r: &Row) -> [String; 4] {
    [
        r.name.clone().unwrap_or_else(|| "-".into()),
        r.host.clone(),
        r.addr.clone().unwrap_or_else(|| "-".into()),
        r.port.to_string(),
    ]
}

/// Write the merge in `format`.
pub fn render(m: &Merged, format: MergeFormat, w: &mut impl Write) -> io::Result<()> {
    match format {
        MergeFormat::Table => table(m, w),
        MergeFormat::Ndjson => {
            for r in &m.records {
                serde_json::to_writer(&mut *w, r)?;
                w.write_all(b"\n")?;
            }
            Ok(())
        }
        MergeFormat::Json => {
            let doc = serde_json::json!({
                "format_version": m.format_version,
                "vantages": m.vantages,
                "rows": m.rows,
                "mismatches": m.mismatches,
                "warnings": m.warnings,
                "results": m.records,
            });
            serde_json::to_writer(&mut *w, &doc)?;
            w.write_all(b"\n")
        }
        MergeFormat::Csv => csv_matrix(m, w),
        MergeFormat::Html => w.write_all(super::html(m).as_bytes()),
    }
}

/// The matrix as CSV: two columns per vantage, the verdict and whether it passed.
fn csv_matrix(m: &Merged, w: &mut impl Write) -> io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    let mut head = vec![
        "name".to_string(),
        "host".into(),
        "addr".into(),
        "port".into(),
    ];
    // Two columns per vantage: the verdict, and whether it passed.
    for v in &m.vantages {
        head.push(v.clone());
        head.push(format!("{v}_ok"));
    }
    c.write_record(&head)?;
    for r in &m.rows {
        let rec = matrix_row(m, r, ["", ""], |c| {
            [c.verdict.to_string(), ok_word(c).to_string()]
        });
        c.write_record(&rec)?;
    }
    c.flush()
}

fn table(m: &Merged, w: &mut impl Write) -> io::Result<()> {
    let mut head = vec![
        "NAME".to_string(),
        "HOST".into(),
        "ADDRESS".into(),
        "PORT".into(),
    ];
    head.extend(m.vantages.iter().cloned());
    let body: Vec<Vec<String>> = m
        .rows
        .iter()
        .map(|r| matrix_row(m, r, ["—"], |c| [format!("{} {}", c.verdict, c.mark())]))
        .collect();
    let all = || std::iter::once(head.as_slice()).chain(body.iter().map(Vec::as_slice));
    let width = columns::widths(all());
    for line in all() {
        columns::write_row(w, "", line, &width)?;
    }
    for warn in &m.warnings {
        writeln!(w, "warning: {warn}")?;
    }
    let cells: usize = m.rows.iter().map(|r| r.cells.len()).sum();
    writeln!(
        w,
        "\n{} rows × {} vantages: {} cells, {} not as expected",
        m.rows.len(),
        m.vantages.len(),
        cells,
        m.mismatches
    )
}
