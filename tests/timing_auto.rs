//! `--timing auto` decision by decision, against real listeners, nft rules and a tc delay in a
//! fresh network namespace: a short wait after the first answer, a silent port confirmed by a
//! second SYN, a first SYN that is lost (the second answers: the address goes back to the full
//! timeout), a late SYN-ACK on the first socket that still counts after the second SYN went
//! out, and a provisional `filtered` probed again at the full timeout once the address turned
//! out to answer late. SYNs are counted per port with nft, so every wait is checked on the wire.
//!
//! Probes run one at a time (`-c 1`) in the inventory's order, so each case sees exactly the
//! estimate the ones before it left. The late SYN-ACK needs a path with a round trip (this
//! kernel has no `sch_netem`): the delayed link of `tests/lab/netem_link.sh`, 50 ms each way.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Ns, NsSpec, UNSHARE_PID1_PROC, ns_with_jobs, str_or_null as s};
use serde_json::Value;

/// SYN counters per case port, the drop rules, and the rule that drops only the first SYN to
/// 7001 (an nft quota of 100 bytes: the first SYN, 60 bytes, is dropped; later ones pass).
const RULES: &str = "\
table inet cnt {
  counter c7001 {}
  counter c7002 {}
  counter c7003 {}
  counter c7004 {}
  chain input {
    type filter hook input priority -10; policy accept;
    tcp dport 7001 tcp flags & (syn | ack) == syn counter name c7001
    tcp dport 7002 tcp flags & (syn | ack) == syn counter name c7002
    tcp dport 7003 tcp flags & (syn | ack) == syn counter name c7003
    tcp dport 7004 tcp flags & (syn | ack) == syn counter name c7004
  }
}
table inet lab {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 7001 tcp flags & (syn | ack) == syn quota until 100 bytes drop
    tcp dport { 7002, 7003, 7005 } drop
  }
}
";

/// Order matters: 7000 answers first (the estimate), 7002 is silent on a short wait, 7001
/// loses its first SYN (the address turns late), 7003 is silent after that.
const ORDER: &str = "\
targets:
  - {host: 127.0.0.1, port: 7000}
  - {host: 127.0.0.1, port: 7002, expect: blocked}
  - {host: 127.0.0.1, port: 7001}
  - {host: 127.0.0.1, port: 7003, expect: blocked}
";

const BODY: &str = r#"
lab_start one --ip 127.0.0.1 --open 7000,7001
A="--timing auto --timeout 900ms --retries 0 --linger 0 -c 1 --per-host 1 --no-detect-wildcard --no-progress --format ndjson"
run_to order "$T" scan order.yaml $A
for c in c7001 c7002 c7003; do packets $c; done
"#;

fn run() -> &'static Ns {
    static RUN: std::sync::OnceLock<Ns> = std::sync::OnceLock::new();
    RUN.get_or_init(|| ns_with_jobs(&[("rules.nft", RULES), ("order.yaml", ORDER)], BODY))
}

fn port(recs: &[Value], p: u64) -> Value {
    recs.iter()
        .find(|r| r["port"] == p)
        .cloned()
        .unwrap_or_else(|| panic!("no record of port {p}: {recs:?}"))
}

