//! The scan's round-trip memory for `--timing auto`: an [`Estimate`] per address (up to
//! [`MAX_HOSTS`]), per group (/24 for IPv4, /64 for IPv6) and for the whole scan, the "late"
//! marks, and the local-pressure window. [`Clock::plan`] turns it into the waits of one connect.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{CONFIRM_FACTOR, Estimate, MAX_WAIT, MIN_WAIT};

/// Addresses with an estimate of their own; past this, new addresses share their group's.
pub const MAX_HOSTS: usize = 65_536;

/// The waits of one connect attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// How long the first SYN is waited for.
    pub first: Duration,
    /// When set, the first wait is short: a second SYN goes out when it expires, and both
    /// sockets are watched this much longer.
    pub confirm: Option<Duration>,
    /// The smoothed RTT the waits came from.
    pub srtt: Option<Duration>,
}

impl Wait {
    /// The full fixed wait, no confirmation.
    pub fn fixed(timeout: Duration, srtt: Option<Duration>) -> Wait {
        Wait {
            first: timeout,
            confirm: None,
            srtt,
        }
    }
}

#[derive(Default)]
struct Entry {
    est: Estimate,
    late: bool,
}

#[derive(Default)]
struct State {
    hosts: HashMap<IpAddr, Entry>,
    groups: HashMap<IpAddr, Entry>,
    scan: Estimate,
    pressure_until: Option<Instant>,
    /// How many addresses or groups have been marked late so far.
    late_marks: u64,
}

/// Probes in flight before the scan's first answer (or [`WARMUP_MAX`]): the first wave waits
/// for an estimate instead of going out, all at once, with the full timeout.
pub const WARMUP_PROBES: usize = 16;
/// The longest the warm-up holds the other probes back (the kernel's first SYN timeout): a
/// scan where nothing answers loses at most this.
pub const WARMUP_MAX: Duration = Duration::from_secs(1);

/// Round-trip memory shared by every probe of one pool run.
pub struct Clock {
    state: Mutex<State>,
    /// Signalled at the scan's first sample.
    sampled: tokio::sync::Notify,
    /// Permits of the warm-up's probes.
    warmup: std::sync::Arc<tokio::sync::Semaphore>,
    started: Instant,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            state: Mutex::default(),
            sampled: tokio::sync::Notify::new(),
            warmup: std::sync::Arc::new(tokio::sync::Semaphore::new(WARMUP_PROBES)),
            started: Instant::now(),
        }
    }
}

/// The group an address's estimate falls back to: its /24 or /64.
fn group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & 0xffff_ff00).into()),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
    }
}

