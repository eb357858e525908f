//! `telltale wait`'s arguments: the targets, the timing of the wait (`--deadline`,
//! `--interval`, `--max-interval`, `--stable`, `--initial-delay`), and the option groups it
//! shares with `scan`. The wait itself is [`crate::wait`].

use std::time::Duration;

use clap::Args;

use super::opts::{InputOpts, OutputOpts, PoolOpts, ProbeOpts, TargetOpts};
use crate::inventory::Bounds;

/// Default `--deadline`.
pub const DEFAULT_DEADLINE: &str = "5m";
/// Default `--interval`: the pause between two probes of a target that is not ready.
pub const DEFAULT_INTERVAL: &str = "2s";
/// Default `--max-interval`: the cap of the backoff.
pub const DEFAULT_MAX_INTERVAL: &str = "10s";

/// `--deadline`: 1 ms to a day.
const DEADLINE: Bounds = Bounds {
    key: "deadline",
    min: Duration::from_millis(1),
    max: Duration::from_secs(24 * 3600),
};

/// `--interval`, `--max-interval`: 10 ms to an hour (no faster: a wait must not hammer the
/// target).
const INTERVAL: Bounds = Bounds {
    key: "interval",
    min: Duration::from_millis(10),
    max: Duration::from_secs(3600),
};

/// `--initial-delay`: 0 to an hour.
const INITIAL_DELAY: Bounds = Bounds {
    key: "initial-delay",
    min: Duration::ZERO,
    max: Duration::from_secs(3600),
};

fn deadline(s: &str) -> Result<Duration, String> {
    DEADLINE.parse(s)
}

fn interval(s: &str) -> Result<Duration, String> {
    INTERVAL.parse(s)
}

fn initial_delay(s: &str) -> Result<Duration, String> {
    INITIAL_DELAY.parse(s)
}

/// `telltale wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// What to wait for: inventory files (`-` reads stdin), or targets such as `db:5432`,
    /// `web:80,443`, `[::1]:8080`.
    #[arg(required = true, value_name = "INVENTORY|TARGET")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub wait: WaitOpts,
    #[command(flatten)]
    pub target: TargetOpts,
    #[command(flatten)]
    pub probe: ProbeOpts,
    #[command(flatten)]
    pub output: OutputOpts,
    #[command(flatten)]
    pub pool: PoolOpts,
    #[command(flatten)]
    pub input: InputOpts,
}

/// How long and how often `wait` probes.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Waiting")]
pub struct WaitOpts {
    /// Give up after this long (e.g. 90s, 5m): a hard bound, probes in flight then are cut and
    /// reported; exit 1 if anything is not as expected by then.
    #[arg(long, value_parser = deadline, value_name = "DUR", default_value = DEFAULT_DEADLINE)]
    pub deadline: Duration,
    /// Pause between two probes of a target that is not yet as expected (start to start); it
    /// grows by half each time the verdict stays the same, up to --max-interval.
    #[arg(long, value_parser = interval, value_name = "DUR", default_value = DEFAULT_INTERVAL)]
    pub interval: Duration,
    /// Cap of the growing pause.
    #[arg(long, value_parser = interval, value_name = "DUR", default_value = DEFAULT_MAX_INTERVAL)]
    pub max_interval: Duration,
    /// A target is ready after N as-expected results in a row (--interval apart), so a flapping
    /// service does not pass on one good round.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub stable: u32,
    /// Wait this long before the first probe (counts toward --deadline).
    #[arg(long, value_parser = initial_delay, value_name = "DUR", default_value = "0s")]
    pub initial_delay: Duration,
}
