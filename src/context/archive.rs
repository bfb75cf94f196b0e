//! The context as a tar stream: what `build` sends as the request body and what
//! `shipimg context --output` writes. Entries come in walk order with uid/gid 0, the files'
//! modes and whole-second mtimes (as docker/cli's archive does); symlinks stay symlinks; long
//! and non-UTF-8 names use GNU long-name records. Memory stays flat: one read buffer, reused.

use std::collections::{BinaryHeap, HashMap};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::Serialize;
use tar::{EntryType, Header};
use tokio::sync::mpsc;

use super::walk::{Entry, EntryKind, Notice, walk};
use super::{ContextError, ContextPlan};

/// Bytes read from a file per system call.
const READ_CHUNK: usize = 256 * 1024;
/// How many of the largest files and directories a summary keeps.
const TOP: usize = 10;

/// What a context holds, for `shipimg context` and the build's progress.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ContextSummary {
    /// Regular files sent (hard links count once).
    pub files: u64,
    /// Directories sent.
    pub dirs: u64,
    /// Symlinks sent.
    pub symlinks: u64,
    /// Bytes of file content sent.
    pub bytes: u64,
    /// The largest files, largest first: (path, bytes).
    pub largest_files: Vec<(String, u64)>,
    /// The directories holding the most bytes (all levels), largest first: (path, bytes).
    pub largest_dirs: Vec<(String, u64)>,
    /// Files the credential guard left out: (path, reason).
    pub left_out: Vec<(String, String)>,
    /// Files sent that carry an embedded credential: (path, what).
    pub embedded: Vec<(String, String)>,
    /// Sockets, FIFOs and devices skipped: (path, what).
    pub skipped: Vec<(String, String)>,
}

#[derive(Default)]
struct Tally {
    summary: ContextSummary,
    top_files: BinaryHeap<std::cmp::Reverse<(u64, Vec<u8>)>>,
    dir_bytes: HashMap<Vec<u8>, u64>,
}

impl Tally {
    fn add(&mut self, entry: &Entry<'_>) {
        match entry.kind {
            EntryKind::Dir => self.summary.dirs += 1,
            EntryKind::Symlink(_) => self.summary.symlinks += 1,
            EntryKind::HardLink(_) => {}
            EntryKind::File => {
                let size = entry.meta.len();
                self.summary.files += 1;
                self.summary.bytes += size;
                self.top_files
                    .push(std::cmp::Reverse((size, entry.rel.to_vec())));
                if self.top_files.len() > TOP {
                    self.top_files.pop();
                }
                let mut end = entry.rel.len();
                while let Some(slash) = entry.rel[..end].iter().rposition(|&b| b == b'/') {
                    *self
                        .dir_bytes
                        .entry(entry.rel[..slash].to_vec())
                        .or_default() += size;
                    end = slash;
                }
            }
        }
    }

    fn notice(&mut self, notice: &Notice) {
        match notice {
            Notice::CredentialLeftOut { path, kind } => self
                .summary
                .left_out
                .push((path.clone(), kind.reason().into())),
            Notice::CredentialEmbedded { path, kind } => self
                .summary
                .embedded
                .push((path.clone(), kind.reason().into())),
            Notice::SpecialSkipped { path, what } => {
                self.summary.skipped.push((path.clone(), (*what).into()))
            }
        }
    }

    fn finish(mut self) -> ContextSummary {
        let mut files: Vec<(u64, Vec<u8>)> = self.top_files.into_iter().map(|r| r.0).collect();
        files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        self.summary.largest_files = files
            .into_iter()
            .map(|(size, path)| (String::from_utf8_lossy(&path).into_owned(), size))
            .collect();
        let mut dirs: Vec<(Vec<u8>, u64)> = self.dir_bytes.into_iter().collect();
        dirs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        dirs.truncate(TOP);
        self.summary.largest_dirs = dirs
            .into_iter()
            .map(|(path, size)| (String::from_utf8_lossy(&path).into_owned(), size))
            .collect();
        self.summary
    }
}

/// Walks the context without reading file contents, for `shipimg context` without `--output`.
pub fn summarize(
    plan: &ContextPlan,
    on_notice: &mut dyn FnMut(&Notice),
) -> Result<ContextSummary, ContextError> {
    let mut tally = Tally::default();
    let mut notices = Vec::new();
    walk(
        plan,
        &mut |entry| {
            tally.add(&entry);
            Ok(())
        },
        &mut |notice| notices.push(notice),
    )?;
    for notice in &notices {
        on_notice(notice);
        tally.notice(notice);
    }
    Ok(tally.finish())
}

