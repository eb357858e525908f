//! Redis: the client speaks first (`PING`), but refusals are written at accept, before any
//! command, and the server then closes: protected mode (`-DENIED`: no password is set and the
//! client is not 127.0.0.1 or ::1, which are the only loopback addresses Redis knows) and
//! `maxclients` (`-ERR max number of clients reached`). `-NOAUTH` to a PING means the server
//! let us in and wants a password; `+PONG`, that it needs none. Measured against Redis 7.0
//! (tests/services_postgres_redis.rs).

use super::{Answer, Parsed, RejectKind, one_line, reject};

/// The hello: an inline `PING`.
pub fn ping() -> Vec<u8> {
    b"PING\r\n".to_vec()
}

/// The refusals Redis writes at accept: (reply prefix, code, kind). Complete as soon as the
/// prefix has arrived: the protected-mode text is over 1 kB on one line.
const REFUSALS: &[(&str, &str, RejectKind)] = &[
    ("-DENIED ", "DENIED", RejectKind::Access),
    (
        "-ERR max number of clients reached",
        "maxclients",
        RejectKind::Capacity,
    ),
];

/// Parse a Redis reply (complete at its first CRLF, or at a refusal's prefix).
pub fn parse(bytes: &[u8], closed: bool) -> Parsed {
    let text = String::from_utf8_lossy(bytes);
    for (prefix, code, kind) in REFUSALS {
        if text.starts_with(prefix) {
            return reject(*code, text.trim_start_matches('-'), *kind);
        }
    }
    let waiting_for = |prefix: &str| prefix.starts_with(text.as_ref()) && text.len() < prefix.len();
    if !closed && (!text.contains('\n') || REFUSALS.iter().any(|(p, ..)| waiting_for(p))) {
        return Parsed::Incomplete;
    }
    if text.is_empty() {
        return Parsed::Incomplete; // a silent close: the probe's verdict, not the parser's
    }
    let line = one_line(&text);
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

    /// Captured from Redis 7.0.15 (Debian 12) on the wire, at accept (1067 bytes, one line).
    const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";
    /// At accept, with `maxclients` connections open.
    const MAXCLIENTS: &[u8] = b"-ERR max number of clients reached\r\n";
    /// The answer to PING with `requirepass`.
    const NOAUTH: &[u8] = b"-NOAUTH Authentication required.\r\n";

    fn rejection(bytes: &[u8], closed: bool) -> (String, String, RejectKind) {
        match parse(bytes, closed) {
            Parsed::Complete(Answer {
                rejection: Some(r), ..
            }) => (r.code, r.text, r.kind),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn real_refusals() {
        let (code, text, kind) = rejection(DENIED, true);
        assert_eq!((code.as_str(), kind), ("DENIED", RejectKind::Access));
        assert!(text.starts_with("DENIED Redis is running in protected mode because"));
        assert_eq!(text.chars().count(), 200, "one line, cut");
        // The first 256 bytes are enough (no CRLF in them).
        assert_eq!(rejection(&DENIED[..256], false).0, "DENIED");
        assert_eq!(
            rejection(MAXCLIENTS, true),
            (
                "maxclients".into(),
                "ERR max number of clients reached".into(),
                RejectKind::Capacity
            )
        );
        for n in 0..8 {
            assert_eq!(parse(&DENIED[..n], false), Parsed::Incomplete, "prefix {n}");
        }
        assert_eq!(parse(&MAXCLIENTS[..20], false), Parsed::Incomplete);
    }

    #[test]
    fn real_answers_to_ping() {
        for (reply, note) in [
            (NOAUTH, "authentication required"),
            (&b"+PONG\r\n"[..], "no password required"),
        ] {
            let Parsed::Complete(a) = parse(reply, false) else {
                panic!("incomplete")
            };
            assert_eq!(a.rejection, None);
            assert_eq!(a.greeting.as_deref(), Some("Redis"));
            assert!(a.note.unwrap().contains(note));
        }
        assert_eq!(parse(b"+PO", false), Parsed::Incomplete);
        let Parsed::Complete(a) = parse(b"SSH-2.0-OpenSSH_9.2p1\r\n", false) else {
            panic!("incomplete")
        };
        assert!(a.rejection.is_none() && a.note.unwrap().contains("unexpected"));
        assert_eq!(parse(b"", true), Parsed::Incomplete);
    }
}
