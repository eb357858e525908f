//! Drift between two reports of the same inventory (for nightly sweeps): what opened, what
//! closed, what changed verdict, what started or stopped being as expected, which names moved to
//! other addresses, and which probes appeared or disappeared.
//!
//! Inputs are telltale's own machine outputs, told apart by content: NDJSON (one record per line)
//! or the JSON document (`{"format_version":1,"results":[...],"summary":{...}}`). An empty file is
//! a report with no records (an NDJSON scan interrupted before its first result): everything in
//! the other report is then `added` or `removed`.
//!
//! Records are matched on (vantage, name — or host when unnamed —, address, port). For each
//! (vantage, name-or-host, port) group whose set of addresses differs between the reports, one
//! `address-changed` is reported instead of an `added`/`removed` row per moved address; the
//! addresses present in both are still compared. A name that did not resolve in one report
//! (`dns-error`, address null) and did in the other is compared address by address against its
//! unresolved record, so `dns-error → open` reads as `newly-open`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::report::columns;

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
    /// Verdict machine name.
    pub verdict: String,
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
    /// Every other field, kept so that `merge` can write records back unchanged.
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

/// Why a report could not be read or two reports cannot be compared. Every message names the
/// file, and the line for a bad NDJSON line.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
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

impl Report {
    /// Read a report file (NDJSON or JSON, told apart by content; `-` = stdin) of at most
    /// [`DEFAULT_MAX_INPUT`](crate::input::DEFAULT_MAX_INPUT) bytes.
    pub fn load(path: &Path) -> Result<Report, DiffError> {
        Report::load_capped(path, crate::input::DEFAULT_MAX_INPUT)
    }

    /// Read a report file, refusing more than `max` bytes.
    pub fn load_capped(path: &Path, max: u64) -> Result<Report, DiffError> {
        let file = crate::input::read(path, max)?;
        Report::parse(&file.label, &file.text)
    }

