//! No free ephemeral port is a local failure, never a remote verdict (checklist 3): in a
//! namespace whose ephemeral range is two ports, four probes to one dropped address:port can
//! hold at most two source ports; the others get EADDRNOTAVAIL from connect() itself.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_telltale");

#[test]
fn ephemeral_port_exhaustion_is_local_error() {
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
    let local: Vec<_> = recs
        .iter()
        .filter(|r| r["verdict"] == "local-error")
        .collect();
    for r in &recs {
        let v = r["verdict"].as_str().unwrap();
        assert!(
            v == "filtered" || v == "local-error",
            "only the truth or a local error: {r}"
        );
    }
    assert!(
        !local.is_empty(),
        "two source ports cannot carry four probes: {stdout}"
    );
    assert!(recs.len() - local.len() <= 2, "{stdout}");
    for r in &local {
        assert_eq!(r["errno"], "EADDRNOTAVAIL", "{r}");
        assert!(r["detail"].as_str().unwrap().contains("local"), "{r}");
        assert_eq!(r["attempts"], 2, "local errors are retried: {r}");
    }
    assert!(
        stdout.lines().any(|l| l == "RC 3"),
        "local errors make the run incomplete: {stdout}"
    );
}
