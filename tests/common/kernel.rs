//! The kernel-answer lab: namespace runs (`NS`, `ns_run`) in which nft rules on the input hook
//! produce each kernel answer (the rule -> errno table of LAB.md) and `telltale lab` provides
//! the services, and the checks of their NDJSON output: every record's shape (`records`) and
//! exactly one record per expected (address, port) with its verdict, errno, banner, attempts
//! and name (`Want`, `check_records`). Scripts live in `tests/lab/`.
//!
//! Not re-exported at `common::`: its `target` and `inventory` write the block-style
//! inventories of these scripts; use `common::kernel::*`.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use super::{KILL_AFTER_60S, Ns, NsSpec, RECORD_KEYS, UNSHARE_PID1_PROC, str_or_null as s};

/// `hold_fds.sh N CMD...`: runs CMD with fds 3..N+2 held open (written into every run dir).
pub const HOLD_FDS: &str = include_str!("../lab/hold_fds.sh");

/// PID 1 of fresh user/net/mount/pid namespaces, SIGKILLed after 60 s; a 20 s wait for labs.
/// Set `TELLTALE_LAB_KEEP=1` to keep the run dirs (their paths go to stderr).
pub const NS: NsSpec = NsSpec {
    timeout: KILL_AFTER_60S,
    unshare: UNSHARE_PID1_PROC,
    tools: &["unshare", "nft", "ip", "timeout", "prlimit", "bash"],
    lab_ready_secs: 20,
    telltale_on_path: false,
};

/// Write `files` (and `hold_fds.sh`) into a fresh temp dir, append `body` to the prelude and
/// run it as PID 1 of new user/net/mount/pid namespaces.
pub fn ns_run(files: &[(&str, String)], body: &str) -> Ns {
    let mut all = vec![("hold_fds.sh", HOLD_FDS.to_string())];
    all.extend(files.iter().cloned());
    NS.run(&all, body)
}

/// Parse the stdout of `scan NAME`: one JSON object per non-empty line, each checked
/// against the record shape of INTERFACE.md (and, through `Ns::records`, the record schema).
pub fn records(run: &Ns, name: &str) -> Vec<Value> {
    let recs = run.records(name);
    for v in &recs {
        check_shape(v, name);
    }
    recs
}

/// The NDJSON record contract: every field present with the right type.
pub fn check_shape(v: &Value, ctx: &str) {
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: record is not an object: {v}"));
    for k in RECORD_KEYS {
        assert!(o.contains_key(*k), "{ctx}: record lacks `{k}`: {v}");
    }
    assert_eq!(v["format_version"], 1, "{ctx}: format_version: {v}");
    assert!(v["port"].is_u64(), "{ctx}: port not a number: {v}");
    assert!(v["verdict"].is_string(), "{ctx}: verdict not a string: {v}");
    assert!(v["expect"].is_array(), "{ctx}: expect not an array: {v}");
    assert!(v["ok"].is_boolean(), "{ctx}: ok not a bool: {v}");
    assert!(v["tags"].is_array(), "{ctx}: tags not an array: {v}");
    assert!(
        v["attempts"].as_u64().is_some_and(|a| a >= 1),
        "{ctx}: attempts must be >= 1: {v}"
    );
    for k in ["addr", "banner", "detail", "errno", "name"] {
        assert!(
            v[k].is_null() || v[k].is_string(),
            "{ctx}: `{k}` must be string or null: {v}"
        );
    }
    for k in ["connect_ms", "closed_after_ms"] {
        assert!(
            v[k].is_null() || v[k].is_number(),
            "{ctx}: `{k}` must be number or null: {v}"
        );
    }
    let verdict = v["verdict"].as_str().unwrap();
    if verdict == "dns-error" {
        assert!(v["addr"].is_null(), "{ctx}: dns-error with an addr: {v}");
    } else if verdict != "local-error" && verdict != "interrupted" {
        // A local-error during name resolution has no address either.
        assert!(v["addr"].is_string(), "{ctx}: addr null for {verdict}: {v}");
    }
    let expect: Vec<&str> = v["expect"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        v["ok"].as_bool().unwrap(),
        expect.contains(&verdict),
        "{ctx}: `ok` disagrees with expect/verdict: {v}"
    );
}

pub fn port(v: &Value) -> u16 {
    u16::try_from(v["port"].as_u64().unwrap()).unwrap()
}

