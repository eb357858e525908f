//! HTTP/1.x: the hello is a `GET /` with `Host:` and `Connection: close`; the answer is the
//! status line and the header block (complete at the blank line that ends the headers, at the
//! peer's close once a status line came, or once [`MAX_HEAD`] bytes came without a blank line).
//! 403 and 407 are refusals (access); 503 is capacity (a proxy whose backend is down, nginx
//! `limit_conn`/`limit_req`); 401 means the service let us in and wants credentials. The
//! `Server:` header is the greeting. Bytes that cannot start an HTTP response (`SSH-2.0-…`,
//! a TLS alert) complete the answer at once, with a note saying what came.

use std::net::{IpAddr, Ipv6Addr};

use super::{Answer, Parsed, RejectKind, reject};

/// Once this many bytes came without the end of the header block, the answer is complete with
/// what came (the status line decides; a header cut off is ignored).
pub const MAX_HEAD: usize = 8192;

/// The request sent as the hello. `host` is the name or address the target was written with;
/// an IPv6 literal is bracketed (`Host: [::1]`): nginx answers an unbracketed one with
/// `400 Bad Request`, which would hide its access rules.
pub fn request(host: &str) -> Vec<u8> {
    let host = host_header(host);
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: telltale\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The `Host:` value for `host`: IPv6 literals in brackets (a zone `%` as `%25`, RFC 6874); a
/// CIDR block loses its prefix length (nginx answers `Host: 127.0.0.0/30` with `400`).
fn host_header(host: &str) -> String {
    let host = host.trim();
    let host = match host.split_once('/') {
        Some((net, len)) if net.parse::<IpAddr>().is_ok() && len.parse::<u8>().is_ok() => net,
        _ => host,
    };
    let (addr, zone) = match host.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (host, None),
    };
    if addr.parse::<Ipv6Addr>().is_err() {
        return host.to_string();
    }
    match zone {
        Some(z) => format!("[{addr}%25{z}]"),
        None => format!("[{addr}]"),
    }
}

/// Parse the response received so far (`closed`: the peer ended the connection after it).
pub fn parse(bytes: &[u8], closed: bool) -> Parsed {
    if !could_be_http(bytes) {
        return unexpected(bytes);
    }
    let head_end = find(bytes, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| find(bytes, b"\n\n").map(|i| i + 2));
    let status_end = bytes.iter().position(|&b| b == b'\n');
    let head = match (head_end, status_end) {
        (Some(end), _) => &bytes[..end],
        // Cut off, or closed after the status line: only the complete lines count.
        (None, Some(_)) if closed || bytes.len() >= MAX_HEAD => {
            let last_nl = bytes.iter().rposition(|&b| b == b'\n').unwrap_or(0);
            &bytes[..=last_nl]
        }
        (None, None) if closed && !bytes.is_empty() => bytes,
        _ => return Parsed::Incomplete,
    };
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines();
    let status = lines.next().unwrap_or("").trim();
    let Some((code, reason)) = status_line(status) else {
        return unexpected(bytes);
    };
    let headers: Vec<(&str, &str)> = lines
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| printable(v))
            .filter(|v| !v.is_empty())
    };
    let words = format!("{code} {reason}").trim().to_string();
    let mut parsed = match code {
        403 | 407 => reject(code.to_string(), words, RejectKind::Access),
        503 => reject(code.to_string(), words, RejectKind::Capacity),
        401 => {
            let how = header("www-authenticate")
                .map(|c| format!(", {c}"))
                .unwrap_or_default();
            Parsed::Complete(Answer {
                note: Some(format!(
                    "HTTP {words}: authentication required{how} (the service accepted the connection)"
                )),
                ..Answer::default()
            })
        }
        _ => Parsed::Complete(Answer {
            note: Some(format!("HTTP {words}")),
            ..Answer::default()
        }),
    };
    if let Parsed::Complete(a) = &mut parsed {
        a.greeting = header("server");
    }
    parsed
}

