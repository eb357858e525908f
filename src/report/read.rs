//! Reading reports back: telltale's own machine outputs, told apart by content — NDJSON (one
//! record per line) or the JSON document (`{"format_version":1,"results":[...],"summary":{...}}`)
//! — into [`Report`]s of [`ReportRecord`]s, for `diff`, `merge` and `scan --baseline`.
//!
//! An empty file is a report with no records (an NDJSON scan interrupted before its first
//! result). Every error names the file, and the line (NDJSON) or the result's index (JSON
//! document): a malformed or truncated record, a record of a newer schema, a verdict this build
//! does not know.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::verdict::Verdict;

/// The newest report schema this build reads.
pub const REPORT_FORMAT_VERSION: u32 = crate::record::FORMAT_VERSION;

/// One record of a report, as read back. Only the fields the diff needs are required; unknown
/// fields (added by newer minor versions of the schema) are ignored.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReportRecord {
    /// Schema version of the record.
    pub format_version: u32,
    /// Where the scan ran from (absent in reports written before the field existed).
    #[serde(default)]
    pub vantage: String,
    /// Target label.
    pub name: Option<String>,
    /// Host as written in the inventory.
    pub host: String,
    /// Address probed (null for `dns-error`).
    pub addr: Option<String>,
    /// Port probed.
    pub port: u16,
    /// The verdict (an unknown name is a positioned error, see [`ReportError::Verdict`]).
    pub verdict: Verdict,
    /// Acceptable verdicts.
    #[serde(default)]
    pub expect: Vec<String>,
    /// Whether the verdict was as expected.
    pub ok: Option<bool>,
    /// Escaped banner.
    #[serde(default)]
    pub banner: Option<String>,
    /// Explanation.
    #[serde(default)]
    pub detail: String,
    /// Connect time in milliseconds.
    #[serde(default)]
    pub connect_ms: Option<f64>,
    /// Symbolic errno behind the verdict.
    #[serde(default)]
    pub errno: Option<String>,
    /// Target tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// False when a positive control failed and this blocked-type verdict proves nothing.
    #[serde(default = "yes")]
    pub trusted: bool,
    /// The attempts disagreed (`--attempts`).
    #[serde(default)]
    pub flaky: bool,
    /// `K/N` when the report is one shard of a sharded scan.
    #[serde(default)]
    pub shard: Option<String>,
    /// Digest of the inventory the report came from.
    #[serde(default)]
    pub inventory_digest: Option<String>,
    /// Probes of the whole inventory before sharding.
    #[serde(default)]
    pub inventory_probes: Option<u64>,
    /// A TLS probe's handshake (null or absent for every other probe, and in reports written
    /// before the field existed).
    #[serde(default)]
    pub tls: Option<ReportTls>,
    /// Every other field, kept so that `merge` can write records back unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A record's `tls` object as read back: the leaf certificate's facts and the expiry threshold
/// the scan judged them by. Fields missing from older reports read as empty or null.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ReportTls {
    /// Negotiated protocol version.
    #[serde(default)]
    pub version: String,
    /// Leaf certificate subject.
    #[serde(default)]
    pub subject: String,
    /// Leaf certificate issuer.
    #[serde(default)]
    pub issuer: String,
    /// Not-after, RFC 3339 UTC.
    #[serde(default)]
    pub not_after: String,
    /// Whole days from the scan to not-after (negative: expired).
    #[serde(default)]
    pub days_left: Option<i64>,
    /// The chain verified against the scanner's system roots.
    #[serde(default)]
    pub verified: bool,
    /// Why it did not verify.
    #[serde(default)]
    pub verify_error: Option<String>,
    /// The `--cert-min-days` / `cert_min_days:` that applied (absent before the field existed).
    #[serde(default)]
    pub min_days: Option<u32>,
    /// Every other field, kept so that `merge` writes the object back unchanged.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn yes() -> bool {
    true
}

