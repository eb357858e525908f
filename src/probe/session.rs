//! The service conversation of a connected probe (`--style service`): send the hello if the
//! plan asks for one, read the service's answer until its parser says it is complete, the peer
//! closes, or the greeting window ends; then, if the session is still up and the answer was not
//! a refusal, watch the rest of the linger window for a close; then say goodbye the way the
//! service logs least (its farewell, then a FIN or a RST) and turn what was seen into an
//! [`Outcome`].
//!
//! A silent connection is not yet proof of access: the window is the greeting wait (default
//! 8 s), not the linger, so a service that turns a client away by closing after a delay
//! (libwrap's 5 s, HAProxy's inspect delay) reads as a close. A service that greets at once
//! costs no more than the linger window, as before.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::linger::{End, watch};
use super::{BANNER_MAX, Outcome, Phase, classify, errno_name, fmt_ms, ms, os_err};
use crate::report::units::fmt_duration;
use crate::service::policy::Plan;
use crate::service::{Answer, Close, Parsed, Service};
use crate::shutdown::Shutdown;
use crate::verdict::Verdict;

/// Most bytes of an answer read before it is parsed as it stands.
const ANSWER_MAX: usize = 4096;
/// Idle time before a keepalive probe, and between probes, during the conversation.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(1);
/// Longest wait for the peer's FIN after our own (FIN-style goodbyes).
pub const GOODBYE_WAIT: Duration = Duration::from_millis(500);

/// What the conversation saw, before it becomes an [`Outcome`].
struct Seen {
    /// Everything read (at most [`ANSWER_MAX`] bytes).
    bytes: Vec<u8>,
    /// The parsed answer, once complete.
    answer: Option<Answer>,
    /// How the session ended; None while it is still up.
    end: Option<End>,
    /// When the answer became complete, since established.
    answered_after: Option<Duration>,
    /// When the session ended, since established.
    ended_after: Option<Duration>,
}

/// Talk to the service on `stream` as `plan` says; `connected` is how long the connect took.
pub(super) async fn converse(
    mut stream: TcpStream,
    plan: &Plan,
    host: &str,
    linger: Duration,
    connected: Duration,
    shutdown: &mut Shutdown,
) -> Outcome {
    if plan.hello && plan.service.is_tls() {
        return Box::pin(crate::service::tls::converse(
            stream, plan, host, linger, connected, shutdown,
        ))
        .await;
    }
    let since = Instant::now();
    let window_end = since + plan.greeting_wait.max(linger);
    let service = plan.service;
    let mut seen = Seen {
        bytes: Vec::new(),
        answer: None,
        end: None,
        answered_after: None,
        ended_after: None,
    };
    let hello = if plan.hello && !service.is_tls() {
        service.hello(host)
    } else {
        None
    };
    let hello_sent = hello.is_some();
    // A socket the service dropped without a packet (HAProxy `silent-drop`: TCP_REPAIR) shows
    // only when we send: kernel keepalive probes after 1 s idle draw its RST within the window
    // (a live peer's kernel ACKs them; no service sees them). Many probes, so a peer that
    // answers none is not timed out here.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_IDLE)
        .with_retries(127);
    let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
    if let Some(h) = hello {
        match send(&mut stream, &h, window_end).await {
            Ok(()) => {}
            Err(e) => {
                seen.end = Some(End::Error(e));
                seen.ended_after = Some(since.elapsed());
            }
        }
    }
    if seen.end.is_none() {
        read_answer(&mut stream, service, window_end, since, &mut seen, shutdown).await;
    }
    if seen.end.is_none() && !closes_as_asked(service, hello_sent, seen.answer.as_ref()) {
        // Answered (or silent for the whole window): watch the rest of the linger for a close,
        // so a refusal followed by a FIN says so and a greeting followed by one is not `open`.
        let linger_end = since + linger;
        if Instant::now() < linger_end {
            let mut streamed = false;
            match watch(&stream, linger_end, &mut streamed, shutdown).await {
                End::Open => {}
                end => {
                    seen.ended_after = Some(since.elapsed());
                    seen.end = Some(end);
                }
            }
        }
    }
    let interrupted = matches!(seen.end, Some(End::Interrupted));
    if !interrupted {
        goodbye(stream, service, &seen).await;
    }
    outcome(plan, hello_sent, connected, seen)
}

