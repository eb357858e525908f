#![allow(clippy::unwrap_used)]
//! Generated-mutant fuzzing of the inventory parser (issue 9, acceptance: "a proptest or
//! generated-mutant test over the inventory parser that asserts no panic, no hang over 5 s, and
//! a position on every error, run in CI with a bounded case count").
//!
//! Seeds: `targets.example.yaml` and a few typical inventories (block and flow style, defaults,
//! excludes, per-vantage expectations, CIDRs, names, anchors, comments, quoted and block
//! scalars). Each case applies 1-4 mutations chosen by a seeded PRNG: bit flips, deletions,
//! duplications, line swaps and re-indentation, truncation, and insertions of YAML punctuation,
//! tabs, brackets (up to a few hundred deep), document markers, directives and huge or odd
//! numbers. Every mutant goes through `Inventory::parse_str`; the test asserts that it does not
//! panic, that it ends within 5 s, that every error carries line >= 1 and column >= 1 (and says
//! so as `file:line:col:`), and that an accepted inventory expands consistently and plans
//! without panicking.
//!
//! Deterministic: `TELLTALE_FUZZ_SEED` (default 9) and `TELLTALE_FUZZ_CASES` (default 100,000;
//! well under a minute in release) choose the run. A failing mutant is written to the temp dir
//! and its path printed, so it can be replayed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use telltale::inventory::{Inventory, Overrides};
use telltale::pool::Limits;
use telltale::scan::plan::Plan;

/// Per-case bound (the acceptance's "no hang over 5 s").
const CASE_LIMIT: Duration = Duration::from_secs(5);

const TYPICAL: &[&str] = &[
    "defaults:\n  timeout: 2s\n  linger: 0\n  expect: open\ntargets:\n  - name: web\n    host: 127.0.0.1\n    ports: [80, 443, \"8000-8010\"]\n    tags: [web, prod]\n  - name: db\n    host: db.invalid\n    port: 5432\n    expect: blocked\n",
    "targets:\n  - {name: a, host: 127.0.0.1, port: 22, expect: [open, refused]}\n  - {host: \"::1\", ports: \"1-3,7\"}\n  - {host: 127.0.8.0/29, ports: [22, 5432], expect: {app: open, dmz: blocked, default: refused}}\n",
    "exclude: [127.0.0.2, 127.0.9.0/24, legacy-db.internal]\ntargets:\n- host: 127.0.0.0/30\n  port: 1\n  control: true\n- host: localhost\n  port: 2\n  timeout: 1500ms\n  linger: 1s\n",
    "# comment [ { \"\ndefaults: &d {timeout: 3s}\ntargets:\n  - &t {host: 127.0.0.1, port: 9}\n  - name: 'quoted ''name'' [x'\n    host: 127.0.0.3\n    port: 10\n    tags:\n      - |\n        block [scalar {\n      - >-\n        folded\n",
    "targets: [{host: 127.0.0.1, port: 1}, {host: 127.0.0.1, port: 1}, {host: 127.0.0.1, ports: [1, 1, 2]}]\n",
];

/// Insertions: punctuation, whitespace, markers and odd scalars.
const SNIPPETS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    "? ",
    ",",
    "#",
    "&a ",
    "*a",
    "!!str ",
    "!!map ",
    "|",
    ">",
    "\"",
    "'",
    "\t",
    "\n",
    "\r\n",
    "\r",
    " ",
    "    ",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "%TAG ! x\n",
    "<<: *d\n",
    "99999999999999999999999999",
    "-1",
    "0x10",
    "0o17",
    "1e400",
    "65536",
    "0",
    ".inf",
    "~",
    "null",
    "é",
    "\u{feff}",
    "\u{2028}",
    "\0",
    "\\",
    "\\x",
    "1-",
    "-",
    "65535-1",
    "::",
    "/",
    "/33",
    "0.0.0.0/0",
    "expect: ",
    "ports: ",
    "port: ",
    "host: ",
    "targets:",
    "defaults:",
    "exclude:",
    "timeout: ",
    "999999999999999s",
    "1ns",
    "control: ",
    "tags: ",
    "name: ",
    "{default: open}",
    "[open, bloked]",
    "*",
    "&",
    "!",
    "@",
    "`",
    "%",
];

