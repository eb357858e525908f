//! Deserializers of the inventory's values: `host`, `port`/`ports`, `expect`, durations
//! (`timeout`, `linger`), `exclude` entries, `tags`, `name` and `control`.
//!
//! Each value is parsed and checked inside its visitor, so an error carries the line and column
//! of the node that is wrong; each visitor's `expecting` is in the user's words, never a Rust
//! type name (serde's own visitors for `String`, `bool` and `Vec` would say "a string",
//! "a boolean", "a sequence").

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::set;
use crate::inventory::duration::{Bounds, LINGER, TIMEOUT};
use crate::inventory::ports::{number_item, parse_list};
use crate::inventory::{Excludes, Host, PortSet};
use crate::verdict::{Expect, ExpectSpec};

impl<'de> Deserialize<'de> for Host {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Host;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a DNS name, an IP address or a CIDR block")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Host, E> {
                Host::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for PortSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PortsVisitor)
    }
}

struct PortsVisitor;

impl<'de> Visitor<'de> for PortsVisitor {
    type Value = PortSet;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a port (22), a port list string (\"22,80,8000-8010\") or a list of ports and ranges",
        )
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<PortSet, E> {
        number_item(n)
            .map(|r| PortSet::from_ranges(vec![r]))
            .map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<PortSet, E> {
        let n =
            u64::try_from(n).map_err(|_| E::custom(format!("bad port {n}, expected 1-65535")))?;
        self.visit_u64(n)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<PortSet, E> {
        parse_list(s).map(PortSet::from_ranges).map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PortSet, A::Error> {
        let mut raw = Vec::new();
        while let Some(item) = seq.next_element::<PortItem>()? {
            raw.extend(item.0);
        }
        if raw.is_empty() {
            return Err(de::Error::custom(
                "empty port list, expected at least one port",
            ));
        }
        Ok(PortSet::from_ranges(raw))
    }
}

/// One element of a YAML port list (a number or a string with ranges).
struct PortItem(Vec<(u16, u16)>);

impl<'de> Deserialize<'de> for PortItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PortItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port number or a range string like \"8000-8010\"")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PortItem, E> {
                number_item(n).map(|r| PortItem(vec![r])).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PortItem, E> {
                Err(E::custom(format!("bad port {n}, expected 1-65535")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PortItem, E> {
                parse_list(s).map(PortItem).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
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
                while let Some(Vantage(vantage)) = map.next_key()? {
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

/// One word of an `expect:` list.
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

/// Defines a newtype read from one YAML scalar with `visit_str`, described as `expecting`.
macro_rules! scalar_text {
    ($(#[$doc:meta])* $name:ident, $expecting:expr) => {
        $(#[$doc])*
        pub(super) struct $name(pub String);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$name, E> {
                        Ok($name(s.to_string()))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

scalar_text!(
    /// A vantage name (a key of a per-vantage `expect:` map).
    Vantage,
    "a vantage name like `dmz` (or `default`)"
);
scalar_text!(
    /// `name:` of a target.
    Label,
    "a label like `db-primary`"
);
scalar_text!(
    /// One tag of `tags:`.
    Tag,
    "a tag like `prod`"
);

/// `tags:`: a list of tags.
pub(super) struct Tags(pub Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of tags like `[web, prod]`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
                let mut out = Vec::new();
                while let Some(Tag(t)) = seq.next_element()? {
                    out.push(t);
                }
                Ok(Tags(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// `exclude:`: addresses, CIDR blocks and names, each validated where it stands.
pub(super) struct ExcludeList(pub Vec<String>);

impl<'de> Deserialize<'de> for ExcludeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExcludeList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a list of addresses, CIDR blocks or names to skip, like \
                     `[127.0.0.2, 127.0.9.0/24, legacy-db.internal]`",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ExcludeList, A::Error> {
                let mut out = Vec::new();
                while let Some(ExcludeItem(e)) = seq.next_element()? {
                    out.push(e);
                }
                Ok(ExcludeList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// One `exclude:` entry.
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

/// `control:`.
pub(super) struct Control(pub bool);

impl<'de> Deserialize<'de> for Control {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Control;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`true` or `false`")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Control, E> {
                Ok(Control(b))
            }
        }
        d.deserialize_bool(V)
    }
}

/// Which [`Bounds`] a YAML duration is checked against.
pub(in crate::inventory) trait Key {
    /// The bounds.
    const BOUNDS: Bounds;
}

/// `timeout:`.
pub(in crate::inventory) struct TimeoutKey;
impl Key for TimeoutKey {
    const BOUNDS: Bounds = TIMEOUT;
}

/// `linger:`.
pub(in crate::inventory) struct LingerKey;
impl Key for LingerKey {
    const BOUNDS: Bounds = LINGER;
}

/// A YAML duration like `3s`, `500ms`, `1m` (a bare `0` means zero), checked against `K`'s
/// bounds inside the visitor so the error carries the value's position.
pub(in crate::inventory) struct Dur<K>(pub Duration, PhantomData<K>);

impl<K> Clone for Dur<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Dur<K> {}

impl<K> fmt::Debug for Dur<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de, K: Key> Deserialize<'de> for Dur<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(PhantomData<K>);
        impl<K: Key> Visitor<'_> for V<K> {
            type Value = Dur<K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a duration like 3s or 500ms, {}", K::BOUNDS.range())
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Dur<K>, E> {
                if n == 0 {
                    K::BOUNDS
                        .check(Duration::ZERO)
                        .map(|d| Dur(d, PhantomData))
                        .map_err(E::custom)
                } else {
                    Err(E::custom(format!(
                        "bare number {n}, expected a duration with a unit like {n}s or {n}ms"
                    )))
                }
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur<K>, E> {
                K::BOUNDS
                    .parse(s)
                    .map(|d| Dur(d, PhantomData))
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}
