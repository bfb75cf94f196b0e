//! The context guard's content verdicts, remembered per file so that a cached rebuild reads
//! nothing it would not send: a file's verdict is reused while its device, inode, size, mtime
//! and ctime are unchanged (a rewrite that keeps the mtime still moves the ctime). Kept in
//! memory for the process and in `verdicts-v1` under [`crate::cache::dir`]; only paths and
//! verdicts, never content.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
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

    fn encode(self) -> String {
        let kinds = crate::leak::shapes::CredentialKind::ALL;
        match self {
            Verdict::Clean => "c".into(),
            Verdict::LeftOut(k) => format!("w{}", kinds.iter().position(|x| *x == k).unwrap_or(0)),
            Verdict::Embedded(k) => format!("e{}", kinds.iter().position(|x| *x == k).unwrap_or(0)),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let kinds = crate::leak::shapes::CredentialKind::ALL;
        let kind = |i: &str| i.parse::<usize>().ok().and_then(|i| kinds.get(i).copied());
        match text.split_at_checked(1)? {
            ("c", "") => Some(Verdict::Clean),
            ("w", i) => kind(i).map(Verdict::LeftOut),
            ("e", i) => kind(i).map(Verdict::Embedded),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i128,
    ctime: i128,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}

#[derive(Default)]
struct Cache {
    loaded: bool,
    file: Option<PathBuf>,
    entries: HashMap<PathBuf, (Stamp, Verdict)>,
    dirty: bool,
}

static CACHE: std::sync::LazyLock<Mutex<Cache>> =
    std::sync::LazyLock::new(|| Mutex::new(Cache::default()));

fn with_cache<T>(f: impl FnOnce(&mut Cache) -> T) -> T {
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if !cache.loaded {
        cache.loaded = true;
        let var = |name: &str| std::env::var(name).ok();
        cache.file = crate::cache::dir(&var).map(|dir| dir.join("verdicts-v1"));
        if let Some(text) = cache.file.as_ref().and_then(|f| std::fs::read(f).ok()) {
            cache.entries = parse(&text);
        }
    }
    f(&mut cache)
}

fn parse(text: &[u8]) -> HashMap<PathBuf, (Stamp, Verdict)> {
    let mut out = HashMap::new();
    for line in text.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let fields: Vec<&str> = line.split('\t').collect();
        let [path, dev, ino, size, mtime, ctime, verdict] = fields[..] else {
            continue;
        };
        let (Some(path), Ok(dev), Ok(ino), Ok(size), Ok(mtime), Ok(ctime), Some(verdict)) = (
            unhex(path),
            dev.parse(),
            ino.parse(),
            size.parse(),
            mtime.parse(),
            ctime.parse(),
            Verdict::decode(verdict),
        ) else {
            continue;
        };
        let stamp = Stamp {
            dev,
            ino,
            size,
            mtime,
            ctime,
        };
        out.insert(
            PathBuf::from(std::ffi::OsString::from_vec(path)),
            (stamp, verdict),
        );
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The remembered verdict on `path`, if its metadata is unchanged since.
pub fn lookup(path: &Path, meta: &std::fs::Metadata) -> Option<Verdict> {
    let stamp = Stamp::of(meta);
    with_cache(|cache| {
        cache
            .entries
            .get(path)
            .filter(|(s, _)| *s == stamp)
            .map(|(_, v)| *v)
    })
}

/// Remembers the verdict on `path` as it is now.
pub fn remember(path: &Path, meta: &std::fs::Metadata, verdict: Verdict) {
    let stamp = Stamp::of(meta);
    with_cache(|cache| {
        if cache.entries.get(path).map(|e| e.1) != Some(verdict)
            || cache.entries.get(path).map(|e| e.0) != Some(stamp)
        {
            cache.entries.insert(path.to_path_buf(), (stamp, verdict));
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
            let keep: Vec<PathBuf> = cache
                .entries
                .keys()
                .take(MAX_ENTRIES / 2)
                .cloned()
                .collect();
            cache.entries.retain(|k, _| keep.contains(k));
        }
        let mut text = Vec::new();
        for (path, (s, verdict)) in &cache.entries {
            let hex: String = path
                .as_os_str()
                .as_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let _ = writeln!(
                text,
                "{hex}\t{}\t{}\t{}\t{}\t{}\t{}",
                s.dev,
                s.ino,
                s.size,
                s.mtime,
                s.ctime,
                verdict.encode()
            );
        }
        let write = || -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = file.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, &text)?;
            std::fs::rename(&tmp, &file)
        };
        match write() {
            Ok(()) => cache.dirty = false,
            Err(err) => tracing::debug!(
                "cannot save the guard's verdicts to {}: {err}",
                file.display()
            ),
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
            assert_eq!(Verdict::decode(&v.encode()), Some(v));
        }
        assert_eq!(Verdict::decode("x1"), None);
        assert_eq!(Verdict::decode("w999"), None);
    }
}
