//! The result record: one per (name, address, port), the unit every sink consumes, and its
//! conversion to the [`ReportRecord`](crate::report::read::ReportRecord) a report reader sees.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::inventory::Target;
use crate::probe::{Outcome, escape_banner};
use crate::service::tls::TlsInfo;
use crate::service::{RejectKind, Service};
use crate::verdict::{Expect, Verdict};

/// Version of the record schema; bumped only for incompatible changes (fields are only added).
pub const FORMAT_VERSION: u32 = 1;

/// One probe's result, as written by every machine format.
///
/// This is the NDJSON wire schema (one object per line, in completion order):
///
/// | field | type | meaning |
/// |---|---|---|
/// | `format_version` | int | schema version, currently 1 |
/// | `name` | string \| null | the target's `name:` |
/// | `host` | string | the host as written (name, address or CIDR) |
/// | `addr` | string \| null | the address probed; null for `dns-error` (and a name's local resolver failure) |
/// | `port` | int | the port |
/// | `source` | string \| null | the local address the probe bound to (`--source`, `source:`); null when it let the kernel choose, and for a name's lookup failure |
/// | `verdict` | string | `open`, `closed-by-peer`, `reset-by-peer`, `refused`, `unreachable`, `filtered`, `dns-error`, `local-error`, `interrupted` |
/// | `expect` | [string] | acceptable verdicts (aliases expanded) |
/// | `ok` | bool \| null | verdict is in `expect`; null when the inventory has no expectation for this vantage |
/// | `connect_ms` | number \| null | connect() to established |
/// | `closed_after_ms` | number \| null | established to the peer's FIN/RST |
/// | `banner` | string \| null | first bytes the peer sent (≤ 256), escaped: printable ASCII, `\r \n \t \\`, `\xNN` |
/// | `detail` | string | errno name, immediate or after how long, and what it means |
/// | `errno` | string \| null | symbolic errno behind the verdict |
/// | `attempts` | int | attempts made (retries of `filtered`/`local-error` included) |
/// | `tags` | [string] | the target's tags |
/// | `origin` | string | where the target was written: `FILE:LINE` of its inventory entry or list line, `stdin:LINE`, or `argv[N]` (the N-th positional argument) |
/// | `vantage` | string | where the scan ran from (`--vantage`, default: the hostname) |
/// | `control` | bool | the target is a positive control (`control: true`) |
/// | `trusted` | bool | false when a positive control failed: a `filtered`/`unreachable`/`refused` verdict then proves nothing |
/// | `wildcard` | bool | the host also accepted the wildcard-check port: an `open` here may be a SYN proxy or forwarder |
/// | `flaky` | bool | with `--attempts N`, the attempts disagreed |
/// | `attempt_verdicts` | [string] \| null | with `--attempts N > 1`, each attempt's verdict in order (the verdict is the majority) |
/// | `shard` | string \| null | `K/N` when the run scanned one shard |
/// | `inventory_digest` | string | digest of the inventory files and excludes; equal for every shard of one inventory |
/// | `inventory_probes` | int | probes of the whole inventory before sharding (names count one address) |
/// | `service` | string | the protocol spoken after the handshake: `tcp` (none), `ssh`, `smtp`, `submission`, `ftp`, `pop3`, `imap`, `mysql`, `postgres`, `redis`, `http`, `https`, `tls` |
/// | `hello` | bool | the probe sent the client's first message (`--hello`) |
/// | `greeting` | string \| null | name and version the service announced (`OpenSSH_9.2p1`, `MariaDB 10.11.6`) |
/// | `reject_code` | string \| null | with `rejected`: the protocol's code (`554`, `1130`, `403`, `28000`, a TLS alert name) |
/// | `reject_text` | string \| null | with `rejected`: the service's own words |
/// | `reject_kind` | string \| null | with `rejected`: `access` (an access rule: the service's support team) or `capacity` (too many connections, backend down: the service's operator) |
/// | `tls` | object \| null | a TLS probe's handshake: `version`, `subject`, `issuer`, `not_after`, `days_left`, `verified`, `verify_error`, and `min_days` (the `--cert-min-days` / `cert_min_days:` it was judged by, null when none applied) |
/// | `waited_ms` | number \| null | `wait` only: from the start of the wait until the target was ready (or until the end) |
/// | `rounds` | int \| null | `wait` only: probes made of this target (the last one cut at the deadline included) |
/// | `timing` | string | how connects were timed: `fixed` (the full `--timeout`) or `auto` (`--timing auto`) |
/// | `waits_ms` | [int] | every connect wait of the probe, in order, in ms (the first 8): `[3000, 3000]` is a fixed wait and its retry, `[100, 200]` a short auto wait and its confirmation; empty when it never waited (decided before or at `connect()`) |
/// | `srtt_ms` | number \| null | `auto`: the smoothed round trip of the address (or its group) the waits came from; null with `fixed` and before any answer |
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// Schema version.
    pub format_version: u32,
    /// Target label.
    pub name: Option<Arc<str>>,
    /// Host as written.
    pub host: Arc<str>,
    /// Address probed.
    pub addr: Option<IpAddr>,
    /// Port probed.
    pub port: u16,
    /// Local address the probe bound to (or tried to); None = the kernel's choice.
    pub source: Option<IpAddr>,
    /// What happened.
    pub verdict: Verdict,
    /// What should have happened.
    pub expect: Expect,
    /// Whether it did; None when the inventory has no expectation for this run's vantage.
    pub ok: Option<bool>,
    /// Connect time.
    pub connect_ms: Option<f64>,
    /// Time until the peer closed.
    pub closed_after_ms: Option<f64>,
    /// Escaped banner.
    pub banner: Option<String>,
    /// Explanation.
    pub detail: String,
    /// errno name.
    pub errno: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// Target tags.
    pub tags: Arc<[String]>,
    /// Where the target was written (`targets.yaml:12`, `argv[3]`, `stdin:4`).
    pub origin: Arc<str>,
    /// Where the scan ran from.
    pub vantage: Arc<str>,
    /// Positive control target.
    pub control: bool,
    /// False when a positive control failed and this is a blocked-type verdict.
    pub trusted: bool,
    /// The host answers on the wildcard-check port too.
    pub wildcard: bool,
    /// Attempts disagreed (`--attempts`).
    pub flaky: bool,
    /// Each attempt's verdict with `--attempts N > 1`.
    pub attempt_verdicts: Option<Vec<Verdict>>,
    /// `--shard K/N` of the run, if sharded.
    pub shard: Option<Arc<str>>,
    /// Digest of the inventory the run scanned.
    pub inventory_digest: Arc<str>,
    /// Probes of the whole inventory before sharding (names count one address), so `merge`
    /// can tell a shard that had nothing to probe from a missing one.
    pub inventory_probes: u64,
    /// The protocol spoken after the handshake.
    pub service: Service,
    /// The client's first message was sent.
    pub hello: bool,
    /// What the service announced.
    pub greeting: Option<String>,
    /// The refusal's protocol code.
    pub reject_code: Option<String>,
    /// The refusal's words.
    pub reject_text: Option<String>,
    /// Why the service refused.
    pub reject_kind: Option<RejectKind>,
    /// The TLS handshake's facts and the expiry threshold they were judged by.
    pub tls: Option<RecordTls>,
    /// `wait`: milliseconds from the start until ready (or until the end).
    pub waited_ms: Option<f64>,
    /// `wait`: rounds of probes made of this target.
    pub rounds: Option<u32>,
    /// How connects were timed (`--timing`).
    pub timing: crate::timing::Mode,
    /// Every connect wait, in order.
    pub waits_ms: crate::timing::Waits,
    /// The smoothed RTT the waits came from (`--timing auto`).
    pub srtt_ms: Option<f64>,
}

