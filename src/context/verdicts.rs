//! The context guard's content verdicts, remembered per file so that a cached rebuild reads
//! nothing it would not send: a file's verdict is reused while its device, inode, size, mtime
//! and ctime are unchanged (a rewrite that keeps the mtime still moves the ctime). Kept in
//! memory for the process and in `verdicts-v2` under [`crate::cache::dir`]; only paths and
//! verdicts, never content.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::leak::shapes::Detection;

/// Entries kept at most; the oldest half is dropped beyond this.
const MAX_ENTRIES: usize = 200_000;

/// What the guard concluded about a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No credential.
    Clean,
    /// A credential is the file's whole purpose: left out.
    LeftOut(crate::leak::shapes::CredentialKind),
    /// A credential embedded in an ordinary file: sent, and reported.
    Embedded(crate::leak::shapes::CredentialKind),
}

impl Verdict {
    /// The verdict on a file's detections: the first whole-file one wins.
    pub fn from_detections(found: &[Detection]) -> Self {
        if let Some(d) = found.iter().find(|d| d.whole_file) {
            return Verdict::LeftOut(d.kind);
        }
        found
            .first()
            .map_or(Verdict::Clean, |d| Verdict::Embedded(d.kind))
    }

    /// One byte: 0 clean, else the kind's index + 1, with the top bit for embedded.
    fn encode(self) -> u8 {
        let index = |k| {
            crate::leak::shapes::CredentialKind::ALL
                .iter()
                .position(|x| *x == k)
                .map_or(0, |i| i as u8 + 1)
        };
        match self {
            Verdict::Clean => 0,
            Verdict::LeftOut(k) => index(k),
            Verdict::Embedded(k) => 0x80 | index(k),
        }
    }

    fn decode(byte: u8) -> Option<Self> {
        if byte == 0 {
            return Some(Verdict::Clean);
        }
        let kind = *crate::leak::shapes::CredentialKind::ALL
            .get(usize::from(byte & 0x7f).checked_sub(1)?)?;
        Some(if byte & 0x80 != 0 {
            Verdict::Embedded(kind)
        } else {
            Verdict::LeftOut(kind)
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    ctime: i64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        let ns = |secs: i64, nsec: i64| secs.saturating_mul(1_000_000_000).saturating_add(nsec);
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: ns(meta.mtime(), meta.mtime_nsec()),
            ctime: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// One remembered verdict on disk: the path's hash, the stamp, the verdict.
const RECORD: usize = 8 * 6 + 1;

/// Entries are keyed by a 64-bit hash of the path, so memory stays small on contexts of tens of
/// thousands of files; two paths that collide still need the same device and inode to share a
/// verdict, which two different files never have.
#[derive(Default)]
struct Cache {
    loaded: bool,
    file: Option<PathBuf>,
    entries: HashMap<u64, (Stamp, u8)>,
    dirty: bool,
}

static CACHE: std::sync::LazyLock<Mutex<Cache>> =
    std::sync::LazyLock::new(|| Mutex::new(Cache::default()));

fn with_cache<T>(f: impl FnOnce(&mut Cache) -> T) -> T {
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if !cache.loaded {
        cache.loaded = true;
        let var = |name: &str| std::env::var(name).ok();
        cache.file = crate::cache::dir(&var).map(|dir| dir.join("verdicts-v2"));
        if let Some(file) = cache
            .file
            .as_ref()
            .and_then(|f| std::fs::File::open(f).ok())
        {
            cache.entries = read(std::io::BufReader::new(file));
        }
    }
    f(&mut cache)
}

fn read(mut reader: impl std::io::Read) -> HashMap<u64, (Stamp, u8)> {
    let mut out = HashMap::new();
    let mut record = [0u8; RECORD];
    while reader.read_exact(&mut record).is_ok() {
        let word = |i: usize| u64::from_le_bytes(record[i * 8..i * 8 + 8].try_into().unwrap());
        let stamp = Stamp {
            dev: word(1),
            ino: word(2),
            size: word(3),
            mtime: word(4) as i64,
            ctime: word(5) as i64,
        };
        out.insert(word(0), (stamp, record[48]));
    }
    out
}

/// FNV-1a: stable across runs and machines, unlike the std hasher.
fn path_hash(path: &Path) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &b in path.as_os_str().as_bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The remembered verdict on `path`, if its metadata is unchanged since.
pub fn lookup(path: &Path, meta: &std::fs::Metadata) -> Option<Verdict> {
    let stamp = Stamp::of(meta);
    with_cache(|cache| {
        cache
            .entries
            .get(&path_hash(path))
            .filter(|(s, _)| *s == stamp)
            .and_then(|(_, v)| Verdict::decode(*v))
    })
}

/// Remembers the verdict on `path` as it is now.
pub fn remember(path: &Path, meta: &std::fs::Metadata, verdict: Verdict) {
    let entry = (Stamp::of(meta), verdict.encode());
    with_cache(|cache| {
        if cache.entries.insert(path_hash(path), entry) != Some(entry) {
            cache.dirty = true;
        }
    });
}

/// Writes the verdicts out (atomically) when they changed; failures only cost a re-read next
/// time.
pub fn save() {
    with_cache(|cache| {
        if !cache.dirty {
            return;
        }
        let Some(file) = cache.file.clone() else {
            return;
        };
        if cache.entries.len() > MAX_ENTRIES {
            let drop: Vec<u64> = cache
                .entries
                .keys()
                .skip(MAX_ENTRIES / 2)
                .copied()
                .collect();
            for key in drop {
                cache.entries.remove(&key);
            }
        }
        let write = || -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = file.with_extension(format!("tmp{}", std::process::id()));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            for (hash, (s, verdict)) in &cache.entries {
                for word in [*hash, s.dev, s.ino, s.size, s.mtime as u64, s.ctime as u64] {
                    out.write_all(&word.to_le_bytes())?;
                }
                out.write_all(&[*verdict])?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, &file)
        };
        match write() {
            Ok(()) => cache.dirty = false,
            Err(err) => {
                tracing::debug!(
                    "cannot save the guard's verdicts to {}: {err}",
                    file.display()
                )
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leak::shapes::CredentialKind;

    #[test]
    fn verdicts_round_trip() {
        for v in [
            Verdict::Clean,
            Verdict::LeftOut(CredentialKind::Netrc),
            Verdict::Embedded(CredentialKind::Token(
                crate::leak::shapes::TokenKind::GitLab,
            )),
        ] {
            assert_eq!(Verdict::decode(v.encode()), Some(v));
        }
        assert_eq!(Verdict::decode(0x7f), None);
        let mut record = Vec::new();
        for word in [7u64, 1, 2, 3, 4, 5] {
            record.extend_from_slice(&word.to_le_bytes());
        }
        record.push(Verdict::LeftOut(CredentialKind::Netrc).encode());
        let read = read(&record[..]);
        assert_eq!(read.len(), 1);
        assert_eq!(
            Verdict::decode(read[&7].1),
            Some(Verdict::LeftOut(CredentialKind::Netrc))
        );
        assert_eq!(Verdict::decode(0xff), None);
    }
}
