//! What probing costs the target: a real sshd (plain, and denied by tcp_wrappers) logging to
//! syslog, and fail2ban 1.0.2's sshd jail in normal, ddos and aggressive modes reading that
//! log, after five scans at each probe style (`--style service`, `--style linger`, `--style
//! connect`, and `--linger 0`, which is connect-only at any style). The measured matrix is printed (run with
//! `--nocapture`); the parts that are stable are asserted. Script: tests/lab/f2b_styles.sh
//! (helpers in tests/lab/ssh_fns.sh and tests/lab/f2b_fns.sh).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};

use common::daemons::{daemon_ns, require_daemons, require_root};
use common::{Ns, str_or_null as s};

const SSH_FNS: &str = include_str!("lab/ssh_fns.sh");
const F2B_FNS: &str = include_str!("lab/f2b_fns.sh");
const STYLES_SH: &str = include_str!("lab/f2b_styles.sh");

/// (style label, scan flags), in the order of the script's addresses (style S = line S).
const STYLES: &[(&str, &str)] = &[
    ("service", "--style service"),
    ("linger", "--style linger"),
    ("connect", "--style connect"),
    ("linger0", "--linger 0"),
];
/// The four targets of each style: (name, address prefix; the style's number is appended).
const TARGETS: &[(&str, &str)] = &[
    ("plain-verbose", "127.0.25.2"),
    ("denied-verbose", "127.0.25.3"),
    ("plain-info", "127.0.25.4"),
    ("denied-info", "127.0.25.5"),
];
const MODES: &[&str] = &["normal", "ddos", "aggressive"];
/// Scans per style, and fail2ban's maxretry (tests/lab/f2b_fns.sh).
const PROBES: usize = 5;

/// What the run left: per address, sshd's log lines (addresses and ports replaced by `A` and
/// `P`), fail2ban's `Found` count per jail, and the jails that banned it.
struct Effects {
    lines: BTreeMap<String, BTreeMap<String, usize>>,
    found: HashMap<(String, String), usize>,
    banned: String,
}

impl Effects {
    fn read(ns: &Ns) -> Effects {
        let mut pid_addr: HashMap<String, String> = HashMap::new();
        let mut by_pid: Vec<(String, String)> = Vec::new();
        for line in ns.read("auth.log").lines() {
            let Some((_, rest)) = line.split_once(" lab sshd[") else {
                continue;
            };
            let Some((pid, msg)) = rest.split_once("]: ") else {
                continue;
            };
            if msg.starts_with("Server listening") {
                continue;
            }
            if let Some(a) = addr_in(msg) {
                pid_addr.entry(pid.to_string()).or_insert(a);
            }
            by_pid.push((pid.to_string(), msg.to_string()));
        }
        let mut lines: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for (pid, msg) in by_pid {
            let addr = pid_addr.get(&pid).cloned().unwrap_or(format!("pid {pid}"));
            *lines
                .entry(addr)
                .or_default()
                .entry(normalize(&msg))
                .or_default() += 1;
        }
        let mut found = HashMap::new();
        for line in ns.read("f2b.log").lines() {
            let Some((_, rest)) = line.split_once("[sshd-") else {
                continue;
            };
            let Some((mode, rest)) = rest.split_once("] Found ") else {
                continue;
            };
            let addr = rest.split_whitespace().next().unwrap_or("").to_string();
            *found.entry((addr, mode.to_string())).or_default() += 1;
        }
        Effects {
            lines,
            found,
            banned: ns.read("banned.txt"),
        }
    }

