//! Option groups, each flattened into the subcommands it applies to, so every subcommand's
//! `--help` lists only its own flags: [`ProbeOpts`] and [`OutputOpts`] (scan, probe, demo),
//! [`PoolOpts`] and [`AuditOpts`] (scan), [`InputOpts`] (scan, diff, merge), [`TargetOpts`]
//! (scan, wait). Defaults come from [`crate::config`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::values::{
    ExpectWords, also, attempt_gap, greeting_wait, linger, port_list, positive_rate, shard, size,
    source, timeout, vantage_pair,
};
use crate::config;
use crate::inventory::PortSet;
use crate::report::{ColorChoice, Format};
use crate::service::policy::Style;

/// How each probe is made (scan, probe, demo).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Probing")]
pub struct ProbeOpts {
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
    /// Extra attempts for `filtered` and `local-error` outcomes only.
    #[arg(long, default_value_t = config::DEFAULT_RETRIES)]
    pub retries: u32,
    /// Probe each address:port N times, --attempt-gap apart; the verdict is the majority and
    /// disagreeing attempts mark the result `flaky` (unlike --retries, which only re-probes
    /// `filtered`/`local-error`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub attempts: u32,
    /// Pause between --attempts, 0 to 1h.
    #[arg(long, value_parser = attempt_gap, value_name = "DUR", default_value = config::DEFAULT_ATTEMPT_GAP)]
    pub attempt_gap: Duration,
    /// Label for where this scan runs from, written into every record [default: the hostname].
    #[arg(long, value_name = "LABEL")]
    pub vantage: Option<String>,
    /// What a probe does after the handshake: `service` reads the service's greeting and
    /// refusals and says goodbye politely; `linger` is plain TCP (linger, then RST); `connect`
    /// closes at once with a RST (sees no access rule after the handshake). README: "Beyond
    /// the handshake" lists what each style sees and leaves in the daemons' logs.
    #[arg(long, value_enum, default_value_t = Style::Service)]
    pub style: Style,
    /// Pick the service from the well-known-port table (22 ssh, 25 smtp, 3306 mysql, ...);
    /// `off` speaks plain TCP unless a target names its `service:`.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Detect::Auto)]
    pub service_detect: Detect,
    /// How long a service connection that stays silent is watched before it counts as up:
    /// long enough for libwrap's 5 s refusal, 0 to 1h.
    #[arg(long, value_parser = greeting_wait, value_name = "DUR", default_value = config::DEFAULT_GREETING_WAIT)]
    pub greeting_wait: Duration,
    /// Send the client's first message to client-speaks-first services (HTTP GET, TLS
    /// ClientHello, PostgreSQL StartupMessage, Redis PING); per target: `hello: true`.
    #[arg(long)]
    pub hello: bool,
    /// A TLS certificate (with --hello) that expires in fewer than N days is not as expected;
    /// per target: `cert_min_days: N`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub cert_min_days: Option<u32>,
    /// Bind every probe to this local address (IPv4 or IPv6) before connecting: for a
    /// multi-homed scanner, or to test rules on the source address; per target: `source:`,
    /// which wins. An address that is not this machine's, or of the other family than the
    /// target's, is a `local-error` (no packet sent), never a verdict.
    #[arg(long, value_name = "ADDR", value_parser = source)]
    pub source: Option<std::net::IpAddr>,
    /// How long a connect waits: `fixed` waits the full --timeout for every silent port;
    /// `auto` waits srtt + 4·rttvar of the address's measured round trip (at least 100ms, at
    /// most --timeout), confirms a silent port with a second SYN before `filtered`, and falls
    /// back to the full --timeout where there is no answer yet, jitter, a late answer or
    /// local pressure.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = crate::timing::Mode::default())]
    pub timing: crate::timing::Mode,
}

/// `--service-detect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Detect {
    /// The well-known-port table.
    Auto,
    /// Plain TCP unless a target names its service.
    Off,
}

