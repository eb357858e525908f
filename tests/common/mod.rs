//! Shared harness for the end-to-end tests: the `telltale` binary, a loopback `Lab` fixture
//! (`telltale lab`), temporary inventories, a runner that never hangs a test, and the
//! network-namespace runner (`NsSpec`, `Ns`) with its shell helpers in `tests/lab/`.
//!
//! Every address used here is a loopback literal; nothing resolves outside names. Namespace
//! scripts run in fresh `unshare -rnmpf` namespaces where only `lo` exists.
#![allow(dead_code, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// Path of the binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_telltale");

/// Upper bound for any single command started by a test (a hang guard, not a speed target).
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// Every key of an NDJSON / JSON record, as listed in the interface contract.
pub const RECORD_KEYS: &[&str] = &[
    "format_version",
    "name",
    "host",
    "addr",
    "port",
    "verdict",
    "expect",
    "ok",
    "connect_ms",
    "closed_after_ms",
    "banner",
    "detail",
    "errno",
    "attempts",
    "tags",
];

/// Every verdict string, `interrupted` included.
pub const VERDICTS: &[&str] = &[
    "open",
    "closed-by-peer",
    "reset-by-peer",
    "refused",
    "unreachable",
    "filtered",
    "dns-error",
    "local-error",
    "interrupted",
];

/// Raw banner bytes of the lab's `banner` service, escaped as in the records.
pub const SSH_BANNER: &str = r"SSH-2.0-telltale-lab\r\n";
/// Raw message of the lab's `closed-msg` service, escaped.
pub const DENY_MSG: &str = r"Host is not allowed to connect\r\n";
/// Raw banner of the lab's `banner-reset` service, escaped.
pub const RST_BANNER: &str = r"BANNER-THEN-RST\r\n";

// ---------------------------------------------------------------------------------------------
// Lab fixture
// ---------------------------------------------------------------------------------------------

/// A `telltale lab` child process serving loopback services; killed on drop.
pub struct Lab {
    child: Child,
    /// `(kind, address)` in the order the lab printed them.
    pub services: Vec<(String, SocketAddr)>,
    stderr: Arc<Mutex<String>>,
}

impl Lab {
    /// One service of each given kind on an ephemeral port: `Lab::start("127.0.0.1", &["open", "refused"])`.
    pub fn start(ip: &str, kinds: &[&str]) -> Lab {
        let mut args = Vec::new();
        for k in kinds {
            args.push(format!("--{k}"));
            args.push("0".to_string());
        }
        Self::start_args(ip, &args)
    }

