//! Bounded-memory buffering for the sinks that cannot write a record when it arrives (the table
//! sorts and aligns its rows, Prometheus groups samples by family and drops repeated label sets,
//! JUnit puts the counts before the test cases).
//!
//! - [`Spool`]: bytes kept in memory up to a limit, then in an anonymous temp file, read back
//!   once in order.
//! - [`Sorter`]: an external merge sort. Items are kept in memory up to a budget, then sorted and
//!   written to an anonymous temp file as a run; at the end the runs are merged (in passes of at
//!   most [`FAN_IN`] runs), so memory stays bounded whatever the number of items. A run of a
//!   small scan never leaves memory: no temp file is created.
//!
//! Temp files are created with [`tempfile::tempfile`]: in the system temp dir (`TMPDIR`
//! respected), never next to the output, and already unlinked, so nothing is left behind on any
//! path (error, interrupt, even SIGKILL).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Cursor, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// In-memory bytes a [`Spool`] keeps before it moves to a temp file.
pub const SPOOL_LIMIT: usize = 1 << 20;
/// Estimated in-memory bytes a [`Sorter`] keeps before it writes a sorted run.
pub const SORT_BUDGET: usize = 4 << 20;
/// Most runs merged at once (each has a [`RUN_BUF`] read buffer while merging).
pub const FAN_IN: usize = 64;
/// Read buffer per run while merging.
const RUN_BUF: usize = 32 << 10;
/// Write buffer for a run.
const WRITE_BUF: usize = 64 << 10;

/// An anonymous temp file in the system temp dir; the error names that dir.
fn temp_file() -> io::Result<File> {
    tempfile::tempfile().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot create a temp file in {} (set TMPDIR to a writable directory): {e}",
                std::env::temp_dir().display()
            ),
        )
    })
}

/// A temp file's read or write error, saying where (a full temp dir is not the output's).
fn in_temp(e: io::Error) -> io::Error {
    if e.to_string().contains("temp file") {
        return e;
    }
    io::Error::new(
        e.kind(),
        format!(
            "temp file in {} (set TMPDIR elsewhere if it is full): {e}",
            std::env::temp_dir().display()
        ),
    )
}

/// Bytes written once and read back once, in memory up to `limit`, then in a temp file.
pub struct Spool {
    mem: Vec<u8>,
    file: Option<BufWriter<File>>,
    limit: usize,
}

impl Spool {
    /// An empty spool that stays in memory up to `limit` bytes.
    pub fn new(limit: usize) -> Spool {
        Spool {
            mem: Vec::new(),
            file: None,
            limit,
        }
    }

    /// Whether the spool moved to a temp file.
    #[cfg(test)]
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Everything written, from the start.
    pub fn into_reader(self) -> io::Result<Box<dyn BufRead + Send>> {
        match self.file {
            None => Ok(Box::new(Cursor::new(self.mem))),
            Some(w) => {
                let mut f = w.into_inner().map_err(|e| in_temp(e.into_error()))?;
                f.seek(SeekFrom::Start(0)).map_err(in_temp)?;
                Ok(Box::new(BufReader::with_capacity(WRITE_BUF, f)))
            }
        }
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some(f) = self.file.as_mut() {
            return f.write_all(buf).map_err(in_temp);
        }
        self.mem.extend_from_slice(buf);
        if self.mem.len() > self.limit {
            let mut f = BufWriter::with_capacity(WRITE_BUF, temp_file()?);
            f.write_all(&self.mem).map_err(in_temp)?;
            self.mem = Vec::new();
            self.file = Some(f);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file
            .as_mut()
            .map_or(Ok(()), |f| f.flush().map_err(in_temp))
    }
}

/// An item a [`Sorter`] can write to a run and read back.
pub trait Item: Ord + Sized {
    /// Append the encoding of `self`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Read one item back from its encoding.
    fn decode(d: &mut Dec<'_>) -> io::Result<Self>;
    /// Heap bytes the item owns (its strings' capacities), for the memory budget.
    fn heap_bytes(&self) -> usize;
}

/// Encoding helpers: little-endian integers, length-prefixed strings.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A string as its length (u32) and its bytes.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    let n = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&s.as_bytes()[..n as usize]);
}

/// An optional address: tag 0 (none), 4 or 6, then the octets.
pub fn put_addr(out: &mut Vec<u8>, a: Option<IpAddr>) {
    match a {
        None => out.push(0),
        Some(IpAddr::V4(v)) => {
            out.push(4);
            out.extend_from_slice(&v.octets());
        }
        Some(IpAddr::V6(v)) => {
            out.push(6);
            out.extend_from_slice(&v.octets());
        }
    }
}

/// A decoder over one item's bytes.
pub struct Dec<'a>(&'a [u8]);

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "spill file: truncated item")
}

