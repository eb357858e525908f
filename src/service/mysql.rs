//! MySQL / MariaDB: the server speaks first, with a handshake packet (protocol 10 and the
//! server version: the service let us in, authentication is next) or an ERR packet (`0xff`,
//! sent instead of the handshake: 1130 host not allowed, 1129 host blocked, 1040 too many
//! connections).
//!
//! The polite close, measured against MariaDB 10.11 (name resolution on, `max_connect_errors`
//! 3; tests/services_mariadb.rs): reading the handshake and then closing, by FIN or by RST, is
//! a handshake error, and three of them block the host (ERR 1129) for every client on it. So
//! is `COM_QUIT` sent straight after the handshake, and so is a close during an auth-plugin
//! switch. A HandshakeResponse that the server refuses counts as no connection error at all
//! (`performance_schema.host_cache` stays at 0). So after the handshake packet the probe sends
//! a HandshakeResponse41 for the anonymous user (empty name, empty password) and `COM_QUIT`,
//! then closes with a FIN. The server logs one `Access denied for user ''@'HOST'` warning per
//! probe (it logs one `Aborted connection` warning for a bare close instead); an empty user
//! name keeps that line out of fail2ban's stock `mysqld-auth` filter, which matches only
//! non-empty names and would otherwise ban the scanner. `COM_QUIT` matters when an anonymous
//! account lets the login in: the server then ends the session without an error line.

use super::{Answer, Close, Parsed, RejectKind, reject};

/// Close with a FIN after `COM_QUIT`.
pub const CLOSE: Close = Close::Fin;

/// The user name of the farewell's HandshakeResponse: the anonymous user (see the module doc).
pub const FAREWELL_USER: &str = "";

/// The protocol version byte that starts a handshake packet.
const HANDSHAKE_V10: u8 = 10;
/// The first byte of an ERR packet.
const ERR: u8 = 0xff;

/// Parse the server's first packet.
pub fn parse(bytes: &[u8], closed: bool) -> Parsed {
    let Some((_, body)) = packet(bytes) else {
        return if closed && !bytes.is_empty() {
            unexpected("a truncated packet")
        } else {
            Parsed::Incomplete
        };
    };
    match body.split_first() {
        Some((&ERR, rest)) => error(rest),
        Some((&HANDSHAKE_V10, rest)) => {
            let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            let version = String::from_utf8_lossy(&rest[..end]);
            Parsed::Complete(Answer {
                greeting: Some(product(&version)),
                note: Some("authentication required (the server accepted the connection)".into()),
                ..Answer::default()
            })
        }
        _ => unexpected("not a MySQL handshake"),
    }
}

/// An ERR packet after its `0xff`: code (2 bytes, little-endian), an optional `#` + SQLSTATE
/// (5 bytes; absent in errors sent before the handshake), the message.
fn error(rest: &[u8]) -> Parsed {
    let Some((code, mut msg)) = rest.split_first_chunk::<2>() else {
        return unexpected("a truncated ERR packet");
    };
    let code = u16::from_le_bytes(*code);
    if msg.first() == Some(&b'#') {
        msg = msg.get(6..).unwrap_or(&[]);
    }
    reject(
        code.to_string(),
        String::from_utf8_lossy(msg),
        error_kind(code),
    )
}

/// Capacity for too many connections (1040), out of resources (1041), shutting down (1053)
/// and too many connections for the user (1203); every other refusal is an access rule.
fn error_kind(code: u16) -> RejectKind {
    match code {
        1040 | 1041 | 1053 | 1203 => RejectKind::Capacity,
        _ => RejectKind::Access,
    }
}

/// The sequence number and body of the first whole packet (after its 4-byte header: 3-byte
/// little-endian length, sequence number), once it has arrived.
fn packet(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let (&[l0, l1, l2, seq], rest) = bytes.split_first_chunk::<4>()?;
    let len = usize::from(l0) | usize::from(l1) << 8 | usize::from(l2) << 16;
    Some((seq, rest.get(..len)?))
}

/// `5.5.5-10.11.6-MariaDB-0+deb12u1` -> `MariaDB 10.11.6`; `8.0.36` -> `MySQL 8.0.36`.
fn product(version: &str) -> String {
    let v = version.strip_prefix("5.5.5-").unwrap_or(version);
    let num = v.split('-').next().unwrap_or(v);
    if v.contains("MariaDB") {
        format!("MariaDB {num}")
    } else {
        format!("MySQL {num}")
    }
}

fn unexpected(what: &str) -> Parsed {
    Parsed::Complete(Answer {
        note: Some(format!("unexpected answer: {what}")),
        ..Answer::default()
    })
}

/// After a handshake packet: a HandshakeResponse41 ([`FAREWELL_USER`], empty password) and
/// `COM_QUIT`, so the server sees a refused login instead of a connection error. Nothing after
/// an ERR packet (the server closes by itself) or anything else.
pub fn farewell(received: &[u8]) -> Option<Vec<u8>> {
    let (seq, body) = packet(received)?;
    if body.first() != Some(&HANDSHAKE_V10) {
        return None;
    }
    // capabilities: LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH
    let caps: u32 = 0x0000_0001 | 0x0000_0200 | 0x0000_8000 | 0x0008_0000;
    let mut resp = Vec::with_capacity(64);
    resp.extend_from_slice(&caps.to_le_bytes());
    resp.extend_from_slice(&(1u32 << 24).to_le_bytes()); // max packet size
    resp.push(33); // utf8_general_ci
    resp.extend_from_slice(&[0u8; 23]);
    resp.extend_from_slice(FAREWELL_USER.as_bytes());
    resp.push(0);
    resp.push(0); // empty auth response
    resp.extend_from_slice(b"mysql_native_password\0");
    let mut out = frame(seq.wrapping_add(1), &resp);
    out.extend_from_slice(&frame(0, &[0x01])); // COM_QUIT starts a new command: sequence 0
    Some(out)
}

