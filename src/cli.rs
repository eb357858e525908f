//! Command-line arguments (clap derive). Only this module and `main` know about clap; the core
//! takes a [`ScanConfig`](crate::config::ScanConfig).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

/// Can I connect, and if not, why not? — telnet's answer for a whole inventory of host:port pairs.
#[derive(Debug, Parser)]
#[command(name = "telltale", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan every host:port of one or more YAML inventories (merged in order).
    #[command(after_long_help = crate::manual::scan_help())]
    Scan(ScanArgs),
    /// Probe one host:port and explain, telnet-style, what happened and who to ask.
    #[command(after_long_help = crate::manual::probe_help())]
    Probe(ProbeArgs),
    /// Start built-in loopback services showing each verdict and scan targets.example.yaml against them.
    #[command(after_long_help = crate::manual::probe_help())]
    Demo(DemoArgs),
    /// Compare two reports (NDJSON or JSON) and show what changed; exit 1 if anything did.
    Diff(DiffArgs),
    /// Merge reports: shards of one vantage into one report, several vantages into a
    /// source × target matrix (table, JSON, CSV, HTML); exit 1 if any cell is not as expected.
    Merge(MergeArgs),
    /// Print a shell completion script.
    Completions {
        /// Shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): the top page, one subcommand's, or all of them into a directory.
    Man(ManArgs),
    /// Serve loopback test services (for tests and benchmarks).
    #[command(hide = true)]
    Lab(LabArgs),
}

/// `telltale scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Inventory files (YAML; `-` reads stdin).
    #[arg(required = true, value_name = "INVENTORY")]
    pub inventories: Vec<PathBuf>,
    #[command(flatten)]
    pub opts: Opts,
}

/// `telltale probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Name, IPv4 or IPv6 address.
    pub host: String,
    /// Port (1-65535).
    #[arg(value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Expected verdict(s) or alias, e.g. `blocked` or `open,refused`.
    #[arg(long, default_value = "open", value_parser = ExpectWords)]
    pub expect: String,
    #[command(flatten)]
    pub opts: Opts,
}

/// `telltale diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier report (`-` reads stdin).
    pub old: PathBuf,
    /// The later report.
    pub new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::diff::DiffFormat::Table)]
    pub format: crate::diff::DiffFormat,
    /// Treat vantage OLD in the earlier report as vantage NEW (repeatable), e.g. after a rename.
    #[arg(long, value_name = "OLD=NEW", value_parser = vantage_pair)]
    pub vantage_map: Vec<(String, String)>,
    #[command(flatten)]
    pub input: InputOpts,
}

fn vantage_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
        _ => Err(format!("bad vantage map `{s}`, expected OLD=NEW")),
    }
}

/// `telltale merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports (NDJSON or JSON) from shards and/or vantages (`-` reads stdin).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::merge::MergeFormat::Table)]
    pub format: crate::merge::MergeFormat,
    /// Write the output to FILE instead of stdout (a regular file is replaced atomically, a
    /// device or FIFO written in place, a symlink followed; `-` is stdout).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Merge even when shards are missing (with a warning).
    #[arg(long)]
    pub allow_partial: bool,
    #[command(flatten)]
    pub input: InputOpts,
}

/// `telltale man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand whose page to print (e.g. `scan`); the top page without one.
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Option<String>,
    /// Write every page (telltale.1, telltale-scan.1, …) into DIR instead.
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    pub dir: Option<PathBuf>,
}

/// Parses `--expect`'s comma list, and offers the verdicts and aliases to shell completion.
#[derive(Clone, Copy, Debug)]
struct ExpectWords;

impl clap::builder::TypedValueParser for ExpectWords {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let text = clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)?;
        for w in text.split(',') {
            if let Err(e) = crate::verdict::Expect::parse_word(w) {
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::InvalidValue,
                    format!("invalid value '{text}' for '--expect': {e}\n"),
                )
                .with_cmd(cmd));
            }
        }
        Ok(text)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let verdicts = crate::verdict::Verdict::ALL
            .into_iter()
            .filter(|v| *v != crate::verdict::Verdict::Interrupted)
            .map(|v| clap::builder::PossibleValue::new(v.as_str()));
        let aliases = crate::verdict::ALIASES
            .into_iter()
            .map(|(a, _)| clap::builder::PossibleValue::new(a));
        Some(Box::new(verdicts.chain(aliases)))
    }
}

