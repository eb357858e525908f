//! One target written as text — a command-line argument, or the first word of a plain-list line
//! — and command-line targets added to an [`Inventory`].
//!
//! The syntax, checked by the same validators as an inventory entry ([`Host::parse`],
//! [`super::parse_port_list`]):
//!
//! | written | host | ports |
//! |---|---|---|
//! | `db.internal:5432`, `10.0.0.1:22` | name or IPv4 | one |
//! | `web:80,443`, `web:8000-8010` | | a list, ranges |
//! | `127.0.0.0/30:22-25` | IPv4 block | |
//! | `[::1]:8080`, `[fd00::/126]:22` | IPv6 address or block, in brackets | |
//! | `db.internal`, `10.0.0.1`, `::1`, `[::1]`, `fd00::/126` | bare host | from `-p/--ports` |
//!
//! IPv6 needs brackets when a port follows. An unbracketed IPv6 address is a bare host, unless
//! it could also be read as an address and a port (`::1:80`: the address `::1:80`, or `::1`
//! port 80): that is an error asking for brackets, never a guess. Every error carries the
//! character offset of the offending part, so a plain list can point at its column.

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

use super::{Host, Inventory, InventoryError, Overrides, PortSet, parse_port_list};
use crate::verdict::{Expect, ExpectSpec};

/// What a command-line argument must be when it is not an existing file.
pub const ARG_SHAPES: &str =
    "expected HOST:PORT[,PORT...], [IPV6]:PORT, CIDR:PORTS, or an existing inventory file";

/// A target as written: its host, and its ports unless it is a bare host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The host (name, address or block).
    pub host: Host,
    /// The ports after the `:`; None for a bare host (its ports come from `-p/--ports`).
    pub ports: Option<PortSet>,
}

/// Why a target text does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadTarget {
    /// 0-based character offset of the offending part within the text.
    pub at: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

fn bad(at: usize, message: impl Into<String>) -> BadTarget {
    BadTarget {
        at,
        message: message.into(),
    }
}

/// What targets given without an inventory file take from the command line.
#[derive(Debug, Clone, Default)]
pub struct Fallback {
    /// `-p/--ports`: the ports of bare hosts.
    pub ports: Option<PortSet>,
    /// `--expect`: the expectation of targets that state none (None: `open`).
    pub expect: Option<Expect>,
}

impl Fallback {
    /// The ports of a target written as `w`, or why there are none (a bare host without `-p`).
    pub(super) fn ports_of(&self, w: Written) -> Result<(Host, PortSet, bool), String> {
        match (w.ports, &self.ports) {
            (Some(p), _) => Ok((w.host, p, false)),
            (None, Some(p)) => Ok((w.host, p.clone(), true)),
            (None, None) => Err(format!(
                "a bare host without a port: add `:PORT` (e.g. `{}`) or pass `-p PORTS`",
                with_port(&w.host)
            )),
        }
    }

    /// The expectation of a target that states `own` (None: this fallback, else `open`).
    pub(super) fn expect_of(&self, own: Option<Expect>) -> ExpectSpec {
        ExpectSpec::Plain(own.or(self.expect).unwrap_or_default())
    }
}

/// `host:5432` written the right way for the host (brackets for IPv6).
fn with_port(h: &Host) -> String {
    match h {
        Host::Ip(IpAddr::V6(_)) => format!("[{h}]:5432"),
        Host::Net(n) if n.addr().is_ipv6() => format!("[{h}]:22"),
        _ => format!("{h}:5432"),
    }
}

/// Parse one target text (see the module doc).
pub fn parse(s: &str) -> Result<Written, BadTarget> {
    if s.trim().is_empty() {
        return Err(bad(0, "empty target, expected HOST:PORT"));
    }
    if let Some(inner) = s.strip_prefix('[') {
        return bracketed(s, inner);
    }
    match s.matches(':').count() {
        0 => Ok(Written {
            host: Host::parse(s).map_err(|m| bad(0, m))?,
            ports: None,
        }),
        1 => {
            let (host, ports) = s.split_once(':').unwrap_or((s, ""));
            if host.is_empty() {
                return Err(bad(0, "missing host before `:`, expected HOST:PORT"));
            }
            let host = Host::parse(host).map_err(|m| bad(0, m))?;
            let at = s.chars().count() - ports.chars().count();
            Ok(Written {
                host,
                ports: Some(ports_at(ports, at)?),
            })
        }
        _ => unbracketed_v6(s),
    }
}

