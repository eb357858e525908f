//! PostgreSQL 15 and Redis as they really answer (real daemons in real-root namespaces;
//! tests/lab/pg_cases.sh, tests/lab/redis_cases.sh). PostgreSQL: with `--hello`, `pg_hba.conf`
//! `reject` is `rejected` (SQLSTATE 28000, access), a password or `trust` host is `open`, a
//! full server is `rejected` (53300, capacity); without it the server waits silently (`open`);
//! and the default close (FIN) leaves no `could not receive data from client` line in the
//! server's log where every RST close does. Redis: protected mode (`-DENIED`) and
//! `maxclients` are `rejected` with or without `--hello` (written at accept), `requirepass`
//! is `open` (`-NOAUTH` to the PING).
#![allow(clippy::unwrap_used)]

mod common;

use common::daemons::{daemon_ns, require_daemons, require_root};
use common::{Ns, by_name, str_or_null as s};
use serde_json::Value;

/// One flow-style target line.
fn target(name: &str, addr: &str, port: u16, expect: &str) -> String {
    format!("  - {{name: {name}, host: \"{addr}\", port: {port}, expect: {expect}}}\n")
}

/// `targets:` and the lines.
fn inv(lines: &[String]) -> String {
    format!("targets:\n{}", lines.concat())
}

/// `files` as `daemon_ns` takes them.
fn refs<'a>(files: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    files.iter().map(|(n, c)| (*n, c.as_str())).collect()
}

/// The record of `target` in scan `scan`.
fn record(run: &Ns, scan: &str, target: &str) -> Value {
    by_name(&run.records(scan), target).clone()
}

/// The service fields every case asserts; `text` is a prefix of `reject_text` ("null" when
/// there is none), `note` a part of the detail.
struct Want<'a> {
    verdict: &'a str,
    code: &'a str,
    kind: &'a str,
    text: &'a str,
    greeting: &'a str,
    note: &'a str,
}

fn check(r: &Value, service: &str, hello: bool, w: &Want) {
    let ctx = format!("record {r}");
    assert_eq!(s(r, "verdict"), w.verdict, "{ctx}");
    assert_eq!(r["ok"], true, "{ctx}");
    assert_eq!(s(r, "service"), service, "{ctx}");
    assert_eq!(r["hello"], hello, "{ctx}");
    assert_eq!(s(r, "reject_code"), w.code, "{ctx}");
    assert_eq!(s(r, "reject_kind"), w.kind, "{ctx}");
    assert!(s(r, "reject_text").starts_with(w.text), "{ctx}");
    assert_eq!(s(r, "greeting"), w.greeting, "{ctx}");
    assert!(s(r, "detail").contains(w.note), "{ctx}");
}

/// A `rejected` want.
fn rejected<'a>(code: &'a str, kind: &'a str, text: &'a str) -> Want<'a> {
    Want {
        verdict: "rejected",
        code,
        kind,
        text,
        greeting: "null",
        note: "",
    }
}

/// An `open` want with its greeting and detail note.
fn open<'a>(greeting: &'a str, note: &'a str) -> Want<'a> {
    Want {
        verdict: "open",
        code: "null",
        kind: "null",
        text: "null",
        greeting,
        note,
    }
}

/// `pg_start`, `pg_scan`.
const PG_FNS: &str = include_str!("lab/pg_fns.sh");

/// What the PostgreSQL cases run.
const PG_NEEDS: [(&str, &str); 4] = [
    ("/usr/lib/postgresql/15/bin/postgres", "postgresql-15"),
    ("psql", "postgresql-client-15"),
    ("runuser", "util-linux"),
    ("ps", "procps"),
];

/// What PostgreSQL logs for every close by RST.
const RST_LINE: &str = "could not receive data from client: Connection reset by peer";

