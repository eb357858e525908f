//! CSV with a header; `expect` joined with `|`, nulls as empty fields.

use std::io;

use super::{Output, Sink, Summary};
use crate::record::Record;

const HEADER: [&str; 18] = [
    "name",
    "host",
    "addr",
    "port",
    "verdict",
    "expect",
    "ok",
    "connect_ms",
    "closed_after_ms",
    "attempts",
    "errno",
    "detail",
    "banner",
    "vantage",
    "trusted",
    "wildcard",
    "flaky",
    "shard",
];

pub struct Csv {
    w: csv::Writer<Output>,
    header: bool,
}

impl Csv {
    pub fn new(out: Output) -> Self {
        Csv {
            w: csv::Writer::from_writer(out),
            header: false,
        }
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.header {
            self.header = true;
            self.w.write_record(HEADER)?;
        }
        Ok(())
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

impl Sink for Csv {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        self.header()?;
        self.w.write_record([
            r.name.as_deref().unwrap_or("").to_string(),
            r.host.to_string(),
            opt(r.addr),
            r.port.to_string(),
            r.verdict.to_string(),
            r.expect.names().join("|"),
            opt(r.ok),
            opt(r.connect_ms),
            opt(r.closed_after_ms),
            r.attempts.to_string(),
            opt(r.errno.as_deref()),
            r.detail.clone(),
            opt(r.banner.as_deref()),
            r.vantage.to_string(),
            r.trusted.to_string(),
            r.wildcard.to_string(),
            r.flaky.to_string(),
            opt(r.shard.as_deref()),
        ])?;
        Ok(())
    }

    fn finish(mut self: Box<Self>, _: &Summary) -> io::Result<()> {
        self.header()?;
        let out = self
            .w
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))?;
        out.commit()
    }
}
