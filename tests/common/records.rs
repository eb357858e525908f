//! Records as the tests read them back: NDJSON parsing (every record checked against
//! `src/record.schema.json`), lookups by name and verdict, and the banner escaping.
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::{read_file, validate_records};

/// Every key of an NDJSON / JSON record, in serialization order: the `required` list of
/// `src/record.schema.json` (tests/record_schema.rs checks that the two agree).
pub const RECORD_KEYS: &[&str] = &[
    "format_version",
    "name",
    "host",
    "addr",
    "port",
    "source",
    "verdict",
    "expect",
    "ok",
    "connect_ms",
    "closed_after_ms",
    "banner",
    "detail",
    "errno",
    "attempts",
    "tags",
    "origin",
    "vantage",
    "control",
    "trusted",
    "wildcard",
    "flaky",
    "attempt_verdicts",
    "shard",
    "inventory_digest",
    "inventory_probes",
    "service",
    "hello",
    "greeting",
    "reject_code",
    "reject_text",
    "reject_kind",
    "tls",
    "waited_ms",
    "rounds",
    "timing",
    "waits_ms",
    "srtt_ms",
];

/// The header line of `--format csv`.
pub const CSV_HEADER: &str = "name,host,addr,port,verdict,expect,ok,connect_ms,closed_after_ms,attempts,errno,detail,banner,vantage,trusted,wildcard,flaky,shard";

/// Every verdict string, `interrupted` included.
pub const VERDICTS: &[&str] = &[
    "open",
    "closed-by-peer",
    "reset-by-peer",
    "rejected",
    "refused",
    "unreachable",
    "filtered",
    "dns-error",
    "local-error",
    "interrupted",
];

/// Raw banner bytes of the lab's `banner` service, escaped as in the records.
pub const SSH_BANNER: &str = r"SSH-2.0-telltale-lab\r\n";
/// Raw message of the lab's `closed-msg` service, escaped.
pub const DENY_MSG: &str = r"Host is not allowed to connect\r\n";
/// Raw banner of the lab's `banner-reset` service, escaped.
pub const RST_BANNER: &str = r"BANNER-THEN-RST\r\n";

/// Parses NDJSON: every non-empty line must be a JSON object.
pub fn parse_ndjson(s: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (i, line) in s.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("ndjson line {} is not JSON ({e}): {line:?}", i + 1))?;
        if !v.is_object() {
            return Err(format!("ndjson line {} is not an object: {line:?}", i + 1));
        }
        out.push(v);
    }
    Ok(out)
}

/// The single record with `name`.
pub fn by_name<'a>(recs: &'a [Value], name: &str) -> &'a Value {
    let hits: Vec<&Value> = recs.iter().filter(|r| r["name"] == name).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected exactly one record named {name:?}, got {}: {}",
        hits.len(),
        show(recs)
    );
    hits[0]
}

/// The record of target `name` on `port`.
pub fn record_at<'a>(recs: &'a [Value], name: &str, port: u64) -> &'a Value {
    recs.iter()
        .find(|r| r["name"] == name && r["port"] == port)
        .unwrap_or_else(|| panic!("no record {name}:{port} in {recs:#?}"))
}

/// All records with `name`.
pub fn all_named<'a>(recs: &'a [Value], name: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["name"] == name).collect()
}

/// The verdict string of a record.
pub fn verdict(r: &Value) -> &str {
    r["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("record without string verdict: {r}"))
}

/// Asserts the record's verdict, printing the record on failure.
pub fn assert_verdict(r: &Value, want: &str) {
    assert_eq!(verdict(r), want, "wrong verdict in record {r}");
}

/// Compact listing of records for assertion messages.
pub fn show(recs: &[Value]) -> String {
    let mut s = String::new();
    for r in recs {
        let _ = writeln!(s, "  {r}");
    }
    s
}

/// Reverses the banner escaping (`\r \n \t \\ \xNN`, printable ASCII kept) into raw bytes.
pub fn unescape_banner(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(
                        u8::from_str_radix(hex, 16)
                            .unwrap_or_else(|_| panic!("bad \\x escape {hex:?} in banner {s:?}")),
                    );
                    i += 4;
                    continue;
                }
                other => panic!("unknown escape \\{} in banner {s:?}", other as char),
            }
            i += 2;
        } else {
            assert!(
                (0x20..0x7f).contains(&b[i]),
                "banner {s:?} holds a raw non-printable byte {:#x}",
                b[i]
            );
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// NDJSON text that must parse (every non-empty line a JSON object).
pub fn ndjson(text: &str) -> Vec<Value> {
    parse_ndjson(text).unwrap_or_else(|e| panic!("{e}\n--- text:\n{text}"))
}

/// An NDJSON file that must parse (every non-empty line a JSON object).
pub fn ndjson_file(p: &Path) -> Vec<Value> {
    parse_ndjson(&read_file(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Records in NDJSON text (a report), each validated against the record schema.
pub fn records_in(text: &str, ctx: &str) -> Vec<Value> {
    let recs = parse_ndjson(text).unwrap_or_else(|e| panic!("{ctx}: {e}\n--- text:\n{text}"));
    validate_records(&recs, ctx);
    recs
}

/// Records of an NDJSON report file, each validated against the record schema.
pub fn records_file(p: &Path) -> Vec<Value> {
    let recs = ndjson_file(p);
    validate_records(&recs, &p.display().to_string());
    recs
}

/// The records among other lines of a script's output: every line that starts with `{`, each
/// validated against the record schema.
pub fn records_among(out: &[u8]) -> Vec<Value> {
    let recs: Vec<Value> = String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}")))
        .collect();
    validate_records(&recs, "script output");
    recs
}

/// A string field of a record, `"null"` when null or missing.
pub fn str_or_null<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("null")
}
