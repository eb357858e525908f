//! [`Relay`]: a stream output (stdout, stderr, a FIFO or device) written by its own thread, so
//! that a slow or stalled reader never blocks the single-threaded async runtime the probes'
//! timers run on. Bytes are handed over in chunks; the process-wide count of bytes handed over
//! but not yet written is the backlog, and [`drained`] lets the collector wait (asynchronously)
//! until it is below [`BACKLOG_MAX`] — so a stalled reader holds back new probes (the record
//! channel fills, the probes' permits stay taken) instead of piling up output in memory.
//!
//! A write error (EPIPE from a closed pipe) is kept and returned by the next write or flush, and
//! by [`Relay::finish`], which also waits until every byte is written.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::Notify;

/// Bytes handed to relay threads and not yet written above which [`drained`] waits.
pub const BACKLOG_MAX: usize = 256 * 1024;
/// A write that fills the local buffer past this hands it over at once.
const CHUNK: usize = 64 * 1024;

/// Bytes handed over to every relay thread and not yet written.
static QUEUED: AtomicUsize = AtomicUsize::new(0);
/// Woken whenever a relay thread has written a chunk.
static WRITTEN: Notify = Notify::const_new();

/// Whether the relays' backlog is at or above [`BACKLOG_MAX`].
pub fn backlogged() -> bool {
    QUEUED.load(Ordering::Acquire) >= BACKLOG_MAX
}

/// Wait until the relays' backlog is below [`BACKLOG_MAX`] (at once when it is).
pub async fn drained() {
    loop {
        let notified = WRITTEN.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if QUEUED.load(Ordering::Acquire) < BACKLOG_MAX {
            return;
        }
        notified.await;
    }
}

/// A writer whose bytes a dedicated thread writes.
pub struct Relay {
    buf: Vec<u8>,
    tx: Option<Sender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl Relay {
    /// Relay to `w`, written (and flushed after every chunk) by a new thread.
    pub fn new<W: Write + Send + 'static>(mut w: W) -> io::Result<Relay> {
        let (tx, rx) = channel::<Vec<u8>>();
        let error = Arc::new(Mutex::new(None));
        let err = error.clone();
        let thread = std::thread::Builder::new()
            .name("telltale-out".into())
            .spawn(move || {
                let mut failed = false;
                for chunk in rx {
                    if !failed {
                        if let Err(e) = w.write_all(&chunk).and_then(|()| w.flush()) {
                            *err.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                            failed = true;
                        }
                    }
                    QUEUED.fetch_sub(chunk.len(), Ordering::AcqRel);
                    WRITTEN.notify_waiters();
                }
            })?;
        Ok(Relay {
            buf: Vec::new(),
            tx: Some(tx),
            thread: Some(thread),
            error,
        })
    }

    /// The error the thread met, if any (it stays: every later call fails too).
    fn failed(&self) -> io::Result<()> {
        match &*self.error.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
            None => Ok(()),
        }
    }

    /// Hand the buffered bytes to the thread.
    fn hand_over(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buf);
        let len = chunk.len();
        QUEUED.fetch_add(len, Ordering::AcqRel);
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(chunk).is_ok());
        if !sent {
            QUEUED.fetch_sub(len, Ordering::AcqRel);
            self.failed()?;
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        Ok(())
    }

    /// Hand over the rest, wait until the thread has written everything, and return its error.
    pub fn finish(mut self) -> io::Result<()> {
        let handed = self.hand_over();
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.failed()?;
        handed
    }
}

impl Write for Relay {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.failed()?;
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(buf.len())
    }

    /// Hands the bytes over without waiting for them to be written.
    fn flush(&mut self) -> io::Result<()> {
        self.failed()?;
        self.hand_over()
    }
}

impl Drop for Relay {
    /// Unfinished (an error path): the thread writes what it has and ends; nobody waits for it.
    fn drop(&mut self) {
        let _ = self.hand_over();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails after `ok` bytes.
    struct Failing(usize);

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 < buf.len() {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bytes_arrive_in_order_and_finish_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut r = Relay::new(std::fs::File::create(&path).unwrap()).unwrap();
        for i in 0..10_000 {
            writeln!(r, "line {i}").unwrap();
            if i % 7 == 0 {
                r.flush().unwrap();
            }
        }
        r.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let want: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text, want);
    }

    #[test]
    fn a_write_error_comes_back() {
        let mut r = Relay::new(Failing(3)).unwrap();
        r.write_all(b"hello").unwrap();
        r.flush().unwrap();
        // The thread fails on its own time: finish waits for it and returns the error.
        let e = r.finish().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
