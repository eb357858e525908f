//! The record schema, `src/record.schema.json`: a valid JSON Schema (draft 2020-12) that names
//! every record field as required and allows no other, that rejects what a record cannot be,
//! and that every record real scans emit matches. The scans (one namespace, every verdict
//! including `dns-error`, `local-error` and `interrupted`, a wildcard host, a flaky service, a
//! passing and a failing positive control, a vantage without an expectation, a shard, `probe`
//! and `merge`, NDJSON and JSON) must between them show every variant the schema allows: each
//! verdict, both values of each flag, each nullable field both ways. A field the scans never
//! emit, or emit without the schema knowing it, fails.
//!
//! Every other test that reads records through tests/common (`Run::records`, `Run::json`,
//! `Ns::records`, `records_file`, `records_in`, `records_among`) validates them too.
//!
//! The scans run in one `unshare -rnmpf` namespace set (only `lo`; resolv.conf points at
//! 127.0.0.1 inside it, where nothing answers, so an unknown name fails at once).
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::{Value, json};

use common::{
    Coverage, Lab, RECORD_KEYS, VERDICTS, nft_rules, ns_with_jobs, record_schema, scan_ndjson,
    schema_errors, schema_properties, target, targets, validate_records,
};

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema = record_schema();
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "the schema names its draft"
    );
    if let Err(e) = jsonschema::meta::validate(schema) {
        panic!("src/record.schema.json is not a valid draft 2020-12 schema: {e}");
    }
}

/// `required` lists every property, `properties` declares nothing else, nothing else is
/// allowed, and the harness's `RECORD_KEYS` is the same list in serialization order.
#[test]
fn schema_requires_every_field_and_allows_no_other() {
    let schema = record_schema();
    assert_eq!(schema["additionalProperties"], false, "{schema:#}");
    let required = schema_properties();
    let mut declared: Vec<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut sorted = required.clone();
    sorted.sort();
    declared.sort();
    assert_eq!(sorted, declared, "`required` and `properties` differ");
    assert_eq!(
        required, RECORD_KEYS,
        "RECORD_KEYS and the schema's `required` differ"
    );
    let verdicts: Vec<&str> = schema["$defs"]["verdict"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(verdicts, VERDICTS);
    for (k, p) in schema["properties"].as_object().unwrap() {
        assert!(p["description"].is_string(), "`{k}` has no description");
    }
}

/// A real record is valid; each way a record cannot be is not (so the validation elsewhere
/// can fail), and a coverage of one record reports what it did not show.
#[test]
fn schema_rejects_what_a_record_cannot_be() {
    let lab = Lab::start("127.0.0.1", &["open"]);
    let inv = common::inventory(&targets(&[target("web", lab.addr("open"), "open")]));
    let (recs, run) = scan_ndjson(&inv, &["--linger", "0"], 0);
    assert_eq!(recs.len(), 1, "{}", run.dump());
    let good = recs[0].clone();
    assert_eq!(schema_errors(&good), Vec::<String>::new(), "{good}");

    let with = |k: &str, v: Value| {
        let mut r = good.clone();
        r[k] = v;
        r
    };
    let mut extra = good.clone();
    extra["from_the_future"] = json!(1);
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("vantage");
    let mut dns_with_addr = with("verdict", json!("dns-error"));
    dns_with_addr["ok"] = json!(false);
    let mut unnamed_local = with("addr", Value::Null);
    unnamed_local["verdict"] = json!("refused");
    let mut no_expectation = with("ok", Value::Null);
    no_expectation["expect"] = json!(["open"]);
    let cases: Vec<(&str, Value)> = vec![
        ("a key the schema does not know", extra),
        ("a missing key", missing),
        ("an unknown verdict", with("verdict", json!("closed"))),
        (
            "an unknown verdict in expect",
            with("expect", json!(["reachable"])),
        ),
        ("ok as a string", with("ok", json!("yes"))),
        ("port 0", with("port", json!(0))),
        ("a port above 65535", with("port", json!(65536))),
        ("format_version 2", with("format_version", json!(2))),
        (
            "an address that is no address",
            with("addr", json!("localhost")),
        ),
        (
            "a source that is no address",
            with("source", json!("localhost")),
        ),
        (
            "a raw newline in the banner",
            with("banner", json!("SSH-2.0\n")),
        ),
        ("an upper-case \\x escape", with("banner", json!("\\xFF"))),
        ("0 attempts", with("attempts", json!(0))),
        ("a negative connect time", with("connect_ms", json!(-1.0))),
        ("a shard that is not K/N", with("shard", json!("1 of 2"))),
        (
            "a digest that is not hex",
            with("inventory_digest", json!("xyz")),
        ),
        ("a dns-error with an address", dns_with_addr),
        ("no address for a remote verdict", unnamed_local),
        ("ok null with an expectation", no_expectation),
        ("an untrusted open", with("trusted", json!(false))),
        ("a wildcard refused", {
            let mut r = with("wildcard", json!(true));
            r["verdict"] = json!("refused");
            r
        }),
        ("flaky without attempt verdicts", with("flaky", json!(true))),
        ("a record that is not an object", json!([good.clone()])),
    ];
    let mut accepted = Vec::new();
    for (what, r) in &cases {
        if schema_errors(r).is_empty() {
            accepted.push(format!("{what}: {r}"));
        }
    }
    assert!(
        accepted.is_empty(),
        "the schema accepts records it must reject:\n  {}",
        accepted.join("\n  ")
    );

    let mut cov = Coverage::default();
    cov.add(&good);
    let gaps = cov.gaps().join("\n");
    for want in [
        "`verdict` never emitted as",
        "=unreachable",
        "`ok` never emitted as",
        "`wildcard` never emitted as true",
    ] {
        assert!(gaps.contains(want), "coverage misses {want:?}:\n{gaps}");
    }
    let mut cov = Coverage::default();
    cov.add(&extra_of(&good));
    assert!(
        cov.gaps()
            .iter()
            .any(|g| g == "`from_the_future` is emitted but not in the schema"),
        "{:?}",
        cov.gaps()
    );
}

fn extra_of(r: &Value) -> Value {
    let mut r = r.clone();
    r["from_the_future"] = json!(1);
    r
}

/// Lab services on fixed ports (the namespace is private); 7010 is dropped, 7011 rejected
/// with ICMP admin-prohibited, and every port of 127.0.0.9 is forwarded to 7001 (a wildcard
/// host).
const LAB: &str = "lab_start lab --ip 127.0.0.1 --open 7001 --banner 7002 --closed 7003 \
                   --closed-msg 7004 --reset 7005 --refused 7006 --alternate 7007 --smtp-reject 7008";

const WILDCARD_NAT: &str = "table ip w {
  chain out {
    type nat hook output priority -100;
    ip daddr 127.0.0.9 tcp dport 1-65535 redirect to :7001
  }
}
";

