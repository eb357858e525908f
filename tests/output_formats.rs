//! Every output format parsed back on one loopback scenario: NDJSON and the JSON document
//! (records checked against `src/record.schema.json`, summary against the records), CSV, JUnit,
//! the table (`--all` or mismatches only), and all formats agreeing on every verdict.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use serde_json::Value;

/// Five targets, four as expected and one mismatch (`wrongexp`: a closing service expected open).
struct Scenario {
    lab: Lab,
    inv: Inventory,
}

fn scenario() -> Scenario {
    let lab = Lab::start(
        "127.0.0.1",
        &["open", "banner", "closed-msg", "refused", "closed"],
    );
    let yaml = format!(
        "targets:
  - {{name: webprod, host: \"127.0.0.1\", port: {open}, expect: open, tags: [prod, web]}}
  - {{host: \"127.0.0.1\", port: {banner}, expect: open}}
  - {{name: denymsg, host: \"127.0.0.1\", port: {msg}, expect: [closed-by-peer, reset-by-peer]}}
  - {{name: shutport, host: \"127.0.0.1\", port: {refused}, expect: refused}}
  - {{name: wrongexp, host: \"127.0.0.1\", port: {closed}, expect: open}}
",
        open = lab.port("open"),
        banner = lab.port("banner"),
        msg = lab.port("closed-msg"),
        refused = lab.port("refused"),
        closed = lab.port("closed"),
    );
    let inv = inventory(&yaml);
    Scenario { lab, inv }
}

fn record_by_port(recs: &[Value], port: u16) -> &Value {
    let hits: Vec<&Value> = recs.iter().filter(|r| r["port"] == port).collect();
    assert_eq!(hits.len(), 1, "port {port}: {}", show(recs));
    hits[0]
}

/// Checks one record against the record schema and the contract's field types.
fn check_record_shape(r: &Value) {
    let obj = r.as_object().unwrap();
    for k in RECORD_KEYS {
        assert!(obj.contains_key(*k), "record lacks `{k}`: {r}");
    }
    // Every key, type and invariant of src/record.schema.json; a key beyond it fails.
    validate_record(r, "scenario record");
    assert_eq!(r["format_version"], 1, "{r}");
    assert!(r["name"].is_string() || r["name"].is_null(), "{r}");
    assert!(r["host"].is_string(), "{r}");
    assert!(
        r["addr"].is_string(),
        "addr is null only for dns-error: {r}"
    );
    assert!(r["port"].is_u64(), "{r}");
    assert!(VERDICTS.contains(&verdict(r)), "{r}");
    let expect = r["expect"].as_array().unwrap();
    assert!(!expect.is_empty(), "{r}");
    for e in expect {
        assert!(VERDICTS.contains(&e.as_str().unwrap()), "{r}");
    }
    let ok = r["ok"].as_bool().unwrap();
    assert_eq!(
        ok,
        expect.iter().any(|e| e == verdict(r)),
        "ok must equal verdict ∈ expect: {r}"
    );
    for k in ["connect_ms", "closed_after_ms"] {
        assert!(r[k].is_null() || r[k].as_f64().is_some(), "{k}: {r}");
    }
    assert!(r["banner"].is_string() || r["banner"].is_null(), "{r}");
    assert!(r["detail"].is_string(), "{r}");
    assert!(r["errno"].is_string() || r["errno"].is_null(), "{r}");
    assert!(r["attempts"].as_u64().unwrap() >= 1, "{r}");
    for t in r["tags"].as_array().unwrap() {
        assert!(t.is_string(), "{r}");
    }
}

/// Checks the scenario's records (from ndjson or the json document).
fn check_scenario_records(s: &Scenario, recs: &[Value]) {
    assert_eq!(recs.len(), 5, "{}", show(recs));
    for r in recs {
        check_record_shape(r);
    }
    let web = by_name(recs, "webprod");
    assert_verdict(web, "open");
    assert_eq!(web["tags"], serde_json::json!(["prod", "web"]));
    assert_eq!(web["expect"], serde_json::json!(["open"]));
    assert!(web["connect_ms"].as_f64().is_some(), "{web}");
    assert!(web["closed_after_ms"].is_null(), "{web}");
    assert!(web["errno"].is_null(), "{web}");

    let unnamed = record_by_port(recs, s.lab.port("banner"));
    assert!(unnamed["name"].is_null(), "{unnamed}");
    assert_verdict(unnamed, "open");
    assert_eq!(unnamed["banner"], SSH_BANNER);
    assert_eq!(unnamed["tags"], serde_json::json!([]));

    let deny = by_name(recs, "denymsg");
    assert_verdict(deny, "closed-by-peer");
    assert_eq!(deny["banner"], DENY_MSG);
    assert_eq!(
        deny["expect"],
        serde_json::json!(["closed-by-peer", "reset-by-peer"])
    );
    assert!(deny["closed_after_ms"].as_f64().is_some(), "{deny}");
    assert_eq!(deny["ok"], true);

    let shut = by_name(recs, "shutport");
    assert_verdict(shut, "refused");
    assert_eq!(shut["errno"], "ECONNREFUSED");

    let wrong = by_name(recs, "wrongexp");
    assert_verdict(wrong, "closed-by-peer");
    assert_eq!(wrong["ok"], false);
}

#[test]
fn ndjson_records_have_every_contract_field() {
    let s = scenario();
    let (recs, run) = scan_ndjson(&s.inv, &[], 1);
    for line in run.stdout.lines() {
        assert!(
            !line.contains("\"summary\""),
            "ndjson has no summary line: {line}"
        );
    }
    check_scenario_records(&s, &recs);
}

#[test]
fn json_document_results_and_summary_agree() {
    let s = scenario();
    let run = scan(&s.inv, &["--format", "json"]);
    run.assert_code(1);
    let doc = run.json();
    assert_eq!(doc["format_version"], 1, "{doc}");
    let results = doc["results"].as_array().unwrap();
    check_scenario_records(&s, results);
    let sum = &doc["summary"];
    assert_eq!(sum["total"], 5, "{sum}");
    assert_eq!(sum["ok"], 4, "{sum}");
    assert_eq!(sum["mismatches"], 1, "{sum}");
    assert_eq!(sum["incomplete"], false, "{sum}");
    assert_eq!(sum["interrupted"], false, "{sum}");
    assert_eq!(sum["local_errors"], 0, "{sum}");
    assert!(sum["elapsed_ms"].as_f64().unwrap() > 0.0, "{sum}");
    let counts = sum["counts"].as_object().unwrap();
    let mut tally: BTreeMap<&str, u64> = BTreeMap::new();
    for r in results {
        *tally.entry(verdict(r)).or_default() += 1;
    }
    let mut total = 0;
    for v in VERDICTS {
        let c = counts
            .get(*v)
            .unwrap_or_else(|| panic!("counts lacks `{v}`: {sum}"))
            .as_u64()
            .unwrap();
        assert_eq!(c, tally.get(v).copied().unwrap_or(0), "count of {v}: {sum}");
        total += c;
    }
    assert_eq!(total, 5, "{sum}");
}

#[test]
fn csv_header_and_rows() {
    let s = scenario();
    let run = scan(&s.inv, &["--format", "csv"]);
    run.assert_code(1);
    assert_eq!(
        run.stdout.lines().next().unwrap_or(""),
        CSV_HEADER,
        "{}",
        run.dump()
    );
    let mut rdr = csv::Reader::from_reader(run.stdout.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    let rows: Vec<BTreeMap<String, String>> = rdr
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), header.len(), "{rec:?}");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 5, "{}", run.dump());
    let row = |name: &str| -> &BTreeMap<String, String> {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no csv row named {name:?}\n{}", run.dump()))
    };
    for r in &rows {
        assert!(r["ok"] == "true" || r["ok"] == "false", "{r:?}");
        assert!(r["port"].parse::<u16>().is_ok(), "{r:?}");
        assert!(r["attempts"].parse::<u32>().unwrap() >= 1, "{r:?}");
        for k in ["connect_ms", "closed_after_ms"] {
            assert!(r[k].is_empty() || r[k].parse::<f64>().is_ok(), "{k}: {r:?}");
        }
        assert_eq!(r["host"], "127.0.0.1");
        assert_eq!(r["addr"], "127.0.0.1");
    }
    let web = row("webprod");
    assert_eq!(web["verdict"], "open");
    assert_eq!(web["expect"], "open");
    assert_eq!(web["ok"], "true");
    assert_eq!(web["banner"], "", "null banner is an empty field");
    assert_eq!(web["errno"], "");
    assert_eq!(web["closed_after_ms"], "");
    assert!(web["connect_ms"].parse::<f64>().is_ok());

    let unnamed = row("");
    assert_eq!(unnamed["banner"], SSH_BANNER);
    assert_eq!(unnamed["port"], s.lab.port("banner").to_string());

    let deny = row("denymsg");
    assert_eq!(deny["verdict"], "closed-by-peer");
    assert_eq!(deny["expect"], "closed-by-peer|reset-by-peer");
    assert_eq!(deny["banner"], DENY_MSG);
    assert!(deny["closed_after_ms"].parse::<f64>().is_ok());

    assert_eq!(row("shutport")["verdict"], "refused");
    assert_eq!(row("shutport")["errno"], "ECONNREFUSED");
    assert_eq!(row("wrongexp")["ok"], "false");
}

#[test]
fn junit_failures_equal_mismatches() {
    let s = scenario();
    let run = scan(&s.inv, &["--format", "junit"]);
    run.assert_code(1);
    let doc = roxmltree::Document::parse(&run.stdout)
        .unwrap_or_else(|e| panic!("junit is not XML: {e}\n{}", run.dump()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("name"), Some("telltale"));
    assert_eq!(root.attribute("tests"), Some("5"));
    assert_eq!(root.attribute("failures"), Some("1"));
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.attribute("name"), Some("telltale"));
    assert_eq!(suite.attribute("tests"), Some("5"));
    assert_eq!(suite.attribute("failures"), Some("1"));
    assert!(suite.attribute("time").unwrap().parse::<f64>().is_ok());
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 5);
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1, "failures == mismatches");
    let case = |classname: &str| {
        cases
            .iter()
            .find(|c| c.attribute("classname") == Some(classname))
            .copied()
            .unwrap_or_else(|| panic!("no testcase {classname}\n{}", run.stdout))
    };
    let web = case("telltale.webprod");
    assert_eq!(
        web.attribute("name").unwrap(),
        format!("127.0.0.1:{}", s.lab.port("open"))
    );
    assert!(web.attribute("time").unwrap().parse::<f64>().is_ok());
    assert!(web.children().all(|c| !c.has_tag_name("failure")));
    // unnamed target: classname falls back to the host
    let unnamed = case("telltale.127.0.0.1");
    assert_eq!(
        unnamed.attribute("name").unwrap(),
        format!("127.0.0.1:{}", s.lab.port("banner"))
    );
    let wrong = case("telltale.wrongexp");
    let f = wrong
        .children()
        .find(|c| c.has_tag_name("failure"))
        .expect("mismatch has a <failure>");
    assert_eq!(
        f.attribute("message"),
        Some("expected open, got closed-by-peer")
    );
    assert_eq!(f.attribute("type"), Some("closed-by-peer"));
}

#[test]
fn table_shows_mismatches_only_unless_all() {
    let s = scenario();
    let run = scan(&s.inv, &[]);
    run.assert_code(1);
    for col in [
        "NAME", "HOST", "ADDRESS", "PORT", "VERDICT", "EXPECTED", "TIME", "DETAIL",
    ] {
        assert!(run.stdout.contains(col), "column {col}\n{}", run.dump());
    }
    assert!(run.stdout.contains("wrongexp"), "{}", run.dump());
    for hidden in ["webprod", "denymsg", "shutport"] {
        assert!(
            !run.stdout.contains(hidden),
            "{hidden} is as expected and must not be listed without --all\n{}",
            run.dump()
        );
    }
    assert!(
        run.stdout
            .contains("5 probes, 4 as expected, 1 not as expected"),
        "{}",
        run.dump()
    );

    let all = scan(&s.inv, &["--all"]);
    all.assert_code(1);
    for name in ["webprod", "denymsg", "shutport", "wrongexp"] {
        assert!(
            all.stdout.contains(name),
            "--all lists {name}\n{}",
            all.dump()
        );
    }
}

#[test]
fn all_formats_agree_on_verdicts() {
    let s = scenario();
    let (nd, _) = scan_ndjson(&s.inv, &[], 1);
    let js = scan(&s.inv, &["--format", "json"]).json();
    let cs = scan(&s.inv, &["--format", "csv"]);
    let from_nd: BTreeMap<u64, String> = nd
        .iter()
        .map(|r| (r["port"].as_u64().unwrap(), verdict(r).to_string()))
        .collect();
    let from_js: BTreeMap<u64, String> = js["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["port"].as_u64().unwrap(), verdict(r).to_string()))
        .collect();
    let mut rdr = csv::Reader::from_reader(cs.stdout.as_bytes());
    let from_cs: BTreeMap<u64, String> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[3].parse().unwrap(), r[4].to_string())
        })
        .collect();
    assert_eq!(from_nd, from_js);
    assert_eq!(from_nd, from_cs);
}
