//! `moby.filesync.v1.FileSync/DiffCopy`: the engine pulls the build context and the Dockerfile
//! over the session, and keeps the previous context so that a rebuild asks only for what changed.
//!
//! The engine is the gRPC client: per directory it wants (`dir-name` `context` or `dockerfile`)
//! it opens a bidirectional stream of fsutil packets. We send one `STAT` per entry, in the walk
//! order of [`crate::context::walk`] (the order fsutil's receiver checks), then an empty `STAT`;
//! the engine answers `REQ{id}` for the files it lacks, where `id` is a `STAT`'s position, and we
//! answer each with `DATA` chunks and an empty `DATA`; a `FIN` ends the call.
//!
//! What is sent is decided by the same walk, ignore rules and credential guard as the tar stream,
//! so both routes put the same files in the image. Walking and reading are blocking work: they
//! run on blocking threads and hand packets to the connection through a bounded queue, while a
//! task of its own reads the engine's packets as soon as they arrive (h2 drops a peer that leaves
//! too many small frames unread).

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::{Packet, Stat};
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::{FileSync, FileSyncServer};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use crate::context::ContextError;
use crate::context::ContextPlan;
use crate::context::ignore::{Matcher, parse_exclude_patterns};
use crate::context::walk::{Entry, EntryKind, Includes, Notice, WalkOptions, walk_with};

/// Bytes of file content per `DATA` packet: the fastest size measured against the engine, far
/// under the 4 MiB a gRPC message may carry.
pub const CHUNK: usize = 32 * 1024;
/// Packets waiting for the connection, per call: bounds memory to about this many chunks.
const OUT_QUEUE: usize = 64;
/// `STAT`s per batch on the way out (see [`Outgoing`]).
const STAT_BATCH: usize = 256;
/// Blocking threads reading requested files, per call.
const READERS: usize = 4;
/// Symlinks followed when resolving one `followpaths` entry.
const MAX_LINK_DEPTH: usize = 40;

// Go's `io/fs.FileMode` type bits, which fsutil's `Stat.mode` carries above the permissions.
const GO_MODE_DIR: u32 = 1 << 31;
const GO_MODE_SYMLINK: u32 = 1 << 27;
const GO_MODE_DEVICE: u32 = 1 << 26;
const GO_MODE_NAMED_PIPE: u32 = 1 << 25;
const GO_MODE_SETUID: u32 = 1 << 23;
const GO_MODE_SETGID: u32 = 1 << 22;
const GO_MODE_CHAR_DEVICE: u32 = 1 << 21;
const GO_MODE_STICKY: u32 = 1 << 20;

/// What one build's file sync sent, over all the engine's `context` calls (it makes several,
/// so files are counted by path).
#[derive(Debug, Default)]
pub struct TransferStats {
    files_listed: Mutex<HashSet<Vec<u8>>>,
    files_sent: Mutex<HashSet<Vec<u8>>>,
    bytes_sent: AtomicU64,
}

/// A snapshot of [`TransferStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TransferSummary {
    /// Files the engine asked for and got.
    pub files_sent: u64,
    /// Bytes of file content sent.
    pub bytes_sent: u64,
    /// Files listed that the engine already held (unchanged since its last copy).
    pub files_unchanged: u64,
}

impl TransferStats {
    /// The numbers so far.
    pub fn summary(&self) -> TransferSummary {
        let listed = self.files_listed.lock().unwrap_or_else(|p| p.into_inner());
        let sent = self.files_sent.lock().unwrap_or_else(|p| p.into_inner());
        TransferSummary {
            files_sent: sent.len() as u64,
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            files_unchanged: listed.difference(&sent).count() as u64,
        }
    }

    fn listed(&self, rel: &[u8]) {
        let mut listed = self.files_listed.lock().unwrap_or_else(|p| p.into_inner());
        if !listed.contains(rel) {
            listed.insert(rel.to_vec());
        }
    }

    fn sent(&self, rel: &[u8], bytes: u64) {
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
        let mut sent = self.files_sent.lock().unwrap_or_else(|p| p.into_inner());
        if !sent.contains(rel) {
            sent.insert(rel.to_vec());
        }
    }
}