/// Every verdict the network can give, names with and without addresses, a wildcard host,
/// every expectation form, a vantage the inventory has no expectation for, and probes bound
/// to an IPv4 and an IPv6 `source:`.
const MAIN: &str = "defaults: {timeout: 1500ms, linger: 300ms}
targets:
  - {name: ctl, host: 127.0.0.1, port: 7001, control: true, tags: [schema, control]}
  - {host: 127.0.0.1, port: 7002, source: 127.0.0.1}
  - {name: fin, host: 127.0.0.1, port: 7003, expect: denied}
  - {name: fin-msg, host: 127.0.0.1, port: 7004, expect: closed-by-peer}
  - {name: rst, host: 127.0.0.1, port: 7005, expect: denied}
  - {name: refused, host: 127.0.0.1, port: 7006, expect: refused}
  - {name: v6-refused, host: \"::1\", port: 7006, expect: blocked, source: \"::1\"}
  - {name: dropped, host: 127.0.0.1, port: 7010, expect: filtered}
  - {name: rejected, host: 127.0.0.1, port: 7011, expect: unreachable}
  - {name: ghost, host: missing.telltale-lab.invalid, port: 80, expect: dns-error}
  - {name: wild, host: 127.0.0.9, port: 22}
  - {name: mismatch, host: 127.0.0.1, port: 7003, expect: open}
  - {name: elsewhere, host: 127.0.0.1, port: 7001, expect: {elsewhere: open}}
  - {name: smtp-554, host: 127.0.0.1, port: 7008, service: smtp, expect: rejected}
";

/// A positive control that fails: the blocked-type verdict after it is untrusted.
const UNTRUSTED: &str = "defaults: {timeout: 1500ms, linger: 200ms}
targets:
  - {name: ctl, host: 127.0.0.1, port: 7010, control: true}
  - {name: deny, host: 127.0.0.1, port: 7006, expect: blocked}
";

/// The alternating service: held, closed, held... so 3 attempts disagree.
const FLAKY: &str = "defaults: {timeout: 1500ms, linger: 200ms}
targets:
  - {name: alt, host: 127.0.0.1, port: 7007}
";

/// A probe cut short by SIGINT.
const SLOW: &str = "targets:\n  - {name: slow, host: 127.0.0.1, port: 7010, expect: filtered}\n";

/// With the ephemeral range squeezed to port 40000, a connect to 127.0.0.1:40000 meets itself.
const SELF_CONNECT: &str =
    "targets:\n  - {name: self, host: 127.0.0.1, port: 40000, expect: local-error}\n";

/// The scans of the namespace script and the exit codes each may end with.
const SCANS: &[(&str, &[i32])] = &[
    ("main", &[1]),
    ("untrusted", &[3]),
    ("flaky", &[0]),
    ("shard1", &[0, 1]),
    ("shard2", &[0, 1]),
    ("probe", &[0]),
    ("wait", &[0]),
    ("merge", &[1]),
    ("slow", &[3]),
    ("local", &[3]),
];

#[test]
fn every_record_real_scans_emit_matches_the_schema_and_covers_it() {
    let rules = format!(
        "{}{WILDCARD_NAT}",
        nft_rules(&[
            "ip daddr 127.0.0.1 tcp dport 7010 drop",
            "ip daddr 127.0.0.1 tcp dport 7011 reject with icmp type admin-prohibited",
        ])
    );
    let ns = ns_with_jobs(
        &[
            ("rules.nft", rules.as_str()),
            ("main.yaml", MAIN),
            ("untrusted.yaml", UNTRUSTED),
            ("flaky.yaml", FLAKY),
            ("slow.yaml", SLOW),
            ("self.yaml", SELF_CONNECT),
        ],
        &format!(
            "{LAB}
V='--vantage schema-lab --retries 0 --no-progress'
bg_scan main main.yaml $V --format ndjson
bg_scan mainjson main.yaml $V --format json
bg_scan untrusted untrusted.yaml $V --format ndjson
bg_scan flaky flaky.yaml $V --attempts 3 --attempt-gap 50ms --timing auto --format ndjson
bg_scan shard1 main.yaml $V --shard 1/2 --format ndjson
bg_scan shard2 main.yaml $V --shard 2/2 --format json
join
run_to probe \"$T\" probe 127.0.0.1 7002 --format ndjson --no-progress
run_to wait \"$T\" wait 127.0.0.1:7002 --deadline 10s --vantage schema-lab --no-progress --format ndjson
run_to merge \"$T\" merge main.out --format ndjson
run_to mergejson \"$T\" merge main.out --format json
\"$T\" scan slow.yaml $V --timeout 20s --format ndjson > slow.out 2> slow.err &
pid=$!
sleep 1
kill -INT $pid
rc=0; wait $pid || rc=$?; echo $rc > slow.rc
sysctl -w net.ipv4.ip_local_port_range='40000 40000' >/dev/null
scan local self.yaml --vantage schema-lab --retries 1 --no-detect-wildcard --no-progress --format ndjson"
        ),
    );

    let mut cov = Coverage::default();
    let mut counts = Vec::new();
    for (name, codes) in SCANS {
        let rc = ns.rc(name);
        assert!(
            codes.contains(&rc),
            "`{name}`: exit {rc}, want one of {codes:?}\n{}",
            ns.show(name)
        );
        let recs = if *name == "shard2" {
            json_results(&ns, name)
        } else {
            ns.records(name)
        };
        assert!(
            !recs.is_empty(),
            "`{name}` emitted no record\n{}",
            ns.show(name)
        );
        counts.push(format!("{name}: {}", recs.len()));
        for r in &recs {
            cov.add(r);
        }
    }
    for name in ["mainjson", "mergejson"] {
        let recs = json_results(&ns, name);
        assert_eq!(recs.len(), 14, "`{name}`\n{}", ns.show(name));
        for r in &recs {
            cov.add(r);
        }
    }
    assert_eq!(ns.records("main").len(), 14, "{}", ns.show("main"));
    let gaps = cov.gaps();
    assert!(
        gaps.is_empty(),
        "the scans' {} records do not cover src/record.schema.json ({}):\n  {}",
        cov.records(),
        counts.join(", "),
        gaps.join("\n  ")
    );
}

/// The `results` of a JSON document a call printed, validated against the schema.
fn json_results(ns: &common::Ns, name: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&ns.stdout(name))
        .unwrap_or_else(|e| panic!("`{name}`: not one JSON document: {e}\n{}", ns.show(name)));
    let recs = doc["results"]
        .as_array()
        .unwrap_or_else(|| panic!("`{name}`: no results\n{}", ns.show(name)))
        .clone();
    validate_records(&recs, name);
    recs
}
