//! `examples/systemd`: the service and timer parse as unit files with the required keys, agree
//! with each other and with `nightly-sweep.sh` (and pass `systemd-analyze verify`); the script
//! passes `sh -n` and shellcheck, and runs four nights in a row against a loopback lab
//! (baseline, drift, no drift, a failed control kept as incomplete).
//!
//! Everything that sends a packet runs in its own `unshare -rnmpf` namespace (only `lo`).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use common::examples::{read_example, report_records as ndjson, require_tool, words};
use common::{NS_TERM_60S as NS, Ns, example};

/// Runs `body` (after the shared prelude) as PID 1 of fresh user + net + mount + pid
/// namespaces, after writing `files` (relative paths) into the work dir. Panics when the
/// script fails.
fn netns(files: &[(&str, &str)], body: &str) -> Ns {
    NS.run(files, body)
}

/// A unit file as (section, key, value) triples; panics on a line that is neither a section
/// header, a `key=value` assignment, a comment nor blank.
fn parse_unit(rel: &str) -> Vec<(String, String, String)> {
    let text = read_example(rel);
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    let mut pending = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with(';'))
        {
            continue;
        }
        if let Some(body) = line.strip_suffix('\\') {
            pending.push_str(body);
            pending.push(' ');
            continue;
        }
        let line = format!("{pending}{line}");
        pending.clear();
        if line.starts_with('[') {
            assert!(line.ends_with(']'), "{rel}:{}: bad section {line:?}", i + 1);
            section = Some(line[1..line.len() - 1].to_string());
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{rel}:{}: not key=value: {line:?}", i + 1));
        let k = k.trim();
        assert!(
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()),
            "{rel}:{}: bad key {k:?}",
            i + 1
        );
        let sec = section
            .clone()
            .unwrap_or_else(|| panic!("{rel}:{}: assignment before any section", i + 1));
        out.push((sec, k.to_string(), v.trim().to_string()));
    }
    assert!(pending.is_empty(), "{rel}: dangling continuation");
    out
}

fn unit_values<'a>(unit: &'a [(String, String, String)], sec: &str, key: &str) -> Vec<&'a str> {
    unit.iter()
        .filter(|(s, k, _)| s == sec && k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

/// `Environment=` assignments of a unit: NAME → value (quotes around the whole pair allowed).
fn unit_env(unit: &[(String, String, String)]) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for v in unit_values(unit, "Service", "Environment") {
        for w in words(v) {
            let (k, val) = w
                .split_once('=')
                .unwrap_or_else(|| panic!("bad Environment= {v:?}"));
            env.insert(k.to_string(), val.to_string());
        }
    }
    env
}

