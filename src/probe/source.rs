//! The source address (`--source`, `source:`): binding the probe's socket to a local address
//! before it connects, and every way that can fail — each a `local-error` that sends nothing,
//! never a remote verdict.
//!
//! - A source of the other family than the destination: refused before a socket exists.
//! - `bind()` refuses an address this machine does not have (`EADDRNOTAVAIL`), or has no free
//!   port left on it (`EADDRINUSE`).
//! - With `net.ipv6.ip_nonlocal_bind = 1`, `bind()` accepts *any* IPv6 address, and the kernel
//!   then really sends the SYN from it: no answer can come back, and the probe would read
//!   `filtered`. So under that sysctl an IPv6 source must have a local route (its own address,
//!   or an AnyIP `local` prefix) in `/proc/net/ipv6_route`, or the probe stops before
//!   `connect()`. (IPv4 needs no such check: without `IP_TRANSPARENT`, which telltale never
//!   sets, the kernel refuses the connect synchronously, `ENETUNREACH`: a local error too.)
//!
//! The socket is bound to port 0 without `IP_BIND_ADDRESS_NO_PORT`, so its ephemeral port is
//! taken at `bind()` and cannot be shared with other destinations: one source address carries at
//! most ~28,000 probes in flight (Linux's ephemeral range). Every probe closes with a RST (no
//! TIME_WAIT), so that is a bound on `-c`, never a slow leak; past it, `bind()` says
//! `EADDRINUSE` and the probe is a `local-error`. Setting the option would need `unsafe`
//! (socket2 0.5 has no setter), which the crate denies.

use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use socket2::Socket;

use super::{Outcome, errno_name, os_err};
use crate::verdict::Verdict;

/// Whether a probe of `port` can connect to itself (TCP simultaneous open: our own socket's
/// address is the target's). Its local port, taken at `bind()` or `connect()`, always comes from
/// `net.ipv4.ip_local_port_range` (IPv6 too), read once per run from this network namespace: a
/// port outside it never needs the `getsockname()` check. Unreadable: every port may.
pub(super) fn may_self_connect(port: u16) -> bool {
    static RANGE: OnceLock<Option<(u16, u16)>> = OnceLock::new();
    let range = RANGE.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
        let mut it = text.split_whitespace().map(str::parse::<u16>);
        match (it.next(), it.next()) {
            (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => Some((lo, hi)),
            _ => None,
        }
    });
    range.is_none_or(|(lo, hi)| (lo..=hi).contains(&port))
}

/// `IPv4` or `IPv6`.
fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

/// A source that cannot reach `addr` at all (the other family): the outcome, without a socket.
pub(super) fn mismatch(src: IpAddr, addr: SocketAddr) -> Option<Outcome> {
    (src.is_ipv4() != addr.is_ipv4()).then(|| {
        Outcome::new(
            Verdict::LocalError,
            None,
            format!(
                "source {src} is {}, the target is {}: no probe made, not a verdict",
                family(src),
                family(addr.ip())
            ),
        )
    })
}

/// Bind `sock` to (`src`, port 0); None when bound, else the outcome to report.
pub(super) fn bind(sock: &Socket, src: IpAddr) -> Option<Outcome> {
    if let Err(e) = sock.bind(&SocketAddr::new(src, 0).into()) {
        return Some(bind_error(src, &e));
    }
    if let IpAddr::V6(v6) = src {
        if v6_nonlocal_bind() && !v6_has_local_route(v6) {
            return Some(Outcome::new(
                Verdict::LocalError,
                None,
                format!(
                    "source {src} is not an address of this machine (net.ipv6.ip_nonlocal_bind = 1 let bind() accept it, but no answer could come back to it): not a verdict; no packet sent"
                ),
            ));
        }
    }
    None
}

fn bind_error(src: IpAddr, e: &io::Error) -> Outcome {
    let errno = os_err(e);
    let name = errno.map_or_else(|| e.to_string(), errno_name);
    let detail = match errno {
        Some(libc::EADDRNOTAVAIL) => format!(
            "source {src} is not an address of this machine (bind: {name}): not a verdict; no packet sent"
        ),
        Some(libc::EADDRINUSE) => format!(
            "no free local port on source {src} (bind: {name}): too many probes in flight from it; not a verdict; no packet sent"
        ),
        _ => format!(
            "binding to source {src} failed on this host (bind: {name}, {e}): not a verdict; no packet sent"
        ),
    };
    Outcome::new(Verdict::LocalError, errno, detail)
}

