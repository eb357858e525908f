//! `--source ADDR` and the per-target `source:` key: every connect of a target (retries,
//! `--attempts`, the wildcard check) binds to its source, so an nft rule on `ip saddr` gives two
//! sources two verdicts, and records say which source they used; a source that is not an
//! address of this machine, or of the other family, is a `local-error` that sends nothing
//! (exit 3), never a remote verdict.
//!
//! Each test builds its own namespaces (`unshare -rnmpf`, only `lo`). `lo` is re-addressed to
//! 127.0.0.1-4 (each a /32) and ::1, so that 127.0.0.9 is *not* an address of this machine
//! (with the stock 127.0.0.0/8 every 127.x address is local). nft counters on the output hook
//! count the SYNs each source sends: the truth of "from which address" and "nothing sent".
//! Traffic only ever goes to 127.0.0.1 and ::1.
//!
//! The wire, checked once with tcpdump on `lo` in such a namespace (real root, since tcpdump
//! cannot drop privileges in a user namespace): `127.0.0.2.42625 > 127.0.0.1.7001: [S]`
//! answered by `[S.]`; `127.0.0.3.44987 > 127.0.0.1.7001: [S]` with no answer (the drop); the
//! wildcard check `127.0.0.2.34295 > 127.0.0.1.65521: [S]`; and not one IPv6 packet for
//! `--source ::2`, neither normally nor under `ip_nonlocal_bind = 1`.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::Value;

use common::kernel::{assert_rc, ns_run, records};
use common::{JOB_FNS, Ns, str_or_null as s};

/// `lo` with only 127.0.0.1-4 and ::1.
const READDRESS_LO: &str = "ip addr del 127.0.0.1/8 dev lo
for a in 1 2 3 4; do ip addr add 127.0.0.$a/32 dev lo; done";

/// The rules: 127.0.0.3 is dropped and 127.0.0.4 reset on port 7001; counters of SYNs (no
/// ACK) by source, on the output hook (every locally sent SYN passes it).
const RULES: &str = "table inet lab {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 127.0.0.3 tcp dport 7001 drop
    ip saddr 127.0.0.4 tcp dport 7001 reject with tcp reset
  }
}
table inet cnt {
  counter from1 {}
  counter from2 {}
  counter from3 {}
  counter from4 {}
  counter from9 {}
  counter wild2 {}
  counter v6from1 {}
  counter v6from2 {}
  counter any4 {}
  counter any6 {}
  chain out {
    type filter hook output priority -200;
    tcp flags & (syn | ack) == syn ip saddr 127.0.0.1 tcp dport 7001 counter name from1
    tcp flags & (syn | ack) == syn ip saddr 127.0.0.2 tcp dport 7001 counter name from2
    tcp flags & (syn | ack) == syn ip saddr 127.0.0.3 tcp dport 7001 counter name from3
    tcp flags & (syn | ack) == syn ip saddr 127.0.0.4 tcp dport 7001 counter name from4
    tcp flags & (syn | ack) == syn ip saddr 127.0.0.9 counter name from9
    tcp flags & (syn | ack) == syn ip saddr 127.0.0.2 tcp dport 65521 counter name wild2
    tcp flags & (syn | ack) == syn ip6 saddr ::1 tcp dport 7001 counter name v6from1
    tcp flags & (syn | ack) == syn ip6 saddr ::2 counter name v6from2
    tcp flags & (syn | ack) == syn meta nfproto ipv4 counter name any4
    tcp flags & (syn | ack) == syn meta nfproto ipv6 counter name any6
  }
}
";

/// One target: the v4 listener.
const ONE4: &str = "targets:\n  - {name: web, host: 127.0.0.1, port: 7001}\n";
/// One target: the v6 listener.
const ONE6: &str = "targets:\n  - {name: web6, host: \"::1\", port: 7001}\n";

/// Runs `body` (after `lo` is re-addressed and the v4 and v6 listeners on 7001 are up) in a
/// fresh namespace set with [`RULES`] and `files`.
fn run(files: &[(&str, &str)], body: &str) -> Ns {
    let mut all = vec![
        ("rules.nft", RULES.to_string()),
        ("one4.yaml", ONE4.to_string()),
        ("one6.yaml", ONE6.to_string()),
    ];
    all.extend(files.iter().map(|(n, c)| (*n, c.to_string())));
    ns_run(
        &all,
        &format!(
            "{JOB_FNS}
{READDRESS_LO}
lab_start lab4 --ip 127.0.0.1 --open 7001
lab_start lab6 --ip ::1 --open 7001
V='--format ndjson --no-progress --linger 0 --timeout 1500ms'
{body}"
        ),
    )
}

