//! xinetd (Debian 12's 2.3.15) in a real-root namespace, launching `sshd -i`: an allowed
//! service, `only_from` denials (accept, then a FIN with nothing sent), the same with
//! `banner_fail` text, a `421` banner_fail on the FTP port, and a denied port with no protocol.
//! What the default (`service`) scan says of each. Script: tests/lab/xinetd_cases.sh.
#![allow(clippy::unwrap_used)]

mod common;

use common::daemons::{daemon_ns, require_daemons, require_root};
use common::{by_name, str_or_null as s};
use serde_json::Value;

const SSH_FNS: &str = include_str!("lab/ssh_fns.sh");
const CASES: &str = include_str!("lab/xinetd_cases.sh");

fn closed_fast(r: &Value) {
    let after = r["closed_after_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no closed_after_ms: {r}"));
    assert!(after < 1000.0, "xinetd closes at once: {r}");
}

#[test]
fn xinetd_only_from_and_banner_fail() {
    require_root();
    require_daemons(&[
        ("xinetd", "xinetd"),
        ("sshd", "openssh-server"),
        ("ssh", "openssh-client"),
        ("ssh-keygen", "openssh-client"),
    ]);
    let ns = daemon_ns(&[], &format!("{SSH_FNS}\n{CASES}"));
    ns.assert_rc("x", 1);
    let recs = ns.records("x");
    assert_eq!(recs.len(), 5, "{}", ns.show("x"));

    // Allowed: xinetd hands the connection to `sshd -i`, which greets.
    let r = by_name(&recs, "ssh_ok");
    assert_eq!(s(r, "verdict"), "open", "{r}");
    assert_eq!(s(r, "service"), "ssh", "{r}");
    assert_eq!(s(r, "greeting"), "OpenSSH_9.2p1", "{r}");
    assert!(r["reject_code"].is_null(), "{r}");
    let client = ns.stderr("ssh_client");
    assert!(
        client.contains("remote software version OpenSSH_9.2p1"),
        "real ssh client through xinetd:\n{client}"
    );

    // only_from: accept, then FIN, nothing sent: a silent close, not a rejection.
    for (name, service) in [("ssh_denied", "ssh"), ("tcp_denied", "tcp")] {
        let r = by_name(&recs, name);
        assert_eq!(s(r, "verdict"), "closed-by-peer", "{r}");
        assert_eq!(s(r, "service"), service, "{r}");
        assert!(r["banner"].is_null() && r["greeting"].is_null(), "{r}");
        assert!(
            r["reject_code"].is_null() && r["reject_kind"].is_null(),
            "{r}"
        );
        closed_fast(r);
    }

    // banner_fail text that is no SSH identification: still a close, the words kept.
    let r = by_name(&recs, "ssh_banner");
    assert_eq!(s(r, "verdict"), "closed-by-peer", "{r}");
    assert_eq!(s(r, "banner"), r"Access denied by xinetd\r\n", "{r}");
    assert!(r["greeting"].is_null() && r["reject_code"].is_null(), "{r}");
    closed_fast(r);

    // banner_fail in the FTP service's own words: a rejection (it was `closed-by-peer`
    // before services).
    let r = by_name(&recs, "ftp_421");
    assert_eq!(s(r, "service"), "ftp", "{r}");
    assert_eq!(s(r, "verdict"), "rejected", "{r}");
    assert_eq!(s(r, "reject_code"), "421", "{r}");
    assert_eq!(
        s(r, "reject_text"),
        "421 Service not available: access denied",
        "{r}"
    );
    assert_eq!(s(r, "reject_kind"), "access", "{r}");
    assert_eq!(
        s(r, "banner"),
        r"421 Service not available: access denied\r\n",
        "{r}"
    );

    // xinetd's own log agrees: one START for each, FAIL for the four denied.
    let log = ns.read("xinetd.svc.log");
    for name in ["ssh_denied", "ssh_banner", "ftp_421", "tcp_denied"] {
        assert!(log.contains(&format!("FAIL: {name} address")), "{log}");
    }
    assert!(!log.contains("FAIL: ssh_ok"), "{log}");
    // No slow path: the whole scan ends about when the allowed sshd's linger does.
    let wall: u64 = ns.read("x.ms").trim().parse().unwrap();
    assert!(wall < 2500, "scan took {wall} ms");
}