/// Called for each entry a walk leaves out that the user should hear about.
pub type NoticeSink = Arc<dyn Fn(&Notice) + Send + Sync>;

/// The directories a build serves over file sync, and what happened while serving them. Clone
/// it to keep a handle for the statistics, the first failure and cancellation.
#[derive(Clone)]
pub struct ContextSource {
    inner: Arc<SourceInner>,
}

struct SourceInner {
    plan: Arc<ContextPlan>,
    dockerfile_dir: PathBuf,
    /// Whether the engine's exclude patterns come from the same ignore file as the plan's.
    engine_excludes_apply: bool,
    stats: TransferStats,
    failure: Mutex<Option<ContextError>>,
    cancelled: AtomicBool,
    on_notice: NoticeSink,
}

impl std::fmt::Debug for ContextSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextSource")
            .field("context", &self.inner.plan.dir)
            .field("dockerfile_dir", &self.inner.dockerfile_dir)
            .finish()
    }
}

impl ContextSource {
    /// Serves the plan's context as `context` and the Dockerfile's directory as `dockerfile`.
    pub fn new(plan: Arc<ContextPlan>, on_notice: NoticeSink) -> Self {
        let dockerfile_dir = plan
            .dockerfile
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| plan.dir.clone());
        // The engine parses the root `.dockerignore` it reads over the session; a
        // Dockerfile-specific ignore file replaces it, as it does for the tar stream.
        let engine_excludes_apply = plan
            .ignore_file
            .as_deref()
            .is_none_or(|file| file == plan.dir.join(".dockerignore"));
        Self {
            inner: Arc::new(SourceInner {
                plan,
                dockerfile_dir,
                engine_excludes_apply,
                stats: TransferStats::default(),
                failure: Mutex::new(None),
                cancelled: AtomicBool::new(false),
                on_notice,
            }),
        }
    }

    /// The `dockerfile` build parameter: the Dockerfile's name in its own directory.
    pub fn dockerfile_name(&self) -> String {
        self.inner
            .plan
            .dockerfile
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".into())
    }

    /// What was sent so far.
    pub fn summary(&self) -> TransferSummary {
        self.inner.stats.summary()
    }

    /// The first local failure (a file that changed, a name that cannot be sent), if any: the
    /// cause of whatever the engine reports.
    pub fn take_failure(&self) -> Option<ContextError> {
        self.inner.failure.lock().ok()?.take()
    }

    /// Stops walkers and readers at their next entry or chunk.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::Relaxed);
    }

    /// The gRPC service, for the session's routes.
    pub(crate) fn into_server(self) -> FileSyncServer<FileSyncService> {
        FileSyncServer::new(FileSyncService { source: self })
    }

    fn fail(&self, err: ContextError) -> String {
        let text = crate::error::chain(&err);
        if let Ok(mut slot) = self.inner.failure.lock()
            && slot.is_none()
        {
            *slot = Some(err);
        }
        text
    }

    fn cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Relaxed)
    }
}

/// The shared key that names the engine's copy of this context: stable for one machine and one
/// context directory, so a rebuild finds the previous copy and transfers only changes.
pub fn shared_key(context_dir: &Path, node_id: &str) -> String {
    let canonical = std::fs::canonicalize(context_dir).unwrap_or_else(|_| context_dir.into());
    let mut hash = Sha256::new();
    hash.update(node_id.as_bytes());
    hash.update(b"\0");
    hash.update(canonical.as_os_str().as_bytes());
    crate::hex::encode(&hash.finalize()[..16])
}

/// This machine's id for [`shared_key`]: random, made once and kept in `dir` (the user's cache
/// directory). When it cannot be kept, an id that lasts for this process: builds still work, but
/// each one sends the whole context.
pub fn node_id(dir: Option<&Path>) -> String {
    let Some(dir) = dir else {
        return crate::random::session_id();
    };
    let path = dir.join("node-id");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if !id.is_empty() {
            return id.to_owned();
        }
    }
    let id = crate::random::session_id();
    let written = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &id));
    if let Err(err) = written {
        tracing::debug!("cannot keep the node id in `{}`: {err}", path.display());
    }
    id
}

