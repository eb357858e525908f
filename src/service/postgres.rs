//! PostgreSQL: the client speaks first. The hello is a protocol-3.0 StartupMessage (user and
//! database `telltale`); the server answers with an authentication request (`R`: it let us in
//! and wants credentials) or an ErrorResponse (`E`: `pg_hba.conf` rejects us, SQLSTATE 28000,
//! or too many connections, 53300). A FIN closes: PostgreSQL logs every RST as an error.

use super::{Answer, Close, Parsed, RejectKind, reject};

/// PostgreSQL logs `could not receive data from client: Connection reset by peer` for a RST.
pub const CLOSE: Close = Close::Fin;

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
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    msg
}

/// Parse the server's first message.
pub fn parse(bytes: &[u8], _closed: bool) -> Parsed {
    let Some(&tag) = bytes.first() else {
        return Parsed::Incomplete;
    };
    if bytes.len() < 5 {
        return Parsed::Incomplete;
    }
    let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    let whole = bytes.len() > len;
    match tag {
        b'R' => Parsed::Complete(Answer {
            greeting: Some("PostgreSQL".into()),
            note: Some("authentication required (the server accepted the connection)".into()),
            ..Answer::default()
        }),
        b'E' if whole || bytes.len() >= 256 => {
            let fields = error_fields(&bytes[5..bytes.len().min(len + 1)]);
            let code = fields
                .iter()
                .find(|(t, _)| *t == b'C')
                .map_or("?", |(_, v)| v.as_str())
                .to_string();
            let msg = fields
                .iter()
                .find(|(t, _)| *t == b'M')
                .map_or("", |(_, v)| v.as_str())
                .to_string();
            let kind = if code.starts_with("53") || code == "57P03" {
                RejectKind::Capacity
            } else {
                RejectKind::Access
            };
            reject(code, msg, kind)
        }
        b'E' => Parsed::Incomplete,
        _ => Parsed::Complete(Answer {
            note: Some(format!("unexpected first message type {:?}", tag as char)),
            ..Answer::default()
        }),
    }
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

    #[test]
    fn startup_and_error() {
        let s = startup();
        assert_eq!(
            u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize,
            s.len()
        );
        let mut e = vec![b'E'];
        let body = b"SFATAL\0C28000\0Mpg_hba.conf rejects connection for host \"127.0.0.1\"\0\0";
        e.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        e.extend_from_slice(body);
        match parse(&e, true) {
            Parsed::Complete(Answer {
                rejection: Some(r), ..
            }) => {
                assert_eq!(r.code, "28000");
                assert!(r.text.starts_with("pg_hba.conf rejects"));
                assert_eq!(r.kind, RejectKind::Access);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(&e[..3], false), Parsed::Incomplete);
    }
}