    /// Parse report text; `source` names it in messages.
    pub fn parse(source: &str, text: &str) -> Result<Report, DiffError> {
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

fn newer(file: &str, at: String, found: u64) -> Option<DiffError> {
    (found > u64::from(REPORT_FORMAT_VERSION)).then(|| DiffError::Newer {
        file: file.to_string(),
        at,
        found,
        known: REPORT_FORMAT_VERSION,
    })
}

fn parse_ndjson(file: &str, text: &str) -> Result<Vec<ReportRecord>, DiffError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let n = i + 1;
        match serde_json::from_str::<ReportRecord>(line) {
            Ok(r) => {
                if let Some(e) = newer(file, format!(":{n}"), u64::from(r.format_version)) {
                    return Err(e);
                }
                out.push(r);
            }
            Err(e) => {
                // A newer record may fail to parse as this schema: say "newer", not "malformed".
                if let Ok(v) = serde_json::from_str::<VersionOnly>(line) {
                    if let Some(e) = newer(file, format!(":{n}"), v.format_version) {
                        return Err(e);
                    }
                }
                return Err(DiffError::Record {
                    file: file.to_string(),
                    line: n,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

fn parse_document(file: &str, text: &str) -> Result<Vec<ReportRecord>, DiffError> {
    let doc: Document = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => {
            if let Ok(v) = serde_json::from_str::<VersionOnly>(text) {
                if let Some(e) = newer(file, String::new(), v.format_version) {
                    return Err(e);
                }
            }
            return Err(DiffError::Document {
                file: file.to_string(),
                message: e.to_string(),
            });
        }
    };
    if let Some(e) = newer(file, String::new(), u64::from(doc.format_version)) {
        return Err(e);
    }
    for (i, r) in doc.results.iter().enumerate() {
        if let Some(e) = newer(file, format!(": results[{i}]"), u64::from(r.format_version)) {
            return Err(e);
        }
    }
    Ok(doc.results)
}

/// What changed for one probe (or one name's addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// Was not open, is now.
    NewlyOpen,
    /// Was open, is not any more.
    NewlyClosed,
    /// Another verdict change (e.g. `filtered → unreachable`).
    VerdictChanged,
    /// Was as expected, is not any more.
    NewlyFailing,
    /// Was not as expected, is now.
    NewlyPassing,
    /// Only in the new report.
    Added,
    /// Only in the old report.
    Removed,
    /// A name (or unnamed host) resolves to another set of addresses.
    AddressChanged,
    /// Connected both times, but the peer greets differently.
    BannerChanged,
}

impl ChangeKind {
    /// Every kind, in display order.
    pub const ALL: [ChangeKind; 9] = [
        ChangeKind::NewlyOpen,
        ChangeKind::NewlyClosed,
        ChangeKind::VerdictChanged,
        ChangeKind::NewlyFailing,
        ChangeKind::NewlyPassing,
        ChangeKind::Added,
        ChangeKind::Removed,
        ChangeKind::AddressChanged,
        ChangeKind::BannerChanged,
    ];

    /// Machine name (`newly-open`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::NewlyOpen => "newly-open",
            ChangeKind::NewlyClosed => "newly-closed",
            ChangeKind::VerdictChanged => "verdict-changed",
            ChangeKind::NewlyFailing => "newly-failing",
            ChangeKind::NewlyPassing => "newly-passing",
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::AddressChanged => "address-changed",
            ChangeKind::BannerChanged => "banner-changed",
        }
    }

    /// Human heading (`newly open`).
    pub fn heading(self) -> &'static str {
        match self {
            ChangeKind::NewlyOpen => "newly open",
            ChangeKind::NewlyClosed => "newly closed",
            ChangeKind::VerdictChanged => "verdict changed",
            ChangeKind::NewlyFailing => "newly failing",
            ChangeKind::NewlyPassing => "newly passing",
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::AddressChanged => "address changed",
            ChangeKind::BannerChanged => "banner changed",
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One change between the reports.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// What changed.
    pub kind: ChangeKind,
    /// Vantage (the new report's name for it).
    pub vantage: String,
    /// Target label.
    pub name: Option<String>,
    /// Host as written (the new report's, if in both).
    pub host: String,
    /// Address (null for `address-changed` and unresolved names).
    pub addr: Option<String>,
    /// Port.
    pub port: u16,
    /// Old verdict, old addresses (comma-separated) or old banner.
    pub old: Option<String>,
    /// New verdict, new addresses or new banner.
    pub new: Option<String>,
    /// Explanation.
    pub detail: String,
}

/// Every change between two reports, sorted by kind, then vantage, name, port, address.
#[derive(Debug, Clone, Default)]
pub struct Drift {
    /// The changes.
    pub changes: Vec<Change>,
}

impl Drift {
    /// No change at all.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changed targets — (vantage, name, host, address, port) — each with its kinds of
    /// change: one target can change in several ways at once (newly closed *and* newly failing).
    pub fn by_target(&self) -> BTreeMap<TargetKey<'_>, BTreeSet<ChangeKind>> {
        let mut per: BTreeMap<TargetKey<'_>, BTreeSet<ChangeKind>> = BTreeMap::new();
        for c in &self.changes {
            let key = (
                c.vantage.as_str(),
                c.name.as_deref(),
                c.host.as_str(),
                c.addr.as_deref(),
                c.port,
            );
            per.entry(key).or_default().insert(c.kind);
        }
        per
    }

    /// "3 targets changed: 2 newly closed + newly failing, 1 added": targets counted once, with
    /// their kinds of change listed together.
    pub fn summary(&self) -> String {
        let per = self.by_target();
        let mut combos: BTreeMap<Vec<ChangeKind>, usize> = BTreeMap::new();
        for kinds in per.values() {
            *combos.entry(kinds.iter().copied().collect()).or_default() += 1;
        }
        let parts: Vec<String> = combos
            .iter()
            .map(|(kinds, n)| {
                let names: Vec<&str> = kinds.iter().map(|k| k.heading()).collect();
                format!("{n} {}", names.join(" + "))
            })
            .collect();
        let n = per.len();
        format!(
            "{n} target{} changed: {}",
            if n == 1 { "" } else { "s" },
            parts.join(", ")
        )
    }

    /// Changes per kind, every kind present (zeros included).
    pub fn counts(&self) -> BTreeMap<ChangeKind, usize> {
        let mut m: BTreeMap<ChangeKind, usize> = ChangeKind::ALL.iter().map(|k| (*k, 0)).collect();
        for c in &self.changes {
            *m.entry(c.kind).or_default() += 1;
        }
        m
    }
}

/// One changed target: (vantage, name, host, address, port).
pub type TargetKey<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, u16);

/// Group of records that share a name (or unnamed host) and a port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    Named(String),
    Host(String),
}

