//! TLS (and HTTPS): the probe's handshake with rustls (tokio-rustls, ring provider), the leaf
//! certificate's facts, and the alerts that mean a refusal (handshake_failure, access_denied,
//! certificate_required, unrecognized_name, …).
//!
//! [`probe`] takes a connected socket and runs a ClientHello with SNI (none for an IP
//! address), accepting every certificate so the handshake completes and the certificate is
//! always seen, while recording whether the system roots would have verified it
//! (`verify.rs`). A fatal alert from the server is a rejection named after the alert
//! (`alert.rs`). TLS 1.3 servers that require a client certificate send `certificate_required`
//! only after our Finished, so after a complete handshake the probe keeps reading for a short
//! window ([`post_handshake_window`]) to catch it; for HTTPS it sends the HTTP hello over TLS
//! and reads the response head. The socket closes with a RST (`SO_LINGER` 0) whatever the path,
//! after a best-effort close_notify when the session is still up (`session.rs`: after the
//! handshake, and what each failure means). `wire.rs` turns a
//! [`TlsOutcome`] into the probe's `Outcome` (verdict and detail).
//!
//! Times in details and [`TlsOutcome::closed_after`] count from the call (just after connect).

mod alert;
mod cert;
mod session;
mod verify;
mod wire;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

use super::Answer;
pub use alert::name as alert_name;
pub use cert::{days_left, rfc3339};
pub use verify::warm as warm_roots;
pub use wire::converse;

/// At most this many plaintext bytes are kept (and read) after the handshake.
pub const RECEIVED_MAX: usize = 4096;

/// The shortest post-handshake window (see [`post_handshake_window`]).
pub const POST_HANDSHAKE_MIN: Duration = Duration::from_millis(250);

/// What a TLS handshake showed about the server's certificate.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TlsInfo {
    /// Negotiated protocol version (`TLSv1.3`).
    pub version: String,
    /// Leaf certificate subject.
    pub subject: String,
    /// Leaf certificate issuer.
    pub issuer: String,
    /// Not-after, RFC 3339 UTC.
    pub not_after: String,
    /// Whole days until not-after (negative: expired).
    pub days_left: i64,
    /// The chain verifies against the system roots for the name probed.
    pub verified: bool,
    /// Why it does not verify.
    pub verify_error: Option<String>,
}

/// How the TLS session stood at the end of the probe.
#[derive(Clone, Debug, PartialEq)]
pub enum TlsEnd {
    /// Still up when the probe stopped reading (the probe then closed it).
    Open,
    /// The server closed: FIN, or a close_notify.
    Fin,
    /// The server reset the connection.
    Reset,
    /// The handshake did not complete by the deadline.
    Timeout,
    /// The handshake or the session failed otherwise (not TLS, a protocol error): why.
    Error(String),
}

/// Everything a TLS probe found out.
#[derive(Clone, Debug)]
pub struct TlsOutcome {
    /// The certificate's facts, when the server sent one (even if the handshake then failed).
    pub info: Option<TlsInfo>,
    /// A TLS alert is a rejection (code = the alert's name); for HTTPS, the HTTP answer
    /// (`super::http::parse`, greeting = the `Server:` header).
    pub answer: Answer,
    /// How the session ended.
    pub end: TlsEnd,
    /// Plaintext received after the handshake (the HTTPS response head), at most
    /// [`RECEIVED_MAX`] bytes.
    pub received: Vec<u8>,
    /// One line for the record's detail: version, handshake time, certificate, verification,
    /// and what happened after.
    pub detail: String,
    /// How long the handshake took, when it completed.
    pub handshake: Option<Duration>,
    /// When the server closed or reset (or sent its alert), counted from the probe's start.
    pub closed_after: Option<Duration>,
}

