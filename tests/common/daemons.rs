//! The real-daemon harness: a test's shell script runs (after `tests/lab/ns_prelude.sh`,
//! `tests/lab/lab_fns.sh` and `tests/lab/daemon_fns.sh`) as PID 1 of fresh net + mount + pid
//! namespaces as real root, so stock Debian daemons (sshd, mariadbd, postgres, postfix, nginx,
//! haproxy, redis-server, xinetd, vsftpd, fail2ban) start there with their own config and data
//! dirs, listen only inside, and die with the script. `require_daemons` fails the test loudly,
//! with the install command, when a package is missing: tests never install or skip.
use std::process::Command;

use super::{Ns, NsSpec};

/// Shell helpers: `addr_add`, `wait_port`, `private_file`, `private_dir`.
pub const DAEMON_FNS: &str = include_str!("../lab/daemon_fns.sh");

/// Real-root namespaces (no user namespace), a fresh /proc, killed with `unshare`; 120 s cap.
pub const DAEMON_NS: NsSpec = NsSpec {
    timeout: &["-k", "5", "120"],
    unshare: &[
        "--net",
        "--mount",
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
    ],
    tools: &["nft", "ip", "ss", "unshare"],
    lab_ready_secs: 20,
    telltale_on_path: false,
};

/// Runs `body` (after [`DAEMON_FNS`]) in [`DAEMON_NS`], with `files` written to its dir.
pub fn daemon_ns(files: &[(&str, &str)], body: &str) -> Ns {
    DAEMON_NS.run(files, &format!("{DAEMON_FNS}\n{body}"))
}

/// Panics (never skips) unless each `(program, package)` is installed: CI's `.ci/run` installs
/// them. Programs are looked up on PATH plus /usr/sbin, /sbin and the given absolute paths.
pub fn require_daemons(needs: &[(&str, &str)]) {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(prog, _)| {
            !Command::new("sh")
                .args([
                    "-c",
                    &format!("PATH=\"$PATH:/usr/sbin:/sbin\" command -v {prog}"),
                ])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|(_, pkg)| *pkg)
        .collect();
    assert!(
        missing.is_empty(),
        "missing daemons for the real-daemon tests: apt-get install -y {} \
         (.ci/run installs them). Refusing to skip silently.",
        missing.join(" ")
    );
}

/// Whether this process is real root (the daemon tests need it for `unshare --net` without a
/// user namespace); panics with the reason otherwise.
pub fn require_root() {
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    assert_eq!(
        euid, "0",
        "the real-daemon tests run daemons in namespaces as root (euid is {euid}); run as root"
    );
}