/// `[V6]`, `[V6]:PORTS`, `[V6/LEN]:PORTS`.
fn bracketed(s: &str, inner: &str) -> Result<Written, BadTarget> {
    let Some((addr, rest)) = inner.split_once(']') else {
        return Err(bad(0, "`[` without `]`, expected [IPV6]:PORT"));
    };
    let host = match Host::parse(addr) {
        Ok(h @ Host::Ip(IpAddr::V6(_))) => h,
        Ok(Host::Net(n)) if n.addr().is_ipv6() => Host::Net(n),
        Ok(_) => {
            return Err(bad(
                1,
                format!(
                    "brackets hold an IPv6 address or block, found `{addr}`; write `{addr}:PORT`"
                ),
            ));
        }
        Err(m) => return Err(bad(1, m)),
    };
    let close = 1 + addr.chars().count();
    if rest.is_empty() {
        return Ok(Written { host, ports: None });
    }
    let Some(ports) = rest.strip_prefix(':') else {
        return Err(bad(
            close + 1,
            format!("expected `:PORT` after `]`, found `{rest}`"),
        ));
    };
    let at = s.chars().count() - ports.chars().count();
    Ok(Written {
        host,
        ports: Some(ports_at(ports, at)?),
    })
}

/// Two colons or more without brackets: a bare IPv6 host, or an error that asks for brackets.
fn unbracketed_v6(s: &str) -> Result<Written, BadTarget> {
    let split = s.rsplit_once(':');
    let v6_and_port = split
        .filter(|(a, p)| a.parse::<Ipv6Addr>().is_ok() && p.parse::<u16>().is_ok_and(|n| n > 0));
    match Host::parse(s) {
        Ok(host) => {
            if let Some((a, p)) = v6_and_port {
                return Err(bad(
                    0,
                    format!(
                        "ambiguous IPv6: write `[{a}]:{p}` for port {p} of {a}, or `[{s}]` for \
                         the address {s} (IPv6 needs brackets when a port follows)"
                    ),
                ));
            }
            Ok(Written { host, ports: None })
        }
        Err(m) => match split {
            Some((a, p)) if Host::parse(a).is_ok_and(|h| !matches!(h, Host::Name(_))) => Err(bad(
                0,
                format!("IPv6 needs brackets when a port follows: write `[{a}]:{p}`"),
            )),
            _ => Err(bad(
                0,
                format!(
                    "bad target `{s}` ({m}): one `:` separates host and ports, and IPv6 with a \
                     port needs brackets ([::1]:22)"
                ),
            )),
        },
    }
}

/// A port list starting at character `at` of the text: an error points at the bad item.
fn ports_at(ports: &str, at: usize) -> Result<PortSet, BadTarget> {
    if ports.is_empty() {
        return Err(bad(
            at,
            "missing port after `:`, expected a port like 5432 or a list like 80,443",
        ));
    }
    parse_port_list(ports)
        .map(PortSet::from_ranges)
        .map_err(|m| {
            let mut col = at;
            for item in ports.split(',') {
                if super::ports::parse_item(item).is_err() {
                    return bad(col, m.clone());
                }
                col += item.chars().count() + 1;
            }
            bad(at, m)
        })
}

