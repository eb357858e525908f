//! The comparison itself: records grouped by (vantage, name — or host when unnamed —, port),
//! each group's addresses paired up, and each pair of records compared — verdict, expectation,
//! banner, certificate (`super::certs`) — into [`Change`]s.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::{Change, ChangeKind};
use crate::report::read::ReportRecord;
use crate::verdict::Verdict;

/// Group of records that share a name (or unnamed host) and a port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Label {
    Named(String),
    Host(String),
}

/// (vantage, label, port).
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

/// Every change from `old` to `new`, sorted by kind, then vantage, name, host, port, address.
/// `map` renames the old records' vantages first (`--vantage-map`).
pub(super) fn changes(
    old: &[ReportRecord],
    new: &[ReportRecord],
    map: &BTreeMap<&str, &str>,
) -> Vec<Change> {
    let og = group(old, map);
    let ng = group(new, &BTreeMap::new());
    let keys: BTreeSet<&GroupKey> = og.keys().chain(ng.keys()).collect();
    let empty = Group::new();
    let mut changes = Vec::new();
    for key in keys {
        let o = og.get(key).unwrap_or(&empty);
        let n = ng.get(key).unwrap_or(&empty);
        diff_group(&key.0, o, n, &mut changes);
    }
    changes.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    changes
}

/// The records of one report by group; `map` renames vantages first (`--vantage-map`).
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

/// The order of a drift: kind, then vantage, name, host, port, address.
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

/// Records of one side of a group not paired with the other side, with their addresses.
type Left<'g, 'r> = Vec<(&'g Option<AddrKey>, &'r ReportRecord)>;

/// Every change within one group, old side `o` against new side `n`.
fn diff_group(vantage: &str, o: &Group<'_>, n: &Group<'_>, out: &mut Vec<Change>) {
    let (o_left, n_left) = pair_up(vantage, o, n, out);
    if o_left.is_empty() && n_left.is_empty() {
        return;
    }
    let addrs = |g: &Group<'_>| -> BTreeSet<AddrKey> { g.keys().flatten().cloned().collect() };
    let (o_addrs, n_addrs) = (addrs(o), addrs(n));
    if now_or_no_longer_resolved(vantage, (&o_addrs, &o_left), (&n_addrs, &n_left), out) {
        return;
    }
    let (o_left, n_left) = if !o_addrs.is_empty() && !n_addrs.is_empty() && o_addrs != n_addrs {
        address_changed(vantage, (&o_addrs, o_left), (&n_addrs, n_left), out)
    } else {
        (o_left, n_left)
    };
    for (_, r) in o_left {
        out.push(one_sided(ChangeKind::Removed, vantage, r));
    }
    for (_, r) in n_left {
        out.push(one_sided(ChangeKind::Added, vantage, r));
    }
}

/// Same address in both: compare record by record (the i-th with the i-th, should a report hold
/// the same key twice). Returns the records left unpaired on each side.
fn pair_up<'g, 'r>(
    vantage: &str,
    o: &'g Group<'r>,
    n: &'g Group<'r>,
    out: &mut Vec<Change>,
) -> (Left<'g, 'r>, Left<'g, 'r>) {
    let (mut o_left, mut n_left) = (Vec::new(), Vec::new());
    for (addr, recs) in o {
        let others = n.get(addr).map_or(&[][..], Vec::as_slice);
        for (i, r) in recs.iter().enumerate() {
            match others.get(i) {
                Some(nr) => compare(vantage, r, nr, out),
                None => o_left.push((addr, *r)),
            }
        }
    }
    for (addr, recs) in n {
        let others = o.get(addr).map_or(0, Vec::len);
        n_left.extend(recs.iter().skip(others).map(|r| (addr, *r)));
    }
    (o_left, n_left)
}

