#![allow(clippy::unwrap_used)]
//! Output details (issue 11, item 8): Prometheus seconds without float noise
//! (`0.000137`, not `0.00013700000000000002`), JUnit test cases with the time the probe measured
//! (not `0.000` for every sub-millisecond connect) and readable names (`127.0.0.1:22`, not
//! `127.0.0.1 127.0.0.1:22`). Each through the library's sinks with chosen values, and on a
//! real scan of loopback lab services.

mod common;

use prometheus_parse::{Scrape, Value};
use telltale::inventory::{Inventory, Overrides};
use telltale::probe::Outcome;
use telltale::record::{Record, RunMeta};
use telltale::report::{Format, Output, Summary, TableOptions, sink};
use telltale::verdict::Verdict;

use common::{Lab, inventory, scan};

fn render(format: Format, recs: &[Record], s: &Summary) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out");
    let mut out = sink(
        format,
        Output::file(&path).unwrap(),
        TableOptions::default(),
    );
    for r in recs {
        out.record(r).unwrap();
    }
    out.finish(s).unwrap();
    std::fs::read_to_string(path).unwrap()
}

fn summary(recs: &[Record]) -> Summary {
    let mut s = Summary::default();
    for r in recs {
        s.add(r);
    }
    s.vantage = "lab".into();
    s.started_at = 1_700_000_000.123_456;
    s.elapsed_ms = 3_001.234;
    s
}

/// Digits after the decimal point of a sample value as written.
fn decimals(value: &str) -> usize {
    value.split_once('.').map_or(0, |(_, f)| f.len())
}

/// Significant digits of a sample value as written.
fn significant(value: &str) -> usize {
    value
        .trim_start_matches(['0', '.'])
        .chars()
        .filter(char::is_ascii_digit)
        .count()
}

/// Every sample value: parses (prometheus-parse reads the whole file), is written in plain
/// decimal notation, to the microsecond at most and with at most 17 significant digits.
fn assert_clean_values(text: &str) -> Scrape {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(!scrape.samples.is_empty(), "{text}");
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = l.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "{l}");
        assert!(
            !value.contains(['e', 'E']) && decimals(value) <= 6 && significant(value) <= 17,
            "float noise in {l:?}"
        );
    }
    scrape
}

fn gauge(v: &Value) -> f64 {
    match v {
        Value::Gauge(g) => *g,
        other => panic!("not a gauge: {other:?}"),
    }
}

/// `n` open records on 127.0.0.1 ports 1..=n, the k-th connected in k µs (as the probe rounds
/// it: milliseconds to three decimals).
fn open_records(n: u16) -> Vec<Record> {
    let mut inv = Inventory::default();
    inv.add_text(
        "t.yaml",
        &format!("targets:\n  - {{host: 127.0.0.1, ports: \"1-{n}\"}}\n"),
        Overrides::default(),
    )
    .unwrap();
    let meta = RunMeta {
        vantage: "lab".into(),
        ..RunMeta::default()
    };
    (1..=n)
        .map(|port| {
            let mut o = Outcome::without_connect(Verdict::Open, None, "connected".into());
            // As the probe measures: a Duration in seconds, rounded to the microsecond, in ms.
            let d = std::time::Duration::from_micros(u64::from(port));
            o.connect_ms = Some((d.as_secs_f64() * 1e6).round() / 1e3);
            Record::new(&inv.targets[0], "127.0.0.1".parse().ok(), port, o, &meta)
        })
        .collect()
}

#[test]
fn prometheus_seconds_are_the_measured_microseconds_without_noise() {
    let recs = open_records(3000);
    assert_eq!(recs[136].connect_ms, Some(0.137));
    let s = summary(&recs);
    let text = render(Format::Prometheus, &recs, &s);
    let scrape = assert_clean_values(&text);
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    };
    assert!(
        line("telltale_probe_connect_seconds{name=\"\",host=\"127.0.0.1\",addr=\"127.0.0.1\",port=\"137\",")
            .ends_with("} 0.000137"),
        "{text}"
    );
    assert!(line("telltale_scan_duration_seconds{").ends_with(" 3.001234"));
    assert!(line("telltale_scan_timestamp_seconds{").ends_with(" 1700000000.123456"));
    for sample in scrape
        .samples
        .iter()
        .filter(|s| s.metric == "telltale_probe_connect_seconds")
    {
        let port: f64 = sample.labels.get("port").unwrap().parse().unwrap();
        assert_eq!(gauge(&sample.value), port / 1e6, "{sample:?}");
    }
}