/// The record's `tls` object: what the handshake showed, and the threshold that applied, so a
/// later `diff` can tell an expiry that crossed it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordTls {
    /// The certificate's facts (their fields are the object's own).
    #[serde(flatten)]
    pub info: TlsInfo,
    /// `--cert-min-days` / `cert_min_days:` that applied to the target; None when none did.
    pub min_days: Option<u32>,
}

impl std::ops::Deref for RecordTls {
    type Target = TlsInfo;

    fn deref(&self) -> &TlsInfo {
        &self.info
    }
}

/// Facts about the run copied into every record.
#[derive(Clone, Debug)]
pub struct RunMeta {
    /// `--vantage` label.
    pub vantage: Arc<str>,
    /// `--shard K/N` as "K/N", if sharded.
    pub shard: Option<Arc<str>>,
    /// Digest of the inventory (see `Inventory::digest`).
    pub inventory_digest: Arc<str>,
    /// Probes of the whole inventory before sharding.
    pub inventory_probes: u64,
    /// `--cert-min-days`: a TLS certificate expiring sooner is not as expected.
    pub cert_min_days: Option<u32>,
}

impl Default for RunMeta {
    fn default() -> Self {
        RunMeta {
            vantage: Arc::from(hostname()),
            shard: None,
            inventory_digest: Arc::from(""),
            inventory_probes: 0,
            cert_min_days: None,
        }
    }
}