type GroupKey = (String, Label, u16);

/// Records of one group, by address (None for unresolved names), in file order.
type Group<'a> = BTreeMap<Option<AddrKey>, Vec<&'a ReportRecord>>;

/// An address that sorts numerically when it parses.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct AddrKey(Option<IpAddr>, String);

impl AddrKey {
    fn new(s: &str) -> AddrKey {
        let ip = s.parse::<IpAddr>().ok();
        // Normalise spelling (`::0001` and `::1` are the same address).
        let text = ip.map_or_else(|| s.to_string(), |a| a.to_string());
        AddrKey(ip, text)
    }
}

fn group<'a>(
    records: &'a [ReportRecord],
    map: &BTreeMap<&str, &str>,
) -> BTreeMap<GroupKey, Group<'a>> {
    let mut out: BTreeMap<GroupKey, Group<'a>> = BTreeMap::new();
    for r in records {
        let vantage = map
            .get(r.vantage.as_str())
            .map_or_else(|| r.vantage.clone(), |v| (*v).to_string());
        let label = match &r.name {
            Some(n) => Label::Named(n.clone()),
            None => Label::Host(r.host.clone()),
        };
        out.entry((vantage, label, r.port))
            .or_default()
            .entry(r.addr.as_deref().map(AddrKey::new))
            .or_default()
            .push(r);
    }
    out
}

fn show_set(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        return "(no records)".to_string();
    }
    s.iter()
        .map(|v| if v.is_empty() { "(none)" } else { v.as_str() })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compare `old` against `new`. `vantage_map` pairs (OLD, NEW) rename the old report's vantage
/// OLD to NEW first. Both reports must then come from the same set of vantages (unless one of
/// them is empty), or comparing verdicts would be meaningless.
pub fn diff(
    old: &Report,
    new: &Report,
    vantage_map: &[(String, String)],
) -> Result<Drift, DiffError> {
    let map: BTreeMap<&str, &str> = vantage_map
        .iter()
        .map(|(o, n)| (o.as_str(), n.as_str()))
        .collect();
    let old_v: BTreeSet<String> = old
        .vantages()
        .into_iter()
        .map(|v| map.get(v.as_str()).map_or(v.clone(), |n| (*n).to_string()))
        .collect();
    let new_v = new.vantages();
    if !old_v.is_empty() && !new_v.is_empty() && old_v != new_v {
        return Err(DiffError::Vantage {
            old_file: old.source.clone(),
            old: show_set(&old_v),
            new_file: new.source.clone(),
            new: show_set(&new_v),
            mapped: !vantage_map.is_empty(),
        });
    }
    let og = group(&old.records, &map);
    let ng = group(&new.records, &BTreeMap::new());
    let keys: BTreeSet<&GroupKey> = og.keys().chain(ng.keys()).collect();
    let empty = Group::new();
    let mut changes = Vec::new();
    for key in keys {
        let o = og.get(key).unwrap_or(&empty);
        let n = ng.get(key).unwrap_or(&empty);
        diff_group(&key.0, o, n, &mut changes);
    }
    changes.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    Ok(Drift { changes })
}

