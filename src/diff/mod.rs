//! Drift between two reports of the same inventory (for nightly sweeps): what opened, what
//! closed, what changed verdict, what started or stopped being as expected, which names moved to
//! other addresses, and which probes appeared or disappeared.
//!
//! This module owns the drift's types and the entry point [`diff`]; the comparison is in
//! `compare` (certificates in `certs`), the output in `render`. Reports are read by [`crate::report::read`] (re-exported
//! here as before); an empty report against a full one makes everything `added` or `removed`.
//!
//! Records are matched on (vantage, name — or host when unnamed —, address, port). For each
//! (vantage, name-or-host, port) group whose set of addresses differs between the reports, one
//! `address-changed` is reported instead of an `added`/`removed` row per moved address; the
//! addresses present in both are still compared. A name that did not resolve in one report
//! (`dns-error`, address null) and did in the other is compared address by address against its
//! unresolved record, so `dns-error → open` reads as `newly-open`.
//!
//! A TLS probe's certificate is compared too: another subject, issuer or not-after is a
//! `cert-changed`, and a not-after that fell under the expiry threshold the scan applied
//! (`--cert-min-days`, `cert_min_days:`; the record's `tls.min_days`) is a `cert-expiring`.

mod certs;
mod compare;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

pub use crate::report::formats::DiffFormat;
/// The report reader's error, under its old name: reading a report, or comparing two.
pub use crate::report::read::ReportError as DiffError;
pub use crate::report::read::{REPORT_FORMAT_VERSION, Report, ReportRecord};
pub use render::render;

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
    /// The TLS certificate has another subject, issuer or not-after.
    CertChanged,
    /// The certificate's days left fell under the expiry threshold (`--cert-min-days`).
    CertExpiring,
}

impl ChangeKind {
    /// Every kind, in display order.
    pub const ALL: [ChangeKind; 11] = [
        ChangeKind::NewlyOpen,
        ChangeKind::NewlyClosed,
        ChangeKind::VerdictChanged,
        ChangeKind::NewlyFailing,
        ChangeKind::NewlyPassing,
        ChangeKind::Added,
        ChangeKind::Removed,
        ChangeKind::AddressChanged,
        ChangeKind::BannerChanged,
        ChangeKind::CertChanged,
        ChangeKind::CertExpiring,
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
            ChangeKind::CertChanged => "cert-changed",
            ChangeKind::CertExpiring => "cert-expiring",
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
            ChangeKind::CertChanged => "certificate changed",
            ChangeKind::CertExpiring => "certificate expiring",
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
    /// Old verdict, old addresses (comma-separated), old banner, the old certificate's
    /// differing facts (`expires 2027-03-01T12:00:00Z`) or its days left (`20 days left`).
    pub old: Option<String>,
    /// New verdict, new addresses, new banner, or the new certificate's facts or days left.
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

fn show_set(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        return "(no records)".to_string();
    }
    s.iter()
        .map(|v| if v.is_empty() { "(none)" } else { v.as_str() })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Both reports from the same vantages once `map` renamed the old report's (or one is empty).
fn check_vantages(old: &Report, new: &Report, map: &BTreeMap<&str, &str>) -> Result<(), DiffError> {
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
            mapped: !map.is_empty(),
        });
    }
    Ok(())
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
    check_vantages(old, new, &map)?;
    let changes = compare::changes(&old.records, &new.records, &map);
    Ok(Drift { changes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;

    fn rec(addr: Option<&str>, port: u16, verdict: Verdict, ok: bool) -> ReportRecord {
        ReportRecord {
            format_version: 1,
            vantage: "v".into(),
            name: None,
            host: "h".into(),
            addr: addr.map(String::from),
            port,
            verdict,
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
            tls: None,
            extra: serde_json::Map::new(),
        }
    }

    #[test]
    fn interrupted_is_not_newly_closed() {
        let old = vec![rec(Some("127.0.10.1"), 22, Verdict::Open, true)];
        let new = vec![rec(Some("127.0.10.1"), 22, Verdict::Interrupted, false)];
        let (old, new) = (
            Report::from_records("o", old),
            Report::from_records("n", new),
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
    fn certificate_changes_are_read_compared_and_rendered() {
        let line = |not_after: &str, days: i64, ok: bool| {
            format!(
                r#"{{"format_version":1,"vantage":"v","name":"web","host":"h","addr":"127.0.30.1","port":443,"verdict":"open","expect":["open"],"ok":{ok},"tls":{{"version":"TLSv1.3","subject":"CN=lab.test","issuer":"CN=Lab CA","not_after":"{not_after}","days_left":{days},"verified":false,"verify_error":"UnknownIssuer","min_days":14}}}}"#
            )
        };
        let old = Report::parse("o", &line("2027-03-01T12:00:00Z", 89, true)).unwrap();
        let new = Report::parse("n", &line("2026-12-04T12:00:00Z", 3, false)).unwrap();
        assert_eq!(new.records[0].tls.as_ref().unwrap().min_days, Some(14));
        let d = diff(&old, &new, &[]).unwrap();
        let kinds: Vec<ChangeKind> = d.changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                ChangeKind::NewlyFailing,
                ChangeKind::CertChanged,
                ChangeKind::CertExpiring
            ]
        );
        let mut out = Vec::new();
        render(&d, DiffFormat::Json, &mut out).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["counts"]["cert-changed"], 1);
        assert_eq!(doc["changes"][2]["kind"], "cert-expiring");
        assert_eq!(doc["changes"][2]["old"], "89 days left");
        assert_eq!(doc["changes"][2]["new"], "3 days left");
        let mut out = Vec::new();
        render(&d, DiffFormat::Table, &mut out).unwrap();
        let table = String::from_utf8(out).unwrap();
        assert!(table.contains("certificate changed (1)"), "{table}");
        assert!(
            table.contains("expires 2027-03-01T12:00:00Z → expires 2026-12-04T12:00:00Z"),
            "{table}"
        );
        // The same certificate again: no drift.
        assert!(diff(&old, &old, &[]).unwrap().is_empty());
    }

    #[test]
    fn counts_include_zeros() {
        let d = Drift::default();
        assert_eq!(d.counts().len(), ChangeKind::ALL.len());
        assert!(d.counts().values().all(|n| *n == 0));
    }
}
