//! `examples/kubernetes/wait-deployment.yaml`: the Deployment's init container runs `telltale
//! wait` on the ConfigMap's inventory (the database `open`, the cloud metadata endpoint
//! `blocked`) with `--deadline`; the manifest parses and agrees with itself, and the init
//! container's argv then runs for real against a real PostgreSQL and a real nginx: it waits
//! for a database that starts late (exit 0), and with a short deadline it fails (exit 1, the
//! table names the target and who to ask) when the database is down or the metadata endpoint
//! answers.
//!
//! Network: everything runs in one real-root net + mount + pid namespace created here (only
//! `lo`). The database's Service name resolves through that namespace's own /etc/hosts to
//! 127.0.0.1. The metadata endpoint 169.254.169.254 is never contacted: the test replaces it
//! in the inventory with 127.0.0.9 (dropped by an nft rule, as the NetworkPolicy would) or
//! 127.0.0.10 (nginx: a cluster without that policy), the way the other example tests
//! localize paths.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use serde_yaml::Value as Yaml;

use common::daemons::{DAEMON_FNS, DAEMON_NS, require_daemons, require_root};
use common::examples::*;
use common::{Ns, nft_rules};

/// `pg_start`.
const PG_FNS: &str = include_str!("lab/pg_fns.sh");
/// `nginx_start`.
const NGINX_FNS: &str = include_str!("lab/nginx_fns.sh");

/// The cloud metadata endpoint as the example names it.
const METADATA: &str = "169.254.169.254";
/// Where the test puts it: dropped by the namespace's nft rule.
const METADATA_DROPPED: &str = "127.0.0.9";
/// Where the test puts it: nginx answers there.
const METADATA_OPEN: &str = "127.0.0.10";

/// A metadata server that answers (a cluster without the egress policy).
const NGINX_CONF: &str = r#"
user www-data;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log info;
events { worker_connections 64; }
http {
    access_log @DIR@/access.log;
    client_body_temp_path @DIR@/tmp/body;
    proxy_temp_path @DIR@/tmp/proxy;
    fastcgi_temp_path @DIR@/tmp/fastcgi;
    uwsgi_temp_path @DIR@/tmp/uwsgi;
    scgi_temp_path @DIR@/tmp/scgi;
    root @DIR@/www;
    server { listen 127.0.0.10:80; }
}
"#;

/// The init container's three runs, in one namespace:
/// - `down`: the database is not up yet, the deadline cut to 8 s (a dropped target takes
///   2 × its 3 s timeout to read `filtered`: one retry): exit 1;
/// - `ready`: started with `down`, the argv as written (deadline 5m); PostgreSQL starts once
///   `down` is over, and the wait ends when it answers: exit 0;
/// - `open`: PostgreSQL up, the metadata endpoint answers (nginx), deadline 3 s: exit 1.
const BODY: &str = r#"
export PATH="$LAB_DIR/bin:$PATH"
nginx_start meta nginx.conf 127.0.0.10:80
timed ready sh ready.sh &
R=$!
timed down sh down.sh
pg_start 127.0.0.1 20 < pg_hba.conf
date +%s.%N > pg.up
timed open sh open.sh &
O=$!
wait $R $O
"#;

fn kind<'a>(docs: &'a [Yaml], k: &str) -> &'a Yaml {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(k))
        .unwrap_or_else(|| panic!("kubernetes/wait-deployment.yaml has no {k}"))
}

/// The inventory's target entry named `name`.
fn target<'a>(inv: &'a Yaml, name: &str) -> &'a Yaml {
    inv["targets"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|t| t["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no target {name} in the ConfigMap's inventory"))
}

fn stamp(ns: &Ns, name: &str) -> f64 {
    ns.read(name).trim().parse().unwrap()
}

