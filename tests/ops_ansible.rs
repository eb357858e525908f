//! `examples/ansible`: the hosts file names only `.example` hosts or 127/8, the targets file is
//! a valid inventory, and the playbook (a scan per vantage with `--vantage {{
//! inventory_hostname }}`, a local merge) is emulated task by task with its commands run for
//! real on loopback: one report per vantage, merged into the matrix.
//!
//! Network: every packet stays inside namespaces created here (`unshare -rnmpf`: only `lo`, a
//! resolv.conf pointing at 127.0.0.1 bind-mounted), or on 127.0.0.0/8.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_yaml::Value as Yaml;

use common::examples::*;
use common::fleet::*;
use common::{
    BIN, dump_dir, example, rc_file as rc, read_file as read, records_file as records,
    str_or_null as s,
};

const ANSIBLE_TARGETS: &str = "\
defaults: {timeout: 2s, linger: 200ms}
targets:
  - {name: db, host: 127.0.0.1, port: 1001, expect: {app: open, dmz: blocked, default: reachable}}
  - {name: web, host: localhost, ports: [1002, 1003], expect: reachable}
  - {name: gone, host: 127.0.0.2, port: 1004, expect: refused}
";

#[test]
fn ansible_example_parses_and_its_commands_run() {
    // hosts.yml: the vantage group, names only (no address outside 127/8).
    let hosts_text = read(&example("ansible/hosts.yml"));
    let hosts = &yaml_docs("ansible/hosts.yml")[0];
    let group = &hosts["all"]["children"]["telltale_vantages"]["hosts"];
    let names: Vec<&str> = group
        .as_mapping()
        .expect("group telltale_vantages with hosts")
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for n in &names {
        assert!(
            n.ends_with(".example")
                || n.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|a| a.is_loopback()),
            "{n}: use .example names or 127/8 only"
        );
    }
    for word in hosts_text.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
        if let Ok(ip) = word.parse::<std::net::Ipv4Addr>() {
            assert!(ip.is_loopback(), "address {ip} outside 127/8 in hosts.yml");
        }
    }
    assert_valid_inventory(
        "examples/ansible/targets.yaml",
        &read(&example("ansible/targets.yaml")),
    );

    // The playbook: the scan with --vantage {{ inventory_hostname }}, a local merge.
    let plays = yaml_docs("ansible/scan.yml");
    let plays = plays[0]
        .as_sequence()
        .expect("a playbook is a list of plays");
    let all_tasks: Vec<(&Yaml, &Yaml)> = plays
        .iter()
        .flat_map(|pl| {
            pl["tasks"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(move |t| (pl, t))
        })
        .collect();
    let cmd_of = |t: &Yaml| -> Option<String> {
        let (m, args) = task_module(t);
        (m == "command" || m == "shell").then(|| {
            args.as_str()
                .map_or_else(|| ystr(args, &["cmd"]).to_string(), str::to_string)
        })
    };
    let scan_task = all_tasks
        .iter()
        .find(|(_, t)| cmd_of(t).is_some_and(|c| c.contains(" scan ")))
        .expect("a task running telltale scan");
    let scan_cmd = cmd_of(scan_task.1).unwrap();
    for want in [
        "--vantage {{ inventory_hostname }}",
        "--format ndjson",
        "-o ",
    ] {
        assert!(
            scan_cmd.contains(want),
            "scan command lacks `{want}`: {scan_cmd}"
        );
    }
    assert_eq!(
        ystr(scan_task.0, &["hosts"]),
        "telltale_vantages",
        "the scan runs on the vantages"
    );
    let merge_task = all_tasks
        .iter()
        .find(|(_, t)| cmd_of(t).is_some_and(|c| c.contains(" merge ")))
        .expect("a task running telltale merge");
    assert_eq!(
        ystr(merge_task.0, &["hosts"]),
        "localhost",
        "merge runs locally"
    );
    assert_eq!(ystr(merge_task.0, &["connection"]), "local");

    // Emulate the playbook: substitute the variables, run every command for real.
    let dir = tempfile::Builder::new()
        .prefix("telltale-ansible-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let targets = d.join("targets-loopback.yaml");
    std::fs::write(&targets, ANSIBLE_TARGETS).unwrap();
    let reports = d.join("reports");
    let vantages = ["app", "dmz", "ops"];
    let mut body = String::from("lab_start one --ip 127.0.0.1 --open 1001-1003\n");
    let mut scans = Vec::new();
    let mut merges = Vec::new();
    for play in plays {
        let on_vantages = match ystr(play, &["hosts"]) {
            "localhost" => false,
            "telltale_vantages" => true,
            h => panic!("play for unknown hosts {h}"),
        };
        let hosts: Vec<&str> = if on_vantages {
            vantages.to_vec()
        } else {
            vec!["localhost"]
        };
        for host in hosts {
            // Play vars the test does not override keep their value.
            let mut vars: BTreeMap<String, String> = play_vars(play);
            let remote = d.join(format!("remote-{host}"));
            for (k, v) in [
                ("inventory_hostname", host.to_string()),
                ("playbook_dir", p(&example("ansible")).to_string()),
                ("telltale_local_binary", BIN.to_string()),
                ("telltale_command", BIN.to_string()),
                ("telltale_targets", p(&targets).to_string()),
                ("telltale_remote_dir", p(&remote).to_string()),
                ("telltale_reports", p(&reports).to_string()),
            ] {
                if k == "inventory_hostname" || k == "playbook_dir" || vars.contains_key(k) {
                    vars.insert(k.to_string(), v);
                }
            }
            for (i, task) in play["tasks"].as_sequence().unwrap().iter().enumerate() {
                let (module, args) = task_module(task);
                let arg = |k: &str| render(ystr(args, &[k]), &vars);
                let tag = format!("{}-{host}-{i}", task["register"].as_str().unwrap_or("task"));
                match module.as_str() {
                    "file" => match ystr(args, &["state"]) {
                        "absent" => writeln!(body, "rm -rf -- {}", sq(&arg("path"))).unwrap(),
                        "directory" => {
                            writeln!(body, "mkdir -p -- {}", sq(&arg("path"))).unwrap();
                        }
                        st => panic!("file state {st} not emulated"),
                    },
                    "copy" => {
                        let dest = arg("dest");
                        writeln!(body, "cp -- {} {}", sq(&arg("src")), sq(&dest)).unwrap();
                        if args["mode"].is_string() {
                            writeln!(body, "chmod {} {}", arg("mode"), sq(&dest)).unwrap();
                        }
                    }
                    "fetch" => {
                        assert_eq!(args["flat"].as_bool(), Some(true), "fetch without flat");
                        let src = arg("src");
                        let mut dest = arg("dest");
                        if dest.ends_with('/') {
                            let base = Path::new(&src).file_name().unwrap().to_str().unwrap();
                            dest.push_str(base);
                        }
                        writeln!(body, "cp -- {} {}", sq(&src), sq(&dest)).unwrap();
                    }
                    "command" => {
                        let cmd = render(&cmd_of(task).unwrap(), &vars);
                        assert!(
                            !cmd.contains(['*', '|', '&', ';', '<', '>', '$', '\'', '"']),
                            "the command module runs no shell: {cmd}"
                        );
                        writeln!(body, "run_to {tag} {cmd}").unwrap();
                        if cmd.contains(" scan ") {
                            scans.push(tag);
                        } else if cmd.contains(" merge ") {
                            merges.push(tag);
                        }
                    }
                    "shell" => {
                        let cmd = render(&cmd_of(task).unwrap(), &vars);
                        writeln!(body, "run_to {tag} sh -c {}", sq(&cmd)).unwrap();
                        if cmd.contains(" merge ") {
                            merges.push(tag);
                        } else if cmd.contains(" scan ") {
                            scans.push(tag);
                        }
                    }
                    // debug prints; fail only judges the merge's exit code (checked below).
                    _ => {}
                }
            }
        }
    }
    let nsdir = d.join("ns");
    ns_run(
        &nsdir,
        &[("hosts", "127.0.0.1 localhost\n".to_string())],
        &body,
    );
    assert_eq!(scans.len(), 3, "one scan per vantage: {scans:?}");
    for tag in &scans {
        let code = rc(&nsdir, tag);
        assert!(
            matches!(code, 0 | 1),
            "{tag}: scan exit {code}\n{}",
            dump_dir(&nsdir)
        );
    }
    for v in vantages {
        let recs = records(&reports.join(format!("{v}.ndjson")));
        assert_eq!(recs.len(), 4, "{v}");
        assert!(recs.iter().all(|r| s(r, "vantage") == v), "{recs:#?}");
    }
    assert!(!merges.is_empty(), "no merge ran");
    for tag in &merges {
        let code = rc(&nsdir, tag);
        assert!(
            matches!(code, 0 | 1),
            "{tag}: merge must never exit 2 here, got {code}\n{}",
            dump_dir(&nsdir)
        );
        // dmz expects db blocked, but nothing blocks it on loopback: a ✗ cell, exit 1.
        assert_eq!(code, 1, "{tag}\n{}", dump_dir(&nsdir));
    }
    let table = read(&nsdir.join(format!("{}.out", merges[0])));
    let head: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head[4..], ["app", "dmz", "ops"], "{table}");
    assert!(table.contains("open ✗"), "{table}");
    let html = read(&reports.join("matrix.html"));
    assert!(html.contains("<th>dmz</th>"), "{html}");
}
