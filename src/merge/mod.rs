//! `telltale merge`: many reports (shards and/or vantages) → one answer.
//!
//! - Shards of one vantage are checked (same inventory digest, same N, no duplicate and no
//!   missing shard unless `--allow-partial`) and concatenated: one report as if scanned at once.
//! - Several vantages become a matrix: rows (name, address, port), one column per vantage, each
//!   cell the verdict with ✓/✗ against that vantage's expectation.
//!
//! This module owns the merging and its checks; `render` writes the matrix as a table, CSV, JSON
//! or NDJSON, `html` as a self-contained page. Reports are read by [`crate::report::read`], so
//! both NDJSON and JSON reports are accepted.

mod html;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

use crate::record::FORMAT_VERSION;
pub use crate::report::formats::MergeFormat;
use crate::report::read::{Report, ReportError, ReportRecord};
use crate::verdict::Verdict;
pub use html::html;
pub use render::render;

/// A merge that cannot be done; each names the files involved. Exit 2.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A report could not be read.
    #[error("{0}")]
    Read(#[from] ReportError),
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
    pub verdict: Verdict,
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
    check_digests(&reports)?;
    let mut warnings: Vec<String> = reports
        .iter()
        .filter(|r| r.records.is_empty())
        .map(|r| {
            format!(
                "{} has no records (a shard without probes reads the same); skipped",
                r.source
            )
        })
        .collect();
    let shards = shards_by_vantage(&reports)?;
    // How many probes the whole inventory has (every record says), to tell a shard that had
    // nothing to probe (no records, so no report can name it) from a missing one.
    let total = reports
        .iter()
        .flat_map(|r| r.records.iter())
        .filter_map(|r| r.inventory_probes)
        .max();
    for (vantage, files) in &shards {
        if let Some(e) = missing_shards(vantage, files, total) {
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

/// Vantage → shard label (`K/N` or `unsharded`) → the file that holds it.
type Shards = BTreeMap<String, BTreeMap<String, String>>;

/// Which file holds which shard of which vantage: no shard twice, all of one split.
fn shards_by_vantage(reports: &[Report]) -> Result<Shards, MergeError> {
    let mut shards = Shards::new();
    for r in reports {
        let seen: BTreeSet<(String, String)> = r
            .records
            .iter()
            .map(|rec| {
                let label = rec.shard.clone().unwrap_or_else(|| "unsharded".to_string());
                (rec.vantage.clone(), label)
            })
            .collect();
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
    Ok(shards)
}

/// The shards of `vantage`'s split that no file holds, except those with nothing to probe
/// (known when the records say how many probes the whole inventory has: `total`).
fn missing_shards(
    vantage: &str,
    files: &BTreeMap<String, String>,
    total: Option<u64>,
) -> Option<MergeError> {
    let n = files.keys().next().and_then(|l| split_of(l))?;
    let empty_shard = |k: u32| total.is_some_and(|t| crate::shard::size(u128::from(t), k, n) == 0);
    let missing: Vec<String> = (1..=n)
        .filter(|k| !files.contains_key(&format!("{k}/{n}")) && !empty_shard(*k))
        .map(|k| k.to_string())
        .collect();
    (!missing.is_empty()).then(|| MergeError::MissingShards {
        vantage: vantage.to_string(),
        missing: missing.join(","),
        n,
    })
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
                verdict: r.verdict,
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

    /// ✓, ✗ or ? (see [`crate::verdict::mark`]).
    pub fn mark(&self) -> &'static str {
        crate::verdict::mark(self.ok, self.trusted)
    }
}
