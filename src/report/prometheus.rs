//! Prometheus text exposition format 0.0.4, for node_exporter's textfile collector (write it with
//! `-o /var/lib/node_exporter/textfile/telltale.prom`: the output file is replaced atomically, as
//! the collector requires).
//!
//! Samples are buffered until the end of the run, because every sample of a metric family must
//! follow its one `# HELP`/`# TYPE` header:
//!
//! - `telltale_probe_ok{name,host,addr,port,verdict,expected,vantage}` — 1 as expected and trusted, else 0;
//! - `telltale_probe_connect_seconds{name,host,addr,port,vantage}` — only for probes that connected;
//! - `telltale_scan_duration_seconds`, `telltale_scan_probes{verdict}` (every verdict, zeros
//!   included), `telltale_scan_mismatches`, `telltale_scan_timestamp_seconds`,
//!   `telltale_scan_incomplete` — each with a `vantage` label.
//!
//! A null `name` or `addr` is the empty label value; `expected` is the acceptable verdicts joined
//! by `|`. Label values escape backslash, double quote and line feed.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Output, Sink, Summary};
use crate::record::Record;
use crate::verdict::Verdict;

pub struct Prometheus {
    out: Output,
    ok: Family,
    connect: Family,
}

/// One metric family's samples, rendered as `{labels} value` lines, without repeats.
#[derive(Default)]
struct Family {
    samples: Vec<String>,
    seen: HashSet<String>,
}

impl Family {
    fn push(&mut self, labels: String, value: impl std::fmt::Display) {
        // Two samples with one label set would make the whole file invalid; keep the first.
        if self.seen.insert(labels.clone()) {
            self.samples.push(format!("{labels} {value}"));
        }
    }
}

impl Prometheus {
    pub fn new(out: Output) -> Self {
        Prometheus {
            out,
            ok: Family::default(),
            connect: Family::default(),
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

fn family(w: &mut impl Write, name: &str, help: &str, samples: &[String]) -> io::Result<()> {
    if samples.is_empty() {
        return Ok(());
    }
    header(w, name, help)?;
    for s in samples {
        writeln!(w, "{name}{s}")?;
    }
    Ok(())
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
        );
        if let Some(ms) = r.connect_ms {
            self.connect.push(
                labels(&[
                    ("name", name),
                    ("host", &r.host),
                    ("addr", &addr),
                    ("port", &port),
                    ("vantage", &r.vantage),
                ]),
                ms / 1000.0,
            );
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, s: &Summary) -> io::Result<()> {
        let w = &mut self.out;
        family(
            w,
            "telltale_probe_ok",
            "1 when the probe's verdict was as expected, else 0.",
            &self.ok.samples,
        )?;
        family(
            w,
            "telltale_probe_connect_seconds",
            "Time from connect() to established, for probes that connected.",
            &self.connect.samples,
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
            s.elapsed_ms / 1000.0
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
            s.started_at
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
        self.out.commit()
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
        let mut f = Family::default();
        f.push("{a=\"1\"}".into(), 1);
        f.push("{a=\"1\"}".into(), 0);
        assert_eq!(f.samples, vec!["{a=\"1\"} 1".to_string()]);
    }
}
