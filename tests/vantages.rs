#![allow(clippy::unwrap_used)]
//! Many vantage points (issue 4): vantage labels, per-vantage expectations, shards, `merge`,
//! the HTML matrix in a real browser, and the Kubernetes / Ansible examples run for real.
//!
//! - Three vantages are three scans in three network namespaces with different nft rules
//!   (`app`: nothing blocked; `dmz`: a port dropped, another rejected with ICMP
//!   admin-prohibited; `ops`: a port rejected with a TCP reset), against the same lab services
//!   in each. `telltale merge` turns them into a matrix whose every cell is checked.
//! - Shards of one vantage merge to exactly the unsharded scan; `merge` rejects a duplicate
//!   shard, a missing shard (unless `--allow-partial`), mixed inventories and malformed lines,
//!   each with exit 2 and a message naming the file.
//! - The HTML matrix is self-contained and is opened in headless Chromium (installed with
//!   `.ci/run` installs it — the test fails with the install command, never skips, without it).
//! - `examples/kubernetes` and `examples/ansible` parse, and the commands they run are run on
//!   loopback with the same flags (templated values substituted), then merged.
//!
//! Network: every packet stays inside namespaces created here (`unshare -rnmpf`: only `lo`,
//! a resolv.conf pointing at 127.0.0.1 bind-mounted), or on 127.0.0.0/8. Chromium runs inside
//! `unshare -rn` too, with a `file://` URL.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use common::{
    BIN, KILL_AFTER_60S, NsSpec, UNSHARE_PID1_PROC, dump_dir, example, ndjson_file as records,
    nft_rules, rc_file as rc, read_file as read, show_output as show, str_or_null as s,
};
use serde::Deserialize;
use serde_json::Value;
use serde_yaml::Value as Yaml;
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Namespace harness (tests/common, tests/lab/)
// ---------------------------------------------------------------------------------------------

/// PID 1 of fresh user/net/mount/pid namespaces, SIGKILLed after 60 s (the pid namespace takes
/// the lab down); a 20 s wait for labs; `telltale` on PATH, as an installed binary would be.
const NS: NsSpec = NsSpec {
    timeout: KILL_AFTER_60S,
    unshare: UNSHARE_PID1_PROC,
    tools: &["unshare", "nft", "ip", "timeout", "sh"],
    lab_ready_secs: 20,
    telltale_on_path: true,
};

/// Write `files` into `dir` (created), then start `body` after the prelude as PID 1 of fresh
/// user/net/mount/pid namespaces. Wait with [`ns_wait`].
fn ns_spawn(dir: &Path, files: &[(&str, String)], body: &str) -> Child {
    NS.spawn(dir, files, body)
}

fn ns_wait(child: Child, dir: &Path) {
    NS.wait(child, dir);
}

fn ns_run(dir: &Path, files: &[(&str, String)], body: &str) {
    NS.run_in(dir, files, body);
}

/// (addr, port, verdict) multiset of records.
fn apv(recs: &[Value]) -> BTreeMap<(String, u64, String), usize> {
    let mut m = BTreeMap::new();
    for r in recs {
        let k = (
            s(r, "addr").to_string(),
            r["port"].as_u64().unwrap(),
            s(r, "verdict").to_string(),
        );
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// Run `telltale ARGS` on the host (merge and dry-runs only: no packet is sent).
fn telltale(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run telltale {args:?}: {e}"))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// a. Three vantages in three namespaces → the matrix
// ---------------------------------------------------------------------------------------------

/// Per-vantage expectations; no `defaults: expect:` so that a vantage missing from a map
/// without `default` has no expectation at all.
const MATRIX_INVENTORY: &str = "\
defaults: {linger: 200ms}
targets:
  - name: db            # dmz must reach it, but the dmz firewall drops it: filtered ✗
    host: 127.0.0.1
    port: 1001
    expect: {app: open, dmz: reachable, ops: refused}
  - name: web           # ops is judged by `default`
    host: 127.0.0.1
    port: 1002
    expect: {app: open, dmz: blocked, default: reachable}
  - name: admin         # app must not reach it (✗); dmz has no expectation (?)
    host: 127.0.0.1
    port: 1003
    expect: {app: blocked, ops: open}
  - name: unused        # the plain form keeps working
    host: 127.0.0.1
    port: 1004
    expect: refused
";

const VANTAGES: [&str; 3] = ["app", "dmz", "ops"];

fn vantage_rules(v: &str) -> Vec<&'static str> {
    match v {
        "app" => vec![],
        "dmz" => vec![
            "ip daddr 127.0.0.1 tcp dport 1001 drop",
            "ip daddr 127.0.0.1 tcp dport 1002 reject with icmp type admin-prohibited",
        ],
        "ops" => vec!["ip daddr 127.0.0.1 tcp dport 1001 reject with tcp reset"],
        _ => unreachable!(),
    }
}

/// The expected matrix: row name → per vantage (verdict, ok).
fn expected_cells() -> BTreeMap<&'static str, [(&'static str, Option<bool>); 3]> {
    BTreeMap::from([
        (
            "db",
            [
                ("open", Some(true)),
                ("filtered", Some(false)),
                ("refused", Some(true)),
            ],
        ),
        (
            "web",
            [
                ("open", Some(true)),
                ("unreachable", Some(true)),
                ("open", Some(true)),
            ],
        ),
        (
            "admin",
            [("open", Some(false)), ("open", None), ("open", Some(true))],
        ),
        (
            "unused",
            [
                ("refused", Some(true)),
                ("refused", Some(true)),
                ("refused", Some(true)),
            ],
        ),
    ])
}

struct ThreeVantages {
    dir: TempDir,
}