/// The one record of `scan`.
fn only(ns: &Ns, scan: &str) -> Value {
    let recs = records(ns, scan);
    assert_eq!(recs.len(), 1, "{}", ns.context(scan));
    recs.into_iter().next().unwrap()
}

/// Asserts verdict and source of a record.
fn assert_from(r: &Value, verdict: &str, source: Option<&str>, ctx: &str) {
    assert_eq!(s(r, "verdict"), verdict, "{ctx}: verdict: {r}");
    assert_eq!(
        r["source"].as_str(),
        source,
        "{ctx}: the record must carry the source used: {r}"
    );
}

/// An nft rule on `ip saddr`: --source 127.0.0.2 reads open, 127.0.0.3 (dropped) filtered and
/// 127.0.0.4 (reset) refused, each SYN leaving from its source (retries and attempts
/// included, and the wildcard check too); IPv6 `--source ::1` works; per-target `source:`
/// gives the three verdicts in one run and wins over `--source`.
#[test]
fn two_sources_two_verdicts_on_an_saddr_rule() {
    let keyed = "defaults: {timeout: 1500ms, linger: 0}
targets:
  - {host: 127.0.0.1, port: 7001, source: 127.0.0.2, expect: open}
  - {host: 127.0.0.1, port: 7001, source: 127.0.0.3, expect: filtered}
  - {host: 127.0.0.1, port: 7001, source: 127.0.0.4, expect: refused}
  - {host: 127.0.0.1, port: 7001, expect: open}
";
    let ns = run(
        &[("keyed.yaml", keyed)],
        "bg_scan from2 one4.yaml $V --retries 0 --source 127.0.0.2
bg_scan from3 one4.yaml $V --retries 1 --source 127.0.0.3
bg_scan from4 one4.yaml $V --retries 0 --attempts 2 --attempt-gap 0 --source 127.0.0.4
bg_scan v6 one6.yaml $V --retries 0 --source ::1
join
for c in from1 from2 from3 from4 wild2 v6from1; do packets $c; done
scan kernel one4.yaml $V --retries 0
for c in from1 from2; do packets $c; done
scan keyed keyed.yaml $V --retries 0
for c in from1 from2 from3 from4 wild2; do packets $c; done
bg_scan keyedflag keyed.yaml $V --retries 0 --source 127.0.0.3
bg_scan table keyed.yaml --all --no-progress --color never --linger 0 --timeout 1500ms --retries 0
run_to narrative \"$T\" probe 127.0.0.1 7001 --linger 0 --source 127.0.0.2
join",
    );

    // --source: one source, one verdict; the flag's scans never sent from 127.0.0.1.
    assert_rc(&ns, "from2", 0);
    let r = only(&ns, "from2");
    assert_from(&r, "open", Some("127.0.0.2"), "from2");
    assert_eq!(r["wildcard"], false, "{r}");
    let r = only(&ns, "from3");
    assert_from(&r, "filtered", Some("127.0.0.3"), "from3");
    assert_eq!(r["attempts"], 2, "the retry is made too: {r}");
    assert_rc(&ns, "from3", 1);
    let r = only(&ns, "from4");
    assert_from(&r, "refused", Some("127.0.0.4"), "from4");
    assert_eq!(
        r["attempt_verdicts"],
        serde_json::json!(["refused", "refused"])
    );
    let r = only(&ns, "v6");
    assert_from(&r, "open", Some("::1"), "v6");
    assert_rc(&ns, "v6", 0);
    let p = |c: &str, n: usize| ns.packets(c, n);
    assert_eq!(p("from1", 0), 0, "a sourced scan sent a SYN from 127.0.0.1");
    assert_eq!(p("from2", 0), 1, "the open probe: one SYN from 127.0.0.2");
    assert_eq!(
        p("wild2", 0),
        1,
        "the wildcard check of the open result goes from its source"
    );
    // Two attempts, each SYN retransmitted once within 1.5 s.
    let dropped = p("from3", 0);
    assert!(
        (2..=4).contains(&dropped),
        "{dropped} SYNs from 127.0.0.3, want both attempts"
    );
    assert_eq!(p("from4", 0), 2, "--attempts 2: two SYNs from 127.0.0.4");
    assert_eq!(p("v6from1", 0), 1, "one SYN from ::1");

    // Without a source the kernel picks 127.0.0.1, and the record says so (null).
    let r = only(&ns, "kernel");
    assert_from(&r, "open", None, "kernel");
    assert_eq!(
        (p("from1", 1), p("from2", 1)),
        (1, 1),
        "kernel: from 127.0.0.1"
    );

    // Per-target `source:`: the three verdicts in one run, one host:port, four records.
    assert_rc(&ns, "keyed", 0);
    let recs = records(&ns, "keyed");
    let mut got: Vec<(String, String)> = recs
        .iter()
        .map(|r| (s(r, "source").to_string(), s(r, "verdict").to_string()))
        .collect();
    got.sort();
    let want = [
        ("127.0.0.2", "open"),
        ("127.0.0.3", "filtered"),
        ("127.0.0.4", "refused"),
        ("null", "open"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b)| (a.to_string(), b.to_string())),
        "{}",
        ns.context("keyed")
    );
    assert_eq!(
        p("from1", 2) - p("from1", 1),
        1,
        "keyed: the unsourced entry"
    );
    assert_eq!(
        p("from2", 2) - p("from2", 1),
        1,
        "keyed: the 127.0.0.2 entry"
    );
    assert!(p("from3", 1) > p("from3", 0), "keyed: the 127.0.0.3 entry");
    assert_eq!(
        p("from4", 1) - p("from4", 0),
        1,
        "keyed: the 127.0.0.4 entry"
    );
    assert_eq!(
        p("wild2", 1) - p("wild2", 0),
        1,
        "keyed: the wildcard check"
    );

    // A target's own source wins over --source; --source applies to the others.
    assert_rc(&ns, "keyedflag", 1);
    let mut got: Vec<(String, String)> = records(&ns, "keyedflag")
        .iter()
        .map(|r| (s(r, "source").to_string(), s(r, "verdict").to_string()))
        .collect();
    got.sort();
    let want = [
        ("127.0.0.2", "open"),
        ("127.0.0.3", "filtered"),
        ("127.0.0.3", "filtered"),
        ("127.0.0.4", "refused"),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));

    // The table's NOTES say where each row was probed from.
    assert_rc(&ns, "table", 0);
    let table = ns.stdout("table");
    for (src, verdict) in [
        ("127.0.0.2", " open "),
        ("127.0.0.3", " filtered "),
        ("127.0.0.4", " refused "),
    ] {
        let row = table
            .lines()
            .find(|l| l.contains(&format!("from {src}")))
            .unwrap_or_else(|| panic!("no row says `from {src}`\n{}", ns.context("table")));
        assert!(row.contains(verdict), "{row}");
    }

    // `probe` tells where it connects from.
    assert_rc(&ns, "narrative", 0);
    assert!(
        ns.stdout("narrative")
            .starts_with("Trying 127.0.0.1 port 7001 from 127.0.0.2...\n"),
        "{}",
        ns.context("narrative")
    );
}

