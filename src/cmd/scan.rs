//! `telltale scan [INVENTORY|TARGET]...`: arguments → validated config → load the targets
//! ([`super::load_targets`]: files, stdin, command-line targets; capped, interruptible) → the
//! scan pipeline → exit.

use crate::cli::ScanArgs;
use crate::config::{Args, ScanConfig};
use crate::exit::Exit;
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
    let cfg = match ScanConfig::from_args(args) {
        Ok(cfg) => cfg,
        Err(m) => {
            eprintln!("telltale: {m}; nothing scanned");
            return Exit::Usage;
        }
    };
    match super::load_targets("scan", a.targets, &a.target, &cfg, &shutdown).await {
        Ok(inv) => scan::run(inv, &cfg, shutdown).await,
        Err(exit) => exit,
    }
}
