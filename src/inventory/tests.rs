//! Inventory parsing: every error names file:line:column and what was expected.

use super::*;
use crate::verdict::{Expect, ExpectSpec, Verdict};

fn parse(text: &str) -> Result<Inventory, InventoryError> {
    let mut inv = Inventory::default();
    inv.add_text("inv.yaml", text, Overrides::default())?;
    inv.dedupe();
    Ok(inv)
}

fn err(text: &str) -> String {
    parse(text).expect_err("should be refused").to_string()
}

#[test]
fn ten_typical_mistakes_point_at_line_and_column() {
    let cases: [(&str, &str, &str); 12] = [
        (
            "targets:\n  - host: 127.0.0.1\n    prots: [22]\n",
            "inv.yaml:3:5:",
            "unknown field `prots`",
        ),
        (
            "targets:\n  - host: 127.0.0.1\n    ports: [22, 70000]\n",
            "inv.yaml:3:17:",
            "bad port 70000",
        ),
        (
            "targets:\n  - host: 127.0.0.1\n    ports: \"90-80\"\n",
            "inv.yaml:3:12:",
            "reversed port range 90-80",
        ),
        ("targets: []\n", "inv.yaml:1:10:", "found an empty list"),
        ("targets:\n", "inv.yaml:1:9:", "found an empty value"),
        (
            "targets:\n  - name: a\n    host: 127.0.0.1\n",
            "inv.yaml:2:5:",
            "no `port` or `ports`",
        ),
        (
            "targets:\n  - host: 127.0.0.1/33\n    port: 22\n",
            "inv.yaml:2:11:",
            "bad CIDR",
        ),
        (
            "targets:\n  - host: 127.0.0.1\n    port: 22\n    expect: opne\n",
            "inv.yaml:4:13:",
            "unknown verdict `opne`",
        ),
        (
            "targets:\n  - host: 127.0.0.1\n    port: 22\n    expect: [open, bloked]\n",
            "inv.yaml:4:20:",
            "unknown verdict `bloked`",
        ),
        (
            "targets:\n  - host: 127.0.0.1\n    port: 22\n    timeout: 3\n",
            "inv.yaml:4:14:",
            "expected a duration",
        ),
        (
            "defaults: {expcet: open}\ntargets:\n  - {host: 127.0.0.1, port: 22}\n",
            "inv.yaml:1:12:",
            "unknown field `expcet`",
        ),
        (
            "targets:\n  - host: 0.0.0.0/0\n    port: 22\n",
            "inv.yaml:2:11:",
            "refusing",
        ),
    ];
    for (text, at, what) in cases {
        let e = err(text);
        assert!(e.starts_with(at), "{e:?} should start with {at}");
        assert!(e.contains(what), "{e:?} should say {what}");
    }
}

#[test]
fn more_refusals() {
    assert!(
        err("targets:\n  - host: 127.0.0.1\n    port: 22\n    ports: 23\n")
            .contains("both `port` and `ports`")
    );
    assert!(
        err("targets:\n  - host: 127.0.0.1\n    port: 22\n    port: 23\n").contains("duplicate")
    );
    assert!(err("targets:\n  - host: 224.0.0.1\n    port: 22\n").contains("multicast"));
    assert!(err("targets:\n  - host: ::/0\n    port: 22\n").contains("refusing"));
    assert!(err("targets:\n  - host: 127.0.0.1\n    port: 0\n").contains("bad port 0"));
    assert!(
        err("targets:\n  - host: 127.0.0.1\n    port: 22\n    expect: interrupted\n")
            .contains("cannot be expected")
    );
    assert!(err("targets:\n  - port: 22\n").contains("no `host`"));
    assert!(err("targets: [\n").starts_with("inv.yaml:"));
    let e = err("a: &a [x, *a]\n");
    assert!(e.starts_with("inv.yaml:"), "{e}");
}

#[test]
fn billion_laughs_is_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    text.push_str("targets: [{host: 127.0.0.1, port: 22}]\n");
    let e = parse(&text).expect_err("billion laughs");
    assert!(e.line >= 1 && e.column >= 1, "a position: {e}");
}

