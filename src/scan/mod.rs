//! The leak scan: proves an image carries none of the build's secrets and no credential file.
//!
//! The image is read as the engine exports it (`docker save`) as a stream: nothing is unpacked to
//! disk and no layer is held in memory. The export is an outer tar: Docker 20.10's holds
//! `manifest.json`, the config JSON and one plain tar per layer; Docker 25 and later write an OCI
//! image layout (`index.json`, every blob under `blobs/sha256/`), where the containerd image
//! store keeps layers as they were built (gzip or zstd) and adds attestation manifests whose
//! layers are in-toto statements ([`layout`] says how each is read). Entries are told apart by
//! their first bytes, whatever their names or order. One blocking thread drives the export's
//! connection and reads the outer tar. A plain layer is scanned on that thread as it streams by
//! (the search outruns any engine's export); a gzip or zstd layer's bytes go, in bounded chunks,
//! to one of a fixed set of worker threads, one per core, so decompression runs in parallel. Any
//! other entry (JSON, an in-toto statement) is searched on the reading thread as one file. Each
//! layer's own tar is read entry by entry and every file's bytes are searched, chunk by chunk
//! with an overlap, for every form of every secret at once (aho-corasick over the bytes with line
//! breaks removed, so wrapped base64 and hex are found; [`crate::leak::forms`]), and where a
//! detector's anchor occurs, for credentials by their shape ([`crate::leak::shapes`]), whoever's
//! they are.
//! File names are checked against the context guard's credential list
//! ([`crate::context::guard`]) in every layer, so a file a later layer deletes is still found: it
//! still ships in the layer that added it.
//!
//! The image config (Env, Labels, Cmd, Entrypoint, history) is searched with the same needles,
//! and so are the manifests and image indexes (annotations). The JSON that says what a blob is
//! can come after the blob (`manifest.json` comes last in a 20.10 save stream; containerd writes
//! blobs in digest order), so findings are kept by their path in the archive and mapped at the
//! end: to their manifest's layer order, the config's diff ids and its history (its non-empty
//! entries, in order). A statement of an attestation is reported as such, named after its
//! predicate type; a blob that no manifest names as a layer counts only if it is a layer tar.
//!
//! A [`Finding`] names the layer, the path and the secret's id, never its value: a history step
//! shown with a finding has every secret encoding in it masked.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use aho_corasick::{AhoCorasick, MatchKind};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;

use crate::context::guard::{self, NameVerdict};
use crate::engine::Engine;
use crate::engine::export::{ExportError, ExportReader};
use crate::leak::forms::{self, strip_line_breaks};
use crate::leak::shapes::{self, CredentialKind, Detection};

pub mod allow;
pub mod evidence;
mod layout;

use allow::AllowList;
use evidence::{Digests, EvidenceIndex, ListFile, Provenance, StreamDigests, Verdict};

/// Bytes of a file kept from one chunk to the next, at least: a credential a shape detector
/// reads (a PEM key, a netrc entry) is found even where a chunk boundary cuts it.
const SHAPE_OVERLAP: usize = 20 * 1024;

/// Bytes a worker searches at once (plus the overlap carried from the previous chunk).
const SCAN_CHUNK: usize = 256 * 1024;

/// Bytes of a layer the outer-tar reader hands to its worker at once.
const FEED_CHUNK: usize = 256 * 1024;

/// Chunks in flight per layer: bounds memory at `threads * FEED_DEPTH * FEED_CHUNK`.
const FEED_DEPTH: usize = 32;

/// JSON files of the save archive (manifest, config) larger than this are not read.
const MAX_JSON: u64 = 64 << 20;

/// Width of a history step shown with a finding.
const STEP_WIDTH: usize = 100;

/// A secret value the build had, to look for in the image.
#[derive(Debug)]
pub struct ScanSecret {
    /// What to call it in a finding: `netrc`, `--secret tok`, `SHIPIMG_REGISTRY_PASSWORD`.
    pub id: String,
    /// The value. Values shorter than [`forms::MIN_SECRET_LEN`] bytes are ignored.
    pub value: SecretSlice<u8>,
    /// The login that goes with it, if any: `base64(login:value)` (HTTP basic auth, docker
    /// config `auth`) is searched for too.
    pub login: Option<String>,
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingKind {
    /// A secret value, in some encoding.
    Secret {
        /// The secret's [`ScanSecret::id`].
        id: String,
    },
    /// A credential by its shape ([`crate::leak::shapes`]) or a credential file by its name.
    Credential {
        /// What it is.
        kind: CredentialKind,
        /// Whether it is the file's whole purpose (a netrc, a key file) rather than embedded in
        /// an ordinary file.
        whole_file: bool,
    },
}

/// Which part of the exported image a finding is in: all of them are pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A layer of the image: a file in its filesystem.
    Layer,
    /// A layer of an attestation manifest: an in-toto statement (provenance, SBOM) that BuildKit
    /// attached to the image.
    Attestation,
    /// The image config (Env, Labels, Cmd, Entrypoint, history).
    Config,
    /// A manifest or image index (its annotations).
    Manifest,
}

/// One place where the image carries a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Which part of the image it is in.
    pub part: Part,
    /// The layer: its diff id (`sha256:...`) when the config lists it, else its path in the save
    /// archive. `None` for the image config and manifests.
    pub layer: Option<String>,
    /// The layer's position (0-based, bottom first), when known.
    pub layer_index: Option<usize>,
    /// The file path in the layer; for an attestation, the statement's predicate type; for the
    /// config, `config: Env NAME`, `config: Labels`, `history` ...; for a manifest, its digest.
    pub path: Option<String>,
    /// What was found.
    pub what: FindingKind,
    /// The Dockerfile step that made the layer (the history's `created_by`, shortened and with
    /// every secret masked), when it can be known.
    pub step: Option<String>,
    /// Whether a later layer deletes this file: it still ships, in this layer.
    pub deleted_later: bool,
    /// For a credential found by a noisy rule, why the file is not third-party content
    /// ([`evidence`]).
    pub evidence: Option<Verdict>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.part {
            Part::Attestation => "attestation layer",
            _ => "layer",
        };
        match (self.part, &self.layer, self.layer_index) {
            (Part::Manifest, _, _) => f.write_str("manifest")?,
            (_, Some(layer), Some(index)) => write!(f, "{what} {} ({layer})", index + 1)?,
            (_, Some(layer), None) => write!(f, "{what} {layer}")?,
            (_, None, _) => f.write_str("image config")?,
        }
        if let Some(path) = &self.path {
            write!(f, ": `{path}`")?;
        }
        match &self.what {
            FindingKind::Secret { id } => write!(f, ": secret `{id}`")?,
            FindingKind::Credential { kind, whole_file } => {
                let what = if *whole_file {
                    "credential file"
                } else {
                    "embedded credential"
                };
                write!(f, ": {what} ({kind}; rule `{}`)", kind.rule())?
            }
        }
        if self.deleted_later {
            f.write_str(", deleted by a later layer but still shipped in this one")?;
        }
        if let Some(verdict) = &self.evidence {
            write!(f, "; not third-party: {verdict}")?;
        }
        if let Some(step) = &self.step {
            write!(f, "; made by `{step}`")?;
        }
        Ok(())
    }
}

/// Why a credential found in the image does not stop the push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteReason {
    /// A noisy rule fired on third-party content ([`evidence`]).
    ThirdParty(Provenance),
    /// The allow list accepts the file: the entry that does.
    Allowed(String),
}

/// A credential found by its shape that does not stop the push, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// What was found, where.
    pub finding: Finding,
    /// Why it does not count.
    pub why: NoteReason,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let finding = Finding {
            step: None,
            ..self.finding.clone()
        };
        match &self.why {
            NoteReason::ThirdParty(p) => write!(f, "{finding}; third-party: {p} lists it"),
            NoteReason::Allowed(entry) => write!(f, "{finding}; allowed by `{entry}`"),
        }
    }
}

/// What the scan concluded about one file in one layer, for `shipimg scan --explain`.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The layer's diff id, or its path in the archive.
    pub layer: String,
    /// The layer's position (0-based, bottom first), when known.
    pub layer_index: Option<usize>,
    /// The Dockerfile step that made the layer, when known (masked).
    pub step: Option<String>,
    /// The file's size in bytes.
    pub size: u64,
    /// Whether the file is binary (only the strict rules run on it).
    pub binary: bool,
    /// Its content digests.
    pub digests: Digests,
    /// What the package lists in the image say of it.
    pub evidence: Verdict,
    /// The allow-list entry that accepts it, if any.
    pub allowed_by: Option<String>,
    /// The credentials found in it by their shape (or name).
    pub detections: Vec<Detection>,
    /// The held secrets found in it, by id.
    pub secrets: Vec<String>,
    /// Whether a later layer deletes it.
    pub deleted_later: bool,
}

/// What a scan looks for besides the held secrets.
#[derive(Debug, Default)]
pub struct ScanOptions {
    /// Files whose findings by shape are accepted.
    pub allow: AllowList,
    /// Layer paths (no leading `/`) to explain.
    pub explain: Vec<String>,
}

/// The outcome of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// Everything found, layers bottom first, then the config.
    pub findings: Vec<Finding>,
    /// Credentials found by their shape that do not count: third-party content, or allowed.
    pub notes: Vec<Note>,
    /// What was asked for with [`ScanOptions::explain`], one entry per layer holding the file.
    pub explained: Vec<(String, Explanation)>,
    /// Layers read.
    pub layers: usize,
    /// Files read, over all layers.
    pub files: u64,
    /// File bytes searched, over all layers (uncompressed).
    pub bytes: u64,
    /// The image's layer diff ids as its config lists them, bottom first.
    pub diff_ids: Vec<String>,
}

