//! `examples/kubernetes`: the Indexed Job (`--shard $((JOB_COMPLETION_INDEX+1))/N`), its
//! ConfigMap inventory and volume, and the merge Job parse and agree; the pods' command and the
//! merge Job's script then run for real on loopback (mount paths localized, one namespace),
//! and the pods' shards equal the full scan.
//!
//! Network: every packet stays inside namespaces created here (`unshare -rnmpf`: only `lo`, a
//! resolv.conf pointing at 127.0.0.1 bind-mounted), or on 127.0.0.0/8.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;
use serde_yaml::Value as Yaml;

use common::examples::*;
use common::fleet::*;
use common::{
    dump_dir, rc_file as rc, read_file as read, records_file as records, str_or_null as s,
};

/// A container's argv (`command` + `args`) must be `sh -c SCRIPT`; returns SCRIPT.
fn container_script(c: &Yaml) -> String {
    let mut argv: Vec<String> = Vec::new();
    for key in ["command", "args"] {
        if let Some(seq) = c[key].as_sequence() {
            argv.extend(seq.iter().map(|v| v.as_str().unwrap().to_string()));
        }
    }
    assert!(
        argv.len() == 3 && (argv[0] == "sh" || argv[0] == "/bin/sh") && argv[1] == "-c",
        "container {} must run `sh -c SCRIPT`: {argv:?}",
        ystr(c, &["name"])
    );
    argv.pop().unwrap()
}

/// Mount path → volume definition for a pod spec's container.
fn mounts<'a>(pod: &'a Yaml, c: &'a Yaml) -> Vec<(String, &'a Yaml)> {
    let vols = pod["volumes"].as_sequence().unwrap();
    c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            let name = ystr(m, &["name"]);
            let vol = vols
                .iter()
                .find(|v| ystr(v, &["name"]) == name)
                .unwrap_or_else(|| panic!("volumeMount {name} has no volume"));
            (ystr(m, &["mountPath"]).to_string(), vol)
        })
        .collect()
}

