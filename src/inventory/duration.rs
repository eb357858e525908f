//! Durations of the inventory (`timeout:`, `linger:`, in `defaults:` and per target) and of the
//! command line (`--timeout`, `--linger`, `--attempt-gap`): parsing and their documented bounds.
//! Out-of-range values are refused where they are written — the flag for clap, file:line:column
//! for YAML (the visitor is `raw::values::Dur`) — so that no later arithmetic (deadlines, the
//! pre-scan estimate) can overflow.

use std::time::Duration;

/// The accepted range of one duration setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The key or flag, for messages.
    pub key: &'static str,
    /// Smallest accepted value.
    pub min: Duration,
    /// Largest accepted value.
    pub max: Duration,
}

const HOUR: Duration = Duration::from_secs(3600);

/// Connect timeout: 1ms..=1h (0 would make every probe `filtered`).
pub const TIMEOUT: Bounds = Bounds {
    key: "timeout",
    min: Duration::from_millis(1),
    max: HOUR,
};

/// Linger window: 0 (connect-only)..=1h.
pub const LINGER: Bounds = Bounds {
    key: "linger",
    min: Duration::ZERO,
    max: HOUR,
};

/// How long a silent service connection is watched (`--greeting-wait`): 0..=1h.
pub const GREETING_WAIT: Bounds = Bounds {
    key: "greeting-wait",
    min: Duration::ZERO,
    max: HOUR,
};

/// Pause between `--attempts`: 0..=1h.
pub const ATTEMPT_GAP: Bounds = Bounds {
    key: "attempt-gap",
    min: Duration::ZERO,
    max: HOUR,
};

impl Bounds {
    /// Parse `s` and check it is in range.
    pub fn parse(&self, s: &str) -> Result<Duration, String> {
        self.check_as(parse_duration(s)?, s.trim())
    }

    /// Check `d` is in range; the message names the setting and the range.
    pub fn check(&self, d: Duration) -> Result<Duration, String> {
        self.check_as(d, &show(d))
    }

    fn check_as(&self, d: Duration, written: &str) -> Result<Duration, String> {
        if d >= self.min && d <= self.max {
            return Ok(d);
        }
        let why = if d < self.min {
            "too short"
        } else {
            "too long"
        };
        let zero = if d.is_zero() && self.key == "timeout" {
            " (a zero timeout would make every probe `filtered`)"
        } else {
            ""
        };
        Err(format!(
            "{} {written} is {why}{zero}, expected {}",
            self.key,
            self.range()
        ))
    }

    /// `between 1ms and 1h`.
    pub fn range(&self) -> String {
        format!("between {} and {}", show(self.min), show(self.max))
    }
}

fn show(d: Duration) -> String {
    if d.is_zero() {
        "0".into()
    } else {
        humantime::format_duration(d).to_string()
    }
}

/// Parse `3s`, `500ms`, `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("bad duration `{s}` ({e}), expected e.g. 3s or 500ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_refuse_zero_timeouts_and_overflowing_values() {
        assert_eq!(TIMEOUT.parse("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(TIMEOUT.parse("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(TIMEOUT.parse("1h"), Ok(HOUR));
        let zero = TIMEOUT.parse("0").unwrap_err();
        assert!(
            zero.contains("too short") && zero.contains("filtered"),
            "{zero}"
        );
        assert!(TIMEOUT.parse("18446744073709551615s").is_err());
        assert!(TIMEOUT.parse("3601s").unwrap_err().contains("too long"));
        assert_eq!(LINGER.parse("0"), Ok(Duration::ZERO));
        assert!(LINGER.parse("18446744073709551615s").is_err());
        let gap = ATTEMPT_GAP.parse("100y").unwrap_err();
        assert!(
            gap.starts_with("attempt-gap ") && gap.contains("between 0 and 1h"),
            "{gap}"
        );
    }
}