/// `net.ipv6.ip_nonlocal_bind` of this process's network namespace (read once).
fn v6_nonlocal_bind() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/net/ipv6/ip_nonlocal_bind")
            .is_ok_and(|s| s.trim() != "0")
    })
}

/// Whether the kernel would deliver packets for `a` locally: a route flagged `RTF_LOCAL` in
/// `/proc/net/ipv6_route` covers it (every address of this machine has one, and so does an
/// AnyIP `ip -6 route add local PREFIX dev lo`). An unreadable table says no.
fn v6_has_local_route(a: Ipv6Addr) -> bool {
    let Ok(f) = std::fs::File::open("/proc/net/ipv6_route") else {
        return false;
    };
    io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .any(|line| local_route_covers(&line, a))
}

/// `RTF_LOCAL` in the flags column of `/proc/net/ipv6_route`.
const RTF_LOCAL: u32 = 0x8000_0000;

/// One `/proc/net/ipv6_route` line (destination, prefix length, source, source length, next
/// hop, metric, refcount, use, flags, device; numbers in hex) is a local route covering `a`.
fn local_route_covers(line: &str, a: Ipv6Addr) -> bool {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (Some(dest), Some(plen), Some(flags)) = (f.first(), f.get(1), f.get(8)) else {
        return false;
    };
    let (Ok(dest), Ok(plen), Ok(flags)) = (
        u128::from_str_radix(dest, 16),
        u32::from_str_radix(plen, 16),
        u32::from_str_radix(flags, 16),
    ) else {
        return false;
    };
    if flags & RTF_LOCAL == 0 || plen > 128 {
        return false;
    }
    let mask = u128::MAX.checked_shl(128 - plen).unwrap_or(0);
    u128::from(a) & mask == dest & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    const LO: &str = "00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo";
    const ANYIP: &str = "fd000001000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 80000001       lo";
    const UNREACHABLE: &str = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo";

    #[test]
    fn local_routes_cover_their_prefix_only() {
        let ip = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert!(local_route_covers(LO, ip("::1")));
        assert!(!local_route_covers(LO, ip("::2")));
        assert!(local_route_covers(ANYIP, ip("fd00:1::77")));
        assert!(!local_route_covers(ANYIP, ip("fd00:2::1")));
        // The catch-all unreachable route is not local.
        assert!(!local_route_covers(UNREACHABLE, ip("::2")));
        assert!(!local_route_covers("garbage", ip("::1")));
        assert!(!local_route_covers("", ip("::1")));
    }

    #[test]
    fn only_ephemeral_ports_may_self_connect() {
        let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let v: Vec<u16> = text
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        let (lo, hi) = (v[0], v[1]);
        assert!(may_self_connect(lo) && may_self_connect(hi));
        assert!(!may_self_connect(lo - 1));
        assert!(hi == u16::MAX || !may_self_connect(hi + 1));
    }

    #[test]
    fn other_family_sources_make_no_probe() {
        let v4: IpAddr = "127.0.0.2".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        let o = mismatch(v4, "[::1]:80".parse().unwrap()).unwrap();
        assert_eq!(o.verdict, Verdict::LocalError);
        assert_eq!(
            o.detail,
            "source 127.0.0.2 is IPv4, the target is IPv6: no probe made, not a verdict"
        );
        assert!(mismatch(v6, "127.0.0.1:80".parse().unwrap()).is_some());
        assert!(mismatch(v4, "127.0.0.1:80".parse().unwrap()).is_none());
        assert!(mismatch(v6, "[::1]:80".parse().unwrap()).is_none());
    }

    #[test]
    fn bind_errors_are_local_and_name_the_source() {
        let src: IpAddr = "127.0.0.9".parse().unwrap();
        let o = bind_error(src, &io::Error::from_raw_os_error(libc::EADDRNOTAVAIL));
        assert_eq!(o.verdict, Verdict::LocalError);
        assert_eq!(o.errno.as_deref(), Some("EADDRNOTAVAIL"));
        assert_eq!(
            o.detail,
            "source 127.0.0.9 is not an address of this machine (bind: EADDRNOTAVAIL): not a verdict; no packet sent"
        );
        let o = bind_error(src, &io::Error::from_raw_os_error(libc::EADDRINUSE));
        assert!(o.detail.contains("no free local port on source 127.0.0.9"));
        let o = bind_error(src, &io::Error::from_raw_os_error(libc::EINVAL));
        assert!(o.detail.starts_with("binding to source 127.0.0.9 failed"));
    }
}
