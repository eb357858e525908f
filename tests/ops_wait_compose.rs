//! `examples/compose/docker-compose.yml`: a one-shot `wait` service runs `telltale wait
//! db:5432 --hello --deadline ...` in the telltale image, and `app` starts only after it
//! completed successfully (`depends_on: condition: service_completed_successfully`). The file
//! parses and agrees with itself; the `wait` service's command then runs for real (docker is
//! not needed) the way compose would run it: `db` first does not resolve (no container yet),
//! then resolves with nothing listening, then PostgreSQL starts. With the short deadline the
//! test gives it, it exits 1 in each of the first two states, naming the verdict and who to
//! ask; as written, it waits through both and exits 0 once PostgreSQL answers.
//!
//! Network: one real-root net + mount + pid namespace created here (only `lo`); `db`
//! resolves through that namespace's own /etc/hosts (to 127.0.0.1 once "the container
//! exists"); nothing else is resolved or contacted.
#![allow(clippy::unwrap_used)]

mod common;

use serde_yaml::Value as Yaml;

use common::Ns;
use common::daemons::{DAEMON_FNS, DAEMON_NS, require_daemons, require_root};
use common::examples::*;

/// `pg_start`.
const PG_FNS: &str = include_str!("lab/pg_fns.sh");

/// The `wait` service's command three times, in one namespace:
/// - `up`: as written (deadline 2m), started first: it waits through both states below;
/// - `nodns`: deadline 2 s while `db` does not resolve: exit 1;
/// - `never`: deadline 2 s while `db` resolves and nothing listens: exit 1;
///
/// then PostgreSQL starts and `up` ends.
const BODY: &str = r#"
export PATH="$LAB_DIR/bin:$PATH"
timed up sh up.sh &
U=$!
timed nodns sh nodns.sh
# compose created the db container: the name resolves, PostgreSQL is not listening yet.
echo "127.0.0.1 db" >> hosts
date +%s.%N > db.resolves
timed never sh never.sh
pg_start 127.0.0.1 20 < pg_hba.conf
date +%s.%N > pg.up
wait $U
"#;

fn compose() -> Yaml {
    let docs = yaml_docs("compose/docker-compose.yml");
    assert_eq!(docs.len(), 1, "one document");
    docs.into_iter().next().unwrap()
}

/// A service's `command` as argv (compose takes a list, or a string split like a shell).
fn command(svc: &Yaml) -> Vec<String> {
    match &svc["command"] {
        Yaml::Sequence(s) => s.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        Yaml::String(s) => words(s),
        other => panic!("command: {other:?}"),
    }
}

fn stamp(ns: &Ns, name: &str) -> f64 {
    ns.read(name).trim().parse().unwrap()
}

