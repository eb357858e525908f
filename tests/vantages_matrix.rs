//! Many vantage points: one inventory with per-vantage expectations scanned from three network
//! namespaces with different nft rules; every record carries its vantage and one inventory
//! digest, a vantage without an expectation gets `ok: null`, and `telltale merge` turns the
//! reports into a matrix (JSON, CSV, table) whose every cell is checked.
//!
//! Network: every packet stays inside namespaces created here (`unshare -rnmpf`: only `lo`, a
//! resolv.conf pointing at 127.0.0.1 bind-mounted), or on 127.0.0.0/8.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

use common::fleet::*;
use common::{records_file as records, show_output as show, str_or_null as s};

#[test]
fn three_namespaces_make_the_expected_matrix() {
    let tv = three_vantages();
    let cells = expected_cells();

    // Every record carries its vantage, no shard, and one inventory digest.
    let mut digests = BTreeSet::new();
    for (i, v) in VANTAGES.iter().enumerate() {
        let recs = records(&tv.report(v));
        assert_eq!(recs.len(), 4, "{v}: {recs:#?}");
        for r in &recs {
            assert_eq!(s(r, "vantage"), *v, "{r}");
            assert!(r["shard"].is_null(), "unsharded scan with a shard: {r}");
            digests.insert(s(r, "inventory_digest").to_string());
            let (verdict, ok) = cells[s(r, "name")][i];
            assert_eq!(
                (s(r, "verdict"), r["ok"].as_bool()),
                (verdict, ok),
                "vantage {v}: {r}"
            );
        }
        // The vantage with no expectation and no default: ok null, said so in the detail.
        if *v == "dmz" {
            let admin = recs.iter().find(|r| s(r, "name") == "admin").unwrap();
            assert!(admin["ok"].is_null(), "{admin}");
            assert!(
                s(admin, "detail").contains("no expectation for vantage `dmz`"),
                "{admin}"
            );
        }
    }
    assert_eq!(digests.len(), 1, "one inventory, one digest: {digests:?}");
    assert!(digests.iter().next().unwrap().len() >= 8, "{digests:?}");

    // JSON matrix: exact cells, mismatches counted (✗ and ?), exit 1.
    let out = tv.merge(&["--format", "json"]);
    assert_eq!(
        code(&out),
        1,
        "merge with mismatching cells\n{}",
        show(&out)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["vantages"], serde_json::json!(VANTAGES), "{doc:#}");
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{doc:#}");
    let mut seen = BTreeSet::new();
    for row in rows {
        let name = s(row, "name");
        seen.insert(name.to_string());
        assert_eq!(s(row, "addr"), "127.0.0.1", "{row}");
        let want = cells
            .get(name)
            .unwrap_or_else(|| panic!("unexpected row {row}"));
        for (i, v) in VANTAGES.iter().enumerate() {
            let c = &row["cells"][v];
            assert_eq!(
                (s(c, "verdict"), c["ok"].as_bool()),
                want[i],
                "row {name}, vantage {v}: {c}"
            );
        }
    }
    assert_eq!(seen.len(), 4);
    assert_eq!(
        doc["mismatches"], 3,
        "db@dmz ✗, admin@app ✗, admin@dmz ?: {doc:#}"
    );
    assert_eq!(doc["results"].as_array().unwrap().len(), 12);

    // CSV: the columns are the vantages.
    let out = tv.merge(&["--format", "csv"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("name,host,addr,port,app,app_ok,dmz,dmz_ok,ops,ops_ok"),
        "{csv}"
    );
    let body: BTreeSet<&str> = lines.collect();
    let want: BTreeSet<&str> = [
        "admin,127.0.0.1,127.0.0.1,1003,open,false,open,,open,true",
        "db,127.0.0.1,127.0.0.1,1001,open,true,filtered,false,refused,true",
        "unused,127.0.0.1,127.0.0.1,1004,refused,true,refused,true,refused,true",
        "web,127.0.0.1,127.0.0.1,1002,open,true,unreachable,true,open,true",
    ]
    .into();
    assert_eq!(body, want, "{csv}");

    // Table: a `?` cell for the vantage without an expectation.
    let out = tv.merge(&[]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    let head: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["NAME", "HOST", "ADDRESS", "PORT", "app", "dmz", "ops"],
        "{table}"
    );
    let admin: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("admin"))
        .unwrap_or_else(|| panic!("no admin row:\n{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        admin,
        [
            "admin",
            "127.0.0.1",
            "127.0.0.1",
            "1003",
            "open",
            "✗",
            "open",
            "?",
            "open",
            "✓"
        ],
        "{table}"
    );
    assert!(
        table.contains("4 rows × 3 vantages: 12 cells, 3 not as expected"),
        "{table}"
    );

    // A matrix where every cell is as expected exits 0: ops alone.
    let out = telltale(&["merge", p(&tv.report("ops"))]);
    assert_eq!(code(&out), 0, "{}", show(&out));
}
