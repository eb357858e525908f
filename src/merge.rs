//! `telltale merge`: many reports (shards and/or vantages) → one answer.
//!
//! - Shards of one vantage are checked (same inventory digest, same N, no duplicate and no
//!   missing shard unless `--allow-partial`) and concatenated: one report as if scanned at once.
//! - Several vantages become a matrix: rows (name, address, port), one column per vantage, each
//!   cell the verdict with ✓/✗ against that vantage's expectation — as a table, JSON, CSV or a
//!   self-contained HTML page (inline CSS and script, colour per verdict, sticky header, filter).
//!
//! Reports are read with the `diff` reader, so both NDJSON and JSON reports are accepted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::diff::{Report, ReportRecord};
use crate::record::FORMAT_VERSION;
use crate::report::columns;

/// Merge output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MergeFormat {
    /// Text matrix (default).
    Table,
    /// Merged records, one per line (the matrix is not representable line by line).
    Ndjson,
    /// The matrix and the merged records as one document.
    Json,
    /// The matrix as CSV, one column per vantage.
    Csv,
    /// The matrix as a self-contained HTML page.
    Html,
}

/// A merge that cannot be done; each names the files involved. Exit 2.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A report could not be read.
    #[error("{0}")]
    Read(#[from] crate::diff::DiffError),
    /// Reports of different inventories.
    #[error("reports come from different inventories: {a} has digest {da}, {b} has digest {db}")]
    Inventory {
        /// First file.
        a: String,
        /// Its digest.
        da: String,
        /// Other file.
        b: String,
        /// Its digest.
        db: String,
    },
    /// The same shard twice.
    #[error("vantage `{vantage}`: shard {shard} appears twice ({a} and {b})")]
    DuplicateShard {
        /// Vantage.
        vantage: String,
        /// `K/N`.
        shard: String,
        /// First file.
        a: String,
        /// Second file.
        b: String,
    },
    /// Shards of different N, or a full report mixed with shards.
    #[error(
        "vantage `{vantage}`: {a} is shard {sa} but {b} is {sb}: reports must all be shards of one split"
    )]
    MixedSplit {
        /// Vantage.
        vantage: String,
        /// First file.
        a: String,
        /// Its shard (or "unsharded").
        sa: String,
        /// Other file.
        b: String,
        /// Its shard.
        sb: String,
    },
    /// Shards missing.
    #[error(
        "vantage `{vantage}`: missing shard(s) {missing} of {n}; pass --allow-partial to merge anyway"
    )]
    MissingShards {
        /// Vantage.
        vantage: String,
        /// Missing shard numbers.
        missing: String,
        /// N.
        n: u32,
    },
    /// Nothing to merge.
    #[error("no records in any report")]
    Empty,
}

/// One cell: what one vantage saw for one row.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    /// Verdict.
    pub verdict: String,
    /// As expected for that vantage (null: no expectation there).
    pub ok: Option<bool>,
    /// Acceptable verdicts for that vantage.
    pub expect: Vec<String>,
    /// Explanation.
    pub detail: String,
    /// False when a failed positive control made this blocked-type verdict prove nothing.
    pub trusted: bool,
}

/// One matrix row.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Target label.
    pub name: Option<String>,
    /// Host as written.
    pub host: String,
    /// Address (null for dns-error).
    pub addr: Option<String>,
    /// Port.
    pub port: u16,
    /// Vantage → cell (a vantage that did not probe this row has no cell).
    pub cells: BTreeMap<String, Cell>,
}

/// The merged result.
#[derive(Debug, Serialize)]
pub struct Merged {
    /// Schema version.
    pub format_version: u32,
    /// Vantages, sorted.
    pub vantages: Vec<String>,
    /// Rows sorted by (name, host, addr, port).
    pub rows: Vec<Row>,
    /// Cells not as expected (including no expectation).
    pub mismatches: usize,
    /// Every record of every report, shards concatenated.
    #[serde(skip)]
    pub records: Vec<ReportRecord>,
    /// Problems tolerated with `--allow-partial`.
    pub warnings: Vec<String>,
}

/// Load and check the reports, then build the matrix.
pub fn merge(paths: &[PathBuf], allow_partial: bool) -> Result<Merged, MergeError> {
    let mut reports = Vec::new();
    for p in paths {
        reports.push(Report::load(p)?);
    }
    merge_reports(reports, allow_partial)
}