/// Where [`node_id`] keeps the id: `$XDG_CACHE_HOME/shipimg`, else `~/.cache/shipimg`.
pub fn node_id_dir(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    crate::cache::dir(var)
}

/// The engine's options for one call, from its gRPC metadata.
#[derive(Debug, Default, PartialEq, Eq)]
struct CallOptions {
    dir_name: Vec<u8>,
    exclude_patterns: Vec<Vec<u8>>,
    include_patterns: Vec<Vec<u8>>,
    follow_paths: Vec<Vec<u8>>,
    override_excludes: bool,
}

impl CallOptions {
    fn from_metadata(metadata: &MetadataMap) -> Self {
        // Values are bytes (a pattern may be non-ASCII). Newer engines percent-encode them and
        // say so in `<key>-encoded`.
        let values = |key: &str| -> Vec<Vec<u8>> {
            let encoded = metadata
                .get(format!("{key}-encoded"))
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
            metadata
                .get_all(key)
                .iter()
                .map(|v| {
                    let raw = v.as_bytes();
                    if encoded {
                        query_unescape(raw)
                    } else {
                        raw.to_vec()
                    }
                })
                .collect()
        };
        Self {
            dir_name: values("dir-name").into_iter().next().unwrap_or_default(),
            exclude_patterns: values("exclude-patterns"),
            include_patterns: values("include-patterns"),
            follow_paths: values("followpaths"),
            override_excludes: values("override-excludes")
                .first()
                .is_some_and(|v| v.eq_ignore_ascii_case(b"true")),
        }
    }
}