/// A source that is not an address of this machine (127.0.0.9 once `lo` has only .1-.4; `::2`),
/// or of the other family, is a `local-error` (exit 3) and sends nothing — also when
/// `ip_nonlocal_bind` lets bind() accept any address; a name's addresses of the other family
/// are per-record local errors, a literal host of the other family an inventory error (exit 2),
/// and a `--source` that is no address a usage error (exit 2).
#[test]
fn a_source_that_is_not_local_is_a_local_error_and_sends_nothing() {
    let hosts = "127.0.0.1 localhost\n::1 localhost\n127.0.0.1 dual\n::1 dual\n";
    let dual = "targets:\n  - {name: dual, host: dual, port: 7001}\n";
    let keymis = "targets:\n  - {name: web6, host: \"::1\", port: 7001, source: 127.0.0.2}\n";
    let ns = run(
        &[
            ("hosts", hosts),
            ("dual.yaml", dual),
            ("keymis.yaml", keymis),
        ],
        "bg_scan nonlocal4 one4.yaml $V --source 127.0.0.9
bg_scan nonlocal6 one6.yaml $V --retries 0 --source ::2
bg_scan mismatch one6.yaml $V --retries 0 --source 127.0.0.2
bg_scan keymis keymis.yaml $V --retries 0
run_to usage \"$T\" scan one4.yaml $V --source 127.0.0.2:80
join
for c in any4 any6 from9 v6from2; do packets $c; done
scan dual dual.yaml $V --retries 0 --no-detect-wildcard --source ::1
for c in any4 any6; do packets $c; done
echo 1 > /proc/sys/net/ipv6/ip_nonlocal_bind
echo 1 > /proc/sys/net/ipv4/ip_nonlocal_bind
bg_scan free6 one6.yaml $V --retries 0 --source ::2
bg_scan free4 one4.yaml $V --retries 0 --source 127.0.0.9
join
for c in any4 any6 from9 v6from2; do packets $c; done",
    );
    let p = |c: &str, n: usize| ns.packets(c, n);

    let r = only(&ns, "nonlocal4");
    assert_from(&r, "local-error", Some("127.0.0.9"), "nonlocal4");
    assert_eq!(
        s(&r, "detail"),
        "source 127.0.0.9 is not an address of this machine (bind: EADDRNOTAVAIL): not a verdict; no packet sent"
    );
    assert_eq!(s(&r, "errno"), "EADDRNOTAVAIL", "{r}");
    assert_eq!(
        r["attempts"], 2,
        "a local error is retried (--retries 1): {r}"
    );
    assert_rc(&ns, "nonlocal4", 3);
    let r = only(&ns, "nonlocal6");
    assert_from(&r, "local-error", Some("::2"), "nonlocal6");
    assert!(
        s(&r, "detail")
            .starts_with("source ::2 is not an address of this machine (bind: EADDRNOTAVAIL)"),
        "{r}"
    );
    assert_rc(&ns, "nonlocal6", 3);
    let r = only(&ns, "mismatch");
    assert_from(&r, "local-error", Some("127.0.0.2"), "mismatch");
    assert_eq!(
        s(&r, "detail"),
        "source 127.0.0.2 is IPv4, the target is IPv6: no probe made, not a verdict"
    );
    assert_eq!(r["attempts"], 1, "{r}");
    assert_rc(&ns, "mismatch", 3);

    // Known before the scan: an inventory error at the target, or a usage error.
    assert_rc(&ns, "keymis", 2);
    assert!(ns.stdout("keymis").is_empty(), "{}", ns.context("keymis"));
    assert!(
        ns.stderr("keymis").contains(
            "keymis.yaml:2:5: targets[0]: target's `source` 127.0.0.2 is IPv4, but `host` ::1 is IPv6"
        ),
        "{}",
        ns.context("keymis")
    );
    assert_rc(&ns, "usage", 2);
    assert!(
        ns.stderr("usage")
            .contains("invalid value '127.0.0.2:80' for '--source <ADDR>': bad source"),
        "{}",
        ns.context("usage")
    );
    for c in ["any4", "any6", "from9", "v6from2"] {
        assert_eq!(
            p(c, 0),
            0,
            "{c}: a local error or a refused input sent a SYN"
        );
    }

    // A name's address of the other family: that record alone is a local error.
    assert_rc(&ns, "dual", 3);
    let recs = records(&ns, "dual");
    let mut got: Vec<(String, String, String)> = recs
        .iter()
        .map(|r| {
            let f = |k| s(r, k).to_string();
            (f("addr"), f("source"), f("verdict"))
        })
        .collect();
    got.sort();
    let want = [("127.0.0.1", "::1", "local-error"), ("::1", "::1", "open")];
    assert_eq!(
        got,
        want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())),
        "{}",
        ns.context("dual")
    );
    assert_eq!(
        (p("any4", 1), p("any6", 1)),
        (0, 1),
        "dual: one SYN, over IPv6"
    );

    // ip_nonlocal_bind: bind() takes any address, but still nothing leaves.
    let r = only(&ns, "free6");
    assert_from(&r, "local-error", Some("::2"), "free6");
    assert!(
        s(&r, "detail").contains("net.ipv6.ip_nonlocal_bind = 1 let bind() accept it"),
        "{r}"
    );
    assert_rc(&ns, "free6", 3);
    let r = only(&ns, "free4");
    assert_from(&r, "local-error", Some("127.0.0.9"), "free4");
    assert!(
        s(&r, "detail").starts_with("connect() from source 127.0.0.9 failed immediately"),
        "{r}"
    );
    assert_rc(&ns, "free4", 3);
    assert_eq!(p("v6from2", 1), 0, "a SYN left from ::2");
    assert_eq!(p("from9", 1), 0, "a SYN left from 127.0.0.9");
    assert_eq!(
        (p("any4", 2), p("any6", 2)),
        (0, 1),
        "free4/free6 sent a SYN"
    );
}