#[test]
fn settings_resolve_per_target_then_flags_then_defaults() {
    let text = "defaults: {timeout: 5s, linger: 2s, expect: blocked}\ntargets:\n  - {host: 127.0.0.1, port: 1}\n  - {host: 127.0.0.1, port: 2, timeout: 7s, expect: [open, refused]}\n";
    let inv = parse(text).unwrap();
    assert_eq!(inv.targets[0].timeout, Duration::from_secs(5));
    assert_eq!(inv.targets[0].linger, Duration::from_secs(2));
    assert!(
        inv.targets[0]
            .expect
            .for_vantage("x")
            .unwrap()
            .contains(Verdict::Filtered)
    );
    assert_eq!(inv.targets[1].timeout, Duration::from_secs(7));
    assert!(
        inv.targets[1]
            .expect
            .for_vantage("x")
            .unwrap()
            .contains(Verdict::Refused)
    );
    let mut inv = Inventory::default();
    let ov = Overrides {
        timeout: Some(Duration::from_secs(1)),
        linger: Some(Duration::ZERO),
    };
    inv.add_text("x", text, ov).unwrap();
    assert_eq!(inv.targets[0].timeout, Duration::from_secs(1));
    assert_eq!(inv.targets[0].linger, Duration::ZERO);
    assert_eq!(
        inv.targets[1].timeout,
        Duration::from_secs(7),
        "a target's own timeout wins"
    );
    let plain = parse("targets: [{host: 127.0.0.1, port: 1}]\n").unwrap();
    assert_eq!(plain.targets[0].timeout, DEFAULT_TIMEOUT);
    assert_eq!(plain.targets[0].linger, DEFAULT_LINGER);
    assert_eq!(plain.targets[0].expect, ExpectSpec::default());
}

#[test]
fn port_forms() {
    let inv = parse(
        "targets:\n  - {host: 127.0.0.1, port: 22}\n  - {host: 127.0.0.2, ports: \"22,80,8000-8010\"}\n  - {host: 127.0.0.3, ports: [22, \"8000-8001\"]}\n",
    )
    .unwrap();
    let counts: Vec<u64> = inv.targets.iter().map(|t| t.ports.len()).collect();
    assert_eq!(counts, vec![1, 13, 3]);
    assert_eq!(inv.probe_count(), 17);
    assert_eq!(inv.probes().count(), 17);
}

#[test]
fn duplicates_warn_and_are_probed_once() {
    let inv = parse("targets:\n  - {host: 127.0.0.1, ports: \"20-30\"}\n  - {host: 127.0.0.1, ports: \"25-35\"}\n  - {host: 127.0.0.1, ports: [40, 40]}\n").unwrap();
    assert_eq!(inv.warnings.len(), 2, "{:?}", inv.warnings);
    assert!(inv.warnings[0].contains("more than once"));
    assert!(inv.warnings[1].contains("repeats port(s) 25-30"));
    assert_eq!(inv.probes().count(), 17);
    // Same host under another name is a different record, so it stays.
    let inv = parse("targets:\n  - {name: a, host: 127.0.0.1, port: 1}\n  - {name: b, host: 127.0.0.1, port: 1}\n").unwrap();
    assert_eq!(inv.probes().count(), 2);
}