impl ScanReport {
    /// Whether the image is clean.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Why a scan could not finish. A scan that finishes with findings is not an error.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The engine has no such image.
    #[error("no such image `{image}`")]
    NoSuchImage {
        /// The image asked for.
        image: String,
    },
    /// The engine failed to export the image.
    #[error("the engine failed to export `{image}`: {message}")]
    Export {
        /// The image asked for.
        image: String,
        /// What went wrong, in the engine's words when it answered.
        message: String,
    },
    /// Reading the export stream failed.
    #[error("cannot read the image archive")]
    Read(#[source] io::Error),
    /// A layer could not be read.
    #[error("cannot read layer `{layer}`")]
    Layer {
        /// The layer's path in the archive.
        layer: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The archive is not a `docker save` archive.
    #[error("not an image archive: {0}")]
    Format(String),
}

/// Exports `image` from the engine and scans it; see the [module docs](self).
///
/// `threads` is the number of layer workers; 0 means one per core.
pub async fn scan_image(
    engine: &Engine,
    image: &str,
    secrets: &[ScanSecret],
    options: ScanOptions,
    threads: usize,
) -> Result<ScanReport, ScanError> {
    let needles = Needles::new(secrets);
    let api = engine.api().clone();
    let image = image.to_owned();
    // The export is read on one blocking thread that drives its own connection (see
    // `engine::export` for why).
    tokio::task::spawn_blocking(move || {
        let reader = ExportReader::open(&api, &image).map_err(|err| match err {
            ExportError::NoSuchImage { image } => ScanError::NoSuchImage { image },
            ExportError::Runtime(err) => ScanError::Read(err),
            ExportError::Failed { image, message } => ScanError::Export { image, message },
        })?;
        scan_with(reader, &needles, &options, threads)
    })
    .await
    .map_err(|err| ScanError::Read(io::Error::other(err)))?
}

/// Scans a `docker save` archive read from `reader`; see the [module docs](self).
///
/// `threads` is the number of layer workers; 0 means one per core.
pub fn scan_save_stream<R: Read>(
    reader: R,
    secrets: &[ScanSecret],
    options: &ScanOptions,
    threads: usize,
) -> Result<ScanReport, ScanError> {
    scan_with(reader, &Needles::new(secrets), options, threads)
}

/// Every form of every secret, in one automaton. The shape detectors' anchors have their own
/// ([`shapes::may_hold_credential`]): in one leftmost automaton an anchor could hide a secret
/// that overlaps it.
struct Needles {
    /// `None` when there is no secret to look for.
    secrets: Option<AhoCorasick>,
    /// Pattern index -> secret id.
    ids: Vec<String>,
    /// Longest needle, in bytes.
    longest: usize,
}

impl Needles {
    fn new(secrets: &[ScanSecret]) -> Self {
        let mut seen = HashSet::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut ids = Vec::new();
        for secret in secrets {
            let value = secret.value.expose_secret();
            for form in forms::forms(value, secret.login.as_deref().map(str::as_bytes)) {
                let needle = form.needle();
                if needle.len() >= forms::MIN_SECRET_LEN && seen.insert(needle.clone()) {
                    patterns.push(needle);
                    ids.push(secret.id.clone());
                }
            }
        }
        let longest = patterns.iter().map(Vec::len).max().unwrap_or(0);
        let automaton = (!patterns.is_empty()).then(|| {
            // Leftmost-longest lets aho-corasick use its SIMD (Teddy) searcher; the standard
            // match kind cannot, and its rare-byte prefilter cost 2.8 s of CPU per gigabyte of
            // text (`bench/scan.sh`). Which needle wins where two overlap does not matter:
            // either is a finding.
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .or_else(|_| AhoCorasick::new(&patterns))
                .expect("literal patterns always build")
        });
        for pattern in &mut patterns {
            pattern.fill(0);
        }
        Self {
            secrets: automaton,
            ids,
            longest,
        }
    }

    /// Adds the secrets found in `haystack` (line breaks removed, so wrapped forms are found)
    /// to `found`, by pattern index.
    fn find_in(&self, haystack: &[u8], scratch: &mut Vec<u8>, found: &mut BTreeSet<usize>) {
        if let Some(ac) = &self.secrets {
            let view = strip_line_breaks(haystack, scratch);
            for m in ac.find_iter(view) {
                found.insert(m.pattern().as_usize());
            }
        }
    }

    /// `text` with every secret's forms replaced by `****`.
    fn mask(&self, text: &str) -> String {
        match &self.secrets {
            Some(ac) => {
                let bytes = ac.replace_all_bytes(text.as_bytes(), &vec!["****"; self.ids.len()]);
                String::from_utf8_lossy(&bytes).into_owned()
            }
            None => text.to_owned(),
        }
    }
}

/// How a layer blob is stored. Told by its first bytes, not a media type: the manifest that
/// names the blob's media type may come after it in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// A plain tar.
    Plain,
    /// gzip (`1f 8b`), one or more members.
    Gzip,
    /// zstd (`28 b5 2f fd`, or a skippable frame first), one or more frames.
    Zstd,
}

impl Encoding {
    /// The encoding of a blob whose first bytes are `head`, if it is a layer; `None` for anything
    /// else (JSON, an in-toto statement, `oci-layout`).
    fn sniff(path: &str, head: &[u8]) -> Option<Encoding> {
        if head.starts_with(&[0x1f, 0x8b]) {
            return Some(Encoding::Gzip);
        }
        let skippable =
            head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18];
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || skippable {
            return Some(Encoding::Zstd);
        }
        let ustar = head.len() >= 262 && &head[257..262] == b"ustar";
        // An empty layer is a tar of zero blocks alone (Docker 25 writes one as a blob).
        let empty_tar = head.len() == 512 && head.iter().all(|&b| b == 0);
        (ustar || empty_tar || path.ends_with("layer.tar")).then_some(Encoding::Plain)
    }
}

/// A compressed layer handed to a worker.
struct Job {
    /// Its path in the save archive.
    path: String,
    encoding: Encoding,
    chunks: Receiver<Vec<u8>>,
}

/// One thing found in one file of a layer.
struct Hit {
    path: String,
    what: FindingKind,
    /// The file's digests, where a rule's verdict may depend on them (noisy rules, digest
    /// allow-list entries).
    digests: Option<Digests>,
}

/// A file of a layer that [`ScanOptions::explain`] asked about.
struct ExplainedFile {
    path: String,
    size: u64,
    binary: bool,
    digests: Digests,
    detections: Vec<Detection>,
    secrets: Vec<String>,
}

/// What a worker found in one layer.
#[derive(Default)]
struct LayerResult {
    path: String,
    hits: Vec<Hit>,
    /// The package lists (RECORD, md5sums) in this layer.
    evidence: EvidenceIndex,
    explained: Vec<ExplainedFile>,
    /// Paths deleted by whiteouts, and directories made opaque.
    deleted: HashSet<String>,
    opaque: HashSet<String>,
    files: u64,
    bytes: u64,
    error: Option<io::Error>,
}

/// A layer's chunks as a [`Read`].
struct ChunkReader {
    chunks: Receiver<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.chunks.recv() {
                Ok(chunk) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn scan_with<R: Read>(
    reader: R,
    needles: &Needles,
    options: &ScanOptions,
    threads: usize,
) -> Result<ScanReport, ScanError> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(0);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (result_tx, result_rx) = mpsc::channel::<LayerResult>();
    let outer = std::thread::scope(|scope| {
        for _ in 0..threads {
            let jobs = Arc::clone(&job_rx);
            let results: Sender<LayerResult> = result_tx.clone();
            scope.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let job = match jobs.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let reader = ChunkReader {
                        chunks: job.chunks,
                        current: Vec::new(),
                        pos: 0,
                    };
                    let result =
                        scan_layer(job.path, reader, job.encoding, needles, options, &mut buf);
                    let _ = results.send(result);
                }
            });
        }
        let outer = read_outer(reader, &job_tx, needles, options, &result_tx);
        drop(job_tx);
        outer
    });
    drop(result_tx);
    let outer = outer?;
    let mut layers: HashMap<String, LayerResult> = HashMap::new();
    for result in result_rx {
        if let Some(source) = result.error {
            return Err(ScanError::Layer {
                layer: result.path,
                source,
            });
        }
        layers.insert(result.path.clone(), result);
    }
    assemble(outer, layers, needles, options)
}

/// What the outer tar holds besides layers.
#[derive(Default)]
struct Outer {
    /// JSON files (`manifest.json`, `index.json`, configs, manifests) by path.
    json: HashMap<String, Vec<u8>>,
    /// Every entry that is not a layer tar, searched as one file (by path): an attestation's
    /// in-toto statement is one, and so is a manifest. Which of them count is known at the end.
    blobs: HashMap<String, LayerResult>,
    /// Symlinked entries (a layer shared by two ids): path -> target path.
    links: HashMap<String, String>,
}

