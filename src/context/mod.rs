//! Staging the build context: exactly the files `docker build` would send, minus credential
//! files, as a deterministic tar streamed while the tree is walked.
//!
//! - [`ignore`]: Docker's `.dockerignore` rules.
//! - [`guard`]: which files look like credentials.
//! - [`walk`]: the ordered walk that applies both, reporting what it leaves out.
//! - [`archive`]: the tar stream, in constant memory.

pub mod archive;
pub mod guard;
pub mod ignore;
pub mod verdicts;
pub mod walk;

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use self::guard::{CONTENT_PEEK, NameVerdict};
use self::ignore::Matcher;
pub use self::verdicts::Verdict;

/// What the user asked for: `shipimg context [PATH] [-f Dockerfile] [--allow-context-file F]`.
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    /// The context directory.
    pub dir: PathBuf,
    /// `-f`: the Dockerfile, relative to the current directory as with docker (default
    /// `<dir>/Dockerfile`).
    pub dockerfile: Option<PathBuf>,
    /// `--allow-context-file`: credential-looking files to send anyway, relative to the context
    /// (or absolute inside it).
    pub allow_files: Vec<PathBuf>,
}

/// Why a context cannot be staged.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The context directory is missing or not a directory.
    #[error("build context `{path}` is not a directory")]
    NotADirectory { path: PathBuf },
    /// The Dockerfile does not exist.
    #[error("Dockerfile `{path}` not found")]
    DockerfileNotFound { path: PathBuf },
    /// A file or directory could not be read.
    #[error("failed to read `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file changed size while it was being sent.
    #[error("`{path}` changed while it was being sent ({expected} bytes expected, {actual} read)")]
    ChangedWhileReading {
        path: PathBuf,
        expected: u64,
        actual: String,
    },
    /// A name file sync cannot carry: its protocol holds paths as UTF-8 strings.
    #[error("cannot send `{path}` over file sync: its name is not valid UTF-8")]
    NotUtf8 { path: String },
    /// A file that was listed is gone when its content is asked for.
    #[error("`{path}` was removed while the context was being sent")]
    RemovedWhileSending { path: PathBuf },
    /// The ignore file is invalid.
    #[error(transparent)]
    Ignore(#[from] ignore::IgnoreError),
    /// The Dockerfile could not be parsed.
    #[error("cannot parse Dockerfile `{path}`: {message}")]
    Dockerfile { path: PathBuf, message: String },
    /// `--allow-context-file` names a path outside the context.
    #[error("--allow-context-file `{path}` is outside the build context `{context}`")]
    AllowOutsideContext { path: PathBuf, context: PathBuf },
    /// Writing the stream failed (the reader went away, the disk is full).
    #[error("failed to write the context stream")]
    Write(#[source] std::io::Error),
}

impl crate::error::UserError for ContextError {
    fn hint(&self) -> Option<String> {
        ContextError::hint(self)
    }
}

impl ContextError {
    /// The fix to show under the error, where there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            ContextError::NotADirectory { .. } => {
                Some("pass the directory that holds your Dockerfile and sources".into())
            }
            ContextError::DockerfileNotFound { .. } => Some(
                "name it with `-f PATH` (relative to the current directory, as with docker)"
                    .into(),
            ),
            ContextError::ChangedWhileReading { .. } => Some(
                "something is writing to the context; wait for it to finish, or add the file to .dockerignore"
                    .into(),
            ),
            ContextError::NotUtf8 { .. } => Some(
                "rename it, add it to .dockerignore, or send a tar with `--context-transfer tar`"
                    .into(),
            ),
            ContextError::RemovedWhileSending { .. } => Some(
                "something is deleting files in the context; wait for it to finish and build again"
                    .into(),
            ),
            ContextError::AllowOutsideContext { .. } => {
                Some("name a file inside the build context".into())
            }
            _ => None,
        }
    }
}

/// A context resolved and checked, ready to walk.
#[derive(Debug)]
pub struct ContextPlan {
    /// The context directory, absolute.
    pub dir: PathBuf,
    /// The Dockerfile, absolute.
    pub dockerfile: PathBuf,
    /// The Dockerfile's name inside the stream (the `dockerfile` build parameter).
    pub dockerfile_name: String,
    /// Set when the Dockerfile lies outside the context: it is appended under this name.
    pub dockerfile_extra: Option<String>,
    /// The Dockerfile's text, read once here for every check that parses it (invalid UTF-8
    /// replaced, as only the checks read it; the engine gets the file itself).
    pub dockerfile_text: String,
    /// The ignore file in force, if any.
    pub ignore_file: Option<PathBuf>,
    /// The compiled ignore rules.
    pub matcher: Matcher,
    /// Context-relative paths the user allowed past the credential guard.
    pub allowed: HashSet<Vec<u8>>,
}

