//! OpenSSH (Debian 12's sshd 9.2p1) in real-root namespaces: what the default (`service`) scan
//! says about a plain sshd (IPv4 and IPv6), one that tcp_wrappers deny (libwrap sleeps 5 s,
//! then FIN, nothing sent), and one with `MaxStartups 3:100:3` probed ten times at once on
//! one address:port, then with its pre-auth slots held by someone else. A real `ssh` client
//! is the truth for each case. Scripts: tests/lab/ssh_verdicts.sh, tests/lab/ssh_maxstartups.sh
//! (helpers in tests/lab/ssh_fns.sh).
#![allow(clippy::unwrap_used)]

mod common;

use common::daemons::{daemon_ns, require_daemons, require_root};
use common::{Ns, by_name, str_or_null as s};
use serde_json::Value;

const SSH_FNS: &str = include_str!("lab/ssh_fns.sh");
const VERDICTS: &str = include_str!("lab/ssh_verdicts.sh");
const MAX_STARTUPS: &str = include_str!("lab/ssh_maxstartups.sh");

/// The programs these cases need, with their Debian packages.
const NEEDS: &[(&str, &str)] = &[
    ("sshd", "openssh-server"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
    ("/usr/bin/python3", "python3"),
];

fn run(files: &[(&str, &str)], script: &str) -> Ns {
    require_root();
    require_daemons(NEEDS);
    daemon_ns(files, &format!("{SSH_FNS}\n{script}"))
}

fn ms(ns: &Ns, name: &str) -> u64 {
    ns.read(&format!("{name}.ms")).trim().parse().unwrap()
}

fn num(r: &Value, k: &str) -> f64 {
    r[k].as_f64()
        .unwrap_or_else(|| panic!("`{k}` is not a number: {r}"))
}

/// The real client got the server's identification line (the banner exchange happened).
const KEX_BANNER: &str = "remote software version OpenSSH_9.2p1";

/// An sshd that lets us in reads `open` with its software as the greeting, at no more wall
/// time than the 1 s linger of a plain TCP probe; a tcp_wrappers-denied one reads
/// `closed-by-peer` ~5 s after connect (it read `open` at the 1 s linger before services).
#[test]
fn sshd_open_and_libwrap_denied() {
    let ns = run(&[], VERDICTS);
    ns.assert_rc("normal", 0);
    let recs = ns.records("normal");
    for name in ["v4", "v6"] {
        let r = by_name(&recs, name);
        assert_eq!(s(r, "verdict"), "open", "{r}");
        assert_eq!(s(r, "service"), "ssh", "{r}");
        assert_eq!(s(r, "greeting"), "OpenSSH_9.2p1", "{r}");
        for k in ["reject_code", "reject_text", "reject_kind"] {
            assert!(r[k].is_null(), "{name}: `{k}` set on an open sshd: {r}");
        }
        assert!(r["closed_after_ms"].is_null(), "{r}");
        assert!(
            s(r, "banner").starts_with(r"SSH-2.0-OpenSSH_9.2p1"),
            "the banner keeps the identification line: {r}"
        );
    }
    // Before services the default scan took 1.0 s (the linger); reading the greeting must not
    // make it slower.
    let wall = ms(&ns, "normal");
    assert!(
        wall <= 1600,
        "a default scan of a plain sshd took {wall} ms (1.0 s before services)"
    );
    let open = ns.stderr("ssh_open");
    assert!(open.contains(KEX_BANNER), "real ssh client:\n{open}");

    ns.assert_rc("denied", 1);
    let recs = ns.records("denied");
    let r = by_name(&recs, "denied");
    assert_eq!(s(r, "verdict"), "closed-by-peer", "{r}");
    assert_eq!(s(r, "service"), "ssh", "{r}");
    assert!(r["greeting"].is_null(), "{r}");
    assert!(r["banner"].is_null(), "nothing is sent before the FIN: {r}");
    assert!(
        r["reject_code"].is_null(),
        "a silent close is no rejection: {r}"
    );
    let closed = num(r, "closed_after_ms");
    assert!(
        (4500.0..6000.0).contains(&closed),
        "libwrap's FIN comes 5.0 s after accept: closed_after_ms {closed}: {r}"
    );
    let wall = ms(&ns, "denied");
    assert!(
        (4500..6500).contains(&wall),
        "the probe ends at the FIN: {wall} ms"
    );
    // The real client saw the same: no identification line, the connection ended.
    let client = ns.stderr("ssh_denied");
    assert!(
        !client.contains("remote software version") && client.contains("127.0.25.3 port 22"),
        "real ssh client against the denied sshd:\n{client}"
    );
}

/// Ten records on one address:port of an sshd with `MaxStartups 3:100:3` all read `open`
/// (probes to one address:port go one at a time) and never crowd out a real login started
/// during the scan; with the slots held by three outside connections the probe reads
/// `rejected` (`MaxStartups`, capacity). Before services: 7 of 10 read `closed-by-peer`
/// (banner `Exceeded MaxStartups`) and the real ssh client was refused.
#[test]
fn sshd_max_startups() {
    let mut hosts = String::from("127.0.0.1 localhost\n::1 localhost\n127.0.25.2");
    for i in 0..10 {
        hosts.push_str(&format!(" ssh{i}.lab"));
    }
    hosts.push('\n');
    let ns = run(&[("hosts", &hosts)], MAX_STARTUPS);

    ns.assert_rc("ten", 0);
    let recs = ns.records("ten");
    assert_eq!(recs.len(), 10, "{}", ns.show("ten"));
    for r in &recs {
        assert_eq!(s(r, "addr"), "127.0.25.2", "{r}");
        assert_eq!(s(r, "verdict"), "open", "{r}");
        assert_eq!(s(r, "greeting"), "OpenSSH_9.2p1", "{r}");
        assert!(r["reject_code"].is_null(), "{r}");
    }
    let during = ns.stderr("ssh_during");
    assert!(
        during.contains(KEX_BANNER) && !during.contains("Exceeded MaxStartups"),
        "the real ssh login during the scan must reach the banner exchange:\n{during}"
    );
    assert!(
        during.contains("Permission denied"),
        "it fails at auth only:\n{during}"
    );
    assert_eq!(
        ns.read("drops_ten").trim(),
        "0",
        "sshd dropped connections past MaxStartups during the scan:\n{}",
        ns.read("ms.log")
    );
    // Ten probes in turn, each ~1 s (the linger from connect).
    let wall = ms(&ns, "ten");
    assert!(wall < 16_000, "ten serialized probes took {wall} ms");

    ns.assert_rc("full", 1);
    let held = ns.read("held.held");
    assert_eq!(held.matches("SSH-2.0-OpenSSH_9.2p1").count(), 3, "{held}");
    let recs = ns.records("full");
    let r = by_name(&recs, "full");
    assert_eq!(s(r, "verdict"), "rejected", "{r}");
    assert_eq!(s(r, "reject_code"), "MaxStartups", "{r}");
    assert_eq!(s(r, "reject_kind"), "capacity", "{r}");
    assert_eq!(s(r, "reject_text"), "Exceeded MaxStartups", "{r}");
    assert!(r["greeting"].is_null(), "{r}");
    assert!(
        ns.read("ms.log").contains("past MaxStartups"),
        "{}",
        ns.read("ms.log")
    );
}
