//! Validated, clap-free settings for a scan, built from the command line.

use std::path::PathBuf;

use crate::cli::Opts;
use crate::inventory::Overrides;
use crate::pool::Limits;
use crate::record::RunMeta;
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
    /// Copied into every record.
    pub meta: RunMeta,
    /// `--exclude` entries (validated when the inventory is loaded).
    pub excludes: Vec<String>,
    /// Print the plan, send nothing.
    pub dry_run: bool,
    /// Wildcard-check port, None = off.
    pub wildcard_port: Option<u16>,
    /// Report to diff against.
    pub baseline: Option<PathBuf>,
    /// Exit 1 on drift.
    pub fail_on_drift: bool,
    /// `--vantage-map OLD=NEW`: the baseline's vantage OLD compares as NEW.
    pub vantage_map: Vec<(String, String)>,
    /// `--shard K/N`.
    pub shard: Option<(u32, u32)>,
    /// `--also FORMAT=FILE` extra outputs.
    pub also: Vec<(Format, PathBuf)>,
    /// Print the pre-scan plan line on stderr (off for `probe`'s narrative: one probe needs no plan).
    pub show_plan: bool,
    /// `--max-input-size`: cap on each inventory and the baseline, in bytes.
    pub max_input: u64,
}

impl Default for ScanConfig {
    /// The command line's defaults.
    fn default() -> Self {
        ScanConfig {
            overrides: Overrides::default(),
            limits: Limits::default(),
            format: Format::Table,
            output: None,
            table: TableOptions::default(),
            progress: true,
            allow_large: false,
            meta: RunMeta::default(),
            excludes: Vec::new(),
            dry_run: false,
            wildcard_port: Some(DEFAULT_WILDCARD_PORT),
            baseline: None,
            fail_on_drift: false,
            vantage_map: Vec::new(),
            shard: None,
            also: Vec::new(),
            show_plan: true,
            max_input: crate::input::DEFAULT_MAX_INPUT,
        }
    }
}

/// The port probed for accept-all detection: above Linux's ephemeral range, unassigned.
pub const DEFAULT_WILDCARD_PORT: u16 = 65521;

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
                attempts: o.attempts,
                attempt_gap: o.attempt_gap,
            },
            format: o.format.unwrap_or(Format::Table),
            output: o.output.clone(),
            table: TableOptions { all: o.all },
            progress: !o.no_progress,
            allow_large: o.allow_large,
            meta: match &o.vantage {
                Some(v) => RunMeta {
                    vantage: v.as_str().into(),
                    ..RunMeta::default()
                },
                None => RunMeta::default(),
            },
            excludes: o.exclude.clone(),
            dry_run: o.dry_run,
            wildcard_port: (!o.no_detect_wildcard).then_some(o.wildcard_port),
            baseline: o.baseline.clone(),
            fail_on_drift: o.fail_on_drift,
            vantage_map: o.vantage_map.clone(),
            shard: o.shard,
            also: o.also.clone(),
            show_plan: true,
            max_input: o.input.max_input_size,
        }
    }
}