impl ReportRecord {
    /// The name, or the host when unnamed.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.host)
    }
}

/// A report read from a file.
#[derive(Debug, Clone)]
pub struct Report {
    /// The file it came from (for messages).
    pub source: String,
    /// Its records, in file order.
    pub records: Vec<ReportRecord>,
}

/// Why a report could not be read, or two reports cannot be compared. Every message names the
/// file, and the line for a bad NDJSON line.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file could not be read: I/O error, over the size cap, not UTF-8, a directory.
    #[error("{0}")]
    Input(#[from] crate::input::InputError),
    /// An NDJSON line is not a record.
    #[error("{file}:{line}: truncated or malformed record: {message}")]
    Record {
        /// File.
        file: String,
        /// 1-based line.
        line: usize,
        /// Parser message.
        message: String,
    },
    /// The JSON document does not parse, or one of its results is not a record.
    #[error("{file}: truncated or malformed JSON report: {message}")]
    Document {
        /// File.
        file: String,
        /// Where (`results[3]: ...`) and the parser message (with its line and column).
        message: String,
    },
    /// A record or document of a newer schema.
    #[error("{file}{at}: format_version {found} is newer than this telltale understands ({known})")]
    Newer {
        /// File.
        file: String,
        /// `:LINE` for NDJSON, `: results[i]` inside a JSON document, empty for the document.
        at: String,
        /// Version found.
        found: u64,
        /// Version understood.
        known: u32,
    },
    /// A record whose verdict is not one this build knows.
    #[error(
        "{file}{at}: unknown verdict `{found}`, expected one of: {}",
        known_verdicts()
    )]
    Verdict {
        /// File.
        file: String,
        /// `:LINE` for NDJSON, `: results[i]` inside a JSON document.
        at: String,
        /// The verdict as written.
        found: String,
    },
    /// The reports come from different vantages (after `--vantage-map`, if any).
    #[error(
        "reports come from different vantages ({old_file}: {old}; {new_file}: {new}); {}",
        vantage_hint(*.mapped)
    )]
    Vantage {
        /// Old report.
        old_file: String,
        /// Its vantages (mapped), comma-separated.
        old: String,
        /// New report.
        new_file: String,
        /// Its vantages, comma-separated.
        new: String,
        /// Whether a vantage map was given.
        mapped: bool,
    },
}

fn known_verdicts() -> String {
    Verdict::ALL.map(Verdict::as_str).join(", ")
}

fn vantage_hint(mapped: bool) -> &'static str {
    if mapped {
        "--vantage-map OLD=NEW must map every vantage of the old report to one of the new"
    } else {
        "pass --vantage-map OLD=NEW"
    }
}

/// Just the version, to tell "newer schema" from "malformed" when a record does not parse.
#[derive(Deserialize)]
struct VersionOnly {
    format_version: u64,
}

#[derive(Deserialize)]
struct Document {
    format_version: u32,
    results: Vec<ReportRecord>,
}

/// A document whose records did not parse, re-read loosely to say which one and why.
#[derive(Deserialize)]
struct LooseDocument {
    results: Vec<serde_json::Value>,
}

impl Report {
    /// Read a report file (NDJSON or JSON, told apart by content; `-` = stdin) of at most
    /// [`DEFAULT_MAX_INPUT`](crate::input::DEFAULT_MAX_INPUT) bytes.
    pub fn load(path: &Path) -> Result<Report, ReportError> {
        Report::load_capped(path, crate::input::DEFAULT_MAX_INPUT)
    }

    /// Read a report file, refusing more than `max` bytes.
    pub fn load_capped(path: &Path, max: u64) -> Result<Report, ReportError> {
        let file = crate::input::read(path, max)?;
        Report::parse(&file.label, &file.text)
    }

    /// Parse report text; `source` names it in messages.
    pub fn parse(source: &str, text: &str) -> Result<Report, ReportError> {
        let records = if is_document(text) {
            parse_document(source, text)?
        } else {
            parse_ndjson(source, text)?
        };
        Ok(Report::from_records(source, records))
    }

