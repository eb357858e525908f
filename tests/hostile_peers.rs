//! Peers that do not behave like polite services: ones that stream bytes at the scanner as fast
//! as they can, or send far more than a banner before closing, and interrupts that land while a
//! connected probe lingers. Checklist items 22 and 27 (every probe ends by its connect timeout +
//! linger whatever the peer sends, without reading it in a hot loop) and the interrupt half of
//! item 18 (an interrupted probe keeps what it measured).
//!
//! Loopback only: `telltale lab` services and test-owned listeners on 127.0.0.0/8.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Where GNU time lives; the CPU bound is read from its report of the scanner's rusage.
const TIME: &str = "/usr/bin/time";

/// Streaming labs and services per lab: 4 × 50 = 200 streaming peers.
const STREAM_LABS: usize = 4;
const STREAMS_PER_LAB: usize = 50;

fn require_gnu_time() {
    assert!(
        Path::new(TIME).exists(),
        "{TIME} not found: this test reads the scanner's CPU time from GNU time \
         (apt-get install -y time). Refusing to skip silently."
    );
}

/// Wall seconds, user seconds and system seconds from `/usr/bin/time -f "%e %U %S"`.
fn time_report(p: &Path) -> (f64, f64, f64) {
    let text = read_file(p);
    // GNU time prints "Command exited with non-zero status N" first when the command failed.
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("empty GNU time report {}", p.display()));
    let f: Vec<f64> = line
        .split_whitespace()
        .map(|x| {
            x.parse()
                .unwrap_or_else(|_| panic!("bad GNU time line {line:?}"))
        })
        .collect();
    assert_eq!(f.len(), 3, "bad GNU time line {line:?}");
    (f[0], f[1], f[2])
}

/// 200 peers that write as fast as they can on every connection, scanned at `--linger 1s`: the
/// scan ends by timeout + linger, costs little CPU (the bytes past the banner cap are left
/// unread instead of being read and discarded in a hot loop), and every verdict is `open` with
/// a full, bounded banner and a detail saying the peer streamed.
///
/// Before the fix, the read loop's deadline was never seen against an always-ready read: this
/// scan ran past 2 minutes at 100 % CPU (here it is cut off by SIGINT after 20 s).
#[test]
fn streaming_peers_end_at_the_linger_deadline_without_burning_cpu() {
    require_gnu_time();
    let per_lab: Vec<String> = (0..STREAMS_PER_LAB)
        .flat_map(|_| ["--stream".to_string(), "0".to_string()])
        .collect();
    let labs: Vec<Lab> = (1..=STREAM_LABS)
        .map(|i| Lab::start_args(&format!("127.0.96.{i}"), &per_lab))
        .collect();
    let mut lines = Vec::new();
    for (i, lab) in labs.iter().enumerate() {
        for (j, a) in lab.addrs("stream").into_iter().enumerate() {
            lines.push(target(&format!("s{i}-{j}"), a, "open"));
        }
    }
    assert_eq!(lines.len(), STREAM_LABS * STREAMS_PER_LAB);
    let inv = inventory(&targets(&lines));
    let report = inv.dir.path().join("time.txt");
    let args: Vec<String> = [
        "-f",
        "%e %U %S",
        "-o",
        report.to_str().unwrap(),
        // The old code never ends on its own: SIGINT after 20 s makes it exit (3) and report.
        "timeout",
        "-s",
        "INT",
        "20",
        BIN,
        "scan",
        &inv.arg(),
        "--format",
        "ndjson",
        "--timeout",
        "3s",
        "--linger",
        "1s",
        "--no-progress",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut cmd = Command::new(TIME);
    cmd.args(&args);
    let run = Proc::spawn_command(cmd, args).finish(HANG_GUARD);
    let (wall, user, sys) = time_report(&report);
    let recs = run.records();
    let counts = verdict_counts(&recs);
    eprintln!(
        "{} streamers at --linger 1s: wall {wall:.2} s, user {user:.2} s, sys {sys:.2} s; {counts}",
        lines.len()
    );
    assert!(
        wall < 6.0,
        "{} streaming peers at --linger 1s took {wall:.1} s (user {user:.2} s, sys {sys:.2} s): \
         the linger deadline must end every probe by timeout + linger (< 6 s); verdicts {counts}",
        lines.len()
    );
    assert!(
        user + sys < 1.0,
        "{} streaming peers at --linger 1s cost {user:.2} s user + {sys:.2} s sys CPU in \
         {wall:.1} s: bytes past the banner cap must not be read in a hot loop",
        lines.len()
    );
    run.assert_code(0);
    run.assert_no_panic();
    assert_eq!(recs.len(), lines.len(), "{counts}\n{}", run.dump());
    for r in &recs {
        assert_verdict(r, "open");
        let banner = r["banner"]
            .as_str()
            .unwrap_or_else(|| panic!("a streaming peer sends bytes: banner must be set: {r}"));
        assert_eq!(
            unescape_banner(banner).len(),
            256,
            "the banner is filled to its 256-byte cap: {r}"
        );
        let detail = r["detail"].as_str().unwrap();
        assert!(
            detail.contains("still open after 1s") && detail.contains("streamed"),
            "the detail says the peer streamed: {r}"
        );
        assert!(r["closed_after_ms"].is_null(), "{r}");
    }
}

fn verdict_counts(recs: &[Value]) -> String {
    let mut m = std::collections::BTreeMap::<String, usize>::new();
    for r in recs {
        *m.entry(verdict(r).to_string()).or_default() += 1;
    }
    format!("{m:?}")
}

/// SIGINT while two connected probes linger, one after a short banner (still reading), one
/// with its banner full of a streaming peer's bytes (watching): both records are
/// `interrupted` (never `open`) and keep `connect_ms`, the banner, and how long they lingered.
///
/// Before the fix, the interrupted attempt future was dropped, and with it the connect time and
/// the banner: both records had `connect_ms: null` and `banner: null`.
#[test]
fn sigint_during_linger_keeps_connect_ms_and_banner() {
    let lab = Lab::start("127.0.0.1", &["banner", "stream"]);
    let inv = inventory(&format!(
        "targets:\n  \
         - {{name: ssh, host: \"127.0.0.1\", port: {}, expect: open, linger: 30s}}\n  \
         - {{name: chargen, host: \"127.0.0.1\", port: {}, expect: open, linger: 30s}}\n",
        lab.port("banner"),
        lab.port("stream")
    ));
    let mut p = Proc::spawn(&["scan", &inv.arg(), "--format", "ndjson", "--no-progress"]);
    // Loopback connects take well under a millisecond; give the probes time to read.
    thread::sleep(Duration::from_millis(1000));
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "scan ended before the signal: {}",
        p.finish(HANG_GUARD).dump()
    );
    let t0 = Instant::now();
    p.signal("INT");
    let exited = p.wait_for(Duration::from_secs(10));
    let took = t0.elapsed();
    let run = p.finish(HANG_GUARD);
    assert!(exited.is_some(), "no exit after SIGINT\n{}", run.dump());
    run.assert_code(3);
    run.assert_no_panic();
    assert!(
        took < Duration::from_secs(2),
        "exit took {took:?}\n{}",
        run.dump()
    );
    let recs = run.records();
    assert_eq!(recs.len(), 2, "{}", run.dump());
    for (name, banner_len) in [("ssh", SSH_BANNER.len()), ("chargen", 256)] {
        let r = by_name(&recs, name);
        assert_verdict(r, "interrupted");
        assert_eq!(r["ok"], false, "{r}");
        let connect = r["connect_ms"].as_f64().unwrap_or_else(|| {
            panic!("{name}: an interrupted probe that connected keeps connect_ms: {r}")
        });
        assert!(connect >= 0.0, "{r}");
        assert!(r["closed_after_ms"].is_null(), "{r}");
        let banner = r["banner"].as_str().unwrap_or_else(|| {
            panic!("{name}: an interrupted probe keeps the banner it read: {r}")
        });
        if name == "ssh" {
            assert_eq!(banner, SSH_BANNER, "{r}");
        } else {
            assert_eq!(unescape_banner(banner).len(), banner_len, "{r}");
        }
        let detail = r["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("connected in ") && detail.contains("interrupted after"),
            "{name}: the detail says it connected and for how long it lingered: {r}"
        );
        assert!(r["errno"].is_null(), "{r}");
    }
}

