#![allow(clippy::unwrap_used)]
//! Bounded memory of the sinks that cannot write a result when it arrives (issue 9, item 7):
//! the table (sorted, aligned rows), JUnit (counts before the test cases) and Prometheus (samples
//! grouped by family). A real scan of 100,006 refused probes (`expect: open`, nothing listens)
//! runs in a fresh user + net + mount + pid namespace (only `lo` exists: no packet can leave),
//! one scan per format, each under `/usr/bin/time -v`; its peak RSS must stay under 64 MB, and
//! its output must still be complete and valid. Before the fix these sinks held every result in
//! memory (at this size: table ~200 MB, Prometheus ~290 MB, JUnit ~100 MB).
//!
//! Needs `unshare`, `ip`, `timeout` and GNU time (`/usr/bin/time`).

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::{Ns, NsSpec, UNSHARE_PID1};

const NS: NsSpec = NsSpec {
    // The three scans take ~15 s on 2 idle cores; the cap leaves room for a loaded machine.
    timeout: &["-s", "KILL", "120"],
    unshare: UNSHARE_PID1,
    tools: &["unshare", "ip", "timeout", "sh"],
    lab_ready_secs: 10,
    telltale_on_path: false,
};

/// Hosts of `127.1.0.0/26` (network and broadcast addresses are skipped).
const HOSTS: usize = 62;
/// Ports 1..=PORTS on every host: nothing listens, so every probe is `refused` at once.
const PORTS: usize = 1613;
/// Probes (and mismatches) per scan.
const PROBES: usize = HOSTS * PORTS;
/// Peak RSS bound per scan (the issue's goal).
const RSS_LIMIT_KB: u64 = 64 * 1024;

/// A long name makes every buffered result bigger, so that holding every result in memory
/// clearly exceeds the bound with few enough probes for a quick test.
fn name() -> String {
    format!("memory-{}", "n".repeat(700))
}

fn inventory() -> String {
    format!(
        "targets:\n  - name: {}\n    host: 127.1.0.0/26\n    ports: \"1-{PORTS}\"\n    expect: open\n",
        name()
    )
}

fn require_gnu_time() {
    assert!(
        Path::new("/usr/bin/time").exists(),
        "/usr/bin/time (GNU time) not found: apt-get install -y time. Refusing to skip silently."
    );
}

/// `Maximum resident set size (kbytes): N` from a `/usr/bin/time -v -o FILE` report.
fn max_rss_kb(ns: &Ns, file: &str) -> u64 {
    let text = ns.read(file);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {file}:\n{text}"))
}

/// The three scans, in parallel (they are independent processes, each measured on its own).
fn scan_formats() -> Ns {
    require_gnu_time();
    let body = r#"
for f in table junit prometheus; do
  ( set +e
    /usr/bin/time -v -o "$f.time" "$T" scan --no-progress --allow-large \
      --format "$f" -o "out.$f" inv.yaml > "$f.out" 2> "$f.err"
    echo $? > "$f.rc" ) &
done
wait
ls -A > listing
"#;
    NS.run(&[("inv.yaml", inventory())], body)
}

/// Each format's peak RSS; one failure naming every format over the bound.
fn check_rss(ns: &Ns, formats: &[&str]) {
    let mut over = Vec::new();
    for f in formats {
        ns.assert_rc(f, 1);
        let kb = max_rss_kb(ns, &format!("{f}.time"));
        eprintln!("{f}: peak RSS {kb} KB for {PROBES} mismatches");
        if kb >= RSS_LIMIT_KB {
            over.push(format!("{f}: {kb} KB"));
        }
    }
    assert!(
        over.is_empty(),
        "peak RSS for {PROBES} mismatches over {RSS_LIMIT_KB} KB (the sink holds results in memory): {}",
        over.join(", ")
    );
}

/// Every (address, port) of the inventory exactly once.
fn assert_every_probe_once(format: &str, seen: &[(String, String)]) {
    assert_eq!(seen.len(), PROBES, "{format}: one entry per probe");
    let distinct: HashSet<&(String, String)> = seen.iter().collect();
    assert_eq!(distinct.len(), PROBES, "{format}: no entry twice");
    assert!(
        distinct.contains(&("127.1.0.62".to_string(), PORTS.to_string())),
        "{format}: the last probe is there"
    );
}

