//! The inventory: YAML files → validated [`Target`]s → a lazy stream of [`Probe`]s.
//!
//! This module holds the validated model ([`Target`], [`Inventory`], [`Overrides`]) and the load
//! flow: each file's text is bounded in nesting (`depth`) before serde_yaml sees it, parsed into
//! its serde model (`raw`, where every value is checked in its visitor so that each error names
//! file, line and column), then resolved here (defaults, flags, exclusions) into targets.
//! serde_yaml is used under `raw` only; its errors are positioned in `error` and put in the
//! user's words in `wording`.
//!
//! Targets can also be written as text: one command-line argument (`args`: `db:5432`,
//! `[::1]:22`, `127.0.0.0/30:22-25`, a bare host with `-p`) or a plain list, one per line
//! (`list`, which also tells a plain list from YAML). Every target records its `origin`: the
//! YAML entry's `FILE:LINE` (`lines`), `argv[N]`, `stdin:LINE` or the list's `FILE:LINE`.
//!
//! Submodules: `raw` (the file as written), `host`, `ports`, `duration` (values), `depth`
//! (nesting pre-scan), `lines` (entry lines), `error` (positions), `wording` (messages),
//! `dedup` (repeated ports and their warnings), `excludes`, `expand` (lazy probes), `query`
//! (counts, shards, size check, digest), `args` and `list` (targets as text).

mod args;
mod dedup;
mod depth;
mod duration;
mod error;
mod excludes;
mod expand;
mod host;
mod lines;
mod list;
mod ports;
mod query;
mod raw;
mod wording;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use args::parse as parse_target;
pub use args::{ARG_SHAPES, BadTarget, COMMAND_LINE, Fallback, Written, looks_like_path};
pub use depth::MAX_DEPTH;
pub use duration::{ATTEMPT_GAP, Bounds, GREETING_WAIT, LINGER, TIMEOUT, parse_duration};
pub use error::InventoryError;
pub use excludes::Excludes;
pub use expand::{Probe, Probes};
pub use host::Host;
pub use list::looks_like_yaml;
pub use ports::{PortSet, parse_list as parse_port_list};

use crate::input;
use crate::service::Service;
use crate::verdict::{Expect, ExpectSpec};

/// Inventories expanding to more probes than this are refused unless `--allow-large`.
pub const LARGE_INVENTORY: u128 = 1 << 20;

/// Built-in connect timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Built-in linger window.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(1);