/// Run a TLS handshake on the connected `stream`; `server_name` is the host as written (a DNS
/// name is sent as SNI and verified against; an IP literal, bracketed or not, sends no SNI).
/// With `http_host`, send `super::http::request(host)` over TLS and parse the answer. Never
/// waits past `deadline`; after a complete handshake without HTTP, reads only until
/// [`post_handshake_window`].
pub async fn probe(
    stream: TcpStream,
    server_name: &str,
    http_host: Option<&str>,
    deadline: Instant,
) -> TlsOutcome {
    let start = Instant::now();
    // The system roots, once per process, outside the handshake's time.
    let _ = timeout_at(deadline, tokio::task::spawn_blocking(verify::warm)).await;
    // RST on close (`Service::close` for tls/https), on every path out, timeouts included.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    let recorder = Arc::new(verify::Recorder::new());
    let config = match verify::client_config(recorder.clone()) {
        Ok(c) => c,
        Err(e) => {
            let why = format!("no TLS client configuration: {e}");
            return TlsOutcome::bare(TlsEnd::Error(why.clone()), why);
        }
    };
    let (name, name_note) = server_name_for(server_name, &stream);
    let connector = TlsConnector::from(Arc::new(config));
    let begun = Instant::now();
    let handshake = timeout_at(deadline, connector.connect(name, stream).into_fallible()).await;
    let took = begun.elapsed();
    match handshake {
        Err(_) => {
            let info = info_of(&recorder.seen(), None);
            let detail = format!(
                "no TLS handshake within {}{}{name_note}",
                fmt_ms(took),
                cert_clause(info.as_ref(), "; ")
            );
            TlsOutcome {
                info,
                ..TlsOutcome::bare(TlsEnd::Timeout, detail)
            }
        }
        Ok(Err((e, tcp))) => {
            let info = info_of(&recorder.seen(), None);
            let failure = alert::classify(&e);
            let mut out =
                session::failed(failure, tcp, start, deadline, "during the handshake").await;
            if let Some(i) = &info {
                out.detail.push_str(&format!("; {}", i.version));
            }
            out.detail.push_str(&cert_clause(info.as_ref(), "; "));
            out.detail.push_str(&name_note);
            out.info = info;
            out
        }
        Ok(Ok(tls)) => {
            let version = tls.get_ref().1.protocol_version().map(version_name);
            let info = info_of(&recorder.seen(), version);
            let mut out = session::session(tls, http_host, start, took, deadline).await;
            out.detail = format!(
                "{} in {}{name_note}{}{}",
                info.as_ref().map_or("TLS", |i| i.version.as_str()),
                fmt_ms(took),
                cert_clause(info.as_ref(), "; "),
                out.detail
            );
            out.info = info;
            out.handshake = Some(took);
            out
        }
    }
}

/// How long to keep reading after a complete handshake without HTTP: twice the handshake's
/// time (a TLS 1.3 server's post-Finished alert takes one round trip, and the handshake took
/// about one), at least [`POST_HANDSHAKE_MIN`].
pub fn post_handshake_window(handshake: Duration) -> Duration {
    (handshake * 2).max(POST_HANDSHAKE_MIN)
}

impl TlsOutcome {
    fn bare(end: TlsEnd, detail: String) -> TlsOutcome {
        TlsOutcome {
            info: None,
            answer: Answer::default(),
            end,
            received: Vec::new(),
            detail,
            handshake: None,
            closed_after: None,
        }
    }
}

/// The rustls server name for the host as written, and a detail note when it had to fall
/// back to the peer's address (a name that is neither a DNS name nor an IP literal).
fn server_name_for(host: &str, stream: &TcpStream) -> (ServerName<'static>, String) {
    if let Some(name) = parse_server_name(host) {
        return (name, String::new());
    }
    let ip = stream
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    (
        ServerName::IpAddress(ip.into()),
        format!(" (`{host}` is not a DNS name: no SNI)"),
    )
}

/// A DNS name (sent as SNI) or an IP literal, bracketed or not (no SNI); None otherwise.
fn parse_server_name(host: &str) -> Option<ServerName<'static>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_string()).ok()
}

fn version_name(v: rustls::ProtocolVersion) -> &'static str {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "TLS (other)",
    }
}

