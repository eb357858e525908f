//! CSV with a header; `expect` joined with `|`, nulls as empty fields.

use std::io;

use super::{Output, Sink, Summary};
use crate::record::Record;

/// The columns, each with how it is read off a record: the header and every row come from this
/// one list, so they cannot disagree.
type Column = (&'static str, fn(&Record) -> String);

const COLUMNS: [Column; 18] = [
    ("name", |r| r.name.as_deref().unwrap_or("").to_string()),
    ("host", |r| r.host.to_string()),
    ("addr", |r| opt(r.addr)),
    ("port", |r| r.port.to_string()),
    ("verdict", |r| r.verdict.to_string()),
    ("expect", |r| r.expect.names().join("|")),
    ("ok", |r| opt(r.ok)),
    ("connect_ms", |r| opt(r.connect_ms)),
    ("closed_after_ms", |r| opt(r.closed_after_ms)),
    ("attempts", |r| r.attempts.to_string()),
    ("errno", |r| opt(r.errno.as_deref())),
    ("detail", |r| r.detail.clone()),
    ("banner", |r| opt(r.banner.as_deref())),
    ("vantage", |r| r.vantage.to_string()),
    ("trusted", |r| r.trusted.to_string()),
    ("wildcard", |r| r.wildcard.to_string()),
    ("flaky", |r| r.flaky.to_string()),
    ("shard", |r| opt(r.shard.as_deref())),
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
            self.w.write_record(COLUMNS.iter().map(|(name, _)| *name))?;
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
        self.w
            .write_record(COLUMNS.iter().map(|(_, cell)| cell(r)))?;
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
