//! Command-line arguments (clap derive): the subcommands and their arguments here, the option
//! groups they share in [`opts`], value parsers in `values`. The core takes a
//! [`ScanConfig`](crate::config::ScanConfig), built and validated in [`crate::config`].

pub mod opts;
mod values;
pub mod wait;

pub use opts::{AuditOpts, Detect, InputOpts, OutputOpts, PoolOpts, ProbeOpts, TargetOpts};
use values::ExpectWords;

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Scan every host:port of inventories (YAML or plain lists, merged in order) and of targets
    /// given on the command line.
    #[command(after_long_help = crate::cmd::manual::scan_help())]
    Scan(ScanArgs),
    /// Wait until every target is as expected (a database open, an admin port blocked), probing
    /// again only those that are not; at the deadline, say why not and who to ask (exit 1).
    #[command(after_long_help = crate::cmd::manual::wait_help())]
    Wait(wait::WaitArgs),
    /// Probe one host's port(s) and explain, telnet-style, what happened and who to ask.
    #[command(after_long_help = crate::cmd::manual::probe_help())]
    Probe(ProbeArgs),
    /// Start built-in loopback services showing each verdict and scan targets.example.yaml against them.
    #[command(after_long_help = crate::cmd::manual::probe_help())]
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
    /// Inventory files (YAML, or a plain target list), `-` for stdin, or targets:
    /// `host:port`, `host:80,443`, `127.0.0.0/30:22-25`, `[::1]:8080`, a bare host with `-p`.
    #[arg(required = true, value_name = "INVENTORY|TARGET")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub target: TargetOpts,
    #[command(flatten)]
    pub probe: ProbeOpts,
    #[command(flatten)]
    pub output: OutputOpts,
    #[command(flatten)]
    pub pool: PoolOpts,
    #[command(flatten)]
    pub audit: AuditOpts,
    #[command(flatten)]
    pub input: InputOpts,
}

/// `telltale probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// What to probe: `host:port`, `host:80,443`, `[::1]:22`, or a bare host (a name, an IPv4
    /// or IPv6 address) followed by PORTS.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Ports of a bare TARGET: `22`, `80,443`, `8000-8010` (1-65535); one narrative per port.
    #[arg(value_name = "PORTS")]
    pub ports: Option<String>,
    /// Expected verdict(s) or alias, e.g. `blocked` or `open,refused`.
    #[arg(long, default_value = "open", value_parser = ExpectWords)]
    pub expect: String,
    #[command(flatten)]
    pub probe: ProbeOpts,
    #[command(flatten)]
    pub output: OutputOpts,
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
    #[arg(long, value_name = "OLD=NEW", value_parser = values::vantage_pair)]
    pub vantage_map: Vec<(String, String)>,
    #[command(flatten)]
    pub input: InputOpts,
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

/// `telltale demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub probe: ProbeOpts,
    #[command(flatten)]
    pub output: OutputOpts,
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
    /// Greet like an SMTP server whose client restrictions reject us (554), and hold.
    #[arg(long)]
    pub smtp_reject: Vec<String>,
    /// Say nothing, close after 3 s (a libwrap-denied sshd waits 5 s).
    #[arg(long)]
    pub slow_close: Vec<String>,
}