/// `telltale demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub opts: Opts,
}

/// `telltale lab` (hidden): PORTS are lists like `22,80,8000-8010`; 0 picks a free port.
#[derive(Debug, Args)]
pub struct LabArgs {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: IpAddr,
    /// Accept and hold, silent.
    #[arg(long)]
    pub open: Vec<String>,
    /// Accept, send an SSH-like banner, hold.
    #[arg(long)]
    pub banner: Vec<String>,
    /// Accept and close at once (FIN).
    #[arg(long)]
    pub closed: Vec<String>,
    /// Accept, send "Host is not allowed to connect", close.
    #[arg(long)]
    pub closed_msg: Vec<String>,
    /// Accept and reset (RST).
    #[arg(long)]
    pub reset: Vec<String>,
    /// Accept, send a banner, reset.
    #[arg(long)]
    pub banner_reset: Vec<String>,
    /// Bound but not listening: connects are refused.
    #[arg(long)]
    pub refused: Vec<String>,
    /// Accept queue full: SYNs dropped, connects time out.
    #[arg(long)]
    pub filtered: Vec<String>,
    /// Accept and send bytes forever.
    #[arg(long)]
    pub stream: Vec<String>,
    /// Alternate per connection: hold, then close at once (a flaky service).
    #[arg(long)]
    pub alternate: Vec<String>,
}

fn timeout(s: &str) -> Result<Duration, String> {
    crate::inventory::TIMEOUT.parse(s)
}

fn linger(s: &str) -> Result<Duration, String> {
    crate::inventory::LINGER.parse(s)
}

fn attempt_gap(s: &str) -> Result<Duration, String> {
    crate::inventory::ATTEMPT_GAP.parse(s)
}

fn size(s: &str) -> Result<u64, String> {
    crate::input::parse_size(s)
}

/// Cap on each input file, shared by scan (inventories, `--baseline`), diff and merge.
#[derive(Debug, Args, Clone)]
pub struct InputOpts {
    /// Refuse inventory and report files larger than SIZE (e.g. 64MiB, 512KiB, 1GiB; K/M/G are
    /// powers of 1024). Applies to inventories, --baseline and diff/merge reports.
    #[arg(long, value_name = "SIZE", value_parser = size, default_value = "64MiB")]
    pub max_input_size: u64,
}

fn shard(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("bad shard `{s}`, expected K/N with 1 <= K <= N, e.g. 2/4");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.trim().parse::<u32>().map_err(|_| bad())?,
        n.trim().parse::<u32>().map_err(|_| bad())?,
    );
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn also(s: &str) -> Result<(Format, PathBuf), String> {
    use clap::ValueEnum;
    let (f, path) = s
        .split_once('=')
        .ok_or_else(|| format!("bad --also `{s}`, expected FORMAT=FILE"))?;
    let format = Format::from_str(f, true).map_err(|_| {
        format!(
            "bad --also format `{f}`, expected one of table, ndjson, json, csv, junit, prometheus"
        )
    })?;
    if path.is_empty() {
        return Err(format!("bad --also `{s}`, expected FORMAT=FILE"));
    }
    Ok((format, PathBuf::from(path)))
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!("bad rate `{s}`, expected connects per second > 0")),
    }
}

