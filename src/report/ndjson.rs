//! NDJSON: one [`Record`](crate::record::Record) per line, in completion order, flushed per line
//! on stdout. The schema is documented on `Record`.

use std::io::{self, Write};

use super::{Output, Sink, Summary};
use crate::record::Record;

pub struct Ndjson {
    out: Output,
    /// One line, serialised here first (reused): one write per record instead of one per token.
    line: Vec<u8>,
}

impl Ndjson {
    pub fn new(out: Output) -> Self {
        Ndjson {
            out,
            line: Vec::with_capacity(2048),
        }
    }
}

impl Sink for Ndjson {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, r)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        if self.out.is_stdout() {
            self.out.flush()?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>, _: &Summary) -> io::Result<()> {
        self.out.commit()
    }
}
