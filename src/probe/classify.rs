//! errno → verdict, by number, never by message text. Pure, unit-tested without sockets.
//!
//! The phase matters: the same errno means different things when `connect()` returns it
//! synchronously (the local stack refused: no packet left) and when it arrives later (an
//! ICMP or RST from the network).

use crate::verdict::Verdict;

/// Where in the probe an error came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `socket()`, socket options, registering with the reactor: always local.
    Setup,
    /// Returned by `connect()` itself, before any packet left (no route, broadcast, fds, ports).
    ConnectSync,
    /// Arrived after `EINPROGRESS`: the network answered.
    ConnectAsync,
    /// While reading during the linger window.
    Linger,
}

/// The verdict an error in `phase` stands for.
pub fn classify(phase: Phase, errno: Option<i32>) -> Verdict {
    let Some(e) = errno else {
        return Verdict::LocalError;
    };
    match phase {
        Phase::Setup => Verdict::LocalError,
        Phase::ConnectSync => match e {
            // A RST to our SYN can be processed before connect() returns on loopback.
            libc::ECONNREFUSED => Verdict::Refused,
            _ => Verdict::LocalError,
        },
        Phase::ConnectAsync => match e {
            libc::ECONNREFUSED => Verdict::Refused,
            libc::EHOSTUNREACH
            | libc::ENETUNREACH
            | libc::EACCES
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::ENOPROTOOPT
            | libc::EPROTO => Verdict::Unreachable,
            libc::ETIMEDOUT => Verdict::Filtered,
            // The handshake completed, then the peer reset before we saw it.
            libc::ECONNRESET | libc::ECONNABORTED => Verdict::ResetByPeer,
            _ => Verdict::LocalError,
        },
        Phase::Linger => match e {
            libc::ECONNRESET | libc::ECONNABORTED | libc::EPIPE => Verdict::ResetByPeer,
            _ => Verdict::LocalError,
        },
    }
}

/// The symbolic name of an errno, for `detail` and the `errno` field.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNRESET => "ECONNRESET",
        libc::ECONNABORTED => "ECONNABORTED",
        libc::EPIPE => "EPIPE",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::ENOBUFS => "ENOBUFS",
        libc::ENOMEM => "ENOMEM",
        libc::EINVAL => "EINVAL",
        libc::EHOSTDOWN => "EHOSTDOWN",
        libc::ENONET => "ENONET",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EPROTO => "EPROTO",
        libc::ENETDOWN => "ENETDOWN",
        libc::EAGAIN => "EAGAIN",
        libc::ENOTCONN => "ENOTCONN",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn async_errors_are_remote_verdicts() {
        let c = |e| classify(Phase::ConnectAsync, Some(e));
        assert_eq!(c(libc::ECONNREFUSED), Verdict::Refused);
        assert_eq!(c(libc::EHOSTUNREACH), Verdict::Unreachable);
        assert_eq!(c(libc::ENETUNREACH), Verdict::Unreachable);
        assert_eq!(
            c(libc::EACCES),
            Verdict::Unreachable,
            "IPv6 admin-prohibited"
        );
        assert_eq!(c(libc::ETIMEDOUT), Verdict::Filtered);
        assert_eq!(c(libc::ECONNRESET), Verdict::ResetByPeer);
        assert_eq!(c(libc::ECONNABORTED), Verdict::ResetByPeer);
        assert_eq!(c(libc::EMFILE), Verdict::LocalError);
        assert_eq!(c(libc::EADDRNOTAVAIL), Verdict::LocalError);
        assert_eq!(c(libc::ENOBUFS), Verdict::LocalError);
    }

    #[test]
    fn synchronous_errors_are_local() {
        let c = |e| classify(Phase::ConnectSync, Some(e));
        for e in [
            libc::ENETUNREACH,
            libc::EHOSTUNREACH,
            libc::EACCES,
            libc::EPERM,
            libc::EINVAL,
            libc::EADDRNOTAVAIL,
            libc::EMFILE,
        ] {
            assert_eq!(c(e), Verdict::LocalError, "{}", errno_name(e));
        }
        assert_eq!(c(libc::ECONNREFUSED), Verdict::Refused);
        for e in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ECONNREFUSED,
        ] {
            assert_eq!(classify(Phase::Setup, Some(e)), Verdict::LocalError);
        }
        assert_eq!(classify(Phase::ConnectAsync, None), Verdict::LocalError);
    }

    #[test]
    fn linger_errors() {
        assert_eq!(
            classify(Phase::Linger, Some(libc::ECONNRESET)),
            Verdict::ResetByPeer
        );
        assert_eq!(
            classify(Phase::Linger, Some(libc::ENOMEM)),
            Verdict::LocalError
        );
    }

    #[test]
    fn names() {
        assert_eq!(errno_name(libc::EACCES), "EACCES");
        assert_eq!(errno_name(99999), "errno 99999");
    }
}
