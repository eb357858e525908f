//! Reading reports for `diff` and `merge` (`telltale::diff::Report`): NDJSON and JSON documents
//! (streamed, pretty, compact, CRLF) give the same drift, older records and unknown fields are
//! read, a newer `format_version` is refused, different vantages need `--vantage-map`, an empty
//! file is an empty report, and truncated or foreign input is refused naming file and line.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::{Value, json};
use telltale::diff::{ChangeKind, DiffError, DiffFormat, Drift, Report, diff, render};

use common::reports::*;

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
