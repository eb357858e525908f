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
            // SSH may send other lines before its `SSH-` identification (RFC 4253 4.2); a
            // refusal line (`Exceeded MaxStartups`) is complete without waiting for the close.
            if service != Service::Ssh
                || line.starts_with("SSH-")
                || !line.is_ascii()
                || ssh_refusal(line).is_some()
            {
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
    let refusal = text
        .lines()
        .find_map(|l| ssh_refusal(l).map(|found| (l, found)));
    if let Some((words, (code, kind))) = refusal {
        return reject(code, words, kind);
    }
    let line = one_line(text);
    Parsed::Complete(Answer {
        note: Some(format!("not an SSH identification: {line}")),
        ..Answer::default()
    })
}

/// OpenSSH's words when it turns a connection away before its identification line: sshd's
/// `MaxStartups` drop (`Exceeded MaxStartups`, then a FIN) and OpenSSH 9.8's per-source
/// penalty (`Not allowed at this time`).
fn ssh_refusal(line: &str) -> Option<(&'static str, RejectKind)> {
    if line.contains("Exceeded MaxStartups") {
        Some(("MaxStartups", RejectKind::Capacity))
    } else if line.contains("Not allowed at this time") {
        Some(("penalty", RejectKind::Access))
    } else {
        None
    }
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

/// SMTP greetings (RFC 5321 4.3.1: `220` ready, `421` closing, `554` no service; RFC 7504:
/// `521` does not accept mail). Postfix 3.7: `220 mx.lab ESMTP Postfix (Debian/GNU)`; an access
/// rule at connect time (`smtpd_delay_reject = no`): `554 5.7.1 <unknown[127.0.25.2]>: Client
/// host rejected: Access denied` (the session stays open until QUIT); a connection limit: `421
/// 4.7.0 mx.lab Error: too many connections from 127.0.25.3`; postscreen's denylist with `drop`:
/// `521 5.3.2 Service currently unavailable`. postscreen sends `220-` first and the final `220 `
/// line only after its greet wait (6 s).
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

/// FTP greetings (RFC 959: `220` ready, `421` closing; vsFTPd 3.0.3 sends `220 (vsFTPd
/// 3.0.3)`, `421 Service not available.` to a tcp_wrappers-denied client, `421 There are too
/// many connections from your internet address.` (max_per_ip), `421 There are too many
/// connected users, please try later.` (max_clients), and `500 OOPS: ...` when it cannot serve
/// at all).
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
        // vsftpd's `500 OOPS:` is the server failing (a config or resource error), not a rule
        // about this client: its operator has to fix it.
        500 if msg.starts_with("OOPS") => reject("500", format!("500 {msg}"), RejectKind::Capacity),
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

/// The polite goodbye after a greeting: `QUIT` (SMTP, FTP, POP3), `a LOGOUT` (IMAP); nothing
/// for SSH. Only once the server has finished its greeting and still takes commands: a
/// command sent into an unfinished multi-line greeting is what postscreen's pregreet test
/// catches (and logs as a `PREGREET` violation), and after a closing reply (`421`, SMTP `521`,
/// vsftpd's `500 OOPS`, POP3 `-ERR`, IMAP `* BYE`) the server is gone: a `QUIT` would only
/// draw a RST.
pub fn farewell(service: Service, received: &[u8]) -> Option<Vec<u8>> {
    let text = complete_reply(service, received, false)?;
    match service {
        Service::Smtp | Service::Submission => {
            let (code, _) = code_of(&text)?;
            // RFC 5321 3.1: after a 554 greeting the server waits for QUIT (Postfix does).
            matches!(code, 220 | 554).then(|| b"QUIT\r\n".to_vec())
        }
        Service::Ftp => {
            let (code, _) = code_of(&text)?;
            (code == 220).then(|| b"QUIT\r\n".to_vec())
        }
        Service::Pop3 => one_line(&text)
            .starts_with("+OK")
            .then(|| b"QUIT\r\n".to_vec()),
        Service::Imap => {
            let upper = one_line(&text).to_ascii_uppercase();
            (upper.starts_with("* OK") || upper.starts_with("* PREAUTH"))
                .then(|| b"a LOGOUT\r\n".to_vec())
        }
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

    /// What sshd 9.2 sent on the wire in the namespace tests (tests/services_ssh.rs,
    /// tests/services_xinetd.rs).
    #[test]
    fn ssh_wire_answers() {
        // The MaxStartups drop is complete at its line: no wait for the FIN.
        let (code, kind) = rejection(parse(Service::Ssh, b"Exceeded MaxStartups\r\n", false));
        assert_eq!((code.as_str(), kind), ("MaxStartups", RejectKind::Capacity));
        let (code, kind) = rejection(parse(Service::Ssh, b"Not allowed at this time\r\n", false));
        assert_eq!((code.as_str(), kind), ("penalty", RejectKind::Access));
        // Lines before the identification (RFC 4253 4.2) wait for it...
        assert_eq!(
            parse(Service::Ssh, b"Welcome\r\n", false),
            Parsed::Incomplete
        );
        let p = parse(
            Service::Ssh,
            b"Welcome\r\nSSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n",
            false,
        );
        match p {
            Parsed::Complete(a) => assert_eq!(a.greeting.as_deref(), Some("OpenSSH_9.2p1")),
            Parsed::Incomplete => panic!("incomplete"),
        }
        // ... and a text that ends in a close (xinetd's banner_fail) is no greeting and no
        // rejection: the close decides the verdict.
        match parse(Service::Ssh, b"Access denied by xinetd\r\n", true) {
            Parsed::Complete(a) => {
                assert!(a.greeting.is_none() && a.rejection.is_none(), "{a:?}");
                assert!(
                    a.note
                        .is_some_and(|n| n.contains("Access denied by xinetd"))
                );
            }
            Parsed::Incomplete => panic!("incomplete"),
        }
        // An identification without a software version field.
        match parse(Service::Ssh, b"SSH-2.0-\r\n", false) {
            Parsed::Complete(a) => assert!(a.greeting.is_none(), "{a:?}"),
            Parsed::Incomplete => panic!("incomplete"),
        }
    }

    /// `Some((code, text, kind))` for a rejection, `None` for an acceptance; the greeting.
    type Seen = (Option<(String, String, RejectKind)>, Option<String>);

    fn seen(p: Parsed) -> Seen {
        match p {
            Parsed::Complete(a) => (a.rejection.map(|r| (r.code, r.text, r.kind)), a.greeting),
            Parsed::Incomplete => panic!("incomplete"),
        }
    }

    use RejectKind::{Access, Capacity};
    use Service::{Ftp, Smtp};

    // What Debian 12's Postfix 3.7.11 and vsftpd 3.0.3 sent on the wire (tcpdump on lo in
    // tests/services_mail_ftp.rs's namespaces): (service, bytes, closed after, code, kind,
    // greeting). The rejection text is the line without CRLF.
    type Case = (
        Service,
        &'static str,
        bool,
        &'static str,
        Option<RejectKind>,
        Option<&'static str>,
    );
    #[rustfmt::skip]
    const REAL: &[Case] = &[
        (Smtp, "220 mx.lab ESMTP Postfix (Debian/GNU)\r\n", false, "", None, Some("Postfix ESMTP")),
        (Service::Submission, "220 mx.lab ESMTP Postfix (Debian/GNU)\r\n", false, "", None,
            Some("Postfix ESMTP")),
        // postscreen: `220-` at once, the last line after postscreen_greet_wait (6 s).
        (Smtp, "220-mx.lab ESMTP Postfix (Debian/GNU)\r\n220 mx.lab ESMTP Postfix (Debian/GNU)\r\n",
            false, "", None, Some("Postfix ESMTP")),
        (Smtp, "220-mx.lab ESMTP Postfix (Debian/GNU)\r\n", true, "", None, Some("Postfix ESMTP")),
        // check_client_access REJECT, or `reject`, with smtpd_delay_reject = no (session stays).
        (Smtp, "554 5.7.1 <unknown[127.0.25.2]>: Client host rejected: Access denied\r\n", false,
            "554", Some(Access), None),
        // smtpd_client_connection_count_limit, then FIN.
        (Smtp, "421 4.7.0 mx.lab Error: too many connections from 127.0.25.3\r\n", true, "421",
            Some(Capacity), None),
        // postscreen_access_list reject + postscreen_denylist_action = drop, then FIN.
        (Smtp, "521 5.3.2 Service currently unavailable\r\n", true, "521", Some(Access), None),
        (Ftp, "220 (vsFTPd 3.0.3)\r\n", false, "", None, Some("(vsFTPd 3.0.3)")),
        // tcp_wrappers (hosts.deny), max_per_ip, max_clients; each then FIN.
        (Ftp, "421 Service not available.\r\n", true, "421", Some(Access), None),
        (Ftp, "421 There are too many connections from your internet address.\r\n", true, "421",
            Some(Capacity), None),
        (Ftp, "421 There are too many connected users, please try later.\r\n", true, "421",
            Some(Capacity), None),
        // A server that cannot serve at all: its operator's problem.
        (Ftp, "500 OOPS: vsftpd: both local and anonymous access disabled!\r\n", true, "500",
            Some(Capacity), None),
        (Ftp, "530 Permission denied.\r\n", true, "530", Some(Access), None),
    ];

    #[test]
    fn real_smtp_and_ftp_greetings() {
        for &(service, bytes, closed, code, kind, greeting) in REAL {
            let want = kind.map(|k| (code.to_string(), bytes.trim_end().to_string(), k));
            let got = seen(parse(service, bytes.as_bytes(), closed));
            assert_eq!(
                got,
                (want, greeting.map(String::from)),
                "{service} {bytes:?}"
            );
        }
    }

    #[test]
    fn greetings_are_complete_at_their_last_line() {
        #[rustfmt::skip]
        let incomplete: [(Service, &[u8]); 4] = [
            (Smtp, b"220 mx.lab ESMTP Post"),
            (Smtp, b"220-mx.lab ESMTP Postfix (Debian/GNU)\r\n"),
            // vsftpd writes `500 OOPS: `, the message and CRLF as three segments.
            (Ftp, b"500 OOPS: "),
            (Ftp, b"500 OOPS: vsftpd: both local and anonymous access disabled!"),
        ];
        for (service, bytes) in incomplete {
            assert_eq!(
                parse(service, bytes, false),
                Parsed::Incomplete,
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn quit_only_when_the_server_waits_for_it() {
        let q = || Some(b"QUIT\r\n".to_vec());
        type Bye = (Service, &'static [u8], Option<Vec<u8>>);
        #[rustfmt::skip]
        let cases: [Bye; 13] = [
            (Smtp, b"220 mx.lab ESMTP Postfix (Debian/GNU)\r\n", q()),
            (Smtp, b"554 5.7.1 <unknown[127.0.25.2]>: Client host rejected\r\n", q()),
            // postscreen's pregreet test: a command before the last greeting line is a violation.
            (Smtp, b"220-mx.lab ESMTP Postfix (Debian/GNU)\r\n", None),
            (Smtp, b"421 4.7.0 mx.lab Error: too many connections\r\n", None),
            (Smtp, b"521 5.3.2 Service currently unavailable\r\n", None),
            (Ftp, b"220 (vsFTPd 3.0.3)\r\n", q()),
            (Ftp, b"421 Service not available.\r\n", None),
            (Ftp, b"500 OOPS: ", None),
            (Service::Pop3, b"+OK Dovecot ready.\r\n", q()),
            (Service::Pop3, b"-ERR [SYS/TEMP] busy\r\n", None),
            (Service::Imap, b"* OK [CAPABILITY IMAP4rev1] ready\r\n", Some(b"a LOGOUT\r\n".to_vec())),
            (Service::Imap, b"* BYE Too many connections\r\n", None),
            (Service::Ssh, b"SSH-2.0-OpenSSH_9.2p1\r\n", None),
        ];
        for (service, bytes, want) in cases {
            assert_eq!(farewell(service, bytes), want, "{service} {bytes:?}");
        }
    }
}