impl<'a> Dec<'a> {
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(corrupt());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    /// One byte.
    pub fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    /// A little-endian u64.
    pub fn u64(&mut self) -> io::Result<u64> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| corrupt())?;
        Ok(u64::from_le_bytes(b))
    }

    /// A string written by [`put_str`].
    pub fn string(&mut self) -> io::Result<String> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| corrupt())?;
        let n = u32::from_le_bytes(b) as usize;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| corrupt())
    }

    /// An address written by [`put_addr`].
    pub fn addr(&mut self) -> io::Result<Option<IpAddr>> {
        match self.u8()? {
            0 => Ok(None),
            4 => {
                let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| corrupt())?;
                Ok(Some(IpAddr::from(b)))
            }
            6 => {
                let b: [u8; 16] = self.take(16)?.try_into().map_err(|_| corrupt())?;
                Ok(Some(IpAddr::from(b)))
            }
            _ => Err(corrupt()),
        }
    }
}

/// A sorted run: a byte range of the spill file.
#[derive(Clone, Copy)]
struct Run {
    start: u64,
    end: u64,
}

/// External merge sort with bounded memory; equal items come out in push order.
pub struct Sorter<T: Item> {
    buf: Vec<T>,
    bytes: usize,
    budget: usize,
    file: Option<Arc<File>>,
    end: u64,
    runs: Vec<Run>,
}

impl<T: Item> Sorter<T> {
    /// A sorter that keeps about `budget` bytes of items in memory.
    pub fn new(budget: usize) -> Sorter<T> {
        Sorter {
            buf: Vec::new(),
            bytes: 0,
            budget,
            file: None,
            end: 0,
            runs: Vec::new(),
        }
    }

    /// Add one item; may write a sorted run to the temp file.
    pub fn push(&mut self, item: T) -> io::Result<()> {
        self.bytes += std::mem::size_of::<T>() + item.heap_bytes();
        self.buf.push(item);
        if self.bytes > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Runs written so far.
    #[cfg(test)]
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    fn file(&mut self) -> io::Result<Arc<File>> {
        if let Some(f) = &self.file {
            return Ok(Arc::clone(f));
        }
        let f = Arc::new(temp_file()?);
        self.file = Some(Arc::clone(&f));
        Ok(f)
    }

    /// Sort the buffered items (stable: equal items keep push order) and write them as a run.
    fn spill(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.buf);
        self.bytes = 0;
        buf.sort();
        let mut w = Appender::new(self.file()?, self.end);
        for item in &buf {
            w.push(item)?;
        }
        drop(buf);
        let run = w.finish()?;
        self.end = run.end;
        self.runs.push(run);
        Ok(())
    }

    /// Every item pushed, in order.
    pub fn finish(mut self) -> io::Result<Sorted<T>> {
        if self.runs.is_empty() {
            let mut buf = std::mem::take(&mut self.buf);
            buf.sort();
            return Ok(Sorted::Mem(buf.into_iter()));
        }
        self.spill()?;
        let file = self.file()?;
        let mut runs = std::mem::take(&mut self.runs);
        while runs.len() > FAN_IN {
            // Merge neighbouring runs, so equal items stay in push order.
            let mut next = Vec::with_capacity(runs.len().div_ceil(FAN_IN));
            for group in runs.chunks(FAN_IN) {
                let mut m = Merge::<T>::open(&file, group)?;
                let mut w = Appender::new(Arc::clone(&file), self.end);
                while let Some(item) = m.next_item()? {
                    w.push(&item)?;
                }
                let run = w.finish()?;
                self.end = run.end;
                next.push(run);
            }
            runs = next;
        }
        Ok(Sorted::Merge(Merge::open(&file, &runs)?))
    }
}

