//! Shared harness for the end-to-end tests: the `telltale` binary, a loopback `Lab` fixture
//! (`telltale lab`), temporary inventories, a runner that never hangs a test, the
//! network-namespace runner (`NsSpec`, `Ns`) with its shell helpers in `tests/lab/`, and the
//! record schema every record read back is validated against.
//!
//! Every address used here is a loopback literal; nothing resolves outside names. Namespace
//! scripts run in fresh `unshare -rnmpf` namespaces where only `lo` exists.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::time::Duration;

mod files;
mod lab;
mod netns;
mod records;
mod run;
mod schema;

pub mod daemons;
pub mod examples;
pub mod fleet;
pub mod kernel;
pub mod reports;

pub use files::*;
pub use lab::*;
pub use netns::*;
pub use records::*;
pub use run::*;
pub use schema::*;

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_telltale");

/// Upper bound for any single command started by a test (a hang guard, not a speed target).
pub const HANG_GUARD: Duration = Duration::from_secs(30);
