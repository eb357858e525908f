//! The record schema, `src/record.schema.json`: every record the harness reads back (`Run`,
//! `Ns`, `ndjson*`, `records_among`) is validated against it with the `jsonschema` crate, and
//! [`Coverage`] tells which variants of each property a set of records exercised, so that a
//! test can prove its scans emitted every verdict, both values of every flag and every
//! nullable field both ways.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde_json::Value;

/// The schema file as shipped with the source.
pub const RECORD_SCHEMA: &str = include_str!("../../src/record.schema.json");

/// The schema, parsed.
pub fn record_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::from_str(RECORD_SCHEMA)
            .unwrap_or_else(|e| panic!("src/record.schema.json is not JSON: {e}"))
    })
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::options()
            .should_validate_formats(true)
            .build(record_schema())
            .unwrap_or_else(|e| panic!("src/record.schema.json is not a usable schema: {e}"))
    })
}

/// Every way `r` violates the schema (empty when it is a valid record).
pub fn schema_errors(r: &Value) -> Vec<String> {
    validator()
        .iter_errors(r)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect()
}

/// Panics, naming `ctx` and every violation, unless `r` is a valid record.
pub fn validate_record(r: &Value, ctx: &str) {
    let errors = schema_errors(r);
    assert!(
        errors.is_empty(),
        "{ctx}: record does not match src/record.schema.json:\n  {}\nrecord: {r}",
        errors.join("\n  ")
    );
}

/// [`validate_record`] for each record.
pub fn validate_records(recs: &[Value], ctx: &str) {
    for r in recs {
        validate_record(r, ctx);
    }
}

/// The property names the schema declares, in file order of `required`.
pub fn schema_properties() -> Vec<String> {
    record_schema()["required"]
        .as_array()
        .expect("schema has `required`")
        .iter()
        .map(|k| k.as_str().expect("required names are strings").to_string())
        .collect()
}

/// The variants of a value: its JSON type (`true`/`false` for booleans, `integer` apart from
/// `number`), plus `=VALUE` for a string (compared with a property's enum, if it has one).
fn observed(v: &Value) -> Vec<String> {
    match v {
        Value::Null => vec!["null".into()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) if n.is_u64() || n.is_i64() => vec!["integer".into()],
        Value::Number(_) => vec!["number".into()],
        Value::String(s) => vec!["string".into(), format!("={s}")],
        Value::Array(_) => vec!["array".into()],
        Value::Object(_) => vec!["object".into()],
    }
}

/// The service-aware fields, whose variants only the real-daemon suites can produce: the run of
/// [`super::RECORD_KEYS`] from `service` to `tls`.
pub fn service_keys() -> &'static [&'static str] {
    let keys = super::RECORD_KEYS;
    let at = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    &keys[at("service")..=at("tls")]
}

/// The variants a property's schema allows: each type of `type`/`anyOf` (booleans as `true`
/// and `false`, or only the `const`), and `=VALUE` for each value of an `enum`.
fn allowed(node: &Value, root: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(r) = node["$ref"].as_str() {
        let name = r
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("unsupported $ref {r}"));
        out.extend(allowed(&root["$defs"][name], root));
    }
    for alt in node["anyOf"].as_array().into_iter().flatten() {
        out.extend(allowed(alt, root));
    }
    for v in node["enum"].as_array().into_iter().flatten() {
        let v = v.as_str().expect("enum values are strings");
        out.insert("string".into());
        out.insert(format!("={v}"));
    }
    let types: Vec<&str> = match &node["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    for t in types {
        match (t, &node["const"]) {
            ("boolean", Value::Bool(b)) => {
                out.insert(b.to_string());
            }
            ("boolean", _) => {
                out.insert("true".into());
                out.insert("false".into());
            }
            (t, _) => {
                out.insert(t.to_string());
            }
        }
    }
    out
}

/// Which variants of each schema property a set of records showed.
#[derive(Default)]
pub struct Coverage {
    seen: BTreeMap<String, BTreeSet<String>>,
    records: usize,
}

impl Coverage {
    /// Counts one (valid) record.
    pub fn add(&mut self, r: &Value) {
        let obj = r
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {r}"));
        for (k, v) in obj {
            self.seen.entry(k.clone()).or_default().extend(observed(v));
        }
        self.records += 1;
    }

    /// Records counted so far.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Every gap: a key the schema does not declare, or a variant a property allows that no
    /// record showed (`verdict` never `unreachable`, `ok` never null, `wildcard` never true...).
    pub fn gaps(&self) -> Vec<String> {
        let root = record_schema();
        let props = root["properties"]
            .as_object()
            .expect("schema has `properties`");
        let mut gaps = Vec::new();
        for k in self.seen.keys() {
            if !props.contains_key(k) {
                gaps.push(format!("`{k}` is emitted but not in the schema"));
            }
        }
        let none = BTreeSet::new();
        for (k, node) in props {
            if service_keys().contains(&k.as_str()) {
                // Every variant of these needs a real daemon: the tests/services_*.rs suites
                // emit them, and every record they read is validated against the schema.
                continue;
            }
            let seen = self.seen.get(k).unwrap_or(&none);
            let missing: Vec<String> = allowed(node, root)
                .into_iter()
                .filter(|v| !seen.contains(v))
                .collect();
            if !missing.is_empty() {
                gaps.push(format!("`{k}` never emitted as {}", missing.join(", ")));
            }
        }
        gaps
    }
}
