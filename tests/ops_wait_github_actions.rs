//! `examples/github-actions/wait.yml`: a job with PostgreSQL and Redis service containers
//! whose step runs `telltale wait` on their mapped ports with `--deadline` and `--also
//! junit=FILE`, publishes the JUnit file even when the wait fails, and only then runs the
//! tests. The workflow parses and agrees with itself; the wait step then runs as GitHub runs
//! it (bash -eo pipefail, `telltale` on PATH) against a real PostgreSQL and a real Redis: with
//! a short deadline while PostgreSQL is down it fails, and the JUnit file says which; as
//! written it waits for PostgreSQL and passes, and the JUnit file names both services.
//!
//! Network: one real-root net + mount + pid namespace created here (only `lo`); the services
//! listen on 127.0.0.1 inside it, as GitHub maps service ports to the runner.
#![allow(clippy::unwrap_used)]

mod common;

use serde_yaml::Value as Yaml;

use common::Ns;
use common::daemons::{DAEMON_FNS, DAEMON_NS, require_daemons, require_root};
use common::examples::*;

/// `pg_start`.
const PG_FNS: &str = include_str!("lab/pg_fns.sh");

/// Redis as the official image runs it (no config file: `--protected-mode no`).
const REDIS_CONF: &str = "bind 127.0.0.1\nport 6379\ndaemonize no\nprotected-mode no\n\
save \"\"\nappendonly no\nlogfile redis.log\n";

/// The wait step twice, each in its own checkout dir:
/// - `up`: as written (deadline 2m), started before PostgreSQL: exit 0 once it answers;
/// - `early`: deadline 2 s while PostgreSQL is down (Redis is up): exit 1.
const BODY: &str = r#"
export PATH="$LAB_DIR/bin:$PATH"
redis-server redis.conf > redis.out 2>&1 &
wait_port 127.0.0.1 6379
step() { (cd "$1" && timed "../$1" bash --noprofile --norc -eo pipefail "../$2"); }
step up step.sh &
U=$!
step early early.sh
pg_start 127.0.0.1 20 < pg_hba.conf
date +%s.%N > pg.up
wait $U
"#;

fn workflow() -> Yaml {
    serde_yaml::from_str(&read_example("github-actions/wait.yml"))
        .unwrap_or_else(|e| panic!("github-actions/wait.yml does not parse: {e}"))
}

fn str_of<'a>(v: &'a Yaml, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Yaml::as_str)
}

/// The host ports the job's service containers are mapped to (`HOST:CONTAINER`).
fn service_ports(job: &Yaml) -> Vec<(String, u16)> {
    let services = job["services"].as_mapping().expect("services:");
    services
        .iter()
        .map(|(name, svc)| {
            let ports = svc["ports"].as_sequence().expect("ports:");
            assert_eq!(ports.len(), 1, "{name:?}: one port");
            let p = match &ports[0] {
                Yaml::String(s) => s.clone(),
                other => panic!("{name:?}: port {other:?}"),
            };
            let (host, _) = p.split_once(':').expect("HOST:CONTAINER");
            (name.as_str().unwrap().to_string(), host.parse().unwrap())
        })
        .collect()
}

/// testcase name → failure type (None: passed), and the `tests` count, of a JUnit file.
fn junit(xml: &str) -> (Vec<(String, Option<String>)>, u64) {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("JUnit: {e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites", "{xml}");
    let tests = root.attribute("tests").unwrap().parse().unwrap();
    let cases = root
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|c| {
            let failure = c
                .children()
                .find(|n| n.has_tag_name("failure"))
                .map(|f| f.attribute("type").unwrap_or_default().to_string());
            (c.attribute("name").unwrap().to_string(), failure)
        })
        .collect();
    (cases, tests)
}

fn stamp(ns: &Ns, name: &str) -> f64 {
    ns.read(name).trim().parse().unwrap()
}

