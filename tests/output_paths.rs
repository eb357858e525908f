//! Where `-o PATH` / `--also FORMAT=PATH` write: a regular file or a new path is replaced
//! atomically, a device, FIFO or `/dev/stdout` is written in place, a symlink is followed (the
//! link stays), `-` is stdout; a directory is refused before any probe; a second SIGINT leaves
//! no temp file behind.
//!
//! Everything touching `/dev` runs in a private mount namespace (`unshare -m --propagation
//! private`) with a fresh tmpfs over `/dev` holding its own `mknod /dev/null c 1 3`, so the
//! machine's `/dev/null` and `/dev/stdout` are never at risk, not even on a broken build. These
//! tests need root (mknod); they fail, never skip, without it.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// One target: the canary (connect-only), expected open.
fn canary_inventory(c: &Canary) -> Inventory {
    inventory(&format!(
        "defaults: {{linger: 0s}}\ntargets:\n  - {{name: canary, host: \"127.0.0.1\", port: {}, expect: open}}\n",
        c.port()
    ))
}

/// The flags every scan here uses.
const QUIET: &[&str] = &["--no-progress", "--no-detect-wildcard", "--retries", "0"];

fn scan_args(inv: &Inventory, flags: &[&str]) -> Vec<String> {
    let mut a = vec!["scan".to_string(), inv.arg()];
    a.extend(QUIET.iter().chain(flags).map(|s| s.to_string()));
    a
}

/// A JSON report with the canary's one open result.
fn assert_report(text: &str, what: &str) {
    let doc: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{what} is not one JSON document: {e}\n{text:?}"));
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{what}: {text}");
    assert_verdict(&results[0], "open");
}

fn require_root() {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "tests/output_paths.rs needs root (mknod of a private /dev/null in a mount namespace); \
         refusing to skip silently"
    );
}

/// A fresh tmpfs over `/dev` with its own null device and the usual fd links.
const PRIVATE_DEV: &str = r#"
[ "$(readlink /proc/self/ns/mnt)" != "$HOST_MNT_NS" ] || { echo "not in a new mount namespace" >&2; exit 99; }
mount -t tmpfs -o mode=755 none /dev
mknod -m 666 /dev/null c 1 3
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
"#;

/// Runs `body` (after `set -e`) in a private mount namespace; `$BIN` is telltale, `$DIR` is `dir`.
/// The script must succeed; its own failures (mount, mknod) panic with its output.
fn in_mount_ns(dir: &Path, body: &str) -> Output {
    require_root();
    require_tools(&["unshare", "mount", "mknod", "stat", "timeout", "readlink"]);
    let host_ns = std::fs::read_link("/proc/self/ns/mnt").expect("read /proc/self/ns/mnt");
    let out = Command::new("timeout")
        .args([
            "-s",
            "KILL",
            "60",
            "unshare",
            "-m",
            "--propagation",
            "private",
        ])
        .args(["sh", "-c", &format!("set -e\n{body}\n")])
        .env("BIN", BIN)
        .env("DIR", dir)
        .env("HOST_MNT_NS", host_ns)
        .env(
            "PATH",
            format!(
                "{}:/usr/sbin:/sbin",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
            ),
        )
        .output()
        .expect("run unshare");
    assert!(
        out.status.success(),
        "mount-namespace script failed:\n{}",
        show_output(&out)
    );
    out
}

/// Run as root, `-o /dev/null` used to rename a regular file over the device node.
#[test]
fn dev_null_stays_a_device() {
    let mut c = Canary::new();
    let inv = canary_inventory(&c);
    let dir = tempfile::tempdir().unwrap();
    let args = scan_args(&inv, &["--format", "json", "-o", "/dev/null"]).join(" ");
    in_mount_ns(
        dir.path(),
        &format!(
            "{PRIVATE_DEV}\
             rc=0; \"$BIN\" {args} >\"$DIR/out\" 2>\"$DIR/err\" || rc=$?\n\
             echo $rc >\"$DIR/rc\"\n\
             stat -c '%F %a %t:%T %s' /dev/null >\"$DIR/stat\"\n"
        ),
    );
    let err = read_file(&dir.path().join("err"));
    assert_eq!(read_file(&dir.path().join("rc")).trim(), "0", "{err}");
    assert_eq!(
        read_file(&dir.path().join("stat")).trim(),
        "character special file 666 1:3 0",
        "/dev/null must still be the null device with its mode\n{err}"
    );
    assert_eq!(c.accepted(), 1, "the scan ran");
}

