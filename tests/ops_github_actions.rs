//! `examples/github-actions/predeploy.yml`: parses; one step runs `telltale scan ... --format
//! junit -o FILE`, the file is uploaded and published as a JUnit report even when the check
//! fails, and a deployment job is gated on it; the step itself runs as GitHub would (bash -eo
//! pipefail, `telltale` on PATH) against a loopback lab.
//!
//! Everything that sends a packet runs in its own `unshare -rnmpf` namespace (only `lo`).
#![allow(clippy::unwrap_used)]

mod common;

use serde_yaml::Value as Yaml;

use common::examples::*;
use common::{NS_TERM_60S as NS, Ns};

/// Runs `body` (after the shared prelude) as PID 1 of fresh user + net + mount + pid
/// namespaces, after writing `files` (relative paths) into the work dir. Panics when the
/// script fails.
fn netns(files: &[(&str, &str)], body: &str) -> Ns {
    NS.run(files, body)
}

fn workflow() -> Yaml {
    serde_yaml::from_str(&read_example("github-actions/predeploy.yml"))
        .unwrap_or_else(|e| panic!("predeploy.yml does not parse: {e}"))
}

fn str_of<'a>(v: &'a Yaml, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Yaml::as_str)
}

/// The workflow parses, has a trigger, a job whose steps run `telltale scan ... --format junit
/// -o telltale.xml`, upload the file and publish it as a JUnit report even when the check fails,
/// and a deployment job gated on it.
#[test]
fn github_workflow_parses_and_publishes_junit() {
    let wf = workflow();
    assert!(wf.get("on").is_some(), "no `on:` trigger");
    let jobs = wf.get("jobs").and_then(Yaml::as_mapping).expect("jobs:");
    let mut check_job = None;
    for (id, job) in jobs {
        let steps = job.get("steps").and_then(Yaml::as_sequence).expect("steps");
        if steps
            .iter()
            .any(|s| str_of(s, "run").is_some_and(|r| r.contains("telltale scan")))
        {
            check_job = Some((id.as_str().unwrap().to_string(), steps.clone()));
        }
    }
    let (check_id, steps) = check_job.expect("a job runs `telltale scan`");

    let runs: Vec<&str> = steps.iter().filter_map(|s| str_of(s, "run")).collect();
    let scans: Vec<String> = runs
        .iter()
        .flat_map(|r| telltale_lines(r))
        .filter(|l| l.starts_with("telltale scan"))
        .collect();
    assert_eq!(scans.len(), 1, "one scan: {scans:?}");
    let w = check_invocation(&scans[0]);
    let pos = |flag: &str| w.iter().position(|a| a == flag);
    let fmt = pos("--format").expect("--format");
    assert_eq!(w[fmt + 1], "junit", "{w:?}");
    let o = pos("-o").or(pos("--output")).expect("-o");
    let report = w[o + 1].clone();
    assert!(report.ends_with(".xml"), "{w:?}");
    for l in runs.iter().flat_map(|r| telltale_lines(r)) {
        check_invocation(&l);
    }

    let publishes = |s: &&Yaml| {
        let cond = str_of(s, "if").unwrap_or_default();
        cond.contains("always()") || cond.contains("!cancelled()")
    };
    let upload = steps
        .iter()
        .find(|s| str_of(s, "uses").is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .expect("an actions/upload-artifact step");
    assert_eq!(
        upload.get("with").and_then(|w| str_of(w, "path")),
        Some(report.as_str())
    );
    assert!(
        publishes(&upload),
        "the artifact is uploaded when the check fails"
    );
    let junit = steps
        .iter()
        .find(|s| str_of(s, "uses").is_some_and(|u| u.to_lowercase().contains("junit")))
        .expect("a JUnit report action");
    let with = junit.get("with").expect("with:");
    assert!(
        with.as_mapping()
            .unwrap()
            .values()
            .any(|v| v.as_str() == Some(report.as_str())),
        "the JUnit action reads {report}: {with:?}"
    );
    assert!(
        publishes(&junit),
        "the report is published when the check fails"
    );

    let gated = jobs.iter().any(|(_, job)| match job.get("needs") {
        Some(Yaml::String(n)) => *n == check_id,
        Some(Yaml::Sequence(ns)) => ns.iter().any(|n| n.as_str() == Some(&check_id)),
        _ => false,
    });
    assert!(gated, "a deployment job `needs: {check_id}`");
}

/// The telltale step runs as GitHub would run it (bash -eo pipefail, telltale on PATH) in a
/// checkout holding a loopback inventory: exit 0 and a JUnit file when every result is as
/// expected; a non-zero exit (the gate closes) and a `<failure>` in the report when not.
#[test]
fn github_workflow_step_runs_against_lab() {
    let wf = workflow();
    let step = wf["jobs"]
        .as_mapping()
        .unwrap()
        .values()
        .flat_map(|j| j["steps"].as_sequence().unwrap().iter())
        .find(|s| str_of(s, "run").is_some_and(|r| r.contains("telltale scan")))
        .unwrap()
        .clone();
    let run = str_of(&step, "run").unwrap();
    assert!(
        !run.contains("${{"),
        "the check step uses no workflow expressions"
    );
    let scan = telltale_lines(run)
        .into_iter()
        .find(|l| l.starts_with("telltale scan"))
        .unwrap();
    let w = words(&scan);
    let inventory = w[2..]
        .iter()
        .find(|a| a.ends_with(".yaml"))
        .unwrap()
        .clone();
    let report = w[w.iter().position(|a| a == "-o" || a == "--output").unwrap() + 1].clone();
    let good = "defaults: {timeout: 1200ms, linger: 200ms}
targets:
  - {name: api, host: 127.0.0.1, port: 7001}
  - {name: db, host: 127.0.0.1, port: 7002}
  - {name: admin-closed, host: 127.0.0.1, port: 7003, expect: blocked}
";
    let bad = good.replace("port: 7003, expect: blocked", "port: 7003");
    let good_inv = format!("good/{inventory}");
    let bad_inv = format!("bad/{inventory}");
    let ns = netns(
        &[
            ("step.sh", run),
            (good_inv.as_str(), good),
            (bad_inv.as_str(), &bad),
        ],
        "lab_start lab --ip 127.0.0.1 --open 7001,7002
for d in good bad; do
    (cd \"$d\" && export PATH=\"$LAB_DIR/bin:$PATH\" RUNNER_NAME=lab-runner &&
        run_to ../$d bash --noprofile --norc -eo pipefail ../step.sh)
done",
    );

    ns.assert_rc("good", 0);
    let xml = ns.read(&format!("good/{report}"));
    assert!(xml.contains("<testsuites"), "{xml}");
    assert_eq!(xml.matches("<testcase").count(), 3, "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");

    assert_ne!(
        ns.rc("bad"),
        0,
        "a mismatch fails the step\n{}",
        ns.show("bad")
    );
    let xml = ns.read(&format!("bad/{report}"));
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert!(xml.contains("admin-closed"), "{xml}");
}