/// Flags shared by scan, probe and demo.
#[derive(Debug, Args, Clone)]
pub struct Opts {
    /// Connect timeout (e.g. 3s, 500ms), 1ms to 1h. Overrides the inventory's `defaults:`; a
    /// target's own `timeout:` still wins. Below ~1.2s, ICMP answers that arrive after the
    /// kernel's first SYN retransmit (IPv6 rejects) read as `filtered`. [default: 3s]
    #[arg(long, value_parser = timeout, value_name = "DUR")]
    pub timeout: Option<Duration>,
    /// Linger window after connecting: how long to keep reading to see whether the peer closes
    /// or resets, 0 to 1h. 0 = connect-only (like nmap -sT). Precedence as --timeout.
    /// [default: 1s]
    #[arg(long, value_parser = linger, value_name = "DUR")]
    pub linger: Option<Duration>,
    /// Probes in flight at once (clamped to the file-descriptor budget).
    #[arg(short = 'c', long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Probes in flight per address: high enough for a one-host port sweep, low enough not to
    /// overflow a service's accept backlog or trip per-host rate limits and IDS.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub per_host: u32,
    /// New connects per second across the scan (default: unlimited).
    #[arg(long, value_parser = positive_rate, value_name = "PER_SEC")]
    pub rate: Option<f64>,
    /// Extra attempts for `filtered` and `local-error` outcomes only.
    #[arg(long, default_value_t = 1)]
    pub retries: u32,
    /// Output format [default: table; for `probe`, a telnet-style narrative unless a format is given].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Also write FORMAT to FILE (repeatable), from the same scan: e.g.
    /// `--also prometheus=/var/lib/node_exporter/textfile/telltale.prom`.
    #[arg(long, value_name = "FORMAT=FILE", value_parser = also)]
    pub also: Vec<(Format, PathBuf)>,
    /// Write the output to FILE instead of stdout: a regular file is replaced atomically (temp
    /// file in its directory, fsync, rename), a device or FIFO written in place, a symlink
    /// followed; `-` is stdout. Checked before the first probe.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Table: show every result, not only those not as expected.
    #[arg(long)]
    pub all: bool,
    /// Never draw the progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Allow inventories that expand to more than 1,048,576 probes.
    #[arg(long)]
    pub allow_large: bool,
    /// Name lookups in flight at once (getaddrinfo runs on blocking threads).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub dns_concurrency: u32,
    /// Label for where this scan runs from, written into every record [default: the hostname].
    #[arg(long, value_name = "LABEL")]
    pub vantage: Option<String>,
    /// Probe each address:port N times, --attempt-gap apart; the verdict is the majority and
    /// disagreeing attempts mark the result `flaky` (unlike --retries, which only re-probes
    /// `filtered`/`local-error`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: u32,
    /// Pause between --attempts, 0 to 1h.
    #[arg(long, value_parser = attempt_gap, value_name = "DUR", default_value = "200ms")]
    pub attempt_gap: Duration,
    /// Never probe this address, CIDR block or name (repeatable); applied after expansion, and to
    /// the addresses names resolve to. Adds to the inventory's `exclude:` list.
    #[arg(long, value_name = "CIDR|HOST")]
    pub exclude: Vec<String>,
    /// Print the expanded probe list and the time estimate; send nothing (not even DNS), exit 0.
    #[arg(long)]
    pub dry_run: bool,
    /// Probe the wildcard-check port on each host with open results (on by default).
    #[arg(long, overrides_with = "no_detect_wildcard")]
    pub detect_wildcard: bool,
    /// Do not probe the wildcard-check port on hosts with open results.
    #[arg(long, overrides_with = "detect_wildcard")]
    pub no_detect_wildcard: bool,
    /// Port that no service should use, probed on each host with open results; if it is open
    /// too, that host's open results are flagged `wildcard` (a SYN proxy, CDN or port forwarder
    /// answering everything).
    #[arg(long, default_value_t = 65521, value_parser = clap::value_parser!(u16).range(1..))]
    pub wildcard_port: u16,
    /// Compare this run with an earlier report (NDJSON or JSON) and print the drift under the
    /// table; the exit code stays the scan's unless --fail-on-drift.
    #[arg(long, value_name = "REPORT")]
    pub baseline: Option<PathBuf>,
    /// Scan only shard K of N (1 ≤ K ≤ N): a deterministic, probe-level slice of the expanded
    /// inventory; the N shards are disjoint and together are exactly the full scan.
    #[arg(long, value_name = "K/N", value_parser = shard)]
    pub shard: Option<(u32, u32)>,
    /// With --baseline: exit 1 when anything drifted (unless the scan itself exits 2 or 3).
    #[arg(long, requires = "baseline")]
    pub fail_on_drift: bool,
    /// With --baseline: treat the baseline's vantage OLD as this scan's vantage NEW (repeatable),
    /// to compare across vantages; checked before anything is scanned.
    #[arg(long, value_name = "OLD=NEW", value_parser = vantage_pair, requires = "baseline")]
    pub vantage_map: Vec<(String, String)>,
    #[command(flatten)]
    pub input: InputOpts,
}