/// A packet: 3-byte little-endian length, sequence number, body (always short here).
fn frame(seq: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len().to_le_bytes();
    let mut out = vec![len[0], len[1], len[2], seq];
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from MariaDB 10.11.19 (Debian 12) on the wire: the handshake packet.
    const GREETING: &[u8] = b"d\x00\x00\x00\n5.5.5-10.11.19-MariaDB-0+deb12u1\x00\n\x00\x00\x00r(liM#eS\x00\xfe\xf7\x08\x02\x00\xff\x81\x15\x00\x00\x00\x00\x00\x00\x1d\x00\x00\x00R~H,@<MN!WrX\x00mysql_native_password\x00";
    /// ERR 1130, sent instead of the handshake to a host without a grant.
    const ERR_1130: &[u8] = b"F\x00\x00\x00\xffj\x04Host 'nogrant.lab' is not allowed to connect to this MariaDB server";
    /// ERR 1129, to a host blocked by max_connect_errors.
    const ERR_1129: &[u8] = b"k\x00\x00\x00\xffi\x04Host '127.0.26.2' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'";
    /// ERR 1040, when max_connections and the SUPER slot are all in use.
    const ERR_1040: &[u8] = b"\x17\x00\x00\x00\xff\x10\x04Too many connections";
    /// The server's answer to the farewell's HandshakeResponse (with SQLSTATE).
    const ERR_1045: &[u8] =
        b"0\x00\x00\x02\xff\x15\x04#28000Access denied for user ''@'granted.lab'";

    fn rejection(bytes: &[u8]) -> (String, String, RejectKind) {
        match parse(bytes, true) {
            Parsed::Complete(Answer {
                rejection: Some(r),
                greeting: None,
                ..
            }) => (r.code, r.text, r.kind),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn real_handshake_is_access_with_the_version() {
        let Parsed::Complete(a) = parse(GREETING, false) else {
            panic!("incomplete")
        };
        assert_eq!(a.greeting.as_deref(), Some("MariaDB 10.11.19"));
        assert_eq!(a.rejection, None);
        assert!(a.note.unwrap().contains("authentication required"));
        // Every prefix is incomplete until the whole packet has arrived.
        for n in 0..GREETING.len() {
            assert_eq!(
                parse(&GREETING[..n], false),
                Parsed::Incomplete,
                "prefix {n}"
            );
        }
        assert!(
            matches!(parse(&GREETING[..50], true), Parsed::Complete(a) if a.note.as_deref().is_some_and(|n| n.contains("truncated")))
        );
    }

    #[test]
    fn real_err_packets() {
        assert_eq!(
            rejection(ERR_1130),
            (
                "1130".into(),
                "Host 'nogrant.lab' is not allowed to connect to this MariaDB server".into(),
                RejectKind::Access
            )
        );
        let (code, text, kind) = rejection(ERR_1129);
        assert_eq!((code.as_str(), kind), ("1129", RejectKind::Access));
        assert!(text.starts_with("Host '127.0.26.2' is blocked because of many connection errors"));
        assert_eq!(
            rejection(ERR_1040),
            (
                "1040".into(),
                "Too many connections".into(),
                RejectKind::Capacity
            )
        );
        let (code, text, _) = rejection(ERR_1045);
        assert_eq!(code, "1045");
        assert_eq!(
            text, "Access denied for user ''@'granted.lab'",
            "SQLSTATE skipped"
        );
        assert!(
            matches!(parse(b"\x01\x00\x00\x00\xff", true), Parsed::Complete(a) if a.rejection.is_none())
        );
    }

    #[test]
    fn mysql_versions() {
        assert_eq!(product("8.0.36"), "MySQL 8.0.36");
        assert_eq!(product("5.7.44-log"), "MySQL 5.7.44");
        assert_eq!(product("11.4.2-MariaDB"), "MariaDB 11.4.2");
    }

    #[test]
    fn farewell_is_an_anonymous_handshake_response_then_com_quit() {
        let out = farewell(GREETING).unwrap();
        let (seq, body) = packet(&out).unwrap();
        assert_eq!(
            seq, 1,
            "the response follows the handshake's sequence number"
        );
        assert_eq!(&body[..4], &0x0008_8201u32.to_le_bytes(), "capabilities");
        assert_eq!(body[8], 33);
        assert_eq!(&body[9..32], &[0u8; 23]);
        assert_eq!(
            &body[32..],
            b"\0\0mysql_native_password\0",
            "empty user and password"
        );
        assert_eq!(&out[4 + body.len()..], b"\x01\x00\x00\x00\x01", "COM_QUIT");
        assert_eq!(farewell(ERR_1130), None);
        assert_eq!(farewell(&GREETING[..20]), None);
    }
}
