//! Drift between real scans: stop a service (newly closed) and turn a DROP rule into a REJECT
//! (verdict changed), then `telltale diff` (table, JSON, NDJSON or JSON reports in) and
//! `scan --baseline` with and without `--fail-on-drift`.
//!
//! Each test runs in its own `unshare -rnmpf` namespace set (user + net + mount + pid): only
//! `lo` exists, so no packet can leave, and `/etc/resolv.conf` points at 127.0.0.1 inside it.
//! Lab services use fixed ports (each namespace is private) and die with the namespace's PID 1.
//! Needs `nft`, `ip`, `unshare` and `timeout`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ns_with_jobs as netns, record_at as rec};
use serde_json::Value;

/// scan → stop an open service (newly closed) and turn a DROP rule into a REJECT (verdict
/// changed: filtered → unreachable) → scan → `diff` exits 1 and lists both; `--baseline
/// --fail-on-drift` exits 1 while plain `--baseline` keeps the scan's 0; a report diffed with
/// itself exits 0.
#[test]
fn diff_round_trip_newly_closed_and_drop_to_reject() {
    // `app` accepts open or refused, so the scans themselves exit 0 and only drift can fail.
    let inv = "defaults: {timeout: 1200ms, linger: 200ms}
targets:
  - {name: app, host: 127.0.0.1, port: 7001, expect: [open, refused]}
  - {name: fw, host: 127.0.0.1, port: 7002, expect: blocked}
  - {name: steady, host: 127.0.0.1, port: 7003}
";
    let ns = netns(
        &[("inv.yaml", inv)],
        "nft -f - <<'NFT'
table inet f {
  chain in {
    type filter hook input priority 0;
    tcp dport 7002 drop
  }
}
NFT
lab_start app --ip 127.0.0.1 --open 7001
lab_start steady --ip 127.0.0.1 --open 7003
V='--vantage lab --retries 0 --no-progress'
scan old inv.yaml $V --format ndjson
cp old.out old.ndjson
scan oldjson inv.yaml $V --format json
cp oldjson.out old.json
lab_stop app
nft flush chain inet f in
nft add rule inet f in tcp dport 7002 reject with icmp type admin-prohibited
scan new inv.yaml $V --format ndjson
cp new.out new.ndjson
run_to difftab \"$T\" diff old.ndjson new.ndjson
run_to diffjson \"$T\" diff old.ndjson new.ndjson --format json
run_to diffjsonin \"$T\" diff old.json new.ndjson --format json
run_to same \"$T\" diff old.ndjson old.ndjson
run_to samenew \"$T\" diff new.ndjson new.ndjson --format json
scan base inv.yaml $V --baseline old.ndjson
scan basefail inv.yaml $V --baseline old.ndjson --fail-on-drift --format ndjson
scan basenone inv.yaml $V --baseline new.ndjson --fail-on-drift --format ndjson",
    );

    ns.assert_rc("old", 0);
    ns.assert_rc("new", 0);
    assert_eq!(rec(&ns.records("old"), "fw", 7002)["verdict"], "filtered");
    let new = ns.records("new");
    assert_eq!(rec(&new, "app", 7001)["verdict"], "refused");
    assert_eq!(rec(&new, "fw", 7002)["verdict"], "unreachable");

    ns.assert_rc("difftab", 1);
    let tab = ns.stdout("difftab");
    for want in [
        "newly closed",
        "verdict changed",
        "app",
        "fw",
        "7001",
        "7002",
    ] {
        assert!(tab.contains(want), "diff table lacks {want:?}:\n{tab}");
    }
    assert!(
        !tab.lines().any(|l| l.contains("steady")),
        "an unchanged target is not drift:\n{tab}"
    );

    for name in ["diffjson", "diffjsonin"] {
        ns.assert_rc(name, 1);
        let doc: Value = serde_json::from_str(&ns.stdout(name))
            .unwrap_or_else(|e| panic!("{e}\n{}", ns.show(name)));
        let changes = doc["changes"].as_array().unwrap();
        let find = |kind: &str| {
            changes
                .iter()
                .find(|c| c["kind"] == kind)
                .unwrap_or_else(|| panic!("no {kind} change in {doc:#}"))
        };
        let closed = find("newly-closed");
        assert_eq!(closed["name"], "app", "{closed}");
        assert_eq!(closed["port"], 7001, "{closed}");
        assert_eq!(closed["old"], "open", "{closed}");
        assert_eq!(closed["new"], "refused", "{closed}");
        let changed = find("verdict-changed");
        assert_eq!(changed["name"], "fw", "{changed}");
        assert_eq!(changed["old"], "filtered", "{changed}");
        assert_eq!(changed["new"], "unreachable", "{changed}");
        assert_eq!(
            changes.len(),
            2,
            "only those two transitions (expectations held): {doc:#}"
        );
        assert_eq!(doc["counts"]["newly-closed"], 1, "{doc:#}");
        assert_eq!(doc["counts"]["verdict-changed"], 1, "{doc:#}");
    }

    ns.assert_rc("same", 0);
    ns.assert_rc("samenew", 0);
    let same: Value = serde_json::from_str(&ns.stdout("samenew")).unwrap();
    assert_eq!(same["changes"], serde_json::json!([]), "{same:#}");

    // --baseline: the drift section follows the table; the exit code stays the scan's.
    ns.assert_rc("base", 0);
    let base = ns.stdout("base");
    assert!(
        base.contains("newly closed") && base.contains("verdict changed"),
        "{}",
        ns.show("base")
    );
    ns.assert_rc("basefail", 1);
    assert_eq!(
        ns.records("basefail").len(),
        3,
        "the NDJSON stays clean of the drift section: {}",
        ns.show("basefail")
    );
    ns.assert_rc("basenone", 0);
}
