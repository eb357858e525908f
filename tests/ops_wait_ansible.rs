//! `examples/ansible/wait.yml`: after a firewall change, every vantage runs `telltale wait
//! targets.yaml --vantage {{ inventory_hostname }} --deadline ...` with `ansible.builtin.command`,
//! registers it, fails only on exit 2/3, and on exit 1 shows the table and fails the host. The
//! playbook is emulated task by task (as tests/ops_ansible.rs does: ansible itself is not
//! needed), each vantage in its own namespace with its own firewall: one where everything holds
//! at once, one where the change lands 1.5 s in (the wait ends when it has), and one where it
//! never lands (the deadline passes, the table is shown, the host fails).
//!
//! Network: every packet stays inside namespaces created here (`unshare -rnmpf`: only `lo`, a
//! resolv.conf pointing at 127.0.0.1 bind-mounted), on 127.0.0.0/8.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_yaml::Value as Yaml;

use common::examples::*;
use common::fleet::*;
use common::{BIN, dump_dir, example, nft_rules, rc_file as rc, read_file as read};

/// targets.yaml's shape on loopback, keyed by the test's vantages.
const WAIT_TARGETS: &str = "\
defaults: {timeout: 2s, linger: 200ms}
targets:
  - {name: db, host: 127.0.0.1, port: 1001, expect: {app: open, dmz: blocked, default: reachable}}
  - {name: web, host: localhost, ports: [1002, 1003], expect: reachable}
  - {name: metrics, host: 127.0.0.1, port: 1004, expect: {ops: open, default: blocked}}
";

/// The vantages and what changes there while the playbook runs.
const VANTAGES: [(&str, &str); 3] = [
    // Everything already holds: db open, metrics refused (blocked).
    ("app", ""),
    // db must be blocked from the dmz: the firewall change lands 1.5 s in.
    (
        "dmz",
        "( sleep 1.5; nft add rule inet lab input tcp dport 1001 reject with icmp type \
         admin-prohibited; date +%s.%N > change.landed ) &\n",
    ),
    // ops must reach metrics, which never starts: the deadline passes.
    ("ops", ""),
];

/// The deadline the test passes (`-e telltale_wait_deadline=5s`).
const DEADLINE: &str = "5s";

/// What the emulation saw on one host.
#[derive(Debug, Default)]
struct HostRun {
    /// The task that failed the host, if one did.
    failed: Option<String>,
    /// The variables `debug` showed (their register's stdout).
    shown: Vec<String>,
}

#[test]
fn ansible_wait_playbook_waits_for_a_firewall_change_and_shows_the_table_on_failure() {
    let plays = yaml_docs("ansible/wait.yml");
    let plays = plays[0].as_sequence().expect("a list of plays");
    assert_eq!(plays.len(), 1, "one play");
    let play = &plays[0];
    assert_eq!(ystr(play, &["hosts"]), "telltale_vantages");
    let tasks = play["tasks"].as_sequence().unwrap();
    let mut vars = play_vars(play);
    let default_deadline = vars["telltale_wait_deadline"].clone();
    assert!(
        default_deadline.ends_with('m'),
        "the default deadline is minutes: {default_deadline}"
    );
    let wait_task = tasks
        .iter()
        .find(|t| {
            let (m, a) = task_module(t);
            m == "command" && ystr(a, &["cmd"]).contains(" wait ")
        })
        .expect("a command task running telltale wait");
    let cmd = ystr(&wait_task["ansible.builtin.command"], &["cmd"]);
    for want in [
        "--vantage {{ inventory_hostname }}",
        "--deadline {{ telltale_wait_deadline }}",
    ] {
        assert!(cmd.contains(want), "the wait lacks `{want}`: {cmd}");
    }
    let reg = ystr(wait_task, &["register"]).to_string();
    assert!(
        tasks
            .iter()
            .any(|t| t["ansible.builtin.debug"]["var"].as_str()
                == Some(&format!("{reg}.stdout_lines"))),
        "the table is shown: a debug of {reg}.stdout_lines"
    );

    // Emulate: the variables the test sets, then every task's command, per vantage.
    let dir = tempfile::Builder::new()
        .prefix("telltale-ansible-wait-")
        .tempdir()
        .unwrap();
    let dir_path = dir.path().to_path_buf();
    let d = dir_path.as_path();
    let targets = d.join("targets-loopback.yaml");
    std::fs::write(&targets, WAIT_TARGETS).unwrap();
    assert_valid_inventory("the loopback targets", WAIT_TARGETS);
    vars.insert("playbook_dir".into(), p(&example("ansible")).into());
    vars.insert("telltale_local_binary".into(), BIN.into());
    vars.insert("telltale_targets".into(), p(&targets).into());
    vars.insert("telltale_wait_deadline".into(), DEADLINE.into());
    let mut children = Vec::new();
    for (v, change) in VANTAGES {
        let mut vars = vars.clone();
        vars.insert("inventory_hostname".into(), v.into());
        vars.insert(
            "telltale_remote_dir".into(),
            p(&d.join(format!("remote-{v}"))).into(),
        );
        let mut body = format!("lab_start svc --ip 127.0.0.1 --open 1001-1003\n{change}");
        for (i, task) in tasks.iter().enumerate() {
            if let Some(line) = task_line(task, &vars, &format!("task{i}")) {
                writeln!(body, "{line}").unwrap();
            }
        }
        let nsdir = d.join(format!("ns-{v}"));
        let files = [
            ("hosts", "127.0.0.1 localhost\n".to_string()),
            ("rules.nft", nft_rules(&[])),
        ];
        children.push((ns_spawn(&nsdir, &files, &body), nsdir, v, vars));
    }
    let mut runs = BTreeMap::new();
    for (child, nsdir, v, vars) in children {
        ns_wait(child, &nsdir);
        runs.insert(v, judge(tasks, &vars, &nsdir));
    }
    if std::env::var_os("TELLTALE_LAB_KEEP").is_some() {
        eprintln!("keeping lab dir {}", dir.keep().display());
    }
    let wait_at = tasks.iter().position(|t| t == wait_task).unwrap();
    check(d, &format!("task{wait_at}"), &runs);
}