    /// A report from records already in memory.
    pub fn from_records(source: &str, records: Vec<ReportRecord>) -> Report {
        Report {
            source: source.to_string(),
            records,
        }
    }

    /// The vantages its records come from.
    pub fn vantages(&self) -> BTreeSet<String> {
        self.records.iter().map(|r| r.vantage.clone()).collect()
    }
}

/// JSON document or NDJSON? NDJSON's first line is a whole record object on its own; the JSON
/// document's first line is either the whole document (compact) or does not parse alone.
fn is_document(text: &str) -> bool {
    let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return false;
    };
    if !first.starts_with('{') {
        return false;
    }
    match serde_json::from_str::<serde_json::Value>(first) {
        Ok(v) => v.get("results").is_some(),
        // A truncated first record is NDJSON (reported with its line); the streamed or
        // pretty-printed document has a `"results":` key somewhere.
        Err(_) => has_results_key(text),
    }
}

fn has_results_key(text: &str) -> bool {
    text.match_indices("\"results\"")
        .any(|(i, m)| text[i + m.len()..].trim_start().starts_with(':'))
}

fn newer(file: &str, at: &str, found: u64) -> Option<ReportError> {
    (found > u64::from(REPORT_FORMAT_VERSION)).then(|| ReportError::Newer {
        file: file.to_string(),
        at: at.to_string(),
        found,
        known: REPORT_FORMAT_VERSION,
    })
}

/// Why a record that did not parse is refused, when it is not plainly malformed: a newer
/// schema (which may add fields or verdicts), or a verdict this build does not know.
fn explain(file: &str, at: &str, record: &serde_json::Value) -> Option<ReportError> {
    let version = record
        .get("format_version")
        .and_then(serde_json::Value::as_u64);
    if let Some(e) = version.and_then(|v| newer(file, at, v)) {
        return Some(e);
    }
    let verdict = record.get("verdict").and_then(serde_json::Value::as_str)?;
    Verdict::parse(verdict)
        .is_none()
        .then(|| ReportError::Verdict {
            file: file.to_string(),
            at: at.to_string(),
            found: verdict.to_string(),
        })
}

fn parse_ndjson(file: &str, text: &str) -> Result<Vec<ReportRecord>, ReportError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = format!(":{}", i + 1);
        match serde_json::from_str::<ReportRecord>(line) {
            Ok(r) => match newer(file, &at, u64::from(r.format_version)) {
                Some(e) => return Err(e),
                None => out.push(r),
            },
            Err(e) => {
                let loose = serde_json::from_str::<serde_json::Value>(line).ok();
                return Err(loose
                    .and_then(|v| explain(file, &at, &v))
                    .unwrap_or_else(|| ReportError::Record {
                        file: file.to_string(),
                        line: i + 1,
                        message: e.to_string(),
                    }));
            }
        }
    }
    Ok(out)
}

fn parse_document(file: &str, text: &str) -> Result<Vec<ReportRecord>, ReportError> {
    let doc: Document = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => return Err(document_error(file, text, &e)),
    };
    if let Some(e) = newer(file, "", u64::from(doc.format_version)) {
        return Err(e);
    }
    for (i, r) in doc.results.iter().enumerate() {
        if let Some(e) = newer(
            file,
            &format!(": results[{i}]"),
            u64::from(r.format_version),
        ) {
            return Err(e);
        }
    }
    Ok(doc.results)
}

