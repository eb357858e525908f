//! Drift between two reports through `telltale::diff`: every change kind (newly open/closed,
//! verdict changed with its DROP/REJECT reading, newly failing/passing, added, removed, banner
//! changed), a name that moved to other addresses, unresolved names, reports of several
//! vantages, and the table (an `insta` snapshot), NDJSON and JSON renderings.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::{Value, json};
use telltale::diff::{ChangeKind, DiffFormat, Drift, render};

use common::reports::*;

#[test]
fn every_transition_kind() {
    let (old, new) = transitions();
    let d = drift(&old, &new);
    use ChangeKind::*;
    assert_eq!(
        rows(&d),
        vec![
            row(
                NewlyOpen,
                "opened",
                s("127.0.10.1"),
                443,
                s("filtered"),
                s("open")
            ),
            row(
                NewlyClosed,
                "shut",
                s("127.0.10.2"),
                22,
                s("open"),
                s("refused")
            ),
            row(
                VerdictChanged,
                "127.0.10.8",
                s("127.0.10.8"),
                53,
                s("unreachable"),
                s("filtered")
            ),
            row(
                VerdictChanged,
                "fw",
                s("127.0.10.3"),
                25,
                s("filtered"),
                s("unreachable")
            ),
            row(
                NewlyFailing,
                "shut",
                s("127.0.10.2"),
                22,
                s("open"),
                s("refused")
            ),
            row(
                NewlyPassing,
                "expect",
                s("127.0.10.4"),
                80,
                s("refused"),
                s("refused")
            ),
            row(
                NewlyPassing,
                "opened",
                s("127.0.10.1"),
                443,
                s("filtered"),
                s("open")
            ),
            row(Added, "fresh", s("127.0.10.9"), 9090, None, s("open")),
            row(Removed, "gone", s("127.0.10.6"), 8080, s("open"), None),
            row(
                BannerChanged,
                "ssh",
                s("127.0.10.5"),
                22,
                s("SSH-2.0-OpenSSH_8.9\\r\\n"),
                s("SSH-2.0-OpenSSH_9.6\\r\\n")
            ),
        ]
    );
    let detail = |kind: ChangeKind, label: &str| {
        d.changes
            .iter()
            .find(|c| c.kind == kind && c.name.as_deref().unwrap_or(&c.host) == label)
            .unwrap()
            .detail
            .clone()
    };
    assert!(detail(VerdictChanged, "fw").contains("a DROP rule became REJECT"));
    assert!(detail(VerdictChanged, "127.0.10.8").contains("a REJECT rule became DROP"));
    assert!(detail(NewlyPassing, "expect").contains("expectation changed from open to"));
    assert!(detail(NewlyClosed, "shut").contains("refused detail"));
    assert!(d.changes.iter().all(|c| c.vantage == V));
    let counts = d.counts();
    assert_eq!(counts[&NewlyPassing], 2);
    assert_eq!(counts[&VerdictChanged], 2);
    assert_eq!(counts[&AddressChanged], 0);
    assert_eq!(counts.values().sum::<usize>(), d.changes.len());
}

#[test]
fn identical_reports_have_no_drift() {
    let (old, _) = transitions();
    let d = drift(&old, &old);
    assert!(d.is_empty());
    let mut out = Vec::new();
    render(&d, DiffFormat::Table, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "no drift\n");
}

#[test]
fn a_name_that_moved_is_one_address_change() {
    let old = vec![
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.2"),
            5432,
            "open",
            &["open"],
        ),
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.10"),
            5432,
            "open",
            &["open"],
        ),
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.1"),
            5432,
            "open",
            &["open"],
        ),
    ];
    let new = vec![
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.3"),
            5432,
            "open",
            &["open"],
        ),
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.2"),
            5432,
            "refused",
            &["open"],
        ),
    ];
    let d = drift(&old, &new);
    use ChangeKind::*;
    assert_eq!(
        rows(&d),
        vec![
            row(
                NewlyClosed,
                "db",
                s("127.0.10.2"),
                5432,
                s("open"),
                s("refused")
            ),
            row(
                NewlyFailing,
                "db",
                s("127.0.10.2"),
                5432,
                s("open"),
                s("refused")
            ),
            row(
                AddressChanged,
                "db",
                None,
                5432,
                s("127.0.10.1,127.0.10.2,127.0.10.10"),
                s("127.0.10.2,127.0.10.3")
            ),
        ]
    );
    let moved = &d.changes[2].detail;
    assert!(
        moved.contains("gone: 127.0.10.1 (was open), 127.0.10.10 (was open)"),
        "{moved}"
    );
    assert!(moved.contains("new: 127.0.10.3 (open)"), "{moved}");
}

