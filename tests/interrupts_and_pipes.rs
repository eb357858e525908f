//! Stopping early and slow readers, on loopback lab services: SIGINT/SIGTERM mid-scan (exit 3,
//! every target one record, in-flight ones `interrupted`), a reader that closes the pipe (exit 3,
//! quietly) and a stalled sink (verdicts and timings unchanged).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------------

fn interrupt_mid_scan(sig: &str) {
    let lab = Lab::start("127.0.0.1", &["open", "refused", "closed", "filtered"]);
    let more: Vec<Lab> = (0..3)
        .map(|_| Lab::start("127.0.0.1", &["filtered"]))
        .collect();
    let mut lines = vec![
        target("fast-open", lab.addr("open"), "open"),
        target("fast-refused", lab.addr("refused"), "refused"),
        target("fast-closed", lab.addr("closed"), "closed-by-peer"),
        // connected, still lingering when the signal comes
        format!(
            "  - {{name: slow-linger, host: \"127.0.0.1\", port: {}, expect: open, linger: 30s}}\n",
            lab.port("open")
        ),
    ];
    let filtered: Vec<SocketAddr> = std::iter::once(lab.addr("filtered"))
        .chain(more.iter().map(|l| l.addr("filtered")))
        .collect();
    for (i, a) in filtered.iter().enumerate() {
        lines.push(target(&format!("slow-f{i}"), *a, "filtered"));
    }
    let inv = inventory(&targets(&lines));
    let mut p = Proc::spawn(&[
        "scan",
        &inv.arg(),
        "--format",
        "ndjson",
        // Fixed: the dropped ports must still be waiting when the signal comes (auto would
        // decide them after a short wait and its confirmation).
        "--timing",
        "fixed",
        "--timeout",
        "10s",
        "--linger",
        "200ms",
    ]);
    thread::sleep(Duration::from_millis(1500));
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "scan ended before the signal: {}",
        p.finish(HANG_GUARD).dump()
    );
    let t0 = Instant::now();
    p.signal(sig);
    let exited = p.wait_for(Duration::from_secs(10));
    let took = t0.elapsed();
    let run = p.finish(HANG_GUARD);
    assert!(exited.is_some(), "no exit after SIG{sig}\n{}", run.dump());
    run.assert_code(3);
    run.assert_no_panic();
    assert!(
        took < Duration::from_secs(2),
        "exit took {took:?} after SIG{sig}\n{}",
        run.dump()
    );
    let recs = run.records();
    assert_eq!(
        recs.len(),
        lines.len(),
        "every target gets exactly one record, finished or interrupted\n{}",
        run.dump()
    );
    assert_verdict(by_name(&recs, "fast-open"), "open");
    assert_verdict(by_name(&recs, "fast-refused"), "refused");
    assert_verdict(by_name(&recs, "fast-closed"), "closed-by-peer");
    assert_verdict(by_name(&recs, "slow-linger"), "interrupted");
    for i in 0..filtered.len() {
        let r = by_name(&recs, &format!("slow-f{i}"));
        assert_verdict(r, "interrupted");
        assert_eq!(r["ok"], false, "{r}");
    }
}

#[test]
fn sigint_mid_scan_exits_3_with_interrupted_records() {
    interrupt_mid_scan("INT");
}

#[test]
fn sigterm_mid_scan_exits_3_with_interrupted_records() {
    interrupt_mid_scan("TERM");
}

// ---------------------------------------------------------------------------------------------
// Output plumbing: closed pipe, slow sink
// ---------------------------------------------------------------------------------------------

/// `n` refused targets on 127.0.0.2.. (nothing listens there on the lab's refused port).
fn refused_targets(port: u16, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let ip = format!("127.0.{}.{}", 1 + i / 200, 2 + i % 200);
            format!("  - {{name: r{i}, host: \"{ip}\", port: {port}, expect: refused}}\n")
        })
        .collect()
}

#[test]
fn closed_pipe_after_first_ndjson_line_is_quiet() {
    let lab = Lab::start("127.0.0.1", &["open", "refused"]);
    let mut lines = refused_targets(lab.port("refused"), 40);
    // lingers 1 s, so its record is written after the reader has gone
    lines.push(target("late-open", lab.addr("open"), "open"));
    let inv = inventory(&targets(&lines));
    let (mut p, stdout) =
        Proc::spawn_raw_stdout(&["scan", &inv.arg(), "--format", "ndjson", "--linger", "1s"]);
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    drop(reader); // `| head -1`
    assert!(
        serde_json::from_str::<Value>(first.trim()).is_ok(),
        "first line: {first:?}"
    );
    let run = p.finish(Duration::from_secs(15));
    run.assert_no_panic();
    assert!(
        !run.stderr.contains("failed printing"),
        "println! on a closed pipe\n{}",
        run.dump()
    );
    // A closed pipe stops the scan: results are incomplete, so exit 3 (README, exit codes).
    run.assert_code(3);
    assert!(
        !run.stderr.contains("Broken pipe") && !run.stderr.contains("failed"),
        "a closed pipe ends quietly\n{}",
        run.dump()
    );
}

#[test]
fn closed_pipe_before_json_document_is_quiet() {
    let lab = Lab::start("127.0.0.1", &["open"]);
    let inv = inventory(&targets(&[target("o", lab.addr("open"), "open")]));
    let (mut p, stdout) = Proc::spawn_raw_stdout(&["scan", &inv.arg(), "--format", "json"]);
    drop(stdout); // reader gone before anything is written
    let run = p.finish(Duration::from_secs(15));
    run.assert_no_panic();
    run.assert_code(3);
    assert!(
        !run.stderr.contains("Broken pipe") && !run.stderr.contains("failed"),
        "a closed pipe ends quietly\n{}",
        run.dump()
    );
}

#[test]
fn slow_sink_does_not_change_verdicts() {
    let lab = Lab::start("127.0.0.1", &["open", "refused", "closed", "banner"]);
    // ~600 records of ~300 bytes: far more than a 64 KiB pipe buffer.
    let mut lines = refused_targets(lab.port("refused"), 600);
    lines.push(target("s-open", lab.addr("open"), "open"));
    lines.push(target("s-closed", lab.addr("closed"), "closed-by-peer"));
    lines.push(target("s-banner", lab.addr("banner"), "open"));
    let inv = inventory(&targets(&lines));
    let (mut p, mut stdout) = Proc::spawn_raw_stdout(&[
        "scan",
        &inv.arg(),
        "--format",
        "ndjson",
        "--timeout",
        "1s",
        "--linger",
        "500ms",
    ]);
    thread::sleep(Duration::from_secs(3)); // the sink stalls
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let run = p.finish(HANG_GUARD);
    run.assert_code(0);
    let recs = parse_ndjson(&out).unwrap();
    assert_eq!(recs.len(), lines.len(), "{}", run.dump());
    for r in &recs {
        let name = r["name"].as_str().unwrap();
        let want = match name {
            "s-open" | "s-banner" => "open",
            "s-closed" => "closed-by-peer",
            _ => "refused",
        };
        assert_verdict(r, want);
        if let Some(c) = r["connect_ms"].as_f64() {
            assert!(c < 500.0, "connect_ms inflated by the stalled sink: {r}");
        }
        if let Some(c) = r["closed_after_ms"].as_f64() {
            assert!(
                c < 500.0,
                "closed_after_ms inflated by the stalled sink: {r}"
            );
        }
    }
    assert!(by_name(&recs, "s-open")["connect_ms"].as_f64().is_some());
    assert_eq!(by_name(&recs, "s-banner")["banner"], SSH_BANNER);
}
