//! TLS and HTTPS probes (`--hello`) against real TLS servers in a namespace: nginx with ssl
//! (HTTPS, a 90-day certificate), and `openssl s_server` with a certificate expiring in 3 days,
//! with a required client certificate (TLS 1.3 and TLS 1.2), and with a fatal SNI mismatch.
//! The certificates are made by the test (tests/lab/tls_certs.sh: a CA outside the system
//! roots, and leaves signed by it). One namespace run serves every test of this file; the truth
//! of each refusal is also taken from a real client (`openssl s_client`) in the same run.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::OnceLock;

use common::daemons::{daemon_ns, require_daemons, require_root};
use common::*;
use serde_json::Value;

const CERTS: &str = include_str!("lab/tls_certs.sh");

/// The targets: names resolve through the namespace's own /etc/hosts.
const INVENTORY: &str = r#"targets:
  - {name: https_valid, host: lab.test, port: 443, expect: open}
  - {name: tls_soon, host: "127.0.30.2", port: 443, service: tls, expect: open}
  - {name: tls_client_cert13, host: "127.0.30.3", port: 443, service: tls, expect: rejected}
  - {name: tls_client_cert12, host: "127.0.30.4", port: 443, service: tls, expect: rejected}
  - {name: tls_sni_wrong, host: other.test, port: 443, service: tls, expect: rejected}
  - {name: tls_sni_none, host: "127.0.30.5", port: 443, service: tls, expect: open}
"#;

const HOSTS: &str = "127.0.0.1 localhost\n127.0.30.1 lab.test\n127.0.30.5 other.test\n";

const BODY: &str = r#"
. ./tls_certs.sh
tls_ca
tls_leaf valid 90
tls_leaf soon 3
addr_add 127.0.30.1 127.0.30.2 127.0.30.3 127.0.30.4 127.0.30.5
mkdir -p nginx/logs nginx/tmp
cat > nginx.conf <<EOF
daemon off;
worker_processes 1;
pid $LAB_DIR/nginx/nginx.pid;
error_log $LAB_DIR/nginx/logs/error.log info;
events { worker_connections 64; }
http {
    access_log $LAB_DIR/nginx/logs/access.log;
    client_body_temp_path $LAB_DIR/nginx/tmp/body;
    proxy_temp_path $LAB_DIR/nginx/tmp/proxy;
    fastcgi_temp_path $LAB_DIR/nginx/tmp/fastcgi;
    uwsgi_temp_path $LAB_DIR/nginx/tmp/uwsgi;
    scgi_temp_path $LAB_DIR/nginx/tmp/scgi;
    server {
        listen 127.0.30.1:443 ssl;
        server_name lab.test;
        ssl_certificate $LAB_DIR/valid.pem;
        ssl_certificate_key $LAB_DIR/valid.key;
        location / { return 200 "hello\n"; }
    }
}
EOF
nginx -p "$LAB_DIR/nginx" -c "$LAB_DIR/nginx.conf" -e "$LAB_DIR/nginx/logs/early.log" &
openssl s_server -quiet -accept 127.0.30.2:443 -cert soon.pem -key soon.key -www > s2.log 2>&1 &
openssl s_server -quiet -accept 127.0.30.3:443 -cert valid.pem -key valid.key \
    -Verify 1 -CAfile ca.pem -www > s3.log 2>&1 &
openssl s_server -quiet -accept 127.0.30.4:443 -cert valid.pem -key valid.key \
    -Verify 1 -CAfile ca.pem -no_tls1_3 -www > s4.log 2>&1 &
openssl s_server -quiet -accept 127.0.30.5:443 -cert valid.pem -key valid.key \
    -servername lab.test -cert2 valid.pem -key2 valid.key -servername_fatal -www > s5.log 2>&1 &
for a in 1 2 3 4 5; do wait_port 127.0.30.$a 443; done

scan hello inv.yaml --hello --cert-min-days 14 --format ndjson --no-progress
SSL_CERT_FILE="$LAB_DIR/ca.pem" scan roots inv.yaml --hello --format ndjson --no-progress
# What a real client sees: nginx's protocol version, and the refusing servers' alerts.
run_to sclient1 sh -c 'openssl s_client -connect 127.0.30.1:443 -servername lab.test </dev/null 2>&1'
# TLS 1.3 sends certificate_required after the client's Finished: keep s_client's stdin open
# a moment, or it may close first and never read the alert.
run_to sclient3 sh -c 'sleep 1 | openssl s_client -connect 127.0.30.3:443 -servername lab.test 2>&1'
run_to sclient4 sh -c 'openssl s_client -connect 127.0.30.4:443 -servername lab.test </dev/null 2>&1'
run_to sclient5 sh -c 'openssl s_client -connect 127.0.30.5:443 -servername other.test </dev/null 2>&1'
"#;

/// The one namespace run of this file.
fn lab() -> &'static Ns {
    static NS: OnceLock<Ns> = OnceLock::new();
    NS.get_or_init(|| {
        require_root();
        require_daemons(&[("nginx", "nginx"), ("openssl", "openssl")]);
        daemon_ns(
            &[
                ("tls_certs.sh", CERTS),
                ("inv.yaml", INVENTORY),
                ("hosts", HOSTS),
            ],
            BODY,
        )
    })
}

fn rec(scan: &str, name: &str) -> Value {
    by_name(&lab().records(scan), name).clone()
}

fn days_left(r: &Value) -> i64 {
    r["tls"]["days_left"]
        .as_i64()
        .unwrap_or_else(|| panic!("no tls.days_left in {r}"))
}

