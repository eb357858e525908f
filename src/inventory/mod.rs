//! The inventory: YAML files → validated [`Target`]s → a lazy stream of [`Probe`]s.
//!
//! Deserialization goes straight into typed structs with `deny_unknown_fields` and custom
//! visitors for `host`, `ports` and `expect`, so that every error names file, line and column
//! (serde_yaml attaches the node's position to errors raised inside visitors). No untagged or
//! flattened enums: they lose the position and turn a typo into a silent default.
//! serde_yaml is used in this module only (its errors are positioned in `error`); the text's
//! nesting depth is bounded before serde_yaml sees it (`depth`).
//!
//! Submodules: `host`, `ports` (fields), `depth` (nesting pre-scan), `error` (positions),
//! `dedup` (repeated ports and their warnings), `excludes`, `expand` (lazy probes), `query`
//! (counts, shards, size check, digest).

mod dedup;
mod depth;
mod duration;
mod error;
mod excludes;
mod expand;
mod host;
mod ports;
mod query;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

pub use depth::MAX_DEPTH;
pub use duration::{ATTEMPT_GAP, Bounds, LINGER, TIMEOUT, parse_duration};
pub use error::InventoryError;
pub use excludes::Excludes;
pub use expand::{Probe, Probes};
pub use host::Host;
pub use ports::{PortSet, parse_list as parse_port_list};

use crate::input;
use crate::verdict::{Expect, ExpectSpec};
use duration::{Dur, LingerKey, TimeoutKey};

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
        depth::check(text).map_err(|e| InventoryError {
            file: file.to_string(),
            line: e.line,
            column: e.column,
            message: e.message(),
            local: false,
        })?;
        let raw: RawFile =
            serde_yaml::from_str(text).map_err(|e| error::yaml_error(file, text, &e))?;
        for ExcludeItem(e) in raw.exclude {
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
                host_label: Arc::from(t.host.to_string()),
                name: t.name.map(Arc::from),
                host: t.host,
                ports: t.ports,
                expect: match t.expect {
                    Some(spec) => spec.with_fallback(file_expect.as_ref()),
                    None => file_expect.clone().unwrap_or_default(),
                },
                tags: t.tags.into(),
                timeout: t.timeout.map_or(timeout, |d| d.0),
                linger: t.linger.map_or(linger, |d| d.0),
                control: t.control,
                first_index: 0,
            }));
        }
        self.digest_input.extend_from_slice(text.as_bytes());
        self.digest_input.push(0);
        self.reindex_from(first_new);
        Ok(())
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

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Expect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a verdict, an alias (reachable, blocked, denied) or a list of them")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Expect, E> {
                Expect::parse_word(s).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Expect, A::Error> {
                let mut e = Expect::EMPTY;
                while let Some(w) = seq.next_element::<ExpectWord>()? {
                    e = e.union(w.0);
                }
                if e.is_empty() {
                    return Err(de::Error::custom(
                        "empty expect list, expected at least one verdict",
                    ));
                }
                Ok(e)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ExpectSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExpectSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a verdict, an alias (reachable, blocked, denied), a list of them, \
                     or a map of vantage to expectation (with an optional `default`)",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ExpectSpec, E> {
                Expect::parse_word(s)
                    .map(ExpectSpec::Plain)
                    .map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ExpectSpec, A::Error> {
                let v = de::value::SeqAccessDeserializer::new(seq);
                Expect::deserialize(v).map(ExpectSpec::Plain)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExpectSpec, A::Error> {
                let (mut by, mut default): (Vec<(String, Expect)>, Option<Expect>) =
                    (Vec::new(), None);
                while let Some(vantage) = map.next_key::<String>()? {
                    let e = map.next_value::<Expect>()?;
                    if vantage == "default" {
                        set(&mut default, e, "default")?;
                    } else if by.iter().any(|(v, _)| *v == vantage) {
                        return Err(de::Error::custom(format!(
                            "vantage `{vantage}` listed twice"
                        )));
                    } else {
                        by.push((vantage, e));
                    }
                }
                if by.is_empty() && default.is_none() {
                    return Err(de::Error::custom(
                        "empty expect map, expected vantage: verdict entries",
                    ));
                }
                Ok(ExpectSpec::PerVantage { by, default })
            }
        }
        d.deserialize_any(V)
    }
}

