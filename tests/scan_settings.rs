//! How scan settings change what is measured and judged, on loopback lab services: `linger`
//! and `timeout` (flag over `defaults:`, per-target over flag), `--retries` (only `filtered` is
//! re-probed), expectations (aliases, lists) and the exit code of a mismatch.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------------------------------------
// Linger and timeout precedence
// ---------------------------------------------------------------------------------------------

#[test]
fn linger_zero_is_connect_only() {
    let lab = Lab::start("127.0.0.1", &["closed", "closed-msg", "open"]);
    let inv = inventory(&targets(&[
        target("fin", lab.addr("closed"), "open"),
        target("msg", lab.addr("closed-msg"), "open"),
        target("hold", lab.addr("open"), "open"),
    ]));
    for zero in ["0", "0s"] {
        let t0 = Instant::now();
        let (recs, run) = scan_ndjson(&inv, &["--linger", zero], 0);
        assert_eq!(recs.len(), 3, "{}", run.dump());
        for n in ["fin", "msg", "hold"] {
            let r = by_name(&recs, n);
            assert_verdict(r, "open");
            assert!(r["closed_after_ms"].is_null(), "connect-only: {r}");
        }
        assert!(
            t0.elapsed() < Duration::from_millis(900),
            "--linger {zero} must not wait: {:?}",
            t0.elapsed()
        );
    }
}

#[test]
fn linger_precedence_flag_over_defaults_target_over_flag() {
    let lab = Lab::start("127.0.0.1", &["closed"]);
    let port = lab.port("closed");
    // defaults say connect-only: a closing service reads as open.
    let inv = inventory(&format!(
        "defaults: {{linger: 0s}}\ntargets:\n  - {{name: c, host: \"127.0.0.1\", port: {port}, expect: [open, closed-by-peer]}}\n"
    ));
    let (recs, _) = scan_ndjson(&inv, &[], 0);
    assert_verdict(by_name(&recs, "c"), "open");
    // --linger overrides defaults.
    let (recs, _) = scan_ndjson(&inv, &["--linger", "1s"], 0);
    assert_verdict(by_name(&recs, "c"), "closed-by-peer");
    // a per-target linger wins over the flag.
    let inv = inventory(&format!(
        "targets:\n  - {{name: c, host: \"127.0.0.1\", port: {port}, expect: [open, closed-by-peer], linger: 0s}}\n"
    ));
    let (recs, _) = scan_ndjson(&inv, &["--linger", "1s"], 0);
    assert_verdict(by_name(&recs, "c"), "open");
}

#[test]
fn timeout_precedence_flag_over_defaults_target_over_flag() {
    let lab = Lab::start("127.0.0.1", &["filtered"]);
    let port = lab.port("filtered");
    let inv = inventory(&format!(
        "defaults: {{timeout: 20s}}\ntargets:\n  - {{name: f, host: \"127.0.0.1\", port: {port}, expect: filtered}}\n"
    ));
    let t0 = Instant::now();
    let (recs, _) = scan_ndjson(&inv, &["--timeout", "500ms", "--retries", "0"], 0);
    assert_verdict(by_name(&recs, "f"), "filtered");
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "--timeout must override defaults.timeout: {:?}",
        t0.elapsed()
    );

    let inv = inventory(&format!(
        "targets:\n  - {{name: f, host: \"127.0.0.1\", port: {port}, expect: filtered, timeout: 500ms}}\n"
    ));
    let t0 = Instant::now();
    let (recs, _) = scan_ndjson(&inv, &["--timeout", "20s", "--retries", "0"], 0);
    assert_verdict(by_name(&recs, "f"), "filtered");
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "per-target timeout must win over --timeout: {:?}",
        t0.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------

#[test]
fn retries_reprobe_only_filtered() {
    let lab = Lab::start("127.0.0.1", &["filtered", "open", "refused", "closed"]);
    let inv = inventory(&targets(&[
        target("f", lab.addr("filtered"), "filtered"),
        target("o", lab.addr("open"), "open"),
        target("r", lab.addr("refused"), "refused"),
        target("c", lab.addr("closed"), "closed-by-peer"),
    ]));
    for timing in ["fixed", "auto"] {
        let args = ["--timeout", "500ms", "--retries", "1", "--timing", timing];
        let (recs, _) = scan_ndjson(&inv, &args, 0);
        let f = by_name(&recs, "f");
        assert_verdict(f, "filtered");
        let waits = f["waits_ms"].as_array().unwrap().len();
        if timing == "fixed" {
            assert_eq!(f["attempts"], 2, "one retry of a timeout: {f}");
            assert_eq!(f["waits_ms"], serde_json::json!([500, 500]), "{f}");
        } else {
            // Auto: a short wait's confirmation is a second SYN, so a retry may add two.
            let n = f["attempts"].as_u64().unwrap();
            assert!((2..=4).contains(&n), "{f}");
            assert_eq!(waits as u64, n, "one wait per SYN sent: {f}");
        }
        for n in ["o", "r", "c"] {
            assert_eq!(
                by_name(&recs, n)["attempts"],
                1,
                "definitive verdicts are not retried ({timing}): {}",
                by_name(&recs, n)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Expectations and exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn mismatch_exits_1_and_marks_ok_false() {
    let lab = Lab::start("127.0.0.1", &["open", "refused"]);
    let inv = inventory(&targets(&[
        target("good", lab.addr("refused"), "refused"),
        target("bad", lab.addr("open"), "refused"),
    ]));
    let (recs, _) = scan_ndjson(&inv, &[], 1);
    assert_eq!(by_name(&recs, "good")["ok"], true);
    let bad = by_name(&recs, "bad");
    assert_verdict(bad, "open");
    assert_eq!(bad["ok"], false, "{bad}");
}

#[test]
fn expect_aliases_and_lists() {
    let lab = Lab::start("127.0.0.1", &["open", "refused", "closed", "reset"]);
    let inv = inventory(&targets(&[
        target("reach", lab.addr("open"), "reachable"),
        target("block", lab.addr("refused"), "blocked"),
        target("deny-fin", lab.addr("closed"), "denied"),
        target("deny-rst", lab.addr("reset"), "denied"),
        target("list", lab.addr("open"), "[refused, open]"),
        target("wrong-alias", lab.addr("open"), "blocked"),
    ]));
    let (recs, run) = scan_ndjson(&inv, &[], 1);
    for n in ["reach", "block", "deny-fin", "deny-rst", "list"] {
        assert_eq!(by_name(&recs, n)["ok"], true, "{}\n{}", n, run.dump());
    }
    assert_eq!(by_name(&recs, "wrong-alias")["ok"], false);
    assert_verdict(by_name(&recs, "block"), "refused");
    assert_verdict(by_name(&recs, "deny-fin"), "closed-by-peer");
    assert_verdict(by_name(&recs, "deny-rst"), "reset-by-peer");
}
