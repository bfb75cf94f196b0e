//! The context walk: depth first, a directory before its children, names in byte order (the
//! order docker/cli and BuildKit's fsutil use), applying the ignore rules and the credential
//! guard. Symlinks are reported as links and never followed.
//!
//! The tar stream walks the whole context with the plan's rules ([`walk`]); file sync walks it
//! once per engine request, with the engine's extra excludes and include paths on top
//! ([`walk_with`]), so both send exactly the same entries for the same rules.

use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::guard::CredentialKind;
use super::ignore::{Matcher, parse_exclude_patterns};
use super::{ContextError, ContextPlan, Verdict, classify_file};

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
    /// A credential embedded in an ordinary file: sent (leaving the file out would change the
    /// application), but the scan refuses an image that carries it.
    CredentialEmbedded {
        /// Context-relative path.
        path: String,
        /// What it holds.
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

impl Notice {
    /// The context-relative path it is about.
    pub fn path(&self) -> &str {
        match self {
            Notice::CredentialLeftOut { path, .. }
            | Notice::CredentialEmbedded { path, .. }
            | Notice::SpecialSkipped { path, .. } => path,
        }
    }
}

/// What the notice tells the user, as a warning's text.
impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::CredentialLeftOut { path, kind } => write!(
                f,
                "left `{path}` out of the build context: {kind} (send it anyway with `--allow-context-file {path}`)"
            ),
            Notice::CredentialEmbedded { path, kind } => write!(
                f,
                "`{path}` carries a credential ({kind}, rule `{}`): it is sent, but `--push` will refuse an image that holds it; move the credential to a secret",
                kind.rule()
            ),
            Notice::SpecialSkipped { path, what } => {
                write!(
                    f,
                    "skipped `{path}`: a {what} cannot be part of a build context"
                )
            }
        }
    }
}

/// Walks the plan's context, calling `visit` for each entry to send and `notice` for each entry
/// left out that the user should know about.
pub fn walk(
    plan: &ContextPlan,
    visit: &mut dyn FnMut(Entry<'_>) -> Result<(), ContextError>,
    notice: &mut dyn FnMut(Notice),
) -> Result<(), ContextError> {
    walk_with(&WalkOptions::for_plan(plan), visit, notice)
}

/// Where a walk starts and which rules decide what it sends.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions<'a> {
    /// The directory walked; entry paths are relative to it.
    pub root: &'a Path,
    /// The ignore rules (the plan's), if any.
    pub matcher: Option<&'a Matcher>,
    /// More exclude rules, applied on top (the ones the engine sends over file sync).
    pub extra_excludes: Option<&'a Matcher>,
    /// `Some` turns the credential guard on, letting these relative paths through.
    pub guard_allowed: Option<&'a HashSet<Vec<u8>>>,
    /// When set, only paths these patterns name, their parents and what lies below them.
    pub includes: Option<&'a Includes>,
}

impl<'a> WalkOptions<'a> {
    /// The whole context under the plan's rules, as the tar stream sends it.
    pub fn for_plan(plan: &'a ContextPlan) -> Self {
        Self {
            root: &plan.dir,
            matcher: Some(&plan.matcher),
            extra_excludes: None,
            guard_allowed: Some(&plan.allowed),
            includes: None,
        }
    }
}

/// Include patterns, matched as fsutil matches them: `/`-separated, one glob per component, a
/// path is in when its leading components match a whole pattern (it is the pattern or below it),
/// and a directory is walked when its components match the start of a pattern.
#[derive(Debug, Clone, Default)]
pub struct Includes {
    /// Each pattern, one compiled glob per component.
    patterns: Vec<Vec<Matcher>>,
}

/// How a path relates to the include patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inclusion {
    /// Neither named nor on the way to something named.
    Out,
    /// A parent of something named: sent, and walked, but its other children are not.
    Partial,
    /// Named by a pattern, or below a named path: sent with everything below it.
    Full,
}

impl Includes {
    /// Compiles include patterns (`/`-separated globs relative to the walked root). `.` or an
    /// empty pattern names everything.
    pub fn new<S: AsRef<[u8]>>(patterns: &[S]) -> Result<Self, ContextError> {
        let mut compiled = Vec::with_capacity(patterns.len());
        for pattern in patterns {
            let mut parts = Vec::new();
            for part in pattern.as_ref().split(|&b| b == b'/') {
                if part.is_empty() || part == b"." {
                    continue;
                }
                let rules = parse_exclude_patterns(&[part])?;
                parts.push(Matcher::new(rules)?);
            }
            compiled.push(parts);
        }
        Ok(Self { patterns: compiled })
    }

    fn classify(&self, rel: &[u8]) -> Inclusion {
        let names: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
        let mut best = Inclusion::Out;
        for pattern in &self.patterns {
            let matched = names
                .iter()
                .zip(pattern)
                .all(|(name, glob)| glob.is_excluded(name));
            if !matched {
                continue;
            }
            if names.len() >= pattern.len() {
                return Inclusion::Full;
            }
            best = Inclusion::Partial;
        }
        best
    }
}

/// Walks from `options.root` under `options`' rules; see [`walk`].
pub fn walk_with(
    options: &WalkOptions<'_>,
    visit: &mut dyn FnMut(Entry<'_>) -> Result<(), ContextError>,
    notice: &mut dyn FnMut(Notice),
) -> Result<(), ContextError> {
    let mut walker = Walker {
        options,
        visit,
        notice,
        links: HashMap::new(),
    };
    let inclusion = match options.includes {
        Some(_) => Inclusion::Partial,
        None => Inclusion::Full,
    };
    let walked = walker.dir(options.root, b"", inclusion);
    if options.guard_allowed.is_some() {
        super::verdicts::save();
    }
    walked
}

struct Walker<'p, 'v> {
    options: &'p WalkOptions<'p>,
    visit: &'v mut dyn FnMut(Entry<'_>) -> Result<(), ContextError>,
    notice: &'v mut dyn FnMut(Notice),
    /// (device, inode) of multiply-linked files already sent -> their path.
    links: HashMap<(u64, u64), Vec<u8>>,
}

