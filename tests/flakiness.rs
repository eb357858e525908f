//! Flakiness: `--attempts N` probes each target N times; the verdict is the majority, the
//! record lists `attempt_verdicts`, and disagreeing attempts are `flaky: true` (in the table
//! and its summary too). A steady service is never flaky.
//!
//! Each test runs in its own `unshare -rnmpf` namespace set (user + net + mount + pid): only
//! `lo` exists, so no packet can leave, and `/etc/resolv.conf` points at 127.0.0.1 inside it.
//! Lab services use fixed ports (each namespace is private) and die with the namespace's PID 1.
//! Needs `nft`, `ip`, `unshare` and `timeout`.
#![allow(clippy::unwrap_used)]

mod common;

use common::ns_with_jobs as netns;

/// A lab service that holds the 1st connection and closes the 2nd, and so on: 5 attempts see
/// open, closed-by-peer, open, closed-by-peer, open → majority open, `flaky: true`. A steady
/// service with 3 attempts is not flaky.
#[test]
fn attempts_flag_flaky_service() {
    let alt = "defaults: {timeout: 1200ms, linger: 200ms}\ntargets:\n  - {name: alt, host: 127.0.0.1, port: 7300}\n";
    let alt2 = "defaults: {timeout: 1200ms, linger: 200ms}\ntargets:\n  - {name: alt2, host: 127.0.0.1, port: 7301}\n";
    let steady = "defaults: {timeout: 1200ms, linger: 200ms}\ntargets:\n  - {name: steady, host: 127.0.0.1, port: 7100}\n";
    let ns = netns(
        &[
            ("alt.yaml", alt),
            ("alt2.yaml", alt2),
            ("steady.yaml", steady),
        ],
        "lab_start lab --ip 127.0.0.1 --open 7100 --alternate 7300,7301
bg_scan alt alt.yaml --attempts 5 --attempt-gap 50ms --format ndjson --no-progress
bg_scan table alt2.yaml --attempts 5 --attempt-gap 50ms --all --no-progress
bg_scan steady steady.yaml --attempts 3 --attempt-gap 50ms --format ndjson --no-progress
bg_scan single steady.yaml --format ndjson --no-progress
join",
    );

    let recs = ns.records("alt");
    assert_eq!(recs.len(), 1, "{}", ns.show("alt"));
    let r = &recs[0];
    let verdicts: Vec<&str> = r["attempt_verdicts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempt_verdicts: {r}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(verdicts.len(), 5, "{r}");
    assert_eq!(verdicts.iter().filter(|v| **v == "open").count(), 3, "{r}");
    assert_eq!(
        verdicts.iter().filter(|v| **v == "closed-by-peer").count(),
        2,
        "{r}"
    );
    assert_eq!(r["flaky"], true, "{r}");
    assert_eq!(
        r["verdict"], "open",
        "the majority of 3 open / 2 closed: {r}"
    );
    ns.assert_rc("alt", 0);

    let table = ns.stdout("table");
    let row = table
        .lines()
        .find(|l| l.starts_with("alt2"))
        .unwrap_or_else(|| panic!("no alt2 row:\n{table}"));
    assert!(row.contains("flaky"), "row {row:?}\n{table}");
    assert!(table.contains("1 flaky"), "summary counts flaky:\n{table}");

    ns.assert_rc("steady", 0);
    let recs = ns.records("steady");
    assert_eq!(recs.len(), 1, "{}", ns.show("steady"));
    assert_eq!(recs[0]["flaky"], false, "{}", recs[0]);
    assert_eq!(
        recs[0]["attempt_verdicts"],
        serde_json::json!(["open", "open", "open"]),
        "{}",
        recs[0]
    );

    ns.assert_rc("single", 0);
    assert_eq!(ns.records("single")[0]["flaky"], false);
}