#[test]
fn unresolved_names_are_keyed_without_an_address() {
    let dns = |name: &str, host: &str| {
        with(
            rec(s(name), host, None, 443, "dns-error", &["open"]),
            "detail",
            json!("no such name"),
        )
    };
    let old = vec![
        dns("still-broken", "nx.example"),
        rec(
            s("lost"),
            "lost.example",
            s("127.1.1.1"),
            443,
            "open",
            &["open"],
        ),
        rec(
            s("lost"),
            "lost.example",
            s("127.1.1.2"),
            443,
            "open",
            &["open"],
        ),
        dns("fixed", "fixed.example"),
    ];
    let new = vec![
        dns("still-broken", "nx.example"),
        dns("lost", "lost.example"),
        rec(
            s("fixed"),
            "fixed.example",
            s("127.1.2.1"),
            443,
            "open",
            &["open"],
        ),
        dns("typo", "typo.example"),
    ];
    let d = drift(&old, &new);
    use ChangeKind::*;
    assert_eq!(
        rows(&d),
        vec![
            row(
                NewlyOpen,
                "fixed",
                s("127.1.2.1"),
                443,
                s("dns-error"),
                s("open")
            ),
            row(
                NewlyClosed,
                "lost",
                s("127.1.1.1"),
                443,
                s("open"),
                s("dns-error")
            ),
            row(
                NewlyClosed,
                "lost",
                s("127.1.1.2"),
                443,
                s("open"),
                s("dns-error")
            ),
            row(
                NewlyFailing,
                "lost",
                s("127.1.1.1"),
                443,
                s("open"),
                s("dns-error")
            ),
            row(
                NewlyFailing,
                "lost",
                s("127.1.1.2"),
                443,
                s("open"),
                s("dns-error")
            ),
            row(
                NewlyPassing,
                "fixed",
                s("127.1.2.1"),
                443,
                s("dns-error"),
                s("open")
            ),
            row(Added, "typo", None, 443, None, s("dns-error")),
        ]
    );
    assert!(d.changes[1].detail.contains("no such name"));
}

#[test]
fn multi_vantage_reports_compare_per_vantage() {
    let at = |r: Value, v: &str| with(r, "vantage", json!(v));
    let base = rec(
        s("web"),
        "web.example",
        s("127.0.10.1"),
        443,
        "open",
        &["open"],
    );
    let shut = rec(
        s("web"),
        "web.example",
        s("127.0.10.1"),
        443,
        "filtered",
        &["open"],
    );
    let table = |d: &Drift| {
        let mut out = Vec::new();
        render(d, DiffFormat::Table, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    // Only one vantage drifted: it is said once, above the groups.
    let d = drift(
        &[at(base.clone(), "dmz"), at(base.clone(), "office")],
        &[at(base.clone(), "dmz"), at(shut.clone(), "office")],
    );
    let kinds: Vec<(ChangeKind, &str)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.vantage.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ChangeKind::NewlyClosed, "office"),
            (ChangeKind::NewlyFailing, "office")
        ]
    );
    let t = table(&d);
    assert!(
        t.starts_with("vantage: office\n\nnewly closed (1)\n"),
        "{t}"
    );
    assert!(!t.contains("VANTAGE"), "{t}");
    // Both drifted: a VANTAGE column.
    let d = drift(
        &[at(base.clone(), "dmz"), at(base.clone(), "office")],
        &[at(shut.clone(), "dmz"), at(shut, "office")],
    );
    assert_eq!(d.changes.len(), 4);
    let t = table(&d);
    assert!(t.contains("  VANTAGE  NAME"), "{t}");
    assert!(t.lines().any(|l| l.starts_with("  dmz ")), "{t}");
    assert!(t.lines().any(|l| l.starts_with("  office ")), "{t}");
}

#[test]
fn renders_table_ndjson_and_json() {
    let (old, new) = transitions();
    let d = drift(&old, &new);

    let mut out = Vec::new();
    render(&d, DiffFormat::Table, &mut out).unwrap();
    let table = String::from_utf8(out).unwrap();
    // The whole table as a reader sees it (tests/snapshots/); the checks below name its parts.
    insta::assert_snapshot!("drift_table", table);
    for heading in [
        "newly open (1)",
        "newly closed (1)",
        "verdict changed (2)",
        "newly failing (1)",
        "newly passing (2)",
        "added (1)",
        "removed (1)",
        "banner changed (1)",
    ] {
        assert!(
            table.lines().any(|l| l == heading),
            "no `{heading}` in\n{table}"
        );
    }
    assert!(!table.contains("address changed"));
    assert!(
        !table.contains("VANTAGE"),
        "one vantage: no column\n{table}"
    );
    assert!(table.starts_with(&format!("vantage: {V}\n")), "{table}");
    assert!(table.contains("filtered → unreachable"), "{table}");
    assert!(table.contains("- → open"), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains("opened") && l.contains("→ open"))
        .unwrap();
    for cell in ["a.example", "127.0.10.1", "443"] {
        assert!(row.contains(cell), "{row}");
    }
    assert_eq!(
        table.lines().last().unwrap(),
        "8 targets changed: 1 newly open + newly passing, 1 newly closed + newly failing, 2 verdict changed, 1 newly passing, 1 added, 1 removed, 1 banner changed"
    );

    let mut out = Vec::new();
    render(&d, DiffFormat::Ndjson, &mut out).unwrap();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["kind"], "newly-open");
    assert_eq!(lines[0]["old"], "filtered");
    assert_eq!(lines[0]["new"], "open");
    assert_eq!(lines[0]["vantage"], V);
    for l in &lines {
        for k in [
            "kind", "vantage", "name", "host", "addr", "port", "old", "new", "detail",
        ] {
            assert!(l.get(k).is_some(), "missing {k} in {l}");
        }
    }

    let mut out = Vec::new();
    render(&d, DiffFormat::Json, &mut out).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["changes"].as_array().unwrap().len(), 10);
    assert_eq!(doc["counts"]["newly-passing"], 2);
    assert_eq!(doc["counts"]["address-changed"], 0);
    // Every kind is counted, the certificate ones (tests/diff_certs.rs) included.
    assert_eq!(doc["counts"].as_object().unwrap().len(), 11);
    assert_eq!(doc["counts"]["cert-changed"], 0);
}