#[test]
fn kubernetes_wait_init_container_gates_the_pod_on_the_database_and_the_metadata_block() {
    require_root();
    require_daemons(&[
        ("/usr/lib/postgresql/15/bin/postgres", "postgresql-15"),
        ("psql", "postgresql-client-15"),
        ("runuser", "util-linux"),
        ("nginx", "nginx"),
    ]);
    let docs = yaml_docs("kubernetes/wait-deployment.yaml");
    let (cm, dep) = (kind(&docs, "ConfigMap"), kind(&docs, "Deployment"));
    assert_eq!(ystr(dep, &["apiVersion"]), "apps/v1");
    let pod = &dep["spec"]["template"]["spec"];
    let inits = pod["initContainers"].as_sequence().expect("initContainers");
    assert_eq!(inits.len(), 1, "one init container");
    let init = &inits[0];
    let argv = container_argv(init);
    assert_eq!(argv[..2], ["telltale", "wait"], "{argv:?}");
    let deadline = flag_value(&argv, "--deadline").expect("--deadline");
    assert_eq!(deadline, "5m", "{argv:?}");
    assert!(argv.iter().any(|a| a == "--hello"), "{argv:?}");
    for c in pod["containers"].as_sequence().unwrap() {
        assert!(
            !container_argv(c).iter().any(|a| a.contains("telltale")),
            "the app container is gated, it does not run telltale: {c:?}"
        );
    }

    // The ConfigMap is mounted where the wait reads it and holds a valid inventory: the
    // database the app uses `open`, the metadata endpoint `blocked`.
    let cm_name = ystr(cm, &["metadata", "name"]);
    let mount = init["volumeMounts"].as_sequence().unwrap();
    assert_eq!(mount.len(), 1);
    let vol = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount[0]["name"])
        .expect("the init container's volume");
    assert_eq!(ystr(vol, &["configMap", "name"]), cm_name);
    let mount_path = ystr(&mount[0], &["mountPath"]);
    let data = cm["data"].as_mapping().unwrap();
    assert_eq!(data.len(), 1, "one inventory in the ConfigMap");
    let (key, text) = data.iter().next().unwrap();
    let (key, text) = (key.as_str().unwrap(), text.as_str().unwrap());
    let inv_path = format!("{mount_path}/{key}");
    assert_eq!(
        argv.iter().filter(|a| **a == inv_path).count(),
        1,
        "the wait reads {inv_path}: {argv:?}"
    );
    assert_valid_inventory("the ConfigMap's inventory", text);
    let inv: Yaml = serde_yaml::from_str(text).unwrap();
    let db = target(&inv, "postgres");
    assert_eq!(db["port"].as_u64(), Some(5432));
    assert_eq!(ystr(db, &["expect"]), "open");
    let db_host = ystr(db, &["host"]);
    let app_env = &pod["containers"][0]["env"];
    assert!(
        app_env
            .as_sequence()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "DATABASE_HOST" && e["value"].as_str() == Some(db_host)),
        "the wait checks the database the app uses ({db_host})"
    );
    let meta = target(&inv, "cloud-metadata");
    assert_eq!(ystr(meta, &["host"]), METADATA);
    assert_eq!(meta["port"].as_u64(), Some(80));
    assert_eq!(ystr(meta, &["expect"]), "blocked");

    // Localize: the inventory's metadata address (never contacted), the mount path.
    assert_eq!(text.matches(METADATA).count(), 1, "{text}");
    let cm_dir = |addr: &str| {
        let t = text.replace(METADATA, addr);
        assert!(!t.contains("169.254."), "{t}");
        t
    };
    let script = |dir: &str, deadline: &str| {
        let local: Vec<String> = with_flag(&argv, "--deadline", deadline)
            .into_iter()
            .map(|a| match a.strip_prefix(&format!("{mount_path}/")) {
                Some(rest) => format!("{dir}/{rest}"),
                None => a,
            })
            .collect();
        assert!(local.iter().any(|a| a.starts_with(dir)), "{local:?}");
        format!("exec {}\n", sh_line(&local))
    };
    let ns_dir = tempfile::Builder::new()
        .prefix("telltale-k8s-wait-")
        .tempdir()
        .unwrap();
    let at = |rel: &str| Path::new(ns_dir.path()).join(rel).display().to_string();
    let (dropped, open) = (at("cm-dropped"), at("cm-open"));
    let files = [
        (format!("cm-dropped/{key}"), cm_dir(METADATA_DROPPED)),
        (format!("cm-open/{key}"), cm_dir(METADATA_OPEN)),
        ("ready.sh".into(), script(&dropped, deadline)),
        ("down.sh".into(), script(&dropped, "8s")),
        ("open.sh".into(), script(&open, "3s")),
        ("nginx.conf".into(), NGINX_CONF.into()),
        // As the official postgres image sets it up with POSTGRES_PASSWORD.
        (
            "pg_hba.conf".into(),
            "host all all 127.0.0.1/32 scram-sha-256\n".into(),
        ),
        ("hosts".into(), format!("127.0.0.1 localhost {db_host}\n")),
        (
            "rules.nft".into(),
            nft_rules(&[&format!("ip daddr {METADATA_DROPPED} tcp dport 80 drop")]),
        ),
    ];
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_str()))
        .collect();
    let ns = DAEMON_NS.run_in(
        ns_dir.path(),
        &refs,
        &format!("{DAEMON_FNS}\n{PG_FNS}\n{NGINX_FNS}\n{TIMED_FN}\n{BODY}"),
    );
    if std::env::var_os("TELLTALE_LAB_KEEP").is_some() {
        eprintln!("keeping lab dir {}", ns_dir.keep().display());
    }
    check_runs(&ns);
}

