//! Local failures are `local-error`, never a remote verdict: broadcast and multicast targets
//! (connect() fails synchronously, checklist 5), CIDR edges skipped, file-descriptor exhaustion
//! at every point of a sweep (checklist 3), no free ephemeral port, and a self-connect.
//!
//! Namespace tests build their own world with `unshare` (user + net [+ mount + pid]): only `lo`
//! exists, nft rules produce the kernel answers, and a private `/etc/hosts` + `/etc/resolv.conf`
//! keep every name lookup inside (checklist 23). They need `unshare`/`prlimit` (util-linux),
//! `ip` (iproute2), `nft` (nftables) and `bash`, and fail loudly, never skip, without them.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use common::kernel::*;
use common::{BIN, Ns, in_netns, records_among, str_or_null as s};

// ---------------------------------------------------------------------------------------------
// Synchronous local connect failures and CIDR edges (checklist 5)
// ---------------------------------------------------------------------------------------------

#[test]
fn broadcast_multicast_never_remote_and_cidr_skips_edges() {
    let cases = [
        ("bcast", "127.255.255.255"),
        ("mcast", "224.0.0.1"),
        ("mcast6", "ff02::1"),
    ];
    let mut files: Vec<(&str, String)> = Vec::new();
    let mut body = String::new();
    let inv_names = ["bcast.yaml", "mcast.yaml", "mcast6.yaml"];
    for ((scan, host), file) in cases.iter().zip(inv_names) {
        files.push((file, inventory(&[target(None, host, "80", "open")])));
        writeln!(
            body,
            "scan {scan} {file} --format ndjson --no-progress --timeout 2s --linger 0 --retries 0"
        )
        .unwrap();
    }
    files.push((
        "cidr.yaml",
        inventory(&[target(None, "127.0.0.0/30", "1001", "refused")]),
    ));
    body.push_str(
        "scan cidr cidr.yaml --format ndjson --no-progress --timeout 2s --linger 0 --retries 0\n",
    );
    let run = ns_run(&files, &body);

    for (scan, host) in cases {
        let rc = run.rc(scan);
        let recs = records(&run, scan);
        match rc {
            2 => {
                assert!(
                    recs.is_empty(),
                    "{scan}: exit 2 (inventory error) but records printed\n{}",
                    run.context(scan)
                );
                assert!(
                    !run.stderr(scan).trim().is_empty(),
                    "{scan}: exit 2 without an error message\n{}",
                    run.context(scan)
                );
            }
            3 => {
                assert_eq!(recs.len(), 1, "{}", run.context(scan));
                let r = &recs[0];
                assert_eq!(s(r, "addr"), host, "{r}");
                assert_eq!(
                    s(r, "verdict"),
                    "local-error",
                    "{scan}: connect() to {host} fails synchronously (ENETUNREACH, no packet): \
                     must be local-error, not a remote verdict\n{}",
                    run.context(scan)
                );
                assert!(
                    s(r, "detail").to_lowercase().contains("local"),
                    "{scan}: a synchronous connect() failure must say it is local (checklist 5): {r}"
                );
            }
            _ => panic!(
                "{scan}: target {host} must give exit 2 (refused by validation) or exit 3 \
                 (local-error), got {rc}\n{}",
                run.context(scan)
            ),
        }
    }

    check_records(
        &run,
        "cidr",
        &[
            want("127.0.0.1", 1001, "refused").errno("ECONNREFUSED"),
            want("127.0.0.2", 1001, "refused").errno("ECONNREFUSED"),
        ],
    );
    assert_rc(&run, "cidr", 0);
}

// ---------------------------------------------------------------------------------------------
// fd exhaustion is local-error, never a false network verdict (checklist 3)
// ---------------------------------------------------------------------------------------------

/// Names n01..n20 all resolve (hosts file) to 127.0.0.1.
fn fd_names() -> Vec<String> {
    (1..=20).map(|i| format!("n{i:02}")).collect()
}

/// Problems with one scan run under a tiny fd budget. Accepted outcomes:
/// - nothing scanned: exit 2 or 3, no records, a message on stderr, no panic;
/// - scanned: 300 records, each `local-error` or its true verdict (never a
///   false refused/filtered, never `dns-error` for a hosts-file name), and
///   exit 3 iff some record is `local-error` (0 otherwise: expect covers both truths).
fn fd_scan_problems(run: &Ns, scan: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let rc = run.rc(scan);
    let err = run.stderr(scan);
    if err.contains("panicked") || rc == 101 {
        let first: String = err.lines().take(3).collect::<Vec<_>>().join(" | ");
        problems.push(format!(
            "{scan}: panic under fd exhaustion (exit {rc}): {first}"
        ));
        return problems;
    }
    let recs = records(run, scan);
    if recs.is_empty() && (rc == 2 || rc == 3) {
        if err.trim().is_empty() {
            problems.push(format!("{scan}: exit {rc}, nothing scanned, no message"));
        }
        return problems;
    }
    let mut local = 0;
    let mut bad: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for r in &recs {
        let p = port(r);
        let truth = if (1000..=1149).contains(&p) {
            "open"
        } else {
            "refused"
        };
        match s(r, "verdict") {
            "local-error" => local += 1,
            v if v == truth => {}
            v => {
                let e = bad
                    .entry(format!("want {truth} or local-error, got {v}"))
                    .or_insert((0, s(r, "detail").to_string()));
                e.0 += 1;
            }
        }
    }
    for (what, (n, detail)) in bad {
        problems.push(format!("{scan}: {n} x {what} (e.g. {detail:?})"));
    }
    if recs.len() != 300 {
        problems.push(format!("{scan}: {} records, want 300", recs.len()));
    }
    let want_rc = if local > 0 { 3 } else { 0 };
    if rc != want_rc {
        problems.push(format!(
            "{scan}: exit {rc} with {local} local-error record(s), want {want_rc}"
        ));
    }
    problems
}

