//! One room per subcommand: each file takes its parsed arguments, builds what the core needs
//! (a [`ScanConfig`](crate::config::ScanConfig), loaded reports), runs it and returns the
//! [`Exit`](crate::exit::Exit). The pipeline itself lives in [`crate::scan`], reading reports in
//! [`crate::report::read`], drift in [`crate::diff`], merging in [`crate::merge`].

pub mod demo;
pub mod diff;
pub mod lab;
pub mod manual;
pub mod merge;
pub mod probe;
pub mod scan;
pub mod targets;
pub mod wait;

pub use targets::load_targets;

use std::path::PathBuf;

use crate::diff::{DiffError, Report};
use crate::input;
use crate::shutdown::Shutdown;

/// Load reports on a blocking thread: `None` when interrupted (already reported).
pub(crate) async fn load_reports(
    cmd: &str,
    paths: &[PathBuf],
    max: u64,
    shutdown: &Shutdown,
) -> Option<Result<Vec<Report>, DiffError>> {
    if let Err(message) = input::stdin_at_most_once(paths.iter().map(PathBuf::as_path)) {
        return Some(Err(DiffError::Input(input::InputError {
            file: input::STDIN_LABEL.into(),
            line: 0,
            column: 0,
            message,
            local: false,
        })));
    }
    let paths = paths.to_vec();
    let load = move || {
        paths
            .iter()
            .map(|p| Report::load_capped(p, max))
            .collect::<Result<Vec<_>, _>>()
    };
    let loaded = input::interruptible(shutdown, load).await;
    if loaded.is_none() {
        eprintln!("telltale {cmd}: interrupted while reading the reports: nothing compared");
    }
    loaded
}
