//! Reading inventories and reports deliberately: the size cap (`--max-input-size`, default
//! 64 MiB) on endless devices and big files, with the line:column where it was hit; FIFOs with
//! and without a writer (a real SIGINT/SIGTERM to the real binary stops a blocked read: exit 3,
//! nothing scanned); stdin `-`; directories; invalid UTF-8 and multi-document YAML positioned.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// A tool the test needs; a missing one fails loudly (never a silent skip).
fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is required by this test: apt-get install -y {package}. Refusing to skip silently."
    );
}

/// `telltale ARGS` under a 1 GiB address-space limit (a safety belt: a build without the cap
/// would otherwise grow until the OOM killer stops it) and `/usr/bin/time -v` for the peak RSS.
fn bounded(args: &[&str]) -> (Run, u64) {
    require("prlimit", "util-linux");
    require("/usr/bin/time", "time");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-v", "prlimit", "--as=1073741824", BIN])
        .args(args);
    let mut p = Proc::spawn_command(cmd, args.iter().map(|s| s.to_string()).collect());
    let run = p.finish(HANG_GUARD);
    let rss = run
        .stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no peak RSS from /usr/bin/time -v\n{}", run.dump()));
    (run, rss)
}

/// Asserts the cap contract: exit 2, quickly, memory bounded, the file and position named.
fn assert_capped(run: &Run, rss_kib: u64, at: &str) {
    run.assert_code(2);
    run.assert_no_panic();
    assert!(
        run.stderr.contains(at),
        "the error must name {at}\n{}",
        run.dump()
    );
    assert!(
        run.stderr.contains("--max-input-size") && run.stderr.contains("64 MiB"),
        "the error must name the cap and the flag\n{}",
        run.dump()
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "a capped read must stop quickly, took {:?}",
        run.elapsed
    );
    assert!(
        rss_kib < 256 * 1024,
        "peak RSS {rss_kib} KiB: memory must stay bounded by the 64 MiB cap\n{}",
        run.dump()
    );
}

fn small_inventory() -> Inventory {
    inventory("targets:\n  - {host: \"127.0.0.1\", port: 9}\n")
}

#[test]
fn dev_zero_inventory_hits_the_cap() {
    let (run, rss) = bounded(&["scan", "/dev/zero", "--dry-run"]);
    assert_capped(&run, rss, "/dev/zero:1:67108865:");
    assert!(run.stderr.contains("nothing scanned"), "{}", run.dump());
    assert!(run.stdout.trim().is_empty(), "{}", run.dump());
}

#[test]
fn dev_zero_baseline_hits_the_cap() {
    let inv = small_inventory();
    let (run, rss) = bounded(&["scan", &inv.arg(), "--baseline", "/dev/zero", "--dry-run"]);
    assert_capped(&run, rss, "--baseline: /dev/zero:1:67108865:");
}

#[test]
fn dev_zero_reports_hit_the_cap_in_diff_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.ndjson");
    std::fs::write(&empty, "").unwrap();
    let e = empty.to_str().unwrap();
    let (run, rss) = bounded(&["diff", "/dev/zero", e]);
    assert_capped(&run, rss, "/dev/zero:1:67108865:");
    let (run, rss) = bounded(&["merge", e, "/dev/zero"]);
    assert_capped(&run, rss, "/dev/zero:1:67108865:");
}

