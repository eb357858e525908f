//! Prometheus text exposition format 0.0.4, for node_exporter's textfile collector (write it with
//! `-o /var/lib/node_exporter/textfile/telltale.prom`: the output file is replaced atomically, as
//! the collector requires).
//!
//! Samples are held until the end of the run, because every sample of a metric family must
//! follow its one `# HELP`/`# TYPE` header; they are spooled per family (in memory up to a
//! limit, then in an anonymous temp file, see [`super::spill`]), so memory stays bounded:
//!
//! - `telltale_probe_ok{name,host,addr,port,verdict,expected,vantage}` — 1 as expected and trusted, else 0;
//! - `telltale_probe_connect_seconds{name,host,addr,port,vantage}` — only for probes that connected;
//! - `telltale_probe_cert_days_left{name,host,addr,port,subject,not_after,vantage}` — TLS probes;
//! - `telltale_scan_duration_seconds`, `telltale_scan_probes{verdict}` (every verdict, zeros
//!   included), `telltale_scan_mismatches`, `telltale_scan_timestamp_seconds`,
//!   `telltale_scan_incomplete` — each with a `vantage` label.
//!
//! Seconds are written at the microsecond resolution they were measured with, in the shortest
//! form (`0.000137`). A null `name` or `addr` is the empty label value; `expected` is the acceptable verdicts joined
//! by `|`. Label values escape backslash, double quote and line feed.

use std::fmt::Write as _;
use std::io::{self, BufRead, Write};

use super::spill::{self, Dec, Item, Sorter, Spool};
use super::{Output, Sink, Summary, units};
use crate::record::Record;
use crate::verdict::Verdict;

pub struct Prometheus {
    out: Output,
    ok: Family,
    connect: Family,
    /// `telltale_probe_cert_days_left`, TLS probes only.
    cert: Family,
}

/// One metric family's samples: `{labels} value` lines in arrival order, and their label sets
/// with their arrival numbers, sorted at the end to find repeats (a label set's first sample is
/// kept: two samples with one label set would make the whole file invalid).
struct Family {
    lines: Spool,
    keys: Sorter<Key>,
    n: u64,
}

/// A sample's label set and arrival number.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    labels: String,
    seq: u64,
}

impl Item for Key {
    fn encode(&self, out: &mut Vec<u8>) {
        spill::put_str(out, &self.labels);
        spill::put_u64(out, self.seq);
    }

    fn decode(d: &mut Dec<'_>) -> io::Result<Self> {
        Ok(Key {
            labels: d.string()?,
            seq: d.u64()?,
        })
    }

    fn heap_bytes(&self) -> usize {
        self.labels.capacity()
    }
}

/// The arrival number of a sample to leave out.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Seq(u64);

impl Item for Seq {
    fn encode(&self, out: &mut Vec<u8>) {
        spill::put_u64(out, self.0);
    }

    fn decode(d: &mut Dec<'_>) -> io::Result<Self> {
        d.u64().map(Seq)
    }

    fn heap_bytes(&self) -> usize {
        0
    }
}

impl Family {
    fn new() -> Family {
        Family {
            lines: Spool::new(spill::SPOOL_LIMIT),
            keys: Sorter::new(spill::SORT_BUDGET),
            n: 0,
        }
    }

    fn push(&mut self, labels: String, value: impl std::fmt::Display) -> io::Result<()> {
        writeln!(self.lines, "{labels} {value}")?;
        self.keys.push(Key {
            labels,
            seq: self.n,
        })?;
        self.n += 1;
        Ok(())
    }

    /// Arrival numbers of the samples whose label set came earlier, in order.
    fn repeats(keys: Sorter<Key>) -> io::Result<spill::Sorted<Seq>> {
        let mut repeats = Sorter::new(spill::SORT_BUDGET);
        let mut prev: Option<String> = None;
        for k in keys.finish()? {
            let k = k?;
            if prev.as_deref() == Some(k.labels.as_str()) {
                repeats.push(Seq(k.seq))?;
            } else {
                prev = Some(k.labels);
            }
        }
        repeats.finish()
    }

    /// The header and every sample but repeats, in arrival order; nothing when empty.
    fn write(self, w: &mut impl Write, name: &str, help: &str) -> io::Result<()> {
        if self.n == 0 {
            return Ok(());
        }
        header(w, name, help)?;
        let mut repeats = Self::repeats(self.keys)?;
        let mut skip = repeats.next().transpose()?;
        let mut lines = self.lines.into_reader()?;
        let mut line = Vec::new();
        for seq in 0..self.n {
            line.clear();
            if lines.read_until(b'\n', &mut line)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "prometheus spool: sample missing",
                ));
            }
            if skip.as_ref().is_some_and(|s| s.0 == seq) {
                skip = repeats.next().transpose()?;
                continue;
            }
            w.write_all(name.as_bytes())?;
            w.write_all(&line)?;
        }
        Ok(())
    }
}

