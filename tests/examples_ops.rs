#![allow(clippy::unwrap_used)]
//! The operational examples of issue 3 are checked, and their commands run for real against a
//! loopback lab:
//! - `examples/github-actions/predeploy.yml`: parses; the step that runs telltale is executed
//!   as GitHub would (bash -eo pipefail) with `telltale` on PATH, and writes the JUnit report;
//! - `examples/systemd/telltale-sweep.{service,timer}`: parse as unit files with the required
//!   keys (and `systemd-analyze verify`, required), agree with the script;
//! - `examples/systemd/nightly-sweep.sh`: run several nights in a row; the second one reports drift;
//! - `examples/cron/telltale.cron`: a valid cron.d line whose command runs.
//!
//! Everything that sends a packet runs in its own `unshare -rnmpf` namespace (only `lo`).

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{BIN, NS_TERM_60S as NS, Ns, example, ndjson};
use serde_json::Value;
use serde_yaml::Value as Yaml;

fn read_example(rel: &str) -> String {
    std::fs::read_to_string(example(rel)).unwrap_or_else(|e| panic!("examples/{rel}: {e}"))
}

// -------------------------------------------------------------------------------------------
// Namespace harness
// -------------------------------------------------------------------------------------------

// `NS_TERM_60S`: PID 1 of fresh user + net + mount + pid namespaces, SIGTERM after 60 s
// (SIGKILL 5 s later); labs must be ready within 10 s. `$LAB_DIR/bin/telltale` exists but is
// not on PATH: each script puts it there (or not) as its example would.

/// Runs `body` (after the shared prelude) as PID 1 of fresh user + net + mount + pid
/// namespaces, after writing `files` (relative paths) into the work dir. Panics when the
/// script fails.
fn netns(files: &[(&str, &str)], body: &str) -> Ns {
    NS.run(files, body)
}

/// Splits a command line into words: whitespace, '…' and "…" quoting (no expansion). Enough
/// to find the subcommand, the inventory and the flags of a telltale invocation.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                any = true;
            }
            None if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            None => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Checks a `telltale ...` command line against the CLI without running a scan: the subcommand
/// exists, and for `scan` clap accepts every flag (`--dry-run` sends nothing; exit 0). The
/// inventory is replaced by a loopback one. Returns the words.
fn check_invocation(line: &str) -> Vec<String> {
    let w = words(line);
    assert!(
        w.first()
            .is_some_and(|b| b == "telltale" || b.ends_with("/telltale")),
        "not a telltale invocation: {line:?}"
    );
    let sub = w.get(1).map(String::as_str);
    match sub {
        Some("--version") | Some("-V") | Some("--help") => {}
        Some("scan") => {
            let dir = tempfile::tempdir().unwrap();
            let inv = dir.path().join("inv.yaml");
            std::fs::write(&inv, "targets:\n  - {host: 127.0.0.1, port: 22}\n").unwrap();
            let mut args: Vec<String> = Vec::new();
            let mut replaced = false;
            let mut skip_value = false;
            for a in &w[2..] {
                if skip_value {
                    skip_value = false;
                    // Outputs go into the temp dir, never over a real file.
                    args.push(dir.path().join("out").to_string_lossy().to_string());
                    continue;
                }
                if a == "-o" || a == "--output" {
                    skip_value = true;
                    args.push(a.clone());
                    continue;
                }
                if !replaced && !a.starts_with('-') && a.ends_with(".yaml") {
                    args.push(inv.to_string_lossy().to_string());
                    replaced = true;
                    continue;
                }
                args.push(a.replace('$', ""));
            }
            assert!(replaced, "no inventory (*.yaml) in {line:?}");
            let out = Command::new(BIN)
                .arg("scan")
                .args(&args)
                .arg("--dry-run")
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "`{line}` is not a valid invocation: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Some(other) => {
            let out = Command::new(BIN).args([other, "--help"]).output().unwrap();
            assert!(out.status.success(), "unknown subcommand in {line:?}");
        }
        None => panic!("bare `telltale` in {line:?}"),
    }
    w
}

/// The command lines of a shell snippet that invoke telltale (continuations joined).
fn telltale_lines(script: &str) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("telltale ") || l.contains("/telltale "))
        .filter(|l| !l.starts_with('#'))
        .map(String::from)
        .collect()
}

