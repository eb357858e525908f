//! From parsed arguments to an exit status: builds the runtime, wires SIGINT/SIGTERM to the
//! shutdown signal (first: stop and flush; second: exit at once), and hands the subcommand to
//! its room in [`crate::cmd`]. Nothing else lives here.

use std::time::Duration;

use crate::cli::{Cli, Command};
use crate::cmd;
use crate::exit::Exit;
use crate::shutdown::{self, Shutdown, Trigger};

/// Run the command; the runtime is shut down without waiting for stuck resolver threads.
pub fn main_with(cli: Cli) -> Exit {
    // The runtime's signal driver needs fds and tokio panics if it cannot get them: check first,
    // and catch the panic as a backstop (the check and the build can race other processes).
    if !crate::limits::fd_headroom(16) {
        eprintln!(
            "telltale: too few free file descriptors to start (a limit of this host, not of the inventory: raise `ulimit -n`); nothing scanned"
        );
        return Exit::Incomplete;
    }
    // One thread: probes are I/O-bound, and cross-thread wake-ups (a futex per record) cost
    // more CPU than the scan itself; stream outputs have their own writer thread (report::relay)
    // so a slow reader cannot stall the probes' timers.
    let build = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let rt = match std::panic::catch_unwind(build) {
        Ok(Ok(rt)) => rt,
        Ok(Err(e)) => {
            eprintln!("telltale: cannot start the runtime: {e}; nothing scanned");
            return Exit::Incomplete;
        }
        Err(_) => {
            eprintln!(
                "telltale: cannot start the runtime (out of file descriptors?); nothing scanned"
            );
            return Exit::Incomplete;
        }
    };
    let (trigger, shutdown) = shutdown::channel();
    watch_signals(trigger);
    let exit = rt.block_on(dispatch(cli, shutdown));
    // A hung getaddrinfo cannot be cancelled: do not wait for it.
    rt.shutdown_timeout(Duration::from_millis(100));
    exit
}

/// Watch SIGINT/SIGTERM on a thread of their own (with a runtime of its own), so that a write
/// blocked on a stalled reader in the main runtime's one thread never hides the second signal.
/// Returns once the handlers are installed.
fn watch_signals(trigger: Trigger) {
    let (ready, installed) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("telltale-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            else {
                return;
            };
            let listeners = {
                let _in_rt = rt.enter();
                use tokio::signal::unix::{SignalKind, signal};
                signal(SignalKind::interrupt())
                    .and_then(|i| Ok((i, signal(SignalKind::terminate())?)))
            };
            let _ = ready.send(());
            if let Ok((int, term)) = listeners {
                rt.block_on(on_signals(trigger, int, term));
            }
        });
    match spawned {
        Ok(_) => {
            let _ = installed.recv();
        }
        Err(e) => eprintln!("telltale: warning: cannot watch for signals ({e})"),
    }
}

async fn on_signals(
    trigger: Trigger,
    mut int: tokio::signal::unix::Signal,
    mut term: tokio::signal::unix::Signal,
) {
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    trigger.fire();
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    eprintln!("telltale: interrupted twice: exiting at once");
    crate::report::exit_now(130);
}

/// One subcommand, one room.
async fn dispatch(cli: Cli, shutdown: Shutdown) -> Exit {
    match cli.command {
        Command::Scan(a) => cmd::scan::run(a, shutdown).await,
        Command::Wait(a) => cmd::wait::run(a, shutdown).await,
        Command::Probe(a) => cmd::probe::run(a, shutdown).await,
        Command::Demo(a) => cmd::demo::run(a, shutdown).await,
        Command::Lab(a) => cmd::lab::run(a, shutdown).await,
        Command::Diff(a) => cmd::diff::run(a, shutdown).await,
        Command::Merge(a) => cmd::merge::run(a, shutdown).await,
        Command::Completions { shell } => cmd::manual::completions(shell),
        Command::Man(a) => cmd::manual::man(&a),
    }
}
