//! The messages a new user gets for a malformed inventory, through the real binary
//! (`telltale scan FILE --dry-run`, which sends nothing): exit 2, nothing on stdout, and stderr
//! is exactly `FILE:LINE:COL: what was expected, found what` — in YAML words, never a Rust type
//! or serde's names for nodes ("struct RawFile", "sequence", "map", "unit value").
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

/// What an inventory is, as every whole-file message says it.
const FILE: &str = "an inventory is a mapping with `targets:` (and optional `defaults:`, \
                    `exclude:`), e.g.\n  targets:\n    - {host: db.internal, port: 5432}\nfound";

/// What `targets:` is, as every message about the list says it.
const TARGETS: &str = "`targets:` is a list of targets, each a mapping with `host` and `port` \
                       (or `ports`), e.g.\n  targets:\n    - {host: db.internal, port: 5432}\nfound";

const TAB: &str = "a tab character: YAML indents with spaces, not tabs";

/// Words that would mean a serde or Rust name reached the user.
const LEAKS: &[&str] = &[
    "sequence",
    "map",
    "struct",
    "enum",
    "unit",
    "identifier",
    "RawFile",
    "RawTarget",
    "RawDefaults",
    "Dur",
    "ExcludeItem",
    "Option",
    "invalid",
];

/// `yaml` is refused with exactly `PATH:line:col: message`, exit 2, nothing on stdout.
fn refused(yaml: &str, (line, col): (usize, usize), message: &str) {
    let inv = inventory(yaml);
    let run = scan(&inv, &["--dry-run"]);
    run.assert_code(2);
    run.assert_no_panic();
    assert_eq!(run.stdout, "", "nothing on stdout\n{}", run.dump());
    let want = format!(
        "telltale: {}:{line}:{col}: {message}\ntelltale: inventory invalid: nothing scanned\n",
        inv.arg()
    );
    assert_eq!(run.stderr, want, "for {yaml:?}\n{}", run.dump());
    // The message itself, without the file's path (a temp dir's random name).
    let said = message;
    let words: Vec<&str> = said.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    for leak in LEAKS {
        // Short words must stand alone ("map", not "mapping"); longer ones anywhere ("RawFile").
        let leaked = words.contains(leak) || (leak.len() > 4 && said.contains(leak));
        assert!(
            !leaked,
            "{leak:?} leaked into the message for {yaml:?}\n{}",
            run.dump()
        );
    }
}

#[test]
fn a_top_level_list_says_what_an_inventory_looks_like() {
    refused(
        "- {host: db.internal, port: 5432}\n",
        (1, 1),
        &format!("{FILE} a list (indent it under `targets:`)"),
    );
    refused(
        "[{host: db.internal, port: 5432}]\n",
        (1, 1),
        &format!("{FILE} a list (indent it under `targets:`)"),
    );
}

#[test]
fn a_tab_is_named_at_the_tab() {
    // libyaml: "found a tab character that violates indentation, while scanning a plain scalar".
    refused("targets:\n  - host: 127.0.0.1\n\tport: 22\n", (3, 1), TAB);
    // libyaml: "found character that cannot start any token", which does not say "tab".
    refused("targets:\n\t- {host: 127.0.0.1, port: 22}\n", (2, 1), TAB);
    // After spaces, and in a block scalar: still at the tab itself.
    refused(
        "targets:\n  - host: 127.0.0.1\n    ports:\n    \t- 22\n",
        (4, 5),
        TAB,
    );
    refused(
        "targets:\n  - host: 127.0.0.1\n    port: 22\n    name: |\n      x\n     \ty\n",
        (6, 6),
        TAB,
    );
    // CRLF line ends count as one break.
    refused(
        "targets:\r\n  - host: 127.0.0.1\r\n\tport: 22\r\n",
        (3, 1),
        TAB,
    );
}

#[test]
fn a_file_without_a_node_says_what_it_holds() {
    refused("", (1, 1), &format!("{FILE} an empty file"));
    refused("\n  \n", (1, 1), &format!("{FILE} an empty file"));
    refused("# nothing yet\n", (1, 1), &format!("{FILE} only comments"));
    refused(
        "defaults: {timeout: 1s}\n",
        (1, 1),
        &format!("{FILE} a mapping without `targets:`"),
    );
}