// -------------------------------------------------------------------------------------------
// GitHub Actions
// -------------------------------------------------------------------------------------------

fn workflow() -> Yaml {
    serde_yaml::from_str(&read_example("github-actions/predeploy.yml"))
        .unwrap_or_else(|e| panic!("predeploy.yml does not parse: {e}"))
}

fn str_of<'a>(v: &'a Yaml, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Yaml::as_str)
}

/// The workflow parses, has a trigger, a job whose steps run `telltale scan ... --format junit
/// -o telltale.xml`, upload the file and publish it as a JUnit report even when the check fails,
/// and a deployment job gated on it.
#[test]
fn github_workflow_parses_and_publishes_junit() {
    let wf = workflow();
    assert!(wf.get("on").is_some(), "no `on:` trigger");
    let jobs = wf.get("jobs").and_then(Yaml::as_mapping).expect("jobs:");
    let mut check_job = None;
    for (id, job) in jobs {
        let steps = job.get("steps").and_then(Yaml::as_sequence).expect("steps");
        if steps
            .iter()
            .any(|s| str_of(s, "run").is_some_and(|r| r.contains("telltale scan")))
        {
            check_job = Some((id.as_str().unwrap().to_string(), steps.clone()));
        }
    }
    let (check_id, steps) = check_job.expect("a job runs `telltale scan`");

    let runs: Vec<&str> = steps.iter().filter_map(|s| str_of(s, "run")).collect();
    let scans: Vec<String> = runs
        .iter()
        .flat_map(|r| telltale_lines(r))
        .filter(|l| l.starts_with("telltale scan"))
        .collect();
    assert_eq!(scans.len(), 1, "one scan: {scans:?}");
    let w = check_invocation(&scans[0]);
    let pos = |flag: &str| w.iter().position(|a| a == flag);
    let fmt = pos("--format").expect("--format");
    assert_eq!(w[fmt + 1], "junit", "{w:?}");
    let o = pos("-o").or(pos("--output")).expect("-o");
    let report = w[o + 1].clone();
    assert!(report.ends_with(".xml"), "{w:?}");
    for l in runs.iter().flat_map(|r| telltale_lines(r)) {
        check_invocation(&l);
    }

    let publishes = |s: &&Yaml| {
        let cond = str_of(s, "if").unwrap_or_default();
        cond.contains("always()") || cond.contains("!cancelled()")
    };
    let upload = steps
        .iter()
        .find(|s| str_of(s, "uses").is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .expect("an actions/upload-artifact step");
    assert_eq!(
        upload.get("with").and_then(|w| str_of(w, "path")),
        Some(report.as_str())
    );
    assert!(
        publishes(&upload),
        "the artifact is uploaded when the check fails"
    );
    let junit = steps
        .iter()
        .find(|s| str_of(s, "uses").is_some_and(|u| u.to_lowercase().contains("junit")))
        .expect("a JUnit report action");
    let with = junit.get("with").expect("with:");
    assert!(
        with.as_mapping()
            .unwrap()
            .values()
            .any(|v| v.as_str() == Some(report.as_str())),
        "the JUnit action reads {report}: {with:?}"
    );
    assert!(
        publishes(&junit),
        "the report is published when the check fails"
    );

    let gated = jobs.iter().any(|(_, job)| match job.get("needs") {
        Some(Yaml::String(n)) => *n == check_id,
        Some(Yaml::Sequence(ns)) => ns.iter().any(|n| n.as_str() == Some(&check_id)),
        _ => false,
    });
    assert!(gated, "a deployment job `needs: {check_id}`");
}

/// The telltale step runs as GitHub would run it (bash -eo pipefail, telltale on PATH) in a
/// checkout holding a loopback inventory: exit 0 and a JUnit file when every result is as
/// expected; a non-zero exit (the gate closes) and a `<failure>` in the report when not.
#[test]
fn github_workflow_step_runs_against_lab() {
    let wf = workflow();
    let step = wf["jobs"]
        .as_mapping()
        .unwrap()
        .values()
        .flat_map(|j| j["steps"].as_sequence().unwrap().iter())
        .find(|s| str_of(s, "run").is_some_and(|r| r.contains("telltale scan")))
        .unwrap()
        .clone();
    let run = str_of(&step, "run").unwrap();
    assert!(
        !run.contains("${{"),
        "the check step uses no workflow expressions"
    );
    let scan = telltale_lines(run)
        .into_iter()
        .find(|l| l.starts_with("telltale scan"))
        .unwrap();
    let w = words(&scan);
    let inventory = w[2..]
        .iter()
        .find(|a| a.ends_with(".yaml"))
        .unwrap()
        .clone();
    let report = w[w.iter().position(|a| a == "-o" || a == "--output").unwrap() + 1].clone();
    let good = "defaults: {timeout: 1200ms, linger: 200ms}
targets:
  - {name: api, host: 127.0.0.1, port: 7001}
  - {name: db, host: 127.0.0.1, port: 7002}
  - {name: admin-closed, host: 127.0.0.1, port: 7003, expect: blocked}
";
    let bad = good.replace("port: 7003, expect: blocked", "port: 7003");
    let good_inv = format!("good/{inventory}");
    let bad_inv = format!("bad/{inventory}");
    let ns = netns(
        &[
            ("step.sh", run),
            (good_inv.as_str(), good),
            (bad_inv.as_str(), &bad),
        ],
        "lab_start lab --ip 127.0.0.1 --open 7001,7002
for d in good bad; do
    (cd \"$d\" && export PATH=\"$LAB_DIR/bin:$PATH\" RUNNER_NAME=lab-runner &&
        run_to ../$d bash --noprofile --norc -eo pipefail ../step.sh)
done",
    );

    ns.assert_rc("good", 0);
    let xml = ns.read(&format!("good/{report}"));
    assert!(xml.contains("<testsuites"), "{xml}");
    assert_eq!(xml.matches("<testcase").count(), 3, "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");

    assert_ne!(
        ns.rc("bad"),
        0,
        "a mismatch fails the step\n{}",
        ns.show("bad")
    );
    let xml = ns.read(&format!("bad/{report}"));
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("admin-closed"), "{xml}");
}

