//! The connect phase of one attempt: open the socket, `connect()`, and wait for the answer as
//! the attempt's [`Timing`](crate::timing::Timing) says — the full timeout, or a short wait
//! confirmed by a second SYN on a fresh socket while the first stays open. Every answer feeds
//! the clock: the kernel's handshake RTT for a connection (`TCP_INFO`), the wall time for a RST
//! or ICMP error, neither when a SYN may have been retransmitted (Karn's rule).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpStream;

use super::{Outcome, Settings, async_connect_error, drain_banner, fmt_ms, os_err, setup_error};
use super::{sockopt, source, sync_connect_error};
use crate::report::units::fmt_duration;
use crate::shutdown::Shutdown;
use crate::timing::{Clock, KERNEL_SYN_RTO, Wait, Waits};
use crate::verdict::Verdict;

/// How the connect phase ended.
pub(super) enum Connected {
    /// Established: the stream and its connect time (the kernel's RTT where it has one).
    Up(TcpStream, Duration),
    /// Decided without a connection: refused, unreachable, filtered, a local error,
    /// interrupted.
    Down(Box<Outcome>),
}

/// The connect phase's result and how it was timed.
pub(super) struct Attempted {
    pub(super) result: Connected,
    /// The waits used (one, or the short wait and its confirmation).
    pub(super) waits: Waits,
    /// The smoothed RTT the waits came from.
    pub(super) srtt: Option<Duration>,
    /// `filtered` after a short wait and its confirmation: checked again at the fixed timeout
    /// if the address's answers turn out to come late.
    pub(super) provisional: bool,
}

/// A socket whose `connect()` was issued.
struct Dialing {
    stream: TcpStream,
    start: Instant,
    immediate: bool,
}

/// Connect to `addr`, timed by `s.timing`.
pub(super) async fn connect(addr: SocketAddr, s: &Settings, shutdown: &mut Shutdown) -> Attempted {
    let wait = s.timing.plan(addr.ip(), s.timeout);
    let clock = s.timing.clock();
    let mut waits = Waits::default();
    let done = |result, waits, provisional| Attempted {
        result,
        waits,
        srtt: wait.srtt,
        provisional,
    };
    // The short wait, when this attempt has one: event-loop lag is judged against it.
    let short = wait.confirm.map(|_| wait.first);
    let first = match dial(addr, s, clock) {
        Ok(d) => d,
        Err(o) => return done(Connected::Down(o), waits, false),
    };
    if first.immediate {
        let hs = sockopt::handshake(&first.stream);
        let t = established(clock, addr, (&first, hs), s.timeout, short);
        return done(Connected::Up(first.stream, t), waits, false);
    }
    waits.push(wait.first);
    let r = tokio::select! {
        biased;
        () = shutdown.wait() => Err(Box::new(Outcome::interrupted(first.start.elapsed()))),
        r = tokio::time::timeout(wait.first, wait_connected(&first.stream)) => Ok(r),
    };
    match r {
        Err(o) => done(Connected::Down(o), waits, false),
        Ok(Ok(r)) => done(
            answered(clock, addr, first, r, (s.timeout, short)),
            waits,
            false,
        ),
        Ok(Err(_)) => match wait.confirm {
            None => done(
                Connected::Down(Box::new(filtered(wait.first))),
                waits,
                false,
            ),
            Some(extra) => {
                waits.push(extra);
                // Boxed: only a short wait that expired pays for the second socket's futures;
                // inline they would sit in every probe's task.
                let (result, provisional) =
                    Box::pin(confirm(addr, s, shutdown, first, &wait, extra)).await;
                done(result, waits, provisional)
            }
        },
    }
}

/// The short wait expired: a second SYN on a fresh socket, both watched for `extra`.
async fn confirm(
    addr: SocketAddr,
    s: &Settings,
    shutdown: &mut Shutdown,
    first: Dialing,
    wait: &Wait,
    extra: Duration,
) -> (Connected, bool) {
    let clock = s.timing.clock();
    // A second socket that cannot be opened (a local error) leaves the first one watched.
    let second = match dial(addr, s, clock) {
        Ok(d) if d.immediate => {
            late(clock, addr);
            let hs = sockopt::handshake(&d.stream);
            let t = established(clock, addr, (&d, hs), s.timeout, Some(wait.first));
            return (Connected::Up(d.stream, t), false);
        }
        Ok(d) => Some(d),
        // `connect()` itself saw the answer (a RST or ICMP on a fast path): it is the verdict.
        Err(o) if o.verdict != Verdict::LocalError => {
            late(clock, addr);
            return (Connected::Down(o), false);
        }
        Err(_) => None,
    };
    let on_second = async {
        match &second {
            Some(d) => wait_connected(&d.stream).await,
            None => std::future::pending().await,
        }
    };
    let which = tokio::select! {
        biased;
        () = shutdown.wait() => return (Connected::Down(Box::new(Outcome::interrupted(first.start.elapsed()))), false),
        r = wait_connected(&first.stream) => Some((true, r)),
        r = on_second => Some((false, r)),
        () = tokio::time::sleep(extra) => None,
    };
    let Some((was_first, r)) = which else {
        let srtt = wait.srtt.map_or_else(|| "none".to_string(), fmt_ms);
        let detail = format!(
            "no answer within {} nor to a second SYN in the next {}: SYN dropped (auto timing, srtt {srtt})",
            fmt_duration(wait.first),
            fmt_duration(extra),
        );
        let mut o = Outcome::new(Verdict::Filtered, None, detail);
        o.attempts = 2;
        return (Connected::Down(Box::new(o)), true);
    };
    // Any answer now came after the short wait: this address's waits go back to the full timeout.
    late(clock, addr);
    let d = match (was_first, second) {
        (false, Some(d)) => d,
        _ => first,
    };
    (
        answered(clock, addr, d, r, (s.timeout, Some(wait.first))),
        false,
    )
}

