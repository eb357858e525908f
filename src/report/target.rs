//! Where an output path (`-o PATH`, `--also FORMAT=PATH`, `merge -o PATH`) leads, decided once,
//! before the first probe and before anything is created or opened:
//!
//! - `-` is stdout; `/dev/stdout`, `/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N` are this
//!   process's own descriptors (1 and 2 are written through stdout/stderr, like a shell redirect
//!   to them; other numbers are opened in place);
//! - a regular file is replaced atomically (its mode kept), a path that does not exist is created
//!   atomically (mode from the umask);
//! - a character device or FIFO is opened and written in place, never replaced;
//! - a symlink is followed (up to [`MAX_LINKS`] hops, relative links from the link's directory):
//!   the file it leads to is what the rules above apply to, so the link itself stays. A dangling
//!   symlink creates the file it points to, atomically (what a shell `>` redirect does too);
//! - a directory (or a path ending in `/`, `/.` or `/..`), a block device, a socket, a missing
//!   directory or a symlink loop is an error.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Symlink hops followed before giving up (Linux's own limit is 40).
pub const MAX_LINKS: usize = 40;

/// A resolved output destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Standard output (`-`, `/dev/stdout`, fd 1).
    Stdout,
    /// Standard error (`/dev/stderr`, fd 2).
    Stderr,
    /// A character device, a FIFO or another of our descriptors: opened for writing in place.
    InPlace {
        /// What to open (symlinks resolved).
        path: PathBuf,
        /// A FIFO: opening waits for a reader.
        fifo: bool,
    },
    /// A regular file, or a path that does not exist yet: written to a temp file in `dest`'s
    /// directory, renamed over `dest`.
    File {
        /// Final path (symlinks resolved, the directory made absolute).
        dest: PathBuf,
        /// The mode of the file being replaced; `None` when it does not exist yet.
        mode: Option<u32>,
    },
}

impl Target {
    /// Apply the module's rules to `path`; the error says what is wrong with it.
    pub fn resolve(path: &Path) -> io::Result<Target> {
        if path.as_os_str() == "-" {
            return Ok(Target::Stdout);
        }
        let mut p = path.to_path_buf();
        for hop in 0..=MAX_LINKS {
            let via = |what: &str| {
                if hop == 0 {
                    what.to_string()
                } else {
                    format!("leads through symlinks to {}, {what}", p.display())
                }
            };
            if names_directory(&p) {
                return Err(invalid(via("names a directory (ends in `/`, `.` or `..`)")));
            }
            if let Some(t) = own_fd(&p) {
                return Ok(t);
            }
            let real =
                real_parent(&p).map_err(|e| io::Error::new(e.kind(), via(&e.to_string())))?;
            if let Some(t) = own_fd(&real) {
                return Ok(t);
            }
            let meta = match fs::symlink_metadata(&real) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Ok(Target::File {
                        dest: real,
                        mode: None,
                    });
                }
                Err(e) => return Err(io::Error::new(e.kind(), via(&e.to_string()))),
            };
            let ft = meta.file_type();
            if ft.is_symlink() {
                let link = fs::read_link(&real)?;
                p = match real.parent() {
                    Some(dir) => dir.join(link),
                    None => link,
                };
                continue;
            }
            return if ft.is_file() {
                Ok(Target::File {
                    dest: real,
                    mode: Some(meta.permissions().mode() & 0o7777),
                })
            } else if ft.is_fifo() || ft.is_char_device() {
                Ok(Target::InPlace {
                    path: real,
                    fifo: ft.is_fifo(),
                })
            } else if ft.is_dir() {
                Err(invalid(via("is a directory")))
            } else if ft.is_block_device() {
                Err(invalid(via(
                    "is a block device (refusing to write a report over a disk)",
                )))
            } else if ft.is_socket() {
                Err(invalid(via("is a socket (cannot be opened for writing)")))
            } else {
                Err(invalid(via("is not a file, device or FIFO")))
            };
        }
        Err(invalid(format!(
            "more than {MAX_LINKS} symbolic links (a loop?)"
        )))
    }

    /// Writes to this process's stdout.
    pub fn is_stdout(&self) -> bool {
        matches!(self, Target::Stdout)
    }

    /// The place two outputs must not share (`None` for character devices such as /dev/null,
    /// which any number of writers may share).
    pub fn exclusive_key(&self) -> Option<PathBuf> {
        match self {
            Target::Stdout => Some(PathBuf::from("/dev/stdout")),
            Target::Stderr => Some(PathBuf::from("/dev/stderr")),
            Target::InPlace { fifo: false, .. } => None,
            Target::InPlace { path, .. } | Target::File { dest: path, .. } => Some(path.clone()),
        }
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Ends in `/`, `/.` or `/..` (or is `.`/`..`): whatever it is, it is not a file.
fn names_directory(p: &Path) -> bool {
    let s = p.as_os_str().as_encoded_bytes();
    let last = s.rsplit(|b| *b == b'/').next().unwrap_or_default();
    matches!(last, b"" | b"." | b"..")
}

/// `p` with its directory canonicalized (the last component itself untouched, so a symlink there
/// is still seen as one).
fn real_parent(p: &Path) -> io::Result<PathBuf> {
    let name = p
        .file_name()
        .ok_or_else(|| invalid("not a file name".into()))?;
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let real = fs::canonicalize(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("directory {}: {e}", dir.display())))?;
    if !real.is_dir() {
        return Err(invalid(format!("{} is not a directory", dir.display())));
    }
    Ok(real.join(name))
}

