//! `telltale::diff` through its library API: crafted NDJSON and JSON reports written into a
//! temporary directory, every change kind, name address changes, unresolved names, and every
//! kind of bad input.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use telltale::diff::{ChangeKind, DiffError, DiffFormat, Drift, Report, diff, render};

const V: &str = "nightly-1";

fn rec(
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

fn with(mut r: Value, key: &str, v: Value) -> Value {
    r[key] = v;
    r
}

fn ndjson(recs: &[Value]) -> String {
    recs.iter().map(|r| format!("{r}\n")).collect()
}

/// The JSON document as the `json` sink streams it.
fn json_doc(recs: &[Value]) -> String {
    let body: Vec<String> = recs.iter().map(Value::to_string).collect();
    format!(
        "{{\"format_version\":1,\"results\":[\n{}\n],\"summary\":{{\"total\":{}}}}}\n",
        body.join(",\n"),
        recs.len()
    )
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

fn load(dir: &Path, file: &str, text: &str) -> Report {
    Report::load(&write(dir, file, text)).unwrap()
}

fn load_err(dir: &Path, file: &str, text: &str) -> (PathBuf, String) {
    let p = write(dir, file, text);
    let e = Report::load(&p).unwrap_err();
    (p, e.to_string())
}

fn drift(old: &[Value], new: &[Value]) -> Drift {
    let dir = tempfile::tempdir().unwrap();
    let o = load(dir.path(), "old.ndjson", &ndjson(old));
    let n = load(dir.path(), "new.ndjson", &ndjson(new));
    diff(&o, &n, &[]).unwrap()
}

/// (kind, label, addr, port, old, new) of every change, in drift order.
type Row = (
    ChangeKind,
    String,
    Option<String>,
    u16,
    Option<String>,
    Option<String>,
);

fn rows(d: &Drift) -> Vec<Row> {
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

fn row(
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

fn s(v: &str) -> Option<&str> {
    Some(v)
}

/// Old and new reports exercising every per-record change kind.
fn transitions() -> (Vec<Value>, Vec<Value>) {
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

#[test]
fn every_transition_kind() {
    let (old, new) = transitions();
    let d = drift(&old, &new);
    use ChangeKind::*;
    assert_eq!(
        rows(&d),
        vec![
            row(
                NewlyOpen,
                "opened",
                s("127.0.10.1"),
                443,
                s("filtered"),
                s("open")
            ),
            row(
                NewlyClosed,
                "shut",
                s("127.0.10.2"),
                22,
                s("open"),
                s("refused")
            ),
            row(
                VerdictChanged,
                "127.0.10.8",
                s("127.0.10.8"),
                53,
                s("unreachable"),
                s("filtered")
            ),
            row(
                VerdictChanged,
                "fw",
                s("127.0.10.3"),
                25,
                s("filtered"),
                s("unreachable")
            ),
            row(
                NewlyFailing,
                "shut",
                s("127.0.10.2"),
                22,
                s("open"),
                s("refused")
            ),
            row(
                NewlyPassing,
                "expect",
                s("127.0.10.4"),
                80,
                s("refused"),
                s("refused")
            ),
            row(
                NewlyPassing,
                "opened",
                s("127.0.10.1"),
                443,
                s("filtered"),
                s("open")
            ),
            row(Added, "fresh", s("127.0.10.9"), 9090, None, s("open")),
            row(Removed, "gone", s("127.0.10.6"), 8080, s("open"), None),
            row(
                BannerChanged,
                "ssh",
                s("127.0.10.5"),
                22,
                s("SSH-2.0-OpenSSH_8.9\\r\\n"),
                s("SSH-2.0-OpenSSH_9.6\\r\\n")
            ),
        ]
    );
    let detail = |kind: ChangeKind, label: &str| {
        d.changes
            .iter()
            .find(|c| c.kind == kind && c.name.as_deref().unwrap_or(&c.host) == label)
            .unwrap()
            .detail
            .clone()
    };
    assert!(detail(VerdictChanged, "fw").contains("a DROP rule became REJECT"));
    assert!(detail(VerdictChanged, "127.0.10.8").contains("a REJECT rule became DROP"));
    assert!(detail(NewlyPassing, "expect").contains("expectation changed from open to"));
    assert!(detail(NewlyClosed, "shut").contains("refused detail"));
    assert!(d.changes.iter().all(|c| c.vantage == V));
    let counts = d.counts();
    assert_eq!(counts[&NewlyPassing], 2);
    assert_eq!(counts[&VerdictChanged], 2);
    assert_eq!(counts[&AddressChanged], 0);
    assert_eq!(counts.values().sum::<usize>(), d.changes.len());
}

#[test]
fn identical_reports_have_no_drift() {
    let (old, _) = transitions();
    let d = drift(&old, &old);
    assert!(d.is_empty());
    let mut out = Vec::new();
    render(&d, DiffFormat::Table, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "no drift\n");
}

#[test]
fn a_name_that_moved_is_one_address_change() {
    let old = vec![
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.2"),
            5432,
            "open",
            &["open"],
        ),
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.10"),
            5432,
            "open",
            &["open"],
        ),
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.1"),
            5432,
            "open",
            &["open"],
        ),
    ];
    let new = vec![
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.3"),
            5432,
            "open",
            &["open"],
        ),
        rec(
            s("db"),
            "db.internal",
            s("127.0.10.2"),
            5432,
            "refused",
            &["open"],
        ),
    ];
    let d = drift(&old, &new);
    use ChangeKind::*;
    assert_eq!(
        rows(&d),
        vec![
            row(
                NewlyClosed,
                "db",
                s("127.0.10.2"),
                5432,
                s("open"),
                s("refused")
            ),
            row(
                NewlyFailing,
                "db",
                s("127.0.10.2"),
                5432,
                s("open"),
                s("refused")
            ),
            row(
                AddressChanged,
                "db",
                None,
                5432,
                s("127.0.10.1,127.0.10.2,127.0.10.10"),
                s("127.0.10.2,127.0.10.3")
            ),
        ]
    );
    let moved = &d.changes[2].detail;
    assert!(
        moved.contains("gone: 127.0.10.1 (was open), 127.0.10.10 (was open)"),
        "{moved}"
    );
    assert!(moved.contains("new: 127.0.10.3 (open)"), "{moved}");
}

#[test]
fn unresolved_names_are_keyed_without_an_address() {
    let dns = |name: &str, host: &str| {
        with(
            rec(s(name), host, None, 443, "dns-error", &["open"]),
            "detail",
            json!("no such name"),
        )
    };
    let old = vec![
        dns("still-broken", "nx.example"),
        rec(
            s("lost"),
            "lost.example",
            s("127.1.1.1"),
            443,
            "open",
            &["open"],
        ),
        rec(
            s("lost"),
            "lost.example",
            s("127.1.1.2"),
            443,
            "open",
            &["open"],
        ),
        dns("fixed", "fixed.example"),
    ];
    let new = vec![
        dns("still-broken", "nx.example"),
        dns("lost", "lost.example"),
        rec(
            s("fixed"),
            "fixed.example",
            s("127.1.2.1"),
            443,
            "open",
            &["open"],
        ),
        dns("typo", "typo.example"),
    ];
    let d = drift(&old, &new);
    use ChangeKind::*;
    assert_eq!(
        rows(&d),
        vec![
            row(
                NewlyOpen,
                "fixed",
                s("127.1.2.1"),
                443,
                s("dns-error"),
                s("open")
            ),
            row(
                NewlyClosed,
                "lost",
                s("127.1.1.1"),
                443,
                s("open"),
                s("dns-error")
            ),
            row(
                NewlyClosed,
                "lost",
                s("127.1.1.2"),
                443,
                s("open"),
                s("dns-error")
            ),
            row(
                NewlyFailing,
                "lost",
                s("127.1.1.1"),
                443,
                s("open"),
                s("dns-error")
            ),
            row(
                NewlyFailing,
                "lost",
                s("127.1.1.2"),
                443,
                s("open"),
                s("dns-error")
            ),
            row(
                NewlyPassing,
                "fixed",
                s("127.1.2.1"),
                443,
                s("dns-error"),
                s("open")
            ),
            row(Added, "typo", None, 443, None, s("dns-error")),
        ]
    );
    assert!(d.changes[1].detail.contains("no such name"));
}

#[test]
fn json_and_ndjson_inputs_give_the_same_drift() {
    let (old, new) = transitions();
    let dir = tempfile::tempdir().unwrap();
    let as_json = |d: &Drift| {
        let mut out = Vec::new();
        render(d, DiffFormat::Ndjson, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let reference = as_json(&drift(&old, &new));
    // Streamed document (as `--format json` writes it), pretty-printed, compact, and mixed.
    let pretty = |recs: &[Value]| {
        serde_json::to_string_pretty(&json!({"format_version": 1, "results": recs, "summary": {}}))
            .unwrap()
    };
    let compact =
        |recs: &[Value]| json!({"format_version": 1, "results": recs, "summary": {}}).to_string();
    for (i, (o, n)) in [
        (json_doc(&old), json_doc(&new)),
        (pretty(&old), pretty(&new)),
        (compact(&old), ndjson(&new)),
        (ndjson(&old), pretty(&new)),
    ]
    .into_iter()
    .enumerate()
    {
        let o = load(dir.path(), &format!("old{i}.json"), &o);
        let n = load(dir.path(), &format!("new{i}.json"), &n);
        assert_eq!(o.records.len(), old.len());
        assert_eq!(n.records.len(), new.len());
        assert_eq!(
            as_json(&diff(&o, &n, &[]).unwrap()),
            reference,
            "variant {i}"
        );
    }
    // Blank lines and CRLF line ends in NDJSON are fine.
    let crlf = ndjson(&old).replace('\n', "\r\n\r\n");
    let o = load(dir.path(), "crlf.ndjson", &crlf);
    assert_eq!(o.records.len(), old.len());
}

#[test]
fn records_of_an_older_schema_and_extra_fields_are_read() {
    // No vantage, none of the later fields; plus a field this build does not know.
    let line = r#"{"format_version":1,"name":null,"host":"127.0.10.1","addr":"127.0.10.1","port":22,"verdict":"open","expect":["open"],"ok":true,"connect_ms":0.2,"closed_after_ms":null,"banner":null,"detail":"x","errno":null,"attempts":1,"tags":[],"from_the_future":{"a":1}}"#;
    let dir = tempfile::tempdir().unwrap();
    let r = load(dir.path(), "old.ndjson", &format!("{line}\n"));
    assert_eq!(r.records.len(), 1);
    assert_eq!(r.records[0].vantage, "");
    assert_eq!(r.records[0].addr.as_deref(), Some("127.0.10.1"));
    assert_eq!(
        r.vantages().into_iter().collect::<Vec<_>>(),
        vec![String::new()]
    );
}

#[test]
fn truncated_ndjson_line_names_file_and_line() {
    let (old, _) = transitions();
    let mut text = ndjson(&old[..3]);
    let fourth = old[3].to_string();
    text.push('\n'); // a blank line still counts as a line
    text.push_str(&fourth[..fourth.len() / 2]);
    let dir = tempfile::tempdir().unwrap();
    let (p, e) = load_err(dir.path(), "old.ndjson", &text);
    assert!(
        e.starts_with(&format!(
            "{}:5: truncated or malformed record: EOF while parsing",
            p.display()
        )),
        "{e}"
    );
    // A record missing a required field is malformed too, with its line.
    let text = format!(
        "{}{}\n",
        ndjson(&old[..1]),
        json!({"format_version": 1, "port": 1})
    );
    let (p, e) = load_err(dir.path(), "missing.ndjson", &text);
    assert!(
        e.starts_with(&format!(
            "{}:2: truncated or malformed record: missing field",
            p.display()
        )),
        "{e}"
    );
}

#[test]
fn newer_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = transitions();
    let v2 = with(old[0].clone(), "format_version", json!(2));
    let (p, e) = load_err(
        dir.path(),
        "new.ndjson",
        &ndjson(&[v2.clone(), old[1].clone()]),
    );
    assert_eq!(
        e,
        format!(
            "{}:1: format_version 2 is newer than this telltale understands (1)",
            p.display()
        )
    );
    // Even when the newer record no longer fits this schema.
    let odd = json!({"format_version": 2, "target": {"host": "x"}, "port": "https"});
    let (p, e) = load_err(dir.path(), "odd.ndjson", &ndjson(&[old[1].clone(), odd]));
    assert_eq!(
        e,
        format!(
            "{}:2: format_version 2 is newer than this telltale understands (1)",
            p.display()
        )
    );
    // The JSON document's own version, and a record's inside it.
    let doc = json_doc(&old).replacen("\"format_version\":1", "\"format_version\":2", 1);
    let (p, e) = load_err(dir.path(), "new.json", &doc);
    assert_eq!(
        e,
        format!(
            "{}: format_version 2 is newer than this telltale understands (1)",
            p.display()
        )
    );
    let (p, e) = load_err(dir.path(), "rec.json", &json_doc(&[old[1].clone(), v2]));
    assert_eq!(
        e,
        format!(
            "{}: results[1]: format_version 2 is newer than this telltale understands (1)",
            p.display()
        )
    );
}

#[test]
fn different_vantages_need_a_map() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = transitions();
    let old: Vec<Value> = old
        .into_iter()
        .map(|r| with(r, "vantage", json!("scanner-a")))
        .collect();
    let new: Vec<Value> = new
        .into_iter()
        .map(|r| with(r, "vantage", json!("scanner-b")))
        .collect();
    let o = load(dir.path(), "old.ndjson", &ndjson(&old));
    let n = load(dir.path(), "new.ndjson", &ndjson(&new));
    let e = diff(&o, &n, &[]).unwrap_err();
    assert!(matches!(e, DiffError::Vantage { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "reports come from different vantages ({}: scanner-a; {}: scanner-b); pass --vantage-map OLD=NEW",
            o.source, n.source
        )
    );
    // A map that does not cover the old vantage still fails, and says so.
    let e = diff(&o, &n, &[("scanner-x".into(), "scanner-b".into())]).unwrap_err();
    assert!(
        e.to_string()
            .contains("--vantage-map OLD=NEW must map every vantage"),
        "{e}"
    );
    let d = diff(&o, &n, &[("scanner-a".into(), "scanner-b".into())]).unwrap();
    let (o2, n2) = transitions();
    let reference = drift(&o2, &n2);
    assert_eq!(d.changes.len(), reference.changes.len());
    assert!(d.changes.iter().all(|c| c.vantage == "scanner-b"));
}

#[test]
fn multi_vantage_reports_compare_per_vantage() {
    let at = |r: Value, v: &str| with(r, "vantage", json!(v));
    let base = rec(
        s("web"),
        "web.example",
        s("127.0.10.1"),
        443,
        "open",
        &["open"],
    );
    let shut = rec(
        s("web"),
        "web.example",
        s("127.0.10.1"),
        443,
        "filtered",
        &["open"],
    );
    let table = |d: &Drift| {
        let mut out = Vec::new();
        render(d, DiffFormat::Table, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    // Only one vantage drifted: it is said once, above the groups.
    let d = drift(
        &[at(base.clone(), "dmz"), at(base.clone(), "office")],
        &[at(base.clone(), "dmz"), at(shut.clone(), "office")],
    );
    let kinds: Vec<(ChangeKind, &str)> = d
        .changes
        .iter()
        .map(|c| (c.kind, c.vantage.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ChangeKind::NewlyClosed, "office"),
            (ChangeKind::NewlyFailing, "office")
        ]
    );
    let t = table(&d);
    assert!(
        t.starts_with("vantage: office\n\nnewly closed (1)\n"),
        "{t}"
    );
    assert!(!t.contains("VANTAGE"), "{t}");
    // Both drifted: a VANTAGE column.
    let d = drift(
        &[at(base.clone(), "dmz"), at(base.clone(), "office")],
        &[at(shut.clone(), "dmz"), at(shut, "office")],
    );
    assert_eq!(d.changes.len(), 4);
    let t = table(&d);
    assert!(t.contains("  VANTAGE  NAME"), "{t}");
    assert!(t.lines().any(|l| l.starts_with("  dmz ")), "{t}");
    assert!(t.lines().any(|l| l.starts_with("  office ")), "{t}");
}

#[test]
fn empty_file_is_a_report_with_no_records() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = transitions();
    for (i, text) in ["", "\n\n  \n"].into_iter().enumerate() {
        let empty = load(dir.path(), &format!("empty{i}.ndjson"), text);
        assert!(empty.records.is_empty());
        assert!(empty.vantages().is_empty());
    }
    let empty = load(dir.path(), "empty.ndjson", "");
    let full = load(dir.path(), "full.ndjson", &ndjson(&old));
    // No vantage to disagree with: everything was added (or removed).
    let d = diff(&empty, &full, &[]).unwrap();
    assert_eq!(d.changes.len(), old.len());
    assert!(d.changes.iter().all(|c| c.kind == ChangeKind::Added));
    let d = diff(&full, &empty, &[]).unwrap();
    assert!(d.changes.iter().all(|c| c.kind == ChangeKind::Removed));
    // A JSON document with no results is empty too.
    let doc = load(dir.path(), "empty.json", &json_doc(&[]));
    assert!(doc.records.is_empty());
}

#[test]
fn garbage_is_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = transitions();
    let mut cut = json_doc(&old);
    cut.truncate(cut.len() / 2);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "cut.json",
            cut,
            ": truncated or malformed JSON report: EOF while parsing",
        ),
        (
            "bad.json",
            "{\"format_version\":1,\"results\":[{\"oops\": tru}]}".into(),
            ": truncated or malformed JSON report: expected ident",
        ),
        (
            "wrongtype.json",
            "{\"format_version\":1,\"results\":{\"a\":1}}".into(),
            ": truncated or malformed JSON report: invalid type: map, expected a sequence",
        ),
        (
            "words.txt",
            "this is not a report\n".into(),
            ":1: truncated or malformed record: ",
        ),
        (
            "array.ndjson",
            "[1,2,3]\n".into(),
            ":1: truncated or malformed record: ",
        ),
        (
            "noversion.ndjson",
            "{\"host\":\"h\",\"port\":1,\"verdict\":\"open\"}\n".into(),
            ":1: truncated or malformed record: missing field `format_version`",
        ),
    ];
    for (file, text, want) in cases {
        let (p, e) = load_err(dir.path(), file, &text);
        assert!(
            e.starts_with(&format!("{}{want}", p.display())),
            "{file}: {e}"
        );
    }
    let missing = dir.path().join("nope.ndjson");
    let e = Report::load(&missing).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: cannot read: ", missing.display())),
        "{e}"
    );
    let (p, e) = {
        let p = dir.path().join("binary.ndjson");
        std::fs::write(&p, [0xff, 0xfe, 0x00, 0x7b]).unwrap();
        let e = Report::load(&p).unwrap_err().to_string();
        (p, e)
    };
    // Not UTF-8: the file and the position of the first bad byte.
    assert!(e.starts_with(&format!("{}:1:1: ", p.display())), "{e}");
}

