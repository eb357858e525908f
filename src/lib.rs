//! telltale answers, for a whole inventory of host:port pairs at once, the question a sysadmin
//! asks with `telnet host port`: can I connect, and if not, why not?
//!
//! # Layout
//!
//! Data flows **inventory files ([`input`], [`inventory`]) → [`inventory::Target`]s → lazy
//! [`inventory::Probes`] → bounded [`pool`] (resolve: [`resolve`]; connect, linger: [`probe`]) →
//! [`record::Record`]s → one collector ([`scan`]) → [`report`] sinks (+ [`progress`]) →
//! [`exit::Exit`]**.
//!
//! The top layer, one room per command:
//! - [`cli`] — clap arguments, grouped so each subcommand shows only its own flags;
//!   [`config`] — the validated settings the core takes, and the defaults.
//! - [`cmd`] — `scan`, `wait`, `probe`, `demo`, `diff`, `merge`, `man`/`completions` and the hidden `lab`:
//!   each takes its arguments, runs, and returns an exit code. `app` only builds the runtime,
//!   wires the signals and dispatches.
//!
//! The core:
//! - [`scan`] — the pipeline: plan ([`scan::plan`]), pool, collector, wildcard checks, drift
//!   against a baseline, dry run.
//! - [`wait`] — the same pool, round after round, each target on its own clock until it is as
//!   expected or the deadline cuts it.
//! - [`input`] — reading inventory and report files: size cap, special files, stdin.
//! - [`inventory`] — YAML → typed, validated targets (errors with file:line:column), lazy expansion.
//! - [`resolve`] — system resolver, once per name, bounded.
//! - [`probe`] — one address:port: connect, linger, classify by errno ([`probe::classify`]).
//! - [`pool`] — the gate (global and per-address permits, rate), dispatch, cancellation.
//! - [`record`] — the result record (the NDJSON schema); [`verdict`] — verdicts and expectations.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod diff;
pub mod exit;
pub mod input;
pub mod inventory;
pub mod lab;
pub mod limits;
pub mod merge;
pub mod pool;
pub mod probe;
pub mod progress;
pub mod record;
pub mod report;
pub mod resolve;
pub mod scan;
pub mod service;
pub mod shard;
pub mod shutdown;
pub mod timing;
pub mod verdict;
pub mod wait;

mod app;

pub use app::main_with;
