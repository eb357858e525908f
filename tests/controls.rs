//! Positive controls: a `control: true` target that fails makes every blocked-type verdict of
//! the run (filtered, refused, unreachable) untrusted (`trusted: false`, UNTRUSTED in the
//! table, exit 3); a passing control leaves the run trusted.
//!
//! Each test runs in its own `unshare -rnmpf` namespace set (user + net + mount + pid): only
//! `lo` exists, so no packet can leave, and `/etc/resolv.conf` points at 127.0.0.1 inside it.
//! Lab services use fixed ports (each namespace is private) and die with the namespace's PID 1.
//! Needs `nft`, `ip`, `unshare` and `timeout`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ns_with_jobs as netns, record_at as rec};

const CONTROL_RULES: &str = "nft -f - <<'NFT'
table inet f {
  chain in {
    type filter hook input priority 0;
    tcp dport 7001 drop
    tcp dport 7002 drop
    tcp dport 7004 reject with icmp type admin-prohibited
  }
}
NFT
";

fn control_inventory(control_port: u16) -> String {
    format!(
        "defaults: {{timeout: 1200ms, linger: 200ms}}
targets:
  - {{name: ctl, host: 127.0.0.1, port: {control_port}, control: true}}
  - {{name: deny-filtered, host: 127.0.0.1, port: 7002, expect: blocked}}
  - {{name: deny-refused, host: 127.0.0.1, port: 7003, expect: blocked}}
  - {{name: deny-unreachable, host: 127.0.0.1, port: 7004, expect: blocked}}
  - {{name: web, host: 127.0.0.1, port: 7100}}
"
    )
}

/// A control on a port the namespace firewall drops fails: every blocked-type verdict of the run
/// (filtered, refused, unreachable) is `trusted: false`, the table says UNTRUSTED, exit 3.
/// The same inventory with the control on a working lab port is trusted and exits 0.
#[test]
fn failed_positive_control_untrusts_blocked_verdicts() {
    let fail = control_inventory(7001);
    let pass = control_inventory(7100);
    let ns = netns(
        &[("fail.yaml", &fail), ("pass.yaml", &pass)],
        &format!(
            "{CONTROL_RULES}
lab_start lab --ip 127.0.0.1 --open 7100 --refused 7003
bg_scan fail fail.yaml --retries 0 --format ndjson --no-progress
bg_scan table fail.yaml --retries 0 --all --no-progress
bg_scan pass pass.yaml --retries 0 --format ndjson --no-progress
join"
        ),
    );

    ns.assert_rc("fail", 3);
    let recs = ns.records("fail");
    assert_eq!(recs.len(), 5, "{}", ns.show("fail"));
    let ctl = rec(&recs, "ctl", 7001);
    assert_eq!(ctl["verdict"], "filtered", "{ctl}");
    assert_eq!(ctl["control"], true, "{ctl}");
    assert_eq!(ctl["ok"], false, "{ctl}");
    for (name, port, verdict) in [
        ("deny-filtered", 7002, "filtered"),
        ("deny-refused", 7003, "refused"),
        ("deny-unreachable", 7004, "unreachable"),
    ] {
        let r = rec(&recs, name, port);
        assert_eq!(r["verdict"], verdict, "{r}");
        assert_eq!(r["ok"], true, "as expected, but not to be trusted: {r}");
        assert_eq!(r["trusted"], false, "{r}");
    }
    let web = rec(&recs, "web", 7100);
    assert_eq!(web["verdict"], "open", "{web}");
    assert_eq!(web["trusted"], true, "an open verdict proves itself: {web}");
    let err = ns.stderr("fail");
    assert!(
        err.contains("control"),
        "stderr names the failed control:\n{err}"
    );

    ns.assert_rc("table", 3);
    let table = ns.stdout("table");
    for name in ["deny-filtered", "deny-refused", "deny-unreachable"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row {name} in\n{table}"));
        assert!(row.contains("UNTRUSTED"), "row {row:?}\n{table}");
    }

    ns.assert_rc("pass", 0);
    let recs = ns.records("pass");
    assert_eq!(recs.len(), 5, "{}", ns.show("pass"));
    assert!(
        recs.iter().all(|r| r["trusted"] == true && r["ok"] == true),
        "{recs:#?}"
    );
    assert_eq!(rec(&recs, "ctl", 7100)["control"], true);
    assert_eq!(rec(&recs, "deny-filtered", 7002)["control"], false);
}
