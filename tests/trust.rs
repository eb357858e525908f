//! Trust properties that need their own network namespace (`unshare -rn`, root in CI):
//! self-connect is never `open`, exactly one connect per expanded probe, and the dependency
//! guard for the YAML parser. Traffic stays inside namespaces these tests create.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_telltale");

/// Run `script` with `sh` inside a fresh user + network namespace with `lo` up.
fn in_netns(script: &str) -> Output {
    let full = format!("set -e\nip link set lo up\nT='{BIN}'\n{script}");
    let out = Command::new("unshare")
        .args(["-rn", "sh", "-c", &full])
        .output()
        .expect("unshare runs");
    if !out.status.success() && out.status.code() != Some(1) && out.status.code() != Some(3) {
        panic!(
            "namespace script failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn records(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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