impl Walker<'_, '_> {
    /// Whether the rules leave `rel` out.
    fn is_excluded(&self, rel: &[u8]) -> bool {
        self.options.matcher.is_some_and(|m| m.is_excluded(rel))
            || self
                .options
                .extra_excludes
                .is_some_and(|m| m.is_excluded(rel))
    }

    /// Whether an excluded directory must still be walked for an exception below it.
    fn should_descend(&self, rel: &[u8]) -> bool {
        let descend =
            |m: Option<&Matcher>| m.is_none_or(|m| !m.is_excluded(rel) || m.should_descend(rel));
        descend(self.options.matcher) && descend(self.options.extra_excludes)
    }

    fn dir(&mut self, abs: &Path, rel: &[u8], inclusion: Inclusion) -> Result<(), ContextError> {
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
            let child_inclusion = match (inclusion, self.options.includes) {
                (Inclusion::Partial, Some(includes)) => includes.classify(&child_rel),
                _ => Inclusion::Full,
            };
            if child_inclusion == Inclusion::Out {
                continue;
            }
            let excluded = self.is_excluded(&child_rel);
            let file_type = meta.file_type();
            if file_type.is_dir() {
                // An excluded directory is still sent, and walked, when an exception may
                // re-include something below it: fsutil 20.10 (what the docker CLI uses with
                // BuildKit) does both.
                if excluded && !self.should_descend(&child_rel) {
                    continue;
                }
                self.emit(&child_rel, &child_abs, &meta, EntryKind::Dir)?;
                self.dir(&child_abs, &child_rel.clone(), child_inclusion)?;
                continue;
            }
            // A file is only on the way to an include when the pattern goes deeper: not named.
            if excluded || child_inclusion == Inclusion::Partial {
                continue;
            }
            if file_type.is_file() {
                if let Some(allowed) = self.options.guard_allowed
                    && !allowed.contains(&child_rel)
                {
                    let path = || String::from_utf8_lossy(&child_rel).into_owned();
                    match classify_file(&child_rel, &child_abs, &meta) {
                        Verdict::LeftOut(kind) => {
                            (self.notice)(Notice::CredentialLeftOut { path: path(), kind });
                            continue;
                        }
                        Verdict::Embedded(kind) => {
                            (self.notice)(Notice::CredentialEmbedded { path: path(), kind });
                        }
                        Verdict::Clean => {}
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ContextOptions;

    fn plan_for(root: &Path, files: &[&str]) -> ContextPlan {
        for file in files {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, file).unwrap();
        }
        let options = ContextOptions {
            dir: root.to_path_buf(),
            ..Default::default()
        };
        ContextPlan::new(&options, root).unwrap()
    }

    fn paths(options: &WalkOptions<'_>) -> Vec<String> {
        let mut out = Vec::new();
        walk_with(
            options,
            &mut |entry| {
                out.push(String::from_utf8_lossy(entry.rel).into_owned());
                Ok(())
            },
            &mut |_| {},
        )
        .unwrap();
        out
    }

    #[test]
    fn order_is_depth_first_by_raw_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_for(
            dir.path(),
            &["Dockerfile", "a-b", "a/b", "a/B", "a.c", "Z", "é", "_x"],
        );
        assert_eq!(
            paths(&WalkOptions::for_plan(&plan)),
            [
                "Dockerfile",
                "Z",
                "_x",
                "a",
                "a/B",
                "a/b",
                "a-b",
                "a.c",
                "é"
            ]
        );
    }

    #[test]
    fn includes_send_named_paths_their_parents_and_what_is_below() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_for(
            dir.path(),
            &[
                "Dockerfile",
                "app/x/y.py",
                "app/z.py",
                "apple",
                "docs/a.md",
                "src/m.py",
            ],
        );
        let includes = Includes::new(&[&b"app/x"[..], b"s*"]).unwrap();
        let options = WalkOptions {
            includes: Some(&includes),
            ..WalkOptions::for_plan(&plan)
        };
        assert_eq!(
            paths(&options),
            ["app", "app/x", "app/x/y.py", "src", "src/m.py"]
        );
    }

    #[test]
    fn extra_excludes_apply_on_top_of_the_plan() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_for(
            dir.path(),
            &["Dockerfile", "keep.py", "drop.log", "d/x.log"],
        );
        let extra = Matcher::new(parse_exclude_patterns(&["**/*.log"]).unwrap()).unwrap();
        let options = WalkOptions {
            extra_excludes: Some(&extra),
            ..WalkOptions::for_plan(&plan)
        };
        assert_eq!(paths(&options), ["Dockerfile", "d", "keep.py"]);
    }

    /// A file removed while the walk runs is skipped, as docker skips it, not an error.
    #[test]
    fn a_file_deleted_during_the_walk_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_for(dir.path(), &["Dockerfile", "a", "b/c", "b/d", "e"]);
        let root = dir.path().to_path_buf();
        let mut seen = Vec::new();
        walk(
            &plan,
            &mut |entry| {
                if entry.rel == b"a" {
                    std::fs::remove_file(root.join("b/d")).unwrap();
                    std::fs::remove_file(root.join("e")).unwrap();
                }
                seen.push(String::from_utf8_lossy(entry.rel).into_owned());
                Ok(())
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(seen, ["Dockerfile", "a", "b", "b/c"]);
    }
}
