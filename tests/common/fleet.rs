//! Many vantage points and shards: namespace runs with `telltale` on PATH as an installed binary
//! would be (`NS`, `ns_spawn`, `ns_run`), `telltale merge` and dry runs on the host, and the
//! three-vantage fixture: one inventory with per-vantage expectations scanned at once from
//! three namespaces whose nft rules differ (`app`: nothing blocked; `dmz`: a port dropped,
//! another rejected with ICMP admin-prohibited; `ops`: a port rejected with a TCP reset).
//!
//! Not re-exported at `common::`; use `common::fleet::*`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use serde_json::Value;
use tempfile::TempDir;

use super::{
    BIN, KILL_AFTER_60S, NsSpec, UNSHARE_PID1_PROC, dump_dir, nft_rules, rc_file as rc,
    str_or_null as s,
};

// ---------------------------------------------------------------------------------------------
// Namespace harness and host commands
// ---------------------------------------------------------------------------------------------

/// PID 1 of fresh user/net/mount/pid namespaces, SIGKILLed after 60 s (the pid namespace takes
/// the lab down); a 20 s wait for labs; `telltale` on PATH, as an installed binary would be.
pub const NS: NsSpec = NsSpec {
    timeout: KILL_AFTER_60S,
    unshare: UNSHARE_PID1_PROC,
    tools: &["unshare", "nft", "ip", "timeout", "sh"],
    lab_ready_secs: 20,
    telltale_on_path: true,
};

/// Write `files` into `dir` (created), then start `body` after the prelude as PID 1 of fresh
/// user/net/mount/pid namespaces. Wait with [`ns_wait`].
pub fn ns_spawn(dir: &Path, files: &[(&str, String)], body: &str) -> Child {
    NS.spawn(dir, files, body)
}

pub fn ns_wait(child: Child, dir: &Path) {
    NS.wait(child, dir);
}

pub fn ns_run(dir: &Path, files: &[(&str, String)], body: &str) {
    NS.run_in(dir, files, body);
}

/// (addr, port, verdict) multiset of records.
pub fn apv(recs: &[Value]) -> BTreeMap<(String, u64, String), usize> {
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
pub fn telltale(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run telltale {args:?}: {e}"))
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Three vantages in three namespaces
// ---------------------------------------------------------------------------------------------

/// Per-vantage expectations; no `defaults: expect:` so that a vantage missing from a map
/// without `default` has no expectation at all.
pub const MATRIX_INVENTORY: &str = "\
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

pub const VANTAGES: [&str; 3] = ["app", "dmz", "ops"];

pub fn vantage_rules(v: &str) -> Vec<&'static str> {
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
pub fn expected_cells() -> BTreeMap<&'static str, [(&'static str, Option<bool>); 3]> {
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

pub struct ThreeVantages {
    /// Holds `inv.yaml`, `reports/VANTAGE.ndjson` and the namespace run dirs `ns-VANTAGE`.
    pub dir: TempDir,
}

impl ThreeVantages {
    pub fn report(&self, v: &str) -> PathBuf {
        self.dir.path().join("reports").join(format!("{v}.ndjson"))
    }
    pub fn reports(&self) -> Vec<String> {
        VANTAGES
            .iter()
            .map(|v| p(&self.report(v)).to_string())
            .collect()
    }
    pub fn ns_dir(&self, v: &str) -> PathBuf {
        self.dir.path().join(format!("ns-{v}"))
    }
    pub fn merge(&self, extra: &[&str]) -> Output {
        let reports = self.reports();
        let mut args: Vec<&str> = vec!["merge"];
        args.extend(reports.iter().map(String::as_str));
        args.extend(extra);
        telltale(&args)
    }
}

/// Scan the same inventory from three namespaces at once, one per vantage.
pub fn three_vantages() -> ThreeVantages {
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
