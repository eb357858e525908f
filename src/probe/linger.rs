//! The linger window of a connected probe: watch, for at most the linger time, whether the peer
//! closes (FIN) or resets (RST), keeping up to [`BANNER_MAX`] bytes of what it sends.
//!
//! The window ends at its deadline whatever the peer does. The read loop checks the deadline
//! itself instead of relying on a timer around each read (a read that is always ready — a peer
//! streaming faster than we read — never lets a timer fire). Once the banner is full nothing more
//! is read: the probe waits for socket *events* without consuming data. Bytes past the cap stay
//! in the kernel's receive queue, the window closes, the peer blocks, and the probe costs no CPU.
//! A FIN or RST is still seen at once, behind any amount of unread data: epoll reports
//! `EPOLLRDHUP` (tokio's read-closed readiness) when the FIN arrives and `EPOLLERR`/`EPOLLHUP`
//! when a RST does, whose errno `SO_ERROR` (`take_error`) then gives. A peer that sends data
//! past the cap until the deadline is a service that let us in: `open`, and the detail says it
//! streamed.
//!
//! An interrupt ends the window at once with an `interrupted` outcome that keeps the banner and
//! how long the probe lingered (the caller adds `connect_ms`).

use std::io;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::io::{AsyncReadExt, Interest};
use tokio::net::TcpStream;

use super::{BANNER_MAX, Outcome, Phase, classify, errno_name, fmt_ms, ms, os_err};
use crate::shutdown::Shutdown;
use crate::verdict::Verdict;

/// Readable events taken at full speed once the banner is full; past this many (a peer that
/// trickles tiny segments into a huge window), each further one is followed by a pause.
const FAST_EVENTS: u32 = 256;
/// That pause: bounds the wake-ups of one pathological peer to ~100 per second.
const SLOW_EVENT_PAUSE: Duration = Duration::from_millis(10);

/// How a probe's linger window ended, before it becomes an [`Outcome`].
pub(super) enum End {
    /// The deadline passed with the connection still up.
    Open,
    /// The peer's FIN arrived.
    Fin,
    /// An error (a RST: ECONNRESET) arrived.
    Error(io::Error),
    /// The scan was interrupted.
    Interrupted,
}

/// A connect-only probe (linger 0) that connected; `connected` is how long the connect took.
pub(super) fn connect_only(connected: Duration) -> Outcome {
    Outcome::new(
        Verdict::Open,
        None,
        format!(
            "connected in {} (connect-only, linger 0)",
            fmt_ms(connected)
        ),
    )
}

/// Linger on a connected `stream` for `linger`; `connected` is how long the connect took.
pub(super) async fn linger_on(
    mut stream: TcpStream,
    linger: Duration,
    connected: Duration,
    shutdown: &mut Shutdown,
) -> Outcome {
    if linger.is_zero() {
        return connect_only(connected);
    }
    let c = fmt_ms(connected);
    let since = Instant::now();
    let deadline = since + linger;
    let mut banner = Vec::new();
    let mut streamed = false;
    let end = match read_banner(&mut stream, deadline, &mut banner, shutdown).await {
        Some(end) => end,
        // The banner is full: watch without reading until the deadline.
        None => watch(&stream, deadline, &mut streamed, shutdown).await,
    };
    let after = since.elapsed();
    let mut out = match end {
        End::Open => {
            let mut d = format!(
                "connected in {c}; still open after {}",
                crate::report::units::fmt_duration(linger)
            );
            if streamed {
                d.push_str(&format!(
                    "; the peer streamed data past the {BANNER_MAX}-byte banner cap (left unread)"
                ));
            }
            Outcome::new(Verdict::Open, None, d)
        }
        End::Fin => {
            let mut o = Outcome::new(
                Verdict::ClosedByPeer,
                None,
                format!(
                    "connected in {c}; peer closed (FIN) after {}",
                    fmt_ms(after)
                ),
            );
            o.closed_after_ms = Some(ms(after));
            o
        }
        End::Error(e) => {
            let errno = os_err(&e);
            let verdict = classify(Phase::Linger, errno);
            let name = errno.map_or_else(|| e.to_string(), errno_name);
            let mut o = Outcome::new(
                verdict,
                errno,
                format!("connected in {c}; {name} after {}", fmt_ms(after)),
            );
            o.closed_after_ms = Some(ms(after));
            o
        }
        End::Interrupted => Outcome::new(
            Verdict::Interrupted,
            None,
            format!(
                "connected in {c}; interrupted after {} of linger, before a verdict",
                fmt_ms(after)
            ),
        ),
    };
    out.banner = banner;
    out
}