impl ThreeVantages {
    fn report(&self, v: &str) -> PathBuf {
        self.dir.path().join("reports").join(format!("{v}.ndjson"))
    }
    fn reports(&self) -> Vec<String> {
        VANTAGES
            .iter()
            .map(|v| p(&self.report(v)).to_string())
            .collect()
    }
    fn ns_dir(&self, v: &str) -> PathBuf {
        self.dir.path().join(format!("ns-{v}"))
    }
    fn merge(&self, extra: &[&str]) -> Output {
        let reports = self.reports();
        let mut args: Vec<&str> = vec!["merge"];
        args.extend(reports.iter().map(String::as_str));
        args.extend(extra);
        telltale(&args)
    }
}

/// Scan the same inventory from three namespaces at once, one per vantage.
fn three_vantages() -> ThreeVantages {
    let dir = tempfile::Builder::new()
        .prefix("telltale-vantages-")
        .tempdir()
        .unwrap();
    let inv = dir.path().join("inv.yaml");
    std::fs::write(&inv, MATRIX_INVENTORY).unwrap();
    std::fs::create_dir_all(dir.path().join("reports")).unwrap();
    let tv = ThreeVantages { dir };
    let mut children = Vec::new();
    for v in VANTAGES {
        let body = format!(
            "lab_start svc --ip 127.0.0.1 --open 1001-1003 --refused 1004\n\
             run_to scan telltale scan {} --vantage {v} --format ndjson -o {} --timeout 2s \
             --retries 0 --no-progress\n",
            p(&inv),
            p(&tv.report(v))
        );
        let nsdir = tv.ns_dir(v);
        let rules = nft_rules(&vantage_rules(v));
        children.push((ns_spawn(&nsdir, &[("rules.nft", rules)], &body), nsdir));
    }
    for (child, nsdir) in children {
        ns_wait(child, &nsdir);
    }
    for (v, want) in [("app", 1), ("dmz", 1), ("ops", 0)] {
        let got = rc(&tv.ns_dir(v), "scan");
        assert_eq!(
            got,
            want,
            "scan from vantage {v}: exit code\n{}",
            dump_dir(&tv.ns_dir(v))
        );
    }
    tv
}

