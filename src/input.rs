//! Reading input files — inventories and reports — deliberately: a size cap
//! (`--max-input-size`, default [`DEFAULT_MAX_INPUT`]), special files handled on purpose (a
//! regular file is read; a FIFO or character device is read up to the cap; a directory is an
//! error), `-` for stdin, and positioned errors (the line:column where the cap was hit, the first
//! byte that is not UTF-8).
//!
//! Reading blocks — a FIFO without a writer blocks in `open(2)` — so async callers run loading
//! through [`interruptible`], which gives up as soon as the shutdown fires.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::shutdown::Shutdown;

/// Default cap on one input file: 64 MiB.
pub const DEFAULT_MAX_INPUT: u64 = 64 << 20;

/// How stdin (`-`) is named in messages.
pub const STDIN_LABEL: &str = "<stdin>";

/// Why an input could not be read, positioned where there is a position.
#[derive(Debug, Clone)]
pub struct InputError {
    /// File as given on the command line (`<stdin>` for `-`).
    pub file: String,
    /// 1-based line (0 when the error has no position).
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
    /// The file could not be read because of this host (fds, memory), not because it is wrong.
    pub local: bool,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for InputError {}

/// A file's text and the name to use for it in messages.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as given, or `<stdin>`.
    pub label: String,
    /// The whole text (at most the cap, valid UTF-8).
    pub text: String,
}

/// The label `path` gets in messages.
pub fn label(path: &Path) -> String {
    if is_stdin(path) {
        STDIN_LABEL.to_string()
    } else {
        path.display().to_string()
    }
}

/// Whether `path` means stdin.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Refuse `-` given more than once: stdin is one stream.
pub fn stdin_at_most_once<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), String> {
    if paths.into_iter().filter(|p| is_stdin(p)).count() > 1 {
        return Err("`-` (stdin) given more than once; stdin can be read only once".into());
    }
    Ok(())
}

/// Read `path` (`-` = stdin) whole, refusing more than `max` bytes and text that is not UTF-8.
pub fn read(path: &Path, max: u64) -> Result<Input, InputError> {
    let label = label(path);
    if is_stdin(path) {
        return read_stream(label, io::stdin().lock(), None, max);
    }
    // Blocks until a writer opens a FIFO: callers that must stay interruptible use
    // [`interruptible`].
    let file = File::open(path).map_err(|e| io_error(&label, &e))?;
    let meta = file.metadata().map_err(|e| io_error(&label, &e))?;
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err(unpositioned(&label, "is a directory, expected a file"));
    }
    // Regular files announce their size (the read still stops at the cap, should it grow);
    // FIFOs, character devices and the like are read as streams, up to the cap.
    let hint = kind.is_file().then_some(meta.len());
    read_stream(label, file, hint, max)
}

fn read_stream(
    label: String,
    r: impl Read,
    hint: Option<u64>,
    max: u64,
) -> Result<Input, InputError> {
    let limit = max.saturating_add(1);
    let mut buf = Vec::new();
    if let Some(len) = hint {
        let want = usize::try_from(len.min(limit)).unwrap_or(usize::MAX);
        buf.try_reserve_exact(want).map_err(|_| InputError {
            message: format!("cannot read: out of memory reserving {}", show_size(len)),
            local: true,
            ..unpositioned(&label, "")
        })?;
    }
    r.take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| io_error(&label, &e))?;
    let over = usize::try_from(max).ok().filter(|&m| buf.len() > m);
    if let Some(at) = over {
        let (line, column) = position(&buf, at);
        return Err(InputError {
            file: label,
            line,
            column,
            message: format!(
                "larger than the input size cap of {}: reading stopped here; \
                 raise the cap with --max-input-size SIZE",
                show_size(max)
            ),
            local: false,
        });
    }
    match String::from_utf8(buf) {
        Ok(text) => Ok(Input { label, text }),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let (line, column) = position(bytes, at);
            let byte = bytes.get(at).copied().unwrap_or_default();
            Err(InputError {
                file: label,
                line,
                column,
                message: format!("byte 0x{byte:02x} is not UTF-8, expected UTF-8 text"),
                local: false,
            })
        }
    }
}

