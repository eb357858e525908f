//! Services: what speaks on a port beyond TCP, and what its first words say about access.
//!
//! A target names its [`Service`] (`service:` in the inventory) or telltale picks one from the
//! well-known-port table ([`Service::for_port`]); `tcp` means no protocol at all. After the
//! handshake the probe reads what the service sends (server-speaks-first services: ssh, smtp,
//! ftp, pop3, imap, mysql), optionally sends a minimal hello (client-speaks-first: http,
//! postgres, redis; `--hello`), and hands the bytes to the service's parser, which returns an
//! [`Answer`]: the greeting (name and version) and, when the service refused us in words, a
//! [`Rejection`] with the protocol's code and text and its [`RejectKind`].
//!
//! Each protocol's parser lives in its own file and is pure (bytes in, [`Parsed`] out), so it
//! is unit-tested without sockets; the probe (`crate::probe`) owns every socket.

pub mod http;
pub mod mysql;
pub mod policy;
pub mod postgres;
pub mod redis;
pub mod text;
pub mod tls;

use std::fmt;

use serde::Serialize;

/// A protocol telltale can speak enough of to tell access from refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// No protocol: connect and linger only.
    Tcp,
    /// OpenSSH and friends: the server sends `SSH-2.0-…` first.
    Ssh,
    /// SMTP on 25: `220` greeting first.
    Smtp,
    /// Mail submission on 587: SMTP.
    Submission,
    /// FTP control connection: `220` greeting first.
    Ftp,
    /// POP3: `+OK` greeting first.
    Pop3,
    /// IMAP: `* OK` greeting first.
    Imap,
    /// MySQL / MariaDB: the server's handshake packet first.
    Mysql,
    /// PostgreSQL: the client's StartupMessage first.
    Postgres,
    /// Redis: the client's command first (refusals are sent at accept).
    Redis,
    /// HTTP: the client's request first.
    Http,
    /// HTTP over TLS.
    Https,
    /// Any TLS service (the handshake only).
    Tls,
}

/// The well-known-port table: the service telltale assumes on a port when the target names
/// none (documented in the README, "Beyond the handshake").
pub const WELL_KNOWN: &[(u16, Service)] = &[
    (21, Service::Ftp),
    (22, Service::Ssh),
    (25, Service::Smtp),
    (80, Service::Http),
    (110, Service::Pop3),
    (143, Service::Imap),
    (443, Service::Https),
    (465, Service::Tls),
    (587, Service::Submission),
    (993, Service::Tls),
    (995, Service::Tls),
    (3306, Service::Mysql),
    (5432, Service::Postgres),
    (6379, Service::Redis),
    (8080, Service::Http),
    (8443, Service::Https),
];

impl Service {
    /// Every service, in the order the README lists them.
    pub const ALL: [Service; 13] = [
        Service::Tcp,
        Service::Ssh,
        Service::Smtp,
        Service::Submission,
        Service::Ftp,
        Service::Pop3,
        Service::Imap,
        Service::Mysql,
        Service::Postgres,
        Service::Redis,
        Service::Http,
        Service::Https,
        Service::Tls,
    ];

