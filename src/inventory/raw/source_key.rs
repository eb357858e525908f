//! The `source:` key of a target as written (and the same check for `--source`): the local
//! address a probe binds to before it connects. The value is checked inside its visitor, so an
//! error carries the value's line and column; whether the address is really one of this
//! machine's is only known when the probe binds (a `local-error`, never a remote verdict).

use std::fmt;
use std::net::IpAddr;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::inventory::Host;

/// What `source:` / `--source` accept, for error messages.
const EXPECTED: &str = "a local IPv4 or IPv6 address of this machine, e.g. 127.0.0.2 or ::1";

/// Parse a source address: an IP address that could be a unicast address of this machine.
/// Refused: names (a source is an address, never resolved), the unspecified address (that is
/// what no source means), multicast and the IPv4 limited broadcast (never a TCP source).
pub fn parse_source(s: &str) -> Result<IpAddr, String> {
    let t = s.trim();
    let ip: IpAddr = t
        .parse()
        .map_err(|_| format!("bad source `{t}`, expected {EXPECTED}"))?;
    if ip.is_unspecified() {
        return Err(format!(
            "refusing source {ip}: the unspecified address binds nothing (leave `source` out to let the kernel choose)"
        ));
    }
    if ip.is_multicast() {
        return Err(format!(
            "refusing source {ip}: multicast is never a TCP source, expected {EXPECTED}"
        ));
    }
    if let IpAddr::V4(v4) = ip {
        if v4.is_broadcast() {
            return Err(format!(
                "refusing source {ip}: broadcast is never a TCP source, expected {EXPECTED}"
            ));
        }
    }
    Ok(ip)
}

/// `source:`.
pub(in crate::inventory) struct SourceKey(pub IpAddr);

impl<'de> Deserialize<'de> for SourceKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SourceKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<SourceKey, E> {
                parse_source(s).map(SourceKey).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// A target's own `source:` must be of its host's family when the host is an address or a
/// block (known now, so an inventory error); a name's addresses are only known after the
/// lookup, so a name's other-family address is the probe's `local-error`.
pub(super) fn check_family(src: IpAddr, host: &Host) -> Result<(), String> {
    let dest = match host {
        Host::Ip(ip) => *ip,
        Host::Net(net) => net.network(),
        Host::Name(_) => return Ok(()),
    };
    if src.is_ipv4() == dest.is_ipv4() {
        return Ok(());
    }
    Err(format!(
        "target's `source` {src} is {}, but `host` {host} is {}: expected a source of the host's family",
        family(src),
        family(dest)
    ))
}

/// `IPv4` or `IPv6`, for messages.
fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_unicast_addresses() {
        assert_eq!(
            parse_source(" 127.0.0.2 "),
            Ok("127.0.0.2".parse().unwrap())
        );
        assert_eq!(parse_source("::1"), Ok("::1".parse().unwrap()));
        for (bad, why) in [
            ("localhost", "bad source `localhost`"),
            ("127.0.0.2:80", "bad source"),
            ("[::1]", "bad source"),
            ("127.0.0.0/8", "bad source"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
        ] {
            let e = parse_source(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_literal_host_of_the_other_family_is_refused() {
        let v4: IpAddr = "127.0.0.2".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        let host = |s: &str| Host::parse(s).unwrap();
        assert!(check_family(v4, &host("127.0.0.1")).is_ok());
        assert!(check_family(v4, &host("127.0.0.0/30")).is_ok());
        assert!(check_family(v6, &host("::1")).is_ok());
        assert!(check_family(v4, &host("db.internal")).is_ok());
        assert!(check_family(v6, &host("db.internal")).is_ok());
        let e = check_family(v4, &host("::1")).unwrap_err();
        assert!(
            e.contains("127.0.0.2 is IPv4, but `host` ::1 is IPv6"),
            "{e}"
        );
        let e = check_family(v6, &host("127.0.0.0/30")).unwrap_err();
        assert!(
            e.contains("::1 is IPv6, but `host` 127.0.0.0/30 is IPv4"),
            "{e}"
        );
    }
}
