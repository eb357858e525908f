//! Adaptive connect timing (`--timing auto`): how long a probe waits for an answer.
//!
//! `fixed` waits the full `--timeout` for every connect. `auto` keeps a round-trip
//! [`Estimate`] per address (and per /24 or /64 group, and for the whole scan), fed by every
//! answer — the kernel's handshake RTT (`TCP_INFO`) for a SYN-ACK, the wall time for a RST or an
//! ICMP error, never a connect that may have been answered after a SYN retransmit (Karn's rule).
//! A probe of an address with an estimate first waits srtt + 4·rttvar, boxed to
//! [`MIN_WAIT`]..`--timeout`; if that expires a second SYN goes out on a fresh socket while the
//! first stays open, and both are watched for twice as long again. Only when neither answers is
//! the port `filtered`, and even then provisionally: if any answer from that address (or its
//! group) ever comes late — after a short wait expired, or after a SYN retransmit — the address
//! falls back to the fixed timeout for the rest of the scan, and its provisional verdicts are
//! probed again at the fixed timeout before the scan ends ([`Clock::is_late`]). The fixed
//! timeout is also used where there is no sample yet, where the variation exceeds the RTT, and
//! for a while after a local resource error ([`Clock::pressure`]). Until the scan's first answer
//! (at most 1 s) only a few probes go out ([`Clock::warm_up`]), so the first wave does not all
//! wait the full timeout for want of an estimate.

mod clock;
mod estimate;
mod waits;

pub use clock::{Clock, WARMUP_MAX, WARMUP_PROBES, Wait};
pub use estimate::Estimate;
pub use waits::{MAX_WAITS, Waits};

use std::sync::Arc;
use std::time::Duration;

/// The shortest first wait (nmap's default `--min-rtt-timeout`, 100 ms).
pub const MIN_WAIT: Duration = Duration::from_millis(100);
/// The longest first wait (nmap's default `--max-rtt-timeout`, 10 s); `--timeout` caps it too.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
/// The confirmation watches both sockets for this many times the first wait.
pub const CONFIRM_FACTOR: u32 = 2;

/// The kernel's first SYN retransmission timeout (`TCP_TIMEOUT_INIT`, 1 s): an answer that
/// took longer may belong to a retransmitted SYN, so its wall time is no RTT sample.
pub const KERNEL_SYN_RTO: Duration = Duration::from_secs(1);

/// How one probe's connects are timed.
#[derive(Clone, Default)]
pub enum Timing {
    /// The full `--timeout`, always.
    #[default]
    Fixed,
    /// `--timing auto`: waits from the scan's [`Clock`], which every answer feeds.
    Auto(Arc<Clock>),
    /// `--timing auto`, probing again a provisional `filtered` of an address whose answers came
    /// late: the full `--timeout`, still feeding the clock.
    Recheck(Arc<Clock>),
}

impl std::fmt::Debug for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Timing::Fixed => "Fixed",
            Timing::Auto(_) => "Auto",
            Timing::Recheck(_) => "Recheck",
        })
    }
}

impl Timing {
    /// The clock answers feed, if any.
    pub fn clock(&self) -> Option<&Clock> {
        match self {
            Timing::Fixed => None,
            Timing::Auto(c) | Timing::Recheck(c) => Some(c),
        }
    }

    /// The mode as the record names it.
    pub fn mode(&self) -> Mode {
        match self {
            Timing::Fixed => Mode::Fixed,
            Timing::Auto(_) | Timing::Recheck(_) => Mode::Auto,
        }
    }

    /// The waits of the next connect to `ip`.
    pub fn plan(&self, ip: std::net::IpAddr, fixed: Duration) -> Wait {
        match self {
            Timing::Auto(c) => c.plan(ip, fixed),
            Timing::Recheck(c) => Wait::fixed(fixed, c.plan(ip, fixed).srtt),
            Timing::Fixed => Wait::fixed(fixed, None),
        }
    }
}

/// How connect waits are chosen (`--timing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Every connect waits the full `--timeout`.
    Fixed,
    /// Waits follow each address's measured round trip; `filtered` is confirmed by a second SYN.
    /// The default: the delay/loss suite (`tests/timing_netem.rs`) had no wrong verdict in it.
    #[default]
    Auto,
}

impl Mode {
    /// The name as written on the command line and in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Fixed => "fixed",
            Mode::Auto => "auto",
        }
    }
}

/// What the pre-scan estimate says about the mode.
pub fn explain(mode: Mode, fixed: Duration) -> String {
    let t = crate::report::units::fmt_duration(fixed);
    match mode {
        Mode::Fixed => format!("timing fixed: every silent port waits the full {t}"),
        Mode::Auto => format!(
            "timing auto: waits follow each address's round trip (srtt + 4·rttvar, {} to {t}); an address without an answer yet, with jitter or a late answer waits the full {t}; a short wait is confirmed by a second SYN before `filtered`",
            crate::report::units::fmt_duration(MIN_WAIT)
        ),
    }
}
