//! The inventory: YAML files → validated [`Target`]s → a lazy stream of [`Probe`]s.
//!
//! Deserialization goes straight into typed structs with `deny_unknown_fields` and custom
//! visitors for `host`, `ports` and `expect`, so that every error names file, line and column
//! (serde_yaml attaches the node's position to errors raised inside visitors). No untagged or
//! flattened enums: they lose the position and turn a typo into a silent default.
//! serde_yaml is used in this module only.

mod duration;
mod expand;
mod host;
mod ports;
mod yaml;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

pub use duration::{ATTEMPT_GAP, Bounds, LINGER, TIMEOUT, parse_duration};
pub use expand::{Probe, Probes};
pub use host::Host;
pub use ports::{PortSet, parse_list as parse_port_list};

use crate::input::{self, InputError};
use crate::verdict::{Expect, ExpectSpec};
use duration::{Dur, LingerKey, TimeoutKey};

/// Inventories expanding to more probes than this are refused unless `--allow-large`.
pub const LARGE_INVENTORY: u128 = 1 << 20;

/// Built-in connect timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Built-in linger window.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(1);

/// An inventory error, positioned in its file.
#[derive(Debug)]
pub struct InventoryError {
    /// File as given on the command line.
    pub file: String,
    /// 1-based line (0 when the error has no position, e.g. the file cannot be read).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
    /// The file could not be read because of this host (fds, memory), not because it is wrong.
    pub local: bool,
}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for InventoryError {}

impl From<InputError> for InventoryError {
    fn from(e: InputError) -> Self {
        InventoryError {
            file: e.file,
            line: e.line,
            column: e.column,
            message: e.message,
            local: e.local,
        }
    }
}

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
}

/// Addresses, CIDR blocks and names that are never probed; applied after expansion (and to the
/// addresses a name resolves to).
#[derive(Clone, Debug, Default)]
pub struct Excludes {
    nets: Vec<ipnet::IpNet>,
    names: Vec<String>,
}

