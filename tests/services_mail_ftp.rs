//! Service-aware verdicts against real mail and FTP daemons (issue 7): Debian 12's Postfix 3.7
//! (smtpd and postscreen) and vsftpd 3.0.3, each started once in its own real-root net, mount
//! and pid namespaces (tests/common/daemons.rs; set-up in tests/lab/postfix_lab.sh and
//! tests/lab/vsftpd_lab.sh), one scan over many case addresses. Each case asserts the verdict,
//! `reject_code`, `reject_text`, `reject_kind` and `greeting`, and the daemon's own log shows
//! what the probe did to it: Postfix logs a clean `QUIT` (`disconnect from ... quit=1`) for the
//! default `--style service` instead of the `lost connection after CONNECT` of a bare linger,
//! and postscreen never sees a command sent into its unfinished `220-` greeting (`PREGREET`).
//!
//! The wire (tcpdump on lo in these namespaces) showed, per case: Postfix greets
//! `220 mx.lab ESMTP Postfix (Debian/GNU)`; an access rule at connect time answers `554 5.7.1
//! <unknown[A]>: Client host rejected: Access denied` and keeps the session until QUIT (`221
//! 2.0.0 Bye`); a connection limit sends `421 4.7.0 mx.lab Error: too many connections from A`
//! and FIN; postscreen's denylist with `drop` sends `521 5.3.2 Service currently unavailable`
//! and FIN; postscreen otherwise sends `220-...` at once and the final `220 ` line 6 s later.
//! vsftpd greets `220 (vsFTPd 3.0.3)`; hosts.deny gets `421 Service not available.`, max_per_ip
//! `421 There are too many connections from your internet address.`, max_clients `421 There
//! are too many connected users, please try later.`, a config that allows no login `500 OOPS:
//! vsftpd: both local and anonymous access disabled!`, each followed by FIN.
#![allow(clippy::unwrap_used)]

mod common;

use common::daemons::{daemon_ns, require_daemons, require_root};
use common::{Ns, by_name, show, str_or_null as s};
use serde_json::Value;

const POSTFIX_LAB: &str = include_str!("lab/postfix_lab.sh");
const VSFTPD_LAB: &str = include_str!("lab/vsftpd_lab.sh");

/// `hold_conn NAME ADDR PORT SECS`: a background bash holds one connection to ADDR:PORT for
/// SECS seconds; returns once the server's greeting is in NAME.held (it has counted us then).
const HOLD_CONN: &str = r#"
hold_conn() {
    bash -c "exec 3<>/dev/tcp/$2/$3; timeout $4 cat <&3" > "$1.held" 2>&1 &
    i=0
    while [ ! -s "$1.held" ]; do
        i=$((i + 1))
        if [ "$i" -gt 200 ]; then echo "hold_conn $1: no greeting from $2:$3" >&2; exit 94; fi
        sleep 0.05
    done
}
"#;

/// One inventory target: `(name, host, port, service or "", expect)`.
fn inventory(targets: &[(&str, &str, u16, &str, &str)]) -> String {
    let mut inv = String::from("targets:\n");
    for (name, host, port, service, expect) in targets {
        inv.push_str(&format!(
            "  - name: {name}\n    host: \"{host}\"\n    ports: \"{port}\"\n    expect: {expect}\n"
        ));
        if !service.is_empty() {
            inv.push_str(&format!("    service: {service}\n"));
        }
    }
    inv
}

/// A case's want: verdict, reject_code, reject_text, reject_kind, greeting ("null" = null).
type Want<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// Asserts the service fields of the record named `name` (and that it is as expected).
fn check(recs: &[Value], name: &str, want: Want) {
    let r = by_name(recs, name);
    let got = (
        s(r, "verdict"),
        s(r, "reject_code"),
        s(r, "reject_text"),
        s(r, "reject_kind"),
        s(r, "greeting"),
    );
    assert_eq!(got, want, "{name}: {r}\nall records:\n{}", show(recs));
    assert_eq!(r["ok"], true, "{name}: not as expected: {r}");
}

/// The log lines of `file` in the run dir that mention `[addr]`.
fn log_lines(run: &Ns, file: &str, addr: &str) -> Vec<String> {
    let needle = format!("[{addr}]");
    run.read(file)
        .lines()
        .filter(|l| l.contains(&needle))
        .map(String::from)
        .collect()
}

