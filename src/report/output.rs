//! [`Output`]: where a sink's bytes go, once a path has been resolved into a [`Target`]: stdout
//! or stderr, a device or FIFO written in place (by its own thread, [`Relay`], so a slow reader
//! never stalls the runtime), or a file written atomically (a temp file in the
//! destination's own directory, fsync, rename over the destination, fsync of the directory), so an
//! interrupted or failed run never leaves a truncated file.
//!
//! Every live temp file is listed in a process-wide registry: dropping the output (any error
//! path, a panic) unlinks it, and [`exit_now`] — the second-signal exit, which does not unwind —
//! unlinks whatever is still listed before the process ends.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tempfile::NamedTempFile;

use super::relay::Relay;
use super::target::Target;
use crate::shutdown::Shutdown;

/// Write buffer of a file output (a record stream is written in this few `write` calls).
const FILE_BUF: usize = 64 * 1024;

/// How often a FIFO without a reader is retried.
const FIFO_POLL: Duration = Duration::from_millis(50);

/// Where a sink writes.
pub struct Output(Dest);

enum Dest {
    /// Standard output written directly ([`Output::stdout`]).
    Stdout(BufWriter<io::Stdout>),
    /// Standard output or error, a device, FIFO or one of our descriptors (written in place):
    /// a stream a slow reader can stall, so its own thread writes it.
    Stream(Relay),
    /// A temp file renamed over `dest` on commit.
    File {
        tmp: BufWriter<LiveTemp>,
        dest: PathBuf,
    },
}

impl Output {
    /// Standard output.
    pub fn stdout() -> Output {
        Output(Dest::Stdout(BufWriter::new(io::stdout())))
    }

    /// Resolve `path` ([`Target::resolve`]) and open it now, so a bad path fails before any probe
    /// is sent. A FIFO blocks here until it has a reader, like a shell redirect.
    pub fn file(path: &Path) -> io::Result<Output> {
        let t = Target::resolve(path)?;
        match &t {
            Target::InPlace { path, fifo: true } => {
                let f = open_in_place(path, false)?;
                if !f.metadata()?.file_type().is_fifo() {
                    return Err(changed(path));
                }
                Ok(Output(Dest::Stream(Relay::new(f)?)))
            }
            _ => Self::open_now(&t),
        }
    }

    /// Open a resolved target. A FIFO without a reader is retried every 50 ms (after a note on
    /// stderr) until a reader opens it; if `shutdown` fires first the error is
    /// [`io::ErrorKind::Interrupted`]. Nothing else waits.
    pub async fn open(t: &Target, shutdown: &Shutdown) -> io::Result<Output> {
        match t {
            Target::InPlace { path, fifo: true } => {
                let f = open_fifo(path, shutdown).await?;
                Ok(Output(Dest::Stream(Relay::new(f)?)))
            }
            _ => Self::open_now(t),
        }
    }

    fn open_now(t: &Target) -> io::Result<Output> {
        Ok(Output(match t {
            Target::Stdout => Dest::Stream(Relay::new(io::stdout())?),
            Target::Stderr => Dest::Stream(Relay::new(io::stderr())?),
            Target::InPlace { path, .. } => Dest::Stream(Relay::new(open_in_place(path, false)?)?),
            Target::File { dest, mode } => {
                // A temp file is created 0600; give the result the mode a plain create would
                // have (or the replaced file's), so e.g. node_exporter can still read a textfile.
                let mode = mode.unwrap_or_else(|| 0o666 & !umask());
                Dest::File {
                    tmp: BufWriter::with_capacity(FILE_BUF, LiveTemp::create(dest, mode)?),
                    dest: dest.clone(),
                }
            }
        }))
    }

    /// Whether this is a stream (stdout, stderr, a FIFO or device) where per-line flushing
    /// matters; false for an atomically written file.
    pub fn is_stdout(&self) -> bool {
        !matches!(self.0, Dest::File { .. })
    }

    /// Flush a stream (waiting until its thread has written every byte), or fsync the temp file, rename it over the destination and fsync the
    /// directory.
    pub fn commit(self) -> io::Result<()> {
        match self.0 {
            Dest::Stdout(mut w) => w.flush(),
            Dest::Stream(r) => r.finish(),
            Dest::File { tmp, dest } => {
                let mut tmp = tmp.into_inner().map_err(io::IntoInnerError::into_error)?;
                tmp.file()?.as_file().sync_all()?;
                tmp.persist(&dest)?;
                if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                    if let Ok(d) = File::open(dir) {
                        let _ = d.sync_all();
                    }
                }
                Ok(())
            }
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match &mut self.0 {
            Dest::Stdout(w) => w,
            Dest::Stream(r) => r,
            Dest::File { tmp, .. } => tmp,
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer().write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer().write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer().flush()
    }
}

fn changed(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is no longer a FIFO", path.display()),
    )
}

