//! The loopback fixtures: a `telltale lab` child serving real services on 127.0.0.0/8 or `::1`
//! (`Lab`), and a test-owned `Canary` listener that proves whether anything was probed.
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::BIN;

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

/// The first target of every broken inventory: the canary. Line 2 of the file.
pub fn canary_line(c: &Canary) -> String {
    format!("  - {{host: \"127.0.0.1\", port: {}}}\n", c.port())
}

/// `targets:` + canary (line 2) + `rest` (from line 3 on).
pub fn with_canary(c: &Canary, rest: &str) -> String {
    format!("targets:\n{}{rest}", canary_line(c))
}
