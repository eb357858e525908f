//! Prometheus textfile output (placeholder: being written).

use std::io;

use super::{Output, Sink, Summary};
use crate::record::Record;

pub struct Prometheus {
    out: Output,
}

impl Prometheus {
    pub fn new(out: Output) -> Self {
        Prometheus { out }
    }
}

impl Sink for Prometheus {
    fn record(&mut self, _r: &Record) -> io::Result<()> {
        Ok(())
    }

    fn finish(self: Box<Self>, _: &Summary) -> io::Result<()> {
        self.out.commit()
    }
}
