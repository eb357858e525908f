#![allow(clippy::unwrap_used)]
//! The table as a person sees it on a terminal (issue 11, item 2): a real scan of loopback lab
//! services, shown in a tmux pane and read back with `capture-pane -p -e -J` (colours as
//! escapes, wrapped lines joined, so a line too wide for the terminal shows as one long line).
//!
//! - After `stty cols 80` in a 250-column pane every line of the table and the summary is at
//!   most 80 columns, and the verdicts are coloured by group.
//! - `NO_COLOR=1` and `--color never` turn the colours off on the terminal; `NO_COLOR=` (empty)
//!   does not. Into a pipe there are no colours and rows stay whole; `--color always` colours a
//!   pipe too.
//!
//! Needs `tmux` (each test starts its own server on a socket in a temp dir, without a config).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, HANG_GUARD, Inventory, Lab, inventory, run};

/// The demo's eight targets, against a lab on 127.0.0.1 (ephemeral ports); one host is
/// written as a CIDR block so that HOST and ADDRESS differ somewhere.
fn scenario() -> (Lab, Inventory) {
    let lab = Lab::start(
        "127.0.0.1",
        &[
            "open",
            "banner",
            "closed",
            "closed-msg",
            "reset",
            "refused",
            "filtered",
        ],
    );
    let t = |name: &str, host: &str, kind: &str, expect: &str| {
        format!(
            "  - {{name: {name}, host: \"{host}\", port: {}, expect: {expect}}}\n",
            lab.port(kind)
        )
    };
    let yaml = [
        "targets:\n".to_string(),
        t("silent-service", "127.0.0.1", "open", "open"),
        t("ssh-like", "127.0.0.1", "banner", "open"),
        t("access-rule-fin", "127.0.0.1", "closed", "closed-by-peer"),
        t(
            "access-rule-fin",
            "127.0.0.1",
            "closed-msg",
            "closed-by-peer",
        ),
        t("access-rule-rst", "127.0.0.1", "reset", "denied"),
        t("nothing-listening", "127.0.0.1", "refused", "refused"),
        t("must-stay-closed", "127.0.0.1/32", "refused", "blocked"),
        t(
            "firewalled",
            "127.0.0.1",
            "filtered",
            "[unreachable, filtered]",
        ),
    ]
    .concat();
    let inv = inventory(&yaml);
    (lab, inv)
}

