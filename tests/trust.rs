//! Trust properties that need their own network namespace (`unshare -rn`, root in CI):
//! self-connect is never `open`, exactly one connect per expanded probe, and the dependency
//! guard for the YAML parser. Traffic stays inside namespaces these tests create.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};

use common::{BIN, records_among, show_output};

/// Run `script` with `sh` inside a fresh user + network namespace with `lo` up.
fn in_netns(script: &str) -> Output {
    in_namespaces("-rn", script)
}

/// As [`in_netns`], with a private mount namespace too (`unshare -rnm`), for bind-mounted
/// /etc/hosts and /etc/resolv.conf.
fn in_netns_mnt(script: &str) -> Output {
    in_namespaces("-rnm", script)
}

fn in_namespaces(flags: &str, script: &str) -> Output {
    let full = format!("set -e\nip link set lo up\nT='{BIN}'\n{script}");
    let out = Command::new("unshare")
        .args([flags, "sh", "-c", &full])
        .output()
        .expect("unshare runs");
    if !out.status.success() && out.status.code() != Some(1) && out.status.code() != Some(3) {
        panic!("namespace script failed: {}", show_output(&out));
    }
    out
}

/// The NDJSON records among the script's other stdout lines.
fn records(out: &Output) -> Vec<serde_json::Value> {
    records_among(&out.stdout)
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
    let recs = records(&out);
    assert_eq!(recs.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(recs[0]["verdict"], "local-error", "{}", recs[0]);
    assert!(
        recs[0]["detail"].as_str().unwrap().contains("self-connect"),
        "{}",
        recs[0]
    );
    assert_eq!(recs[0]["attempts"], 2, "self-connect is retried");
}

/// Checklist 1: every (address, port) of the inventory yields exactly one record and exactly one
/// SYN leaves (counted by nft on the output hook); nothing outside the inventory is probed.
#[test]
fn one_syn_per_expanded_probe() {
    let out = in_netns(
        "nft add table inet t\n\
         nft add chain inet t out '{ type filter hook output priority 0; }'\n\
         nft add rule inet t out 'tcp flags & (syn | ack) == syn counter'\n\
         printf 'targets:\\n  - {host: 127.0.0.0/29, ports: \"1001-1005\"}\\n  - {host: 127.0.1.9, ports: [1001, 1003]}\\n' > /tmp/inv.$$.yaml\n\
         \"$T\" scan /tmp/inv.$$.yaml --format ndjson --no-progress --retries 0 || true\n\
         rm -f /tmp/inv.$$.yaml\n\
         echo \"SYNS $(nft list ruleset | sed -n 's/.*counter packets \\([0-9]*\\).*/\\1/p')\"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let recs = records(&out);
    // /29 → 6 usable addresses × 5 ports, plus 2.
    assert_eq!(recs.len(), 32, "{stdout}");
    assert!(recs.iter().all(|r| r["verdict"] == "refused"), "{stdout}");
    let syns: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SYNS "))
        .and_then(|n| n.trim().parse().ok())
        .expect("counter read");
    assert_eq!(syns, 32, "one SYN per probe");
    let mut seen: Vec<(String, u64)> = recs
        .iter()
        .map(|r| {
            (
                r["addr"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 32, "no duplicates");
    assert!(
        !seen
            .iter()
            .any(|(a, _)| a == "127.0.0.0" || a == "127.0.0.7"),
        "network/broadcast skipped"
    );
}

/// Checklist 24: the YAML parser is serde_yaml, never the unsound serde_yml/libyml forks.
#[test]
fn lockfile_has_no_unsound_yaml_fork() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"serde_yaml\""));
    assert!(!lock.contains("name = \"serde_yml\""));
    assert!(!lock.contains("name = \"libyml\""));
}

/// Checklist 14: a hung resolver cannot delay the exit after an interrupt by more than 2 s.
/// Inside the namespace the resolver is 127.0.0.1, and nft drops every DNS packet, so
/// getaddrinfo waits out its own timeouts (5 s × 2 attempts): the input hook drops the queries
/// (an output-hook drop would fail the send at once). No packet leaves the namespace.
#[test]
fn hung_resolver_does_not_delay_interrupt() {
    let out = in_netns_mnt(
        "dir=$(mktemp -d)\n\
         printf 'nameserver 127.0.0.1\\noptions timeout:5 attempts:2\\n' > $dir/resolv.conf\n\
         printf '127.0.0.1 localhost\\n' > $dir/hosts\n\
         mount --bind $dir/resolv.conf /etc/resolv.conf\n\
         mount --bind $dir/hosts /etc/hosts\n\
         nft add table inet t\n\
         nft add chain inet t in '{ type filter hook input priority 0; }'\n\
         nft add rule inet t in udp dport 53 drop\n\
         nft add rule inet t in tcp dport 53 drop\n\
         printf 'targets:\\n  - {host: hung.telltale.test, port: 80}\\n  - {host: also-hung.telltale.test, port: 81}\\n' > $dir/inv.yaml\n\
         \"$T\" scan $dir/inv.yaml --format ndjson --no-progress > $dir/out 2>$dir/err &\n\
         pid=$!\n\
         sleep 1\n\
         start=$(date +%s%N)\n\
         kill -INT $pid\n\
         rc=0; wait $pid || rc=$?\n\
         end=$(date +%s%N)\n\
         echo \"RC $rc\"\n\
         echo \"MS $(( (end - start) / 1000000 ))\"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
            .expect(k)
    };
    assert_eq!(field("RC "), 3, "interrupted run exits 3: {stdout}");
    let ms = field("MS ");
    assert!(
        ms < 2000,
        "exit took {ms} ms after SIGINT with a hung resolver"
    );
}

/// Issue 9 (8d): names do not block addresses. With the resolver black-holed, a name listed
/// first hangs in getaddrinfo for seconds; the address targets after it are probed at once.
#[test]
fn ip_targets_do_not_wait_behind_a_hung_lookup() {
    let out = in_netns_mnt(
        "dir=$(mktemp -d)\n\
         printf 'nameserver 127.0.0.1\\noptions timeout:5 attempts:2\\n' > $dir/resolv.conf\n\
         printf '127.0.0.1 localhost\\n' > $dir/hosts\n\
         mount --bind $dir/resolv.conf /etc/resolv.conf\n\
         mount --bind $dir/hosts /etc/hosts\n\
         nft add table inet t\n\
         nft add chain inet t in '{ type filter hook input priority 0; }'\n\
         nft add rule inet t in udp dport 53 drop\n\
         nft add rule inet t in tcp dport 53 drop\n\
         printf 'targets:\\n  - {host: hung.telltale.test, port: 80}\\n  - {name: by-ip, host: 127.0.0.1, ports: \"9,10\", expect: refused}\\n' > $dir/inv.yaml\n\
         \"$T\" scan $dir/inv.yaml --format ndjson --no-progress > $dir/out 2>$dir/err &\n\
         pid=$!\n\
         sleep 1.5\n\
         echo \"BYIP $(grep -c '\"by-ip\"' $dir/out)\"\n\
         kill -INT $pid\n\
         rc=0; wait $pid || rc=$?\n\
         echo \"RC $rc\"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("BYIP 2"),
        "both address probes reported within 1.5 s while the name hangs: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("RC 3"), "interrupted run exits 3: {stdout}");
}

/// Checklist 12: every probe's fd is closed — after thousands of probes (refused, filtered,
/// open with linger, timeouts dropped mid-way), the process holds as many fds as before.
#[test]
fn no_fd_leak_after_many_probes() {
    use telltale::config::ScanConfig;
    use telltale::inventory::{Inventory, Overrides};
    use telltale::lab::{self, Behaviour};
    use telltale::pool::Limits;
    use telltale::report::Format;

    let count = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ip = "127.0.0.1".parse().unwrap();
        let lab = lab::start(ip, &[(Behaviour::Open, 0), (Behaviour::Closed, 0), (Behaviour::Filtered, 0)]).unwrap();
        let ports: Vec<String> = lab.services.iter().map(|(_, a)| a.port().to_string()).collect();
        let dir = tempfile::tempdir().unwrap();
        let before = count();
        for round in 0..2 {
            let yaml = format!(
                "defaults: {{timeout: 300ms, linger: 50ms}}\ntargets:\n  - {{host: 127.0.0.1, ports: \"{}\"}}\n  - {{host: 127.0.0.0/28, ports: \"2000-2400\"}}\n",
                ports.join(",")
            );
            let mut inv = Inventory::default();
            inv.add_text("leak.yaml", &yaml, Overrides::default()).unwrap();
            let cfg = ScanConfig {
                limits: Limits { concurrency: 512, per_host: 512, retries: 1, ..Limits::default() },
                format: Format::Ndjson,
                output: Some(dir.path().join(format!("out{round}.ndjson"))),
                progress: false,
                wildcard_port: None,
                ..ScanConfig::default()
            };
            let (_t, stop) = telltale::shutdown::channel();
            telltale::scan::run(inv, &cfg, stop).await;
            let lines = std::fs::read_to_string(dir.path().join(format!("out{round}.ndjson"))).unwrap();
            assert_eq!(lines.lines().count(), 3 + 14 * 401);
        }
        // Give the runtime a moment to drop finished tasks' sockets.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let after = count();
        assert!(after <= before, "fds before {before}, after {after}");
        drop(lab);
    });
}
