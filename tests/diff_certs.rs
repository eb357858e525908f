//! `diff` and `scan --baseline` on a real TLS server whose certificate is swapped: an
//! `openssl s_server` in a namespace serves a 90-day certificate, is scanned twice with
//! `--hello --cert-min-days 14` (NDJSON), then serves a 3-day certificate of the same subject
//! and issuer and is scanned again. `diff old new` must report the changed certificate
//! (not-after, old → new) and the expiry that crossed the 14 days, in the table and in both
//! machine formats, with exit 1; `diff old same` must report nothing. The certificates are
//! made by the test (tests/lab/tls_certs.sh); the truth of the served not-after is taken from
//! a real client (`openssl s_client`) in the same run.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::OnceLock;

use common::daemons::{daemon_ns, require_daemons, require_root};
use common::*;
use serde_json::Value;

const CERTS: &str = include_str!("lab/tls_certs.sh");

const INVENTORY: &str = r#"targets:
  - {name: web, host: "127.0.30.1", port: 443, service: tls, expect: open}
"#;

const BODY: &str = r#"
. ./tls_certs.sh
tls_ca
tls_leaf long 90
tls_leaf soon 3
addr_add 127.0.30.1
flags='--hello --cert-min-days 14 --no-progress'
# serve NAME: openssl s_server with NAME.pem on 127.0.30.1:443; its pid in server.pid.
serve() {
    openssl s_server -quiet -accept 127.0.30.1:443 -cert "$1.pem" -key "$1.key" -www \
        > "s_$1.log" 2>&1 &
    echo $! > server.pid
    wait_port 127.0.30.1 443
}
# served NAME: what a real client is served, as `notAfter=... subject=...` (iso 8601).
served() {
    run_to "$1" sh -c 'openssl s_client -connect 127.0.30.1:443 </dev/null 2>/dev/null |
        openssl x509 -noout -enddate -subject -dateopt iso_8601'
}

serve long
served served_long
scan old inv.yaml $flags --format ndjson
scan same inv.yaml $flags --format ndjson
kill "$(cat server.pid)"
wait "$(cat server.pid)" 2>/dev/null || true
serve soon
served served_soon
scan new inv.yaml $flags --format ndjson
# The same sweep with the old report as its baseline: the drift under the table.
scan baseline inv.yaml $flags --baseline old.out

run_to diff "$TELLTALE" diff old.out new.out
run_to diff_json "$TELLTALE" diff old.out new.out --format json
run_to diff_ndjson "$TELLTALE" diff old.out new.out --format ndjson
run_to nodiff "$TELLTALE" diff old.out same.out
run_to nodiff_json "$TELLTALE" diff old.out same.out --format json
"#;

/// The one namespace run of this file.
fn lab() -> &'static Ns {
    static NS: OnceLock<Ns> = OnceLock::new();
    NS.get_or_init(|| {
        require_root();
        require_daemons(&[("openssl", "openssl")]);
        daemon_ns(&[("tls_certs.sh", CERTS), ("inv.yaml", INVENTORY)], BODY)
    })
}

/// The `tls` object of the one record of `scan`.
fn tls(scan: &str) -> Value {
    let recs = lab().records(scan);
    let r = by_name(&recs, "web");
    assert_verdict(r, "open");
    r["tls"].clone()
}

/// The not-after a real client was served, as the record writes it (RFC 3339 UTC).
fn served_not_after(name: &str) -> String {
    let out = lab().stdout(name);
    let date = out
        .lines()
        .find_map(|l| l.strip_prefix("notAfter="))
        .unwrap_or_else(|| panic!("no notAfter from openssl s_client:\n{}", lab().show(name)));
    date.replacen(' ', "T", 1)
}

/// The drift's changes as (kind, old, new, detail), from `diff --format ndjson`.
fn changes(text: &str) -> Vec<(String, String, String, String)> {
    let field = |c: &Value, k: &str| c[k].as_str().unwrap_or("null").to_string();
    parse_ndjson(text)
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(
                (c["name"].as_str(), c["addr"].as_str(), c["port"].as_u64()),
                (Some("web"), Some("127.0.30.1"), Some(443)),
                "{c}"
            );
            (
                field(c, "kind"),
                field(c, "old"),
                field(c, "new"),
                field(c, "detail"),
            )
        })
        .collect()
}