#[test]
fn source_is_per_target_checked_where_it_stands_and_part_of_the_duplicate_key() {
    let inv = parse("targets:\n  - {host: 127.0.0.1, port: 1, source: 127.0.0.2}\n  - {host: 127.0.0.1, port: 1, source: 127.0.0.3}\n  - {host: 127.0.0.1, port: 1}\n  - {host: db.internal, port: 1, source: \"::1\"}\n").unwrap();
    let sources: Vec<Option<String>> = inv
        .targets
        .iter()
        .map(|t| t.source.map(|s| s.to_string()))
        .collect();
    let want = [Some("127.0.0.2"), Some("127.0.0.3"), None, Some("::1")];
    assert_eq!(sources, want.map(|s| s.map(String::from)));
    // One host:port from two sources and from the kernel's choice: three probes (and the name).
    assert_eq!(inv.probes().count(), 4, "{:?}", inv.warnings);
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    let same = parse("targets:\n  - {host: 127.0.0.1, port: 1, source: 127.0.0.2}\n  - {host: 127.0.0.1, port: 1, source: 127.0.0.2}\n").unwrap();
    assert_eq!(same.probes().count(), 1);
    assert_eq!(same.warnings.len(), 1, "{:?}", same.warnings);
    for (text, at, what) in [
        (
            "targets:\n  - host: 127.0.0.1\n    port: 22\n    source: localhost\n",
            "inv.yaml:4:13:",
            "bad source `localhost`, expected a local IPv4 or IPv6 address",
        ),
        (
            "targets:\n  - host: 127.0.0.1\n    port: 22\n    source: 0.0.0.0\n",
            "inv.yaml:4:13:",
            "unspecified",
        ),
        (
            "targets:\n  - host: 127.0.0.1\n    port: 22\n    source: [127.0.0.2]\n",
            "inv.yaml:4:13:",
            "found a list",
        ),
        (
            "targets:\n  - host: \"::1\"\n    port: 22\n    source: 127.0.0.2\n",
            "inv.yaml:2:5:",
            "`source` 127.0.0.2 is IPv4, but `host` ::1 is IPv6",
        ),
        (
            "targets:\n  - {host: 127.0.0.0/30, port: 22, source: \"::1\"}\n",
            "inv.yaml:2:5:",
            "`source` ::1 is IPv6, but `host` 127.0.0.0/30 is IPv4",
        ),
        (
            "targets:\n  - {host: 127.0.0.1, port: 22, source: 127.0.0.2, source: 127.0.0.3}\n",
            "inv.yaml:2:",
            "duplicate field `source`",
        ),
        (
            "defaults: {source: 127.0.0.2}\ntargets:\n  - {host: 127.0.0.1, port: 22}\n",
            "inv.yaml:1:12:",
            "unknown field `source`",
        ),
    ] {
        let e = err(text);
        assert!(e.starts_with(at), "{e:?} should start with {at}");
        assert!(e.contains(what), "{e:?} should say {what}");
    }
}

#[test]
fn cidr_expansion_is_port_major_and_skips_network_broadcast() {
    let inv = parse("targets:\n  - {host: 127.0.0.0/30, ports: \"1-2\"}\n").unwrap();
    let got: Vec<String> = inv
        .probes()
        .map(|p| {
            format!(
                "{}:{}",
                p.addr.map(|a| a.to_string()).unwrap_or_default(),
                p.port
            )
        })
        .collect();
    assert_eq!(
        got,
        vec!["127.0.0.1:1", "127.0.0.2:1", "127.0.0.1:2", "127.0.0.2:2"]
    );
    let names = parse("targets:\n  - {host: localhost, ports: \"1-3\"}\n").unwrap();
    assert!(names.probes().all(|p| p.addr.is_none()));
}

#[test]
fn large_inventories_need_allow_large() {
    let inv = parse("targets:\n  - {host: 127.0.0.0/8, ports: \"1-100\"}\n").unwrap();
    let e = inv.check_size(false).unwrap_err().to_string();
    assert!(e.contains("--allow-large"), "{e}");
    assert!(inv.check_size(true).is_ok());
    // Expansion stays lazy: taking a few probes of a huge inventory is instant.
    assert_eq!(inv.probes().take(3).count(), 3);
}

#[test]
fn example_inventory_parses() {
    let mut inv = Inventory::default();
    inv.add_text(
        "targets.example.yaml",
        crate::cmd::demo::EXAMPLE,
        Overrides::default(),
    )
    .unwrap();
    assert!(inv.targets.len() >= 7);
}

mod grammar {
    use super::*;
    use proptest::prelude::*;

    fn item() -> impl Strategy<Value = (String, Option<(u32, u32)>)> {
        prop_oneof![
            (0u32..70000).prop_map(|p| (p.to_string(), (1..=65535).contains(&p).then_some((p, p)))),
            (0u32..70000, 0u32..70000).prop_map(|(a, b)| {
                let ok = (1..=65535).contains(&a) && (1..=65535).contains(&b) && a <= b;
                (format!("{a}-{b}"), ok.then_some((a, b)))
            }),
            "[a-z]{1,4}".prop_map(|s| (s, None)),
        ]
    }

