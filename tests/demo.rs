//! The demo: `telltale demo` (its own loopback services on 127.0.0.77, every result as
//! expected), and `telltale scan targets.example.yaml` against the same services started as
//! `telltale lab`, as a user would run it by hand (every record carries the documented fields
//! and every verdict is as the example expects). Both bind the demo's fixed ports, so both
//! take the same file lock.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BIN, DENY_MSG, LAB_FNS, Proc, RECORD_KEYS, SSH_BANNER, read_file, records_in};

#[test]
fn demo_exits_0_with_every_result_as_expected() {
    // The demo binds fixed ports on 127.0.0.77: serialize with any other test run on this machine.
    let mut cmd = Command::new("flock");
    cmd.args([
        "-w",
        "60",
        "/tmp/telltale-demo.lock",
        BIN,
        "demo",
        "--format",
        "ndjson",
    ]);
    let mut p = Proc::spawn_command(cmd, vec!["demo".into(), "--format".into(), "ndjson".into()]);
    let run = p.finish(Duration::from_secs(60));
    run.assert_code(0);
    run.assert_no_panic();
    let recs = run.records();
    assert!(recs.len() >= 7, "{}", run.dump());
    for r in &recs {
        assert_eq!(r["ok"], true, "{r}");
        let a = r["addr"].as_str().unwrap_or("");
        assert!(
            a.starts_with("127.") || a == "::1",
            "demo left loopback: {r}"
        );
    }
}

#[test]
fn example_inventory_against_demo_services() {
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!(
        "set -e\n\
         {LAB_FNS}\n\
         trap 'lab_stop lab || true' EXIT\n\
         lab_start lab --ip 127.0.0.77 --open 17001 --banner 17002 --closed 17003 --closed-msg 17004 \
           --reset 17005 --refused 17006 --filtered 17007 --smtp-reject 17008 --slow-close 17009\n\
         run_to scan \"$TELLTALE\" scan '{root}/targets.example.yaml' --format ndjson --no-progress"
    );
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("flock")
        .args(["/tmp/telltale-demo.lock", "sh", "-c", &script])
        .current_dir(dir.path())
        .env("TELLTALE", BIN)
        .env("LAB_READY_SECS", "5")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = std::fs::read_to_string(dir.path().join("scan.out")).unwrap_or_default();
    let stderr = std::fs::read_to_string(dir.path().join("scan.err")).unwrap_or_default();
    let rc = std::fs::read_to_string(dir.path().join("scan.rc")).unwrap_or_default();
    assert_eq!(
        rc.trim(),
        "0",
        "scan not all as expected:\n{stdout}\n{stderr}\nscript: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records_in(
        &read_file(&dir.path().join("scan.out")),
        "scan of targets.example.yaml",
    );
    assert!(recs.len() >= 10, "{recs:#?}");
    for r in &recs {
        for f in RECORD_KEYS {
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
    assert_eq!(by_port(17002)["banner"], SSH_BANNER);
    assert_eq!(by_port(17003)["verdict"], "closed-by-peer");
    assert_eq!(by_port(17004)["banner"], DENY_MSG);
    assert_eq!(by_port(17005)["verdict"], "reset-by-peer");
    assert_eq!(by_port(17006)["verdict"], "refused");
    assert_eq!(by_port(17007)["verdict"], "filtered");
    // Beyond the handshake: an SMTP 554 greeting, and a silent close 3 s after accept.
    let relay = by_port(17008);
    assert_eq!(relay["verdict"], "rejected", "{relay}");
    assert_eq!(relay["reject_code"], "554", "{relay}");
    assert_eq!(relay["reject_kind"], "access", "{relay}");
    let wrapped = by_port(17009);
    assert_eq!(wrapped["verdict"], "closed-by-peer", "{wrapped}");
    assert_eq!(wrapped["service"], "ssh", "{wrapped}");
    assert!(
        wrapped["closed_after_ms"].as_f64().unwrap() >= 2900.0,
        "{wrapped}"
    );
}
