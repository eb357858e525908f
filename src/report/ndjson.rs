//! NDJSON: one [`Record`](crate::record::Record) per line, in completion order, flushed per line
//! on stdout. The schema is documented on `Record`.

use std::io::{self, Write};

use super::{Output, Sink, Summary};
use crate::record::Record;

pub struct Ndjson {
    out: Output,
}

impl Ndjson {
    pub fn new(out: Output) -> Self {
        Ndjson { out }
    }
}

impl Sink for Ndjson {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, r)?;
        self.out.write_all(b"\n")?;
        if self.out.is_stdout() {
            self.out.flush()?;
        }
        Ok(())
    }

    fn finish(self: Box<Self>, _: &Summary) -> io::Result<()> {
        self.out.commit()
    }
}
