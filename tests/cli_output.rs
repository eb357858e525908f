//! What each command prints, for a person and for a pipe: the man pages (rendered by groff),
//! shell completion of `--expect`, `--dry-run` in every format, `probe`'s narrative and its
//! `--format table`, and one rule for a closed stdout across every command (quiet, exit 3).
//!
//! Everything here runs on loopback (lab services, refused ports) or sends nothing at all.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

fn telltale(args: &[&str]) -> Run {
    run(args, HANG_GUARD)
}

/// `groff -man -ww -z` reports roff warnings on stderr (line-filling ones aside): a clean page has none.
fn assert_renders(page: &[u8], what: &str) {
    let mut g = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-Wbreak", "-z"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("groff is missing ({e}): install it with `apt-get install -y groff-base`")
        });
    use std::io::Write;
    g.stdin.take().unwrap().write_all(page).unwrap();
    let out = g.wait_with_output().unwrap();
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.trim().is_empty(),
        "{what} does not render cleanly:\n{warnings}"
    );
}

#[test]
fn man_pages_per_subcommand_with_inventory_verdicts_and_exit_codes() {
    let top = telltale(&["man"]);
    top.assert_code(0);
    assert_renders(top.stdout.as_bytes(), "telltale(1)");
    for sub in ["scan", "probe", "demo", "diff", "merge"] {
        assert!(
            top.stdout.contains(&format!("telltale\\-{sub}(1)")),
            "top page refers to telltale-{sub}(1)"
        );
    }

    let scan = telltale(&["man", "scan"]);
    scan.assert_code(0);
    assert_renders(scan.stdout.as_bytes(), "telltale-scan(1)");
    assert!(
        scan.stdout.contains(".TH telltale-scan 1"),
        "{}",
        scan.stdout
    );
    for want in [
        "INVENTORY FORMAT",
        "VERDICTS",
        "closed\\-by\\-peer",
        "who to ask: network engineer",
        "EXIT CODES",
        "\\-\\-timeout",
        "\\-\\-baseline",
    ] {
        assert!(scan.stdout.contains(want), "scan page lacks {want:?}");
    }
    let probe = telltale(&["man", "probe"]);
    probe.assert_code(0);
    assert!(probe.stdout.contains("VERDICTS") && probe.stdout.contains("EXIT CODES"));

    let dir = tempfile::tempdir().unwrap();
    let all = telltale(&["man", "--dir", dir.path().to_str().unwrap()]);
    all.assert_code(0);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for want in [
        "telltale.1",
        "telltale-scan.1",
        "telltale-probe.1",
        "telltale-diff.1",
        "telltale-merge.1",
        "telltale-demo.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} not in {pages:?}");
    }
    assert!(
        !pages.iter().any(|p| p.contains("lab")),
        "the hidden lab has no page: {pages:?}"
    );
    for p in &pages {
        assert_renders(&std::fs::read(dir.path().join(p)).unwrap(), p);
    }

    let bad = telltale(&["man", "nosuch"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("scan, wait, probe"), "{}", bad.dump());
}

#[test]
fn bash_completion_offers_verdicts_and_aliases_for_expect() {
    let out = telltale(&["completions", "bash"]);
    out.assert_code(0);
    let line = out
        .stdout
        .lines()
        .skip_while(|l| !l.contains("--expect)"))
        .nth(1)
        .unwrap_or_else(|| panic!("no --expect case in\n{}", out.stdout));
    for word in ["open", "closed-by-peer", "filtered", "blocked", "denied"] {
        assert!(line.contains(word), "--expect completes {word}: {line}");
    }
    assert!(!line.contains("interrupted"), "{line}");
    assert!(
        !line.contains("compgen -f"),
        "--expect completes words, not file names: {line}"
    );
}