struct ExpectWord(Expect);

impl<'de> Deserialize<'de> for ExpectWord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ExpectWord;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a verdict or an alias")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ExpectWord, E> {
                Expect::parse_word(s).map(ExpectWord).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<RawDefaults>,
    #[serde(default)]
    exclude: Vec<ExcludeItem>,
    #[serde(deserialize_with = "nonempty_targets")]
    targets: Vec<RawTarget>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    timeout: Option<Dur<TimeoutKey>>,
    linger: Option<Dur<LingerKey>>,
    expect: Option<ExpectSpec>,
}

fn nonempty_targets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RawTarget>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<RawTarget>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a non-empty list of targets")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<RawTarget>, A::Error> {
            let mut out = Vec::new();
            while let Some(t) = seq.next_element()? {
                out.push(t);
            }
            if out.is_empty() {
                return Err(de::Error::custom(
                    "empty targets list, expected at least one target",
                ));
            }
            Ok(out)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<RawTarget>, E> {
            Err(E::custom("empty targets, expected at least one target"))
        }
    }
    d.deserialize_any(V)
}

/// One `exclude:` entry, validated where it stands.
struct ExcludeItem(String);

impl<'de> Deserialize<'de> for ExcludeItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ExcludeItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an address, a CIDR block or a name to exclude")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ExcludeItem, E> {
                Excludes::default().add(s).map_err(E::custom)?;
                Ok(ExcludeItem(s.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// One `targets:` entry as written.
struct RawTarget {
    name: Option<String>,
    host: Host,
    ports: PortSet,
    expect: Option<ExpectSpec>,
    tags: Vec<String>,
    timeout: Option<Dur<TimeoutKey>>,
    linger: Option<Dur<LingerKey>>,
    control: bool,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Name,
    Host,
    Port,
    Ports,
    Expect,
    Tags,
    Timeout,
    Linger,
    Control,
}

impl<'de> Deserialize<'de> for RawTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TargetVisitor)
    }
}

struct TargetVisitor;

fn set<T, E: de::Error>(slot: &mut Option<T>, v: T, key: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(key));
    }
    *slot = Some(v);
    Ok(())
}

impl<'de> Visitor<'de> for TargetVisitor {
    type Value = RawTarget;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a target mapping with `host` and `port` or `ports`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTarget, A::Error> {
        let (mut name, mut host, mut port, mut ports) = (None, None, None, None);
        let (mut expect, mut tags, mut timeout, mut linger) = (None, None, None, None);
        let mut control = None;
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Name => set(&mut name, map.next_value::<String>()?, "name")?,
                Field::Host => set(&mut host, map.next_value::<Host>()?, "host")?,
                Field::Port => set(&mut port, map.next_value::<PortSet>()?, "port")?,
                Field::Ports => set(&mut ports, map.next_value::<PortSet>()?, "ports")?,
                Field::Expect => set(&mut expect, map.next_value::<ExpectSpec>()?, "expect")?,
                Field::Tags => set(&mut tags, map.next_value::<Vec<String>>()?, "tags")?,
                Field::Timeout => set(
                    &mut timeout,
                    map.next_value::<Dur<TimeoutKey>>()?,
                    "timeout",
                )?,
                Field::Linger => set(&mut linger, map.next_value::<Dur<LingerKey>>()?, "linger")?,
                Field::Control => set(&mut control, map.next_value::<bool>()?, "control")?,
            }
        }
        let host = host.ok_or_else(|| {
            de::Error::custom("target has no `host`, expected a name, address or CIDR")
        })?;
        let ports = match (port, ports) {
            (Some(_), Some(_)) => {
                return Err(de::Error::custom(
                    "target has both `port` and `ports`, expected one of them",
                ));
            }
            (Some(p), None) | (None, Some(p)) => p,
            (None, None) => return Err(de::Error::custom("target has no `port` or `ports`")),
        };
        Ok(RawTarget {
            name,
            host,
            ports,
            expect,
            tags: tags.unwrap_or_default(),
            timeout,
            linger,
            control: control.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests;
