//! Crafted reports for the drift tests: records as `telltale scan` writes them (`rec`, `with`),
//! written as NDJSON or as the streamed JSON document into a temporary directory and loaded
//! with `telltale::diff::Report`, and old/new reports exercising every per-record change kind
//! (`transitions`). Every address is in 127.0.0.0/8 and every name under `.example`.
//!
//! Not re-exported at `common::` (its `ndjson` writes records, `common::ndjson` reads them);
//! use `common::reports::*`.
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use telltale::diff::{ChangeKind, Drift, Report, diff};

pub const V: &str = "nightly-1";

pub fn rec(
    name: Option<&str>,
    host: &str,
    addr: Option<&str>,
    port: u16,
    verdict: &str,
    expect: &[&str],
) -> Value {
    json!({
        "format_version": 1,
        "name": name,
        "host": host,
        "addr": addr,
        "port": port,
        "verdict": verdict,
        "expect": expect,
        "ok": expect.contains(&verdict),
        "connect_ms": if verdict == "open" { json!(0.3) } else { Value::Null },
        "closed_after_ms": null,
        "banner": null,
        "detail": format!("{verdict} detail"),
        "errno": null,
        "attempts": 1,
        "tags": [],
        "vantage": V,
        "control": false,
        "trusted": true,
        "wildcard": false,
        "flaky": false,
        "attempt_verdicts": null,
    })
}

pub fn with(mut r: Value, key: &str, v: Value) -> Value {
    r[key] = v;
    r
}

pub fn ndjson(recs: &[Value]) -> String {
    recs.iter().map(|r| format!("{r}\n")).collect()
}

/// The JSON document as the `json` sink streams it.
pub fn json_doc(recs: &[Value]) -> String {
    let body: Vec<String> = recs.iter().map(Value::to_string).collect();
    format!(
        "{{\"format_version\":1,\"results\":[\n{}\n],\"summary\":{{\"total\":{}}}}}\n",
        body.join(",\n"),
        recs.len()
    )
}

pub fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn load(dir: &Path, file: &str, text: &str) -> Report {
    Report::load(&write(dir, file, text)).unwrap()
}

pub fn load_err(dir: &Path, file: &str, text: &str) -> (PathBuf, String) {
    let p = write(dir, file, text);
    let e = Report::load(&p).unwrap_err();
    (p, e.to_string())
}

pub fn drift(old: &[Value], new: &[Value]) -> Drift {
    let dir = tempfile::tempdir().unwrap();
    let o = load(dir.path(), "old.ndjson", &ndjson(old));
    let n = load(dir.path(), "new.ndjson", &ndjson(new));
    diff(&o, &n, &[]).unwrap()
}

/// (kind, label, addr, port, old, new) of every change, in drift order.
pub type Row = (
    ChangeKind,
    String,
    Option<String>,
    u16,
    Option<String>,
    Option<String>,
);

pub fn rows(d: &Drift) -> Vec<Row> {
    d.changes
        .iter()
        .map(|c| {
            (
                c.kind,
                c.name.clone().unwrap_or_else(|| c.host.clone()),
                c.addr.clone(),
                c.port,
                c.old.clone(),
                c.new.clone(),
            )
        })
        .collect()
}

pub fn row(
    kind: ChangeKind,
    label: &str,
    addr: Option<&str>,
    port: u16,
    old: Option<&str>,
    new: Option<&str>,
) -> Row {
    (
        kind,
        label.to_string(),
        addr.map(String::from),
        port,
        old.map(String::from),
        new.map(String::from),
    )
}

pub fn s(v: &str) -> Option<&str> {
    Some(v)
}

/// Old and new reports exercising every per-record change kind.
pub fn transitions() -> (Vec<Value>, Vec<Value>) {
    let old = vec![
        rec(
            s("opened"),
            "a.example",
            s("127.0.10.1"),
            443,
            "filtered",
            &["open"],
        ),
        rec(
            s("shut"),
            "b.example",
            s("127.0.10.2"),
            22,
            "open",
            &["open"],
        ),
        rec(
            s("fw"),
            "c.example",
            s("127.0.10.3"),
            25,
            "filtered",
            &["refused", "unreachable", "filtered"],
        ),
        rec(
            s("expect"),
            "d.example",
            s("127.0.10.4"),
            80,
            "refused",
            &["open"],
        ),
        with(
            rec(
                s("ssh"),
                "e.example",
                s("127.0.10.5"),
                22,
                "open",
                &["open"],
            ),
            "banner",
            json!("SSH-2.0-OpenSSH_8.9\\r\\n"),
        ),
        rec(
            s("gone"),
            "f.example",
            s("127.0.10.6"),
            8080,
            "open",
            &["open"],
        ),
        rec(
            s("same"),
            "g.example",
            s("127.0.10.7"),
            5432,
            "open",
            &["open"],
        ),
        rec(
            None,
            "127.0.10.8",
            s("127.0.10.8"),
            53,
            "unreachable",
            &["open"],
        ),
    ];
    let new = vec![
        rec(
            s("opened"),
            "a.example",
            s("127.0.10.1"),
            443,
            "open",
            &["open"],
        ),
        rec(
            s("shut"),
            "b.example",
            s("127.0.10.2"),
            22,
            "refused",
            &["open"],
        ),
        rec(
            s("fw"),
            "c.example",
            s("127.0.10.3"),
            25,
            "unreachable",
            &["refused", "unreachable", "filtered"],
        ),
        rec(
            s("expect"),
            "d.example",
            s("127.0.10.4"),
            80,
            "refused",
            &["refused", "unreachable", "filtered"],
        ),
        with(
            rec(
                s("ssh"),
                "e.example",
                s("127.0.10.5"),
                22,
                "open",
                &["open"],
            ),
            "banner",
            json!("SSH-2.0-OpenSSH_9.6\\r\\n"),
        ),
        rec(
            s("same"),
            "g.example",
            s("127.0.10.7"),
            5432,
            "open",
            &["open"],
        ),
        rec(
            s("fresh"),
            "h.example",
            s("127.0.10.9"),
            9090,
            "open",
            &["open"],
        ),
        rec(
            None,
            "127.0.10.8",
            s("127.0.10.8"),
            53,
            "filtered",
            &["open"],
        ),
    ];
    (old, new)
}
