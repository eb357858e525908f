//! The TLS session after the handshake (the HTTP exchange over TLS, or the post-handshake
//! window that catches a TLS 1.3 server's late alert), and what a failure at any point means:
//! an alert is a rejection, after which the raw socket is watched briefly for the FIN or RST.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::client::TlsStream;

use super::alert::{self, Failure};
use super::{POST_HANDSHAKE_MIN, RECEIVED_MAX, TlsEnd, TlsOutcome, fmt_ms, post_handshake_window};
use crate::service::{Answer, Parsed, RejectKind, Rejection};

/// After a complete handshake: the HTTP exchange, or the post-handshake window. The detail
/// returned is the suffix after the certificate clause.
pub(super) async fn session(
    mut tls: TlsStream<TcpStream>,
    http_host: Option<&str>,
    start: Instant,
    took: Duration,
    deadline: Instant,
) -> TlsOutcome {
    let mut received = Vec::new();
    let mut answer = Answer::default();
    let end = if let Some(host) = http_host {
        let request = crate::service::http::request(host);
        let sent = timeout_at(deadline, async {
            tls.write_all(&request).await?;
            tls.flush().await
        })
        .await;
        let end = match sent {
            Err(_) => ReadEnd::Open,
            Ok(Err(e)) => ReadEnd::Failed(alert::classify(&e), start.elapsed()),
            Ok(Ok(())) => {
                let complete =
                    |b: &[u8]| matches!(crate::service::http::parse(b, false), Parsed::Complete(_));
                read_until(&mut tls, deadline, &mut received, start, complete).await
            }
        };
        let closed = matches!(end, ReadEnd::Failed(Failure::Closed, _));
        answer = match crate::service::http::parse(&received, closed) {
            Parsed::Complete(a) => a,
            Parsed::Incomplete => Answer {
                note: Some(if received.is_empty() {
                    "no HTTP answer".into()
                } else {
                    "incomplete HTTP answer".into()
                }),
                ..Answer::default()
            },
        };
        end
    } else {
        let until = deadline.min(Instant::now() + post_handshake_window(took));
        read_until(&mut tls, until, &mut received, start, |_| false).await
    };
    let mut out = match end {
        ReadEnd::Open => {
            // Best effort: a close_notify before the RST.
            tls.get_mut().1.send_close_notify();
            let _ = timeout_at(
                deadline.min(Instant::now() + POST_HANDSHAKE_MIN),
                tls.flush(),
            )
            .await;
            TlsOutcome::bare(TlsEnd::Open, String::new())
        }
        ReadEnd::Failed(failure, at) => {
            let (tcp, _) = tls.into_inner();
            let mut o = failed(failure, tcp, start, deadline, "after the handshake").await;
            o.detail = format!("; {}", o.detail);
            o.closed_after = o.closed_after.or(Some(at));
            o
        }
    };
    if out.answer.rejection.is_none() {
        out.answer = answer;
    }
    out.received = received;
    out
}

/// How a read phase ended.
enum ReadEnd {
    /// Done, full, or out of time, with the session up.
    Open,
    /// The session failed, at this time since the start.
    Failed(Failure, Duration),
}

/// Read plaintext into `buf` until `done(buf)`, [`RECEIVED_MAX`] bytes, `until`, or a failure.
async fn read_until(
    tls: &mut TlsStream<TcpStream>,
    until: Instant,
    buf: &mut Vec<u8>,
    start: Instant,
    done: impl Fn(&[u8]) -> bool,
) -> ReadEnd {
    let mut chunk = [0u8; 2048];
    loop {
        if buf.len() >= RECEIVED_MAX || done(buf) || Instant::now() >= until {
            return ReadEnd::Open;
        }
        match timeout_at(until, tls.read(&mut chunk)).await {
            Err(_) => return ReadEnd::Open,
            Ok(Ok(0)) => return ReadEnd::Failed(Failure::Closed, start.elapsed()),
            Ok(Ok(n)) => {
                let room = RECEIVED_MAX - buf.len();
                buf.extend_from_slice(&chunk[..n.min(room)]);
            }
            Ok(Err(e)) => return ReadEnd::Failed(alert::classify(&e), start.elapsed()),
        }
    }
}

/// The outcome of a failure `when` ("during the handshake"): an alert is a rejection, and
/// the raw socket is then watched briefly for the server's FIN or RST.
pub(super) async fn failed(
    failure: Failure,
    tcp: TcpStream,
    start: Instant,
    deadline: Instant,
    when: &str,
) -> TlsOutcome {
    let at = start.elapsed();
    match failure {
        Failure::Alert(code) => {
            let name = alert::name(code);
            let until = deadline.min(Instant::now() + POST_HANDSHAKE_MIN);
            let (end, closed) = watch_close(tcp, until, start).await;
            let then = match end {
                TlsEnd::Fin => " (then FIN)",
                TlsEnd::Reset => " (then RST)",
                _ => "",
            };
            let kind = if code == 80 {
                RejectKind::Capacity
            } else {
                RejectKind::Access
            };
            let answer = Answer {
                greeting: None,
                rejection: Some(Rejection {
                    code: name.clone(),
                    text: format!("TLS alert {name}: {}", alert::meaning(code)),
                    kind,
                }),
                note: None,
            };
            TlsOutcome {
                answer,
                closed_after: Some(closed.unwrap_or(at)),
                ..TlsOutcome::bare(
                    end,
                    format!("TLS alert {name} {when}, at {}{then}", fmt_ms(at)),
                )
            }
        }
        Failure::Closed => TlsOutcome {
            closed_after: Some(at),
            ..TlsOutcome::bare(
                TlsEnd::Fin,
                format!("the server closed the connection {when}, at {}", fmt_ms(at)),
            )
        },
        Failure::Reset => TlsOutcome {
            closed_after: Some(at),
            ..TlsOutcome::bare(
                TlsEnd::Reset,
                format!(
                    "the server reset the connection {when} after {}",
                    fmt_ms(at)
                ),
            )
        },
        Failure::Other(why) => TlsOutcome::bare(
            TlsEnd::Error(why.clone()),
            format!("TLS failed {when}, at {}: {why}", fmt_ms(at)),
        ),
    }
}

/// Watch a raw socket until `until` for the peer's FIN or RST (discarding what it sends, a
/// bounded amount); the time is since `start`.
async fn watch_close(
    mut tcp: TcpStream,
    until: Instant,
    start: Instant,
) -> (TlsEnd, Option<Duration>) {
    let mut sink = [0u8; 1024];
    for _ in 0..16 {
        match timeout_at(until, tcp.read(&mut sink)).await {
            Err(_) => break,
            Ok(Ok(0)) => return (TlsEnd::Fin, Some(start.elapsed())),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                let end = match alert::classify(&e) {
                    Failure::Reset => TlsEnd::Reset,
                    _ => TlsEnd::Error(e.to_string()),
                };
                return (end, Some(start.elapsed()));
            }
        }
    }
    (TlsEnd::Open, None)
}