/// `HTTP/1.1 403 Forbidden` -> (403, "Forbidden"); the reason phrase may be empty.
fn status_line(line: &str) -> Option<(u16, String)> {
    let rest = line.strip_prefix("HTTP/")?;
    let (version, rest) = rest.split_once(' ')?;
    if !version.bytes().all(|b| b.is_ascii_digit() || b == b'.') || version.is_empty() {
        return None;
    }
    let rest = rest.trim_start();
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code: u16 = code.parse().ok()?;
    (100..=599)
        .contains(&code)
        .then(|| (code, printable(reason.trim())))
}

/// Whether `bytes` can be the start of `HTTP/<digit>`.
fn could_be_http(bytes: &[u8]) -> bool {
    const START: &[u8] = b"HTTP/";
    let n = bytes.len().min(START.len());
    if bytes[..n] != START[..n] {
        return false;
    }
    bytes.get(START.len()).is_none_or(u8::is_ascii_digit)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `s` with control characters as `\xNN` (as the record's banner shows bytes), cut at 200
/// characters.
fn printable(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().take(200) {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn unexpected(bytes: &[u8]) -> Parsed {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or(bytes);
    let first = &first[..first.len().min(64)];
    Parsed::Complete(Answer {
        note: Some(format!(
            "not an HTTP response: {}",
            printable(String::from_utf8_lossy(first).trim())
        )),
        ..Answer::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Rejection;

    // Real answers to `request("127.0.8x.y")`, captured from nginx 1.22.1 and HAProxy 2.6.12
    // (Debian 12) in the test namespace of tests/services_web.rs.
    const NGINX_403: &[u8] = b"HTTP/1.1 403 Forbidden\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 13:29:34 GMT\r\nContent-Type: text/html\r\nContent-Length: 153\r\nConnection: close\r\n\r\n<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
    const NGINX_200: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 13:29:34 GMT\r\nContent-Type: text/html\r\nContent-Length: 6\r\nLast-Modified: Tue, 01 Dec 2026 13:22:18 GMT\r\nConnection: close\r\nETag: \"6b0eca0a-6\"\r\nAccept-Ranges: bytes\r\n\r\nhello\n";
    const NGINX_401: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 13:29:35 GMT\r\nContent-Type: text/html\r\nContent-Length: 179\r\nConnection: close\r\nWWW-Authenticate: Basic realm=\"lab\"\r\n\r\n<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>\r\n";
    const NGINX_400_V6: &[u8] = b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\n";
    const HAPROXY_503: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
    const HAPROXY_403: &[u8] = b"HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n";

    fn answer(bytes: &[u8], closed: bool) -> Answer {
        match parse(bytes, closed) {
            Parsed::Complete(a) => a,
            Parsed::Incomplete => panic!("incomplete: {:?}", String::from_utf8_lossy(bytes)),
        }
    }

    fn rejection(code: &str, text: &str, kind: RejectKind) -> Option<Rejection> {
        Some(Rejection {
            code: code.into(),
            text: text.into(),
            kind,
        })
    }

    #[test]
    fn nginx_answers() {
        let a = answer(NGINX_403, true);
        assert_eq!(a.greeting.as_deref(), Some("nginx/1.22.1"));
        assert_eq!(
            a.rejection,
            rejection("403", "403 Forbidden", RejectKind::Access)
        );
        let a = answer(NGINX_200, true);
        assert_eq!(a.greeting.as_deref(), Some("nginx/1.22.1"));
        assert_eq!(a.rejection, None);
        assert_eq!(a.note.as_deref(), Some("HTTP 200 OK"));
        let a = answer(NGINX_401, true);
        assert_eq!(a.rejection, None);
        let note = a.note.unwrap_or_default();
        assert!(
            note.contains("authentication required") && note.contains("Basic realm=\"lab\""),
            "{note}"
        );
        // What nginx says to an unbracketed IPv6 Host: not a refusal.
        assert_eq!(answer(NGINX_400_V6, true).rejection, None);
    }

    #[test]
    fn haproxy_answers_have_no_server_header() {
        let a = answer(HAPROXY_503, true);
        assert_eq!(a.greeting, None);
        assert_eq!(
            a.rejection,
            rejection("503", "503 Service Unavailable", RejectKind::Capacity)
        );
        let a = answer(HAPROXY_403, false);
        assert_eq!(
            a.rejection,
            rejection("403", "403 Forbidden", RejectKind::Access)
        );
    }

    #[test]
    fn completes_at_the_end_of_the_headers_in_any_split() {
        let head_end = find(NGINX_403, b"\r\n\r\n").map(|i| i + 4);
        for cut in 0..NGINX_403.len() {
            let p = parse(&NGINX_403[..cut], false);
            if Some(cut) < head_end {
                assert_eq!(p, Parsed::Incomplete, "cut at {cut}");
            } else {
                assert_eq!(answer(&NGINX_403[..cut], false), answer(NGINX_403, true));
            }
        }
        // Closed after the status line only, or in the middle of a header line.
        let a = answer(b"HTTP/1.1 403 Forbidden\r\nServer: ngi", true);
        assert_eq!(a.rejection.map(|r| r.code).as_deref(), Some("403"));
        assert_eq!(a.greeting, None);
        let a = answer(b"HTTP/1.0 503", true);
        assert_eq!(a.rejection.map(|r| r.text).as_deref(), Some("503"));
        // A header block that never ends is decided at MAX_HEAD bytes.
        let mut long = b"HTTP/1.1 200 OK\r\nServer: big\r\n".to_vec();
        while long.len() < MAX_HEAD {
            long.extend_from_slice(b"X-Filler: 0123456789\r\n");
        }
        assert_eq!(parse(&long[..MAX_HEAD - 1], false), Parsed::Incomplete);
        assert_eq!(answer(&long, false).greeting.as_deref(), Some("big"));
    }

    #[test]
    fn other_protocols_are_not_http() {
        for (bytes, closed) in [
            (&b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"[..], false),
            (&b"\x15\x03\x01\x00\x02\x02\x46"[..], false),
            (&b"220 mail ESMTP Postfix\r\n"[..], false),
            (&b"HTTPX"[..], false),
            (&b"HTTP/1.1 ok\r\n\r\n"[..], false),
            (&b"HTTP"[..], true),
        ] {
            let a = answer(bytes, closed);
            assert_eq!(a.rejection, None);
            assert!(
                a.note
                    .as_deref()
                    .is_some_and(|n| n.starts_with("not an HTTP response")),
                "{a:?}"
            );
        }
        assert_eq!(
            answer(b"\x15\x03\x01\x00\x02\x02\x46", false)
                .note
                .as_deref(),
            Some("not an HTTP response: \\x15\\x03\\x01\\x00\\x02\\x02F")
        );
        assert_eq!(parse(b"HTT", false), Parsed::Incomplete);
        assert_eq!(parse(b"", false), Parsed::Incomplete);
    }

    #[test]
    fn host_header_brackets_ipv6() {
        let head = |h: &str| String::from_utf8(request(h)).unwrap_or_default();
        assert!(head("::1").contains("\r\nHost: [::1]\r\n"));
        assert!(head("fe80::1%lo").contains("\r\nHost: [fe80::1%25lo]\r\n"));
        assert!(head("127.0.80.1").contains("\r\nHost: 127.0.80.1\r\n"));
        assert!(head("web.internal").contains("\r\nHost: web.internal\r\n"));
        assert!(head("[::1]").contains("\r\nHost: [::1]\r\n"));
        assert!(head("127.0.80.4/32").contains("\r\nHost: 127.0.80.4\r\n"));
        assert!(head("fd00::/126").contains("\r\nHost: [fd00::]\r\n"));
        assert!(head("::1").ends_with("Connection: close\r\n\r\n"));
    }
}
