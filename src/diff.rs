//! Drift between two reports (stub with the agreed API; the real implementation replaces it).
#![allow(missing_docs, clippy::missing_errors_doc)]

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ReportRecord {
    pub format_version: u32,
    #[serde(default)]
    pub vantage: String,
    pub name: Option<String>,
    pub host: String,
    pub addr: Option<String>,
    pub port: u16,
    pub verdict: String,
    #[serde(default)]
    pub expect: Vec<String>,
    pub ok: Option<bool>,
    #[serde(default)]
    pub banner: Option<String>,
    #[serde(default)]
    pub detail: String,
}

pub struct Report {
    pub source: String,
    pub records: Vec<ReportRecord>,
}

impl Report {
    pub fn load(path: &Path) -> Result<Report, DiffError> {
        Err(DiffError::Io(
            path.display().to_string(),
            io::Error::other("not implemented yet"),
        ))
    }
    pub fn from_records(source: &str, records: Vec<ReportRecord>) -> Report {
        Report {
            source: source.to_string(),
            records,
        }
    }
    pub fn vantages(&self) -> BTreeSet<String> {
        self.records.iter().map(|r| r.vantage.clone()).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{0}: {1}")]
    Io(String, io::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    NewlyOpen,
}

pub struct Drift {
    pub changes: Vec<ChangeKind>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
    pub fn counts(&self) -> BTreeMap<ChangeKind, usize> {
        BTreeMap::new()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Table,
    Ndjson,
    Json,
}

pub fn diff(_old: &Report, _new: &Report, _map: &[(String, String)]) -> Result<Drift, DiffError> {
    Ok(Drift {
        changes: Vec::new(),
    })
}

pub fn render(_d: &Drift, _f: DiffFormat, _w: &mut impl io::Write) -> io::Result<()> {
    Ok(())
}