impl Excludes {
    /// Add one entry: an address, a CIDR block or a name.
    pub fn add(&mut self, s: &str) -> Result<(), String> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<std::net::IpAddr>() {
            self.nets.push(ipnet::IpNet::from(ip));
        } else if let Ok(net) = s.parse::<ipnet::IpNet>() {
            self.nets.push(net.trunc());
        } else if matches!(Host::parse(s), Ok(Host::Name(_))) {
            self.names.push(s.to_ascii_lowercase());
        } else {
            return Err(format!(
                "bad exclude `{s}`, expected an address, a CIDR block or a name"
            ));
        }
        Ok(())
    }

    /// Whether nothing is excluded.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty() && self.names.is_empty()
    }

    /// Whether `ip` is excluded.
    pub fn ip(&self, ip: std::net::IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Whether the name is excluded.
    pub fn name(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// Whether a probe is excluded before resolution.
    pub fn probe(&self, p: &Probe) -> bool {
        match (&p.target.host, p.addr) {
            (_, Some(ip)) => self.ip(ip),
            (Host::Name(n), None) => self.name(n),
            _ => false,
        }
    }
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
        let raw: RawFile = serde_yaml::from_str(text).map_err(|e| yaml::error(file, text, &e))?;
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
        for (index, t) in raw.targets.into_iter().enumerate() {
            if !t.ports.repeated.is_empty() {
                self.warnings.push(format!(
                    "{file}: targets[{index}] ({}) lists port(s) {:?} more than once; each is probed once",
                    t.host, t.ports.repeated
                ));
            }
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
        self.reindex();
        Ok(())
    }

    /// Warn about entries that repeat (name, host, port) of an earlier entry, and drop the repeats
    /// so that every (name, address, port) yields exactly one record.
    fn dedupe(&mut self) {
        for i in 1..self.targets.len() {
            let (earlier, rest) = self.targets.split_at_mut(i);
            let t = &mut rest[0];
            for e in earlier.iter() {
                if e.name != t.name || e.host != t.host {
                    continue;
                }
                let dup = t.ports.intersection(&e.ports);
                if dup.is_empty() {
                    continue;
                }
                self.warnings.push(format!(
                    "{}: targets[{}] ({}) repeats port(s) {dup} of {}: targets[{}]; probed once, with the first entry's settings",
                    t.file, t.index, t.host, e.file, e.index
                ));
                if let Some(tm) = Arc::get_mut(t) {
                    tm.ports = tm.ports.difference(&e.ports);
                }
            }
        }
        self.targets.retain(|t| !t.ports.is_empty());
        self.reindex();
    }

    /// Recompute every target's `first_index` (expansion order over all files).
    fn reindex(&mut self) {
        let mut next = 0u128;
        for t in &mut self.targets {
            let count = t.probe_count();
            if let Some(tm) = Arc::get_mut(t) {
                tm.first_index = next;
            }
            next = next.saturating_add(count);
        }
    }

    /// Total probes after expansion (names count one address), of this shard if sharded.
    pub fn probe_count(&self) -> u128 {
        let all = self.total_probes();
        match self.shard {
            Some((k, n)) => {
                let (k, n) = (u128::from(k - 1), u128::from(n));
                if all > k { (all - k - 1) / n + 1 } else { 0 }
            }
            None => all,
        }
    }

    /// Probes of the whole inventory, ignoring any shard (names count one address).
    pub fn total_probes(&self) -> u128 {
        self.targets
            .iter()
            .map(|t| t.probe_count())
            .fold(0, u128::saturating_add)
    }

    /// Scan only shard `k` of `n` (1 ≤ k ≤ n) from now on.
    pub fn set_shard(&mut self, k: u32, n: u32) {
        self.shard = (k >= 1 && k <= n && n > 1).then_some((k, n));
    }

    /// Whether target `t` has at least one probe in this run's shard.
    pub fn in_shard(&self, t: &Target) -> bool {
        let Some((k, n)) = self.shard else {
            return true;
        };
        let (k, n) = (u128::from(k - 1), u128::from(n));
        let count = t.probe_count();
        if count >= n {
            return count > 0;
        }
        (t.first_index..t.first_index + count).any(|i| i % n == k)
    }

    /// Refuse inventories that expand past [`LARGE_INVENTORY`] unless allowed.
    pub fn check_size(&self, allow_large: bool) -> Result<(), InventoryError> {
        let n = self.probe_count();
        if n <= LARGE_INVENTORY || allow_large {
            return Ok(());
        }
        let biggest = self.targets.iter().max_by_key(|t| t.probe_count());
        let (file, what) = biggest.map_or((String::new(), String::new()), |t| {
            (
                t.file.to_string(),
                format!(
                    " (largest: targets[{}] {} × {} ports)",
                    t.index,
                    t.host,
                    t.ports.len()
                ),
            )
        });
        Err(InventoryError {
            file,
            line: 0,
            column: 0,
            message: format!(
                "inventory expands to {n} probes, more than {LARGE_INVENTORY}{what}; pass --allow-large to scan it anyway"
            ),
            local: false,
        })
    }

    /// Whether any target has a connect timeout short enough to read ICMP answers as `filtered`.
    pub fn shortest_timeout(&self) -> Option<Duration> {
        self.targets.iter().map(|t| t.timeout).min()
    }

    /// The lazy probe stream.
    pub fn probes(&self) -> Probes {
        self.sharded(Probes::new(self.targets.clone()))
    }

    fn sharded(&self, p: Probes) -> Probes {
        match self.shard {
            Some((k, n)) => p.shard(k, n),
            None => p,
        }
    }

    /// A short digest of the inventory texts (and excludes): reports of one inventory carry the
    /// same digest, so `merge` can refuse to mix shards of different inventories.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(&self.digest_input);
        h.update(format!("{:?}", self.excludes).as_bytes());
        h.finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Probes of positive-control targets only (`control: true`), or of the others.
    pub fn probes_where(&self, control: bool) -> Probes {
        let targets = self
            .targets
            .iter()
            .filter(|t| t.control == control)
            .cloned()
            .collect();
        self.sharded(Probes::new(targets))
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
