//! `examples/cron/telltale.cron`: one valid cron.d line (5 time fields, a user, `%` escaped)
//! whose telltale invocation is valid, and whose command, run as cron would (`/bin/sh -c`, the
//! file's environment only), writes the dated report silently or prints a line to mail.
//!
//! Everything that sends a packet runs in its own `unshare -rnmpf` namespace (only `lo`).
#![allow(clippy::unwrap_used)]

mod common;

use common::examples::{check_invocation, read_example, report_records as ndjson, telltale_lines};
use common::{NS_TERM_60S as NS, Ns};

/// Runs `body` (after the shared prelude) as PID 1 of fresh user + net + mount + pid
/// namespaces, after writing `files` (relative paths) into the work dir. Panics when the
/// script fails.
fn netns(files: &[(&str, &str)], body: &str) -> Ns {
    NS.run(files, body)
}

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
