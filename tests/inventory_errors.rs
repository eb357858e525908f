//! Inventory errors through the CLI: the exact `FILE:LINE:COL` of typical mistakes, exit 2,
//! nothing on stdout, an existing `-o` file left alone, and not a single connect (a test-owned
//! canary listener is in every inventory).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

/// Scans `yaml` (which should contain the canary) and checks the error contract.
/// `positions` lists the acceptable (line, column) pairs; the first is the preferred one.
fn assert_inventory_error(
    canary: &mut Canary,
    yaml: &str,
    positions: &[(usize, usize)],
    words: &[&str],
) {
    let inv = inventory(yaml);
    let run = scan(&inv, &["--format", "ndjson"]);
    run.assert_code(2);
    run.assert_no_panic();
    assert!(
        run.stdout.trim().is_empty(),
        "nothing on stdout for an inventory error\n{}",
        run.dump()
    );
    let path = inv.arg();
    let found = positions
        .iter()
        .any(|(l, c)| run.stderr.contains(&format!("{path}:{l}:{c}")));
    assert!(
        found,
        "stderr must name {path}:LINE:COL with (line, col) in {positions:?}\nyaml:\n{yaml}\n{}",
        run.dump()
    );
    for w in words {
        assert!(
            run.stderr.contains(w),
            "stderr should mention {w:?}\n{}",
            run.dump()
        );
    }
    assert_eq!(
        canary.accepted(),
        0,
        "an inventory error must send zero packets\n{}",
        run.dump()
    );
}

#[test]
fn typo_key_prots() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 127.0.0.1\n    prots: [80]\n");
    assert_inventory_error(&mut c, &y, &[(4, 5)], &["prots"]);
}

#[test]
fn port_out_of_range() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 127.0.0.1\n    port: 70000\n");
    assert_inventory_error(&mut c, &y, &[(4, 11)], &[]);
}

#[test]
fn negative_port() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 127.0.0.1\n    port: -1\n");
    assert_inventory_error(&mut c, &y, &[(4, 11)], &[]);
}

#[test]
fn reversed_port_range() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 127.0.0.1\n    ports: [22, \"90-80\"]\n");
    assert_inventory_error(&mut c, &y, &[(4, 17)], &[]);
}

#[test]
fn bad_port_in_string_list() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 127.0.0.1\n    ports: \"22,abc\"\n");
    assert_inventory_error(&mut c, &y, &[(4, 12)], &[]);
}

#[test]
fn bad_cidr_prefix() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 127.0.0.1/33\n    port: 80\n");
    assert_inventory_error(&mut c, &y, &[(3, 11)], &[]);
}

#[test]
fn unknown_verdict() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 127.0.0.1\n    port: 80\n    expect: opne\n");
    assert_inventory_error(&mut c, &y, &[(5, 13)], &["opne"]);
}

#[test]
fn unknown_verdict_in_defaults() {
    let mut c = Canary::new();
    let y = format!("defaults: {{expect: nope}}\ntargets:\n{}", canary_line(&c));
    assert_inventory_error(&mut c, &y, &[(1, 20)], &[]);
}

#[test]
fn empty_targets() {
    let mut c = Canary::new();
    // [ is the offending token; the start of the document is accepted too.
    assert_inventory_error(&mut c, "targets: []\n", &[(1, 10), (1, 1)], &[]);
}

#[test]
fn whole_internet_is_refused() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 0.0.0.0/0\n    port: 80\n");
    assert_inventory_error(&mut c, &y, &[(3, 11)], &[]);
}

#[test]
fn whole_ipv6_internet_is_refused() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: \"::/0\"\n    port: 80\n");
    assert_inventory_error(&mut c, &y, &[(3, 11)], &[]);
}

#[test]
fn multicast_target_is_refused() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 224.0.0.1\n    port: 80\n");
    assert_inventory_error(&mut c, &y, &[(3, 11)], &[]);
}

#[test]
fn typo_top_level_key() {
    let mut c = Canary::new();
    let y = with_canary(&c, "defualts:\n  timeout: 1s\n");
    assert_inventory_error(&mut c, &y, &[(3, 1)], &["defualts"]);
}

#[test]
fn bad_duration() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 127.0.0.1\n    port: 80\n    timeout: 3x\n");
    assert_inventory_error(&mut c, &y, &[(5, 14)], &[]);
}

#[test]
fn duplicate_key() {
    let mut c = Canary::new();
    let y = with_canary(
        &c,
        "  - host: 127.0.0.1\n    host: 127.0.0.2\n    port: 80\n",
    );
    // the second `host` is the mistake; serde reports the start of the mapping
    assert_inventory_error(&mut c, &y, &[(4, 5), (3, 5)], &["host"]);
}

#[test]
fn missing_host() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - name: nohost\n    port: 80\n");
    assert_inventory_error(&mut c, &y, &[(3, 5)], &["host"]);
}

#[test]
fn tab_indentation() {
    let mut c = Canary::new();
    let y = with_canary(&c, "  - host: 127.0.0.1\n\tport: 80\n");
    assert_inventory_error(&mut c, &y, &[(4, 1)], &[]);
}

#[test]
fn targets_not_a_list() {
    let mut c = Canary::new();
    let y = format!("targets:\n  host: 127.0.0.1\n  port: {}\n", c.port());
    assert_inventory_error(&mut c, &y, &[(2, 3)], &[]);
}

#[test]
fn empty_file_is_an_inventory_error() {
    let inv = inventory("");
    let run = scan(&inv, &[]);
    run.assert_code(2);
    run.assert_no_panic();
    assert!(run.stderr.contains(&inv.arg()), "{}", run.dump());
}

#[test]
fn error_in_second_inventory_stops_everything() {
    let mut c = Canary::new();
    let good = inventory(&with_canary(&c, ""));
    let bad = inventory_named(
        "second.yaml",
        "targets:\n  - host: 127.0.0.1\n    prots: [80]\n",
    );
    let run = run(&["scan", &good.arg(), &bad.arg()], HANG_GUARD);
    run.assert_code(2);
    assert!(
        run.stderr.contains(&format!("{}:3:5", bad.arg())),
        "{}",
        run.dump()
    );
    assert!(run.stdout.trim().is_empty(), "{}", run.dump());
    assert_eq!(c.accepted(), 0, "nothing scanned: {}", run.dump());
}

#[test]
fn missing_inventory_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.yaml");
    let run = run(&["scan", path.to_str().unwrap()], HANG_GUARD);
    run.assert_code(2);
    run.assert_no_panic();
    assert!(run.stderr.contains("nope.yaml"), "{}", run.dump());
    assert!(run.stdout.trim().is_empty());
}

#[test]
fn inventory_error_leaves_existing_output_file_alone() {
    let mut c = Canary::new();
    let inv = inventory(&with_canary(&c, "  - host: 127.0.0.1\n    port: 70000\n"));
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("out.json");
    std::fs::write(&file, "previous good report\n").unwrap();
    let run = scan(&inv, &["--format", "json", "-o", file.to_str().unwrap()]);
    run.assert_code(2);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "previous good report\n"
    );
    assert_eq!(dir_listing(out.path()), vec!["out.json".to_string()]);
    assert_eq!(c.accepted(), 0);
}