/// Whether a command-line argument that names no file looks like a path rather than a target:
/// it has a `/` that does not follow an address (not a CIDR), or a file extension that no
/// host has (`.yaml`, `.yml`, `.txt`, `.list`, `.json`, `.csv`). Such an argument is refused as
/// a missing file instead of being looked up as a name.
pub fn looks_like_path(arg: &str) -> bool {
    if arg.starts_with('[') || arg.contains(':') {
        return false;
    }
    if let Some((before, _)) = arg.split_once('/') {
        return before.parse::<IpAddr>().is_err();
    }
    Path::new(arg).extension().is_some_and(|e| {
        ["yaml", "yml", "txt", "list", "json", "csv"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

impl Inventory {
    /// Add the command-line target `arg`, the `n`-th positional argument (1-based; its records'
    /// `origin` is `argv[n]`). Errors name `argv[n]`.
    pub fn add_arg(
        &mut self,
        n: usize,
        arg: &str,
        fb: &Fallback,
        ov: Overrides,
    ) -> Result<(), InventoryError> {
        let origin = format!("argv[{n}]");
        let err = |message: String| InventoryError {
            file: origin.clone(),
            line: 0,
            column: 0,
            message: format!("`{arg}`: {message}; {ARG_SHAPES}"),
            local: false,
        };
        if looks_like_path(arg) {
            return Err(err("no such file or directory".into()));
        }
        let w = parse(arg).map_err(|e| err(e.message))?;
        self.add_written(&origin, w, fb, ov).map_err(err)
    }

    /// Add target `w` from the command line, with `origin` (`argv[N]`): a bare host takes
    /// `fb`'s ports, or is an error that says to add them.
    pub fn add_written(
        &mut self,
        origin: &str,
        w: Written,
        fb: &Fallback,
        ov: Overrides,
    ) -> Result<(), String> {
        let (host, ports, took) = fb.ports_of(w)?;
        let file: Arc<str> = Arc::from(COMMAND_LINE);
        let index = self.targets.iter().filter(|t| t.file == file).count();
        let expect = fb.expect_of(None);
        self.push_written(&file, index, origin.to_string(), host, ports, expect, ov);
        self.took_ports += usize::from(took);
        Ok(())
    }

    /// Append one target written as text (a command-line argument or a plain-list line), with
    /// the run's timeout and linger, and note it in the digest.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push_written(
        &mut self,
        file: &Arc<str>,
        index: usize,
        origin: String,
        host: Host,
        ports: PortSet,
        expect: ExpectSpec,
        ov: Overrides,
    ) {
        self.note_listed_twice(file, index, &host, &ports);
        let host_label: Arc<str> = Arc::from(host.to_string());
        let line = format!("{host_label} {ports} {expect}\n");
        self.digest_input.extend_from_slice(line.as_bytes());
        let first_new = self.targets.len();
        self.targets.push(Arc::new(super::Target {
            file: file.clone(),
            index,
            origin: Arc::from(origin),
            name: None,
            host,
            host_label,
            ports,
            expect,
            tags: Arc::from(Vec::new()),
            timeout: ov.timeout.unwrap_or(super::DEFAULT_TIMEOUT),
            linger: ov.linger.unwrap_or(super::DEFAULT_LINGER),
            control: false,
            first_index: 0,
            service: None,
            hello: None,
            cert_min_days: None,
        }));
        self.reindex_from(first_new);
    }

    /// Bare hosts that took their ports from `-p/--ports` so far.
    pub fn took_ports(&self) -> usize {
        self.took_ports
    }
}

/// The file name of command-line targets (in warnings and `--dry-run`'s `file` column).
pub const COMMAND_LINE: &str = "<command line>";

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, Option<String>) {
        let w = parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}"));
        (w.host.to_string(), w.ports.map(|p| p.to_string()))
    }

    fn err(s: &str) -> BadTarget {
        parse(s).expect_err(s)
    }

    #[test]
    fn every_form_of_the_table() {
        let some = |h: &str, p: &str| (h.to_string(), Some(p.to_string()));
        let bare = |h: &str| (h.to_string(), None);
        assert_eq!(ok("db.internal:5432"), some("db.internal", "5432"));
        assert_eq!(ok("10.0.0.1:22"), some("10.0.0.1", "22"));
        assert_eq!(ok("web:80,443"), some("web", "80,443"));
        assert_eq!(ok("web:8000-8010"), some("web", "8000-8010"));
        assert_eq!(ok("127.0.0.0/30:22-25"), some("127.0.0.0/30", "22-25"));
        assert_eq!(ok("[::1]:8080"), some("::1", "8080"));
        assert_eq!(ok("[fd00::/126]:22"), some("fd00::/126", "22"));
        assert_eq!(ok("DB.internal"), bare("db.internal"));
        assert_eq!(ok("10.0.0.1"), bare("10.0.0.1"));
        assert_eq!(ok("::1"), bare("::1"));
        assert_eq!(ok("[::1]"), bare("::1"));
        assert_eq!(ok("fd00::/126"), bare("fd00::/126"));
        assert_eq!(ok("2001:db8:0:0:0:0:0:1"), bare("2001:db8::1"));
    }

    #[test]
    fn ipv6_with_a_port_needs_brackets() {
        let e = err("::1:80");
        assert!(
            e.message.contains("ambiguous") && e.message.contains("[::1]:80"),
            "{e:?}"
        );
        let e = err("fd00::1:80,443");
        assert!(e.message.contains("`[fd00::1]:80,443`"), "{e:?}");
        let e = err("fd00::/126:22");
        assert!(e.message.contains("`[fd00::/126]:22`"), "{e:?}");
        assert!(err("db:80:90").message.contains("one `:`"));
        assert!(err("[127.0.0.1]:22").message.contains("IPv6"));
        assert!(err("[::1").message.contains("without `]`"));
        assert_eq!(err("[::1]22").at, 5);
    }

    #[test]
    fn errors_point_at_the_bad_part() {
        let e = err("db:");
        assert_eq!(e.at, 3);
        assert!(e.message.contains("missing port"), "{e:?}");
        let e = err("db:80,http");
        assert_eq!(e.at, 6);
        assert!(e.message.contains("bad port `http`"), "{e:?}");
        let e = err("[::1]:70000");
        assert_eq!(e.at, 6);
        assert!(e.message.contains("bad port 70000"), "{e:?}");
        assert_eq!(err(":22").at, 0);
        assert!(err("bad host!:22").message.contains("bad host"));
        assert!(err("127.0.0.1/30:22").message.contains("host bits"));
        assert!(err("0.0.0.0/0:22").message.contains("refusing"));
        assert!(err("").message.contains("empty target"));
    }

    #[test]
    fn paths_are_not_names() {
        for p in ["inv.yaml", "x/y", "./targets", "LIST.TXT", "/etc/hosts"] {
            assert!(looks_like_path(p), "{p}");
        }
        for t in [
            "db.internal",
            "127.0.0.0/30",
            "fd00::/126",
            "db:22",
            "[::1]",
            "web.example",
        ] {
            assert!(!looks_like_path(t), "{t}");
        }
    }

    #[test]
    fn command_line_targets_take_the_fallbacks() {
        let mut inv = Inventory::default();
        let blocked = Expect::parse_word("blocked").unwrap();
        let fb = Fallback {
            ports: Some(PortSet::from_ranges(vec![(22, 23)])),
            expect: Some(blocked),
        };
        inv.add_arg(1, "127.0.0.1:80", &fb, Overrides::default())
            .unwrap();
        inv.add_arg(2, "::1", &fb, Overrides::default()).unwrap();
        assert_eq!(inv.took_ports(), 1);
        let t = &inv.targets;
        assert_eq!(
            (&*t[0].origin, t[0].ports.to_string()),
            ("argv[1]", "80".into())
        );
        assert_eq!(
            (&*t[1].origin, t[1].ports.to_string()),
            ("argv[2]", "22-23".into())
        );
        assert_eq!(t[1].expect, ExpectSpec::Plain(blocked));
        assert_eq!(t[1].first_index, 1);
        let e = inv
            .add_arg(3, "db.internal", &Fallback::default(), Overrides::default())
            .unwrap_err();
        assert_eq!(e.file, "argv[3]");
        assert!(
            e.message.contains("`db.internal`: a bare host without a port: add `:PORT` (e.g. `db.internal:5432`) or pass `-p PORTS`"),
            "{e}"
        );
        assert!(e.message.ends_with(ARG_SHAPES), "{e}");
        let e = inv
            .add_arg(4, "nope.yaml", &fb, Overrides::default())
            .unwrap_err();
        assert!(e.message.contains("no such file"), "{e}");
    }
}