    /// The inventory / record name.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Tcp => "tcp",
            Service::Ssh => "ssh",
            Service::Smtp => "smtp",
            Service::Submission => "submission",
            Service::Ftp => "ftp",
            Service::Pop3 => "pop3",
            Service::Imap => "imap",
            Service::Mysql => "mysql",
            Service::Postgres => "postgres",
            Service::Redis => "redis",
            Service::Http => "http",
            Service::Https => "https",
            Service::Tls => "tls",
        }
    }

    /// Parse an inventory name (`mariadb`, `postgresql` and `smtps`-style aliases included).
    pub fn parse(s: &str) -> Option<Service> {
        let s = s.trim().to_ascii_lowercase();
        let alias = match s.as_str() {
            "mariadb" => Some(Service::Mysql),
            "postgresql" | "pg" => Some(Service::Postgres),
            "ssl" => Some(Service::Tls),
            _ => None,
        };
        alias.or_else(|| Service::ALL.into_iter().find(|v| v.as_str() == s))
    }

    /// The service assumed on `port` by the well-known-port table; `tcp` when it has none.
    pub fn for_port(port: u16) -> Service {
        WELL_KNOWN
            .iter()
            .find(|(p, _)| *p == port)
            .map_or(Service::Tcp, |(_, s)| *s)
    }

    /// The server sends the first bytes (a silent connection is not yet proof of access).
    pub fn speaks_first(self) -> bool {
        matches!(
            self,
            Service::Ssh
                | Service::Smtp
                | Service::Submission
                | Service::Ftp
                | Service::Pop3
                | Service::Imap
                | Service::Mysql
        )
    }

    /// The probe needs a TLS handshake (`tls`, `https`); only with a hello.
    pub fn is_tls(self) -> bool {
        matches!(self, Service::Tls | Service::Https)
    }

    /// Parse what the service sent so far (`closed`: the peer ended the connection after it).
    pub fn parse_answer(self, bytes: &[u8], closed: bool) -> Parsed {
        match self {
            Service::Tcp | Service::Tls => Parsed::Complete(Answer::default()),
            Service::Ssh
            | Service::Smtp
            | Service::Submission
            | Service::Ftp
            | Service::Pop3
            | Service::Imap => text::parse(self, bytes, closed),
            Service::Mysql => mysql::parse(bytes, closed),
            Service::Postgres => postgres::parse(bytes, closed),
            Service::Redis => redis::parse(bytes, closed),
            Service::Http | Service::Https => http::parse(bytes, closed),
        }
    }

    /// The client's first message (`--hello`) for a client-speaks-first service; `host` is the
    /// name or address the target was written with (HTTP `Host:`, TLS SNI).
    pub fn hello(self, host: &str) -> Option<Vec<u8>> {
        match self {
            Service::Http | Service::Https => Some(http::request(host)),
            Service::Postgres => Some(postgres::startup()),
            Service::Redis => Some(redis::ping()),
            _ => None,
        }
    }

    /// What to send after a complete answer, before closing, so the service ends the session
    /// cleanly (and counts no error against us): e.g. MySQL's handshake response and
    /// `COM_QUIT`, SMTP `QUIT`. `received` is everything read so far.
    pub fn farewell(self, received: &[u8]) -> Option<Vec<u8>> {
        match self {
            Service::Mysql => mysql::farewell(received),
            Service::Ssh
            | Service::Smtp
            | Service::Submission
            | Service::Ftp
            | Service::Pop3
            | Service::Imap => text::farewell(self, received),
            _ => None,
        }
    }

    /// How the probe closes its socket once done with this service.
    pub fn close(self) -> Close {
        match self {
            Service::Postgres => postgres::CLOSE,
            Service::Mysql => mysql::CLOSE,
            Service::Tcp | Service::Tls | Service::Https | Service::Http | Service::Redis => {
                Close::Rst
            }
            _ => text::close(self),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a probe ends its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Close {
    /// `close()` with zero linger: a RST, no TIME_WAIT (some services log nothing for it).
    Rst,
    /// `shutdown(WR)` then close: a FIN (services that log a RST as an error).
    Fin,
}

/// What the service's answer means for access.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    /// Name and version the service announced (`OpenSSH_9.2p1`, `MariaDB 10.11.6`).
    pub greeting: Option<String>,
    /// The service refused us in words.
    pub rejection: Option<Rejection>,
    /// What the answer says besides (e.g. "authentication required": access is granted).
    pub note: Option<String>,
}

/// An explicit refusal by the service: the record's `rejected` verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// The protocol's code: `554`, `1130`, `403`, `28000`, `handshake_failure`, `MaxStartups`.
    pub code: String,
    /// The service's own words (trimmed, at most one line).
    pub text: String,
    /// Who to ask.
    pub kind: RejectKind,
}

/// Why a service refused: decides who to ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectKind {
    /// An access rule rejects this client: ask the service's support team.
    Access,
    /// Too many connections, or the backend is down: ask the service's operator.
    Capacity,
}

impl RejectKind {
    /// The record name.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::Access => "access",
            RejectKind::Capacity => "capacity",
        }
    }

    /// Who can fix it.
    pub fn who(self) -> &'static str {
        match self {
            RejectKind::Access => "the service's support team",
            RejectKind::Capacity => "the service's operator",
        }
    }
}

/// The result of parsing the bytes received so far.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    /// Not enough bytes yet to decide (keep reading until the window ends).
    Incomplete,
    /// The answer is complete.
    Complete(Answer),
}

/// A rejection, for parsers.
pub fn reject(code: impl Into<String>, text: impl Into<String>, kind: RejectKind) -> Parsed {
    Parsed::Complete(Answer {
        greeting: None,
        rejection: Some(Rejection {
            code: code.into(),
            text: one_line(&text.into()),
            kind,
        }),
        note: None,
    })
}

/// First line of `s`, trimmed and cut at 200 characters.
pub fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_table() {
        for s in Service::ALL {
            assert_eq!(Service::parse(s.as_str()), Some(s));
        }
        assert_eq!(Service::parse("MariaDB"), Some(Service::Mysql));
        assert_eq!(Service::parse("gopher"), None);
        assert_eq!(Service::for_port(22), Service::Ssh);
        assert_eq!(Service::for_port(9), Service::Tcp);
        assert!(Service::Ssh.speaks_first() && !Service::Http.speaks_first());
    }
}
