//! Duration bounds: `--timeout` 1ms..=1h, `--linger` 0..=1h, `--attempt-gap` 0..=1h, the same
//! bounds for `timeout:`/`linger:` under `defaults:` and per target. Out-of-range values (up to
//! u64::MAX seconds, which used to panic in the pre-scan estimate) exit 2 naming the flag or
//! file:line:col, with nothing scanned; the estimate at the largest allowed values saturates
//! instead of panicking.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use telltale::inventory::{Inventory, Overrides};
use telltale::pool::Limits;
use telltale::scan::plan::Plan;

const HUGE: &str = "18446744073709551615s";

/// A flag error: exit 2 from clap, naming the flag, no panic, nothing probed.
fn assert_flag_refused(flag: &str, value: &str) {
    let mut canary = Canary::new();
    let inv = inventory(&format!(
        "targets:\n  - {{host: \"127.0.0.1\", port: {}}}\n",
        canary.port()
    ));
    let run = scan(&inv, &[flag, value]);
    run.assert_code(2);
    run.assert_no_panic();
    assert!(
        run.stderr
            .contains(&format!("invalid value '{value}' for '{flag} <DUR>'")),
        "the error must name {flag}\n{}",
        run.dump()
    );
    assert_eq!(
        canary.accepted(),
        0,
        "nothing may be probed\n{}",
        run.dump()
    );
}

#[test]
fn overflowing_duration_flags_are_refused_with_the_flag_name() {
    assert_flag_refused("--timeout", HUGE);
    assert_flag_refused("--linger", HUGE);
    assert_flag_refused("--attempt-gap", HUGE);
    assert_flag_refused("--attempt-gap", "100y");
    assert_flag_refused("--timeout", "61m");
    assert_flag_refused("--linger", "2h");
}

#[test]
fn a_zero_timeout_is_refused() {
    assert_flag_refused("--timeout", "0");
    assert_flag_refused("--timeout", "0s");
    let run = run(&["probe", "127.0.0.1", "9", "--timeout", "0"], HANG_GUARD);
    run.assert_code(2);
    assert!(run.stderr.contains("'--timeout <DUR>'"), "{}", run.dump());
}

/// A YAML error: exit 2, `FILE:LINE:COL` of the value, the key named, nothing probed.
fn assert_yaml_refused(yaml: &str, line: usize, col: usize, key: &str) {
    let mut canary = Canary::new();
    let inv = inventory(&yaml.replace("PORT", &canary.port().to_string()));
    let run = scan(&inv, &[]);
    run.assert_code(2);
    run.assert_no_panic();
    let at = format!("{}:{line}:{col}: ", inv.arg());
    assert!(
        run.stderr.contains(&at) && run.stderr.contains(key),
        "the error must be at {at} and name `{key}`\n{yaml}\n{}",
        run.dump()
    );
    assert!(run.stderr.contains("nothing scanned"), "{}", run.dump());
    assert_eq!(
        canary.accepted(),
        0,
        "nothing may be probed\n{}",
        run.dump()
    );
}

#[test]
fn overflowing_yaml_durations_are_refused_with_a_position() {
    let t = "  - {host: \"127.0.0.1\", port: PORT}\n";
    assert_yaml_refused(
        &format!("defaults: {{timeout: {HUGE}}}\ntargets:\n{t}"),
        1,
        21,
        "defaults.timeout: timeout",
    );
    assert_yaml_refused(
        &format!("defaults:\n  linger: {HUGE}\ntargets:\n{t}"),
        2,
        11,
        "defaults.linger: linger",
    );
    assert_yaml_refused(
        &format!("targets:\n{t}  - host: \"127.0.0.1\"\n    port: PORT\n    timeout: {HUGE}\n"),
        5,
        14,
        "targets[1].timeout: timeout",
    );
    assert_yaml_refused(
        &format!("targets:\n  - {{host: \"127.0.0.1\", port: PORT, linger: {HUGE}}}\n"),
        2,
        46,
        "targets[0].linger: linger",
    );
    assert_yaml_refused(
        &format!("defaults: {{timeout: 0}}\ntargets:\n{t}"),
        1,
        21,
        "timeout 0 is too short",
    );
    assert_yaml_refused(
        "targets:\n  - {host: \"127.0.0.1\", port: PORT, timeout: 0s}\n",
        2,
        47,
        "timeout 0s is too short",
    );
}

#[test]
fn the_largest_allowed_values_are_accepted_and_estimated() {
    let inv = inventory(
        "defaults: {timeout: 1h, linger: 1h}\ntargets:\n  - {host: \"127.0.0.0/16\", port: 9}\n",
    );
    let run = scan(
        &inv,
        &[
            "--dry-run",
            "--attempts",
            "100",
            "--attempt-gap",
            "1h",
            "--retries",
            "4294967295",
            "--rate",
            "1e-300",
            "-c",
            "1",
        ],
    );
    run.assert_code(0);
    run.assert_no_panic();
    assert!(run.stderr.contains("worst case"), "{}", run.dump());
}

#[test]
fn the_estimate_saturates_instead_of_panicking() {
    let mut inv = Inventory::default();
    inv.add_text(
        "max.yaml",
        "defaults: {timeout: 1h, linger: 1h}\ntargets:\n  - {host: \"127.0.0.0/8\", ports: \"1-65535\"}\n",
        Overrides::default(),
    )
    .unwrap();
    let limits = Limits {
        concurrency: 1,
        per_host: 1,
        rate: Some(f64::MIN_POSITIVE),
        retries: u32::MAX,
        attempts: u32::MAX,
        attempt_gap: Duration::from_secs(3600),
        ..Limits::default()
    };
    let plan = Plan::of(&inv, &limits);
    assert_eq!(plan.worst, Duration::MAX);
    assert!(plan.to_string().contains("worst case"), "{plan}");
}
