//! Reading `examples/`: files, the YAML of Kubernetes/Ansible/GitHub files, shell command
//! lines (`words`, `telltale_lines`) and whether a `telltale ...` line is a valid invocation
//! (`check_invocation`, a `--dry-run` that sends nothing), the report records their
//! commands write (`report_records`, validated against the record schema), container argv and
//! flag edits for the `telltale wait` examples, and the pieces of a playbook emulation
//! (`render`, `task_module`, `play_vars`, `rc_condition`).
//!
//! Not re-exported at `common::`; use `common::examples::*`.
use std::collections::BTreeMap;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;
use serde_yaml::Value as Yaml;

use super::fleet::{code, p};
use super::{BIN, example, read_file as read, records_in, show_output as show};

/// Records of a report the examples' commands wrote, validated against the record schema.
pub fn report_records(text: &str) -> Vec<Value> {
    records_in(text, "report written by an example's command")
}

pub fn read_example(rel: &str) -> String {
    std::fs::read_to_string(example(rel)).unwrap_or_else(|e| panic!("examples/{rel}: {e}"))
}

/// Splits a command line into words: whitespace, '…' and "…" quoting (no expansion). Enough
/// to find the subcommand, the inventory and the flags of a telltale invocation.
pub fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                any = true;
            }
            None if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            None => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Checks a `telltale ...` command line against the CLI without running a scan: the subcommand
/// exists, and for `scan` clap accepts every flag (`--dry-run` sends nothing; exit 0). The
/// inventory is replaced by a loopback one. Returns the words.
pub fn check_invocation(line: &str) -> Vec<String> {
    let w = words(line);
    assert!(
        w.first()
            .is_some_and(|b| b == "telltale" || b.ends_with("/telltale")),
        "not a telltale invocation: {line:?}"
    );
    let sub = w.get(1).map(String::as_str);
    match sub {
        Some("--version") | Some("-V") | Some("--help") => {}
        Some("scan") => {
            let dir = tempfile::tempdir().unwrap();
            let inv = dir.path().join("inv.yaml");
            std::fs::write(&inv, "targets:\n  - {host: 127.0.0.1, port: 22}\n").unwrap();
            let mut args: Vec<String> = Vec::new();
            let mut replaced = false;
            let mut skip_value = false;
            for a in &w[2..] {
                if skip_value {
                    skip_value = false;
                    // Outputs go into the temp dir, never over a real file.
                    args.push(dir.path().join("out").to_string_lossy().to_string());
                    continue;
                }
                if a == "-o" || a == "--output" {
                    skip_value = true;
                    args.push(a.clone());
                    continue;
                }
                if !replaced && !a.starts_with('-') && a.ends_with(".yaml") {
                    args.push(inv.to_string_lossy().to_string());
                    replaced = true;
                    continue;
                }
                args.push(a.replace('$', ""));
            }
            assert!(replaced, "no inventory (*.yaml) in {line:?}");
            let out = Command::new(BIN)
                .arg("scan")
                .args(&args)
                .arg("--dry-run")
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "`{line}` is not a valid invocation: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Some(other) => {
            let out = Command::new(BIN).args([other, "--help"]).output().unwrap();
            assert!(out.status.success(), "unknown subcommand in {line:?}");
        }
        None => panic!("bare `telltale` in {line:?}"),
    }
    w
}