    fn found(&self, addr: &str, mode: &str) -> usize {
        self.found
            .get(&(addr.to_string(), mode.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Whether jail `sshd-MODE` banned `addr` (`fail2ban-client banned`: a list of
    /// `{'sshd-MODE': ['addr', ...]}`).
    fn banned(&self, addr: &str, mode: &str) -> bool {
        let key = format!("'sshd-{mode}': [");
        self.banned
            .split_once(&key)
            .and_then(|(_, rest)| rest.split_once(']'))
            .is_some_and(|(list, _)| list.contains(&format!("'{addr}'")))
    }

    fn log(&self, addr: &str) -> String {
        match self.lines.get(addr) {
            None => "(nothing)".to_string(),
            Some(m) => m
                .iter()
                .map(|(l, n)| format!("{n} x `{l}`"))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

fn addr_in(msg: &str) -> Option<String> {
    let i = msg.find("127.0.25.")?;
    let tail = &msg[i..];
    let end = tail
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(tail.len());
    Some(tail[..end].to_string())
}

fn normalize(msg: &str) -> String {
    let mut out = msg.to_string();
    while let Some(a) = addr_in(&out) {
        out = out.replacen(&a, "A", 1);
    }
    let words: Vec<String> = out
        .split(' ')
        .map(|w| {
            if w.trim_end_matches(':').chars().all(|c| c.is_ascii_digit()) && !w.is_empty() {
                "P".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    words.join(" ")
}

#[test]
fn fail2ban_sshd_jail_per_probe_style() {
    require_root();
    require_daemons(&[
        ("sshd", "openssh-server"),
        ("ssh-keygen", "openssh-client"),
        ("fail2ban-server", "fail2ban"),
        ("fail2ban-client", "fail2ban"),
        ("/usr/bin/python3", "python3"),
    ]);
    let styles: String = STYLES.iter().map(|(l, f)| format!("{l} {f}\n")).collect();
    let ns = daemon_ns(
        &[("styles.txt", &styles)],
        &format!("{SSH_FNS}\n{F2B_FNS}\n{STYLES_SH}"),
    );
    let fx = Effects::read(&ns);

    // The matrix (README: "What a probe costs the target").
    let mut matrix = String::from(
        "style | target | verdicts | fail2ban Found (normal/ddos/aggressive) | sshd logs per 5 probes\n",
    );
    let mut verdicts: HashMap<(&str, &str), Vec<String>> = HashMap::new();
    for (si, (style, _)) in STYLES.iter().enumerate() {
        for i in 1..=PROBES {
            let scan = format!("{style}.{i}");
            for r in ns.records(&scan) {
                let name = TARGETS
                    .iter()
                    .find(|(n, _)| r["name"] == *n)
                    .unwrap_or_else(|| panic!("{scan}: unexpected record {r}"))
                    .0;
                verdicts
                    .entry((style, name))
                    .or_default()
                    .push(s(&r, "verdict").to_string());
            }
        }
        for (name, prefix) in TARGETS {
            let addr = format!("{prefix}{}", si + 1);
            let mut v = verdicts.get(&(*style, *name)).cloned().unwrap_or_default();
            v.dedup();
            let counts: Vec<String> = MODES
                .iter()
                .map(|m| {
                    let b = if fx.banned(&addr, m) { " BAN" } else { "" };
                    format!("{}{b}", fx.found(&addr, m))
                })
                .collect();
            matrix.push_str(&format!(
                "{style} | {name} ({addr}) | {} | {} | {}\n",
                v.join(","),
                counts.join(" / "),
                fx.log(&addr)
            ));
        }
    }
    eprintln!("{matrix}");
    let ctx = |addr: &str| format!("{addr}\n{matrix}");
    let addr = |style: usize, target: usize| format!("{}{}", TARGETS[target].1, style + 1);
    let all = |style: &str, name: &str, want: &str| {
        let v = verdicts.get(&(style, name)).cloned().unwrap_or_default();
        assert_eq!(v.len(), PROBES, "{style}/{name}: {v:?}\n{matrix}");
        assert!(
            v.iter().all(|x| x == want),
            "{style}/{name}: {v:?}\n{matrix}"
        );
    };

    // Every style reads a plain sshd open; the denied one is seen only by the service style
    // (with or without a linger), which waits for the greeting and gets the FIN at 5 s.
    for name in ["plain-verbose", "plain-info"] {
        for style in ["service", "linger", "connect", "linger0"] {
            all(style, name, "open");
        }
    }
    for name in ["denied-verbose", "denied-info"] {
        all("service", name, "closed-by-peer");
        // `--linger 0` is connect-only at every style: it cannot see the denial either.
        all("linger0", name, "open");
        all("linger", name, "open");
        // Connect-only cannot see a denial that comes 5 s after accept.
        all("connect", name, "open");
    }

    for (st, style) in [(0, "service"), (1, "linger")] {
        // libwrap logs `refused connect from` at accept, before any byte: every probe that
        // stays connected until sshd's child looks is one normal-mode failure; five = a ban.
        for t in [1, 3] {
            let a = addr(st, t);
            assert_eq!(fx.found(&a, "normal"), PROBES, "{style}: {}", ctx(&a));
            assert!(fx.banned(&a, "normal"), "{style}: {}", ctx(&a));
        }
        for t in [0, 2] {
            let a = addr(st, t);
            // A plain sshd: nothing for normal mode...
            assert_eq!(fx.found(&a, "normal"), 0, "{style}: {}", ctx(&a));
            // ... but ddos and aggressive count the pre-kex close of every probe.
            for m in ["ddos", "aggressive"] {
                assert_eq!(fx.found(&a, m), PROBES, "{style} {m}: {}", ctx(&a));
                assert!(fx.banned(&a, m), "{style} {m}: {}", ctx(&a));
            }
        }
    }
    // The service style's SSH farewell is a RST after the identification line.
    let log = fx.log(&addr(0, 0));
    assert!(
        log.contains("5 x `error: kex_exchange_identification: read: Connection reset by peer`"),
        "{}",
        ctx(&addr(0, 0))
    );
    // connect and `--linger 0` (RST before sshd's child looks): no jail bans anything.
    for st in [2, 3] {
        for t in 0..TARGETS.len() {
            let a = addr(st, t);
            for m in MODES {
                assert!(!fx.banned(&a, m), "style {st} {m}: {}", ctx(&a));
            }
        }
    }
}
