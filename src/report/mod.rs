//! Sinks: how results look. One format per file behind the [`Sink`] trait; every sink writes to
//! an [`Output`], which is stdout or a file written atomically (same-directory temp file, fsync,
//! rename), so an interrupted or failed run never leaves a truncated file.

pub mod columns;
mod csv;
mod json;
mod junit;
pub mod narrative;
mod ndjson;
mod prometheus;
mod spill;
pub mod summary;
pub mod table;

use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::record::Record;
pub use junit::xml_escape;
pub use summary::Summary;

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

/// Where a sink writes.
pub enum Output {
    /// Standard output, flushed per record when `line_flush`.
    Stdout(BufWriter<io::Stdout>),
    /// A temp file next to the destination, renamed over it on commit.
    File {
        /// The temp file.
        tmp: BufWriter<NamedTempFile>,
        /// Final path.
        dest: PathBuf,
    },
}

impl Output {
    /// Standard output.
    pub fn stdout() -> Output {
        Output::Stdout(BufWriter::new(io::stdout()))
    }

    /// Create the temp file now, so a bad path fails before any probe is sent.
    pub fn file(dest: &Path) -> io::Result<Output> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&dir)?;
        // A temp file is created 0600; give the result the mode a plain create would have
        // (or the replaced file's), so e.g. node_exporter can still read a textfile.
        let mode = std::fs::metadata(dest)
            .map_or_else(|_| 0o666 & !umask(), |m| m.permissions().mode() & 0o7777);
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))?;
        Ok(Output::File {
            tmp: BufWriter::new(tmp),
            dest: dest.to_path_buf(),
        })
    }

    /// Whether this is a terminal-ish stream where per-line flushing matters.
    pub fn is_stdout(&self) -> bool {
        matches!(self, Output::Stdout(_))
    }

    /// Flush stdout, or fsync and rename the temp file over the destination.
    pub fn commit(self) -> io::Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush(),
            Output::File { tmp, dest } => {
                let file = tmp.into_inner().map_err(io::IntoInnerError::into_error)?;
                file.as_file().sync_all()?;
                file.persist(&dest).map_err(|e| e.error)?;
                if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                    if let Ok(d) = std::fs::File::open(dir) {
                        let _ = d.sync_all();
                    }
                }
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File { tmp, .. } => tmp.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.write_all(buf),
            Output::File { tmp, .. } => tmp.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File { tmp, .. } => tmp.flush(),
        }
    }
}

/// The process umask, read without changing it (Linux `/proc/self/status`); 022 if unknown.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// Options the table needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct TableOptions {
    /// Show every row, not only mismatches.
    pub all: bool,
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

#[cfg(test)]
mod tests;