/// The name did not resolve on one side: compare its record against each address of the other
/// (so `dns-error → open` reads as `newly-open`). True when that was the case.
fn now_or_no_longer_resolved(
    vantage: &str,
    (o_addrs, o_left): (&BTreeSet<AddrKey>, &Left<'_, '_>),
    (n_addrs, n_left): (&BTreeSet<AddrKey>, &Left<'_, '_>),
    out: &mut Vec<Change>,
) -> bool {
    if o_addrs.is_empty() && all_resolved(n_left) {
        if let Some(or) = unresolved(o_left) {
            for (_, nr) in n_left {
                compare(vantage, or, nr, out);
            }
            return true;
        }
    }
    if n_addrs.is_empty() && all_resolved(o_left) {
        if let Some(nr) = unresolved(n_left) {
            for (_, or) in o_left {
                compare(vantage, or, nr, out);
            }
            return true;
        }
    }
    false
}

/// The name resolves to other addresses: one change for the group, not a row per address.
/// Returns the unresolved records still left on each side.
fn address_changed<'g, 'r>(
    vantage: &str,
    (o_addrs, o_left): (&BTreeSet<AddrKey>, Left<'g, 'r>),
    (n_addrs, n_left): (&BTreeSet<AddrKey>, Left<'g, 'r>),
    out: &mut Vec<Change>,
) -> (Left<'g, 'r>, Left<'g, 'r>) {
    let (o_moved, o_rest): (Left<'_, '_>, Left<'_, '_>) =
        o_left.into_iter().partition(|(a, _)| a.is_some());
    let (n_moved, n_rest): (Left<'_, '_>, Left<'_, '_>) =
        n_left.into_iter().partition(|(a, _)| a.is_some());
    let join = |s: &BTreeSet<AddrKey>| s.iter().map(|a| a.1.as_str()).collect::<Vec<_>>().join(",");
    let mut detail = Vec::new();
    if !o_moved.is_empty() {
        detail.push(format!("gone: {}", moved(&o_moved, "was ")));
    }
    if !n_moved.is_empty() {
        detail.push(format!("new: {}", moved(&n_moved, "")));
    }
    if let Some((_, r)) = n_moved.first().or(o_moved.first()) {
        out.push(Change {
            kind: ChangeKind::AddressChanged,
            vantage: vantage.to_string(),
            name: r.name.clone(),
            host: r.host.clone(),
            addr: None,
            port: r.port,
            old: Some(join(o_addrs)),
            new: Some(join(n_addrs)),
            detail: detail.join("; "),
        });
    }
    (o_rest, n_rest)
}