/// The service and timer parse, carry the required keys, and agree with each other and with the
/// script: the timer starts the service, ExecStart is the script, every TELLTALE_* variable the
/// unit sets is one the script reads, and the textfile goes to node_exporter's directory.
#[test]
fn systemd_units_parse_with_required_keys() {
    let svc = parse_unit("systemd/telltale-sweep.service");
    let timer = parse_unit("systemd/telltale-sweep.timer");
    let script = read_example("systemd/nightly-sweep.sh");

    let sections = |u: &[(String, String, String)]| {
        let mut s: Vec<String> = u.iter().map(|(s, _, _)| s.clone()).collect();
        s.dedup();
        s
    };
    assert_eq!(sections(&svc), ["Unit", "Service"], "service sections");
    assert_eq!(
        sections(&timer),
        ["Unit", "Timer", "Install"],
        "timer sections"
    );

    assert_eq!(unit_values(&svc, "Unit", "Description").len(), 1);
    assert_eq!(unit_values(&svc, "Service", "Type"), ["oneshot"]);
    let exec = unit_values(&svc, "Service", "ExecStart");
    assert_eq!(exec.len(), 1, "{exec:?}");
    let exec_path = words(exec[0].trim_start_matches(['-', '@', '+', '!', ':']))[0].clone();
    assert!(
        exec_path.starts_with('/'),
        "ExecStart needs an absolute path: {exec_path}"
    );
    assert!(exec_path.ends_with("/nightly-sweep.sh"), "{exec_path}");

    let env = unit_env(&svc);
    for key in [
        "TELLTALE_BIN",
        "TELLTALE_INVENTORY",
        "TELLTALE_STATE_DIR",
        "TELLTALE_PROM",
    ] {
        assert!(env.contains_key(key), "service sets {key}: {env:?}");
    }
    for key in env.keys() {
        assert!(
            script.contains(&format!("${{{key}")),
            "the service sets {key}, which nightly-sweep.sh never reads"
        );
    }
    assert!(
        env["TELLTALE_PROM"].starts_with("/var/lib/node_exporter/textfile/")
            && env["TELLTALE_PROM"].ends_with(".prom"),
        "{env:?}"
    );
    if let Some(state) = unit_values(&svc, "Service", "StateDirectory").first() {
        assert_eq!(
            env["TELLTALE_STATE_DIR"],
            format!("/var/lib/{state}"),
            "StateDirectory= and TELLTALE_STATE_DIR agree"
        );
    }

    let cal = unit_values(&timer, "Timer", "OnCalendar");
    assert_eq!(cal.len(), 1, "{cal:?}");
    assert_eq!(unit_values(&timer, "Timer", "Persistent"), ["true"]);
    let unit = unit_values(&timer, "Timer", "Unit");
    assert!(
        unit.is_empty() || unit == ["telltale-sweep.service"],
        "the timer starts the service: {unit:?}"
    );
    assert_eq!(
        unit_values(&timer, "Install", "WantedBy"),
        ["timers.target"]
    );

    // systemd's own tools check the units too (`.ci/run` installs systemd).
    require_tool("systemd-analyze", "systemd");
    let out = Command::new("systemd-analyze")
        .args(["calendar", cal[0]])
        .output()
        .unwrap();
    assert!(out.status.success(), "OnCalendar={}: {out:?}", cal[0]);

    let dir = tempfile::tempdir().unwrap();
    let svc_text = read_example("systemd/telltale-sweep.service").replace(
        &format!("ExecStart={}", exec[0]),
        &format!(
            "ExecStart={}",
            example("systemd/nightly-sweep.sh").display()
        ),
    );
    std::fs::write(dir.path().join("telltale-sweep.service"), svc_text).unwrap();
    std::fs::write(
        dir.path().join("telltale-sweep.timer"),
        read_example("systemd/telltale-sweep.timer"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("telltale-sweep.timer"))
        .arg(dir.path().join("telltale-sweep.service"))
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The script passes `sh -n` and shellcheck.
#[test]
fn nightly_script_is_valid_sh() {
    let script = example("systemd/nightly-sweep.sh");
    let out = Command::new("sh").arg("-n").arg(&script).output().unwrap();
    assert!(out.status.success(), "sh -n: {out:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&script).unwrap().permissions().mode();
    assert!(
        mode & 0o111 != 0,
        "nightly-sweep.sh must be executable (ExecStart runs it)"
    );
    require_tool("shellcheck", "shellcheck");
    let out = Command::new("shellcheck").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Four nights against a loopback lab, with the environment the unit sets pointed at a temp dir:
/// 1. first run: the baseline, exit 0, NDJSON report, Prometheus textfile (readable by others);
/// 2. one service stopped: the diff shows it newly closed, exit 1, drift.txt/drift.json written;
/// 3. nothing changed: "no drift", exit 0;
/// 4. a failed positive control: exit 3, kept as incomplete, the baseline does not move.
#[test]
fn nightly_script_runs_and_diffs_against_last_night() {
    let inv = "defaults: {timeout: 1200ms, linger: 200ms}
targets:
  - {name: api, host: 127.0.0.1, port: 7001}
  - {name: cache, host: 127.0.0.1, port: 7002, expect: [open, refused]}
  - {name: admin, host: 127.0.0.1, port: 7003, expect: blocked}
";
    let broken = "defaults: {timeout: 1200ms, linger: 200ms}
targets:
  - {name: ctl, host: 127.0.0.1, port: 7009, control: true}
  - {name: admin, host: 127.0.0.1, port: 7003, expect: blocked}
";
    let script = example("systemd/nightly-sweep.sh");
    let ns = netns(
        &[("inv.yaml", inv), ("broken.yaml", broken)],
        &format!(
            "lab_start api --ip 127.0.0.1 --open 7001
lab_start cache --ip 127.0.0.1 --open 7002
export TELLTALE_BIN=\"$T\" TELLTALE_INVENTORY=\"$LAB_DIR/inv.yaml\"
export TELLTALE_STATE_DIR=\"$LAB_DIR/state\" TELLTALE_PROM=\"$LAB_DIR/textfile/telltale.prom\"
export TELLTALE_VANTAGE=lab TELLTALE_SCAN_ARGS='--retries 0'
S='{script}'
umask 022
run_to night1 sh \"$S\"
readlink state/latest.ndjson > latest1.txt
stat -c %a textfile/telltale.prom > prommode.txt
cp textfile/telltale.prom prom1.txt
lab_stop cache
run_to night2 sh \"$S\"
run_to night3 sh \"$S\"
readlink state/latest.ndjson > latest3.txt
(export TELLTALE_INVENTORY=\"$LAB_DIR/broken.yaml\"; run_to night4 sh \"$S\")
readlink state/latest.ndjson > latest4.txt
ls state/reports > reports.txt",
            script = script.display()
        ),
    );

    ns.assert_rc("night1", 0);
    let latest1 = ns.read("latest1.txt").trim().to_string();
    let first = ndjson(&ns.read(&format!("state/{latest1}")));
    assert_eq!(first.len(), 3, "{}", ns.show("night1"));
    assert!(first.iter().all(|r| r["vantage"] == "lab"), "{first:#?}");
    assert!(
        ns.stderr("night1").contains("baseline"),
        "{}",
        ns.show("night1")
    );
    let prom = ns.read("prom1.txt");
    assert_eq!(prom.matches("\ntelltale_probe_ok{").count(), 3, "{prom}");
    assert_eq!(
        ns.read("prommode.txt").trim(),
        "644",
        "node_exporter must read the textfile"
    );

    ns.assert_rc("night2", 1);
    let out2 = ns.stdout("night2");
    assert!(out2.contains("newly closed"), "{}", ns.show("night2"));
    assert!(out2.contains("cache") && out2.contains("7002"), "{out2}");
    assert!(!out2.contains("api "), "api did not change:\n{out2}");

    ns.assert_rc("night3", 0);
    let drift: Value = serde_json::from_str(&ns.read("state/drift.json")).unwrap();
    assert_eq!(drift["changes"], serde_json::json!([]), "{drift:#}");
    assert!(ns.read("state/drift.txt").contains("no drift"));
    assert!(ns.path("state/previous.ndjson").exists());

    ns.assert_rc("night4", 3);
    assert_eq!(
        ns.read("latest3.txt"),
        ns.read("latest4.txt"),
        "an incomplete run does not become the baseline"
    );
    let reports = ns.read("reports.txt");
    assert_eq!(reports.matches("sweep-").count(), 3, "{reports}");
    assert_eq!(reports.matches("incomplete-").count(), 1, "{reports}");
}
