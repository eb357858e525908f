//! Service verdicts against real web servers: stock Debian nginx (http module, and the stream
//! module of `libnginx-mod-stream`) and HAProxy, one of each started once in one namespace
//! (tests/common/daemons.rs; `tests/lab/nginx_fns.sh`, `tests/lab/haproxy_fns.sh`), every case
//! on its own 127.0.8x.y address, probed by two scans at once: at the defaults and `--hello`.
//!
//! What the wire shows for each case (tcpdump -i lo in this namespace, checked while writing
//! these tests) is in the comments of the configs below; `curl` gives each HTTP case's status
//! as a second real client, so a config that stopped denying fails here rather than passing.
//! Every case runs as real root (`require_root`) and fails loudly, never skips, without nginx,
//! HAProxy or curl.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::OnceLock;

use common::daemons::{daemon_ns, require_daemons, require_root};
use common::{JOB_FNS, Ns, by_name, str_or_null as s};
use serde_json::Value;

const NGINX_FNS: &str = include_str!("lab/nginx_fns.sh");
const HAPROXY_FNS: &str = include_str!("lab/haproxy_fns.sh");

/// nginx: `@DIR@` is the server's own dir (tests/lab/nginx_fns.sh). Note `return` would skip
/// the access phase (`deny`, `auth_basic`), so the servers serve a file.
const NGINX_CONF: &str = r#"
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
user www-data;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log info;
events { worker_connections 64; }
http {
    access_log @DIR@/access.log;
    client_body_temp_path @DIR@/tmp/body;
    proxy_temp_path @DIR@/tmp/proxy;
    fastcgi_temp_path @DIR@/tmp/fastcgi;
    uwsgi_temp_path @DIR@/tmp/uwsgi;
    scgi_temp_path @DIR@/tmp/scgi;
    root @DIR@/www;
    # Wire, to a GET: `HTTP/1.1 403 Forbidden`, `Server: nginx/1.22.1`, then FIN. Without a
    # request nginx sends nothing (client_header_timeout 60 s).
    server { listen 127.0.80.1:80; deny 127.0.80.1; allow all; }
    server { listen 127.0.80.2:80; }
    server { listen 127.0.80.3:80;
             location / { auth_basic "lab"; auth_basic_user_file @DIR@/../htpasswd; } }
    server { listen 127.0.80.4:80; deny all; }
    server { listen 127.0.80.5:80; deny all; }
    server { listen 127.0.80.6:80; deny all; }
    server { listen [::1]:80; deny ::1; allow all; }
}
stream {
    # Wire: FIN right after the handshake, nothing sent; a request sent after it gets a RST.
    server { listen 127.0.81.1:7000; deny all; return "never sent\n"; }
    server { listen 127.0.81.2:7001; deny 127.0.81.2; return "never sent\n"; }
}
"#;

/// HAProxy, Debian's default timeouts. Nothing listens on 127.0.82.99:9 (the backend is down).
const HAPROXY_CFG: &str = r#"
global
    log stderr format short local0 info
defaults
    log global
    timeout connect 5s
    timeout client 50s
    timeout server 50s
# SNI routing: wait up to 5 s for a TLS ClientHello, reject the rest. Wire: a silent client
# gets a FIN 5.0 s after accept; an HTTP request is answered by a FIN at once.
frontend inspect_reject
    mode tcp
    bind 127.0.82.1:80
    tcp-request inspect-delay 5s
    tcp-request content accept if { req.ssl_hello_type 1 }
    tcp-request content reject
    default_backend down_tcp
# Wire: FIN 3.0 s after accept (3 connect retries, refused), nothing sent, data or not.
frontend down_tcp
    mode tcp
    bind 127.0.82.2:80
    default_backend down_tcp
# Wire: to a GET, `HTTP/1.1 503 Service Unavailable` after 3.0 s, no Server header; without a
# request, nothing.
frontend down_http
    mode http
    bind 127.0.82.3:80
    default_backend down_http
# TCP_REPAIR trick: the socket vanishes at accept, without a packet. Wire: the client's first
# segment is answered by a RST (unless it reached the kernel before HAProxy dropped the socket:
# then it is ACKed, and only the next segment gets the RST).
frontend drop_connection
    mode tcp
    bind 127.0.82.4:80
    tcp-request connection silent-drop if { src 127.0.82.4 }
    default_backend down_tcp
