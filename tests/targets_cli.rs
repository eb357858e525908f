//! Targets without an inventory file, end to end on loopback listeners (`telltale lab` on
//! 127.0.0.1 and `::1`): command-line targets (`host:port`, port lists, `[::1]:port`, CIDR, a
//! bare host with `-p`), `probe TARGET [PORTS]`, stdin as YAML or as a plain list, plain-list
//! files, and each record's `origin`. Bad syntax is exit 2 with the argument or the
//! `FILE:LINE:COL` and what was expected, and not one connect: a test-owned canary listener
//! named before the bad target accepts nothing.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use serde_json::Value;

use common::*;

/// `telltale ARGS` with `stdin` on its standard input, under the hang guard.
fn with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    thread::spawn(move || tx.send(child.wait_with_output()));
    let out = rx.recv_timeout(HANG_GUARD).expect("telltale hung").unwrap();
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: start.elapsed(),
        args: args.iter().map(|s| s.to_string()).collect(),
    }
}

/// Fast, connect-only probing: the listeners answer on loopback at once.
const FAST: &[&str] = &["--format", "ndjson", "--linger", "0", "--timeout", "2s"];

fn scan_args(targets: &[&str], more: &[&str]) -> Vec<String> {
    let mut v = vec!["scan".to_string()];
    v.extend(targets.iter().map(|s| s.to_string()));
    v.extend(FAST.iter().chain(more).map(|s| s.to_string()));
    v
}

/// The one record of `origin` for `addr`:`port`.
fn at<'a>(recs: &'a [Value], origin: &str, addr: &str, port: u16) -> &'a Value {
    let hits: Vec<&Value> = recs
        .iter()
        .filter(|r| r["origin"] == origin && r["addr"] == addr && r["port"] == port)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "one record {origin} {addr} {port}:\n{}",
        show(recs)
    );
    hits[0]
}

/// Asserts the verdict and `ok` of the record of `origin` for `addr`:`port`.
fn check(recs: &[Value], origin: &str, addr: &str, port: u16, verdict: &str, ok: bool) {
    let r = at(recs, origin, addr, port);
    assert_eq!(
        (r["verdict"].as_str(), r["ok"].as_bool()),
        (Some(verdict), Some(ok)),
        "{r}"
    );
}

struct Labs {
    v4: Lab,
    v6: Lab,
}

impl Labs {
    fn start() -> Labs {
        Labs {
            v4: Lab::start("127.0.0.1", &["open", "open", "refused"]),
            v6: Lab::start("::1", &["open", "refused"]),
        }
    }
    fn open(&self) -> u16 {
        self.v4.port("open")
    }
    fn refused(&self) -> u16 {
        self.v4.port("refused")
    }
    /// The second open listener on 127.0.0.1.
    fn open2(&self) -> u16 {
        self.v4.addrs("open")[1].port()
    }
    fn open6(&self) -> u16 {
        self.v6.port("open")
    }
}

#[test]
fn command_line_targets_with_ports_lists_ipv6_cidr_and_bare_hosts() {
    let l = Labs::start();
    let (o, r, o6) = (l.open(), l.refused(), l.v6.port("refused"));
    let one = format!("127.0.0.1:{o}");
    let list = format!("127.0.0.1:{r},{}", l.open2());
    let v6 = format!("[::1]:{},{o6}", l.open6());
    let cidr = format!("127.0.0.0/30:{o}");
    let run = run(&scan_args(&[&one, &list, &v6, &cidr], &[]), HANG_GUARD);
    run.assert_code(1);
    let recs = run.records();
    assert_eq!(recs.len(), 7, "{}", show(&recs));
    check(&recs, "argv[1]", "127.0.0.1", o, "open", true);
    check(&recs, "argv[2]", "127.0.0.1", r, "refused", false);
    check(&recs, "argv[2]", "127.0.0.1", l.open2(), "open", true);
    check(&recs, "argv[3]", "::1", l.open6(), "open", true);
    check(&recs, "argv[3]", "::1", o6, "refused", false);
    // 127.0.0.0/30 is .1 and .2; the lab listens on .1 only.
    check(&recs, "argv[4]", "127.0.0.1", o, "open", true);
    assert_eq!(at(&recs, "argv[4]", "127.0.0.1", o)["host"], "127.0.0.0/30");
    check(&recs, "argv[4]", "127.0.0.2", o, "refused", false);

    // Bare hosts take -p and --expect; a target's own port wins over -p.
    let ports = format!("{o},{r}");
    let own = format!("[::1]:{}", l.open6());
    let run = common::run(
        &scan_args(
            &["127.0.0.1", "::1", &own],
            &["-p", &ports, "--expect", "open,refused"],
        ),
        HANG_GUARD,
    );
    run.assert_code(0);
    let recs = run.records();
    assert_eq!(recs.len(), 5, "{}", show(&recs));
    check(&recs, "argv[1]", "127.0.0.1", o, "open", true);
    check(&recs, "argv[1]", "127.0.0.1", r, "refused", true);
    check(&recs, "argv[2]", "::1", o, "refused", true);
    check(&recs, "argv[3]", "::1", l.open6(), "open", true);
    assert_eq!(
        at(&recs, "argv[2]", "::1", r)["expect"],
        serde_json::json!(["open", "refused"])
    );
}