/// A test-owned listener on `ip`: every connection gets `len` bytes at once, and 300 ms later
/// a FIN (`reset` false: write side shut down, then the reads drained) or a RST (`reset` true:
/// zero linger), so that the close lands while the probe, its banner full, watches.
fn flood_then_close(ip: &str, len: usize, reset: bool) -> SocketAddr {
    let listener = TcpListener::bind(format!("{ip}:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            thread::spawn(move || {
                let _ = s.write_all(&vec![b'y'; len]);
                thread::sleep(CLOSE_DELAY);
                if reset {
                    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                    drop(s);
                } else {
                    let _ = s.shutdown(Shutdown::Write);
                    let mut sink = [0u8; 512];
                    while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
                }
            });
        }
    });
    addr
}

/// How long the flooding listeners wait between their bytes and their close.
const CLOSE_DELAY: Duration = Duration::from_millis(300);

/// Far more than a banner, then FIN or RST: the close is seen behind the unread bytes, with
/// its timing, while the banner stays capped (the watch path after a full banner; the verdicts
/// are the ones the old read-everything loop gave).
#[test]
fn long_message_then_fin_or_rst_keeps_its_verdict() {
    let fin = flood_then_close("127.0.96.9", 16 * 1024, false);
    let rst = flood_then_close("127.0.96.9", 16 * 1024, true);
    let inv = inventory(&targets(&[
        target("fin", fin, "closed-by-peer"),
        target("rst", rst, "reset-by-peer"),
    ]));
    let t0 = Instant::now();
    let (recs, run) = scan_ndjson(&inv, &["--linger", "5s", "--no-progress"], 0);
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "a close during the linger ends the probe at once, not at the 5 s deadline\n{}",
        run.dump()
    );
    for (name, want, errno) in [
        ("fin", "closed-by-peer", None),
        ("rst", "reset-by-peer", Some("ECONNRESET")),
    ] {
        let r = by_name(&recs, name);
        assert_verdict(r, want);
        assert_eq!(r["errno"].as_str(), errno, "{r}");
        let after = r["closed_after_ms"]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: closed_after_ms is set: {r}"));
        assert!(
            (250.0..3000.0).contains(&after),
            "{name}: the close is seen when it comes, {CLOSE_DELAY:?} after the bytes: {r}"
        );
        let banner = r["banner"].as_str().unwrap();
        assert_eq!(unescape_banner(banner), vec![b'y'; 256], "{r}");
    }
}