impl Clock {
    /// A clock with no samples.
    pub fn new() -> Clock {
        Clock::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain numbers behind: keep using them.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The waits for a connect to `ip`, `fixed` being `--timeout`.
    pub fn plan(&self, ip: IpAddr, fixed: Duration) -> Wait {
        let st = self.lock();
        let host = st.hosts.get(&ip);
        let grp = st.groups.get(&group(ip));
        let est = [host.map(|e| e.est), grp.map(|e| e.est), Some(st.scan)]
            .into_iter()
            .flatten()
            .find(Estimate::known);
        let Some(est) = est else {
            return Wait::fixed(fixed, None);
        };
        let srtt = Some(est.srtt());
        let late = host.is_some_and(|e| e.late) || grp.is_some_and(|e| e.late);
        let pressed = st.pressure_until.is_some_and(|t| Instant::now() < t);
        if late || pressed || est.jittery() {
            return Wait::fixed(fixed, srtt);
        }
        // Never shorter than half again the slowest answer seen: jitter the smoothed figures
        // have forgotten still gets its time.
        let floor = est.max() * 3 / 2;
        let first = est
            .timeout()
            .max(floor)
            .clamp(MIN_WAIT, MAX_WAIT.min(fixed));
        // A short wait and its confirmation must save time over one fixed wait.
        if first * (1 + CONFIRM_FACTOR) >= fixed {
            return Wait::fixed(fixed, srtt);
        }
        Wait {
            first,
            confirm: Some(first * CONFIRM_FACTOR),
            srtt,
        }
    }

    /// Before launching a probe: while the scan has no sample yet (and for at most
    /// [`WARMUP_MAX`]), wait until fewer than [`WARMUP_PROBES`] warm-up probes are in flight;
    /// the permit returned is held by the probe. None once the warm-up is over.
    pub async fn warm_up(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let deadline = tokio::time::Instant::from_std(self.started + WARMUP_MAX);
        loop {
            let first = self.sampled.notified();
            if self.lock().scan.known() || tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::select! {
                p = self.warmup.clone().acquire_owned() => return p.ok(),
                () = first => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// An answer from `ip` took `rtt` (measured without a retransmit in between).
    pub fn sample(&self, ip: IpAddr, rtt: Duration) {
        let mut st = self.lock();
        if !st.scan.known() {
            self.sampled.notify_waiters();
        }
        st.scan.add(rtt);
        st.groups.entry(group(ip)).or_default().est.add(rtt);
        if st.hosts.len() < MAX_HOSTS || st.hosts.contains_key(&ip) {
            st.hosts.entry(ip).or_default().est.add(rtt);
        }
    }

    /// An answer from `ip` came after a short wait expired, or after a SYN retransmit: the
    /// address and its group wait the full timeout from now on.
    pub fn late(&self, ip: IpAddr) {
        let mut st = self.lock();
        let mut marked =
            !std::mem::replace(&mut st.groups.entry(group(ip)).or_default().late, true);
        if st.hosts.len() < MAX_HOSTS || st.hosts.contains_key(&ip) {
            marked |= !std::mem::replace(&mut st.hosts.entry(ip).or_default().late, true);
        }
        st.late_marks += u64::from(marked);
    }

    /// How many addresses or groups have been marked late: when it has not changed, a verdict
    /// held because its address was not late is still not due for a recheck.
    pub fn late_marks(&self) -> u64 {
        self.lock().late_marks
    }

    /// Whether an answer from `ip` (or its group) ever came late.
    pub fn is_late(&self, ip: IpAddr) -> bool {
        let st = self.lock();
        st.hosts.get(&ip).is_some_and(|e| e.late)
            || st.groups.get(&group(ip)).is_some_and(|e| e.late)
    }

    /// A local resource error (no free source port, no buffers, the fd budget): every address
    /// waits the full timeout for `hold`.
    pub fn pressure(&self, hold: Duration) {
        let until = Instant::now() + hold;
        let mut st = self.lock();
        st.pressure_until = Some(st.pressure_until.map_or(until, |t| t.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }
    const FIXED: Duration = Duration::from_secs(3);

    #[test]
    fn no_sample_means_the_fixed_wait() {
        let c = Clock::new();
        assert_eq!(c.plan(ip("127.0.0.1"), FIXED), Wait::fixed(FIXED, None));
    }

    #[test]
    fn a_loopback_sample_gives_the_minimum_wait_and_a_confirmation() {
        let c = Clock::new();
        c.sample(ip("127.0.0.1"), Duration::from_micros(30));
        let w = c.plan(ip("127.0.0.1"), FIXED);
        assert_eq!(w.first, MIN_WAIT);
        assert_eq!(w.confirm, Some(MIN_WAIT * 2));
        // The group and then the scan answer for addresses never sampled.
        assert_eq!(c.plan(ip("127.0.0.9"), FIXED).first, MIN_WAIT);
        assert_eq!(c.plan(ip("127.5.0.1"), FIXED).first, MIN_WAIT);
    }

    #[test]
    fn a_late_answer_sends_the_address_and_its_group_back_to_fixed() {
        let c = Clock::new();
        c.sample(ip("127.0.0.1"), Duration::from_micros(30));
        c.late(ip("127.0.0.1"));
        assert!(c.is_late(ip("127.0.0.1")) && c.is_late(ip("127.0.0.7")));
        assert_eq!(c.plan(ip("127.0.0.7"), FIXED).confirm, None);
        assert!(!c.is_late(ip("127.0.1.1")));
        assert!(c.plan(ip("127.0.1.1"), FIXED).confirm.is_some());
    }

    #[test]
    fn pressure_and_jitter_and_no_saving_mean_fixed() {
        let c = Clock::new();
        c.sample(ip("::1"), Duration::from_micros(30));
        c.pressure(Duration::from_secs(60));
        assert_eq!(c.plan(ip("::1"), FIXED).confirm, None);
        let c = Clock::new();
        c.sample(ip("::1"), Duration::from_millis(400));
        // 400 + 4·400 ms = 2 s: three of them exceed 3 s.
        assert_eq!(c.plan(ip("::1"), FIXED).confirm, None);
        assert_eq!(
            c.plan(ip("::1"), Duration::from_secs(10)).first,
            Duration::from_secs(2)
        );
    }

    #[test]
    fn the_wait_covers_half_again_the_slowest_answer() {
        let c = Clock::new();
        for ms in [
            400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 500,
        ] {
            c.sample(ip("127.0.0.1"), Duration::from_millis(ms));
        }
        assert_eq!(
            c.plan(ip("127.0.0.1"), Duration::from_secs(10)).first,
            Duration::from_millis(750)
        );
    }

    #[test]
    fn groups_are_slash_24_and_slash_64() {
        assert_eq!(group(ip("127.9.8.77")), ip("127.9.8.0"));
        assert_eq!(group(ip("1:2:3:4:5:6:7:8")), ip("1:2:3:4::"));
    }
}
