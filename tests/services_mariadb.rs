//! MariaDB 10.11 as it really answers (one `mariadbd` in real-root namespaces, name resolution
//! on, `max_connect_errors=3`, `performance_schema=ON`; tests/lab/mariadb_cases.sh): a granted
//! host is `open` with the server's version as the greeting; a host without a grant (ERR 1130)
//! and a blocked host (ERR 1129) are `rejected` for access; a full server (ERR 1040, before any
//! greeting) is `rejected` for capacity. The side effect that matters most: 20 default scans of
//! a granted host leave its `performance_schema.host_cache` connect errors at 0 and a real
//! login still works, where three scans of the old probe (`--style linger`) block the host.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::daemons::{daemon_ns, require_daemons, require_root};
use common::{Ns, by_name, str_or_null as s};
use serde_json::Value;

/// The case script.
const CASES: &str = include_str!("lab/mariadb_cases.sh");

/// Every case address by its name (reverse lookups answer from this file at once).
const HOSTS: &str = "127.0.0.1 localhost\n127.0.26.2 granted.lab\n127.0.26.3 nogrant.lab\n\
    127.0.26.4 blocked.lab\n127.0.26.5 linger.lab\n127.0.26.6 connect.lab\n\
    127.0.26.7 holder.lab\n127.0.26.8 full.lab\n";

/// A one-target inventory on 3306 (the well-known-port table makes it `mysql`).
fn inv(name: &str, last: u8, expect: &str) -> String {
    format!(
        "targets:\n  - {{name: {name}, host: \"127.0.26.{last}\", port: 3306, expect: {expect}}}\n"
    )
}

/// `files` as `daemon_ns` takes them.
fn refs<'a>(files: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    files.iter().map(|(n, c)| (*n, c.as_str())).collect()
}

/// The single record of scan `name`.
fn record(run: &Ns, name: &str, target: &str) -> Value {
    let recs = run.records(name);
    by_name(&recs, target).clone()
}

/// `hc_NAME.tsv`: host -> [SUM_CONNECT_ERRORS, COUNT_HANDSHAKE_ERRORS,
/// COUNT_HOST_BLOCKED_ERRORS, COUNT_HOST_ACL_ERRORS, COUNT_AUTHENTICATION_ERRORS].
fn host_cache(run: &Ns, name: &str) -> BTreeMap<String, Vec<u64>> {
    run.read(&format!("hc_{name}.tsv"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split('\t');
            let host = f.next().unwrap().to_string();
            (host, f.map(|n| n.trim().parse().unwrap()).collect())
        })
        .collect()
}

/// Asserts the service fields of a record.
fn assert_service(r: &Value, verdict: &str, code: &str, kind: &str, text_start: &str) {
    let ctx = format!("record {r}");
    assert_eq!(s(r, "verdict"), verdict, "{ctx}");
    assert_eq!(r["ok"], true, "{ctx}");
    assert_eq!(s(r, "service"), "mysql", "{ctx}");
    assert_eq!(s(r, "reject_code"), code, "{ctx}");
    assert_eq!(s(r, "reject_kind"), kind, "{ctx}");
    assert!(s(r, "reject_text").starts_with(text_start), "{ctx}");
    if code != "null" {
        assert_eq!(
            r["greeting"],
            Value::Null,
            "an ERR packet is no greeting: {ctx}"
        );
    }
}

