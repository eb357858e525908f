#![allow(clippy::unwrap_used)]
//! Inventory processing at scale (issue 9, items 5 and 8): planning is linear or n·log n, deep
//! nesting is refused early with a position, an inventory whose every probe is excluded is an
//! error, the repeated-port warning stays short, and the pre-scan line counts right.
//!
//! Timed runs measure the CPU time (user + system) of the `telltale` process, read from the
//! parent shell's `/proc/$$/stat` (`cutime`, `cstime`) once it has waited for it: a loaded 2-core
//! machine stretches wall time many times over, CPU time much less. Each also has a generous
//! wall-clock bound. Before the fix the same runs took from 17 s to several minutes of CPU.
//!
//! Every run happens inside `unshare -rn` (a fresh network namespace): `--dry-run` must send
//! nothing and resolve nothing, and even a bug could not reach the outside. Names used are
//! `*.invalid` or `localhost` (from /etc/hosts).

mod common;

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, require_tools};

/// Debug builds are several times slower; the bounds are for release.
const SLOW: u32 = if cfg!(debug_assertions) { 10 } else { 1 };

/// Wall-clock cap of any timed run (far below the minutes these took before).
const WALL: Duration = Duration::from_secs(60);

struct Timed {
    code: i32,
    cpu: Duration,
    wall: Duration,
    stderr: String,
}

/// Run `telltale ARGS` in a fresh network namespace (with `lo` up when `lo_up`), stdout to
/// /dev/null; returns its exit code, CPU time and stderr.
fn timed(args: &[&str], lo_up: bool) -> Timed {
    require_tools(&["unshare", "sh", "getconf", "ip", "timeout"]);
    let dir = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("stderr");
    let script = format!(
        "{}bin=$1; shift; timeout -s KILL {} \"$bin\" \"$@\" >/dev/null 2>'{}'; rc=$?; \
         echo \"$rc $(getconf CLK_TCK) $(cat /proc/$$/stat)\"",
        if lo_up {
            "ip link set lo up || exit 99; "
        } else {
            ""
        },
        (WALL * SLOW).as_secs(),
        err_path.display()
    );
    let started = Instant::now();
    let out = Command::new("unshare")
        .args(["-rn", "sh", "-c", &script, "timed", BIN])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let wall = started.elapsed();
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let mut head = line.split_whitespace();
    let code: i32 = head.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        panic!(
            "no result line: {line:?}\nshell stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let tck: u64 = head.next().unwrap().parse().unwrap();
    // Fields after the command name's closing parenthesis start at field 3 (state);
    // cutime and cstime are fields 16 and 17.
    let after = &line[line.rfind(')').unwrap() + 1..];
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(1)
        .map(|s| s.parse().unwrap_or(0))
        .collect();
    let ticks = f[12] + f[13];
    let cpu = Duration::from_millis(ticks * 1000 / tck);
    assert!(
        !stderr.contains("panicked"),
        "telltale {args:?} panicked:\n{stderr}"
    );
    Timed {
        code,
        cpu,
        wall,
        stderr,
    }
}

fn assert_fast(t: &Timed, what: &str, cpu_bound: Duration) {
    let bound = cpu_bound * SLOW;
    eprintln!("{what}: {:?} CPU, {:?} wall", t.cpu, t.wall);
    assert!(
        t.cpu < bound && t.wall < WALL * SLOW,
        "{what}: {:?} CPU (bound {bound:?}), {:?} wall (bound {:?}); exit {}\nstderr (first 2 KB):\n{:.2048}",
        t.cpu,
        t.wall,
        WALL * SLOW,
        t.code,
        t.stderr
    );
}

/// `telltale ARGS` in a fresh network namespace with stdout captured.
fn output(args: &[&str]) -> (i32, String, String) {
    require_tools(&["unshare"]);
    let out = Command::new("unshare")
        .arg("-rn")
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
    )
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// The pre-scan line (`telltale: N probes to ...`).
fn plan_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.contains("effective concurrency"))
        .unwrap_or_else(|| panic!("no plan line in:\n{stderr}"))
}