impl Prometheus {
    pub fn new(out: Output) -> Self {
        Prometheus {
            out,
            ok: Family::new(),
            connect: Family::new(),
            cert: Family::new(),
        }
    }
}

/// Escape a label value: `\` → `\\`, `"` → `\"`, line feed → `\n`.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// `{k1="v1",k2="v2"}` with escaped values.
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"{}\"", escape(v));
    }
    s.push('}');
    s
}

fn header(w: &mut impl Write, name: &str, help: &str) -> io::Result<()> {
    writeln!(w, "# HELP {name} {help}")?;
    writeln!(w, "# TYPE {name} gauge")
}

impl Sink for Prometheus {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        let name = r.name.as_deref().unwrap_or("");
        let addr = r.addr.map(|a| a.to_string()).unwrap_or_default();
        let port = r.port.to_string();
        let expected = r.expect.names().join("|");
        self.ok.push(
            labels(&[
                ("name", name),
                ("host", &r.host),
                ("addr", &addr),
                ("port", &port),
                ("verdict", r.verdict.as_str()),
                ("expected", &expected),
                ("vantage", &r.vantage),
            ]),
            // An untrusted verdict (a positive control failed) is not a pass.
            u8::from(r.passed()),
        )?;
        if let Some(ms) = r.connect_ms {
            self.connect.push(
                labels(&[
                    ("name", name),
                    ("host", &r.host),
                    ("addr", &addr),
                    ("port", &port),
                    ("vantage", &r.vantage),
                ]),
                units::secs(ms),
            )?;
        }
        if let Some(tls) = &r.tls {
            self.cert.push(
                labels(&[
                    ("name", name),
                    ("host", &r.host),
                    ("addr", &addr),
                    ("port", &port),
                    ("subject", &tls.subject),
                    ("not_after", &tls.not_after),
                    ("vantage", &r.vantage),
                ]),
                tls.days_left,
            )?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>, s: &Summary) -> io::Result<()> {
        let Prometheus {
            mut out,
            ok,
            connect,
            cert,
        } = *self;
        let w = &mut out;
        ok.write(
            w,
            "telltale_probe_ok",
            "1 when the probe's verdict was as expected, else 0.",
        )?;
        connect.write(
            w,
            "telltale_probe_connect_seconds",
            "Time from connect() to established, for probes that connected.",
        )?;
        cert.write(
            w,
            "telltale_probe_cert_days_left",
            "Whole days until the TLS certificate's not-after (negative: expired), for TLS probes.",
        )?;
        let vantage = labels(&[("vantage", &s.vantage)]);
        header(
            w,
            "telltale_scan_duration_seconds",
            "Wall time of the scan.",
        )?;
        writeln!(
            w,
            "telltale_scan_duration_seconds{vantage} {}",
            units::secs(s.elapsed_ms)
        )?;
        header(w, "telltale_scan_probes", "Probes per verdict.")?;
        for v in Verdict::ALL {
            let l = labels(&[("verdict", v.as_str()), ("vantage", &s.vantage)]);
            writeln!(w, "telltale_scan_probes{l} {}", s.count(v))?;
        }
        header(
            w,
            "telltale_scan_mismatches",
            "Probes whose verdict was not as expected.",
        )?;
        writeln!(w, "telltale_scan_mismatches{vantage} {}", s.mismatches)?;
        header(
            w,
            "telltale_scan_timestamp_seconds",
            "Start of the scan, seconds since the Unix epoch.",
        )?;
        writeln!(
            w,
            "telltale_scan_timestamp_seconds{vantage} {}",
            units::secs(s.started_at * 1000.0)
        )?;
        header(
            w,
            "telltale_scan_incomplete",
            "1 when the scan was interrupted or gave no verdict for some probe (local errors, failed controls), else 0.",
        )?;
        writeln!(
            w,
            "telltale_scan_incomplete{vantage} {}",
            u8::from(s.incomplete)
        )?;
        out.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
        assert_eq!(
            labels(&[("name", ""), ("host", "x\"y")]),
            "{name=\"\",host=\"x\\\"y\"}"
        );
    }

    #[test]
    fn repeated_label_sets_are_kept_once() {
        let mut f = Family::new();
        f.push("{a=\"1\"}".into(), 1).unwrap();
        f.push("{a=\"2\"}".into(), 1).unwrap();
        f.push("{a=\"1\"}".into(), 0).unwrap();
        let mut out = Vec::new();
        f.write(&mut out, "m", "help").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "# HELP m help\n# TYPE m gauge\nm{a=\"1\"} 1\nm{a=\"2\"} 1\n"
        );
    }
}
