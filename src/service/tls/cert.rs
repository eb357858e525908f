//! The leaf certificate's facts for the record: subject, issuer, not-after (RFC 3339 UTC) and
//! whole days left, parsed with x509-parser; plus the pure date arithmetic behind them.

use x509_parser::prelude::{FromDer, X509Certificate};

/// Seconds in a day.
const DAY: i64 = 86_400;

/// What the record shows of a leaf certificate.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Leaf {
    /// Subject, as `CN=lab.test, O=Lab`.
    pub subject: String,
    /// Issuer, same form.
    pub issuer: String,
    /// Not-after, Unix seconds.
    pub not_after: i64,
}

/// Parse a DER leaf certificate; the error says why it is not one.
pub(super) fn parse_leaf(der: &[u8]) -> Result<Leaf, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("unparsable certificate: {e}"))?;
    Ok(Leaf {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// Whole days from `now` until `not_after` (Unix seconds), rounded down: a certificate made
/// for 90 days a minute ago has 89 whole days left; one expired an hour ago has -1.
pub fn days_left(not_after: i64, now: i64) -> i64 {
    (not_after - now).div_euclid(DAY)
}

/// Now, in Unix seconds (0 if the clock is before 1970).
pub(super) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `ts` (Unix seconds) as RFC 3339 UTC: `2027-03-01T12:00:00Z`.
pub fn rfc3339(ts: i64) -> String {
    let (days, secs) = (ts.div_euclid(DAY), ts.rem_euclid(DAY));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m 1..=12 by construction.
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_rounds_down_and_goes_negative() {
        let now = 1_800_000_000;
        assert_eq!(days_left(now + 90 * DAY, now), 90);
        assert_eq!(
            days_left(now + 90 * DAY - 60, now),
            89,
            "a minute short of 90 days"
        );
        assert_eq!(days_left(now + 3 * DAY - 5, now), 2);
        assert_eq!(days_left(now + 10, now), 0);
        assert_eq!(days_left(now, now), 0);
        assert_eq!(days_left(now - 1, now), -1, "expired a second ago");
        assert_eq!(days_left(now - DAY, now), -1);
        assert_eq!(days_left(now - DAY - 1, now), -2);
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_803_902_400 + 3661), "2027-03-01T13:01:01Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(parse_leaf(b"not DER").is_err());
        assert!(parse_leaf(&[]).is_err());
    }
}