/// Open for writing without creating, truncating or taking a controlling terminal.
fn open_in_place(path: &Path, nonblock: bool) -> io::Result<File> {
    let flags = libc::O_NOCTTY | if nonblock { libc::O_NONBLOCK } else { 0 };
    OpenOptions::new()
        .write(true)
        .custom_flags(flags)
        .open(path)
}

/// Open a FIFO's write end once it has a reader (see [`Output::open`]); the returned file is in
/// blocking mode, so a slow reader slows the writes down instead of failing them.
async fn open_fifo(path: &Path, shutdown: &Shutdown) -> io::Result<File> {
    let mut shutdown = shutdown.clone();
    let mut told = false;
    loop {
        match tokio::net::unix::pipe::OpenOptions::new().open_sender(path) {
            Ok(s) => return Ok(File::from(s.into_blocking_fd()?)),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => return Err(changed(path)),
            Err(e) if e.raw_os_error() != Some(libc::ENXIO) => return Err(e),
            Err(_) => {}
        }
        if !told {
            eprintln!(
                "telltale: waiting for a reader on FIFO {} before scanning (Ctrl-C gives up)",
                path.display()
            );
            told = true;
        }
        tokio::select! {
            () = tokio::time::sleep(FIFO_POLL) => {}
            () = shutdown.wait() => {
                return Err(io::Error::new(
                    io::ErrorKind::Interrupted,
                    "interrupted while waiting for a reader on the FIFO",
                ));
            }
        }
    }
}

/// Paths of the temp files that exist right now.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Unlink every temp file still open and exit with `code` at once, without unwinding (the
/// second-signal path). The registry stays locked until the process is gone, so a rename in
/// progress finishes first and none can start after the unlinks.
pub fn exit_now(code: i32) -> ! {
    let reg = live();
    for p in reg.iter() {
        let _ = fs::remove_file(p);
    }
    std::process::exit(code)
}

/// A registered temp file; unlinked and unregistered on drop unless persisted.
struct LiveTemp(Option<NamedTempFile>);

impl LiveTemp {
    /// `.NAME.XXXXXX.tmp` in `dest`'s directory, with `mode`.
    fn create(dest: &Path, mode: u32) -> io::Result<LiveTemp> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = {
            // Registered under the lock it was created under: no window for `exit_now`.
            let mut reg = live();
            let tmp = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                .tempfile_in(dir)?;
            reg.push(tmp.path().to_path_buf());
            LiveTemp(Some(tmp))
        };
        if let Some(t) = &tmp.0 {
            fs::set_permissions(t.path(), fs::Permissions::from_mode(mode))?;
        }
        Ok(tmp)
    }

    fn file(&mut self) -> io::Result<&mut NamedTempFile> {
        self.0
            .as_mut()
            .ok_or_else(|| io::Error::other("temp file already gone"))
    }

    /// Rename over `dest`; on failure the temp file is unlinked. Unregistered either way.
    fn persist(mut self, dest: &Path) -> io::Result<()> {
        let Some(tmp) = self.0.take() else {
            return Err(io::Error::other("temp file already gone"));
        };
        let mut reg = live();
        let path = tmp.path().to_path_buf();
        // A failed persist hands the file back inside the error; dropping it unlinks it.
        let res = tmp.persist(dest).map(drop).map_err(|e| e.error);
        reg.retain(|p| *p != path);
        res
    }
}

impl Drop for LiveTemp {
    fn drop(&mut self) {
        if let Some(tmp) = self.0.take() {
            let mut reg = live();
            let path = tmp.path().to_path_buf();
            drop(tmp);
            reg.retain(|p| *p != path);
        }
    }
}

impl Write for LiveTemp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

/// The process umask, read without changing it (Linux `/proc/self/status`); 022 if unknown.
fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn temp_files_are_registered_until_committed_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.json");
        let real = dir.path().canonicalize().unwrap();
        let registered = || live().iter().any(|p| p.parent() == Some(real.as_path()));
        let mut o = Output::file(&dest).unwrap();
        assert!(registered());
        o.write_all(b"x").unwrap();
        o.commit().unwrap();
        assert!(!registered());
        assert_eq!(listing(dir.path()), vec!["a.json"]);
        let o = Output::file(&dest).unwrap();
        assert!(registered());
        drop(o);
        assert!(!registered());
        assert_eq!(fs::read_to_string(&dest).unwrap(), "x");
        assert_eq!(listing(dir.path()), vec!["a.json"]);
    }

    #[test]
    fn failed_rename_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("later-a-dir");
        let o = Output::file(&dest).unwrap();
        fs::create_dir(&dest).unwrap();
        fs::write(dest.join("inside"), "x").unwrap();
        assert!(o.commit().is_err());
        assert_eq!(listing(dir.path()), vec!["later-a-dir"]);
        let real = dir.path().canonicalize().unwrap();
        assert!(!live().iter().any(|p| p.parent() == Some(real.as_path())));
    }
}