/// Our hello asks for the close that follows a complete answer, so that close ends the
/// conversation and denies nothing: HTTP's `Connection: close`; PostgreSQL's end of a startup
/// it accepted for our made-up role (`trust`: AuthenticationOk, then FATAL `role "telltale"
/// does not exist` and a close; a refusal still watches for its close).
fn closes_as_asked(service: Service, hello: bool, answer: Option<&Answer>) -> bool {
    hello
        && match service {
            Service::Http => answer.is_some(),
            Service::Postgres => answer.is_some_and(|a| a.rejection.is_none()),
            _ => false,
        }
}

/// Write the hello (bounded by the window).
async fn send(stream: &mut TcpStream, bytes: &[u8], until: Instant) -> io::Result<()> {
    match tokio::time::timeout_at(until.into(), stream.write_all(bytes)).await {
        Ok(r) => r,
        Err(_) => Ok(()), // a peer that does not read: the answer wait tells the rest
    }
}

/// Read until the answer is complete, the peer closes or resets, or the window ends.
async fn read_answer(
    stream: &mut TcpStream,
    service: Service,
    window_end: Instant,
    since: Instant,
    seen: &mut Seen,
    shutdown: &mut Shutdown,
) {
    let mut buf = [0u8; 1024];
    loop {
        if !seen.bytes.is_empty() {
            if let Parsed::Complete(a) = service.parse_answer(&seen.bytes, false) {
                seen.answer = Some(a);
                seen.answered_after = Some(since.elapsed());
                return;
            }
        }
        if seen.bytes.len() >= ANSWER_MAX || Instant::now() >= window_end {
            break;
        }
        let room = (ANSWER_MAX - seen.bytes.len()).min(buf.len());
        let read = tokio::select! {
            biased;
            () = shutdown.wait() => {
                seen.end = Some(End::Interrupted);
                seen.ended_after = Some(since.elapsed());
                return;
            }
            r = tokio::time::timeout_at(window_end.into(), stream.read(&mut buf[..room])) => r,
        };
        match read {
            Err(_) => break,
            Ok(Ok(0)) => {
                seen.end = Some(End::Fin);
                seen.ended_after = Some(since.elapsed());
                break;
            }
            Ok(Ok(n)) => seen.bytes.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => {
                seen.end = Some(End::Error(e));
                seen.ended_after = Some(since.elapsed());
                break;
            }
        }
    }
    // The peer closed, or the answer filled the buffer: parse what came. At the end of the
    // window with the peer still there, a partial answer stays incomplete (a `220-` whose last
    // line never came is not a greeting).
    let over = seen.end.is_some() || seen.bytes.len() >= ANSWER_MAX;
    if over && !seen.bytes.is_empty() {
        if let Parsed::Complete(a) = service.parse_answer(&seen.bytes, true) {
            seen.answer = Some(a);
            seen.answered_after = Some(since.elapsed());
        }
    }
}

