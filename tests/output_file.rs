//! `-o FILE`: the whole document in every format, written by rename (an existing file is
//! replaced whole, never rewritten in place, and stays intact until the new one is complete,
//! even when the run is interrupted), with the mode the umask gives (node_exporter reads it).
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A fast inventory (connect-only): one open, one refused, all as expected.
fn quick(lab: &Lab) -> Inventory {
    inventory(&format!(
        "defaults: {{linger: 0s}}\n{}",
        targets(&[
            target("o", lab.addr("open"), "open"),
            target("r", lab.addr("refused"), "refused"),
        ])
        .trim_start()
    ))
}

fn check_document(format: &str, text: &str) {
    match format {
        "json" => {
            let doc: Value = serde_json::from_str(text).unwrap();
            assert_eq!(doc["results"].as_array().unwrap().len(), 2);
            assert_eq!(doc["summary"]["total"], 2);
        }
        "ndjson" => assert_eq!(parse_ndjson(text).unwrap().len(), 2),
        "csv" => {
            assert_eq!(text.lines().next().unwrap(), CSV_HEADER);
            assert_eq!(text.lines().count(), 3, "{text}");
        }
        "junit" => {
            let doc = roxmltree::Document::parse(text).unwrap();
            assert_eq!(doc.root_element().attribute("tests"), Some("2"));
        }
        "table" => assert!(text.contains("2 probes, 2 as expected"), "{text}"),
        _ => unreachable!(),
    }
}

#[test]
fn output_file_holds_the_whole_document_in_every_format() {
    let lab = Lab::start("127.0.0.1", &["open", "refused"]);
    let inv = quick(&lab);
    for format in ["json", "ndjson", "csv", "junit", "table"] {
        let out = tempfile::tempdir().unwrap();
        let file = out.path().join(format!("result.{format}"));
        let run = scan(&inv, &["--format", format, "-o", file.to_str().unwrap()]);
        run.assert_code(0);
        assert!(
            run.stdout.trim().is_empty(),
            "-o: nothing on stdout\n{}",
            run.dump()
        );
        let text = std::fs::read_to_string(&file).unwrap();
        check_document(format, &text);
        assert_eq!(
            dir_listing(out.path()),
            vec![format!("result.{format}")],
            "no temp files left behind"
        );
    }
}

#[test]
fn output_file_replaces_existing_by_rename() {
    let lab = Lab::start("127.0.0.1", &["open", "refused"]);
    let inv = quick(&lab);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("out.json");
    std::fs::write(
        &file,
        "garbage that is not json, and longer than nothing at all".repeat(100),
    )
    .unwrap();
    let ino_before = std::fs::metadata(&file).unwrap().ino();
    let run = scan(
        &inv,
        &["--format", "json", "--output", file.to_str().unwrap()],
    );
    run.assert_code(0);
    let text = std::fs::read_to_string(&file).unwrap();
    check_document("json", &text);
    assert_ne!(
        std::fs::metadata(&file).unwrap().ino(),
        ino_before,
        "the file must be replaced by rename, not rewritten in place"
    );
    assert_eq!(dir_listing(out.path()), vec!["out.json".to_string()]);
}

#[test]
fn output_file_of_interrupted_run_is_complete_and_marked() {
    let lab = Lab::start("127.0.0.1", &["open", "refused", "filtered"]);
    let more = Lab::start("127.0.0.1", &["filtered"]);
    let inv = inventory(&targets(&[
        target("fast-open", lab.addr("open"), "open"),
        target("fast-refused", lab.addr("refused"), "refused"),
        target("slow-a", lab.addr("filtered"), "filtered"),
        target("slow-b", more.addr("filtered"), "filtered"),
    ]));
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("out.json");
    let old = "{\"old\": true}\n";
    std::fs::write(&file, old).unwrap();
    let mut p = Proc::spawn(&[
        "scan",
        &inv.arg(),
        "--format",
        "json",
        "-o",
        file.to_str().unwrap(),
        "--timeout",
        "10s",
        "--linger",
        "200ms",
    ]);
    for _ in 0..15 {
        thread::sleep(Duration::from_millis(100));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            old,
            "the old file must stay intact until the new one is complete"
        );
    }
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "scan ended too early"
    );
    p.signal("INT");
    let run = p.finish(Duration::from_secs(10));
    run.assert_code(3);
    run.assert_no_panic();
    assert!(run.stdout.trim().is_empty(), "{}", run.dump());
    let text = std::fs::read_to_string(&file).unwrap();
    let doc: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("interrupted -o file is not a complete document: {e}\n{text}"));
    let sum = &doc["summary"];
    assert_eq!(sum["interrupted"], true, "{sum}");
    assert_eq!(sum["incomplete"], true, "{sum}");
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{text}");
    assert_verdict(by_name(results, "fast-open"), "open");
    assert_verdict(by_name(results, "fast-refused"), "refused");
    assert_verdict(by_name(results, "slow-a"), "interrupted");
    assert_verdict(by_name(results, "slow-b"), "interrupted");
    assert_eq!(sum["counts"]["interrupted"], 2, "{sum}");
    assert_eq!(sum["counts"]["filtered"], 0, "{sum}");
    assert_eq!(dir_listing(out.path()), vec!["out.json".to_string()]);
}

/// node_exporter's textfile collector runs as its own user: an `-o` file must get the usual
/// mode for the umask (0644 under umask 022), not the 0600 of a private temp file, or the
/// metrics silently vanish from the scrape.
#[test]
fn output_file_mode_follows_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv.yaml");
    // Port 1 on loopback (nothing listens there: refused at once); any answer is accepted.
    std::fs::write(
        &inv,
        "targets:\n  - {host: 127.0.0.1, port: 1, expect: [refused, open, closed-by-peer, reset-by-peer]}\n",
    )
    .unwrap();
    let mut modes = Vec::new();
    for (format, file) in [("prometheus", "telltale.prom"), ("ndjson", "report.ndjson")] {
        let out = Command::new("sh")
            .arg("-c")
            .arg("umask 022; exec \"$0\" \"$@\"")
            .arg(BIN)
            .args([
                "scan",
                inv.to_str().unwrap(),
                "--no-progress",
                "--retries",
                "0",
            ])
            .args(["--no-detect-wildcard", "--format", format, "-o"])
            .arg(dir.path().join(file))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        modes.push((file, mode));
    }
    assert!(
        modes.iter().all(|(_, m)| *m == 0o644),
        "-o file modes under umask 022: {:?}",
        modes
            .iter()
            .map(|(f, m)| format!("{f} {m:o}"))
            .collect::<Vec<_>>()
    );
}