/// Run 300-probe scans (by address, and by 20 hosts-file names) under
/// `RLIMIT_NOFILE` 40 while `hold_fds.sh` keeps 0..=36 of those fds busy, so every
/// point from "plenty" through "EMFILE on socket()/getaddrinfo()" to "cannot
/// start" is crossed whatever the binary's own fd overhead is.
#[test]
fn fd_exhaustion_gives_local_error_not_false_verdicts() {
    const HOLDS: std::ops::RangeInclusive<u32> = 0..=36;
    let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n");
    for n in fd_names() {
        writeln!(hosts, "127.0.0.1 {n}").unwrap();
    }
    // 300 probes by address: 150 open, 150 refused (nothing listens).
    let by_ip = inventory(&[target(
        None,
        "127.0.0.1",
        "1000-1149,2000-2149",
        "[open, refused]",
    )]);
    // 300 probes by name: 20 names x 15 ports, resolved under the same fd limit.
    let by_name = inventory(
        &fd_names()
            .iter()
            .map(|n| {
                target(
                    Some(n.as_str()),
                    n,
                    "1000-1009,2000-2004",
                    "[open, refused]",
                )
            })
            .collect::<Vec<_>>(),
    );
    let mut body = String::from(
        "lab_start svc --ip 127.0.0.1 --open 1000-1149\n\
         flags='--format ndjson --no-progress -c 1024 --timeout 2s --linger 0 --retries 0'\n",
    );
    for h in HOLDS {
        for inv in ["ip", "names"] {
            writeln!(
                body,
                "run_to {inv}{h} timeout -s KILL 20 prlimit --nofile=40:40 \
                 bash hold_fds.sh {h} \"$TELLTALE\" scan {inv}.yaml $flags"
            )
            .unwrap();
        }
    }
    let run = ns_run(
        &[
            ("hosts", hosts),
            ("ip.yaml", by_ip),
            ("names.yaml", by_name),
        ],
        &body,
    );

    let mut problems = Vec::new();
    let mut local_seen = 0;
    let mut refused_to_start = 0;
    for h in HOLDS {
        for inv in ["ip", "names"] {
            let scan = format!("{inv}{h}");
            problems.extend(fd_scan_problems(&run, &scan));
            local_seen += records(&run, &scan)
                .iter()
                .filter(|r| s(r, "verdict") == "local-error")
                .count();
            if run.stderr(&scan).contains("too few free file descriptors") {
                refused_to_start += 1;
            }
        }
    }
    // -c 1024 cannot fit in 40 fds: INTERFACE says the clamp is noted on stderr.
    let err = run.stderr("ip0").to_lowercase();
    if !(err.contains("concurrency") || err.contains("clamp")) {
        problems.push(format!(
            "ip0: -c 1024 under a 40-fd limit gave no clamp note on stderr: {err:?}"
        ));
    }
    assert!(
        problems.is_empty(),
        "fd exhaustion: {} problem(s):\n  {}\n--- ip0 stderr (no fds held):\n{}",
        problems.len(),
        problems.join("\n  "),
        run.stderr("ip0").trim()
    );
    // The sweep must actually have reached exhaustion somewhere, or it tested nothing: either
    // a probe or lookup hit EMFILE (local-error), or the tool refused to start cleanly (exit 3,
    // checked by fd_scan_problems) because too few fds were left to run at all.
    assert!(
        local_seen > 0 || refused_to_start > 0,
        "no hold value reached fd exhaustion: the sweep tested nothing"
    );
    assert!(
        refused_to_start < HOLDS.count() * 2,
        "every run refused to start: the sweep never scanned"
    );
}

// ---------------------------------------------------------------------------------------------
// No free ephemeral port; self-connect (checklist 3, 9)
// ---------------------------------------------------------------------------------------------