#[test]
fn two_hundred_thousand_distinct_targets_plan_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("targets:\n");
    for i in 0..200_000u32 {
        let (b, c) = ((i >> 8) & 255, i & 255);
        writeln!(
            text,
            "  - {{host: 127.{}.{b}.{c}, port: {}}}",
            1 + (i >> 16),
            1 + i % 65_000
        )
        .unwrap();
    }
    let inv = write(&dir, "big.yaml", &text);
    let t = timed(&["scan", &inv, "--dry-run"], false);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(
        plan_line(&t.stderr).starts_with("telltale: 200000 probes to 200000 hosts;"),
        "{}",
        t.stderr
    );
    // Parsing 200k YAML entries alone is ~1.2 s of CPU here; the run takes 1.4–2.1 s on a shared
    // 2-core machine (2.06 s failed a 2 s bound in CI). The bug this guards took 17 s and more.
    assert_fast(&t, "200k distinct targets", Duration::from_secs(4));
}

#[test]
fn forty_thousand_overlapping_targets_on_one_host_plan_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("targets:\n");
    let mut union = vec![false; 65_536];
    for i in 0..40_000u32 {
        // Overlapping windows of 21 ports, several disjoint pieces each, and every fifth entry
        // an exact duplicate of the previous one.
        let a = 1 + (i * 13) % 65_000;
        let b = 1 + (i * 7_919) % 65_000;
        let ports = format!("{a}-{},{b},{}", a + 20, b + 3);
        for p in (a..=a + 20).chain([b, b + 3]) {
            union[p as usize] = true;
        }
        writeln!(text, "  - {{host: 127.0.0.1, ports: \"{ports}\"}}").unwrap();
        if i % 5 == 4 {
            writeln!(text, "  - {{host: 127.0.0.1, ports: \"{ports}\"}}").unwrap();
        }
    }
    let distinct = union.iter().filter(|&&b| b).count();
    let inv = write(&dir, "one-host.yaml", &text);
    let t = timed(&["scan", &inv, "--dry-run", "--allow-large"], false);
    assert_eq!(t.code, 0, "{}", t.stderr);
    assert!(
        plan_line(&t.stderr).starts_with(&format!("telltale: {distinct} probes to 1 host;")),
        "every port once: {}",
        plan_line(&t.stderr)
    );
    assert!(
        t.stderr
            .contains("more entries repeat ports of earlier entries"),
        "the rest of the duplicate warnings are counted in one line:\n{:.3000}",
        t.stderr
    );
    assert!(
        t.stderr.len() < 16 * 1024,
        "duplicate warnings are capped: {} bytes of stderr",
        t.stderr.len()
    );
    assert_fast(&t, "40k targets on one host", Duration::from_millis(1500));
}

#[test]
fn many_duplicates_and_excluded_names_scan_quickly() {
    // 100k entries listed twice (a duplicate of every (host, port)), and 40k names all in the
    // inventory's `exclude:` list, scanned for real: the names are never resolved (excluded)
    // and the one remaining probe gets `refused` on the namespace's loopback.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("exclude:\n");
    for i in 0..40_000 {
        writeln!(text, "  - n{i}.invalid").unwrap();
    }
    text.push_str("targets:\n  - {host: 127.0.0.1, port: 9, expect: refused}\n");
    for i in 0..40_000 {
        writeln!(text, "  - {{host: n{i}.invalid, port: 80}}").unwrap();
    }
    let dup_dir = tempfile::tempdir().unwrap();
    let mut dups = String::from("targets:\n");
    for _ in 0..2 {
        for i in 0..100_000u32 {
            writeln!(
                dups,
                "  - {{host: 127.{}.{}.{}, port: 9, expect: refused}}",
                1 + (i >> 16),
                (i >> 8) & 255,
                i & 255
            )
            .unwrap();
        }
    }
    let names = write(&dir, "names.yaml", &text);
    let t = timed(&["scan", &names, "--format", "ndjson"], true);
    assert_eq!(t.code, 0, "{:.3000}", t.stderr);
    assert!(
        plan_line(&t.stderr).starts_with("telltale: 1 probe to 1 host (40000 excluded);"),
        "{}",
        plan_line(&t.stderr)
    );
    assert_fast(&t, "40k excluded names", Duration::from_millis(1500));

    let dups = write(&dup_dir, "dups.yaml", &dups);
    let t = timed(&["scan", &dups, "--dry-run"], false);
    assert_eq!(t.code, 0, "{:.3000}", t.stderr);
    assert!(
        plan_line(&t.stderr).starts_with("telltale: 100000 probes to 100000 hosts;"),
        "each (host, port) once: {}",
        plan_line(&t.stderr)
    );
    assert!(
        t.stderr
            .contains("... and 99980 more entries repeat ports of earlier entries (99980 repeated ports dropped)"),
        "{:.3000}",
        t.stderr
    );
    // A real scan (not only the plan) of 100k probes: 1 s here when quiet; the quadratic
    // dedup took minutes. Generous for a loaded 2-core CI machine.
    assert_fast(&t, "200k entries, half duplicates", Duration::from_secs(4));
}