/// `targets:` + one target, then 1 KiB comment lines up to a little over 64 MiB.
fn big_inventory(dir: &Path) -> PathBuf {
    let mut text = String::from("targets:\n  - {host: \"127.0.0.1\", port: 9}\n");
    let line = format!("#{}\n", "x".repeat(1022));
    while text.len() <= 64 << 20 {
        text.push_str(&line);
    }
    let p = dir.join("big.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_file_over_the_cap_names_the_position_and_the_flag_raises_it() {
    let dir = tempfile::tempdir().unwrap();
    let big = big_inventory(dir.path());
    let arg = big.to_str().unwrap();
    // Byte 64 MiB: after the 42-byte head (2 lines), 65,535 whole comment lines and 982 bytes.
    let run = run(&["scan", arg, "--dry-run"], HANG_GUARD);
    run.assert_code(2);
    assert!(
        run.stderr.contains(&format!("{arg}:65538:983: ")) && run.stderr.contains("64 MiB"),
        "{}",
        run.dump()
    );
    let run = common::run(
        &["scan", arg, "--dry-run", "--max-input-size", "65MiB"],
        HANG_GUARD,
    );
    run.assert_code(0);
    assert!(run.stdout.contains("127.0.0.1\t9"), "{}", run.dump());
    // The cap can be lowered too, and reports obey it.
    let inv = small_inventory();
    let run = common::run(
        &["scan", &inv.arg(), "--dry-run", "--max-input-size", "20"],
        HANG_GUARD,
    );
    run.assert_code(2);
    assert!(
        run.stderr.contains(&format!("{}:2:12: ", inv.arg())) && run.stderr.contains("20 bytes"),
        "{}",
        run.dump()
    );
    let report = dir.path().join("r.ndjson");
    std::fs::write(&report, "\n\n\n").unwrap();
    let r = report.to_str().unwrap();
    let run = common::run(&["diff", r, r, "--max-input-size", "2"], HANG_GUARD);
    run.assert_code(2);
    assert!(run.stderr.contains(&format!("{r}:3:1: ")), "{}", run.dump());
}

fn mkfifo(dir: &Path, name: &str) -> PathBuf {
    require("mkfifo", "coreutils");
    let p = dir.join(name);
    let st = Command::new("mkfifo").arg(&p).status().unwrap();
    assert!(st.success(), "mkfifo {}", p.display());
    p
}

/// Waits until the child has installed its SIGINT and SIGTERM handlers (so the signal reaches
/// the program, not the default action), then a little longer so it is blocked reading.
fn wait_for_handlers(p: &mut Proc) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            .unwrap_or(0);
        let (int, term) = (1 << (2 - 1), 1 << (15 - 1));
        if caught & int != 0 && caught & term != 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no signal handlers after 10 s");
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(300));
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "telltale exited while the FIFO has no writer"
    );
}

/// The contract for a signal during loading: exit 3 within 1 s, "nothing scanned".
fn assert_interrupted(p: &mut Proc, sig: &str, words: &str) {
    wait_for_handlers(p);
    p.signal(sig);
    let sent = Instant::now();
    let status = p.wait_for(Duration::from_secs(1));
    let waited = sent.elapsed();
    let run = p.finish(Duration::from_secs(5));
    assert!(
        status.is_some(),
        "SIG{sig} while blocked on a FIFO must stop telltale within 1 s\n{}",
        run.dump()
    );
    assert!(waited <= Duration::from_secs(1), "{waited:?}");
    run.assert_code(3);
    run.assert_no_panic();
    assert!(run.stderr.contains(words), "{}", run.dump());
    assert!(run.stdout.trim().is_empty(), "{}", run.dump());
}

#[test]
fn fifo_without_writer_stops_on_the_first_signal() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(dir.path(), "inv.fifo");
    let mut p = Proc::spawn(&["scan", fifo.to_str().unwrap(), "--dry-run"]);
    assert_interrupted(&mut p, "INT", "nothing scanned");

    let inv = small_inventory();
    let mut p = Proc::spawn(&["scan", &inv.arg(), "--baseline", fifo.to_str().unwrap()]);
    assert_interrupted(&mut p, "TERM", "nothing scanned");

    let f = fifo.to_str().unwrap();
    let mut p = Proc::spawn(&["diff", f, f]);
    assert_interrupted(&mut p, "INT", "nothing compared");
}

/// Writes `bytes` into the FIFO from a thread, once telltale has opened it for reading.
/// Non-blocking, so the thread never hangs when no reader comes (it gives up after the guard).
fn feed(fifo: &Path, bytes: Vec<u8>) -> thread::JoinHandle<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let fifo = fifo.to_path_buf();
    thread::spawn(move || {
        let deadline = Instant::now() + HANG_GUARD;
        thread::sleep(Duration::from_millis(200));
        // ENXIO until a reader has the FIFO open.
        let mut w = loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo)
            {
                Ok(w) => break w,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("no reader opened {}: {e}", fifo.display()),
            }
        };
        let mut rest = &bytes[..];
        while !rest.is_empty() && Instant::now() < deadline {
            match w.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(1));
                }
                // The reader stopped at the cap and closed its end.
                Err(_) => return,
            }
        }
    })
}