/// What one (addr, port) must produce. `None` fields are not checked.
#[derive(Clone, Copy)]
pub struct Want {
    /// The target's name.
    pub name: Option<&'static str>,
    /// The address probed (the record's key, with `port`).
    pub addr: &'static str,
    /// The port probed.
    pub port: u16,
    /// The verdict.
    pub verdict: &'static str,
    /// The errno name.
    pub errno: Option<&'static str>,
    /// The escaped banner.
    pub banner: Option<&'static str>,
    /// Attempts made.
    pub attempts: Option<u64>,
}

pub const fn want(addr: &'static str, port: u16, verdict: &'static str) -> Want {
    Want {
        name: None,
        addr,
        port,
        verdict,
        errno: None,
        banner: None,
        attempts: None,
    }
}

impl Want {
    pub const fn errno(mut self, e: &'static str) -> Self {
        self.errno = Some(e);
        self
    }
    pub const fn banner(mut self, b: &'static str) -> Self {
        self.banner = Some(b);
        self
    }
    pub const fn attempts(mut self, a: u64) -> Self {
        self.attempts = Some(a);
        self
    }
    pub const fn named(mut self, n: &'static str) -> Self {
        self.name = Some(n);
        self
    }
}

/// Exactly one record per `Want`, nothing else; collect every problem, then panic once.
pub fn check_records(run: &Ns, scan: &str, wants: &[Want]) {
    let recs = records(run, scan);
    let mut problems = Vec::new();
    let mut by_key: BTreeMap<(String, u16), Vec<&Value>> = BTreeMap::new();
    for r in &recs {
        by_key
            .entry((s(r, "addr").to_string(), port(r)))
            .or_default()
            .push(r);
    }
    let mut wanted = BTreeSet::new();
    for w in wants {
        let key = (w.addr.to_string(), w.port);
        wanted.insert(key.clone());
        let Some(got) = by_key.get(&key) else {
            problems.push(format!("missing record for {}:{}", w.addr, w.port));
            continue;
        };
        if got.len() != 1 {
            problems.push(format!(
                "{} records for {}:{} (want exactly 1)",
                got.len(),
                w.addr,
                w.port
            ));
        }
        let r = got[0];
        let tag = format!("{}:{}", w.addr, w.port);
        if s(r, "verdict") != w.verdict {
            problems.push(format!(
                "{tag}: verdict {} want {} (errno {}, detail {:?})",
                s(r, "verdict"),
                w.verdict,
                s(r, "errno"),
                s(r, "detail")
            ));
        }
        if let Some(e) = w.errno {
            if s(r, "errno") != e {
                problems.push(format!(
                    "{tag}: errno {} want {e} (verdict {}, detail {:?})",
                    s(r, "errno"),
                    s(r, "verdict"),
                    s(r, "detail")
                ));
            }
        }
        if let Some(b) = w.banner {
            if s(r, "banner") != b {
                problems.push(format!("{tag}: banner {:?} want {b:?}", r["banner"]));
            }
        }
        if let Some(a) = w.attempts {
            if r["attempts"].as_u64() != Some(a) {
                problems.push(format!("{tag}: attempts {} want {a}", r["attempts"]));
            }
        }
        if let Some(n) = w.name {
            if s(r, "name") != n {
                problems.push(format!("{tag}: name {:?} want {n:?}", r["name"]));
            }
        }
    }
    for (key, got) in &by_key {
        if !wanted.contains(key) {
            problems.push(format!(
                "unexpected record(s) for {}:{}: {}",
                key.0,
                key.1,
                got.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
    }
    if recs.len() != wants.len() {
        problems.push(format!("{} records, want {}", recs.len(), wants.len()));
    }
    assert!(
        problems.is_empty(),
        "{scan}: {} problem(s):\n  {}\n{}",
        problems.len(),
        problems.join("\n  "),
        run.context(scan)
    );
}

/// One inventory target line-block. `host` is always quoted (`::1` needs it).
pub fn target(name: Option<&str>, host: &str, ports: &str, expect: &str) -> String {
    let mut t = String::new();
    match name {
        Some(n) => writeln!(t, "  - name: {n}\n    host: \"{host}\"").unwrap(),
        None => writeln!(t, "  - host: \"{host}\"").unwrap(),
    }
    writeln!(t, "    ports: \"{ports}\"\n    expect: {expect}").unwrap();
    t
}

pub fn inventory(targets: &[String]) -> String {
    format!("targets:\n{}", targets.concat())
}

pub fn assert_rc(run: &Ns, scan: &str, want: i32) {
    let rc = run.rc(scan);
    assert_eq!(rc, want, "{scan}: exit code\n{}", run.context(scan));
}
