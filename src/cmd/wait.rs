//! `telltale wait TARGET...`: arguments → validated config and wait plan → load the targets
//! (capped, interruptible) → [`crate::wait`] → exit.

use crate::cli::wait::WaitArgs;
use crate::config::{Args, ScanConfig};
use crate::exit::Exit;
use crate::shutdown::Shutdown;
use crate::wait::{self, Timing, WaitPlan};

/// Run `telltale wait`.
pub async fn run(a: WaitArgs, shutdown: Shutdown) -> Exit {
    let args = Args {
        probe: &a.probe,
        output: &a.output,
        pool: Some(&a.pool),
        audit: None,
        input: Some(&a.input),
    };
    let cfg = match ScanConfig::from_args(args) {
        Ok(cfg) => cfg,
        Err(m) => {
            eprintln!("telltale wait: {m}; nothing probed");
            return Exit::Usage;
        }
    };
    let plan = WaitPlan {
        deadline: a.wait.deadline,
        initial_delay: a.wait.initial_delay,
        timing: Timing {
            interval: a.wait.interval,
            max_interval: a.wait.max_interval,
            stable: a.wait.stable,
        },
    };
    match crate::cmd::load_targets("wait", a.targets, &a.target, &cfg, &shutdown).await {
        Ok(inv) => wait::run(inv, &cfg, plan, shutdown).await,
        Err(exit) => exit,
    }
}
