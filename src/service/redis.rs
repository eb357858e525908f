//! Redis: the client speaks first (`PING`), but refusals are written at accept, before any
//! command: protected mode (`-DENIED`) and `maxclients` (`-ERR max number of clients
//! reached`). `-NOAUTH` to a PING means the server let us in and wants a password.

use super::{Answer, Parsed, RejectKind, one_line, reject};

/// The hello: an inline `PING`.
pub fn ping() -> Vec<u8> {
    b"PING\r\n".to_vec()
}

/// Parse a Redis reply (complete at its first CRLF).
pub fn parse(bytes: &[u8], closed: bool) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    if !text.contains('\n') && (!closed || text.is_empty()) {
        return Parsed::Incomplete;
    }
    let line = one_line(&text);
    if line.starts_with("-DENIED") {
        return reject("DENIED", line, RejectKind::Access);
    }
    if line.starts_with("-ERR max number of clients") {
        return reject("maxclients", line, RejectKind::Capacity);
    }
    if line.starts_with("-NOAUTH") {
        return Parsed::Complete(Answer {
            greeting: Some("Redis".into()),
            note: Some("authentication required (the server accepted the connection)".into()),
            ..Answer::default()
        });
    }
    if line.starts_with("+PONG") {
        return Parsed::Complete(Answer {
            greeting: Some("Redis".into()),
            note: Some("PONG: no password required".into()),
            ..Answer::default()
        });
    }
    Parsed::Complete(Answer {
        note: Some(format!("unexpected reply: {line}")),
        ..Answer::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals() {
        let p = parse(
            b"-DENIED Redis is running in protected mode because\r\n",
            true,
        );
        assert!(
            matches!(p, Parsed::Complete(Answer { rejection: Some(r), .. }) if r.kind == RejectKind::Access)
        );
        let p = parse(b"-ERR max number of clients reached\r\n", true);
        assert!(
            matches!(p, Parsed::Complete(Answer { rejection: Some(r), .. }) if r.kind == RejectKind::Capacity)
        );
        assert_eq!(parse(b"+PO", false), Parsed::Incomplete);
    }
}