/// Replace each mount path in `script` by its local directory, in one pass: only where the
/// mount path stands as a path (not preceded by a path character, followed by `/`, a quote,
/// whitespace or the end), so `/inventory` does not match inside `/inventory/inventory.yaml`'s
/// file name.
fn localize(script: &str, map: &[(String, PathBuf)]) -> String {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    let mut out = String::new();
    let mut i = 0;
    'scan: while i < script.len() {
        let before = script[..i].chars().next_back();
        if !before.is_some_and(is_path_char) {
            for (mount, local) in map {
                if let Some(rest) = script[i..].strip_prefix(mount.as_str()) {
                    let after = rest.chars().next();
                    if after.is_none_or(|c| c == '/' || c == '"' || c == '\'' || c.is_whitespace())
                    {
                        out.push_str(p(local));
                        i += mount.len();
                        continue 'scan;
                    }
                }
            }
        }
        let c = script[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

#[test]
fn kubernetes_example_parses_and_its_commands_run() {
    let docs = yaml_docs("kubernetes/scan.yaml");
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"].as_str() == Some(k))
            .unwrap_or_else(|| panic!("kubernetes/scan.yaml has no {k}"))
    };
    let (cm, pvc, job) = (
        kind("ConfigMap"),
        kind("PersistentVolumeClaim"),
        kind("Job"),
    );
    assert_eq!(ystr(job, &["apiVersion"]), "batch/v1");
    assert_eq!(ystr(job, &["spec", "completionMode"]), "Indexed");
    let n = yu64(job, &["spec", "completions"]);
    assert!(n >= 2, "completions {n}");
    assert_eq!(
        yu64(job, &["spec", "parallelism"]),
        n,
        "parallelism ≠ completions"
    );
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(ystr(pod, &["restartPolicy"]), "Never");
    let containers = pod["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let script = container_script(c);
    assert!(
        script.contains(&format!("--shard $((JOB_COMPLETION_INDEX+1))/{n} ")),
        "the scan must run `--shard $((JOB_COMPLETION_INDEX+1))/{n}` (N = completions):\n{script}"
    );
    assert!(script.contains("telltale scan "), "{script}");
    assert!(script.contains("--format ndjson"), "{script}");
    assert!(script.contains("--vantage "), "{script}");
    // The podFailurePolicy names the real container.
    for rule in job["spec"]["podFailurePolicy"]["rules"]
        .as_sequence()
        .unwrap()
    {
        assert_eq!(
            ystr(rule, &["onExitCodes", "containerName"]),
            ystr(c, &["name"])
        );
    }
    let env: Vec<(String, String)> = c["env"]
        .as_sequence()
        .map(|s| {
            s.iter()
                .map(|e| {
                    (
                        ystr(e, &["name"]).to_string(),
                        ystr(e, &["value"]).to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let vantage = env
        .iter()
        .find(|(k, _)| k == "VANTAGE")
        .map(|(_, v)| v.clone())
        .expect("env VANTAGE");

    // The ConfigMap is mounted where the scan reads it, and holds a valid inventory.
    let cm_name = ystr(cm, &["metadata", "name"]);
    let pvc_name = ystr(pvc, &["metadata", "name"]);
    let data = cm["data"].as_mapping().unwrap();
    assert_eq!(data.len(), 1, "one inventory in the ConfigMap");
    let (key, content) = data.iter().next().unwrap();
    let key = key.as_str().unwrap();
    assert_valid_inventory("the ConfigMap's inventory", content.as_str().unwrap());

    let dir = tempfile::Builder::new()
        .prefix("telltale-k8s-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let inv_dir = d.join("volume-inventory");
    let rep_dir = d.join("volume-reports");
    std::fs::create_dir_all(&inv_dir).unwrap();
    std::fs::create_dir_all(&rep_dir).unwrap();
    let mut map = Vec::new();
    let mut saw_cm = false;
    for (mount, vol) in mounts(pod, c) {
        if vol["configMap"].is_mapping() {
            assert_eq!(ystr(vol, &["configMap", "name"]), cm_name);
            assert!(
                script.contains(&format!("{mount}/{key}")),
                "the scan must read {mount}/{key}:\n{script}"
            );
            saw_cm = true;
            map.push((mount, inv_dir.clone()));
        } else {
            assert_eq!(ystr(vol, &["persistentVolumeClaim", "claimName"]), pvc_name);
            map.push((mount, rep_dir.clone()));
        }
    }
    assert!(saw_cm, "the inventory ConfigMap is not mounted");
    // A loopback inventory in place of the ConfigMap's (same key, same vantage).
    let loopback = format!(
        "defaults: {{timeout: 2s, linger: 200ms}}\n\
         targets:\n\
         - {{name: block, host: 127.0.0.0/29, ports: [1001, 1004], expect: {{{vantage}: [open, refused], default: reachable}}}}\n\
         - {{name: api, host: localhost, ports: \"1001-1003\", expect: reachable}}\n"
    );
    std::fs::write(inv_dir.join(key), &loopback).unwrap();
    let scan_sh = localize(&script, &map);

    // The merge Job: same volume, its own script.
    let mdocs = yaml_docs("kubernetes/merge.yaml");
    assert_eq!(mdocs.len(), 1);
    let mjob = &mdocs[0];
    assert_eq!(ystr(mjob, &["kind"]), "Job");
    let mpod = &mjob["spec"]["template"]["spec"];
    let mc = &mpod["containers"][0];
    let merge_script = container_script(mc);
    assert!(merge_script.contains("telltale merge "), "{merge_script}");
    let mut mmap = Vec::new();
    for (mount, vol) in mounts(mpod, mc) {
        assert_eq!(
            ystr(vol, &["persistentVolumeClaim", "claimName"]),
            pvc_name,
            "merge must read the scan's volume"
        );
        mmap.push((mount, rep_dir.clone()));
    }
    let merge_sh = localize(&merge_script, &mmap);

    // Run the N pods' command and the merge inside one namespace against a loopback lab.
    let mut body = String::from(
        "lab_start one --ip 127.0.0.1 --open 1001-1003\nlab_start two --ip 127.0.0.2 --open 1001\n",
    );
    let env_prefix: String = env.iter().map(|(k, v)| format!("{k}={} ", sq(v))).collect();
    for i in 0..n {
        writeln!(
            body,
            "run_to pod{i} env JOB_COMPLETION_INDEX={i} {env_prefix}sh pod.sh"
        )
        .unwrap();
    }
    writeln!(
        body,
        "run_to full telltale scan {} --vantage {} --format ndjson --no-progress",
        p(&inv_dir.join(key)),
        sq(&vantage)
    )
    .unwrap();
    body.push_str("run_to merge sh merge.sh\n");
    let nsdir = d.join("ns");
    ns_run(
        &nsdir,
        &[
            ("pod.sh", scan_sh),
            ("merge.sh", merge_sh),
            ("hosts", "127.0.0.1 localhost\n".to_string()),
        ],
        &body,
    );
    for i in 0..n {
        assert_eq!(
            rc(&nsdir, &format!("pod{i}")),
            0,
            "pod {i}\n{}",
            dump_dir(&nsdir)
        );
    }
    let mut shards = Vec::new();
    for k in 1..=n {
        let f = rep_dir
            .join(&vantage)
            .join(format!("shard-{k}-of-{n}.ndjson"));
        let recs = records(&f);
        for r in &recs {
            assert_eq!(s(r, "shard"), format!("{k}/{n}"), "{r}");
            assert_eq!(s(r, "vantage"), vantage, "{r}");
        }
        shards.extend(recs);
    }
    let full = records(&nsdir.join("full.out"));
    assert_eq!(full.len(), 6 * 2 + 3);
    assert_eq!(apv(&shards), apv(&full), "the pods' shards ≠ the full scan");
    let merge_rc = rc(&nsdir, "merge");
    assert!(
        matches!(merge_rc, 0 | 1),
        "the merge Job's command must merge (exit 0/1), got {merge_rc}\n{}",
        dump_dir(&nsdir)
    );
    assert_eq!(
        merge_rc,
        0,
        "every cell is as expected here\n{}",
        dump_dir(&nsdir)
    );
    let html = read(&rep_dir.join("matrix.html"));
    assert!(html.contains(&format!("<th>{vantage}</th>")), "{html}");
    let json: Value = serde_json::from_str(&read(&rep_dir.join("matrix.json"))).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), full.len());
    let table = read(&nsdir.join("merge.out"));
    assert!(table.contains("15 rows × 1 vantages"), "{table}");
}