#[test]
fn dry_run_honours_the_format() {
    let inv = inventory(
        "targets:\n  - {name: a, host: 127.0.0.1, ports: \"1-3\", expect: blocked}\n  - {name: n, host: localhost, port: 9}\n",
    );
    let nd = scan(&inv, &["--dry-run", "--format", "ndjson"]);
    nd.assert_code(0);
    // Planned probes, not results: not checked against the record schema.
    let recs = parse_ndjson(&nd.stdout).unwrap();
    assert_eq!(recs.len(), 4, "{}", nd.dump());
    assert_eq!(recs[0]["addr"], "127.0.0.1");
    assert_eq!(recs[0]["expect"], "blocked");
    let name = recs.iter().find(|r| r["name"] == "n").unwrap();
    assert_eq!(
        name["addr"],
        Value::Null,
        "a name is not resolved by a dry run"
    );

    let js = scan(&inv, &["--dry-run", "--format", "json"]);
    js.assert_code(0);
    let doc = js.json();
    assert_eq!(doc["count"], 4);
    assert_eq!(doc["planned"].as_array().unwrap().len(), 4);

    let csv = scan(&inv, &["--dry-run", "--format", "csv"]);
    csv.assert_code(0);
    let mut lines = csv.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("name,host,addr,port,expect,control,file")
    );
    assert_eq!(lines.count(), 4);

    let table = scan(&inv, &["--dry-run"]);
    table.assert_code(0);
    assert!(table.stdout.starts_with("NAME\tADDRESS\tPORT\tEXPECT\n"));

    let junit = scan(&inv, &["--dry-run", "--format", "junit"]);
    junit.assert_code(0);
    assert!(
        junit.stdout.starts_with("NAME\tADDRESS"),
        "{}",
        junit.dump()
    );
    assert!(
        junit.stderr.contains("listed as a table"),
        "{}",
        junit.dump()
    );
}

#[test]
fn dry_run_never_replaces_a_report() {
    let inv = inventory("targets:\n  - {host: 127.0.0.1, port: 1}\n");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("last.ndjson");
    std::fs::write(&report, "good report\n").unwrap();
    let out = scan(&inv, &["--dry-run", "-o", report.to_str().unwrap()]);
    out.assert_code(0);
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "good report\n");
    assert!(out.stderr.contains("stdout only"), "{}", out.dump());
}

#[test]
fn probe_narrative_is_quiet_and_explains_retries_and_table_is_a_table() {
    let lab = Lab::start("127.0.0.1", &["open", "filtered"]);
    let f = lab.addr("filtered");
    let out = telltale(&[
        "probe",
        "127.0.0.1",
        &f.port().to_string(),
        "--timeout",
        "300ms",
        "--retries",
        "1",
    ]);
    out.assert_code(1);
    assert!(out.stdout.contains("verdict: filtered"), "{}", out.dump());
    assert!(
        out.stdout.contains("tried 2 times"),
        "the retry is told: {}",
        out.dump()
    );
    assert!(
        !out.stderr.contains("probes to"),
        "no pre-scan plan line for one probe: {}",
        out.dump()
    );

    let o = lab.addr("open");
    let table = telltale(&[
        "probe",
        "127.0.0.1",
        &o.port().to_string(),
        "--linger",
        "0",
        "--format",
        "table",
        "--all",
    ]);
    table.assert_code(0);
    assert!(
        table.stdout.contains("VERDICT") && table.stdout.contains("WHO TO ASK"),
        "--format table is the table: {}",
        table.dump()
    );
    assert!(!table.stdout.contains("Trying "), "{}", table.dump());
}

/// Runs `telltale ARGS` with stdout a stream whose reader is gone before the command starts
/// (a socket pair with one end closed: writes fail with EPIPE, as into a closed pipe).
fn closed_stdout(args: &[&str]) -> Run {
    let (reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
    drop(reader);
    let writer = std::os::fd::OwnedFd::from(writer);
    let start = std::time::Instant::now();
    let out = Command::new("timeout")
        .args(["-s", "KILL", "20", BIN])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    Run {
        status: out.status,
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn closed_stdout_is_quiet_exit_3_for_every_command() {
    let inv = inventory("targets:\n  - {host: 127.0.0.1, ports: \"1-2000\", expect: blocked}\n");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.ndjson");
    let lab = Lab::start("127.0.0.1", &["refused"]);
    let small = inventory(&targets(&[target("r", lab.addr("refused"), "refused")]));
    let made = run(
        &[
            "scan",
            &small.arg(),
            "--format",
            "ndjson",
            "-o",
            report.to_str().unwrap(),
        ],
        HANG_GUARD,
    );
    made.assert_code(0);
    let rep = report.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["man", "scan"],
        vec!["completions", "bash"],
        vec!["scan", inv.path.to_str().unwrap(), "--dry-run"],
        vec!["diff", rep, rep],
        vec!["merge", rep],
    ];
    for args in cases {
        let run = closed_stdout(&args);
        run.assert_no_panic();
        run.assert_code(3);
        assert!(
            !run.stderr.contains("Broken pipe") && !run.stderr.contains("os error 32"),
            "a closed pipe ends quietly\n{}",
            run.dump()
        );
    }
}