/// Settings from the command line that override each file's `defaults:` (per-target keys still win).
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides {
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--linger`.
    pub linger: Option<Duration>,
}

/// One validated inventory entry with its settings resolved.
#[derive(Debug)]
pub struct Target {
    /// File it came from.
    pub file: Arc<str>,
    /// Position of the entry in its file's `targets:` list (0-based).
    pub index: usize,
    /// Where the target was written: `FILE:LINE` of its YAML list entry or plain-list line,
    /// `stdin:LINE`, or `argv[N]` (the N-th positional argument of the command, from 1).
    pub origin: Arc<str>,
    /// Optional label.
    pub name: Option<Arc<str>>,
    /// What to probe.
    pub host: Host,
    /// The host as written (after normalisation), shared by every record.
    pub host_label: Arc<str>,
    /// Ports to probe.
    pub ports: PortSet,
    /// Acceptable verdicts.
    pub expect: ExpectSpec,
    /// Free-form labels copied into every record.
    pub tags: Arc<[String]>,
    /// Connect timeout.
    pub timeout: Duration,
    /// Linger window (zero = connect-only).
    pub linger: Duration,
    /// A positive control: must be as expected, or blocked-type verdicts of the run are untrusted.
    pub control: bool,
    /// Index of this target's first probe in the whole inventory's expansion order.
    pub first_index: u128,
    /// `service:`; None = the well-known-port table (or `--service-detect off`).
    pub service: Option<Service>,
    /// `hello:`; None = the run's `--hello`.
    pub hello: Option<bool>,
    /// `cert_min_days:`; None = the run's `--cert-min-days`.
    pub cert_min_days: Option<u32>,
}

impl Target {
    /// Probes this entry stands for (names count one address per port).
    pub fn probe_count(&self) -> u128 {
        self.host
            .address_count()
            .saturating_mul(u128::from(self.ports.len()))
    }
}

/// All targets of all inventory files, in order.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Entries, in file order then list order.
    pub targets: Vec<Arc<Target>>,
    /// Non-fatal findings (duplicates), to print on stderr.
    pub warnings: Vec<String>,
    /// Addresses, blocks and names never probed (`exclude:` of every file plus `--exclude`).
    pub excludes: Excludes,
    /// Every file's text, in order, for the inventory digest.
    digest_input: Vec<u8>,
    /// `--shard K/N`: only probes whose index is K-1 modulo N.
    shard: Option<(u32, u32)>,
    /// Entries whose own port list repeats ports (warned about up to a cap).
    listed_twice: usize,
    /// Bare hosts that took their ports from `-p/--ports`.
    took_ports: usize,
    /// `--expect`: the expectation of YAML entries without `expect:` in a file without
    /// `defaults: expect:` (None: `open`).
    fallback_expect: Option<Expect>,
}

impl Inventory {
    /// Load and merge several files in order (`-` = stdin), each at most
    /// [`input::DEFAULT_MAX_INPUT`] bytes.
    pub fn load(paths: &[impl AsRef<Path>], ov: Overrides) -> Result<Inventory, InventoryError> {
        Inventory::load_capped(paths, ov, input::DEFAULT_MAX_INPUT)
    }

    /// Load and merge several files in order (`-` = stdin), refusing any file over `max` bytes.
    pub fn load_capped(
        paths: &[impl AsRef<Path>],
        ov: Overrides,
        max: u64,
    ) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory::default();
        for p in paths {
            let file = input::read(p.as_ref(), max)?;
            inv.add_text(&file.label, &file.text, ov)?;
        }
        inv.dedupe();
        Ok(inv)
    }

    /// Parse one file's text and append its targets.
    pub fn add_text(
        &mut self,
        file: &str,
        text: &str,
        ov: Overrides,
    ) -> Result<(), InventoryError> {
        // Bound the nesting before libyaml sees it: its cost grows with the square of the depth.
        // The same walk finds the line of each target's entry.
        let mut entry_lines = lines::EntryLines::default();
        depth::check_marking(text, |m| entry_lines.see(m)).map_err(|e| InventoryError {
            file: file.to_string(),
            line: e.line,
            column: e.column,
            message: e.message(),
            local: false,
        })?;
        let raw = raw::parse(file, text)?;
        let at = entry_lines.finish(raw.targets.len());
        let label = list::origin_label(file).to_string();
        for e in raw.exclude {
            self.excludes.add(&e).map_err(|message| InventoryError {
                file: file.to_string(),
                line: 0,
                column: 0,
                message,
                local: false,
            })?;
        }
        let file: Arc<str> = Arc::from(file);
        let defaults = raw.defaults.unwrap_or_default();
        let timeout = ov
            .timeout
            .or(defaults.timeout.map(|d| d.0))
            .unwrap_or(DEFAULT_TIMEOUT);
        let linger = ov
            .linger
            .or(defaults.linger.map(|d| d.0))
            .unwrap_or(DEFAULT_LINGER);
        let file_expect = defaults.expect;
        let first_new = self.targets.len();
        for (index, t) in raw.targets.into_iter().enumerate() {
            self.note_listed_twice(&file, index, &t.host, &t.ports);
            self.targets.push(Arc::new(Target {
                file: file.clone(),
                index,
                origin: Arc::from(format!("{label}:{}", at.get(index).copied().unwrap_or(1))),
                host_label: Arc::from(t.host.to_string()),
                name: t.name.map(Arc::from),
                host: t.host,
                ports: t.ports,
                expect: match t.expect {
                    Some(spec) => spec.with_fallback(file_expect.as_ref()),
                    None => file_expect.clone().unwrap_or_else(|| {
                        ExpectSpec::Plain(self.fallback_expect.unwrap_or_default())
                    }),
                },
                tags: t.tags.into(),
                timeout: t.timeout.map_or(timeout, |d| d.0),
                linger: t.linger.map_or(linger, |d| d.0),
                control: t.control,
                first_index: 0,
                service: t.service,
                hello: t.hello,
                cert_min_days: t.cert_min_days,
            }));
        }
        self.digest_input.extend_from_slice(text.as_bytes());
        self.digest_input.push(0);
        self.reindex_from(first_new);
        Ok(())
    }

    /// `--expect`: the expectation of YAML entries that state none, in files without
    /// `defaults: expect:`, added from now on (None: `open`).
    pub fn set_fallback_expect(&mut self, e: Option<Expect>) {
        self.fallback_expect = e;
    }

    /// Drop repeated (name, host, port) entries and warn about them, as [`Inventory::load`]
    /// does after reading every file: call once, after the last target was added.
    pub fn finish(&mut self) {
        self.dedupe();
    }

    /// Parse one file's text into a complete inventory (as [`Inventory::load`] does for files):
    /// validated, with repeated ports dropped and warned about.
    pub fn parse_str(file: &str, text: &str, ov: Overrides) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory::default();
        inv.add_text(file, text, ov)?;
        inv.dedupe();
        Ok(inv)
    }
}

#[cfg(test)]
mod tests;