    proptest! {
        #[test]
        fn ports_never_panic_and_count_right(items in proptest::collection::vec(item(), 1..6), verdict in "[a-z-]{3,14}") {
            let list: Vec<String> = items.iter().map(|(s, _)| s.clone()).collect();
            let text = format!("targets:\n  - host: 127.0.0.1\n    ports: \"{}\"\n    expect: [open, {verdict}]\n", list.join(","));
            let valid_ports = items.iter().all(|(_, r)| r.is_some());
            let valid_verdict = Expect::parse_word(&verdict).is_ok();
            match parse(&text) {
                Ok(inv) => {
                    prop_assert!(valid_ports && valid_verdict);
                    let mut set = std::collections::BTreeSet::new();
                    for (_, r) in &items {
                        let (a, b) = r.unwrap();
                        set.extend(a..=b);
                    }
                    prop_assert_eq!(inv.probe_count(), set.len() as u128);
                    prop_assert_eq!(inv.probes().count(), set.len());
                }
                Err(e) => {
                    prop_assert!(!(valid_ports && valid_verdict), "{}", e);
                    prop_assert!(e.line >= 1 && e.column >= 1, "{}", e);
                }
            }
        }

        #[test]
        fn cidrs_never_panic(a in 0u8..=255, b in 0u8..=255, prefix in 0u8..40) {
            let text = format!("targets:\n  - host: 127.{a}.{b}.0/{prefix}\n    port: 1\n");
            match parse(&text) {
                Ok(inv) => {
                    let n = inv.probe_count();
                    if n <= 4096 {
                        prop_assert_eq!(inv.probes().count() as u128, n);
                    }
                }
                Err(e) => prop_assert!(e.line >= 1 && e.column >= 1, "{}", e),
            }
        }
    }
}

#[test]
fn per_vantage_expectations() {
    let inv = parse(
        "defaults: {expect: blocked}\ntargets:\n  - host: 127.0.0.1\n    port: 5432\n    expect: {app: open, dmz: blocked, default: reachable}\n  - host: 127.0.0.1\n    port: 22\n    expect: {app: open}\n",
    )
    .unwrap();
    let (a, b) = (&inv.targets[0].expect, &inv.targets[1].expect);
    assert_eq!(a.for_vantage("app"), Some(Expect::only(Verdict::Open)));
    assert!(a.for_vantage("dmz").unwrap().contains(Verdict::Filtered));
    assert_eq!(
        a.for_vantage("ops"),
        Some(Expect::only(Verdict::Open)),
        "map default"
    );
    assert!(
        b.for_vantage("ops").unwrap().contains(Verdict::Refused),
        "inventory default"
    );
    let none = parse("targets:\n  - {host: 127.0.0.1, port: 22, expect: {app: open}}\n").unwrap();
    assert_eq!(
        none.targets[0].expect.for_vantage("ops"),
        None,
        "no default anywhere: ok is null"
    );
    assert!(
        err("targets:\n  - {host: 127.0.0.1, port: 22, expect: {app: opne}}\n")
            .contains("unknown verdict `opne`")
    );
    assert!(
        err("targets:\n  - {host: 127.0.0.1, port: 22, expect: {}}\n").contains("empty expect map")
    );
}

#[test]
fn too_deep_nesting_is_an_error_with_a_position() {
    // Deep nesting must end in a positioned error, never a stack overflow.
    for text in [
        format!("targets: {}{}\n", "[".repeat(20_000), "]".repeat(20_000)),
        format!(
            "targets:\n  - host: 127.0.0.1\n    port: 1\n    tags: {}{}\n",
            "[".repeat(20_000),
            "]".repeat(20_000)
        ),
    ] {
        let e = parse(&text).expect_err("too deep");
        assert!(e.line >= 1 && e.column >= 1, "{e}");
    }
}

#[test]
fn errors_serde_yaml_leaves_unpositioned_get_a_position() {
    let e = parse("targets: [{host: 127.0.0.1, port: 1}]\n---\ntargets: []\n").unwrap_err();
    assert!(e.to_string().starts_with("inv.yaml:2:1: "), "{e}");
    let e =
        parse("targets:\n  - {host: 127.0.0.1, port: 1, tags: [&d x]}\n  - <<: *d\n    port: 2\n")
            .unwrap_err();
    assert!(e.to_string().starts_with("inv.yaml:3:5: "), "{e}");
}

#[test]
fn errors_at_the_end_of_an_unterminated_text_point_inside_it() {
    // libyaml places the end of such a text on a line past the last one.
    // A text without a single node is refused from its start, as what it holds.
    let e = parse("# only a comment").expect_err("no targets");
    assert_eq!((e.line, e.column), (1, 1), "{e}");
    assert!(e.message.ends_with("found only comments"), "{e}");
    let e = parse("defaults: {timeout: 1s}\n# x").expect_err("no targets");
    assert!(e.line >= 1 && e.line <= 2 && e.column >= 1, "{e}");
    let e = parse("defaults: {timeout: 1s}\n").expect_err("no targets");
    assert!(e.line >= 1 && e.line <= 2 && e.column >= 1, "{e}");
}
