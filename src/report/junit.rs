//! JUnit XML for CI dashboards: one testcase per probe, a `<failure>` per mismatch. A test
//! case's `time` is what the probe measured: the connect time plus the time until the peer closed
//! (0 when it never connected: a record carries no other duration), in seconds to the
//! microsecond. The
//! testsuite's counts come first in the document, so test cases are spooled (in memory up to
//! [`spill::SPOOL_LIMIT`], then in an anonymous temp file) until the end.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::spill::{self, Spool};
use super::{Output, Sink, Summary, units};
use crate::record::Record;

pub struct Junit {
    out: Output,
    cases: Spool,
    /// One test case, rendered before it goes to the spool.
    case: String,
}

impl Junit {
    pub fn new(out: Output) -> Self {
        Junit {
            out,
            cases: Spool::new(spill::SPOOL_LIMIT),
            case: String::new(),
        }
    }
}

/// Escape text for XML attributes and content.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t') => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// A test case's name: the endpoint probed (`127.0.0.1:22`, `[::1]:80`), after the host when
/// the host as written is not that address (`db.example 10.0.0.5:5432`, `10.0.0.0/30
/// 10.0.0.1:22`), or `HOST:PORT` when no address was probed (`dns-error`). The target's name
/// is the classname already, so it is not repeated.
fn case_name(r: &Record) -> String {
    match r.addr {
        Some(a) if a.to_string() == *r.host => r.endpoint(),
        Some(_) => format!("{} {}", r.host, r.endpoint()),
        None if r.host.contains(':') => format!("[{}]:{}", r.host, r.port),
        None => format!("{}:{}", r.host, r.port),
    }
}

impl Sink for Junit {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        let secs = units::secs(r.connect_ms.unwrap_or(0.0) + r.closed_after_ms.unwrap_or(0.0));
        let class = xml_escape(&format!("telltale.{}", r.label()));
        let name = xml_escape(&case_name(r));
        self.case.clear();
        let _ = write!(
            self.case,
            "    <testcase classname=\"{class}\" name=\"{name}\" time=\"{secs}\""
        );
        if r.passed() {
            self.case.push_str("/>\n");
        } else {
            let msg = match r.ok {
                None => format!(
                    "no expectation for vantage {}, got {}",
                    r.vantage, r.verdict
                ),
                Some(true) => format!(
                    "untrusted: got {} as expected, but a positive control failed, so it proves nothing",
                    r.verdict
                ),
                Some(false) => format!("expected {}, got {}", r.expect, r.verdict),
            };
            let msg = xml_escape(&msg);
            let mut body = r.detail.clone();
            if let Some(b) = &r.banner {
                let _ = write!(body, "; banner: {b}");
            }
            let _ = write!(
                self.case,
                ">\n      <failure message=\"{msg}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                r.verdict,
                xml_escape(&body)
            );
        }
        self.cases.write_all(self.case.as_bytes())
    }

    fn finish(mut self: Box<Self>, s: &Summary) -> io::Result<()> {
        let secs = units::secs(s.elapsed_ms);
        write!(
            self.out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"telltale\" tests=\"{t}\" failures=\"{f}\" time=\"{secs}\">\n  <testsuite name=\"telltale\" tests=\"{t}\" failures=\"{f}\" errors=\"0\" time=\"{secs}\">\n",
            t = s.total,
            f = s.mismatches
        )?;
        writeln!(
            self.out,
            "    <properties><property name=\"vantage\" value=\"{}\"/></properties>",
            xml_escape(&s.vantage)
        )?;
        let cases = std::mem::replace(&mut self.cases, Spool::new(0));
        io::copy(&mut cases.into_reader()?, &mut self.out)?;
        self.out.write_all(b"  </testsuite>\n</testsuites>\n")?;
        self.out.commit()
    }
}