/// `-o /dev/stdout` with stdout a pipe: the report reaches the pipe, the link stays.
#[test]
fn dev_stdout_reaches_the_pipe() {
    let mut c = Canary::new();
    let inv = canary_inventory(&c);
    let dir = tempfile::tempdir().unwrap();
    let args = scan_args(&inv, &["--format", "json", "-o", "/dev/stdout"]).join(" ");
    in_mount_ns(
        dir.path(),
        &format!(
            "{PRIVATE_DEV}\
             {{ rc=0; \"$BIN\" {args} 2>\"$DIR/err\" || rc=$?; echo $rc >\"$DIR/rc\"; }} | cat >\"$DIR/out\"\n\
             stat -c '%F' /dev/stdout >\"$DIR/stat\"\n"
        ),
    );
    let err = read_file(&dir.path().join("err"));
    assert_eq!(read_file(&dir.path().join("rc")).trim(), "0", "{err}");
    assert_report(&read_file(&dir.path().join("out")), "what reached the pipe");
    assert_eq!(
        read_file(&dir.path().join("stat")).trim(),
        "symbolic link",
        "/dev/stdout must stay a symlink"
    );
    assert_eq!(c.accepted(), 1);
}

/// `-o -` is stdout; no file named `-` appears.
#[test]
fn dash_is_stdout() {
    let mut c = Canary::new();
    let inv = canary_inventory(&c);
    let cwd = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(scan_args(&inv, &["--format", "json", "-o", "-"]))
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show_output(&out));
    assert_report(&String::from_utf8_lossy(&out.stdout), "stdout");
    assert!(
        dir_listing(cwd.path()).is_empty(),
        "{:?}",
        dir_listing(cwd.path())
    );
    assert_eq!(c.accepted(), 1);
}

/// A FIFO is written in place and read by its reader; it is still a FIFO afterwards.
#[test]
fn fifo_is_written_in_place() {
    require_tools(&["mkfifo"]);
    let mut c = Canary::new();
    let inv = canary_inventory(&c);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let (tx, rx) = mpsc::channel();
    let path = fifo.clone();
    thread::spawn(move || {
        let mut s = String::new();
        let r = std::fs::File::open(&path).and_then(|mut f| f.read_to_string(&mut s));
        let _ = tx.send(r.map(|_| s));
    });
    let run = run(
        &scan_args(&inv, &["--format", "json", "-o", fifo.to_str().unwrap()]),
        HANG_GUARD,
    );
    run.assert_code(0);
    let ft = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&ft),
        "the FIFO was replaced by {ft:?}\n{}",
        run.dump()
    );
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the reader got nothing within 10 s")
        .unwrap();
    assert_report(&got, "what the FIFO's reader read");
    assert_eq!(dir_listing(dir.path()), vec!["report.fifo"]);
    assert_eq!(c.accepted(), 1);
}

/// With no reader yet, the scan waits for one before the first probe (like a shell redirect),
/// and the first Ctrl-C while waiting gives up: exit 3, nothing probed.
#[test]
fn fifo_without_reader_waits_before_probing() {
    require_tools(&["mkfifo"]);
    let mut c = Canary::new();
    let inv = canary_inventory(&c);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("later.fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let args = scan_args(&inv, &["--format", "json", "-o", fifo.to_str().unwrap()]);

    let mut p = Proc::spawn(&args);
    thread::sleep(Duration::from_millis(700));
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "exited without a reader"
    );
    assert_eq!(c.accepted(), 0, "probed before the FIFO had a reader");
    let path = fifo.clone();
    let reader = thread::spawn(move || {
        let mut s = String::new();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_string(&mut s))
            .map(|_| s)
    });
    let run = p.finish(HANG_GUARD);
    run.assert_code(0);
    assert!(
        run.stderr.contains("waiting for a reader"),
        "{}",
        run.dump()
    );
    assert_report(&reader.join().unwrap().unwrap(), "the late reader's text");
    assert_eq!(c.accepted(), 1);

    let mut p = Proc::spawn(&args);
    thread::sleep(Duration::from_millis(500));
    p.signal("INT");
    let run = p.finish(Duration::from_secs(5));
    run.assert_code(3);
    assert!(run.stderr.contains("nothing scanned"), "{}", run.dump());
    assert_eq!(c.accepted(), 0, "probed although nobody ever read");
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(
        &std::fs::symlink_metadata(&fifo).unwrap().file_type()
    ));
}

