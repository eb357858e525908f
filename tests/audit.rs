#![allow(clippy::unwrap_used)]
//! Acceptance tests of issue 3 (audit workflows): positive controls and trust, wildcard
//! detection, `--attempts` flakiness, `--dry-run` and excludes, the before-scan estimate, the
//! drift round trip (`diff`, `scan --baseline`), the Prometheus textfile, completions and man.
//!
//! Every network test runs in its own `unshare -rnmpf` namespace set (user + net + mount + pid):
//! only `lo` exists, so no packet can leave, and `/etc/resolv.conf` is bind-mounted to point at
//! 127.0.0.1 *inside* the namespace, so even a name lookup stays there (and can be counted). Lab
//! services (`telltale lab`) use fixed ports, which is safe because each namespace is private;
//! they die with the namespace's PID 1. Needs root (or unprivileged user namespaces), `nft`,
//! `ip`, `unshare` and `timeout`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{BIN, NS_TERM_60S as NS, Ns};
use serde_json::Value;

// Namespace runs: PID 1 of fresh user + net + mount + pid namespaces, SIGTERM after 60 s
// (SIGKILL 5 s later); labs must be ready within 10 s (`NS_TERM_60S`).

/// Shell functions of this file, on top of tests/lab/lab_fns.sh.
const AUDIT_FNS: &str = r#"
# bg_scan NAME SCAN-ARGS...: `scan` in the background; `join` waits for all of them (a bare
# `wait` would also wait for the labs).
PIDS=""
bg_scan() {
    scan "$@" &
    PIDS="$PIDS $!"
}
join() {
    # shellcheck disable=SC2086
    wait $PIDS
    PIDS=""
}

# packets COUNTER: packets of a named counter of table `inet cnt`, as JSON, into COUNTER.<n>.json
# (n = how many times it was read before).
packets() {
    n=0
    while [ -e "$1.$n.json" ]; do n=$((n + 1)); done
    nft -j list counter inet cnt "$1" > "$1.$n.json"
}
"#;

/// Runs `body` (after the shared prelude and `AUDIT_FNS`) as PID 1 of fresh user, net, mount
/// and pid namespaces. The inventories in `files` are written to the work dir first. Panics
/// when the script fails.
fn netns(files: &[(&str, &str)], body: &str) -> Ns {
    NS.run(files, &format!("{AUDIT_FNS}\n{body}"))
}

fn rec<'a>(recs: &'a [Value], name: &str, port: u64) -> &'a Value {
    recs.iter()
        .find(|r| r["name"] == name && r["port"] == port)
        .unwrap_or_else(|| panic!("no record {name}:{port} in {recs:#?}"))
}

/// Parses a humantime-style duration such as `1m 3s`, `13s`, `1s 500ms`, `1.5s`.
fn parse_duration(s: &str) -> Duration {
    let mut total = 0f64;
    for tok in s.split_whitespace() {
        let split = tok
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or_else(|| panic!("no unit in {tok:?} of {s:?}"));
        let (num, unit) = tok.split_at(split);
        let n: f64 = num
            .parse()
            .unwrap_or_else(|_| panic!("bad number in {s:?}"));
        total += n * match unit {
            "h" => 3600.0,
            "m" | "min" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => panic!("unknown unit {unit:?} in {s:?}"),
        };
    }
    Duration::from_secs_f64(total)
}

/// The before-scan estimate line: (probes, hosts, excluded, worst case).
struct Estimate {
    probes: u64,
    hosts: u64,
    excluded: u64,
    worst: Duration,
    line: String,
}

