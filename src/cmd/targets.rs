//! Loading what a scanning command (`scan`, `wait`) is told to probe: inventory files, `-`
//! (stdin), command-line targets and `--targets-file` lists, read on a blocking thread (capped,
//! interruptible) into one [`Inventory`]. Errors are printed here, once, positioned
//! (`telltale: FILE:LINE:COL: ...`), and nothing is probed.

use std::path::PathBuf;

use crate::cli::TargetOpts;
use crate::config::ScanConfig;
use crate::exit::Exit;
use crate::input;
use crate::inventory::Inventory;
use crate::shutdown::Shutdown;

/// Load every positional `INVENTORY|TARGET` argument of `cmd` (in order, then each
/// `--targets-file`) into one inventory. On bad input the error is printed on stderr with
/// `nothing scanned` (`scan`) or `nothing probed` (other commands) and the exit is
/// [`Exit::Usage`]; an interrupt or a local read error (file descriptors, memory) is
/// [`Exit::Incomplete`].
pub async fn load_targets(
    cmd: &str,
    args: Vec<String>,
    opts: &TargetOpts,
    cfg: &ScanConfig,
    shutdown: &Shutdown,
) -> Result<Inventory, Exit> {
    let nothing = if cmd == "scan" {
        "nothing scanned"
    } else {
        "nothing probed"
    };
    let paths: Vec<PathBuf> = args
        .into_iter()
        .map(PathBuf::from)
        .chain(opts.targets_file.iter().cloned())
        .collect();
    let once = paths.iter().chain(&cfg.baseline).map(PathBuf::as_path);
    if let Err(e) = input::stdin_at_most_once(once) {
        eprintln!("telltale: {e}; {nothing}");
        return Err(Exit::Usage);
    }
    let (ov, max) = (cfg.overrides, cfg.max_input);
    let load = move || Inventory::load_capped(&paths, ov, max);
    match input::interruptible(shutdown, load).await {
        None => {
            eprintln!("telltale: interrupted while reading the inventory: {nothing}");
            Err(Exit::Incomplete)
        }
        Some(Ok(inv)) => Ok(inv),
        Some(Err(e)) if e.local => {
            eprintln!("telltale: {e}; {nothing}");
            Err(Exit::Incomplete)
        }
        Some(Err(e)) => {
            eprintln!("telltale: {e}");
            eprintln!("telltale: inventory invalid: {nothing}");
            Err(Exit::Usage)
        }
    }
}