/// `/dev/stdout`, `/dev/stderr`, `/dev/stdin`, `/dev/fd/N`, `/proc/self/fd/N`,
/// `/proc/thread-self/fd/N`, `/proc/PID/fd/N` and `/proc/PID/task/TID/fd/N` for our own PID.
fn own_fd(p: &Path) -> Option<Target> {
    let s = p.to_str()?;
    let fd = match s {
        "/dev/stdin" => Some(0),
        "/dev/stdout" => Some(1),
        "/dev/stderr" => Some(2),
        _ => None,
    }
    .or_else(|| fd_number(s))?;
    Some(match fd {
        1 => Target::Stdout,
        2 => Target::Stderr,
        _ => Target::InPlace {
            path: p.to_path_buf(),
            fifo: false,
        },
    })
}

fn fd_number(s: &str) -> Option<u32> {
    let rest = if let Some(r) = s.strip_prefix("/dev/fd/") {
        r
    } else {
        let r = s.strip_prefix("/proc/")?;
        let (who, r) = r.split_once('/')?;
        let ours = who == "self"
            || who == "thread-self"
            || who.parse::<u32>().ok() == Some(std::process::id());
        if !ours {
            return None;
        }
        match r.strip_prefix("task/") {
            Some(t) => t.split_once('/')?.1.strip_prefix("fd/")?,
            None => r.strip_prefix("fd/")?,
        }
    };
    rest.parse().ok()
}

/// Resolve every `(label, path)` (`None` = stdout) and refuse two outputs to one place. The
/// error names the label (e.g. `-o out.json`, `--also json=out.json`).
pub fn resolve_all(outputs: &[(String, Option<&Path>)]) -> Result<Vec<Target>, String> {
    let mut seen: Vec<(PathBuf, &str)> = Vec::new();
    let mut targets = Vec::new();
    for (label, path) in outputs {
        let t = match path {
            Some(p) => Target::resolve(p).map_err(|e| format!("{label}: {e}"))?,
            None => Target::Stdout,
        };
        if let Some(key) = t.exclusive_key() {
            if let Some((_, other)) = seen.iter().find(|(k, _)| *k == key) {
                let place = if t.is_stdout() {
                    "stdout".to_string()
                } else {
                    key.display().to_string()
                };
                return Err(format!(
                    "{label}: {other} already writes to {place}; give each output its own file"
                ));
            }
            seen.push((key, label));
        }
        targets.push(t);
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names() {
        for p in ["d/", "/", "d/.", "d/..", ".", ".."] {
            assert!(names_directory(Path::new(p)), "{p}");
        }
        for p in ["d", "d/x", "-", ".x", "..x"] {
            assert!(!names_directory(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn own_descriptors() {
        let me = std::process::id();
        assert_eq!(own_fd(Path::new("/dev/stdout")), Some(Target::Stdout));
        assert_eq!(own_fd(Path::new("/dev/fd/1")), Some(Target::Stdout));
        assert_eq!(
            own_fd(Path::new(&format!("/proc/{me}/fd/2"))),
            Some(Target::Stderr)
        );
        assert_eq!(
            own_fd(Path::new(&format!("/proc/{me}/task/{me}/fd/1"))),
            Some(Target::Stdout)
        );
        if me != 1 {
            assert_eq!(own_fd(Path::new("/proc/1/fd/1")), None);
        }
        assert_eq!(own_fd(Path::new("/dev/stdoutx")), None);
        assert_eq!(own_fd(Path::new("/tmp/x")), None);
    }

    #[test]
    fn dash_is_stdout_and_dirs_are_refused() {
        assert_eq!(Target::resolve(Path::new("-")).ok(), Some(Target::Stdout));
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        for p in [d.clone(), format!("{d}/"), format!("{d}/missing/")] {
            let e = Target::resolve(Path::new(&p)).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{p}: {e}");
        }
        let e = Target::resolve(&dir.path().join("no/such/dir/x")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    }

    #[test]
    fn symlinks_are_followed_and_loops_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        std::os::unix::fs::symlink("sub/target", dir.path().join("link")).unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        // Dangling: the target is created.
        assert_eq!(
            Target::resolve(&dir.path().join("link")).unwrap(),
            Target::File {
                dest: real.join("sub/target"),
                mode: None
            }
        );
        fs::write(dir.path().join("sub/target"), "x").unwrap();
        fs::set_permissions(
            dir.path().join("sub/target"),
            fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        assert_eq!(
            Target::resolve(&dir.path().join("link")).unwrap(),
            Target::File {
                dest: real.join("sub/target"),
                mode: Some(0o640)
            }
        );
        std::os::unix::fs::symlink("b", dir.path().join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.path().join("b")).unwrap();
        let e = Target::resolve(&dir.path().join("a")).unwrap_err();
        assert!(e.to_string().contains("symbolic links"), "{e}");
    }

    #[test]
    fn two_outputs_to_one_place_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.json");
        let err = resolve_all(&[
            ("-o x".into(), Some(f.as_path())),
            ("--also json=x".into(), Some(f.as_path())),
        ])
        .unwrap_err();
        assert!(err.contains("already writes"), "{err}");
        let err = resolve_all(&[
            ("-o".into(), None),
            ("--also json=-".into(), Some(Path::new("-"))),
        ])
        .unwrap_err();
        assert!(err.contains("stdout"), "{err}");
        assert!(
            resolve_all(&[
                ("-o".into(), Some(Path::new("/dev/null"))),
                ("--also".into(), Some(Path::new("/dev/null"))),
            ])
            .is_ok()
        );
    }
}
