//! How a run speaks to services: the probe style (`--style`), service detection
//! (`--service-detect`), the greeting window (`--greeting-wait`), hellos (`--hello`) and the
//! certificate threshold (`--cert-min-days`), and the per-probe [`Plan`] they give together with
//! a target's own `service:` / `hello:` keys.

use std::time::Duration;

use serde::Serialize;

use super::Service;

/// Built-in greeting window: long enough for libwrap's 5 s refusal (sshd, vsftpd) and HAProxy's
/// 5 s inspect delay to show as a close, and for Postfix postscreen's 6 s greet wait to end
/// with the greeting's last line (at 6 s exactly the probe gave up 0.3 s before it came).
pub const DEFAULT_GREETING_WAIT: Duration = Duration::from_secs(8);

/// What a probe does after the handshake (`--style`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// Read the service's greeting (waiting up to `--greeting-wait`), parse refusals, say
    /// goodbye the way the service logs least, and close.
    Service,
    /// Plain TCP: linger `--linger`, keep a banner, close with a RST. No protocol spoken.
    Linger,
    /// Connect, then close at once with a RST (like `nmap -sT`): sees the firewall and the
    /// listener only, never an access rule after the handshake.
    Connect,
}

impl Style {
    /// The `--style` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Service => "service",
            Style::Linger => "linger",
            Style::Connect => "connect",
        }
    }
}

/// The run's service settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// Pick services from the well-known-port table (`--service-detect auto`).
    pub detect: bool,
    /// `--style`.
    pub style: Style,
    /// `--greeting-wait`.
    pub greeting_wait: Duration,
    /// `--hello`.
    pub hello: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            detect: true,
            style: Style::Service,
            greeting_wait: DEFAULT_GREETING_WAIT,
            hello: false,
        }
    }
}

/// What one probe speaks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    /// The service spoken (`tcp` = none).
    pub service: Service,
    /// The style.
    pub style: Style,
    /// Send the client's first message.
    pub hello: bool,
    /// How long a silent connection is watched before it counts as up.
    pub greeting_wait: Duration,
}

impl Plan {
    /// Plain TCP in `style` (the wildcard check, `--style linger|connect`).
    pub fn tcp(style: Style) -> Plan {
        Plan {
            service: Service::Tcp,
            style,
            hello: false,
            greeting_wait: Duration::ZERO,
        }
    }
}

impl Policy {
    /// The plan for one probe of a target on `port`: the target's `service:` wins, then the
    /// port table when detection is on; the target's `hello:` wins over `--hello`. A zero
    /// `linger` (`--linger 0`, `linger: 0`) is connect-only, as it always was: no service is
    /// spoken.
    pub fn plan(
        &self,
        service: Option<Service>,
        hello: Option<bool>,
        port: u16,
        linger: Duration,
    ) -> Plan {
        if linger.is_zero() {
            return Plan::tcp(Style::Connect);
        }
        if self.style != Style::Service {
            return Plan::tcp(self.style);
        }
        let service = service.unwrap_or(if self.detect {
            Service::for_port(port)
        } else {
            Service::Tcp
        });
        if service == Service::Tcp {
            return Plan::tcp(Style::Linger);
        }
        Plan {
            service,
            style: Style::Service,
            hello: hello.unwrap_or(self.hello),
            greeting_wait: self.greeting_wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        const S: Duration = Duration::from_secs(1);
        let p = Policy::default();
        assert_eq!(
            p.plan(None, None, 22, Duration::ZERO),
            Plan::tcp(Style::Connect)
        );
        assert_eq!(p.plan(None, None, 22, S).service, Service::Ssh);
        assert_eq!(p.plan(None, None, 9, S).style, Style::Linger);
        assert_eq!(
            p.plan(Some(Service::Tcp), None, 22, S).service,
            Service::Tcp
        );
        assert!(p.plan(None, Some(true), 80, S).hello);
        let off = Policy { detect: false, ..p };
        assert_eq!(off.plan(None, None, 22, S).service, Service::Tcp);
        assert_eq!(
            off.plan(Some(Service::Redis), None, 22, S).service,
            Service::Redis
        );
        let connect = Policy {
            style: Style::Connect,
            ..p
        };
        assert_eq!(
            connect.plan(Some(Service::Ssh), None, 22, S),
            Plan::tcp(Style::Connect)
        );
    }
}
