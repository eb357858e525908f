//! The certificate side of a record pair: a TLS probe's leaf certificate replaced (another
//! subject, issuer or not-after: `cert-changed`) and an expiry that fell under the threshold
//! the scan applied (`cert-expiring`).
//!
//! Both need a `tls` object on both sides (a handshake both times); a probe that stopped
//! speaking TLS shows as a verdict change instead. The threshold is the new record's
//! `tls.min_days` (`--cert-min-days` / `cert_min_days:` of the new scan), else the old one's; a
//! report without either has no threshold to cross. Crossing means at or above the threshold
//! in the old report and under it in the new, so a certificate that was already too close to
//! its end is not reported again night after night.

use super::compare::Pair;
use super::{Change, ChangeKind};
use crate::report::read::{ReportRecord, ReportTls};

/// `cert-changed`: subject, issuer or not-after differ. `old`/`new` name only what differs
/// (`expires 2027-03-01T12:00:00Z`), the detail what stayed and the new certificate's days left.
pub(super) fn cert_change(p: &Pair<'_>) -> Option<Change> {
    let (o, n) = (p.o.tls.as_ref()?, p.n.tls.as_ref()?);
    if identity(o) == identity(n) {
        return None;
    }
    let facts = |t: &ReportTls| {
        [
            ("subject", format!("subject {}", shown(&t.subject))),
            ("issuer", format!("issued by {}", shown(&t.issuer))),
            ("not_after", format!("expires {}", shown(&t.not_after))),
        ]
    };
    let (of, nf) = (facts(o), facts(n));
    let (mut old, mut new, mut same) = (Vec::new(), Vec::new(), Vec::new());
    for ((key, ov), (_, nv)) in of.into_iter().zip(nf) {
        if ov == nv {
            if key != "not_after" {
                same.push(ov);
            }
        } else {
            old.push(ov);
            new.push(nv);
        }
    }
    let mut detail = Vec::new();
    if !same.is_empty() {
        detail.push(format!("another certificate, same {}", same.join(" and ")));
    } else {
        detail.push("another certificate".to_string());
    }
    if let Some(d) = n.days_left {
        detail.push(days_text(d));
    }
    match (o.verified, n.verified) {
        (false, true) => detail.push("now verifies".to_string()),
        (true, false) => detail.push(format!(
            "no longer verifies: {}",
            n.verify_error.as_deref().unwrap_or("?")
        )),
        _ => {}
    }
    Some(p.change(
        ChangeKind::CertChanged,
        Some(old.join(", ")),
        Some(new.join(", ")),
        detail.join("; "),
    ))
}

/// `cert-expiring`: days left at or above the threshold in the old report, under it in the new.
/// `old`/`new` are the days left (`20 days left` → `3 days left`).
pub(super) fn expiry_crossed(p: &Pair<'_>) -> Option<Change> {
    let (o, n) = (p.o.tls.as_ref()?, p.n.tls.as_ref()?);
    let min = n.min_days.or(o.min_days)?;
    let (od, nd) = (o.days_left?, n.days_left?);
    let floor = i64::from(min);
    if od < floor || nd >= floor {
        return None;
    }
    let mut detail = format!(
        "expires {}, under the {min} days required (--cert-min-days)",
        shown(&n.not_after)
    );
    if let (Some(om), Some(nm)) = (o.min_days, n.min_days) {
        if om != nm {
            detail.push_str(&format!("; the old report required {om}"));
        }
    }
    Some(p.change(
        ChangeKind::CertExpiring,
        Some(days_text(od)),
        Some(days_text(nd)),
        detail,
    ))
}

/// Why a record's certificate made it not as expected: `the certificate has 2 days left, under
/// the 14 days required`; None when it has no threshold or is not under it.
pub(super) fn under_threshold(r: &ReportRecord) -> Option<String> {
    let t = r.tls.as_ref()?;
    let (min, days) = (t.min_days?, t.days_left?);
    let has = if days < 0 { "" } else { "has " };
    (days < i64::from(min)).then(|| {
        format!(
            "the certificate {has}{}, under the {min} days required",
            days_text(days)
        )
    })
}

/// What a replacement changes: subject, issuer and not-after.
fn identity(t: &ReportTls) -> (&str, &str, &str) {
    (&t.subject, &t.issuer, &t.not_after)
}

/// An empty fact (a leaf that did not parse) as `(none)`.
fn shown(s: &str) -> &str {
    if s.is_empty() { "(none)" } else { s }
}