#[test]
fn a_scalar_at_the_top_is_shown_as_written() {
    refused("hello\n", (1, 1), &format!("{FILE} `hello`"));
    refused("42\n", (1, 1), &format!("{FILE} the number 42"));
    refused("~\n", (1, 1), &format!("{FILE} an empty value"));
}

#[test]
fn targets_empty_or_not_a_list() {
    refused("targets:\n", (1, 9), &format!("{TARGETS} an empty value"));
    refused(
        "targets: []\n",
        (1, 10),
        &format!("{TARGETS} an empty list"),
    );
    refused(
        "targets: db:5432\n",
        (1, 10),
        &format!("{TARGETS} `db:5432`"),
    );
    refused(
        "targets: {host: db, port: 5432}\n",
        (1, 10),
        &format!("{TARGETS} a mapping (start each target with `- `)"),
    );
    refused(
        "targets:\n  host: db\n  port: 5432\n",
        (2, 3),
        &format!("{TARGETS} a mapping (start each target with `- `)"),
    );
}

#[test]
fn a_target_written_as_a_scalar_says_a_target_is_a_mapping() {
    let shape = "a target is a mapping like `{host: db.internal, port: 5432}`";
    refused(
        "targets:\n  - db:5432\n",
        (2, 5),
        &format!("targets[0]: {shape}, found `db:5432`; write it as `{{host: db, port: 5432}}`"),
    );
    refused(
        "targets:\n  - {host: db, port: 1}\n  - \"[::1]:22\"\n",
        (3, 5),
        &format!(
            "targets[1]: {shape}, found `[::1]:22`; write it as `{{host: \"::1\", port: 22}}`"
        ),
    );
    refused(
        "targets:\n  - [db, 5432]\n",
        (2, 5),
        &format!("targets[0]: {shape}, found a list"),
    );
}

#[test]
fn values_of_the_wrong_kind_say_expected_and_found() {
    refused(
        "defaults: [timeout]\ntargets:\n  - {host: db, port: 1}\n",
        (1, 11),
        "defaults: expected a mapping of defaults like `{timeout: 3s, linger: 1s, expect: open}`, \
         found a list",
    );
    refused(
        "exclude: {a: 1}\ntargets:\n  - {host: db, port: 1}\n",
        (1, 10),
        "exclude: expected a list of addresses, CIDR blocks or names to skip, like \
         `[127.0.0.2, 127.0.9.0/24, legacy-db.internal]`, found a mapping",
    );
    refused(
        "targets:\n  - {host: db, port: 1, tags: {a: 1}}\n",
        (2, 31),
        "targets[0].tags: expected a list of tags like `[web, prod]`, found a mapping",
    );
    refused(
        "targets:\n  - {host: db, port: 1, tags: [[a]]}\n",
        (2, 32),
        "targets[0].tags[0]: expected a tag like `prod`, found a list",
    );
    refused(
        "targets:\n  - {host: db, port: 1, name: [a]}\n",
        (2, 31),
        "targets[0].name: expected a label like `db-primary`, found a list",
    );
    refused(
        "targets:\n  - {host: db, port: 1, control: yes}\n",
        (2, 34),
        "targets[0].control: expected `true` or `false`, found `yes`",
    );
    refused(
        "targets:\n  - {host: [db], port: 1}\n",
        (2, 12),
        "targets[0].host: expected a DNS name, an IP address or a CIDR block, found a list",
    );
    refused(
        "targets:\n  - {host: db, port: 1, timeout: {a: 1}}\n",
        (2, 34),
        "targets[0].timeout: expected a duration like 3s or 500ms, between 1ms and 1h, \
         found a mapping",
    );
    refused(
        "targets:\n  - {host: db, port: 1, expect: {[a]: open}}\n",
        (2, 34),
        "targets[0].expect: expected a vantage name like `dmz` (or `default`), found a list",
    );
    refused(
        "[a]: 1\ntargets:\n  - {host: db, port: 1}\n",
        (1, 1),
        "expected a key (a plain word), found a list",
    );
}

#[test]
fn a_reserved_character_is_named() {
    refused(
        "targets:\n  - {host: @db, port: 1}\n",
        (2, 12),
        "expected a value, found `@`, which cannot start one here (quote the value: \"@…\")",
    );
}