fn sort_key(c: &Change) -> (ChangeKind, &str, &str, &str, u16, Option<AddrKey>) {
    (
        c.kind,
        &c.vantage,
        c.name.as_deref().unwrap_or(&c.host),
        &c.host,
        c.port,
        c.addr.as_deref().map(AddrKey::new),
    )
}

fn diff_group(vantage: &str, o: &Group<'_>, n: &Group<'_>, out: &mut Vec<Change>) {
    // Same address in both: compare record by record (the i-th with the i-th, should a report
    // hold the same key twice); extras are added/removed.
    let mut o_left: Vec<(&Option<AddrKey>, &ReportRecord)> = Vec::new();
    let mut n_left: Vec<(&Option<AddrKey>, &ReportRecord)> = Vec::new();
    for (addr, recs) in o {
        let others = n.get(addr).map_or(&[][..], Vec::as_slice);
        for (i, r) in recs.iter().enumerate() {
            match others.get(i) {
                Some(nr) => compare(vantage, r, nr, out),
                None => o_left.push((addr, r)),
            }
        }
    }
    for (addr, recs) in n {
        let others = o.get(addr).map_or(0, Vec::len);
        n_left.extend(recs.iter().skip(others).map(|r| (addr, *r)));
    }
    if o_left.is_empty() && n_left.is_empty() {
        return;
    }
    let addrs = |g: &Group<'_>| -> BTreeSet<AddrKey> { g.keys().flatten().cloned().collect() };
    let (o_addrs, n_addrs) = (addrs(o), addrs(n));
    // The name did not resolve on one side: compare its record against each address of the other.
    if o_addrs.is_empty() && all_resolved(&n_left) {
        if let Some(or) = unresolved(&o_left) {
            for (_, nr) in &n_left {
                compare(vantage, or, nr, out);
            }
            return;
        }
    }
    if n_addrs.is_empty() && all_resolved(&o_left) {
        if let Some(nr) = unresolved(&n_left) {
            for (_, or) in &o_left {
                compare(vantage, or, nr, out);
            }
            return;
        }
    }
    // The name resolves to other addresses: one change for the group, not a row per address.
    if !o_addrs.is_empty() && !n_addrs.is_empty() && o_addrs != n_addrs {
        let (o_moved, o_rest): (Vec<_>, Vec<_>) =
            o_left.into_iter().partition(|(a, _)| a.is_some());
        let (n_moved, n_rest): (Vec<_>, Vec<_>) =
            n_left.into_iter().partition(|(a, _)| a.is_some());
        let join =
            |s: &BTreeSet<AddrKey>| s.iter().map(|a| a.1.as_str()).collect::<Vec<_>>().join(",");
        let list = |v: &[(&Option<AddrKey>, &ReportRecord)], was: &str| {
            v.iter()
                .map(|(a, r)| {
                    let a = a.as_ref().map_or("-", |a| a.1.as_str());
                    format!("{a} ({was}{})", r.verdict)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut detail = Vec::new();
        if !o_moved.is_empty() {
            detail.push(format!("gone: {}", list(&o_moved, "was ")));
        }
        if !n_moved.is_empty() {
            detail.push(format!("new: {}", list(&n_moved, "")));
        }
        let any = n_moved.first().or(o_moved.first()).map(|(_, r)| *r);
        if let Some(r) = any {
            out.push(Change {
                kind: ChangeKind::AddressChanged,
                vantage: vantage.to_string(),
                name: r.name.clone(),
                host: r.host.clone(),
                addr: None,
                port: r.port,
                old: Some(join(&o_addrs)),
                new: Some(join(&n_addrs)),
                detail: detail.join("; "),
            });
        }
        o_left = o_rest;
        n_left = n_rest;
    }
    for (_, r) in o_left {
        out.push(one_sided(ChangeKind::Removed, vantage, r));
    }
    for (_, r) in n_left {
        out.push(one_sided(ChangeKind::Added, vantage, r));
    }
}

type Left<'g, 'r> = [(&'g Option<AddrKey>, &'r ReportRecord)];

/// The single unresolved record of a group side, if that is all it has left.
fn unresolved<'r>(left: &Left<'_, 'r>) -> Option<&'r ReportRecord> {
    match left {
        [(None, r)] => Some(*r),
        _ => None,
    }
}

/// Records left, every one with an address.
fn all_resolved(left: &Left<'_, '_>) -> bool {
    !left.is_empty() && left.iter().all(|(a, _)| a.is_some())
}

fn one_sided(kind: ChangeKind, vantage: &str, r: &ReportRecord) -> Change {
    let (old, new, detail) = if kind == ChangeKind::Added {
        (None, Some(r.verdict.clone()), r.detail.clone())
    } else {
        (
            Some(r.verdict.clone()),
            None,
            "no longer in the new report".to_string(),
        )
    };
    Change {
        kind,
        vantage: vantage.to_string(),
        name: r.name.clone(),
        host: r.host.clone(),
        addr: r.addr.as_deref().map(|a| AddrKey::new(a).1),
        port: r.port,
        old,
        new,
        detail,
    }
}

/// Verdicts that say nothing about the target: the scan itself failed or was stopped.
fn no_verdict(v: &str) -> bool {
    v == "interrupted" || v == "local-error"
}

/// Verdicts reached after a completed handshake (the peer may have sent a banner).
fn connected(v: &str) -> bool {
    matches!(v, "open" | "closed-by-peer" | "reset-by-peer")
}

fn expect_text(e: &[String]) -> String {
    if e.is_empty() {
        "?".to_string()
    } else {
        e.join("|")
    }
}

fn compare(vantage: &str, o: &ReportRecord, n: &ReportRecord, out: &mut Vec<Change>) {
    let change =
        |kind: ChangeKind, old: Option<String>, new: Option<String>, detail: String| Change {
            kind,
            vantage: vantage.to_string(),
            name: n.name.clone(),
            host: n.host.clone(),
            addr: n
                .addr
                .as_ref()
                .or(o.addr.as_ref())
                .map(|a| AddrKey::new(a).1),
            port: n.port,
            old,
            new,
            detail,
        };
    let (ov, nv) = (o.verdict.as_str(), n.verdict.as_str());
    if ov != nv {
        let kind = if no_verdict(ov) || no_verdict(nv) {
            ChangeKind::VerdictChanged
        } else if nv == "open" {
            ChangeKind::NewlyOpen
        } else if ov == "open" {
            ChangeKind::NewlyClosed
        } else {
            ChangeKind::VerdictChanged
        };
        let mut notes = Vec::new();
        match (ov, nv) {
            ("filtered", "unreachable" | "refused") => notes.push("a DROP rule became REJECT"),
            ("unreachable" | "refused", "filtered") => notes.push("a REJECT rule became DROP"),
            _ => {}
        }
        if no_verdict(nv) {
            notes.push("no verdict in the new report: rerun the probe");
        } else if no_verdict(ov) {
            notes.push("no verdict in the old report");
        }
        if !n.trusted {
            notes.push("untrusted: a positive control failed in the new scan");
        }
        if n.flaky {
            notes.push("flaky: the attempts disagreed");
        }
        if !n.detail.is_empty() {
            notes.push(&n.detail);
        }
        out.push(change(
            kind,
            Some(ov.to_string()),
            Some(nv.to_string()),
            notes.join("; "),
        ));
    }
    let (oe, ne) = (expect_text(&o.expect), expect_text(&n.expect));
    let expect_note = if oe == ne {
        format!("expected {ne}")
    } else {
        format!("expectation changed from {oe} to {ne}")
    };
    match (o.ok, n.ok) {
        (Some(true), Some(false)) => out.push(change(
            ChangeKind::NewlyFailing,
            Some(ov.to_string()),
            Some(nv.to_string()),
            format!("{expect_note}; was {ov}, now {nv}"),
        )),
        (Some(false), Some(true)) => out.push(change(
            ChangeKind::NewlyPassing,
            Some(ov.to_string()),
            Some(nv.to_string()),
            format!("{expect_note}; was {ov}, now {nv}"),
        )),
        _ => {}
    }
    if connected(ov) && connected(nv) && o.banner != n.banner {
        let detail = match (&o.banner, &n.banner) {
            (None, _) => "the peer now sends a banner",
            (_, None) => "the peer no longer sends a banner",
            _ => "the peer greets differently",
        };
        out.push(change(
            ChangeKind::BannerChanged,
            o.banner.clone(),
            n.banner.clone(),
            detail.to_string(),
        ));
    }
}

/// How drift is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Changes grouped by kind, with a count line; "no drift" when nothing changed.
    Table,
    /// One change object per line.
    Ndjson,
    /// `{"format_version":1,"changes":[...],"counts":{kind:n},"targets_changed":n}`.
    Json,
}

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
    let rows: Vec<(ChangeKind, Vec<String>)> = drift
        .changes
        .iter()
        .map(|c| {
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
            (c.kind, row)
        })
        .collect();
    let head: Vec<String> = head.iter().map(|h| (*h).to_string()).collect();
    let width = columns::widths(
        std::iter::once(head.as_slice()).chain(rows.iter().map(|(_, r)| r.as_slice())),
    );
    let line = |w: &mut dyn Write, row: &[String]| columns::write_row(w, "  ", row, &width);
    let counts = drift.counts();
    if let (false, Some(v)) = (with_vantage, vantages.first()) {
        if !v.is_empty() {
            writeln!(w, "vantage: {}\n", visible(v))?;
        }
    }
    let mut first = true;
    for kind in ChangeKind::ALL {
        let n = counts.get(&kind).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        if !first {
            writeln!(w)?;
        }
        first = false;
        writeln!(w, "{} ({n})", kind.heading())?;
        line(w, &head)?;
        for (_, row) in rows.iter().filter(|(k, _)| *k == kind) {
            line(w, row)?;
        }
    }
    writeln!(w)?;
    writeln!(w, "{}", drift.summary())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        name: Option<&str>,
        addr: Option<&str>,
        port: u16,
        verdict: &str,
        ok: bool,
    ) -> ReportRecord {
        ReportRecord {
            format_version: 1,
            vantage: "v".into(),
            name: name.map(String::from),
            host: "h".into(),
            addr: addr.map(String::from),
            port,
            verdict: verdict.into(),
            expect: vec!["open".into()],
            ok: Some(ok),
            banner: None,
            detail: String::new(),
            connect_ms: None,
            errno: None,
            tags: Vec::new(),
            trusted: true,
            flaky: false,
            shard: None,
            inventory_digest: None,
            inventory_probes: None,
            extra: serde_json::Map::new(),
        }
    }

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
    fn address_keys_normalise_and_sort_numerically() {
        assert_eq!(AddrKey::new("::0001").1, "::1");
        assert!(AddrKey::new("127.0.10.2") < AddrKey::new("127.0.10.10"));
    }

    #[test]
    fn interrupted_is_not_newly_closed() {
        let old = Report::from_records("o", vec![rec(None, Some("127.0.10.1"), 22, "open", true)]);
        let new = Report::from_records(
            "n",
            vec![rec(None, Some("127.0.10.1"), 22, "interrupted", false)],
        );
        let d = diff(&old, &new, &[]).unwrap();
        let kinds: Vec<ChangeKind> = d.changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            vec![ChangeKind::VerdictChanged, ChangeKind::NewlyFailing]
        );
        assert!(d.changes[0].detail.contains("rerun"));
    }

    #[test]
    fn counts_include_zeros() {
        let d = Drift::default();
        assert_eq!(d.counts().len(), ChangeKind::ALL.len());
        assert!(d.counts().values().all(|n| *n == 0));
    }
}
