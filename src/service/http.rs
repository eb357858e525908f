//! HTTP/1.1: the hello is a `GET /` with `Host:` and `Connection: close`; the answer is the
//! status line (complete at the end of the headers, or of the status line if the peer closed).
//! 403 and 407 are refusals (access); 503 with the connection closed is capacity (a proxy whose
//! backend is down); 401 means the service let us in and wants credentials.

use super::{Answer, Parsed, RejectKind, one_line, reject};

/// The request sent as the hello.
pub fn request(host: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: telltale\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Parse the response received so far.
pub fn parse(bytes: &[u8], closed: bool) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    let headers_done = text.contains("\r\n\r\n") || text.contains("\n\n");
    if !(headers_done || closed && text.contains('\n')) {
        if closed && !text.is_empty() {
            return unexpected(&text);
        }
        return Parsed::Incomplete;
    }
    let status = one_line(&text);
    let mut parts = status.splitn(3, ' ');
    let proto = parts.next().unwrap_or("");
    let code: Option<u16> = parts.next().and_then(|c| c.parse().ok());
    let reason = parts.next().unwrap_or("").to_string();
    let Some(code) = code.filter(|_| proto.starts_with("HTTP/")) else {
        return unexpected(&text);
    };
    let server = text
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("server")
                .then(|| v.trim().to_string())
        });
    let text_of = |c: u16| format!("{c} {reason}").trim().to_string();
    let mut parsed = match code {
        403 | 407 => reject(code.to_string(), text_of(code), RejectKind::Access),
        503 => reject(code.to_string(), text_of(code), RejectKind::Capacity),
        401 => Parsed::Complete(Answer {
            note: Some("401: authentication required (the service accepted the connection)".into()),
            ..Answer::default()
        }),
        _ => Parsed::Complete(Answer {
            note: Some(format!("HTTP {}", text_of(code))),
            ..Answer::default()
        }),
    };
    if let Parsed::Complete(a) = &mut parsed {
        a.greeting = server;
    }
    parsed
}

fn unexpected(text: &str) -> Parsed {
    Parsed::Complete(Answer {
        note: Some(format!("not an HTTP response: {}", one_line(text))),
        ..Answer::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let p = parse(
            b"HTTP/1.1 403 Forbidden\r\nServer: nginx/1.22.1\r\n\r\n",
            false,
        );
        match p {
            Parsed::Complete(a) => {
                assert_eq!(a.greeting.as_deref(), Some("nginx/1.22.1"));
                assert_eq!(a.rejection.map(|r| r.code), Some("403".to_string()));
            }
            Parsed::Incomplete => panic!(),
        }
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\n", false), Parsed::Incomplete);
        let p = parse(b"HTTP/1.1 401 Unauthorized\r\n\r\n", false);
        assert!(matches!(
            p,
            Parsed::Complete(Answer {
                rejection: None,
                ..
            })
        ));
    }
}
