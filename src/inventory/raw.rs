//! The inventory file as written: the serde model of one YAML file (`RawFile`, `RawDefaults`,
//! `RawTarget`) and its visitors, before settings are resolved into [`super::Target`]s.
//!
//! Deserialization goes straight into these typed structs; unknown keys are refused (the key
//! enums are field identifiers, `RawDefaults` has `deny_unknown_fields`), and values are checked
//! inside their visitors (`values`), so that serde_yaml attaches the node's line and column to
//! every error. No untagged or flattened enums: they lose the position and turn a typo into a
//! silent default. The visitors' `expecting` texts are user words (`super::wording`): a serde
//! "invalid type" error is reworded from them into "expected …, found …".

mod service_keys;
mod source_key;
mod values;

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::{self, InventoryError};
use super::wording::{FILE_SHAPE, TARGET_SHAPE, TARGETS_SHAPE, shaped};
use super::{Host, PortSet};
use crate::verdict::ExpectSpec;
use service_keys::{CertDaysKey, HelloKey, ServiceKey};
use source_key::SourceKey;
use values::{Control, ExcludeList, Label, Tags};

pub use source_key::parse_source;
pub(super) use values::{Dur, LingerKey, TimeoutKey};

/// Parse one file's text (already depth-checked) into its serde model.
pub(super) fn parse(file: &str, text: &str) -> Result<RawFile, InventoryError> {
    if let Some(found) = nothing_in(text) {
        return Err(InventoryError {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: shaped(FILE_SHAPE, found),
            local: false,
        });
    }
    serde_yaml::from_str(text).map_err(|e| error::yaml_error(file, text, &e))
}

/// What an inventory without a single node holds, if that is what it is: serde_yaml reads such
/// a text as an empty mapping, which would be reported as a mapping without `targets:`.
fn nothing_in(text: &str) -> Option<&'static str> {
    let (mut comments, mut markers) = (false, false);
    for line in text.split(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
        let t = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        let rest = t
            .strip_prefix("---")
            .or_else(|| t.strip_prefix("..."))
            .filter(|r| r.is_empty() || r.starts_with([' ', '\t']))
            .map(str::trim_start);
        if let Some(rest) = rest {
            markers = true;
            comments |= rest.starts_with('#');
            if !(rest.is_empty() || rest.starts_with('#')) {
                return None;
            }
        } else if t.starts_with('%') {
            markers = true;
        } else if t.starts_with('#') {
            comments = true;
        } else if !t.is_empty() {
            return None;
        }
    }
    Some(match (comments, markers) {
        (false, false) => "an empty file",
        (true, false) => "only comments",
        _ => "an empty document",
    })
}

/// One inventory file as written.
pub(super) struct RawFile {
    /// `defaults:`.
    pub defaults: Option<RawDefaults>,
    /// `exclude:` entries, each validated where it stands.
    pub exclude: Vec<String>,
    /// `targets:` (never empty).
    pub targets: Vec<RawTarget>,
}

/// `defaults:` as written.
#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of defaults like `{timeout: 3s, linger: 1s, expect: open}`"
)]
pub(super) struct RawDefaults {
    /// `timeout:`.
    pub timeout: Option<Dur<TimeoutKey>>,
    /// `linger:`.
    pub linger: Option<Dur<LingerKey>>,
    /// `expect:`.
    pub expect: Option<ExpectSpec>,
}

/// One `targets:` entry as written.
pub(super) struct RawTarget {
    /// `name:`.
    pub name: Option<String>,
    /// `host:`.
    pub host: Host,
    /// `port:` or `ports:`.
    pub ports: PortSet,
    /// `expect:`.
    pub expect: Option<ExpectSpec>,
    /// `tags:`.
    pub tags: Vec<String>,
    /// `timeout:`.
    pub timeout: Option<Dur<TimeoutKey>>,
    /// `linger:`.
    pub linger: Option<Dur<LingerKey>>,
    /// `control:`.
    pub control: bool,
    /// `service:`.
    pub service: Option<crate::service::Service>,
    /// `hello:`.
    pub hello: Option<bool>,
    /// `cert_min_days:`.
    pub cert_min_days: Option<u32>,
    /// `source:`.
    pub source: Option<std::net::IpAddr>,
}

/// Top-level keys; any other is refused ("unknown field `x`, expected one of …").
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum FileKey {
    Defaults,
    Exclude,
    Targets,
}

/// Keys of a target; any other is refused.
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
    Service,
    Hello,
    #[serde(rename = "cert_min_days")]
    CertMinDays,
    Source,
}

/// Put `v` in `slot`, refusing a key given twice.
fn set<T, E: de::Error>(slot: &mut Option<T>, v: T, key: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(key));
    }
    *slot = Some(v);
    Ok(())
}

