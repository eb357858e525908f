//! The network-namespace runner: a test's shell script (after `tests/lab/ns_prelude.sh` and
//! `tests/lab/lab_fns.sh`) runs as PID 1 of fresh `unshare -rnmpf` namespaces where only `lo`
//! exists (`NsSpec`), and leaves `NAME.out`/`NAME.err`/`NAME.rc` files behind (`Ns`).
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

use super::{BIN, parse_ndjson, read_file, validate_records};

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

/// Shell helpers `bg_scan`, `join` (scans in parallel) and `packets` (nft counters).
pub const JOB_FNS: &str = include_str!("../lab/jobs_fns.sh");

/// Namespace runs of the audit-workflow and ops-example tests: `timeout -k 5 60 unshare
/// -rnmpf`, labs ready within 10 s, `$LAB_DIR/bin/telltale` not on PATH.
pub const NS_TERM_60S: NsSpec = NsSpec {
    timeout: TERM_AFTER_60S,
    unshare: UNSHARE_PID1,
    tools: &[],
    lab_ready_secs: 10,
    telltale_on_path: false,
};

/// Runs `body` (after the prelude, `LAB_FNS` and [`JOB_FNS`]) with [`NS_TERM_60S`] in a fresh
/// temp dir, after writing `files` into it. Panics when the script fails.
pub fn ns_with_jobs(files: &[(&str, &str)], body: &str) -> Ns {
    NS_TERM_60S.run(files, &format!("{JOB_FNS}\n{body}"))
}

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

    /// NDJSON records printed by a call (every non-empty line a JSON object), each validated
    /// against the record schema.
    pub fn records(&self, name: &str) -> Vec<Value> {
        let recs = parse_ndjson(&self.stdout(name)).unwrap_or_else(|e| {
            panic!(
                "`{name}`: stdout: {e}\nstderr:\n{}",
                std::fs::read_to_string(self.path(&format!("{name}.err"))).unwrap_or_default()
            )
        });
        validate_records(&recs, &format!("`{name}` in {}", self.dir.display()));
        recs
    }

    /// Packets counted by the n-th `packets COUNTER` call (`packets` in tests/lab/jobs_fns.sh).
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

// ---------------------------------------------------------------------------------------------
// Plain `unshare -rn` scripts
// ---------------------------------------------------------------------------------------------

/// Runs `script` with `sh` inside a fresh user + network namespace with `lo` up (`$T` is the
/// binary); panics unless it exits 0, 1 or 3.
pub fn in_netns(script: &str) -> Output {
    in_namespaces("-rn", script)
}

/// As [`in_netns`], with a private mount namespace too (`unshare -rnm`), for bind-mounted
/// /etc/hosts and /etc/resolv.conf.
pub fn in_netns_mnt(script: &str) -> Output {
    in_namespaces("-rnm", script)
}

/// [`in_netns`] with explicit `unshare` flags.
pub fn in_namespaces(flags: &str, script: &str) -> Output {
    let full = format!("set -e\nip link set lo up\nT='{BIN}'\n{script}");
    let out = Command::new("unshare")
        .args([flags, "sh", "-c", &full])
        .output()
        .expect("unshare runs");
    if !out.status.success() && out.status.code() != Some(1) && out.status.code() != Some(3) {
        panic!("namespace script failed: {}", show_output(&out));
    }
    out
}