/// Writes items as length-prefixed frames at the end of the spill file.
struct Appender {
    file: Arc<File>,
    start: u64,
    at: u64,
    buf: Vec<u8>,
    item: Vec<u8>,
}

impl Appender {
    fn new(file: Arc<File>, at: u64) -> Appender {
        Appender {
            file,
            start: at,
            at,
            buf: Vec::with_capacity(WRITE_BUF),
            item: Vec::new(),
        }
    }

    fn push<T: Item>(&mut self, item: &T) -> io::Result<()> {
        self.item.clear();
        item.encode(&mut self.item);
        let n = u32::try_from(self.item.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "spill item over 4 GiB"))?;
        self.buf.extend_from_slice(&n.to_le_bytes());
        self.buf.extend_from_slice(&self.item);
        if self.buf.len() >= WRITE_BUF {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file
            .write_all_at(&self.buf, self.at)
            .map_err(in_temp)?;
        self.at += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<Run> {
        self.flush()?;
        Ok(Run {
            start: self.start,
            end: self.at,
        })
    }
}

/// Reads one run's frames back with positioned reads (the runs share one file).
struct RunReader {
    file: Arc<File>,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    at: usize,
}

impl RunReader {
    /// Make sure `need` unread bytes are buffered.
    fn fill(&mut self, need: usize) -> io::Result<()> {
        let have = self.buf.len() - self.at;
        if have >= need {
            return Ok(());
        }
        self.buf.drain(..self.at);
        self.at = 0;
        let left = self.end - self.pos;
        let want = (need.max(RUN_BUF) - have) as u64;
        let n = usize::try_from(want.min(left)).map_err(|_| corrupt())?;
        if have + n < need {
            return Err(corrupt());
        }
        self.buf.resize(have + n, 0);
        self.file
            .read_exact_at(&mut self.buf[have..], self.pos)
            .map_err(in_temp)?;
        self.pos += n as u64;
        Ok(())
    }

    fn next_item<T: Item>(&mut self) -> io::Result<Option<T>> {
        if self.at == self.buf.len() && self.pos == self.end {
            return Ok(None);
        }
        self.fill(4)?;
        let len: [u8; 4] = self.buf[self.at..self.at + 4]
            .try_into()
            .map_err(|_| corrupt())?;
        let len = u32::from_le_bytes(len) as usize;
        self.at += 4;
        self.fill(len)?;
        let mut d = Dec(&self.buf[self.at..self.at + len]);
        let item = T::decode(&mut d)?;
        self.at += len;
        Ok(Some(item))
    }
}

/// A k-way merge of runs; ties go to the earlier run.
pub struct Merge<T: Item> {
    readers: Vec<RunReader>,
    heap: BinaryHeap<Reverse<(T, usize)>>,
}

impl<T: Item> Merge<T> {
    fn open(file: &Arc<File>, runs: &[Run]) -> io::Result<Merge<T>> {
        let mut m = Merge {
            readers: Vec::with_capacity(runs.len()),
            heap: BinaryHeap::with_capacity(runs.len()),
        };
        for (i, r) in runs.iter().enumerate() {
            let mut reader = RunReader {
                file: Arc::clone(file),
                pos: r.start,
                end: r.end,
                buf: Vec::new(),
                at: 0,
            };
            if let Some(item) = reader.next_item()? {
                m.heap.push(Reverse((item, i)));
            }
            m.readers.push(reader);
        }
        Ok(m)
    }

    fn next_item(&mut self) -> io::Result<Option<T>> {
        let Some(Reverse((item, i))) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(next) = self.readers[i].next_item()? {
            self.heap.push(Reverse((next, i)));
        }
        Ok(Some(item))
    }
}

/// The items of a [`Sorter`], in order.
pub enum Sorted<T: Item> {
    /// Everything fit in memory.
    Mem(std::vec::IntoIter<T>),
    /// Merged back from the spill file.
    Merge(Merge<T>),
}

impl<T: Item> Iterator for Sorted<T> {
    type Item = io::Result<T>;

    fn next(&mut self) -> Option<io::Result<T>> {
        match self {
            Sorted::Mem(it) => it.next().map(Ok),
            Sorted::Merge(m) => m.next_item().transpose(),
        }
    }
}
