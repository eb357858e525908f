//! Sinks tested from hand-built records, no network: each format parses back.

use std::io::Write;

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
        TableOptions {
            all: true,
            ..Default::default()
        },
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

// ---- bounded memory: the spilling paths give the same bytes as an all-in-memory rendering ----

use std::collections::HashSet;
use std::sync::Arc;

use spill::{Dec, Item, Sorter, Spool};

/// `n` records built from the hand-made ones: repeated names and endpoints (equal sort keys,
/// repeated Prometheus label sets), varied widths, some with attempts (the FLAKY column).
fn many(n: usize, flaky: bool) -> Vec<Record> {
    let base = records();
    (0..n)
        .map(|i| {
            let mut r = base[i % base.len()].clone();
            r.port = u16::try_from(i % 997).unwrap();
            r.addr = Some(std::net::IpAddr::from([
                127,
                0,
                (i / 5000) as u8,
                (i % 7) as u8,
            ]));
            r.host = Arc::from(format!("h{}", i % 13).as_str());
            if i % 3 == 0 {
                r.name = Some(Arc::from("x".repeat(i % 40).as_str()));
            }
            r.detail = format!("{} #{i}", r.detail);
            if flaky && i % 11 == 0 {
                r.attempt_verdicts = Some(vec![r.verdict, Verdict::Filtered]);
            }
            r
        })
        .collect()
}

/// Every fourth record repeats the sort key and label set of the one two before it (with its
/// own detail, so the table shows which came first).
fn with_repeats(mut recs: Vec<Record>) -> Vec<Record> {
    for i in (3..recs.len()).step_by(4) {
        let mut r = recs[i - 2].clone();
        r.detail = format!("repeat #{i}");
        recs[i] = r;
    }
    recs
}

fn render_records(format: Format, all: bool, recs: &[Record]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    let mut sink = sink(
        format,
        Output::file(&path).unwrap(),
        TableOptions {
            all,
            ..Default::default()
        },
    );
    let mut s = Summary::default();
    for r in recs {
        s.add(r);
        sink.record(r).unwrap();
    }
    sink.finish(&s).unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temp file next to the output");
    std::fs::read_to_string(path).unwrap()
}

/// The table as the all-in-memory code rendered it: a stable sort, then aligned rows.
fn table_in_memory(all: bool, recs: &[Record]) -> String {
    let mut rows: Vec<Record> = recs
        .iter()
        .filter(|r| all || !r.passed())
        .cloned()
        .collect();
    rows.sort_by(|a, b| {
        (a.ok, a.label(), &a.host, a.addr, a.port).cmp(&(b.ok, b.label(), &b.host, b.addr, b.port))
    });
    let mut out = Vec::new();
    table::render_rows(&mut out, &rows).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn spilled_table_is_the_in_memory_table() {
    // About 20 MB of rows: several sorted runs merged back.
    for (n, all, flaky) in [(60_000, true, true), (30_000, false, false)] {
        let recs = with_repeats(many(n, flaky));
        let text = render_records(Format::Table, all, &recs);
        let rows = table_in_memory(all, &recs);
        assert!(
            text.starts_with(&rows),
            "rows differ from the in-memory table"
        );
        assert!(
            text[rows.len()..].starts_with("\nVERDICT "),
            "summary follows"
        );
        assert_eq!(text.contains("FLAKY"), flaky);
    }
}

#[test]
fn spilled_junit_is_complete_and_parses() {
    let recs = many(30_000, false);
    let text = render_records(Format::Junit, false, &recs);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 30_000);
    // In arrival order: the detail carries the record number.
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    let want = recs.iter().filter(|r| !r.passed()).count();
    assert_eq!(failures.len(), want);
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("failures"), Some(want.to_string().as_str()));
    assert!(
        failures[want - 1]
            .text()
            .unwrap()
            .ends_with(&format!("#{}", 30_000 - 1))
    );
}

#[test]
fn spilled_prometheus_keeps_first_samples_in_arrival_order() {
    let recs = with_repeats(many(60_000, false));
    let text = render_records(Format::Prometheus, false, &recs);
    // The in-memory rule: every sample of a family in arrival order, a repeated label set
    // dropped after its first sample.
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("telltale_probe_ok{"))
        .collect();
    let mut seen = HashSet::new();
    let mut want = Vec::new();
    for r in &recs {
        let line = format!(
            "telltale_probe_ok{{name=\"{}\",host=\"{}\",addr=\"{}\",port=\"{}\",verdict=\"{}\",expected=\"{}\",vantage=\"lab\"}} {}",
            r.name.as_deref().unwrap_or(""),
            r.host,
            r.addr.unwrap(),
            r.port,
            r.verdict,
            r.expect.names().join("|"),
            u8::from(r.passed())
        );
        let labels = line.rsplit_once(' ').unwrap().0.to_string();
        if seen.insert(labels) {
            want.push(line);
        }
    }
    assert!(want.len() < recs.len(), "the input has repeated label sets");
    assert_eq!(samples, want);
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    assert_eq!(
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == "telltale_probe_ok")
            .count(),
        want.len()
    );
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pair(u32, u32);

impl Item for Pair {
    fn encode(&self, out: &mut Vec<u8>) {
        spill::put_u64(out, (u64::from(self.0) << 32) | u64::from(self.1));
    }
    fn decode(d: &mut Dec<'_>) -> io::Result<Self> {
        let v = d.u64()?;
        Ok(Pair((v >> 32) as u32, v as u32))
    }
    fn heap_bytes(&self) -> usize {
        0
    }
}

#[test]
fn sorter_merges_many_runs_in_passes() {
    // A tiny budget: a run every 10 items, over FAN_IN runs, so merging takes several passes.
    let mut s = Sorter::new(10 * std::mem::size_of::<Pair>());
    let n = 20_000u32;
    let mut want = Vec::new();
    for i in 0..n {
        let p = (i.wrapping_mul(2_654_435_761) % 1000, i);
        want.push(Pair(p.0, p.1));
        s.push(Pair(p.0, p.1)).unwrap();
    }
    assert!(s.runs() > spill::FAN_IN * 2, "{} runs", s.runs());
    want.sort();
    let got: Vec<Pair> = s.finish().unwrap().map(Result::unwrap).collect();
    assert_eq!(got, want);
}

#[test]
fn sorter_small_input_stays_in_memory() {
    let mut s = Sorter::new(1 << 20);
    for i in (0..100u32).rev() {
        s.push(Pair(i, 0)).unwrap();
    }
    assert_eq!(s.runs(), 0);
    let got: Vec<u32> = s.finish().unwrap().map(|p| p.unwrap().0).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn spool_moves_to_a_temp_file_past_its_limit() {
    use std::io::Read;
    let mut small = Spool::new(64);
    small.write_all(b"abc").unwrap();
    assert!(!small.spilled());
    let mut s = String::new();
    small.into_reader().unwrap().read_to_string(&mut s).unwrap();
    assert_eq!(s, "abc");

    let mut big = Spool::new(64);
    let mut want = Vec::new();
    for i in 0..10_000 {
        let line = format!("line {i}\n");
        big.write_all(line.as_bytes()).unwrap();
        want.extend_from_slice(line.as_bytes());
    }
    assert!(big.spilled());
    let mut got = Vec::new();
    big.into_reader().unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got, want);
}