/// What `openssl s_client` printed, for the truth of a refusal.
fn s_client_saw(n: u32, alert: u32) {
    let out = lab().stdout(&format!("sclient{n}"));
    assert!(
        out.contains(&format!("SSL alert number {alert}")),
        "openssl s_client against 127.0.30.{n} should see alert {alert}:\n{out}"
    );
}

/// The record's refusal: verdict `rejected`, the alert's name, kind access.
fn assert_alert(r: &Value, code: &str) {
    assert_verdict(r, "rejected");
    assert_eq!(r["reject_code"], code, "{r}");
    assert_eq!(r["reject_kind"], "access", "{r}");
    assert_eq!(r["hello"], true, "{r}");
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["reject_text"].as_str().unwrap().contains(code),
        "the text names the alert: {r}"
    );
}

#[test]
fn https_valid_certificate_is_open_with_its_facts() {
    let r = rec("hello", "https_valid");
    assert_verdict(&r, "open");
    assert_eq!(
        r["ok"], true,
        "89 whole days left is above --cert-min-days 14: {r}"
    );
    assert_eq!(r["service"], "https", "port 443 is https by the table: {r}");
    assert_eq!(r["hello"], true, "{r}");
    let greeting = r["greeting"].as_str().unwrap_or_default();
    assert!(greeting.starts_with("nginx/"), "Server header: {r}");
    let tls = &r["tls"];
    // The version a real client negotiates with the same nginx (1.22 defaults to TLSv1.2).
    let s_client = lab().stdout("sclient1");
    let version = s_client
        .lines()
        .find_map(|l| l.strip_prefix("New, ")?.split(',').next())
        .unwrap_or_else(|| panic!("no `New, TLSv1.x` line from s_client:\n{s_client}"));
    assert_eq!(tls["version"], version, "{r}");
    assert_eq!(tls["subject"], "CN=lab.test", "{r}");
    assert_eq!(tls["issuer"], "CN=Telltale Lab CA", "{r}");
    assert!(
        (89..=90).contains(&days_left(&r)),
        "a 90-day certificate: {r}"
    );
    let not_after = tls["not_after"].as_str().unwrap();
    assert!(
        not_after.len() == 20 && not_after.ends_with('Z'),
        "RFC 3339 UTC: {r}"
    );
    // The test CA is not among the system roots.
    assert_eq!(tls["verified"], false, "{r}");
    assert_eq!(tls["verify_error"], "UnknownIssuer", "{r}");
    let detail = r["detail"].as_str().unwrap();
    assert!(detail.contains("not verified: UnknownIssuer"), "{r}");
    assert!(
        detail.contains("HTTP 200"),
        "the HTTP answer came over TLS: {r}"
    );
}

#[test]
fn the_system_roots_decide_verified() {
    // Same server, with the test CA as the system roots (SSL_CERT_FILE): verified.
    let r = rec("roots", "https_valid");
    assert_verdict(&r, "open");
    assert_eq!(r["tls"]["verified"], true, "{r}");
    assert!(r["tls"]["verify_error"].is_null(), "{r}");
    // By IP with no SNI, the certificate's IP SAN still matches.
    let r = rec("roots", "tls_sni_none");
    assert_eq!(r["tls"]["verified"], true, "{r}");
}

#[test]
fn certificate_expiring_in_3_days_is_not_as_expected_with_cert_min_days() {
    let r = rec("hello", "tls_soon");
    assert_verdict(&r, "open");
    assert_eq!(r["service"], "tls", "{r}");
    assert!((2..=3).contains(&days_left(&r)), "a 3-day certificate: {r}");
    assert_eq!(
        r["ok"], false,
        "fewer days left than --cert-min-days 14: {r}"
    );
    let detail = r["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("expires in {} days", days_left(&r)))
            && detail.contains("14 days"),
        "the detail names the days: {r}"
    );
    assert_eq!(
        r["tls"]["min_days"], 14,
        "the threshold it was judged by: {r}"
    );
    // Without --cert-min-days the same certificate is as expected.
    let r = rec("roots", "tls_soon");
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["tls"]["min_days"].is_null(), "no threshold applied: {r}");
    let hello = lab().stdout("hello");
    assert_eq!(lab().rc("hello"), 1, "one result not as expected:\n{hello}");
}

#[test]
fn client_certificate_required_tls13_is_rejected_certificate_required() {
    s_client_saw(3, 116);
    let r = rec("hello", "tls_client_cert13");
    assert_alert(&r, "certificate_required");
    // TLS 1.3: the alert comes after our Finished; the certificate was seen all the same.
    assert_eq!(r["tls"]["version"], "TLSv1.3", "{r}");
    assert_eq!(r["tls"]["subject"], "CN=lab.test", "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("after the handshake"),
        "{r}"
    );
}

#[test]
fn client_certificate_required_tls12_is_rejected_handshake_failure() {
    s_client_saw(4, 40);
    let r = rec("hello", "tls_client_cert12");
    assert_alert(&r, "handshake_failure");
    assert_eq!(r["tls"]["version"], "TLSv1.2", "{r}");
    assert!(
        r["detail"]
            .as_str()
            .unwrap()
            .contains("during the handshake"),
        "{r}"
    );
    assert!(
        r["closed_after_ms"].is_number(),
        "the server closed after its alert: {r}"
    );
}

#[test]
fn sni_the_server_does_not_serve_is_rejected_unrecognized_name() {
    s_client_saw(5, 112);
    let r = rec("hello", "tls_sni_wrong");
    assert_alert(&r, "unrecognized_name");
    assert!(r["tls"].is_null(), "refused before any certificate: {r}");
    // The same server by IP (no SNI sent) completes the handshake.
    let r = rec("hello", "tls_sni_none");
    assert_verdict(&r, "open");
    assert_eq!(r["tls"]["version"], "TLSv1.3", "{r}");
}
