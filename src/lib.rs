//! telltale answers, for a whole inventory of host:port pairs at once, the question a sysadmin
//! asks with `telnet host port`: can I connect, and if not, why not?
//!
//! # Layout
//!
//! Data flows **inventory files → [`inventory::Target`]s → lazy [`inventory::Probes`] →
//! bounded [`pool`] (resolve, connect, linger: [`probe`]) → [`record::Record`]s → one collector
//! ([`run`]) → [`report`] sinks (+ [`progress`]) → [`exit::Exit`]**.
//!
//! - [`cli`] — clap arguments; [`config`] — the validated settings the core takes.
//! - [`input`] — reading inventory and report files: size cap, special files, stdin.
//! - [`inventory`] — YAML → typed, validated targets (errors with file:line:column), lazy expansion.
//! - [`resolve`] — system resolver, once per name, bounded.
//! - [`probe`] — one address:port: connect, linger, classify by errno ([`probe::classify`]).
//! - [`pool`] — global and per-address permits, rate limit, retries, cancellation.
//! - [`record`] — the result record (the NDJSON schema); [`verdict`] — verdicts and expectations.
//! - [`report`] — table, NDJSON, JSON, CSV, JUnit, atomic output files.
//! - [`lab`] / [`demo`] — loopback services that produce each verdict.
//! - [`shutdown`] — the injected stop signal; [`limits`] — the fd budget; [`exit`] — exit codes;
//!   [`shard`] — the `--shard K/N` arithmetic.

pub mod cli;
pub mod config;
pub mod demo;
pub mod diff;
pub mod dry_run;
pub mod exit;
pub mod input;
pub mod inventory;
pub mod lab;
pub mod limits;
pub mod manual;
pub mod merge;
pub mod plan;
pub mod pool;
pub mod probe;
pub mod progress;
pub mod record;
pub mod report;
pub mod resolve;
pub mod run;
pub mod shard;
pub mod shutdown;
pub mod verdict;

mod app;

pub use app::main_with;
