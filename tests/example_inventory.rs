//! `telltale scan targets.example.yaml --format ndjson` against the demo's services (started as
//! `telltale lab` on the same fixed loopback ports), as a user would run it by hand: every record
//! carries the documented fields and every verdict is as the example expects. The fixed ports
//! are shared with the demo test, so both take the same file lock.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_telltale");

#[test]
fn example_inventory_against_demo_services() {
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!(
        "set -e\n\
         '{BIN}' lab --ip 127.0.0.77 --open 17001 --banner 17002 --closed 17003 --closed-msg 17004 \
           --reset 17005 --refused 17006 --filtered 17007 > lab.out &\n\
         lab=$!\n\
         trap 'kill $lab' EXIT\n\
         for i in $(seq 50); do grep -q ready lab.out 2>/dev/null && break; sleep 0.1; done\n\
         rc=0\n\
         '{BIN}' scan '{root}/targets.example.yaml' --format ndjson --no-progress || rc=$?\n\
         echo \"RC $rc\""
    );
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("flock")
        .args(["/tmp/telltale-demo.lock", "sh", "-c", &script])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let lines: Vec<String> = BufReader::new(&out.stdout[..])
        .lines()
        .map(Result::unwrap)
        .collect();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        lines.iter().any(|l| l == "RC 0"),
        "scan not all as expected:\n{lines:#?}\n{stderr}"
    );
    let recs: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(recs.len() >= 8, "{recs:#?}");
    for r in &recs {
        for f in [
            "name",
            "host",
            "addr",
            "port",
            "verdict",
            "expect",
            "ok",
            "connect_ms",
            "closed_after_ms",
            "banner",
            "detail",
            "attempts",
        ] {
            assert!(r.get(f).is_some(), "field {f} missing in {r}");
        }
        assert_eq!(r["ok"], true, "{r}");
    }
    let by_port = |p: u64| {
        recs.iter()
            .find(|r| r["port"] == p && r["addr"] == "127.0.0.77")
            .unwrap()
    };
    assert_eq!(by_port(17001)["verdict"], "open");
    assert_eq!(by_port(17002)["banner"], "SSH-2.0-telltale-lab\\r\\n");
    assert_eq!(by_port(17003)["verdict"], "closed-by-peer");
    assert_eq!(
        by_port(17004)["banner"],
        "Host is not allowed to connect\\r\\n"
    );
    assert_eq!(by_port(17005)["verdict"], "reset-by-peer");
    assert_eq!(by_port(17006)["verdict"], "refused");
    assert_eq!(by_port(17007)["verdict"], "filtered");
}