fn late(clock: Option<&Clock>, addr: SocketAddr) {
    if let Some(c) = clock {
        c.late(addr.ip());
    }
}

/// The socket's first answer: established, or the error that came back.
fn answered(
    clock: Option<&Clock>,
    addr: SocketAddr,
    d: Dialing,
    r: io::Result<Option<sockopt::Handshake>>,
    (s_timeout, short): (Duration, Option<Duration>),
) -> Connected {
    match r {
        Ok(hs) => {
            let t = established(clock, addr, (&d, hs), s_timeout, short);
            Connected::Up(d.stream, t)
        }
        Err(e) => {
            let after = d.start.elapsed();
            let mut out = async_connect_error(&e, after);
            if out.verdict == Verdict::ResetByPeer {
                // The peer may have sent a banner before its RST; Linux keeps those bytes
                // readable after the error, so do not lose them.
                out.banner = drain_banner(&d.stream);
            } else if let (Some(c), false) = (clock, out.verdict == Verdict::LocalError) {
                // RST or ICMP: a sample by wall time, unless a SYN may have been retransmitted
                // (asked of the kernel only in auto mode: fixed probes need no sample).
                let resent = sockopt::handshake(&d.stream).is_some_and(|h| h.retransmitted);
                if resent || after >= KERNEL_SYN_RTO {
                    c.late(addr.ip());
                } else {
                    c.sample(addr.ip(), after);
                }
            }
            Connected::Down(Box::new(out))
        }
    }
}

/// A connection is up: its connect time, from the kernel's RTT unless a SYN was retransmitted
/// (then the wall time, and the address counts as late).
fn established(
    clock: Option<&Clock>,
    addr: SocketAddr,
    (d, hs): (&Dialing, Option<sockopt::Handshake>),
    s_timeout: Duration,
    short: Option<Duration>,
) -> Duration {
    let wall = d.start.elapsed();
    match hs {
        Some(h) if !h.retransmitted && h.rtt > Duration::ZERO => {
            if let Some(c) = clock {
                c.sample(addr.ip(), h.rtt);
                // Seen this long after the kernel had the answer: this process is starved
                // (a busy machine, or the event loop itself behind) by more than half a short
                // wait, so waits go back to full for a while.
                if short.is_some_and(|w| wall.saturating_sub(h.rtt) > w / 2) {
                    c.pressure(s_timeout);
                }
            }
            h.rtt
        }
        Some(h) if h.retransmitted => {
            if let Some(c) = clock {
                c.late(addr.ip());
            }
            wall
        }
        _ => wall,
    }
}

fn filtered(wait: Duration) -> Outcome {
    Outcome::new(
        Verdict::Filtered,
        None,
        format!("no answer within {}: SYN dropped", fmt_duration(wait)),
    )
}

/// Open a non-blocking socket (zero linger, bound to the source if any) and issue `connect()`.
/// A synchronous failure is the attempt's outcome.
fn dial(addr: SocketAddr, s: &Settings, clock: Option<&Clock>) -> Result<Dialing, Box<Outcome>> {
    let local = |o: Outcome| {
        if let (Some(c), Verdict::LocalError) = (clock, o.verdict) {
            c.pressure(2 * s.timeout);
        }
        Box::new(o)
    };
    // SOCK_NONBLOCK at creation saves two fcntl calls per probe.
    let kind = Type::STREAM.nonblocking();
    let sock = Socket::new(Domain::for_address(addr), kind, Some(Protocol::TCP))
        .map_err(|e| local(setup_error("socket()", &e)))?;
    sock.set_linger(Some(Duration::ZERO))
        .map_err(|e| local(setup_error("socket setup", &e)))?;
    if addr.is_ipv6() {
        sockopt::icmp_errors_at_once(&sock).map_err(|e| local(setup_error("socket setup", &e)))?;
    }
    if let Some(src) = s.source {
        if let Some(out) = source::bind(&sock, src) {
            return Err(local(out));
        }
    }
    let start = Instant::now();
    let immediate = match sock.connect(&addr.into()) {
        Ok(()) => true,
        Err(e) if os_err(&e) == Some(libc::EINPROGRESS) => false,
        Err(e) => {
            let out = sync_connect_error(&e, start.elapsed(), s.source);
            if let (Some(c), Verdict::Refused | Verdict::Unreachable) = (clock, out.verdict) {
                c.sample(addr.ip(), start.elapsed());
            }
            return Err(local(out));
        }
    };
    let stream = TcpStream::from_std(std::net::TcpStream::from(sock))
        .map_err(|e| local(setup_error("registering the socket", &e)))?;
    Ok(Dialing {
        stream,
        start,
        immediate,
    })
}

/// Wait until the connect completes: the kernel's handshake facts (read by the same
/// `TCP_INFO` that tells a completed connect from a spurious wakeup, so `established` needs no
/// second call), or None where the kernel has no `TCP_INFO` (then `getpeername` decides).
async fn wait_connected(stream: &TcpStream) -> io::Result<Option<sockopt::Handshake>> {
    loop {
        stream.writable().await?;
        if let Some(e) = stream.take_error()? {
            return Err(e);
        }
        match sockopt::handshake(stream) {
            Some(h) if h.connected => return Ok(Some(h)),
            Some(_) => {}
            None => match stream.peer_addr() {
                Ok(_) => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                Err(e) => return Err(e),
            },
        }
        // Writable but not connected yet (a spurious wakeup): look again shortly. Boxed: the
        // timer is rare, and inline it would sit in every probe's task.
        Box::pin(tokio::time::sleep(Duration::from_millis(1))).await;
    }
}