#[test]
fn postgres_verdicts_and_log_lines() {
    require_root();
    require_daemons(&PG_NEEDS);
    let a = |last: u8| format!("127.0.27.{last}");
    let files = [
        (
            "inv_hello.yaml",
            inv(&[
                target("reject", &a(2), 5432, "rejected"),
                target("scram", &a(3), 5432, "open"),
                target("md5", &a(4), 5432, "open"),
            ]),
        ),
        (
            "inv_silent.yaml",
            inv(&[
                target("reject", &a(2), 5432, "open"),
                target("scram", &a(3), 5432, "open"),
            ]),
        ),
        (
            "inv_style.yaml",
            inv(&[target("style", &a(6), 5432, "open")]),
        ),
        (
            "inv_full.yaml",
            inv(&[target("full", &a(5), 5432, "rejected")]),
        ),
    ];
    let run = daemon_ns(
        &refs(&files),
        &format!("{PG_FNS}\n{}", include_str!("lab/pg_cases.sh")),
    );
    let log = |scan: &str, pat: &str| {
        run.read(&format!("{scan}.log"))
            .lines()
            .filter(|l| l.contains(pat))
            .count()
    };

    // --hello: the StartupMessage's answers.
    check(
        &record(&run, "hello", "reject"),
        "postgres",
        true,
        &rejected(
            "28000",
            "access",
            "pg_hba.conf rejects connection for host \"127.0.27.2\", user \"telltale\", \
             database \"telltale\"",
        ),
    );
    for name in ["scram", "md5"] {
        check(
            &record(&run, "hello", name),
            "postgres",
            true,
            &open("PostgreSQL", "authentication required (SCRAM-SHA-256"),
        );
    }
    // What the hello costs in the log: the server's own FATAL for the rejected host; nothing
    // for the password hosts (closed before any password), and no RST line.
    let hello_log = run.read("hello.log");
    assert_eq!(
        log(
            "hello",
            "FATAL:  pg_hba.conf rejects connection for host \"127.0.27.2\""
        ),
        1,
        "{hello_log}"
    );
    assert_eq!(log("hello", "FATAL"), 1, "{hello_log}");
    assert_eq!(
        log("hello", "password authentication failed"),
        0,
        "{hello_log}"
    );
    assert_eq!(log("hello", RST_LINE), 0, "{hello_log}");

    // Without the hello PostgreSQL waits for one: silence, then `open`; a FIN, so no log line.
    for name in ["reject", "scram"] {
        check(
            &record(&run, "silent", name),
            "postgres",
            false,
            &open("null", ""),
        );
    }
    assert_eq!(
        run.read("silent.log"),
        "",
        "the silent probes' FIN close logs nothing"
    );

    // The close styles: the default logs nothing; every RST close (connect-only, the old
    // lingering probe) logs one line.
    check(
        &record(&run, "style_default", "style"),
        "postgres",
        false,
        &open("null", ""),
    );
    assert_eq!(run.read("style_default.log"), "");
    for style in ["style_connect", "style_linger"] {
        assert_eq!(
            s(&record(&run, style, "style"), "verdict"),
            "open",
            "{style}"
        );
        assert_eq!(
            log(style, RST_LINE),
            1,
            "{style}: {}",
            run.read(&format!("{style}.log"))
        );
    }

    // Every slot held: 53300 to the StartupMessage.
    check(
        &record(&run, "full", "full"),
        "postgres",
        true,
        &rejected("53300", "capacity", "sorry, too many clients already"),
    );
}

/// The `trust` host: AuthenticationOk let us in; the FATAL that follows (and the server's close)
/// is about our made-up role, not about this client's access.
#[test]
fn postgres_trust_host_is_open() {
    require_root();
    require_daemons(&PG_NEEDS);
    let files = [(
        "inv.yaml",
        inv(&[target("trust", "127.0.27.5", 5432, "open")]),
    )];
    let run = daemon_ns(
        &refs(&files),
        &format!("{PG_FNS}\n{}", include_str!("lab/pg_trust.sh")),
    );
    check(
        &record(&run, "trust", "trust"),
        "postgres",
        true,
        &open("PostgreSQL", "no password required"),
    );
    let log = run.read("trust.log");
    assert!(
        log.contains("FATAL:  role \"telltale\" does not exist"),
        "{log}"
    );
    assert!(!log.contains(RST_LINE), "{log}");
}

#[test]
fn redis_verdicts() {
    require_root();
    require_daemons(&[
        ("redis-server", "redis-server"),
        ("redis-cli", "redis-tools"),
    ]);
    let a = |last: u8| format!("127.0.28.{last}");
    let inventory = inv(&[
        target("protected", &a(2), 6379, "rejected"),
        target("full", &a(3), 6379, "rejected"),
        target("auth", &a(4), 6379, "open"),
        target("open", &a(5), 6379, "open"),
    ]);
    let run = daemon_ns(
        &[("inv.yaml", inventory.as_str())],
        include_str!("lab/redis_cases.sh"),
    );

    for (scan, hello) in [("silent", false), ("hello", true)] {
        // Written at accept, so the same with or without the PING.
        check(
            &record(&run, scan, "protected"),
            "redis",
            hello,
            &rejected(
                "DENIED",
                "access",
                "DENIED Redis is running in protected mode because protected mode is enabled \
                 and no password is set for the default user.",
            ),
        );
        check(
            &record(&run, scan, "full"),
            "redis",
            hello,
            &rejected(
                "maxclients",
                "capacity",
                "ERR max number of clients reached",
            ),
        );
    }
    // requirepass: silence until a command, then NOAUTH.
    check(
        &record(&run, "silent", "auth"),
        "redis",
        false,
        &open("null", ""),
    );
    check(
        &record(&run, "hello", "auth"),
        "redis",
        true,
        &open("Redis", "authentication required"),
    );
    check(
        &record(&run, "silent", "open"),
        "redis",
        false,
        &open("null", ""),
    );
    check(
        &record(&run, "hello", "open"),
        "redis",
        true,
        &open("Redis", "no password required"),
    );
}