/// The command lines of a shell snippet that invoke telltale (continuations joined).
pub fn telltale_lines(script: &str) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("telltale ") || l.contains("/telltale "))
        .filter(|l| !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// Fail loudly, with the install command, when a checking tool is missing (tests never install).
pub fn require_tool(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{tool}` is missing: install it with `apt-get install -y {package}` (.ci/run does); \
         this check is never skipped"
    );
}

/// Every document of a (multi-document) YAML file.
pub fn yaml_docs(rel: &str) -> Vec<Yaml> {
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

pub fn ystr<'a>(v: &'a Yaml, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string: {cur:?}"))
}

pub fn yu64(v: &Yaml, path: &[&str]) -> u64 {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a number: {cur:?}"))
}

/// `telltale scan FILE --dry-run` inside `unshare -rn`: the inventory is valid (exit 0).
pub fn assert_valid_inventory(what: &str, text: &str) {
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

pub fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------------------------
// `telltale wait` examples
// ---------------------------------------------------------------------------------------------

/// A container's argv: `command` then `args` (Kubernetes), each a string.
pub fn container_argv(c: &Yaml) -> Vec<String> {
    let mut argv = Vec::new();
    for key in ["command", "args"] {
        if let Some(seq) = c[key].as_sequence() {
            argv.extend(seq.iter().map(|v| {
                v.as_str()
                    .unwrap_or_else(|| panic!("{key}: not a string: {v:?}"))
                    .to_string()
            }));
        }
    }
    argv
}

/// `argv` with the value after `flag` replaced by `value` (the flag must be there once).
pub fn with_flag(argv: &[String], flag: &str, value: &str) -> Vec<String> {
    let at: Vec<usize> = (0..argv.len()).filter(|&i| argv[i] == flag).collect();
    assert_eq!(at.len(), 1, "{flag} once in {argv:?}");
    assert!(at[0] + 1 < argv.len(), "{flag} without a value in {argv:?}");
    let mut out = argv.to_vec();
    out[at[0] + 1] = value.to_string();
    out
}

/// The value after `flag` in `argv`, if the flag is there.
pub fn flag_value<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    let i = argv.iter().position(|a| a == flag)?;
    argv.get(i + 1).map(String::as_str)
}

/// `argv` as one shell command line, every word single-quoted.
pub fn sh_line(argv: &[String]) -> String {
    argv.iter().map(|a| sq(a)).collect::<Vec<_>>().join(" ")
}

/// The row of the results table (`telltale wait`'s final table) whose NAME is `name`.
pub fn table_row<'a>(table: &'a str, name: &str) -> Option<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
}

/// The row of the results table for HOST and PORT (command-line targets have no NAME: `-`).
pub fn table_row_at<'a>(table: &'a str, host: &str, port: u16) -> Option<&'a str> {
    let port = port.to_string();
    table.lines().find(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() > 4 && w[1] == host && w[3] == port
    })
}

/// Shell helper for namespace scripts: `timed NAME CMD...` is `run_to NAME CMD...` with the
/// start and end times (seconds since the epoch) in NAME.start and NAME.end.
pub const TIMED_FN: &str = r#"timed() { name=$1; shift; date +%s.%N > "$name.start"; run_to "$name" "$@"; date +%s.%N > "$name.end"; }"#;

// ---------------------------------------------------------------------------------------------
// Ansible playbooks, emulated
// ---------------------------------------------------------------------------------------------

/// The Jinja expressions the test can substitute: bare variable names only.
pub fn render(template: &str, vars: &BTreeMap<String, String>) -> String {
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

/// Which module a task uses, and its arguments.
pub fn task_module(task: &Yaml) -> (String, &Yaml) {
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

/// A play's `vars:` as strings (numbers and booleans written as Ansible would render them).
pub fn play_vars(play: &Yaml) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
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
    vars
}

/// Whether a condition on a registered return code holds: `REG.rc == N`, `REG.rc != N`,
/// `REG.rc in [N, ...]` or `REG.rc not in [N, ...]` (`rcs`: REG → exit code). Any other form
/// panics: the test cannot judge it.
pub fn rc_condition(expr: &str, rcs: &BTreeMap<String, i32>) -> bool {
    let (reg, rest) = expr
        .trim()
        .split_once(".rc ")
        .unwrap_or_else(|| panic!("condition `{expr}`: not `REG.rc ...`"));
    let rc = *rcs
        .get(reg)
        .unwrap_or_else(|| panic!("condition `{expr}`: `{reg}` was not registered before"));
    let list = |l: &str| -> Vec<i32> {
        l.trim()
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .unwrap_or_else(|| panic!("condition `{expr}`: not a list"))
            .split(',')
            .map(|n| n.trim().parse().unwrap())
            .collect()
    };
    let rest = rest.trim();
    if let Some(l) = rest.strip_prefix("not in ") {
        !list(l).contains(&rc)
    } else if let Some(l) = rest.strip_prefix("in ") {
        list(l).contains(&rc)
    } else if let Some(n) = rest.strip_prefix("== ") {
        rc == n.trim().parse::<i32>().unwrap()
    } else if let Some(n) = rest.strip_prefix("!= ") {
        rc != n.trim().parse::<i32>().unwrap()
    } else {
        panic!("condition `{expr}`: only ==, !=, in, not in")
    }
}