#[test]
fn probe_takes_host_port_host_ports_and_brackets() {
    let l = Labs::start();
    let (o, r) = (l.open(), l.refused());
    let narrative = |args: &[&str], code: i32| {
        let mut v = vec!["probe"];
        v.extend_from_slice(args);
        v.extend_from_slice(&["--linger", "0"]);
        let run = run(&v, HANG_GUARD);
        run.assert_code(code);
        run.stdout
    };
    let out = narrative(&[&format!("127.0.0.1:{o}")], 0);
    assert!(
        out.contains(&format!("Trying 127.0.0.1 port {o}...")),
        "{out}"
    );
    assert!(out.contains("verdict: open"), "{out}");
    // The older `probe HOST PORT` is the `HOST PORTS` form.
    let out = narrative(&["127.0.0.1", &o.to_string()], 0);
    assert!(out.contains("verdict: open"), "{out}");
    // Several ports: one narrative each, then the count.
    let out = narrative(&["127.0.0.1", &format!("{o},{r}")], 1);
    assert!(
        out.contains(&format!("Trying 127.0.0.1 port {o}...")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Trying 127.0.0.1 port {r}...")),
        "{out}"
    );
    assert!(out.contains("verdict: refused (NOT as expected"), "{out}");
    assert!(out.contains("2 probes: 1 as expected, 1 not"), "{out}");
    let out = narrative(&[&format!("[::1]:{}", l.open6())], 0);
    assert!(
        out.contains(&format!("Trying ::1 port {}...", l.open6())),
        "{out}"
    );
    let out = narrative(&["::1", &l.open6().to_string()], 0);
    assert!(out.contains("verdict: open"), "{out}");

    let run = common::run(
        &[
            "probe",
            &format!("127.0.0.1:{o}"),
            "--format",
            "ndjson",
            "--linger",
            "0",
        ],
        HANG_GUARD,
    );
    run.assert_code(0);
    check(&run.records(), "argv[1]", "127.0.0.1", o, "open", true);
}

#[test]
fn stdin_is_yaml_or_a_plain_list() {
    let l = Labs::start();
    let (o, r) = (l.open(), l.refused());
    let yaml = format!(
        "# checks\ntargets:\n  - {{host: 127.0.0.1, port: {o}}}\n\n  - host: \"::1\"\n    port: {}\n    expect: open\n",
        l.open6()
    );
    let run = with_stdin(
        &scan_args(&["-"], &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &yaml,
    );
    run.assert_code(0);
    let recs = run.records();
    check(&recs, "stdin:3", "127.0.0.1", o, "open", true);
    check(&recs, "stdin:5", "::1", l.open6(), "open", true);

    let list = format!(
        "# staging\n\n127.0.0.1:{o} open      # the listener\n127.0.0.1:{r}\tblocked\n[::1]:{},{r} open,refused\n127.0.0.2\n",
        l.open6()
    );
    let args = scan_args(&["-"], &["-p", &o.to_string(), "--expect", "refused"]);
    let run = with_stdin(&args.iter().map(String::as_str).collect::<Vec<_>>(), &list);
    run.assert_code(0);
    let recs = run.records();
    assert_eq!(recs.len(), 5, "{}", show(&recs));
    let lines: Vec<(&str, u16, &str, bool, &str)> = vec![
        ("127.0.0.1", o, "open", true, "stdin:3"),
        ("127.0.0.1", r, "refused", true, "stdin:4"),
        ("::1", l.open6(), "open", true, "stdin:5"),
        ("::1", r, "refused", true, "stdin:5"),
        // A bare host: -p's port, --expect's expectation.
        ("127.0.0.2", o, "refused", true, "stdin:6"),
    ];
    for (addr, port, v, ok, origin) in lines {
        check(&recs, origin, addr, port, v, ok);
    }
    assert_eq!(
        at(&recs, "stdin:6", "127.0.0.2", o)["expect"],
        serde_json::json!(["refused"])
    );
    assert_eq!(
        at(&recs, "stdin:4", "127.0.0.1", r)["expect"],
        serde_json::json!(["refused", "unreachable", "filtered"])
    );
}

#[test]
fn plain_list_files_and_yaml_files_say_where_each_target_came_from() {
    let l = Labs::start();
    let (o, r) = (l.open(), l.refused());
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("inv.yaml");
    std::fs::write(
        &yaml,
        format!("defaults: {{expect: open}}\ntargets:\n  - name: web\n    host: 127.0.0.1\n    port: {o}\n"),
    )
    .unwrap();
    // Not named .yaml and not YAML by its first line: a plain list.
    let detected = dir.path().join("targets");
    std::fs::write(&detected, format!("# one\n127.0.0.1:{r} refused\n")).unwrap();
    let listed = dir.path().join("more.yaml");
    std::fs::write(&listed, format!("\n[::1]:{} open\n", l.open6())).unwrap();
    let (y, d, f) = (
        yaml.to_str().unwrap(),
        detected.to_str().unwrap(),
        listed.to_str().unwrap(),
    );
    // No `expect:` and no `defaults: expect:`: --expect replaces the built-in `open`.
    let plain = dir.path().join("plain.yml");
    std::fs::write(
        &plain,
        format!("targets:\n\n- host: 127.0.0.2\n  port: {o}\n"),
    )
    .unwrap();
    let p = plain.to_str().unwrap();
    let cli = format!("127.0.0.1:{r}");
    let run = run(
        &scan_args(
            &[y, &cli, d, p],
            &["--targets-file", f, "--expect", "refused"],
        ),
        HANG_GUARD,
    );
    run.assert_code(0);
    let recs = run.records();
    assert_eq!(recs.len(), 4, "{}", show(&recs));
    check(&recs, &format!("{p}:3"), "127.0.0.2", o, "refused", true);
    check(&recs, &format!("{y}:3"), "127.0.0.1", o, "open", true);
    // The same host:port from argv[2] and from the list: probed once, the first one kept.
    check(&recs, "argv[2]", "127.0.0.1", r, "refused", true);
    assert!(run.stderr.contains("repeats port(s)"), "{}", run.dump());
    check(&recs, &format!("{f}:2"), "::1", l.open6(), "open", true);
    // JSON and the dry run carry the same origins.
    let json = common::run(
        &["scan", d, "--format", "json", "--linger", "0"],
        HANG_GUARD,
    );
    json.assert_code(0);
    assert_eq!(json.json()["results"][0]["origin"], format!("{d}:2"));
}

/// `ARGS` (after `scan`) and optional `stdin` are refused: exit 2, stderr names `place` and
/// says `words`, stdout empty, and the canary (named first) accepted nothing.
fn refused(canary: &mut Canary, args: &[&str], stdin: Option<&str>, place: &str, words: &[&str]) {
    let c = format!("127.0.0.1:{}", canary.port());
    let mut v = vec!["scan", c.as_str()];
    v.extend_from_slice(args);
    v.extend_from_slice(&["--format", "ndjson", "--linger", "0"]);
    let run = match stdin {
        Some(text) => with_stdin(&v, text),
        None => run(&v, HANG_GUARD),
    };
    run.assert_code(2);
    run.assert_no_panic();
    assert!(run.stdout.trim().is_empty(), "{}", run.dump());
    assert!(
        run.stderr.contains(&format!("telltale: {place}: ")),
        "stderr names {place}\n{}",
        run.dump()
    );
    for w in words {
        assert!(run.stderr.contains(w), "stderr says {w:?}\n{}", run.dump());
    }
    assert!(run.stderr.contains("nothing scanned"), "{}", run.dump());
    assert_eq!(canary.accepted(), 0, "nothing sent: {}", run.dump());
}

/// Refused command lines after `scan CANARY`: (arguments, stdin, where, what the message says).
const REFUSED: &[(&[&str], Option<&str>, &str, &str)] = &[
    (
        &["127.0.0.1:http"],
        None,
        "argv[2]",
        "`127.0.0.1:http`: bad port `http`, expected",
    ),
    (
        &["127.0.0.1:70000"],
        None,
        "argv[2]",
        "bad port 70000, expected 1-65535",
    ),
    (
        &["::1:80"],
        None,
        "argv[2]",
        "ambiguous IPv6: write `[::1]:80`",
    ),
    (
        &["fd00::1:22,80"],
        None,
        "argv[2]",
        "write `[fd00::1]:22,80`",
    ),
    (&["127.0.0.1:"], None, "argv[2]", "missing port after `:`"),
    (
        &["127.0.0.1"],
        None,
        "argv[2]",
        "add `:PORT` (e.g. `127.0.0.1:5432`) or pass `-p PORTS`",
    ),
    (
        &["[::1]"],
        None,
        "argv[2]",
        "add `:PORT` (e.g. `[::1]:5432`)",
    ),
    (
        &["nope.yaml"],
        None,
        "argv[2]",
        "`nope.yaml`: no such file or directory",
    ),
    (
        &["127.0.0.1:1", "0.0.0.0/0:22"],
        None,
        "argv[3]",
        "a /0 is the whole address space",
    ),
    (&["-p", "22"], None, "-p/--ports", "no target is one"),
    // Plain lists on stdin: the bad line in the middle, at the bad token's column.
    (
        &["-"],
        Some("127.0.0.1:9 open\n\n  127.0.0.1:22 opne   # typo\n127.0.0.1:23\n"),
        "<stdin>:3:16",
        "unknown verdict `opne`, expected one of: open",
    ),
    (
        &["-"],
        Some("127.0.0.1:9\n127.0.0.1:9,99999\n127.0.0.1:23\n"),
        "<stdin>:2:13",
        "bad port 99999, expected 1-65535",
    ),
    (
        &["-"],
        Some("127.0.0.1:9\n::1:80 open\n"),
        "<stdin>:2:1",
        "ambiguous IPv6",
    ),
    (
        &["-"],
        Some("127.0.0.1:9\ndb.internal open\n"),
        "<stdin>:2:1",
        "a bare host without a port",
    ),
];

#[test]
fn bad_syntax_is_refused_with_its_place_and_nothing_is_sent() {
    let mut c = Canary::new();
    let shapes =
        "expected HOST:PORT[,PORT...], [IPV6]:PORT, CIDR:PORTS, or an existing inventory file";
    for (args, stdin, place, says) in REFUSED {
        let argv = place.starts_with("argv");
        let words: &[&str] = if argv { &[says, shapes] } else { &[says] };
        refused(&mut c, args, *stdin, place, words);
    }

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("list.txt");
    std::fs::write(&f, "127.0.0.1:9\n127.0.0.1:22 open,,refused\n").unwrap();
    let (f, at) = (f.to_str().unwrap(), format!("{}:2:19", f.display()));
    for args in [&["--targets-file", f][..], &[f]] {
        refused(&mut c, args, None, &at, &["empty expectation word"]);
    }

    // probe: CIDR stays refused, and a bad port is refused, before any connect.
    let p = c.port();
    let (cidr, bad, twice) = (
        format!("127.0.0.0/30:{p}"),
        format!("{p},0"),
        format!("127.0.0.1:{p}"),
    );
    for args in [
        &["probe", &cidr][..],
        &["probe", "127.0.0.1", &bad],
        &["probe", &twice, "22"],
    ] {
        let run = run(args, HANG_GUARD);
        run.assert_code(2);
        assert!(run.stderr.contains("telltale: argv["), "{}", run.dump());
        assert!(run.stderr.contains("nothing probed"), "{}", run.dump());
        assert_eq!(c.accepted(), 0, "{}", run.dump());
    }
}

#[test]
fn help_and_man_describe_the_new_arguments() {
    let scan = run(&["scan", "--help"], HANG_GUARD);
    scan.assert_code(0);
    for want in [
        "<INVENTORY|TARGET>...",
        "TARGETS WITHOUT AN INVENTORY FILE",
        "--targets-file <FILE>",
        "-p, --ports <LIST>",
        "'[::1]:8080'",
    ] {
        assert!(
            scan.stdout.contains(want),
            "scan --help lacks {want:?}\n{}",
            scan.stdout
        );
    }
    let probe = run(&["probe", "--help"], HANG_GUARD);
    probe.assert_code(0);
    assert!(
        probe.stdout.contains("<TARGET> [PORTS]"),
        "{}",
        probe.stdout
    );
    let man = run(&["man", "scan"], HANG_GUARD);
    man.assert_code(0);
    assert!(
        man.stdout.contains("TARGETS WITHOUT AN INVENTORY FILE"),
        "{}",
        man.stdout
    );
}