#[test]
fn deep_nesting_is_refused_at_once_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100_000;
    let deep = write(
        &dir,
        "deep.yaml",
        &format!("targets: {}{}\n", "[".repeat(n), "]".repeat(n)),
    );
    let t = timed(&["scan", &deep, "--dry-run"], false);
    assert_eq!(t.code, 2, "{}", t.stderr);
    // `targets:` is one level; the 64th bracket (column 9 + 64) is the 65th level.
    assert!(
        t.stderr
            .contains(&format!("{deep}:1:73: nesting deeper than 64 levels")),
        "{:.2000}",
        t.stderr
    );
    assert!(t.stderr.contains("nothing scanned"), "{}", t.stderr);
    assert_fast(&t, "100k brackets", Duration::from_millis(500));

    let braces = write(
        &dir,
        "braces.yaml",
        &format!(
            "targets:\n  - host: 127.0.0.1\n    port: 1\n    tags: {}{}\n",
            "{a: ".repeat(n / 4),
            "}".repeat(n / 4)
        ),
    );
    let t = timed(&["scan", &braces, "--dry-run"], false);
    assert_eq!(t.code, 2, "{}", t.stderr);
    assert!(
        t.stderr.contains(&format!("{braces}:4:")) && t.stderr.contains("nesting deeper"),
        "{:.2000}",
        t.stderr
    );
    assert_fast(&t, "100k braces", Duration::from_millis(500));

    // At the limit it is not a nesting error (the schema refuses it, with its position).
    let at_limit = write(
        &dir,
        "limit.yaml",
        &format!("targets: {}{}\n", "[".repeat(63), "]".repeat(63)),
    );
    let (code, _, stderr) = output(&["scan", &at_limit, "--dry-run"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        !stderr.contains("nesting") && stderr.contains(&format!("{at_limit}:1:")),
        "{stderr}"
    );
}