/// The shell line that runs a task in the namespace (None for `debug` and `fail`, judged
/// afterwards).
fn task_line(task: &Yaml, vars: &BTreeMap<String, String>, tag: &str) -> Option<String> {
    let (module, args) = task_module(task);
    let arg = |k: &str| render(ystr(args, &[k]), vars);
    match module.as_str() {
        "file" => {
            assert_eq!(ystr(args, &["state"]), "directory");
            Some(format!("mkdir -p -- {}", sq(&arg("path"))))
        }
        "copy" => {
            let dest = arg("dest");
            Some(format!(
                "cp -- {} {d} && chmod {} {d}",
                sq(&arg("src")),
                arg("mode"),
                d = sq(&dest)
            ))
        }
        "command" => {
            let cmd = render(ystr(args, &["cmd"]), vars);
            assert!(
                !cmd.contains(['*', '|', '&', ';', '<', '>', '$', '\'', '"']),
                "the command module runs no shell: {cmd}"
            );
            Some(format!(
                "date +%s.%N > {tag}.start; run_to {tag} {cmd}; date +%s.%N > {tag}.end"
            ))
        }
        "debug" | "fail" => None,
        m => panic!("module {m} not emulated"),
    }
}

/// Ansible's verdict on one host: tasks in order, a command's `failed_when` (default: rc ≠ 0),
/// `when:` on the others; the first failing task ends the host.
fn judge(tasks: &[Yaml], vars: &BTreeMap<String, String>, nsdir: &Path) -> HostRun {
    let mut rcs = BTreeMap::new();
    let mut outs = BTreeMap::new();
    let mut run = HostRun::default();
    for (i, task) in tasks.iter().enumerate() {
        let name = ystr(task, &["name"]).to_string();
        let (module, args) = task_module(task);
        if let Some(when) = task["when"].as_str()
            && !rc_condition(when, &rcs)
        {
            continue;
        }
        match module.as_str() {
            "command" => {
                let reg = ystr(task, &["register"]).to_string();
                let code = rc(nsdir, &format!("task{i}"));
                rcs.insert(reg.clone(), code);
                outs.insert(reg, read(&nsdir.join(format!("task{i}.out"))));
                let failed = match task["failed_when"].as_str() {
                    Some(f) => rc_condition(f, &rcs),
                    None => code != 0,
                };
                if failed {
                    run.failed = Some(name);
                    return run;
                }
            }
            "debug" => {
                let var = ystr(args, &["var"]);
                let reg = var.strip_suffix(".stdout_lines").expect("REG.stdout_lines");
                run.shown.push(outs[reg].clone());
            }
            "fail" => {
                let msg = render(ystr(args, &["msg"]), vars);
                run.failed = Some(format!("{name}: {msg}"));
                return run;
            }
            _ => {}
        }
    }
    run
}

fn check(d: &Path, wait_tag: &str, runs: &BTreeMap<&str, HostRun>) {
    let ns = |v: &str| d.join(format!("ns-{v}"));
    let stamp = |v: &str, f: &str| -> f64 { read(&ns(v).join(f)).trim().parse().unwrap() };
    let took =
        |v: &str| stamp(v, &format!("{wait_tag}.end")) - stamp(v, &format!("{wait_tag}.start"));
    let err = |v: &str| read(&ns(v).join(format!("{wait_tag}.err")));

    // app: everything holds at once.
    let app = &runs["app"];
    assert!(app.failed.is_none() && app.shown.is_empty(), "{app:?}");
    assert_eq!(rc(&ns("app"), wait_tag), 0, "{}", dump_dir(&ns("app")));
    assert!(took("app") < 1.5, "app took {:.2}s", took("app"));

    // dmz: the wait ended once the firewall change had landed, not before.
    let dmz = &runs["dmz"];
    assert!(dmz.failed.is_none() && dmz.shown.is_empty(), "{dmz:?}");
    assert_eq!(rc(&ns("dmz"), wait_tag), 0, "{}", dump_dir(&ns("dmz")));
    let e = err("dmz");
    assert!(e.contains("db:1001 ready after"), "{e}");
    assert!(e.contains("unreachable"), "{e}");
    let start = stamp("dmz", &format!("{wait_tag}.start"));
    let landed = stamp("dmz", "change.landed") - start;
    assert!(
        took("dmz") >= landed && took("dmz") < landed + 2.5,
        "dmz took {:.2}s, the change landed at {landed:.2}s",
        took("dmz")
    );

    // ops: metrics never opened: the deadline passed, the table is shown, the host fails.
    let ops = &runs["ops"];
    assert_eq!(rc(&ns("ops"), wait_tag), 1, "{}", dump_dir(&ns("ops")));
    let failed = ops.failed.as_deref().unwrap_or_default();
    assert!(
        failed.starts_with("Fail when the deadline passed first") && failed.contains("ops"),
        "{ops:?}"
    );
    assert_eq!(ops.shown.len(), 1, "{ops:?}");
    let table = &ops.shown[0];
    let row = table_row(table, "metrics").unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("refused ✗") && row.contains("open"), "{table}");
    assert!(table_row(table, "db").is_none(), "{table}");
    assert!(table.contains("server admin"), "{table}");
    assert!(
        (4.9..6.0).contains(&took("ops")),
        "ops took {:.2}s (deadline {DEADLINE})",
        took("ops")
    );
}