fn estimate(stderr: &str) -> Estimate {
    let line = stderr
        .lines()
        .find(|l| l.contains(" probe") && l.contains("worst case"))
        .unwrap_or_else(|| panic!("no estimate (probes, worst case) on stderr:\n{stderr}"))
        .to_string();
    // Sum of the numbers written before `word` or its plural ("3 probes to 2 hosts and 1 probe
    // to 1 name (per address; ...)" has two of each).
    let sum_before = |word: &str| -> u64 {
        let mut total = 0;
        for (i, _) in line.match_indices(word) {
            let rest = line[i + word.len()..].trim_start_matches('s');
            if !(rest.starts_with(' ') || rest.starts_with(';')) {
                continue;
            }
            let n = line[..i].rsplit(' ').next().unwrap_or_default();
            if let Ok(n) = n.parse::<u64>() {
                total += n;
            }
        }
        total
    };
    let probes = sum_before(" probe");
    let hosts = sum_before(" host") + sum_before(" name");
    let excluded = if line.contains(" excluded") {
        let i = line.find(" excluded").unwrap();
        line[..i].rsplit('(').next().unwrap().parse().unwrap()
    } else {
        0
    };
    let after = &line[line.find("worst case ").unwrap() + "worst case ".len()..];
    let worst = parse_duration(
        after
            .split('(')
            .next()
            .unwrap()
            .trim()
            .trim_end_matches(';'),
    );
    Estimate {
        probes,
        hosts,
        excluded,
        worst,
        line,
    }
}

/// Rows of a `--dry-run` listing: (name, address or host, port, expect).
fn dry_rows(stdout: &str) -> Vec<(String, String, u64, String)> {
    let mut rows = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = if line.contains('\t') {
            line.split('\t').collect()
        } else {
            line.split_whitespace().collect()
        };
        if cols.first() == Some(&"NAME") {
            continue;
        }
        assert!(cols.len() >= 4, "dry-run row with < 4 columns: {line:?}");
        let port = cols[2]
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("dry-run row without a port: {line:?}"));
        rows.push((
            cols[0].trim().to_string(),
            cols[1].trim().to_string(),
            port,
            cols[3].trim().to_string(),
        ));
    }
    rows
}

// -------------------------------------------------------------------------------------------
// 1. Positive controls
// -------------------------------------------------------------------------------------------

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

// -------------------------------------------------------------------------------------------
// 2. Wildcard hosts
// -------------------------------------------------------------------------------------------

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

// -------------------------------------------------------------------------------------------
// 3. Flakiness
// -------------------------------------------------------------------------------------------

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

// -------------------------------------------------------------------------------------------
// 4./5. Dry run, excludes, estimate
// -------------------------------------------------------------------------------------------

const DRY_INV: &str = "exclude: [127.0.0.3]
defaults: {timeout: 1200ms, linger: 100ms}
targets:
  - {name: web, host: 127.0.0.0/29, ports: [80, 443]}
  - {name: ctl, host: 127.0.0.1, port: 22}
  - {name: db, host: db.internal, port: 5432, expect: blocked}
";

/// The probes of `DRY_INV` after its own `exclude:` and an optional `--exclude 127.0.0.2`.
fn dry_expected(exclude_2: bool) -> BTreeSet<(String, String, u64)> {
    let mut want = BTreeSet::new();
    for port in [80, 443] {
        for last in [1, 2, 4, 5, 6] {
            if last == 2 && exclude_2 {
                continue;
            }
            want.insert(("web".into(), format!("127.0.0.{last}"), port));
        }
    }
    want.insert(("ctl".into(), "127.0.0.1".into(), 22));
    want.insert(("db".into(), "db.internal".into(), 5432));
    want
}