/// Writes the context as a tar to `out` while walking it. Blocking: run it on a thread of its
/// own, never on an async worker. `on_notice` hears each file left out as it happens.
pub fn write_tar<W: Write>(
    plan: &ContextPlan,
    out: W,
    on_notice: &mut dyn FnMut(&Notice),
) -> Result<ContextSummary, ContextError> {
    let mut builder = tar::Builder::new(out);
    let mut buffer = vec![0u8; READ_CHUNK];
    let mut tally = Tally::default();
    let mut notices = Vec::new();
    walk(
        plan,
        &mut |entry| {
            tally.add(&entry);
            append_entry(&mut builder, &entry, &mut buffer)
        },
        &mut |notice| {
            on_notice(&notice);
            notices.push(notice);
        },
    )?;
    for notice in &notices {
        tally.notice(notice);
    }
    if let Some(name) = &plan.dockerfile_extra {
        append_outside_dockerfile(&mut builder, &plan.dockerfile, name, &mut buffer)?;
    }
    builder
        .into_inner()
        .and_then(|mut out| out.flush())
        .map_err(ContextError::Write)?;
    Ok(tally.finish())
}

fn base_header(meta: &std::fs::Metadata, entry_type: EntryType) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(meta.mtime().max(0) as u64);
    header.set_size(0);
    header
}

fn append_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    entry: &Entry<'_>,
    buffer: &mut [u8],
) -> Result<(), ContextError> {
    let path = Path::new(OsStr::from_bytes(entry.rel));
    match &entry.kind {
        EntryKind::Dir => {
            let mut header = base_header(entry.meta, EntryType::Directory);
            builder
                .append_data(&mut header, path, io::empty())
                .map_err(ContextError::Write)
        }
        EntryKind::Symlink(target) => {
            let mut header = base_header(entry.meta, EntryType::Symlink);
            builder
                .append_link(&mut header, path, target)
                .map_err(ContextError::Write)
        }
        EntryKind::HardLink(first) => {
            let mut header = base_header(entry.meta, EntryType::Link);
            builder
                .append_link(&mut header, path, Path::new(OsStr::from_bytes(first)))
                .map_err(ContextError::Write)
        }
        EntryKind::File => {
            let size = entry.meta.len();
            let mut header = base_header(entry.meta, EntryType::Regular);
            header.set_size(size);
            append_file(builder, &mut header, path, entry.abs, size, buffer)
        }
    }
}

fn append_outside_dockerfile<W: Write>(
    builder: &mut tar::Builder<W>,
    dockerfile: &Path,
    name: &str,
    buffer: &mut [u8],
) -> Result<(), ContextError> {
    let meta = std::fs::metadata(dockerfile).map_err(|source| ContextError::Io {
        path: dockerfile.to_path_buf(),
        source,
    })?;
    let mut header = base_header(&meta, EntryType::Regular);
    header.set_mode(0o600);
    header.set_size(meta.len());
    append_file(
        builder,
        &mut header,
        Path::new(name),
        dockerfile,
        meta.len(),
        buffer,
    )
}

fn append_file<W: Write>(
    builder: &mut tar::Builder<W>,
    header: &mut Header,
    path: &Path,
    abs: &Path,
    size: u64,
    buffer: &mut [u8],
) -> Result<(), ContextError> {
    let file = File::open(abs).map_err(|source| ContextError::Io {
        path: abs.to_path_buf(),
        source,
    })?;
    let mut reader = ExactReader {
        file,
        expected: size,
        remaining: size,
        buffer,
        pos: 0,
        len: 0,
    };
    builder
        .append_data(header, path, &mut reader)
        .map_err(|err| classify_append_error(err, abs))
}

/// Tells read failures (ours, marked) from write failures (the sink's).
fn classify_append_error(err: io::Error, abs: &Path) -> ContextError {
    let marked = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<ReadFailure>());
    match marked {
        Some(ReadFailure::Changed { expected, actual }) => ContextError::ChangedWhileReading {
            path: abs.to_path_buf(),
            expected: *expected,
            actual: actual.clone(),
        },
        Some(ReadFailure::Io(kind, text)) => ContextError::Io {
            path: abs.to_path_buf(),
            source: io::Error::new(*kind, text.clone()),
        },
        None => ContextError::Write(err),
    }
}

#[derive(Debug)]
enum ReadFailure {
    Changed { expected: u64, actual: String },
    Io(io::ErrorKind, String),
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFailure::Changed { expected, actual } => {
                write!(f, "file changed size: {expected} bytes expected, {actual}")
            }
            ReadFailure::Io(_, text) => f.write_str(text),
        }
    }
}

