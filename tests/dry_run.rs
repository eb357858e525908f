//! Before the scan: `--dry-run` lists every expanded probe and sends nothing (no SYN, no DNS
//! query); `exclude:` and `--exclude` (addresses and names) remove the same probes from the
//! listing and the real scan; the estimate (probes, distinct hosts, excluded, worst case) goes
//! to stderr and the worst case bounds a scan in which every probe times out.
//!
//! Each test runs in its own `unshare -rnmpf` namespace set (user + net + mount + pid): only
//! `lo` exists, so no packet can leave, and `/etc/resolv.conf` points at 127.0.0.1 inside it.
//! Lab services use fixed ports (each namespace is private) and die with the namespace's PID 1.
//! Needs `nft`, `ip`, `unshare` and `timeout`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{BIN, ns_with_jobs as netns, record_at as rec};
use serde_json::Value;

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

// ---------------------------------------------------------------------------------------------
// Dry run and excludes
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The estimate
// ---------------------------------------------------------------------------------------------

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