fn unpositioned(label: &str, message: &str) -> InputError {
    InputError {
        file: label.to_string(),
        line: 0,
        column: 0,
        message: message.to_string(),
        local: false,
    }
}

fn io_error(label: &str, e: &io::Error) -> InputError {
    InputError {
        message: format!("cannot read: {e}"),
        local: e.kind() == io::ErrorKind::OutOfMemory
            || matches!(
                e.raw_os_error(),
                Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM)
            ),
        ..unpositioned(label, "")
    }
}

/// 1-based line and column (in characters) of byte `offset` of `bytes`.
pub fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // Count characters, not bytes: skip UTF-8 continuation bytes.
    let column = 1 + before[line_start..]
        .iter()
        .filter(|&&b| b & 0xc0 != 0x80)
        .count();
    (line, column)
}

/// `64 MiB`, `1 KiB`, `1000 bytes`.
pub fn show_size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if n >= unit && n % unit == 0 {
            return format!("{} {name}", n / unit);
        }
    }
    format!("{n} bytes")
}

/// Parse a size for `--max-input-size`: `64MiB`, `512KiB`, `1GiB`, `100000` (bytes); `K`, `M`,
/// `G` (and `KiB`, `MiB`, `GiB`) are powers of 1024, `KB`, `MB`, `GB` powers of 1000. At least
/// one byte.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("bad size `{s}`, expected bytes or a size like 64MiB, 512KiB, 1GiB");
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(bad()),
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("size `{s}` is too large"))?;
    if bytes == 0 {
        return Err(format!("size `{s}` is zero, expected at least one byte"));
    }
    Ok(bytes)
}

/// Run blocking loading work `f` on a blocking thread and wait for it, or for the shutdown
/// (`None`): the first SIGINT/SIGTERM stops a load stuck on a FIFO without a writer, a slow
/// device or a huge file. The abandoned thread is not waited for when the runtime shuts down.
pub async fn interruptible<T, F>(shutdown: &Shutdown, f: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let mut stop = shutdown.clone();
    let task = tokio::task::spawn_blocking(f);
    tokio::select! {
        biased;
        () = stop.wait() => None,
        done = task => match done {
            Ok(v) => Some(v),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        assert_eq!(position(b"", 0), (1, 1));
        assert_eq!(position(b"ab\ncd", 4), (2, 2));
        assert_eq!(position("é\néx".as_bytes(), 6), (2, 3));
        assert_eq!(position(b"abc", 99), (1, 4));
    }

    #[test]
    fn sizes_parse_with_units_and_refuse_zero() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("2KB"), Ok(2000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1.5MiB").is_err());
        assert!(parse_size("99999999999GiB").is_err());
        assert!(parse_size("MiB").is_err());
        assert_eq!(show_size(64 << 20), "64 MiB");
        assert_eq!(show_size(1000), "1000 bytes");
    }

    #[test]
    fn cap_and_utf8_errors_are_positioned() {
        let e = read_stream("f".into(), &b"ab\ncdef"[..], None, 5).unwrap_err();
        assert_eq!((e.line, e.column), (2, 3), "{e}");
        assert!(e.message.contains("--max-input-size"), "{e}");
        assert!(read_stream("f".into(), &b"ab\ncd"[..], None, 5).is_ok());
        let e = read_stream("f".into(), &b"ok\nx\xffy"[..], None, 100).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f:2:2: byte 0xff is not UTF-8, expected UTF-8 text"
        );
    }

    #[test]
    fn directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(dir.path(), DEFAULT_MAX_INPUT).unwrap_err();
        assert!(e.message.contains("is a directory"), "{e}");
    }
}
