//! `telltale wait TARGET...`: arguments → validated config and wait plan → load the targets
//! (capped, interruptible) → [`crate::wait`] → exit.

use std::path::PathBuf;

use crate::cli::wait::WaitArgs;
use crate::config::{Args, ScanConfig};
use crate::exit::Exit;
use crate::input;
use crate::inventory::Inventory;
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
    match load(a.targets, &cfg, &shutdown).await {
        Ok(inv) => wait::run(inv, &cfg, plan, shutdown).await,
        Err(exit) => exit,
    }
}

/// Load the inventories on a blocking thread (interruptible); errors are printed here.
async fn load(
    paths: Vec<PathBuf>,
    cfg: &ScanConfig,
    shutdown: &Shutdown,
) -> Result<Inventory, Exit> {
    if let Err(e) = input::stdin_at_most_once(paths.iter().map(PathBuf::as_path)) {
        eprintln!("telltale wait: {e}; nothing probed");
        return Err(Exit::Usage);
    }
    let (ov, max) = (cfg.overrides, cfg.max_input);
    let load = move || Inventory::load_capped(&paths, ov, max);
    match input::interruptible(shutdown, load).await {
        None => {
            eprintln!("telltale wait: interrupted while reading the inventory: nothing probed");
            Err(Exit::Incomplete)
        }
        Some(Ok(inv)) => Ok(inv),
        Some(Err(e)) if e.local => {
            eprintln!("telltale wait: {e}; nothing probed");
            Err(Exit::Incomplete)
        }
        Some(Err(e)) => {
            eprintln!("telltale wait: {e}");
            eprintln!("telltale wait: inventory invalid: nothing probed");
            Err(Exit::Usage)
        }
    }
}