#[test]
fn three_namespaces_make_the_expected_matrix() {
    let tv = three_vantages();
    let cells = expected_cells();

    // Every record carries its vantage, no shard, and one inventory digest.
    let mut digests = BTreeSet::new();
    for (i, v) in VANTAGES.iter().enumerate() {
        let recs = records(&tv.report(v));
        assert_eq!(recs.len(), 4, "{v}: {recs:#?}");
        for r in &recs {
            assert_eq!(s(r, "vantage"), *v, "{r}");
            assert!(r["shard"].is_null(), "unsharded scan with a shard: {r}");
            digests.insert(s(r, "inventory_digest").to_string());
            let (verdict, ok) = cells[s(r, "name")][i];
            assert_eq!(
                (s(r, "verdict"), r["ok"].as_bool()),
                (verdict, ok),
                "vantage {v}: {r}"
            );
        }
        // The vantage with no expectation and no default: ok null, said so in the detail.
        if *v == "dmz" {
            let admin = recs.iter().find(|r| s(r, "name") == "admin").unwrap();
            assert!(admin["ok"].is_null(), "{admin}");
            assert!(
                s(admin, "detail").contains("no expectation for vantage `dmz`"),
                "{admin}"
            );
        }
    }
    assert_eq!(digests.len(), 1, "one inventory, one digest: {digests:?}");
    assert!(digests.iter().next().unwrap().len() >= 8, "{digests:?}");

    // JSON matrix: exact cells, mismatches counted (✗ and ?), exit 1.
    let out = tv.merge(&["--format", "json"]);
    assert_eq!(
        code(&out),
        1,
        "merge with mismatching cells\n{}",
        show(&out)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["vantages"], serde_json::json!(VANTAGES), "{doc:#}");
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{doc:#}");
    let mut seen = BTreeSet::new();
    for row in rows {
        let name = s(row, "name");
        seen.insert(name.to_string());
        assert_eq!(s(row, "addr"), "127.0.0.1", "{row}");
        let want = cells
            .get(name)
            .unwrap_or_else(|| panic!("unexpected row {row}"));
        for (i, v) in VANTAGES.iter().enumerate() {
            let c = &row["cells"][v];
            assert_eq!(
                (s(c, "verdict"), c["ok"].as_bool()),
                want[i],
                "row {name}, vantage {v}: {c}"
            );
        }
    }
    assert_eq!(seen.len(), 4);
    assert_eq!(
        doc["mismatches"], 3,
        "db@dmz ✗, admin@app ✗, admin@dmz ?: {doc:#}"
    );
    assert_eq!(doc["results"].as_array().unwrap().len(), 12);

    // CSV: the columns are the vantages.
    let out = tv.merge(&["--format", "csv"]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("name,host,addr,port,app,app_ok,dmz,dmz_ok,ops,ops_ok"),
        "{csv}"
    );
    let body: BTreeSet<&str> = lines.collect();
    let want: BTreeSet<&str> = [
        "admin,127.0.0.1,127.0.0.1,1003,open,false,open,,open,true",
        "db,127.0.0.1,127.0.0.1,1001,open,true,filtered,false,refused,true",
        "unused,127.0.0.1,127.0.0.1,1004,refused,true,refused,true,refused,true",
        "web,127.0.0.1,127.0.0.1,1002,open,true,unreachable,true,open,true",
    ]
    .into();
    assert_eq!(body, want, "{csv}");

    // Table: a `?` cell for the vantage without an expectation.
    let out = tv.merge(&[]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    let head: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        ["NAME", "HOST", "ADDRESS", "PORT", "app", "dmz", "ops"],
        "{table}"
    );
    let admin: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("admin"))
        .unwrap_or_else(|| panic!("no admin row:\n{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(
        admin,
        [
            "admin",
            "127.0.0.1",
            "127.0.0.1",
            "1003",
            "open",
            "✗",
            "open",
            "?",
            "open",
            "✓"
        ],
        "{table}"
    );
    assert!(
        table.contains("4 rows × 3 vantages: 12 cells, 3 not as expected"),
        "{table}"
    );

    // A matrix where every cell is as expected exits 0: ops alone.
    let out = telltale(&["merge", p(&tv.report("ops"))]);
    assert_eq!(code(&out), 0, "{}", show(&out));
}

// ---------------------------------------------------------------------------------------------
// b. Shards of one vantage, and what merge refuses
// ---------------------------------------------------------------------------------------------

const SHARD_INVENTORY: &str = "\
targets:
  - name: block
    host: 127.0.0.0/29
    ports: [1001, 1002, 1004]
    expect: {app: [open, refused], default: reachable}
  - name: local
    host: localhost
    ports: \"1001-1003\"
    expect: open
  - name: two
    host: 127.0.0.2
    port: 1005
    expect: closed-by-peer
";

#[test]
fn shards_merge_to_the_unsharded_scan_and_bad_sets_are_refused() {
    let dir = tempfile::Builder::new()
        .prefix("telltale-shards-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let other = format!(
        "{SHARD_INVENTORY}  - {{name: extra, host: 127.0.0.3, port: 1001, expect: refused}}\n"
    );
    let common = "--vantage app --timeout 2s --retries 0 --linger 200ms --no-progress";
    let flags = format!("{common} --format ndjson");
    let mut body = String::from(
        "lab_start one --ip 127.0.0.1 --open 1001-1003\n\
         lab_start two --ip 127.0.0.2 --open 1001,1002 --closed 1005\n",
    );
    writeln!(
        body,
        "run_to full telltale scan inv.yaml {flags} -o full.ndjson"
    )
    .unwrap();
    for k in 1..=3 {
        writeln!(
            body,
            "run_to s{k} telltale scan inv.yaml {flags} --shard {k}/3 -o s{k}.ndjson"
        )
        .unwrap();
    }
    writeln!(
        body,
        "run_to other2 telltale scan other.yaml {flags} --shard 2/3 -o other2.ndjson"
    )
    .unwrap();
    // Shard 2 again as a JSON document: merge reads both report formats.
    writeln!(
        body,
        "run_to s2json telltale scan inv.yaml {common} --format json --shard 2/3 -o s2.json"
    )
    .unwrap();
    ns_run(
        d,
        &[
            ("inv.yaml", SHARD_INVENTORY.to_string()),
            ("other.yaml", other),
            ("hosts", "127.0.0.1 localhost\n".to_string()),
        ],
        &body,
    );
    for name in ["full", "s1", "s2", "s3", "other2", "s2json"] {
        assert_eq!(rc(d, name), 0, "{name}\n{}", dump_dir(d));
    }
    let full = records(&d.join("full.ndjson"));
    assert_eq!(full.len(), 6 * 3 + 3 + 1, "{full:#?}");
    let mut sizes = Vec::new();
    for k in 1..=3 {
        let recs = records(&d.join(format!("s{k}.ndjson")));
        sizes.push(recs.len());
        for r in &recs {
            assert_eq!(s(r, "shard"), format!("{k}/3"), "{r}");
            assert_eq!(s(r, "vantage"), "app", "{r}");
        }
    }
    assert_eq!(sizes, [8, 7, 7], "shard sizes");

    let f = |n: &str| p(&d.join(n)).to_string();
    let (s1, s2, s3) = (f("s1.ndjson"), f("s2.ndjson"), f("s3.ndjson"));

    // The three shards merge to the unsharded scan.
    let out = telltale(&["merge", &s1, &s2, &s3, "--format", "ndjson"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let merged: Vec<Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(apv(&merged), apv(&full), "merged shards ≠ unsharded scan");
    assert_eq!(merged.len(), full.len());
    // Shard order on the command line does not matter, nor the report format.
    let out = telltale(&["merge", &s3, &s1, &f("s2.json"), "--format", "ndjson"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let merged: Vec<Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        apv(&merged),
        apv(&full),
        "shards with a JSON report ≠ unsharded scan"
    );

    // Duplicate shard: exit 2, both files named.
    let copy = f("s1-copy.ndjson");
    std::fs::copy(&s1, &copy).unwrap();
    let out = telltale(&["merge", &s1, &copy, &s2, &s3]);
    assert_eq!(code(&out), 2, "duplicate shard\n{}", show(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&s1) && e.contains(&copy) && e.contains("1/3"),
        "the message must name the shard and both files: {e}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing merged on error\n{}",
        show(&out)
    );

    // Missing shard: exit 2 naming it; --allow-partial merges with a warning.
    let out = telltale(&["merge", &s1, &s3]);
    assert_eq!(code(&out), 2, "missing shard\n{}", show(&out));
    let e = stderr(&out);
    assert!(
        e.contains("missing") && e.contains("2 of 3") && e.contains("--allow-partial"),
        "{e}"
    );
    let out = telltale(&["merge", &s1, &s3, "--allow-partial", "--format", "ndjson"]);
    assert!(
        matches!(code(&out), 0 | 1),
        "--allow-partial must merge\n{}",
        show(&out)
    );
    let e = stderr(&out);
    assert!(e.contains("warning") && e.contains("missing"), "{e}");
    let partial = String::from_utf8(out.stdout).unwrap();
    assert_eq!(partial.lines().count(), sizes[0] + sizes[2], "{partial}");

    // Reports of another inventory: exit 2, both digests' files named.
    let other2 = f("other2.ndjson");
    let out = telltale(&["merge", &s1, &other2, &s3]);
    assert_eq!(code(&out), 2, "different inventories\n{}", show(&out));
    let e = stderr(&out);
    assert!(
        e.contains("different inventories") && e.contains(&s1) && e.contains(&other2),
        "{e}"
    );

    // A truncated last line: exit 2, file and line named.
    let text = read(Path::new(&s2));
    let n_lines = text.lines().count();
    let cut = text.trim_end().len() - 25;
    let trunc = f("s2-truncated.ndjson");
    std::fs::write(&trunc, &text[..cut]).unwrap();
    let out = telltale(&["merge", &s1, &trunc, &s3]);
    assert_eq!(code(&out), 2, "truncated line\n{}", show(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!("{trunc}:{n_lines}")),
        "must name file:line ({trunc}:{n_lines}): {e}"
    );
    // Garbage in the middle.
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{\"format_version\":1,\"name\": oops";
    let bad = f("s2-garbage.ndjson");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let out = telltale(&["merge", &s1, &bad, &s3]);
    assert_eq!(code(&out), 2, "malformed line\n{}", show(&out));
    assert!(stderr(&out).contains(&format!("{bad}:2")), "{}", show(&out));
}

/// A split with more shards than probes: the last shard legitimately probes nothing and
/// writes an empty report. All N files are given, so the split is complete and must merge to
/// the unsharded scan ("the union of all N shards is exactly the full scan"); a Kubernetes
/// Indexed Job with N pods over a small inventory produces exactly this.
#[test]
fn a_split_with_an_empty_shard_still_merges() {
    let dir = tempfile::Builder::new()
        .prefix("telltale-empty-shard-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let flags = "--vantage app --format ndjson --timeout 2s --retries 0 --linger 0 --no-progress";
    let mut body = String::from("lab_start one --ip 127.0.0.1 --open 1001\n");
    writeln!(
        body,
        "run_to full telltale scan inv.yaml {flags} -o full.ndjson"
    )
    .unwrap();
    for k in 1..=3 {
        writeln!(
            body,
            "run_to s{k} telltale scan inv.yaml {flags} --shard {k}/3 -o s{k}.ndjson"
        )
        .unwrap();
    }
    ns_run(
        d,
        &[(
            "inv.yaml",
            "targets:\n  - {host: 127.0.0.1, ports: [1001, 1002], expect: [open, refused]}\n"
                .to_string(),
        )],
        &body,
    );
    for name in ["full", "s1", "s2", "s3"] {
        assert_eq!(rc(d, name), 0, "{name}\n{}", dump_dir(d));
    }
    assert!(
        records(&d.join("s3.ndjson")).is_empty(),
        "shard 3/3 of 2 probes"
    );
    let f = |n: &str| p(&d.join(n)).to_string();
    let out = telltale(&[
        "merge",
        &f("s1.ndjson"),
        &f("s2.ndjson"),
        &f("s3.ndjson"),
        "--format",
        "ndjson",
    ]);
    assert_eq!(
        code(&out),
        0,
        "all 3 shard files given (one legitimately empty): the split is complete\n{}",
        show(&out)
    );
    let merged: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(apv(&merged), apv(&records(&d.join("full.ndjson"))));
}

// ---------------------------------------------------------------------------------------------
// c. The HTML matrix, in headless Chromium
// ---------------------------------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";

/// Debian's `chromium`, which `.ci/run` installs. A test never installs anything: when it is
/// missing this fails loudly with the install command (a skip would hide the browser check).
fn chromium() -> &'static str {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the HTML matrix must be checked in a real browser. \
         Install it with `apt-get install -y chromium` (.ci/run does)."
    );
    CHROMIUM
}

/// Run chromium headless on a file:// URL inside an empty network namespace.
fn chromium_run(profile: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args(["-s", "KILL", "90", "unshare", "-rn", chromium()])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .env("HOME", profile);
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run chromium: {e}"))
}

#[test]
fn html_matrix_is_self_contained_and_renders_in_chromium() {
    let tv = three_vantages();
    let html_path = tv.dir.path().join("matrix.html");
    let out = tv.merge(&["--format", "html", "-o", p(&html_path)]);
    assert_eq!(code(&out), 1, "{}", show(&out));
    assert!(
        out.stdout.is_empty(),
        "-o: nothing on stdout\n{}",
        show(&out)
    );
    let html = read(&html_path);

    // Self-contained: no external assets of any kind.
    for bad in ["http://", "https://", "src=", "<link", "@import", "url("] {
        assert!(
            !html.contains(bad),
            "the page must not reference external assets (`{bad}` found)"
        );
    }
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        html.contains("position:sticky"),
        "no sticky header:\n{html}"
    );
    assert!(
        html.contains("<input id=\"filter\""),
        "no filter input:\n{html}"
    );

    let profile = tv.dir.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();
    let url = format!("file://{}", html_path.display());

    // Screenshot: a real, non-trivial PNG of the window size.
    let png = tv.dir.path().join("matrix.png");
    let out = chromium_run(
        &profile,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1200,800",
            &url,
        ],
    );
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|e| panic!("no screenshot {} ({e})\n{}", png.display(), show(&out)));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG\n{}",
        show(&out)
    );
    assert!(
        bytes.len() > 5 * 1024,
        "screenshot only {} bytes: blank page?",
        bytes.len()
    );
    let be32 = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(&bytes[12..16], b"IHDR");
    assert_eq!((be32(16), be32(20)), (1200, 800), "screenshot size");
    if let Some(keep) = std::env::var_os("TELLTALE_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }

    // DOM as the browser built it: the table with the vantage columns and the expected cells.
    let out = chromium_run(&profile, &["--dump-dom", &url]);
    assert!(out.status.success(), "chromium --dump-dom\n{}", show(&out));
    let dom = String::from_utf8_lossy(&out.stdout);
    for want in [
        "<th>app</th><th>dmz</th><th>ops</th>",
        "filtered ✗",
        "unreachable ✓",
        "open ?",
        "refused ✓",
        "4 rows × 3 vantages, 3 not as expected",
    ] {
        assert!(dom.contains(want), "DOM dump lacks `{want}`:\n{dom}");
    }
    assert_eq!(dom.matches("<tr>").count(), 5, "header + 4 rows:\n{dom}");

    // The filter box works in the browser: typing `1003` hides every other row.
    let filtered = tv.dir.path().join("filtered.html");
    std::fs::write(
        &filtered,
        html.replace(
            "</body>",
            "<script>const i=document.getElementById('filter');i.value='1003';\
             i.dispatchEvent(new Event('input'));</script></body>",
        ),
    )
    .unwrap();
    let out = chromium_run(
        &profile,
        &["--dump-dom", &format!("file://{}", filtered.display())],
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let hidden = dom.matches("<tr style=\"display: none;\">").count();
    assert_eq!(
        hidden, 3,
        "filter `1003` must hide the 3 other rows:\n{dom}"
    );
}

// ---------------------------------------------------------------------------------------------
// d. The Kubernetes and Ansible examples
// ---------------------------------------------------------------------------------------------

/// Every document of a (multi-document) YAML file.
fn yaml_docs(rel: &str) -> Vec<Yaml> {
    let text = read(&example(rel));
    serde_yaml::Deserializer::from_str(&text)
        .enumerate()
        .map(|(i, d)| {
            Yaml::deserialize(d)
                .unwrap_or_else(|e| panic!("examples/{rel}: document {i} does not parse: {e}"))
        })
        .filter(|d| !d.is_null())
        .collect()
}

fn ystr<'a>(v: &'a Yaml, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string: {cur:?}"))
}

fn yu64(v: &Yaml, path: &[&str]) -> u64 {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a number: {cur:?}"))
}

/// `telltale scan FILE --dry-run` inside `unshare -rn`: the inventory is valid (exit 0).
fn assert_valid_inventory(what: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("inventory.yaml");
    std::fs::write(&f, text).unwrap();
    let out = Command::new("unshare")
        .args(["-rn", BIN, "scan", p(&f), "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(
        code(&out),
        0,
        "{what} is not a valid telltale inventory\n{}",
        show(&out)
    );
}

/// A container's argv (`command` + `args`) must be `sh -c SCRIPT`; returns SCRIPT.
fn container_script(c: &Yaml) -> String {
    let mut argv: Vec<String> = Vec::new();
    for key in ["command", "args"] {
        if let Some(seq) = c[key].as_sequence() {
            argv.extend(seq.iter().map(|v| v.as_str().unwrap().to_string()));
        }
    }
    assert!(
        argv.len() == 3 && (argv[0] == "sh" || argv[0] == "/bin/sh") && argv[1] == "-c",
        "container {} must run `sh -c SCRIPT`: {argv:?}",
        ystr(c, &["name"])
    );
    argv.pop().unwrap()
}

/// Mount path → volume definition for a pod spec's container.
fn mounts<'a>(pod: &'a Yaml, c: &'a Yaml) -> Vec<(String, &'a Yaml)> {
    let vols = pod["volumes"].as_sequence().unwrap();
    c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            let name = ystr(m, &["name"]);
            let vol = vols
                .iter()
                .find(|v| ystr(v, &["name"]) == name)
                .unwrap_or_else(|| panic!("volumeMount {name} has no volume"));
            (ystr(m, &["mountPath"]).to_string(), vol)
        })
        .collect()
}