/// Where the results go and how they look (scan, probe, demo).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Output")]
pub struct OutputOpts {
    /// Output format [default: table; for `probe`, a telnet-style narrative unless a format is given].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the output to FILE instead of stdout: a regular file is replaced atomically (temp
    /// file in its directory, fsync, rename), a device or FIFO written in place, a symlink
    /// followed; `-` is stdout. Checked before the first probe.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write FORMAT to FILE (repeatable), from the same scan: e.g.
    /// `--also prometheus=/var/lib/node_exporter/textfile/telltale.prom`.
    #[arg(long, value_name = "FORMAT=FILE", value_parser = also)]
    pub also: Vec<(Format, PathBuf)>,
    /// Table: show every result, not only those not as expected.
    #[arg(long)]
    pub all: bool,
    /// Never draw the progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Colour the table's verdicts: auto = only when stdout is a terminal and NO_COLOR is unset
    /// or empty. On a terminal the table also fits its width; piped or in a file, rows are whole.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// How many probes at once, and how fast (scan).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Pace")]
pub struct PoolOpts {
    /// Probes in flight at once (clamped to the file-descriptor budget).
    #[arg(short = 'c', long, default_value_t = config::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Probes in flight per address: high enough for a one-host port sweep, low enough not to
    /// overflow a service's accept backlog or trip per-host rate limits and IDS.
    #[arg(long, default_value_t = config::DEFAULT_PER_HOST, value_parser = clap::value_parser!(u32).range(1..))]
    pub per_host: u32,
    /// New connects per second across the scan (default: unlimited).
    #[arg(long, value_parser = positive_rate, value_name = "PER_SEC")]
    pub rate: Option<f64>,
    /// Name lookups in flight at once (getaddrinfo runs on blocking threads).
    #[arg(long, default_value_t = config::DEFAULT_DNS_CONCURRENCY, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub dns_concurrency: u32,
}

/// Which probes run, self-checks and comparison with an earlier report (scan).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Audit")]
pub struct AuditOpts {
    /// Allow inventories that expand to more than 1,048,576 probes.
    #[arg(long)]
    pub allow_large: bool,
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
    #[arg(long, default_value_t = config::DEFAULT_WILDCARD_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub wildcard_port: u16,
    /// Scan only shard K of N (1 ≤ K ≤ N): a deterministic, probe-level slice of the expanded
    /// inventory; the N shards are disjoint and together are exactly the full scan.
    #[arg(long, value_name = "K/N", value_parser = shard)]
    pub shard: Option<(u32, u32)>,
    /// Compare this run with an earlier report (NDJSON or JSON) and print the drift under the
    /// table; the exit code stays the scan's unless --fail-on-drift.
    #[arg(long, value_name = "REPORT")]
    pub baseline: Option<PathBuf>,
    /// With --baseline: exit 1 when anything drifted (unless the scan itself exits 2 or 3).
    #[arg(long, requires = "baseline")]
    pub fail_on_drift: bool,
    /// With --baseline: treat the baseline's vantage OLD as this scan's vantage NEW (repeatable),
    /// to compare across vantages; checked before anything is scanned.
    #[arg(long, value_name = "OLD=NEW", value_parser = vantage_pair, requires = "baseline")]
    pub vantage_map: Vec<(String, String)>,
}

/// Cap on each input file, shared by scan (inventories, `--baseline`), diff and merge.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Input")]
pub struct InputOpts {
    /// Refuse inventory and report files larger than SIZE (e.g. 64MiB, 512KiB, 1GiB; K/M/G are
    /// powers of 1024). Applies to inventories, --baseline and diff/merge reports.
    #[arg(long, value_name = "SIZE", value_parser = size, default_value = "64MiB")]
    pub max_input_size: u64,
}

/// Targets given without an inventory file (scan, wait): what bare hosts and lines without an
/// expectation take, and plain target lists. The positional `INVENTORY|TARGET` arguments stay in
/// each command's own arguments; [`crate::cmd::load_targets`] reads them all.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Targets")]
pub struct TargetOpts {
    /// Ports for bare hosts (a HOST without `:PORT`, on the command line or in a plain list),
    /// e.g. `22,80,8000-8010`; a target's own `:PORTS` wins.
    #[arg(short = 'p', long, value_name = "LIST", value_parser = port_list)]
    pub ports: Option<PortSet>,
    /// Expected verdict(s) or alias of targets that state none: command-line targets, plain-list
    /// lines without words, inventory entries without `expect:` in a file without
    /// `defaults: expect:` [default: open].
    #[arg(long, value_name = "WORDS", value_parser = ExpectWords)]
    pub expect: Option<String>,
    /// Read a plain target list from FILE (repeatable; `-` is stdin): one target per line,
    /// optional expectation words after it, `#` comments.
    #[arg(long, value_name = "FILE")]
    pub targets_file: Vec<PathBuf>,
}