/// End the session the way `service` logs least: its farewell if the session is up, then a
/// FIN (reading the peer's own close, so no unread byte turns our close into a RST) or a RST.
async fn goodbye(mut stream: TcpStream, service: Service, seen: &Seen) {
    let up = seen.end.is_none();
    // The service's farewell decides, refusals included: Postfix keeps a 554 session until QUIT.
    if up && seen.answer.is_some() {
        if let Some(bye) = service.farewell(&seen.bytes) {
            let _ = tokio::time::timeout(GOODBYE_WAIT, stream.write_all(&bye)).await;
        }
    }
    if service.close() == Close::Rst || matches!(seen.end, Some(End::Error(_))) {
        return; // zero linger is set on every probe socket: dropping it sends the RST
    }
    let sock = socket2::SockRef::from(&stream);
    let _ = sock.set_linger(None);
    if up {
        let _ = stream.shutdown().await;
    }
    let until = Instant::now() + GOODBYE_WAIT;
    let mut sink = [0u8; 1024];
    let mut drained = 0usize;
    while drained < 64 * 1024 {
        match tokio::time::timeout_at(until.into(), stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}

/// The verdict and detail for what the conversation saw.
fn outcome(plan: &Plan, hello: bool, connected: Duration, seen: Seen) -> Outcome {
    let c = fmt_ms(connected);
    let service = plan.service;
    let answer = seen.answer.unwrap_or_default();
    let greeted = answer
        .greeting
        .as_deref()
        .map(|g| format!("{service} greeting `{g}`"))
        .unwrap_or_else(|| format!("{service} answer"));
    let when =
        |d: Option<Duration>| d.map_or_else(String::new, |d| format!(" after {}", fmt_ms(d)));
    let mut out = if let Some(r) = &answer.rejection {
        let mut d = format!(
            "connected in {c}; the service refused{}: {} ({}: ask {})",
            when(seen.answered_after),
            r.text,
            match r.kind {
                crate::service::RejectKind::Access => "an access rule",
                crate::service::RejectKind::Capacity => "a capacity limit",
            },
            r.kind.who()
        );
        let closed = matches!(seen.end, Some(End::Fin | End::Error(_)));
        if closed {
            d.push_str("; then it closed");
        }
        let mut o = Outcome::new(Verdict::Rejected, None, d);
        if closed {
            o.closed_after_ms = seen.ended_after.map(ms);
        }
        o
    } else {
        match seen.end {
            None | Some(End::Open) => {
                let mut d = if seen.answered_after.is_some() {
                    let then = if closes_as_asked(service, hello, Some(&answer)) {
                        "" // the server closes as asked; we did not wait for it
                    } else {
                        "; the session stayed up"
                    };
                    format!(
                        "connected in {c}; {greeted}{}{then}",
                        when(seen.answered_after)
                    )
                } else if seen.bytes.is_empty() {
                    silent_open(plan, &c)
                } else {
                    format!(
                        "connected in {c}; the {service} answer was incomplete after {}; the session stayed up",
                        fmt_duration(plan.greeting_wait)
                    )
                };
                if let Some(n) = &answer.note {
                    d.push_str(&format!("; {n}"));
                }
                Outcome::new(Verdict::Open, None, d)
            }
            Some(End::Fin)
                if closes_as_asked(service, hello, seen.answered_after.map(|_| &answer)) =>
            {
                let mut d = format!(
                    "connected in {c}; {greeted}{}, then it closed {}",
                    when(seen.answered_after),
                    if service == Service::Http {
                        "as our request asked (Connection: close)"
                    } else {
                        "(our hello's made-up user)"
                    }
                );
                if let Some(n) = &answer.note {
                    d.push_str(&format!("; {n}"));
                }
                Outcome::new(Verdict::Open, None, d)
            }
            Some(End::Fin) => {
                let after = seen.ended_after.unwrap_or_default();
                let d = if seen.bytes.is_empty() {
                    let mut d = format!(
                        "connected in {c}; peer closed (FIN) after {} without a word",
                        fmt_ms(after)
                    );
                    if after >= Duration::from_millis(900) {
                        d.push_str(
                            ": a delayed silent close, as tcp_wrappers (libwrap) or a proxy's access rule gives",
                        );
                    }
                    d
                } else {
                    let mut d = format!(
                        "connected in {c}; {greeted}, then the peer closed (FIN) after {}",
                        fmt_ms(after)
                    );
                    if let Some(n) = &answer.note {
                        d.push_str(&format!("; {n}"));
                    }
                    d
                };
                let mut o = Outcome::new(Verdict::ClosedByPeer, None, d);
                o.closed_after_ms = Some(ms(after));
                o
            }
            Some(End::Error(e)) => {
                let after = seen.ended_after.unwrap_or_default();
                let errno = os_err(&e);
                let verdict = classify(Phase::Linger, errno);
                let name = errno.map_or_else(|| e.to_string(), errno_name);
                let what = if hello && seen.bytes.is_empty() {
                    "in answer to our hello"
                } else {
                    ""
                };
                let d = format!("connected in {c}; {name}{} {what}", when(Some(after)))
                    .trim_end()
                    .to_string();
                let mut o = Outcome::new(verdict, errno, d);
                o.closed_after_ms = Some(ms(after));
                o
            }
            Some(End::Interrupted) => Outcome::new(
                Verdict::Interrupted,
                None,
                format!(
                    "connected in {c}; interrupted while reading the {service} answer, before a verdict"
                ),
            ),
        }
    };
    out.banner = seen.bytes.into_iter().take(BANNER_MAX).collect();
    out.service = service;
    out.hello = hello;
    out.greeting = answer.greeting;
    out.rejection = answer.rejection;
    out
}

/// The detail of a connection that stayed up and silent for the whole window.
fn silent_open(plan: &Plan, c: &str) -> String {
    let w = fmt_duration(plan.greeting_wait);
    let service = plan.service;
    if service.speaks_first() {
        format!(
            "connected in {c}; no {service} greeting within {w}, but the session stayed up (a {service} server speaks first: a proxy or a stalled service may be in the way)"
        )
    } else if plan.hello {
        format!(
            "connected in {c}; no answer to the {service} hello within {w}; the session stayed up"
        )
    } else {
        format!(
            "connected in {c}; silent for {w} and still open ({service} waits for the client: --hello asks it)"
        )
    }
}