#[test]
fn the_scans_saw_the_certificates_a_real_client_was_served() {
    let (long, soon) = (tls("old"), tls("new"));
    assert_eq!(long["not_after"], served_not_after("served_long"), "{long}");
    assert_eq!(soon["not_after"], served_not_after("served_soon"), "{soon}");
    assert_eq!(
        long["subject"], soon["subject"],
        "same subject: {long} {soon}"
    );
    assert_eq!(long["issuer"], soon["issuer"], "same issuer: {long} {soon}");
    assert_eq!(
        long["min_days"], 14,
        "the threshold the scan applied: {long}"
    );
    assert_eq!(soon["min_days"], 14, "{soon}");
    assert!(
        (89..=90).contains(&long["days_left"].as_i64().unwrap()),
        "{long}"
    );
    assert!(
        (2..=3).contains(&soon["days_left"].as_i64().unwrap()),
        "{soon}"
    );
    // The rescan saw the same certificate (its days left may be one less: a second later).
    let same = tls("same");
    for k in ["subject", "issuer", "not_after", "min_days"] {
        assert_eq!(same[k], long[k], "{k}: {same} {long}");
    }
}

#[test]
fn diff_reports_the_changed_certificate_and_the_crossed_expiry() {
    let run = lab();
    run.assert_rc("diff_ndjson", 1);
    let (long, soon) = (tls("old"), tls("new"));
    let got = changes(&run.stdout("diff_ndjson"));
    let kinds: Vec<&str> = got.iter().map(|c| c.0.as_str()).collect();
    // The new certificate is also under --cert-min-days: the record is newly not as expected.
    assert_eq!(
        kinds,
        ["newly-failing", "cert-changed", "cert-expiring"],
        "{got:?}"
    );
    let (_, old, new, detail) = &got[1];
    assert_eq!(
        *old,
        format!("expires {}", long["not_after"].as_str().unwrap())
    );
    assert_eq!(
        *new,
        format!("expires {}", soon["not_after"].as_str().unwrap())
    );
    assert!(
        detail.contains("same subject CN=lab.test and issued by CN=Telltale Lab CA"),
        "{detail}"
    );
    let (_, old, new, detail) = &got[2];
    assert_eq!(*old, format!("{} days left", long["days_left"]));
    assert_eq!(*new, format!("{} days left", soon["days_left"]));
    assert!(detail.contains("under the 14 days required"), "{detail}");
    let (_, old, new, detail) = &got[0];
    assert_eq!((old.as_str(), new.as_str()), ("open", "open"));
    assert_eq!(
        *detail,
        format!(
            "expected open; still open, but the certificate has {} days left, under the 14 \
             days required",
            soon["days_left"]
        )
    );
}

#[test]
fn the_json_document_counts_both_kinds() {
    let run = lab();
    run.assert_rc("diff_json", 1);
    let doc: Value = serde_json::from_str(&run.stdout("diff_json")).unwrap();
    assert_eq!(doc["counts"]["cert-changed"], 1, "{doc}");
    assert_eq!(doc["counts"]["cert-expiring"], 1, "{doc}");
    assert_eq!(doc["targets_changed"], 1, "{doc}");
    let kinds: Vec<&str> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"cert-changed") && kinds.contains(&"cert-expiring"),
        "{doc}"
    );
}

#[test]
fn the_table_shows_old_and_new_under_their_headings() {
    let run = lab();
    run.assert_rc("diff", 1);
    let (long, soon) = (tls("old"), tls("new"));
    let table = run.stdout("diff");
    for heading in ["certificate changed (1)", "certificate expiring (1)"] {
        assert!(table.lines().any(|l| l == heading), "{heading}:\n{table}");
    }
    let arrow = format!(
        "expires {} → expires {}",
        long["not_after"].as_str().unwrap(),
        soon["not_after"].as_str().unwrap()
    );
    assert!(table.contains(&arrow), "{arrow}:\n{table}");
    let days = format!(
        "{} days left → {} days left",
        long["days_left"], soon["days_left"]
    );
    assert!(table.contains(&days), "{days}:\n{table}");
    assert!(
        table.contains(
            "1 target changed: 1 newly failing + certificate changed + certificate expiring"
        ),
        "{table}"
    );
}

#[test]
fn scan_baseline_reports_the_same_drift() {
    let run = lab();
    // The 3-day certificate is not as expected with --cert-min-days 14: exit 1 either way.
    run.assert_rc("baseline", 1);
    let out = run.stdout("baseline");
    let drift = out
        .split_once("DRIFT since old.out")
        .unwrap_or_else(|| panic!("no drift section:\n{out}"))
        .1;
    for heading in ["certificate changed (1)", "certificate expiring (1)"] {
        assert!(drift.lines().any(|l| l == heading), "{heading}:\n{out}");
    }
}

#[test]
fn an_unchanged_rescan_is_no_drift() {
    let run = lab();
    run.assert_rc("nodiff", 0);
    assert_eq!(run.stdout("nodiff"), "no drift\n");
    run.assert_rc("nodiff_json", 0);
    let doc: Value = serde_json::from_str(&run.stdout("nodiff_json")).unwrap();
    assert_eq!(doc["counts"]["cert-changed"], 0, "{doc}");
    assert_eq!(doc["counts"]["cert-expiring"], 0, "{doc}");
}