fn check_runs(ns: &Ns) {
    // down: the database refuses; the metadata endpoint is dropped, as expected.
    ns.assert_rc("down", 1);
    let table = ns.stdout("down");
    let row = table_row(&table, "postgres").unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("refused ✗"), "{table}");
    assert!(table_row(&table, "cloud-metadata").is_none(), "{table}");
    assert!(table.contains("server admin"), "who to ask\n{table}");
    let took = stamp(ns, "down.end") - stamp(ns, "down.start");
    assert!((7.7..9.0).contains(&took), "down took {took:.2}s");

    // ready: it waited for PostgreSQL, then let the pod start long before its deadline.
    ns.assert_rc("ready", 0);
    let (up, end) = (stamp(ns, "pg.up"), stamp(ns, "ready.end"));
    assert!(
        end >= up,
        "ready before PostgreSQL was up\n{}",
        ns.show("ready")
    );
    // Within one pause of PostgreSQL answering: 2 s growing by half while the verdict stays
    // the same (2, 3, 4.5, 6.75 s over the first 16 s).
    assert!(
        end - up < 6.75 + 0.5,
        "ready {:.2}s after PostgreSQL",
        end - up
    );
    assert!(
        ns.stdout("ready").contains("All 2 probes as expected."),
        "{}",
        ns.show("ready")
    );
    let err = ns.stderr("ready");
    assert!(err.contains("postgres:5432 ready after"), "{err}");
    assert!(err.contains("cloud-metadata:80 ready after"), "{err}");
    assert!(err.contains("filtered"), "{err}");
    // What the probes cost PostgreSQL: the StartupMessage, its password request, a FIN: not
    // one log line (no failed authentication, no reset).
    let log = ns.read("pg.log");
    assert!(
        !log.contains("telltale") && !log.contains("could not receive data"),
        "{log}"
    );

    // open: the metadata endpoint answered; that is the mismatch the table shows.
    ns.assert_rc("open", 1);
    let table = ns.stdout("open");
    let row = table_row(&table, "cloud-metadata").unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("open ✗") && row.contains("blocked"), "{table}");
    assert!(table_row(&table, "postgres").is_none(), "{table}");
    assert!(
        ns.read("meta/access.log").contains("GET / "),
        "nginx saw no GET"
    );
}