/// The error for a document that did not parse: a newer document, then the first result that
/// is newer, has an unknown verdict or is malformed, else the parser's message.
fn document_error(file: &str, text: &str, e: &serde_json::Error) -> ReportError {
    if let Ok(v) = serde_json::from_str::<VersionOnly>(text) {
        if let Some(e) = newer(file, "", v.format_version) {
            return e;
        }
    }
    let mut message = e.to_string();
    if let Ok(doc) = serde_json::from_str::<LooseDocument>(text) {
        for (i, r) in doc.results.iter().enumerate() {
            if let Some(e) = explain(file, &format!(": results[{i}]"), r) {
                return e;
            }
        }
        let bad = doc
            .results
            .into_iter()
            .position(|r| serde_json::from_value::<ReportRecord>(r).is_err());
        if let Some(i) = bad {
            message = format!("results[{i}]: {message}");
        }
    }
    ReportError::Document {
        file: file.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"format_version":1,"host":"h","addr":"127.0.0.1","port":22,"name":null,"verdict":"open","ok":true}"#;

    #[test]
    fn detection_tells_ndjson_from_document() {
        assert!(!is_document(""));
        assert!(!is_document("{\"format_version\":1,\"host\":\"h\"}\n"));
        assert!(!is_document("{\"format_version\":1,\"host\":\"h"));
        assert!(is_document("{\"format_version\":1,\"results\":[\n"));
        assert!(is_document(
            "{\n  \"format_version\": 1,\n  \"results\" : []\n}"
        ));
        assert!(is_document(
            "{\"format_version\":1,\"results\":[],\"summary\":{}}"
        ));
        assert!(!is_document("garbage"));
    }

    #[test]
    fn verdicts_are_typed() {
        let r = Report::parse("r.ndjson", LINE).unwrap();
        assert_eq!(r.records[0].verdict, Verdict::Open);
        let line = LINE.replace("\"open\"", "\"dns-error\"");
        let r = Report::parse("r.ndjson", &line).unwrap();
        assert_eq!(r.records[0].verdict, Verdict::DnsError);
    }

    #[test]
    fn unknown_verdict_names_file_and_line() {
        let text = format!("{LINE}\n\n{}\n", LINE.replace("\"open\"", "\"opne\""));
        let e = Report::parse("r.ndjson", &text).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "r.ndjson:3: unknown verdict `opne`, expected one of: open, closed-by-peer,"
            ),
            "{e}"
        );
        assert!(e.ends_with("local-error, interrupted"), "{e}");
    }

    #[test]
    fn unknown_verdict_in_a_document_names_the_result() {
        let bad = LINE.replace("\"open\"", "\"timeout\"");
        let doc = format!("{{\"format_version\":1,\"results\":[\n{LINE},\n{bad}\n]}}");
        let e = Report::parse("r.json", &doc).unwrap_err().to_string();
        assert!(
            e.starts_with("r.json: results[1]: unknown verdict `timeout`, expected one of: open,"),
            "{e}"
        );
    }

    #[test]
    fn a_newer_record_with_a_new_verdict_is_newer_not_unknown() {
        let line = LINE
            .replace("\"open\"", "\"half-open\"")
            .replace("\"format_version\":1", "\"format_version\":2");
        let e = Report::parse("r.ndjson", &line).unwrap_err().to_string();
        assert_eq!(
            e,
            "r.ndjson:1: format_version 2 is newer than this telltale understands (1)"
        );
        let doc = format!("{{\"format_version\":1,\"results\":[{line}]}}");
        let e = Report::parse("r.json", &doc).unwrap_err().to_string();
        assert!(
            e.starts_with("r.json: results[0]: format_version 2 is newer"),
            "{e}"
        );
    }

    #[test]
    fn a_malformed_result_in_a_document_is_named() {
        let bad = LINE.replace("\"host\":\"h\",", "");
        let doc = format!("{{\"format_version\":1,\"results\":[{LINE},{bad}]}}");
        let e = Report::parse("r.json", &doc).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "r.json: truncated or malformed JSON report: results[1]: missing field `host`"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_verdict_of_another_type_is_malformed() {
        let line = LINE.replace("\"open\"", "7");
        let e = Report::parse("r.ndjson", &line).unwrap_err().to_string();
        assert!(
            e.starts_with("r.ndjson:1: truncated or malformed record: "),
            "{e}"
        );
    }
}