#[test]
fn probes_to_one_address_port_take_turns_so_two_source_ports_suffice() {
    let script = format!(
        "set -e\n\
         ip link set lo up\n\
         sysctl -w net.ipv4.ip_local_port_range='40000 40001' >/dev/null\n\
         nft add table inet t\n\
         nft add chain inet t in '{{ type filter hook input priority 0; }}'\n\
         nft add rule inet t in tcp dport 5000 drop\n\
         dir=$(mktemp -d)\n\
         for n in a b c d; do printf '  - {{name: %s, host: 127.0.0.1, port: 5000, expect: filtered}}\\n' $n; done > $dir/t\n\
         (echo 'targets:'; cat $dir/t) > $dir/inv.yaml\n\
         rc=0\n\
         '{BIN}' scan $dir/inv.yaml --timeout 1500ms --format ndjson --no-progress --no-detect-wildcard || rc=$?\n\
         echo \"RC $rc\""
    );
    let out = Command::new("unshare")
        .args(["-rn", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 4, "{stdout}");
    // Four records share one address:port, so the pool probes them one at a time (never two
    // in flight to one address:port): two source ports carry them all, and no probe fails
    // locally. (Before the per-address:port gate, two of the four got EADDRNOTAVAIL.)
    for r in &recs {
        assert_eq!(
            r["verdict"], "filtered",
            "one at a time, each gets the truth: {r}"
        );
        assert_eq!(r["attempts"], 2, "{r}");
    }
    assert!(stdout.lines().any(|l| l == "RC 0"), "{stdout}");
}

/// Checklist 3: with the ephemeral range narrowed to two ports and both held by established
/// connections to 127.0.0.1:5000, `connect()` to that address:port has no source port left and
/// fails with EADDRNOTAVAIL before any packet leaves: `local-error`, retried, exit 3, and never
/// a remote verdict (the listener is there: the truth on the wire would be `open`). Another
/// port of the same address still gets a source port (other 4-tuple) and its true verdict.
#[test]
fn no_free_source_port_is_local_error_eaddrnotavail() {
    let inv = inventory(&[
        target(Some("held"), "127.0.0.1", "5000", "open"),
        target(Some("free"), "127.0.0.1", "5001", "open"),
    ]);
    let body = "sysctl -w net.ipv4.ip_local_port_range='40000 40001' >/dev/null\n\
         lab_start svc --ip 127.0.0.1 --open 5000,5001\n\
         # Two established connections to 127.0.0.1:5000, one from each source port.\n\
         bash -c 'exec 3<>/dev/tcp/127.0.0.1/5000 4<>/dev/tcp/127.0.0.1/5000 && : > held && exec sleep 60' &\n\
         i=0; while [ ! -e held ]; do i=$((i + 1)); [ $i -lt 200 ] || exit 95; sleep 0.05; done\n\
         run_to ss ss -Htn state established dst 127.0.0.1:5000\n\
         # A real client gets the same answer from the kernel.\n\
         run_to client bash -c 'exec 5<>/dev/tcp/127.0.0.1/5000'\n\
         scan ports inv.yaml --format ndjson --no-progress --timeout 2s --linger 0 --no-detect-wildcard\n";
    let run = ns_run(&[("inv.yaml", inv)], body);

    let ss = run.stdout("ss");
    for p in ["127.0.0.1:40000", "127.0.0.1:40001"] {
        assert!(
            ss.contains(p),
            "both source ports must be held toward 127.0.0.1:5000 ({p}):\n{ss}"
        );
    }
    assert!(
        run.stderr("client")
            .contains("Cannot assign requested address"),
        "a real client must get EADDRNOTAVAIL too:\n{}",
        run.show("client")
    );
    check_records(
        &run,
        "ports",
        &[
            want("127.0.0.1", 5000, "local-error")
                .errno("EADDRNOTAVAIL")
                .attempts(2),
            want("127.0.0.1", 5001, "open"),
        ],
    );
    let recs = records(&run, "ports");
    let held = recs.iter().find(|r| port(r) == 5000).unwrap();
    let detail = s(held, "detail");
    assert!(
        detail.contains("EADDRNOTAVAIL")
            && detail.contains("local")
            && detail.contains("no packet"),
        "the detail must say the failure is local: {held}"
    );
    assert_eq!(held["ok"], false, "{held}");
    assert_rc(&run, "ports", 3);
}

/// Checklist 9: with the ephemeral range squeezed to the one port we probe, the kernel must
/// pick that port as our source port, and the connect meets itself (TCP simultaneous open).
/// The probe must say `local-error` (self-connect), never `open`.
#[test]
fn self_connect_is_never_open() {
    let out = in_netns(
        "sysctl -w net.ipv4.ip_local_port_range='40000 40000' >/dev/null\n\
         \"$T\" probe 127.0.0.1 40000 --retries 1 --format ndjson --no-progress || true",
    );
    let recs = records_among(&out.stdout);
    assert_eq!(recs.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(recs[0]["verdict"], "local-error", "{}", recs[0]);
    assert!(
        recs[0]["detail"].as_str().unwrap().contains("self-connect"),
        "{}",
        recs[0]
    );
    assert_eq!(recs[0]["attempts"], 2, "self-connect is retried");
}