/// Reads the outer tar. A compressed layer (gzip, zstd) goes to a worker (decompression is what
/// uses the cores); a plain one is scanned right here, as it streams by: searching runs at
/// gigabytes a second, far above what the engine exports, and handing its chunks to another
/// thread only cost wake-ups and copies on the machine the engine shares (`bench/scan.sh`).
/// Any other entry is searched here as one file, and kept when it is JSON.
fn read_outer<R: Read>(
    reader: R,
    jobs: &SyncSender<Job>,
    needles: &Needles,
    options: &ScanOptions,
    results: &Sender<LayerResult>,
) -> Result<Outer, ScanError> {
    let mut outer = Outer::default();
    let mut buf = Vec::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(ScanError::Read)? {
        let mut entry = entry.map_err(ScanError::Read)?;
        let path = normalize(&entry.path_bytes());
        let header = entry.header();
        if header.entry_type().is_symlink() || header.entry_type().is_hard_link() {
            let symlink = header.entry_type().is_symlink();
            if let Some(target) = entry.link_name_bytes() {
                let target = match symlink {
                    true => resolve_link(&path, &target),
                    // Hard link targets are archive paths.
                    false => normalize(&target),
                };
                outer.links.insert(path.clone(), target);
            }
            continue;
        }
        if !header.entry_type().is_file() {
            continue;
        }
        let size = entry.size();
        let mut head = vec![0u8; 512.min(size as usize)];
        entry.read_exact(&mut head).map_err(ScanError::Read)?;
        match Encoding::sniff(&path, &head) {
            Some(Encoding::Plain) => {
                let reader = io::Cursor::new(head).chain(&mut entry);
                let result = scan_layer(path, reader, Encoding::Plain, needles, options, &mut buf);
                let _ = results.send(result);
            }
            Some(encoding) => feed_layer(path, encoding, head, &mut entry, jobs)?,
            None => {
                let mut result = LayerResult {
                    path: path.clone(),
                    ..LayerResult::default()
                };
                let mut files = FileScanner::new(needles, options, &mut buf);
                // An in-toto statement maps nothing and can be large (an SBOM): it is searched
                // as it streams by and not kept.
                let statement = memchr::memmem::find(&head, b"\"https://in-toto.io/Statement");
                if matches!(head.first(), Some(b'{' | b'['))
                    && size <= MAX_JSON
                    && statement.is_none()
                {
                    let mut json = head;
                    entry.read_to_end(&mut json).map_err(ScanError::Read)?;
                    files
                        .scan_file(path.clone(), size, &mut &json[..], &mut result)
                        .map_err(ScanError::Read)?;
                    outer.json.insert(path.clone(), json);
                } else {
                    let mut reader = io::Cursor::new(head).chain(&mut entry);
                    files
                        .scan_file(path.clone(), size, &mut reader, &mut result)
                        .map_err(ScanError::Read)?;
                }
                outer.blobs.insert(path, result);
            }
        }
    }
    Ok(outer)
}

fn feed_layer(
    path: String,
    encoding: Encoding,
    head: Vec<u8>,
    entry: &mut impl Read,
    jobs: &SyncSender<Job>,
) -> Result<(), ScanError> {
    let (tx, rx) = mpsc::sync_channel(FEED_DEPTH);
    jobs.send(Job {
        path,
        encoding,
        chunks: rx,
    })
    .map_err(|_| ScanError::Read(io::Error::other("the layer workers stopped")))?;
    // A worker that stopped early (a broken layer) reports its error; the rest of the entry is
    // skipped by the outer tar.
    if tx.send(head).is_err() {
        return Ok(());
    }
    loop {
        let mut chunk = vec![0u8; FEED_CHUNK];
        let n = read_full(entry, &mut chunk).map_err(ScanError::Read)?;
        if n == 0 {
            return Ok(());
        }
        chunk.truncate(n);
        if tx.send(chunk).is_err() {
            return Ok(());
        }
    }
}

/// Reads until `buf` is full or the end.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// `./a/b/` -> `a/b`.
fn normalize(path: &[u8]) -> String {
    let text = String::from_utf8_lossy(path);
    let mut text: &str = &text;
    while let Some(rest) = text.strip_prefix("./") {
        text = rest;
    }
    text.trim_start_matches('/')
        .trim_end_matches('/')
        .to_owned()
}

/// A link target relative to the link's directory, as `docker save` writes them.
fn resolve_link(path: &str, target: &[u8]) -> String {
    let target = String::from_utf8_lossy(target);
    let mut parts: Vec<&str> = match target.strip_prefix('/') {
        Some(_) => Vec::new(),
        None => path.split('/').collect(),
    };
    if !target.starts_with('/') {
        parts.pop();
    }
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// Reads one layer's tar, decompressing it as `encoding` says, and searches every file in it.
fn scan_layer(
    path: String,
    reader: impl Read,
    encoding: Encoding,
    needles: &Needles,
    options: &ScanOptions,
    buf: &mut Vec<u8>,
) -> LayerResult {
    let mut result = LayerResult {
        path,
        ..LayerResult::default()
    };
    let mut files = FileScanner::new(needles, options, buf);
    let outcome = match encoding {
        Encoding::Plain => scan_layer_tar(reader, &mut files, &mut result),
        Encoding::Gzip => scan_layer_tar(
            flate2::read::MultiGzDecoder::new(reader),
            &mut files,
            &mut result,
        ),
        // libzstd reads every frame of the stream and skips skippable ones; it refuses a frame
        // whose window is over 128 MiB (its default limit), which bounds a worker's memory.
        Encoding::Zstd => zstd::stream::read::Decoder::new(reader)
            .and_then(|decoder| scan_layer_tar(decoder, &mut files, &mut result)),
    };
    if let Err(err) = outcome {
        result.error = Some(err);
    }
    result
}

fn scan_layer_tar(
    reader: impl Read,
    files: &mut FileScanner<'_>,
    result: &mut LayerResult,
) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = normalize(&entry.path_bytes());
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (dir, name),
            None => ("", path.as_str()),
        };
        if let Some(deleted) = name.strip_prefix(".wh.") {
            if deleted == ".wh..opq" {
                result.opaque.insert(dir.to_owned());
            } else {
                result.deleted.insert(join(dir, deleted));
            }
            continue;
        }
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue;
        }
        let size = entry.size();
        files.scan_file(path, size, &mut entry, result)?;
    }
    Ok(())
}

/// Searches files one at a time, for every form of every secret and for credentials by their
/// shape, reusing its buffers from file to file.
struct FileScanner<'a> {
    needles: &'a Needles,
    options: &'a ScanOptions,
    buf: &'a mut Vec<u8>,
    overlap: usize,
    scratch: Vec<u8>,
    found: BTreeSet<usize>,
    shaped: BTreeSet<Detection>,
}

impl<'a> FileScanner<'a> {
    fn new(needles: &'a Needles, options: &'a ScanOptions, buf: &'a mut Vec<u8>) -> Self {
        let overlap = (2 * needles.longest).max(SHAPE_OVERLAP);
        buf.resize(SCAN_CHUNK + overlap, 0);
        Self {
            needles,
            options,
            buf,
            overlap,
            scratch: Vec::new(),
            found: BTreeSet::new(),
            shaped: BTreeSet::new(),
        }
    }