/// This machine's hostname (the default vantage label).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

impl Record {
    /// Build from a probe outcome.
    pub fn new(
        target: &Target,
        addr: Option<IpAddr>,
        port: u16,
        o: Outcome,
        meta: &RunMeta,
    ) -> Record {
        let expect = target.expect.for_vantage(&meta.vantage);
        let mut ok = expect.map(|e| e.contains(o.verdict));
        let mut o = o;
        let min_days = target.cert_min_days.or(meta.cert_min_days);
        if let (Some(min), Some(tls)) = (min_days, &o.tls) {
            if tls.days_left < i64::from(min) {
                o.detail = format!(
                    "{}; the certificate expires in {} days ({}), sooner than the {min} days required",
                    o.detail, tls.days_left, tls.not_after
                );
                if ok.is_some() {
                    ok = Some(false);
                }
            }
        }
        if expect.is_none() {
            o.detail = format!(
                "{}; no expectation for vantage `{}`",
                o.detail, meta.vantage
            );
        }
        Record {
            format_version: FORMAT_VERSION,
            name: target.name.clone(),
            host: target.host_label.clone(),
            addr,
            port,
            source: o.source,
            verdict: o.verdict,
            expect: expect.unwrap_or(Expect::EMPTY),
            ok,
            connect_ms: o.connect_ms,
            closed_after_ms: o.closed_after_ms,
            banner: (!o.banner.is_empty()).then(|| escape_banner(&o.banner)),
            detail: o.detail,
            errno: o.errno,
            attempts: o.attempts,
            tags: target.tags.clone(),
            origin: target.origin.clone(),
            vantage: meta.vantage.clone(),
            control: target.control,
            trusted: true,
            wildcard: false,
            flaky: o
                .attempt_verdicts
                .as_ref()
                // An attempt cut short by an interrupt saw nothing: it cannot disagree.
                .is_some_and(|v| {
                    v.iter()
                        .any(|x| *x != o.verdict && *x != Verdict::Interrupted)
                }),
            attempt_verdicts: o.attempt_verdicts,
            shard: meta.shard.clone(),
            inventory_digest: meta.inventory_digest.clone(),
            inventory_probes: meta.inventory_probes,
            service: o.service,
            hello: o.hello,
            greeting: o.greeting,
            reject_code: o.rejection.as_ref().map(|r| r.code.clone()),
            reject_text: o.rejection.as_ref().map(|r| r.text.clone()),
            reject_kind: o.rejection.as_ref().map(|r| r.kind),
            tls: o.tls.map(|info| RecordTls { info, min_days }),
            waited_ms: None,
            rounds: None,
            timing: o.timing,
            waits_ms: o.waits,
            srtt_ms: o.srtt_ms,
        }
    }

    /// As expected and trustworthy: an unknown expectation is not a pass, and neither is a
    /// blocked-type verdict made untrusted by a failed positive control (the record keeps
    /// `ok: true` with `trusted: false`; totals, JUnit and Prometheus do not count it as passed).
    pub fn passed(&self) -> bool {
        self.ok == Some(true) && self.trusted
    }

    /// `addr:port` for display (`[v6]:port`), or `-:port` without an address.
    pub fn endpoint(&self) -> String {
        match self.addr {
            Some(IpAddr::V6(a)) => format!("[{a}]:{}", self.port),
            Some(a) => format!("{a}:{}", self.port),
            None => format!("-:{}", self.port),
        }
    }

    /// Who can fix it: the verdict's answer, or for `rejected` the refusal kind's (an access
    /// rule: the service's support team; a capacity limit: the service's operator).
    pub fn who(&self) -> &'static str {
        match self.reject_kind {
            Some(k) if self.verdict == Verdict::Rejected => k.who(),
            _ => self.verdict.who(),
        }
    }

    /// The name, or the host when unnamed.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.host)
    }
}

