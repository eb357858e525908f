//! The command line itself: bad flags and a missing inventory are usage errors (exit 2, a
//! message, nothing probed), and `completions` and `man` produce what shells and `man` read.
//! Written with `assert_cmd` + `predicates`: a failure shows the command and its output.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

use common::*;

// ---------------------------------------------------------------------------------------------
// Bad flags
// ---------------------------------------------------------------------------------------------

/// A valid inventory (the canary only) scanned with bad `flags`: exit 2, a message, nothing on
/// stdout, nothing probed.
fn assert_bad_flags(flags: &[&str]) {
    let mut c = Canary::new();
    let inv = inventory(&with_canary(&c, ""));
    Command::new(BIN)
        .arg("scan")
        .arg(inv.arg())
        .args(flags)
        .timeout(HANG_GUARD)
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty().trim())
        .stderr(
            predicate::str::is_empty()
                .trim()
                .not()
                .name("say what is wrong"),
        )
        .stderr(predicate::str::contains("panicked").not());
    assert_eq!(c.accepted(), 0, "bad flags must not scan: {flags:?}");
}

#[test]
fn concurrency_zero_is_rejected() {
    assert_bad_flags(&["-c", "0"]);
    assert_bad_flags(&["--concurrency", "0"]);
}

#[test]
fn unknown_format_is_rejected() {
    assert_bad_flags(&["--format", "xml"]);
}

#[test]
fn bad_durations_are_rejected() {
    assert_bad_flags(&["--timeout", "banana"]);
    assert_bad_flags(&["--linger", "banana"]);
}

#[test]
fn unknown_flag_is_rejected() {
    assert_bad_flags(&["--bogus"]);
}

#[test]
fn scan_without_inventory_is_usage_error() {
    Command::new(BIN)
        .arg("scan")
        .timeout(Duration::from_secs(10))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("panicked").not());
}

// ---------------------------------------------------------------------------------------------
// Completions and man
// ---------------------------------------------------------------------------------------------

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let long = predicate::function(|t: &str| t.len() > 100).fn_name("longer than 100 bytes");
        Command::new(BIN)
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(long)
            .stdout(predicate::str::contains("scan").name("completes `scan`"))
            .stdout(predicate::str::contains("dry-run").name("completes `--dry-run`"));
    }
    // An unknown shell is a usage error.
    Command::new(BIN)
        .args(["completions", "tcsh"])
        .assert()
        .code(2);

    let roff = predicate::str::starts_with(".TH").or(predicate::str::starts_with(".ie"));
    let title =
        predicate::str::contains(".TH telltale").or(predicate::str::contains(".TH TELLTALE"));
    Command::new(BIN)
        .arg("man")
        .assert()
        .success()
        .stdout(roff.name("roff"))
        .stdout(title)
        .stdout(predicate::str::contains("scan").name("the man page mentions scan"));
}
