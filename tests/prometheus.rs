//! `--format prometheus`: through the library's sink (records built from an inventory text
//! and hand-made outcomes, written to a file, parsed back with `prometheus-parse` and with a
//! strict reader of the text exposition format, label escapes included), and end to end as a
//! node_exporter textfile written by a scan in its own `unshare -rnmpf` namespace.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use prometheus_parse::{Scrape, Value};
use telltale::inventory::{Inventory, Overrides};
use telltale::probe::Outcome;
use telltale::record::{Record, RunMeta};
use telltale::report::{Format, Output, Summary, TableOptions, sink};
use telltale::verdict::Verdict;

use common::ns_with_jobs as netns;

/// A target name with every character the format needs escaped.
const NASTY: &str = "db \"primary\" \\ eu\nsecond line";
/// A vantage label with a quote and a backslash.
const VANTAGE: &str = "lab \"7\" C:\\scans";

fn records() -> Vec<Record> {
    let mut inv = Inventory::default();
    inv.add_text(
        "t.yaml",
        "targets:\n\
         \x20 - {name: \"db \\\"primary\\\" \\\\ eu\\nsecond line\", host: 127.0.0.1, port: 5432}\n\
         \x20 - {host: \"::1\", port: 80, expect: blocked}\n\
         \x20 - {name: web, host: 127.0.0.2, port: 443, expect: open}\n\
         \x20 - {host: nx.invalid, port: 22, expect: open}\n",
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(inv.targets[0].name.as_deref(), Some(NASTY));
    let meta = RunMeta {
        vantage: VANTAGE.into(),
        ..RunMeta::default()
    };
    let mut open = Outcome::without_connect(Verdict::Open, None, "connected".into());
    open.connect_ms = Some(0.25);
    let refused = |detail: &str| {
        Outcome::without_connect(Verdict::Refused, Some("ECONNREFUSED".into()), detail.into())
    };
    let mut closed = Outcome::without_connect(Verdict::ClosedByPeer, None, "closed".into());
    closed.connect_ms = Some(1.5);
    closed.closed_after_ms = Some(0.1);
    let dns = Outcome::without_connect(Verdict::DnsError, None, "no such name".into());
    vec![
        Record::new(&inv.targets[0], "127.0.0.1".parse().ok(), 5432, open, &meta),
        Record::new(
            &inv.targets[1],
            "::1".parse().ok(),
            80,
            refused("as expected"),
            &meta,
        ),
        Record::new(
            &inv.targets[2],
            "127.0.0.2".parse().ok(),
            443,
            closed,
            &meta,
        ),
        Record::new(&inv.targets[3], None, 22, dns, &meta),
    ]
}

fn summary(recs: &[Record]) -> Summary {
    let mut s = Summary::default();
    for r in recs {
        s.add(r);
    }
    s.vantage = VANTAGE.to_string();
    s.started_at = 1_700_000_000.25;
    s.elapsed_ms = 3_001.5;
    s
}

fn render(recs: &[Record], s: &Summary) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("telltale.prom");
    let mut out = sink(
        Format::Prometheus,
        Output::file(&path).unwrap(),
        TableOptions::default(),
    );
    for r in recs {
        out.record(r).unwrap();
    }
    out.finish(s).unwrap();
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temp file left behind");
    std::fs::read_to_string(path).unwrap()
}

fn scrape(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

fn gauge(v: &Value) -> f64 {
    match v {
        Value::Gauge(g) => *g,
        other => panic!("not a gauge: {other:?}"),
    }
}

/// prometheus-parse keeps label values as written (escaped); undo the three escapes.
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some(c @ ('\\' | '"')) => out.push(c),
                other => panic!("bad escape \\{other:?} in {v:?}"),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A strict reader of one sample line: `name{k="v",...} value`, escapes decoded. Panics on
/// anything the exposition format does not allow.
fn parse_sample(line: &str) -> (String, BTreeMap<String, String>, f64) {
    let name_end = line.find(['{', ' ']).unwrap();
    let name = &line[..name_end];
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "metric name {name:?}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices();
        loop {
            // label name up to '='
            let mut key = String::new();
            let (_, c) = chars.next().unwrap();
            if c == '}' {
                break;
            }
            key.push(c);
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            assert!(
                key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "label name {key:?}"
            );
            assert_eq!(chars.next().unwrap().1, '"', "label {key} value not quoted");
            let mut value = String::new();
            loop {
                let (_, c) = chars.next().unwrap();
                match c {
                    '"' => break,
                    '\\' => match chars.next().unwrap().1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        c => panic!("bad escape \\{c} in {line:?}"),
                    },
                    '\n' => panic!("raw newline in {line:?}"),
                    c => value.push(c),
                }
            }
            assert!(
                labels.insert(key.clone(), value).is_none(),
                "label {key} twice"
            );
            match chars.next().unwrap() {
                (_, ',') => {}
                (i, '}') => {
                    rest = &r[i + 1..];
                    break;
                }
                (_, c) => panic!("unexpected {c:?} after a label in {line:?}"),
            }
        }
    }
    let value = rest.strip_prefix(' ').unwrap();
    (name.to_string(), labels, value.parse().unwrap())
}