/// Go's `url.QueryUnescape`, leniently: a bad escape stays as it is.
fn query_unescape(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < text.len() => match (hex(text[i + 1]), hex(text[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// fsutil's `Stat.mode`: Go's `fs.FileMode` of an `st_mode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut mode = st_mode & 0o777;
    mode |= match st_mode & libc::S_IFMT {
        libc::S_IFDIR => GO_MODE_DIR,
        libc::S_IFLNK => GO_MODE_SYMLINK,
        libc::S_IFBLK => GO_MODE_DEVICE,
        libc::S_IFCHR => GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE,
        libc::S_IFIFO => GO_MODE_NAMED_PIPE,
        // fsutil clears the socket bit; regular files have no type bit.
        _ => 0,
    };
    if st_mode & libc::S_ISUID != 0 {
        mode |= GO_MODE_SETUID;
    }
    if st_mode & libc::S_ISGID != 0 {
        mode |= GO_MODE_SETGID;
    }
    if st_mode & libc::S_ISVTX != 0 {
        mode |= GO_MODE_STICKY;
    }
    mode
}

fn utf8(bytes: &[u8]) -> Result<String, ContextError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ContextError::NotUtf8 {
        path: String::from_utf8_lossy(bytes).into_owned(),
    })
}

/// The `STAT` of one walked entry. `owner_root` sends uid and gid 0, as the docker CLI does for
/// the context (ownership is part of COPY's cache key).
pub fn entry_stat(entry: &Entry<'_>, owner_root: bool) -> Result<Stat, ContextError> {
    let meta = entry.meta;
    let path = utf8(entry.rel)?;
    let linkname = match &entry.kind {
        EntryKind::Symlink(target) => {
            utf8(target.as_os_str().as_bytes()).map_err(|_| ContextError::NotUtf8 {
                path: format!("{path} -> {}", target.display()),
            })?
        }
        EntryKind::HardLink(first) => utf8(first)?,
        EntryKind::Dir | EntryKind::File => String::new(),
    };
    let (uid, gid) = if owner_root {
        (0, 0)
    } else {
        (meta.uid(), meta.gid())
    };
    Ok(Stat {
        path,
        mode: go_file_mode(meta.mode()),
        uid,
        gid,
        size: if entry.kind == EntryKind::Dir {
            0
        } else {
            meta.size() as i64
        },
        mod_time: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        linkname,
        devmajor: 0,
        devminor: 0,
        xattrs: Default::default(),
    })
}

fn packet(kind: PacketType) -> Packet {
    Packet {
        r#type: kind as i32,
        ..Default::default()
    }
}

fn err_packet(text: &str) -> Packet {
    Packet {
        data: text.as_bytes().to_vec(),
        ..packet(PacketType::PacketErr)
    }
}

/// The include paths for `followpaths`: each path, and where it leads through symlinks inside
/// `root`, as fsutil's `FollowPaths` does. `None` when a path is `.` (everything).
fn resolve_follow_paths(root: &Path, paths: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for path in paths {
        let mut current = clean_rel(path)?;
        out.push(current.clone());
        for _ in 0..MAX_LINK_DEPTH {
            let abs = root.join(std::ffi::OsStr::from_bytes(&current));
            let Ok(target) = std::fs::read_link(&abs) else {
                break;
            };
            let target = target.as_os_str().as_bytes();
            let joined = if target.starts_with(b"/") {
                target.to_vec()
            } else {
                match current.iter().rposition(|&b| b == b'/') {
                    Some(slash) => [&current[..=slash], target].concat(),
                    None => target.to_vec(),
                }
            };
            match clean_rel(&joined) {
                Some(next) if !next.starts_with(b"..") => {
                    out.push(next.clone());
                    current = next;
                }
                _ => break,
            }
        }
    }
    Some(out)
}

/// A path cleaned lexically and made relative (`/a/./b/` -> `a/b`); `None` for the root itself.
fn clean_rel(path: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut escapes = 0;
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.pop().is_none() {
                    escapes += 1;
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() && escapes == 0 {
        return None;
    }
    let mut out: Vec<Vec<u8>> = vec![b"..".to_vec(); escapes];
    out.extend(parts.into_iter().map(<[u8]>::to_vec));
    Some(out.join(&b'/'))
}

/// Which directory a call serves, and under which rules.
struct CallPlan {
    root: PathBuf,
    owner_root: bool,
    is_context: bool,
    extra_excludes: Option<Matcher>,
    includes: Option<Includes>,
}

impl ContextSource {
    fn call_plan(&self, options: &CallOptions) -> Result<CallPlan, Status> {
        let is_context = match options.dir_name.as_slice() {
            b"context" => true,
            b"dockerfile" => false,
            other => {
                return Err(Status::not_found(format!(
                    "no directory `{}` in this session",
                    String::from_utf8_lossy(other)
                )));
            }
        };
        let root = if is_context {
            self.inner.plan.dir.clone()
        } else {
            self.inner.dockerfile_dir.clone()
        };
        let invalid = |err: ContextError| Status::invalid_argument(crate::error::chain(&err));
        let extra_excludes = if options.exclude_patterns.is_empty()
            || (is_context && !self.inner.engine_excludes_apply)
        {
            None
        } else {
            let patterns = parse_exclude_patterns(&options.exclude_patterns)
                .map_err(|err| invalid(err.into()))?;
            Some(Matcher::new(patterns).map_err(|err| invalid(err.into()))?)
        };
        let mut include: Option<Vec<Vec<u8>>> = None;
        if !options.include_patterns.is_empty() {
            include = Some(options.include_patterns.clone());
        }
        if !options.follow_paths.is_empty() {
            match resolve_follow_paths(&root, &options.follow_paths) {
                Some(paths) => include.get_or_insert_with(Vec::new).extend(paths),
                // `.`: the whole directory.
                None => include = None,
            }
        }
        let includes = match include {
            Some(patterns) => Some(Includes::new(&patterns).map_err(invalid)?),
            None => None,
        };
        tracing::debug!(
            dir = %String::from_utf8_lossy(&options.dir_name),
            excludes = options.exclude_patterns.len(),
            includes = includes.is_some(),
            override_excludes = options.override_excludes,
            "file sync call"
        );
        Ok(CallPlan {
            root,
            owner_root: is_context,
            is_context,
            extra_excludes,
            includes,
        })
    }
}

/// A regular file listed in a call: its relative path and the size its `STAT` announced.
type ListedFile = (Vec<u8>, u64);

/// Regular files of one call by `STAT` id, for the engine's requests.
#[derive(Default)]
struct FileTable {
    files: Mutex<Vec<Option<ListedFile>>>,
}

impl FileTable {
    fn push(&self, file: Option<ListedFile>) -> u32 {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files.push(file);
        (files.len() - 1) as u32
    }

    fn get(&self, id: u32) -> Option<ListedFile> {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files.get(id as usize).cloned().flatten()
    }
}

/// Packets for the engine, in batches: the walk sends its `STAT`s [`STAT_BATCH`] at a time, so
/// tonic frames many in one write and the engine reads them in one wakeup instead of 20,000.
type Outgoing = mpsc::Sender<Vec<Packet>>;

/// The gRPC service over a [`ContextSource`].
pub(crate) struct FileSyncService {
    source: ContextSource,
}

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = Pin<Box<dyn Stream<Item = Result<Packet, Status>> + Send + 'static>>;

    async fn diff_copy(
        &self,
        request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let options = CallOptions::from_metadata(request.metadata());
        let call = Arc::new(self.source.call_plan(&options)?);
        let incoming = request.into_inner();
        let (out_tx, out_rx) = mpsc::channel::<Vec<Packet>>(OUT_QUEUE);
        let table = Arc::new(FileTable::default());
        let (req_tx, req_rx) = std::sync::mpsc::channel::<u32>();
        let req_rx = Arc::new(Mutex::new(req_rx));
        let call_done = Arc::new(AtomicBool::new(false));

        {
            let source = self.source.clone();
            let call = Arc::clone(&call);
            let table = Arc::clone(&table);
            let out = out_tx.clone();
            let done = Arc::clone(&call_done);
            tokio::task::spawn_blocking(move || send_stats(&source, &call, &table, &out, &done));
        }
        for _ in 0..READERS {
            let source = self.source.clone();
            let call = Arc::clone(&call);
            let table = Arc::clone(&table);
            let out = out_tx.clone();
            let requests = Arc::clone(&req_rx);
            let done = Arc::clone(&call_done);
            tokio::task::spawn_blocking(move || {
                serve_requests(&source, &call, &table, &requests, &out, &done)
            });
        }
        tokio::spawn(read_incoming(incoming, req_tx, out_tx, call_done));
        let stream = futures_util::stream::unfold(out_rx, |mut rx| async move {
            rx.recv().await.map(|batch| (batch, rx))
        })
        .flat_map(|batch| futures_util::stream::iter(batch.into_iter().map(Ok)));
        Ok(Response::new(Box::pin(stream)))
    }

    type TarStreamStream = Pin<Box<dyn Stream<Item = Result<Packet, Status>> + Send + 'static>>;

    async fn tar_stream(
        &self,
        _request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::TarStreamStream>, Status> {
        Err(Status::unimplemented("the context is served with DiffCopy"))
    }
}

/// Reads the engine's packets as they come: requests go to the readers (unbounded, so the
/// connection is never left with unread frames), `FIN` is answered and ends the call.
async fn read_incoming(
    mut incoming: Streaming<Packet>,
    requests: std::sync::mpsc::Sender<u32>,
    out: Outgoing,
    done: Arc<AtomicBool>,
) {
    loop {
        match incoming.message().await {
            Ok(Some(packet)) => match PacketType::try_from(packet.r#type) {
                Ok(PacketType::PacketReq) => {
                    if requests.send(packet.id).is_err() {
                        break;
                    }
                }
                Ok(PacketType::PacketFin) => {
                    tracing::debug!("file sync: the engine has the files");
                    let _ = out.send(vec![packet_fin()]).await;
                    break;
                }
                Ok(PacketType::PacketErr) => {
                    tracing::debug!(
                        "file sync: the engine reported: {}",
                        String::from_utf8_lossy(&packet.data)
                    );
                    break;
                }
                _ => {
                    tracing::debug!(kind = packet.r#type, "file sync: unexpected packet");
                }
            },
            Ok(None) => break,
            Err(status) => {
                // The engine reset the stream (cancelled, or failed): stop the work.
                tracing::debug!("file sync stream ended: {status}");
                break;
            }
        }
    }
    done.store(true, Ordering::Relaxed);
}

fn packet_fin() -> Packet {
    packet(PacketType::PacketFin)
}

/// Walks the call's directory and sends a `STAT` per entry, then the empty one that ends the
/// list. A failure is recorded and sent to the engine as `ERR`.
fn send_stats(
    source: &ContextSource,
    call: &CallPlan,
    table: &FileTable,
    out: &Outgoing,
    done: &AtomicBool,
) {
    let plan = &source.inner.plan;
    let options = WalkOptions {
        root: &call.root,
        matcher: call.is_context.then_some(&plan.matcher),
        extra_excludes: call.extra_excludes.as_ref(),
        guard_allowed: call.is_context.then_some(&plan.allowed),
        includes: call.includes.as_ref(),
    };
    let mut batch = Vec::with_capacity(STAT_BATCH);
    let mut visit = |entry: Entry<'_>| -> Result<(), ContextError> {
        if source.cancelled() || done.load(Ordering::Relaxed) {
            return Err(ContextError::Write(std::io::Error::other("cancelled")));
        }
        let stat = entry_stat(&entry, call.owner_root)?;
        let file = match entry.kind {
            EntryKind::File => {
                if call.is_context {
                    source.inner.stats.listed(entry.rel);
                }
                Some((entry.rel.to_vec(), entry.meta.len()))
            }
            _ => None,
        };
        table.push(file);
        let packet = Packet {
            stat: Some(stat),
            ..packet(PacketType::PacketStat)
        };
        batch.push(packet);
        if batch.len() < STAT_BATCH {
            return Ok(());
        }
        out.blocking_send(std::mem::replace(
            &mut batch,
            Vec::with_capacity(STAT_BATCH),
        ))
        .map_err(|_| ContextError::Write(std::io::Error::other("the engine went away")))
    };
    let on_notice = &source.inner.on_notice;
    let mut notice = |n: Notice| on_notice(&n);
    let result = walk_with(&options, &mut visit, &mut notice);
    match result {
        Ok(()) => {
            batch.push(packet(PacketType::PacketStat));
            let _ = out.blocking_send(batch);
            tracing::debug!(dir = %call.root.display(), "file sync: list sent");
        }
        // Stopped on purpose, or nobody is listening: nothing to report.
        Err(ContextError::Write(_)) => {}
        Err(err) => {
            let text = source.fail(err);
            let _ = out.blocking_send(vec![err_packet(&text)]);
        }
    }
}

/// One reader thread: answers requests until the call ends.
fn serve_requests(
    source: &ContextSource,
    call: &CallPlan,
    table: &FileTable,
    requests: &Mutex<std::sync::mpsc::Receiver<u32>>,
    out: &Outgoing,
    done: &AtomicBool,
) {
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let id = {
            let Ok(requests) = requests.lock() else {
                return;
            };
            match requests.recv() {
                Ok(id) => id,
                Err(_) => return,
            }
        };
        if source.cancelled() || done.load(Ordering::Relaxed) {
            return;
        }
        let Some((rel, size)) = table.get(id) else {
            let _ = out.blocking_send(vec![err_packet(&format!(
                "invalid file request {id}: no such file"
            ))]);
            return;
        };
        let path = call.root.join(std::ffi::OsStr::from_bytes(&rel));
        match send_file(source, id, &path, size, &mut buffer, out) {
            Ok(bytes) => {
                if call.is_context {
                    source.inner.stats.sent(&rel, bytes);
                }
            }
            Err(ContextError::Write(_)) => return,
            Err(err) => {
                let text = source.fail(err);
                let _ = out.blocking_send(vec![err_packet(&text)]);
                return;
            }
        }
    }
}

/// Sends one file as `DATA` chunks and the empty `DATA` that ends it. Exactly the size its
/// `STAT` announced, or an error naming the file: the engine does not check.
fn send_file(
    source: &ContextSource,
    id: u32,
    path: &Path,
    size: u64,
    buffer: &mut [u8],
    out: &Outgoing,
) -> Result<u64, ContextError> {
    let mut file = File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ContextError::RemovedWhileSending {
            path: path.to_path_buf(),
        },
        _ => ContextError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let gone = || ContextError::Write(std::io::Error::other("the engine went away"));
    let mut sent = 0u64;
    loop {
        if source.cancelled() {
            return Err(gone());
        }
        let n = match file.read(buffer) {
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                return Err(ContextError::Io {
                    path: path.to_path_buf(),
                    source: err,
                });
            }
        };
        if n == 0 {
            break;
        }
        sent += n as u64;
        if sent > size {
            return Err(ContextError::ChangedWhileReading {
                path: path.to_path_buf(),
                expected: size,
                actual: "more".into(),
            });
        }
        let packet = Packet {
            id,
            data: buffer[..n].to_vec(),
            ..packet(PacketType::PacketData)
        };
        out.blocking_send(vec![packet]).map_err(|_| gone())?;
    }
    if sent != size {
        return Err(ContextError::ChangedWhileReading {
            path: path.to_path_buf(),
            expected: size,
            actual: sent.to_string(),
        });
    }
    let end = Packet {
        id,
        ..packet(PacketType::PacketData)
    };
    out.blocking_send(vec![end]).map_err(|_| gone())?;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextOptions;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn modes_use_go_file_mode_bits() {
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), GO_MODE_DIR | 0o755);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), GO_MODE_SYMLINK | 0o777);
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            GO_MODE_SETUID | 0o755
        );
        assert_eq!(
            go_file_mode(libc::S_IFDIR | libc::S_ISVTX | 0o777),
            GO_MODE_DIR | GO_MODE_STICKY | 0o777
        );
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISGID | 0o750),
            GO_MODE_SETGID | 0o750
        );
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE | 0o666
        );
        assert_eq!(
            go_file_mode(libc::S_IFIFO | 0o600),
            GO_MODE_NAMED_PIPE | 0o600
        );
        // Sockets lose their type bit, as with fsutil.
        assert_eq!(go_file_mode(libc::S_IFSOCK | 0o755), 0o755);
    }

    #[test]
    fn metadata_values_are_bytes_and_may_be_encoded() {
        let mut md = MetadataMap::new();
        md.insert("dir-name", "context".parse().unwrap());
        md.append("exclude-patterns", "node_modules".parse().unwrap());
        md.append("exclude-patterns", "**/*.pyc".parse().unwrap());
        md.insert("followpaths", "app%2Fsp%C3%A9cial+x".parse().unwrap());
        md.insert("followpaths-encoded", "true".parse().unwrap());
        md.insert("override-excludes", "true".parse().unwrap());
        let options = CallOptions::from_metadata(&md);
        assert_eq!(options.dir_name, b"context");
        assert_eq!(
            options.exclude_patterns,
            vec![b"node_modules".to_vec(), b"**/*.pyc".to_vec()]
        );
        assert_eq!(
            options.follow_paths,
            vec!["app/spécial x".as_bytes().to_vec()]
        );
        assert!(options.override_excludes);
        assert_eq!(query_unescape(b"100%"), b"100%");
        assert_eq!(query_unescape(b"%zz%41"), b"%zzA");
    }

    #[test]
    fn shared_key_is_stable_per_machine_and_directory() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        assert_eq!(shared_key(a.path(), "n1"), shared_key(a.path(), "n1"));
        assert_ne!(shared_key(a.path(), "n1"), shared_key(b.path(), "n1"));
        assert_ne!(shared_key(a.path(), "n1"), shared_key(a.path(), "n2"));
        // The same directory by another spelling is the same context.
        let dotted = a.path().join(".");
        assert_eq!(shared_key(&dotted, "n1"), shared_key(a.path(), "n1"));
        let cache = tempfile::tempdir().unwrap();
        let first = node_id(Some(cache.path()));
        assert_eq!(node_id(Some(cache.path())), first);
    }

    #[test]
    fn follow_paths_resolve_symlinks_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("../../out", dir.path().join("out")).unwrap();
        let paths = resolve_follow_paths(
            dir.path(),
            &[b"./link/".to_vec(), b"abs".to_vec(), b"out".to_vec()],
        )
        .unwrap();
        assert_eq!(
            paths,
            vec![
                b"link".to_vec(),
                b"real".to_vec(),
                b"abs".to_vec(),
                b"etc".to_vec(),
                b"out".to_vec()
            ]
        );
        assert_eq!(resolve_follow_paths(dir.path(), &[b".".to_vec()]), None);
    }

    fn plan_for(dir: &Path) -> ContextPlan {
        ContextPlan::new(
            &ContextOptions {
                dir: dir.to_path_buf(),
                ..Default::default()
            },
            dir,
        )
        .unwrap()
    }

    #[test]
    fn stats_carry_modes_owner_links_and_nanosecond_mtimes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(root.join("a"), "hello").unwrap();
        std::fs::hard_link(root.join("a"), root.join("b")).unwrap();
        std::os::unix::fs::symlink("a", root.join("c")).unwrap();
        std::fs::set_permissions(root.join("a"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        let plan = plan_for(root);
        let mut stats = Vec::new();
        crate::context::walk::walk(
            &plan,
            &mut |entry| {
                stats.push(entry_stat(&entry, true)?);
                Ok(())
            },
            &mut |_| {},
        )
        .unwrap();
        let names: Vec<&str> = stats.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(names, ["Dockerfile", "a", "b", "c"]);
        let a = &stats[1];
        assert_eq!(a.mode, GO_MODE_SETUID | 0o755);
        assert_eq!((a.uid, a.gid, a.size), (0, 0, 5));
        let meta = std::fs::metadata(root.join("a")).unwrap();
        assert_eq!(a.mod_time, meta.mtime() * 1_000_000_000 + meta.mtime_nsec());
        assert_eq!(stats[2].linkname, "a", "hard link names the first path");
        assert_eq!(stats[3].linkname, "a");
        assert_eq!(stats[3].mode & GO_MODE_SYMLINK, GO_MODE_SYMLINK);
    }

    #[test]
    fn non_utf8_names_fail_with_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        let name = std::ffi::OsStr::from_bytes(b"bad\xffname");
        std::fs::write(root.join(name), "x").unwrap();
        let plan = plan_for(root);
        let err = crate::context::walk::walk(
            &plan,
            &mut |entry| entry_stat(&entry, true).map(drop),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot send `bad\u{fffd}name` over file sync: its name is not valid UTF-8"
        );
        assert!(err.hint().unwrap().contains("--context-transfer tar"));
    }

    /// The engine does not check that a file's bytes match its `STAT`: we do, by path.
    #[test]
    fn a_file_that_changes_size_while_sent_fails_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let file = dir.path().join("grows");
        std::fs::write(&file, vec![7u8; CHUNK + 10]).unwrap();
        let source = ContextSource::new(Arc::new(plan_for(dir.path())), Arc::new(|_| {}));
        let (tx, mut rx) = mpsc::channel(OUT_QUEUE);
        let mut buffer = vec![0u8; CHUNK];
        let sent = send_file(&source, 3, &file, (CHUNK + 10) as u64, &mut buffer, &tx).unwrap();
        assert_eq!(sent, (CHUNK + 10) as u64);
        let mut sizes = Vec::new();
        while let Ok(packet) = rx.try_recv().map(|mut batch| {
            assert_eq!(batch.len(), 1);
            batch.remove(0)
        }) {
            assert_eq!(
                (packet.r#type, packet.id),
                (PacketType::PacketData as i32, 3)
            );
            sizes.push(packet.data.len());
        }
        assert_eq!(sizes, [CHUNK, 10, 0], "32 KiB chunks, then the empty end");

        let err = send_file(&source, 3, &file, 5, &mut buffer, &tx).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "`{}` changed while it was being sent (5 bytes expected, more read)",
                file.display()
            )
        );
        let err = send_file(&source, 3, &file, 1 << 20, &mut buffer, &tx).unwrap_err();
        assert!(err.to_string().contains("1048576 bytes expected"), "{err}");
        std::fs::remove_file(&file).unwrap();
        let err = send_file(&source, 3, &file, 5, &mut buffer, &tx).unwrap_err();
        assert!(
            matches!(err, ContextError::RemovedWhileSending { .. }),
            "{err}"
        );
    }
}