#[test]
fn fifo_with_a_writer_is_read_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(dir.path(), "inv.fifo");
    let f = fifo.to_str().unwrap();
    let yaml = b"targets:\n  - {host: \"127.0.0.1\", port: 9}\n".to_vec();
    let writer = feed(&fifo, yaml);
    let run = run(&["scan", f, "--dry-run"], HANG_GUARD);
    run.assert_code(0);
    assert!(run.stdout.contains("127.0.0.1\t9"), "{}", run.dump());
    writer.join().unwrap();

    // A writer that sends more than the cap: the read stops at the cap, with the position.
    let mut flood = b"targets:\n".to_vec();
    flood.extend(std::iter::repeat_n(b'#', 4 << 20));
    let writer = feed(&fifo, flood);
    let run = common::run(
        &["scan", f, "--dry-run", "--max-input-size", "1MiB"],
        HANG_GUARD,
    );
    run.assert_code(2);
    run.assert_no_panic();
    assert!(
        run.stderr.contains(&format!("{f}:2:1048568: ")) && run.stderr.contains("1 MiB"),
        "{}",
        run.dump()
    );
    writer.join().unwrap();
}

/// `telltale ARGS` with `stdin` piped in.
fn with_stdin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let pid = child.id();
    let guard = thread::spawn(move || {
        thread::sleep(HANG_GUARD);
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    });
    let out = child.wait_with_output().unwrap();
    drop(guard);
    let code = out
        .status
        .code()
        .expect("telltale killed (hung reading stdin?)");
    (
        code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn stdin_dash_is_read_once() {
    let yaml = "targets:\n  - {host: \"127.0.0.1\", port: 9}\n";
    let (code, out, err) = with_stdin(&["scan", "-", "--dry-run"], yaml);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("127.0.0.1\t9"), "{out}\n{err}");

    let (code, _, err) = with_stdin(
        &["scan", "-", "--dry-run"],
        "targets:\n  - {host: x..y, port: 9}\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("<stdin>:2:"),
        "errors name stdin with a position: {err}"
    );

    let (code, _, err) = with_stdin(&["scan", "-", "-", "--dry-run"], yaml);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("more than once"), "{err}");
}

#[test]
fn a_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let run = run(&["scan", d, "--dry-run"], HANG_GUARD);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains(&format!("{d}: is a directory, expected a file")),
        "{}",
        run.dump()
    );
    let inv = small_inventory();
    let run = common::run(
        &["scan", &inv.arg(), "--baseline", d, "--dry-run"],
        HANG_GUARD,
    );
    run.assert_code(2);
    assert!(
        run.stderr
            .contains(&format!("--baseline: {d}: is a directory, expected a file")),
        "{}",
        run.dump()
    );
}

#[test]
fn invalid_utf8_names_the_first_bad_byte() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1.yaml");
    std::fs::write(
        &p,
        b"targets:\n  - {name: caf\xe9, host: \"127.0.0.1\", port: 9}\n",
    )
    .unwrap();
    let f = p.to_str().unwrap();
    let run = run(&["scan", f, "--dry-run"], HANG_GUARD);
    run.assert_code(2);
    assert!(
        run.stderr
            .contains(&format!("{f}:2:15: byte 0xe9 is not UTF-8")),
        "{}",
        run.dump()
    );
    let r = dir.path().join("r.ndjson");
    std::fs::write(&r, b"\n\n  \xff\n").unwrap();
    let r = r.to_str().unwrap();
    let run = common::run(&["diff", r, r], HANG_GUARD);
    run.assert_code(2);
    assert!(
        run.stderr.contains(&format!("{r}:3:3: byte 0xff")),
        "{}",
        run.dump()
    );
}

#[test]
fn a_second_yaml_document_is_positioned() {
    let inv = inventory(
        "# one inventory\ntargets:\n  - {host: \"127.0.0.1\", port: 9}\n---\ntargets:\n  - {host: \"127.0.0.1\", port: 10}\n",
    );
    let run = scan(&inv, &["--dry-run"]);
    run.assert_code(2);
    assert!(
        run.stderr.contains(&format!("{}:4:1: ", inv.arg()))
            && run.stderr.contains("second YAML document"),
        "{}",
        run.dump()
    );
}