    /// Searches one file (`path`, `size` bytes, read from `reader`), adding what it finds and
    /// what it is (a package list, a file `--explain` asked about) to `result`.
    fn scan_file(
        &mut self,
        path: String,
        size: u64,
        reader: &mut impl Read,
        result: &mut LayerResult,
    ) -> io::Result<()> {
        let Self {
            needles,
            options,
            buf,
            overlap,
            scratch,
            found,
            shaped,
        } = self;
        let (needles, options, overlap) = (*needles, *options, *overlap);
        let allow_digests = options.allow.has_digests();
        let name = path
            .rsplit_once('/')
            .map_or(path.as_str(), |(_, name)| name);
        result.files += 1;
        found.clear();
        shaped.clear();
        if let NameVerdict::Credential(kind) = guard::classify_name(path.as_bytes()) {
            shaped.insert(Detection {
                kind,
                whole_file: true,
            });
        }
        // A package list is kept (bounded) until the end of the file, then read into the
        // layer's evidence; it may describe files that came before it.
        let list = ListFile::classify(&path);
        let mut list_bytes = match &list {
            Some(list) if list.wants_content() => Some(Vec::new()),
            Some(list) => {
                result.evidence.add(list, b"");
                None
            }
            None => None,
        };
        let explain = options.explain.iter().any(|p| p == &path);
        let name_noisy = shaped.iter().any(|d| d.kind.is_noisy());
        // Digests are computed only where a verdict can depend on them: a file a noisy rule
        // fires on is judged by the package lists' hashes. A file read in one chunk is hashed
        // after the detectors fired; a longer text file (any chunk may fire a noisy rule) is
        // hashed as it streams by.
        let mut stream = StreamDigests::default();
        let mut digests: Option<Digests> = None;
        let mut keep = 0;
        let mut first = true;
        // Binary files (a NUL in the first 8 KiB: libraries, `.pyc`, archives) get only the
        // rules that are not noisy: libraries ship self-test keys (gnutls does), but a netrc
        // with a NUL put in front of it is still found.
        let mut binary = false;
        loop {
            let n = read_full(reader, &mut buf[keep..keep + SCAN_CHUNK])?;
            if n == 0 {
                break;
            }
            result.bytes += n as u64;
            let total = keep + n;
            let window = &buf[..total];
            needles.find_in(window, scratch, found);
            let complete = first && n as u64 == size;
            if first {
                binary = shapes::is_binary(window);
                if !complete && (explain || allow_digests || name_noisy || !binary) {
                    stream = StreamDigests::new(explain || evidence::may_be_debian(&path));
                }
            }
            if stream.is_active() {
                stream.update(&buf[keep..total]);
            }
            if let Some(bytes) = &mut list_bytes {
                match bytes.len() + n <= evidence::MAX_LIST_BYTES {
                    true => bytes.extend_from_slice(&buf[keep..total]),
                    false => list_bytes = None,
                }
            }
            if shapes::may_hold_credential(window, complete) {
                shaped.extend(match binary {
                    true => shapes::detect_binary(name.as_bytes(), window, complete),
                    false => shapes::detect(name.as_bytes(), window, complete),
                });
            }
            if complete
                && (explain
                    || shaped.iter().any(|d| d.kind.is_noisy())
                    || (allow_digests && !shaped.is_empty()))
            {
                digests = Some(Digests::of(window));
            }
            first = false;
            keep = overlap.min(total);
            buf.copy_within(total - keep..total, 0);
        }
        if stream.is_active() {
            digests = Some(std::mem::take(&mut stream).finish());
        }
        if size == 0 && (explain || !shaped.is_empty()) {
            digests = Some(Digests::of(b""));
        }
        if let (Some(list), Some(bytes)) = (&list, &list_bytes) {
            result.evidence.add(list, bytes);
        }
        for detection in shaped.iter() {
            result.hits.push(Hit {
                path: path.clone(),
                what: FindingKind::Credential {
                    kind: detection.kind,
                    whole_file: detection.whole_file,
                },
                digests,
            });
        }
        let mut ids: Vec<&String> = found.iter().map(|&p| &needles.ids[p]).collect();
        ids.dedup();
        if explain {
            result.explained.push(ExplainedFile {
                path: path.clone(),
                size,
                binary,
                digests: digests.unwrap_or_default(),
                detections: shaped.iter().copied().collect(),
                secrets: ids.iter().map(|id| (*id).clone()).collect(),
            });
        }
        for id in ids {
            result.hits.push(Hit {
                path: path.clone(),
                what: FindingKind::Secret { id: id.clone() },
                digests: None,
            });
        }
        Ok(())
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

#[derive(Deserialize, Default)]
struct ImageConfig {
    #[serde(default)]
    config: Option<ContainerConfig>,
    #[serde(default)]
    history: Vec<History>,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfig {
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<HashMap<String, String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct History {
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    empty_layer: bool,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// Maps layer results to the manifests' order and the configs' history ([`layout`]), and scans
/// the configs and manifests.
fn assemble(
    outer: Outer,
    mut layers: HashMap<String, LayerResult>,
    needles: &Needles,
    options: &ScanOptions,
) -> Result<ScanReport, ScanError> {
    let mut evidence = EvidenceIndex::default();
    let mut paths: Vec<&String> = layers.keys().collect();
    paths.sort();
    let paths: Vec<String> = paths.into_iter().cloned().collect();
    for path in &paths {
        if let Some(layer) = layers.get_mut(path) {
            evidence.merge(std::mem::take(&mut layer.evidence));
        }
    }
    let judge = Judge {
        evidence: &evidence,
        allow: &options.allow,
    };
    let mut report = ScanReport {
        layers: layers.len(),
        ..ScanReport::default()
    };
    for layer in layers.values() {
        report.files += layer.files;
        report.bytes += layer.bytes;
    }
    let resolve = |path: &str| {
        let mut path = path.to_owned();
        for _ in 0..8 {
            match outer.links.get(&path) {
                Some(target) => path = target.clone(),
                None => break,
            }
        }
        path
    };
    let layout = layout::read_layout(&outer.json, resolve).map_err(ScanError::Format)?;
    let mut mapped = HashSet::new();
    for image in &layout.images {
        let Some(config_raw) = outer.json.get(&image.config) else {
            return Err(ScanError::Format(format!("no config `{}`", image.config)));
        };
        let config: ImageConfig = serde_json::from_slice(config_raw)
            .map_err(|err| ScanError::Format(format!("bad config `{}`: {err}", image.config)))?;
        let steps: Vec<&str> = config
            .history
            .iter()
            .filter(|h| !h.empty_layer)
            .map(|h| h.created_by.as_str())
            .collect();
        let steps_known = steps.len() == image.layers.len();
        let diff_ids = config.rootfs.as_ref().map(|r| &r.diff_ids);
        // The image's own layers; an attestation's statements are no layer a later build can
        // get from the cache.
        if !image.attestation {
            report
                .diff_ids
                .extend(diff_ids.into_iter().flatten().cloned());
        }
        let part = match image.attestation {
            true => Part::Attestation,
            false => Part::Layer,
        };
        let paths: Vec<&str> = image.layers.iter().map(|l| l.path.as_str()).collect();
        for (index, layer_ref) in image.layers.iter().enumerate() {
            let path = &layer_ref.path;
            if !mapped.insert(path.clone()) {
                continue;
            }
            // A layer tar, or a blob searched as one file (an in-toto statement), named after
            // the predicate it holds.
            let (layer, file_name) = match (layers.get(path), outer.blobs.get(path)) {
                (Some(layer), _) => (layer, None),
                (None, Some(blob)) => {
                    report.layers += 1;
                    report.files += blob.files;
                    report.bytes += blob.bytes;
                    (blob, layer_ref.predicate.clone())
                }
                (None, None) => continue,
            };
            let name = diff_ids
                .and_then(|ids| ids.get(index))
                .cloned()
                .unwrap_or_else(|| path.clone());
            let step = steps_known.then(|| shorten(&needles.mask(steps[index])));
            let later = &paths[index + 1..];
            let deleted_later = |file: &str| {
                later.iter().any(|p| {
                    layers
                        .get(*p)
                        .is_some_and(|l| is_deleted(file, &l.deleted, &l.opaque))
                })
            };
            for hit in &layer.hits {
                let finding = Finding {
                    part,
                    layer: Some(name.clone()),
                    layer_index: Some(index),
                    path: Some(file_name.clone().unwrap_or_else(|| hit.path.clone())),
                    what: hit.what.clone(),
                    step: step.clone(),
                    deleted_later: deleted_later(&hit.path),
                    evidence: None,
                };
                judge.sort(finding, hit.digests.as_ref(), &mut report);
            }
            if image.attestation {
                continue;
            }
            for file in &layer.explained {
                report.explained.push((
                    file.path.clone(),
                    Explanation {
                        layer: name.clone(),
                        layer_index: Some(index),
                        step: step.clone(),
                        size: file.size,
                        binary: file.binary,
                        digests: file.digests,
                        evidence: evidence.judge(&file.path, &file.digests),
                        allowed_by: options
                            .allow
                            .allows(&file.path, file.digests.sha256.as_ref())
                            .map(str::to_owned),
                        detections: file.detections.clone(),
                        secrets: file.secrets.clone(),
                        deleted_later: deleted_later(&file.path),
                    },
                ));
            }
        }
        report
            .findings
            .extend(scan_config(&config, config_raw, needles));
    }
    // Manifests and image indexes are pushed too: a held secret in an annotation ships. (Their
    // shape is not judged, as the config's is not.)
    for path in &layout.manifests {
        let Some(blob) = outer.blobs.get(path) else {
            continue;
        };
        let mut ids: Vec<&String> = blob
            .hits
            .iter()
            .filter_map(|hit| match &hit.what {
                FindingKind::Secret { id } => Some(id),
                FindingKind::Credential { .. } => None,
            })
            .collect();
        ids.dedup();
        for id in ids {
            report.findings.push(Finding {
                part: Part::Manifest,
                layer: None,
                layer_index: None,
                path: Some(layout::blob_digest(path).unwrap_or_else(|| path.clone())),
                what: FindingKind::Secret { id: id.clone() },
                step: None,
                deleted_later: false,
                evidence: None,
            });
        }
    }
    // Layers no manifest lists still shipped in the archive: report them by path.
    let mut rest: Vec<_> = layers
        .drain()
        .filter(|(path, _)| !mapped.contains(path))
        .collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, layer) in rest {
        for hit in layer.hits {
            let finding = Finding {
                part: Part::Layer,
                layer: Some(path.clone()),
                layer_index: None,
                path: Some(hit.path),
                what: hit.what,
                step: None,
                deleted_later: false,
                evidence: None,
            };
            judge.sort(finding, hit.digests.as_ref(), &mut report);
        }
    }
    Ok(report)
}

/// Decides whether a credential found in a layer stops the push.
struct Judge<'a> {
    evidence: &'a EvidenceIndex,
    allow: &'a AllowList,
}

impl Judge<'_> {
    /// Puts `finding` among the report's findings or its notes. A held secret's value always
    /// counts. A noisy rule's finding on third-party content is a note; the allow list makes
    /// any other credential found by its shape a note too.
    fn sort(&self, mut finding: Finding, digests: Option<&Digests>, report: &mut ScanReport) {
        let FindingKind::Credential { kind, .. } = finding.what else {
            report.findings.push(finding);
            return;
        };
        let path = finding.path.clone().unwrap_or_default();
        if kind.is_noisy() {
            let verdict = self
                .evidence
                .judge(&path, digests.unwrap_or(&Digests::default()));
            if let Verdict::ThirdParty(provenance) = verdict {
                report.notes.push(Note {
                    finding,
                    why: NoteReason::ThirdParty(provenance),
                });
                return;
            }
            finding.evidence = Some(verdict);
        }
        let sha256 = digests.and_then(|d| d.sha256.as_ref());
        match self.allow.allows(&path, sha256) {
            Some(entry) => report.notes.push(Note {
                finding,
                why: NoteReason::Allowed(entry.to_owned()),
            }),
            None => report.findings.push(finding),
        }
    }
}

/// Whether a later layer's whiteouts delete `path` (or a directory above it).
fn is_deleted(path: &str, deleted: &HashSet<String>, opaque: &HashSet<String>) -> bool {
    if deleted.contains(path) {
        return true;
    }
    let mut dir = path;
    while let Some((parent, _)) = dir.rsplit_once('/') {
        if deleted.contains(parent) || opaque.contains(parent) {
            return true;
        }
        dir = parent;
    }
    opaque.contains("")
}

/// The config fields a secret can land in, searched one by one; then the whole config JSON, to
/// catch any other field.
fn scan_config(config: &ImageConfig, raw: &[u8], needles: &Needles) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut reported = HashSet::new();
    let mut found = BTreeSet::new();
    let mut check = |what: String, text: &str, step: Option<String>, out: &mut Vec<Finding>| {
        found.clear();
        needles.find_in(text.as_bytes(), &mut Vec::new(), &mut found);
        let mut ids: Vec<&String> = found.iter().map(|&p| &needles.ids[p]).collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            reported.insert(id.clone());
            out.push(Finding {
                part: Part::Config,
                layer: None,
                layer_index: None,
                path: Some(what.clone()),
                what: FindingKind::Secret { id: id.clone() },
                step: step.clone(),
                deleted_later: false,
                evidence: None,
            });
        }
    };
    if let Some(c) = &config.config {
        for env in c.env.iter().flatten() {
            let name = env.split_once('=').map_or(env.as_str(), |(name, _)| name);
            check(format!("config: Env {name}"), env, None, &mut findings);
        }
        let mut labels: Vec<_> = c.labels.iter().flatten().collect();
        labels.sort();
        for (key, value) in labels {
            check(
                format!("config: Labels {}", needles.mask(key)),
                &format!("{key}={value}"),
                None,
                &mut findings,
            );
        }
        for arg in c.cmd.iter().flatten() {
            check("config: Cmd".into(), arg, None, &mut findings);
        }
        for arg in c.entrypoint.iter().flatten() {
            check("config: Entrypoint".into(), arg, None, &mut findings);
        }
    }
    for (index, history) in config.history.iter().enumerate() {
        let step = shorten(&needles.mask(&history.created_by));
        check(
            format!("history {}", index + 1),
            &history.created_by,
            Some(step),
            &mut findings,
        );
    }
    let mut rest = BTreeSet::new();
    needles.find_in(raw, &mut Vec::new(), &mut rest);
    let mut ids: Vec<&String> = rest.iter().map(|&p| &needles.ids[p]).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        if !reported.contains(id) {
            findings.push(Finding {
                part: Part::Config,
                layer: None,
                layer_index: None,
                path: Some("config".into()),
                what: FindingKind::Secret { id: id.clone() },
                step: None,
                deleted_later: false,
                evidence: None,
            });
        }
    }
    findings.dedup();
    findings
}