fn waits(r: &Value) -> Vec<u64> {
    r["waits_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_u64().unwrap())
        .collect()
}

#[test]
fn short_waits_are_confirmed_and_late_answers_send_the_address_back_to_the_full_timeout() {
    let ns = run();
    ns.assert_rc("order", 0);
    let recs = ns.records("order");
    assert_eq!(recs.len(), 4, "{}", ns.show("order"));
    for r in &recs {
        assert_eq!(s(r, "timing"), "auto", "{r}");
    }

    // The first probe has no estimate: the full timeout, and it is the sample.
    let first = port(&recs, 7000);
    assert_eq!(s(&first, "verdict"), "open", "{first}");
    assert_eq!(waits(&first), [900], "{first}");
    assert!(first["srtt_ms"].is_null(), "{first}");

    // A late answer (7001's first SYN lost, the second answered) came after 7002's short wait:
    // 7002 was held and probed again at the full timeout. Wire: short SYN, confirming SYN,
    // recheck SYN.
    let held = port(&recs, 7002);
    assert_eq!(s(&held, "verdict"), "filtered", "{held}");
    assert_eq!(waits(&held), [100, 200, 900], "{held}");
    assert_eq!(held["attempts"], 3, "{held}");
    assert!(s(&held, "detail").contains("rechecked"), "{held}");
    let srtt = held["srtt_ms"].as_f64().unwrap();
    assert!(srtt > 0.0 && srtt < 5.0, "a loopback srtt: {held}");
    assert_eq!(ns.packets("c7002", 0), 3, "SYNs to 7002");

    // The lost first SYN: the second, sent when the 100 ms wait expired, is answered.
    let lost = port(&recs, 7001);
    assert_eq!(s(&lost, "verdict"), "open", "{lost}");
    assert_eq!(waits(&lost), [100, 200], "{lost}");
    assert_eq!(ns.packets("c7001", 0), 2, "SYNs to 7001");

    // After the late answer the address waits the full timeout, with no confirmation.
    let after = port(&recs, 7003);
    assert_eq!(s(&after, "verdict"), "filtered", "{after}");
    assert_eq!(waits(&after), [900], "{after}");
    assert_eq!(ns.packets("c7003", 0), 1, "SYNs to 7003");
}

/// In the targets' namespace: the first two SYN-ACKs from 7004 are dropped (a 150-byte quota,
/// 60 bytes each), later ones pass.
const LATE_RULES: &str = "\
table inet late {
  chain output {
    type filter hook output priority 0; policy accept;
    tcp sport 7004 tcp flags & (syn | ack) == syn | ack quota until 150 bytes drop
  }
}
";

/// 7000 gives the estimate (a 100 ms round trip: first wait srtt + 4·rttvar = 500 ms), then
/// 7004, then 7005 (nothing listens).
const LATE: &str = "\
targets:
  - {host: 127.2.0.1, port: 7000}
  - {host: 127.2.0.1, port: 7004}
  - {host: 127.2.0.1, port: 7005, expect: refused}
";

/// The delayed link: the scanner here, the targets in a second namespace.
const NS_LINK: NsSpec = NsSpec {
    timeout: &["-s", "KILL", "120"],
    unshare: UNSHARE_PID1_PROC,
    tools: &["unshare", "nsenter", "nft", "ip", "python3"],
    lab_ready_secs: 20,
    telltale_on_path: false,
};

#[test]
fn a_late_syn_ack_on_the_first_socket_still_counts() {
    let body = format!(
        "{}\nlink_up\nlink_profile 1 50 0 0\nlab_b lab --ip 127.2.0.1 --open 7000,7004\n\
         in_b nft -f late.nft\n\
         scan late late.yaml --timing auto --timeout 3s --retries 0 --linger 0 -c 1 --per-host 1 \
         --no-detect-wildcard --no-progress --format ndjson\n",
        include_str!("lab/netem_link.sh")
    );
    let ns = NS_LINK.run(
        &[
            ("late.nft", LATE_RULES),
            ("late.yaml", LATE),
            ("netem_link.py", include_str!("lab/netem_link.py")),
        ],
        &body,
    );
    ns.assert_rc("late", 0);
    let recs = ns.records("late");
    let est = port(&recs, 7000);
    let rtt = est["connect_ms"].as_f64().unwrap();
    assert!((95.0..200.0).contains(&rtt), "the link's round trip: {est}");
    // Timeline: the first SYN at 0 and its SYN-ACK dropped; the second SYN at ~500 ms and its
    // SYN-ACK dropped; the first connection's SYN-ACK is resent 1 s after the first and
    // arrives at ~1,100 ms, inside the window (500 + 1,000 ms); the second's would arrive at
    // ~1,600 ms, after it. Only the first socket, kept open, can give `open`.
    let r = port(&recs, 7004);
    assert_eq!(s(&r, "verdict"), "open", "{r}");
    let w = waits(&r);
    assert_eq!(w.len(), 2, "a short wait and its confirmation: {r}");
    // Whole ms, each rounded up: twice the wait may read one less.
    assert!(
        (400..700).contains(&w[0]) && w[1].abs_diff(2 * w[0]) <= 1,
        "{r}"
    );
    // The answer came late: the address waits the full timeout from then on.
    let after = port(&recs, 7005);
    assert_eq!(s(&after, "verdict"), "refused", "{after}");
    assert_eq!(waits(&after), [3000], "{after}");
}