#[test]
fn github_wait_step_waits_for_service_containers_and_publishes_junit() {
    require_root();
    require_daemons(&[
        ("/usr/lib/postgresql/15/bin/postgres", "postgresql-15"),
        ("psql", "postgresql-client-15"),
        ("runuser", "util-linux"),
        ("redis-server", "redis-server"),
        ("bash", "bash"),
    ]);
    let wf = workflow();
    assert!(wf.get("on").is_some(), "no `on:` trigger");
    let jobs = wf["jobs"].as_mapping().expect("jobs:");
    assert_eq!(jobs.len(), 1);
    let job = jobs.values().next().unwrap();
    let ports = service_ports(job);
    let names: Vec<&str> = ports.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["postgres", "redis"]);
    let steps = job["steps"].as_sequence().expect("steps:");
    let at = |pred: &dyn Fn(&Yaml) -> bool, what: &str| {
        steps
            .iter()
            .position(pred)
            .unwrap_or_else(|| panic!("no step {what}"))
    };
    let wait_at = at(
        &|s| str_of(s, "run").is_some_and(|r| r.contains("telltale wait")),
        "running telltale wait",
    );
    let run = str_of(&steps[wait_at], "run").unwrap();
    assert!(!run.contains("${{"), "the wait step uses no expressions");
    let lines = telltale_lines(run);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let w = words(&lines[0]);
    assert_eq!(w[..2], ["telltale", "wait"]);
    // It waits for every service, on the port GitHub maps it to.
    let targets: Vec<String> = ports
        .iter()
        .map(|(_, p)| format!("127.0.0.1:{p}"))
        .collect();
    for t in &targets {
        assert!(w.contains(t), "the wait does not wait for {t}: {w:?}");
    }
    assert_eq!(flag_value(&w, "--deadline"), Some("2m"), "{w:?}");
    let report = flag_value(&w, "--also")
        .and_then(|a| a.strip_prefix("junit="))
        .expect("--also junit=FILE")
        .to_string();

    // Published even when the wait failed; the tests only run after the wait.
    let publish_at = at(
        &|s| str_of(s, "uses").is_some_and(|u| u.starts_with("mikepenz/action-junit-report@")),
        "publishing JUnit",
    );
    let publish = &steps[publish_at];
    let cond = str_of(publish, "if").unwrap_or_default();
    assert!(
        cond.contains("!cancelled()") || cond.contains("always()"),
        "{cond}"
    );
    assert_eq!(
        publish["with"]["report_paths"].as_str(),
        Some(report.as_str())
    );
    let tests_at = at(
        &|s| str_of(s, "run").is_some_and(|r| r.contains("cargo test")),
        "running the tests",
    );
    assert!(wait_at < publish_at && wait_at < tests_at, "step order");
    assert!(
        str_of(&steps[tests_at], "if").is_none(),
        "tests need the wait"
    );

    let early = run.replace("--deadline 2m", "--deadline 2s");
    assert_ne!(early, run);
    let files = [
        ("step.sh", run.to_string()),
        ("early.sh", early),
        ("up/.keep", String::new()),
        ("early/.keep", String::new()),
        ("redis.conf", REDIS_CONF.into()),
        (
            "pg_hba.conf",
            "host all all 127.0.0.1/32 scram-sha-256\n".into(),
        ),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let ns = DAEMON_NS.run(
        &refs,
        &format!("{DAEMON_FNS}\n{PG_FNS}\n{TIMED_FN}\n{BODY}"),
    );
    check(&ns, &report, &targets);
}

fn check(ns: &Ns, report: &str, targets: &[String]) {
    let (pg, redis) = (&targets[0], &targets[1]);
    // early: PostgreSQL down at the deadline; the step fails, the report says which.
    ns.assert_rc("early", 1);
    let (cases, tests) = junit(&ns.read(&format!("early/{report}")));
    assert_eq!(tests, 2);
    assert!(
        cases.contains(&(pg.clone(), Some("refused".into()))),
        "{cases:?}"
    );
    assert!(cases.contains(&(redis.clone(), None)), "{cases:?}");
    let table = ns.stdout("early");
    let row = table_row_at(&table, "127.0.0.1", 5432).unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("refused ✗"),
        "the log shows the table\n{table}"
    );
    assert!(table_row_at(&table, "127.0.0.1", 6379).is_none(), "{table}");

    // up: it waited for PostgreSQL, then passed; both services in the report.
    ns.assert_rc("up", 0);
    let (up, end) = (stamp(ns, "pg.up"), stamp(ns, "up.end"));
    assert!(
        end >= up,
        "passed before PostgreSQL was up\n{}",
        ns.show("up")
    );
    assert!(
        end - up < 6.75 + 0.5,
        "ready {:.2}s after PostgreSQL",
        end - up
    );
    let (cases, tests) = junit(&ns.read(&format!("up/{report}")));
    assert_eq!(tests, 2);
    let mut names: Vec<&str> = cases.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, [pg.as_str(), redis.as_str()]);
    assert!(cases.iter().all(|(_, f)| f.is_none()), "{cases:?}");
    let err = ns.stderr("up");
    for t in targets {
        assert!(err.contains(&format!("{t} ready after")), "{err}");
    }
}