impl From<&Record> for crate::report::read::ReportRecord {
    /// The record as a report reader would see it, field by field (no serde round trip), so
    /// `scan --baseline` can diff this scan's records directly. `extra` stays empty: the fields
    /// only a writer needs (`closed_after_ms`, `attempts`, `control`, `wildcard`,
    /// `attempt_verdicts`) are not carried.
    fn from(r: &Record) -> Self {
        crate::report::read::ReportRecord {
            format_version: r.format_version,
            vantage: r.vantage.to_string(),
            name: r.name.as_deref().map(String::from),
            host: r.host.to_string(),
            addr: r.addr.map(|a| a.to_string()),
            port: r.port,
            verdict: r.verdict,
            expect: r
                .expect
                .verdicts()
                .map(|v| v.as_str().to_string())
                .collect(),
            ok: r.ok,
            banner: r.banner.clone(),
            detail: r.detail.clone(),
            connect_ms: r.connect_ms,
            errno: r.errno.clone(),
            tags: r.tags.to_vec(),
            trusted: r.trusted,
            flaky: r.flaky,
            shard: r.shard.as_deref().map(String::from),
            inventory_digest: Some(r.inventory_digest.to_string()),
            inventory_probes: Some(r.inventory_probes),
            tls: r.tls.as_ref().map(|t| crate::report::read::ReportTls {
                version: t.version.clone(),
                subject: t.subject.clone(),
                issuer: t.issuer.clone(),
                not_after: t.not_after.clone(),
                days_left: Some(t.days_left),
                verified: t.verified,
                verify_error: t.verify_error.clone(),
                min_days: t.min_days,
                extra: serde_json::Map::new(),
            }),
            extra: serde_json::Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::read::ReportRecord;

    fn record(addr: Option<IpAddr>, verdict: Verdict) -> Record {
        Record {
            format_version: FORMAT_VERSION,
            name: Some(Arc::from("db \"1\"")),
            host: Arc::from("db.example"),
            addr,
            port: 5432,
            source: addr,
            verdict,
            expect: Expect::parse_word("blocked").unwrap_or_default(),
            ok: Some(false),
            connect_ms: Some(0.123_456_789),
            closed_after_ms: Some(2.5),
            banner: Some("SSH-2.0\\r\\n".into()),
            detail: "ECONNREFUSED immediately".into(),
            errno: Some("ECONNREFUSED".into()),
            attempts: 3,
            tags: Arc::from(vec!["prod".to_string(), "db".to_string()]),
            origin: Arc::from("inv.yaml:7"),
            vantage: Arc::from("dmz"),
            control: true,
            trusted: false,
            wildcard: true,
            flaky: true,
            attempt_verdicts: Some(vec![Verdict::Open, verdict]),
            shard: Some(Arc::from("2/3")),
            inventory_digest: Arc::from("abc123"),
            inventory_probes: 17,
            service: Service::Smtp,
            hello: false,
            greeting: Some("Postfix ESMTP".into()),
            reject_code: Some("554".into()),
            reject_text: Some("5.7.1 Client host rejected".into()),
            reject_kind: Some(RejectKind::Access),
            tls: None,
            waited_ms: Some(2100.5),
            rounds: Some(3),
            timing: crate::timing::Mode::Auto,
            waits_ms: crate::timing::Waits::default(),
            srtt_ms: Some(0.25),
        }
    }

    /// The fields the reader keeps, as JSON (without `extra`).
    fn read_fields(mut r: ReportRecord) -> serde_json::Value {
        r.extra.clear();
        serde_json::to_value(&r).unwrap_or_default()
    }

    #[test]
    fn conversion_equals_the_serde_round_trip() {
        let addrs = [
            None,
            Some("127.0.0.1".parse().unwrap()),
            Some("::1".parse().unwrap()),
        ];
        for addr in addrs {
            for v in Verdict::ALL {
                let r = record(addr, v);
                let json = serde_json::to_value(&r).unwrap();
                let via_serde: ReportRecord = serde_json::from_value(json).unwrap();
                let direct = ReportRecord::from(&r);
                assert!(direct.extra.is_empty());
                assert_eq!(read_fields(direct), read_fields(via_serde), "{v} {addr:?}");
            }
        }
        let mut r = record(None, Verdict::Open);
        (r.name, r.shard) = (None, None);
        r.tls = Some(RecordTls {
            info: TlsInfo {
                version: "TLSv1.3".into(),
                subject: "CN=lab.test".into(),
                issuer: "CN=Lab CA".into(),
                not_after: "2027-03-01T12:00:00Z".into(),
                days_left: 3,
                verified: false,
                verify_error: Some("UnknownIssuer".into()),
            },
            min_days: Some(14),
        });
        let via_serde: ReportRecord =
            serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(read_fields(ReportRecord::from(&r)), read_fields(via_serde));
    }
}
