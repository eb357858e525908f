//! Shards of one vantage through `telltale merge`: the shards of a split merge to exactly the
//! unsharded scan (in any order, NDJSON or JSON reports), a split with an empty shard still
//! merges, and merge refuses a duplicate or missing shard (unless `--allow-partial`), another
//! inventory's report and malformed lines, each with exit 2 and a message naming the file.
//!
//! Network: every packet stays inside namespaces created here (`unshare -rnmpf`: only `lo`, a
//! resolv.conf pointing at 127.0.0.1 bind-mounted), or on 127.0.0.0/8.
#![allow(clippy::unwrap_used)]

mod common;

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use common::fleet::*;
use common::{
    dump_dir, rc_file as rc, read_file as read, records_file as records, show_output as show,
    str_or_null as s,
};

const SHARD_INVENTORY: &str = "\
targets:
  - name: block
    host: 127.0.0.0/29
    ports: [1001, 1002, 1004]
    expect: {app: [open, refused], default: reachable}
  - name: local
    host: localhost
    ports: \"1001-1003\"
    expect: open
  - name: two
    host: 127.0.0.2
    port: 1005
    expect: closed-by-peer
";

#[test]
fn shards_merge_to_the_unsharded_scan_and_bad_sets_are_refused() {
    let dir = tempfile::Builder::new()
        .prefix("telltale-shards-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let other = format!(
        "{SHARD_INVENTORY}  - {{name: extra, host: 127.0.0.3, port: 1001, expect: refused}}\n"
    );
    let common = "--vantage app --timeout 2s --retries 0 --linger 200ms --no-progress";
    let flags = format!("{common} --format ndjson");
    let mut body = String::from(
        "lab_start one --ip 127.0.0.1 --open 1001-1003\n\
         lab_start two --ip 127.0.0.2 --open 1001,1002 --closed 1005\n",
    );
    writeln!(
        body,
        "run_to full telltale scan inv.yaml {flags} -o full.ndjson"
    )
    .unwrap();
    for k in 1..=3 {
        writeln!(
            body,
            "run_to s{k} telltale scan inv.yaml {flags} --shard {k}/3 -o s{k}.ndjson"
        )
        .unwrap();
    }
    writeln!(
        body,
        "run_to other2 telltale scan other.yaml {flags} --shard 2/3 -o other2.ndjson"
    )
    .unwrap();
    // Shard 2 again as a JSON document: merge reads both report formats.
    writeln!(
        body,
        "run_to s2json telltale scan inv.yaml {common} --format json --shard 2/3 -o s2.json"
    )
    .unwrap();
    ns_run(
        d,
        &[
            ("inv.yaml", SHARD_INVENTORY.to_string()),
            ("other.yaml", other),
            ("hosts", "127.0.0.1 localhost\n".to_string()),
        ],
        &body,
    );
    for name in ["full", "s1", "s2", "s3", "other2", "s2json"] {
        assert_eq!(rc(d, name), 0, "{name}\n{}", dump_dir(d));
    }
    let full = records(&d.join("full.ndjson"));
    assert_eq!(full.len(), 6 * 3 + 3 + 1, "{full:#?}");
    let mut sizes = Vec::new();
    for k in 1..=3 {
        let recs = records(&d.join(format!("s{k}.ndjson")));
        sizes.push(recs.len());
        for r in &recs {
            assert_eq!(s(r, "shard"), format!("{k}/3"), "{r}");
            assert_eq!(s(r, "vantage"), "app", "{r}");
        }
    }
    assert_eq!(sizes, [8, 7, 7], "shard sizes");

    let f = |n: &str| p(&d.join(n)).to_string();
    let (s1, s2, s3) = (f("s1.ndjson"), f("s2.ndjson"), f("s3.ndjson"));

    // The three shards merge to the unsharded scan.
    let out = telltale(&["merge", &s1, &s2, &s3, "--format", "ndjson"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let merged: Vec<Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(apv(&merged), apv(&full), "merged shards ≠ unsharded scan");
    assert_eq!(merged.len(), full.len());
    // Shard order on the command line does not matter, nor the report format.
    let out = telltale(&["merge", &s3, &s1, &f("s2.json"), "--format", "ndjson"]);
    assert_eq!(code(&out), 0, "{}", show(&out));
    let merged: Vec<Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        apv(&merged),
        apv(&full),
        "shards with a JSON report ≠ unsharded scan"
    );

    // Duplicate shard: exit 2, both files named.
    let copy = f("s1-copy.ndjson");
    std::fs::copy(&s1, &copy).unwrap();
    let out = telltale(&["merge", &s1, &copy, &s2, &s3]);
    assert_eq!(code(&out), 2, "duplicate shard\n{}", show(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&s1) && e.contains(&copy) && e.contains("1/3"),
        "the message must name the shard and both files: {e}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing merged on error\n{}",
        show(&out)
    );

    // Missing shard: exit 2 naming it; --allow-partial merges with a warning.
    let out = telltale(&["merge", &s1, &s3]);
    assert_eq!(code(&out), 2, "missing shard\n{}", show(&out));
    let e = stderr(&out);
    assert!(
        e.contains("missing") && e.contains("2 of 3") && e.contains("--allow-partial"),
        "{e}"
    );
    let out = telltale(&["merge", &s1, &s3, "--allow-partial", "--format", "ndjson"]);
    assert!(
        matches!(code(&out), 0 | 1),
        "--allow-partial must merge\n{}",
        show(&out)
    );
    let e = stderr(&out);
    assert!(e.contains("warning") && e.contains("missing"), "{e}");
    let partial = String::from_utf8(out.stdout).unwrap();
    assert_eq!(partial.lines().count(), sizes[0] + sizes[2], "{partial}");

    // Reports of another inventory: exit 2, both digests' files named.
    let other2 = f("other2.ndjson");
    let out = telltale(&["merge", &s1, &other2, &s3]);
    assert_eq!(code(&out), 2, "different inventories\n{}", show(&out));
    let e = stderr(&out);
    assert!(
        e.contains("different inventories") && e.contains(&s1) && e.contains(&other2),
        "{e}"
    );

    // A truncated last line: exit 2, file and line named.
    let text = read(Path::new(&s2));
    let n_lines = text.lines().count();
    let cut = text.trim_end().len() - 25;
    let trunc = f("s2-truncated.ndjson");
    std::fs::write(&trunc, &text[..cut]).unwrap();
    let out = telltale(&["merge", &s1, &trunc, &s3]);
    assert_eq!(code(&out), 2, "truncated line\n{}", show(&out));
    let e = stderr(&out);
    assert!(
        e.contains(&format!("{trunc}:{n_lines}")),
        "must name file:line ({trunc}:{n_lines}): {e}"
    );
    // Garbage in the middle.
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{\"format_version\":1,\"name\": oops";
    let bad = f("s2-garbage.ndjson");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let out = telltale(&["merge", &s1, &bad, &s3]);
    assert_eq!(code(&out), 2, "malformed line\n{}", show(&out));
    assert!(stderr(&out).contains(&format!("{bad}:2")), "{}", show(&out));
}

/// A split with more shards than probes: the last shard legitimately probes nothing and
/// writes an empty report. All N files are given, so the split is complete and must merge to
/// the unsharded scan ("the union of all N shards is exactly the full scan"); a Kubernetes
/// Indexed Job with N pods over a small inventory produces exactly this.
#[test]
fn a_split_with_an_empty_shard_still_merges() {
    let dir = tempfile::Builder::new()
        .prefix("telltale-empty-shard-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let flags = "--vantage app --format ndjson --timeout 2s --retries 0 --linger 0 --no-progress";
    let mut body = String::from("lab_start one --ip 127.0.0.1 --open 1001\n");
    writeln!(
        body,
        "run_to full telltale scan inv.yaml {flags} -o full.ndjson"
    )
    .unwrap();
    for k in 1..=3 {
        writeln!(
            body,
            "run_to s{k} telltale scan inv.yaml {flags} --shard {k}/3 -o s{k}.ndjson"
        )
        .unwrap();
    }
    ns_run(
        d,
        &[(
            "inv.yaml",
            "targets:\n  - {host: 127.0.0.1, ports: [1001, 1002], expect: [open, refused]}\n"
                .to_string(),
        )],
        &body,
    );
    for name in ["full", "s1", "s2", "s3"] {
        assert_eq!(rc(d, name), 0, "{name}\n{}", dump_dir(d));
    }
    assert!(
        records(&d.join("s3.ndjson")).is_empty(),
        "shard 3/3 of 2 probes"
    );
    let f = |n: &str| p(&d.join(n)).to_string();
    let out = telltale(&[
        "merge",
        &f("s1.ndjson"),
        &f("s2.ndjson"),
        &f("s3.ndjson"),
        "--format",
        "ndjson",
    ]);
    assert_eq!(
        code(&out),
        0,
        "all 3 shard files given (one legitimately empty): the split is complete\n{}",
        show(&out)
    );
    let merged: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(apv(&merged), apv(&records(&d.join("full.ndjson"))));
}