/// splitmix64: small, seeded, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A char boundary at or before `i`.
fn boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(text: &mut String, rng: &mut Rng) {
    let len = text.len();
    let at = boundary(text, rng.below(len + 1));
    match rng.below(11) {
        0 => {
            // Flip one bit; keep the text UTF-8 (the file reader refuses anything else).
            let mut bytes = std::mem::take(text).into_bytes();
            if !bytes.is_empty() {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            *text = String::from_utf8_lossy(&bytes).into_owned();
        }
        1 => {
            let end = boundary(text, at + 1 + rng.below(16));
            text.replace_range(at..end, "");
        }
        2 => {
            let end = boundary(text, at + 1 + rng.below(64));
            let piece = text[at..end].to_string();
            text.insert_str(end, &piece);
        }
        3 | 4 => {
            let s = SNIPPETS[rng.below(SNIPPETS.len())];
            text.insert_str(at, s);
        }
        5 => {
            let open = ["[", "{", "{a: ", "- ", "[a, ", " "][rng.below(6)];
            let n = 1 + rng.below(300);
            text.insert_str(at, &open.repeat(n));
        }
        6 => text.truncate(at),
        7 | 8 => {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            if lines.len() >= 2 {
                let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                match rng.below(4) {
                    0 => lines.swap(a, b),
                    1 => lines.insert(b, lines[a].clone()),
                    2 => lines[a].insert_str(0, &" ".repeat(1 + rng.below(6))),
                    _ => {
                        let trimmed = lines[a].trim_start().to_string();
                        lines[a] = trimmed;
                    }
                }
                *text = lines.join("\n");
                text.push('\n');
            }
        }
        9 => {
            // Replace a number with an extreme one.
            let huge = [
                "0",
                "65536",
                "4294967296",
                "18446744073709551616",
                "-5",
                "1e9",
            ];
            if let Some(d) = text[at..].find(|c: char| c.is_ascii_digit()) {
                let start = at + d;
                let end = text[start..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(text.len(), |e| start + e);
                text.replace_range(start..end, huge[rng.below(huge.len())]);
            }
        }
        _ => {
            let c = ['\t', ' ', '\n', '"', '\'', '[', '{', ':'][rng.below(8)];
            text.insert(at, c);
        }
    }
}

/// Parse one mutant and check every property: `Ok(accepted?)`, or `Err` describing a violation.
fn check(text: &str) -> Result<bool, String> {
    let res = catch_unwind(AssertUnwindSafe(|| {
        match Inventory::parse_str("fuzz.yaml", text, Overrides::default()) {
            Err(e) => {
                if e.line < 1 || e.column < 1 {
                    return Err(format!("error without a position: {e}"));
                }
                let at = format!("fuzz.yaml:{}:{}: ", e.line, e.column);
                if !e.to_string().starts_with(&at) {
                    return Err(format!("error does not start with {at}: {e}"));
                }
                // libyaml also breaks lines at CR, NEL, LS and PS.
                let breaks = text
                    .chars()
                    .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
                    .count();
                if e.line > breaks + 1 {
                    return Err(format!("line past the end of the text: {e}"));
                }
                Ok(false)
            }
            Ok(inv) => {
                let n = inv.probe_count();
                if n <= 20_000 {
                    let walked = inv.probes().count() as u128;
                    if walked != n {
                        return Err(format!("probe_count {n} but the expansion yields {walked}"));
                    }
                    let _ = Plan::of(&inv, &Limits::default()).to_string();
                }
                let _ = inv.check_size(false);
                let _ = inv.digest();
                Ok(true)
            }
        }
    }));
    match res {
        Ok(r) => r,
        Err(p) => Err(format!(
            "panic: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

fn seeds() -> Vec<String> {
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("targets.example.yaml"),
    )
    .unwrap();
    let mut v = vec![example];
    v.extend(TYPICAL.iter().map(|s| s.to_string()));
    v
}

fn save(text: &str, case: u64) -> String {
    let p = std::env::temp_dir().join(format!("telltale-fuzz-case-{case}.yaml"));
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn seeds_are_valid_inventories() {
    for (i, s) in seeds().iter().enumerate() {
        Inventory::parse_str("seed.yaml", s, Overrides::default())
            .unwrap_or_else(|e| panic!("seed {i} should parse: {e}"));
    }
}

#[test]
fn mutants_never_panic_hang_or_lose_the_position() {
    let seed = env_or("TELLTALE_FUZZ_SEED", 9);
    let cases = env_or("TELLTALE_FUZZ_CASES", 100_000);
    let seeds = seeds();
    let (tx, rx) = mpsc::channel::<(u64, Duration, Result<bool, String>, String)>();
    let (work_tx, work_rx) = mpsc::channel::<(u64, String)>();
    // One worker parses; this thread watches the clock, so a hang is reported, not waited out.
    let worker = thread::spawn(move || {
        for (case, text) in work_rx {
            let t = Instant::now();
            let r = check(&text);
            if tx.send((case, t.elapsed(), r, text)).is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let (mut refused, mut accepted) = (0u64, 0u64);
    let mut rng = Rng(seed);
    let mut slowest = (Duration::ZERO, 0);
    for case in 0..cases {
        let mut text = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut text, &mut rng);
        }
        work_tx.send((case, text.clone())).unwrap();
        match rx.recv_timeout(CASE_LIMIT) {
            Ok((_, took, r, text)) => {
                match r {
                    Ok(true) => accepted += 1,
                    Ok(false) => refused += 1,
                    Err(why) => panic!(
                        "case {case} (seed {seed}): {why}\nmutant saved to {}\n{text:.2000}",
                        save(&text, case)
                    ),
                }
                if took > slowest.0 {
                    slowest = (took, case);
                }
            }
            Err(_) => panic!(
                "case {case} (seed {seed}) still parsing after {CASE_LIMIT:?}; mutant saved to {}",
                save(&text, case)
            ),
        }
    }
    drop(work_tx);
    worker.join().unwrap();
    assert!(
        accepted > 0 && refused > cases / 10,
        "the mutants should mix accepted and refused inventories: {accepted} / {refused}"
    );
    eprintln!(
        "{cases} mutants (seed {seed}) in {:?}: {accepted} accepted, {refused} refused with a position; slowest case {} took {:?}",
        started.elapsed(),
        slowest.1,
        slowest.0
    );
}