/// A symlink is followed: the file it leads to is replaced atomically (its mode kept, a new
/// inode), a dangling link creates its target; the links stay links. The targets live on another
/// filesystem (a tmpfs in a private mount namespace), so a temp file made beside the link instead
/// of beside the target could not be renamed into place.
#[test]
fn symlinks_are_followed_and_stay_links() {
    let mut c = Canary::new();
    let inv = canary_inventory(&c);
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("A");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(dir.path().join("B")).unwrap();
    let scan = |out: &str| scan_args(&inv, &["--format", "json", "-o", out]).join(" ");
    in_mount_ns(
        dir.path(),
        &format!(
            "mount -t tmpfs none \"$DIR/B\"\n\
             umask 022\n\
             echo 'old report' >\"$DIR/B/report.json\"; chmod 640 \"$DIR/B/report.json\"\n\
             stat -c %i \"$DIR/B/report.json\" >\"$DIR/A/ino.before\"\n\
             ln -s ../B/report.json \"$DIR/A/link\"\n\
             ln -s ../B/new.json \"$DIR/A/dangling\"\n\
             rc=0; \"$BIN\" {} 2>\"$DIR/A/err1\" || rc=$?; echo $rc >\"$DIR/A/rc1\"\n\
             rc=0; \"$BIN\" {} 2>\"$DIR/A/err2\" || rc=$?; echo $rc >\"$DIR/A/rc2\"\n\
             stat -c %i \"$DIR/B/report.json\" >\"$DIR/A/ino.after\"\n\
             stat -c %a \"$DIR/B/report.json\" >\"$DIR/A/mode.report\"\n\
             stat -c %a \"$DIR/B/new.json\" >\"$DIR/A/mode.new\" || true\n\
             cp \"$DIR/B/report.json\" \"$DIR/A/got.report\"\n\
             cp \"$DIR/B/new.json\" \"$DIR/A/got.new\" || true\n\
             ls -A \"$DIR/B\" >\"$DIR/A/ls.B\"\n",
            scan("\"$DIR/A/link\""),
            scan("\"$DIR/A/dangling\"")
        ),
    );
    let f = |n: &str| read_file(&a.join(n)).trim().to_string();
    assert_eq!(f("rc1"), "0", "{}", f("err1"));
    assert_eq!(f("rc2"), "0", "{}", f("err2"));
    for (link, to) in [("link", "../B/report.json"), ("dangling", "../B/new.json")] {
        let p = a.join(link);
        assert!(
            std::fs::symlink_metadata(&p)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{link} is no longer a symlink"
        );
        assert_eq!(std::fs::read_link(&p).unwrap(), Path::new(to));
    }
    assert_report(&f("got.report"), "the file the link leads to");
    assert_report(&f("got.new"), "the dangling link's new target");
    assert_eq!(f("mode.report"), "640", "the replaced file's mode is kept");
    assert_eq!(f("mode.new"), "644", "a new file gets 0666 & ~umask");
    assert_ne!(
        f("ino.before"),
        f("ino.after"),
        "replaced by rename, not rewritten"
    );
    assert_eq!(
        f("ls.B"),
        "new.json\nreport.json",
        "no temp file left beside the targets"
    );
    let mut left = dir_listing(&a);
    left.retain(|n| n.starts_with('.'));
    assert!(left.is_empty(), "temp files beside the links: {left:?}");
    assert_eq!(c.accepted(), 2);
}

