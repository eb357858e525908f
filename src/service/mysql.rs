//! MySQL / MariaDB: the server speaks first, with a handshake packet (protocol 10 and the
//! server version: the service let us in, authentication is next) or an ERR packet (`0xff`:
//! 1130 host not allowed, 1129 host blocked, 1040 too many connections).
//!
//! The polite close: a probe that reads the greeting and then closes (FIN or RST) counts toward
//! the server's `max_connect_errors`, and after that many the host is blocked for everyone on
//! it. A completed handshake with an unknown user counts only as an authentication error, which
//! never blocks. So after the greeting the probe sends a HandshakeResponse for user `telltale`
//! with an empty password, then `COM_QUIT` (haproxy's `mysql-check` does the same), and closes.

use super::{Answer, Close, Parsed, RejectKind, reject};

/// Close with a FIN after `COM_QUIT`.
pub const CLOSE: Close = Close::Fin;

/// Parse the server's first packet.
pub fn parse(bytes: &[u8], closed: bool) -> Parsed {
    let Some((seq_body, whole)) = packet(bytes) else {
        return if closed && !bytes.is_empty() {
            unexpected("a truncated packet")
        } else {
            Parsed::Incomplete
        };
    };
    let _ = whole;
    let body = seq_body;
    match body.first() {
        Some(0xff) => {
            let code = body
                .get(1..3)
                .map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
            let mut msg = body.get(3..).unwrap_or(&[]);
            if msg.first() == Some(&b'#') {
                msg = msg.get(6..).unwrap_or(&[]); // `#` + SQLSTATE
            }
            let text = String::from_utf8_lossy(msg).into_owned();
            let kind = if code == 1040 {
                RejectKind::Capacity
            } else {
                RejectKind::Access
            };
            reject(code.to_string(), text, kind)
        }
        Some(10) => {
            let end = body[1..].iter().position(|&c| c == 0).unwrap_or(0);
            let version = String::from_utf8_lossy(&body[1..1 + end]).into_owned();
            Parsed::Complete(Answer {
                greeting: Some(product(&version)),
                note: Some("authentication required (the server accepted the connection)".into()),
                ..Answer::default()
            })
        }
        _ => unexpected("not a MySQL handshake"),
    }
}

/// One whole packet's body (after the 4-byte header), once it has arrived.
fn packet(bytes: &[u8]) -> Option<(&[u8], bool)> {
    if bytes.len() < 4 {
        return None;
    }
    let len = usize::from(bytes[0]) | usize::from(bytes[1]) << 8 | usize::from(bytes[2]) << 16;
    let body = bytes.get(4..4 + len)?;
    Some((body, true))
}

/// `5.5.5-10.11.6-MariaDB-0+deb12u1` -> `MariaDB 10.11.6`; `8.0.36` -> `MySQL 8.0.36`.
fn product(version: &str) -> String {
    let v = version.strip_prefix("5.5.5-").unwrap_or(version);
    if v.contains("MariaDB") {
        let num = v.split('-').next().unwrap_or(v);
        format!("MariaDB {num}")
    } else {
        format!("MySQL {}", v.split('-').next().unwrap_or(v))
    }
}

fn unexpected(what: &str) -> Parsed {
    Parsed::Complete(Answer {
        note: Some(format!("unexpected answer: {what}")),
        ..Answer::default()
    })
}

/// After a handshake packet: a HandshakeResponse41 (user `telltale`, empty password) and
/// `COM_QUIT`, so the server sees a completed handshake instead of a connection error.
pub fn farewell(received: &[u8]) -> Option<Vec<u8>> {
    let (body, _) = packet(received)?;
    if body.first() != Some(&10) {
        return None;
    }
    // capabilities: LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH
    let caps: u32 = 0x0000_0001 | 0x0000_0200 | 0x0000_8000 | 0x0008_0000;
    let mut resp = Vec::new();
    resp.extend_from_slice(&caps.to_le_bytes());
    resp.extend_from_slice(&(1u32 << 24).to_le_bytes()); // max packet
    resp.push(33); // utf8_general_ci
    resp.extend_from_slice(&[0u8; 23]);
    resp.extend_from_slice(b"telltale\0");
    resp.push(0); // empty auth response
    resp.extend_from_slice(b"mysql_native_password\0");
    let mut out = frame(1, &resp);
    out.extend_from_slice(&frame(0, &[0x01])); // COM_QUIT
    Some(out)
}

fn frame(seq: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() as u32;
    let mut out = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, seq];
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_and_errors() {
        let mut g = vec![0u8, 0, 0, 0, 10];
        g.extend_from_slice(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0rest");
        let n = g.len() - 4;
        g[0] = n as u8;
        match parse(&g, false) {
            Parsed::Complete(a) => assert_eq!(a.greeting.as_deref(), Some("MariaDB 10.11.6")),
            Parsed::Incomplete => panic!(),
        }
        assert!(farewell(&g).is_some());
        let mut e = vec![0u8, 0, 0, 0, 0xff, 0x6a, 0x04];
        e.extend_from_slice(b"Host '127.0.0.9' is not allowed to connect to this MariaDB server");
        let n = e.len() - 4;
        e[0] = n as u8;
        match parse(&e, true) {
            Parsed::Complete(Answer {
                rejection: Some(r), ..
            }) => {
                assert_eq!(r.code, "1130");
                assert_eq!(r.kind, RejectKind::Access);
            }
            other => panic!("{other:?}"),
        }
    }
}
