//! Exactly the inventory is probed, exactly once, and nothing leaks: one connect per target and
//! none outside it (canary listeners), one SYN per expanded probe (nft counter, CIDR edges
//! skipped), 2,000 mixed probes at `-c 1024` all correct (checklist 1), and no fd left open
//! after thousands of probes (checklist 12).
//!
//! Namespace tests build their own world with `unshare` (user + net [+ mount + pid]): only `lo`
//! exists, nft rules produce the kernel answers, and a private `/etc/hosts` + `/etc/resolv.conf`
//! keep every name lookup inside (checklist 23). They need `unshare`/`prlimit` (util-linux),
//! `ip` (iproute2), `nft` (nftables) and `bash`, and fail loudly, never skip, without them.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use common::kernel::*;
use common::{
    Canary, by_name, in_netns, nft_rules, records_among, scan_ndjson, show, str_or_null as s,
};

#[test]
fn each_target_probed_exactly_once_and_nothing_else() {
    let mut inside: Vec<Canary> = (0..3).map(|_| Canary::new()).collect();
    let mut outside: Vec<Canary> = (0..2).map(|_| Canary::new()).collect();
    let lines: Vec<String> = inside
        .iter()
        .enumerate()
        .map(|(i, c)| common::target(&format!("c{i}"), c.addr(), "open"))
        .collect();
    let inv = common::inventory(&common::targets(&lines));
    let (recs, _) = scan_ndjson(&inv, &["--linger", "200ms"], 0);
    assert_eq!(recs.len(), 3, "{}", show(&recs));
    for (i, c) in inside.iter_mut().enumerate() {
        common::assert_verdict(by_name(&recs, &format!("c{i}")), "open");
        assert_eq!(c.accepted(), 1, "target c{i} must see exactly one connect");
    }
    for c in &mut outside {
        assert_eq!(c.accepted(), 0, "a port outside the inventory was probed");
    }
}