/// `3 days left`, `1 day left`, `expired 2 days ago`.
fn days_text(d: i64) -> String {
    let unit = |n: i64| if n == 1 { "day" } else { "days" };
    if d < 0 {
        format!("expired {} {} ago", -d, unit(-d))
    } else {
        format!("{d} {} left", unit(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(subject: &str, not_after: &str, days_left: i64, min_days: Option<u32>) -> ReportTls {
        ReportTls {
            version: "TLSv1.3".into(),
            subject: subject.into(),
            issuer: "CN=Lab CA".into(),
            not_after: not_after.into(),
            days_left: Some(days_left),
            verified: false,
            verify_error: Some("UnknownIssuer".into()),
            min_days,
            extra: serde_json::Map::new(),
        }
    }

    fn rec(tls: Option<ReportTls>) -> ReportRecord {
        let line = r#"{"format_version":1,"host":"lab.test","addr":"127.0.30.1","port":443,
            "name":"web","verdict":"open","ok":true,"expect":["open"]}"#;
        let mut r: ReportRecord = serde_json::from_str(line).unwrap();
        r.tls = tls;
        r
    }

    /// The certificate changes from `o` to `n` (kind, old, new, detail).
    fn certs(
        o: Option<ReportTls>,
        n: Option<ReportTls>,
    ) -> Vec<(ChangeKind, String, String, String)> {
        let (o, n) = (rec(o), rec(n));
        let p = Pair {
            vantage: "v",
            o: &o,
            n: &n,
        };
        cert_change(&p)
            .into_iter()
            .chain(expiry_crossed(&p))
            .map(|c| {
                assert_eq!((c.addr.as_deref(), c.port), (Some("127.0.30.1"), 443));
                (c.kind, c.old.unwrap(), c.new.unwrap(), c.detail)
            })
            .collect()
    }

    const LATE: &str = "2027-03-01T12:00:00Z";
    const SOON: &str = "2026-12-04T12:00:00Z";

    #[test]
    fn a_new_not_after_is_a_changed_certificate_naming_only_what_differs() {
        let got = certs(
            Some(tls("CN=lab.test", LATE, 89, None)),
            Some(tls("CN=lab.test", SOON, 3, None)),
        );
        assert_eq!(got.len(), 1, "{got:?}");
        let (kind, old, new, detail) = &got[0];
        assert_eq!(*kind, ChangeKind::CertChanged);
        assert_eq!(old, "expires 2027-03-01T12:00:00Z");
        assert_eq!(new, "expires 2026-12-04T12:00:00Z");
        assert_eq!(
            detail,
            "another certificate, same subject CN=lab.test and issued by CN=Lab CA; 3 days left"
        );
    }

    #[test]
    fn another_subject_is_a_changed_certificate() {
        let mut n = tls("CN=other.test", LATE, 89, None);
        n.verified = true;
        let got = certs(Some(tls("CN=lab.test", LATE, 89, None)), Some(n));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].1, "subject CN=lab.test");
        assert_eq!(got[0].2, "subject CN=other.test");
        assert!(got[0].3.ends_with("; now verifies"), "{got:?}");
    }

    #[test]
    fn the_same_certificate_a_day_later_is_no_change() {
        let got = certs(
            Some(tls("CN=lab.test", LATE, 90, Some(14))),
            Some(tls("CN=lab.test", LATE, 89, Some(14))),
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn days_left_falling_under_the_threshold_is_an_expiry_crossing() {
        let got = certs(
            Some(tls("CN=lab.test", LATE, 20, Some(14))),
            Some(tls("CN=lab.test", SOON, 3, Some(14))),
        );
        let kinds: Vec<ChangeKind> = got.iter().map(|c| c.0).collect();
        assert_eq!(kinds, [ChangeKind::CertChanged, ChangeKind::CertExpiring]);
        let (_, old, new, detail) = &got[1];
        assert_eq!(
            (old.as_str(), new.as_str()),
            ("20 days left", "3 days left")
        );
        assert_eq!(
            detail,
            "expires 2026-12-04T12:00:00Z, under the 14 days required (--cert-min-days)"
        );
        // Exactly at the threshold is not under it; the same certificate ageing past it is a
        // crossing without a certificate change.
        let got = certs(
            Some(tls("CN=lab.test", SOON, 14, Some(14))),
            Some(tls("CN=lab.test", SOON, 13, Some(14))),
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, ChangeKind::CertExpiring);
        assert_eq!(got[0].1, "14 days left");
    }

    #[test]
    fn no_crossing_without_one() {
        let late = || Some(tls("CN=lab.test", LATE, 20, Some(14)));
        let soon = |days, min| Some(tls("CN=lab.test", LATE, days, min));
        // Still at or above the threshold.
        assert!(certs(late(), soon(14, Some(14))).is_empty());
        // Already under it in the old report.
        assert!(certs(soon(10, Some(14)), soon(3, Some(14))).is_empty());
        // No threshold in either report.
        assert!(certs(soon(20, None), soon(3, None)).is_empty());
        // No handshake on one side: a verdict matter, not a certificate one.
        assert!(certs(late(), None).is_empty());
        assert!(certs(None, soon(3, Some(14))).is_empty());
    }

    #[test]
    fn the_new_threshold_decides_and_an_old_one_is_named() {
        let got = certs(
            Some(tls("CN=lab.test", LATE, 20, Some(7))),
            Some(tls("CN=lab.test", LATE, 9, Some(14))),
        );
        assert_eq!(got.len(), 1, "{got:?}");
        // Judged by the new 14, 10 days were already under it: not a crossing.
        assert!(
            certs(
                Some(tls("CN=lab.test", LATE, 10, Some(7))),
                Some(tls("CN=lab.test", LATE, 9, Some(14))),
            )
            .is_empty()
        );
        assert!(got[0].3.ends_with("; the old report required 7"), "{got:?}");
        // Only the old report had one: it still says when the certificate crossed it.
        let got = certs(
            Some(tls("CN=lab.test", LATE, 15, Some(14))),
            Some(tls("CN=lab.test", LATE, -2, None)),
        );
        assert_eq!(got[0].2, "expired 2 days ago");
    }

    #[test]
    fn a_certificate_under_its_threshold_says_so() {
        let r = rec(Some(tls("CN=lab.test", SOON, 1, Some(14))));
        assert_eq!(
            under_threshold(&r).as_deref(),
            Some("the certificate has 1 day left, under the 14 days required")
        );
        let r = rec(Some(tls("CN=lab.test", SOON, -3, Some(0))));
        assert_eq!(
            under_threshold(&r).as_deref(),
            Some("the certificate expired 3 days ago, under the 0 days required")
        );
        assert_eq!(
            under_threshold(&rec(Some(tls("CN=a", SOON, 14, Some(14))))),
            None
        );
        assert_eq!(
            under_threshold(&rec(Some(tls("CN=a", SOON, 1, None)))),
            None
        );
        assert_eq!(under_threshold(&rec(None)), None);
    }
}