#[test]
fn sinks_stay_under_64_mb_with_100k_mismatches() {
    let ns = scan_formats();
    check_rss(&ns, &["table", "junit", "prometheus"]);
    // Only the outputs and the run's own files: no temp file next to an output.
    let listing: HashSet<String> = ns.read("listing").lines().map(String::from).collect();
    let stray: Vec<&String> = listing
        .iter()
        .filter(|n| n.starts_with(".out.") || n.ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "temp files left: {stray:?}");

    // Table: a header, every mismatch as a row (sorted by address, then port), the summary.
    let table = ns.read("out.table");
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("NAME "), "header first");
    let rows: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
    let cells: Vec<Vec<&str>> = rows
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let name = name();
    for c in &cells {
        assert_eq!(
            (c[0], c[1], c[4], c[5], c[6]),
            (name.as_str(), "127.1.0.0/26", "refused", "✗", "open"),
            "{c:?}"
        );
    }
    let keys: Vec<(std::net::IpAddr, u16)> = cells
        .iter()
        .map(|c| (c[2].parse().unwrap(), c[3].parse().unwrap()))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "rows sorted");
    let pairs: Vec<(String, String)> = cells
        .iter()
        .map(|c| (c[2].to_string(), c[3].to_string()))
        .collect();
    assert_every_probe_once("table", &pairs);
    assert!(
        table.contains(&format!(
            "\n{PROBES} probes, 0 as expected, {PROBES} not as expected in "
        )),
        "summary"
    );

    // JUnit: parses; the counts in the opening elements match the test cases.
    let xml = ns.read("out.junit");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("tests"), Some(PROBES.to_string().as_str()));
    assert_eq!(
        suite.attribute("failures"),
        Some(PROBES.to_string().as_str())
    );
    let cases: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            assert!(n.children().any(|c| c.has_tag_name("failure")));
            let (_, ep) = n.attribute("name").unwrap().split_once(' ').unwrap();
            let (a, p) = ep.rsplit_once(':').unwrap();
            (a.to_string(), p.to_string())
        })
        .collect();
    assert_every_probe_once("junit", &cases);

    // Prometheus: parses; one telltale_probe_ok sample per probe, all 0; the totals.
    let text = ns.read("out.prometheus");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let ok: Vec<&prometheus_parse::Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "telltale_probe_ok")
        .collect();
    assert!(
        ok.iter()
            .all(|s| matches!(s.value, prometheus_parse::Value::Gauge(v) if v == 0.0))
    );
    let samples: Vec<(String, String)> = ok
        .iter()
        .map(|s| (s.labels["addr"].to_string(), s.labels["port"].to_string()))
        .collect();
    assert_every_probe_once("prometheus", &samples);
    assert_eq!(
        text.matches("# TYPE telltale_probe_ok gauge\n").count(),
        1,
        "one header per family"
    );
    let mismatches = scrape
        .samples
        .iter()
        .find(|s| s.metric == "telltale_scan_mismatches")
        .unwrap();
    assert!(matches!(mismatches.value, prometheus_parse::Value::Gauge(v) if v == PROBES as f64));
}

/// Spilled rows go to the system temp dir (`TMPDIR`), never next to the output: with a missing
/// or full TMPDIR a scan big enough to spill fails loudly (exit 3, the directory named) and
/// leaves the old output file as it was (or none).
#[test]
fn spill_files_go_to_tmpdir() {
    let body = r#"
echo old > out.table
mkdir spill
(export TMPDIR="$LAB_DIR/missing"; scan big --no-progress --format table -o out.table inv.yaml)
mkdir small
mount -t tmpfs -o size=256k tmpfs small
(export TMPDIR="$LAB_DIR/small"; scan full --no-progress --format table -o out.full inv.yaml)
(export TMPDIR="$LAB_DIR/spill"; scan ok --no-progress --format junit -o out.junit inv.yaml)
ls -A spill > spill.listing
"#;
    let inv = "targets:\n  - host: 127.1.0.0/29\n    ports: \"1-4000\"\n    expect: open\n";
    let ns = NS.run(&[("inv.yaml", inv)], body);
    ns.assert_rc("big", 3);
    let err = ns.stderr("big");
    assert!(
        err.contains("temp file") && err.contains("/missing"),
        "the error names the temp dir:\n{err}"
    );
    assert_eq!(ns.read("out.table"), "old\n", "the old output is kept");
    ns.assert_rc("full", 3);
    let err = ns.stderr("full");
    assert!(
        err.contains("temp file in") && err.contains("/small") && err.contains("No space left"),
        "a full temp dir is named as such:\n{err}"
    );
    assert!(!ns.path("out.full").exists(), "no output from a failed run");
    ns.assert_rc("ok", 1);
    let doc_text = ns.read("out.junit");
    let doc = roxmltree::Document::parse(&doc_text).unwrap();
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, 6 * 4000);
    assert_eq!(
        ns.read("spill.listing"),
        "",
        "spill files are anonymous: nothing left in TMPDIR"
    );
}

/// A slow consumer holds back new probes; it must not pile up finished ones: with stdout not
/// read for 12 s, a scan of 40,300 refused probes (all done within that time, unless held
/// back) stays under the bound and still writes every record. Before the fix each probe task
/// gave its permits back before handing its record over, so every finished probe waited in
/// memory (~300 MB at 100k probes).
#[test]
fn a_stalled_output_holds_back_probes_not_results() {
    require_gnu_time();
    let probes = HOSTS * 650;
    let inv = "targets:\n  - host: 127.1.0.0/26\n    ports: \"1-650\"\n    expect: open\n";
    let body = r#"
set +e
/usr/bin/time -v -o stalled.time "$T" scan --no-progress --format ndjson inv.yaml 2> stalled.err \
  | (sleep 12; cat > stalled.out)
"#;
    let ns = NS.run(&[("inv.yaml", inv)], body);
    let kb = max_rss_kb(&ns, "stalled.time");
    eprintln!("stalled ndjson: peak RSS {kb} KB for {probes} probes");
    assert!(
        kb < RSS_LIMIT_KB,
        "peak RSS {kb} KB with a stalled stdout, over {RSS_LIMIT_KB} KB: finished probes pile up\n{}",
        ns.stderr("stalled")
    );
    assert!(
        ns.read("stalled.time").contains("Exit status: 1\n"),
        "exit 1 (mismatches)\n{}",
        ns.read("stalled.time")
    );
    let recs = ns.records("stalled");
    assert_eq!(recs.len(), probes, "every record written");
    assert!(recs.iter().all(|r| r["verdict"] == "refused"));
}