/// `--dry-run` lists every expanded probe (excludes applied), prints the estimate, exits 0 and
/// sends nothing: no SYN and no DNS query leaves (nft counters on the output hook), although the
/// same inventory scanned for real trips both counters. Excludes (`--exclude` and `exclude:`)
/// remove the same probes from the real scan.
#[test]
fn dry_run_sends_nothing_and_excludes_apply() {
    let ns = netns(
        &[("inv.yaml", DRY_INV)],
        "nft -f - <<'NFT'
table inet cnt {
  counter syn {}
  counter dns {}
  chain out {
    type filter hook output priority 0;
    tcp flags & (syn | ack) == syn tcp dport != 53 counter name syn
    udp dport 53 counter name dns
    tcp dport 53 counter name dns
  }
}
NFT
scan dry inv.yaml --dry-run --exclude 127.0.0.2
scan dryall inv.yaml --dry-run
scan dryname inv.yaml --dry-run --exclude db.internal
packets syn; packets dns
scan real inv.yaml --exclude 127.0.0.2 --retries 0 --format ndjson --no-progress
packets syn; packets dns",
    );

    ns.assert_rc("dry", 0);
    ns.assert_rc("dryall", 0);
    ns.assert_rc("dryname", 0);
    assert_eq!(ns.packets("syn", 0), 0, "a dry run sent a SYN");
    assert_eq!(
        ns.packets("dns", 0),
        0,
        "a dry run sent a DNS query (db.internal must not be resolved)"
    );

    let rows = dry_rows(&ns.stdout("dry"));
    let got: BTreeSet<_> = rows
        .iter()
        .map(|(n, a, p, _)| (n.clone(), a.clone(), *p))
        .collect();
    assert_eq!(rows.len(), got.len(), "a probe listed twice:\n{rows:?}");
    assert_eq!(got, dry_expected(true), "{}", ns.show("dry"));
    let db = rows.iter().find(|r| r.0 == "db").unwrap();
    assert!(
        db.3.contains("blocked") || db.3.contains("filtered"),
        "expect column {db:?}"
    );
    assert!(rows.iter().filter(|r| r.0 == "web").all(|r| r.3 == "open"));

    let all: BTreeSet<_> = dry_rows(&ns.stdout("dryall"))
        .into_iter()
        .map(|(n, a, p, _)| (n, a, p))
        .collect();
    assert_eq!(all, dry_expected(false), "{}", ns.show("dryall"));

    let named: BTreeSet<_> = dry_rows(&ns.stdout("dryname"))
        .into_iter()
        .map(|(n, a, p, _)| (n, a, p))
        .collect();
    let mut want = dry_expected(false);
    want.remove(&("db".to_string(), "db.internal".to_string(), 5432));
    assert_eq!(named, want, "--exclude NAME\n{}", ns.show("dryname"));

    let est = estimate(&ns.stderr("dry"));
    assert_eq!(est.probes, 10, "{}", est.line);
    assert_eq!(
        est.excluded, 4,
        "127.0.0.2 and 127.0.0.3 on 2 ports: {}",
        est.line
    );
    assert!(
        !ns.stdout("dry").contains("worst case"),
        "estimate on stdout"
    );

    // The real scan: exactly the dry-run probes, nothing excluded was contacted.
    ns.assert_rc("real", 1);
    let recs = ns.records("real");
    let got: BTreeSet<(String, String, u64)> = recs
        .iter()
        .map(|r| {
            let addr = r["addr"].as_str().or(r["host"].as_str()).unwrap();
            (
                r["name"].as_str().unwrap().to_string(),
                addr.to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(recs.len(), 10, "{}", ns.show("real"));
    assert_eq!(got, dry_expected(true), "{}", ns.show("real"));
    assert_eq!(rec(&recs, "db", 5432)["verdict"], "dns-error");
    assert_eq!(
        ns.packets("syn", 1),
        9,
        "one SYN per address probe, none to 127.0.0.2/127.0.0.3"
    );
    assert!(
        ns.packets("dns", 1) > 0,
        "the real scan resolves db.internal (proves the DNS counter works)"
    );
}

/// The estimate goes to stderr before a real scan too, never into machine output.
#[test]
fn estimate_on_stderr_before_scan() {
    let inv = "defaults: {timeout: 1200ms, linger: 100ms}
targets:
  - {name: web, host: 127.0.0.1, port: 7100}
  - {name: off, host: 127.0.0.1, ports: \"7101-7103\", expect: refused}
";
    let ns = netns(
        &[("inv.yaml", inv)],
        "lab_start lab --ip 127.0.0.1 --open 7100
scan nd inv.yaml --format ndjson --no-progress
scan tab inv.yaml --no-progress",
    );
    ns.assert_rc("nd", 0);
    ns.assert_rc("tab", 0);
    for name in ["nd", "tab"] {
        let est = estimate(&ns.stderr(name));
        assert_eq!(est.probes, 4, "{}", est.line);
        assert_eq!(est.hosts, 1, "{}", est.line);
        assert!(est.worst >= Duration::from_millis(1200), "{}", est.line);
        assert!(!ns.stdout(name).contains("worst case"), "{}", ns.show(name));
    }
    assert_eq!(ns.records("nd").len(), 4);
}

/// "Distinct hosts" counts each address once even when two targets name it (a CIDR and a
/// literal), and does not count excluded addresses.
#[test]
fn estimate_counts_distinct_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv.yaml");
    std::fs::write(
        &inv,
        "targets:
  - {name: net, host: 127.0.0.0/30, port: 80}
  - {name: one, host: 127.0.0.1, port: 22}
",
    )
    .unwrap();
    let out = dry_run(&inv, &[]);
    let est = estimate(&out);
    assert_eq!(est.probes, 3, "{}", est.line);
    assert_eq!(
        est.hosts, 2,
        "127.0.0.1 and 127.0.0.2 are 2 distinct hosts: {}",
        est.line
    );
    let out = dry_run(&inv, &["--exclude", "127.0.0.2"]);
    let est = estimate(&out);
    assert_eq!(est.probes, 2, "{}", est.line);
    assert_eq!(est.hosts, 1, "only 127.0.0.1 is left: {}", est.line);
}

/// `telltale scan INV --dry-run ARGS` on loopback-only inventories: sends nothing. Returns stderr.
fn dry_run(inv: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("scan")
        .arg(inv)
        .arg("--dry-run")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// The worst case is an upper bound: a scan in which every probe times out (nft drops
/// everything to 127.0.0.5) never takes longer than the estimate printed before it. Covers a
/// sub-second remainder (1.2 s timeout) and the rate limit (8 probes at 4/s: the last connect
/// starts after 1.75 s and then waits its timeout).
#[test]
fn worst_case_estimate_bounds_an_all_filtered_scan() {
    let inv = "defaults: {timeout: 1200ms, linger: 300ms}
targets:
  - {name: dropped, host: 127.0.0.5, ports: \"7001-7002\", expect: filtered}
";
    let inv_rate = "defaults: {timeout: 1200ms, linger: 300ms}
targets:
  - {name: dropped, host: 127.0.0.5, ports: \"7001-7008\", expect: filtered}
";
    let ns = netns(
        &[("inv.yaml", inv), ("rate.yaml", inv_rate)],
        "nft add table inet f
nft add chain inet f in '{ type filter hook input priority 0; }'
nft add rule inet f in ip daddr 127.0.0.5 tcp dport 7001-7008 drop
bg_scan plain inv.yaml --retries 0 --format json --no-progress
bg_scan rate rate.yaml --retries 0 --rate 4 --format json --no-progress
join",
    );
    let mut over = Vec::new();
    for name in ["plain", "rate"] {
        ns.assert_rc(name, 0);
        let est = estimate(&ns.stderr(name));
        let doc: Value = serde_json::from_str(&ns.stdout(name)).unwrap();
        let elapsed =
            Duration::from_secs_f64(doc["summary"]["elapsed_ms"].as_f64().unwrap() / 1000.0);
        assert!(
            doc["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["verdict"] == "filtered"),
            "{doc}"
        );
        if elapsed > est.worst {
            over.push(format!(
                "`{name}`: the scan took {elapsed:?}, more than the worst case printed before it: {}",
                est.line
            ));
        }
    }
    assert!(over.is_empty(), "{}", over.join("\n"));
}

// -------------------------------------------------------------------------------------------
// 6. Drift round trip
// -------------------------------------------------------------------------------------------

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

// -------------------------------------------------------------------------------------------
// 7. Prometheus textfile
// -------------------------------------------------------------------------------------------

/// `--format prometheus -o FILE` writes an exposition-format file (atomically: nothing else is
/// left in its directory) with per-probe and per-run series and HELP/TYPE lines.
#[test]
fn prometheus_textfile_end_to_end() {
    let inv = "defaults: {timeout: 1200ms, linger: 200ms}
targets:
  - {name: web, host: 127.0.0.1, port: 7100}
  - {name: deny, host: 127.0.0.1, port: 7101, expect: refused}
  - {name: broken, host: 127.0.0.1, port: 7102}
";
    let ns = netns(
        &[("inv.yaml", inv)],
        "lab_start lab --ip 127.0.0.1 --open 7100
mkdir textfile
scan prom inv.yaml --format prometheus -o textfile/telltale.prom --no-progress --vantage lab",
    );
    ns.assert_rc("prom", 1);
    assert_eq!(
        ns.stdout("prom"),
        "",
        "with -o nothing goes to stdout\n{}",
        ns.show("prom")
    );
    let entries: Vec<String> = std::fs::read_dir(ns.path("textfile"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        entries,
        vec!["telltale.prom".to_string()],
        "no temp file left"
    );
    let text = ns.read("textfile/telltale.prom");
    assert!(text.ends_with('\n'), "{text}");

    let ok: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("telltale_probe_ok{"))
        .collect();
    assert_eq!(ok.len(), 3, "one series per probe:\n{text}");
    let line = |needle: &str| {
        *ok.iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no probe_ok with {needle}:\n{text}"))
    };
    assert!(line("name=\"web\"").ends_with(" 1"), "{text}");
    assert!(line("name=\"deny\"").ends_with(" 1"), "{text}");
    assert!(line("name=\"broken\"").ends_with(" 0"), "{text}");
    assert!(line("name=\"web\"").contains("vantage=\"lab\""), "{text}");
    assert!(line("name=\"web\"").contains("port=\"7100\""), "{text}");

    assert!(
        text.lines().any(|l| l.starts_with("telltale_scan_probes{")
            && l.contains("verdict=\"refused\"")
            && l.ends_with(" 2")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("telltale_scan_mismatches") && l.ends_with(" 1")),
        "{text}"
    );
    for family in [
        "telltale_probe_ok",
        "telltale_probe_connect_seconds",
        "telltale_scan_probes",
        "telltale_scan_duration_seconds",
        "telltale_scan_mismatches",
        "telltale_scan_timestamp_seconds",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {family} "))),
            "no HELP for {family}:\n{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# TYPE {family} "))),
            "no TYPE for {family}:\n{text}"
        );
    }
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let value = l.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample value in {l:?}");
    }
}

/// node_exporter's textfile collector runs as its own user: an `-o` file must get the usual
/// mode for the umask (0644 under umask 022), not the 0600 of a private temp file, or the
/// metrics silently vanish from the scrape.
#[test]
fn output_file_mode_follows_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv.yaml");
    // Port 1 on loopback (nothing listens there: refused at once); any answer is accepted.
    std::fs::write(
        &inv,
        "targets:\n  - {host: 127.0.0.1, port: 1, expect: [refused, open, closed-by-peer, reset-by-peer]}\n",
    )
    .unwrap();
    let mut modes = Vec::new();
    for (format, file) in [("prometheus", "telltale.prom"), ("ndjson", "report.ndjson")] {
        let out = Command::new("sh")
            .arg("-c")
            .arg("umask 022; exec \"$0\" \"$@\"")
            .arg(BIN)
            .args([
                "scan",
                inv.to_str().unwrap(),
                "--no-progress",
                "--retries",
                "0",
            ])
            .args(["--no-detect-wildcard", "--format", format, "-o"])
            .arg(dir.path().join(file))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        modes.push((file, mode));
    }
    assert!(
        modes.iter().all(|(_, m)| *m == 0o644),
        "-o file modes under umask 022: {:?}",
        modes
            .iter()
            .map(|(f, m)| format!("{f} {m:o}"))
            .collect::<Vec<_>>()
    );
}

// -------------------------------------------------------------------------------------------
// 8. Completions and man
// -------------------------------------------------------------------------------------------

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.len() > 100, "{shell}: {text}");
        assert!(text.contains("scan"), "{shell} completion lacks `scan`");
        assert!(
            text.contains("dry-run"),
            "{shell} completion lacks `--dry-run`"
        );
    }
    let out = Command::new(BIN)
        .arg("completions")
        .arg("tcsh")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "unknown shell: {out:?}");

    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let roff = String::from_utf8_lossy(&out.stdout);
    assert!(
        roff.starts_with(".TH") || roff.starts_with(".ie"),
        "not roff: {}",
        &roff[..roff.len().min(200)]
    );
    assert!(
        roff.contains(".TH telltale") || roff.contains(".TH TELLTALE"),
        "{roff}"
    );
    assert!(roff.contains("scan"), "the man page mentions scan");
}