impl std::error::Error for ReadFailure {}

/// Reads exactly the size the header promised, through one reused buffer, and fails (rather
/// than send a corrupt tar) if the file turns out shorter or longer.
struct ExactReader<'b> {
    file: File,
    expected: u64,
    remaining: u64,
    buffer: &'b mut [u8],
    pos: usize,
    len: usize,
}

impl ExactReader<'_> {
    fn fill(&mut self) -> io::Result<usize> {
        let want = self.buffer.len().min(self.remaining as usize);
        loop {
            match self.file.read(&mut self.buffer[..want]) {
                Ok(n) => return Ok(n),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    return Err(io::Error::other(ReadFailure::Io(
                        err.kind(),
                        err.to_string(),
                    )));
                }
            }
        }
    }
}

impl Read for ExactReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len {
            if self.remaining == 0 {
                let mut probe = [0u8; 1];
                return match self.file.read(&mut probe) {
                    Ok(0) => Ok(0),
                    Ok(_) => Err(io::Error::other(ReadFailure::Changed {
                        expected: self.expected,
                        actual: "more".into(),
                    })),
                    Err(err) => Err(io::Error::other(ReadFailure::Io(
                        err.kind(),
                        err.to_string(),
                    ))),
                };
            }
            let n = self.fill()?;
            if n == 0 {
                return Err(io::Error::other(ReadFailure::Changed {
                    expected: self.expected,
                    actual: (self.expected - self.remaining).to_string(),
                }));
            }
            self.pos = 0;
            self.len = n;
            self.remaining -= n as u64;
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.buffer[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Context bytes per request-body chunk.
const BODY_CHUNK: usize = 256 * 1024;

/// The tar as a request body: chunks the engine reads while a blocking thread writes them.
pub type TarBody = BoxStream<'static, io::Result<Bytes>>;
/// The thread writing a [`TarBody`]: what it sent, or why it stopped.
pub type TarTask = tokio::task::JoinHandle<Result<ContextSummary, ContextError>>;

/// Streams the plan's tar as a request body: a blocking thread walks and writes it in
/// 256 KiB chunks while the engine reads, telling `on_notice` what the walk leaves out. A walk
/// that fails aborts the body, so the engine never builds from a truncated context.
pub fn tar_body(
    plan: Arc<ContextPlan>,
    mut on_notice: impl FnMut(&Notice) + Send + 'static,
) -> (TarBody, TarTask) {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    let task = tokio::task::spawn_blocking(move || {
        let mut writer = ChannelWriter {
            tx: tx.clone(),
            buffer: BytesMut::with_capacity(BODY_CHUNK),
        };
        let result = write_tar(&plan, &mut writer, &mut on_notice);
        if let Err(err) = &result {
            let _ = tx.blocking_send(Err(io::Error::other(crate::error::chain(err))));
        }
        result
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (body.boxed(), task)
}

/// Bridges the blocking tar writer to the async request body, in chunks.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buffer: BytesMut,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the engine stopped reading the context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= BODY_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(path: &Path, expected: u64, buffer: &mut [u8]) -> io::Result<Vec<u8>> {
        let mut reader = ExactReader {
            file: File::open(path).unwrap(),
            expected,
            remaining: expected,
            buffer,
            pos: 0,
            len: 0,
        };
        let mut out = Vec::new();
        reader.read_to_end(&mut out).map(|_| out)
    }

    fn changed(err: &io::Error) -> Option<(u64, String)> {
        match err.get_ref()?.downcast_ref::<ReadFailure>()? {
            ReadFailure::Changed { expected, actual } => Some((*expected, actual.clone())),
            ReadFailure::Io(..) => None,
        }
    }

    #[test]
    fn exact_reader_reads_across_buffer_refills() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut buffer = vec![0u8; 1000];
        assert_eq!(exact(&path, data.len() as u64, &mut buffer).unwrap(), data);
    }

    /// A file that shrank after its header was written must fail, not pad the tar with junk.
    #[test]
    fn file_that_shrank_while_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"short").unwrap();
        let err = exact(&path, 100, &mut [0u8; 64]).unwrap_err();
        assert_eq!(changed(&err), Some((100, "5".into())));
    }

    /// A file that grew must fail too: the header already promised fewer bytes.
    #[test]
    fn file_that_grew_while_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"longer than promised").unwrap();
        let err = exact(&path, 4, &mut [0u8; 64]).unwrap_err();
        assert_eq!(changed(&err), Some((4, "more".into())));
        let ctx = classify_append_error(err, &path);
        assert!(
            ctx.to_string().contains("changed while it was being sent"),
            "{ctx}"
        );
    }
}