# Wire: the request is ACKed, then the socket vanishes; the client's next segment gets a RST.
# A silent client is dropped 5 s after accept, without a packet.
frontend drop_content
    mode tcp
    bind 127.0.82.5:80
    tcp-request inspect-delay 5s
    tcp-request content accept if { req.ssl_hello_type 1 }
    tcp-request content silent-drop
    default_backend down_tcp
# Wire, to a GET: `HTTP/1.1 403 Forbidden` at once, no Server header, then FIN.
frontend deny_http
    mode http
    bind 127.0.82.6:80
    http-request deny if { src 127.0.82.6 }
    default_backend down_http
backend down_tcp
    mode tcp
    server app 127.0.82.99:9
backend down_http
    mode http
    server app 127.0.82.99:9
"#;

/// Every case (name, host, port, extra keys); the `--hello` scan reads the same file.
const TARGETS: &[(&str, &str, u16, &str)] = &[
    ("nginx-deny-one", "127.0.80.1", 80, ""),
    ("nginx-allowed", "127.0.80.2", 80, ""),
    ("nginx-auth", "127.0.80.3", 80, ""),
    ("nginx-deny-all", "127.0.80.4", 80, ""),
    ("nginx-deny-all-hello", "127.0.80.5", 80, ", hello: true"),
    ("nginx-deny-v6", "::1", 80, ""),
    ("nginx-deny-cidr", "127.0.80.6/32", 80, ""),
    ("stream-deny-tcp", "127.0.81.1", 7000, ""),
    ("stream-deny-http", "127.0.81.2", 7001, ", service: http"),
    ("haproxy-inspect-reject", "127.0.82.1", 80, ""),
    ("haproxy-down-tcp", "127.0.82.2", 80, ""),
    ("haproxy-down-http", "127.0.82.3", 80, ""),
    ("haproxy-drop-connection", "127.0.82.4", 80, ""),
    ("haproxy-drop-content", "127.0.82.5", 80, ""),
    ("haproxy-deny", "127.0.82.6", 80, ""),
];

const BODY: &str = r#"
addr_add 127.0.80.1 127.0.80.2 127.0.80.3 127.0.80.4 127.0.80.5 127.0.80.6 127.0.81.1 \
    127.0.81.2 127.0.82.1 127.0.82.2 127.0.82.3 127.0.82.4 127.0.82.5 127.0.82.6 127.0.82.99
nginx -v 2> nginx-version
nginx_start nginx nginx.conf 127.0.80.1:80 127.0.80.2:80 127.0.80.3:80 127.0.80.4:80 \
    127.0.80.5:80 127.0.80.6:80 ::1:80 127.0.81.1:7000 127.0.81.2:7001
haproxy_start haproxy haproxy.cfg 127.0.82.1:80 127.0.82.2:80 127.0.82.3:80 127.0.82.4:80 \
    127.0.82.5:80 127.0.82.6:80
# A second real client: the status each HTTP case answers a GET with.
CURLS=""
for u in 127.0.80.1 127.0.80.2 127.0.80.3 127.0.80.4 127.0.80.5 '[::1]' 127.0.82.3 127.0.82.6; do
    curl -g -s -o /dev/null -w "$u %{http_code}\n" --max-time 10 "http://$u/" > "curl-$u" &
    CURLS="$CURLS $!"
done
bg_scan plain --format ndjson --no-progress web.yaml
bg_scan hello --format ndjson --no-progress --hello web.yaml
join
# shellcheck disable=SC2086
wait $CURLS
cat curl-* > curl.txt
"#;

/// What the namespace run left, read once for every test of this file (the run's dir is
/// removed once read: a static is never dropped).
struct Lab {
    /// Records of the scan at the defaults.
    plain: Vec<Value>,
    /// Records of the `--hello` scan.
    hello: Vec<Value>,
    /// `ADDR STATUS` lines from curl.
    curl: String,
    /// What `nginx -v` printed.
    nginx_version: String,
}

fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        require_root();
        require_daemons(&[
            ("nginx", "nginx libnginx-mod-stream"),
            ("haproxy", "haproxy"),
            ("curl", "curl"),
        ]);
        assert!(
            std::path::Path::new("/usr/lib/nginx/modules/ngx_stream_module.so").exists(),
            "nginx's stream module is missing: apt-get install -y libnginx-mod-stream \
             (.ci/run installs it). Refusing to skip silently."
        );
        let mut yaml = String::from("targets:\n");
        for (name, host, port, extra) in TARGETS {
            yaml.push_str(&format!(
                "  - {{name: {name}, host: \"{host}\", port: {port}{extra}}}\n"
            ));
        }
        let files = [
            ("nginx.conf", NGINX_CONF),
            ("haproxy.cfg", HAPROXY_CFG),
            ("htpasswd", "lab:$apr1$telltale$Zm9vYmFyYmF6cXV4\n"),
            ("web.yaml", yaml.as_str()),
        ];
        let ns: Ns = daemon_ns(
            &files,
            &format!("{JOB_FNS}\n{NGINX_FNS}\n{HAPROXY_FNS}\n{BODY}"),
        );
        Lab {
            plain: ns.records("plain"),
            hello: ns.records("hello"),
            curl: ns.read("curl.txt"),
            nginx_version: ns.read("nginx-version"),
        }
    })
}

/// The record of case `name` in scan `scan` (`plain` or `hello`).
fn rec(scan: &str, name: &str) -> Value {
    let recs = match scan {
        "plain" => &lab().plain,
        _ => &lab().hello,
    };
    by_name(recs, name).clone()
}

/// What curl got for `host` (`[::1]` for IPv6).
fn curl_status(host: &str) -> String {
    let text = &lab().curl;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{host} ")))
        .unwrap_or_else(|| panic!("no curl result for {host}: {text}"))
        .to_string()
}

/// `nginx/1.22.1` as this machine's nginx names itself.
fn nginx_version() -> String {
    let v = &lab().nginx_version;
    v.trim()
        .strip_prefix("nginx version: ")
        .unwrap_or_else(|| panic!("nginx -v said {v:?}"))
        .to_string()
}

/// Asserts verdict, reject fields and greeting of a record.
fn assert_answer(
    r: &Value,
    verdict: &str,
    rejection: Option<(&str, &str, &str)>,
    greeting: Option<&str>,
) {
    let (code, text, kind) = rejection.unwrap_or(("null", "null", "null"));
    let got = (
        s(r, "verdict"),
        s(r, "reject_code"),
        s(r, "reject_text"),
        s(r, "reject_kind"),
        s(r, "greeting"),
    );
    assert_eq!(
        got,
        (verdict, code, text, kind, greeting.unwrap_or("null")),
        "(verdict, reject_code, reject_text, reject_kind, greeting) of {r}"
    );
}

fn closed_after(r: &Value) -> f64 {
    r["closed_after_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no closed_after_ms in {r}"))
}

#[test]
fn nginx_deny_answers_403_to_the_hello_rejected_access() {
    assert_eq!(curl_status("127.0.80.1"), "403");
    assert_eq!(curl_status("127.0.80.4"), "403");
    assert_eq!(curl_status("127.0.80.5"), "403");
    assert_eq!(curl_status("[::1]"), "403");
    let greeting = nginx_version();
    assert!(greeting.starts_with("nginx/1."), "{greeting}");
    for (scan, name) in [
        ("hello", "nginx-deny-one"),
        ("hello", "nginx-deny-all"),
        // `Host: [::1]` and `Host: 127.0.80.6`: nginx answers `::1` or a CIDR with 400.
        ("hello", "nginx-deny-v6"),
        ("hello", "nginx-deny-cidr"),
        // `hello: true` on the target, no --hello.
        ("plain", "nginx-deny-all-hello"),
    ] {
        let r = rec(scan, name);
        assert_answer(
            &r,
            "rejected",
            Some(("403", "403 Forbidden", "access")),
            Some(&greeting),
        );
        assert_eq!(
            (s(&r, "service"), &r["hello"]),
            ("http", &Value::Bool(true))
        );
    }
}

#[test]
fn nginx_allowed_and_auth_basic_are_open() {
    assert_eq!(curl_status("127.0.80.2"), "200");
    assert_eq!(curl_status("127.0.80.3"), "401");
    let greeting = nginx_version();
    // nginx closes after answering, as our `Connection: close` asks: not a denial.
    let r = rec("hello", "nginx-allowed");
    assert_answer(&r, "open", None, Some(&greeting));
    assert!(s(&r, "detail").contains("HTTP 200 OK"), "{r}");
    let r = rec("hello", "nginx-auth");
    assert_answer(&r, "open", None, Some(&greeting));
    let d = s(&r, "detail");
    assert!(
        d.contains("401 Unauthorized: authentication required, Basic realm=\"lab\""),
        "{r}"
    );
}

