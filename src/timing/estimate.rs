//! One smoothed round-trip estimate (srtt, rttvar), updated the way nmap's `timing.cc`
//! (`adjust_timeouts2`) and RFC 6298 do: the first sample sets srtt to the sample and rttvar to
//! the sample clamped to 5 ms..2 s; later samples move srtt by 1/8 and rttvar by 1/4 of the
//! error. Samples of 8 s or more are ignored, as are wild outliers (more than 1.5 s and more
//! than 3·srtt + 2·rttvar above srtt), and rttvar is capped at 2 s.

use std::time::Duration;

/// nmap's floor for the first rttvar (5 ms): below it a loopback RTT would give no margin.
pub const RTTVAR_FLOOR: Duration = Duration::from_millis(5);
const RTTVAR_FIRST_MAX_US: i64 = 2_000_000;
const SAMPLE_MAX_US: i64 = 8_000_000;
const OUTLIER_US: i64 = 1_500_000;
const RTTVAR_CAP_US: i64 = 2_300_000;
const RTTVAR_RESET_US: i64 = 2_000_000;

/// A smoothed RTT and its variation, in microseconds; `samples == 0` means no estimate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    srtt_us: i64,
    rttvar_us: i64,
    samples: u32,
}

impl Estimate {
    /// Fold one RTT sample in.
    pub fn add(&mut self, rtt: Duration) {
        let m = i64::try_from(rtt.as_micros()).unwrap_or(i64::MAX);
        if self.samples == 0 {
            self.srtt_us = m;
            self.rttvar_us = m.clamp(RTTVAR_FLOOR.as_micros() as i64, RTTVAR_FIRST_MAX_US);
        } else {
            if m >= SAMPLE_MAX_US {
                return;
            }
            let delta = m - self.srtt_us;
            if delta > OUTLIER_US && delta > 3 * self.srtt_us + 2 * self.rttvar_us {
                return;
            }
            self.srtt_us += delta >> 3;
            self.rttvar_us += (delta.abs() - self.rttvar_us) >> 2;
        }
        if self.rttvar_us > RTTVAR_CAP_US {
            self.rttvar_us = RTTVAR_RESET_US;
        }
        self.samples = self.samples.saturating_add(1);
    }

    /// Whether any sample was taken.
    pub fn known(&self) -> bool {
        self.samples > 0
    }

    /// The smoothed RTT.
    pub fn srtt(&self) -> Duration {
        Duration::from_micros(self.srtt_us.max(0) as u64)
    }

    /// The RTT variation.
    pub fn rttvar(&self) -> Duration {
        Duration::from_micros(self.rttvar_us.max(0) as u64)
    }

    /// srtt + 4·rttvar, unboxed.
    pub fn timeout(&self) -> Duration {
        self.srtt() + 4 * self.rttvar()
    }

    /// The variation exceeds the RTT itself (an RTT under [`RTTVAR_FLOOR`] counts as the
    /// floor): the estimate says too little to cut a wait short.
    pub fn jittery(&self) -> bool {
        self.rttvar() > self.srtt().max(RTTVAR_FLOOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_sample_sets_srtt_and_a_floored_rttvar() {
        let mut e = Estimate::default();
        assert!(!e.known());
        e.add(Duration::from_micros(40));
        assert_eq!(e.srtt(), Duration::from_micros(40));
        assert_eq!(e.rttvar(), ms(5));
        assert_eq!(e.timeout(), Duration::from_micros(20_040));
        assert!(!e.jittery());
        let mut e = Estimate::default();
        e.add(ms(400));
        assert_eq!((e.srtt(), e.rttvar()), (ms(400), ms(400)));
    }

    #[test]
    fn later_samples_move_by_an_eighth_and_a_quarter() {
        let mut e = Estimate::default();
        e.add(ms(100));
        e.add(ms(180));
        // srtt += 80/8; rttvar += (80 - 100)/4
        assert_eq!(e.srtt(), ms(110));
        assert_eq!(e.rttvar(), ms(95));
    }

    #[test]
    fn outliers_and_huge_samples_are_ignored() {
        let mut e = Estimate::default();
        e.add(ms(10));
        e.add(ms(9_000));
        e.add(ms(2_000));
        assert_eq!(e.srtt(), ms(10));
        assert_eq!(e.samples, 1);
    }

    #[test]
    fn jitter_larger_than_the_rtt_is_flagged() {
        let mut e = Estimate::default();
        e.add(ms(20));
        for s in [200, 2, 300, 1, 250] {
            e.add(ms(s));
        }
        assert!(e.jittery(), "{e:?}");
    }
}