/// Every sample line read strictly, and the family structure checked: one HELP and one TYPE
/// gauge per family, before its samples, which are contiguous.
fn strict(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    assert!(text.ends_with('\n'));
    let mut samples = Vec::new();
    let mut families: Vec<String> = Vec::new();
    let mut typed: Option<String> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            let name = help.split(' ').next().unwrap().to_string();
            assert!(!families.contains(&name), "family {name} twice");
            assert_eq!(lines.next(), Some(format!("# TYPE {name} gauge").as_str()));
            families.push(name.clone());
            typed = Some(name);
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment {line:?}");
        let s = parse_sample(line);
        assert_eq!(
            Some(&s.0),
            typed.as_ref(),
            "sample outside its family: {line}"
        );
        samples.push(s);
    }
    samples
}

fn by_name<'a>(
    samples: &'a [(String, BTreeMap<String, String>, f64)],
    name: &str,
) -> Vec<&'a (String, BTreeMap<String, String>, f64)> {
    samples.iter().filter(|s| s.0 == name).collect()
}

#[test]
fn families_counts_and_values() {
    let recs = records();
    let s = summary(&recs);
    let text = render(&recs, &s);
    // The whole exposition as node_exporter reads it (tests/snapshots/); the checks below
    // parse it.
    insta::assert_snapshot!("prometheus_textfile", text);
    let scrape = scrape(&text);
    let samples = strict(&text);
    assert_eq!(scrape.samples.len(), samples.len(), "{text}");
    let names = [
        "telltale_probe_ok",
        "telltale_probe_connect_seconds",
        "telltale_scan_duration_seconds",
        "telltale_scan_probes",
        "telltale_scan_mismatches",
        "telltale_scan_timestamp_seconds",
        "telltale_scan_incomplete",
    ];
    for n in names {
        assert!(scrape.docs.contains_key(n), "no HELP for {n}");
    }
    let of = |name: &str| -> Vec<&prometheus_parse::Sample> {
        scrape.samples.iter().filter(|s| s.metric == name).collect()
    };

    // One probe_ok per record; ok false → 0.
    let ok = of("telltale_probe_ok");
    assert_eq!(ok.len(), 4);
    let find = |host: &str| {
        ok.iter()
            .find(|s| s.labels.get("host") == Some(host))
            .unwrap()
    };
    let v6 = find("::1");
    assert_eq!(gauge(&v6.value), 1.0);
    assert_eq!(v6.labels.get("name"), Some(""));
    assert_eq!(v6.labels.get("addr"), Some("::1"));
    assert_eq!(v6.labels.get("port"), Some("80"));
    assert_eq!(v6.labels.get("verdict"), Some("refused"));
    assert_eq!(
        v6.labels.get("expected"),
        Some("refused|unreachable|filtered")
    );
    let web = find("127.0.0.2");
    assert_eq!(gauge(&web.value), 0.0, "closed-by-peer, expected open");
    assert_eq!(web.labels.get("name"), Some("web"));
    assert_eq!(web.labels.get("verdict"), Some("closed-by-peer"));
    let nx = find("nx.invalid");
    assert_eq!(gauge(&nx.value), 0.0);
    assert_eq!(nx.labels.get("addr"), Some(""), "no address for dns-error");
    assert_eq!(nx.labels.get("verdict"), Some("dns-error"));
    let db = find("127.0.0.1");
    assert_eq!(gauge(&db.value), 1.0);
    assert_eq!(unescape(db.labels.get("name").unwrap()), NASTY);
    assert_eq!(unescape(db.labels.get("vantage").unwrap()), VANTAGE);

    // Connect time only where it connected, in seconds.
    let connect = of("telltale_probe_connect_seconds");
    let mut secs: Vec<(String, f64)> = connect
        .iter()
        .map(|s| (s.labels.get("host").unwrap().to_string(), gauge(&s.value)))
        .collect();
    secs.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        secs,
        vec![
            ("127.0.0.1".to_string(), 0.00025),
            ("127.0.0.2".to_string(), 0.0015)
        ]
    );
    assert!(connect.iter().all(|s| s.labels.get("verdict").is_none()));

    // Scan-level gauges.
    let one = |name: &str| {
        let v = of(name);
        assert_eq!(v.len(), 1, "{name}");
        assert_eq!(unescape(v[0].labels.get("vantage").unwrap()), VANTAGE);
        gauge(&v[0].value)
    };
    assert_eq!(one("telltale_scan_duration_seconds"), 3.0015);
    assert_eq!(one("telltale_scan_mismatches"), 2.0);
    assert_eq!(one("telltale_scan_timestamp_seconds"), 1_700_000_000.25);
    assert_eq!(one("telltale_scan_incomplete"), 0.0);
    let probes: BTreeMap<String, f64> = of("telltale_scan_probes")
        .iter()
        .map(|s| {
            (
                s.labels.get("verdict").unwrap().to_string(),
                gauge(&s.value),
            )
        })
        .collect();
    assert_eq!(
        probes.len(),
        Verdict::ALL.len(),
        "every verdict, zeros included"
    );
    for v in Verdict::ALL {
        let want = recs.iter().filter(|r| r.verdict == v).count() as f64;
        assert_eq!(probes[v.as_str()], want, "{v}");
    }
    assert_eq!(probes["filtered"], 0.0);
    assert_eq!(probes.values().sum::<f64>(), 4.0);
}

