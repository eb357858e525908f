//! `scan --baseline` from another vantage: refused before a single probe (exit 2), with both
//! ways out named (`--vantage`, `--vantage-map`), and each of them then works; the drift is
//! part of the table sink (it follows the table into `-o`).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn baseline_from_another_vantage_is_refused_before_scanning() {
    let lab = Lab::start("127.0.0.1", &["refused"]);
    let mut canary = Canary::new();
    let inv = inventory(&targets(&[
        target("r", lab.addr("refused"), "refused"),
        target("canary", canary.addr(), "open"),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("ops.ndjson");
    let base_arg = base.to_str().unwrap();
    let first = scan(
        &inv,
        &["--vantage", "ops", "--format", "ndjson", "-o", base_arg],
    );
    first.assert_code(0);
    assert_eq!(canary.accepted(), 1);

    let other = scan(&inv, &["--vantage", "dmz", "--baseline", base_arg]);
    other.assert_code(2);
    assert_eq!(canary.accepted(), 0, "nothing is scanned: {}", other.dump());
    for want in [
        "vantage `ops`",
        "--vantage ops",
        "--vantage-map ops=dmz",
        "nothing scanned",
    ] {
        assert!(other.stderr.contains(want), "{want:?}\n{}", other.dump());
    }
    assert!(other.stdout.is_empty(), "{}", other.dump());

    let same = scan(&inv, &["--vantage", "ops", "--baseline", base_arg]);
    same.assert_code(0);
    assert!(same.stdout.contains("no drift"), "{}", same.dump());
    assert_eq!(canary.accepted(), 1);

    // The drift is part of the table, wherever the table goes: here into `-o`, not stdout.
    let table_file = dir.path().join("table.txt");
    let into_file = scan(
        &inv,
        &[
            "--vantage",
            "ops",
            "--baseline",
            base_arg,
            "-o",
            table_file.to_str().unwrap(),
        ],
    );
    into_file.assert_code(0);
    let table = std::fs::read_to_string(&table_file).unwrap();
    assert!(
        table.contains("DRIFT since") && table.contains("no drift"),
        "{table}\n{}",
        into_file.dump()
    );
    assert!(!into_file.stderr.contains("DRIFT"), "{}", into_file.dump());
    assert_eq!(canary.accepted(), 1);

    let mapped = scan(
        &inv,
        &[
            "--vantage",
            "dmz",
            "--baseline",
            base_arg,
            "--vantage-map",
            "ops=dmz",
        ],
    );
    mapped.assert_code(0);
    assert!(mapped.stdout.contains("no drift"), "{}", mapped.dump());

    let wrong = scan(
        &inv,
        &[
            "--vantage",
            "dmz",
            "--baseline",
            base_arg,
            "--vantage-map",
            "ops=app",
        ],
    );
    wrong.assert_code(2);
    assert!(
        wrong.stderr.contains("after --vantage-map"),
        "{}",
        wrong.dump()
    );
}