    /// Raw `lab` arguments after `--ip IP`.
    pub fn start_args<S: AsRef<str>>(ip: &str, args: &[S]) -> Lab {
        let mut child = Command::new(BIN)
            .arg("lab")
            .arg("--ip")
            .arg(ip)
            .args(args.iter().map(AsRef::as_ref))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn telltale lab");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let err_buf = Arc::new(Mutex::new(String::new()));
        {
            let err_buf = Arc::clone(&err_buf);
            thread::spawn(move || {
                let mut r = BufReader::new(stderr);
                let mut line = String::new();
                while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    err_buf.lock().unwrap().push_str(&line);
                    line.clear();
                }
            });
        }
        let (tx, rx) = mpsc::channel::<String>();
        thread::spawn(move || {
            // Keep draining after `ready` so the lab never blocks on a full pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut lab = Lab {
            child,
            services: Vec::new(),
            stderr: err_buf,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let line = line.trim();
                    if line == "ready" {
                        break;
                    }
                    if line.is_empty() {
                        continue;
                    }
                    let (kind, addr) = line
                        .split_once(' ')
                        .unwrap_or_else(|| panic!("bad lab line {line:?}"));
                    let addr: SocketAddr = addr
                        .trim()
                        .parse()
                        .unwrap_or_else(|e| panic!("bad lab address in {line:?}: {e}"));
                    lab.services.push((kind.to_string(), addr));
                }
                Err(_) => {
                    let status = lab.child.try_wait().ok().flatten();
                    panic!(
                        "lab did not print `ready` within 10 s (exit status {status:?}); got {:?}; stderr:\n{}",
                        lab.services,
                        lab.stderr()
                    );
                }
            }
        }
        lab
    }

    /// The lab's stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// All addresses of one kind.
    pub fn addrs(&self, kind: &str) -> Vec<SocketAddr> {
        self.services
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, a)| *a)
            .collect()
    }

    /// The first address of one kind (panics if the lab has none).
    pub fn addr(&self, kind: &str) -> SocketAddr {
        *self.addrs(kind).first().unwrap_or_else(|| {
            panic!(
                "lab has no `{kind}` service; it printed {:?}",
                self.services
            )
        })
    }

    /// The first port of one kind.
    pub fn port(&self, kind: &str) -> u16 {
        self.addr(kind).port()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Inventories
// ---------------------------------------------------------------------------------------------

/// A YAML inventory in its own temporary directory (removed on drop).
pub struct Inventory {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Inventory {
    /// The path as given to the CLI (absolute).
    pub fn arg(&self) -> String {
        self.path.to_str().unwrap().to_string()
    }
}

/// Writes `yaml` to `inv.yaml` in a fresh temp dir.
pub fn inventory(yaml: &str) -> Inventory {
    inventory_named("inv.yaml", yaml)
}

/// Writes `yaml` to `name` in a fresh temp dir.
pub fn inventory_named(name: &str, yaml: &str) -> Inventory {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, yaml).unwrap();
    Inventory { dir, path }
}

/// One flow-style target line: `  - {name: N, host: "IP", port: P, expect: E}`.
/// `expect` is inserted verbatim (a verdict, an alias or a flow list such as `[open, refused]`).
pub fn target(name: &str, addr: SocketAddr, expect: &str) -> String {
    format!(
        "  - {{name: {name}, host: \"{}\", port: {}, expect: {expect}}}\n",
        addr.ip(),
        addr.port()
    )
}

/// `targets:` followed by the given target lines.
pub fn targets(lines: &[String]) -> String {
    let mut s = String::from("targets:\n");
    for l in lines {
        s.push_str(l);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------------------------

/// The outcome of one finished command.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub args: Vec<String>,
}

impl Run {
    /// Exit code (None if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Everything worth showing when an assertion fails.
    pub fn dump(&self) -> String {
        format!(
            "telltale {:?}\nstatus: {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args, self.status, self.elapsed, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code.
    pub fn assert_code(&self, code: i32) {
        assert_eq!(
            self.code(),
            Some(code),
            "expected exit code {code}\n{}",
            self.dump()
        );
    }

    /// Asserts no panic message reached stderr.
    pub fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked"),
            "stderr shows a panic\n{}",
            self.dump()
        );
        assert_ne!(self.code(), Some(101), "exit 101 (panic)\n{}", self.dump());
    }

    /// stdout parsed as NDJSON.
    pub fn records(&self) -> Vec<Value> {
        parse_ndjson(&self.stdout).unwrap_or_else(|e| panic!("{e}\n{}", self.dump()))
    }

    /// stdout parsed as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", self.dump()))
    }
}

/// Runs `telltale ARGS` to completion (killing it after `timeout`).
pub fn run<S: AsRef<str>>(args: &[S], timeout: Duration) -> Run {
    let mut p = Proc::spawn(args);
    p.finish(timeout)
}

/// `telltale scan INV FLAGS...` with the hang guard.
pub fn scan(inv: &Inventory, flags: &[&str]) -> Run {
    let mut args = vec!["scan".to_string(), inv.arg()];
    args.extend(flags.iter().map(|s| s.to_string()));
    run(&args, HANG_GUARD)
}

/// `telltale scan INV --format ndjson FLAGS...`, asserting the exit code, returning the records.
pub fn scan_ndjson(inv: &Inventory, flags: &[&str], code: i32) -> (Vec<Value>, Run) {
    let mut f = vec!["--format", "ndjson"];
    f.extend_from_slice(flags);
    let r = scan(inv, &f);
    r.assert_code(code);
    r.assert_no_panic();
    (r.records(), r)
}

/// A running `telltale` child with stdout/stderr collected by background threads.
pub struct Proc {
    pub child: Child,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<Vec<u8>>>,
    start: Instant,
    args: Vec<String>,
}

fn drain<R: Read + Send + 'static>(mut r: R) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

impl Proc {
    /// Spawns `telltale ARGS` with stdin closed and stdout/stderr captured.
    pub fn spawn<S: AsRef<str>>(args: &[S]) -> Proc {
        let args: Vec<String> = args.iter().map(|s| s.as_ref().to_string()).collect();
        let mut cmd = Command::new(BIN);
        cmd.args(&args);
        Self::spawn_command(cmd, args)
    }

    /// Spawns an arbitrary command (e.g. `flock LOCK telltale demo`) the same way.
    pub fn spawn_command(mut cmd: Command, args: Vec<String>) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn telltale");
        let out = drain(child.stdout.take().unwrap());
        let err = drain(child.stderr.take().unwrap());
        Proc {
            child,
            out: Some(out),
            err: Some(err),
            start: Instant::now(),
            args,
        }
    }

    /// Spawns with stdout piped but NOT drained: the caller owns `stdout`.
    pub fn spawn_raw_stdout<S: AsRef<str>>(args: &[S]) -> (Proc, ChildStdout) {
        let args: Vec<String> = args.iter().map(|s| s.as_ref().to_string()).collect();
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn telltale");
        let stdout = child.stdout.take().unwrap();
        let err = drain(child.stderr.take().unwrap());
        (
            Proc {
                child,
                out: None,
                err: Some(err),
                start: Instant::now(),
                args,
            },
            stdout,
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Time since spawn.
    pub fn age(&self) -> Duration {
        self.start.elapsed()
    }

    /// Sends a signal by name ("INT", "TERM") with the `kill` command (the crate denies unsafe code).
    pub fn signal(&self, sig: &str) {
        send_signal(self.pid(), sig);
    }

    /// Waits up to `timeout` for exit; returns None if still running.
    pub fn wait_for(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for exit (killing after `timeout` and panicking), then collects output.
    pub fn finish(&mut self, timeout: Duration) -> Run {
        let status = self.wait_for(timeout);
        let elapsed = self.start.elapsed();
        let timed_out = status.is_none();
        if timed_out {
            let _ = self.child.kill();
        }
        let status = status.unwrap_or_else(|| self.child.wait().unwrap());
        let stdout = self
            .out
            .take()
            .map(|h| String::from_utf8_lossy(&h.join().unwrap()).into_owned())
            .unwrap_or_default();
        let stderr = self
            .err
            .take()
            .map(|h| String::from_utf8_lossy(&h.join().unwrap()).into_owned())
            .unwrap_or_default();
        let run = Run {
            status,
            stdout,
            stderr,
            elapsed,
            args: self.args.clone(),
        };
        assert!(
            !timed_out,
            "telltale did not exit within {timeout:?} (killed)\n{}",
            run.dump()
        );
        run
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `kill -SIG PID`.
pub fn send_signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -{sig} {pid} failed: {st:?}");
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// Parses NDJSON: every non-empty line must be a JSON object.
pub fn parse_ndjson(s: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for (i, line) in s.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| format!("ndjson line {} is not JSON ({e}): {line:?}", i + 1))?;
        if !v.is_object() {
            return Err(format!("ndjson line {} is not an object: {line:?}", i + 1));
        }
        out.push(v);
    }
    Ok(out)
}

/// The single record with `name`.
pub fn by_name<'a>(recs: &'a [Value], name: &str) -> &'a Value {
    let hits: Vec<&Value> = recs.iter().filter(|r| r["name"] == name).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected exactly one record named {name:?}, got {}: {}",
        hits.len(),
        show(recs)
    );
    hits[0]
}