/// Checklist 1: every (address, port) of the inventory yields exactly one record and exactly one
/// SYN leaves (counted by nft on the output hook); nothing outside the inventory is probed.
#[test]
fn one_syn_per_expanded_probe() {
    let out = in_netns(
        "nft add table inet t\n\
         nft add chain inet t out '{ type filter hook output priority 0; }'\n\
         nft add rule inet t out 'tcp flags & (syn | ack) == syn counter'\n\
         printf 'targets:\\n  - {host: 127.0.0.0/29, ports: \"1001-1005\"}\\n  - {host: 127.0.1.9, ports: [1001, 1003]}\\n' > /tmp/inv.$$.yaml\n\
         \"$T\" scan /tmp/inv.$$.yaml --format ndjson --no-progress --retries 0 || true\n\
         rm -f /tmp/inv.$$.yaml\n\
         echo \"SYNS $(nft list ruleset | sed -n 's/.*counter packets \\([0-9]*\\).*/\\1/p')\"",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let recs = records_among(&out.stdout);
    // /29 → 6 usable addresses × 5 ports, plus 2.
    assert_eq!(recs.len(), 32, "{stdout}");
    assert!(recs.iter().all(|r| r["verdict"] == "refused"), "{stdout}");
    let syns: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SYNS "))
        .and_then(|n| n.trim().parse().ok())
        .expect("counter read");
    assert_eq!(syns, 32, "one SYN per probe");
    let mut seen: Vec<(String, u64)> = recs
        .iter()
        .map(|r| {
            (
                r["addr"].as_str().unwrap().to_string(),
                r["port"].as_u64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 32, "no duplicates");
    assert!(
        !seen
            .iter()
            .any(|(a, _)| a == "127.0.0.0" || a == "127.0.0.7"),
        "network/broadcast skipped"
    );
}

// ---------------------------------------------------------------------------------------------
// 2,000 mixed probes at -c 1024 (checklist 1)
// ---------------------------------------------------------------------------------------------

#[test]
fn mixed_2000_probes_all_correct() {
    const ADDRS: [&str; 4] = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];
    // Per address: 125 ports of each kind, all far below the ephemeral range.
    const OPEN: (u16, u16) = (1000, 1124);
    const REFUSED: (u16, u16) = (2000, 2124);
    const FILTERED: (u16, u16) = (3000, 3124);
    const CLOSED: (u16, u16) = (4000, 4124);
    let range = |r: (u16, u16)| format!("{}-{}", r.0, r.1);
    let truth = |p: u16| -> &'static str {
        match p {
            _ if (OPEN.0..=OPEN.1).contains(&p) => "open",
            _ if (REFUSED.0..=REFUSED.1).contains(&p) => "refused",
            _ if (FILTERED.0..=FILTERED.1).contains(&p) => "filtered",
            _ if (CLOSED.0..=CLOSED.1).contains(&p) => "closed-by-peer",
            _ => "not-in-inventory",
        }
    };
    let drop_rule = format!("tcp dport {} drop", range(FILTERED));
    let rules = nft_rules(&[&drop_rule]);
    let ports = [OPEN, REFUSED, FILTERED, CLOSED].map(range).join(",");
    let targets: Vec<String> = ADDRS
        .iter()
        .map(|a| target(None, a, &ports, "[open, refused, filtered, closed-by-peer]"))
        .collect();
    let mut body = String::new();
    for (i, a) in ADDRS.iter().enumerate() {
        writeln!(
            body,
            "lab_start lab{i} --ip {a} --open {} --closed {}",
            range(OPEN),
            range(CLOSED)
        )
        .unwrap();
    }
    body.push_str(
        "scan big inv.yaml --format ndjson --no-progress -c 1024 --timeout 2s --linger 200ms --retries 0\n",
    );
    let run = ns_run(
        &[("rules.nft", rules), ("inv.yaml", inventory(&targets))],
        &body,
    );

    let recs = records(&run, "big");
    let mut seen = BTreeSet::new();
    let mut wrong: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    for r in &recs {
        let key = (s(r, "addr").to_string(), port(r));
        assert!(
            ADDRS.contains(&key.0.as_str()) && truth(key.1) != "not-in-inventory",
            "probe outside the inventory: {r}"
        );
        assert!(
            seen.insert(key.clone()),
            "duplicate record for {key:?}: {r}"
        );
        let want = truth(key.1);
        if s(r, "verdict") != want {
            let e = wrong
                .entry((want.to_string(), s(r, "verdict").to_string()))
                .or_insert((0, r.to_string()));
            e.0 += 1;
        }
    }
    let summary: Vec<String> = wrong
        .iter()
        .map(|((w, g), (n, ex))| format!("{n} x want {w} got {g}, e.g. {ex}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "wrong verdicts in the 2,000-probe scan:\n  {}\n{}",
        summary.join("\n  "),
        run.context("big")
    );
    assert_eq!(
        recs.len(),
        2000,
        "want exactly 2,000 records\n{}",
        run.context("big")
    );
    assert_rc(&run, "big", 0);
}

/// Checklist 12: every probe's fd is closed — after thousands of probes (refused, filtered,
/// open with linger, timeouts dropped mid-way), the process holds as many fds as before.
#[test]
fn no_fd_leak_after_many_probes() {
    use telltale::config::ScanConfig;
    use telltale::inventory::{Inventory, Overrides};
    use telltale::lab::{self, Behaviour};
    use telltale::pool::Limits;
    use telltale::report::Format;

    let count = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ip = "127.0.0.1".parse().unwrap();
        let lab = lab::start(ip, &[(Behaviour::Open, 0), (Behaviour::Closed, 0), (Behaviour::Filtered, 0)]).unwrap();
        let ports: Vec<String> = lab.services.iter().map(|(_, a)| a.port().to_string()).collect();
        let dir = tempfile::tempdir().unwrap();
        let before = count();
        for round in 0..2 {
            let yaml = format!(
                "defaults: {{timeout: 300ms, linger: 50ms}}\ntargets:\n  - {{host: 127.0.0.1, ports: \"{}\"}}\n  - {{host: 127.0.0.0/28, ports: \"2000-2400\"}}\n",
                ports.join(",")
            );
            let mut inv = Inventory::default();
            inv.add_text("leak.yaml", &yaml, Overrides::default()).unwrap();
            let cfg = ScanConfig {
                limits: Limits { concurrency: 512, per_host: 512, retries: 1, ..Limits::default() },
                format: Format::Ndjson,
                output: Some(dir.path().join(format!("out{round}.ndjson"))),
                progress: false,
                wildcard_port: None,
                ..ScanConfig::default()
            };
            let (_t, stop) = telltale::shutdown::channel();
            telltale::scan::run(inv, &cfg, stop).await;
            let lines = std::fs::read_to_string(dir.path().join(format!("out{round}.ndjson"))).unwrap();
            assert_eq!(lines.lines().count(), 3 + 14 * 401);
        }
        // Give the runtime a moment to drop finished tasks' sockets.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let after = count();
        assert!(after <= before, "fds before {before}, after {after}");
        drop(lab);
    });
}
