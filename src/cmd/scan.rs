//! `telltale scan INVENTORY...`: arguments → validated config → load the inventories (capped,
//! interruptible) → the scan pipeline → exit.

use std::path::PathBuf;

use crate::cli::ScanArgs;
use crate::config::{Args, ScanConfig};
use crate::exit::Exit;
use crate::input;
use crate::inventory::Inventory;
use crate::scan;
use crate::shutdown::Shutdown;

/// Run `telltale scan`.
pub async fn run(a: ScanArgs, shutdown: Shutdown) -> Exit {
    let args = Args {
        probe: &a.probe,
        output: &a.output,
        pool: Some(&a.pool),
        audit: Some(&a.audit),
        input: Some(&a.input),
    };
    match ScanConfig::from_args(args) {
        Ok(cfg) => load_and_scan(a.inventories, cfg, shutdown).await,
        Err(m) => {
            eprintln!("telltale: {m}; nothing scanned");
            Exit::Usage
        }
    }
}

/// `scan`: load the inventories on a blocking thread (interruptible), then scan.
async fn load_and_scan(paths: Vec<PathBuf>, cfg: ScanConfig, shutdown: Shutdown) -> Exit {
    let once = paths.iter().chain(&cfg.baseline).map(PathBuf::as_path);
    if let Err(e) = input::stdin_at_most_once(once) {
        eprintln!("telltale: {e}; nothing scanned");
        return Exit::Usage;
    }
    let (ov, max) = (cfg.overrides, cfg.max_input);
    let load = move || Inventory::load_capped(&paths, ov, max);
    match input::interruptible(&shutdown, load).await {
        None => {
            eprintln!("telltale: interrupted while reading the inventory: nothing scanned");
            Exit::Incomplete
        }
        Some(Ok(inv)) => scan::run(inv, &cfg, shutdown).await,
        Some(Err(e)) if e.local => {
            eprintln!("telltale: {e}; nothing scanned");
            Exit::Incomplete
        }
        Some(Err(e)) => {
            eprintln!("telltale: {e}");
            eprintln!("telltale: inventory invalid: nothing scanned");
            Exit::Usage
        }
    }
}
