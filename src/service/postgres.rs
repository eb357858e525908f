//! PostgreSQL: the client speaks first. The hello is a protocol-3.0 StartupMessage (user and
//! database `telltale`); the server answers with an authentication request (`R`: it let us in
//! and wants credentials, or `AuthenticationOk` under `trust`) or an ErrorResponse (`E`:
//! `pg_hba.conf` rejects us, SQLSTATE 28000, or too many connections, 53300). Without the
//! hello the server waits silently for it.
//!
//! Measured against PostgreSQL 15 (tests/services_postgres_redis.rs): every close by RST,
//! connect-only included, logs `could not receive data from client: Connection reset by peer`;
//! a close by FIN logs nothing, and neither does a FIN right after an authentication request
//! (no `password authentication failed`: no password was sent). So the probe closes with a
//! FIN. The server's own refusals (`pg_hba.conf rejects connection`, `too many clients`) and,
//! under `trust`, `role "telltale" does not exist` are logged as FATAL by the server whatever
//! the close: they are the price of `--hello`.

use super::{Answer, Close, Parsed, RejectKind, reject};

/// PostgreSQL logs `could not receive data from client: Connection reset by peer` for a RST.
pub const CLOSE: Close = Close::Fin;

/// Longest ErrorResponse waited for: a longer one is parsed from what has arrived.
const MAX_ERROR: usize = 4096;

/// The StartupMessage sent as the hello.
pub fn startup() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
    for (k, v) in [("user", "telltale"), ("database", "telltale")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = (body.len() as u32 + 4).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    msg
}

/// Parse the server's first message: type byte, 4-byte big-endian length (itself included),
/// body.
pub fn parse(bytes: &[u8], closed: bool) -> Parsed {
    let Some((&tag, rest)) = bytes.split_first() else {
        return Parsed::Incomplete;
    };
    let Some((len, _)) = rest.split_first_chunk::<4>() else {
        return if closed {
            unexpected("a truncated message")
        } else {
            Parsed::Incomplete
        };
    };
    let len = u32::from_be_bytes(*len) as usize;
    if !(4..=1 << 20).contains(&len) || !matches!(tag, b'R' | b'E') {
        return unexpected(&format!("first message type {:?}", char::from(tag)));
    }
    let body = &rest[4..rest.len().min(len)];
    let whole = rest.len() >= len;
    let decided = whole || closed || (tag == b'E' && rest.len() >= MAX_ERROR);
    if !decided {
        return Parsed::Incomplete;
    }
    if tag == b'R' {
        return auth_request(body, whole);
    }
    let fields = error_fields(body);
    let field = |t: u8| {
        fields
            .iter()
            .find(|(k, _)| *k == t)
            .map(|(_, v)| v.as_str())
    };
    let code = field(b'C').unwrap_or("?").to_string();
    let kind = if code.starts_with("53") || code == "57P03" {
        RejectKind::Capacity
    } else {
        RejectKind::Access
    };
    reject(code, field(b'M').unwrap_or(""), kind)
}

