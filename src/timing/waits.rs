//! The connect waits one probe used, in order (a record's `waits_ms`): fixed-size, so a probe
//! allocates nothing for them.

use std::time::Duration;

use serde::ser::{Serialize, SerializeSeq, Serializer};

/// Waits kept per probe; later ones are counted in `attempts` but not listed.
pub const MAX_WAITS: usize = 8;

/// Up to [`MAX_WAITS`] connect waits, in milliseconds (whole, rounded up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waits {
    n: u8,
    ms: [u32; MAX_WAITS],
}

impl Waits {
    /// Append one wait (ignored past [`MAX_WAITS`]).
    pub fn push(&mut self, d: Duration) {
        if usize::from(self.n) < MAX_WAITS {
            let ms = d.as_micros().div_ceil(1000);
            self.ms[usize::from(self.n)] = u32::try_from(ms).unwrap_or(u32::MAX);
            self.n += 1;
        }
    }

    /// Append every wait of `other`.
    pub fn extend(&mut self, other: &Waits) {
        for &ms in other.as_slice() {
            self.push(Duration::from_millis(u64::from(ms)));
        }
    }

    /// The waits, in milliseconds.
    pub fn as_slice(&self) -> &[u32] {
        &self.ms[..usize::from(self.n)]
    }

    /// Whether no wait was recorded (the probe never waited on a connect).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

impl Serialize for Waits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(usize::from(self.n)))?;
        for ms in self.as_slice() {
            seq.serialize_element(ms)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_eight_rounded_up() {
        let mut w = Waits::default();
        w.push(Duration::from_micros(100_400));
        for _ in 0..10 {
            w.push(Duration::from_secs(3));
        }
        assert_eq!(w.as_slice().len(), MAX_WAITS);
        assert_eq!(w.as_slice()[..2], [101, 3000]);
        assert_eq!(
            serde_json::to_string(&w).expect("json"),
            "[101,3000,3000,3000,3000,3000,3000,3000]"
        );
    }
}