/// Check and merge loaded reports.
pub fn merge_reports(reports: Vec<Report>, allow_partial: bool) -> Result<Merged, MergeError> {
    let mut warnings = Vec::new();
    check_digests(&reports)?;
    // (vantage) → shard label → file
    let mut shards: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in &reports {
        if r.records.is_empty() {
            warnings.push(format!(
                "{} has no records (a shard without probes reads the same); skipped",
                r.source
            ));
        }
        let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
        for rec in &r.records {
            let label = rec.shard.clone().unwrap_or_else(|| "unsharded".to_string());
            seen.insert((rec.vantage.clone(), label));
        }
        for (vantage, label) in seen {
            let files = shards.entry(vantage.clone()).or_default();
            if let Some(other) = files.get(&label) {
                return Err(MergeError::DuplicateShard {
                    vantage,
                    shard: label,
                    a: other.clone(),
                    b: r.source.clone(),
                });
            }
            if let Some((ol, of)) = files.iter().find(|(l, _)| split_of(l) != split_of(&label)) {
                return Err(MergeError::MixedSplit {
                    vantage,
                    a: of.clone(),
                    sa: ol.clone(),
                    b: r.source.clone(),
                    sb: label,
                });
            }
            files.insert(label, r.source.clone());
        }
    }
    // How many probes the whole inventory has (every record says), to tell a shard that had
    // nothing to probe (no records, so no report can name it) from a missing one.
    let total = reports
        .iter()
        .flat_map(|r| r.records.iter())
        .filter_map(|r| r.inventory_probes)
        .max();
    for (vantage, files) in &shards {
        let Some(n) = files.keys().next().and_then(|l| split_of(l)) else {
            continue;
        };
        let empty_shard = |k: u32| total.is_some_and(|t| shard_size(t, k, n) == 0);
        let missing: Vec<String> = (1..=n)
            .filter(|k| !files.contains_key(&format!("{k}/{n}")) && !empty_shard(*k))
            .map(|k| k.to_string())
            .collect();
        if !missing.is_empty() {
            let e = MergeError::MissingShards {
                vantage: vantage.clone(),
                missing: missing.join(","),
                n,
            };
            if !allow_partial {
                return Err(e);
            }
            warnings.push(format!("{e} (merged anyway: --allow-partial)"));
        }
    }
    let records: Vec<ReportRecord> = reports.into_iter().flat_map(|r| r.records).collect();
    if records.is_empty() {
        return Err(MergeError::Empty);
    }
    Ok(matrix(records, warnings))
}

/// Probes in shard `k` of `n` of an inventory of `total` probes (index ≡ k-1 mod n).
fn shard_size(total: u64, k: u32, n: u32) -> u64 {
    let (k, n) = (u64::from(k - 1), u64::from(n));
    if total > k {
        (total - k - 1) / n + 1
    } else {
        0
    }
}

fn split_of(label: &str) -> Option<u32> {
    label.split_once('/').and_then(|(_, n)| n.parse().ok())
}

