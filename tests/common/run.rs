//! Running the binary: `run`/`scan` with a hang guard (`Run`), and a spawned child (`Proc`)
//! whose output is collected in the background, to signal or to read as a slow sink.
use std::io::Read;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{BIN, HANG_GUARD, Inventory, parse_ndjson, validate_records};

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

    /// stdout parsed as NDJSON records, each validated against the record schema.
    pub fn records(&self) -> Vec<Value> {
        let recs = parse_ndjson(&self.stdout).unwrap_or_else(|e| panic!("{e}\n{}", self.dump()));
        validate_records(&recs, &format!("telltale {:?}", self.args));
        recs
    }

    /// stdout parsed as one JSON document; the records of its `results` (a scan's or a
    /// merge's document) are validated against the record schema.
    pub fn json(&self) -> Value {
        let doc: Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{}", self.dump()));
        if let Some(results) = doc["results"].as_array() {
            validate_records(results, &format!("telltale {:?}", self.args));
        }
        doc
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