/// Without a hello nginx never speaks: every http case reads `open` once the greeting wait
/// ends, denied or not (the hello is what tells them apart).
#[test]
fn nginx_without_hello_reads_open_after_the_wait() {
    for name in [
        "nginx-deny-one",
        "nginx-allowed",
        "nginx-auth",
        "nginx-deny-v6",
    ] {
        let r = rec("plain", name);
        assert_answer(&r, "open", None, None);
        assert_eq!(
            (s(&r, "service"), &r["hello"]),
            ("http", &Value::Bool(false))
        );
    }
}

/// The stream module's `deny` closes at accept (FIN), hello or not: a silent close, never a
/// rejection, on a plain TCP port and on one with `service: http`.
#[test]
fn nginx_stream_deny_is_closed_by_peer() {
    for scan in ["plain", "hello"] {
        let r = rec(scan, "stream-deny-tcp");
        assert_answer(&r, "closed-by-peer", None, None);
        assert_eq!(s(&r, "service"), "tcp");
        assert!(closed_after(&r) < 1000.0, "{r}");
    }
    let r = rec("plain", "stream-deny-http");
    assert_answer(&r, "closed-by-peer", None, None);
    assert_eq!(s(&r, "service"), "http");
    // With the hello the request can race the FIN: nginx then resets. Both are silent closes.
    let r = rec("hello", "stream-deny-http");
    assert!(
        ["closed-by-peer", "reset-by-peer"].contains(&s(&r, "verdict")),
        "{r}"
    );
    assert_eq!(s(&r, "reject_code"), "null", "{r}");
}

/// The 5 s inspect-delay close is a close at the defaults (the greeting wait covers it); the
/// hello is rejected at once.
#[test]
fn haproxy_inspect_delay_reject_is_a_close() {
    let r = rec("plain", "haproxy-inspect-reject");
    assert_answer(&r, "closed-by-peer", None, None);
    assert!((4500.0..6000.0).contains(&closed_after(&r)), "{r}");
    let r = rec("hello", "haproxy-inspect-reject");
    assert!(
        ["closed-by-peer", "reset-by-peer"].contains(&s(&r, "verdict")),
        "{r}"
    );
    assert!(closed_after(&r) < 1000.0, "{r}");
}

#[test]
fn haproxy_backend_down_is_not_open() {
    let r = rec("plain", "haproxy-down-tcp");
    assert_answer(&r, "closed-by-peer", None, None);
    assert!((2500.0..4500.0).contains(&closed_after(&r)), "{r}");
    let r = rec("hello", "haproxy-down-tcp");
    assert_answer(&r, "closed-by-peer", None, None);
    assert_eq!(curl_status("127.0.82.3"), "503");
    let r = rec("hello", "haproxy-down-http");
    assert_answer(
        &r,
        "rejected",
        Some(("503", "503 Service Unavailable", "capacity")),
        None,
    );
}

/// A silently dropped connection is a refusal, not `open`: the socket is gone without a
/// packet, and the next segment we send (the hello, or a keepalive probe after 1 s idle) is
/// answered by a RST.
#[test]
fn haproxy_silent_drop_is_reset_by_peer() {
    for name in ["haproxy-drop-connection", "haproxy-drop-content"] {
        let r = rec("hello", name);
        assert_answer(&r, "reset-by-peer", None, None);
        assert!(closed_after(&r) < 2500.0, "{r}");
    }
    // Dropped at accept: the first keepalive probe (1 s) finds the socket gone. (At the
    // defaults `drop_content` drops after its 5 s inspect delay; the keepalive probe after it
    // comes ~5.1 s in, too close to the 6 s window to assert here.)
    let r = rec("plain", "haproxy-drop-connection");
    assert_answer(&r, "reset-by-peer", None, None);
    assert!(closed_after(&r) < 2500.0, "{r}");
}

#[test]
fn haproxy_http_request_deny_is_rejected_access() {
    assert_eq!(curl_status("127.0.82.6"), "403");
    let r = rec("hello", "haproxy-deny");
    assert_answer(
        &r,
        "rejected",
        Some(("403", "403 Forbidden", "access")),
        None,
    );
}
