//! The two socket options socket2 does not wrap, and the crate's only `unsafe` code:
//!
//! - [`handshake`], `getsockopt(TCP_INFO)`: the round-trip time the kernel measured for the
//!   SYN → SYN-ACK exchange (in softirq context, so scheduler lag on a busy machine does not
//!   inflate it) and whether any SYN was retransmitted (Karn's rule: such a connect gives no
//!   RTT sample). None of the well-kept socket crates (socket2, nix, rustix) wraps it; `libc`
//!   defines the struct, and the call fills a zeroed one whose size it passes, so the kernel
//!   never writes past it.
//! - [`icmp_errors_at_once`], `IPV6_RECVERR`: without it Linux keeps an ICMPv6 error for a
//!   connecting socket as a soft error and reports it only when the first SYN retransmit times
//!   out (~1 s), so a short wait would read an ICMPv6 reject as `filtered`; with it the error
//!   ends the connect at once (measured on `::1` behind an nft `reject with icmpx`: 1,025 ms
//!   without, 0.1 ms with).

use std::os::fd::AsRawFd;
use std::time::Duration;

/// What the kernel knows about a socket's handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// The kernel's smoothed RTT (`tcpi_rtt`); after the handshake it is the SYN → SYN-ACK
    /// time. Zero when the kernel has taken no sample (a connect that failed).
    pub rtt: Duration,
    /// A SYN (or the handshake's ACK) was retransmitted (`tcpi_total_retrans` > 0), so an
    /// answer may belong to any of the SYNs sent.
    pub retransmitted: bool,
    /// The connect completed: the state is neither `SYN_SENT` nor `CLOSE` (`tcpi_state`), the
    /// same test by which `getpeername()` answers rather than failing with `ENOTCONN`.
    pub connected: bool,
}

/// Read the handshake facts of a TCP socket; None where the kernel does not answer.
pub fn handshake(sock: &impl AsRawFd) -> Option<Handshake> {
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a zeroed `tcp_info` and `len` is its size; the kernel writes at most
    // `len` bytes into it and stores the length it wrote in `len`.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    // The fields read below end at tcpi_total_retrans; a shorter answer (an old kernel) is none.
    let needed =
        std::mem::offset_of!(libc::tcp_info, tcpi_total_retrans) + std::mem::size_of::<u32>();
    if rc != 0 || (len as usize) < needed {
        return None;
    }
    // SAFETY: zero-initialised and then (partly) written by the kernel: every bit pattern is a
    // valid `tcp_info` (plain integers).
    #[allow(unsafe_code)]
    let info = unsafe { info.assume_init() };
    // include/net/tcp_states.h: TCP_SYN_SENT = 2, TCP_CLOSE = 7 (libc does not name them).
    const SYN_SENT: u8 = 2;
    const CLOSE: u8 = 7;
    Some(Handshake {
        rtt: Duration::from_micros(u64::from(info.tcpi_rtt)),
        retransmitted: info.tcpi_total_retrans > 0 || info.tcpi_retransmits > 0,
        connected: !matches!(info.tcpi_state, SYN_SENT | CLOSE),
    })
}

/// Have the kernel report ICMPv6 errors of an IPv6 socket at once (`IPV6_RECVERR`).
pub fn icmp_errors_at_once(sock: &impl AsRawFd) -> std::io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: passes a pointer to an int and its size, as IPV6_RECVERR expects.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVERR,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_handshake_has_a_small_rtt_and_no_retransmit() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let c = std::net::TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
        let h = handshake(&c).expect("TCP_INFO");
        assert!(!h.retransmitted, "{h:?}");
        assert!(h.connected, "{h:?}");
        assert!(
            h.rtt > Duration::ZERO && h.rtt < Duration::from_millis(50),
            "{h:?}"
        );
    }

    #[test]
    fn a_refused_connect_is_not_connected() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let to = l.local_addr().expect("addr");
        drop(l);
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        assert!(s.connect(&to.into()).is_err(), "nothing listens on {to}");
        let h = handshake(&s).expect("TCP_INFO");
        assert!(!h.connected, "{h:?}");
    }

    #[test]
    fn not_a_tcp_socket_is_none() {
        let u = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        assert_eq!(handshake(&u), None);
    }
}
