//! Exit codes: the only place that knows the numbers.

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: every result as expected (or nothing to say).
    Ok,
    /// 1: some result not as expected (or drift found).
    Mismatch,
    /// 2: usage or inventory error; nothing was scanned.
    Usage,
    /// 3: incomplete: interrupted, or local errors.
    Incomplete,
}

impl Exit {
    /// The number.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Mismatch => 1,
            Exit::Usage => 2,
            Exit::Incomplete => 3,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// The one rule for output that could not be written, shared by every command: a closed pipe
/// (`telltale … | head -1`) ends quietly, any other failure is reported on stderr as coming from
/// `command`; either way what the user asked for is incomplete, so the exit is 3.
pub fn output_failed(command: &str, e: &std::io::Error) -> Exit {
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        eprintln!("{command}: writing output failed: {e}; output incomplete");
    }
    Exit::Incomplete
}

/// `ok` when `written` succeeded, else [`output_failed`].
pub fn after_write(command: &str, written: std::io::Result<()>, ok: Exit) -> Exit {
    match written {
        Ok(()) => ok,
        Err(e) => output_failed(command, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::Mismatch.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Incomplete.code(), 3);
    }
}