// -------------------------------------------------------------------------------------------
// systemd
// -------------------------------------------------------------------------------------------

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

// -------------------------------------------------------------------------------------------
// cron
// -------------------------------------------------------------------------------------------

/// (environment assignments, job lines) of a cron.d file.
fn cron_file() -> (Vec<(String, String)>, Vec<String>) {
    let text = read_example("cron/telltale.cron");
    let mut env = Vec::new();
    let mut jobs = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let first = line.split_whitespace().next().unwrap();
        if let Some((k, v)) = first.split_once('=').filter(|(k, _)| {
            k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.is_empty()
        }) {
            let v = format!("{v}{}", &line[first.len()..]);
            env.push((k.to_string(), v.trim().to_string()));
        } else {
            jobs.push(line.to_string());
        }
    }
    (env, jobs)
}

fn valid_cron_field(f: &str, lo: u32, hi: u32) -> bool {
    f.split(',').all(|part| {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0).map(|_| ())),
            None => (part, Some(())),
        };
        step.is_some()
            && (range == "*"
                || range
                    .split('-')
                    .all(|n| n.parse::<u32>().is_ok_and(|n| (lo..=hi).contains(&n))))
    })
}

/// Splits a cron.d job line into (schedule, user, command).
fn cron_job(line: &str) -> ([String; 5], String, String) {
    let mut rest = line;
    let mut fields = Vec::new();
    for _ in 0..6 {
        rest = rest.trim_start();
        let end = rest
            .find(char::is_whitespace)
            .expect("6 fields then a command");
        fields.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    let user = fields.pop().unwrap();
    (fields.try_into().unwrap(), user, rest.trim().to_string())
}

/// One job line in cron.d format (5 time fields, a user, a command), with `%` escaped in the
/// command; the command's telltale invocation is valid.
#[test]
fn cron_line_is_valid() {
    let (env, jobs) = cron_file();
    assert_eq!(jobs.len(), 1, "one cron line: {jobs:?}");
    assert!(
        env.iter().any(|(k, v)| k == "SHELL" && v == "/bin/sh"),
        "{env:?}"
    );
    let (sched, user, cmd) = cron_job(&jobs[0]);
    let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
    for (f, (lo, hi)) in sched.iter().zip(ranges) {
        assert!(
            valid_cron_field(f, lo, hi),
            "bad cron field {f:?} in {}",
            jobs[0]
        );
    }
    assert!(
        user.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "user field {user:?}"
    );
    let unescaped = cmd.replace("\\%", "");
    assert!(
        !unescaped.contains('%'),
        "an unescaped % ends the command in cron: {cmd}"
    );
    let lines = telltale_lines(&cmd);
    assert_eq!(lines.len(), 1, "{cmd}");
    // Only the telltale part (up to a redirection or `||`).
    let tt: String = lines[0]
        .split("||")
        .next()
        .unwrap()
        .split(" 2>")
        .next()
        .unwrap()
        .replace("\\%", "%")
        .replace("$(date -u +%Y-%m-%d)", "DATE");
    check_invocation(&tt);
}

/// The cron command, with its paths moved into a temp dir, run as cron would (`/bin/sh -c`,
/// the file's environment only): writes the dated NDJSON report silently when all is as
/// expected; prints (cron mails) a line when not.
#[test]
fn cron_line_runs_against_lab() {
    let (env, jobs) = cron_file();
    let (_, _, cmd) = cron_job(&jobs[0]);
    let cmd = cmd.replace("\\%", "%");
    for p in [
        "/usr/local/bin/telltale",
        "/etc/telltale/inventory.yaml",
        "/var/lib/telltale/",
    ] {
        assert!(cmd.contains(p), "the cron command uses {p}: {cmd}");
    }
    let cmd = cmd
        .replace("/usr/local/bin/telltale", "\"$TT_BIN\"")
        .replace("/etc/telltale/inventory.yaml", "\"$TT_INV\"")
        .replace("/var/lib/telltale/", "\"$TT_STATE\"/")
        .replace("/var/log/telltale/", "\"$TT_LOG\"/");
    let good = "defaults: {timeout: 1200ms, linger: 200ms}
targets:
  - {name: api, host: 127.0.0.1, port: 7001}
  - {name: closed, host: 127.0.0.1, port: 7002, expect: blocked}
";
    let bad = good.replace("port: 7002, expect: blocked", "port: 7002");
    let env_args: String = env.iter().map(|(k, v)| format!("{k}='{v}' ")).collect();
    let ns = netns(
        &[("good.yaml", good), ("bad.yaml", &bad), ("cron.sh", &cmd)],
        &format!(
            "lab_start lab --ip 127.0.0.1 --open 7001
mkdir -p state-good state-bad log
run_to good env -i {env_args}TT_BIN=\"$T\" TT_INV=\"$LAB_DIR/good.yaml\" TT_STATE=\"$LAB_DIR/state-good\" TT_LOG=\"$LAB_DIR/log\" /bin/sh -c \"$(cat cron.sh)\"
run_to bad env -i {env_args}TT_BIN=\"$T\" TT_INV=\"$LAB_DIR/bad.yaml\" TT_STATE=\"$LAB_DIR/state-bad\" TT_LOG=\"$LAB_DIR/log\" /bin/sh -c \"$(cat cron.sh)\"
ls state-good > good.ls
ls state-bad > bad.ls"
        ),
    );

    ns.assert_rc("good", 0);
    assert_eq!(ns.stdout("good"), "", "nothing to mail when all is well");
    let files: Vec<String> = ns.read("good.ls").lines().map(String::from).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = &files[0];
    let date = name
        .strip_prefix("sweep-")
        .and_then(|n| n.strip_suffix(".ndjson"))
        .unwrap_or_else(|| panic!("report name {name}"));
    assert!(
        date.len() == 10 && date.chars().filter(|c| *c == '-').count() == 2,
        "the date expanded (no literal %): {name}"
    );
    let recs = ndjson(&ns.read(&format!("state-good/{name}")));
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|r| r["ok"] == true), "{recs:#?}");
    assert!(
        ns.read("log/cron.log").contains("probes"),
        "diagnostics go to the log"
    );

    let out = ns.stdout("bad");
    assert!(
        out.contains("exit 1"),
        "a mismatch produces output for cron to mail: {}",
        ns.show("bad")
    );
    assert_eq!(ns.read("bad.ls").lines().count(), 1);
}

/// Fail loudly, with the install command, when a checking tool is missing (tests never install).
fn require_tool(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is missing: install it with `apt-get install -y {package}` (.ci/run does); \
         this check is never skipped"
    );
}
