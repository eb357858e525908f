//! Sinks: how results look. One format per file behind the [`Sink`] trait; every sink writes to
//! an [`Output`] (stdout, a device or FIFO written in place, or a file written atomically), whose
//! path was resolved into a [`Target`] by the rules in [`target`]. [`Outputs`] resolves and opens
//! every output of a run (`-o`, `--also`) before the first probe.

pub mod columns;
mod csv;
pub mod formats;
mod json;
mod junit;
mod layout;
pub mod narrative;
mod ndjson;
mod prometheus;
pub mod read;
mod spill;
pub mod summary;
pub mod table;
pub mod term;
pub mod units;

mod output;
pub mod relay;
pub mod target;

use std::io;
use std::path::{Path, PathBuf};

use crate::record::Record;
use crate::shutdown::Shutdown;
pub use junit::xml_escape;
pub use output::{Output, exit_now};
pub use summary::Summary;
pub use target::Target;
pub use term::ColorChoice;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aggregated verdict table with a summary (default).
    Table,
    /// One JSON object per result, streamed as results complete.
    Ndjson,
    /// One JSON document: results and summary.
    Json,
    /// Comma-separated values with a header.
    Csv,
    /// JUnit XML, one testcase per probe, failures for mismatches.
    Junit,
    /// Prometheus text exposition format (for node_exporter's textfile collector).
    Prometheus,
}

impl Format {
    /// The name as written on the command line (`ndjson`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Ndjson => "ndjson",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Junit => "junit",
            Format::Prometheus => "prometheus",
        }
    }
}

/// Options the table needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct TableOptions {
    /// Show every row, not only mismatches.
    pub all: bool,
    /// `--color`.
    pub color: ColorChoice,
}

/// A result consumer. `record` is called per result as it completes; `finish` once at the end
/// (also after an interrupt), and it commits the output.
pub trait Sink: Send {
    /// One result.
    fn record(&mut self, r: &Record) -> io::Result<()>;
    /// End of run.
    fn finish(self: Box<Self>, s: &Summary) -> io::Result<()>;
}

/// Several sinks fed the same records (`--also`): one scan, several formats.
pub struct FanOut(pub Vec<Box<dyn Sink>>);

impl Sink for FanOut {
    fn record(&mut self, r: &Record) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|s| s.record(r))
    }

    fn finish(self: Box<Self>, s: &Summary) -> io::Result<()> {
        // Finish every sink even if one fails, then report the first failure.
        let mut first = Ok(());
        for sink in self.0 {
            let r = sink.finish(s);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// Build the sink for `format` writing to `out`.
pub fn sink(format: Format, out: Output, table: TableOptions) -> Box<dyn Sink> {
    match format {
        Format::Table => Box::new(table::Table::new(out, table)),
        Format::Ndjson => Box::new(ndjson::Ndjson::new(out)),
        Format::Json => Box::new(json::Json::new(out)),
        Format::Csv => Box::new(csv::Csv::new(out)),
        Format::Junit => Box::new(junit::Junit::new(out)),
        Format::Prometheus => Box::new(prometheus::Prometheus::new(out)),
    }
}

/// Every output of a run: the main format to `-o` (or stdout) and the `--also` extras.
pub struct Outputs<'a> {
    /// The main format.
    pub format: Format,
    /// `-o PATH`; `None` is stdout.
    pub output: Option<&'a Path>,
    /// `--also FORMAT=PATH`.
    pub also: &'a [(Format, PathBuf)],
    /// Table options (every table sink).
    pub table: TableOptions,
    /// A table going to stdout is `probe`'s narrative instead.
    pub narrative: bool,
}

/// Why the outputs could not be opened; nothing was probed.
#[derive(Debug)]
pub struct OpenError {
    /// Names the flag and the path, e.g. `--also json=out/: names a directory`.
    pub message: String,
    /// The first signal came while waiting for a FIFO's reader (not a usage error).
    pub interrupted: bool,
}

impl Outputs<'_> {
    fn labelled(&self) -> Vec<(String, Option<&Path>)> {
        let mut v = vec![(
            self.output
                .map_or_else(|| "stdout".into(), |p| format!("-o {}", p.display())),
            self.output,
        )];
        for (f, p) in self.also {
            let name = clap::ValueEnum::to_possible_value(f)
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            v.push((format!("--also {name}={}", p.display()), Some(p.as_path())));
        }
        v
    }

    /// Resolve every path ([`Target::resolve`]) without creating or opening anything; two
    /// outputs to one file (or both to stdout) are refused too.
    pub fn check(&self) -> Result<Vec<Target>, String> {
        target::resolve_all(&self.labelled())
    }

    /// Resolve and open every output, then build the sink (a [`FanOut`] when there are several).
    /// Temp files and devices are opened first, FIFOs last (they may wait for a reader), so a
    /// bad path never costs a wait. On error every temp file already created is removed again.
    pub async fn open(&self, shutdown: &Shutdown) -> Result<Box<dyn Sink>, OpenError> {
        let labels = self.labelled();
        let targets = self.check().map_err(|message| OpenError {
            message,
            interrupted: false,
        })?;
        let mut outs: Vec<Option<Output>> = targets.iter().map(|_| None).collect();
        for fifos in [false, true] {
            for (i, t) in targets.iter().enumerate() {
                let is_fifo = matches!(t, Target::InPlace { fifo: true, .. });
                if is_fifo != fifos {
                    continue;
                }
                let o = Output::open(t, shutdown).await.map_err(|e| OpenError {
                    message: format!("{}: {e}", labels[i].0),
                    interrupted: e.kind() == io::ErrorKind::Interrupted,
                })?;
                outs[i] = Some(o);
            }
        }
        let formats = std::iter::once(self.format).chain(self.also.iter().map(|(f, _)| *f));
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        for (i, (format, out)) in formats.zip(outs).enumerate() {
            let Some(out) = out else { continue };
            let stdout = targets[i].is_stdout();
            if i == 0 && self.narrative && format == Format::Table && stdout {
                let color = term::Style::stdout(self.table.color).color;
                sinks.push(Box::new(narrative::Narrative::new(out, color)));
            } else if format == Format::Table && stdout {
                let style = term::Style::stdout(self.table.color);
                sinks.push(Box::new(table::Table::styled(out, self.table, style)));
            } else {
                sinks.push(sink(format, out, self.table));
            }
        }
        Ok(if sinks.len() == 1 {
            sinks.remove(0)
        } else {
            Box::new(FanOut(sinks))
        })
    }
}

#[cfg(test)]
mod tests;
