//! Line-based server-speaks-first protocols: SSH's identification line, and the SMTP, FTP,
//! POP3 and IMAP greetings. A greeting is complete at its first CRLF (SMTP and FTP: at the last
//! line of a multi-line reply, `NNN ` rather than `NNN-`).

use super::{Answer, Close, Parsed, RejectKind, Service, one_line, reject};

/// Parse a greeting of `service` (one of ssh, smtp, submission, ftp, pop3, imap).
pub fn parse(service: Service, bytes: &[u8], closed: bool) -> Parsed {
    let Some(text) = complete_reply(service, bytes, closed) else {
        return Parsed::Incomplete;
    };
    match service {
        Service::Ssh => ssh(&text),
        Service::Smtp | Service::Submission => smtp(&text),
        Service::Ftp => ftp(&text),
        Service::Pop3 => pop3(&text),
        Service::Imap => imap(&text),
        _ => Parsed::Complete(Answer::default()),
    }
}

/// The reply text once it is complete (or the peer closed after part of it).
fn complete_reply(service: Service, bytes: &[u8], closed: bool) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let coded = matches!(service, Service::Smtp | Service::Submission | Service::Ftp);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if !line.ends_with('\n') {
            break;
        }
        if !coded {
            // SSH may send other lines before its `SSH-` identification (RFC 4253 4.2).
            if service != Service::Ssh || line.starts_with("SSH-") || !line.is_ascii() {
                done = true;
                break;
            }
            continue;
        }
        let b = line.as_bytes();
        if b.len() < 4 || b[3] != b'-' {
            done = true;
            break;
        }
    }
    if done || (closed && !text.trim().is_empty()) {
        Some(text.into_owned())
    } else {
        None
    }
}

fn ssh(text: &str) -> Parsed {
    if let Some(id) = text.lines().find(|l| l.starts_with("SSH-")) {
        // SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 -> OpenSSH_9.2p1
        let software = id.splitn(3, '-').nth(2).unwrap_or("").trim();
        let name = software.split(' ').next().unwrap_or(software);
        return Parsed::Complete(Answer {
            greeting: Some(name.to_string()).filter(|s| !s.is_empty()),
            ..Answer::default()
        });
    }
    let line = one_line(text);
    if line.contains("MaxStartups") {
        return reject("MaxStartups", line, RejectKind::Capacity);
    }
    if line.contains("Not allowed at this time") {
        return reject("penalty", line, RejectKind::Access);
    }
    Parsed::Complete(Answer {
        note: Some(format!("not an SSH identification: {line}")),
        ..Answer::default()
    })
}

/// The three-digit code and text of a reply's last line.
fn code_of(text: &str) -> Option<(u16, String)> {
    let last = text.lines().rev().find(|l| !l.trim().is_empty())?;
    let code: u16 = last.get(..3)?.parse().ok()?;
    let msg = text
        .lines()
        .map(|l| l.get(4..).unwrap_or("").trim())
        .collect::<Vec<_>>()
        .join(" ");
    Some((code, msg))
}

fn capacity_words(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("too many") || t.contains("try again later") || t.contains("overload")
}

fn smtp(text: &str) -> Parsed {
    let Some((code, msg)) = code_of(text) else {
        return unexpected(text);
    };
    match code {
        220 => Parsed::Complete(Answer {
            greeting: smtp_software(&msg),
            ..Answer::default()
        }),
        421 => reject("421", format!("421 {msg}"), RejectKind::Capacity),
        500..=599 => {
            let kind = if capacity_words(&msg) {
                RejectKind::Capacity
            } else {
                RejectKind::Access
            };
            reject(code.to_string(), format!("{code} {msg}"), kind)
        }
        _ => unexpected(text),
    }
}

/// `mail.example ESMTP Postfix (Debian/GNU)` -> `Postfix ESMTP`.
fn smtp_software(msg: &str) -> Option<String> {
    let words: Vec<&str> = msg.split_whitespace().collect();
    let proto = words.iter().position(|w| w.eq_ignore_ascii_case("esmtp"));
    match proto {
        Some(i) => match words.get(i + 1) {
            Some(sw) => Some(format!("{sw} ESMTP")),
            None => Some("ESMTP".to_string()),
        },
        None => Some(one_line(msg)).filter(|s| !s.is_empty()),
    }
}

fn ftp(text: &str) -> Parsed {
    let Some((code, msg)) = code_of(text) else {
        return unexpected(text);
    };
    match code {
        220 => Parsed::Complete(Answer {
            greeting: Some(one_line(&msg)).filter(|s| !s.is_empty()),
            ..Answer::default()
        }),
        421 => {
            let kind = if capacity_words(&msg) {
                RejectKind::Capacity
            } else {
                RejectKind::Access
            };
            reject("421", format!("421 {msg}"), kind)
        }
        500..=599 => reject(
            code.to_string(),
            format!("{code} {msg}"),
            RejectKind::Access,
        ),
        _ => unexpected(text),
    }
}