#[test]
fn mariadb_verdicts_and_no_host_blocked_by_scans() {
    require_root();
    require_daemons(&[
        ("mariadbd", "mariadb-server"),
        ("mariadb", "mariadb-client"),
        ("bash", "bash"),
    ]);
    let files = [
        ("hosts", HOSTS.to_string()),
        ("inv_granted.yaml", inv("granted", 2, "open")),
        ("inv_nogrant.yaml", inv("nogrant", 3, "rejected")),
        ("inv_blocked.yaml", inv("blocked", 4, "rejected")),
        ("inv_linger.yaml", inv("linger", 5, "[open, rejected]")),
        ("inv_connect.yaml", inv("connect", 6, "open")),
        ("inv_full.yaml", inv("full", 8, "rejected")),
    ];
    let run = daemon_ns(&refs(&files), CASES);

    // A granted host: the handshake packet, 20 times; `open`, the version, authentication next.
    for i in 1..=20 {
        let r = record(&run, &format!("key{i}"), "granted");
        assert_service(&r, "open", "null", "null", "");
        assert!(
            s(&r, "greeting").starts_with("MariaDB 10.11."),
            "greeting of scan {i}: {r}"
        );
        assert!(
            s(&r, "detail").contains("authentication required"),
            "detail of scan {i}: {r}"
        );
    }
    // ... and the scans counted no connection error against the host: a real login works.
    let hc = host_cache(&run, "after_key");
    let granted = &hc["granted.lab"];
    assert_eq!(
        granted[..3],
        [0, 0, 0],
        "host_cache of granted.lab after 20 default scans (sum connect, handshake, blocked): {hc:?}"
    );
    run.assert_rc("login", 0);
    assert_eq!(run.stdout("login").trim(), "tt@granted.lab");
    // The error log: no aborted handshake from the scans; one refused login per scan, for the
    // anonymous user (the farewell's HandshakeResponse), which fail2ban's stock `mysqld-auth`
    // filter does not match (it needs a non-empty user name).
    let log = run.read("err.log");
    let lines = |pat: &str| log.lines().filter(|l| l.contains(pat)).count();
    assert_eq!(
        lines("host: 'granted.lab' (This connection closed normally without authentication)")
            + lines("host: '127.0.26.2'"),
        0,
        "aborted handshakes logged for the scanned host:\n{log}"
    );
    assert_eq!(
        lines("Access denied for user ''@'granted.lab'"),
        20,
        "one refused anonymous login per scan:\n{log}"
    );

    // No grant for the host: ERR 1130 instead of a greeting.
    let r = record(&run, "nogrant", "nogrant");
    assert_service(
        &r,
        "rejected",
        "1130",
        "access",
        "Host 'nogrant.lab' is not allowed to connect to this MariaDB server",
    );

    // A host already blocked by three greeting-then-FIN connections: ERR 1129.
    let r = record(&run, "blocked", "blocked");
    assert_service(
        &r,
        "rejected",
        "1129",
        "access",
        "Host '127.0.26.4' is blocked because of many connection errors",
    );

    // The old probe (read the greeting, linger, RST): three scans block the host.
    for n in 1..=3 {
        let r = record(&run, &format!("linger{n}"), "linger");
        assert_eq!(s(&r, "verdict"), "open", "--style linger scan {n}: {r}");
    }
    // Connect-only RST: `open` (nothing read). Whether the RST beats the server's greeting is
    // a race (MariaDB's warm thread cache usually wins it: then it counts too), so its
    // counters are printed below, not asserted.
    for n in 1..=5 {
        let r = record(&run, &format!("connect{n}"), "connect");
        assert_eq!(s(&r, "verdict"), "open", "--style connect scan {n}: {r}");
    }
    let hc = host_cache(&run, "alternatives");
    assert_eq!(
        hc["linger.lab"][..2],
        [3, 3],
        "three --style linger scans count three handshake errors: {hc:?}"
    );
    let r = record(&run, "linger_after", "linger");
    assert_service(
        &r,
        "rejected",
        "1129",
        "access",
        "Host '127.0.26.5' is blocked",
    );
    eprintln!(
        "host_cache: start {:?}; after 20 default scans {:?}; after the login {:?}; \
         after the alternatives {:?}; end {:?}",
        host_cache(&run, "start"),
        host_cache(&run, "after_key"),
        host_cache(&run, "after_login"),
        hc,
        host_cache(&run, "end"),
    );

    // Every connection slot in use (max_connections and SUPER's extra one): ERR 1040 first.
    let r = record(&run, "full", "full");
    assert_service(&r, "rejected", "1040", "capacity", "Too many connections");
}