impl ContextPlan {
    /// Resolves the directory, Dockerfile and ignore file, reads the Dockerfile, and compiles
    /// the rules. `cwd` resolves a relative `-f`, as docker does.
    pub fn new(options: &ContextOptions, cwd: &Path) -> Result<Self, ContextError> {
        let dir = absolute(cwd, &options.dir);
        let meta = std::fs::metadata(&dir).map_err(|_| ContextError::NotADirectory {
            path: options.dir.clone(),
        })?;
        if !meta.is_dir() {
            return Err(ContextError::NotADirectory {
                path: options.dir.clone(),
            });
        }
        let dockerfile = match &options.dockerfile {
            Some(path) => absolute(cwd, path),
            None => dir.join("Dockerfile"),
        };
        let text = std::fs::read(&dockerfile).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => ContextError::DockerfileNotFound {
                path: options
                    .dockerfile
                    .clone()
                    .unwrap_or_else(|| options.dir.join("Dockerfile")),
            },
            _ => ContextError::Io {
                path: dockerfile.clone(),
                source: err,
            },
        })?;

        let rel_dockerfile = dockerfile.strip_prefix(&dir).ok().map(Path::to_path_buf);
        let (dockerfile_name, dockerfile_extra) = match &rel_dockerfile {
            Some(rel) => (rel.to_string_lossy().into_owned(), None),
            None => {
                // Outside the context: docker/cli adds it to the stream under a generated
                // name. Ours is derived from the content, so the stream stays deterministic.
                let hex: String = Sha256::digest(&text)[..10]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let name = format!(".dockerfile.{hex}");
                (name.clone(), Some(name))
            }
        };

        let ignore_file =
            ignore::find_ignore_file(&dir, &dockerfile).map_err(|source| ContextError::Io {
                path: dir.clone(),
                source,
            })?;
        let mut patterns = Vec::new();
        if let Some(path) = &ignore_file {
            let bytes = std::fs::read(path).map_err(|source| ContextError::Io {
                path: path.clone(),
                source,
            })?;
            patterns = ignore::parse_ignore_file(&bytes, path)?;
        }
        // The Dockerfile and the root `.dockerignore` are always sent, as docker/cli does. A
        // Dockerfile-specific ignore file is not: the engine applies no ignore file to a tar
        // body, and the CLI never sends that one as part of the context.
        let ignore_rel = ignore_file
            .as_deref()
            .and_then(|p| p.strip_prefix(&dir).ok())
            .filter(|rel| *rel == Path::new(".dockerignore"))
            .map(|p| p.as_os_str().as_bytes().to_vec());
        let dockerfile_rel = rel_dockerfile
            .as_deref()
            .map(|p| p.as_os_str().as_bytes().to_vec());
        let patterns =
            ignore::with_build_files(patterns, dockerfile_rel.as_deref(), ignore_rel.as_deref());
        let matcher = Matcher::new(patterns)?;

        let mut allowed = HashSet::new();
        for path in &options.allow_files {
            let abs = absolute(cwd, path);
            let abs = if abs.starts_with(&dir) {
                abs
            } else {
                // A relative path may be meant relative to the context.
                let in_context = dir.join(path);
                if path.is_relative() && in_context.exists() {
                    in_context
                } else {
                    return Err(ContextError::AllowOutsideContext {
                        path: path.clone(),
                        context: options.dir.clone(),
                    });
                }
            };
            let rel = abs.strip_prefix(&dir).expect("checked above");
            allowed.insert(rel.as_os_str().as_bytes().to_vec());
        }

        let plan = Self {
            dir,
            dockerfile,
            dockerfile_name,
            dockerfile_extra,
            dockerfile_text: String::from_utf8_lossy(&text).into_owned(),
            ignore_file,
            matcher,
            allowed,
        };
        Ok(plan)
    }
}

/// The guard's verdict on a regular file: by name, then by what it holds (its first
/// [`CONTENT_PEEK`] bytes), remembered per file so a rebuild does not read it again
/// ([`verdicts`]).
pub fn classify_file(rel: &[u8], path: &Path, meta: &std::fs::Metadata) -> Verdict {
    if let NameVerdict::Credential(kind) = guard::classify_name(rel) {
        return Verdict::LeftOut(kind);
    }
    if let Some(verdict) = verdicts::lookup(path, meta) {
        return verdict;
    }
    let Ok(file) = std::fs::File::open(path) else {
        // The walk reports a file it cannot read when it sends it.
        return Verdict::Clean;
    };
    let mut head = Vec::new();
    if std::io::Read::read_to_end(&mut std::io::Read::take(file, CONTENT_PEEK), &mut head).is_err()
    {
        return Verdict::Clean;
    }
    let complete = (head.len() as u64) < CONTENT_PEEK || meta.len() == CONTENT_PEEK;
    let verdict = Verdict::from_detections(&guard::classify_content(rel, &head, complete));
    verdicts::remember(path, meta, verdict);
    verdict
}

fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    // Lexical clean, like Go's filepath.Abs: no symlink resolution.
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_is_lexical() {
        assert_eq!(
            absolute(Path::new("/w/p"), Path::new("../x/./Dockerfile")),
            PathBuf::from("/w/x/Dockerfile")
        );
        assert_eq!(
            absolute(Path::new("/w"), Path::new("/abs")),
            PathBuf::from("/abs")
        );
    }
}
