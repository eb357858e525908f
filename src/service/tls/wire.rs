//! The TLS path of a `--style service` probe with a hello (`tls`, `https`): run [`probe`]
//! within the greeting window, watch the interrupt, and turn the [`TlsOutcome`] into the
//! probe's [`Outcome`]: a TLS alert or an HTTP refusal is `rejected`; a close or reset without
//! one is `closed-by-peer` / `reset-by-peer`; otherwise `open` (a handshake that did not finish
//! by the deadline, or a peer that does not speak TLS, with the session up, is `open` too, and
//! the detail says so). The record's `--cert-min-days` check reads [`Outcome::tls`].

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{TlsEnd, TlsOutcome, probe};
use crate::probe::{Outcome, fmt_ms};
use crate::service::policy::Plan;
use crate::service::{RejectKind, Service};
use crate::shutdown::Shutdown;
use crate::verdict::Verdict;

/// Speak TLS (and HTTP over it for `https`) to the service on `stream`; `host` is the target's
/// host as written (SNI, `Host:`); the window is `plan.greeting_wait.max(linger)` from now;
/// `connected` is how long the connect took. Same shape as the probe's plain-TCP `converse`.
pub async fn converse(
    stream: TcpStream,
    plan: &Plan,
    host: &str,
    linger: Duration,
    connected: Duration,
    shutdown: &mut Shutdown,
) -> Outcome {
    let since = Instant::now();
    let deadline = since + plan.greeting_wait.max(linger);
    let http_host = (plan.service == Service::Https).then_some(host);
    let tls = tokio::select! {
        biased;
        () = shutdown.wait() => {
            let mut o = Outcome::without_connect(
                Verdict::Interrupted,
                None,
                format!(
                    "connected in {}; interrupted during the TLS exchange, before a verdict",
                    fmt_ms(connected)
                ),
            );
            o.service = plan.service;
            o.hello = true;
            return o;
        }
        t = probe(stream, host, http_host, deadline) => t,
    };
    outcome(plan, connected, tls)
}

/// The verdict and detail for a TLS probe's outcome.
fn outcome(plan: &Plan, connected: Duration, t: TlsOutcome) -> Outcome {
    let c = fmt_ms(connected);
    let service = plan.service;
    let (verdict, errno, detail) = if let Some(r) = &t.answer.rejection {
        let kind = match r.kind {
            RejectKind::Access => "an access rule",
            RejectKind::Capacity => "a capacity limit",
        };
        (
            Verdict::Rejected,
            None,
            format!(
                "connected in {c}; {}; the service refused: {} ({kind}: ask {})",
                t.detail,
                r.text,
                r.kind.who()
            ),
        )
    } else {
        let note = t
            .answer
            .note
            .as_deref()
            .map_or_else(String::new, |n| format!("; {n}"));
        match &t.end {
            TlsEnd::Open => (
                Verdict::Open,
                None,
                format!(
                    "connected in {c}; {}{note}; the session stayed up",
                    t.detail
                ),
            ),
            TlsEnd::Timeout => (
                Verdict::Open,
                None,
                format!(
                    "connected in {c}; {}; the session stayed up (the service accepted the connection but did not finish a TLS handshake)",
                    t.detail
                ),
            ),
            TlsEnd::Error(_) => (
                Verdict::Open,
                None,
                format!(
                    "connected in {c}; {}; the {service} service accepted the connection but the TLS exchange failed",
                    t.detail
                ),
            ),
            TlsEnd::Fin => (
                Verdict::ClosedByPeer,
                None,
                format!("connected in {c}; {}{note}", t.detail),
            ),
            TlsEnd::Reset => (
                Verdict::ResetByPeer,
                Some("ECONNRESET".to_string()),
                format!("connected in {c}; {}{note}", t.detail),
            ),
        }
    };
    let mut o = Outcome::without_connect(verdict, errno, detail);
    if matches!(t.end, TlsEnd::Fin | TlsEnd::Reset) {
        o.closed_after_ms = t.closed_after.map(ms);
    }
    o.banner = t
        .received
        .iter()
        .copied()
        .take(crate::probe::BANNER_MAX)
        .collect();
    o.service = service;
    o.hello = true;
    o.greeting = t.answer.greeting;
    o.rejection = t.answer.rejection;
    o.tls = t.info;
    o
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::policy::{Policy, Style};
    use crate::service::{Answer, Rejection};

    fn plan(service: Service) -> Plan {
        Plan {
            service,
            style: Style::Service,
            hello: true,
            greeting_wait: Policy::default().greeting_wait,
        }
    }

    fn tls(end: TlsEnd, rejection: Option<&str>) -> TlsOutcome {
        TlsOutcome {
            info: None,
            answer: Answer {
                rejection: rejection.map(|code| Rejection {
                    code: code.into(),
                    text: format!("TLS alert {code}"),
                    kind: RejectKind::Access,
                }),
                ..Answer::default()
            },
            end,
            received: Vec::new(),
            detail: "TLSv1.3 in 1.0 ms".into(),
            handshake: None,
            closed_after: Some(Duration::from_millis(5)),
        }
    }

    #[test]
    fn verdicts() {
        let c = Duration::from_millis(1);
        let p = plan(Service::Tls);
        let o = outcome(&p, c, tls(TlsEnd::Fin, Some("certificate_required")));
        assert_eq!(o.verdict, Verdict::Rejected);
        assert_eq!(
            o.rejection.map(|r| r.code).as_deref(),
            Some("certificate_required")
        );
        assert_eq!(o.closed_after_ms, Some(5.0));
        assert_eq!(
            outcome(&p, c, tls(TlsEnd::Open, None)).verdict,
            Verdict::Open
        );
        assert_eq!(
            outcome(&p, c, tls(TlsEnd::Fin, None)).verdict,
            Verdict::ClosedByPeer
        );
        let reset = outcome(&p, c, tls(TlsEnd::Reset, None));
        assert_eq!(reset.verdict, Verdict::ResetByPeer);
        assert_eq!(reset.errno.as_deref(), Some("ECONNRESET"));
        assert_eq!(
            outcome(&p, c, tls(TlsEnd::Timeout, None)).verdict,
            Verdict::Open
        );
        let not_tls = outcome(&p, c, tls(TlsEnd::Error("TLS error: corrupt".into()), None));
        assert_eq!(not_tls.verdict, Verdict::Open);
        assert!(not_tls.hello && not_tls.service == Service::Tls);
    }
}
