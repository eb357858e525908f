//! Wildcard hosts: a host that also accepts the wildcard-check port (a port forwarder or SYN
//! proxy answering every port) gets `wildcard: true` on its open results, checked once per
//! host with open results; `--wildcard-port` moves the check, `--no-detect-wildcard` skips it.
//!
//! Each test runs in its own `unshare -rnmpf` namespace set (user + net + mount + pid): only
//! `lo` exists, so no packet can leave, and `/etc/resolv.conf` points at 127.0.0.1 inside it.
//! Lab services use fixed ports (each namespace is private) and die with the namespace's PID 1.
//! Needs `nft`, `ip`, `unshare` and `timeout`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{ns_with_jobs as netns, record_at as rec};

/// 127.0.0.9: nft redirects every port to one lab listener (a port forwarder answering
/// everything). 127.0.0.10 forwards only 22, 443 and the default check port 65521. Open results
/// there are `wildcard: true`; a plain open lab port on 127.0.0.1 is not. Only hosts with open
/// results get the check, once each; `--wildcard-port` moves it, `--no-detect-wildcard` skips it.
#[test]
fn wildcard_host_is_flagged() {
    let inv = "defaults: {timeout: 1200ms, linger: 200ms}
targets:
  - {name: wild, host: 127.0.0.9, ports: [22, 443]}
  - {name: fwd, host: 127.0.0.10, ports: [22, 443]}
  - {name: web, host: 127.0.0.1, port: 7100}
  - {name: shut, host: 127.0.0.11, port: 22, expect: refused}
";
    let ns = netns(
        &[("w.yaml", inv)],
        "lab_start lab --ip 127.0.0.1 --open 7100,7200
nft -f - <<'NFT'
table ip w {
  chain out {
    type nat hook output priority -100;
    ip daddr 127.0.0.9 tcp dport 1-65535 redirect to :7200
    ip daddr 127.0.0.10 tcp dport { 22, 443, 65521 } redirect to :7200
  }
}
table inet cnt {
  counter w9 {}
  counter w10 {}
  counter w11 {}
  chain out {
    type filter hook output priority -200;
    tcp flags & (syn | ack) == syn ip daddr 127.0.0.9 tcp dport 65521 counter name w9
    tcp flags & (syn | ack) == syn ip daddr 127.0.0.10 tcp dport 65521 counter name w10
    tcp flags & (syn | ack) == syn ip daddr 127.0.0.11 tcp dport 65521 counter name w11
  }
}
NFT
scan default w.yaml --retries 0 --format ndjson --no-progress
scan table w.yaml --retries 0 --all --no-progress
packets w9; packets w10; packets w11
scan port w.yaml --retries 0 --format ndjson --no-progress --wildcard-port 65000
scan off w.yaml --retries 0 --format ndjson --no-progress --no-detect-wildcard
packets w9",
    );

    ns.assert_rc("default", 0);
    let recs = ns.records("default");
    assert_eq!(
        recs.len(),
        6,
        "the check probe is not a record\n{}",
        ns.show("default")
    );
    for (name, port) in [("wild", 22), ("wild", 443), ("fwd", 22), ("fwd", 443)] {
        let r = rec(&recs, name, port);
        assert_eq!(r["verdict"], "open", "{r}");
        assert_eq!(r["wildcard"], true, "{r}");
    }
    let web = rec(&recs, "web", 7100);
    assert_eq!(web["verdict"], "open", "{web}");
    assert_eq!(web["wildcard"], false, "{web}");
    let shut = rec(&recs, "shut", 22);
    assert_eq!(shut["verdict"], "refused", "{shut}");
    assert_eq!(shut["wildcard"], false, "{shut}");
    // Only the first table read counts the scans above (w9 is read again at the end).
    assert_eq!(
        ns.packets("w9", 0),
        2,
        "one check SYN per scan (default + table) for the host with 2 open results"
    );
    assert_eq!(ns.packets("w10", 0), 2);
    assert_eq!(
        ns.packets("w11", 0),
        0,
        "a host without open results gets no check"
    );

    ns.assert_rc("table", 0);
    let table = ns.stdout("table");
    let wild_rows: Vec<&str> = table.lines().filter(|l| l.starts_with("wild")).collect();
    assert_eq!(wild_rows.len(), 2, "{table}");
    assert!(wild_rows.iter().all(|l| l.contains("WILDCARD")), "{table}");
    assert!(
        !table
            .lines()
            .find(|l| l.starts_with("web"))
            .unwrap()
            .contains("WILDCARD"),
        "{table}"
    );

    ns.assert_rc("port", 0);
    let recs = ns.records("port");
    assert_eq!(rec(&recs, "wild", 22)["wildcard"], true);
    assert_eq!(
        rec(&recs, "fwd", 22)["wildcard"],
        false,
        "65000 is not forwarded on 127.0.0.10: {recs:#?}"
    );
    assert_eq!(rec(&recs, "web", 7100)["wildcard"], false);

    ns.assert_rc("off", 0);
    let recs = ns.records("off");
    assert!(recs.iter().all(|r| r["wildcard"] == false), "{recs:#?}");
    assert_eq!(
        ns.packets("w9", 1),
        2,
        "neither --wildcard-port 65000 nor --no-detect-wildcard probes 65521"
    );
}