#[test]
fn label_escapes_round_trip() {
    let recs = records();
    let text = render(&recs, &summary(&recs));
    // No sample spans lines: the newline in the name is escaped.
    assert!(
        text.contains(r#"name="db \"primary\" \\ eu\nsecond line""#),
        "{text}"
    );
    assert!(text.contains(r#"vantage="lab \"7\" C:\\scans""#), "{text}");
    let samples = strict(&text);
    let ok = by_name(&samples, "telltale_probe_ok");
    let db = ok.iter().find(|s| s.1["host"] == "127.0.0.1").unwrap();
    assert_eq!(db.1["name"], NASTY);
    assert_eq!(db.1["vantage"], VANTAGE);
    let connect = by_name(&samples, "telltale_probe_connect_seconds");
    assert!(connect.iter().any(|s| s.1["name"] == NASTY));
    for s in &samples {
        assert_eq!(s.1["vantage"], VANTAGE, "{s:?}");
    }
    let keys: Vec<&str> = db.1.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "addr", "expected", "host", "name", "port", "vantage", "verdict"
        ]
    );
}

#[test]
fn an_interrupted_empty_run_is_still_a_valid_file() {
    let mut s = Summary::default();
    s.set_interrupted();
    s.vantage = "v".into();
    let text = render(&[], &s);
    let samples = strict(&text);
    assert!(by_name(&samples, "telltale_probe_ok").is_empty());
    assert!(
        !text.contains("telltale_probe_ok"),
        "no empty family: {text}"
    );
    let incomplete = by_name(&samples, "telltale_scan_incomplete");
    assert_eq!(incomplete.len(), 1);
    assert_eq!(incomplete[0].2, 1.0);
    assert_eq!(
        by_name(&samples, "telltale_scan_probes").len(),
        Verdict::ALL.len()
    );
    let scrape = scrape(&text);
    assert_eq!(scrape.samples.len(), samples.len());
}

// ---------------------------------------------------------------------------------------------
// The textfile, end to end
// ---------------------------------------------------------------------------------------------

/// `--format prometheus -o FILE` writes an exposition-format file (atomically: nothing else is
/// left in its directory) with per-probe and per-run series and HELP/TYPE lines.
#[test]
fn prometheus_textfile_end_to_end() {
    let inv = "defaults: {timeout: 1200ms, linger: 200ms}
targets:
  - {name: web, host: 127.0.0.1, port: 7100}
  - {name: deny, host: 127.0.0.1, port: 7101, expect: refused}
  - {name: broken, host: 127.0.0.1, port: 7102}
";
    let ns = netns(
        &[("inv.yaml", inv)],
        "lab_start lab --ip 127.0.0.1 --open 7100
mkdir textfile
scan prom inv.yaml --format prometheus -o textfile/telltale.prom --no-progress --vantage lab",
    );
    ns.assert_rc("prom", 1);
    assert_eq!(
        ns.stdout("prom"),
        "",
        "with -o nothing goes to stdout\n{}",
        ns.show("prom")
    );
    let entries: Vec<String> = std::fs::read_dir(ns.path("textfile"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        entries,
        vec!["telltale.prom".to_string()],
        "no temp file left"
    );
    let text = ns.read("textfile/telltale.prom");
    assert!(text.ends_with('\n'), "{text}");

    let ok: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("telltale_probe_ok{"))
        .collect();
    assert_eq!(ok.len(), 3, "one series per probe:\n{text}");
    let line = |needle: &str| {
        *ok.iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no probe_ok with {needle}:\n{text}"))
    };
    assert!(line("name=\"web\"").ends_with(" 1"), "{text}");
    assert!(line("name=\"deny\"").ends_with(" 1"), "{text}");
    assert!(line("name=\"broken\"").ends_with(" 0"), "{text}");
    assert!(line("name=\"web\"").contains("vantage=\"lab\""), "{text}");
    assert!(line("name=\"web\"").contains("port=\"7100\""), "{text}");

    assert!(
        text.lines().any(|l| l.starts_with("telltale_scan_probes{")
            && l.contains("verdict=\"refused\"")
            && l.ends_with(" 2")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("telltale_scan_mismatches") && l.ends_with(" 1")),
        "{text}"
    );
    for family in [
        "telltale_probe_ok",
        "telltale_probe_connect_seconds",
        "telltale_scan_probes",
        "telltale_scan_duration_seconds",
        "telltale_scan_mismatches",
        "telltale_scan_timestamp_seconds",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# HELP {family} "))),
            "no HELP for {family}:\n{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# TYPE {family} "))),
            "no TYPE for {family}:\n{text}"
        );
    }
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let value = l.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "bad sample value in {l:?}");
    }
}
