//! Validated, clap-free settings for a scan, built from the command line.

use std::path::PathBuf;

use crate::cli::Opts;
use crate::inventory::Overrides;
use crate::pool::Limits;
use crate::report::{Format, TableOptions};

/// Everything the core needs to run a scan.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// Command-line overrides of inventory defaults.
    pub overrides: Overrides,
    /// Pool limits as requested (concurrency is clamped to the fd budget at start).
    pub limits: Limits,
    /// Output format.
    pub format: Format,
    /// Output file (None = stdout).
    pub output: Option<PathBuf>,
    /// Table options.
    pub table: TableOptions,
    /// Draw a progress bar (if stderr is a terminal).
    pub progress: bool,
    /// Allow huge inventories.
    pub allow_large: bool,
}

impl From<&Opts> for ScanConfig {
    fn from(o: &Opts) -> Self {
        ScanConfig {
            overrides: Overrides {
                timeout: o.timeout,
                linger: o.linger,
            },
            limits: Limits {
                concurrency: o.concurrency as usize,
                per_host: o.per_host as usize,
                rate: o.rate,
                retries: o.retries,
                dns_concurrency: o.dns_concurrency as usize,
            },
            format: o.format,
            output: o.output.clone(),
            table: TableOptions { all: o.all },
            progress: !o.no_progress,
            allow_large: o.allow_large,
        }
    }
}