/// An authentication request: the server accepted the connection.
fn auth_request(body: &[u8], whole: bool) -> Parsed {
    let Some((method, data)) = body.split_first_chunk::<4>().filter(|_| whole) else {
        return unexpected("a truncated authentication request");
    };
    let note = match u32::from_be_bytes(*method) {
        0 => "no password required: the server accepted the startup (trust)".to_string(),
        m => {
            let how = match m {
                3 => "cleartext password".to_string(),
                5 => "MD5 password".to_string(),
                7 => "GSSAPI".to_string(),
                9 => "SSPI".to_string(),
                10 => data
                    .split(|&c| c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
                other => format!("method {other}"),
            };
            format!("authentication required ({how}; the server accepted the connection)")
        }
    };
    Parsed::Complete(Answer {
        greeting: Some("PostgreSQL".into()),
        note: Some(note),
        ..Answer::default()
    })
}

fn unexpected(what: &str) -> Parsed {
    Parsed::Complete(Answer {
        note: Some(format!("unexpected answer: {what}")),
        ..Answer::default()
    })
}

/// ErrorResponse fields: (type byte, value) pairs.
fn error_fields(mut b: &[u8]) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    while let Some((&t, rest)) = b.split_first() {
        if t == 0 {
            break;
        }
        let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
        out.push((t, String::from_utf8_lossy(&rest[..end]).into_owned()));
        b = rest.get(end + 1..).unwrap_or(&[]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from PostgreSQL 15.18 (Debian 12) on the wire: `host all all A/32 reject`.
    const HBA_REJECT: &[u8] = b"E\x00\x00\x00\xa8SFATAL\x00VFATAL\x00C28000\x00Mpg_hba.conf rejects connection for host \"127.0.26.1\", user \"telltale\", database \"telltale\", no encryption\x00Fauth.c\x00L476\x00RClientAuthentication\x00\x00";
    /// `scram-sha-256` (and `md5` for a role without an MD5 password): AuthenticationSASL.
    const SASL: &[u8] = b"R\x00\x00\x00\x17\x00\x00\x00\nSCRAM-SHA-256\x00\x00";
    /// `trust`: AuthenticationOk, then the role check fails.
    const TRUST: &[u8] = b"R\x00\x00\x00\x08\x00\x00\x00\x00E\x00\x00\x00dSFATAL\x00VFATAL\x00C28000\x00Mrole \"telltale\" does not exist\x00Fmiscinit.c\x00L768\x00RInitializeSessionUserId\x00\x00";
    /// Every connection slot in use.
    const TOO_MANY: &[u8] = b"E\x00\x00\x00USFATAL\x00VFATAL\x00C53300\x00Msorry, too many clients already\x00Fproc.c\x00L357\x00RInitProcess\x00\x00";

    fn parsed(bytes: &[u8], closed: bool) -> Answer {
        match parse(bytes, closed) {
            Parsed::Complete(a) => a,
            Parsed::Incomplete => panic!("incomplete: {bytes:?}"),
        }
    }

    #[test]
    fn startup_message() {
        let s = startup();
        assert_eq!(
            u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize,
            s.len()
        );
        assert_eq!(&s[4..8], &[0, 3, 0, 0]);
        assert_eq!(&s[8..], b"user\0telltale\0database\0telltale\0\0");
    }

    #[test]
    fn real_hba_reject() {
        let r = parsed(HBA_REJECT, false).rejection.unwrap();
        assert_eq!(r.code, "28000");
        assert_eq!(
            r.text,
            "pg_hba.conf rejects connection for host \"127.0.26.1\", user \"telltale\", \
             database \"telltale\", no encryption"
        );
        assert_eq!(r.kind, RejectKind::Access);
        for n in 0..HBA_REJECT.len() {
            assert_eq!(
                parse(&HBA_REJECT[..n], false),
                Parsed::Incomplete,
                "prefix {n}"
            );
        }
    }

    #[test]
    fn real_too_many_clients_is_capacity() {
        let r = parsed(TOO_MANY, false).rejection.unwrap();
        assert_eq!(
            (r.code.as_str(), r.text.as_str(), r.kind),
            (
                "53300",
                "sorry, too many clients already",
                RejectKind::Capacity
            )
        );
    }

    #[test]
    fn real_auth_requests_are_access() {
        let a = parsed(SASL, false);
        assert_eq!(a.greeting.as_deref(), Some("PostgreSQL"));
        assert_eq!(a.rejection, None);
        assert_eq!(
            a.note.as_deref(),
            Some("authentication required (SCRAM-SHA-256; the server accepted the connection)")
        );
        assert_eq!(parse(&SASL[..8], false), Parsed::Incomplete);
        let a = parsed(TRUST, false);
        assert_eq!(a.rejection, None);
        assert!(a.note.unwrap().contains("trust"));
    }

    #[test]
    fn other_services_are_unexpected() {
        let a = parsed(b"HTTP/1.1 400 Bad Request\r\n", false);
        assert!(a.rejection.is_none() && a.note.unwrap().contains("unexpected"));
        let a = parsed(b"E\x00", true);
        assert!(a.note.unwrap().contains("truncated"));
    }
}