/// `127.0.0.1 (was open), 127.0.0.2 (was refused)`.
fn moved(v: &Left<'_, '_>, was: &str) -> String {
    v.iter()
        .map(|(a, r)| {
            let a = a.as_ref().map_or("-", |a| a.1.as_str());
            format!("{a} ({was}{})", r.verdict)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The single unresolved record of a group side, if that is all it has left.
fn unresolved<'r>(left: &Left<'_, 'r>) -> Option<&'r ReportRecord> {
    match left.as_slice() {
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
        (None, Some(r.verdict.to_string()), r.detail.clone())
    } else {
        (
            Some(r.verdict.to_string()),
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

fn expect_text(e: &[String]) -> String {
    if e.is_empty() {
        "?".to_string()
    } else {
        e.join("|")
    }
}

/// One record of the old report and its counterpart in the new, under the new vantage name.
pub(super) struct Pair<'a> {
    /// The vantage (the new report's name for it).
    pub(super) vantage: &'a str,
    /// The old record.
    pub(super) o: &'a ReportRecord,
    /// The new record.
    pub(super) n: &'a ReportRecord,
}

impl Pair<'_> {
    /// A change of `kind` for this pair's probe.
    pub(super) fn change(
        &self,
        kind: ChangeKind,
        old: Option<String>,
        new: Option<String>,
        detail: String,
    ) -> Change {
        let addr = self.n.addr.as_ref().or(self.o.addr.as_ref());
        Change {
            kind,
            vantage: self.vantage.to_string(),
            name: self.n.name.clone(),
            host: self.n.host.clone(),
            addr: addr.map(|a| AddrKey::new(a).1),
            port: self.n.port,
            old,
            new,
            detail,
        }
    }

    fn verdicts(&self) -> (Option<String>, Option<String>) {
        (
            Some(self.o.verdict.to_string()),
            Some(self.n.verdict.to_string()),
        )
    }
}

/// Compare two records of the same probe: verdict, then expectation, banner, certificate.
fn compare(vantage: &str, o: &ReportRecord, n: &ReportRecord, out: &mut Vec<Change>) {
    let p = Pair { vantage, o, n };
    out.extend(verdict_change(&p));
    out.extend(expectation_change(&p));
    out.extend(banner_change(&p));
    out.extend(super::certs::cert_change(&p));
    out.extend(super::certs::expiry_crossed(&p));
}

fn verdict_change(p: &Pair<'_>) -> Option<Change> {
    let (ov, nv) = (p.o.verdict, p.n.verdict);
    if ov == nv {
        return None;
    }
    let kind = if !ov.gives_verdict() || !nv.gives_verdict() {
        ChangeKind::VerdictChanged
    } else if nv == Verdict::Open {
        ChangeKind::NewlyOpen
    } else if ov == Verdict::Open {
        ChangeKind::NewlyClosed
    } else {
        ChangeKind::VerdictChanged
    };
    let mut notes = Vec::new();
    match (ov, nv) {
        (Verdict::Filtered, Verdict::Unreachable | Verdict::Refused) => {
            notes.push("a DROP rule became REJECT");
        }
        (Verdict::Unreachable | Verdict::Refused, Verdict::Filtered) => {
            notes.push("a REJECT rule became DROP");
        }
        _ => {}
    }
    if !nv.gives_verdict() {
        notes.push("no verdict in the new report: rerun the probe");
    } else if !ov.gives_verdict() {
        notes.push("no verdict in the old report");
    }
    if !p.n.trusted {
        notes.push("untrusted: a positive control failed in the new scan");
    }
    if p.n.flaky {
        notes.push("flaky: the attempts disagreed");
    }
    if !p.n.detail.is_empty() {
        notes.push(&p.n.detail);
    }
    let (old, new) = p.verdicts();
    Some(p.change(kind, old, new, notes.join("; ")))
}

fn expectation_change(p: &Pair<'_>) -> Option<Change> {
    let kind = match (p.o.ok, p.n.ok) {
        (Some(true), Some(false)) => ChangeKind::NewlyFailing,
        (Some(false), Some(true)) => ChangeKind::NewlyPassing,
        _ => return None,
    };
    let (oe, ne) = (expect_text(&p.o.expect), expect_text(&p.n.expect));
    let expect_note = if oe == ne {
        format!("expected {ne}")
    } else {
        format!("expectation changed from {oe} to {ne}")
    };
    let (ov, nv) = (p.o.verdict, p.n.verdict);
    let (old, new) = p.verdicts();
    let why = match super::certs::under_threshold(p.n) {
        Some(cert) if ov == nv && kind == ChangeKind::NewlyFailing => {
            format!("{expect_note}; still {nv}, but {cert}")
        }
        _ => format!("{expect_note}; was {ov}, now {nv}"),
    };
    Some(p.change(kind, old, new, why))
}

fn banner_change(p: &Pair<'_>) -> Option<Change> {
    let (o, n) = (p.o, p.n);
    if !o.verdict.is_connected() || !n.verdict.is_connected() || o.banner == n.banner {
        return None;
    }
    let detail = match (&o.banner, &n.banner) {
        (None, _) => "the peer now sends a banner",
        (_, None) => "the peer no longer sends a banner",
        _ => "the peer greets differently",
    };
    Some(p.change(
        ChangeKind::BannerChanged,
        o.banner.clone(),
        n.banner.clone(),
        detail.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_keys_normalise_and_sort_numerically() {
        assert_eq!(AddrKey::new("::0001").1, "::1");
        assert!(AddrKey::new("127.0.10.2") < AddrKey::new("127.0.10.10"));
    }
}