fn check_digests(reports: &[Report]) -> Result<(), MergeError> {
    let mut first: Option<(String, String)> = None;
    for r in reports {
        for rec in &r.records {
            let Some(d) = rec.inventory_digest.as_deref().filter(|d| !d.is_empty()) else {
                continue;
            };
            match &first {
                None => first = Some((r.source.clone(), d.to_string())),
                Some((f, fd)) if fd != d => {
                    return Err(MergeError::Inventory {
                        a: f.clone(),
                        da: fd.clone(),
                        b: r.source.clone(),
                        db: d.to_string(),
                    });
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

fn matrix(records: Vec<ReportRecord>, warnings: Vec<String>) -> Merged {
    type Key = (Option<String>, String, Option<String>, u16);
    let mut rows: BTreeMap<Key, Row> = BTreeMap::new();
    let mut vantages = BTreeSet::new();
    for r in &records {
        vantages.insert(r.vantage.clone());
        let key = (r.name.clone(), r.host.clone(), r.addr.clone(), r.port);
        let row = rows.entry(key).or_insert_with(|| Row {
            name: r.name.clone(),
            host: r.host.clone(),
            addr: r.addr.clone(),
            port: r.port,
            cells: BTreeMap::new(),
        });
        row.cells.insert(
            r.vantage.clone(),
            Cell {
                verdict: r.verdict.clone(),
                ok: r.ok,
                expect: r.expect.clone(),
                detail: r.detail.clone(),
                trusted: r.trusted,
            },
        );
    }
    let rows: Vec<Row> = rows.into_values().collect();
    let mismatches = rows
        .iter()
        .flat_map(|r| r.cells.values())
        .filter(|c| !c.passed())
        .count();
    Merged {
        format_version: FORMAT_VERSION,
        vantages: vantages.into_iter().collect(),
        rows,
        mismatches,
        records,
        warnings,
    }
}

impl Cell {
    /// As expected and trustworthy.
    pub fn passed(&self) -> bool {
        self.ok == Some(true) && self.trusted
    }
}

fn mark(c: &Cell) -> &'static str {
    match c.ok {
        Some(true) if c.trusted => "✓",
        Some(false) => "✗",
        _ => "?",
    }
}

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

fn row_label(r: &Row) -> [String; 4] {
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
        MergeFormat::Csv => {
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
                    [c.verdict.clone(), ok_word(c).to_string()]
                });
                c.write_record(&rec)?;
            }
            c.flush()
        }
        MergeFormat::Html => w.write_all(html(m).as_bytes()),
    }
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
        .map(|r| matrix_row(m, r, ["—"], |c| [format!("{} {}", c.verdict, mark(c))]))
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

fn esc(s: &str) -> String {
    crate::report::xml_escape(s)
}

fn colour(verdict: &str) -> &'static str {
    match verdict {
        "open" => "#2e7d32",
        "closed-by-peer" | "reset-by-peer" => "#ef6c00",
        "refused" => "#6d4c41",
        "unreachable" => "#ad1457",
        "filtered" => "#6a1b9a",
        "dns-error" => "#455a64",
        _ => "#757575",
    }
}

/// A self-contained page: inline CSS and script, no external assets.
pub fn html(m: &Merged) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>telltale matrix</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;margin:1rem;color:#222}}\n\
         h1{{font-size:1.2rem}}\n\
         #filter{{padding:.4rem;width:24rem;margin-bottom:.6rem}}\n\
         table{{border-collapse:collapse;font-size:.9rem}}\n\
         th,td{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}}\n\
         thead th{{position:sticky;top:0;background:#263238;color:#fff}}\n\
         td.cell{{color:#fff;font-weight:600}}\n\
         td.miss{{outline:3px dashed #000;outline-offset:-3px}}\n\
         td.none{{background:#eee;color:#777}}\n\
         </style></head><body>\n<h1>telltale: {} rows × {} vantages, {} not as expected</h1>\n\
         <input id=\"filter\" placeholder=\"filter rows (name, host, address, port, verdict)\" oninput=\"f(this.value)\">\n\
         <table id=\"matrix\"><thead><tr><th>name</th><th>host</th><th>address</th><th>port</th>",
        m.rows.len(),
        m.vantages.len(),
        m.mismatches
    );
    for v in &m.vantages {
        let _ = write!(h, "<th>{}</th>", esc(v));
    }
    h.push_str("</tr></thead><tbody>\n");
    for r in &m.rows {
        h.push_str("<tr>");
        for c in row_label(r) {
            let _ = write!(h, "<td>{}</td>", esc(&c));
        }
        for v in &m.vantages {
            match r.cells.get(v) {
                Some(c) => {
                    let miss = if c.passed() { "" } else { " miss" };
                    let _ = write!(
                        h,
                        "<td class=\"cell{miss}\" style=\"background:{}\" title=\"expected {}: {}\">{} {}</td>",
                        colour(&c.verdict),
                        esc(&c.expect.join("|")),
                        esc(&c.detail),
                        esc(&c.verdict),
                        mark(c)
                    );
                }
                None => h.push_str("<td class=\"none\">—</td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str(
        "</tbody></table>\n<script>\nfunction f(q){q=q.toLowerCase();\
         for(const tr of document.querySelectorAll('#matrix tbody tr')){\
         tr.style.display=tr.textContent.toLowerCase().includes(q)?'':'none';}}\n</script>\n</body></html>\n",
    );
    h
}