#[test]
fn excluding_everything_exits_2_and_scans_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inv = write(
        &dir,
        "inv.yaml",
        "targets:\n  - {host: 127.0.0.1, ports: \"1-3\"}\n  - {host: 127.0.0.8/30, port: 4}\n",
    );
    // --dry-run: no listing, exit 2.
    let (code, stdout, stderr) = output(&["scan", &inv, "--dry-run", "--exclude", "127.0.0.0/8"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("every probe is excluded (5 by exclude: and --exclude): nothing scanned"),
        "{stderr}"
    );
    assert!(!stdout.contains("127.0.0."), "nothing listed: {stdout}");
    // A real scan, excluded by the inventory itself: no record, exit 2.
    let inv_excl = write(
        &dir,
        "self.yaml",
        "exclude: [127.0.0.1, 127.0.0.8/30]\ntargets:\n  - {host: 127.0.0.1, ports: \"1-3\"}\n  - {host: 127.0.0.8/30, port: 4}\n",
    );
    let (code, stdout, stderr) = output(&["scan", &inv_excl, "--format", "ndjson"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("every probe is excluded"), "{stderr}");
    assert!(stdout.trim().is_empty(), "no records: {stdout}");
    // A name: only known after resolution (localhost, from /etc/hosts).
    let named = write(
        &dir,
        "named.yaml",
        "targets:\n  - {host: localhost, port: 9}\n",
    );
    let (code, stdout, stderr) = output(&[
        "scan",
        &named,
        "--format",
        "ndjson",
        "--exclude",
        "127.0.0.0/8",
        "--exclude",
        "::1",
    ]);
    assert!(
        stderr.contains("1 probe to 1 name (per address; addresses not yet known)"),
        "{stderr}"
    );
    assert_eq!(code, 2, "{stderr}\n{stdout}");
    assert!(
        stderr.contains("after resolving names") && stdout.trim().is_empty(),
        "{stderr}\n{stdout}"
    );
    // Excluding part of it is a normal run.
    let (code, stdout, stderr) = output(&["scan", &inv, "--dry-run", "--exclude", "127.0.0.1"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(plan_line(&stderr).starts_with("telltale: 2 probes to 2 hosts (3 excluded);"));
}

#[test]
fn the_repeated_port_warning_is_short_for_500k_repeats() {
    let dir = tempfile::tempdir().unwrap();
    // Every port eight times over, as one string and as a YAML list.
    let all: Vec<String> = (1..=65_535).map(|p| p.to_string()).collect();
    let eight = vec![all.join(","); 8].join(",");
    let as_string = write(
        &dir,
        "s.yaml",
        &format!("targets:\n  - {{host: 127.0.0.1, ports: \"{eight}\"}}\n"),
    );
    let as_list = write(
        &dir,
        "l.yaml",
        &format!("targets:\n  - {{host: 127.0.0.1, ports: [{eight}]}}\n"),
    );
    for inv in [&as_string, &as_list] {
        let t = timed(&["scan", inv, "--dry-run"], false);
        assert_eq!(t.code, 0, "{:.2000}", t.stderr);
        let w = t
            .stderr
            .lines()
            .find(|l| l.contains("more than once"))
            .unwrap_or_else(|| panic!("no warning: {:.2000}", t.stderr));
        assert!(w.len() < 300, "{} bytes: {w:.500}", w.len());
        assert!(
            w.contains("lists 65535 ports more than once: 1-65535;"),
            "{w}"
        );
        assert_fast(&t, "500k repeated ports", Duration::from_secs(2));
    }
    // Scattered repeats: a few shown, the rest counted.
    let odd: Vec<String> = (0..30_000).map(|i| (2 * i + 1).to_string()).collect();
    let odd = format!("{},{}", odd.join(","), odd.join(","));
    let scattered = write(
        &dir,
        "odd.yaml",
        &format!("targets:\n  - {{host: 127.0.0.1, ports: \"{odd}\"}}\n"),
    );
    let (code, _, stderr) = output(&["scan", &scattered, "--dry-run"]);
    assert_eq!(code, 0, "{stderr:.2000}");
    let w = stderr
        .lines()
        .find(|l| l.contains("more than once"))
        .unwrap();
    assert!(w.len() < 300, "{} bytes: {w:.500}", w.len());
    assert!(
        w.contains("lists 30000 ports more than once: 1,3,5,7,9 and 29995 more;"),
        "{w}"
    );
}

#[test]
fn the_pre_scan_line_counts_names_apart_and_gets_plurals_right() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "targets:\n  - {host: 127.0.0.1, port: 9}\n",
            "telltale: 1 probe to 1 host;",
        ),
        (
            "targets:\n  - {host: localhost, port: 9}\n",
            "telltale: 1 probe to 1 name (per address; addresses not yet known);",
        ),
        (
            "targets:\n  - {host: 127.0.0.1, ports: \"1-2\"}\n  - {host: 127.0.0.2, port: 3}\n  - {host: localhost, ports: \"4-5\"}\n  - {host: db.invalid, port: 6}\n",
            "telltale: 3 probes to 2 hosts and 3 probes to 2 names (per address; addresses not yet known);",
        ),
    ];
    for (i, (yaml, want)) in cases.into_iter().enumerate() {
        let inv = write(&dir, &format!("{i}.yaml"), yaml);
        let (code, _, stderr) = output(&["scan", &inv, "--dry-run"]);
        assert_eq!(code, 0, "{stderr}");
        assert!(plan_line(&stderr).starts_with(want), "{stderr}");
    }
}
