//! `telltale merge REPORT...`: load the reports (capped, interruptible), merge shards and
//! vantages, render the matrix to stdout or `-o` (resolved by the output rules).

use crate::cli::MergeArgs;
use crate::exit::Exit;
use crate::report::{Output, Target};
use crate::shutdown::Shutdown;

/// Run `telltale merge REPORT...`.
pub async fn run(a: MergeArgs, shutdown: Shutdown) -> Exit {
    let shutdown = &shutdown;
    let loaded = super::load_reports("merge", &a.reports, a.input.max_input_size, shutdown).await;
    let merged = match loaded {
        None => return Exit::Incomplete,
        Some(r) => r
            .map_err(crate::merge::MergeError::from)
            .and_then(|r| crate::merge::merge_reports(r, a.allow_partial)),
    };
    let m = match merged {
        Ok(m) => m,
        Err(e) => {
            eprintln!("telltale merge: {e}");
            return Exit::Usage;
        }
    };
    for w in &m.warnings {
        eprintln!("telltale merge: warning: {w}");
    }
    let mut out = match &a.output {
        Some(p) => match open_output(p, shutdown).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("telltale merge: -o {}: {e}", p.display());
                return if e.kind() == std::io::ErrorKind::Interrupted {
                    Exit::Incomplete
                } else {
                    Exit::Usage
                };
            }
        },
        None => Output::stdout(),
    };
    let written = crate::merge::render(&m, a.format, &mut out).and_then(|()| out.commit());
    let ok = if m.mismatches > 0 {
        Exit::Mismatch
    } else {
        Exit::Ok
    };
    crate::exit::after_write("telltale merge", written, ok)
}

/// Resolve `-o PATH` by the output rules ([`Target::resolve`]) and open it.
async fn open_output(p: &std::path::Path, shutdown: &Shutdown) -> std::io::Result<Output> {
    Output::open(&Target::resolve(p)?, shutdown).await
}
