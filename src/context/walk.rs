//! The context walk: depth first, a directory before its children, names in byte order (the
//! order docker/cli and BuildKit's fsutil use), applying the ignore rules and the credential
//! guard. Symlinks are reported as links and never followed.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::guard::CredentialKind;
use super::{ContextError, ContextPlan, classify_file};

/// What a walked entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link and its target, as stored.
    Symlink(PathBuf),
    /// A second name for a file already sent: its context-relative path.
    HardLink(Vec<u8>),
}

/// One entry to send.
#[derive(Debug)]
pub struct Entry<'a> {
    /// Context-relative, `/`-separated path (bytes: names may be non-UTF-8).
    pub rel: &'a [u8],
    /// Where it is on disk.
    pub abs: &'a Path,
    /// Its metadata (not following symlinks).
    pub meta: &'a Metadata,
    /// What it is.
    pub kind: EntryKind,
}

/// Something the walk left out that the user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A credential-looking file, left out by the guard.
    CredentialLeftOut {
        /// Context-relative path.
        path: String,
        /// Why.
        kind: CredentialKind,
    },
    /// A socket, FIFO or device, which a context cannot carry.
    SpecialSkipped {
        /// Context-relative path.
        path: String,
        /// `socket`, `FIFO`, `block device`, `character device`.
        what: &'static str,
    },
}

/// Walks the plan's context, calling `visit` for each entry to send and `notice` for each entry
/// left out that the user should know about.
pub fn walk(
    plan: &ContextPlan,
    visit: &mut dyn FnMut(Entry<'_>) -> Result<(), ContextError>,
    notice: &mut dyn FnMut(Notice),
) -> Result<(), ContextError> {
    let mut walker = Walker {
        plan,
        visit,
        notice,
        links: HashMap::new(),
    };
    walker.dir(&plan.dir, b"")
}

struct Walker<'p, 'v> {
    plan: &'p ContextPlan,
    visit: &'v mut dyn FnMut(Entry<'_>) -> Result<(), ContextError>,
    notice: &'v mut dyn FnMut(Notice),
    /// (device, inode) of multiply-linked files already sent -> their path.
    links: HashMap<(u64, u64), Vec<u8>>,
}

impl Walker<'_, '_> {
    fn dir(&mut self, abs: &Path, rel: &[u8]) -> Result<(), ContextError> {
        let io_err = |source| ContextError::Io {
            path: abs.to_path_buf(),
            source,
        };
        let reader = match std::fs::read_dir(abs) {
            Ok(reader) => reader,
            // Removed while we walked: docker skips it too.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !rel.is_empty() => {
                return Ok(());
            }
            Err(err) => return Err(io_err(err)),
        };
        let mut names = Vec::new();
        for entry in reader {
            names.push(entry.map_err(io_err)?.file_name());
        }
        names.sort_unstable();

        let mut child_rel = rel.to_vec();
        if !child_rel.is_empty() {
            child_rel.push(b'/');
        }
        let prefix_len = child_rel.len();
        for name in names {
            child_rel.truncate(prefix_len);
            child_rel.extend_from_slice(name.as_bytes());
            let child_abs = abs.join(&name);
            let meta = match std::fs::symlink_metadata(&child_abs) {
                Ok(meta) => meta,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(ContextError::Io {
                        path: child_abs,
                        source,
                    });
                }
            };
            let excluded = self.plan.matcher.is_excluded(&child_rel);
            let file_type = meta.file_type();
            if file_type.is_dir() {
                // An excluded directory is still sent, and walked, when an exception may
                // re-include something below it: fsutil 20.10 (what the docker CLI uses with
                // BuildKit) does both.
                if excluded && !self.plan.matcher.should_descend(&child_rel) {
                    continue;
                }
                self.emit(&child_rel, &child_abs, &meta, EntryKind::Dir)?;
                self.dir(&child_abs, &child_rel.clone())?;
                continue;
            }
            if excluded {
                continue;
            }
            if file_type.is_file() {
                if !self.plan.allowed.contains(&child_rel)
                    && let Some(kind) = classify_file(&child_rel, &child_abs, meta.len())
                {
                    (self.notice)(Notice::CredentialLeftOut {
                        path: String::from_utf8_lossy(&child_rel).into_owned(),
                        kind,
                    });
                    continue;
                }
                if meta.nlink() > 1 {
                    let key = (meta.dev(), meta.ino());
                    if let Some(first) = self.links.get(&key) {
                        let kind = EntryKind::HardLink(first.clone());
                        self.emit(&child_rel, &child_abs, &meta, kind)?;
                        continue;
                    }
                    self.links.insert(key, child_rel.clone());
                }
                self.emit(&child_rel, &child_abs, &meta, EntryKind::File)?;
            } else if file_type.is_symlink() {
                let target = std::fs::read_link(&child_abs).map_err(|source| ContextError::Io {
                    path: child_abs.clone(),
                    source,
                })?;
                self.emit(&child_rel, &child_abs, &meta, EntryKind::Symlink(target))?;
            } else {
                let what = if file_type.is_socket() {
                    "socket"
                } else if file_type.is_fifo() {
                    "FIFO"
                } else if file_type.is_block_device() {
                    "block device"
                } else {
                    "character device"
                };
                (self.notice)(Notice::SpecialSkipped {
                    path: String::from_utf8_lossy(&child_rel).into_owned(),
                    what,
                });
            }
        }
        Ok(())
    }

    /// Sends an entry.
    fn emit(
        &mut self,
        rel: &[u8],
        abs: &Path,
        meta: &Metadata,
        kind: EntryKind,
    ) -> Result<(), ContextError> {
        (self.visit)(Entry {
            rel,
            abs,
            meta,
            kind,
        })
    }
}