fn postfix_needs() {
    require_root();
    require_daemons(&[
        ("postfix", "postfix"),
        ("postconf", "postfix"),
        ("bash", "bash"),
    ]);
}

#[test]
fn postfix_smtpd_and_postscreen() {
    postfix_needs();
    let inv = inventory(&[
        ("plain", "127.0.25.1", 25, "", "open"),
        ("plain6", "::1", 25, "", "open"),
        ("cidr-reject", "127.0.25.2", 25, "", "rejected"),
        ("conn-limit", "127.0.25.3", 25, "", "rejected"),
        ("postscreen-drop", "127.0.25.4", 25, "", "rejected"),
        ("reject-delayed", "127.0.25.5", 25, "", "open"),
        ("reject-now", "127.0.25.6", 25, "", "rejected"),
        ("postscreen-default-wait", "127.0.25.7", 25, "", "open"),
        ("submission", "127.0.25.9", 25, "submission", "open"),
    ]);
    let pass8 = inventory(&[("postscreen-8s", "127.0.25.8", 25, "", "open")]);
    let style = |n: u8, st: &str| inventory(&[(st, &format!("127.0.25.1{n}"), 25, "", "open")]);
    let (service, linger, connect) = (style(1, "service"), style(2, "linger"), style(3, "connect"));
    let files = [
        ("cases.yaml", inv.as_str()),
        ("pass8.yaml", pass8.as_str()),
        ("service.yaml", service.as_str()),
        ("linger.yaml", linger.as_str()),
        ("connect.yaml", connect.as_str()),
    ];
    let body = format!(
        r#"{POSTFIX_LAB}
{HOLD_CONN}
postfix_start
hold_conn conn3 127.0.25.3 25 40
# All at once: every case address has its own smtpd (or postscreen).
(scan cases --format ndjson cases.yaml) &
jobs="$!"
(scan pass8 --format ndjson --greeting-wait 8s pass8.yaml) &
jobs="$jobs $!"
for st in service linger connect; do
    (scan "$st" --format ndjson --style "$st" "$st.yaml") &
    jobs="$jobs $!"
done
for j in $jobs; do wait "$j"; done
# smtpd logs `disconnect from` when a session ends, postscreen `DISCONNECT` when it drops one.
for a in 1 2 3 5 6 8 9 11 12; do maillog_wait "disconnect from unknown\[127.0.25.$a\]"; done
# A connect-only RST can beat smtpd's getpeername(): it then logs the client as `unknown`.
maillog_wait "disconnect from unknown\[(127.0.25.13|unknown)\]"
maillog_wait "disconnect from unknown\[::1\]"
maillog_wait "DISCONNECT \[127.0.25.4\]"
maillog_wait "DISCONNECT \[127.0.25.7\]|disconnect from unknown\[127.0.25.7\]"
cp "$PF/maillog" maillog
"#
    );
    let run = daemon_ns(&files, &body);
    for scan in ["cases", "pass8", "service", "linger", "connect"] {
        run.assert_rc(scan, 0);
    }
    let mut recs = run.records("cases");
    let g = "Postfix ESMTP";
    #[rustfmt::skip]
    let cases: [(&str, Want); 10] = [
        ("plain", ("open", "null", "null", "null", g)),
        ("plain6", ("open", "null", "null", "null", g)),
        ("submission", ("open", "null", "null", "null", g)),
        ("cidr-reject", ("rejected", "554",
            "554 5.7.1 <unknown[127.0.25.2]>: Client host rejected: Access denied", "access", "null")),
        ("reject-now", ("rejected", "554",
            "554 5.7.1 <unknown[127.0.25.6]>: Client host rejected: Access denied", "access", "null")),
        ("conn-limit", ("rejected", "421",
            "421 4.7.0 mx.lab Error: too many connections from 127.0.25.3", "capacity", "null")),
        ("postscreen-drop", ("rejected", "521",
            "521 5.3.2 Service currently unavailable", "access", "null")),
        // At Postfix's default smtpd_delay_reject = yes, `smtpd_client_restrictions = reject`
        // greets like any smtpd: the refusal only comes at RCPT TO, which a probe never sends.
        ("reject-delayed", ("open", "null", "null", "null", g)),
        // postscreen's last greeting line comes 6 s (its greet wait) after its `220-`: at the
        // default 6 s greeting wait the probe may see only the first line.
        ("postscreen-default-wait", ("open", "null", "null", "null", g)),
        ("postscreen-8s", ("open", "null", "null", "null", g)),
    ];
    recs.extend(run.records("pass8"));
    for (name, want) in cases {
        check(&recs, name, want);
    }

    // What Postfix logged for each probe.
    let log = |a: &str| log_lines(&run, "maillog", a);
    let joined = |a: &str| log(a).join("\n");
    let clean = ["1", "2", "5", "6", "8", "9", "11"].map(|n| format!("127.0.25.{n}"));
    for a in clean.iter().map(String::as_str).chain(["::1"]) {
        let l = joined(a);
        assert!(
            l.contains(&format!("disconnect from unknown[{a}] quit=1 commands=1")),
            "--style service: no clean QUIT from {a} in the maillog:\n{l}"
        );
        assert!(!l.contains("lost connection"), "{a}:\n{l}");
        assert!(!l.contains("improper command pipelining"), "{a}:\n{l}");
    }
    let l = joined("127.0.25.12");
    assert!(
        l.contains("lost connection after CONNECT from unknown[127.0.25.12]"),
        "--style linger: the old close:\n{l}"
    );
    let l = format!("{}\n{}", joined("127.0.25.13"), joined("unknown"));
    assert!(
        l.contains("lost connection after CONNECT from unknown["),
        "--style connect: the RST close:\n{l}"
    );
    assert!(!l.contains("quit=1"), "--style connect:\n{l}");
    // No command into postscreen's unfinished `220-` greeting, at either wait.
    for a in ["127.0.25.7", "127.0.25.8"] {
        let l = joined(a);
        assert!(!l.contains("PREGREET"), "{a}: the probe talked first:\n{l}");
        assert!(!l.contains("COMMAND"), "{a}:\n{l}");
    }
    // The limit case: Postfix counted the held connection and refused the probe.
    let l = joined("127.0.25.3");
    assert!(
        l.contains("Connection concurrency limit exceeded: 2"),
        "{l}"
    );
    eprintln!("maillog per probe style:\n{}", run.read("maillog"));
}