#[test]
fn renders_table_ndjson_and_json() {
    let (old, new) = transitions();
    let d = drift(&old, &new);

    let mut out = Vec::new();
    render(&d, DiffFormat::Table, &mut out).unwrap();
    let table = String::from_utf8(out).unwrap();
    for heading in [
        "newly open (1)",
        "newly closed (1)",
        "verdict changed (2)",
        "newly failing (1)",
        "newly passing (2)",
        "added (1)",
        "removed (1)",
        "banner changed (1)",
    ] {
        assert!(
            table.lines().any(|l| l == heading),
            "no `{heading}` in\n{table}"
        );
    }
    assert!(!table.contains("address changed"));
    assert!(
        !table.contains("VANTAGE"),
        "one vantage: no column\n{table}"
    );
    assert!(table.starts_with(&format!("vantage: {V}\n")), "{table}");
    assert!(table.contains("filtered → unreachable"), "{table}");
    assert!(table.contains("- → open"), "{table}");
    let row = table
        .lines()
        .find(|l| l.contains("opened") && l.contains("→ open"))
        .unwrap();
    for cell in ["a.example", "127.0.10.1", "443"] {
        assert!(row.contains(cell), "{row}");
    }
    assert_eq!(
        table.lines().last().unwrap(),
        "8 targets changed: 1 newly open + newly passing, 1 newly closed + newly failing, 2 verdict changed, 1 newly passing, 1 added, 1 removed, 1 banner changed"
    );

    let mut out = Vec::new();
    render(&d, DiffFormat::Ndjson, &mut out).unwrap();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["kind"], "newly-open");
    assert_eq!(lines[0]["old"], "filtered");
    assert_eq!(lines[0]["new"], "open");
    assert_eq!(lines[0]["vantage"], V);
    for l in &lines {
        for k in [
            "kind", "vantage", "name", "host", "addr", "port", "old", "new", "detail",
        ] {
            assert!(l.get(k).is_some(), "missing {k} in {l}");
        }
    }

    let mut out = Vec::new();
    render(&d, DiffFormat::Json, &mut out).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["changes"].as_array().unwrap().len(), 10);
    assert_eq!(doc["counts"]["newly-passing"], 2);
    assert_eq!(doc["counts"]["address-changed"], 0);
    assert_eq!(doc["counts"].as_object().unwrap().len(), 9);
}
