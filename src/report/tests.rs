//! Sinks tested from hand-built records, no network: each format parses back.

use super::*;
use crate::inventory::{Inventory, Overrides};
use crate::probe::Outcome;
use crate::verdict::Verdict;

fn records() -> Vec<Record> {
    let mut inv = Inventory::default();
    inv.add_text(
        "t.yaml",
        "targets:\n  - {name: \"db <1>\", host: 127.0.0.1, port: 22, tags: [prod]}\n  - {host: \"::1\", port: 80, expect: blocked}\n",
        Overrides::default(),
    )
    .unwrap();
    let mut open = Outcome::without_connect(Verdict::Open, None, "connected".into());
    open.connect_ms = Some(0.25);
    open.banner = b"SSH-2.0-x\r\n\x00".to_vec();
    let refused = Outcome::without_connect(
        Verdict::Refused,
        Some("ECONNREFUSED".into()),
        "ECONNREFUSED, \"quoted\"".into(),
    );
    let meta = crate::record::RunMeta {
        vantage: "lab".into(),
        ..Default::default()
    };
    vec![
        Record::new(&inv.targets[0], "127.0.0.1".parse().ok(), 22, open, &meta),
        Record::new(
            &inv.targets[1],
            "::1".parse().ok(),
            80,
            refused.clone(),
            &meta,
        ),
        Record::new(
            &inv.targets[0],
            "127.0.0.1".parse().ok(),
            22,
            refused,
            &meta,
        ),
    ]
}

fn render(format: Format) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    let mut sink = sink(
        format,
        Output::file(&path).unwrap(),
        TableOptions { all: true },
    );
    let mut s = Summary::default();
    for r in records() {
        s.add(&r);
        sink.record(&r).unwrap();
    }
    sink.finish(&s).unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temp file left behind");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn ndjson_lines_carry_the_schema() {
    let text = render(Format::Ndjson);
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for l in &lines {
        for f in [
            "format_version",
            "name",
            "host",
            "addr",
            "port",
            "verdict",
            "expect",
            "ok",
            "connect_ms",
            "closed_after_ms",
            "banner",
            "detail",
            "attempts",
            "errno",
            "tags",
        ] {
            assert!(l.get(f).is_some(), "missing {f} in {l}");
        }
    }
    assert_eq!(lines[0]["banner"], "SSH-2.0-x\\r\\n\\x00");
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(
        lines[1]["expect"],
        serde_json::json!(["refused", "unreachable", "filtered"])
    );
    assert_eq!(lines[1]["ok"], true);
    assert_eq!(lines[2]["ok"], false);
}

#[test]
fn json_document_has_results_and_summary() {
    let v: serde_json::Value = serde_json::from_str(&render(Format::Json)).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 3);
    assert_eq!(v["summary"]["total"], 3);
    assert_eq!(v["summary"]["mismatches"], 1);
    assert_eq!(v["summary"]["counts"]["refused"], 2);
    assert_eq!(v["summary"]["counts"]["filtered"], 0);
}

#[test]
fn csv_round_trips_quotes() {
    let text = render(Format::Csv);
    let mut rdr = ::csv::Reader::from_reader(text.as_bytes());
    let h: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        h.join(","),
        "name,host,addr,port,verdict,expect,ok,connect_ms,closed_after_ms,attempts,errno,detail,banner,vantage,trusted,wildcard,flaky,shard"
    );
    let rows: Vec<::csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[1][11], "ECONNREFUSED, \"quoted\"");
    assert_eq!(&rows[1][5], "refused|unreachable|filtered");
}

#[test]
fn junit_counts_failures() {
    let text = render(Format::Junit);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].attribute("message"),
        Some("expected open, got refused")
    );
}

#[test]
fn table_shows_meaning_and_who_to_ask() {
    let text = render(Format::Table);
    assert!(text.contains("db <1>"));
    assert!(text.contains("server admin"));
    assert!(text.contains("3 probes, 2 as expected, 1 not as expected"));
    assert!(text.contains("refused ✗"));
}

#[test]
fn failed_run_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.json");
    std::fs::write(&path, "good").unwrap();
    let out = Output::file(&path).unwrap();
    drop(out);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "good");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