fn pop3(text: &str) -> Parsed {
    let line = one_line(text);
    if let Some(rest) = line.strip_prefix("+OK") {
        return Parsed::Complete(Answer {
            greeting: Some(rest.trim().to_string()).filter(|s| !s.is_empty()),
            ..Answer::default()
        });
    }
    if line.starts_with("-ERR") {
        let kind = if capacity_words(&line) {
            RejectKind::Capacity
        } else {
            RejectKind::Access
        };
        return reject("-ERR", line, kind);
    }
    unexpected(text)
}

fn imap(text: &str) -> Parsed {
    let line = one_line(text);
    let upper = line.to_ascii_uppercase();
    if upper.starts_with("* OK") || upper.starts_with("* PREAUTH") {
        return Parsed::Complete(Answer {
            greeting: Some(line.get(4..).unwrap_or("").trim().to_string())
                .filter(|s| !s.is_empty()),
            ..Answer::default()
        });
    }
    if upper.starts_with("* BYE") || upper.starts_with("* NO") {
        let kind = if capacity_words(&line) {
            RejectKind::Capacity
        } else {
            RejectKind::Access
        };
        let code = if upper.starts_with("* BYE") {
            "BYE"
        } else {
            "NO"
        };
        return reject(code, line, kind);
    }
    unexpected(text)
}

fn unexpected(text: &str) -> Parsed {
    Parsed::Complete(Answer {
        note: Some(format!("unexpected greeting: {}", one_line(text))),
        ..Answer::default()
    })
}

/// The polite goodbye after a greeting: `QUIT` (SMTP, FTP, POP3), `LOGOUT` (IMAP); nothing
/// for SSH.
pub fn farewell(service: Service, _received: &[u8]) -> Option<Vec<u8>> {
    match service {
        Service::Smtp | Service::Submission | Service::Ftp | Service::Pop3 => {
            Some(b"QUIT\r\n".to_vec())
        }
        Service::Imap => Some(b"a LOGOUT\r\n".to_vec()),
        _ => None,
    }
}

/// How to close: a RST for SSH (a FIN after the identification is logged like a RST, and a
/// RST leaves no TIME_WAIT), a FIN after a QUIT elsewhere.
pub fn close(service: Service) -> Close {
    match service {
        Service::Ssh => Close::Rst,
        _ => Close::Fin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(p: Parsed) -> (String, RejectKind) {
        match p {
            Parsed::Complete(Answer {
                rejection: Some(r), ..
            }) => (r.code, r.kind),
            other => panic!("not a rejection: {other:?}"),
        }
    }

    #[test]
    fn ssh_identification_and_refusals() {
        let p = parse(
            Service::Ssh,
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
            false,
        );
        assert_eq!(
            p,
            Parsed::Complete(Answer {
                greeting: Some("OpenSSH_9.2p1".into()),
                ..Answer::default()
            })
        );
        assert_eq!(
            parse(Service::Ssh, b"SSH-2.0-Open", false),
            Parsed::Incomplete
        );
        let (code, kind) = rejection(parse(Service::Ssh, b"Exceeded MaxStartups\r\n", true));
        assert_eq!((code.as_str(), kind), ("MaxStartups", RejectKind::Capacity));
    }

    #[test]
    fn smtp_greetings() {
        let p = parse(
            Service::Smtp,
            b"220 mx.lab ESMTP Postfix (Debian/GNU)\r\n",
            false,
        );
        match p {
            Parsed::Complete(a) => assert_eq!(a.greeting.as_deref(), Some("Postfix ESMTP")),
            Parsed::Incomplete => panic!("incomplete"),
        }
        let (code, kind) = rejection(parse(
            Service::Smtp,
            b"554 5.7.1 <unknown[127.0.25.9]>: Client host rejected: Access denied\r\n",
            false,
        ));
        assert_eq!((code.as_str(), kind), ("554", RejectKind::Access));
        assert_eq!(
            parse(Service::Smtp, b"220-mx.lab\r\n", false),
            Parsed::Incomplete
        );
        let (code, kind) = rejection(parse(
            Service::Smtp,
            b"421 4.7.0 mx.lab Error: too many connections from 127.0.0.9\r\n",
            true,
        ));
        assert_eq!((code.as_str(), kind), ("421", RejectKind::Capacity));
    }

    #[test]
    fn ftp_greetings() {
        let (code, kind) = rejection(parse(
            Service::Ftp,
            b"421 There are too many connections from your internet address.\r\n",
            true,
        ));
        assert_eq!((code.as_str(), kind), ("421", RejectKind::Capacity));
        let (code, kind) = rejection(parse(Service::Ftp, b"421 Service not available.\r\n", true));
        assert_eq!((code.as_str(), kind), ("421", RejectKind::Access));
        let (code, _) = rejection(parse(Service::Ftp, b"530 Permission denied.\r\n", true));
        assert_eq!(code, "530");
    }
}
