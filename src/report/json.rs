//! JSON: one document `{"format_version":1,"results":[...],"summary":{...}}`, streamed: results
//! are written as they complete, the summary at the end, so memory does not grow with the scan.

use std::io::{self, Write};

use super::{Output, Sink, Summary};
use crate::record::{FORMAT_VERSION, Record};

pub struct Json {
    out: Output,
    n: u64,
}

impl Json {
    pub fn new(out: Output) -> Self {
        Json { out, n: 0 }
    }
}

impl Sink for Json {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        if self.n == 0 {
            writeln!(
                self.out,
                "{{\"format_version\":{FORMAT_VERSION},\"results\":["
            )?;
        } else {
            self.out.write_all(b",\n")?;
        }
        self.n += 1;
        serde_json::to_writer(&mut self.out, r)?;
        Ok(())
    }

    fn finish(mut self: Box<Self>, s: &Summary) -> io::Result<()> {
        if self.n == 0 {
            write!(
                self.out,
                "{{\"format_version\":{FORMAT_VERSION},\"results\":["
            )?;
        }
        self.out.write_all(b"\n],\"summary\":")?;
        serde_json::to_writer(&mut self.out, s)?;
        self.out.write_all(b"}\n")?;
        self.out.commit()
    }
}
