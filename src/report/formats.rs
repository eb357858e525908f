//! The output formats of the commands that read reports back, next to [`Format`](super::Format)
//! (in `report/mod.rs`), the formats of `scan` and `probe`:
//!
//! | command | enum | formats |
//! |---|---|---|
//! | `scan`, `probe` | [`Format`](super::Format) | table, ndjson, json, csv, junit, prometheus |
//! | `diff` | [`DiffFormat`] | table, ndjson, json |
//! | `merge` | [`MergeFormat`] | table, ndjson, json, csv, html |
//!
//! The renderers live with their command: `diff::render`, `merge::render`.

/// How `diff` writes drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Changes grouped by kind, with a count line; "no drift" when nothing changed.
    Table,
    /// One change object per line.
    Ndjson,
    /// `{"format_version":1,"changes":[...],"counts":{kind:n},"targets_changed":n}`.
    Json,
}

/// How `merge` writes its matrix.
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