/// `-o DIR`, `-o DIR/`, `-o MISSING/` and `--also json=DIR`: exit 2 naming the flag and the
/// path, before any probe (the canary sees no connection) and without a temp file.
#[test]
fn directory_outputs_fail_before_any_probe() {
    let mut c = Canary::new();
    let inv = canary_inventory(&c);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("reports");
    std::fs::create_dir(&d).unwrap();
    let d = d.to_str().unwrap().to_string();
    let missing = format!("{}/missing/", dir.path().display());
    let cases: Vec<(Vec<String>, String)> = vec![
        (vec!["-o".into(), d.clone()], format!("-o {d}")),
        (vec!["-o".into(), format!("{d}/")], format!("-o {d}/")),
        (vec!["-o".into(), missing.clone()], format!("-o {missing}")),
        (
            vec!["--also".into(), format!("json={d}")],
            format!("--also json={d}"),
        ),
        (
            vec![
                "-o".into(),
                format!("{}/ok.json", dir.path().display()),
                "--also".into(),
                format!("csv={d}/"),
            ],
            format!("--also csv={d}/"),
        ),
    ];
    for (flags, named) in cases {
        let mut f: Vec<&str> = vec!["--format", "json"];
        f.extend(flags.iter().map(String::as_str));
        let run = run(&scan_args(&inv, &f), HANG_GUARD);
        run.assert_code(2);
        run.assert_no_panic();
        assert!(
            run.stderr.contains(&named),
            "stderr must name `{named}`\n{}",
            run.dump()
        );
        assert!(run.stderr.contains("directory"), "{}", run.dump());
        assert!(run.stdout.trim().is_empty(), "{}", run.dump());
        assert_eq!(
            c.accepted(),
            0,
            "probed although {named} is invalid\n{}",
            run.dump()
        );
        assert_eq!(dir_listing(dir.path()), vec!["reports"], "{flags:?}");
        assert!(dir_listing(Path::new(&d)).is_empty(), "{flags:?}");
    }
}

/// A second SIGINT exits at once (130) without leaving `.NAME.XXXX.tmp` beside the output. The
/// scan is held in flight by an undrained stdout pipe while `--also json=FILE` has its temp file
/// open.
#[test]
fn second_sigint_leaves_no_temp_file() {
    // 250 distinct refused ports (the same address:port twice is probed once): ~110 KB of
    // NDJSON, more than a 64 KiB pipe holds.
    let flags: Vec<&str> = ["--refused", "0"].repeat(250);
    let lab = Lab::start_args("127.0.0.1", &flags);
    let lines: Vec<String> = lab
        .addrs("refused")
        .iter()
        .enumerate()
        .map(|(i, a)| target(&format!("r{i}"), *a, "refused"))
        .collect();
    assert_eq!(lines.len(), 250);
    let inv = inventory(&targets(&lines));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.json");
    std::fs::write(&file, "old report\n").unwrap();
    let also = format!("json={}", file.display());
    let args = scan_args(&inv, &["--format", "ndjson", "--also", &also]);
    let (mut p, stdout) = Proc::spawn_raw_stdout(&args);
    // Wait until the stdout pipe is full: the process stays alive, the temp file exists.
    let mut tmp_seen = false;
    for _ in 0..100 {
        thread::sleep(Duration::from_millis(50));
        tmp_seen |= dir_listing(dir.path()).iter().any(|n| n.ends_with(".tmp"));
        if tmp_seen {
            break;
        }
    }
    assert!(
        tmp_seen,
        "no temp file while scanning: {:?}",
        dir_listing(dir.path())
    );
    thread::sleep(Duration::from_millis(500));
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "the scan finished although stdout is not read"
    );
    p.signal("INT");
    thread::sleep(Duration::from_millis(500));
    assert!(
        p.child.try_wait().unwrap().is_none(),
        "still blocked on stdout"
    );
    p.signal("INT");
    let status = p
        .wait_for(Duration::from_secs(5))
        .expect("exit after the second SIGINT");
    drop(stdout);
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_eq!(
        dir_listing(dir.path()),
        vec!["out.json"],
        "a temp file was left behind"
    );
    assert_eq!(
        read_file(&file),
        "old report\n",
        "the old report stays intact"
    );
}