impl<'de> Deserialize<'de> for RawFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FileVisitor)
    }
}

struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = RawFile;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(FILE_SHAPE)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFile, A::Error> {
        let (mut defaults, mut exclude, mut targets) = (None, None, None);
        while let Some(key) = map.next_key::<FileKey>()? {
            match key {
                FileKey::Defaults => set(
                    &mut defaults,
                    map.next_value::<Option<RawDefaults>>()?,
                    "defaults",
                )?,
                FileKey::Exclude => set(&mut exclude, map.next_value::<ExcludeList>()?, "exclude")?,
                FileKey::Targets => set(&mut targets, map.next_value::<Targets>()?, "targets")?,
            }
        }
        let Some(Targets(targets)) = targets else {
            return Err(de::Error::custom(shaped(
                FILE_SHAPE,
                "a mapping without `targets:`",
            )));
        };
        Ok(RawFile {
            defaults: defaults.flatten(),
            exclude: exclude.map(|e| e.0).unwrap_or_default(),
            targets,
        })
    }
}

/// `targets:`: a non-empty list of targets.
struct Targets(Vec<RawTarget>);

impl<'de> Deserialize<'de> for Targets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TargetsVisitor)
    }
}

struct TargetsVisitor;

impl<'de> Visitor<'de> for TargetsVisitor {
    type Value = Targets;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(TARGETS_SHAPE)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Targets, A::Error> {
        let mut out = Vec::new();
        while let Some(t) = seq.next_element()? {
            out.push(t);
        }
        if out.is_empty() {
            return Err(de::Error::custom(shaped(TARGETS_SHAPE, "an empty list")));
        }
        Ok(Targets(out))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Targets, E> {
        Err(E::custom(shaped(TARGETS_SHAPE, "an empty value")))
    }
}

impl<'de> Deserialize<'de> for RawTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TargetVisitor)
    }
}

struct TargetVisitor;

impl<'de> Visitor<'de> for TargetVisitor {
    type Value = RawTarget;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(TARGET_SHAPE)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTarget, A::Error> {
        let (mut name, mut host, mut port, mut ports) = (None, None, None, None);
        let (mut expect, mut tags, mut timeout, mut linger) = (None, None, None, None);
        let mut control = None;
        let (mut service, mut hello, mut cert_min_days) = (None, None, None);
        let mut source = None;
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Name => set(&mut name, map.next_value::<Label>()?.0, "name")?,
                Field::Host => set(&mut host, map.next_value::<Host>()?, "host")?,
                Field::Port => set(&mut port, map.next_value::<PortSet>()?, "port")?,
                Field::Ports => set(&mut ports, map.next_value::<PortSet>()?, "ports")?,
                Field::Expect => set(&mut expect, map.next_value::<ExpectSpec>()?, "expect")?,
                Field::Tags => set(&mut tags, map.next_value::<Tags>()?.0, "tags")?,
                Field::Timeout => set(&mut timeout, map.next_value()?, "timeout")?,
                Field::Linger => set(&mut linger, map.next_value()?, "linger")?,
                Field::Control => set(&mut control, map.next_value::<Control>()?.0, "control")?,
                Field::Service => set(&mut service, map.next_value::<ServiceKey>()?.0, "service")?,
                Field::Hello => set(&mut hello, map.next_value::<HelloKey>()?.0, "hello")?,
                Field::CertMinDays => set(
                    &mut cert_min_days,
                    map.next_value::<CertDaysKey>()?.0,
                    "cert_min_days",
                )?,
                Field::Source => set(&mut source, map.next_value::<SourceKey>()?.0, "source")?,
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
        if let Some(src) = source {
            source_key::check_family(src, &host).map_err(de::Error::custom)?;
        }
        Ok(RawTarget {
            name,
            host,
            ports,
            expect,
            tags: tags.unwrap_or_default(),
            timeout,
            linger,
            control: control.unwrap_or(false),
            service,
            hello,
            cert_min_days,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_without_a_node_say_what_they_hold() {
        assert_eq!(nothing_in(""), Some("an empty file"));
        assert_eq!(nothing_in(" \n\t\r\n"), Some("an empty file"));
        assert_eq!(nothing_in("# a\n  # b"), Some("only comments"));
        assert_eq!(nothing_in("---\n"), Some("an empty document"));
        assert_eq!(
            nothing_in("%YAML 1.2\n--- # c\n...\n"),
            Some("an empty document")
        );
        for text in ["targets:", "--- targets: []", "x", "-", "{}", "---x"] {
            assert_eq!(nothing_in(text), None, "{text:?}");
        }
    }
}