/// All records with `name`.
pub fn all_named<'a>(recs: &'a [Value], name: &str) -> Vec<&'a Value> {
    recs.iter().filter(|r| r["name"] == name).collect()
}

/// The verdict string of a record.
pub fn verdict(r: &Value) -> &str {
    r["verdict"]
        .as_str()
        .unwrap_or_else(|| panic!("record without string verdict: {r}"))
}

/// Asserts the record's verdict, printing the record on failure.
pub fn assert_verdict(r: &Value, want: &str) {
    assert_eq!(verdict(r), want, "wrong verdict in record {r}");
}

/// Compact listing of records for assertion messages.
pub fn show(recs: &[Value]) -> String {
    let mut s = String::new();
    for r in recs {
        let _ = writeln!(s, "  {r}");
    }
    s
}

/// Reverses the banner escaping (`\r \n \t \\ \xNN`, printable ASCII kept) into raw bytes.
pub fn unescape_banner(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'x' if i + 3 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(
                        u8::from_str_radix(hex, 16)
                            .unwrap_or_else(|_| panic!("bad \\x escape {hex:?} in banner {s:?}")),
                    );
                    i += 4;
                    continue;
                }
                other => panic!("unknown escape \\{} in banner {s:?}", other as char),
            }
            i += 2;
        } else {
            assert!(
                (0x20..0x7f).contains(&b[i]),
                "banner {s:?} holds a raw non-printable byte {:#x}",
                b[i]
            );
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Canary listener: proves that nothing was probed
// ---------------------------------------------------------------------------------------------

/// A test-owned listener on 127.0.0.1:0; connections complete in the kernel backlog and are
/// counted later with `accepted()`.
pub struct Canary {
    pub listener: TcpListener,
    held: Vec<TcpStream>,
}

impl Canary {
    pub fn new() -> Canary {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Canary {
            listener,
            held: Vec::new(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap()
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// Number of connections that reached the listener since the last call.
    pub fn accepted(&mut self) -> usize {
        let mut n = 0;
        while let Ok((s, _)) = self.listener.accept() {
            self.held.push(s);
            n += 1;
        }
        n
    }
}

impl Default for Canary {
    fn default() -> Self {
        Self::new()
    }
}

/// Files in `dir` (names only, sorted).
pub fn dir_listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// `examples/REL` of this repository.
pub fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel)
}

/// A whole text file, panicking with its path.
pub fn read_file(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// NDJSON text that must parse (every non-empty line a JSON object).
pub fn ndjson(text: &str) -> Vec<Value> {
    parse_ndjson(text).unwrap_or_else(|e| panic!("{e}\n--- text:\n{text}"))
}

/// An NDJSON file that must parse (every non-empty line a JSON object).
pub fn ndjson_file(p: &Path) -> Vec<Value> {
    parse_ndjson(&read_file(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The records among other lines of a script's output: every line that starts with `{`.
pub fn records_among(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad record {l:?}: {e}")))
        .collect()
}

/// A string field of a record, `"null"` when null or missing.
pub fn str_or_null<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("null")
}

// ---------------------------------------------------------------------------------------------
// Network namespaces
// ---------------------------------------------------------------------------------------------

/// Namespace set-up (lo up, rules.nft, hosts, resolv.conf, `bin/telltale`).
pub const NS_PRELUDE: &str = include_str!("../lab/ns_prelude.sh");
/// Shell helpers: `lab_start`, `lab_stop`, `run_to`, `scan`.
pub const LAB_FNS: &str = include_str!("../lab/lab_fns.sh");

/// `timeout` arguments for a hard cap: SIGKILL after 60 s (the pid namespace takes every lab
/// server and scanner down with its PID 1).
pub const KILL_AFTER_60S: &[&str] = &["-s", "KILL", "60"];
/// `timeout` arguments: SIGTERM after 60 s, SIGKILL 5 s later.
pub const TERM_AFTER_60S: &[&str] = &["-k", "5", "60"];
/// `unshare` flags: user + net + mount + pid, a fresh /proc, the script killed with `unshare`.
pub const UNSHARE_PID1_PROC: &[&str] = &["-rnmpf", "--mount-proc", "--kill-child"];
/// `unshare` flags: user + net + mount + pid.
pub const UNSHARE_PID1: &[&str] = &["-rnmpf"];

/// Namespace runs of tests/audit.rs and tests/examples_ops.rs: `timeout -k 5 60 unshare
/// -rnmpf`, labs ready within 10 s, `$LAB_DIR/bin/telltale` not on PATH.
pub const NS_TERM_60S: NsSpec = NsSpec {
    timeout: TERM_AFTER_60S,
    unshare: UNSHARE_PID1,
    tools: &[],
    lab_ready_secs: 10,
    telltale_on_path: false,
};

/// How one test file runs its namespace scripts.
pub struct NsSpec {
    /// `timeout` arguments (the wall-clock cap) before `unshare`.
    pub timeout: &'static [&'static str],
    /// `unshare` flags.
    pub unshare: &'static [&'static str],
    /// Tools checked before each run (panics, never skips, when one is missing).
    pub tools: &'static [&'static str],
    /// How long `lab_start` waits for a lab's `ready` line.
    pub lab_ready_secs: u32,
    /// Put `$LAB_DIR/bin` (a `telltale` symlink) first on PATH.
    pub telltale_on_path: bool,
}

/// Checks that `tools` exist; panics (not skips) if not: CI installs them.
pub fn require_tools(tools: &[&str]) {
    for tool in tools {
        let found = Command::new("sh")
            .args([
                "-c",
                &format!("PATH=\"$PATH:/usr/sbin:/sbin\" command -v {tool}"),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "`{tool}` not found: the namespace tests need util-linux, nftables and iproute2 \
             (apt-get install -y nftables iproute2 util-linux). Refusing to skip silently."
        );
    }
}

impl NsSpec {
    /// Writes `files` (relative paths, parents created) into `dir` (created), then starts
    /// `body` after the prelude and the shell helpers as PID 1 of fresh namespaces.
    /// Wait with [`NsSpec::wait`].
    pub fn spawn<S: AsRef<str>>(&self, dir: &Path, files: &[(&str, S)], body: &str) -> Child {
        require_tools(self.tools);
        std::fs::create_dir_all(dir).unwrap();
        for (name, content) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content.as_ref()).unwrap();
        }
        let script = dir.join("run.sh");
        std::fs::write(
            &script,
            format!("{NS_PRELUDE}\n{LAB_FNS}\n# ---- test body ----\n{body}\n"),
        )
        .unwrap();
        Command::new("timeout")
            .args(self.timeout)
            .arg("unshare")
            .args(self.unshare)
            .arg("sh")
            .arg(&script)
            .env("LAB_DIR", dir)
            .env("TELLTALE", BIN)
            .env("LAB_READY_SECS", self.lab_ready_secs.to_string())
            .env(
                "LAB_TELLTALE_ON_PATH",
                if self.telltale_on_path { "1" } else { "0" },
            )
            .env(
                "PATH",
                format!(
                    "{}:/usr/sbin:/sbin",
                    std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
                ),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `timeout unshare ...`: {e}"))
    }

    /// Waits for a script started by [`NsSpec::spawn`]; panics when it failed.
    pub fn wait(&self, child: Child, dir: &Path) -> Output {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "namespace script in {} failed (unshare/nft/ip/lab problem, or the timeout {:?} cap):\n{}\n{}",
            dir.display(),
            self.timeout,
            script_log(&out),
            dump_dir(dir)
        );
        out
    }

    /// [`NsSpec::spawn`] + [`NsSpec::wait`] in `dir`.
    pub fn run_in<S: AsRef<str>>(&self, dir: &Path, files: &[(&str, S)], body: &str) -> Ns {
        let child = self.spawn(dir, files, body);
        let out = self.wait(child, dir);
        Ns {
            dir: dir.to_path_buf(),
            _guard: None,
            out,
        }
    }

    /// [`NsSpec::run_in`] a fresh temp dir (kept, its path on stderr, with
    /// `TELLTALE_LAB_KEEP=1`).
    pub fn run<S: AsRef<str>>(&self, files: &[(&str, S)], body: &str) -> Ns {
        let dir = tempfile::Builder::new()
            .prefix("telltale-netns-")
            .tempdir()
            .unwrap();
        let path = dir.path().to_path_buf();
        let guard = if std::env::var_os("TELLTALE_LAB_KEEP").is_some() {
            eprintln!("keeping lab dir {}", path.display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        let mut ns = self.run_in(&path, files, body);
        ns._guard = guard;
        ns
    }
}

/// Exit status, stdout and stderr of a finished command, for failure messages.
pub fn show_output(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Exit status and output of a namespace script.
fn script_log(out: &Output) -> String {
    format!("namespace script {}", show_output(out))
}

/// The files of a run dir and the `.rc`/`.err`/`.laberr` ones in full (first 1500 chars),
/// for failure messages (the dir is deleted after the panic).
pub fn dump_dir(p: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = format!("files in {}: {names:?}\n", p.display());
    for n in names
        .iter()
        .filter(|n| n.ends_with(".rc") || n.ends_with(".err") || n.ends_with(".laberr"))
    {
        let text = std::fs::read_to_string(p.join(n)).unwrap_or_default();
        let text: String = text.chars().take(1500).collect();
        writeln!(out, "--- {n}:\n{}", text.trim_end()).unwrap();
    }
    out
}

/// Exit code of `run_to NAME ...` / `scan NAME ...` in `dir`.
pub fn rc_file(dir: &Path, name: &str) -> i32 {
    let s = read_file(&dir.join(format!("{name}.rc")));
    s.trim()
        .parse()
        .unwrap_or_else(|_| panic!("bad rc file for {name}: {s:?}"))
}

/// An nftables `inet lab` table whose input chain holds `rules` (policy accept).
pub fn nft_rules(rules: &[&str]) -> String {
    let mut t = String::from(
        "table inet lab {\n  chain input {\n    type filter hook input priority 0; policy accept;\n",
    );
    for r in rules {
        writeln!(t, "    {r}").unwrap();
    }
    t.push_str("  }\n}\n");
    t
}

/// The files a namespace script left behind (`run_to`/`scan` NAME: NAME.out, NAME.err, NAME.rc).
pub struct Ns {
    pub dir: PathBuf,
    _guard: Option<TempDir>,
    /// The script's own exit status and output.
    pub out: Output,
}

impl Ns {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A file of the run dir.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_else(|e| panic!("reading {name}: {e}\n{}", self.dump()))
    }

    /// stdout of a `run_to`/`scan` call.
    pub fn stdout(&self, name: &str) -> String {
        self.read(&format!("{name}.out"))
    }

    /// stderr of a `run_to`/`scan` call.
    pub fn stderr(&self, name: &str) -> String {
        self.read(&format!("{name}.err"))
    }

    /// Exit code of a `run_to`/`scan` call.
    pub fn rc(&self, name: &str) -> i32 {
        rc_file(&self.dir, name)
    }

    /// Asserts the exit code of a call, showing its output otherwise.
    pub fn assert_rc(&self, name: &str, want: i32) {
        assert_eq!(
            self.rc(name),
            want,
            "exit code of `{name}`\n{}",
            self.show(name)
        );
    }

    /// NDJSON records printed by a call (every non-empty line a JSON object).
    pub fn records(&self, name: &str) -> Vec<Value> {
        parse_ndjson(&self.stdout(name)).unwrap_or_else(|e| {
            panic!(
                "`{name}`: stdout: {e}\nstderr:\n{}",
                std::fs::read_to_string(self.path(&format!("{name}.err"))).unwrap_or_default()
            )
        })
    }

    /// Packets counted by the n-th `packets COUNTER` call (see tests/audit.rs).
    pub fn packets(&self, counter: &str, n: usize) -> u64 {
        let v: Value = serde_json::from_str(&self.read(&format!("{counter}.{n}.json"))).unwrap();
        v["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|o| o["counter"]["packets"].as_u64())
            .unwrap_or_else(|| panic!("no counter in {v}"))
    }

    /// stdout and stderr of a call.
    pub fn show(&self, name: &str) -> String {
        let get = |f: String| std::fs::read_to_string(self.path(&f)).unwrap_or_default();
        format!(
            "--- {name} stdout ---\n{}\n--- {name} stderr ---\n{}",
            get(format!("{name}.out")),
            get(format!("{name}.err"))
        )
    }

    /// Exit code, stderr and the first 40 stdout lines of a call, and the script's log.
    pub fn context(&self, name: &str) -> String {
        let get = |f: String| std::fs::read_to_string(self.path(&f)).unwrap_or_default();
        let rc = get(format!("{name}.rc"));
        let err = get(format!("{name}.err"));
        let out = get(format!("{name}.out"));
        let head: String = out.lines().take(40).collect::<Vec<_>>().join("\n");
        format!(
            "--- {name}: exit {rc}--- stderr:\n{err}\n--- stdout (first 40 lines):\n{head}\n--- namespace log:\n{}",
            script_log(&self.out).trim()
        )
    }

    /// The script's log and the run dir's `.rc`/`.err`/`.laberr` files.
    pub fn dump(&self) -> String {
        format!("{}\n{}", script_log(&self.out), dump_dir(&self.dir))
    }
}