#[test]
fn vsftpd_tcp_wrappers_and_limits() {
    require_root();
    require_daemons(&[("vsftpd", "vsftpd"), ("bash", "bash")]);
    let inv = inventory(&[
        ("allowed", "127.0.21.1", 21, "", "open"),
        ("wrapped", "127.0.21.2", 21, "", "rejected"),
        ("per-ip", "127.0.21.3", 21, "", "rejected"),
        ("max-clients", "127.0.21.4", 2121, "ftp", "rejected"),
        ("oops", "127.0.21.1", 2122, "ftp", "rejected"),
    ]);
    let body = format!(
        r#"{VSFTPD_LAB}
{HOLD_CONN}
vsftpd_start
hold_conn per-ip 127.0.21.3 21 30
hold_conn clients 127.0.21.5 2121 30
scan cases --format ndjson cases.yaml
cat "$FTP"/vsftpd1.log "$FTP"/vsftpd2.log > vsftpd.log
"#
    );
    let run = daemon_ns(&[("cases.yaml", inv.as_str())], &body);
    run.assert_rc("cases", 0);
    let recs = run.records("cases");
    let g = "(vsFTPd 3.0.3)";
    check(&recs, "allowed", ("open", "null", "null", "null", g));
    let wrapped = "421 Service not available.";
    check(
        &recs,
        "wrapped",
        ("rejected", "421", wrapped, "access", "null"),
    );
    let per_ip = "421 There are too many connections from your internet address.";
    check(
        &recs,
        "per-ip",
        ("rejected", "421", per_ip, "capacity", "null"),
    );
    let clients = "421 There are too many connected users, please try later.";
    check(
        &recs,
        "max-clients",
        ("rejected", "421", clients, "capacity", "null"),
    );
    let oops = "500 OOPS: vsftpd: both local and anonymous access disabled!";
    check(&recs, "oops", ("rejected", "500", oops, "capacity", "null"));

    // vsftpd's protocol log: the allowed probe said QUIT after the greeting and got 221.
    let log = run.read("vsftpd.log");
    let quit = "FTP command: Client \"127.0.21.1\", \"QUIT\"";
    assert!(log.contains(quit), "no QUIT in vsftpd's log:\n{log}");
    assert!(log.contains("\"221 Goodbye.\""), "{log}");
    assert!(
        log.contains("Connection refused: tcp_wrappers denial."),
        "{log}"
    );
    eprintln!("vsftpd log:\n{log}");
}
