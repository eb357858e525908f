//! Durations and times as people and parsers read them: [`fmt_duration`] for every duration in
//! text (probe details, the plan line, warnings: `1.5s`, not `1s 500ms`), and [`secs`] for the
//! seconds the machine formats print (`0.000137`, not `0.00013700000000000002`).

use std::time::Duration;

/// A duration as one number and unit where it reads best: `0`, `750µs`, `1.5ms`, `500ms`,
/// `1.5s`, `59.999s`; from a minute on, `1m 30s`, `2h 3m 4s` (at most three decimals, trailing
/// zeros dropped). Every form is accepted back by `--timeout` and friends.
pub fn fmt_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        return "0".into();
    }
    if us < 1_000 {
        return format!("{us}µs");
    }
    if us < 1_000_000 {
        return format!("{}ms", decimal(us, 1_000));
    }
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{}s", decimal(d.as_millis(), 1_000));
    }
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let ms = d.subsec_millis();
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || ms > 0 {
        parts.push(format!(
            "{}s",
            decimal(u128::from(s) * 1000 + u128::from(ms), 1000)
        ));
    }
    parts.join(" ")
}

/// `n / unit` with at most three decimals (of `unit` = 1000), trailing zeros dropped.
fn decimal(n: u128, unit: u128) -> String {
    let (int, frac) = (n / unit, n % unit);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:03}");
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// Milliseconds as measured (microsecond resolution) in seconds, the nearest `f64` to the
/// exact decimal: formatted with `{}` it prints `0.000137`, where `ms / 1000.0` would print
/// `0.00013700000000000002`.
pub fn secs(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_one_number_and_unit() {
        let ms = Duration::from_millis;
        assert_eq!(fmt_duration(Duration::ZERO), "0");
        assert_eq!(fmt_duration(Duration::from_micros(750)), "750µs");
        assert_eq!(fmt_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(fmt_duration(ms(500)), "500ms");
        assert_eq!(fmt_duration(ms(1000)), "1s");
        assert_eq!(fmt_duration(ms(1500)), "1.5s");
        assert_eq!(fmt_duration(ms(1250)), "1.25s");
        assert_eq!(fmt_duration(ms(59_999)), "59.999s");
        assert_eq!(fmt_duration(ms(60_000)), "1m");
        assert_eq!(fmt_duration(ms(90_500)), "1m 30.5s");
        assert_eq!(fmt_duration(Duration::from_secs(7384)), "2h 3m 4s");
        assert_eq!(fmt_duration(Duration::from_secs(3600)), "1h");
    }

    #[test]
    fn durations_parse_back() {
        for d in [
            Duration::from_micros(750),
            Duration::from_micros(1500),
            Duration::from_millis(1500),
            Duration::from_millis(90_500),
            Duration::from_secs(7384),
        ] {
            let text = fmt_duration(d);
            let back =
                crate::inventory::parse_duration(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(back, d, "{text}");
        }
    }

    #[test]
    fn seconds_print_without_float_noise() {
        assert_eq!(
            0.137 / 1000.0,
            0.00013700000000000002,
            "the noise this avoids"
        );
        assert_eq!(secs(0.137).to_string(), "0.000137");
        assert_eq!(secs(1.5).to_string(), "0.0015");
        assert_eq!(secs(3001.234).to_string(), "3.001234");
        assert_eq!(secs(0.0).to_string(), "0");
    }
}