/// A history step as a reader knows it: `RUN ...`, `COPY ...`, at most [`STEP_WIDTH`] chars.
fn shorten(created_by: &str) -> String {
    let step = created_by.trim();
    let step = step.strip_suffix("# buildkit").unwrap_or(step).trim();
    if let Some(rest) = step.strip_prefix("/bin/sh -c #(nop) ") {
        return truncate(rest);
    }
    // `RUN |2 A=1 B=2 /bin/sh -c cmd` (BuildKit), `RUN /bin/sh -c cmd`, `/bin/sh -c cmd`: the
    // build args are the step's environment, not its command.
    let run = step
        .strip_prefix("RUN |")
        .and_then(|rest| rest.split_once("/bin/sh -c ").map(|(_, cmd)| cmd))
        .or_else(|| step.strip_prefix("RUN /bin/sh -c "))
        .or_else(|| step.strip_prefix("/bin/sh -c "));
    match run {
        Some(cmd) => truncate(&format!("RUN {}", cmd.trim())),
        None => truncate(step),
    }
}

fn truncate(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= STEP_WIDTH {
        return text;
    }
    let cut: String = text.chars().take(STEP_WIDTH - 3).collect();
    format!("{cut}...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use std::io::Write;

    const TOKEN: &[u8] = b"s3cr3t-T0ken/with+chars";

    fn secret(id: &str, value: &[u8], login: Option<&str>) -> ScanSecret {
        ScanSecret {
            id: id.into(),
            value: SecretSlice::from(value.to_vec()),
            login: login.map(str::to_owned),
        }
    }

    /// A layer tar holding these files (a `None` body is a whiteout or a directory).
    fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, body) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, *body).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// Appends a regular file to an archive being built.
    fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, path, data).unwrap();
    }

    /// A `docker save` archive, in 20.10's order: layers, config, then `manifest.json` last.
    fn save(layers: &[Vec<u8>], history: &[&str], config_extra: serde_json::Value) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8]| append(&mut builder, path, data);
        let mut paths = Vec::new();
        for (i, data) in layers.iter().enumerate() {
            let path = format!("{i:064x}/layer.tar");
            add(&path, data);
            paths.push(path);
        }
        let history: Vec<_> = history
            .iter()
            .map(|h| serde_json::json!({"created_by": h}))
            .collect();
        let diff_ids: Vec<_> = (0..layers.len())
            .map(|i| format!("sha256:{:064x}", i + 100))
            .collect();
        let mut config = serde_json::json!({
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
            "history": history,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        if let (Some(c), serde_json::Value::Object(extra)) =
            (config["config"].as_object_mut(), config_extra)
        {
            c.extend(extra);
        }
        add("cafe.json", config.to_string().as_bytes());
        let manifest =
            serde_json::json!([{"Config": "cafe.json", "RepoTags": ["x:y"], "Layers": paths}]);
        add("manifest.json", manifest.to_string().as_bytes());
        add("repositories", b"{}");
        builder.into_inner().unwrap()
    }

    fn scan(archive: &[u8], secrets: &[ScanSecret]) -> ScanReport {
        scan_save_stream(archive, secrets, &ScanOptions::default(), 2).unwrap()
    }

    fn sha256(data: &[u8]) -> String {
        use sha2::Digest;
        format!("sha256:{}", crate::hex::encode(&sha2::Sha256::digest(data)))
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        zstd::stream::encode_all(data, 3).unwrap()
    }

    /// An OCI image layout as the containerd store exports an image built with an attestation:
    /// `index.json` -> an image index -> the platform manifest (`layers`, stored as given, their
    /// diff ids the digests of `uncompressed`) and an attestation manifest holding `statement`.
    /// `manifest.json` (the compatibility file) only when `with_compat`; `blob_order` says where
    /// the blobs go: `"layers-first"` (layers, then the statement, then the JSON that describes
    /// them) or `"by-digest"` (as containerd writes them: any blob before any other).
    struct Oci<'a> {
        layers: &'a [(Vec<u8>, Vec<u8>)],
        history: &'a [&'a str],
        statement: &'a [u8],
        index_annotations: serde_json::Value,
        with_compat: bool,
        blob_order: &'a str,
    }

    impl Oci<'_> {
        fn archive(&self) -> Vec<u8> {
            let blob = |data: &[u8]| {
                (
                    format!("blobs/sha256/{}", &sha256(data)[7..]),
                    data.to_vec(),
                )
            };
            let descriptor = |data: &[u8], media: &str| {
                let (digest, size) = (sha256(data), data.len());
                serde_json::json!({"mediaType": media, "digest": digest, "size": size})
            };
            let mut layer_blobs = Vec::new();
            let mut layer_descriptors = Vec::new();
            for (stored, _) in self.layers {
                layer_blobs.push(blob(stored));
                let media = match stored.first() {
                    Some(0x28) => "application/vnd.oci.image.layer.v1.tar+zstd",
                    _ => "application/vnd.oci.image.layer.v1.tar+gzip",
                };
                layer_descriptors.push(descriptor(stored, media));
            }
            let diff_ids: Vec<String> = self.layers.iter().map(|(_, tar)| sha256(tar)).collect();
            let history: Vec<_> = self
                .history
                .iter()
                .map(|h| serde_json::json!({"created_by": h}))
                .collect();
            let config = serde_json::json!({
                "architecture": "amd64", "os": "linux",
                "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
                "history": history,
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            })
            .to_string()
            .into_bytes();
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": descriptor(&config, "application/vnd.oci.image.config.v1+json"),
                "layers": layer_descriptors,
            })
            .to_string()
            .into_bytes();
            let att_config = serde_json::json!({
                "architecture": "unknown", "os": "unknown", "config": {},
                "rootfs": {"type": "layers", "diff_ids": [sha256(self.statement)]},
            })
            .to_string()
            .into_bytes();
            let mut statement_layer = descriptor(self.statement, "application/vnd.in-toto+json");
            statement_layer["annotations"] = serde_json::json!({
                "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"
            });
            let att_manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": descriptor(&att_config, "application/vnd.oci.image.config.v1+json"),
                "layers": [statement_layer],
            })
            .to_string()
            .into_bytes();
            let mut platform = descriptor(&manifest, "application/vnd.oci.image.manifest.v1+json");
            platform["platform"] = serde_json::json!({"architecture": "amd64", "os": "linux"});
            let mut attestation =
                descriptor(&att_manifest, "application/vnd.oci.image.manifest.v1+json");
            attestation["platform"] =
                serde_json::json!({"architecture": "unknown", "os": "unknown"});
            attestation["annotations"] = serde_json::json!({
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": sha256(&manifest),
            });
            let image_index = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [platform, attestation],
                "annotations": self.index_annotations,
            })
            .to_string()
            .into_bytes();
            let mut top = descriptor(&image_index, "application/vnd.oci.image.index.v1+json");
            top["annotations"] = serde_json::json!({"io.containerd.image.name": "docker.io/x/y:1"});
            let index = serde_json::json!({"schemaVersion": 2, "manifests": [top]});
            let mut blobs = layer_blobs;
            blobs.push(blob(self.statement));
            for json in [&config, &manifest, &att_config, &att_manifest, &image_index] {
                blobs.push(blob(json));
            }
            if self.blob_order == "by-digest" {
                blobs.sort();
            }
            let mut builder = tar::Builder::new(Vec::new());
            let mut add = |path: &str, data: &[u8]| append(&mut builder, path, data);
            for (path, data) in &blobs {
                add(path, data);
            }
            add("index.json", index.to_string().as_bytes());
            if self.with_compat {
                let layers: Vec<String> = self.layers.iter().map(|(l, _)| blob(l).0).collect();
                let compat = serde_json::json!([{
                    "Config": blob(&config).0, "RepoTags": ["x/y:1"], "Layers": layers,
                }]);
                add("manifest.json", compat.to_string().as_bytes());
            }
            add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
            builder.into_inner().unwrap()
        }
    }

    #[test]
    fn finds_a_raw_secret_in_a_plain_layer_and_names_the_step() {
        let archive = save(
            &[
                layer(&[("bin/sh", b"elf")]),
                layer(&[(
                    "app/config.txt",
                    &[b"token=".as_ref(), TOKEN, b"\n"].concat(),
                )]),
            ],
            &[
                "ADD rootfs.tar / # buildkit",
                "COPY config.txt /app/ # buildkit",
            ],
            serde_json::json!({}),
        );
        let report = scan(&archive, &[secret("--secret tok", TOKEN, None)]);
        assert_eq!(report.layers, 2);
        assert_eq!(report.files, 2);
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        let f = &report.findings[0];
        assert_eq!(f.layer_index, Some(1));
        assert_eq!(f.layer.as_deref(), Some(&*format!("sha256:{:064x}", 101)));
        assert_eq!(f.path.as_deref(), Some("app/config.txt"));
        assert_eq!(
            f.what,
            FindingKind::Secret {
                id: "--secret tok".into()
            }
        );
        assert_eq!(f.step.as_deref(), Some("COPY config.txt /app/"));
    }

    #[test]
    fn finds_every_encoding_in_gzip_layers() {
        let login_pair = STANDARD.encode([b"acme:".as_ref(), TOKEN].concat());
        let mut shifted = b"xy".to_vec();
        shifted.extend_from_slice(TOKEN);
        shifted.extend_from_slice(b"tail");
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("raw", TOKEN.to_vec()),
            ("b64", STANDARD.encode(TOKEN).into_bytes()),
            ("b64url", URL_SAFE_NO_PAD.encode(TOKEN).into_bytes()),
            ("b64shifted", STANDARD.encode(&shifted).into_bytes()),
            ("b64shifted1", STANDARD.encode(&shifted[1..]).into_bytes()),
            ("pct", b"s3cr3t-T0ken%2Fwith%2Bchars".to_vec()),
            ("pctlower", b"s3cr3t-T0ken%2fwith%2bchars".to_vec()),
            ("quote", b"s3cr3t-T0ken/with%2Bchars".to_vec()),
            (
                "auth",
                format!("{{\"auth\":\"{login_pair}\"}}").into_bytes(),
            ),
        ];
        for (name, body) in cases {
            let archive = save(
                &[gzip(&layer(&[(name, &body)]))],
                &["RUN x"],
                serde_json::json!({}),
            );
            let report = scan(&archive, &[secret("netrc", TOKEN, Some("acme"))]);
            let secrets: Vec<&Finding> = report
                .findings
                .iter()
                .filter(|f| matches!(f.what, FindingKind::Secret { .. }))
                .collect();
            assert_eq!(secrets.len(), 1, "{name}: {:?}", report.findings);
            assert_eq!(secrets[0].path.as_deref(), Some(name));
        }
    }

    #[test]
    fn finds_a_secret_across_chunk_boundaries() {
        for offset in [
            SCAN_CHUNK - 5,
            SCAN_CHUNK - 1,
            FEED_CHUNK - 3,
            2 * SCAN_CHUNK - 7,
        ] {
            let mut body = vec![b'a'; 3 * SCAN_CHUNK];
            body[offset..offset + TOKEN.len()].copy_from_slice(TOKEN);
            let archive = save(
                &[layer(&[("big", &body)])],
                &["RUN x"],
                serde_json::json!({}),
            );
            let report = scan(&archive, &[secret("tok", TOKEN, None)]);
            assert_eq!(report.findings.len(), 1, "offset {offset}");
            assert_eq!(report.bytes, body.len() as u64);
        }
    }

    #[test]
    fn flags_credential_files_without_secrets_even_when_deleted_later() {
        let archive = save(
            &[
                layer(&[
                    ("root/.netrc", b"machine x login a password b"),
                    (
                        "etc/pip.conf",
                        b"[global]\nindex-url = https://u:Zq8xT2pLw9vR@host/simple\n",
                    ),
                    (
                        "app/pip.conf",
                        b"[global]\nindex-url = https://host/simple\n",
                    ),
                    ("app/main.py", b"print(1)"),
                ]),
                layer(&[("root/.wh..netrc", b"")]),
            ],
            &["COPY .netrc /root/", "RUN rm /root/.netrc"],
            serde_json::json!({}),
        );
        let report = scan(&archive, &[]);
        let paths: Vec<_> = report
            .findings
            .iter()
            .map(|f| f.path.clone().unwrap())
            .collect();
        assert_eq!(
            paths,
            ["root/.netrc", "etc/pip.conf"],
            "{:?}",
            report.findings
        );
        assert!(report.findings[0].deleted_later);
        assert!(!report.findings[1].deleted_later);
        assert!(matches!(
            report.findings[0].what,
            FindingKind::Credential { .. }
        ));
        assert!(
            report.findings[0]
                .to_string()
                .contains("deleted by a later layer")
        );
    }

    #[test]
    fn finds_secrets_in_the_config_and_history_and_masks_the_step() {
        let tok = String::from_utf8(TOKEN.to_vec()).unwrap();
        let archive = save(
            &[layer(&[("a", b"clean")])],
            &[&format!(
                "RUN |1 TOKEN={tok} /bin/sh -c echo {tok} > /dev/null"
            )],
            serde_json::json!({"Env": ["PATH=/bin", format!("API_TOKEN={tok}")],
                "Labels": {"l": tok}, "Entrypoint": ["x", tok]}),
        );
        let report = scan(&archive, &[secret("--secret tok", TOKEN, None)]);
        let paths: Vec<_> = report
            .findings
            .iter()
            .map(|f| f.path.clone().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "config: Env API_TOKEN",
                "config: Labels l",
                "config: Entrypoint",
                "history 1"
            ],
        );
        for finding in &report.findings {
            let shown = format!("{finding} {finding:?}");
            assert!(!shown.contains(&tok), "{shown}");
        }
        assert_eq!(
            report.findings[3].step.as_deref(),
            Some("RUN echo **** > /dev/null")
        );
    }

    #[test]
    fn a_clean_image_has_no_findings_and_short_values_are_ignored() {
        let archive = save(
            &[layer(&[
                ("usr/lib/x", b"abc abc abc"),
                ("app/.env.example", b"A=1"),
            ])],
            &["RUN x"],
            serde_json::json!({}),
        );
        let report = scan(
            &archive,
            &[secret("short", b"abc", None), secret("t", TOKEN, None)],
        );
        assert!(report.is_clean(), "{:?}", report.findings);
    }

    #[test]
    fn debug_of_a_secret_never_shows_the_value() {
        let s = secret("tok", TOKEN, Some("acme"));
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }

    #[test]
    fn a_broken_archive_is_an_error() {
        let err = scan_save_stream(&b"not a tar"[..], &[], &ScanOptions::default(), 1).unwrap_err();
        assert!(
            matches!(err, ScanError::Read(_) | ScanError::Format(_)),
            "{err:?}"
        );
        let archive = save(
            &[b"garbage that is not a tar".to_vec()],
            &["RUN x"],
            serde_json::json!({}),
        );
        assert!(scan_save_stream(&archive[..], &[], &ScanOptions::default(), 1).is_err());
    }

    #[test]
    fn finds_credentials_by_shape_whatever_their_name() {
        let netrc = b"machine idx.example login acme password Zq8xT2pLw9vR\n".to_vec();
        let key = crate::leak::shapes::tests::pem_key("RSA ").into_bytes();
        let settings = b"DATABASES = {'default': 'postgres://app:S3cr3tPw@db/app'}\n".to_vec();
        let archive = save(
            &[layer(&[
                ("app/netrc", &netrc),
                ("app/.netrc.bak", &netrc),
                ("app/creds.txt", &netrc),
                ("app/sa-key.json.bak", &key),
                ("app/settings.py", &settings),
                ("app/main.py", b"print('password')"),
            ])],
            &["COPY . /app"],
            serde_json::json!({}),
        );
        let report = scan(&archive, &[]);
        let found: Vec<(String, bool)> = report
            .findings
            .iter()
            .map(|f| match f.what {
                FindingKind::Credential { whole_file, .. } => (f.path.clone().unwrap(), whole_file),
                _ => panic!("{f}"),
            })
            .collect();
        assert_eq!(
            found,
            [
                ("app/netrc".to_owned(), true),
                ("app/.netrc.bak".to_owned(), true),
                ("app/creds.txt".to_owned(), true),
                ("app/sa-key.json.bak".to_owned(), true),
                ("app/settings.py".to_owned(), false),
            ]
        );
    }

    #[test]
    fn binary_files_are_searched_for_secrets_but_not_by_shape() {
        // A library with a self-test key well past its first chunk, as gnutls ships one.
        let mut lib = b"\x7fELF\x02\x01\x01\x00".to_vec();
        lib.resize(600 * 1024, 0);
        lib.extend_from_slice(crate::leak::shapes::tests::pem_key("RSA ").as_bytes());
        lib.extend_from_slice(TOKEN);
        let archive = save(
            &[layer(&[("usr/lib/libx.so", &lib)])],
            &["RUN x"],
            serde_json::json!({}),
        );
        let report = scan(&archive, &[secret("tok", TOKEN, None)]);
        let kinds: Vec<&FindingKind> = report.findings.iter().map(|f| &f.what).collect();
        assert_eq!(kinds, [&FindingKind::Secret { id: "tok".into() }]);
        // A NUL in front of a netrc does not hide it.
        let hidden = b"\0\0machine idx login acme password Zq8xT2pLw9vR\n".to_vec();
        let archive = save(
            &[layer(&[("etc/x", &hidden)])],
            &["RUN x"],
            serde_json::json!({}),
        );
        let report = scan(&archive, &[]);
        assert!(
            report.findings.iter().any(|f| matches!(
                f.what,
                FindingKind::Credential {
                    kind: CredentialKind::Netrc,
                    ..
                }
            )),
            "{:?}",
            report.findings
        );
    }

    #[test]
    fn finds_wrapped_base64_and_hex_dumps_of_a_secret() {
        let value = b"machine idx login acme password Zq8xT2pLw9vRk3mN\n";
        let b64 = STANDARD.encode(value);
        let wrapped: Vec<u8> = b64
            .as_bytes()
            .chunks(76)
            .flat_map(|c| c.iter().copied().chain(*b"\n"))
            .collect();
        let od: String = value
            .chunks(16)
            .map(|c| c.iter().map(|b| format!(" {b:02x}")).collect::<String>() + "\n")
            .collect();
        let xxd: String = value
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .as_bytes()
            .chunks(60)
            .map(|c| String::from_utf8_lossy(c).into_owned() + "\n")
            .collect();
        for (name, body) in [
            ("b64", wrapped),
            ("od", od.into_bytes()),
            ("xxd", xxd.into_bytes()),
        ] {
            let archive = save(
                &[layer(&[(name, &body)])],
                &["RUN x"],
                serde_json::json!({}),
            );
            let report = scan(&archive, &[secret("--secret netrc", value, None)]);
            assert!(
                report.findings.iter().any(
                    |f| matches!(&f.what, FindingKind::Secret { id } if id == "--secret netrc")
                ),
                "{name}: {:?}",
                report.findings
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        /// Any form of a secret, at any offset of a file in a layer, is found; and masked in any
        /// line of output.
        #[test]
        fn any_form_at_any_offset_is_found_and_masked(
            value in "[A-Za-z0-9@:/+ !*()'~_.-]{8,40}",
            prefix in proptest::collection::vec(proptest::num::u8::ANY, 0..300_000),
            form_index in 0usize..64,
        ) {
            let forms = crate::leak::forms::forms(value.as_bytes(), Some(b"acme"));
            let form = &forms[form_index % forms.len()];
            let mut body = prefix.clone();
            body.extend_from_slice(&form.bytes);
            body.extend_from_slice(b"\n tail");
            let archive = save(&[layer(&[("f", &body)])], &["RUN x"], serde_json::json!({}));
            let report = scan(&archive, &[secret("s", value.as_bytes(), Some("acme"))]);
            proptest::prop_assert!(
                report.findings.iter().any(|f| matches!(f.what, FindingKind::Secret { .. })),
                "form {form:?} not found"
            );
            let redactor = crate::redact::Redactor::builder()
                .login("acme", &secrecy::SecretString::from(value.clone()))
                .build();
            let line = format!("pip: {} !", String::from_utf8_lossy(&form.bytes));
            let masked = redactor.redact(&line);
            proptest::prop_assert!(!masked.contains(&*String::from_utf8_lossy(&form.bytes)));
        }
    }

    const SP: &str = "opt/venv/lib/python3.11/site-packages";

    /// A RECORD line for `path` (relative to site-packages) with `content`'s hash.
    fn record_line(path: &str, content: &[u8]) -> String {
        use sha2::Digest;
        let sha = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(content));
        format!("{path},sha256={sha},{}\n", content.len())
    }

    fn kinds_at(findings: &[Finding]) -> Vec<(String, &'static str)> {
        findings
            .iter()
            .map(|f| match &f.what {
                FindingKind::Credential { kind, .. } => (f.path.clone().unwrap(), kind.rule()),
                FindingKind::Secret { id } => (
                    f.path.clone().unwrap(),
                    if id.is_empty() { "" } else { "secret" },
                ),
            })
            .collect()
    }

    #[test]
    fn noisy_rules_on_files_a_record_vouches_for_are_notes() {
        let key = crate::leak::shapes::tests::pem_key("RSA ").into_bytes();
        let dist = format!("{SP}/Twisted-24.11.0.dist-info");
        let pem = format!("{SP}/twisted/test/server.pem");
        // A key written next to the test keys by a RUN step, and the user's own project (it
        // has a direct_url.json) with a key of its own.
        let planted = format!("{SP}/twisted/test/deploy.pem");
        let own_dist = format!("{SP}/app-1.0.dist-info");
        let own = format!("{SP}/app/key.pem");
        let record = record_line("twisted/test/server.pem", &key);
        let own_record = record_line("app/key.pem", &key);
        // The RECORD comes after the file it lists, as in a layer tar.
        let archive = save(
            &[
                layer(&[
                    (pem.as_str(), &key),
                    (&format!("{dist}/RECORD"), record.as_bytes()),
                    (own.as_str(), &key),
                    (&format!("{own_dist}/RECORD"), own_record.as_bytes()),
                    (
                        &format!("{own_dist}/direct_url.json"),
                        b"{\"url\": \"file:///app\"}",
                    ),
                ]),
                layer(&[(planted.as_str(), &key)]),
            ],
            &["RUN pip install", "RUN cp key"],
            serde_json::json!({}),
        );
        let report = scan(&archive, &[]);
        assert_eq!(
            kinds_at(&report.findings),
            [
                (own.clone(), "private-key"),
                (planted.clone(), "private-key")
            ]
        );
        assert!(matches!(
            report.findings[0].evidence,
            Some(Verdict::DirectInstall(_))
        ));
        assert_eq!(report.findings[1].evidence, Some(Verdict::Unlisted));
        assert!(
            report.findings[1]
                .to_string()
                .contains("not third-party: no package lists it")
        );
        assert_eq!(report.notes.len(), 1);
        assert_eq!(report.notes[0].finding.path.as_deref(), Some(pem.as_str()));
        assert_eq!(
            report.notes[0].why,
            NoteReason::ThirdParty(Provenance::Record(dist))
        );
    }

    #[test]
    fn a_changed_file_and_a_forged_record_for_a_strict_rule_are_findings() {
        let key = crate::leak::shapes::tests::pem_key("RSA ").into_bytes();
        let other = crate::leak::shapes::tests::pem_key("EC ").into_bytes();
        let netrc = b"machine idx.example login acme password Zq8xT2pLw9vR\n".to_vec();
        let dist = format!("{SP}/Twisted-24.11.0.dist-info");
        let pem = format!("{SP}/twisted/test/server.pem");
        let netrc_path = format!("{SP}/twisted/test/netrc");
        let record = record_line("twisted/test/server.pem", &key)
            + &record_line("twisted/test/netrc", &netrc);
        let archive = save(
            &[
                layer(&[
                    (&format!("{dist}/RECORD"), record.as_bytes()),
                    (pem.as_str(), &key),
                    (netrc_path.as_str(), &netrc),
                ]),
                // A later layer replaces the test key with another key.
                layer(&[(pem.as_str(), &other)]),
            ],
            &["RUN pip install", "RUN cp"],
            serde_json::json!({}),
        );
        let report = scan(&archive, &[]);
        assert_eq!(
            kinds_at(&report.findings),
            [(netrc_path, "netrc"), (pem.clone(), "private-key")]
        );
        assert_eq!(report.findings[1].layer_index, Some(1));
        assert!(matches!(
            report.findings[1].evidence,
            Some(Verdict::Changed(_))
        ));
        assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
        assert_eq!(report.notes[0].finding.layer_index, Some(0));
    }

    #[test]
    fn long_text_files_are_hashed_as_they_stream() {
        // A key past the first chunk of a long document a RECORD vouches for, and the same
        // document changed by one byte at its start.
        let mut doc = vec![b'#'; 700 * 1024];
        doc.extend_from_slice(crate::leak::shapes::tests::pem_key("RSA ").as_bytes());
        let mut changed = doc.clone();
        changed[0] = b'!';
        let dist = format!("{SP}/google_api_python_client-2.0.dist-info");
        let a = format!("{SP}/googleapiclient/a.json");
        let b = format!("{SP}/googleapiclient/b.json");
        let record = record_line("googleapiclient/a.json", &doc)
            + &record_line("googleapiclient/b.json", &doc);
        let archive = save(
            &[layer(&[
                (a.as_str(), &doc),
                (b.as_str(), &changed),
                (&format!("{dist}/RECORD"), record.as_bytes()),
            ])],
            &["RUN pip install"],
            serde_json::json!({}),
        );
        let report = scan(&archive, &[]);
        assert_eq!(kinds_at(&report.findings), [(b, "private-key")]);
        assert_eq!(report.notes.len(), 1);
    }

    #[test]
    fn debian_md5sums_vouch_for_their_files_and_evidence_never_hides_a_held_secret() {
        use md5::Digest;
        let mut text = crate::leak::shapes::tests::pem_key("RSA ").into_bytes();
        text.extend_from_slice(TOKEN);
        let md5: [u8; 16] = md5::Md5::digest(&text).into();
        let hex = crate::hex::encode(&md5);
        let sums = format!("{hex}  usr/share/doc/x/test.pem\n");
        let archive = save(
            &[layer(&[
                ("usr/share/doc/x/test.pem", &text),
                ("var/lib/dpkg/info/x:amd64.md5sums", sums.as_bytes()),
            ])],
            &["RUN apt"],
            serde_json::json!({}),
        );
        let report = scan(&archive, &[secret("tok", TOKEN, None)]);
        assert_eq!(
            kinds_at(&report.findings),
            [("usr/share/doc/x/test.pem".to_owned(), "secret")]
        );
        assert_eq!(
            report.notes[0].why,
            NoteReason::ThirdParty(Provenance::Debian("x:amd64".into()))
        );
    }

    #[test]
    fn the_allow_list_accepts_shapes_by_path_or_digest_never_held_secrets() {
        use sha2::Digest;
        let key = crate::leak::shapes::tests::pem_key("RSA ").into_bytes();
        let netrc = b"machine idx.example login acme password Zq8xT2pLw9vR\n".to_vec();
        let digest = crate::hex::encode(&sha2::Sha256::digest(&netrc));
        let archive = save(
            &[layer(&[
                ("srv/fixtures/key.pem", &key),
                ("srv/fixtures/tok.txt", TOKEN),
                ("srv/other/netrc", &netrc),
                ("srv/other/key.pem", &key),
            ])],
            &["COPY . /srv"],
            serde_json::json!({}),
        );
        let options = ScanOptions {
            allow: AllowList::new(&["/srv/fixtures".to_owned(), format!("sha256:{digest}")])
                .unwrap(),
            explain: vec!["srv/other/key.pem".into(), "srv/fixtures/key.pem".into()],
        };
        let report =
            scan_save_stream(&archive[..], &[secret("tok", TOKEN, None)], &options, 2).unwrap();
        assert_eq!(
            kinds_at(&report.findings),
            [
                ("srv/fixtures/tok.txt".to_owned(), "secret"),
                ("srv/other/key.pem".to_owned(), "private-key"),
            ]
        );
        let allowed: Vec<(&str, &NoteReason)> = report
            .notes
            .iter()
            .map(|n| (n.finding.path.as_deref().unwrap(), &n.why))
            .collect();
        assert_eq!(
            allowed,
            [
                (
                    "srv/fixtures/key.pem",
                    &NoteReason::Allowed("/srv/fixtures".into())
                ),
                (
                    "srv/other/netrc",
                    &NoteReason::Allowed(format!("sha256:{digest}"))
                ),
            ]
        );
        let explained: Vec<&str> = report.explained.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(explained, ["srv/fixtures/key.pem", "srv/other/key.pem"]);
        let other = &report.explained[1].1;
        assert_eq!(other.evidence, Verdict::Unlisted);
        assert_eq!(other.allowed_by, None);
        assert_eq!(other.size, key.len() as u64);
        assert_eq!(
            other.digests.sha256,
            Some(sha2::Sha256::digest(&key).into())
        );
    }

    /// Bytes that do not compress: a file whose zstd blob spans several of the reader's chunks.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// A provenance statement as BuildKit writes it with `--provenance=mode=max`: the build
    /// arguments are in it.
    fn provenance(arg: &[u8]) -> Vec<u8> {
        serde_json::json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "pkg:docker/x/y@1?platform=linux%2Famd64",
                         "digest": {"sha256": format!("{:064x}", 7)}}],
            "predicate": {"buildType": "https://mobyproject.org/buildkit@v1",
                "invocation": {"parameters": {"frontend": "dockerfile.v0",
                    "args": {"build-arg:TOKEN": String::from_utf8_lossy(arg)}}}},
        })
        .to_string()
        .into_bytes()
    }

    const NETRC: &[u8] = b"machine idx.example login acme password Zq8xT2pLw9vR\n";

    #[test]
    fn an_oci_export_maps_zstd_and_gzip_layers_by_diff_id_and_scans_the_attestation() {
        let base = layer(&[("bin/sh", b"elf"), ("app/main.py", b"print(1)")]);
        let big = noise(1 << 20);
        let app = layer(&[("srv/blob.bin", &big), ("root/.netrc", NETRC)]);
        let layers = [(gzip(&base), base.clone()), (zstd(&app), app.clone())];
        let statement = provenance(TOKEN);
        let diff_ids = vec![sha256(&base), sha256(&app)];
        for with_compat in [true, false] {
            for blob_order in ["layers-first", "by-digest"] {
                let archive = Oci {
                    layers: &layers,
                    history: &["ADD rootfs.tar / # buildkit", "COPY . / # buildkit"],
                    statement: &statement,
                    index_annotations: serde_json::json!({}),
                    with_compat,
                    blob_order,
                }
                .archive();
                let case = format!("manifest.json: {with_compat}, {blob_order}");
                let report = scan(&archive, &[secret("--build-arg TOKEN", TOKEN, None)]);
                assert_eq!(report.diff_ids, diff_ids, "{case}");
                let found: Vec<_> = report
                    .findings
                    .iter()
                    .map(|f| {
                        (
                            f.part,
                            f.layer.clone(),
                            f.layer_index,
                            f.path.as_deref(),
                            &f.what,
                        )
                    })
                    .collect();
                assert_eq!(
                    found,
                    [
                        (
                            Part::Layer,
                            Some(diff_ids[1].clone()),
                            Some(1),
                            Some("root/.netrc"),
                            &FindingKind::Credential {
                                kind: CredentialKind::Netrc,
                                whole_file: true
                            }
                        ),
                        (
                            Part::Attestation,
                            Some(sha256(&statement)),
                            Some(0),
                            Some("https://slsa.dev/provenance/v0.2"),
                            &FindingKind::Secret {
                                id: "--build-arg TOKEN".into()
                            }
                        ),
                    ],
                    "{case}"
                );
                assert_eq!(report.findings[0].step.as_deref(), Some("COPY . /"));
                assert_eq!(
                    report.findings[1].to_string(),
                    format!(
                        "attestation layer 1 ({}): `https://slsa.dev/provenance/v0.2`: secret `--build-arg TOKEN`",
                        sha256(&statement)
                    )
                );
                // Two image layers and the statement, every byte of them uncompressed.
                assert_eq!(report.layers, 3, "{case}");
                assert_eq!(report.files, 5, "{case}");
                let file_bytes = 3 + 8 + big.len() + NETRC.len() + statement.len();
                assert_eq!(report.bytes, file_bytes as u64, "{case}");
            }
        }
    }

    #[test]
    fn a_secret_deep_in_a_large_statement_is_found_as_it_streams() {
        let app = layer(&[("a", b"clean")]);
        let padding = "a".repeat(3 * SCAN_CHUNK);
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://spdx.dev/Document",
            "predicate": {"padding": padding, "comment": String::from_utf8_lossy(TOKEN)},
        })
        .to_string()
        .into_bytes();
        let archive = Oci {
            layers: &[(gzip(&app), app.clone())],
            history: &["COPY a /"],
            statement: &statement,
            index_annotations: serde_json::json!({}),
            with_compat: true,
            blob_order: "by-digest",
        }
        .archive();
        let report = scan(&archive, &[secret("tok", TOKEN, None)]);
        let found: Vec<(Part, Option<&str>)> = report
            .findings
            .iter()
            .map(|f| (f.part, f.layer.as_deref()))
            .collect();
        assert_eq!(found, [(Part::Attestation, Some(&*sha256(&statement)))]);
        assert_eq!(report.bytes, (5 + statement.len()) as u64);
    }

    #[test]
    fn a_held_secret_in_a_zstd_layer_or_a_manifest_annotation_is_found() {
        let app = layer(&[("app/tok.txt", &[b"x=".as_ref(), TOKEN].concat())]);
        // Two zstd frames, as a producer that flushes per file writes them.
        let split = app.len() / 2;
        let stored = [zstd(&app[..split]), zstd(&app[split..])].concat();
        let archive = Oci {
            layers: &[(stored, app.clone())],
            history: &["COPY tok.txt /app/"],
            statement: &provenance(b"nothing held"),
            index_annotations: serde_json::json!({
                "org.opencontainers.image.description": String::from_utf8_lossy(TOKEN)}),
            with_compat: false,
            blob_order: "by-digest",
        }
        .archive();
        let report = scan(&archive, &[secret("tok", TOKEN, None)]);
        let found: Vec<(Part, Option<&str>)> = report
            .findings
            .iter()
            .map(|f| (f.part, f.path.as_deref()))
            .collect();
        assert_eq!(found.len(), 2, "{:#?}", report.findings);
        assert_eq!(found[0], (Part::Layer, Some("app/tok.txt")));
        assert_eq!(found[1].0, Part::Manifest);
        assert!(
            report.findings[1]
                .to_string()
                .starts_with("manifest: `sha256:"),
            "{}",
            report.findings[1]
        );
        assert_eq!(report.diff_ids, [sha256(&app)]);
    }

    #[test]
    fn finds_a_secret_in_a_zstd_layer_of_several_frames() {
        let app = layer(&[("app/tok.txt", &[b"x=".as_ref(), TOKEN].concat())]);
        // Two frames, as a producer that flushes per file writes them.
        let split = app.len() / 2;
        let stored = [zstd(&app[..split]), zstd(&app[split..])].concat();
        let archive = save(&[stored], &["COPY tok.txt /app/"], serde_json::json!({}));
        let report = scan(&archive, &[secret("tok", TOKEN, None)]);
        let paths: Vec<_> = report.findings.iter().map(|f| f.path.as_deref()).collect();
        assert_eq!(paths, [Some("app/tok.txt")]);
        assert_eq!(report.findings[0].layer_index, Some(0));
    }

    #[test]
    fn a_broken_zstd_layer_is_an_error() {
        let mut stored = zstd(&layer(&[("a", b"clean")]));
        let cut = stored.len() / 2;
        stored.truncate(cut);
        stored.extend_from_slice(&[0xff; 64]);
        let archive = save(&[stored], &["RUN x"], serde_json::json!({}));
        let err = scan_save_stream(&archive[..], &[], &ScanOptions::default(), 1).unwrap_err();
        assert!(matches!(err, ScanError::Layer { .. }), "{err:?}");
    }
}
