//! The only bridge from the command line to the core: [`ScanConfig`], built from the option
//! groups of [`crate::cli`] by [`ScanConfig::from_args`], which validates every setting that can
//! be checked without the inventory (exclude syntax, format choices) so a bad command line is an
//! error before anything is read or sent. The defaults live here; `--help` reads them.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{AuditOpts, InputOpts, OutputOpts, PoolOpts, ProbeOpts};
use crate::inventory::{Excludes, Overrides};
use crate::pool::Limits;
use crate::record::RunMeta;
use crate::report::{Format, TableOptions};

/// Probes in flight at once (`-c`), before the clamp to the fd budget.
pub const DEFAULT_CONCURRENCY: u32 = 1024;
/// Probes in flight per address (`--per-host`).
pub const DEFAULT_PER_HOST: u32 = 256;
/// Extra attempts for `filtered`/`local-error` (`--retries`).
pub const DEFAULT_RETRIES: u32 = 1;
/// Name lookups in flight (`--dns-concurrency`).
pub const DEFAULT_DNS_CONCURRENCY: u32 = 8;
/// Pause between `--attempts`, as written on the command line.
pub const DEFAULT_ATTEMPT_GAP: &str = "200ms";
/// How long a silent service connection is watched, as written on the command line (the
/// value of [`crate::service::policy::DEFAULT_GREETING_WAIT`]).
pub const DEFAULT_GREETING_WAIT: &str = "8s";
/// The port probed for accept-all detection: above Linux's ephemeral range, unassigned.
pub const DEFAULT_WILDCARD_PORT: u16 = 65521;

impl Default for Limits {
    /// The command line's defaults.
    fn default() -> Self {
        Limits {
            concurrency: DEFAULT_CONCURRENCY as usize,
            per_host: DEFAULT_PER_HOST as usize,
            rate: None,
            retries: DEFAULT_RETRIES,
            dns_concurrency: DEFAULT_DNS_CONCURRENCY as usize,
            attempts: 1,
            attempt_gap: Duration::from_millis(200),
            services: crate::service::policy::Policy::default(),
            source: None,
            timing: crate::timing::Mode::default(),
        }
    }
}

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
    /// `--exclude` entries (each already checked to parse).
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

/// The option groups one subcommand has (scan has them all; probe and demo the first two).
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    /// How each probe is made.
    pub probe: &'a ProbeOpts,
    /// Where results go.
    pub output: &'a OutputOpts,
    /// Concurrency and rate (scan only).
    pub pool: Option<&'a PoolOpts>,
    /// Which probes, self-checks, baseline (scan only).
    pub audit: Option<&'a AuditOpts>,
    /// Input size cap (scan only).
    pub input: Option<&'a InputOpts>,
}

impl<'a> Args<'a> {
    /// The groups of `probe` and `demo`: probing and output only.
    pub fn probing(probe: &'a ProbeOpts, output: &'a OutputOpts) -> Args<'a> {
        Args {
            probe,
            output,
            pool: None,
            audit: None,
            input: None,
        }
    }
}

impl ScanConfig {
    /// Build and validate the settings; the error names the flag and what was expected.
    pub fn from_args(a: Args<'_>) -> Result<ScanConfig, String> {
        let mut c = ScanConfig::default();
        apply_probe(&mut c, a.probe);
        apply_output(&mut c, a.output);
        if let Some(p) = a.pool {
            c.limits.concurrency = p.concurrency as usize;
            c.limits.per_host = p.per_host as usize;
            c.limits.rate = p.rate;
            c.limits.dns_concurrency = p.dns_concurrency as usize;
        }
        if let Some(au) = a.audit {
            apply_audit(&mut c, au)?;
        }
        if let Some(i) = a.input {
            c.max_input = i.max_input_size;
        }
        Ok(c)
    }
}

fn apply_probe(c: &mut ScanConfig, p: &ProbeOpts) {
    c.overrides = Overrides {
        timeout: p.timeout,
        linger: p.linger,
    };
    c.limits.retries = p.retries;
    c.limits.attempts = p.attempts;
    c.limits.attempt_gap = p.attempt_gap;
    c.limits.services = crate::service::policy::Policy {
        detect: p.service_detect == crate::cli::Detect::Auto,
        style: p.style,
        greeting_wait: p.greeting_wait,
        hello: p.hello,
    };
    c.meta.cert_min_days = p.cert_min_days;
    c.limits.source = p.source;
    c.limits.timing = p.timing;
    if let Some(v) = &p.vantage {
        c.meta.vantage = v.as_str().into();
    }
}

fn apply_output(c: &mut ScanConfig, o: &OutputOpts) {
    c.format = o.format.unwrap_or(Format::Table);
    c.output = o.output.clone();
    c.also = o.also.clone();
    c.table = TableOptions {
        all: o.all,
        color: o.color,
    };
    c.progress = !o.no_progress;
}

fn apply_audit(c: &mut ScanConfig, a: &AuditOpts) -> Result<(), String> {
    let mut scratch = Excludes::default();
    for e in &a.exclude {
        scratch.add(e).map_err(|m| format!("--exclude: {m}"))?;
    }
    c.allow_large = a.allow_large;
    c.excludes = a.exclude.clone();
    c.dry_run = a.dry_run;
    c.wildcard_port = (!a.no_detect_wildcard).then_some(a.wildcard_port);
    c.baseline = a.baseline.clone();
    c.fail_on_drift = a.fail_on_drift;
    c.vantage_map = a.vantage_map.clone();
    c.shard = a.shard;
    Ok(())
}