/// Replace each mount path in `script` by its local directory, in one pass: only where the
/// mount path stands as a path (not preceded by a path character, followed by `/`, a quote,
/// whitespace or the end), so `/inventory` does not match inside `/inventory/inventory.yaml`'s
/// file name.
fn localize(script: &str, map: &[(String, PathBuf)]) -> String {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    let mut out = String::new();
    let mut i = 0;
    'scan: while i < script.len() {
        let before = script[..i].chars().next_back();
        if !before.is_some_and(is_path_char) {
            for (mount, local) in map {
                if let Some(rest) = script[i..].strip_prefix(mount.as_str()) {
                    let after = rest.chars().next();
                    if after.is_none_or(|c| c == '/' || c == '"' || c == '\'' || c.is_whitespace())
                    {
                        out.push_str(p(local));
                        i += mount.len();
                        continue 'scan;
                    }
                }
            }
        }
        let c = script[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn kubernetes_example_parses_and_its_commands_run() {
    let docs = yaml_docs("kubernetes/scan.yaml");
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some(k))
            .unwrap_or_else(|| panic!("kubernetes/scan.yaml has no {k}"))
    };
    let (cm, pvc, job) = (
        kind("ConfigMap"),
        kind("PersistentVolumeClaim"),
        kind("Job"),
    );
    assert_eq!(ystr(job, &["apiVersion"]), "batch/v1");
    assert_eq!(ystr(job, &["spec", "completionMode"]), "Indexed");
    let n = yu64(job, &["spec", "completions"]);
    assert!(n >= 2, "completions {n}");
    assert_eq!(
        yu64(job, &["spec", "parallelism"]),
        n,
        "parallelism ≠ completions"
    );
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(ystr(pod, &["restartPolicy"]), "Never");
    let containers = pod["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let script = container_script(c);
    assert!(
        script.contains(&format!("--shard $((JOB_COMPLETION_INDEX+1))/{n} ")),
        "the scan must run `--shard $((JOB_COMPLETION_INDEX+1))/{n}` (N = completions):\n{script}"
    );
    assert!(script.contains("telltale scan "), "{script}");
    assert!(script.contains("--format ndjson"), "{script}");
    assert!(script.contains("--vantage "), "{script}");
    // The podFailurePolicy names the real container.
    for rule in job["spec"]["podFailurePolicy"]["rules"]
        .as_sequence()
        .unwrap()
    {
        assert_eq!(
            ystr(rule, &["onExitCodes", "containerName"]),
            ystr(c, &["name"])
        );
    }
    let env: Vec<(String, String)> = c["env"]
        .as_sequence()
        .map(|s| {
            s.iter()
                .map(|e| {
                    (
                        ystr(e, &["name"]).to_string(),
                        ystr(e, &["value"]).to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let vantage = env
        .iter()
        .find(|(k, _)| k == "VANTAGE")
        .map(|(_, v)| v.clone())
        .expect("env VANTAGE");

    // The ConfigMap is mounted where the scan reads it, and holds a valid inventory.
    let cm_name = ystr(cm, &["metadata", "name"]);
    let pvc_name = ystr(pvc, &["metadata", "name"]);
    let data = cm["data"].as_mapping().unwrap();
    assert_eq!(data.len(), 1, "one inventory in the ConfigMap");
    let (key, content) = data.iter().next().unwrap();
    let key = key.as_str().unwrap();
    assert_valid_inventory("the ConfigMap's inventory", content.as_str().unwrap());

    let dir = tempfile::Builder::new()
        .prefix("telltale-k8s-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let inv_dir = d.join("volume-inventory");
    let rep_dir = d.join("volume-reports");
    std::fs::create_dir_all(&inv_dir).unwrap();
    std::fs::create_dir_all(&rep_dir).unwrap();
    let mut map = Vec::new();
    let mut saw_cm = false;
    for (mount, vol) in mounts(pod, c) {
        if vol["configMap"].is_mapping() {
            assert_eq!(ystr(vol, &["configMap", "name"]), cm_name);
            assert!(
                script.contains(&format!("{mount}/{key}")),
                "the scan must read {mount}/{key}:\n{script}"
            );
            saw_cm = true;
            map.push((mount, inv_dir.clone()));
        } else {
            assert_eq!(ystr(vol, &["persistentVolumeClaim", "claimName"]), pvc_name);
            map.push((mount, rep_dir.clone()));
        }
    }
    assert!(saw_cm, "the inventory ConfigMap is not mounted");
    // A loopback inventory in place of the ConfigMap's (same key, same vantage).
    let loopback = format!(
        "defaults: {{timeout: 2s, linger: 200ms}}\n\
         targets:\n\
         - {{name: block, host: 127.0.0.0/29, ports: [1001, 1004], expect: {{{vantage}: [open, refused], default: reachable}}}}\n\
         - {{name: api, host: localhost, ports: \"1001-1003\", expect: reachable}}\n"
    );
    std::fs::write(inv_dir.join(key), &loopback).unwrap();
    let scan_sh = localize(&script, &map);

    // The merge Job: same volume, its own script.
    let mdocs = yaml_docs("kubernetes/merge.yaml");
    assert_eq!(mdocs.len(), 1);
    let mjob = &mdocs[0];
    assert_eq!(ystr(mjob, &["kind"]), "Job");
    let mpod = &mjob["spec"]["template"]["spec"];
    let mc = &mpod["containers"][0];
    let merge_script = container_script(mc);
    assert!(merge_script.contains("telltale merge "), "{merge_script}");
    let mut mmap = Vec::new();
    for (mount, vol) in mounts(mpod, mc) {
        assert_eq!(
            ystr(vol, &["persistentVolumeClaim", "claimName"]),
            pvc_name,
            "merge must read the scan's volume"
        );
        mmap.push((mount, rep_dir.clone()));
    }
    let merge_sh = localize(&merge_script, &mmap);

    // Run the N pods' command and the merge inside one namespace against a loopback lab.
    let mut body = String::from(
        "lab_start one --ip 127.0.0.1 --open 1001-1003\nlab_start two --ip 127.0.0.2 --open 1001\n",
    );
    let env_prefix: String = env.iter().map(|(k, v)| format!("{k}={} ", sq(v))).collect();
    for i in 0..n {
        writeln!(
            body,
            "run_to pod{i} env JOB_COMPLETION_INDEX={i} {env_prefix}sh pod.sh"
        )
        .unwrap();
    }
    writeln!(
        body,
        "run_to full telltale scan {} --vantage {} --format ndjson --no-progress",
        p(&inv_dir.join(key)),
        sq(&vantage)
    )
    .unwrap();
    body.push_str("run_to merge sh merge.sh\n");
    let nsdir = d.join("ns");
    ns_run(
        &nsdir,
        &[
            ("pod.sh", scan_sh),
            ("merge.sh", merge_sh),
            ("hosts", "127.0.0.1 localhost\n".to_string()),
        ],
        &body,
    );
    for i in 0..n {
        assert_eq!(
            rc(&nsdir, &format!("pod{i}")),
            0,
            "pod {i}\n{}",
            dump_dir(&nsdir)
        );
    }
    let mut shards = Vec::new();
    for k in 1..=n {
        let f = rep_dir
            .join(&vantage)
            .join(format!("shard-{k}-of-{n}.ndjson"));
        let recs = records(&f);
        for r in &recs {
            assert_eq!(s(r, "shard"), format!("{k}/{n}"), "{r}");
            assert_eq!(s(r, "vantage"), vantage, "{r}");
        }
        shards.extend(recs);
    }
    let full = records(&nsdir.join("full.out"));
    assert_eq!(full.len(), 6 * 2 + 3);
    assert_eq!(apv(&shards), apv(&full), "the pods' shards ≠ the full scan");
    let merge_rc = rc(&nsdir, "merge");
    assert!(
        matches!(merge_rc, 0 | 1),
        "the merge Job's command must merge (exit 0/1), got {merge_rc}\n{}",
        dump_dir(&nsdir)
    );
    assert_eq!(
        merge_rc,
        0,
        "every cell is as expected here\n{}",
        dump_dir(&nsdir)
    );
    let html = read(&rep_dir.join("matrix.html"));
    assert!(html.contains(&format!("<th>{vantage}</th>")), "{html}");
    let json: Value = serde_json::from_str(&read(&rep_dir.join("matrix.json"))).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), full.len());
    let table = read(&nsdir.join("merge.out"));
    assert!(table.contains("15 rows × 1 vantages"), "{table}");
}

/// The Jinja expressions the test can substitute: bare variable names only.
fn render(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let j = rest[i..]
            .find("}}")
            .unwrap_or_else(|| panic!("unclosed {{{{ in {template}"));
        let name = rest[i + 2..i + j].trim();
        let value = vars.get(name).unwrap_or_else(|| {
            panic!("template `{template}` uses `{name}`: not a plain variable the test knows")
        });
        out.push_str(value);
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out
}

const ANSIBLE_TARGETS: &str = "\
defaults: {timeout: 2s, linger: 200ms}
targets:
  - {name: db, host: 127.0.0.1, port: 1001, expect: {app: open, dmz: blocked, default: reachable}}
  - {name: web, host: localhost, ports: [1002, 1003], expect: reachable}
  - {name: gone, host: 127.0.0.2, port: 1004, expect: refused}
";

/// Which module a task uses, and its arguments.
fn task_module(task: &Yaml) -> (String, &Yaml) {
    const KNOWN: [&str; 7] = ["file", "copy", "command", "shell", "fetch", "debug", "fail"];
    const META: [&str; 8] = [
        "name",
        "register",
        "changed_when",
        "failed_when",
        "when",
        "become",
        "run_once",
        "tags",
    ];
    let mut found = None;
    for (k, v) in task.as_mapping().unwrap() {
        let k = k.as_str().unwrap();
        if META.contains(&k) {
            continue;
        }
        let short = k.strip_prefix("ansible.builtin.").unwrap_or(k);
        assert!(
            KNOWN.contains(&short),
            "task uses module `{k}`, which this test cannot emulate: {task:?}"
        );
        assert!(found.is_none(), "two modules in one task: {task:?}");
        found = Some((short.to_string(), v));
    }
    found.unwrap_or_else(|| panic!("task without a module: {task:?}"))
}

#[test]
fn ansible_example_parses_and_its_commands_run() {
    // hosts.yml: the vantage group, names only (no address outside 127/8).
    let hosts_text = read(&example("ansible/hosts.yml"));
    let hosts = &yaml_docs("ansible/hosts.yml")[0];
    let group = &hosts["all"]["children"]["telltale_vantages"]["hosts"];
    let names: Vec<&str> = group
        .as_mapping()
        .expect("group telltale_vantages with hosts")
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for n in &names {
        assert!(
            n.ends_with(".example")
                || n.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|a| a.is_loopback()),
            "{n}: use .example names or 127/8 only"
        );
    }
    for word in hosts_text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
        if let Ok(ip) = word.parse::<std::net::Ipv4Addr>() {
            assert!(ip.is_loopback(), "address {ip} outside 127/8 in hosts.yml");
        }
    }
    assert_valid_inventory(
        "examples/ansible/targets.yaml",
        &read(&example("ansible/targets.yaml")),
    );

    // The playbook: the scan with --vantage {{ inventory_hostname }}, a local merge.
    let plays = yaml_docs("ansible/scan.yml");
    let plays = plays[0]
        .as_sequence()
        .expect("a playbook is a list of plays");
    let all_tasks: Vec<(&Yaml, &Yaml)> = plays
        .iter()
        .flat_map(|pl| {
            pl["tasks"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(move |t| (pl, t))
        })
        .collect();
    let cmd_of = |t: &Yaml| -> Option<String> {
        let (m, args) = task_module(t);
        (m == "command" || m == "shell").then(|| {
            args.as_str()
                .map_or_else(|| ystr(args, &["cmd"]).to_string(), str::to_string)
        })
    };
    let scan_task = all_tasks
        .iter()
        .find(|(_, t)| cmd_of(t).is_some_and(|c| c.contains(" scan ")))
        .expect("a task running telltale scan");
    let scan_cmd = cmd_of(scan_task.1).unwrap();
    for want in [
        "--vantage {{ inventory_hostname }}",
        "--format ndjson",
        "-o ",
    ] {
        assert!(
            scan_cmd.contains(want),
            "scan command lacks `{want}`: {scan_cmd}"
        );
    }
    assert_eq!(
        ystr(scan_task.0, &["hosts"]),
        "telltale_vantages",
        "the scan runs on the vantages"
    );
    let merge_task = all_tasks
        .iter()
        .find(|(_, t)| cmd_of(t).is_some_and(|c| c.contains(" merge ")))
        .expect("a task running telltale merge");
    assert_eq!(
        ystr(merge_task.0, &["hosts"]),
        "localhost",
        "merge runs locally"
    );
    assert_eq!(ystr(merge_task.0, &["connection"]), "local");

    // Emulate the playbook: substitute the variables, run every command for real.
    let dir = tempfile::Builder::new()
        .prefix("telltale-ansible-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let targets = d.join("targets-loopback.yaml");
    std::fs::write(&targets, ANSIBLE_TARGETS).unwrap();
    let reports = d.join("reports");
    let vantages = ["app", "dmz", "ops"];
    let mut body = String::from("lab_start one --ip 127.0.0.1 --open 1001-1003\n");
    let mut scans = Vec::new();
    let mut merges = Vec::new();
    for play in plays {
        let on_vantages = match ystr(play, &["hosts"]) {
            "localhost" => false,
            "telltale_vantages" => true,
            h => panic!("play for unknown hosts {h}"),
        };
        let hosts: Vec<&str> = if on_vantages {
            vantages.to_vec()
        } else {
            vec!["localhost"]
        };
        for host in hosts {
            let mut vars: BTreeMap<String, String> = BTreeMap::new();
            // Play vars the test does not override keep their value.
            if let Some(pv) = play["vars"].as_mapping() {
                for (k, v) in pv {
                    let v = match v {
                        Yaml::String(s) => s.clone(),
                        Yaml::Bool(b) => b.to_string(),
                        Yaml::Number(n) => n.to_string(),
                        other => panic!("var {k:?}: unsupported value {other:?}"),
                    };
                    vars.insert(k.as_str().unwrap().to_string(), v);
                }
            }
            let remote = d.join(format!("remote-{host}"));
            for (k, v) in [
                ("inventory_hostname", host.to_string()),
                ("playbook_dir", p(&example("ansible")).to_string()),
                ("telltale_local_binary", BIN.to_string()),
                ("telltale_command", BIN.to_string()),
                ("telltale_targets", p(&targets).to_string()),
                ("telltale_remote_dir", p(&remote).to_string()),
                ("telltale_reports", p(&reports).to_string()),
            ] {
                if k == "inventory_hostname" || k == "playbook_dir" || vars.contains_key(k) {
                    vars.insert(k.to_string(), v);
                }
            }
            for (i, task) in play["tasks"].as_sequence().unwrap().iter().enumerate() {
                let (module, args) = task_module(task);
                let arg = |k: &str| render(ystr(args, &[k]), &vars);
                let tag = format!("{}-{host}-{i}", task["register"].as_str().unwrap_or("task"));
                match module.as_str() {
                    "file" => match ystr(args, &["state"]) {
                        "absent" => writeln!(body, "rm -rf -- {}", sq(&arg("path"))).unwrap(),
                        "directory" => {
                            writeln!(body, "mkdir -p -- {}", sq(&arg("path"))).unwrap();
                        }
                        st => panic!("file state {st} not emulated"),
                    },
                    "copy" => {
                        let dest = arg("dest");
                        writeln!(body, "cp -- {} {}", sq(&arg("src")), sq(&dest)).unwrap();
                        if args["mode"].is_string() {
                            writeln!(body, "chmod {} {}", arg("mode"), sq(&dest)).unwrap();
                        }
                    }
                    "fetch" => {
                        assert_eq!(args["flat"].as_bool(), Some(true), "fetch without flat");
                        let src = arg("src");
                        let mut dest = arg("dest");
                        if dest.ends_with('/') {
                            let base = Path::new(&src).file_name().unwrap().to_str().unwrap();
                            dest.push_str(base);
                        }
                        writeln!(body, "cp -- {} {}", sq(&src), sq(&dest)).unwrap();
                    }
                    "command" => {
                        let cmd = render(&cmd_of(task).unwrap(), &vars);
                        assert!(
                            !cmd.contains(['*', '|', '&', ';', '<', '>', '$', '\'', '"']),
                            "the command module runs no shell: {cmd}"
                        );
                        writeln!(body, "run_to {tag} {cmd}").unwrap();
                        if cmd.contains(" scan ") {
                            scans.push(tag);
                        } else if cmd.contains(" merge ") {
                            merges.push(tag);
                        }
                    }
                    "shell" => {
                        let cmd = render(&cmd_of(task).unwrap(), &vars);
                        writeln!(body, "run_to {tag} sh -c {}", sq(&cmd)).unwrap();
                        if cmd.contains(" merge ") {
                            merges.push(tag);
                        } else if cmd.contains(" scan ") {
                            scans.push(tag);
                        }
                    }
                    // debug prints; fail only judges the merge's exit code (checked below).
                    _ => {}
                }
            }
        }
    }
    let nsdir = d.join("ns");
    ns_run(
        &nsdir,
        &[("hosts", "127.0.0.1 localhost\n".to_string())],
        &body,
    );
    assert_eq!(scans.len(), 3, "one scan per vantage: {scans:?}");
    for tag in &scans {
        let code = rc(&nsdir, tag);
        assert!(
            matches!(code, 0 | 1),
            "{tag}: scan exit {code}\n{}",
            dump_dir(&nsdir)
        );
    }
    for v in vantages {
        let recs = records(&reports.join(format!("{v}.ndjson")));
        assert_eq!(recs.len(), 4, "{v}");
        assert!(recs.iter().all(|r| s(r, "vantage") == v), "{recs:#?}");
    }
    assert!(!merges.is_empty(), "no merge ran");
    for tag in &merges {
        let code = rc(&nsdir, tag);
        assert!(
            matches!(code, 0 | 1),
            "{tag}: merge must never exit 2 here, got {code}\n{}",
            dump_dir(&nsdir)
        );
        // dmz expects db blocked, but nothing blocks it on loopback: a ✗ cell, exit 1.
        assert_eq!(code, 1, "{tag}\n{}", dump_dir(&nsdir));
    }
    let table = read(&nsdir.join(format!("{}.out", merges[0])));
    let head: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head[4..], ["app", "dmz", "ops"], "{table}");
    assert!(table.contains("open ✗"), "{table}");
    let html = read(&reports.join("matrix.html"));
    assert!(html.contains("<th>dmz</th>"), "{html}");
}