#[test]
fn compose_wait_service_gates_the_app_and_its_command_waits_for_postgres() {
    require_root();
    require_daemons(&[
        ("/usr/lib/postgresql/15/bin/postgres", "postgresql-15"),
        ("psql", "postgresql-client-15"),
        ("runuser", "util-linux"),
    ]);
    let c = compose();
    let services = c["services"].as_mapping().expect("services:");
    for s in ["db", "wait", "app"] {
        assert!(c["services"][s].is_mapping(), "no service {s}");
    }
    let (db, wait, app) = (
        &c["services"]["db"],
        &c["services"]["wait"],
        &c["services"]["app"],
    );
    assert_eq!(services.len(), 3, "{services:?}");

    // The gate: app waits for `wait` to complete successfully (exit 0), not just to start.
    assert_eq!(
        ystr(app, &["depends_on", "wait", "condition"]),
        "service_completed_successfully"
    );
    // `wait` is a one-shot (a restarted wait never completes) that starts after db exists.
    assert_eq!(ystr(wait, &["restart"]), "no");
    let wait_deps: Vec<&str> = match &wait["depends_on"] {
        Yaml::Sequence(s) => s.iter().map(|v| v.as_str().unwrap()).collect(),
        Yaml::Mapping(m) => m.keys().map(|k| k.as_str().unwrap()).collect(),
        other => panic!("wait.depends_on: {other:?}"),
    };
    assert_eq!(wait_deps, ["db"]);
    // The image the examples build (examples/kubernetes/Containerfile).
    let image = ystr(wait, &["image"]);
    let containerfile = read_example("kubernetes/Containerfile");
    assert!(
        containerfile.contains(&format!("-t {image} ")),
        "the wait service runs the image Containerfile builds ({image})"
    );
    assert!(db["image"].as_str().unwrap().starts_with("postgres:"));

    // The command: `telltale wait db:5432 ... --deadline`, for the database the app uses.
    let argv = command(wait);
    assert_eq!(argv[..2], ["telltale", "wait"], "{argv:?}");
    assert!(argv.iter().any(|a| a == "db:5432"), "{argv:?}");
    assert_eq!(ystr(app, &["environment", "DATABASE_HOST"]), "db");
    let deadline = flag_value(&argv, "--deadline").expect("--deadline");
    assert_eq!(deadline, "2m");

    let files = [
        ("up.sh", format!("exec {}\n", sh_line(&argv))),
        (
            "nodns.sh",
            format!("exec {}\n", sh_line(&with_flag(&argv, "--deadline", "2s"))),
        ),
        (
            "never.sh",
            format!("exec {}\n", sh_line(&with_flag(&argv, "--deadline", "2s"))),
        ),
        // What the postgres image sets up with POSTGRES_PASSWORD.
        (
            "pg_hba.conf",
            "host all all 127.0.0.1/32 scram-sha-256\n".into(),
        ),
        // No `db` until "compose creates the container" (the script appends it).
        ("hosts", "127.0.0.1 localhost\n".into()),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let ns = DAEMON_NS.run(
        &refs,
        &format!("{DAEMON_FNS}\n{PG_FNS}\n{TIMED_FN}\n{BODY}"),
    );

    // Before the container exists: the name does not resolve.
    ns.assert_rc("nodns", 1);
    let table = ns.stdout("nodns");
    let row = table_row_at(&table, "db", 5432).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("dns-error ✗"), "{table}");
    assert!(table.contains("DNS admin"), "{table}");

    // The container exists, PostgreSQL does not listen yet.
    ns.assert_rc("never", 1);
    let table = ns.stdout("never");
    let row = table_row_at(&table, "db", 5432).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("refused ✗"), "{table}");
    assert!(table.contains("server admin"), "{table}");
    for run in ["nodns", "never"] {
        let took = stamp(&ns, &format!("{run}.end")) - stamp(&ns, &format!("{run}.start"));
        assert!((1.8..3.0).contains(&took), "{run} took {took:.2}s");
    }

    // As written: it waited through both, and completed once PostgreSQL answered.
    ns.assert_rc("up", 0);
    let (up, end) = (stamp(&ns, "pg.up"), stamp(&ns, "up.end"));
    assert!(
        end >= up,
        "completed before PostgreSQL was up\n{}",
        ns.show("up")
    );
    // Within one pause of PostgreSQL answering: 2 s, growing by half while the verdict stays
    // the same, back to 2 s when it changes (dns-error → refused).
    assert!(
        end - up < 6.75 + 0.5,
        "ready {:.2}s after PostgreSQL",
        end - up
    );
    let err = ns.stderr("up");
    assert!(err.contains("db:5432 ready after"), "{err}");
    assert!(ns.stdout("up").contains("as expected"), "{}", ns.show("up"));
    // What the probes cost PostgreSQL: the StartupMessage, its password request, a FIN: not
    // one log line (no failed authentication, no reset).
    let log = ns.read("pg.log");
    assert!(
        !log.contains("telltale") && !log.contains("could not receive data"),
        "{log}"
    );
}