/// The record's `tls` object from what the verifier saw; `version` from the session if it
/// completed, else from the signature check that ran.
fn info_of(seen: &verify::Seen, version: Option<&'static str>) -> Option<TlsInfo> {
    let leaf = cert::parse_leaf(seen.leaf.as_deref()?);
    let version = version.or(seen.version).unwrap_or("TLS").to_string();
    let (verified, verify_error) = match &seen.verdict {
        Some(Ok(())) => (true, None),
        Some(Err(e)) => (false, Some(e.clone())),
        None => (false, Some("not checked".into())),
    };
    Some(match leaf {
        Ok(l) => TlsInfo {
            version,
            subject: l.subject,
            issuer: l.issuer,
            not_after: cert::rfc3339(l.not_after),
            days_left: cert::days_left(l.not_after, cert::now_unix()),
            verified,
            verify_error,
        },
        Err(e) => TlsInfo {
            version,
            subject: String::new(),
            issuer: String::new(),
            not_after: String::new(),
            days_left: 0,
            verified: false,
            verify_error: Some(e),
        },
    })
}

/// `; CN=lab.test, issued by CN=Lab CA, expires 2027-03-01 (90 days), verified`, or empty
/// without a certificate.
fn cert_clause(info: Option<&TlsInfo>, sep: &str) -> String {
    let Some(i) = info else {
        return String::new();
    };
    if i.not_after.is_empty() {
        return format!(
            "{sep}certificate not parsed: {}",
            i.verify_error.as_deref().unwrap_or("")
        );
    }
    let day = i.not_after.get(..10).unwrap_or(&i.not_after);
    let when = match i.days_left {
        d if d < 0 => format!("expired {day} ({} day{} ago)", -d, plural(-d)),
        d => format!("expires {day} ({d} day{})", plural(d)),
    };
    let verified = match &i.verify_error {
        None if i.verified => "verified".to_string(),
        e => format!("not verified: {}", e.as_deref().unwrap_or("unknown")),
    };
    format!(
        "{sep}{}, issued by {}, {when}, {verified}",
        i.subject, i.issuer
    )
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn fmt_ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(days_left: i64, verify_error: Option<&str>) -> TlsInfo {
        TlsInfo {
            version: "TLSv1.3".into(),
            subject: "CN=lab.test".into(),
            issuer: "CN=Lab CA".into(),
            not_after: "2027-03-01T12:00:00Z".into(),
            days_left,
            verified: verify_error.is_none(),
            verify_error: verify_error.map(Into::into),
        }
    }

    #[test]
    fn certificate_clauses() {
        assert_eq!(
            cert_clause(Some(&info(90, None)), "; "),
            "; CN=lab.test, issued by CN=Lab CA, expires 2027-03-01 (90 days), verified"
        );
        assert_eq!(
            cert_clause(Some(&info(1, Some("UnknownIssuer"))), ""),
            "CN=lab.test, issued by CN=Lab CA, expires 2027-03-01 (1 day), not verified: UnknownIssuer"
        );
        assert!(
            cert_clause(Some(&info(-3, Some("Expired"))), "")
                .contains("expired 2027-03-01 (3 days ago)")
        );
        assert_eq!(cert_clause(None, "; "), "");
    }

    #[test]
    fn server_names() {
        let dns = |h| matches!(parse_server_name(h), Some(ServerName::DnsName(_)));
        let ip = |h| matches!(parse_server_name(h), Some(ServerName::IpAddress(_)));
        assert!(dns("lab.test") && dns("localhost"));
        assert!(ip("127.0.30.1") && ip("::1") && ip("[::1]") && ip("[fe80::1]"));
        assert!(parse_server_name("bad name!").is_none());
        assert!(parse_server_name("").is_none());
    }

    #[test]
    fn window_is_twice_the_handshake_at_least_the_minimum() {
        assert_eq!(
            post_handshake_window(Duration::from_millis(1)),
            POST_HANDSHAKE_MIN
        );
        assert_eq!(
            post_handshake_window(Duration::from_millis(300)),
            Duration::from_millis(600)
        );
    }
}