/// The scan every test shows: every row, a short linger, the filtered probe given 1.5 s.
fn scan_argv(inv: &Inventory) -> Vec<String> {
    [
        "scan",
        &inv.arg(),
        "--all",
        "--no-progress",
        "--retries",
        "0",
        "--timeout",
        "1500ms",
        "--linger",
        "300ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// [`scan_argv`] as a shell command.
fn scan_args(inv: &Inventory) -> String {
    let mut s = format!("'{BIN}'");
    for a in scan_argv(inv) {
        s.push_str(&format!(" '{a}'"));
    }
    s
}

/// A tmux server of our own, killed on drop.
struct Tmux {
    _dir: tempfile::TempDir,
    sock: PathBuf,
}

impl Tmux {
    fn new() -> Tmux {
        let found = Command::new("sh")
            .args(["-c", "command -v tmux"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(
            found.success(),
            "tmux not found: apt-get install -y tmux. Refusing to skip silently."
        );
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("sock");
        Tmux { _dir: dir, sock }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .unwrap()
    }

    /// Run `script` in a fresh `cols`-wide pane and return what the pane shows once the script
    /// is done: every line, colours as escapes, wrapped lines joined, trailing blanks trimmed.
    fn show(&self, cols: u16, script: &str) -> Vec<String> {
        let body = format!("{script}\necho __DONE__\nsleep 600\n");
        let file = self._dir.path().join("script.sh");
        std::fs::write(&file, body).unwrap();
        let cmd = format!("sh {}", file.display());
        let out = self.tmux(&[
            "new-session",
            "-d",
            "-x",
            &cols.to_string(),
            "-y",
            "60",
            "-s",
            "t",
            &cmd,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        self.tmux(&["set-option", "-t", "t", "history-limit", "10000"]);
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            let lines = self.capture();
            if lines.iter().any(|l| l == "__DONE__") {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "the script did not finish in the pane:\n{}",
                lines.join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn capture(&self) -> Vec<String> {
        let out = self.tmux(&["capture-pane", "-p", "-e", "-J", "-S", "-", "-t", "t"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// Without ANSI escapes.
fn strip(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\x1b') => esc = true,
            (true, c) if c.is_ascii_alphabetic() => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

/// Columns of a line as shown (no escapes; every character here is one column wide).
fn cols(l: &str) -> usize {
    strip(l).chars().count()
}

/// The lines between the marker `==NAME` and the next marker (or `__DONE__`).
fn section<'a>(lines: &'a [String], name: &str) -> &'a [String] {
    let start = lines
        .iter()
        .position(|l| *l == format!("=={name}"))
        .unwrap_or_else(|| panic!("no section {name}:\n{}", lines.join("\n")))
        + 1;
    let len = lines[start..]
        .iter()
        .position(|l| l.starts_with("==") || l == "__DONE__")
        .unwrap();
    &lines[start..start + len]
}

fn show(lines: &[String]) -> String {
    lines.join("\n").replace('\x1b', "\\e")
}

/// The table and summary of one run are all there.
fn assert_complete(lines: &[String]) {
    let text = strip(&lines.join("\n"));
    for name in [
        "silent-service",
        "ssh-like",
        "access-rule-fin",
        "access-rule-rst",
        "nothing-listening",
        "must-stay-closed",
        "firewalled",
    ] {
        assert!(text.contains(name), "row {name} missing:\n{text}");
    }
    assert!(
        text.contains("8 probes, 8 as expected, 0 not as expected"),
        "{text}"
    );
    assert!(text.contains("WHO TO ASK"), "{text}");
    assert!(text.contains("EXIT=0"), "{text}");
}

#[test]
fn after_stty_cols_80_every_line_fits_and_verdicts_are_coloured() {
    let (_lab, inv) = scenario();
    let tmux = Tmux::new();
    let lines = tmux.show(
        250,
        &format!(
            "stty cols 80\nunset NO_COLOR\necho ==tty\n{} 2>/dev/null; echo EXIT=$?",
            scan_args(&inv)
        ),
    );
    let out = section(&lines, "tty");
    assert_complete(out);
    let widest = out.iter().map(|l| cols(l)).max().unwrap();
    assert!(
        out.iter().all(|l| cols(l) <= 80),
        "a line is wider than 80 columns ({widest}):\n{}",
        show(out)
    );
    let text = out.join("\n");
    // tmux writes colours back as SGR sequences of its own: 31 red, 32 green, 33 yellow.
    for (colour, verdict) in [
        ("\x1b[32m", "open"),
        ("\x1b[33m", "closed-by-peer"),
        ("\x1b[33m", "reset-by-peer"),
        ("\x1b[31m", "refused"),
        ("\x1b[31m", "filtered"),
    ] {
        assert!(
            text.contains(&format!("{colour}{verdict}")),
            "{verdict} not coloured {colour:?}:\n{}",
            show(out)
        );
    }
    // Durations read as one number and unit, and TIME's `a+b` form is explained.
    let plain = strip(&text);
    // The firewalled port's wait: the full 1.5s (fixed, or auto before any answer) or a short
    // wait such as `100ms` (auto): one number and its unit either way.
    let wait = plain
        .split("no answer within ")
        .nth(1)
        .and_then(|rest| rest.split([' ', ':', ';']).next())
        .unwrap_or_else(|| panic!("no \"no answer within\" in:\n{plain}"));
    let digits = wait.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    assert!(
        ["ms", "s"].contains(&&wait[digits.len()..]) && digits.parse::<f64>().is_ok(),
        "{wait:?} is not one number and unit:\n{plain}"
    );
    assert!(plain.contains("TIME a+b ms: "), "{plain}");
}

#[test]
fn no_color_and_color_never_turn_colours_off_and_a_pipe_keeps_whole_rows() {
    let (_lab, inv) = scenario();
    let tmux = Tmux::new();
    let scan = scan_args(&inv);
    let lines = tmux.show(
        250,
        &format!(
            "stty cols 80\n\
             echo ==no-color\nNO_COLOR=1 {scan} 2>/dev/null; echo EXIT=$?\n\
             echo ==never\nenv -u NO_COLOR {scan} --color never 2>/dev/null; echo EXIT=$?\n\
             echo ==empty-no-color\nNO_COLOR= {scan} 2>/dev/null; echo EXIT=$?\n\
             echo ==pipe\nenv -u NO_COLOR {scan} 2>/dev/null | cat; echo EXIT=$?\n"
        ),
    );
    for name in ["no-color", "never"] {
        let out = section(&lines, name);
        assert_complete(out);
        assert!(
            out.iter().all(|l| !l.contains('\x1b')),
            "{name}: colours:\n{}",
            show(out)
        );
        assert!(out.iter().all(|l| cols(l) <= 80), "{name}:\n{}", show(out));
    }
    let out = section(&lines, "empty-no-color");
    assert_complete(out);
    assert!(
        out.iter().any(|l| l.contains("\x1b[31mrefused")),
        "an empty NO_COLOR does not turn colours off:\n{}",
        show(out)
    );
    // Into a pipe: no colours, rows whole (the full banner on the row's own line).
    let out = section(&lines, "pipe");
    assert_complete(out);
    assert!(out.iter().all(|l| !l.contains('\x1b')), "{}", show(out));
    let row = out
        .iter()
        .find(|l| l.contains("Host is not allowed to connect\\r\\n\""))
        .unwrap_or_else(|| panic!("no whole closed-msg row:\n{}", show(out)));
    assert!(row.starts_with("access-rule-fin "), "{row}");
    assert!(cols(row) > 80, "a piped row is not cut: {row}");
}

#[test]
fn color_always_colours_a_pipe_and_auto_does_not() {
    let (_lab, inv) = scenario();
    let args = |extra: &[&str]| {
        let mut a = scan_argv(&inv);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let auto = run(&args(&[]), HANG_GUARD);
    auto.assert_code(0);
    assert!(!auto.stdout.contains('\x1b'), "{}", auto.dump());
    let always = run(&args(&["--color", "always"]), HANG_GUARD);
    always.assert_code(0);
    assert!(
        always.stdout.contains("\x1b[31mrefused\x1b[0m"),
        "{}",
        always.dump()
    );
    // The same table once the colours are taken out: whole rows, only colour added.
    assert_eq!(
        strip(&always.stdout).lines().count(),
        auto.stdout.lines().count()
    );
    let never = run(&args(&["--color", "never"]), HANG_GUARD);
    assert!(!never.stdout.contains('\x1b'), "{}", never.dump());
    let bad = run(&args(&["--color", "sometimes"]), HANG_GUARD);
    bad.assert_code(2);
    assert!(bad.stderr.contains("--color"), "{}", bad.dump());
}