/// A lab with the services a JUnit report shows, and an inventory over it: unnamed and named
/// addresses, a CIDR host, connected and refused probes.
fn lab_inventory(lab: &Lab) -> common::Inventory {
    let p = |k: &str| lab.port(k);
    inventory(&format!(
        "defaults: {{linger: 300ms}}\ntargets:\n\
         \x20 - {{host: \"127.0.0.1\", port: {}, expect: open}}\n\
         \x20 - {{name: ssh, host: \"127.0.0.1\", port: {}, expect: open}}\n\
         \x20 - {{name: deny, host: \"127.0.0.1\", port: {}, expect: closed-by-peer}}\n\
         \x20 - {{name: block, host: \"127.0.0.1/32\", port: {}, expect: open}}\n",
        p("open"),
        p("banner"),
        p("closed-msg"),
        p("refused"),
    ))
}

#[test]
fn junit_cases_carry_measured_times_and_readable_names() {
    let lab = Lab::start("127.0.0.1", &["open", "banner", "closed-msg", "refused"]);
    let inv = lab_inventory(&lab);
    let run = scan(&inv, &["--format", "junit", "--no-progress"]);
    run.assert_code(1);
    let doc = roxmltree::Document::parse(&run.stdout)
        .unwrap_or_else(|e| panic!("junit is not XML: {e}\n{}", run.dump()));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 4, "{}", run.stdout);
    let case = |class: &str| {
        *cases
            .iter()
            .find(|c| c.attribute("classname") == Some(class))
            .unwrap_or_else(|| panic!("no testcase {class}\n{}", run.stdout))
    };
    let time = |class: &str| -> f64 { case(class).attribute("time").unwrap().parse().unwrap() };
    let name = |class: &str| case(class).attribute("name").unwrap().to_string();

    // Connected probes took time: connect plus, for closed-by-peer, the time until the close.
    for class in ["telltale.127.0.0.1", "telltale.ssh", "telltale.deny"] {
        assert!(time(class) > 0.0, "{class}: time 0\n{}", run.stdout);
    }
    // Names say what was probed, once.
    assert_eq!(
        name("telltale.127.0.0.1"),
        format!("127.0.0.1:{}", lab.port("open"))
    );
    assert_eq!(
        name("telltale.ssh"),
        format!("127.0.0.1:{}", lab.port("banner"))
    );
    assert_eq!(
        name("telltale.block"),
        format!("127.0.0.1/32 127.0.0.1:{}", lab.port("refused")),
        "a block's address follows the block"
    );
    for c in &cases {
        let n = c.attribute("name").unwrap();
        let words: Vec<&str> = n.split(' ').collect();
        let mut unique = words.clone();
        unique.dedup();
        assert_eq!(words, unique, "repetition in {n:?}");
        assert!(!n.contains("127.0.0.1 127.0.0.1"), "{n}");
    }
    // The suite time is the scan's, at most to the microsecond.
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    let t = suite.attribute("time").unwrap();
    assert!(t.parse::<f64>().unwrap() > 0.0 && decimals(t) <= 6, "{t}");
}

#[test]
fn junit_names_bracket_ipv6_and_name_unresolved_hosts() {
    let mut inv = Inventory::default();
    inv.add_text(
        "t.yaml",
        "targets:\n  - {host: \"::1\", port: 80}\n  - {host: nx.invalid, port: 22}\n  - {name: web, host: localhost, port: 443}\n",
        Overrides::default(),
    )
    .unwrap();
    let meta = RunMeta::default();
    let mut open = Outcome::without_connect(Verdict::Open, None, "connected".into());
    open.connect_ms = Some(0.137);
    let mut closed = Outcome::without_connect(Verdict::ClosedByPeer, None, "closed".into());
    closed.connect_ms = Some(0.25);
    closed.closed_after_ms = Some(1.5);
    let dns = Outcome::without_connect(Verdict::DnsError, None, "no such name".into());
    let recs = vec![
        Record::new(&inv.targets[0], "::1".parse().ok(), 80, open, &meta),
        Record::new(&inv.targets[1], None, 22, dns, &meta),
        Record::new(&inv.targets[2], "::1".parse().ok(), 443, closed, &meta),
    ];
    let text = render(Format::Junit, &recs, &summary(&recs));
    let doc = roxmltree::Document::parse(&text).unwrap();
    let got: Vec<(&str, &str)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| (n.attribute("name").unwrap(), n.attribute("time").unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("[::1]:80", "0.000137"),
            ("nx.invalid:22", "0"),
            ("localhost [::1]:443", "0.00175"),
        ],
        "{text}"
    );
}

#[test]
fn a_real_scan_writes_clean_prometheus_values() {
    let lab = Lab::start("127.0.0.1", &["open", "banner", "closed-msg", "refused"]);
    let inv = lab_inventory(&lab);
    let run = scan(&inv, &["--format", "prometheus", "--no-progress"]);
    run.assert_code(1);
    let scrape = assert_clean_values(&run.stdout);
    let connects = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "telltale_probe_connect_seconds")
        .count();
    assert_eq!(connects, 3, "{}", run.stdout);
}