/// Read until the banner holds [`BANNER_MAX`] bytes (returns None) or the window ends.
async fn read_banner(
    stream: &mut TcpStream,
    deadline: Instant,
    banner: &mut Vec<u8>,
    shutdown: &mut Shutdown,
) -> Option<End> {
    let mut buf = [0u8; BANNER_MAX];
    while banner.len() < BANNER_MAX {
        // Checked here, not only by the timer: an always-ready read never lets a timer fire.
        if Instant::now() >= deadline {
            return Some(End::Open);
        }
        let room = BANNER_MAX - banner.len();
        let read = tokio::select! {
            biased;
            () = shutdown.wait() => return Some(End::Interrupted),
            r = tokio::time::timeout_at(deadline.into(), stream.read(&mut buf[..room])) => r,
        };
        match read {
            Err(_) => return Some(End::Open),
            Ok(Ok(0)) => return Some(End::Fin),
            Ok(Ok(n)) => banner.extend_from_slice(&buf[..n.min(room)]),
            Ok(Err(e)) => return Some(End::Error(e)),
        }
    }
    None
}

/// With the banner full, wait for the deadline, a FIN, a RST or an interrupt without reading.
/// Sets `streamed` when bytes past the cap were waiting in the receive queue.
pub(super) async fn watch(
    stream: &TcpStream,
    deadline: Instant,
    streamed: &mut bool,
    shutdown: &mut Shutdown,
) -> End {
    let mut events: u32 = 0;
    loop {
        if Instant::now() >= deadline {
            return final_look(stream);
        }
        let ready = tokio::select! {
            biased;
            () = shutdown.wait() => return End::Interrupted,
            r = stream.ready(Interest::READABLE) => r,
            () = tokio::time::sleep_until(deadline.into()) => return final_look(stream),
        };
        let ready = match ready {
            Ok(r) => r,
            Err(e) => return End::Error(e),
        };
        if ready.is_read_closed() || ready.is_error() {
            return closed(stream);
        }
        // Readable: data past the cap (or a stale readiness from the banner reads). Note whether
        // bytes wait, then clear the readiness without reading, so that the next wait is for a
        // new event (more data, FIN, RST) instead of returning at once forever. Clearing
        // readiness with data still queued is deliberate: that data will never be read.
        let _ = stream.try_io(Interest::READABLE, || {
            if bytes_waiting(stream) {
                *streamed = true;
            }
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
        events = events.saturating_add(1);
        if events > FAST_EVENTS {
            let pause = (Instant::now() + SLOW_EVENT_PAUSE).min(deadline);
            tokio::select! {
                biased;
                () = shutdown.wait() => return End::Interrupted,
                () = tokio::time::sleep_until(pause.into()) => {}
            }
        }
    }
}

/// Whether unread bytes are in the receive queue (a non-blocking `MSG_PEEK` of one byte).
fn bytes_waiting(stream: &TcpStream) -> bool {
    let mut one = [MaybeUninit::<u8>::uninit()];
    matches!(socket2::SockRef::from(stream).peek(&mut one), Ok(n) if n > 0)
}

/// The peer ended the connection while data may still be unread: a RST leaves its errno in
/// `SO_ERROR`; without one, it was a FIN.
fn closed(stream: &TcpStream) -> End {
    match stream.take_error() {
        Ok(Some(e)) | Err(e) => End::Error(e),
        Ok(None) => End::Fin,
    }
}

/// At the deadline: a FIN or RST that arrived with it still counts, as a read returning EOF or
/// an error at the deadline would.
fn final_look(stream: &TcpStream) -> End {
    match stream.ready(Interest::READABLE).now_or_never() {
        Some(Ok(r)) if r.is_read_closed() || r.is_error() => closed(stream),
        Some(Err(e)) => End::Error(e),
        _ => match stream.take_error() {
            Ok(Some(e)) => End::Error(e),
            _ => End::Open,
        },
    }
}
